#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=120
#
# rust_agx registers a DRM render node under its own name, and unregisters it
# on unload; vgem, the baseline, registers one too.
. /tests/lib.sh

mark_log
must modprobe rust_agx
expect_log 'rust_agx: render node /dev/dri/renderD128'
wait_for /dev/dri/renderD128
[ "$(cat /sys/class/drm/renderD128/device/uevent | sed -n 's/^DRIVER=//p')" = faux_driver ] ||
	fail "renderD128 is not on the faux device"
grep -qs '^rust_agx ' /sys/kernel/debug/dri/*/name || fail "no DRM device named rust_agx in debugfs"
must rmmod rust_agx
[ -e /dev/dri/renderD128 ] && fail "render node still there after rmmod"

must modprobe vgem
wait_for /dev/dri/renderD128
grep -qs '^vgem ' /sys/kernel/debug/dri/*/name || fail "no DRM device named vgem"
must rmmod vgem
exit 0
