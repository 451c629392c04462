#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=900
#
# Connections that end in the middle of a message or of a transfer, a
# message larger than msize, and rmmod while a mount is busy: the mount
# gets errors, the kernel stays healthy, and rust_9p can be loaded again.
. /tests/lib.sh

mkdir -p /export /mnt/9p
must mount -t tmpfs -o mode=0755 tmpfs /export
echo hello > /export/hello
must dd if=/dev/urandom of=/export/big bs=1M count=32 2>/dev/null
must modprobe rust_9p export=/export port=5640

# A connection that sends part of a header, or a header and part of the
# message, then goes away; and one that announces more than msize.
printf '\023\000' | nc -w 1 127.0.0.1 5640
printf '\023\000\000\000\144\377\377\000\040' | nc -w 1 127.0.0.1 5640
mark_log
printf '\377\377\377\177\144\000\000' | nc -w 2 127.0.0.1 5640
expect_log 'rust_9p: message of 2147483647 bytes \(msize 8192\)'

must mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,cache=none,msize=131072 127.0.0.1 /mnt/9p
[ "$(cat /mnt/9p/hello)" = hello ] || fail "hello"
[ "$(md5sum < /mnt/9p/big)" = "$(md5sum < /export/big)" ] || fail "big file differs"

# Readers in the middle of transfers when the server goes.
for i in 1 2 3 4; do
	( while md5sum /mnt/9p/big > /dev/null 2>&1; do :; done ) &
done
sleep 3
mark_log
must rmmod rust_9p
expect_log 'rust_9p: stopped serving port 5640 \(1 connections closed\)'
sleep 1
must_fail cat /mnt/9p/hello
wait
umount -l /mnt/9p || fail "umount of the dead mount"
must_fail nc -w 2 127.0.0.1 5640 -e true

# Loaded again, it serves again.
must modprobe rust_9p export=/export port=5640
must mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,cache=loose 127.0.0.1 /mnt/9p
[ "$(md5sum < /mnt/9p/big)" = "$(md5sum < /export/big)" ] || fail "big file differs after reload"
must umount /mnt/9p
must rmmod rust_9p
exit 0
