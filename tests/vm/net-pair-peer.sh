#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=180 smp=1
#
# The peer of net-pair: serves 4 MiB of random data and its checksum over
# HTTP, until the other VM has fetched /done.
. /tests/lib.sh

mkdir -p /tmp/www/cgi-bin
dd if=/dev/urandom of=/tmp/www/payload bs=64k count=64 2>/dev/null
md5sum /tmp/www/payload | cut -d' ' -f1 > /tmp/www/sum
printf '#!/bin/sh\ntouch /tmp/client-done\nprintf "Content-Type: text/plain\\r\\n\\r\\nok\\n"\n' \
	> /tmp/www/cgi-bin/done
chmod +x /tmp/www/cgi-bin/done
httpd -f -p 5700 -h /tmp/www &
server=$!
i=0
until [ -e /tmp/client-done ]; do
	i=$((i + 1))
	[ $i -gt 150 ] && { kill $server; fail "the other VM never fetched /done"; }
	sleep 1
done
kill $server
echo "the other VM got its data"
exit 0
