// SPDX-License-Identifier: GPL-2.0

//! The GPU manager: firmware bring-up, the kernel's GPU memory, the rings
//! to and from the firmware, context slots, events and recovery.
//!
//! Kernel GPU memory is context slot 0. At boot it holds one "init" page
//! (init data, ring descriptors, stamps) and one "rings" page (the entries of
//! every ring), at [`KERNEL_VA_START`]. Queues and jobs take 16 KiB kernel
//! pages from a pool; a page that went back to the pool stays mapped, so its
//! VA is never remapped and the firmware's TLB never goes stale for it.

use crate::{
    fw::{
        pgtable::{KERNEL_VA_START, NUM_SLOTS, PAGE_SIZE},
        shared::*,
    },
    mmu::PageTables,
    queue::Queue,
    vgpu::{Irq, Vgpu},
};
use abstractions::{
    bus::{Bus, BusMapping},
    log::LogLimit,
    workqueue::OwnedQueue,
};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    time::{delay::fsleep, Delta, Instant, Monotonic},
    workqueue::{new_work, Work, WorkItem},
};

/// CPU pages per GPU page.
const CPU_PAGES: usize = (PAGE_SIZE as usize) >> kernel::page::PAGE_SHIFT;

// Layout of the init page.
const OFF_DEVCTL_DESC: u64 = 128;
const OFF_EVENT_DESC: u64 = 160;
const OFF_FWLOG_DESC: u64 = 192;
const OFF_PIPE_DESC: u64 = 224;
const OFF_STAMPS: u64 = 512;
// Layout of the rings page (offsets from the init page, which precedes it).
const OFF_DEVCTL: u64 = PAGE_SIZE;
const DEVCTL_COUNT: u32 = 64;
const OFF_EVENTS: u64 = OFF_DEVCTL + DEVCTL_COUNT as u64 * DEVCTL_SIZE;
const EVENT_COUNT: u32 = 128;
const OFF_FWLOG: u64 = OFF_EVENTS + EVENT_COUNT as u64 * EVENT_SIZE;
const FWLOG_COUNT: u32 = 64;
const OFF_PIPES: u64 = OFF_FWLOG + FWLOG_COUNT as u64 * FWLOG_SIZE;
const PIPE_COUNT: u32 = 64;
const _: () =
    assert!(OFF_PIPES + NUM_PIPES as u64 * PIPE_COUNT as u64 * PIPE_MSG_SIZE <= 2 * PAGE_SIZE);

/// Whether a line about a job's fault (or the firmware's own) may be
/// logged now: the first 20, then one in 1000.
pub(crate) fn log_allowed() -> bool {
    static LOG: LogLimit<20, 1000> = LogLimit::new();
    LOG.allow()
}

/// A ring in the init mapping: its descriptor and entries.
#[derive(Clone, Copy)]
struct Ring {
    desc: u64,
    base: u64,
    count: u32,
    size: u64,
}

impl Ring {
    const fn new(desc: u64, base: u64, count: u32, size: u64) -> Self {
        Self {
            desc,
            base,
            count,
            size,
        }
    }

    fn init(&self, mem: &BusMapping) -> Result {
        mem.write_u64(self.desc + ring::BASE, KERNEL_VA_START + self.base)?;
        mem.write_u32(self.desc + ring::COUNT, self.count)?;
        mem.write_u32(self.desc + ring::ENTRY_SIZE, self.size as u32)?;
        mem.write_u32(self.desc + ring::WPTR, 0)?;
        mem.write_u32(self.desc + ring::RPTR, 0)
    }

    /// Producer side: appends `msg`; `EBUSY` if the ring is full.
    fn push(&self, mem: &BusMapping, msg: &[u8]) -> Result {
        let w = mem.read_u32(self.desc + ring::WPTR)? % self.count;
        let r = mem.read_u32(self.desc + ring::RPTR)?;
        let next = (w + 1) % self.count;
        if next == r {
            return Err(EBUSY);
        }
        mem.write(self.base + u64::from(w) * self.size, msg)?;
        // The entry before the pointer that publishes it.
        mem.write_u32(self.desc + ring::WPTR, next)
    }

    /// Consumer side: takes the next message, if any.
    fn pop(&self, mem: &BusMapping, msg: &mut [u8]) -> Result<bool> {
        let w = mem.read_u32(self.desc + ring::WPTR)?;
        let r = mem.read_u32(self.desc + ring::RPTR)? % self.count;
        if w == r {
            return Ok(false);
        }
        mem.read(self.base + u64::from(r) * self.size, msg)?;
        mem.write_u32(self.desc + ring::RPTR, (r + 1) % self.count)?;
        Ok(true)
    }
}

const DEVCTL_RING: Ring = Ring::new(OFF_DEVCTL_DESC, OFF_DEVCTL, DEVCTL_COUNT, DEVCTL_SIZE);
const EVENT_RING: Ring = Ring::new(OFF_EVENT_DESC, OFF_EVENTS, EVENT_COUNT, EVENT_SIZE);
const FWLOG_RING: Ring = Ring::new(OFF_FWLOG_DESC, OFF_FWLOG, FWLOG_COUNT, FWLOG_SIZE);
const fn pipe_ring(p: usize) -> Ring {
    Ring::new(
        OFF_PIPE_DESC + p as u64 * RING_DESC_SIZE,
        OFF_PIPES + p as u64 * PIPE_COUNT as u64 * PIPE_MSG_SIZE,
        PIPE_COUNT,
        PIPE_MSG_SIZE,
    )
}

/// A 16 KiB page of kernel GPU memory: on the bus and mapped in slot 0.
pub(crate) struct KernelPage {
    mem: BusMapping,
    va: u64,
}

impl KernelPage {
    /// GPU VA in the kernel context.
    pub(crate) fn va(&self) -> u64 {
        self.va
    }

    /// CPU access through the bus.
    pub(crate) fn mem(&self) -> &BusMapping {
        &self.mem
    }
}

struct KernelVm {
    pt: PageTables,
    next_va: u64,
    /// Pages for jobs.
    free: KVec<KernelPage>,
    /// Pages for work queues, never used for anything else: a stale "run
    /// work queue" message still in a pipe ring when a queue is destroyed
    /// makes the firmware read the page again, and must find a work queue
    /// there (an empty one), not a job.
    free_wq: KVec<KernelPage>,
}

/// Most kernel pages kept for reuse; they stay mapped (see the module docs).
const KERNEL_POOL_MAX: usize = 4096;

struct Slots {
    used: u64,
    ttbat: BusMapping,
}

/// The GPU.
#[pin_data]
pub(crate) struct Gpu {
    bus: Arc<Bus>,
    /// The firmware's and the driver's work.
    wq: Arc<OwnedQueue>,
    vgpu: Arc<Vgpu>,
    /// Holds a reference to this `Gpu` until `shutdown`.
    irq: Arc<GpuIrq>,
    /// Init data, ring descriptors, stamps and ring entries (2 GPU pages).
    init: BusMapping,
    #[pin]
    kvm: Mutex<KernelVm>,
    #[pin]
    slots: Mutex<Slots>,
    /// The device-control ring and its sequence numbers, pipes.
    #[pin]
    tx: Mutex<u32>,
    /// Queues by stamp index (their firmware id).
    #[pin]
    queues: Mutex<KVec<Option<Arc<Queue>>>>,
    next_job_id: AtomicU64,
    job_timeout_ms: u32,
    /// Serialises fault recovery with queue teardown, so that the work
    /// queue a recovery names to the firmware cannot be dropped and reused
    /// meanwhile.
    #[pin]
    recovery: Mutex<()>,
    /// Resets of the firmware after a fault or timeout.
    recoveries: AtomicU32,
    /// The firmware crashed: the device is dead until the module reloads.
    crashed: AtomicBool,
    #[pin]
    event_work: Work<Gpu>,
}

kernel::impl_has_work! {
    impl HasWork<Self> for Gpu { self.event_work }
}

/// The interrupt handler: events are handled in process context.
#[pin_data]
struct GpuIrq {
    #[pin]
    gpu: Mutex<Option<Arc<Gpu>>>,
}

impl Irq for GpuIrq {
    fn raise(&self) {
        if let Some(gpu) = self.gpu.lock().as_ref() {
            let _ = gpu.wq.enqueue(gpu.clone());
        }
    }
}

impl Gpu {
    /// Creates the GPU and boots its firmware. The driver's work runs on
    /// `wq`, the device's on `fwq`, so that the firmware runs even while
    /// every driver worker waits for it.
    pub(crate) fn new(
        wq: Arc<OwnedQueue>,
        fwq: Arc<OwnedQueue>,
        job_timeout_ms: u32,
    ) -> Result<Arc<Self>> {
        let bus = Bus::new()?;
        let irq = Arc::pin_init(pin_init!(GpuIrq { gpu <- new_mutex!(None) }), GFP_KERNEL)?;
        let vgpu = Vgpu::new(bus.clone(), irq.clone(), fwq)?;
        let irq_ref = irq.clone();
        if vgpu.read_reg(REG_ID) != ID_MAGIC {
            pr_err!("unknown GPU id {:#x}\n", vgpu.read_reg(REG_ID));
            return Err(ENODEV);
        }
        let init = bus.alloc(2 * CPU_PAGES)?;
        let mut pt = PageTables::new(&bus)?;
        for i in 0..2u64 {
            pt.map_page(
                KERNEL_VA_START + i * PAGE_SIZE,
                init.addr() + i * PAGE_SIZE,
                true,
                true,
            )?;
        }
        let ttbat = bus.alloc(1)?;
        ttbat.write_u64(0, pt.root() | TTB_VALID)?;
        let mut queues = KVec::new();
        for _ in 0..NUM_STAMPS {
            queues.push(None, GFP_KERNEL)?;
        }
        let gpu = Arc::pin_init(
            pin_init!(Self {
                bus,
                wq,
                vgpu,
                irq: irq_ref,
                init,
                kvm <- new_mutex!(KernelVm {
                    pt,
                    next_va: KERNEL_VA_START + 2 * PAGE_SIZE,
                    free: KVec::new(),
                    free_wq: KVec::new(),
                }),
                slots <- new_mutex!(Slots { used: 1, ttbat }),
                tx <- new_mutex!(0),
                queues <- new_mutex!(queues),
                next_job_id: AtomicU64::new(1),
                job_timeout_ms,
                recovery <- new_mutex!(()),
                recoveries: AtomicU32::new(0),
                crashed: AtomicBool::new(false),
                event_work <- new_work!("Gpu::event_work"),
            }),
            GFP_KERNEL,
        )?;
        *irq.gpu.lock() = Some(gpu.clone());
        if let Err(e) = gpu.boot() {
            gpu.shutdown();
            return Err(e);
        }
        Ok(gpu)
    }

    /// Writes the init data and boots the firmware.
    fn boot(&self) -> Result {
        let m = &self.init;
        m.write_u32(initdata::MAGIC, INITDATA_MAGIC)?;
        m.write_u32(initdata::VERSION, INITDATA_VERSION)?;
        m.write_u64(initdata::DEVCTL_RING, KERNEL_VA_START + OFF_DEVCTL_DESC)?;
        m.write_u64(initdata::EVENT_RING, KERNEL_VA_START + OFF_EVENT_DESC)?;
        m.write_u64(initdata::FWLOG_RING, KERNEL_VA_START + OFF_FWLOG_DESC)?;
        for p in 0..NUM_PIPES {
            m.write_u64(
                initdata::PIPE_RINGS + 8 * p as u64,
                KERNEL_VA_START + pipe_ring(p).desc,
            )?;
            pipe_ring(p).init(m)?;
        }
        m.write_u64(initdata::STAMPS, KERNEL_VA_START + OFF_STAMPS)?;
        m.write_u32(initdata::NUM_STAMPS, NUM_STAMPS as u32)?;
        m.write_u32(initdata::DEVCTL_ACK, 0)?;
        DEVCTL_RING.init(m)?;
        EVENT_RING.init(m)?;
        FWLOG_RING.init(m)?;
        let ttbat = self.slots.lock().ttbat.addr();
        self.vgpu.write_reg(REG_TTBAT, ttbat);
        self.vgpu.write_reg(REG_INITDATA, KERNEL_VA_START);
        self.vgpu.write_reg(REG_CONTROL, CONTROL_BOOT);
        self.drain_fwlog();
        match self.vgpu.read_reg(REG_STATUS) {
            STATUS_RUNNING => Ok(()),
            s => {
                pr_err!("firmware did not boot (status {})\n", s);
                Err(EIO)
            }
        }
    }

    /// Stops the firmware for good; queues must be gone.
    pub(crate) fn shutdown(&self) {
        self.vgpu.write_reg(REG_CONTROL, CONTROL_RESET);
        self.drain_fwlog();
        // Breaks the cycle GPU -> device -> interrupt -> GPU.
        *self.irq.gpu.lock() = None;
    }

    pub(crate) fn bus(&self) -> &Arc<Bus> {
        &self.bus
    }

    pub(crate) fn wq(&self) -> &Arc<OwnedQueue> {
        &self.wq
    }

    pub(crate) fn job_timeout_ms(&self) -> u32 {
        self.job_timeout_ms
    }

    pub(crate) fn next_job_id(&self) -> u64 {
        self.next_job_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The GPU timer, in nanoseconds.
    pub(crate) fn timer(&self) -> u64 {
        self.vgpu.read_reg(REG_TIMER)
    }

    /// Whether the firmware is up (running or halted for recovery).
    pub(crate) fn is_alive(&self) -> bool {
        matches!(
            self.vgpu.read_reg(REG_STATUS),
            STATUS_RUNNING | STATUS_HALTED
        )
    }

    /// Takes a kernel page for a job from the pool, or maps a new one. Its
    /// content is whatever its last user left.
    pub(crate) fn kernel_page(&self) -> Result<KernelPage> {
        self.take_page(false)
    }

    /// Takes a kernel page for a work queue (see `KernelVm::free_wq`).
    pub(crate) fn wq_page(&self) -> Result<KernelPage> {
        self.take_page(true)
    }

    /// Gives a work queue's page back; the queue is dropped and empty.
    pub(crate) fn free_wq_page(&self, page: KernelPage) {
        // Can only fail to grow; the page then stays on the bus, unused,
        // until unload.
        let _ = self.kvm.lock().free_wq.push(page, GFP_KERNEL);
    }

    fn take_page(&self, wq: bool) -> Result<KernelPage> {
        let mut kvm = self.kvm.lock();
        let pool = if wq { &mut kvm.free_wq } else { &mut kvm.free };
        if let Some(p) = pool.pop() {
            return Ok(p);
        }
        let va = kvm.next_va;
        if va
            .checked_add(PAGE_SIZE)
            .is_none_or(|e| e > crate::fw::pgtable::KERNEL_VA_END)
        {
            return Err(ENOMEM);
        }
        let mem = self.bus.alloc(CPU_PAGES)?;
        kvm.pt.map_page(va, mem.addr(), true, true)?;
        kvm.next_va += PAGE_SIZE;
        Ok(KernelPage { mem, va })
    }

    /// Gives a kernel page back to the pool. The firmware must be done
    /// with it.
    pub(crate) fn free_kernel_page(&self, page: KernelPage) {
        let mut kvm = self.kvm.lock();
        if kvm.free.len() < KERNEL_POOL_MAX {
            // Can only fail to grow; then the page is leaked to the bus
            // until unload rather than remapped.
            let _ = kvm.free.push(page, GFP_KERNEL);
        } else {
            // Keep the VA mapped: unmapping would need a TLB flush; dropping
            // the pages would leave a dangling PTE, which the bus refuses.
            let _ = kvm.pt.unmap_page(page.va);
            drop(kvm);
            self.tlb_invalidate(0);
        }
    }

    /// Takes a free context slot for a VM with root table `root`.
    pub(crate) fn alloc_slot(&self, root: u64) -> Result<u32> {
        let mut s = self.slots.lock();
        let slot = (!s.used).trailing_zeros();
        if slot as usize >= NUM_SLOTS {
            return Err(EBUSY);
        }
        s.ttbat.write_u64(8 * u64::from(slot), root | TTB_VALID)?;
        s.used |= 1 << slot;
        Ok(slot)
    }

    /// Frees a VM's slot: out of the TTB and the TLB.
    pub(crate) fn free_slot(&self, slot: u32) {
        {
            let s = self.slots.lock();
            let _ = s.ttbat.write_u64(8 * u64::from(slot), 0);
        }
        self.tlb_invalidate(slot);
        self.slots.lock().used &= !(1 << slot);
    }

    /// Sends a device-control message and waits until the firmware has
    /// processed it (bounded: a dead firmware does not hang the caller).
    pub(crate) fn devctl(&self, op: u32, arg0: u32, arg1: u64) -> Result {
        let seq = {
            let mut seq = self.tx.lock();
            *seq = seq.wrapping_add(1);
            let msg = DevCtl {
                op,
                seq: *seq,
                arg0,
                arg1,
            };
            let mut pushed = false;
            for _ in 0..1000 {
                match DEVCTL_RING.push(&self.init, &msg.encode()) {
                    Err(e) if e == EBUSY => {
                        self.vgpu.write_reg(REG_DOORBELL, 1);
                        fsleep(Delta::from_micros(100));
                    }
                    r => {
                        r?;
                        pushed = true;
                        break;
                    }
                }
            }
            if !pushed {
                return Err(ETIMEDOUT);
            }
            *seq
        };
        self.vgpu.write_reg(REG_DOORBELL, 1);
        let start = Instant::<Monotonic>::now();
        loop {
            let ack = self.init.read_u32(initdata::DEVCTL_ACK)?;
            if (ack.wrapping_sub(seq) as i32) >= 0 {
                return Ok(());
            }
            if !self.is_alive() || start.elapsed() > Delta::from_millis(2000) {
                pr_warn!("firmware did not acknowledge device control {}\n", op);
                return Err(ETIMEDOUT);
            }
            fsleep(Delta::from_micros(50));
        }
    }

    /// Invalidates the firmware's TLB for `slot`.
    pub(crate) fn tlb_invalidate(&self, slot: u32) {
        // A dead firmware has no TLB to flush; the bus refuses pages that
        // are gone anyway.
        let _ = self.devctl(DEVCTL_TLBI_SLOT, slot, 0);
    }

    /// Tells the firmware there is work on the work queue at `wq_va`.
    pub(crate) fn run_wq(&self, priority: usize, wq_va: u64) -> Result {
        let mut msg = [0u8; PIPE_MSG_SIZE as usize];
        msg[0..4].copy_from_slice(&PIPE_RUN_WQ.to_le_bytes());
        msg[8..16].copy_from_slice(&wq_va.to_le_bytes());
        let _tx = self.tx.lock();
        let r = pipe_ring(priority.min(NUM_PIPES - 1)).push(&self.init, &msg);
        // A full pipe already holds a message that makes the firmware look
        // at this queue's ring, or will once it drains: ring anyway.
        self.vgpu.write_reg(REG_DOORBELL, 1);
        match r {
            Err(e) if e == EBUSY => Ok(()),
            r => r,
        }
    }

    /// Registers a queue under a free stamp index.
    pub(crate) fn add_queue(
        &self,
        make: impl FnOnce(u32) -> Result<Arc<Queue>>,
    ) -> Result<Arc<Queue>> {
        let mut q = self.queues.lock();
        // Stamp 0 is never used, so that a zeroed event means nothing.
        let idx = (1..q.len()).find(|&i| q[i].is_none()).ok_or(EBUSY)?;
        let queue = make(idx as u32)?;
        q[idx] = Some(queue.clone());
        Ok(queue)
    }

    /// Runs `f` (a queue's teardown) with recovery held off.
    pub(crate) fn without_recovery<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.recovery.lock();
        f()
    }

    /// Unregisters the queue at stamp index `idx`.
    pub(crate) fn remove_queue(&self, idx: u32) {
        if let Some(slot) = self.queues.lock().get_mut(idx as usize) {
            *slot = None;
        }
    }

    fn queue(&self, idx: u32) -> Option<Arc<Queue>> {
        self.queues.lock().get(idx as usize).and_then(|q| q.clone())
    }

    /// Reads completion stamp `idx`.
    pub(crate) fn stamp(&self, idx: u32) -> Result<u32> {
        self.init.read_u32(OFF_STAMPS + 4 * u64::from(idx))
    }

    fn drain_fwlog(&self) {
        // A crashed firmware logs nothing more, and its last lines say why:
        // those are printed whatever the log budget.
        let crashed = self.vgpu.read_reg(REG_STATUS) == STATUS_CRASHED;
        let mut msg = [0u8; FWLOG_SIZE as usize];
        while let Ok(true) = FWLOG_RING.pop(&self.init, &mut msg) {
            let len =
                (u32::from_le_bytes([msg[4], msg[5], msg[6], msg[7]]) as usize).min(FWLOG_TEXT);
            let text = &msg[8..8 + len];
            let text = core::str::from_utf8(text).unwrap_or("<not utf-8>");
            if crashed || log_allowed() {
                pr_info!("fw: {}\n", text);
            }
        }
    }

    /// Handles the firmware's events.
    fn handle_events(&self) {
        let mut msg = [0u8; EVENT_SIZE as usize];
        loop {
            match EVENT_RING.pop(&self.init, &mut msg) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    pr_err!("event ring unreadable: {:?}\n", e);
                    break;
                }
            }
            let ev = Event::decode(&msg);
            match ev.kind {
                EVENT_COMPLETE => {
                    if let Some(q) = self.queue(ev.stamp_index) {
                        q.complete();
                    }
                }
                EVENT_FAULT | EVENT_TIMEOUT | EVENT_ILLEGAL => self.recover(&ev),
                k => pr_warn!("unknown firmware event {}\n", k),
            }
        }
        self.drain_fwlog();
        if self.vgpu.read_reg(REG_STATUS) == STATUS_CRASHED {
            if !self.crashed.swap(true, Ordering::Relaxed) {
                pr_err!("firmware crashed; the GPU is dead until reload\n");
            }
            let mut queues = KVec::new();
            for q in self.queues.lock().iter().flatten() {
                if queues.push(q.clone(), GFP_ATOMIC).is_err() {
                    break;
                }
            }
            for q in queues {
                q.fail_all(ENODEV);
            }
        }
    }

    /// A job faulted or timed out and the firmware halted: fail that job,
    /// skip it, and let the firmware go on with everyone's work.
    fn recover(&self, ev: &Event) {
        let _guard = self.recovery.lock();
        self.recoveries.fetch_add(1, Ordering::Relaxed);
        let guilty = self.queue(ev.stamp_index).and_then(|q| q.fault(ev));
        if guilty.is_none() && log_allowed() {
            pr_warn!("fault of job {} of a queue that is gone\n", ev.job_id);
        }
        let wq_va = guilty.as_ref().map_or(0, |(va, _)| *va);
        if self.devctl(DEVCTL_RESUME, 0, wq_va).is_err() {
            pr_err!("firmware did not resume after a fault\n");
        }
        // The firmware skipped the job: its page may be reused.
        if let Some((_, Some(page))) = guilty {
            self.free_kernel_page(page);
        }
    }

    /// Whether the firmware crashed: new work gets `ENODEV`.
    pub(crate) fn is_dead(&self) -> bool {
        self.crashed.load(Ordering::Relaxed)
    }

    /// Fault recoveries so far.
    pub(crate) fn recoveries(&self) -> u32 {
        self.recoveries.load(Ordering::Relaxed)
    }
}

impl WorkItem for Gpu {
    type Pointer = Arc<Gpu>;

    fn run(this: Arc<Gpu>) {
        this.handle_events();
    }
}
