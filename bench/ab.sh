#!/usr/bin/env bash
# A/B benchmark of two berth builds on the same machine in one run: each gets
# a private berthd (own root, exec root, socket, cgroup parent), the same
# busybox image and the same docker CLI; hyperfine times the same commands
# against both. For measuring what a change costs (the fsync points of crash
# safety were measured this way against the commit before them).
#
#   bash bench/ab.sh OLD_BIN_DIR NEW_BIN_DIR     # dirs holding berthd and berth-shim
#
# Build the old side with e.g.
#   git worktree add /tmp/old <commit> && (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target cargo build --release --bins)
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?old bin dir}
NEW=${2:?new bin dir}
RUNS=${RUNS:-30}
DOCKER=/usr/local/bin/docker
python3 tests/images/mkbusybox.py target/test-images/busybox.tar >/dev/null
TAR=$PWD/target/test-images/busybox.tar
W=$(mktemp -d /tmp/abXXXX)
PIDS=()
cleanup() {
    set +e
    for side in old new; do
        DOCKER_HOST=unix://$W/$side.sock $DOCKER rm -f $(DOCKER_HOST=unix://$W/$side.sock $DOCKER ps -aq) >/dev/null 2>&1
    done
    kill "${PIDS[@]}" 2>/dev/null
    sleep 1
    grep " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    rm -rf "$W"
    for d in /sys/fs/cgroup/*/berth-ab-* /sys/fs/cgroup/berth-ab-*; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
}
trap cleanup EXIT
for side in old new; do
    bin=$OLD
    [ $side = new ] && bin=$NEW
    "$bin/berthd" -H unix://$W/$side.sock --root $W/$side-root --exec-root $W/$side-run \
        --cgroup-parent berth-ab-$side --bridge none --log-level warn 2>"$W/$side.log" &
    PIDS+=($!)
    for _ in $(seq 200); do [ -S "$W/$side.sock" ] && break; sleep 0.1; done
    DOCKER_HOST=unix://$W/$side.sock $DOCKER load -q -i "$TAR" >/dev/null
done
o="DOCKER_HOST=unix://$W/old.sock $DOCKER"
n="DOCKER_HOST=unix://$W/new.sock $DOCKER"
hyperfine -N --warmup 3 --runs "$RUNS" -n old -n new \
    "env DOCKER_HOST=unix://$W/old.sock $DOCKER run --rm busybox true" \
    "env DOCKER_HOST=unix://$W/new.sock $DOCKER run --rm busybox true"
hyperfine --warmup 3 --runs "$RUNS" -n old -n new \
    "$o rm \$($o create busybox true)" \
    "$n rm \$($n create busybox true)"
hyperfine --warmup 2 --runs "$RUNS" -n old -n new \
    --prepare "$o rmi busybox >/dev/null 2>&1; $n rmi busybox >/dev/null 2>&1; true" \
    "$o load -q -i $TAR" "$n load -q -i $TAR"
