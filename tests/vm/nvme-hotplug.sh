#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=600 devices=nvme+hotplug=on
#
# Hot removal under load: QMP device_del takes the controller away (through
# its PCIe root port) while fio runs on both namespaces. The driver lets go
# of it: the disks go away, fio fails with I/O errors, nothing oopses or
# hangs, an ioctl on a block device still open fails with ENODEV, and the
# module unloads.
. /tests/lib.sh

must modprobe rust_nvme
wait_for /dev/rnvme0n1 30
wait_for /dev/rnvme0n2 30
for disk in rnvme0n1 rnvme0n2; do
	eval base_$disk=$(io_count $disk)
	fio_load $disk 120
	eval pid_$disk=$!
done
# A block device open across the removal: its ioctl, after the disk has
# gone, fails cleanly, and closing it frees the disk (kmemleak checks).
NVME_USER_IO_AFTER=/sys/block/rnvme0n2 nvme-user-io /dev/rnvme0n2 read 0 1 4096 > /dev/null 2> /tmp/late.err &
late=$!
wait_io rnvme0n1 $base_rnvme0n1
wait_io rnvme0n2 $base_rnvme0n2
i=0
until grep -q 'open, waiting' /tmp/late.err; do
	i=$((i + 1))
	[ $i -gt 300 ] && fail "nvme-user-io did not open rnvme0n2: $(cat /tmp/late.err)"
	sleep 0.1
done
mark_log
echo 'RSUITE-QMP {"execute": "device_del", "arguments": {"id": "nvme0"}}'
# The hot-plug controller's attention button waits 5 s before removal.
i=0
while [ -e /dev/rnvme0n1 ] || [ -e /dev/rnvme0n2 ]; do
	i=$((i + 1))
	[ $i -gt 600 ] && fail "disks still there 60 s after device_del"
	sleep 0.1
done
echo "disks gone after $((i / 10)) s"
wait $pid_rnvme0n1 && fail "fio on rnvme0n1 succeeded on a disk that went away"
wait $pid_rnvme0n2 && fail "fio on rnvme0n2 succeeded on a disk that went away"
expect_log 'rust_nvme [0-9a-f:.]+: (controller shut down|controller gone)'
wait $late
rc=$?
[ $rc = 1 ] || fail "SUBMIT_IO on a removed namespace ended with $rc: $(cat /tmp/late.err)"
grep -q 'NVME_IOCTL_SUBMIT_IO: No such device (os error 19)' /tmp/late.err || fail "SUBMIT_IO on a removed namespace: $(cat /tmp/late.err)"
[ -z "$(ls /sys/bus/pci/drivers/rust_nvme | grep -E '^[0-9a-f]{4}:')" ] || fail "driver still bound"
[ -e /dev/rnvme0 ] && fail "/dev/rnvme0 still there"
must rmmod rust_nvme
