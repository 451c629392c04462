#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=120 devices=nvme+max_ioqpairs=1
#
# A controller that grants fewer I/O queues than there are CPUs (one, for two
# CPUs): rust_nvme carries on with what it is granted, and tears it down.
. /tests/lib.sh

mark_log
must modprobe rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: I/O queues: 1 pairs of 1024 entries \(1 granted for 2 CPUs\)'
must rmmod rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: controller shut down'
log_has 'rust_nvme .*(failed|timed out|not created)' && fail "an admin command failed"
exit 0
