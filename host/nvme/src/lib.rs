// SPDX-License-Identifier: GPL-2.0

//! `rust_nvme/regs.rs`, built for the host.

#![no_std]

// The driver uses these as it grows; the host tests cover them all now.
#[path = "../../../rust_nvme/command.rs"]
#[allow(dead_code)]
mod command;
#[path = "../../../rust_nvme/completion.rs"]
#[allow(dead_code)]
mod completion;
#[path = "../../../rust_nvme/identify.rs"]
#[allow(dead_code)]
mod identify;
#[path = "../../../rust_nvme/prp.rs"]
#[allow(dead_code)]
mod prp;
#[path = "../../../rust_nvme/regs.rs"]
#[allow(dead_code)]
mod regs;
#[path = "../../../rust_nvme/ring.rs"]
#[allow(dead_code)]
mod ring;
#[path = "../../../rust_nvme/sgl.rs"]
#[allow(dead_code)]
mod sgl;
