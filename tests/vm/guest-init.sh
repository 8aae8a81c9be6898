#!/bin/bash
# PID 1 of the guest after the switch to the root disk: mounts the unified
# cgroup hierarchy only (no v1 controller is mounted anywhere), enables the
# controllers for children, starts berthd, runs the suite and powers off.
# Its lines start with "[guest]"; the suite's are "ok"/"not ok" and one
# "VM-SUITE: N passed, M failed".
export PATH=/opt/berth-vm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
say() { echo "[guest] $*"; }
off() {
    sync
    echo 1 >/proc/sys/kernel/sysrq 2>/dev/null
    echo o >/proc/sysrq-trigger 2>/dev/null
    busybox poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup || {
    say "cannot mount cgroup2"
    off
}
hostname berth-vm
ip link set lo up

while read -r m; do
    insmod "$m" 2>/dev/null || true
done </opt/berth-vm/modules

for c in cpuset cpu io memory pids hugetlb misc rdma; do
    grep -qw "$c" /sys/fs/cgroup/cgroup.controllers &&
        echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control
done
say "kernel $(uname -r), cgroup controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
say "$(runc --version | head -1)"

mkdir -p /run/berth /var/lib/berth
NO_COLOR=1 berthd -H unix:///run/berth/berth.sock --root /var/lib/berth --exec-root /run/berth \
    --bridge none --iptables=false \
    -l debug >/var/log/berthd.log 2>&1 &
for _ in $(seq 100); do
    [ -S /run/berth/berth.sock ] && break
    sleep 0.1
done

bash /opt/berth-vm/suite.sh
rc=$?
if [ $rc -ne 0 ]; then
    say "berthd log (tail):"
    tail -60 /var/log/berthd.log | sed 's/^/[guest] | /'
fi
off
