#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=180 devices=nvme
#
# rust_nvme binds to QEMU's NVMe controller (PCI class 0x010802), brings it
# up with an admin queue and identifies it and its namespaces; what it finds
# must agree with what the C nvme driver reports for the same device. It
# shuts the controller down on unbind and on unload.
. /tests/lib.sh

mark_log
must modprobe rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: NVMe 1\.4\.0 controller: 2048 entries per queue max, ready timeout 7500 ms'
expect_log 'rust_nvme [0-9a-f:.]+: 2 usable namespaces of 2 active'
# One pair per CPU: the controller offers 4, the VM has 2 CPUs.
expect_log 'rust_nvme [0-9a-f:.]+: I/O queues: 2 pairs of 1024 entries, 2 with interrupts \(2 MsiX vectors\), 0 polled \(2 granted for 2 CPUs and 0 polled\)'
expect_log 'rust_nvme [0-9a-f:.]+: 2 disks rnvme[0-9]+n\*'
wait_for /dev/rnvme0n1 10
wait_for /dev/rnvme0n2 10
dev=$(ls /sys/bus/pci/drivers/rust_nvme | grep -E '^[0-9a-f]{4}:')
[ -n "$dev" ] || fail "no device bound to rust_nvme"
[ "$(cat /sys/bus/pci/devices/$dev/class)" = 0x010802 ] || fail "rust_nvme bound to a non-NVMe device $dev"

id=$(log_last 'rust_nvme [^ ]+: .*, serial .*, firmware ')
r_model=$(echo "$id" | sed -E 's/^rust_nvme [^ ]+: (.*), serial .*/\1/')
r_serial=$(echo "$id" | sed -E 's/.*, serial (.*), firmware .*/\1/')
r_fw=$(echo "$id" | sed -E 's/.*, firmware ([^:]*): .*/\1/')
ns1=$(log_last 'rust_nvme [^ ]+: namespace 1: ')
ns2=$(log_last 'rust_nvme [^ ]+: namespace 2: ')
echo "rust_nvme: model '$r_model' serial '$r_serial' firmware '$r_fw'"
echo "rust_nvme: $ns1 / $ns2"

mark_log
echo "$dev" > /sys/bus/pci/drivers/rust_nvme/unbind || fail "unbind failed"
expect_log 'rust_nvme [0-9a-f:.]+: controller shut down'
# The queues were deleted before the shutdown, without a failed command.
log_has 'rust_nvme .*(failed|timed out|not created)' && fail "an admin command failed on teardown"
[ -e /sys/bus/pci/drivers/rust_nvme/$dev ] && fail "$dev still bound after unbind"
mark_log
echo "$dev" > /sys/bus/pci/drivers/rust_nvme/bind || fail "bind failed"
expect_log 'rust_nvme .*2 usable namespaces of 2 active'

mark_log
must rmmod rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: controller shut down'
[ -e /sys/bus/pci/drivers/rust_nvme ] && fail "driver still registered after rmmod"

# The baseline driver takes the device once ours is gone, and must see the
# same controller and namespaces.
must modprobe nvme
wait_for /dev/nvme0n1 30
wait_for /dev/nvme0n2 30
# sysfs shows the fields with their space padding.
c_model=$(sed 's/ *$//' /sys/class/nvme/nvme0/model)
c_serial=$(sed 's/ *$//' /sys/class/nvme/nvme0/serial)
c_fw=$(sed 's/ *$//' /sys/class/nvme/nvme0/firmware_rev)
echo "nvme: model '$c_model' serial '$c_serial' firmware '$c_fw'"
[ "$r_model" = "$c_model" ] || fail "model: rust_nvme '$r_model', nvme '$c_model'"
[ "$r_serial" = "$c_serial" ] || fail "serial: rust_nvme '$r_serial', nvme '$c_serial'"
[ "$r_fw" = "$c_fw" ] || fail "firmware: rust_nvme '$r_fw', nvme '$c_fw'"
for disk in nvme0n1 nvme0n2; do
	nsid=$(cat /sys/block/$disk/nsid)
	lbs=$(cat /sys/block/$disk/queue/logical_block_size)
	blocks=$(( $(cat /sys/block/$disk/size) * 512 / lbs ))
	want="namespace $nsid: $blocks blocks of $lbs bytes"
	echo "nvme: $disk is $want"
	log=$([ "$nsid" = 1 ] && echo "$ns1" || echo "$ns2")
	case "$log" in
	*"$want "*) ;;
	*) fail "rust_nvme logged '$log', nvme sees '$want'" ;;
	esac
done
must rmmod nvme
exit 0
