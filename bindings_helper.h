/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C headers the suite binds with its own bindgen run.
 *
 * What is taken from them is allowlisted in abstractions/bindgen_parameters;
 * whatever kernel::bindings already defines is reused from there, not
 * generated again (see scripts/gen-bindings.py).
 */

#include <linux/in.h>
#include <linux/net.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>

#include "helpers.h"
