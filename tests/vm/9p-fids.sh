#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=1500 smp=1
#
# The fid limit of a connection: p9hostile walks clones of the root to
# fids 1-65536 in pipelined batches; exactly one walk, the one past 65536
# fids, gets Rlerror EMFILE; a clunk frees a slot for one more walk and
# the next is refused again. The connection then ends with 65536 fids
# open: the server must free them all (the harness checks kmemleak) and go
# on serving. About 4 ms a walk on the debug kernel under TCG.
. /tests/lib.sh

mkdir -p /export /mnt/9p
must mount -t tmpfs -o mode=0755 tmpfs /export
echo inside > /export/file
must modprobe rust_9p export=/export port=5640
p9hostile fids 127.0.0.1:5640 || fail "the fid limit was not enforced as it should be"
must mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,cache=none 127.0.0.1 /mnt/9p
[ "$(cat /mnt/9p/file)" = inside ] || fail "the server does not serve after the fid limit"
must umount /mnt/9p
must rmmod rust_9p
exit 0
