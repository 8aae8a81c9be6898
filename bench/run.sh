#!/usr/bin/env bash
# Side-by-side benchmark: berth vs docker (Debian's docker.io, a private
# dockerd with its own data root and no bridge) on the same busybox image,
# driven by the same docker CLI. Prints a markdown table with ratios.
# Not a test: numbers vary with the machine; run it on an idle machine.
#
#   bash bench/run.sh            # needs root, hyperfine and docker.io
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
OUT=${OUT:-.bench-out}
mkdir -p "$OUT"

export DEBIAN_FRONTEND=noninteractive
for pkg in hyperfine docker.io runc busybox-static jq bc curl; do
    dpkg -s "$pkg" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq "$pkg" >/dev/null; }
done

cargo build --release --bins -q
python3 tests/images/mkbusybox.py target/test-images/busybox.tar >/dev/null
DOCKER=/usr/local/bin/docker
W=$(mktemp -d /tmp/bbXXXX)
BERTH_SOCK=$W/berth.sock
DOCKER_SOCK=$W/docker.sock

cleanup() {
    set +e
    DOCKER_HOST=unix://$BERTH_SOCK $DOCKER rm -f $(DOCKER_HOST=unix://$BERTH_SOCK $DOCKER ps -aq) >/dev/null 2>&1
    DOCKER_HOST=unix://$DOCKER_SOCK $DOCKER rm -f $(DOCKER_HOST=unix://$DOCKER_SOCK $DOCKER ps -aq) >/dev/null 2>&1
    [ -n "${BERTHD_PID:-}" ] && kill "$BERTHD_PID"
    [ -n "${DOCKERD_PID:-}" ] && kill "$DOCKERD_PID"
    sleep 2
    grep " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    rm -rf "$W"
    for d in /sys/fs/cgroup/*/berth-bench /sys/fs/cgroup/berth-bench; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
}
trap cleanup EXIT

target/release/berthd -H unix://$BERTH_SOCK --root $W/berth-root --exec-root $W/berth-run \
    --cgroup-parent berth-bench --bridge none --log-level warn 2>"$OUT/berthd.log" &
BERTHD_PID=$!
dockerd --data-root $W/docker-root --exec-root $W/docker-run --pidfile $W/docker.pid \
    -H unix://$DOCKER_SOCK --bridge none --iptables=false --ip-masq=false --userland-proxy=false \
    >"$OUT/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for s in $BERTH_SOCK $DOCKER_SOCK; do
    for _ in $(seq 200); do [ -S "$s" ] && break; sleep 0.1; done
    DOCKER_HOST=unix://$s $DOCKER load -q -i target/test-images/busybox.tar >/dev/null
done
B="env DOCKER_HOST=unix://$BERTH_SOCK $DOCKER"
D="env DOCKER_HOST=unix://$DOCKER_SOCK $DOCKER"

rss_kb() { awk '/VmRSS/ {print $2}' /proc/"$1"/status; }
sleep 1
BERTHD_IDLE=$(rss_kb $BERTHD_PID)
DOCKERD_IDLE=$(rss_kb $DOCKERD_PID)

hyperfine -N -w 3 -r "$RUNS" --export-json "$OUT/run.json" \
    -n berth "$B run --rm busybox true" \
    -n docker "$D run --rm --network none busybox true" >"$OUT/run.txt"
# berth's own CLI (Rust, ~3 ms to start) against the same daemon: the
# engine's cost without the Go docker CLI's start-up.
hyperfine -N -w 3 -r "$RUNS" --export-json "$OUT/run-berth-cli.json" \
    -n berth-cli "target/release/berth -H unix://$BERTH_SOCK run --rm busybox true" >"$OUT/run-berth-cli.txt"
# The floor: runc alone on the config.json berth generates (docker's seccomp
# profile, mounts and cgroups), no daemon, no CLI.
CID=$($B run -d busybox sleep 600)
mkdir -p "$W/alone/rootfs"
tar -xOf target/test-images/busybox.tar --wildcards '*/layer.tar' | tar -C "$W/alone/rootfs" -xf -
echo alone > "$W/alone/hostfile"
jq --arg r "$W/alone/rootfs" --arg w "$W/berth-root" --arg f "$W/alone/hostfile" \
    '.root.path=$r | .process.args=["true"] | .linux.cgroupsPath="/berth-bench/alone"
     | .mounts |= map(if (.source | startswith($w)) then .source=$f else . end)' \
    "$W/berth-run/containers/$CID/config.json" > "$W/alone/config.json"
$B rm -f "$CID" >/dev/null
hyperfine -N -w 3 -r "$RUNS" --export-json "$OUT/runc-alone.json" \
    -p "runc --root $W/alone/state delete -f alone" \
    -n runc "runc --root $W/alone/state run -d --bundle $W/alone alone" >"$OUT/runc-alone.txt"
runc --root "$W/alone/state" delete -f alone 2>/dev/null || true
hyperfine -N -w 2 -r "$RUNS" --export-json "$OUT/lifecycle.json" \
    -n berth "sh -c 'id=\$($B create busybox true) && $B start \$id >/dev/null && $B rm -f \$id >/dev/null'" \
    -n docker "sh -c 'id=\$($D create --network none busybox true) && $D start \$id >/dev/null && $D rm -f \$id >/dev/null'" >"$OUT/lifecycle.txt"

parallel() { # $1 = client command, $2 = extra flags
    local start end
    start=$(date +%s.%N)
    for i in $(seq 20); do $1 run -d $2 busybox sleep 600 >/dev/null & done
    wait
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
P_BERTH=$(parallel "$B" "")
SHIM_RSS=$(for p in $(pgrep -f "berth-shim.*$W"); do rss_kb $p; done | awk '{s+=$1; n++} END {if (n) printf "%.0f", s/n; else print 0}')
SHIM_COUNT=$(pgrep -fc "berth-shim.*$W" || true)
BERTHD_20=$(rss_kb $BERTHD_PID)
P_DOCKER=$(parallel "$D" "--network none")
SHIM_DOCKER=$(for p in $(pgrep -f "containerd-shim.*$W"); do rss_kb $p; done | awk '{s+=$1; n++} END {if (n) printf "%.0f", s/n; else print 0}')
DOCKERD_20=$(rss_kb $DOCKERD_PID)

# exec and stats on one of the running containers.
CB=$($B ps -q | head -1); CD=$($D ps -q | head -1)
hyperfine -N -w 3 -r "$RUNS" --export-json "$OUT/exec.json" \
    -n berth "$B exec $CB true" -n docker "$D exec $CD true" >"$OUT/exec.txt"
# The API call itself (docker's one-shot waits for a second sample)...
hyperfine -N -w 2 -r 10 --export-json "$OUT/stats-api.json" \
    -n berth "curl -sf --unix-socket $BERTH_SOCK http://x/containers/$CB/stats?stream=0 -o /dev/null" \
    -n docker "curl -sf --unix-socket $DOCKER_SOCK http://x/containers/$CD/stats?stream=0 -o /dev/null" >"$OUT/stats-api.txt"
# ...and the docker CLI's `stats --no-stream`, which adds its own wait.
hyperfine -N -w 1 -r 10 --export-json "$OUT/stats-cli.json" \
    -n berth "$B stats --no-stream $CB" -n docker "$D stats --no-stream $CD" \
    -n berth-cli "target/release/berth -H unix://$BERTH_SOCK stats --no-stream $CB" >"$OUT/stats-cli.txt"

mean() { jq -r ".results[] | select(.command==\"$2\") | .mean * 1000" "$1"; }
RB=$(mean "$OUT/run.json" berth); RD=$(mean "$OUT/run.json" docker)
LB=$(mean "$OUT/lifecycle.json" berth); LD=$(mean "$OUT/lifecycle.json" docker)
RC=$(mean "$OUT/run-berth-cli.json" berth-cli)
RA=$(mean "$OUT/runc-alone.json" runc)
EB=$(mean "$OUT/exec.json" berth); ED=$(mean "$OUT/exec.json" docker)
SAB=$(mean "$OUT/stats-api.json" berth); SAD=$(mean "$OUT/stats-api.json" docker)
SCB=$(mean "$OUT/stats-cli.json" berth); SCD=$(mean "$OUT/stats-cli.json" docker)
SCC=$(mean "$OUT/stats-cli.json" berth-cli)
ratio() { echo "scale=1; $1 / $2" | bc; }
{
echo "| measure | berth | docker | docker / berth |"
echo "|---|---|---|---|"
printf "| \`run --rm busybox true\` (mean of %s) | %.1f ms | %.1f ms | %s× |\n" "$RUNS" "$RB" "$RD" "$(ratio "$RD" "$RB")"
printf "| \`run --rm busybox true\`, berth's own CLI | %.1f ms | (docker CLI: %.1f ms) | %s× |\n" "$RC" "$RD" "$(ratio "$RD" "$RC")"
printf "| floor: \`runc run -d\` alone on berth's config.json | %.1f ms | | |\n" "$RA"
printf "| create + start + rm -f | %.1f ms | %.1f ms | %s× |\n" "$LB" "$LD" "$(ratio "$LD" "$LB")"
printf "| 20 parallel \`run -d\` | %.2f s | %.2f s | %s× |\n" "$P_BERTH" "$P_DOCKER" "$(ratio "$P_DOCKER" "$P_BERTH")"
printf "| \`exec c true\` | %.1f ms | %.1f ms | %s× |\n" "$EB" "$ED" "$(ratio "$ED" "$EB")"
printf "| \`GET stats?stream=0\` (API) | %.1f ms | %.1f ms | %s× |\n" "$SAB" "$SAD" "$(ratio "$SAD" "$SAB")"
printf "| \`stats --no-stream c\` (docker CLI) | %.1f ms | %.1f ms | %s× |\n" "$SCB" "$SCD" "$(ratio "$SCD" "$SCB")"
printf "| \`stats --no-stream c\`, berth's own CLI | %.1f ms | | |\n" "$SCC"
printf "| idle daemon RSS | %.1f MB | %.1f MB | %s× |\n" "$(echo "$BERTHD_IDLE/1024" | bc -l)" "$(echo "$DOCKERD_IDLE/1024" | bc -l)" "$(ratio "$DOCKERD_IDLE" "$BERTHD_IDLE")"
printf "| daemon RSS with 20 containers | %.1f MB | %.1f MB | %s× |\n" "$(echo "$BERTHD_20/1024" | bc -l)" "$(echo "$DOCKERD_20/1024" | bc -l)" "$(ratio "$DOCKERD_20" "$BERTHD_20")"
printf "| shim RSS per container (%s shims) | %.1f MB | %.1f MB | %s× |\n" "$SHIM_COUNT" "$(echo "$SHIM_RSS/1024" | bc -l)" "$(echo "${SHIM_DOCKER:-0}/1024" | bc -l)" "$(ratio "${SHIM_DOCKER:-0}" "$SHIM_RSS")"
} | tee "$OUT/table.md"
