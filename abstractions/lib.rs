// SPDX-License-Identifier: GPL-2.0

//! Safe abstractions shared by the suite's drivers.
//!
//! The 7.3 `kernel` crate lacks what the drivers of this suite need (sockets,
//! a DRM driver vtable with syncobj support, ...). This crate provides it over
//! bindings the suite generates itself from `bindings_helper.h`, and C helpers
//! in `helpers.c`. It is compiled once and linked into every module.
//!
//! All `unsafe` code of the suite lives here: the driver crates are built with
//! `-Dunsafe_code`. Every `unsafe` block carries a SAFETY comment that proves
//! it, and types whose soundness rests on an invariant document it under
//! `# Invariants`.
//!
//! [`wire`] is plain `core` code with no kernel dependency; it is also built
//! and tested on the host (`host/`).

#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]

pub mod blk_mq;
pub mod bus;
pub mod cred;
mod device;
pub mod dma;
pub mod drm;
pub mod fence;
pub mod gem;
pub mod irq;
pub mod log;
pub mod miscdev;
pub mod net;
pub mod param;
pub mod syncobj;
pub mod vfs;
pub mod wire;
pub mod workqueue;

/// Formats `name` into `buf`, NUL-terminated, as C device and disk names
/// are; `EINVAL` if it does not fit or holds a NUL.
fn format_name(buf: &mut [u8], name: core::fmt::Arguments<'_>) -> kernel::error::Result {
    struct Writer<'a> {
        buf: &'a mut [u8],
        len: usize,
    }
    impl core::fmt::Write for Writer<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for b in s.bytes() {
                if b == 0 || self.len + 1 >= self.buf.len() {
                    return Err(core::fmt::Error);
                }
                self.buf[self.len] = b;
                self.len += 1;
            }
            self.buf[self.len] = 0;
            Ok(())
        }
    }
    let mut w = Writer { buf, len: 0 };
    core::fmt::Write::write_fmt(&mut w, name).map_err(|_| kernel::error::code::EINVAL)
}

/// Prefix of this crate's log lines (used by `pr_*!`).
const __LOG_PREFIX: &[u8] = b"rust_suite\0";

/// The suite's own bindgen output, with what `kernel::bindings` already has
/// taken from there so that no C type exists twice.
#[allow(
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unreachable_pub,
    improper_ctypes,
    unsafe_op_in_unsafe_fn,
    unnecessary_transmutes,
    clippy::all,
    clippy::as_underscore,
    clippy::cast_lossless,
    clippy::ptr_as_ptr,
    clippy::ref_as_ptr,
    clippy::undocumented_unsafe_blocks
)]
pub(crate) mod bindings {
    pub(crate) use kernel::bindings::*;
    pub(crate) use kernel::ffi;
    #[allow(unused_imports)]
    use pin_init::{MaybeZeroable, Zeroable};

    // What the kernel's `rust/bindgen_parameters` blocklists, defined by hand
    // as `kernel::bindings` does (privately there).
    type __kernel_size_t = usize;
    type __kernel_ssize_t = isize;
    type __kernel_ptrdiff_t = isize;

    include!("../generated/bindings_generated.rs");
}
