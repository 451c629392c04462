#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=240 devices=nvme
#
# The three modules loaded together, unloaded, three times over: no splat,
# no leak, nothing left behind.
. /tests/lib.sh

for round in 1 2 3; do
	must modprobe rust_nvme
	must modprobe rust_9p export=/tmp port=5640
	must modprobe rust_agx
	[ "$(lsmod | grep -cE '^rust_(nvme|9p|agx) ')" = 3 ] || fail "round $round: not all three loaded"
	must rmmod rust_agx rust_9p rust_nvme
	lsmod | grep -qE '^rust_' && fail "round $round: a module is still loaded"
done
exit 0
