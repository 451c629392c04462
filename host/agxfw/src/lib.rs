// SPDX-License-Identifier: GPL-2.0

//! `rust_agx/fw/`, the formats shared by the driver, the virtual GPU and
//! userspace, built for the host (tested here, fuzzed in `host/fuzz`).

#![cfg_attr(not(test), no_std)]

#[path = "../../../rust_agx/fw/mod.rs"]
pub mod fw;
