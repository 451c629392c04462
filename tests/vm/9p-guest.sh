#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=900 smp=1 peer=9p-guest-peer
#
# The guest case: this VM mounts the share the other VM (192.0.2.1) exports
# with rust_9p on 0.0.0.0, over the virtual network, and runs the
# file-operation suite on it.
. /tests/lib.sh
. /tests/lib-9p.sh

mkdir -p /mnt/9p
i=0
until mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,cache=none,access=user,msize=131072 \
	192.0.2.1 /mnt/9p 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 120 ] && fail "could not mount 192.0.2.1:5640"
	sleep 1
done
[ "$(cat /mnt/9p/hello)" = from-the-host ] || fail "hello reads $(cat /mnt/9p/hello)"
fsops /mnt/9p ""
echo guest-was-here > /mnt/9p/done
must umount /mnt/9p
exit 0
