// SPDX-License-Identifier: GPL-2.0

//! Deliberately faulty test module: leaks allocations on load.
//!
//! The VM harness must flag a test that loads it (through kmemleak); if it
//! does not, the harness cannot be trusted to catch a real driver's leak.

use kernel::prelude::*;

module! {
    type: RsuiteLeak,
    name: "rsuite_leak",
    authors: ["Rust driver suite developers"],
    description: "Test module that leaks memory (harness self-test)",
    license: "GPL v2",
}

/// Objects leaked. More than one: a stale copy of the last pointers may stay
/// in a stack or register that kmemleak scans, hiding those from it.
const LEAKS: usize = 32;

struct RsuiteLeak;

#[inline(never)]
fn leak_one(size: usize) -> Result {
    let buf = KVec::<u8>::from_elem(0x5a, size, GFP_KERNEL)?;
    // Forget the only reference: kmemleak sees an unreferenced object.
    core::mem::forget(buf);
    Ok(())
}

impl kernel::Module for RsuiteLeak {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        for i in 0..LEAKS {
            leak_one(4096 << (i % 2))?;
        }
        pr_info!("leaked {} objects on purpose\n", LEAKS);
        Ok(Self)
    }
}
