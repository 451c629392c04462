// SPDX-License-Identifier: GPL-2.0

//! Deliberately faulty test module: WARNs on load.
//!
//! The VM harness must flag a test that loads it; if it does not, the harness
//! cannot be trusted to catch a real driver's warning.

use kernel::prelude::*;

module! {
    type: RsuiteWarn,
    name: "rsuite_warn",
    authors: ["Rust driver suite developers"],
    description: "Test module that triggers a WARNING (harness self-test)",
    license: "GPL v2",
}

struct RsuiteWarn;

impl kernel::Module for RsuiteWarn {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("about to WARN on purpose\n");
        kernel::warn_on!(true);
        Ok(Self)
    }
}
