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
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/path.h>
#include <linux/workqueue.h>
#include <linux/sysfs.h>

/* File operations of a GEM-based DRM driver (DEFINE_DRM_GEM_FOPS). */
extern const struct file_operations rust_suite_drm_gem_fops;

/*
 * Block device operations of blk-mq disks, owned by this module; the
 * callbacks are in Rust (abstractions/blk_mq.rs).
 */
extern const struct block_device_operations rust_suite_blk_fops;
int rust_suite_blk_ioctl(struct block_device *bdev, blk_mode_t mode,
			 unsigned int cmd, unsigned long arg);
void rust_suite_blk_free_disk(struct gendisk *disk);

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

/* Credentials of a file server's user (abstractions/cred.rs). */
const struct cred *rust_suite_cred_for_user(uid_t uid, gid_t gid);
const struct cred *rust_suite_override_creds(const struct cred *cred);
void rust_suite_revert_creds(const struct cred *old);
void rust_suite_put_cred(const struct cred *cred);

/* alloc_workqueue() (a macro with a format). */
struct workqueue_struct *rust_suite_alloc_workqueue(const char *name,
						   unsigned int flags,
						   int max_active);

/*
 * VFS sequences of a file server (abstractions/vfs.rs): lookups confined
 * beneath a directory, and the create/remove/rename/setattr calls with the
 * locks and mount write access they need. Names are single components.
 */
struct file *rust_suite_dentry_open(const struct path *p, int flags);
int rust_suite_vfs_lookup(const struct path *dir, const char *name,
			  struct path *out);
bool rust_suite_path_beneath(const struct path *root, const struct path *p);
void rust_suite_path_parent(const struct path *p, struct path *out);
umode_t rust_suite_path_mode(const struct path *p);
int rust_suite_vfs_create(const struct path *dir, const char *name,
			  umode_t mode, bool excl, struct path *out);
int rust_suite_vfs_mkdir(const struct path *dir, const char *name,
			 umode_t mode, struct path *out);
int rust_suite_vfs_mknod(const struct path *dir, const char *name,
			 umode_t mode, u32 major, u32 minor, struct path *out);
int rust_suite_vfs_symlink(const struct path *dir, const char *name,
			   const char *target, struct path *out);
int rust_suite_vfs_link(const struct path *old, const struct path *dir,
			const char *name);
int rust_suite_vfs_unlink(const struct path *dir, const char *name, bool rmdir);
int rust_suite_vfs_remove(const struct path *p);
int rust_suite_vfs_rename(const struct path *olddir, const char *oldname,
			  const struct path *newdir, const char *newname);
int rust_suite_vfs_rename_path(const struct path *old, const struct path *newdir,
			       const char *newname);
int rust_suite_vfs_setattr(const struct path *p, u32 valid, umode_t mode,
			   uid_t uid, gid_t gid, u64 size,
			   s64 atime_sec, u32 atime_nsec,
			   s64 mtime_sec, u32 mtime_nsec);
int rust_suite_vfs_readlink(const struct path *p, char *buf, int len);
int rust_suite_vfs_lock(struct file *file, bool test, u8 *type, u64 *start,
			u64 *len, void *owner, u32 *pid);
int rust_suite_vfs_getxattr(const struct path *p, const char *name, void *buf,
			    size_t size);
int rust_suite_vfs_setxattr(const struct path *p, const char *name,
			    const void *value, size_t size, int flags);
int rust_suite_vfs_removexattr(const struct path *p, const char *name);
int rust_suite_iterate_dir(struct file *file, loff_t *pos, void *data);
/* Defined in Rust (abstractions/vfs.rs): one directory entry. */
bool rust_suite_readdir_actor(void *data, const char *name, int len,
			      loff_t pos, u64 ino, unsigned int type);

/* --- GPU drivers: DRM devices, GEM shmem objects, a bus, fences, syncobjs --- */
struct drm_device;
struct drm_file;
struct drm_gem_object;
struct dma_fence;
struct dma_fence_chain;
struct drm_syncobj;

void rust_suite_drm_set_dma_mask(struct device *dev);
struct drm_gem_object *rust_suite_gem_create(struct drm_device *dev, size_t size);
void rust_suite_gem_get(struct drm_gem_object *obj);
void rust_suite_gem_put(struct drm_gem_object *obj);
int rust_suite_gem_mmap_offset(struct drm_gem_object *obj, u64 *offset);

struct rust_suite_bus;
struct rust_suite_bus *rust_suite_bus_new(void);
void rust_suite_bus_free(struct rust_suite_bus *bus);
int rust_suite_bus_alloc(struct rust_suite_bus *bus, unsigned long npages, u64 *addr);
int rust_suite_bus_map_gem(struct rust_suite_bus *bus, struct drm_gem_object *obj,
			   unsigned long first, unsigned long npages, u64 *addr);
void rust_suite_bus_unmap(struct rust_suite_bus *bus, u64 addr, unsigned long npages);
int rust_suite_bus_rw(struct rust_suite_bus *bus, u64 addr, void *buf, size_t len, bool write);

struct dma_fence *rust_suite_fence_new(u64 context, u64 seqno);
void rust_suite_fence_signal(struct dma_fence *fence, int error);
struct dma_fence *rust_suite_fence_get(struct dma_fence *fence);
void rust_suite_fence_put(struct dma_fence *fence);
bool rust_suite_fence_is_signaled(struct dma_fence *fence);
int rust_suite_fence_error(struct dma_fence *fence);

struct rust_suite_fence_cb;
struct rust_suite_fence_cb *rust_suite_fence_cb_new(struct dma_fence *fence,
						    void (*func)(void *), void *data);
void rust_suite_fence_cb_free(struct rust_suite_fence_cb *cb);

void rust_suite_syncobj_put(struct drm_syncobj *syncobj);
struct dma_fence_chain *rust_suite_fence_chain_alloc(void);
void rust_suite_fence_chain_free(struct dma_fence_chain *chain);

#endif /* RUST_SUITE_HELPERS_H */
