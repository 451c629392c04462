// SPDX-License-Identifier: GPL-2.0

//! NVMe PCI driver.
//!
//! Binds to NVM Express controllers (PCI class 0x010802), brings the
//! controller up with an admin queue, identifies it and its active
//! namespaces, and shuts it down (CC.SHN) on removal. The I/O queues and the
//! block devices are not there yet.

#![deny(unsafe_code)]

use kernel::{
    device::{Bound, Core, Device},
    io::Io,
    pci,
    prelude::*, //
};

mod admin;
mod queue;
mod regs;

// The command set, completions and their status mapping, Identify parsing,
// queue rings and PRP planning: plain `core` code, tested on the host
// (host/nvme). What the admin queue does not use yet, the I/O path will.
#[allow(dead_code)]
mod command;
#[allow(dead_code)]
mod completion;
#[allow(dead_code)]
mod identify;
#[allow(dead_code)]
mod prp;
#[allow(dead_code)]
mod ring;

use abstractions::dma::DmaBuffer;
use admin::{AdminQueue, Bar0, PAGE_SHIFT};
use command::{cns, Command, DataPtr};
use queue::IoQueue;
use regs::Cap;

struct NvmeDriver;

/// A controller the driver has enabled: dropping it shuts the controller
/// down before the memory its queues are in goes away.
struct NvmeCtrl<'bound> {
    pdev: &'bound pci::Device,
    bar: Bar0<'bound>,
    cap: Cap,
    admin: AdminQueue,
    queues: KVec<IoQueue>,
}

kernel::pci_device_table!(
    PCI_TABLE,
    <NvmeDriver as pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_class(pci::Class::STORAGE_EXPRESS.as_raw(), 0xffffff),
        ()
    )]
);

impl NvmeCtrl<'_> {
    /// Runs Identify `cns` for `nsid` into the DMA buffer `buf` and returns
    /// the result, copied into `data`.
    fn identify_into<'d>(
        &mut self,
        dev: &Device,
        buf: &DmaBuffer,
        data: &'d mut KVec<u8>,
        cns: u8,
        nsid: u32,
    ) -> Result<&'d [u8; identify::SIZE]> {
        let ptr = DataPtr {
            prp1: buf.dma_addr(0),
            prp2: 0,
        };
        self.admin
            .submit_sync(dev, &self.bar, Command::identify(cns, nsid, ptr))?;
        buf.read(0, data)?;
        data.as_slice().try_into().map_err(|_| EINVAL)
    }

    /// Identifies the controller and its active namespaces, and logs them.
    fn identify(&mut self, dev: &Device<Bound>) -> Result {
        let buf = DmaBuffer::zeroed(dev, identify::SIZE)?;
        let mut data = KVec::from_elem(0u8, identify::SIZE, GFP_KERNEL)?;

        let block = self.identify_into(dev, &buf, &mut data, cns::CONTROLLER, 0)?;
        let id = identify::Controller::parse(block).map_err(|e| {
            dev_err!(dev, "unusable controller: {:?}\n", e);
            ENODEV
        })?;
        let ((model, ml), (serial, sl), (fw, fl)) = (
            id.model.trimmed(),
            id.serial.trimmed(),
            id.firmware.trimmed(),
        );
        dev_info!(
            dev,
            "{}, serial {}, firmware {}: {} namespaces max, transfers up to {} KiB, volatile write cache: {}\n",
            core::str::from_utf8(&model[..ml]).unwrap_or("?"),
            core::str::from_utf8(&serial[..sl]).unwrap_or("?"),
            core::str::from_utf8(&fw[..fl]).unwrap_or("?"),
            id.nn,
            id.max_transfer(1 << PAGE_SHIFT).map_or(0, |b| b >> 10),
            if id.vwc { "yes" } else { "no" }
        );

        // Which namespaces are active: the list (NVMe 1.1 and later) or, for
        // older controllers, every ID up to NN.
        let mut ids = KVec::new();
        if id.ver >= 0x0001_0100 {
            let block = self.identify_into(dev, &buf, &mut data, cns::ACTIVE_NS_LIST, 0)?;
            for nsid in identify::active_namespaces(block) {
                ids.push(nsid, GFP_KERNEL)?;
            }
        } else {
            for nsid in 1..=id.nn.min(1024) {
                ids.push(nsid, GFP_KERNEL)?;
            }
        }

        let mut usable = 0;
        for &nsid in ids.iter() {
            let block = self.identify_into(dev, &buf, &mut data, cns::NAMESPACE, nsid)?;
            match identify::Namespace::parse(block, 1 << PAGE_SHIFT) {
                Ok(ns) => {
                    usable += 1;
                    dev_info!(
                        dev,
                        "namespace {}: {} blocks of {} bytes ({} MiB)\n",
                        nsid,
                        ns.blocks,
                        ns.block_size(),
                        ns.sectors() >> 11
                    );
                }
                Err(identify::Unusable::Empty) => {}
                Err(e) => dev_warn!(dev, "namespace {}: not usable: {:?}\n", nsid, e),
            }
        }
        dev_info!(
            dev,
            "{} usable namespaces of {} active\n",
            usable,
            ids.len()
        );
        Ok(())
    }
}

impl NvmeCtrl<'_> {
    /// Asks for one I/O queue pair per CPU and creates as many as the
    /// controller grants; with fewer, or none, the driver carries on.
    fn create_io_queues(&mut self, dev: &Device<Bound>) -> Result {
        let cpus = u16::try_from(kernel::cpu::nr_cpu_ids()).unwrap_or(u16::MAX);
        let granted =
            match self
                .admin
                .submit_sync(dev, &self.bar, Command::set_num_queues(cpus, cpus))
            {
                // DW0 holds the 0-based counts allocated, SQs low, CQs high.
                Ok(c) => {
                    let sq = (c.result & 0xffff) as u16;
                    let cq = (c.result >> 16) as u16;
                    cpus.min(sq.saturating_add(1)).min(cq.saturating_add(1))
                }
                Err(e) => {
                    dev_warn!(
                        dev,
                        "could not set the number of queues ({:?}): admin queue only\n",
                        e
                    );
                    0
                }
            };
        // `io_queue_depth` is 2-4095 (checked at load), clamped to MQES.
        let depth = module_parameters::io_queue_depth
            .value()
            .min(self.cap.max_queue_entries())
            .min(4095) as u16;
        for qid in 1..=granted {
            match IoQueue::create(dev, &self.bar, &mut self.admin, qid, depth) {
                Ok(q) => self.queues.push(q, GFP_KERNEL)?,
                Err(e) => {
                    dev_warn!(
                        dev,
                        "I/O queue {} not created ({:?}); carrying on with {}\n",
                        qid,
                        e,
                        qid - 1
                    );
                    break;
                }
            }
        }
        dev_info!(
            dev,
            "I/O queues: {} pairs of {} entries ({} granted for {} CPUs)\n",
            self.queues.len(),
            depth,
            granted,
            cpus
        );
        Ok(())
    }
}

impl Drop for NvmeCtrl<'_> {
    fn drop(&mut self) {
        let csts = self.bar.read32(regs::CSTS);
        if csts == u32::MAX || self.bar.read32(regs::CC) & regs::cc::EN == 0 {
            // Gone, or never enabled: nothing to tell the controller.
            return;
        }
        // As the C driver on an orderly shutdown: delete the I/O queues,
        // then ask the controller to shut down. Queue memory stays until
        // the controller is disabled (the fields drop after this).
        let dev: &Device = self.pdev.as_ref();
        if csts & regs::csts::CFS == 0 {
            for q in self.queues.iter().rev() {
                if q.delete(dev, &self.bar, &mut self.admin, admin::SHUTDOWN_TIMEOUT)
                    .is_err()
                {
                    break;
                }
            }
        }
        match admin::shutdown(&self.bar, self.cap) {
            Ok(()) => dev_info!(self.pdev, "controller shut down\n"),
            Err(e) => dev_warn!(self.pdev, "controller shutdown failed: {:?}\n", e),
        }
    }
}

impl pci::Driver for NvmeDriver {
    type IdInfo = ();
    type Data<'bound> = NvmeCtrl<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pdev.enable_device_mem()?;
        pdev.set_master();
        abstractions::dma::set_mask(pdev, 64)?;
        let bar = pdev.iomap_region_sized::<{ regs::BAR0_MIN }>(0, c"rust_nvme")?;

        let csts = bar.read32(regs::CSTS);
        if csts == u32::MAX {
            // All ones: the device is gone or its BAR does not decode.
            dev_err!(pdev, "controller registers read as all ones\n");
            return Err(ENODEV);
        }
        // Two 32-bit reads: the BAR only guarantees 32-bit access, and CAP
        // does not change under us.
        let cap = regs::Cap(
            u64::from(bar.read32(regs::CAP)) | u64::from(bar.read32(regs::CAP + 4)) << 32,
        );
        let version = regs::Version::from(bar.read32(regs::VS));
        dev_info!(
            pdev,
            "NVMe {}.{}.{} controller: {} entries per queue max, ready timeout {} ms, doorbell stride {}, pages {}..{} bytes\n",
            version.major,
            version.minor,
            version.tertiary,
            cap.max_queue_entries(),
            cap.timeout_ms(),
            cap.doorbell_stride(),
            cap.page_size_min(),
            cap.page_size_max()
        );
        if !cap.nvm_command_set() {
            dev_err!(pdev, "controller does not support the NVM command set\n");
            return Err(ENODEV);
        }
        if !(cap.page_size_min()..=cap.page_size_max()).contains(&(1 << PAGE_SHIFT)) {
            dev_err!(
                pdev,
                "controller does not support {} byte pages\n",
                1u32 << PAGE_SHIFT
            );
            return Err(ENODEV);
        }
        if csts & regs::csts::CFS != 0 {
            dev_warn!(pdev, "controller reports a fatal error; resetting it\n");
        }

        let dev: &Device<Bound> = pdev.as_ref();
        let admin = AdminQueue::new(dev, cap.doorbell_stride())?;
        admin::disable(&bar, cap).inspect_err(|e| {
            dev_err!(pdev, "controller did not disable: {:?}\n", e);
        })?;
        // From here on, dropping `ctrl` disables the controller before its
        // queue memory is freed, on error paths too.
        let mut ctrl = NvmeCtrl {
            pdev,
            bar,
            cap,
            admin,
            queues: KVec::new(),
        };
        ctrl.admin.enable(&ctrl.bar, cap).inspect_err(|e| {
            dev_err!(pdev, "controller did not become ready: {:?}\n", e);
        })?;
        ctrl.identify(dev)?;
        ctrl.create_io_queues(dev)?;
        Ok(ctrl)
    }
}

module! {
    type: NvmeModule,
    name: "rust_nvme",
    authors: ["Rust driver suite developers"],
    description: "NVMe PCI driver in Rust",
    license: "GPL v2",
    params: {
        io_queue_depth: u32 {
            default: 1024,
            description: "Entries per I/O queue, 2-4095 (fewer if the controller allows fewer)",
        },
    },
}

/// The module: checks its parameters, then registers the PCI driver.
#[pin_data]
struct NvmeModule {
    #[pin]
    _driver: kernel::driver::Registration<pci::Adapter<NvmeDriver>>,
}

/// Refuses parameters the driver cannot work with, saying why.
fn check_params() -> Result {
    let depth = module_parameters::io_queue_depth.value();
    if !(2..=4095).contains(&depth) {
        pr_err!("io_queue_depth={} is out of range: give 2-4095\n", depth);
        return Err(EINVAL);
    }
    Ok(())
}

impl kernel::InPlaceModule for NvmeModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _driver <- {
                check_params()?;
                kernel::driver::Registration::new(<Self as kernel::ModuleMetadata>::NAME, module)
            },
        })
    }
}
