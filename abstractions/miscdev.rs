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

/// Most [`MiscDevice::TRIGGERS`] a device may have.
pub const MAX_TRIGGERS: usize = 4;

/// What a misc device does with its ioctls and sysfs triggers.
pub trait MiscDevice: Send + Sync + 'static {
    /// Write-only (root) sysfs attributes of the device, in
    /// `/sys/class/misc/<name>/`: writing anything to the one at index `i`
    /// calls [`MiscDevice::trigger`] with `i`, as `reset_controller` does
    /// for the C NVMe driver. At most [`MAX_TRIGGERS`].
    const TRIGGERS: &'static [&'static CStr] = &[];

    /// Handles ioctl `cmd` with argument `arg`; the return value is the
    /// ioctl's (non-negative), an error its negative errno.
    fn ioctl(&self, cmd: u32, arg: UserArg) -> Result<i32>;

    /// Runs trigger `index` of [`MiscDevice::TRIGGERS`]; an error fails the
    /// write with it. Called in process context, so it may sleep.
    fn trigger(&self, _index: usize) -> Result {
        Err(EINVAL)
    }
}

/// An ioctl's argument: a user address, or a number.
#[derive(Clone, Copy, Debug)]
pub struct UserArg(pub(crate) usize);

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
    trigger: unsafe fn(*const c_void, usize) -> Result,
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

/// # Safety
///
/// `p` is from `Arc::<T>::into_raw()`, with a reference the caller holds.
unsafe fn trigger_data<T: MiscDevice>(p: *const c_void, index: usize) -> Result {
    // SAFETY: A live `T` by the function's requirements.
    unsafe { &*p.cast::<T>() }.trigger(index)
}

/// What an open file's `private_data` points to.
struct FileRef {
    data: *const c_void,
    vtbl: &'static Vtbl,
}

/// # Invariants
///
/// `misc` is registered with `name`, the C file operations and `groups`
/// while the [`Registration`] lives; `data` is a reference from
/// `Arc::into_raw()` that the registration holds, to the data `vtbl` was
/// made for. `attrs[..n]` are the device's triggers, listed in `attr_ptrs`
/// and `group`.
#[repr(C)]
struct Inner {
    misc: Opaque<bindings::miscdevice>,
    data: *const c_void,
    vtbl: &'static Vtbl,
    name: [u8; 32],
    attrs: [Opaque<bindings::device_attribute>; MAX_TRIGGERS],
    attr_ptrs: [*mut bindings::attribute; MAX_TRIGGERS + 1],
    group: Opaque<bindings::attribute_group>,
    groups: [*const bindings::attribute_group; 2],
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
        trigger: trigger_data::<T>,
    };

    /// Registers `/dev/<name>` (root only, mode 0600) handled by `data`,
    /// with the sysfs triggers of `T`.
    pub fn register(name: core::fmt::Arguments<'_>, data: Arc<T>) -> Result<Self> {
        if T::TRIGGERS.len() > MAX_TRIGGERS {
            return Err(EINVAL);
        }
        let mut buf = [0u8; 32];
        crate::format_name(&mut buf, name)?;
        let raw = Arc::into_raw(data).cast::<c_void>();
        let inner = KBox::pin(
            Inner {
                misc: Opaque::uninit(),
                data: raw,
                vtbl: &Self::VTBL,
                name: buf,
                attrs: [const { Opaque::uninit() }; MAX_TRIGGERS],
                attr_ptrs: [core::ptr::null_mut(); MAX_TRIGGERS + 1],
                group: Opaque::uninit(),
                groups: [core::ptr::null(); 2],
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
        let mut inner = inner;
        // SAFETY: Nothing is registered yet, so nothing else sees the box;
        // it is not moved out of.
        let fields = unsafe { Pin::get_unchecked_mut(inner.as_mut()) };
        for (i, name) in T::TRIGGERS.iter().enumerate() {
            let attr = fields.attrs[i].get();
            // SAFETY: `attr` is ours, in the pinned box; the name is
            // static; the store callback finds the box through the device's
            // driver data (see `trigger_store`).
            unsafe {
                attr.write(bindings::device_attribute {
                    attr: bindings::attribute {
                        name: name.as_char_ptr(),
                        mode: 0o200,
                        ..pin_init::zeroed()
                    },
                    __bindgen_anon_2: bindings::device_attribute__bindgen_ty_2 {
                        store: Some(trigger_store),
                    },
                    ..pin_init::zeroed()
                });
                bindings::rust_suite_sysfs_attr_init(&raw mut (*attr).attr);
                fields.attr_ptrs[i] = &raw mut (*attr).attr;
            }
        }
        let group = fields.group.get();
        // SAFETY: `group` is ours, in the pinned box, and lists attributes
        // in the same box (null-terminated).
        unsafe {
            group.write(bindings::attribute_group {
                __bindgen_anon_2: bindings::attribute_group__bindgen_ty_2 {
                    attrs: fields.attr_ptrs.as_mut_ptr(),
                },
                ..pin_init::zeroed()
            })
        };
        fields.groups[0] = group;
        let misc = fields.misc.get();
        let has_triggers = !T::TRIGGERS.is_empty();
        // SAFETY: `misc` is ours, pinned in the box, not registered yet; the
        // name and attribute groups live in the same box.
        let ret = unsafe {
            misc.write(bindings::miscdevice {
                minor: bindings::MISC_DYNAMIC_MINOR as c_int,
                name: fields.name.as_ptr().cast(),
                fops: &bindings::rust_suite_misc_fops,
                groups: if has_triggers {
                    fields.groups.as_mut_ptr()
                } else {
                    core::ptr::null_mut()
                },
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

/// `store` of a trigger attribute.
///
/// # Safety
///
/// Called by sysfs for an attribute in `attrs` of a registered [`Inner`],
/// on its device. `misc_deregister()` removes the attribute and waits for
/// calls in progress, so `Inner` and its data outlive the call.
unsafe extern "C" fn trigger_store(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    _buf: *const kernel::ffi::c_char,
    count: usize,
) -> isize {
    // SAFETY: `misc_register()` made the device with the `miscdevice` as
    // its driver data: the first field of a `repr(C)` `Inner`.
    let inner = unsafe { &*bindings::dev_get_drvdata(dev).cast::<Inner>() };
    let index = (attr as usize - inner.attrs.as_ptr() as usize)
        / core::mem::size_of::<Opaque<bindings::device_attribute>>();
    // SAFETY: The registration holds a reference to `data`.
    match unsafe { (inner.vtbl.trigger)(inner.data, index) } {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
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
