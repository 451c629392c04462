// SPDX-License-Identifier: GPL-2.0

//! NVMe PCI driver.
//!
//! Binds to NVM Express controllers (PCI class 0x010802) and reads their
//! capabilities and version. The block device side (queues, namespaces,
//! gendisks) is not there yet.

#![deny(unsafe_code)]

use kernel::{
    device::Core,
    io::Io,
    pci,
    prelude::*, //
};

mod regs;

// The command set, completions and their status mapping, Identify parsing,
// queue rings and PRP planning: plain `core` code, tested on the host
// (host/nvme). Compiled here so that the kernel's lints see them; the
// admin and I/O queues that use them are the next step of this driver.
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

type Bar0<'bound> = pci::Bar<'bound, { regs::REGS_END }>;

struct NvmeDriver;

/// Per-controller state.
struct NvmeCtrl<'bound> {
    _bar: Bar0<'bound>,
}

kernel::pci_device_table!(
    PCI_TABLE,
    <NvmeDriver as pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_class(pci::Class::STORAGE_EXPRESS.as_raw(), 0xffffff),
        ()
    )]
);

impl pci::Driver for NvmeDriver {
    type IdInfo = ();
    type Data<'bound> = NvmeCtrl<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pdev.enable_device_mem()?;
        let bar = pdev.iomap_region_sized::<{ regs::REGS_END }>(0, c"rust_nvme")?;

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
        let state = if csts & regs::csts::RDY != 0 {
            "enabled"
        } else {
            "disabled"
        };
        let fatal = if csts & regs::csts::CFS != 0 {
            ", FATAL status set"
        } else {
            ""
        };
        dev_info!(
            pdev,
            "NVMe {}.{}.{} controller: {} entries per queue max, ready timeout {} ms, doorbell stride {}, pages {}..{} bytes, {}{}\n",
            version.major,
            version.minor,
            version.tertiary,
            cap.max_queue_entries(),
            cap.timeout_ms(),
            cap.doorbell_stride(),
            cap.page_size_min(),
            cap.page_size_max(),
            state,
            fatal
        );
        if !cap.nvm_command_set() {
            dev_err!(pdev, "controller does not support the NVM command set\n");
            return Err(ENODEV);
        }
        Ok(NvmeCtrl { _bar: bar })
    }
}

kernel::module_pci_driver! {
    type: NvmeDriver,
    name: "rust_nvme",
    authors: ["Rust driver suite developers"],
    description: "NVMe PCI driver in Rust",
    license: "GPL v2",
}
