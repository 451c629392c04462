// SPDX-License-Identifier: GPL-2.0

//! DRM render driver for a firmware-mediated, Apple-GPU-style virtual GPU.
//!
//! Registers a render node on a virtual (faux) device. The GPU model, the
//! firmware interface and the UAPI are not there yet.

#![deny(unsafe_code)]

use abstractions::drm::{self, Features};
use kernel::{device::Bound, faux, prelude::*};

module! {
    type: RustAgx,
    name: "rust_agx",
    authors: ["Rust driver suite developers"],
    description: "DRM render driver for an Apple-GPU-style virtual GPU",
    license: "GPL v2",
}

struct AgxDriver;

impl drm::Driver for AgxDriver {
    // Not "asahi": Mesa would bind its real driver to that name.
    const NAME: &'static CStr = c"rust_agx";
    const DESC: &'static CStr = c"Apple-GPU-style virtual GPU";
    const MAJOR: i32 = 0;
    const MINOR: i32 = 1;
    const PATCHLEVEL: i32 = 0;
    const FEATURES: Features = Features::GEM
        .bitor_const(Features::RENDER)
        .bitor_const(Features::SYNCOBJ)
        .bitor_const(Features::SYNCOBJ_TIMELINE);
}

struct RustAgx {
    // Field order is drop order: the DRM device goes before its parent.
    drm: drm::Registration<AgxDriver>,
    _faux: faux::Registration,
}

impl kernel::Module for RustAgx {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"rust_agx", None)?;
        let fdev: &faux::Device<Bound> = faux.as_ref();
        let drm = drm::Registration::<AgxDriver>::new(fdev.as_ref())?;
        match drm.render_minor() {
            Some(minor) => pr_info!("render node /dev/dri/renderD{}\n", minor),
            None => pr_warn!("registered without a render node\n"),
        }
        Ok(Self { drm, _faux: faux })
    }
}

impl Drop for RustAgx {
    fn drop(&mut self) {
        pr_info!(
            "unregistering render node renderD{}\n",
            self.drm.render_minor().unwrap_or(-1)
        );
    }
}
