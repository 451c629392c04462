#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=1800 mem=2048
#
# The benchmark of `make LLVM=1 bench-agx` (not a test): in one VM, ROUNDS
# rounds of agx-bench, which measures vgem (the kernel's C GEM driver) and
# rust_agx side by side: submit-to-signal latency of an empty job (p50, p99),
# jobs per second on 1 and 4 queues, GEM create+mmap+close per second. Each
# round prints its own table, and RSUITE-VALUE lines for scripts/vm.py.
. /tests/lib.sh

ROUNDS=${ROUNDS:-3}
must modprobe vgem
must modprobe rust_agx
wait_for /dev/dri/renderD128
round=1
while [ $round -le "$ROUNDS" ]; do
	echo "### round $round"
	must agx-bench --rsuite $round
	round=$((round + 1))
done
must rmmod rust_agx vgem
exit 0
