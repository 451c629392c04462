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
