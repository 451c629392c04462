// SPDX-License-Identifier: GPL-2.0

//! Character devices with an ioctl handler over driver data: misc devices
//! whose open files each hold a reference to the data.
//!
//! `kernel::miscdevice` hands its `open` only the registration, with no
//! way to reach driver data without `unsafe`. Here the registration holds
//! an `Arc` of the data, and every open file another one: a file still open
//! after the device is deregistered (its controller removed) keeps the data
//! alive, and its ioctls must fail cleanly, which is the driver's part. The
//! file operations are static in C (`helpers.c`), with this module as their
//! owner, so that it cannot be unloaded under an open file.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)

use crate::bindings;
use kernel::{
    ffi::{c_int, c_long, c_uint, c_ulong, c_void},
    prelude::*,
    sync::Arc,
    types::Opaque,
    uaccess::{UserPtr, UserSlice},
};

/// What a misc device does with its ioctls.
pub trait MiscDevice: Send + Sync + 'static {
    /// Handles ioctl `cmd` with argument `arg`; the return value is the
    /// ioctl's (non-negative), an error its negative errno.
    fn ioctl(&self, cmd: u32, arg: UserArg) -> Result<i32>;
}

/// An ioctl's argument: a user address, or a number.
#[derive(Clone, Copy, Debug)]
pub struct UserArg(usize);

impl UserArg {
    /// The argument as `size` bytes of user memory.
    pub fn slice(self, size: usize) -> UserSlice {
        UserSlice::new(UserPtr::from_addr(self.0), size)
    }

    /// The argument as a plain number.
    pub fn value(self) -> usize {
        self.0
    }
}

/// Whether the calling task has `CAP_SYS_ADMIN` in the initial namespace.
pub fn capable_sys_admin() -> bool {
    // SAFETY: Reads the current task's credentials.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as c_int) }
}

/// Type-erased per-file and per-device operations, monomorphised for each
/// `T: MiscDevice` and stored as plain function pointers, since the C file
/// operations are not generic.
struct Vtbl {
    /// Takes a new reference to the data at the pointer.
    clone: unsafe fn(*const c_void) -> *const c_void,
    /// Drops a reference.
    put: unsafe fn(*const c_void),
    ioctl: unsafe fn(*const c_void, u32, UserArg) -> Result<i32>,
}

/// # Safety
///
/// `p` is from `Arc::<T>::into_raw()`, with a reference the caller holds.
unsafe fn clone_data<T: MiscDevice>(p: *const c_void) -> *const c_void {
    // SAFETY: By the function's requirements; `ManuallyDrop` keeps the
    // caller's reference.
    let held = core::mem::ManuallyDrop::new(unsafe { Arc::<T>::from_raw(p.cast()) });
    Arc::into_raw(Arc::clone(&held)).cast()
}

/// # Safety
///
/// `p` is from `Arc::<T>::into_raw()`; the caller gives up its reference.
unsafe fn put_data<T: MiscDevice>(p: *const c_void) {
    // SAFETY: By the function's requirements.
    drop(unsafe { Arc::<T>::from_raw(p.cast()) });
}

/// # Safety
///
/// `p` is from `Arc::<T>::into_raw()`, with a reference the caller holds.
unsafe fn ioctl_data<T: MiscDevice>(p: *const c_void, cmd: u32, arg: UserArg) -> Result<i32> {
    // SAFETY: A live `T` by the function's requirements.
    unsafe { &*p.cast::<T>() }.ioctl(cmd, arg)
}

/// What an open file's `private_data` points to.
struct FileRef {
    data: *const c_void,
    vtbl: &'static Vtbl,
}

/// # Invariants
///
/// `misc` is registered with `name` and the C file operations while the
/// [`Registration`] lives; `data` is a reference from `Arc::into_raw()`
/// that the registration holds, to the data `vtbl` was made for.
#[repr(C)]
struct Inner {
    misc: Opaque<bindings::miscdevice>,
    data: *const c_void,
    vtbl: &'static Vtbl,
    name: [u8; 32],
}

/// A registered misc device `/dev/<name>` whose ioctls `T` handles.
pub struct Registration<T: MiscDevice> {
    inner: Pin<KBox<Inner>>,
    _p: core::marker::PhantomData<T>,
}

// SAFETY: The registration is a pointer to C state and an `Arc<T>` of
// `Send + Sync` data.
unsafe impl<T: MiscDevice> Send for Registration<T> {}
// SAFETY: No `&self` method.
unsafe impl<T: MiscDevice> Sync for Registration<T> {}

impl<T: MiscDevice> Registration<T> {
    const VTBL: Vtbl = Vtbl {
        clone: clone_data::<T>,
        put: put_data::<T>,
        ioctl: ioctl_data::<T>,
    };

    /// Registers `/dev/<name>` (root only, mode 0600) handled by `data`.
    pub fn register(name: core::fmt::Arguments<'_>, data: Arc<T>) -> Result<Self> {
        let mut buf = [0u8; 32];
        crate::format_name(&mut buf, name)?;
        let raw = Arc::into_raw(data).cast::<c_void>();
        let inner = KBox::pin(
            Inner {
                misc: Opaque::uninit(),
                data: raw,
                vtbl: &Self::VTBL,
                name: buf,
            },
            GFP_KERNEL,
        );
        let inner = match inner {
            Ok(i) => i,
            Err(e) => {
                // SAFETY: The reference made above, not stored.
                unsafe { put_data::<T>(raw) };
                return Err(e.into());
            }
        };
        let misc = inner.misc.get();
        // SAFETY: `misc` is ours, pinned in the box, not registered yet; the
        // name lives in the same box.
        let ret = unsafe {
            misc.write(bindings::miscdevice {
                minor: bindings::MISC_DYNAMIC_MINOR as c_int,
                name: inner.name.as_ptr().cast(),
                fops: &bindings::rust_suite_misc_fops,
                mode: 0o600,
                ..pin_init::zeroed()
            });
            bindings::misc_register(misc)
        };
        if ret != 0 {
            // SAFETY: Not registered: the reference is the box's alone.
            unsafe { put_data::<T>(raw) };
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: Registered above, holding the reference `raw`.
        Ok(Self {
            inner,
            _p: core::marker::PhantomData,
        })
    }
}

impl<T: MiscDevice> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: Registered (type invariant). `misc_deregister()` takes
        // the lock that `open` runs under, so no open is using `inner`
        // afterwards; open files hold their own references.
        unsafe { bindings::misc_deregister(self.inner.misc.get()) };
        // SAFETY: The registration's reference (type invariant).
        unsafe { (self.inner.vtbl.put)(self.inner.data) };
    }
}

/// `open` of `rust_suite_misc_fops`.
///
/// # Safety
///
/// Called by `misc_open()`, under the misc device lock, with
/// `private_data` set to a `miscdevice` of a live [`Registration`].
#[no_mangle]
unsafe extern "C" fn rust_suite_misc_open(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` is the `misc` field of a registered `Inner`
    // (`repr(C)`, first field), alive while the lock is held.
    let inner = unsafe { &*(*file).private_data.cast::<Inner>() };
    // SAFETY: The registration holds a reference to `data`.
    let data = unsafe { (inner.vtbl.clone)(inner.data) };
    match KBox::new(
        FileRef {
            data,
            vtbl: inner.vtbl,
        },
        GFP_KERNEL,
    ) {
        Ok(f) => {
            // SAFETY: The file is being opened; its private data is ours.
            unsafe { (*file).private_data = KBox::into_raw(f).cast() };
            0
        }
        Err(_) => {
            // SAFETY: The reference taken above.
            unsafe { (inner.vtbl.put)(data) };
            ENOMEM.to_errno()
        }
    }
}

/// `release` of `rust_suite_misc_fops`.
///
/// # Safety
///
/// Called once per file that `rust_suite_misc_open` opened.
#[no_mangle]
unsafe extern "C" fn rust_suite_misc_release(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: Set by `rust_suite_misc_open`, released once here.
    let f = unsafe { KBox::from_raw((*file).private_data.cast::<FileRef>()) };
    // SAFETY: The file's reference.
    unsafe { (f.vtbl.put)(f.data) };
    0
}

/// `unlocked_ioctl` of `rust_suite_misc_fops`.
///
/// # Safety
///
/// Called for a file that `rust_suite_misc_open` opened and that is not
/// released yet.
#[no_mangle]
unsafe extern "C" fn rust_suite_misc_ioctl(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: Set by `rust_suite_misc_open`, valid until release.
    let f = unsafe { &*(*file).private_data.cast::<FileRef>() };
    // SAFETY: The file holds a reference to `data`.
    match unsafe { (f.vtbl.ioctl)(f.data, cmd, UserArg(arg)) } {
        Ok(v) => v as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}
