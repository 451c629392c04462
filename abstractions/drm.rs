// SPDX-License-Identifier: GPL-2.0

//! DRM devices with the suite's own driver vtable.
//!
//! `kernel::drm` can only set the GEM and RENDER driver features and reads its
//! ioctl structures from `kernel::uapi`; a GPU driver with explicit sync needs
//! SYNCOBJ and SYNCOBJ_TIMELINE too, and an out-of-tree UAPI. This module
//! builds the `struct drm_driver` itself.
//!
//! C header: [`include/drm/drm_drv.h`](srctree/include/drm/drm_drv.h)

use crate::{bindings, device};
use core::{ffi::c_void, marker::PhantomData, ops::BitOr, ptr::NonNull};
use kernel::{
    device::{Bound, Device as GenericDevice},
    error::{from_err_ptr, to_result},
    prelude::*,
    sync::Arc,
    types::Opaque,
};

/// A set of DRM driver features (`enum drm_driver_feature`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features(u32);

impl Features {
    /// Uses the GEM memory manager.
    pub const GEM: Self = Self(bindings::drm_driver_feature_DRIVER_GEM);
    /// Exposes a render node, `/dev/dri/renderD*`.
    pub const RENDER: Self = Self(bindings::drm_driver_feature_DRIVER_RENDER);
    /// Supports `drm_syncobj` for explicit synchronisation.
    pub const SYNCOBJ: Self = Self(bindings::drm_driver_feature_DRIVER_SYNCOBJ);
    /// Supports timeline `drm_syncobj`s.
    pub const SYNCOBJ_TIMELINE: Self = Self(bindings::drm_driver_feature_DRIVER_SYNCOBJ_TIMELINE);

    /// The raw `driver_features` value.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// `self | other`, usable in constants.
    pub const fn bitor_const(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every feature of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Features {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        self.bitor_const(rhs)
    }
}

/// A DRM driver: what goes into its `struct drm_driver`.
pub trait Driver: 'static {
    /// Driver name, as `DRM_IOCTL_VERSION` reports it. Must not be a name
    /// that userspace binds a real driver to.
    const NAME: &'static CStr;
    /// One-line description.
    const DESC: &'static CStr;
    /// Major version of the driver's UAPI.
    const MAJOR: i32;
    /// Minor version of the driver's UAPI.
    const MINOR: i32;
    /// Patch level.
    const PATCHLEVEL: i32;
    /// Features the device has. A driver with [`Features::RENDER`] gets a
    /// render node. With [`Features::GEM`], objects are GEM shmem objects
    /// ([`crate::gem`]) and PRIME import builds them from the buffer's pages.
    const FEATURES: Features;

    /// The device's data, shared by every open file.
    type Data: Send + Sync;

    /// Data of each open file.
    type File: Send + Sync;

    /// The driver's own ioctls: entry `i` is made by [`IoctlDesc::new`]
    /// with `NR == i` (checked at registration).
    const IOCTLS: &'static [IoctlDesc];

    /// Called when a file of the device is opened.
    fn open(dev: &Device<Self>) -> Result<KBox<Self::File>>
    where
        Self: Sized;

    /// Runs the driver's ioctl `nr` (relative to `DRM_COMMAND_BASE`).
    /// `data` is the argument the DRM core copied in, exactly as long as
    /// the ioctl's structure; what is left in it is copied out for ioctls
    /// that write. The returned value is the ioctl's return value.
    fn ioctl(dev: &Device<Self>, file: &File<Self>, nr: u32, data: &mut [u8]) -> Result<u32>
    where
        Self: Sized;
}

/// A DRM device, as its driver's callbacks see it.
///
/// # Invariants
///
/// It wraps a `struct drm_device` allocated for `VTable::<T>::DRM_DRIVER`
/// whose `dev_private` is an `Arc<T::Data>` turned into a raw pointer
/// (`Arc::into_raw`), kept
/// until the device is released.
#[repr(transparent)]
pub struct Device<T: Driver>(Opaque<bindings::drm_device>, PhantomData<T>);

impl<T: Driver> Device<T> {
    /// # Safety
    ///
    /// `ptr` is a device of driver `T` (see the type invariants) that
    /// stays alive for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::drm_device) -> &'a Self {
        // SAFETY: `Device` is a transparent wrapper of `drm_device`; the
        // caller guarantees the pointer is valid for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// The raw `struct drm_device`.
    pub(crate) fn as_raw(&self) -> *mut bindings::drm_device {
        self.0.get()
    }

    /// The device's data.
    pub fn data(&self) -> &T::Data {
        // SAFETY: By the type invariants `dev_private` holds an
        // `Arc<T::Data>` that lives as long as the device, which outlives
        // `&self`.
        unsafe { &*(*self.as_raw()).dev_private.cast::<T::Data>() }
    }
}

/// An open file of a DRM device.
///
/// # Invariants
///
/// It wraps a `struct drm_file` of a device of driver `T`, between `open`
/// and `postclose`, whose `driver_priv` is a `KBox<T::File>` turned into a
/// raw pointer.
#[repr(transparent)]
pub struct File<T: Driver>(Opaque<bindings::drm_file>, PhantomData<T>);

impl<T: Driver> File<T> {
    /// # Safety
    ///
    /// `ptr` is an open file of a device of driver `T` (see the type
    /// invariants) that stays open for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::drm_file) -> &'a Self {
        // SAFETY: `File` is a transparent wrapper of `drm_file`; the caller
        // guarantees the pointer is valid for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// The raw `struct drm_file`.
    pub(crate) fn as_raw(&self) -> *mut bindings::drm_file {
        self.0.get()
    }

    /// The file's data.
    pub fn data(&self) -> &T::File {
        // SAFETY: By the type invariants `driver_priv` holds a
        // `KBox<T::File>` until `postclose`, which cannot run while a
        // callback holds `&self`.
        unsafe { &*(*self.as_raw()).driver_priv.cast::<T::File>() }
    }
}

/// Direction of an ioctl's data, as `_IOC_DIR` encodes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoctlDir {
    /// `_IOW`: userspace writes, the driver reads.
    Write = 1,
    /// `_IOWR`: both.
    ReadWrite = 3,
}

/// One entry of a driver's ioctl table (`struct drm_ioctl_desc`).
#[repr(transparent)]
pub struct IoctlDesc(bindings::drm_ioctl_desc);

// SAFETY: The entry is constant: an integer, a function pointer and a
// pointer to a static string.
unsafe impl Sync for IoctlDesc {}

impl IoctlDesc {
    /// The entry of driver ioctl `NR` (relative to `DRM_COMMAND_BASE`),
    /// whose argument is a structure of `SIZE` bytes. It is allowed on
    /// render nodes; the DRM core copies `SIZE` bytes in and, for
    /// [`IoctlDir::ReadWrite`], out.
    // `CStrExt::as_char_ptr()` is not `const`; the cast is what it does.
    #[allow(clippy::disallowed_methods)]
    pub const fn new<T: Driver, const NR: u32, const SIZE: usize>(dir: IoctlDir) -> Self {
        // _IOC(dir, 'd', DRM_COMMAND_BASE + NR, SIZE)
        let cmd = ((dir as u32) << 30) | ((SIZE as u32) << 16) | ((b'd' as u32) << 8) | (0x40 + NR);
        Self(bindings::drm_ioctl_desc {
            cmd,
            flags: bindings::drm_ioctl_flags_DRM_RENDER_ALLOW,
            func: Some(ioctl_callback::<T, NR, SIZE>),
            name: c"driver ioctl".as_ptr().cast(),
        })
    }

    fn nr(&self) -> u32 {
        (self.0.cmd & 0xff).wrapping_sub(0x40)
    }
}

/// `drm_ioctl_t` of driver ioctl `NR`, argument of `SIZE` bytes.
///
/// # Safety
///
/// Called by the DRM core for an open file of a device of driver `T`, with
/// `data` pointing to at least `SIZE` bytes (the core's buffer is at least
/// as big as the size in the table entry's command, which is `SIZE`).
unsafe extern "C" fn ioctl_callback<T: Driver, const NR: u32, const SIZE: usize>(
    dev: *mut bindings::drm_device,
    data: *mut c_void,
    file: *mut bindings::drm_file,
) -> kernel::ffi::c_int {
    // SAFETY: See the function's safety section: `data` is a kernel
    // buffer of at least `SIZE` bytes, ours for the duration of the call.
    let data = unsafe { core::slice::from_raw_parts_mut(data.cast::<u8>(), SIZE) };
    // SAFETY: `dev` is a device of driver `T`, alive during the ioctl.
    let dev = unsafe { Device::<T>::from_raw(dev) };
    // SAFETY: `file` is an open file of `dev`, open during the ioctl.
    let file = unsafe { File::<T>::from_raw(file) };
    match T::ioctl(dev, file, NR, data) {
        Ok(v) => v.min(i32::MAX as u32) as kernel::ffi::c_int,
        Err(e) => e.to_errno(),
    }
}

/// `drm_driver.open`.
///
/// # Safety
///
/// Called by the DRM core with a device of driver `T` and a new file.
unsafe extern "C" fn open_callback<T: Driver>(
    dev: *mut bindings::drm_device,
    file: *mut bindings::drm_file,
) -> kernel::ffi::c_int {
    // SAFETY: `dev` is a device of driver `T`, alive during the call.
    let dev = unsafe { Device::<T>::from_raw(dev) };
    match T::open(dev) {
        Ok(data) => {
            // INVARIANT: `driver_priv` holds the file's data from now until
            // `postclose_callback`.
            // SAFETY: `file` is valid and not yet visible to userspace.
            unsafe { (*file).driver_priv = KBox::into_raw(data).cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `drm_driver.postclose`.
///
/// # Safety
///
/// Called by the DRM core once per file that `open_callback` accepted, when
/// no ioctl can run on it any more.
unsafe extern "C" fn postclose_callback<T: Driver>(
    _dev: *mut bindings::drm_device,
    file: *mut bindings::drm_file,
) {
    // SAFETY: `driver_priv` was set by `open_callback` from
    // `KBox::into_raw` and is not used after this.
    drop(unsafe { KBox::from_raw((*file).driver_priv.cast::<T::File>()) });
}

/// `drm_driver.release`: the last reference to the device is gone.
///
/// # Safety
///
/// Called by the DRM core once, for a device of driver `T`.
unsafe extern "C" fn release_callback<T: Driver>(dev: *mut bindings::drm_device) {
    // SAFETY: `dev_private` was set by `Registration::new` from
    // `Arc::into_foreign` and nothing uses it after the release.
    drop(unsafe { Arc::<T::Data>::from_raw((*dev).dev_private.cast::<T::Data>()) });
}

/// The `struct drm_driver` of a [`Driver`].
struct VTable<T>(PhantomData<T>);

impl<T: Driver> VTable<T> {
    // SAFETY: `struct drm_driver` is a C struct of integers, pointers and
    // optional function pointers, for all of which zero is a valid value
    // (0, NULL and `None`).
    const ZEROED: bindings::drm_driver = unsafe { core::mem::zeroed() };

    /// Referenced as `&Self::DRM_DRIVER`, this is promoted to a `'static`
    /// allocation: the DRM core keeps the pointer until the last reference
    /// to the device is gone, possibly after the driver unregistered it.
    // `CStrExt::as_char_ptr()` is not `const`; the cast to the kernel's
    // unsigned `char` is what it would do.
    #[allow(clippy::disallowed_methods)]
    const DRM_DRIVER: bindings::drm_driver = bindings::drm_driver {
        driver_features: T::FEATURES.bits(),
        name: T::NAME.as_ptr().cast_mut().cast(),
        desc: T::DESC.as_ptr().cast_mut().cast(),
        major: T::MAJOR,
        minor: T::MINOR,
        patchlevel: T::PATCHLEVEL,
        fops: &raw const bindings::rust_suite_drm_gem_fops,
        open: Some(open_callback::<T>),
        postclose: Some(postclose_callback::<T>),
        release: Some(release_callback::<T>),
        ioctls: T::IOCTLS.as_ptr().cast(),
        num_ioctls: T::IOCTLS.len() as i32,
        gem_prime_import_sg_table: if T::FEATURES.contains(Features::GEM) {
            Some(bindings::drm_gem_shmem_prime_import_sg_table)
        } else {
            None
        },
        ..Self::ZEROED
    };
}

/// A DRM device registered with userspace.
///
/// Dropping it unregisters the device; it is freed once the last open file
/// of it is closed.
///
/// # Invariants
///
/// `drm` points to a `struct drm_device` allocated by `drm_dev_alloc()` for
/// `VTable::<T>::DRM_DRIVER` and registered by `drm_dev_register()`; this
/// object owns one reference to it.
pub struct Registration<T: Driver> {
    drm: NonNull<bindings::drm_device>,
    _driver: PhantomData<T>,
}

// SAFETY: The DRM core serialises registration and reference counting
// internally; the object only holds a counted reference.
unsafe impl<T: Driver> Send for Registration<T> {}
// SAFETY: See `Send`; `&self` methods only read fields set at registration.
unsafe impl<T: Driver> Sync for Registration<T> {}

impl<T: Driver> Registration<T> {
    /// Creates a DRM device of driver `T` with `data` under `parent` and
    /// registers it.
    pub fn new(parent: &GenericDevice<Bound>, data: Arc<T::Data>) -> Result<Self> {
        if T::IOCTLS
            .iter()
            .enumerate()
            .any(|(i, d)| d.nr() as usize != i)
        {
            pr_err!("DRM ioctl table out of order\n");
            return Err(EINVAL);
        }
        if T::FEATURES.contains(Features::GEM) {
            // SAFETY: `parent` is a valid device.
            unsafe { bindings::rust_suite_drm_set_dma_mask(device::as_raw(parent)) };
        }
        // SAFETY: The driver struct is `'static` (see `VTable::DRM_DRIVER`);
        // `parent` is a bound device, which the DRM core takes a reference to.
        let drm = from_err_ptr(unsafe {
            bindings::drm_dev_alloc(&VTable::<T>::DRM_DRIVER, device::as_raw(parent))
        })?;
        // INVARIANT: `drm_dev_alloc()` succeeded and gave us its reference;
        // on failure to register it is dropped right here, never used again.
        let drm = NonNull::new(drm).ok_or(ENOMEM)?;
        // INVARIANT: `dev_private` holds the data until `release_callback`,
        // which runs when the last reference goes, here or later.
        // SAFETY: `drm` is valid and not yet visible to anyone else.
        unsafe { (*drm.as_ptr()).dev_private = Arc::into_raw(data).cast_mut().cast() };
        // SAFETY: `drm` is a valid, not yet registered DRM device.
        if let Err(e) = to_result(unsafe { bindings::drm_dev_register(drm.as_ptr(), 0) }) {
            // SAFETY: We own the only reference to `drm`.
            unsafe { bindings::drm_dev_put(drm.as_ptr()) };
            return Err(e);
        }
        Ok(Self {
            drm,
            _driver: PhantomData,
        })
    }

    /// The index of the render node, `N` in `/dev/dri/renderDN`, if the
    /// driver has [`Features::RENDER`].
    pub fn render_minor(&self) -> Option<i32> {
        // SAFETY: `self.drm` is a valid, registered device by the type
        // invariant; its `render` minor is set at allocation and stays until
        // the device is freed.
        let render = unsafe { (*self.drm.as_ptr()).render };
        // SAFETY: A non-NULL `render` points to the device's render minor,
        // which lives as long as the device.
        (!render.is_null()).then(|| unsafe { (*render).index })
    }
}

impl<T: Driver> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: `self.drm` is registered and we own a reference to it
        // (type invariant); it is not used after this.
        unsafe {
            bindings::drm_dev_unregister(self.drm.as_ptr());
            bindings::drm_dev_put(self.drm.as_ptr());
        }
    }
}
