// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of the abstractions crate; see helpers.h.
 */

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/compat.h>
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

/*
 * blk-mq disks need no block device operation; .owner pins the module while
 * one of its disks is open.
 */
const struct block_device_operations rust_suite_blk_fops = {
	.owner = THIS_MODULE,
};

const struct file_operations rust_suite_misc_fops = {
	.owner = THIS_MODULE,
	.open = rust_suite_misc_open,
	.release = rust_suite_misc_release,
	.unlocked_ioctl = rust_suite_misc_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

bool rust_suite_blk_should_fake_timeout(struct request *rq)
{
	return blk_should_fake_timeout(rq->q);
}

void rust_suite_sysfs_attr_init(struct attribute *attr)
{
	sysfs_attr_init(attr);
}
