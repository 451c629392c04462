#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=300
#
# Faults and timeouts: a job reading an unmapped address, one writing a
# read-only mapping and one with an illegal instruction fail their fence
# (EFAULT, EIO) and GET_FAULT reports where, while another process's queue
# keeps working; a runaway loop times out (ETIMEDOUT) and the GPU recovers.
. /tests/lib.sh

mark_log
must modprobe rust_agx job_timeout_ms=2000
wait_for /dev/dri/renderD128
must agx-test fault
expect_log 'rust_agx: queue [0-9]+: job [0-9]+ failed'
must agx-test timeout
must agx-test cmds
must rmmod rust_agx
expect_log 'rust_agx: [1-9][0-9]* fault recoveries'
exit 0
