#!/usr/bin/env bash
# Quickstart on a fresh Debian 12 machine (as root): install what berth needs,
# build it, start berthd in the background, load the busybox test image and
# run a container.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in runc busybox-static python3; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

cargo build --release --bins
mkdir -p target/test-images
python3 tests/images/mkbusybox.py target/test-images/busybox.tar >/dev/null

SOCK=/run/berth/berth.sock
if ! [ -S "$SOCK" ] || ! target/release/berth version >/dev/null 2>&1; then
    mkdir -p /var/log
    nohup target/release/berthd >/var/log/berthd.log 2>&1 &
    for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
fi
target/release/berth load -i target/test-images/busybox.tar
target/release/berth run --rm busybox echo hello from berth
