// SPDX-License-Identifier: GPL-2.0

//! DRM render driver for a firmware-mediated, Apple-GPU-style virtual GPU.
//!
//! The driver builds the GPU's page tables, talks to its firmware through
//! rings in shared memory and completes jobs by stamps, in the architecture
//! of the Asahi AGX driver. The GPU is a virtual device model (`vgpu`)
//! that sees only the bus, the page tables and its registers.
//!
//! A file per concern: `gpu` (firmware, rings, kernel memory, events,
//! recovery), `mmu` (page tables, VMs), `queue` (jobs, fences, the
//! scheduler), `file` (ioctls), `fw` (formats shared with the device
//! and userspace).

#![deny(unsafe_code)]

mod file;
#[allow(dead_code, unreachable_pub)]
mod fw;
mod gpu;
mod mmu;
mod queue;
mod vgpu;

use abstractions::{
    drm::{self, Device, Features, IoctlDesc, IoctlDir},
    workqueue::OwnedQueue,
};
use file::AgxFile;
use fw::uapi::{self, nr};
use gpu::Gpu;
use kernel::{device::Bound, faux, prelude::*, sync::Arc};

module! {
    type: RustAgx,
    name: "rust_agx",
    authors: ["Rust driver suite developers"],
    description: "DRM render driver for an Apple-GPU-style virtual GPU",
    license: "GPL v2",
    params: {
        job_timeout_ms: u32 {
            default: 5000,
            description: "Time a job may run before the firmware stops it (10-60000)",
        },
    },
}

/// The device's data.
pub(crate) struct AgxData {
    gpu: Arc<Gpu>,
}

pub(crate) struct AgxDriver;

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

    type Data = AgxData;
    type File = Pin<KBox<AgxFile>>;

    const IOCTLS: &'static [IoctlDesc] = &[
        IoctlDesc::new::<Self, { nr::GET_PARAMS }, { uapi::GetParams::SIZE }>(IoctlDir::ReadWrite),
        IoctlDesc::new::<Self, { nr::GET_TIME }, { uapi::GetTime::SIZE }>(IoctlDir::ReadWrite),
        IoctlDesc::new::<Self, { nr::VM_CREATE }, { uapi::VmCreate::SIZE }>(IoctlDir::ReadWrite),
        IoctlDesc::new::<Self, { nr::VM_DESTROY }, { uapi::VmDestroy::SIZE }>(IoctlDir::Write),
        IoctlDesc::new::<Self, { nr::VM_BIND }, { uapi::VmBind::SIZE }>(IoctlDir::Write),
        IoctlDesc::new::<Self, { nr::GEM_CREATE }, { uapi::GemCreate::SIZE }>(IoctlDir::ReadWrite),
        IoctlDesc::new::<Self, { nr::GEM_MMAP_OFFSET }, { uapi::GemMmapOffset::SIZE }>(
            IoctlDir::ReadWrite,
        ),
        IoctlDesc::new::<Self, { nr::QUEUE_CREATE }, { uapi::QueueCreate::SIZE }>(
            IoctlDir::ReadWrite,
        ),
        IoctlDesc::new::<Self, { nr::QUEUE_DESTROY }, { uapi::QueueDestroy::SIZE }>(
            IoctlDir::Write,
        ),
        IoctlDesc::new::<Self, { nr::SUBMIT }, { uapi::Submit::SIZE }>(IoctlDir::Write),
        IoctlDesc::new::<Self, { nr::GET_FAULT }, { uapi::GetFault::SIZE }>(IoctlDir::ReadWrite),
    ];

    fn open(dev: &Device<Self>) -> Result<KBox<Self::File>> {
        Ok(KBox::new(
            AgxFile::new(dev.data().gpu.clone())?,
            GFP_KERNEL,
        )?)
    }

    fn ioctl(dev: &Device<Self>, file: &drm::File<Self>, nr: u32, data: &mut [u8]) -> Result<u32> {
        AgxFile::ioctl(dev, file, nr, data)
    }
}

struct RustAgx {
    drm: Option<drm::Registration<AgxDriver>>,
    gpu: Arc<Gpu>,
    wq: Arc<OwnedQueue>,
    fwq: Arc<OwnedQueue>,
    _faux: faux::Registration,
}

impl kernel::Module for RustAgx {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let timeout = module_parameters::job_timeout_ms.value();
        if !(10..=60000).contains(&timeout) {
            pr_err!("job_timeout_ms={} is out of range (10-60000)\n", timeout);
            return Err(EINVAL);
        }
        let wq = Arc::new(OwnedQueue::new_unbound(c"rust_agx", 16)?, GFP_KERNEL)?;
        let fwq = Arc::new(OwnedQueue::new_unbound(c"rust_agx_fw", 1)?, GFP_KERNEL)?;
        // On failure, work items may still hold references to the device:
        // let them finish here, so that the queues are not destroyed from
        // one of their own workers.
        let fail = |gpu: Option<&Gpu>, e: Error| {
            if let Some(gpu) = gpu {
                gpu.shutdown();
            }
            fwq.drain();
            wq.drain();
            e
        };
        let gpu = Gpu::new(wq.clone(), fwq.clone(), timeout).map_err(|e| fail(None, e))?;
        let faux = faux::Registration::new(c"rust_agx", None).map_err(|e| fail(Some(&gpu), e))?;
        let fdev: &faux::Device<Bound> = faux.as_ref();
        let data = Arc::new(AgxData { gpu: gpu.clone() }, GFP_KERNEL)
            .map_err(|e| fail(Some(&gpu), e.into()))?;
        let drm = drm::Registration::<AgxDriver>::new(fdev.as_ref(), data)
            .map_err(|e| fail(Some(&gpu), e))?;
        match drm.render_minor() {
            Some(minor) => pr_info!("render node /dev/dri/renderD{}\n", minor),
            None => pr_warn!("registered without a render node\n"),
        }
        Ok(Self {
            drm: Some(drm),
            gpu,
            wq,
            fwq,
            _faux: faux,
        })
    }
}

impl Drop for RustAgx {
    fn drop(&mut self) {
        if let Some(drm) = self.drm.take() {
            pr_info!(
                "unregistering render node renderD{}\n",
                drm.render_minor().unwrap_or(-1)
            );
        }
        // No file is open (they pin the module), so no queue is left.
        self.gpu.shutdown();
        pr_info!("{} fault recoveries\n", self.gpu.recoveries());
        // Work items hold references; once drained, ours are the last and
        // the queues are destroyed here, not in one of their workers.
        self.fwq.drain();
        self.wq.drain();
    }
}
