// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of the abstractions crate; see helpers.h.
 */

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/compat.h>
#include <linux/cred.h>
#include <linux/filelock.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/xattr.h>
#include <linux/module.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_syncobj.h>
#include <drm/drm_vma_manager.h>
#include <linux/dma-fence.h>
#include <linux/dma-fence-chain.h>
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/unaligned.h>
#include <linux/xarray.h>

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
 * blk-mq disks: ioctls and the release of the driver's disk data are in
 * Rust (abstractions/blk_mq.rs); .owner pins the module while one of its
 * disks is open.
 */
const struct block_device_operations rust_suite_blk_fops = {
	.owner = THIS_MODULE,
	.ioctl = rust_suite_blk_ioctl,
	.compat_ioctl = blkdev_compat_ptr_ioctl,
	.free_disk = rust_suite_blk_free_disk,
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

/* --- Credentials (abstractions/cred.rs) ---------------------------------- */

const struct cred *rust_suite_cred_for_user(uid_t uid, gid_t gid)
{
	kuid_t kuid = make_kuid(&init_user_ns, uid);
	kgid_t kgid = make_kgid(&init_user_ns, gid);
	struct cred *cred;

	if (!uid_valid(kuid) || !gid_valid(kgid))
		return NULL;
	cred = prepare_kernel_cred(&init_task);
	if (!cred)
		return NULL;
	cred->uid = cred->euid = cred->suid = cred->fsuid = kuid;
	cred->gid = cred->egid = cred->sgid = cred->fsgid = kgid;
	/*
	 * Anyone but root gets no capability at all, so that the VFS checks
	 * the user's permissions and nothing bypasses them (ksmbd drops only
	 * the file system set; a kernel thread has more than that).
	 */
	if (!uid_eq(kuid, GLOBAL_ROOT_UID)) {
		cred->cap_effective = CAP_EMPTY_SET;
		cred->cap_permitted = CAP_EMPTY_SET;
		cred->cap_inheritable = CAP_EMPTY_SET;
		cred->cap_bset = CAP_EMPTY_SET;
		cred->cap_ambient = CAP_EMPTY_SET;
	}
	return cred;
}

const struct cred *rust_suite_override_creds(const struct cred *cred)
{
	return override_creds(cred);
}

void rust_suite_revert_creds(const struct cred *old)
{
	revert_creds(old);
}

void rust_suite_put_cred(const struct cred *cred)
{
	put_cred(cred);
}

/* --- Workqueues (abstractions/workqueue.rs) ------------------------------ */

struct workqueue_struct *rust_suite_alloc_workqueue(const char *name,
						   unsigned int flags,
						   int max_active)
{
	return alloc_workqueue("%s", flags, max_active, name);
}

/* --- VFS (abstractions/vfs.rs) -------------------------------------------- */

/* Confinement: never follow a symlink, cross a mount or leave the base. */
#define RSUITE_LOOKUP_FLAGS \
	(LOOKUP_BENEATH | LOOKUP_NO_SYMLINKS | LOOKUP_NO_XDEV | LOOKUP_NO_MAGICLINKS)

struct file *rust_suite_dentry_open(const struct path *p, int flags)
{
	return dentry_open(p, flags, current_cred());
}

int rust_suite_vfs_lookup(const struct path *dir, const char *name,
			  struct path *out)
{
	return vfs_path_lookup(dir->dentry, dir->mnt, name, RSUITE_LOOKUP_FLAGS,
			       out);
}

bool rust_suite_path_beneath(const struct path *root, const struct path *p)
{
	return p->mnt == root->mnt && is_subdir(p->dentry, root->dentry);
}

void rust_suite_path_parent(const struct path *p, struct path *out)
{
	out->mnt = mntget(p->mnt);
	out->dentry = dget_parent(p->dentry);
}

umode_t rust_suite_path_mode(const struct path *p)
{
	struct inode *inode = d_inode(p->dentry);

	return inode ? inode->i_mode : 0;
}

/*
 * start_creating(), start_removing() and start_renaming() look up in the
 * parent without checking it is a directory (their callers in the kernel
 * have walked to it): a fid of a file used as one must be refused here.
 */
static int rsuite_check_dir(const struct path *dir)
{
	return d_can_lookup(dir->dentry) ? 0 : -ENOTDIR;
}

/*
 * The mode the client asked for, not one cut by the umask of the kworker
 * we run on (the client applied its own umask already).
 */
static int rsuite_fix_mode(const struct path *dir, struct dentry *d,
			   umode_t mode)
{
	struct inode *inode = d_inode(d);
	struct iattr attr = {};
	int err;

	if (!inode || (inode->i_mode & S_IALLUGO) == (mode & S_IALLUGO) ||
	    S_ISLNK(inode->i_mode))
		return 0;
	attr.ia_mode = (mode & S_IALLUGO) | (inode->i_mode & ~S_IALLUGO);
	attr.ia_valid = ATTR_MODE | ATTR_CTIME;
	inode_lock_nested(inode, I_MUTEX_CHILD);
	err = notify_change(mnt_idmap(dir->mnt), d, &attr, NULL);
	inode_unlock(inode);
	return err;
}

/*
 * Creates @name in @dir with @make (one of the vfs_* calls below), with the
 * parent locked by start_creating() and write access to the mount held.
 */
enum rsuite_create_kind { RSUITE_REG, RSUITE_DIR, RSUITE_NOD, RSUITE_LNK };

static int rsuite_create(const struct path *dir, const char *name,
			 enum rsuite_create_kind kind, umode_t mode, dev_t dev,
			 const char *target, bool excl, struct path *out)
{
	struct mnt_idmap *idmap = mnt_idmap(dir->mnt);
	struct inode *dinode = d_inode(dir->dentry);
	struct dentry *d;
	int err;

	err = rsuite_check_dir(dir) ?: mnt_want_write(dir->mnt);
	if (err)
		return err;
	d = start_creating(idmap, dir->dentry, &QSTR(name));
	if (IS_ERR(d)) {
		err = PTR_ERR(d);
		goto out;
	}
	if (d_really_is_positive(d)) {
		err = (excl || kind != RSUITE_REG) ? -EEXIST : 0;
		if (!err && !S_ISREG(d_inode(d)->i_mode))
			err = -EEXIST;
	} else {
		switch (kind) {
		case RSUITE_REG:
			err = vfs_create(idmap, d, mode | S_IFREG, NULL);
			break;
		case RSUITE_DIR:
			d = vfs_mkdir(idmap, dinode, d, mode, NULL);
			err = IS_ERR(d) ? PTR_ERR(d) : 0;
			break;
		case RSUITE_NOD:
			err = vfs_mknod(idmap, dinode, d, mode, dev, NULL);
			break;
		case RSUITE_LNK:
			err = vfs_symlink(idmap, dinode, d, target, NULL);
			break;
		}
		if (!err && d_really_is_negative(d))
			/* Some file systems leave the dentry unhashed. */
			err = -ENOENT;
		if (!err && kind != RSUITE_LNK)
			err = rsuite_fix_mode(dir, d, mode);
	}
	if (!err) {
		out->mnt = mntget(dir->mnt);
		out->dentry = dget(d);
	}
	end_creating(d);
out:
	mnt_drop_write(dir->mnt);
	return err;
}

int rust_suite_vfs_create(const struct path *dir, const char *name,
			  umode_t mode, bool excl, struct path *out)
{
	return rsuite_create(dir, name, RSUITE_REG, mode & S_IALLUGO, 0, NULL,
			     excl, out);
}

int rust_suite_vfs_mkdir(const struct path *dir, const char *name,
			 umode_t mode, struct path *out)
{
	return rsuite_create(dir, name, RSUITE_DIR, mode & S_IALLUGO, 0, NULL,
			     true, out);
}

int rust_suite_vfs_mknod(const struct path *dir, const char *name,
			 umode_t mode, u32 major, u32 minor, struct path *out)
{
	if (major >= (1U << (32 - MINORBITS)) || minor > MINORMASK)
		return -EINVAL;
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		break;
	default:
		return -EINVAL;
	}
	return rsuite_create(dir, name, RSUITE_NOD, mode, MKDEV(major, minor),
			     NULL, true, out);
}

int rust_suite_vfs_symlink(const struct path *dir, const char *name,
			   const char *target, struct path *out)
{
	return rsuite_create(dir, name, RSUITE_LNK, 0, 0, target, true, out);
}

int rust_suite_vfs_link(const struct path *old, const struct path *dir,
			const char *name)
{
	struct mnt_idmap *idmap = mnt_idmap(dir->mnt);
	struct dentry *d;
	int err;

	if (old->mnt != dir->mnt)
		return -EXDEV;
	err = rsuite_check_dir(dir) ?: mnt_want_write(dir->mnt);
	if (err)
		return err;
	d = start_creating(idmap, dir->dentry, &QSTR(name));
	if (IS_ERR(d)) {
		err = PTR_ERR(d);
		goto out;
	}
	if (d_really_is_positive(d))
		err = -EEXIST;
	else
		err = vfs_link(old->dentry, idmap, d_inode(dir->dentry), d, NULL);
	end_creating(d);
out:
	mnt_drop_write(dir->mnt);
	return err;
}

static int rsuite_remove_locked(struct mnt_idmap *idmap, struct dentry *parent,
				struct dentry *d, int want_dir)
{
	bool is_dir = d_is_dir(d);

	if (want_dir >= 0 && is_dir != !!want_dir)
		return is_dir ? -EISDIR : -ENOTDIR;
	if (is_dir)
		return vfs_rmdir(idmap, d_inode(parent), d, NULL);
	return vfs_unlink(idmap, d_inode(parent), d, NULL);
}

int rust_suite_vfs_unlink(const struct path *dir, const char *name, bool rmdir)
{
	struct mnt_idmap *idmap = mnt_idmap(dir->mnt);
	struct dentry *d;
	int err;

	err = rsuite_check_dir(dir) ?: mnt_want_write(dir->mnt);
	if (err)
		return err;
	d = start_removing(idmap, dir->dentry, &QSTR(name));
	if (IS_ERR(d)) {
		err = PTR_ERR(d);
		goto out;
	}
	err = rsuite_remove_locked(idmap, dir->dentry, d, rmdir);
	end_removing(d);
out:
	mnt_drop_write(dir->mnt);
	return err;
}

int rust_suite_vfs_remove(const struct path *p)
{
	struct mnt_idmap *idmap = mnt_idmap(p->mnt);
	struct dentry *parent, *d;
	int err;

	err = mnt_want_write(p->mnt);
	if (err)
		return err;
	parent = dget_parent(p->dentry);
	d = start_removing_dentry(parent, p->dentry);
	if (IS_ERR(d)) {
		err = PTR_ERR(d);
		goto out;
	}
	err = rsuite_remove_locked(idmap, parent, d, -1);
	end_removing(d);
out:
	dput(parent);
	mnt_drop_write(p->mnt);
	return err;
}

static int rsuite_rename(struct renamedata *rd, const struct path *newdir)
{
	int err;

	if (d_really_is_negative(rd->old_dentry))
		err = -ENOENT;
	else
		err = vfs_rename(rd);
	end_renaming(rd);
	return err;
}

int rust_suite_vfs_rename(const struct path *olddir, const char *oldname,
			  const struct path *newdir, const char *newname)
{
	struct renamedata rd = {};
	int err;

	if (olddir->mnt != newdir->mnt)
		return -EXDEV;
	err = rsuite_check_dir(olddir) ?: rsuite_check_dir(newdir) ?:
		mnt_want_write(olddir->mnt);
	if (err)
		return err;
	rd.mnt_idmap = mnt_idmap(olddir->mnt);
	rd.old_parent = olddir->dentry;
	rd.new_parent = newdir->dentry;
	err = start_renaming(&rd, 0, &QSTR(oldname), &QSTR(newname));
	if (!err)
		err = rsuite_rename(&rd, newdir);
	mnt_drop_write(olddir->mnt);
	return err;
}

int rust_suite_vfs_rename_path(const struct path *old, const struct path *newdir,
			       const char *newname)
{
	struct renamedata rd = {};
	int err;

	if (old->mnt != newdir->mnt)
		return -EXDEV;
	err = rsuite_check_dir(newdir) ?: mnt_want_write(old->mnt);
	if (err)
		return err;
	rd.mnt_idmap = mnt_idmap(old->mnt);
	rd.old_parent = dget_parent(old->dentry);
	rd.new_parent = newdir->dentry;
	err = start_renaming_dentry(&rd, 0, old->dentry, &QSTR(newname));
	if (!err)
		err = rsuite_rename(&rd, newdir);
	dput(rd.old_parent);
	mnt_drop_write(old->mnt);
	return err;
}

/* notify_change() with the inode locked, as chmod_common() does. */
static int rsuite_notify_change(const struct path *p, struct iattr *attr)
{
	struct inode *inode = d_inode(p->dentry);
	struct delegated_inode deleg = { };
	int err;

retry:
	inode_lock(inode);
	err = notify_change(mnt_idmap(p->mnt), p->dentry, attr, &deleg);
	inode_unlock(inode);
	if (is_delegated(&deleg)) {
		err = break_deleg_wait(&deleg);
		if (!err)
			goto retry;
	}
	return err;
}

int rust_suite_vfs_setattr(const struct path *p, u32 valid, umode_t mode,
			   uid_t uid, gid_t gid, u64 size,
			   s64 atime_sec, u32 atime_nsec,
			   s64 mtime_sec, u32 mtime_nsec)
{
	struct inode *inode = d_inode(p->dentry);
	struct iattr attr;
	int err;

	/* vfs_truncate() checks write permission; notify_change() does not. */
	if (valid & ATTR_SIZE) {
		if (size > LLONG_MAX)
			return -EFBIG;
		err = vfs_truncate(p, size);
		if (err)
			return err;
	}
	err = mnt_want_write(p->mnt);
	if (err)
		return err;
	if (valid & ATTR_MODE) {
		attr = (struct iattr){
			.ia_valid = ATTR_MODE | ATTR_CTIME,
			.ia_mode = (mode & S_IALLUGO) | (inode->i_mode & ~S_IALLUGO),
		};
		err = rsuite_notify_change(p, &attr);
		if (err)
			goto out;
	}
	if (valid & (ATTR_UID | ATTR_GID)) {
		attr = (struct iattr){
			.ia_valid = ATTR_CTIME,
			.ia_vfsuid = INVALID_VFSUID,
			.ia_vfsgid = INVALID_VFSGID,
		};
		kuid_t kuid = make_kuid(&init_user_ns, uid);
		kgid_t kgid = make_kgid(&init_user_ns, gid);

		/* As setattr_vfsuid()/setattr_vfsgid() (static in fs/open.c). */
		err = -EINVAL;
		if (valid & ATTR_UID) {
			if (!uid_valid(kuid))
				goto out;
			attr.ia_valid |= ATTR_UID;
			attr.ia_vfsuid = VFSUIDT_INIT(kuid);
		}
		if (valid & ATTR_GID) {
			if (!gid_valid(kgid))
				goto out;
			attr.ia_valid |= ATTR_GID;
			attr.ia_vfsgid = VFSGIDT_INIT(kgid);
		}
		if (!S_ISDIR(inode->i_mode))
			attr.ia_valid |= ATTR_KILL_SUID | ATTR_KILL_PRIV |
				setattr_should_drop_sgid(mnt_idmap(p->mnt), inode);
		err = rsuite_notify_change(p, &attr);
		if (err)
			goto out;
	}
	if (valid & (ATTR_ATIME | ATTR_MTIME)) {
		attr = (struct iattr){ .ia_valid = ATTR_CTIME };
		if (valid & ATTR_ATIME)
			attr.ia_valid |= ATTR_ATIME;
		if (valid & ATTR_MTIME)
			attr.ia_valid |= ATTR_MTIME;
		if (valid & (ATTR_ATIME_SET | ATTR_MTIME_SET)) {
			if (atime_nsec >= NSEC_PER_SEC || mtime_nsec >= NSEC_PER_SEC) {
				err = -EINVAL;
				goto out;
			}
			attr.ia_valid |= ATTR_TIMES_SET;
			if (valid & ATTR_ATIME_SET) {
				attr.ia_valid |= ATTR_ATIME_SET;
				attr.ia_atime = (struct timespec64){ atime_sec, atime_nsec };
			}
			if (valid & ATTR_MTIME_SET) {
				attr.ia_valid |= ATTR_MTIME_SET;
				attr.ia_mtime = (struct timespec64){ mtime_sec, mtime_nsec };
			}
		} else {
			attr.ia_valid |= ATTR_TOUCH;
		}
		err = rsuite_notify_change(p, &attr);
	}
out:
	mnt_drop_write(p->mnt);
	return err;
}

int rust_suite_vfs_readlink(const struct path *p, char *buf, int len)
{
	DEFINE_DELAYED_CALL(done);
	const char *link;
	int n;

	link = vfs_get_link(p->dentry, &done);
	if (IS_ERR(link))
		return PTR_ERR(link);
	n = strlen(link);
	if (n > len)
		n = -ENAMETOOLONG;
	else
		memcpy(buf, link, n);
	do_delayed_call(&done);
	return n;
}

int rust_suite_vfs_lock(struct file *file, bool test, u8 *type, u64 *start,
			u64 *len, void *owner, u32 *pid)
{
	struct file_lock fl;
	int err;

	locks_init_lock(&fl);
	fl.c.flc_flags = FL_POSIX;
	fl.c.flc_owner = owner;
	fl.c.flc_pid = *pid;
	fl.c.flc_file = file;
	switch (*type) {
	case 0: fl.c.flc_type = F_RDLCK; break;
	case 1: fl.c.flc_type = F_WRLCK; break;
	case 2: fl.c.flc_type = F_UNLCK; break;
	default: return -EINVAL;
	}
	if (*start > OFFSET_MAX || (*len && *len - 1 > OFFSET_MAX - *start))
		return -EINVAL;
	fl.fl_start = *start;
	fl.fl_end = *len ? *start + *len - 1 : OFFSET_MAX;
	if (test) {
		err = vfs_test_lock(file, &fl);
		if (err)
			return err;
		*type = fl.c.flc_type == F_RDLCK ? 0 : fl.c.flc_type == F_WRLCK ? 1 : 2;
		if (fl.c.flc_type != F_UNLCK) {
			*start = fl.fl_start;
			*len = fl.fl_end == OFFSET_MAX ? 0 : fl.fl_end - fl.fl_start + 1;
			*pid = fl.c.flc_pid;
		}
		locks_release_private(&fl);
		return 0;
	}
	err = vfs_lock_file(file, F_SETLK, &fl, NULL);
	locks_release_private(&fl);
	return err;
}

/* readdir: iterate_dir() calls back into Rust for each entry. */
struct rsuite_dir_ctx {
	struct dir_context ctx;
	void *data;
};

static bool rsuite_filldir(struct dir_context *ctx, const char *name, int len,
			   loff_t pos, u64 ino, unsigned int type)
{
	struct rsuite_dir_ctx *c = container_of(ctx, struct rsuite_dir_ctx, ctx);

	return rust_suite_readdir_actor(c->data, name, len, pos, ino, type);
}

int rust_suite_iterate_dir(struct file *file, loff_t *pos, void *data)
{
	struct rsuite_dir_ctx c = {
		.ctx.actor = rsuite_filldir,
		.ctx.pos = *pos,
		.data = data,
	};
	int err;

	/* iterate_dir() starts at f_pos, as getdents does; we seek per call. */
	err = vfs_llseek(file, *pos, SEEK_SET);
	if (err < 0)
		return err;
	c.ctx.pos = file->f_pos;
	err = iterate_dir(file, &c.ctx);
	*pos = c.ctx.pos;
	return err;
}

int rust_suite_vfs_getxattr(const struct path *p, const char *name, void *buf,
			    size_t size)
{
	return vfs_getxattr(mnt_idmap(p->mnt), p->dentry, name, buf, size);
}

int rust_suite_vfs_setxattr(const struct path *p, const char *name,
			    const void *value, size_t size, int flags)
{
	int err = mnt_want_write(p->mnt);

	if (err)
		return err;
	err = vfs_setxattr(mnt_idmap(p->mnt), p->dentry, name, value, size, flags);
	mnt_drop_write(p->mnt);
	return err;
}

int rust_suite_vfs_removexattr(const struct path *p, const char *name)
{
	int err = mnt_want_write(p->mnt);

	if (err)
		return err;
	err = vfs_removexattr(mnt_idmap(p->mnt), p->dentry, name);
	mnt_drop_write(p->mnt);
	return err;
}

/* --- GPU drivers ---------------------------------------------------------- */

/*
 * GEM shmem objects are DMA-mapped for their device when their pages are
 * pinned; a virtual device has no mask until we set one (as vgem does).
 */
void rust_suite_drm_set_dma_mask(struct device *dev)
{
	dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(64));
}

struct drm_gem_object *rust_suite_gem_create(struct drm_device *dev, size_t size)
{
	struct drm_gem_shmem_object *shmem = drm_gem_shmem_create(dev, size);

	return IS_ERR(shmem) ? ERR_CAST(shmem) : &shmem->base;
}

void rust_suite_gem_get(struct drm_gem_object *obj)
{
	drm_gem_object_get(obj);
}

void rust_suite_gem_put(struct drm_gem_object *obj)
{
	drm_gem_object_put(obj);
}

int rust_suite_gem_mmap_offset(struct drm_gem_object *obj, u64 *offset)
{
	int ret = drm_gem_create_mmap_offset(obj);

	if (!ret)
		*offset = drm_vma_node_offset_addr(&obj->vma_node);
	return ret;
}

/*
 * A device's bus: the pages it can reach by DMA, each at an address the bus
 * hands out, like an IOMMU. Every page on the bus holds a page reference,
 * so the device never reaches freed memory; an address not on the bus is an
 * error, never a wild access. Addresses are never reused.
 */
struct rust_suite_bus {
	struct xarray pages;	/* bus page index -> struct page * */
	atomic64_t next;	/* next free index, in 16 KiB steps */
};

#define RUST_SUITE_BUS_ALIGN	(SZ_16K >> PAGE_SHIFT)

struct rust_suite_bus *rust_suite_bus_new(void)
{
	struct rust_suite_bus *bus = kzalloc(sizeof(*bus), GFP_KERNEL);

	BUILD_BUG_ON(PAGE_SIZE > SZ_16K);
	if (!bus)
		return NULL;
	xa_init(&bus->pages);
	/* Address 0 is never valid. */
	atomic64_set(&bus->next, RUST_SUITE_BUS_ALIGN);
	return bus;
}

void rust_suite_bus_free(struct rust_suite_bus *bus)
{
	struct page *page;
	unsigned long idx;

	/* Mappings should all be gone; drop what a bug left. */
	xa_for_each(&bus->pages, idx, page) {
		WARN_ONCE(1, "bus page %lx still mapped\n", idx);
		put_page(page);
	}
	xa_destroy(&bus->pages);
	kfree(bus);
}

static int bus_reserve(struct rust_suite_bus *bus, unsigned long npages, unsigned long *first)
{
	unsigned long n = round_up(npages, RUST_SUITE_BUS_ALIGN);

	if (!npages || npages > (1UL << 30))
		return -EINVAL;
	*first = atomic64_fetch_add(n, &bus->next);
	return 0;
}

void rust_suite_bus_unmap(struct rust_suite_bus *bus, u64 addr, unsigned long npages)
{
	unsigned long idx = addr >> PAGE_SHIFT, i;

	for (i = 0; i < npages; i++) {
		struct page *page = xa_erase(&bus->pages, idx + i);

		if (page)
			put_page(page);
	}
}

static int bus_store(struct rust_suite_bus *bus, unsigned long idx, struct page *page)
{
	int ret = xa_err(xa_store(&bus->pages, idx, page, GFP_KERNEL));

	if (ret)
		put_page(page);
	return ret;
}

int rust_suite_bus_alloc(struct rust_suite_bus *bus, unsigned long npages, u64 *addr)
{
	unsigned long first, i;
	int ret = bus_reserve(bus, npages, &first);

	if (ret)
		return ret;
	for (i = 0; i < npages; i++) {
		/* The bus holds the only reference: unmapping frees the page. */
		struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);

		ret = page ? bus_store(bus, first + i, page) : -ENOMEM;
		if (ret) {
			rust_suite_bus_unmap(bus, (u64)first << PAGE_SHIFT, i);
			return ret;
		}
	}
	*addr = (u64)first << PAGE_SHIFT;
	return 0;
}

int rust_suite_bus_map_gem(struct rust_suite_bus *bus, struct drm_gem_object *obj,
			   unsigned long first_page, unsigned long npages, u64 *addr)
{
	struct drm_gem_shmem_object *shmem = to_drm_gem_shmem_obj(obj);
	struct sg_page_iter iter;
	struct sg_table *sgt;
	unsigned long first, i = 0;
	int ret;

	if (first_page + npages < first_page || first_page + npages > obj->size >> PAGE_SHIFT)
		return -EINVAL;
	/*
	 * A foreign buffer's table is the exporter's DMA mapping, whose page
	 * links are not ours to follow (DMABUF_DEBUG even mangles them).
	 */
	if (drm_gem_is_imported(obj))
		return -EOPNOTSUPP;
	ret = bus_reserve(bus, npages, &first);
	if (ret)
		return ret;
	/* Pins the pages until the object is freed. */
	sgt = drm_gem_shmem_get_pages_sgt(shmem);
	if (IS_ERR(sgt))
		return PTR_ERR(sgt);
	for_each_sgtable_page(sgt, &iter, first_page) {
		struct page *page = sg_page_iter_page(&iter);

		if (i == npages)
			break;
		get_page(page);
		ret = bus_store(bus, first + i, page);
		if (ret) {
			rust_suite_bus_unmap(bus, (u64)first << PAGE_SHIFT, i);
			return ret;
		}
		i++;
	}
	if (i != npages) {
		rust_suite_bus_unmap(bus, (u64)first << PAGE_SHIFT, i);
		return -EINVAL;
	}
	*addr = (u64)first << PAGE_SHIFT;
	return 0;
}

/*
 * Copies to or from bus memory. The bus lock is held across each page's copy,
 * so the page cannot be unmapped and freed meanwhile. Aligned 4- and 8-byte
 * accesses are single accesses, as a device's would be.
 */
int rust_suite_bus_rw(struct rust_suite_bus *bus, u64 addr, void *buf, size_t len, bool write)
{
	while (len) {
		unsigned long off = offset_in_page(addr);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		struct page *page;
		void *va;

		xa_lock(&bus->pages);
		page = xa_load(&bus->pages, addr >> PAGE_SHIFT);
		if (!page) {
			xa_unlock(&bus->pages);
			return -EFAULT;
		}
		va = kmap_local_page(page) + off;
		if (n == 4 && IS_ALIGNED(off, 4)) {
			if (write)
				WRITE_ONCE(*(u32 *)va, get_unaligned((u32 *)buf));
			else
				put_unaligned(READ_ONCE(*(u32 *)va), (u32 *)buf);
		} else if (n == 8 && IS_ALIGNED(off, 8)) {
			if (write)
				WRITE_ONCE(*(u64 *)va, get_unaligned((u64 *)buf));
			else
				put_unaligned(READ_ONCE(*(u64 *)va), (u64 *)buf);
		} else if (write) {
			memcpy(va, buf, n);
		} else {
			memcpy(buf, va, n);
		}
		kunmap_local(va);
		xa_unlock(&bus->pages);
		addr += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * Fences of this module. The ops are only called while the fence is
 * unsignalled (the core detaches them when it signals), and release is the
 * core's, so a signalled fence never reaches this module's code again.
 */
struct rust_suite_fence {
	struct dma_fence base;
	spinlock_t lock;
};

static const char *rust_suite_fence_driver_name(struct dma_fence *fence)
{
	return KBUILD_MODNAME;
}

static const char *rust_suite_fence_timeline_name(struct dma_fence *fence)
{
	return KBUILD_MODNAME "-queue";
}

static const struct dma_fence_ops rust_suite_fence_ops = {
	.get_driver_name = rust_suite_fence_driver_name,
	.get_timeline_name = rust_suite_fence_timeline_name,
};

struct dma_fence *rust_suite_fence_new(u64 context, u64 seqno)
{
	struct rust_suite_fence *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return NULL;
	spin_lock_init(&f->lock);
	dma_fence_init(&f->base, &rust_suite_fence_ops, &f->lock, context, seqno);
	return &f->base;
}

void rust_suite_fence_signal(struct dma_fence *fence, int error)
{
	if (error)
		dma_fence_set_error(fence, error);
	dma_fence_signal(fence);
}

struct dma_fence *rust_suite_fence_get(struct dma_fence *fence)
{
	return dma_fence_get(fence);
}

void rust_suite_fence_put(struct dma_fence *fence)
{
	dma_fence_put(fence);
}

bool rust_suite_fence_is_signaled(struct dma_fence *fence)
{
	return dma_fence_is_signaled(fence);
}

int rust_suite_fence_error(struct dma_fence *fence)
{
	int status = dma_fence_get_status(fence);

	return status < 0 ? status : 0;
}

struct rust_suite_fence_cb {
	struct dma_fence_cb cb;
	struct dma_fence *fence;
	void (*func)(void *data);
	void *data;
};

static void rust_suite_fence_cb_fn(struct dma_fence *fence, struct dma_fence_cb *cb)
{
	struct rust_suite_fence_cb *c = container_of(cb, struct rust_suite_fence_cb, cb);

	c->func(c->data);
}

/*
 * Calls func(data) once @fence signals, from the signalling context (the
 * fence's lock held, interrupts off). NULL if it is already signalled (func
 * is then never called), an ERR_PTR on allocation failure. The callback is
 * owned by the caller until rust_suite_fence_cb_free().
 */
struct rust_suite_fence_cb *rust_suite_fence_cb_new(struct dma_fence *fence,
						    void (*func)(void *), void *data)
{
	struct rust_suite_fence_cb *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return ERR_PTR(-ENOMEM);
	c->fence = dma_fence_get(fence);
	c->func = func;
	c->data = data;
	if (dma_fence_add_callback(fence, &c->cb, rust_suite_fence_cb_fn)) {
		dma_fence_put(c->fence);
		kfree(c);
		return NULL;
	}
	return c;
}

/*
 * Removes the callback if it has not run; either way it is not running once
 * this returns (callbacks run under the fence's lock, which removal takes).
 */
void rust_suite_fence_cb_free(struct rust_suite_fence_cb *c)
{
	dma_fence_remove_callback(c->fence, &c->cb);
	dma_fence_put(c->fence);
	kfree(c);
}

void rust_suite_syncobj_put(struct drm_syncobj *syncobj)
{
	drm_syncobj_put(syncobj);
}

struct dma_fence_chain *rust_suite_fence_chain_alloc(void)
{
	return dma_fence_chain_alloc();
}

void rust_suite_fence_chain_free(struct dma_fence_chain *chain)
{
	dma_fence_chain_free(chain);
}
