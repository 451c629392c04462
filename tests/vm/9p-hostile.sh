#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=2700 smp=1
#
# p9hostile (host/p9hostile, on the suite's 9P codec) against rust_9p:
# traversal out of the export by "..", relative and absolute symlinks, a
# mount point, device files and bad names; Tflush of reads in flight; 64
# connections at once (max_conns=64); FUZZ_MESSAGES fuzzed messages
# (default 100000). Then xattrs and POSIX locks through two v9fs mounts.
# The export must be intact, the kernel clean (the harness checks
# kmemleak). The fuzzing costs 10-16 ms a message under TCG on the debug
# kernel; one vCPU, so that the test beside it keeps a core.
. /tests/lib.sh

mkdir -p /export /mnt/a /mnt/b
must mount -t tmpfs -o mode=0755 tmpfs /export
echo SECRET > /secret
echo inside > /export/file
mkdir -p /export/dir /export/mnt
ln -s ../.. /export/dir/up
ln -s / /export/abs
ln -s /secret /export/abs2
ln -s ../../secret /export/rel
must mount -t tmpfs tmpfs /export/mnt
echo inner > /export/mnt/inner
must mknod /export/null c 1 3
must mkfifo /export/fifo
must dd if=/dev/urandom of=/export/big bs=1M count=4 2>/dev/null
sum=$(md5sum < /export/big)

must modprobe rust_9p export=/export port=5640 max_conns=64

p9hostile traversal 127.0.0.1:5640 || fail "traversal checks failed"
p9hostile flush 127.0.0.1:5640 big || fail "flush checks failed"
# The connections above end asynchronously on the server side.
sleep 2
p9hostile flood 127.0.0.1:5640 64 || fail "64 connections at once failed"
[ "$(cat /secret)" = SECRET ] || fail "/secret changed"

mark_log
p9hostile fuzz 127.0.0.1:5640 "${FUZZ_MESSAGES:-100000}" 1 || fail "fuzzing found a server failure"
[ "$(cat /secret)" = SECRET ] || fail "/secret changed by the fuzzer"
[ "$(md5sum < /export/big)" = "$sum" ] || fail "/export/big changed by the fuzzer"
n=$(dmesg | tail -n +$((LOG_MARK + 1)) | grep -c 'rust_9p:')
echo "rust_9p logged $n lines during the fuzzing (rate-limited)"
[ "$n" -lt 200 ] || fail "$n log lines: not rate-limited"

# The server still serves a real client.
umount /export/mnt
must mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,cache=none,msize=131072 127.0.0.1 /mnt/a
must mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,cache=none,msize=131072 127.0.0.1 /mnt/b
[ "$(md5sum < /mnt/a/big)" = "$sum" ] || fail "big reads back wrong after fuzzing"
p9hostile mountops /mnt/a /mnt/b || fail "xattr and lock checks failed"
must umount /mnt/a
must umount /mnt/b
must rmmod rust_9p
exit 0
