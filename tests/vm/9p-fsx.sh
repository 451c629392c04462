#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=1200
#
# fsx (crates.io fsx) on rust_9p's export through the v9fs client: 100000
# operations with cache=none (read, write, truncate; no mmap, which
# cache=none does not support shared and writable) and 20000 with
# cache=loose and mmap reads and writes.
. /tests/lib.sh

mkdir -p /export /mnt/9p /tmp/fsx
must mount -t tmpfs -o mode=0755 tmpfs /export
must modprobe rust_9p export=/export port=5640

printf '[weights]\nmapread = 0\nmapwrite = 0\n' > /tmp/nommap.toml
must mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,cache=none,msize=131072 127.0.0.1 /mnt/9p
fsx -N 100000 -S 42 -f /tmp/nommap.toml -P /tmp/fsx /mnt/9p/fsx.none > /tmp/fsx.out 2>&1
rc=$?
tail -n 5 /tmp/fsx.out
[ $rc = 0 ] && grep -q 'All operations completed A-OK!' /tmp/fsx.out || fail "fsx cache=none failed (exit $rc)"
must umount /mnt/9p

must mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,cache=loose,msize=131072 127.0.0.1 /mnt/9p
fsx -N 20000 -S 7 -P /tmp/fsx /mnt/9p/fsx.loose > /tmp/fsx.out 2>&1
rc=$?
tail -n 5 /tmp/fsx.out
[ $rc = 0 ] && grep -q 'All operations completed A-OK!' /tmp/fsx.out || fail "fsx cache=loose failed (exit $rc)"
must umount /mnt/9p
must rmmod rust_9p
exit 0
