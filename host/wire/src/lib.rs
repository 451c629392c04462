// SPDX-License-Identifier: GPL-2.0

//! `abstractions/wire.rs`, built for the host.

#![no_std]

#[path = "../../../abstractions/wire.rs"]
mod wire;

pub use wire::*;
