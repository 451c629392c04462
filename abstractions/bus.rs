// SPDX-License-Identifier: GPL-2.0

//! A device's bus: the memory a (virtual) device reaches by DMA.
//!
//! Like an IOMMU, the bus hands out addresses for pages put on it and
//! refuses every other address, so a device model that follows pointers
//! found in shared memory can fail but never touch memory it was not given.
//! Every page on the bus holds a page reference, so memory stays valid until
//! it leaves the bus, whatever else happens to its owner. Bus addresses are
//! 16 KiB aligned and never reused.

use crate::{bindings, gem};
use core::ptr::NonNull;
use kernel::{error::to_result, prelude::*, sync::Arc};

/// An access to an address that is not on the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusError;

impl From<BusError> for Error {
    fn from(_: BusError) -> Error {
        EFAULT
    }
}

/// A bus.
///
/// # Invariants
///
/// `ptr` was returned by `rust_suite_bus_new()` and is freed only on drop.
pub struct Bus {
    ptr: NonNull<bindings::rust_suite_bus>,
}

// SAFETY: The C bus locks its page table internally.
unsafe impl Send for Bus {}
// SAFETY: See `Send`.
unsafe impl Sync for Bus {}

impl Bus {
    /// Creates an empty bus.
    pub fn new() -> Result<Arc<Self>> {
        // SAFETY: No preconditions.
        let ptr = NonNull::new(unsafe { bindings::rust_suite_bus_new() }).ok_or(ENOMEM)?;
        Ok(Arc::new(Self { ptr }, GFP_KERNEL)?)
    }

    /// Reads `buf.len()` bytes at bus address `addr`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), BusError> {
        // SAFETY: The bus is alive (type invariant); `buf` is valid for
        // writes of its length.
        let r = unsafe {
            bindings::rust_suite_bus_rw(
                self.ptr.as_ptr(),
                addr,
                buf.as_mut_ptr().cast(),
                buf.len(),
                false,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(BusError)
        }
    }

    /// Writes `buf` at bus address `addr`.
    pub fn write(&self, addr: u64, buf: &[u8]) -> Result<(), BusError> {
        // SAFETY: The bus is alive; `buf` is valid for reads of its length
        // and the C side only reads it when `write` is true.
        let r = unsafe {
            bindings::rust_suite_bus_rw(
                self.ptr.as_ptr(),
                addr,
                buf.as_ptr().cast_mut().cast(),
                buf.len(),
                true,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(BusError)
        }
    }

    /// Puts `npages` new zeroed pages on the bus; they are freed when the
    /// mapping is dropped.
    pub fn alloc(self: &Arc<Self>, npages: usize) -> Result<BusMapping> {
        let mut addr = 0;
        // SAFETY: The bus is alive.
        to_result(unsafe { bindings::rust_suite_bus_alloc(self.ptr.as_ptr(), npages, &mut addr) })?;
        Ok(BusMapping {
            bus: self.clone(),
            addr,
            npages,
        })
    }

    /// Puts pages `first..first + npages` of a GEM object on the bus. The
    /// pages are pinned for the rest of the object's life. Objects imported
    /// from another device get `EOPNOTSUPP`.
    pub fn map_gem(
        self: &Arc<Self>,
        obj: &gem::Object,
        first: usize,
        npages: usize,
    ) -> Result<BusMapping> {
        let mut addr = 0;
        // SAFETY: The bus and the object are alive; the C side checks the
        // page range against the object's size.
        to_result(unsafe {
            bindings::rust_suite_bus_map_gem(
                self.ptr.as_ptr(),
                obj.as_raw(),
                first,
                npages,
                &mut addr,
            )
        })?;
        Ok(BusMapping {
            bus: self.clone(),
            addr,
            npages,
        })
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        // SAFETY: Every `BusMapping` holds an `Arc` of the bus, so none is
        // left; the pointer is not used after this.
        unsafe { bindings::rust_suite_bus_free(self.ptr.as_ptr()) };
    }
}

/// Pages on a bus, at consecutive addresses; dropping it takes them off.
pub struct BusMapping {
    bus: Arc<Bus>,
    addr: u64,
    npages: usize,
}

impl BusMapping {
    /// Bus address of the first page.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        (self.npages as u64) << kernel::page::PAGE_SHIFT
    }

    /// Whether the mapping is empty (never: mappings have pages).
    pub fn is_empty(&self) -> bool {
        self.npages == 0
    }

    fn check(&self, off: u64, len: usize) -> Result {
        match off.checked_add(len as u64) {
            Some(end) if end <= self.len() => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Reads at offset `off` of the mapping.
    pub fn read(&self, off: u64, buf: &mut [u8]) -> Result {
        self.check(off, buf.len())?;
        Ok(self.bus.read(self.addr + off, buf)?)
    }

    /// Writes at offset `off` of the mapping.
    pub fn write(&self, off: u64, buf: &[u8]) -> Result {
        self.check(off, buf.len())?;
        Ok(self.bus.write(self.addr + off, buf)?)
    }

    /// Reads a little-endian `u32` at offset `off`.
    pub fn read_u32(&self, off: u64) -> Result<u32> {
        let mut b = [0; 4];
        self.read(off, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Writes a little-endian `u32` at offset `off`.
    pub fn write_u32(&self, off: u64, v: u32) -> Result {
        self.write(off, &v.to_le_bytes())
    }

    /// Writes a little-endian `u64` at offset `off`.
    pub fn write_u64(&self, off: u64, v: u64) -> Result {
        self.write(off, &v.to_le_bytes())
    }
}

impl Drop for BusMapping {
    fn drop(&mut self) {
        // SAFETY: The mapping owns these bus pages; the bus is alive.
        unsafe { bindings::rust_suite_bus_unmap(self.bus.ptr.as_ptr(), self.addr, self.npages) };
    }
}
