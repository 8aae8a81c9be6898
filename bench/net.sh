#!/usr/bin/env bash
# What networking costs a container start: `run --rm busybox true` with
# `--network none`, with the default bridge, and with a published port, on
# berth; none and bridge on docker (Debian's docker.io, a private dockerd on
# a bridge this script makes, without iptables). Same docker CLI for both.
# Not a test: numbers vary with the machine; run it on an idle machine.
#
#   bash bench/net.sh            # needs root, hyperfine, docker.io, nftables
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
OUT=${OUT:-.bench-out}
mkdir -p "$OUT"

export DEBIAN_FRONTEND=noninteractive
for pkg in hyperfine docker.io runc busybox-static nftables iproute2; do
    dpkg -s "$pkg" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq "$pkg" >/dev/null; }
done

cargo build --release --bins -q
python3 tests/images/mkbusybox.py target/test-images/busybox.tar >/dev/null
DOCKER=/usr/local/bin/docker
W=$(mktemp -d /tmp/bnXXXX)
BERTH_SOCK=$W/berth.sock
DOCKER_SOCK=$W/docker.sock
# Bridges of their own (never docker0) and subnets nothing else here uses.
BB=bbench0
DB=dbench0

cleanup() {
    set +e
    DOCKER_HOST=unix://$BERTH_SOCK $DOCKER rm -f $(DOCKER_HOST=unix://$BERTH_SOCK $DOCKER ps -aq) >/dev/null 2>&1
    DOCKER_HOST=unix://$DOCKER_SOCK $DOCKER rm -f $(DOCKER_HOST=unix://$DOCKER_SOCK $DOCKER ps -aq) >/dev/null 2>&1
    [ -n "${BERTHD_PID:-}" ] && kill "$BERTHD_PID"
    [ -n "${DOCKERD_PID:-}" ] && kill "$DOCKERD_PID"
    sleep 2
    grep " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    rm -rf "$W"
    ip link delete $BB 2>/dev/null
    ip link delete $DB 2>/dev/null
    nft delete table inet berth-$BB 2>/dev/null
    for d in /sys/fs/cgroup/*/berth-bench-net /sys/fs/cgroup/berth-bench-net; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
}
trap cleanup EXIT

ip link add $DB type bridge
ip addr add 10.238.0.1/24 dev $DB
ip link set $DB up

target/release/berthd -H unix://$BERTH_SOCK --root $W/berth-root --exec-root $W/berth-run \
    --cgroup-parent berth-bench-net --bridge $BB --bip 10.239.0.1/24 \
    --log-level warn 2>"$OUT/net-berthd.log" &
BERTHD_PID=$!
dockerd --data-root $W/docker-root --exec-root $W/docker-run --pidfile $W/docker.pid \
    -H unix://$DOCKER_SOCK --bridge $DB --iptables=false --ip-masq=false --userland-proxy=false \
    >"$OUT/net-dockerd.log" 2>&1 &
DOCKERD_PID=$!
for s in $BERTH_SOCK $DOCKER_SOCK; do
    for _ in $(seq 200); do [ -S "$s" ] && break; sleep 0.1; done
    DOCKER_HOST=unix://$s $DOCKER load -q -i target/test-images/busybox.tar >/dev/null
done
B="env DOCKER_HOST=unix://$BERTH_SOCK $DOCKER"
D="env DOCKER_HOST=unix://$DOCKER_SOCK $DOCKER"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

hyperfine -N -w 3 -r "$RUNS" --export-json "$OUT/net.json" \
    -n berth-none "$B run --rm --network none busybox true" \
    -n berth-bridge "$B run --rm busybox true" \
    -n berth-publish "$B run --rm -p 127.0.0.1:$PORT:80 busybox true" \
    -n docker-none "$D run --rm --network none busybox true" \
    -n docker-bridge "$D run --rm busybox true" >"$OUT/net.txt"

mean() { python3 -c "import json,sys; r=[x for x in json.load(open('$OUT/net.json'))['results'] if x['command']==sys.argv[1]][0]; print(round(r['mean']*1000,1))" "$1"; }
bn=$(mean berth-none); bb=$(mean berth-bridge); bp=$(mean berth-publish)
dn=$(mean docker-none); db=$(mean docker-bridge)
ratio() { python3 -c "print(round($1/$2, 2))"; }
{
    echo "| run --rm busybox true | berth (ms) | docker (ms) |"
    echo "|---|---|---|"
    echo "| --network none | $bn | $dn |"
    echo "| default bridge | $bb | $db |"
    echo "| bridge / none | $(ratio "$bb" "$bn") | $(ratio "$db" "$dn") |"
    echo "| -p 127.0.0.1:P:80 (bridge + nft rule) | $bp | - |"
} | tee "$OUT/net.md"
