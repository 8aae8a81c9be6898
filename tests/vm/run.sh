#!/usr/bin/env bash
# Runs the cgroup v2 suite (tests/vm/suite.sh) inside a Debian 12 guest booted
# under qemu on a pure unified hierarchy: the host (and CI) runs a hybrid v1
# layout, so berth's v2 code meets a real v2 kernel only here.
#
# Everything comes from Debian packages. The guest's root tree (debootstrap)
# and kernel are cached under target/vm-cache, keyed by the package versions,
# so only the first run downloads and unpacks; every run copies in the berth
# binaries built last (target/debug) and the busybox test image.
#
# The guest prints one line "VM-SUITE: N passed, M failed" on its serial
# console; this script exits 0 only if that line says no check failed.
#
# `run.sh --prepare` only fills the cache (guest tree and kernel).
#
# Environment: BERTH_BIN_DIR (where berthd, berth-shim and berth are;
# default target/debug), BERTH_VM_SUITE (another script to run in place of
# suite.sh, for a look at one case), BERTH_VM_APPEND (more kernel
# parameters), BERTH_VM_CPU (qemu -cpu model; qemu's default if unset),
# BERTH_VM_TIMEOUT (seconds for the boot and the suite, default
# 900), BERTH_VM_CACHE (cache dir), BERTH_VM_MIRROR (Debian mirror for
# debootstrap), BERTH_VM_KEEP=1 keeps the run's dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
here=$repo/tests/vm

timeout_s=${BERTH_VM_TIMEOUT:-900}
cache=${BERTH_VM_CACHE:-$repo/target/vm-cache}
mirror=${BERTH_VM_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# The guest's packages beyond minbase: the runtime, the test tools, and
# kmod/util-linux for modules and mounts.
guest_pkgs=runc,busybox-static,iproute2,procps,kmod
bins=(berthd berth-shim berth)
bin_dir=${BERTH_BIN_DIR:-$repo/target/debug}

log() { printf '[vm] %s\n' "$*" >&2; }
die() { printf '[vm] FAIL: %s\n' "$*" >&2; exit 1; }

prepare_only=
[ "${1:-}" = --prepare ] && prepare_only=1

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mkfs -d of a root tree)"

# --- host packages ----------------------------------------------------------
need=()
for pair in qemu-system-x86_64:qemu-system-x86 debootstrap:debootstrap cpio:cpio \
    mkfs.ext4:e2fsprogs busybox:busybox-static depmod:kmod; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
apt_updated=
apt_update() {
    [ -n "$apt_updated" ] || apt-get update -qq
    apt_updated=1
}
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- cache keys: the versions apt would install ------------------------------
kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'
}
kpkg=$(kernel_pkg)
if [ -z "$kpkg" ]; then
    apt_update
    kpkg=$(kernel_pkg)
fi
[ -n "$kpkg" ] || die "apt knows no linux-image-amd64"
candidate() { apt-cache policy "$1" | awk '/Candidate:/ {print $2; exit}'; }
kver=$(candidate "$kpkg")
rootfs_versions=$(for p in ${guest_pkgs//,/ }; do printf '%s=%s\n' "$p" "$(candidate "$p")"; done)
rootfs_key=$(printf '%s\n%s\n%s\n' "$suite" "$mirror" "$rootfs_versions" | sha256sum | cut -c1-16)
kdir=$cache/kernel-$kpkg-$kver
rdir=$cache/rootfs-$rootfs_key
mkdir -p "$cache"
# One run at a time fills the cache and assembles the guest's tree.
exec 9>"$cache/.lock"
flock 9

# --- kernel: vmlinuz and modules of Debian's linux-image package ------------
if [ ! -e "$kdir/.done" ]; then
    log "fetching $kpkg $kver"
    rm -rf "$kdir"
    mkdir -p "$kdir/dl"
    # apt's download sandbox user must be able to write the directory.
    chmod 777 "$kdir/dl"
    (cd "$kdir/dl" && apt-get download -q "$kpkg=$kver" 2>&1 | grep -v unsandboxed >&2 || true)
    deb=$(ls "$kdir"/dl/*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || die "could not download $kpkg"
    dpkg -x "$deb" "$kdir/tree"
    # The package's postinst would make modules.dep; nothing installs it here.
    depmod -b "$kdir/tree" "$(basename "$(ls -d "$kdir"/tree/lib/modules/*)")"
    rm -rf "$kdir/dl"
    touch "$kdir/.done"
fi
vmlinuz=$(ls "$kdir"/tree/boot/vmlinuz-* | head -1)
modroot=$(ls -d "$kdir"/tree/lib/modules/* | head -1)
uname_r=$(basename "$modroot")

# --- guest root tree ----------------------------------------------------------
if [ ! -e "$rdir/.done" ]; then
    log "debootstrap $suite ($guest_pkgs), once per package set"
    rm -rf "$rdir"
    mkdir -p "$rdir"
    debootstrap --variant=minbase --include="$guest_pkgs" "$suite" "$rdir/root" "$mirror" \
        >"$rdir/debootstrap.log" 2>&1 || {
        tail -20 "$rdir/debootstrap.log" >&2
        die "debootstrap failed"
    }
    # Nothing of the package cache is needed in the guest.
    rm -rf "$rdir"/root/var/cache/apt/archives/*.deb "$rdir"/root/var/lib/apt/lists/*
    touch "$rdir/.done"
fi

[ -z "$prepare_only" ] || exit 0

# --- this run -----------------------------------------------------------------
for b in "${bins[@]}"; do
    [ -x "$bin_dir/$b" ] || die "$bin_dir/$b missing: cargo build --workspace --bins first"
done
run=$(mktemp -d "$cache/run.XXXXXX")
cleanup() {
    if [ "${BERTH_VM_KEEP:-}" = 1 ]; then
        log "kept $run"
    else
        rm -rf "$run"
    fi
}
trap cleanup EXIT

# Modules in load order (dependencies first), closed over modules.dep;
# built-in ones are skipped. $1: output list, rest: module names.
module_closure() {
    local out=$1
    shift
    python3 - "$modroot" "$@" >"$out" <<'EOF'
import sys, os
root, wanted = sys.argv[1], sys.argv[2:]
deps = {}
with open(os.path.join(root, "modules.dep")) as f:
    for line in f:
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
by_name = {os.path.basename(p).split(".ko")[0].replace("-", "_"): p for p in deps}
order, seen = [], set()
def visit(p):
    if p in seen:
        return
    seen.add(p)
    for d in deps.get(p, []):
        visit(d)
    order.append(p)
for name in wanted:
    p = by_name.get(name.replace("-", "_"))
    if p:
        visit(p)
print("\n".join(order))
EOF
}

# The initramfs: busybox and the modules that reach the root disk; its init
# mounts the ext4 root and switches to it.
ird=$run/initramfs
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lib/modules}
cp "$(command -v busybox)" "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
module_closure "$run/boot-modules" virtio_pci virtio_blk ext4 crc32c_generic crc32c_intel
while read -r m; do
    [ -n "$m" ] || continue
    cp "$modroot/$m" "$ird/lib/modules/"
    echo "$(basename "$m")" >>"$ird/lib/modules/order"
done <"$run/boot-modules"
touch "$ird/lib/modules/order"
cp "$here/initramfs-init.sh" "$ird/init"
chmod 755 "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$run/initrd"

# The root: the cached tree, the modules the suite needs, fresh binaries,
# the test image and the scripts. mkfs.ext4 -d builds the image from a
# directory, so the tree is assembled in place over the cache's copy (only
# files this script owns are written there).
root=$rdir/root
opt=$root/opt/berth-vm
rm -rf "$opt" "$root/lib/modules"
mkdir -p "$opt/bin" "$root/lib/modules/$uname_r"
for b in "${bins[@]}"; do
    cp "$bin_dir/$b" "$opt/bin/"
done
docker_cli=$(command -v docker || true)
[ -x /usr/local/bin/docker ] && docker_cli=/usr/local/bin/docker
[ -n "$docker_cli" ] || die "no docker CLI on the host to copy into the guest"
cp "$docker_cli" "$opt/bin/docker"
python3 tests/images/mkbusybox.py "$opt/busybox.tar" >/dev/null
cp "$here/guest-init.sh" "$opt/init"
cp "${BERTH_VM_SUITE:-$here/suite.sh}" "$opt/suite.sh"
chmod 755 "$opt/init" "$opt/suite.sh"
module_closure "$run/guest-modules" overlay veth bridge
: >"$opt/modules"
while read -r m; do
    [ -n "$m" ] || continue
    mkdir -p "$root/lib/modules/$uname_r/$(dirname "$m")"
    cp "$modroot/$m" "$root/lib/modules/$uname_r/$m"
    echo "/lib/modules/$uname_r/$m" >>"$opt/modules"
done <"$run/guest-modules"

img=$run/root.img
# Room for the image store and the containers' layers beside the tree.
size_mb=$(($(du -sm "$root" | cut -f1) + 768))
truncate -s "${size_mb}M" "$img"
mkfs.ext4 -q -F -L berth-vm -d "$root" "$img"
# A small spare disk for the device-rule checks (read, write, denied).
truncate -s 4M "$run/spare.img"

# --- boot -----------------------------------------------------------------------
console=$run/console.log
log "booting $uname_r (tcg, timeout ${timeout_s}s)"
start=$(date +%s)
set +e
timeout -k 10 "$timeout_s" qemu-system-x86_64 \
    -accel tcg ${BERTH_VM_CPU:+-cpu $BERTH_VM_CPU} -smp 2 -m 2048 \
    -nographic -no-reboot -monitor none -serial "file:$console" \
    -kernel "$vmlinuz" -initrd "$run/initrd" \
    -drive "file=$img,format=raw,if=virtio" \
    -drive "file=$run/spare.img,format=raw,if=virtio" \
    -append "console=ttyS0 root=/dev/vda rw panic=-1 loglevel=4 quiet ${BERTH_VM_APPEND:-}" \
    </dev/null >"$run/qemu.out" 2>&1
rc=$?
set -e
elapsed=$(($(date +%s) - start))
# The guest's own lines (not the kernel's) are its report.
sed -n 's/\r$//; s/^.*\(\[guest\] \)/\1/; /^\[guest\]\|^ok \|^not ok \|^VM-SUITE:\|^#/p' "$console" >&2 || true
result=$(sed -n 's/\r$//; s/^VM-SUITE: \([0-9]* passed, [0-9]* failed\)$/\1/p' "$console" | tail -1)
if [ -z "$result" ]; then
    log "no result line (qemu exit $rc after ${elapsed}s); console tail:"
    tail -40 "$console" >&2 || true
    cat "$run/qemu.out" >&2 || true
    exit 1
fi
log "$result in ${elapsed}s"
passed=${result%% passed*}
failed=${result#*, }
failed=${failed%% failed}
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
