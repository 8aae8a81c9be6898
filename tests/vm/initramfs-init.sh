#!/bin/sh
# The guest's first init: loads what reaches the root disk, mounts it and
# hands over to the suite's init there. A switch, not a pivot: the runtime's
# pivot_root fails when / is the initial rootfs.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do
    insmod "/lib/modules/$m" 2>/dev/null
done </lib/modules/order
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
    echo "[guest] cannot mount the root disk"
    poweroff -f
fi
umount /proc /sys /dev
exec switch_root /newroot /opt/berth-vm/init
