#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=1200
#
# 100000 random ioctl calls on the render node, mostly semi-valid; then the
# GPU still computes right, and after unload kmemleak (checked by the
# harness) finds nothing.
. /tests/lib.sh

must modprobe rust_agx
wait_for /dev/dri/renderD128
must agx-test fuzz 100000 ${AGX_FUZZ_SEED:-}
must agx saxpy 4096
must rmmod rust_agx
exit 0
