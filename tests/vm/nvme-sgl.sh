#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=900 devices=nvme trace=pci_nvme_map_sgl
#
# Data described by SGLs. QEMU's controller supports them, and with
# sgl_threshold=4096 every transfer whose DMA segments average 4 KiB or
# more goes out with an SGL (one Data Block descriptor, or a Last Segment
# descriptor pointing to a list of them); smaller ones keep PRPs. fio verify
# on both namespaces (512 B and 4 KiB blocks) and buffered I/O (page-cache
# folios, often larger than a page) must read back what was written. The
# harness fails the test unless QEMU traced SGL mappings (pci_nvme_map_sgl).
# An out-of-range sgl_threshold is refused at load.
. /tests/lib.sh

mark_log
must_fail modprobe rust_nvme sgl_threshold=100
expect_log 'sgl_threshold=100 is out of range'

must modprobe rust_nvme sgl_threshold=4096
wait_for /dev/rnvme0n1 30
wait_for /dev/rnvme0n2 30
expect_log 'SGLs: yes'

for disk in rnvme0n1 rnvme0n2; do
	fio_verify $disk 64m
done

# Buffered: 32 MiB through the page cache, dropped, read back.
for disk in rnvme0n1 rnvme0n2; do
	must dd if=/dev/urandom of=/tmp/pattern bs=1M count=32 2>/dev/null
	must dd if=/tmp/pattern of=/dev/$disk bs=1M seek=200 conv=fsync 2>/dev/null
	echo 3 > /proc/sys/vm/drop_caches
	must dd if=/dev/$disk of=/tmp/back bs=1M skip=200 count=32 2>/dev/null
	cmp -s /tmp/pattern /tmp/back || fail "$disk: buffered data read back differs"
	echo "$disk: 32 MiB buffered write and read back match"
done

must rmmod rust_nvme
exit 0
