#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=900 devices=nvme
#
# Data integrity through rust_nvme on both namespaces (512 B and 4 KiB
# logical blocks): the disks' limits, fio verify (crc32c, verify_backlog,
# verify_fatal) on random mixed I/O of 4K-128K with io_uring at depth 32 and
# several jobs (4 x 256 MiB per disk), discard and write zeroes reading back as zeros, and flushes
# reaching the device.
. /tests/lib.sh

IO_SIZE=${IO_SIZE:-256m}

must modprobe rust_nvme
wait_for /dev/rnvme0n1 30
wait_for /dev/rnvme0n2 30

attr() { cat /sys/block/$1/queue/$2; }
for d in rnvme0n1:512 rnvme0n2:4096; do
	disk=${d%:*} bs=${d#*:}
	[ "$(attr $disk logical_block_size)" = "$bs" ] || fail "$disk: logical block size $(attr $disk logical_block_size), want $bs"
	[ "$(cat /sys/block/$disk/size)" = 524288 ] || fail "$disk: $(cat /sys/block/$disk/size) sectors, want 524288"
	[ "$(attr $disk write_cache)" = "write back" ] || fail "$disk: write cache '$(attr $disk write_cache)'"
	[ "$(attr $disk fua)" = 1 ] || fail "$disk: no FUA"
	[ "$(attr $disk max_hw_sectors_kb)" = 512 ] || fail "$disk: max_hw_sectors_kb $(attr $disk max_hw_sectors_kb)"
	[ "$(attr $disk discard_max_hw_bytes)" -gt 0 ] || fail "$disk: no discard"
	[ "$(attr $disk write_zeroes_max_bytes)" -gt 0 ] || fail "$disk: no write zeroes"
	# Parented to the PCI device.
	readlink /sys/block/$disk | grep -q '/0000:00:03.0/' || fail "$disk: not under the PCI device: $(readlink /sys/block/$disk)"
done

for disk in rnvme0n1 rnvme0n2; do
	fio_verify $disk $IO_SIZE --fsync=256
done

# Flushes reached the driver: /proc/diskstats field 15 is flushes completed.
for disk in rnvme0n1 rnvme0n2; do
	f=$(awk -v d=$disk '$3 == d { print $19 }' /proc/diskstats)
	echo "$disk: $f flushes"
	[ "${f:-0}" -gt 0 ] || fail "$disk: no flush completed"
done

# Discard and write zeroes read back as zeros (the device deallocates with
# "read zeroes"); the data around them stays.
for disk in rnvme0n1 rnvme0n2; do
	must fio --name=fill --filename=/dev/$disk --direct=1 --rw=write --bs=128k \
		--size=8m --buffer_pattern=0x5a --output=/dev/null
	must blkdiscard -o 1048576 -l 1048576 /dev/$disk
	must /usr/sbin/blkdiscard -z -o 4194304 -l 2097152 /dev/$disk
	dd if=/dev/$disk of=/tmp/d bs=1M count=8 iflag=direct 2>/dev/null
	for r in 1:1 4:2; do
		off=${r%:*} len=${r#*:}
		nz=$(dd if=/tmp/d bs=1M skip=$off count=$len 2>/dev/null | tr -d '\000' | wc -c)
		[ "$nz" = 0 ] || fail "$disk: $nz non-zero bytes in the discarded/zeroed MiB $off+$len"
	done
	kept=$(dd if=/tmp/d bs=1M count=1 2>/dev/null | tr -d 'Z' | wc -c)
	[ "$kept" = 0 ] || fail "$disk: data before the discarded range changed"
	echo "$disk: discard and write zeroes read back as zeros"
done

must rmmod rust_nvme
