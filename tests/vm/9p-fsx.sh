#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=5400 smp=1
#
# fsx (crates.io fsx) on rust_9p's export through the v9fs client:
# FSX_OPS operations (read, write, truncate; default 100000) with
# cache=loose, then 5000 with cache=none, and 2000 with mmap reads and
# writes on cache=loose (cache=none has no shared writable mmap). Under TCG
# on the debug kernel an operation costs about 13 ms through 9P with two
# vCPUs and the machine to itself. The cost is the kernel's, not the
# server's: a 9P round trip takes 4.1 ms there with rust_9p and with diod
# alike (p9hostile latency), 0.3 ms on the perf kernel. One vCPU, so that
# the test beside it keeps a core.
. /tests/lib.sh

mkdir -p /export /mnt/9p /tmp/fsx
must mount -t tmpfs -o mode=0755 tmpfs /export
must modprobe rust_9p export=/export port=5640
printf '[weights]\nmapread = 0\nmapwrite = 0\n' > /tmp/nommap.toml

# run_fsx CACHE OPS SEED [fsx options]
run_fsx() {
	cache=$1 ops=$2 seed=$3; shift 3
	must mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,cache=$cache,msize=131072 127.0.0.1 /mnt/9p
	t0=$(date +%s)
	fsx -N "$ops" -S "$seed" -P /tmp/fsx "$@" /mnt/9p/fsx.$cache.$seed > /tmp/fsx.out 2>&1
	rc=$?
	echo "fsx cache=$cache $ops operations $* (seed $seed): exit $rc, $(($(date +%s) - t0)) s"
	[ $rc = 0 ] && grep -q 'All operations completed A-OK!' /tmp/fsx.out || {
		tail -n 30 /tmp/fsx.out
		fail "fsx failed on cache=$cache"
	}
	# What fsx left is what the export has once the mount is gone.
	sum=$(md5sum < /mnt/9p/fsx.$cache.$seed)
	must umount /mnt/9p
	[ "$(md5sum < /export/fsx.$cache.$seed)" = "$sum" ] || fail "file differs on the export"
}

run_fsx loose "${FSX_OPS:-100000}" 42 -f /tmp/nommap.toml
run_fsx none 5000 7 -f /tmp/nommap.toml
run_fsx loose 2000 9
must rmmod rust_9p
exit 0
