#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=600 devices=nvme
#
# The device stops answering before the driver is told, as when a drive is
# pulled without a hot-plug controller: with fio running on both
# namespaces, the PCI command register is cleared (no memory decoding, no
# bus mastering), so doorbells are lost and nothing completes. (QEMU then
# reads registers as 0, not all ones as a vanished PCIe device reads.) The
# requests time out (io_timeout 5 s), the Abort times out, the reset finds
# no controller and the driver fails what it had: fio ends with I/O errors
# in bounded time, new I/O fails at once, and unbinding then unloading the
# driver neither hangs nor oopses.
. /tests/lib.sh

pci=/sys/bus/pci/devices/0000:00:03.0
must modprobe rust_nvme
wait_for /dev/rnvme0n1 30
wait_for /dev/rnvme0n2 30
for disk in rnvme0n1 rnvme0n2; do
	echo 5000 > /sys/block/$disk/queue/io_timeout || fail "cannot set io_timeout of $disk"
	eval base_$disk=$(io_count $disk)
	fio_load $disk 300
	eval pid_$disk=$!
done
wait_io rnvme0n1 $base_rnvme0n1
wait_io rnvme0n2 $base_rnvme0n2
mark_log
# Command register (offset 4, 16 bits): clear memory space and bus master.
printf '\000\000' | dd of=$pci/config bs=1 seek=4 count=2 conv=notrunc 2>/dev/null ||
	fail "cannot write the PCI command register"
t0=$(date +%s)
wait $pid_rnvme0n1 && fail "fio on rnvme0n1 succeeded on a device that vanished"
wait $pid_rnvme0n2 && fail "fio on rnvme0n2 succeeded on a device that vanished"
echo "fio failed $(($(date +%s) - t0)) s after the device vanished"
[ $(($(date +%s) - t0)) -lt 120 ] || fail "fio took more than 120 s to fail"
expect_log 'rust_nvme [0-9a-f:.]+: (I/O tag [0-9]+ \(queue [0-9]+\) timed out, controller gone|controller did not come back from reset)'
log_last 'rust_nvme' 3
dd if=/dev/rnvme0n1 of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null &&
	fail "a read succeeded on a device that vanished"

t0=$(date +%s)
echo 0000:00:03.0 > /sys/bus/pci/drivers/rust_nvme/unbind || fail "unbind failed"
echo "unbind took $(($(date +%s) - t0)) s"
[ -e /dev/rnvme0n1 ] && fail "rnvme0n1 still there after unbind"
must rmmod rust_nvme
exit 0
