// SPDX-License-Identifier: GPL-2.0

//! The formats the driver, the virtual GPU and userspace agree on.
//!
//! Plain `no_std` code, also built on the host (`host/agxfw`), where it is
//! unit-tested and fuzzed:
//!
//! - [`uapi`]: the ioctl structures of `include/uapi/drm/rust_agx_drm.h`.
//! - [`cmd`]: the user command buffer of `SUBMIT`, parsed and validated.
//! - [`isa`]: the compute bytecode.
//! - [`pgtable`]: the GPU page-table format (UAT-like, 16 KiB pages).
//! - [`shared`]: the firmware interface: registers, init data, rings, work
//!   queues, jobs and events in shared memory.

pub mod cmd;
pub mod isa;
pub mod pgtable;
pub mod shared;
pub mod uapi;

/// The little-endian `u32` at byte `at` of `b`; 0 if `b` is too short
/// (never a panic: the model reads records it does not trust).
pub fn le32(b: &[u8], at: u64) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at as usize..).and_then(|s| s.get(..4)) {
        w.copy_from_slice(s);
    }
    u32::from_le_bytes(w)
}

/// The little-endian `u64` at byte `at` of `b`; 0 if `b` is too short.
pub fn le64(b: &[u8], at: u64) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(at as usize..).and_then(|s| s.get(..8)) {
        w.copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}
