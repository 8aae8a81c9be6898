#!/bin/bash
# The cgroup v2 checks, run inside the guest against the berthd that
# guest-init.sh started, with the docker CLI. Each check reads the cgroup
# file the kernel applies, or looks from inside the container, not at what
# berth says it did. Prints "ok - NAME" or "not ok - NAME: why" per check and
# "VM-SUITE: N passed, M failed" at the end; exits 1 if any failed.
export DOCKER_HOST=unix:///run/berth/berth.sock
CG=/sys/fs/cgroup
PARENT=$CG/berth
pass=0
fail=0

ok() {
    pass=$((pass + 1))
    echo "ok - $1"
}
not_ok() {
    fail=$((fail + 1))
    echo "not ok - $1: $2"
}
# expect NAME WANT GOT
expect() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want '$2', got '$3'"; fi
}
# expect_match NAME REGEX GOT
expect_match() {
    if [[ $3 =~ $2 ]]; then ok "$1"; else not_ok "$1" "want /$2/, got '$3'"; fi
}
id_of() { docker inspect -f '{{.Id}}' "$1" 2>/dev/null; }
cgfile() { cat "$PARENT/$(id_of "$1")/$2" 2>&1 | tr '\n' ' ' | sed 's/ $//'; }
state() { docker inspect -f "{{.State.$2}}" "$1" 2>&1; }

# --- the daemon and the image -------------------------------------------------
expect "daemon reports cgroup v2" 2 "$(docker info -f '{{.CgroupVersion}}' 2>&1)"
out=$(docker load -i /opt/berth-vm/busybox.tar 2>&1)
expect_match "load the busybox image" "Loaded image" "$out"
IMG=$(echo "$out" | sed -n 's/^Loaded image: //p; s/^Loaded image ID: //p' | head -1)
IMG=${IMG:-busybox}
out=$(docker run --rm "$IMG" echo hello 2>&1)
expect "run prints and exits 0" "hello 0" "$out $?"

# --- limits on one long-running container -------------------------------------
docker run -d --name lim -m 64m --memory-swap 96m --cpus 0.5 --cpu-shares 512 \
    --cpuset-cpus 1 --pids-limit 50 --blkio-weight 300 "$IMG" sleep 600 >/dev/null 2>&1
expect "a container with limits runs" true "$(state lim Running)"
LIM=$(id_of lim)
expect "memory: memory.max" 67108864 "$(cgfile lim memory.max)"
# --memory-swap is memory plus swap; v2 limits swap alone.
expect "memory-swap: memory.swap.max" 33554432 "$(cgfile lim memory.swap.max)"
expect "cpus: cpu.max" "50000 100000" "$(cgfile lim cpu.max)"
# shares 2..262144 map onto weight 1..10000.
expect "cpu-shares: cpu.weight" 20 "$(cgfile lim cpu.weight)"
expect "cpuset: cpuset.cpus" 1 "$(cgfile lim cpuset.cpus)"
expect "cpuset: the container runs on cpu 1 only" "Cpus_allowed_list: 1" \
    "$(docker exec lim grep Cpus_allowed_list /proc/self/status 2>&1 | tr -s '\t ' ' ')"
expect "pids: pids.max" 50 "$(cgfile lim pids.max)"
# BFQ takes the weight as is; io.weight takes it mapped from 10..1000 onto
# 1..10000 (1 + (w - 10) * 9999 / 990).
if [ -e "$PARENT/$LIM/io.bfq.weight" ]; then
    expect "blkio-weight: io.bfq.weight" "default 300" "$(cgfile lim io.bfq.weight)"
else
    expect "blkio-weight: io.weight" "default 2930" "$(cgfile lim io.weight)"
fi
expect "the container sees its own memory.max" 67108864 \
    "$(docker exec lim cat /sys/fs/cgroup/memory.max 2>&1)"
expect "exec runs in the container's cgroup" "0::/" \
    "$(docker exec lim cat /proc/self/cgroup 2>&1)"

# --- stats from the v2 files --------------------------------------------------
stats=$(docker stats --no-stream --format '{{.MemUsage}}|{{.PIDs}}' lim 2>&1)
expect_match "stats: memory limit from memory.max" '/ 64MiB\|' "$stats"
expect "stats: pids from pids.current" "$(cgfile lim pids.current)" "${stats##*|}"
raw=$(docker stats --no-stream --format '{{.MemPerc}} {{.CPUPerc}}' lim 2>&1)
expect_match "stats: memory and cpu percentages" '^[0-9.]+% [0-9.]+%$' "$raw"

# --- update ---------------------------------------------------------------------
docker update -m 128m --memory-swap 256m --cpus 1 --pids-limit 60 lim >/dev/null 2>&1
expect "update -m: memory.max" 134217728 "$(cgfile lim memory.max)"
expect "update --memory-swap: memory.swap.max" 134217728 "$(cgfile lim memory.swap.max)"
expect "update --cpus: cpu.max" "100000 100000" "$(cgfile lim cpu.max)"
expect "update --pids-limit: pids.max" 60 "$(cgfile lim pids.max)"

# --- pause and unpause (the v2 freezer) ----------------------------------------
docker pause lim >/dev/null 2>&1
expect "pause: cgroup.freeze and frozen" "1 frozen 1 paused" \
    "$(cgfile lim cgroup.freeze) $(grep frozen "$PARENT/$LIM/cgroup.events") $(state lim Status)"
docker unpause lim >/dev/null 2>&1
expect "unpause: thawed and running" "0 frozen 0 running" \
    "$(cgfile lim cgroup.freeze) $(grep frozen "$PARENT/$LIM/cgroup.events") $(state lim Status)"

# --- the pids limit holds ---------------------------------------------------------
out=$(docker run --rm --pids-limit 5 "$IMG" sh -c \
    'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo all forked' 2>&1)
expect_match "pids: forks beyond pids.max fail" "can't fork" "$out"

# --- device rules (the eBPF device filter) ---------------------------------------
# vdb is a spare disk: no container has it unless given with --device.
spare=$(stat -c '%t %T' /dev/vdb 2>/dev/null)
maj=$((16#${spare% *}))
min=$((16#${spare#* }))
out=$(docker run --rm "$IMG" sh -c \
    "mknod /tmp/d b $maj $min || echo no-mknod; head -c 1 /tmp/d >/dev/null 2>&1; echo rc=\$?" 2>&1)
expect "devices: a device not allowed cannot be opened" "rc=1" "$out"
out=$(docker run --rm --device /dev/vdb:/dev/spare:r "$IMG" sh -c \
    'head -c 512 /dev/spare | wc -c; { echo x >/dev/spare; } 2>/dev/null; echo rc=$?' 2>&1 | tr '\n' ' ')
expect "devices: --device :r can be read, not written" "512 rc=1 " "$out"
out=$(docker run --rm --device /dev/vdb:/dev/spare:rw "$IMG" sh -c \
    'echo berth >/dev/spare && head -c 5 /dev/spare' 2>&1)
expect "devices: --device :rw can be written" berth "$out"
out=$(docker run --rm "$IMG" sh -c 'head -c 3 /dev/zero | wc -c; echo x >/dev/null && echo null' 2>&1 | tr '\n' ' ')
expect "devices: the default devices work" "3 null " "$out"

# --- cgroup namespaces -------------------------------------------------------------
expect "cgroupns private: the container is at 0::/" "0::/" \
    "$(docker run --rm --cgroupns private "$IMG" cat /proc/self/cgroup 2>&1)"
docker run --name cgh --cgroupns host "$IMG" cat /proc/self/cgroup >/tmp/cgh 2>&1
expect "cgroupns host: the container sees its host path" "0::/berth/$(id_of cgh)" "$(cat /tmp/cgh)"
docker rm cgh >/dev/null 2>&1

# --- cgroup-parent -------------------------------------------------------------------
docker run -d --name cp --cgroup-parent /vm-suite "$IMG" sleep 600 >/dev/null 2>&1
CP=$(id_of cp)
pid=$(state cp Pid)
expect_match "cgroup-parent: the container's cgroup is under it" "(^| )$pid( |$)" \
    "$(tr '\n' ' ' <"$CG/vm-suite/$CP/cgroup.procs" 2>&1)"
docker rm -f cp >/dev/null 2>&1
expect "cgroup-parent: its cgroup is gone after rm" gone \
    "$([ -e "$CG/vm-suite/$CP" ] && echo there || echo gone)"
rmdir "$CG/vm-suite" 2>/dev/null

# --- OOM -----------------------------------------------------------------------------
# With swap (as on most hosts, unlike CI's), a memory limit holds only with
# a swap limit: a container free to swap thrashes until the whole device is
# full before the OOM killer comes, minutes under emulation.
if fallocate -l 256M /swapfile && chmod 600 /swapfile && mkswap /swapfile >/dev/null &&
    swapon /swapfile; then
    ok "swap on for the OOM checks"
else
    not_ok "swap on for the OOM checks" "no swap file"
fi
docker run -d --name swapdef -m 8m "$IMG" sleep 600 >/dev/null 2>&1
# -m alone: memory-swap is twice the memory, so swap as much as memory.
expect "memory without memory-swap: memory.swap.max is the memory" 8388608 \
    "$(cgfile swapdef memory.swap.max)"
docker rm -f swapdef >/dev/null 2>&1
since=$(date +%s)
# The limit is small and the shell's string doubles: the kernel kills it
# within a few rounds. The timeout only keeps a hang from stopping the suite
# (the CLI passes SIGTERM on, which the container's init ignores).
t0=$(date +%s)
timeout -k 5 120 docker run --name oom -m 8m "$IMG" sh -c \
    'x=1234567890; while true; do x=$x$x; done' >/dev/null 2>&1
code=$?
# timeout's own status after a kill is 137 too: the clock tells.
[ $(($(date +%s) - t0)) -ge 120 ] && code="hung for 120s"
expect "oom: run exits 137" 137 "$code"
if [[ $code == hung* ]]; then
    # Hung: what the cgroup said, for the report.
    OOM=$(id_of oom)
    echo "# memory.events: $(tr '\n' ' ' <"$PARENT/$OOM/memory.events" 2>&1)"
    echo "# memory.current: $(cat "$PARENT/$OOM/memory.current" 2>&1)"
    echo "# memory.swap.current: $(cat "$PARENT/$OOM/memory.swap.current" 2>&1)"
    echo "# procs: $(tr '\n' ' ' <"$PARENT/$OOM/cgroup.procs" 2>&1)"
    echo "# state: $(docker inspect -f '{{.State.Status}} {{.State.Pid}}' oom 2>&1)"
    ps -eo pid,ppid,stat,wchan:20,args | grep -v ' \[' | sed 's/^/# /'
    docker kill oom >/dev/null 2>&1
    sleep 2
fi
t0=$(date +%s)
timeout -k 5 120 berth -H "$DOCKER_HOST" run --rm -m 8m "$IMG" sh -c \
    'x=1234567890; while true; do x=$x$x; done' >/dev/null 2>&1
code=$?
[ $(($(date +%s) - t0)) -ge 120 ] && code="hung for 120s"
expect "oom: the berth CLI's run --rm exits 137" 137 "$code"
# A child killed, the init goes on: docker still marks the container.
# stdout only: the shell's "Killed" goes to stderr, which the CLI copies on
# a stream of its own, so the two lines may come out in either order.
out=$(timeout -k 5 120 docker run --name oomchild -m 8m "$IMG" sh -c \
    'sh -c "x=1234567890; while true; do x=\$x\$x; done"; echo child=$?' 2>/dev/null | tail -1)
expect "oom: a child killed, the container exits 0" "child=137 0" "$out $(state oomchild ExitCode)"
expect "oom: a child killed: State.OOMKilled is true" true "$(state oomchild OOMKilled)"
docker rm oomchild >/dev/null 2>&1
swapoff /swapfile 2>/dev/null
expect "oom: State.OOMKilled is true" true "$(state oom OOMKilled)"
expect "oom: State.ExitCode is 137" 137 "$(state oom ExitCode)"
# --until is whole seconds and excludes what came later in its second.
events=$(docker events --since "$since" --until "$(($(date +%s) + 1))" --filter container=oom \
    --format '{{.Action}}' 2>&1 | tr '\n' ' ')
expect_match "oom: the oom event comes before die" '(^| )oom die( |$)' "$events"
docker rm oom >/dev/null 2>&1

# --- berth's parent cgroup and what rm leaves ---------------------------------------------
expect_match "parent cgroup: made, with the controllers enabled for its children" \
    'cpu.*io.*memory.*pids' "$(cat "$PARENT/cgroup.subtree_control" 2>&1 | tr '\n' ' ')"
docker rm -f lim >/dev/null 2>&1
left=$(find "$PARENT" -mindepth 1 -type d 2>&1 | tr '\n' ' ')
expect "rm: no container cgroup left under berth's parent" "" "$left"
expect "rm: no shim left" "" "$(pgrep -a berth-shim)"
expect "rm: no overlay mount left" "" "$(grep ' overlay ' /proc/mounts)"
expect "rm: no container listed" "" "$(docker ps -aq 2>&1)"

echo "VM-SUITE: $pass passed, $fail failed"
[ "$fail" = 0 ]
