// SPDX-License-Identifier: GPL-2.0

//! GEM objects backed by shmem (`drm_gem_shmem`).
//!
//! The objects of drivers built on [`crate::drm`] with
//! [`Features::GEM`](crate::drm::Features::GEM): created by the driver, named
//! by per-file handles, mapped by userspace through the DRM file's mmap, and
//! shared through PRIME (the DRM core's default PRIME ioctls).
//!
//! C header: [`include/drm/drm_gem_shmem_helper.h`](srctree/include/drm/drm_gem_shmem_helper.h)

use crate::{
    bindings,
    drm::{Device, Driver, File},
};
use core::ptr::NonNull;
use kernel::{
    error::{from_err_ptr, to_result},
    prelude::*,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};

/// A GEM shmem object.
///
/// # Invariants
///
/// It wraps the `struct drm_gem_object` embedded in a
/// `struct drm_gem_shmem_object` (made by `drm_gem_shmem_create()` or by
/// PRIME import into a device with [`Features::GEM`]), whose reference count
/// is positive while a `&Object` exists.
///
/// [`Features::GEM`]: crate::drm::Features::GEM
#[repr(transparent)]
pub struct Object(Opaque<bindings::drm_gem_object>);

// SAFETY: GEM objects are reference counted by the DRM core, which locks
// what it changes; the methods only read constant fields or call
// thread-safe functions.
unsafe impl Send for Object {}
// SAFETY: See `Send`.
unsafe impl Sync for Object {}

// SAFETY: `drm_gem_object_get/put` keep the object alive while the count is
// positive, as `AlwaysRefCounted` requires.
unsafe impl AlwaysRefCounted for Object {
    fn inc_ref(&self) {
        // SAFETY: The object is alive (type invariant).
        unsafe { bindings::rust_suite_gem_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference to give back.
        unsafe { bindings::rust_suite_gem_put(obj.as_ptr().cast()) };
    }
}

impl Object {
    /// The raw object.
    pub(crate) fn as_raw(&self) -> *mut bindings::drm_gem_object {
        self.0.get()
    }

    /// Creates a shmem object of `size` bytes (rounded up to pages).
    pub fn new_shmem<T: Driver>(dev: &Device<T>, size: usize) -> Result<ARef<Self>> {
        // SAFETY: `dev` is a live DRM device; the new object gets one
        // reference, which the `ARef` takes over.
        let obj = from_err_ptr(unsafe { bindings::rust_suite_gem_create(dev.as_raw(), size) })?;
        let obj = NonNull::new(obj.cast::<Self>()).ok_or(ENOMEM)?;
        // INVARIANT: A shmem object with one reference, ours.
        // SAFETY: We own the reference `drm_gem_shmem_create()` returned.
        Ok(unsafe { ARef::from_raw(obj) })
    }

    /// Looks up the object a handle of `file` names; `ENOENT` if none.
    pub fn lookup<T: Driver>(file: &File<T>, handle: u32) -> Result<ARef<Self>> {
        // SAFETY: `file` is an open DRM file; the lookup returns a new
        // reference or NULL.
        let obj = unsafe { bindings::drm_gem_object_lookup(file.as_raw(), handle) };
        let obj = NonNull::new(obj.cast::<Self>()).ok_or(ENOENT)?;
        // INVARIANT: Objects of a device with `Features::GEM` are shmem
        // objects, created by `new_shmem` or by PRIME import.
        // SAFETY: The lookup gave us a reference.
        Ok(unsafe { ARef::from_raw(obj) })
    }

    /// Creates a handle for the object in `file`.
    pub fn create_handle<T: Driver>(&self, file: &File<T>) -> Result<u32> {
        let mut handle = 0;
        // SAFETY: `file` is open and the object alive; the handle takes its
        // own reference.
        to_result(unsafe {
            bindings::drm_gem_handle_create(file.as_raw(), self.as_raw(), &mut handle)
        })?;
        Ok(handle)
    }

    /// Size in bytes, a multiple of the page size.
    pub fn size(&self) -> usize {
        // SAFETY: `size` is set at creation and never changes.
        unsafe { (*self.as_raw()).size }
    }

    /// The fake offset at which userspace maps the object through the DRM
    /// file.
    pub fn mmap_offset(&self) -> Result<u64> {
        let mut offset = 0;
        // SAFETY: The object is alive.
        to_result(unsafe { bindings::rust_suite_gem_mmap_offset(self.as_raw(), &mut offset) })?;
        Ok(offset)
    }
}
