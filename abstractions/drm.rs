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
use core::{marker::PhantomData, ops::BitOr, ptr::NonNull};
use kernel::{
    device::{Bound, Device},
    error::{from_err_ptr, to_result},
    prelude::*,
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
    /// render node.
    const FEATURES: Features;
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
    /// Creates a DRM device of driver `T` under `parent` and registers it.
    pub fn new(parent: &Device<Bound>) -> Result<Self> {
        // SAFETY: The driver struct is `'static` (see `VTable::DRM_DRIVER`);
        // `parent` is a bound device, which the DRM core takes a reference to.
        let drm = from_err_ptr(unsafe {
            bindings::drm_dev_alloc(&VTable::<T>::DRM_DRIVER, device::as_raw(parent))
        })?;
        // INVARIANT: `drm_dev_alloc()` succeeded and gave us its reference;
        // on failure to register it is dropped right here, never used again.
        let drm = NonNull::new(drm).ok_or(ENOMEM)?;
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
