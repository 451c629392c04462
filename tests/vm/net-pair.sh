#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=180 smp=1 peer=net-pair-peer
#
# Harness self-test of the network between two VMs: this VM (192.0.2.2)
# fetches 4 MiB of random data and its checksum from its peer (192.0.2.1)
# over TCP and checks they match. The 9P guest tests stand on this.
. /tests/lib.sh

# The peer boots at the same time; wait for it to serve.
i=0
until wget -q -O /tmp/sum http://192.0.2.1:5700/sum 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 120 ] && fail "peer 192.0.2.1 never served on port 5700"
	sleep 1
done
must wget -q -O /tmp/payload http://192.0.2.1:5700/payload
want=$(cat /tmp/sum)
got=$(md5sum /tmp/payload | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "received data with md5 $got, the peer sent $want"
[ "$(wc -c < /tmp/payload)" = 4194304 ] || fail "received $(wc -c < /tmp/payload) bytes, not 4 MiB"
# Tell the peer we are done.
must wget -q -O /dev/null http://192.0.2.1:5700/cgi-bin/done
echo "4 MiB crossed the network intact ($got)"
exit 0
