// SPDX-License-Identifier: GPL-2.0

//! The VFS as a file server uses it: paths confined beneath an export, open
//! files, and the calls that create, remove, rename and change files.
//!
//! Every call runs with the current task's credentials, so a server runs it
//! under [`crate::cred::UserCred::with`] for the user a request acts for.
//! Lookups never follow a symlink, cross a mount or leave the directory they
//! start from ([`Path::lookup`]); `..` is resolved by [`Path::parent_beneath`],
//! which never goes above the export.
//!
//! ksmbd (`fs/smb/server/vfs.c`) is the in-kernel model of this use of the
//! VFS. C headers: [`include/linux/namei.h`](srctree/include/linux/namei.h),
//! [`include/linux/fs.h`](srctree/include/linux/fs.h).

use crate::bindings;
use core::{ffi::c_void, ptr::NonNull};
use kernel::{
    error::{from_err_ptr, to_result},
    prelude::*,
};

/// The longest name of a directory entry (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// The longest symlink target accepted (`PATH_MAX` less its NUL).
pub const TARGET_MAX: usize = 4095;

/// One component of a path: not empty, no `/`, no NUL, at most
/// [`NAME_MAX`] bytes; `.` and `..` are refused too, so a name always names
/// an entry of the directory it is used with. Kept NUL-terminated for C.
///
/// # Invariants
///
/// `buf[..len]` is a valid name as above and `buf[len]` is 0.
pub struct Name {
    buf: [u8; NAME_MAX + 1],
    len: usize,
}

impl Name {
    /// Checks `name`: `EINVAL` for an empty one, one with `/` or NUL, or
    /// `.`/`..`; `ENAMETOOLONG` beyond [`NAME_MAX`].
    pub fn new(name: &[u8]) -> Result<Self> {
        if name.len() > NAME_MAX {
            return Err(ENAMETOOLONG);
        }
        if name.is_empty()
            || name == b"."
            || name == b".."
            || name.iter().any(|&b| b == b'/' || b == 0)
        {
            return Err(EINVAL);
        }
        let mut buf = [0u8; NAME_MAX + 1];
        buf[..name.len()].copy_from_slice(name);
        // INVARIANT: checked above; the byte after the name is still 0.
        Ok(Self {
            buf,
            len: name.len(),
        })
    }

    /// The name's bytes, without the NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn as_char_ptr(&self) -> *const kernel::ffi::c_char {
        self.buf.as_ptr().cast()
    }
}

/// A symlink target: not empty, no NUL, at most [`TARGET_MAX`] bytes.
/// Targets are stored, never followed by this module, so any such string
/// is allowed (absolute or with `..`).
pub struct Target {
    buf: KVec<u8>,
}

impl Target {
    /// Checks and copies `target`.
    pub fn new(target: &[u8]) -> Result<Self> {
        if target.len() > TARGET_MAX {
            return Err(ENAMETOOLONG);
        }
        if target.is_empty() || target.contains(&0) {
            return Err(EINVAL);
        }
        let mut buf = KVec::with_capacity(target.len() + 1, GFP_KERNEL)?;
        buf.extend_from_slice(target, GFP_KERNEL)?;
        buf.push(0, GFP_KERNEL)?;
        Ok(Self { buf })
    }
}

/// The kind of file a mode describes (`S_IFMT` bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A FIFO.
    Fifo,
    /// A UNIX domain socket.
    Socket,
    /// No inode (a negative dentry) or an unknown type.
    Unknown,
}

impl FileType {
    /// The type of a file with mode `mode`.
    pub fn from_mode(mode: u32) -> Self {
        match mode & 0o170000 {
            0o100000 => Self::Regular,
            0o040000 => Self::Directory,
            0o120000 => Self::Symlink,
            0o020000 => Self::CharDevice,
            0o060000 => Self::BlockDevice,
            0o010000 => Self::Fifo,
            0o140000 => Self::Socket,
            _ => Self::Unknown,
        }
    }
}

/// What `vfs_getattr()` reports about a file; ids are those of the initial
/// user namespace, `rdev` is in the kernel's `dev_t` encoding.
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct Stat {
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u32,
    pub ino: u64,
    pub size: u64,
    pub blksize: u32,
    pub blocks: u64,
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    pub ctime: (i64, u32),
    /// Creation time, if the file system knows it.
    pub btime: Option<(i64, u32)>,
}

/// What `vfs_statfs()` reports.
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct StatFs {
    pub fs_type: u32,
    pub bsize: u32,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub fsid: u64,
    pub namelen: u32,
}

/// Changes [`Path::setattr`] makes; the `valid` bits are the kernel's
/// `ATTR_*` bits (`ATTR_MODE` 1, `ATTR_UID` 2, `ATTR_GID` 4, `ATTR_SIZE` 8,
/// `ATTR_ATIME` 0x10, `ATTR_MTIME` 0x20, `ATTR_CTIME` 0x40,
/// `ATTR_ATIME_SET` 0x80, `ATTR_MTIME_SET` 0x100), which 9P2000.L shares.
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct SetAttr {
    pub valid: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
}

/// A reference to a location in the VFS: a mount and a dentry on it.
///
/// # Invariants
///
/// `inner.mnt` and `inner.dentry` are valid and this object owns one
/// reference to each (as `path_get()` takes); the dentry may be negative
/// only if the file was removed after the reference was taken.
pub struct Path {
    inner: bindings::path,
}

// SAFETY: Mount and dentry references may be used and dropped on any thread.
unsafe impl Send for Path {}
// SAFETY: `&Path` only passes the path to VFS calls that take their own locks.
unsafe impl Sync for Path {}

impl Clone for Path {
    fn clone(&self) -> Self {
        let inner = self.inner;
        // SAFETY: `inner` holds valid references (type invariant); this takes
        // one more of each, owned by the clone.
        unsafe { bindings::path_get(&inner) };
        // INVARIANT: the references just taken are the clone's.
        Self { inner }
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        // SAFETY: We own one reference to each (type invariant).
        unsafe { bindings::path_put(&self.inner) };
    }
}

/// Wraps a `struct path` a C helper filled in, on success.
///
/// # Safety
///
/// If `ret` is 0, `out` must hold references owned by the caller.
unsafe fn path_from(ret: kernel::ffi::c_int, out: bindings::path) -> Result<Path> {
    to_result(ret)?;
    // INVARIANT: the caller guarantees the references are ours.
    Ok(Path { inner: out })
}

impl Path {
    /// Looks up the directory `name` (an absolute path, symlinks followed),
    /// as the root of an export.
    pub fn lookup_dir(name: &CStr) -> Result<Self> {
        let mut out = bindings::path::default();
        // SAFETY: `name` is NUL-terminated; `out` is a valid place.
        let ret = unsafe {
            bindings::kern_path(
                name.as_char_ptr(),
                bindings::LOOKUP_FOLLOW | bindings::LOOKUP_DIRECTORY,
                &mut out,
            )
        };
        // SAFETY: On success kern_path() gives us a reference to each.
        unsafe { path_from(ret, out) }
    }

    fn as_ptr(&self) -> *const bindings::path {
        &self.inner
    }

    /// Looks `name` up in this directory without following a symlink (a
    /// symlink is returned as itself), crossing into another mount (`EXDEV`)
    /// or through a magic link.
    pub fn lookup(&self, name: &Name) -> Result<Self> {
        let mut out = bindings::path::default();
        let (dir, name) = (self.as_ptr(), name.as_char_ptr());
        // SAFETY: `dir` is a valid path, `name` NUL-terminated, `out` a
        // valid place.
        let ret = unsafe { bindings::rust_suite_vfs_lookup(dir, name, &mut out) };
        // SAFETY: On success vfs_path_lookup() gives us a reference to each.
        unsafe { path_from(ret, out) }
    }

    /// Whether this path is `root` or beneath it, on the same mount.
    pub fn is_beneath(&self, root: &Path) -> bool {
        // SAFETY: Both paths are valid (type invariant).
        unsafe { bindings::rust_suite_path_beneath(root.as_ptr(), self.as_ptr()) }
    }

    /// Whether both are the same location.
    pub fn same(&self, other: &Path) -> bool {
        self.inner.mnt == other.inner.mnt && self.inner.dentry == other.inner.dentry
    }

    /// The parent directory, with `root` as its own parent; `ENOENT` if this
    /// path is not beneath `root` (it was moved out by someone else).
    pub fn parent_beneath(&self, root: &Path) -> Result<Self> {
        if self.same(root) {
            return Ok(root.clone());
        }
        if !self.is_beneath(root) {
            return Err(ENOENT);
        }
        let mut out = bindings::path::default();
        // SAFETY: `self` is valid; the helper takes a reference to each of
        // the mount and the parent dentry.
        unsafe { bindings::rust_suite_path_parent(self.as_ptr(), &mut out) };
        // INVARIANT: those references are ours.
        Ok(Self { inner: out })
    }

    /// The mode of the file (0 if it has been removed from under us).
    pub fn mode(&self) -> u32 {
        // SAFETY: `self` is valid (type invariant).
        u32::from(unsafe { bindings::rust_suite_path_mode(self.as_ptr()) })
    }

    /// The type of the file.
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode())
    }

    /// `vfs_getattr()`: the basic attributes and the birth time.
    pub fn getattr(&self) -> Result<Stat> {
        let mut st = pin_init::zeroed::<bindings::kstat>();
        // SAFETY: `self` is valid; `st` is a valid place.
        to_result(unsafe {
            bindings::vfs_getattr(
                self.as_ptr(),
                &mut st,
                bindings::STATX_BASIC_STATS | bindings::STATX_BTIME,
                bindings::AT_STATX_SYNC_AS_STAT,
            )
        })?;
        let ts = |t: bindings::timespec64| (t.tv_sec, t.tv_nsec as u32);
        Ok(Stat {
            mode: u32::from(st.mode),
            nlink: st.nlink,
            uid: st.uid.val,
            gid: st.gid.val,
            rdev: st.rdev,
            ino: st.ino,
            size: st.size as u64,
            blksize: st.blksize,
            blocks: st.blocks,
            atime: ts(st.atime),
            mtime: ts(st.mtime),
            ctime: ts(st.ctime),
            btime: (st.result_mask & bindings::STATX_BTIME != 0).then(|| ts(st.btime)),
        })
    }

    /// `vfs_statfs()` of the file system this path is on.
    pub fn statfs(&self) -> Result<StatFs> {
        let mut st = pin_init::zeroed::<bindings::kstatfs>();
        // SAFETY: `self` is valid; `st` is a valid place.
        to_result(unsafe {
            bindings::vfs_statfs(self.as_ptr(), core::ptr::from_mut(&mut st).cast())
        })?;
        let fsid = st.f_fsid.val;
        Ok(StatFs {
            fs_type: st.f_type as u32,
            bsize: st.f_bsize as u32,
            blocks: st.f_blocks,
            bfree: st.f_bfree,
            bavail: st.f_bavail,
            files: st.f_files,
            ffree: st.f_ffree,
            fsid: u64::from(fsid[0] as u32) | (u64::from(fsid[1] as u32) << 32),
            namelen: st.f_namelen as u32,
        })
    }

    /// Opens the file with `open(2)` flags ([`oflags`]); permission is checked
    /// against the current credentials. `O_CREAT` is not allowed here.
    pub fn open(&self, flags: u32) -> Result<File> {
        if flags & bindings::O_CREAT != 0 {
            return Err(EINVAL);
        }
        let flags = flags as i32;
        // SAFETY: `self` is valid; the helper opens with current_cred().
        let file = unsafe { bindings::rust_suite_dentry_open(self.as_ptr(), flags) };
        let file = from_err_ptr(file)?;
        // INVARIANT: dentry_open() returned a file with one reference, ours.
        Ok(File {
            ptr: NonNull::new(file).ok_or(ENOMEM)?,
        })
    }

    /// Creates a regular file `name` in this directory (or finds the regular
    /// file there if `excl` is false) and returns it.
    pub fn create(&self, name: &Name, mode: u32, excl: bool) -> Result<Self> {
        let mut out = bindings::path::default();
        // SAFETY: Valid path and name, `out` a valid place.
        let ret = unsafe {
            bindings::rust_suite_vfs_create(
                self.as_ptr(),
                name.as_char_ptr(),
                mode as u16,
                excl,
                &mut out,
            )
        };
        // SAFETY: On success the helper took a reference to each for us.
        unsafe { path_from(ret, out) }
    }

    /// Creates the directory `name` in this directory.
    pub fn mkdir(&self, name: &Name, mode: u32) -> Result<Self> {
        let mut out = bindings::path::default();
        // SAFETY: Valid path and name, `out` a valid place.
        let ret = unsafe {
            bindings::rust_suite_vfs_mkdir(self.as_ptr(), name.as_char_ptr(), mode as u16, &mut out)
        };
        // SAFETY: On success the helper took a reference to each for us.
        unsafe { path_from(ret, out) }
    }

    /// Creates the special file `name` (`mode` includes the file type).
    pub fn mknod(&self, name: &Name, mode: u32, major: u32, minor: u32) -> Result<Self> {
        let mut out = bindings::path::default();
        let mode = u16::try_from(mode).map_err(|_| EINVAL)?;
        // SAFETY: Valid path and name, `out` a valid place.
        let ret = unsafe {
            bindings::rust_suite_vfs_mknod(
                self.as_ptr(),
                name.as_char_ptr(),
                mode,
                major,
                minor,
                &mut out,
            )
        };
        // SAFETY: On success the helper took a reference to each for us.
        unsafe { path_from(ret, out) }
    }

    /// Creates the symlink `name` pointing to `target`.
    pub fn symlink(&self, name: &Name, target: &Target) -> Result<Self> {
        let mut out = bindings::path::default();
        // SAFETY: Valid path, name and NUL-terminated target; `out` valid.
        let ret = unsafe {
            bindings::rust_suite_vfs_symlink(
                self.as_ptr(),
                name.as_char_ptr(),
                target.buf.as_ptr().cast(),
                &mut out,
            )
        };
        // SAFETY: On success the helper took a reference to each for us.
        unsafe { path_from(ret, out) }
    }

    /// Creates `name` in this directory as a hard link to `old`.
    pub fn link(&self, old: &Path, name: &Name) -> Result {
        // SAFETY: Valid paths and name.
        to_result(unsafe {
            bindings::rust_suite_vfs_link(old.as_ptr(), self.as_ptr(), name.as_char_ptr())
        })
    }

    /// Removes `name` from this directory: a directory only if `rmdir`, any
    /// other file only if not.
    pub fn unlink(&self, name: &Name, rmdir: bool) -> Result {
        // SAFETY: Valid path and name.
        to_result(unsafe {
            bindings::rust_suite_vfs_unlink(self.as_ptr(), name.as_char_ptr(), rmdir)
        })
    }

    /// Removes this file (or empty directory) from its directory.
    pub fn remove(&self) -> Result {
        // SAFETY: Valid path.
        to_result(unsafe { bindings::rust_suite_vfs_remove(self.as_ptr()) })
    }

    /// Renames `old` in this directory to `new` in `newdir`.
    pub fn rename(&self, old: &Name, newdir: &Path, new: &Name) -> Result {
        // SAFETY: Valid paths and names.
        to_result(unsafe {
            bindings::rust_suite_vfs_rename(
                self.as_ptr(),
                old.as_char_ptr(),
                newdir.as_ptr(),
                new.as_char_ptr(),
            )
        })
    }

    /// Renames this file to `new` in `newdir`.
    pub fn rename_to(&self, newdir: &Path, new: &Name) -> Result {
        // SAFETY: Valid paths and name.
        to_result(unsafe {
            bindings::rust_suite_vfs_rename_path(self.as_ptr(), newdir.as_ptr(), new.as_char_ptr())
        })
    }

    /// Changes attributes as `chmod`, `chown`, `truncate` and `utimensat`
    /// would, with their permission checks.
    pub fn setattr(&self, a: &SetAttr) -> Result {
        // SAFETY: Valid path.
        to_result(unsafe {
            bindings::rust_suite_vfs_setattr(
                self.as_ptr(),
                a.valid,
                a.mode as u16,
                a.uid,
                a.gid,
                a.size,
                a.atime.0,
                a.atime.1,
                a.mtime.0,
                a.mtime.1,
            )
        })
    }

    /// Reads the symlink's target into `buf`; returns its length
    /// (`ENAMETOOLONG` if it does not fit, `EINVAL` if not a symlink).
    pub fn readlink(&self, buf: &mut [u8]) -> Result<usize> {
        let len = i32::try_from(buf.len()).unwrap_or(i32::MAX);
        // SAFETY: Valid path; `buf` is writable for `len` bytes.
        let n = unsafe {
            bindings::rust_suite_vfs_readlink(self.as_ptr(), buf.as_mut_ptr().cast(), len)
        };
        to_result(n)?;
        Ok(n as usize)
    }

    /// Reads extended attribute `name` into `buf` (or, with an empty
    /// `buf`, returns only its size); `ERANGE` if it does not fit.
    pub fn getxattr(&self, name: &CStr, buf: &mut [u8]) -> Result<usize> {
        // A size query must pass NULL: file systems answer ERANGE to a
        // buffer of length 0.
        let ptr = if buf.is_empty() {
            core::ptr::null_mut()
        } else {
            buf.as_mut_ptr()
        };
        // SAFETY: Valid path and NUL-terminated name; `ptr` is NULL or
        // writable for `buf.len()` bytes.
        let n = unsafe {
            bindings::rust_suite_vfs_getxattr(
                self.as_ptr(),
                name.as_char_ptr(),
                ptr.cast(),
                buf.len(),
            )
        };
        to_result(n)?;
        Ok(n as usize)
    }

    /// Lists extended attribute names (NUL-separated) into `buf`, or with an
    /// empty `buf` returns the size of the list.
    pub fn listxattr(&self, buf: &mut [u8]) -> Result<usize> {
        let ptr = if buf.is_empty() {
            core::ptr::null_mut()
        } else {
            buf.as_mut_ptr()
        };
        // SAFETY: Valid dentry; `ptr` is NULL (a size query) or writable for
        // `buf.len()` bytes.
        let n = unsafe { bindings::vfs_listxattr(self.inner.dentry, ptr.cast(), buf.len()) };
        to_result(n as i32)?;
        Ok(n as usize)
    }

    /// Sets extended attribute `name` to `value`; `flags` as setxattr(2)'s
    /// (`XATTR_CREATE` 1, `XATTR_REPLACE` 2).
    pub fn setxattr(&self, name: &CStr, value: &[u8], flags: u32) -> Result {
        if flags & !(bindings::XATTR_CREATE | bindings::XATTR_REPLACE) != 0 {
            return Err(EINVAL);
        }
        // SAFETY: Valid path and name; `value` is readable for its length.
        to_result(unsafe {
            bindings::rust_suite_vfs_setxattr(
                self.as_ptr(),
                name.as_char_ptr(),
                value.as_ptr().cast(),
                value.len(),
                flags as i32,
            )
        })
    }

    /// Removes extended attribute `name`.
    pub fn removexattr(&self, name: &CStr) -> Result {
        // SAFETY: Valid path and NUL-terminated name.
        to_result(unsafe {
            bindings::rust_suite_vfs_removexattr(self.as_ptr(), name.as_char_ptr())
        })
    }
}

/// `open(2)` flags, for [`Path::open`].
#[allow(missing_docs)]
pub mod oflags {
    use crate::bindings;
    pub const RDONLY: u32 = bindings::O_RDONLY;
    pub const WRONLY: u32 = bindings::O_WRONLY;
    pub const RDWR: u32 = bindings::O_RDWR;
    pub const TRUNC: u32 = bindings::O_TRUNC;
    pub const APPEND: u32 = bindings::O_APPEND;
    pub const NONBLOCK: u32 = bindings::O_NONBLOCK;
    pub const DSYNC: u32 = bindings::O_DSYNC;
    pub const DIRECT: u32 = bindings::O_DIRECT;
    pub const LARGEFILE: u32 = bindings::O_LARGEFILE;
    pub const DIRECTORY: u32 = bindings::O_DIRECTORY;
    pub const NOFOLLOW: u32 = bindings::O_NOFOLLOW;
    pub const NOATIME: u32 = bindings::O_NOATIME;
    pub const SYNC: u32 = bindings::__O_SYNC | bindings::O_DSYNC;
}

/// One directory entry, as [`File::readdir`] passes it on.
pub struct DirEntry<'a> {
    /// The entry's name.
    pub name: &'a [u8],
    /// The position of this entry; seeking there reads it again.
    pub pos: i64,
    /// Its inode number.
    pub ino: u64,
    /// Its `DT_*` type.
    pub dtype: u8,
}

/// An open file.
///
/// # Invariants
///
/// `ptr` is a valid `struct file` of which this object owns one reference.
pub struct File {
    ptr: NonNull<bindings::file>,
}

// SAFETY: Files are reference counted and their operations take the locks
// they need; a file may be used and released on any thread.
unsafe impl Send for File {}
// SAFETY: See `Send`. Reads and writes at explicit offsets share no state;
// directory iteration serialises on the inode lock (iterate_dir()).
unsafe impl Sync for File {}

impl File {
    /// Reads at `pos` into `buf`; returns how much was read (0 at the end).
    pub fn read_at(&self, buf: &mut [u8], pos: u64) -> Result<usize> {
        let mut pos = i64::try_from(pos).map_err(|_| EINVAL)?;
        // SAFETY: Valid file; `buf` writable for its length; `pos` local.
        let n = unsafe {
            bindings::kernel_read(
                self.ptr.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut pos,
            )
        };
        to_result(i32::try_from(n).unwrap_or(i32::MAX).min(0))?;
        Ok(n as usize)
    }

    /// Writes `buf` at `pos` (at the end for a file opened `O_APPEND`);
    /// returns how much was written.
    pub fn write_at(&self, buf: &[u8], pos: u64) -> Result<usize> {
        let mut pos = i64::try_from(pos).map_err(|_| EINVAL)?;
        // SAFETY: Valid file; `buf` readable for its length; `pos` local.
        let n = unsafe {
            bindings::kernel_write(self.ptr.as_ptr(), buf.as_ptr().cast(), buf.len(), &mut pos)
        };
        to_result(i32::try_from(n).unwrap_or(i32::MAX).min(0))?;
        Ok(n as usize)
    }

    /// `vfs_fsync()`.
    pub fn fsync(&self, datasync: bool) -> Result {
        // SAFETY: Valid file.
        to_result(unsafe { bindings::vfs_fsync(self.ptr.as_ptr(), i32::from(datasync)) })
    }

    /// Reads directory entries from position `pos` on, passing each to
    /// `emit` until it returns false (the entry it refused is not consumed).
    /// Returns the position to resume from.
    pub fn readdir(&self, pos: i64, emit: &mut dyn FnMut(DirEntry<'_>) -> bool) -> Result<i64> {
        let mut pos = pos;
        let mut emit = emit;
        // SAFETY: Valid file; `pos` is local; `data` points to `emit`, which
        // outlives the call, and is only used by `rust_suite_readdir_actor`
        // during it.
        let ret = unsafe {
            bindings::rust_suite_iterate_dir(
                self.ptr.as_ptr(),
                &mut pos,
                core::ptr::from_mut(&mut emit).cast::<c_void>(),
            )
        };
        to_result(ret)?;
        Ok(pos)
    }

    /// Takes (`F_SETLK`) or tests (`F_GETLK`) a POSIX lock owned by `owner`
    /// (any address that identifies the lock owner). `ty` is 0 (read), 1
    /// (write) or 2 (unlock); `len` 0 means to the end. A test returns the
    /// conflicting lock, or type 2 if there is none.
    pub fn posix_lock(&self, test: bool, lock: &mut PosixLock, owner: usize) -> Result {
        // SAFETY: Valid file; the fields are valid places; the owner is only
        // compared, never dereferenced.
        to_result(unsafe {
            bindings::rust_suite_vfs_lock(
                self.ptr.as_ptr(),
                test,
                &mut lock.ty,
                &mut lock.start,
                &mut lock.len,
                owner as *mut c_void,
                &mut lock.pid,
            )
        })
    }

    /// Releases the file, first dropping the POSIX locks `owner` holds on
    /// it (as close(2) does for a process).
    pub fn close(self, owner: usize) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: We own the reference (type invariant), given up here: the
        // object is not dropped again.
        let _ = unsafe { bindings::filp_close(this.ptr.as_ptr(), owner as *mut c_void) };
    }
}

/// A POSIX byte-range lock, for [`File::posix_lock`].
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct PosixLock {
    pub ty: u8,
    pub start: u64,
    pub len: u64,
    pub pid: u32,
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: We own one reference (type invariant).
        unsafe { bindings::fput(self.ptr.as_ptr()) };
    }
}

/// Called by `iterate_dir()` (through the C helper) for each entry.
///
/// # Safety
///
/// `data` is the pointer [`File::readdir`] passed, during that call; `name`
/// is readable for `len` bytes.
#[no_mangle]
unsafe extern "C" fn rust_suite_readdir_actor(
    data: *mut c_void,
    name: *const kernel::ffi::c_char,
    len: kernel::ffi::c_int,
    pos: bindings::loff_t,
    ino: u64,
    dtype: kernel::ffi::c_uint,
) -> bool {
    // SAFETY: `data` is `&mut &mut dyn FnMut` from `File::readdir`, alive and
    // not otherwise used during the iteration (function safety requirement).
    let emit = unsafe { &mut *data.cast::<&mut dyn FnMut(DirEntry<'_>) -> bool>() };
    let Ok(len) = usize::try_from(len) else {
        return false;
    };
    // SAFETY: `name` is readable for `len` bytes (function safety requirement).
    let name = unsafe { core::slice::from_raw_parts(name.cast::<u8>(), len) };
    emit(DirEntry {
        name,
        pos,
        ino,
        dtype: dtype as u8,
    })
}
