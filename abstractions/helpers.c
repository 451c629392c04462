// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of the abstractions crate; see helpers.h.
 */

#include <linux/module.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>

#include "helpers.h"

/*
 * DEFINE_DRM_GEM_FOPS() makes a static object; the abstraction needs one with
 * external linkage, and .owner must be the module this file is linked into.
 */
const struct file_operations rust_suite_drm_gem_fops = {
	.owner = THIS_MODULE,
	DRM_GEM_FOPS,
};
