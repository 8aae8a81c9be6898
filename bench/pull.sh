#!/usr/bin/env bash
# Pull benchmark: berth vs docker (Debian's docker.io, a private dockerd with
# its own data root and no bridge), both pulling the same image from a
# private registry (Debian's docker-registry on loopback, filesystem
# storage), through the same docker CLI. The image is LAYERS layers of MB
# megabytes of random data each, once gzip'd and once zstd'd, so the bytes
# pulled are the bytes unpacked. Rounds alternate between the engines; each
# pull starts from an empty store. Prints the registry's raw speed and a
# markdown table. Not a test: numbers vary with the machine and the disk.
#
#   bash bench/pull.sh                 # needs root; 5 rounds, 5 x 40 MB
#   ROUNDS=3 MCD=6 bash bench/pull.sh  # MCD: both daemons' max-concurrent-downloads
#   FILL=hex bash bench/pull.sh        # layers that compress ~2:1 (see mkimage.py)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
LAYERS=${LAYERS:-5}
MB=${MB:-40}
MCD=${MCD:-3}
FILL=${FILL:-random}
OUT=${OUT:-.bench-out}
mkdir -p "$OUT"

export DEBIAN_FRONTEND=noninteractive
for pkg in docker.io runc docker-registry skopeo zstd gzip curl python3; do
    dpkg -s "$pkg" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq "$pkg" >/dev/null; }
done

cargo build --release --bins -q
DOCKER=/usr/local/bin/docker
W=$(mktemp -d /tmp/bpXXXX)
BERTH_SOCK=$W/berth.sock
DOCKER_SOCK=$W/docker.sock
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT

cleanup() {
    set +e
    [ -n "${BERTHD_PID:-}" ] && kill "$BERTHD_PID"
    [ -n "${DOCKERD_PID:-}" ] && kill "$DOCKERD_PID"
    [ -n "${REG_PID:-}" ] && kill "$REG_PID"
    sleep 2
    grep " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    rm -rf "$W"
}
trap cleanup EXIT

cat >"$W/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $W/registry
http:
  addr: $REG
EOF
docker-registry serve "$W/registry.yml" >"$OUT/pull-registry.log" 2>&1 &
REG_PID=$!
target/release/berthd -H unix://$BERTH_SOCK --root $W/berth-root --exec-root $W/berth-run \
    --cgroup-parent berth-bench-pull --bridge none --max-concurrent-downloads "$MCD" \
    --log-level warn 2>"$OUT/pull-berthd.log" &
BERTHD_PID=$!
dockerd --data-root $W/docker-root --exec-root $W/docker-run --pidfile $W/docker.pid \
    -H unix://$DOCKER_SOCK --containerd-namespace berth-bench-pull \
    --containerd-plugins-namespace berth-bench-pull-plugins \
    --bridge none --iptables=false --ip-masq=false --userland-proxy=false \
    --max-concurrent-downloads "$MCD" >"$OUT/pull-dockerd.log" 2>&1 &
DOCKERD_PID=$!
for s in $BERTH_SOCK $DOCKER_SOCK; do
    for _ in $(seq 300); do [ -S "$s" ] && break; sleep 0.1; done
done
for _ in $(seq 100); do curl -sf "http://$REG/v2/" >/dev/null && break; sleep 0.1; done

declare -A BYTES TARS
for c in gzip zstd; do
    read -r BYTES[$c] TARS[$c] < <(python3 bench/mkimage.py "$W/oci-$c" "$c" --layers "$LAYERS" --mb "$MB" --fill "$FILL")
    skopeo copy -q --dest-tls-verify=false "oci:$W/oci-$c:latest" "docker://$REG/bench/$c:latest"
    rm -rf "$W/oci-$c"
done

# The registry's own speed: each gzip layer blob read by curl, one at a
# time and then all at once, as a pull would.
blobs=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG/v2/bench/gzip/manifests/latest" |
    python3 -c 'import json,sys; print(" ".join(l["digest"] for l in json.load(sys.stdin)["layers"]))')
seq_rate=$(for b in $blobs; do curl -sf -o /dev/null -w '%{speed_download}\n' "http://$REG/v2/bench/gzip/blobs/$b"; done |
    awk '{s+=$1; n++} END {printf "%.0f", s/n/1e6}')
start=$(date +%s.%N)
curls=()
for b in $blobs; do curl -sf -o /dev/null "http://$REG/v2/bench/gzip/blobs/$b" & curls+=($!); done
wait "${curls[@]}"
par_rate=$(python3 -c "import time; print(round(${BYTES[gzip]}/1e6/(time.time()-$start)))")
REG_LINE="registry: ${seq_rate} MB/s per blob (curl, one at a time), ${par_rate} MB/s for $LAYERS blobs at once"
echo "$REG_LINE"

D="env DOCKER_HOST=unix://$DOCKER_SOCK $DOCKER"
B="env DOCKER_HOST=unix://$BERTH_SOCK $DOCKER"
TIMES=$OUT/pull-times.txt
: >"$TIMES"

# CPU seconds a daemon used, with its waited-for children (dockerd unpacks
# layers in a child process).
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15 + $16 + $17) / hz}' /proc/"$1"/stat; }

pull_once() { # engine compression round
    local cli=$D pid=$DOCKERD_PID img=$REG/bench/$2:latest start end n cpu0 cpu1
    [ "$1" = berth ] && cli=$B pid=$BERTHD_PID
    $cli rmi -f "$img" >/dev/null 2>&1 || true
    $cli image prune -af >/dev/null 2>&1 || true
    sync
    cpu0=$(cpu_s "$pid")
    start=$(date +%s.%N)
    if ! $cli pull "$img" >"$W/pull.out" 2>&1; then
        # dockerd 20.10 cannot unpack zstd layers: say so in the table.
        echo "$1 $2 $3 failed: $(tail -1 "$W/pull.out")" | tee -a "$TIMES"
        return 0
    fi
    end=$(date +%s.%N)
    cpu1=$(cpu_s "$pid")
    # A layer left over from an earlier round would make the pull look fast.
    n=$(grep -c 'Pull complete' "$W/pull.out" || true)
    if [ "$n" != "$LAYERS" ]; then
        echo "$1 $2 round $3: $n of $LAYERS layers pulled:" >&2
        cat "$W/pull.out" >&2
        return 1
    fi
    echo "$1 $2 $3 $(echo "$end - $start" | bc) $(echo "$cpu1 - $cpu0" | bc)" | tee -a "$TIMES"
}

for r in $(seq "$ROUNDS"); do
    for c in gzip zstd; do
        if [ $((r % 2)) = 1 ]; then order="berth docker"; else order="docker berth"; fi
        for e in $order; do
            # One failure of an engine on a compression is its answer.
            grep -q "^$e $c .* failed:" "$TIMES" || pull_once "$e" "$c" "$r"
        done
    done
done

python3 - "$TIMES" "${BYTES[gzip]}" "${BYTES[zstd]}" "${TARS[gzip]}" "${TARS[zstd]}" "$ROUNDS" "$MCD" "$FILL" <<'EOF' | tee "$OUT/pull-table.md"
import statistics, sys
times, rounds, mcd, fill = sys.argv[1], sys.argv[6], sys.argv[7], sys.argv[8]
size = {"gzip": int(sys.argv[2]), "zstd": int(sys.argv[3])}
tar = {"gzip": int(sys.argv[4]), "zstd": int(sys.argv[5])}
t, cpu, failed = {}, {}, {}
for line in open(times):
    e, c, _, s = line.split(maxsplit=3)
    if s.startswith("failed:"):
        failed[(e, c)] = s.removeprefix("failed:").strip()
    else:
        secs, used = s.split()
        t.setdefault((e, c), []).append(float(secs))
        cpu.setdefault((e, c), []).append(float(used))
print("| layers (pulled / unpacked) | engine | median | min | max | MB/s pulled | MB/s unpacked | daemon CPU | berth / docker |")
print("|---|---|---|---|---|---|---|---|---|")
for c in ("gzip", "zstd"):
    med = {e: statistics.median(t[(e, c)]) for e in ("berth", "docker") if (e, c) in t}
    for e in ("berth", "docker"):
        what = f"{c}, {size[c] / 1e6:.0f} / {tar[c] / 1e6:.0f} MB"
        if (e, c) in failed:
            print(f"| {what} | {e} | fails: {failed[(e, c)]} | | | | | | |")
            continue
        v = t[(e, c)]
        ratio = f"{med['berth'] / med['docker']:.2f}" if e == "berth" and len(med) == 2 else ""
        print(f"| {what} | {e} | {med[e]:.2f} s | {min(v):.2f} s | {max(v):.2f} s | "
              f"{size[c] / 1e6 / med[e]:.0f} | {tar[c] / 1e6 / med[e]:.0f} | "
              f"{statistics.median(cpu[(e, c)]):.2f} s | {ratio} |")
print(f"\n{rounds} rounds each, alternating; {fill} layer data; "
      f"max-concurrent-downloads {mcd} on both; MB = 10^6 bytes; MB/s of the median; "
      f"daemon CPU: median user + system seconds of the daemon and its children.")
EOF
echo "$REG_LINE" | tee -a "$OUT/pull-table.md"
