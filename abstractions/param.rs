// SPDX-License-Identifier: GPL-2.0

//! String module parameters.
//!
//! The kernel crate's `module!` takes integer and boolean parameters only. A
//! file server needs a path (`export=/srv/share`): [`crate::string_param!`] declares
//! a string parameter the way `module_param_string()` does in C, with the
//! kernel's own `param_ops_string` filling a fixed buffer at load.

use crate::bindings;
use core::cell::UnsafeCell;
use kernel::prelude::*;

/// The buffer of a string module parameter, `N` bytes with the NUL.
///
/// # Invariants
///
/// The kernel writes `buf` only while parsing the module's arguments at
/// load, before the module's init runs (the parameter has no sysfs file), and
/// always leaves it NUL-terminated; `buf` starts zeroed.
pub struct StringParam<const N: usize> {
    buf: UnsafeCell<[u8; N]>,
}

// SAFETY: After load the buffer is only read (type invariant).
unsafe impl<const N: usize> Sync for StringParam<N> {}

impl<const N: usize> Default for StringParam<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> StringParam<N> {
    /// An empty parameter (what it reads as if not given at load).
    pub const fn new() -> Self {
        // INVARIANT: zeroed, hence NUL-terminated.
        Self {
            buf: UnsafeCell::new([0; N]),
        }
    }

    /// The value given at load, empty if none was.
    pub fn value(&self) -> &CStr {
        // SAFETY: The kernel wrote the buffer before init and writes it no
        // more (type invariant), so a shared borrow is sound.
        let buf = unsafe { &*self.buf.get() };
        CStr::from_bytes_until_nul(buf).unwrap_or(c"")
    }

    #[doc(hidden)]
    pub const fn kparam(&'static self) -> bindings::kparam_string {
        bindings::kparam_string {
            maxlen: N as u32,
            string: self.buf.get().cast(),
        }
    }
}

#[doc(hidden)]
#[repr(transparent)]
pub struct ParamEntry(pub bindings::kernel_param);

// SAFETY: The entry is only read, by the kernel's argument parser.
unsafe impl Sync for ParamEntry {}

#[doc(hidden)]
#[repr(transparent)]
pub struct KparamString(pub bindings::kparam_string);

// SAFETY: Only read, by `param_ops_string`, while it fills the buffer.
unsafe impl Sync for KparamString {}

#[doc(hidden)]
pub const fn param_ops_string() -> *const bindings::kernel_param_ops {
    &raw const bindings::param_ops_string
}

#[doc(hidden)]
pub const fn modinfo<const L: usize>(s: &str) -> [u8; L] {
    let b = s.as_bytes();
    let mut out = [0u8; L];
    let mut i = 0;
    while i < b.len() {
        out[i] = b[i];
        i += 1;
    }
    out
}

/// Declares a string module parameter `$name` of at most `$len - 1` bytes,
/// read with `$name.value()`; only settable at load.
///
/// # Examples
///
/// ```ignore
/// abstractions::string_param!(export, 4096, "Directory to export");
///
/// let dir: &CStr = export.value();
/// ```
#[macro_export]
macro_rules! string_param {
    ($name:ident, $len:expr, $desc:literal) => {
        #[allow(non_upper_case_globals)]
        static $name: $crate::param::StringParam<$len> = $crate::param::StringParam::new();

        const _: () = {
            static KPS: $crate::param::KparamString = $crate::param::KparamString($name.kparam());

            #[link_section = "__param"]
            #[used]
            static PARAM: $crate::param::ParamEntry =
                $crate::param::ParamEntry($crate::param::__kernel_param(
                    ::kernel::str::as_char_ptr_in_const_context(::kernel::c_str!(
                        ::core::stringify!($name)
                    )),
                    $crate::param::param_ops_string(),
                    &KPS.0,
                ));

            const PARM: &str =
                ::core::concat!("parm=", ::core::stringify!($name), ":", $desc, "\0");
            #[cfg(MODULE)]
            #[link_section = ".modinfo"]
            #[used]
            static MODINFO_PARM: [u8; PARM.len()] = $crate::param::modinfo(PARM);

            const TYPE: &str = ::core::concat!("parmtype=", ::core::stringify!($name), ":string\0");
            #[cfg(MODULE)]
            #[link_section = ".modinfo"]
            #[used]
            static MODINFO_TYPE: [u8; TYPE.len()] = $crate::param::modinfo(TYPE);
        };
    };
}

#[doc(hidden)]
pub const fn __kernel_param(
    name: *const kernel::ffi::c_char,
    ops: *const bindings::kernel_param_ops,
    kps: *const bindings::kparam_string,
) -> bindings::kernel_param {
    bindings::kernel_param {
        name,
        // Only the parameter lock is taken through it; NULL selects the
        // global one, which is right for a parameter with no sysfs file.
        mod_: core::ptr::null_mut(),
        ops,
        perm: 0,
        level: -1,
        flags: 0,
        __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 { str_: kps },
    }
}
