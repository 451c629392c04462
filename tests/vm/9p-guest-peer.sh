#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=900 smp=1
#
# The host side of 9p-guest: exports a tmpfs on 0.0.0.0 with rust_9p until
# the guest has created "done" in the share.
. /tests/lib.sh

mkdir -p /export
must mount -t tmpfs -o mode=0755 tmpfs /export
echo from-the-host > /export/hello
must modprobe rust_9p export=/export addr=0.0.0.0 port=5640
expect_log 'rust_9p: exporting "/export" on 0\.0\.0\.0:5640'
i=0
until [ -e /export/done ]; do
	i=$((i + 1))
	[ $i -gt 850 ] && fail "the guest never finished"
	sleep 1
done
# What the guest wrote is here, on the export itself.
[ "$(cat /export/done)" = guest-was-here ] || fail "done holds $(cat /export/done)"
must rmmod rust_9p
echo "the guest mounted, ran the suite and wrote back"
exit 0
