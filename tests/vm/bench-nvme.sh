#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=2400 devices=nvme+backing=null,nvme+backing=file mem=2048
#
# The benchmark of `make LLVM=1 bench-nvme` (not a test): on the same two
# QEMU NVMe controllers (one on null-co, one file-backed), the C nvme
# driver, then rust_nvme, in each of ROUNDS rounds, run fio's points; each
# run prints `RSUITE-BENCH ROUND DRIVER DEVICE POINT TERSE` for
# scripts/vm.py to tabulate.
. /tests/lib.sh

ROUNDS=${ROUNDS:-3}
RUNTIME=${RUNTIME:-5}

points='
rand4k-qd1 --rw=randread --bs=4k --iodepth=1 --numjobs=1
rand4k-qd32x2 --rw=randread --bs=4k --iodepth=32 --numjobs=2
rand512-qd32 --rw=randread --bs=512 --iodepth=32 --numjobs=1
seq128k-read --rw=read --bs=128k --iodepth=16 --numjobs=1
seq128k-write --rw=write --bs=128k --iodepth=16 --numjobs=1
'

# The disks of the driver just loaded, as "DISK DEVICE" lines: the null-co
# namespace is the 4 GiB one.
disks() {
	for d in /sys/block/$1*; do
		[ -e "$d" ] || continue
		d=${d##*/}
		case "$d" in *p[0-9]* | nvme*c[0-9]*) continue ;; esac
		if [ "$(cat /sys/block/$d/size)" -ge 8388608 ]; then
			echo "$d null"
		else
			echo "$d file"
		fi
	done
}

# Fill the file-backed namespace once, so that reads read data.
must modprobe nvme
i=0
while [ "$(disks nvme | wc -l)" -lt 2 ]; do
	i=$((i + 1)); [ $i -gt 300 ] && fail "nvme disks did not appear"; sleep 0.1
done
file=$(disks nvme | awk '$2 == "file" { print $1 }')
must fio --name=fill --filename=/dev/$file --direct=1 --rw=write --bs=1M --size=1g \
	--ioengine=io_uring --iodepth=8 --output=/dev/null
must rmmod nvme

for round in $(seq "$ROUNDS"); do
	for drv in nvme rust_nvme; do
		must modprobe $drv
		prefix=nvme
		[ $drv = rust_nvme ] && prefix=rnvme
		i=0
		while [ "$(disks $prefix | wc -l)" -lt 2 ]; do
			i=$((i + 1)); [ $i -gt 300 ] && fail "$drv disks did not appear"; sleep 0.1
		done
		disks $prefix | while read -r disk dev; do
			echo "$points" | while read -r point args; do
				[ -n "$point" ] || continue
				# shellcheck disable=SC2086
				fio --name=$point --filename=/dev/$disk --direct=1 --ioengine=io_uring \
					--time_based --runtime=$RUNTIME --ramp_time=1 --size=1g \
					--group_reporting --output-format=terse --terse-version=3 \
					$args > /tmp/b.out || fail "fio $point on $disk failed"
				echo "RSUITE-BENCH $round $drv $dev $point $(head -n 1 /tmp/b.out)"
			done
		done
		must rmmod $drv
	done
done
