#!/usr/bin/env bash
# Runs every test: formatting, lints, unused dependencies, unit tests, and
# the end-to-end suites (a private berthd per test, driven by the docker CLI
# and berth).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Every dependency a crate declares is one it uses.
cargo machete
cargo build --workspace --bins
python3 tests/images/mkbusybox.py target/test-images/busybox.tar >/dev/null
# The end-to-end tests start containers; two at a time keeps 2 cores responsive.
cargo test --workspace -- --test-threads=2
