#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=900
#
# The kernel's v9fs client mounts rust_9p's export over TCP with
# version=9p2000.L and runs the file-operation suite with cache=none and
# cache=loose, access=user and access=client, msize 8K, 128K and 1M.
. /tests/lib.sh
. /tests/lib-9p.sh

mkdir -p /export /mnt/9p
must mount -t tmpfs -o mode=0755 tmpfs /export
echo hello > /export/hello

mark_log
must_fail modprobe rust_9p
expect_log 'rust_9p: export= is required'
must_fail modprobe rust_9p export=/nonexistent
expect_log 'rust_9p: export="/nonexistent": cannot use it: ENOENT'
must_fail modprobe rust_9p export=/export/hello
must_fail modprobe rust_9p export=/export addr=1.2.3
expect_log 'rust_9p: addr="1.2.3" is not an IPv4 address'
must_fail modprobe rust_9p export=/export msize=100

must modprobe rust_9p export=/export port=5640
expect_log 'rust_9p: exporting "/export" on 127\.0\.0\.1:5640'

for opts in cache=none,access=user,msize=131072 \
	    cache=loose,access=user,msize=8192 \
	    cache=none,access=client,msize=1048576 \
	    cache=loose,access=client,msize=131072; do
	echo "== $opts"
	must mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,$opts 127.0.0.1 /mnt/9p
	[ "$(cat /mnt/9p/hello)" = hello ] || fail "$opts: hello reads $(cat /mnt/9p/hello)"
	fsops /mnt/9p /export
	must umount /mnt/9p
done
must rmmod rust_9p
exit 0
