#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=400 smp=1
#
# A client that stops reading: p9hostile shrinks its receive buffer, asks
# for 1024 reads of a whole msize (64 KiB, 64 MiB in all) and reads none
# of the replies for 120 s, longer than the hung-task detector's limit
# (60 s in the debug kernel) and twice the server's send timeout (40 s; a
# stall is noticed within twice that). The server must close that
# connection with a log line, serve others meanwhile and after, and leave
# no task blocked (the harness fails the test on a hung-task report) and
# nothing leaked.
. /tests/lib.sh

mkdir -p /export /mnt/9p
must mount -t tmpfs -o mode=0755 tmpfs /export
echo inside > /export/file
must dd if=/dev/zero of=/export/big bs=1M count=64 2>/dev/null
mark_log
must modprobe rust_9p export=/export port=5640
p9hostile stall 127.0.0.1:5640 big 120 || fail "a client that stops reading was not dealt with"
expect_log 'rust_9p: closing connection from 127\.0\.0\.1:[0-9]+: no reply taken for 40 s'
must mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,cache=none 127.0.0.1 /mnt/9p
[ "$(cat /mnt/9p/file)" = inside ] || fail "the server does not serve after the stalled client"
must umount /mnt/9p
must rmmod rust_9p
exit 0
