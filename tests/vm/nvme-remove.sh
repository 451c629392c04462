#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=600 devices=nvme
#
# Removal under load. rmmod while fio has the disk open is refused (the disk
# pins the module) and fio's verify still passes; unbinding the controller
# in the middle of fio fails fio's I/O with errors, without an oops or a
# hang; bound again, the disks work and verify.
. /tests/lib.sh

must modprobe rust_nvme
wait_for /dev/rnvme0n1 30
dev=$(ls /sys/bus/pci/drivers/rust_nvme | grep -E '^[0-9a-f]{4}:')

base=$(io_count rnvme0n1)
fio_verify rnvme0n1 256m &
pid=$!
wait_io rnvme0n1 $base
rmmod rust_nvme 2>/tmp/rmmod.err && fail "rmmod succeeded with the disk open"
cat /tmp/rmmod.err
wait $pid || fail "fio verify failed after the refused rmmod"

base=$(io_count rnvme0n1)
fio_load rnvme0n1 60
pid=$!
wait_io rnvme0n1 $base
mark_log
echo "$dev" > /sys/bus/pci/drivers/rust_nvme/unbind || fail "unbind failed"
expect_log 'rust_nvme [0-9a-f:.]+: controller shut down'
wait $pid && fail "fio succeeded on a disk that went away"
echo "fio failed as it should once the disk was gone"
[ -e /dev/rnvme0n1 ] && fail "/dev/rnvme0n1 still there after unbind"

echo "$dev" > /sys/bus/pci/drivers/rust_nvme/bind || fail "bind failed"
wait_for /dev/rnvme1n1 30
fio_verify rnvme1n1 128m
must rmmod rust_nvme
