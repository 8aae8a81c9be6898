#!/usr/bin/env bash
# Runs the same docker CLI commands against a private berthd and a private
# dockerd (Debian's docker.io) and shows where their output or exit codes
# differ, after masking ids, times and sizes. A development aid, not a test:
# some differences are expected (versions, driver names).
#
#   bash scripts/compare-with-docker.sh [commands-file]
#
# Each line of the commands file is one docker command line (without
# `docker`); `#` starts a comment. Without a file, a built-in list is used.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER=/usr/local/bin/docker
command -v dockerd >/dev/null || { echo "needs dockerd (apt-get install docker.io)" >&2; exit 1; }
cargo build --release --bins -q
python3 tests/images/mkbusybox.py target/test-images/busybox.tar >/dev/null

W=$(mktemp -d /tmp/cmpXXXX)
cleanup() {
    set +e
    for s in berth docker; do
        ids=$(DOCKER_HOST=unix://$W/$s.sock $DOCKER ps -aq 2>/dev/null)
        [ -n "$ids" ] && DOCKER_HOST=unix://$W/$s.sock $DOCKER rm -f $ids >/dev/null 2>&1
    done
    [ -n "${BERTHD:-}" ] && kill "$BERTHD"
    [ -n "${DOCKERD:-}" ] && kill "$DOCKERD"
    sleep 2
    grep " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    for d in /sys/fs/cgroup/*/berth-compare /sys/fs/cgroup/berth-compare; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    rm -rf "$W"
}
trap cleanup EXIT

target/release/berthd -H unix://$W/berth.sock --root $W/berth-root --exec-root $W/berth-run \
    --cgroup-parent berth-compare --log-level warn 2>"$W/berthd.log" &
BERTHD=$!
dockerd --data-root $W/docker-root --exec-root $W/docker-run --pidfile $W/docker.pid \
    -H unix://$W/docker.sock --bridge none --iptables=false --ip-masq=false >"$W/dockerd.log" 2>&1 &
DOCKERD=$!
for s in berth docker; do
    for _ in $(seq 200); do [ -S "$W/$s.sock" ] && break; sleep 0.1; done
    DOCKER_HOST=unix://$W/$s.sock $DOCKER load -q -i target/test-images/busybox.tar >/dev/null
done

mask() {
    sed -E -e 's/[0-9a-f]{64}/<ID>/g' -e 's/\b[0-9a-f]{12}\b/<SHORT>/g' \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)/<TIME>/g' \
        -e 's/(About a|Less than a|[0-9]+) (second|minute|hour)s?( ago)?/<AGO>/g' \
        -e 's/[a-z]+_[a-z]+/<NAME>/g' -e 's/ +/ /g'
}

if [ $# -gt 0 ]; then list=$(cat "$1"); else list=$(cat <<'EOF'
run --rm busybox echo hi
run --rm busybox sh -c 'exit 3'
run --rm busybox nonexistent
run --rm busybox /etc
run --rm -u nosuchuser busybox true
run --rm nosuchimage:latest true
run --name cmp1 busybox sh -c 'echo one; echo two >&2'
ps -a --format '{{.Names}} {{.Status}} {{.Command}}'
logs cmp1
logs --tail 1 cmp1
inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.Config.Cmd}} {{.HostConfig.NetworkMode}}' cmp1
start cmp1
stop cmp1
kill cmp1
pause cmp1
rm cmp1
rm cmp1
images --format '{{.Repository}}:{{.Tag}} {{.Size}}'
tag busybox Bad:Tag
tag busybox cmp/bb:1
rmi cmp/bb:1
rmi nosuch
history --format '{{.CreatedBy}}' busybox
inspect nosuch
stop nosuch
run --rm -m 1k busybox true
run --rm --cpus 99 busybox true
create --name a/b busybox
EOF
); fi

diffs=0
while IFS= read -r line; do
    [[ -z "$line" || "$line" == \#* ]] && continue
    for s in berth docker; do
        set +e
        out=$(eval "DOCKER_HOST=unix://$W/$s.sock $DOCKER $line" 2>&1)
        rc=$?
        set -e
        printf '%s\nexit %s\n' "$out" "$rc" | mask >"$W/$s.out"
    done
    if ! cmp -s "$W/berth.out" "$W/docker.out"; then
        diffs=$((diffs + 1))
        echo "=== docker $line"
        diff "$W/docker.out" "$W/berth.out" | sed 's/^</docker:/; s/^>/berth: /' | grep -v '^---' || true
    fi
done <<<"$list"
echo "$diffs command(s) differ"
