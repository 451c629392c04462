#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=240 devices=nvme
#
# `make LLVM=1 demo`: loads the three modules and shows each doing its job.
# Kernel log lines are quoted with "log:" (the raw console is in out/vm/demo.log).
. /tests/lib.sh

show() { echo; echo "### $*"; }
klog() { log_last "$@" | sed 's/^/  log: /'; }

show "Kernel $(uname -r) on $(nproc) CPUs"
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/class")" = 0x010802 ] && echo "NVMe controller at ${d##*/}: vendor $(cat "$d/vendor"), device $(cat "$d/device")"
done

show "rust_nvme: brings the NVMe controller up, makes a disk of each namespace"
must modprobe rust_nvme
klog 'rust_nvme [^ ]+: (NVMe|.*serial|namespace|I/O queues|[0-9]+ usable|[0-9]+ disks)' 7
ls /sys/bus/pci/drivers/rust_nvme | grep -E '^[0-9a-f]{4}:' | sed 's/^/  bound to /'
wait_for /dev/rnvme0n2 30
for disk in rnvme0n1 rnvme0n2; do
	echo "  /dev/$disk: $(($(cat /sys/block/$disk/size) / 2048)) MiB, $(cat /sys/block/$disk/queue/logical_block_size)-byte blocks"
done
echo "rust_nvme demo data" | dd of=/dev/rnvme0n2 bs=4096 conv=sync oflag=direct 2>/dev/null
back=$(dd if=/dev/rnvme0n2 bs=4096 count=1 iflag=direct 2>/dev/null | head -c 19)
echo "  wrote a block to rnvme0n2, read back: '$back'"
nvme id-ctrl /dev/rnvme0 | grep -E '^(mn|sn) ' | sed 's/^/  nvme id-ctrl: /'

show "rust_9p: exports /srv/share over TCP; the kernel's v9fs client mounts it"
mkdir -p /srv/share /mnt/share
must mount -t tmpfs tmpfs /srv/share
echo "written on the server side" > /srv/share/hello
must modprobe rust_9p export=/srv/share
klog 'rust_9p: exporting'
must mount -t 9p -o trans=tcp,port=564,version=9p2000.L,access=user 127.0.0.1 /mnt/share
grep ' /mnt/share ' /proc/mounts | sed 's/^/  mounted: /'
echo "  /mnt/share/hello: $(cat /mnt/share/hello)"
echo "written through the mount" > /mnt/share/reply
echo "  the server side sees reply: $(cat /srv/share/reply)"
must umount /mnt/share

show "rust_agx: boots the virtual GPU's firmware, registers a render node, computes"
must modprobe rust_agx
klog 'rust_agx: (fw:|render node)' 2
ls -l /dev/dri | sed 's/^/  /'
echo "  DRM device: $(cat /sys/kernel/debug/dri/128/name)"
agx info | sed 's/^/  /'
# The model interprets about 0.1 M instructions a second on this debug
# kernel under TCG: 4096 elements take well under the 5 s job timeout.
for job in "saxpy 4096" "checksum 4096"; do
	out=$(agx $job 2>&1) || fail "agx $job: $out"
	echo "$out" | sed 's/^/  /'
done

show "Loaded"
lsmod | grep -E '^(Module|rust_)' | sed 's/^/  /'

show "Unloading"
must rmmod rust_agx rust_9p rust_nvme
klog 'rust_(9p|agx|nvme)' 3
echo "  all three unloaded"
exit 0
