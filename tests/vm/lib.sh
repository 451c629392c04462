# SPDX-License-Identifier: GPL-2.0
# Helpers for the VM test scripts (sourced).

set -u

fail() {
	echo "RSUITE-FAIL: $*"
	exit 1
}

# Runs a command that must succeed.
must() {
	"$@" || fail "command failed ($?): $*"
}

# Runs a command that must fail.
must_fail() {
	if "$@"; then fail "command succeeded but should not have: $*"; fi
}

# Succeeds if the kernel log, since the last mark_log, matches the pattern.
LOG_MARK=0
mark_log() { LOG_MARK=$(dmesg | wc -l); }
log_has() { dmesg | tail -n +$((LOG_MARK + 1)) | grep -qE "$1"; }
expect_log() { log_has "$1" || { dmesg | tail -n 20; fail "kernel log lacks /$1/"; }; }
# The last $2 (default 1) kernel log lines matching $1, without timestamps.
log_last() { dmesg | grep -E "$1" | tail -n "${2:-1}" | sed 's/^\[[ 0-9.]*\] //'; }

# Waits up to $2 seconds (default 10) for a path to exist.
wait_for() {
	i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1))
		[ $i -gt $((${2:-10} * 10)) ] && fail "timed out waiting for $1"
		sleep 0.1
	done
}

# The state of a local TCP port in /proc/net/tcp ("0A" is LISTEN), or nothing.
tcp_state() {
	port=$(printf '%04X' "$1")
	awk -v p=":$port" '$2 ~ p"$" { print $4 }' /proc/net/tcp | head -n 1
}

# Reads and writes /dev/$1 has completed so far.
io_count() { awk '{ print $1 + $5 }' /sys/block/$1/stat; }

# Waits up to 60 s for /dev/$1 to complete 64 I/Os beyond $2 (an io_count
# taken before the load started): the load has the disk open and runs, on
# a machine slow enough that "sleep 5" is not sure to see it.
wait_io() {
	i=0
	while [ "$(io_count $1)" -lt $(($2 + 64)) ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && fail "no I/O on $1 within 60 s"
		sleep 0.1
	done
}

# fio verify (crc32c, verify_backlog, verify_fatal) of $2 of random mixed
# 4K-128K I/O with io_uring at depth 32 on /dev/$1, 4 jobs each on its own
# quarter of the first 256 MiB (writers must not overlap for verify); more
# fio options may follow. Prints what was read and written.
fio_verify() {
	disk=$1 size=$2
	shift 2
	fio --name=verify --filename=/dev/$disk --direct=1 --ioengine=io_uring \
		--iodepth=32 --numjobs=4 --thread --size=64m --offset_increment=64m \
		--io_size=$size --rw=randrw --bsrange=4k-128k --random_generator=lfsr \
		--verify=crc32c --verify_backlog=256 --verify_fatal=1 --do_verify=1 \
		--group_reporting --output-format=terse --terse-version=3 "$@" \
		> /tmp/fio.out || { cat /tmp/fio.out; fail "fio verify on $disk failed"; }
	# terse v3 (fio's HOWTO): field 6 is KiB read, field 47 KiB written;
	# reads include verification.
	awk -F';' -v d=$disk '$1 == 3 { r += $6; w += $47 } END { printf "fio verify on %s: read %d MiB, written %d MiB\n", d, r / 1024, w / 1024 }' /tmp/fio.out
}

# Starts fio in the background: random mixed 64K I/O with io_uring at depth
# 32 on the first 256 MiB of /dev/$1 for $2 seconds, output in /tmp/$1.out;
# $! is its pid. For tests that take the device away under load.
fio_load() {
	fio --name=load --filename=/dev/$1 --direct=1 --ioengine=io_uring \
		--iodepth=32 --rw=randrw --bs=64k --size=256m --time_based --runtime=$2 \
		--output=/tmp/$1.out --eta=never &
}
