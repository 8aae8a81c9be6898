#!/usr/bin/env bash
# Load run: CLIENTS docker-py clients at once against a private berthd for
# DURATION seconds (run, exec, logs, inspect, list, stop/kill, rm, run --rm),
# every answer checked, berthd's RSS sampled. Fails on any wrong answer or
# RSS growth over 20 %. Not a test: loopback only, takes minutes.
#
#   bash bench/load.sh                         # needs root; 50 clients, 600 s
#   CLIENTS=10 DURATION=60 bash bench/load.sh  # a short one
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-50}
DURATION=${DURATION:-600}
OUT=${OUT:-.bench-out}
mkdir -p "$OUT"

cargo build --release --bins -q
python3 tests/images/mkbusybox.py target/test-images/busybox.tar >/dev/null
DOCKER=/usr/local/bin/docker
W=$(mktemp -d /tmp/blXXXX)
SOCK=$W/berth.sock
export DOCKER_HOST=unix://$SOCK

cleanup() {
    set +e
    $DOCKER rm -f $($DOCKER ps -aq) >/dev/null 2>&1
    [ -n "${BERTHD_PID:-}" ] && kill "$BERTHD_PID" && wait "$BERTHD_PID"
    sleep 2
    grep " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    rm -rf "$W"
    for d in /sys/fs/cgroup/*/berth-load /sys/fs/cgroup/berth-load; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
}
trap cleanup EXIT

target/release/berthd -H unix://$SOCK --root $W/root --exec-root $W/run \
    --cgroup-parent berth-load --bridge none --log-level warn 2>"$OUT/load-berthd.log" &
BERTHD_PID=$!
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.1; done
$DOCKER load -q -i target/test-images/busybox.tar >/dev/null

python3 bench/load.py --host "unix://$SOCK" --pid "$BERTHD_PID" \
    --clients "$CLIENTS" --duration "$DURATION" --image busybox:latest | tee "$OUT/load.txt"
