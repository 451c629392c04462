#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=150 devices=nvme+max_ioqpairs=1
#
# A controller that grants fewer I/O queues than there are CPUs (one, for two
# CPUs): rust_nvme carries on with what it is granted, and tears it down.
# io_queue_depth sets the queue depth; values out of range are refused at
# load with a message.
. /tests/lib.sh

for bad in 0 1 4096 100000; do
	mark_log
	must_fail modprobe rust_nvme io_queue_depth=$bad
	expect_log "rust_nvme: io_queue_depth=$bad is out of range: give 2-4095"
	lsmod | grep -q '^rust_nvme ' && fail "loaded with io_queue_depth=$bad"
done

mark_log
must modprobe rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: I/O queues: 1 pairs of 1024 entries \(1 granted for 2 CPUs\)'
must rmmod rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: controller shut down'

mark_log
must modprobe rust_nvme io_queue_depth=64
expect_log 'rust_nvme [0-9a-f:.]+: I/O queues: 1 pairs of 64 entries \(1 granted for 2 CPUs\)'
must rmmod rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: controller shut down'
log_has 'rust_nvme .*(failed|timed out|not created)' && fail "an admin command failed"
exit 0
