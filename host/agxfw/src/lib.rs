// SPDX-License-Identifier: GPL-2.0

//! `rust_agx/fw/`, the formats shared by the driver, the virtual GPU and
//! userspace, and `rust_agx/vgpu/model.rs`, the virtual GPU, built for the
//! host (tested here, fuzzed in `host/fuzz`).

#![cfg_attr(not(test), no_std)]

#[path = "../../../rust_agx/fw/mod.rs"]
pub mod fw;

/// The virtual GPU, as `crate::vgpu` in the kernel module.
// `path` on an inline module names the directory of its file modules
// (`src/vgpu/`, which does not exist, otherwise).
#[path = "../../../rust_agx/vgpu"]
pub mod vgpu {
    pub mod model;
}
