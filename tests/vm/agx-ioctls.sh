#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=300
#
# Every rust_agx ioctl with valid and invalid arguments (padding, flags,
# sizes, handles, ids): errors, never an oops. Then the commands of each kind
# with results checked on the CPU, barriers, and timeline ordering across
# queues. The harness checks the log for splats and kmemleak.
. /tests/lib.sh

must modprobe rust_agx
wait_for /dev/dri/renderD128
must agx-test ioctls
must agx-test cmds
must agx-test order
must rmmod rust_agx
exit 0
