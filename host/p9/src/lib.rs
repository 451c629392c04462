// SPDX-License-Identifier: GPL-2.0

//! `rust_9p/proto.rs`, the 9P2000.L wire codec, built for the host (tests in
//! `tests/`, fuzzing in `host/fuzz`).

#![no_std]

// `proto` uses it as `crate::wire`, as in the kernel module.
#[path = "../../../abstractions/wire.rs"]
pub mod wire;

#[path = "../../../rust_9p/proto.rs"]
pub mod proto;
