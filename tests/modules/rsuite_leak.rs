// SPDX-License-Identifier: GPL-2.0

//! Deliberately faulty test module: leaks an allocation on load.
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

struct RsuiteLeak;

impl kernel::Module for RsuiteLeak {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let buf = KVec::<u8>::from_elem(0x5a, 4096, GFP_KERNEL)?;
        // Forget the only reference: kmemleak sees an unreferenced object.
        core::mem::forget(buf);
        pr_info!("leaked 4096 bytes on purpose\n");
        Ok(Self)
    }
}
