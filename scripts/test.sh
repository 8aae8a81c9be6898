#!/usr/bin/env bash
# Runs every test: formatting, lints, unused dependencies, unit tests, and
# the end-to-end suites (a private berthd per test, driven by the docker CLI
# and berth).
set -euo pipefail
cd "$(dirname "$0")/.."
# The crash tests arm berthd's crash points, which only a build with the
# failpoints feature has; every step builds with the same features, so
# nothing is built twice.
features=(--features berthd/failpoints)
cargo fmt --all -- --check
cargo clippy --workspace --all-targets "${features[@]}" -- -D warnings
# Every dependency a crate declares is one it uses.
cargo machete
cargo build --workspace --bins "${features[@]}"
python3 tests/images/mkbusybox.py target/test-images/busybox.tar >/dev/null
# The end-to-end tests start containers; two at a time keeps 2 cores responsive.
cargo test --workspace "${features[@]}" -- --test-threads=2
