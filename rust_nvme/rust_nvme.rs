// SPDX-License-Identifier: GPL-2.0

//! NVMe PCI driver.
//!
//! Binds to NVM Express controllers (PCI class 0x010802), brings the
//! controller up with an admin queue, identifies it and its active
//! namespaces, creates one I/O queue pair per CPU (as many as the
//! controller grants and interrupt vectors allow) plus the polled queues
//! asked for, and exposes each usable namespace as a disk `rnvme<N>n<NSID>`.
//! On removal it deletes the disks, then the queues, and shuts the
//! controller down (CC.SHN); if the controller is already gone, requests in
//! flight end with an error first.

#![deny(unsafe_code)]

use kernel::{
    device::{Bound, Core, Device},
    io::Io,
    irq::{Handler, IrqReturn},
    pci,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, ArcBorrow,
    },
    time::Delta,
};

mod admin;
mod ctrl;
mod passthru;
mod queue;
mod regs;

// The command set, completions and their status mapping, Identify parsing,
// queue rings, PRP and SGL encoding: plain `core` code, tested on the host
// (host/nvme). Some of it is used by the host tests only.
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
mod sgl;

use abstractions::{
    blk_mq::{
        self, DiskParams, GenDisk, HctxType, QueueMaps, Refused, Request, TagSet, TimedOut,
        TimeoutAction,
    },
    dma::{DmaBuffer, DmaPool, PoolBuffer},
    irq::{IrqVectors, Registration, Types},
    miscdev::{self, UserArg},
};
use admin::{AdminQueue, Bar0, Regs, PAGE_SHIFT};
use command::{cns, Command, DataPtr};
use ctrl::Ctrl;
use queue::IoQueue;
use regs::Cap;

/// The memory page size the controller runs with, in bytes.
pub(crate) const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// Instance numbers for disk names (`rnvme<N>n<NSID>`), never reused.
static INSTANCE: Atomic<u32> = Atomic::new(0);

struct NvmeDriver;

/// What the driver keeps of a usable namespace: the disk's queue data.
pub(crate) struct NsInfo {
    pub(crate) nsid: u32,
    pub(crate) lba_shift: u32,
    /// Passthrough through the disk's block device goes where the
    /// controller's character device sends it.
    pub(crate) cdev: Arc<passthru::CtrlDev>,
}

/// The data of each request: the PRP, SGL or range list page its command
/// points to, how often it has been retried, and for a passthrough request
/// its command.
#[derive(Default)]
pub(crate) struct Iod {
    pub(crate) list: Option<PoolBuffer>,
    pub(crate) retries: u8,
    pub(crate) user: Option<UserCmd>,
}

/// A passthrough I/O command (`NVME_IOCTL_IO_CMD`), without its data
/// pointer, and once it has completed its outcome.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserCmd {
    pub(crate) cmd: Command,
    /// Set when the command completes: dword 0 and the status field
    /// (without the phase tag).
    pub(crate) done: Option<(u32, u16)>,
}

/// The blk-mq callbacks of the driver.
pub(crate) struct NvmeOps;

#[vtable]
impl blk_mq::Operations for NvmeOps {
    // Hardware queue `i` is `queues[i]` of the controller.
    type TagSetData = Arc<Ctrl>;
    type HwData = Arc<IoQueue>;
    type QueueData = Arc<NsInfo>;
    type RequestData = Iod;

    fn init_hctx(set: ArcBorrow<'_, Ctrl>, index: u32) -> Result<Arc<IoQueue>> {
        set.queues.get(index as usize).cloned().ok_or(EINVAL)
    }

    fn init_request(_set: ArcBorrow<'_, Ctrl>, _index: u32) -> Result<Iod> {
        Ok(Iod::default())
    }

    fn queue_rq(
        hw: ArcBorrow<'_, IoQueue>,
        ns: ArcBorrow<'_, NsInfo>,
        rq: Request<Self>,
        last: bool,
    ) -> Result<(), Refused> {
        hw.queue_rq(&ns, rq, last)
    }

    fn commit_rqs(hw: ArcBorrow<'_, IoQueue>) {
        hw.commit();
    }

    fn ioctl(ns: ArcBorrow<'_, NsInfo>, cmd: u32, arg: UserArg) -> Result<i32> {
        ns.cdev.ns_ioctl(&ns, cmd, arg)
    }

    fn timeout(
        ctrl: ArcBorrow<'_, Ctrl>,
        hw: ArcBorrow<'_, IoQueue>,
        t: TimedOut,
    ) -> TimeoutAction {
        ctrl.timeout(&hw, t)
    }

    fn poll(hw: ArcBorrow<'_, IoQueue>) -> u32 {
        hw.process()
    }

    fn map_queues(set: ArcBorrow<'_, Ctrl>, maps: &mut QueueMaps<'_>) {
        let poll = set.queues.len() as u32 - set.irq_queues;
        // Interrupt-driven queues follow their vectors' CPU affinity
        // (vector i is queue i's); polled ones are spread over the CPUs.
        maps.map(HctxType::Default, set.irq_queues, 0, Some((&set.dev, 0)));
        maps.map(HctxType::Read, 0, 0, None);
        maps.map(HctxType::Poll, poll, set.irq_queues, None);
    }
}

/// The interrupt handler of one vector: the completion queues signalling
/// it, and the admin queue on vector 0.
struct VectorHandler {
    admin: Option<Arc<AdminQueue>>,
    queues: KVec<Arc<IoQueue>>,
}

impl Handler for VectorHandler {
    fn handle(&self) -> IrqReturn {
        let mut n = self.admin.as_ref().map_or(0, |a| a.process());
        for q in self.queues.iter() {
            n += q.process();
        }
        if n > 0 {
            IrqReturn::Handled
        } else {
            IrqReturn::None
        }
    }
}

/// What Identify Controller told the driver.
struct CtrlInfo {
    /// Largest transfer in bytes.
    max_transfer: u64,
    vwc: bool,
    oncs: u16,
    /// SGLs are supported for the NVM command set.
    sgl: bool,
}

/// A controller the driver has enabled: dropping it deletes the disks,
/// then the queues, then shuts the controller down, before the memory its
/// queues are in goes away.
struct NvmeCtrl<'bound> {
    pdev: &'bound pci::Device,
    regs: Arc<Regs>,
    cap: Cap,
    admin: Arc<AdminQueue>,
    queues: KVec<Arc<IoQueue>>,
    irqs: KVec<Registration<VectorHandler>>,
    /// Made once the I/O queues are.
    ctrl: Option<Arc<Ctrl>>,
    tag_set: Option<Arc<TagSet<NvmeOps>>>,
    disks: KVec<GenDisk<NvmeOps>>,
    /// N of `rnvme<N>` and its disks `rnvme<N>n<NSID>`.
    instance: u32,
    /// Passthrough, made before the disks (their block devices use it
    /// too), and the character device that reaches it.
    cdev: Option<Arc<passthru::CtrlDev>>,
    cdev_reg: Option<miscdev::Registration<passthru::CtrlDev>>,
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
        &self,
        buf: &DmaBuffer,
        data: &'d mut KVec<u8>,
        cns: u8,
        nsid: u32,
    ) -> Result<&'d [u8; identify::SIZE]> {
        let ptr = DataPtr {
            prp1: buf.dma_addr(0),
            prp2: 0,
        };
        self.admin.submit_sync(Command::identify(cns, nsid, ptr))?;
        buf.read(0, data)?;
        data.as_slice().try_into().map_err(|_| EINVAL)
    }

    /// Identifies the controller and its active namespaces, logs them, and
    /// returns the controller's properties and the usable namespaces.
    fn identify(
        &self,
        dev: &Device<Bound>,
    ) -> Result<(CtrlInfo, KVec<(u32, identify::Namespace)>)> {
        let buf = DmaBuffer::zeroed(dev, identify::SIZE)?;
        let mut data = KVec::from_elem(0u8, identify::SIZE, GFP_KERNEL)?;

        let block = self.identify_into(&buf, &mut data, cns::CONTROLLER, 0)?;
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
            "{}, serial {}, firmware {}: {} namespaces max, transfers up to {} KiB, volatile write cache: {}, SGLs: {}\n",
            core::str::from_utf8(&model[..ml]).unwrap_or("?"),
            core::str::from_utf8(&serial[..sl]).unwrap_or("?"),
            core::str::from_utf8(&fw[..fl]).unwrap_or("?"),
            id.nn,
            id.max_transfer(PAGE_SIZE).map_or(0, |b| b >> 10),
            if id.vwc { "yes" } else { "no" },
            if id.supports_sgl() { "yes" } else { "no" }
        );
        let info = CtrlInfo {
            max_transfer: id.max_transfer(PAGE_SIZE).unwrap_or(u64::MAX),
            vwc: id.vwc,
            oncs: id.oncs,
            sgl: id.supports_sgl(),
        };

        // Which namespaces are active: the list (NVMe 1.1 and later) or, for
        // older controllers, every ID up to NN.
        let mut ids = KVec::new();
        if id.ver >= 0x0001_0100 {
            let block = self.identify_into(&buf, &mut data, cns::ACTIVE_NS_LIST, 0)?;
            for nsid in identify::active_namespaces(block) {
                ids.push(nsid, GFP_KERNEL)?;
            }
        } else {
            for nsid in 1..=id.nn.min(1024) {
                ids.push(nsid, GFP_KERNEL)?;
            }
        }

        let mut usable = KVec::new();
        for &nsid in ids.iter() {
            let block = self.identify_into(&buf, &mut data, cns::NAMESPACE, nsid)?;
            match identify::Namespace::parse(block, PAGE_SIZE as u32) {
                Ok(ns) => {
                    dev_info!(
                        dev,
                        "namespace {}: {} blocks of {} bytes ({} MiB)\n",
                        nsid,
                        ns.blocks,
                        ns.block_size(),
                        ns.sectors() >> 11
                    );
                    usable.push((nsid, ns), GFP_KERNEL)?;
                }
                Err(identify::Unusable::Empty) => {}
                Err(e) => dev_warn!(dev, "namespace {}: not usable: {:?}\n", nsid, e),
            }
        }
        dev_info!(
            dev,
            "{} usable namespaces of {} active\n",
            usable.len(),
            ids.len()
        );
        Ok((info, usable))
    }

    /// Asks for one I/O queue pair per CPU plus the polled ones, takes what
    /// the controller grants and the interrupt vectors allow, creates the
    /// queues and registers their interrupt handlers. With no queue the
    /// controller stays admin-only.
    fn create_io_queues(
        &mut self,
        pdev: &pci::Device<Bound>,
        info: &CtrlInfo,
    ) -> Result<(u32, u32, u16)> {
        let dev: &Device<Bound> = pdev.as_ref();
        let cpus = u16::try_from(kernel::cpu::nr_cpu_ids()).unwrap_or(u16::MAX);
        let poll_wanted = module_parameters::poll_queues.value() as u16;
        let wanted = cpus.saturating_add(poll_wanted);
        let granted = match self
            .admin
            .submit_sync(Command::set_num_queues(wanted, wanted))
        {
            Ok(c) => wanted.min(Command::queues_granted(c.result)),
            Err(e) => {
                dev_warn!(
                    dev,
                    "could not set the number of queues ({:?}): admin queue only\n",
                    e
                );
                0
            }
        };
        if granted == 0 {
            return Ok((0, 0, wanted));
        }
        // At least one queue signals interrupts.
        let poll = poll_wanted.min(granted - 1);
        let vectors = IrqVectors::alloc(pdev, 1, u32::from(granted - poll), Types::ALL, true)?;
        let irq_queues = (granted - poll).min(vectors.count() as u16);

        // `io_queue_depth` is 2-4095 (checked at load), clamped to MQES.
        let depth = module_parameters::io_queue_depth
            .value()
            .min(self.cap.max_queue_entries())
            .min(4095) as u16;
        let pool = DmaPool::new(
            dev,
            c"rust_nvme list",
            PAGE_SIZE as usize,
            PAGE_SIZE as usize,
        )?;
        let sgl_threshold = info.sgl.then(|| module_parameters::sgl_threshold.value());
        let mut made_irq = 0;
        let mut made_poll = 0;
        for i in 0..irq_queues + poll {
            let qid = i + 1;
            let vector = (i < irq_queues).then_some(i);
            match IoQueue::create(
                dev,
                &self.regs,
                &self.admin,
                &pool,
                qid,
                depth,
                vector,
                sgl_threshold,
            ) {
                Ok(q) => {
                    self.queues.push(q, GFP_KERNEL)?;
                    if vector.is_some() {
                        made_irq += 1;
                    } else {
                        made_poll += 1;
                    }
                }
                Err(e) => {
                    dev_warn!(
                        dev,
                        "I/O queue {} not created ({:?}); carrying on with {}\n",
                        qid,
                        e,
                        i
                    );
                    break;
                }
            }
            // Polled queues only after all interrupt-driven ones.
            if vector.is_some() && made_irq != i + 1 {
                break;
            }
        }

        // One handler per vector in use; vector 0 also serves the admin
        // queue, whose completions always signal it.
        for v in 0..vectors.count().min(u32::from(made_irq.max(1))) {
            let mut queues = KVec::new();
            for q in self.queues.iter() {
                if q.vector == Some(v as u16) {
                    queues.push(q.clone(), GFP_KERNEL)?;
                }
            }
            let handler = Arc::new(
                VectorHandler {
                    admin: (v == 0).then(|| self.admin.clone()),
                    queues,
                },
                GFP_KERNEL,
            )?;
            let reg = Registration::new(&vectors, v, c"rust_nvme", handler)?;
            self.irqs.push(reg, GFP_KERNEL)?;
        }
        dev_info!(
            dev,
            "I/O queues: {} pairs of {} entries, {} with interrupts ({} {:?} vectors), {} polled ({} granted for {} CPUs and {} polled)\n",
            self.queues.len(),
            depth,
            made_irq,
            vectors.count(),
            vectors.kind(),
            made_poll,
            granted,
            cpus,
            poll_wanted
        );
        Ok((u32::from(made_irq), u32::from(depth), wanted))
    }

    /// Makes the tag set over the I/O queues and a disk per usable
    /// namespace.
    fn add_disks(
        &mut self,
        pdev: &pci::Device<Bound>,
        ctrl: &Arc<Ctrl>,
        cdev: &Arc<passthru::CtrlDev>,
        depth: u32,
        info: &CtrlInfo,
        namespaces: &[(u32, identify::Namespace)],
    ) -> Result {
        let dev: &Device<Bound> = pdev.as_ref();
        if self.queues.is_empty() || namespaces.is_empty() {
            return Ok(());
        }
        let nr = ctrl.queues.len() as u32;
        let irq_queues = ctrl.irq_queues;
        let config = blk_mq::TagSetConfig {
            nr_hw_queues: nr,
            // One submission queue slot always stays empty.
            queue_depth: depth - 1,
            nr_maps: if nr > irq_queues { 3 } else { 1 },
            timeout: Delta::from_secs(30),
            max_segments: queue::MAX_SEGMENTS,
        };
        let set = Arc::pin_init(TagSet::new(dev, config, ctrl.clone()), GFP_KERNEL)?;
        self.tag_set = Some(set.clone());
        // Timeouts may reset the controller from the first request on.
        ctrl.set_tag_set(set.clone());

        let instance = self.instance;
        let max_bytes = info
            .max_transfer
            .min(u64::from(queue::MAX_SEGMENTS) * PAGE_SIZE);
        for (nsid, ns) in namespaces.iter() {
            let shift = ns.lba_shift;
            let params = DiskParams {
                capacity_sectors: ns.sectors(),
                logical_block_size: ns.block_size(),
                physical_block_size: ns.block_size(),
                max_hw_sectors: (max_bytes >> 9) as u32,
                max_segments: queue::MAX_SEGMENTS,
                virt_boundary_mask: PAGE_SIZE - 1,
                dma_alignment: 3,
                max_discard_sectors: if info.oncs & identify::oncs::DSM != 0 {
                    u32::MAX >> 9
                } else {
                    0
                },
                max_discard_segments: queue::MAX_DSM_RANGES,
                max_write_zeroes_sectors: if info.oncs & identify::oncs::WRITE_ZEROES != 0 {
                    (1u32 << 16) << (shift - 9)
                } else {
                    0
                },
                write_cache: info.vwc,
                fua: info.vwc,
            };
            let data = Arc::new(
                NsInfo {
                    nsid: *nsid,
                    lba_shift: shift,
                    cdev: cdev.clone(),
                },
                GFP_KERNEL,
            )?;
            let disk = GenDisk::new(
                set.clone(),
                dev,
                format_args!("rnvme{}n{}", instance, nsid),
                &params,
                data,
            )?;
            self.disks.push(disk, GFP_KERNEL)?;
        }
        dev_info!(dev, "{} disks rnvme{}n*\n", self.disks.len(), instance);
        Ok(())
    }
}

impl Drop for NvmeCtrl<'_> {
    fn drop(&mut self) {
        // No resets from here on (one in progress ends first), and no
        // passthrough: open files fail with ENODEV.
        if let Some(c) = self.ctrl.as_ref() {
            drop(c.start_delete());
        }
        let csts = self.regs.csts();
        let gone = csts == u32::MAX;
        if gone {
            // Nothing will complete: an admin command a user waits for
            // fails now, not at its timeout, since removing passthrough
            // waits for it.
            self.admin.suspend();
        }
        if let Some(cdev) = self.cdev.take() {
            cdev.remove();
        }
        self.cdev_reg = None;
        if gone {
            // Surprise removal: nothing will complete. Fail what is in
            // flight and what comes, so that deleting the disks (which
            // waits for requests) does not hang.
            for d in self.disks.iter() {
                d.mark_dead();
            }
            // Requests exist only once there are disks, made after `ctrl`.
            let n = self.ctrl.as_ref().map_or(0, |c| c.fail_all());
            dev_warn!(self.pdev, "controller gone: {} requests failed\n", n);
        }
        // Deleting a disk writes back its cache and waits for its requests:
        // the controller and its interrupts must still work.
        self.disks.clear();
        self.tag_set = None;
        if gone || self.regs.read32(regs::CC) & regs::cc::EN == 0 {
            return;
        }
        // As the C driver on an orderly shutdown: delete the I/O queues,
        // then ask the controller to shut down. Queue memory stays until
        // the controller is disabled (the fields drop after this).
        if csts & regs::csts::CFS == 0 {
            for q in self.queues.iter().rev() {
                if q.delete(&self.admin, admin::SHUTDOWN_TIMEOUT).is_err() {
                    break;
                }
            }
        }
        let cap = self.cap;
        match admin::shutdown(&self.regs, cap) {
            Ok(()) => dev_info!(self.pdev, "controller shut down\n"),
            Err(e) => dev_warn!(self.pdev, "controller shutdown failed: {:?}\n", e),
        }
        // Interrupts after the controller is quiet, queues after them.
        self.irqs.clear();
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
        let (cap, csts) = probe_regs(pdev, &bar)?;
        let regs = Regs::new(bar.into_devres()?, cap.doorbell_stride())?;

        let dev: &Device<Bound> = pdev.as_ref();
        let admin = AdminQueue::new(dev, regs.clone())?;
        if csts & regs::csts::CFS != 0 {
            dev_warn!(pdev, "controller reports a fatal error; resetting it\n");
        }
        admin::disable(&regs, cap).inspect_err(|e| {
            dev_err!(pdev, "controller did not disable: {:?}\n", e);
        })?;
        // From here on, dropping `ctrl` disables the controller before its
        // queue memory is freed, on error paths too.
        let mut ctrl = NvmeCtrl {
            pdev,
            regs: regs.clone(),
            cap,
            admin,
            queues: KVec::new(),
            irqs: KVec::new(),
            ctrl: None,
            tag_set: None,
            disks: KVec::new(),
            instance: INSTANCE.fetch_add(1, Relaxed),
            cdev: None,
            cdev_reg: None,
        };
        ctrl.admin.enable(cap).inspect_err(|e| {
            dev_err!(pdev, "controller did not become ready: {:?}\n", e);
        })?;
        let (info, namespaces) = ctrl.identify(dev)?;
        let (irq_queues, depth, wanted) = ctrl.create_io_queues(pdev, &info)?;
        let mut queues = KVec::new();
        for q in ctrl.queues.iter() {
            queues.push(q.clone(), GFP_KERNEL)?;
        }
        let shared = Ctrl::new(
            ARef::from(&**dev),
            regs,
            cap,
            ctrl.admin.clone(),
            queues,
            irq_queues,
            wanted,
        )?;
        ctrl.ctrl = Some(shared.clone());
        let cdev = passthru::CtrlDev::new(dev, shared.clone())?;
        ctrl.cdev = Some(cdev.clone());
        ctrl.add_disks(pdev, &shared, &cdev, depth, &info, &namespaces)?;
        // `add_disks` made one disk per namespace, in order.
        for ((nsid, _), disk) in namespaces.iter().zip(ctrl.disks.iter()) {
            cdev.add_namespace(*nsid, Arc::new(disk.private_queue()?, GFP_KERNEL)?)?;
        }
        let reg =
            miscdev::Registration::register(format_args!("rnvme{}", ctrl.instance), cdev.clone())?;
        ctrl.cdev_reg = Some(reg);
        Ok(ctrl)
    }
}

/// Reads and checks the controller's capabilities; returns them and CSTS.
fn probe_regs(pdev: &pci::Device<Core<'_>>, bar: &Bar0<'_>) -> Result<(Cap, u32)> {
    let csts = bar.read32(regs::CSTS);
    if csts == u32::MAX {
        // All ones: the device is gone or its BAR does not decode.
        dev_err!(pdev, "controller registers read as all ones\n");
        return Err(ENODEV);
    }
    // Two 32-bit reads: the BAR only guarantees 32-bit access, and CAP
    // does not change under us.
    let cap =
        regs::Cap(u64::from(bar.read32(regs::CAP)) | u64::from(bar.read32(regs::CAP + 4)) << 32);
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
    Ok((cap, csts))
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
        poll_queues: u32 {
            default: 0,
            description: "I/O queues polled for completions (io_uring hipri), 0-64; at least one queue keeps interrupts",
        },
        sgl_threshold: u32 {
            default: 32768,
            description: "Use SGLs when the segments of a transfer average at least this many bytes, 0 or 512-524288; 0 turns them off for block I/O (passthrough commands always use them)",
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
    let poll = module_parameters::poll_queues.value();
    if poll > 64 {
        pr_err!("poll_queues={} is out of range: give 0-64\n", poll);
        return Err(EINVAL);
    }
    // Below a sector no transfer could fall short of it; above the largest
    // transfer none could reach it: both are mistakes, not settings.
    let sgl = module_parameters::sgl_threshold.value();
    if sgl != 0 && !(512..=524288).contains(&sgl) {
        pr_err!(
            "sgl_threshold={} is out of range: give 0 or 512-524288\n",
            sgl
        );
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
