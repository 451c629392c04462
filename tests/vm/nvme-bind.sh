#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=180 devices=nvme
#
# rust_nvme binds to QEMU's NVMe controller (PCI class 0x010802), reads its
# version and capabilities, survives a sysfs unbind/bind, and unloads; the C
# nvme driver can then take the same device.
. /tests/lib.sh

mark_log
must modprobe rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: NVMe 1\.4\.0 controller: 2048 entries per queue max, ready timeout 7500 ms'
dev=$(ls /sys/bus/pci/drivers/rust_nvme | grep -E '^[0-9a-f]{4}:')
[ -n "$dev" ] || fail "no device bound to rust_nvme"
[ "$(cat /sys/bus/pci/devices/$dev/class)" = 0x010802 ] || fail "rust_nvme bound to a non-NVMe device $dev"

mark_log
echo "$dev" > /sys/bus/pci/drivers/rust_nvme/unbind || fail "unbind failed"
[ -e /sys/bus/pci/drivers/rust_nvme/$dev ] && fail "$dev still bound after unbind"
echo "$dev" > /sys/bus/pci/drivers/rust_nvme/bind || fail "bind failed"
expect_log 'rust_nvme .*NVMe 1\.4\.0 controller'

must rmmod rust_nvme
[ -e /sys/bus/pci/drivers/rust_nvme ] && fail "driver still registered after rmmod"

# The baseline driver takes the device once ours is gone.
must modprobe nvme
wait_for /dev/nvme0n1 30
wait_for /dev/nvme0n2 30
must rmmod nvme
exit 0
