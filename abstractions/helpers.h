/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers of the abstractions crate: what Rust cannot reach through
 * bindgen (static inline functions, macros, initialisers that need THIS_MODULE).
 * Compiled into every module; declared here for bindgen and for
 * -Wmissing-prototypes.
 */
#ifndef RUST_SUITE_HELPERS_H
#define RUST_SUITE_HELPERS_H

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/sysfs.h>

/* File operations of a GEM-based DRM driver (DEFINE_DRM_GEM_FOPS). */
extern const struct file_operations rust_suite_drm_gem_fops;

/* Block device operations of blk-mq disks, owned by this module. */
extern const struct block_device_operations rust_suite_blk_fops;

/*
 * File operations of the suite's misc devices: the callbacks are in Rust
 * (abstractions/miscdev.rs), the owner is this module.
 */
extern const struct file_operations rust_suite_misc_fops;
int rust_suite_misc_open(struct inode *inode, struct file *file);
int rust_suite_misc_release(struct inode *inode, struct file *file);
long rust_suite_misc_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* blk_should_fake_timeout() (static inline) for a request's queue. */
bool rust_suite_blk_should_fake_timeout(struct request *rq);

/*
 * sysfs_attr_init() (a macro): one lockdep class for the sysfs attributes
 * the suite allocates.
 */
void rust_suite_sysfs_attr_init(struct attribute *attr);

#endif /* RUST_SUITE_HELPERS_H */
