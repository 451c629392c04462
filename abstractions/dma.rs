// SPDX-License-Identifier: GPL-2.0

//! Coherent DMA memory that a device reads and writes while the driver does:
//! queue rings, PRP lists, data structures the device returns.
//!
//! `kernel::dma::Coherent` types the whole region; a queue is rather an array
//! of entries at offsets that the driver computes, one of which the device
//! may be writing at any time. [`DmaBuffer`] is bytes at bus and CPU
//! addresses, accessed by bounds-checked copies, with the one read that must
//! be volatile (a completion's phase tag) and the barrier after it.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use crate::{bindings, device};
use core::ptr::NonNull;
use kernel::{
    device::{Bound, Core, Device},
    dma::{Device as _, DmaMask},
    pci,
    prelude::*,
    sync::{
        aref::ARef,
        barrier::{dma_mb, ordering::Read},
        Arc,
    },
};

/// Sets the DMA masks (streaming and coherent) of `pdev` to `bits` bits.
///
/// Called from probe, before the driver allocates or maps anything for the
/// device.
pub fn set_mask(pdev: &pci::Device<Core<'_>>, bits: u32) -> Result {
    let mask = DmaMask::try_new(bits)?;
    // SAFETY: `Core` means probe or remove, with the device lock held: the
    // driver core makes no DMA allocation or mapping for the device, and the
    // driver, whose probe this is, makes none before this returns.
    unsafe { pdev.dma_set_mask_and_coherent(mask) }
}

/// A buffer of coherent DMA memory, zeroed at allocation.
///
/// # Invariants
///
/// `cpu` points to `size` bytes of coherent memory that `dma_alloc_attrs()`
/// allocated for `dev`, at bus address `dma`; the buffer owns it.
pub struct DmaBuffer {
    dev: ARef<Device>,
    cpu: NonNull<u8>,
    dma: u64,
    size: usize,
}

// SAFETY: The memory is plain bytes owned by the buffer; every access goes
// through raw pointers with bounds checks, so it can move between threads.
unsafe impl Send for DmaBuffer {}
// SAFETY: No method hands out references into the memory; concurrent copies
// race like the device's own accesses do, on plain bytes.
unsafe impl Sync for DmaBuffer {}

impl DmaBuffer {
    /// Allocates `size` zeroed bytes of coherent memory for `dev`.
    pub fn zeroed(dev: &Device<Bound>, size: usize) -> Result<Self> {
        if size == 0 {
            return Err(EINVAL);
        }
        let mut dma: bindings::dma_addr_t = 0;
        // SAFETY: `dev` is a bound device; `dma` is a valid place for the
        // bus address.
        let cpu = unsafe {
            bindings::dma_alloc_attrs(
                device::as_raw(dev),
                size,
                &mut dma,
                bindings::GFP_KERNEL | bindings::__GFP_ZERO,
                0,
            )
        };
        // INVARIANT: A non-NULL result is `size` bytes of coherent memory
        // for `dev` at `dma`, ours until freed in `drop()`.
        Ok(Self {
            dev: dev.into(),
            cpu: NonNull::new(cpu.cast()).ok_or(ENOMEM)?,
            dma,
            size,
        })
    }

    /// The bus address the device uses for byte `offset` of the buffer.
    pub fn dma_addr(&self, offset: usize) -> u64 {
        self.dma + offset as u64
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        self.size
    }

    /// Whether the buffer is empty (never: [`DmaBuffer::zeroed`] refuses 0).
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    fn check(&self, offset: usize, len: usize) -> Result {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Copies `data` to byte `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        self.check(offset, data.len())?;
        // SAFETY: The range is inside the buffer (checked above), valid by
        // the type invariant; `data` is a distinct Rust slice.
        unsafe {
            core::ptr::copy_nonoverlapping(data.as_ptr(), self.cpu.as_ptr().add(offset), data.len())
        };
        Ok(())
    }

    /// Zeroes the whole buffer, as at allocation (for memory the device is
    /// to start over with, like a completion queue after a reset).
    pub fn fill_zero(&self) {
        // SAFETY: The whole buffer, valid by the type invariant.
        unsafe { core::ptr::write_bytes(self.cpu.as_ptr(), 0, self.size) };
    }

    /// Copies `buf.len()` bytes from byte `offset` into `buf`.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result {
        self.check(offset, buf.len())?;
        // SAFETY: The range is inside the buffer (checked above), valid by
        // the type invariant; `buf` is a distinct Rust slice.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.cpu.as_ptr().add(offset),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        Ok(())
    }

    /// Reads the little-endian `u16` at byte `offset` once, as the device
    /// left it (`READ_ONCE`), then orders the reads that follow after it
    /// (`dma_rmb()`): the way to look at a completion's status before
    /// reading the rest of it.
    pub fn read_u16_acquire(&self, offset: usize) -> Result<u16> {
        self.check(offset, 2)?;
        if offset % 2 != 0 {
            return Err(EINVAL);
        }
        // SAFETY: In bounds and aligned (checked above) inside the buffer,
        // valid by the type invariant; a volatile read of memory the device
        // writes is what `READ_ONCE` does.
        let v = unsafe { core::ptr::read_volatile(self.cpu.as_ptr().add(offset).cast::<u16>()) };
        dma_mb(Read);
        Ok(u16::from_le(v))
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the memory was allocated for `dev`
        // with this size and bus address, and is freed only here.
        unsafe {
            bindings::dma_free_attrs(
                device::as_raw(&self.dev),
                self.size,
                self.cpu.as_ptr().cast(),
                self.dma,
                0,
            )
        };
    }
}

/// A pool of small blocks of coherent DMA memory of one size
/// (`struct dma_pool`), such as PRP or SGL lists, allocated per I/O.
///
/// # Invariants
///
/// `pool` was made by `dma_pool_create_node()` for `dev` with blocks of
/// `size` bytes; it is destroyed when this drops, after its last block
/// (each [`PoolBuffer`] holds an `Arc` of the pool).
pub struct DmaPool {
    pool: NonNull<bindings::dma_pool>,
    size: usize,
    _dev: ARef<Device>,
}

// SAFETY: The C pool has its own lock; every method may run on any CPU.
unsafe impl Send for DmaPool {}
// SAFETY: As above.
unsafe impl Sync for DmaPool {}

impl DmaPool {
    /// Makes a pool named `name` of `size`-byte blocks aligned to `align`
    /// (a power of two) for `dev`.
    pub fn new(
        dev: &Device<Bound>,
        name: &'static CStr,
        size: usize,
        align: usize,
    ) -> Result<Arc<Self>> {
        if size == 0 || !align.is_power_of_two() {
            return Err(EINVAL);
        }
        // SAFETY: `dev` is bound; `name` is static.
        let pool = unsafe {
            bindings::dma_pool_create_node(
                name.as_char_ptr(),
                device::as_raw(dev),
                size,
                align,
                0,
                bindings::NUMA_NO_NODE,
            )
        };
        let pool = NonNull::new(pool).ok_or(ENOMEM)?;
        let this = Arc::new(
            Self {
                pool,
                size,
                _dev: dev.into(),
            },
            GFP_KERNEL,
        );
        if this.is_err() {
            // SAFETY: Made above, no block allocated.
            unsafe { bindings::dma_pool_destroy(pool.as_ptr()) };
        }
        Ok(this?)
    }

    /// Allocates a block without sleeping (`GFP_ATOMIC`), as an I/O
    /// submission path must.
    pub fn alloc_atomic(self: &Arc<Self>) -> Result<PoolBuffer> {
        let mut dma: bindings::dma_addr_t = 0;
        let pool = self.pool.as_ptr();
        // SAFETY: A live pool (type invariant); `dma` is a valid place.
        let cpu = unsafe { bindings::dma_pool_alloc(pool, bindings::GFP_ATOMIC, &mut dma) };
        // INVARIANT: A non-NULL block of the pool's size at `dma`.
        Ok(PoolBuffer {
            cpu: NonNull::new(cpu.cast()).ok_or(ENOMEM)?,
            dma,
            pool: self.clone(),
        })
    }
}

impl Drop for DmaPool {
    fn drop(&mut self) {
        // SAFETY: Made by `dma_pool_create_node()` (type invariant); every
        // block was freed, as each held a reference to the pool.
        unsafe { bindings::dma_pool_destroy(self.pool.as_ptr()) };
    }
}

/// A block of a [`DmaPool`], freed back to it on drop.
///
/// # Invariants
///
/// `cpu` is a block of `pool`'s size allocated from `pool` at bus address
/// `dma`, owned by this buffer.
pub struct PoolBuffer {
    cpu: NonNull<u8>,
    dma: u64,
    pool: Arc<DmaPool>,
}

// SAFETY: Owned plain bytes, accessed through bounds-checked copies.
unsafe impl Send for PoolBuffer {}
// SAFETY: No references into the memory are handed out.
unsafe impl Sync for PoolBuffer {}

impl PoolBuffer {
    /// The bus address of byte `offset`.
    pub fn dma_addr(&self, offset: usize) -> u64 {
        self.dma + offset as u64
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        self.pool.size
    }

    /// Whether the block is empty (never: pools refuse size 0).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Copies `data` to byte `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        match offset.checked_add(data.len()) {
            Some(end) if end <= self.pool.size => {}
            _ => return Err(EINVAL),
        }
        // SAFETY: In bounds of the block (checked above), which is ours by
        // the type invariant; `data` is a distinct slice.
        unsafe {
            core::ptr::copy_nonoverlapping(data.as_ptr(), self.cpu.as_ptr().add(offset), data.len())
        };
        Ok(())
    }
}

impl Drop for PoolBuffer {
    fn drop(&mut self) {
        // SAFETY: Allocated from this pool at this address (type
        // invariant), freed once.
        unsafe {
            bindings::dma_pool_free(self.pool.pool.as_ptr(), self.cpu.as_ptr().cast(), self.dma)
        };
    }
}
