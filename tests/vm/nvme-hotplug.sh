#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=600 devices=nvme+hotplug=on
#
# Hot removal under load: QMP device_del takes the controller away (through
# its PCIe root port) while fio runs on both namespaces. The driver lets go
# of it: the disks go away, fio fails with I/O errors, nothing oopses or
# hangs, and the module unloads.
. /tests/lib.sh

must modprobe rust_nvme
wait_for /dev/rnvme0n1 30
wait_for /dev/rnvme0n2 30
for disk in rnvme0n1 rnvme0n2; do
	fio_load $disk 120
	eval pid_$disk=$!
done
sleep 5
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
[ -z "$(ls /sys/bus/pci/drivers/rust_nvme | grep -E '^[0-9a-f]{4}:')" ] || fail "driver still bound"
[ -e /dev/rnvme0 ] && fail "/dev/rnvme0 still there"
must rmmod rust_nvme
