// SPDX-License-Identifier: GPL-2.0

//! Access to the C `struct device` behind the kernel crate's device types.

use crate::bindings;
use kernel::device::{Device, DeviceContext};

/// Returns the `struct device` that `dev` wraps.
///
/// `kernel::device::Device::as_raw()` is private to the kernel crate; this is
/// the same conversion for this crate's bindings.
pub(crate) fn as_raw<Ctx: DeviceContext>(dev: &Device<Ctx>) -> *mut bindings::device {
    // `Device` is `#[repr(transparent)]` over `Opaque<bindings::device>`,
    // itself `#[repr(transparent)]` over the C struct, so the pointers are the
    // same; `Opaque` allows the C side to mutate through it.
    core::ptr::from_ref(dev).cast_mut().cast()
}
