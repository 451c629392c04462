// SPDX-License-Identifier: GPL-2.0

//! `rust_nvme/regs.rs`, built for the host.

#![no_std]

#[path = "../../../rust_nvme/regs.rs"]
#[allow(dead_code)]
mod regs;
