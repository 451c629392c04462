// SPDX-License-Identifier: GPL-2.0

//! I/O queue pairs: their memory, creation and deletion through the admin
//! queue, submission of block requests and reaping of their completions.
//!
//! A request the controller has is kept, as the token blk-mq gave, in the
//! queue's slot for its tag together with the generation of the command
//! identifier it was sent with. A completion takes the token out of the
//! slot its identifier names; an identifier naming an empty slot or another
//! generation is logged and dropped. So no request completes twice, and a
//! bogus entry from the device never touches a request.

use crate::{
    admin::{AdminQueue, Regs},
    command::{Command, DataPtr},
    completion::{BlkStatus, Completion, Disposition},
    prp::{Plan, Segment},
    regs,
    ring::{cid, CqRing, SqRing},
    sgl::{self, Descriptor},
    Iod, NsInfo, NvmeOps, PAGE_SIZE,
};
use abstractions::{
    blk_mq::{Op, Refused, Request, Status},
    dma::{DmaBuffer, DmaPool},
};
use kernel::{
    device::{Bound, Device},
    new_spinlock_irq,
    prelude::*,
    sync::{aref::ARef, Arc, SpinLockIrq},
    time::Delta,
};

/// Most data segments in a request: with 4 KiB pages, 512 KiB transfers.
pub(crate) const MAX_SEGMENTS: u16 = 128;
/// Ranges in a Dataset Management command (one list page).
pub(crate) const MAX_DSM_RANGES: u16 = 256;
/// Completions reaped under the lock before the requests are ended.
const BATCH: usize = 16;
/// How often a command is retried after a failure without DNR (the C
/// driver's `max_retries`).
pub(crate) const MAX_RETRIES: u8 = 5;

/// A request the controller has: its token and command generation.
struct Inflight {
    rq: Request<NvmeOps>,
    gen: u8,
    /// It timed out and an Abort was sent for it.
    aborted: bool,
}

/// The state of a queue pair that its lock protects.
struct Rings {
    sq: SqRing,
    cq: CqRing,
    /// Requests in flight, by tag.
    slots: KVec<Option<Inflight>>,
    /// Command identifier generation of each tag.
    gens: KVec<u8>,
    /// The controller is gone or being reset: refuse new requests.
    stopped: bool,
    /// Commands were added since the doorbell was last written.
    unrung: bool,
}

/// An I/O submission queue and the completion queue it completes on, with
/// the same ID and depth.
#[pin_data]
pub(crate) struct IoQueue {
    pub(crate) qid: u16,
    /// The interrupt vector of the completion queue; `None` for a polled
    /// queue.
    pub(crate) vector: Option<u16>,
    depth: u16,
    /// `None` if the controller has no SGLs; else block transfers whose
    /// segments average at least this many bytes use one (0: none do).
    /// Passthrough commands always do, as in the C driver: with an SGL the
    /// controller checks the transfer against the command, with PRPs it
    /// would follow a list past its end.
    sgl_threshold: Option<u32>,
    regs: Arc<Regs>,
    dev: ARef<Device>,
    pool: Arc<DmaPool>,
    // The controller reads and writes these until the pair is deleted.
    sq: DmaBuffer,
    cq: DmaBuffer,
    #[pin]
    rings: SpinLockIrq<Rings>,
}

impl IoQueue {
    /// Allocates queue pair `qid` of `depth` entries (at least 2) that
    /// completes on `vector` (`None`: polled) and describes data with SGLs
    /// as `sgl_threshold` says (see the field), and has the controller
    /// create it, the completion queue first as the submission queue names
    /// it.
    #[expect(clippy::too_many_arguments)]
    pub(crate) fn create(
        dev: &Device<Bound>,
        regs: &Arc<Regs>,
        admin: &AdminQueue,
        pool: &Arc<DmaPool>,
        qid: u16,
        depth: u16,
        vector: Option<u16>,
        sgl_threshold: Option<u32>,
    ) -> Result<Arc<Self>> {
        let tags = usize::from(depth);
        // (`depth` names the field inside the initialiser.)
        let entries = depth;
        let mut slots = KVec::with_capacity(tags, GFP_KERNEL)?;
        for _ in 0..tags {
            slots.push(None, GFP_KERNEL)?;
        }
        let sq = DmaBuffer::zeroed(dev, usize::from(depth) * Command::SIZE)?;
        let cq = DmaBuffer::zeroed(dev, usize::from(depth) * Completion::SIZE)?;
        let q = Arc::pin_init(
            try_pin_init!(Self {
                qid,
                vector,
                depth,
                sgl_threshold,
                regs: regs.clone(),
                dev: dev.into(),
                pool: pool.clone(),
                sq,
                cq,
                rings <- new_spinlock_irq!(Rings {
                    sq: SqRing::new(entries).ok_or(EINVAL)?,
                    cq: CqRing::new(entries).ok_or(EINVAL)?,
                    slots,
                    gens: KVec::from_elem(0u8, tags, GFP_KERNEL)?,
                    stopped: false,
                    unrung: false,
                }),
            }),
            GFP_KERNEL,
        )?;
        q.register(admin)?;
        Ok(q)
    }

    /// Has the controller create the pair, the completion queue first as
    /// the submission queue names it.
    fn register(&self, admin: &AdminQueue) -> Result {
        let (qid, depth) = (self.qid, self.depth);
        admin.submit_sync(Command::create_io_cq(
            qid,
            depth,
            self.cq.dma_addr(0),
            self.vector,
        ))?;
        if let Err(e) =
            admin.submit_sync(Command::create_io_sq(qid, depth, self.sq.dma_addr(0), qid))
        {
            // Do not leave a completion queue behind for memory we free.
            let _ = admin.submit_sync(Command::delete_io_cq(qid));
            return Err(e);
        }
        Ok(())
    }

    /// Creates the pair again on a controller that was reset (and so
    /// forgot it), with empty rings; it stays stopped until
    /// [`IoQueue::start`].
    pub(crate) fn recreate(&self, admin: &AdminQueue) -> Result {
        {
            let mut r = self.rings.lock();
            r.sq = SqRing::new(self.depth).ok_or(EINVAL)?;
            r.cq = CqRing::new(self.depth).ok_or(EINVAL)?;
            r.unrung = false;
            // Old phase tags would pass for new entries.
            self.cq.fill_zero();
        }
        self.register(admin)
    }

    /// Refuses new requests (with an I/O error) from now on.
    pub(crate) fn stop(&self) {
        self.rings.lock().stopped = true;
    }

    /// Takes requests again.
    pub(crate) fn start(&self) {
        self.rings.lock().stopped = false;
    }

    /// The generation of the command in flight under `tag`, if any.
    pub(crate) fn inflight_gen(&self, tag: u32) -> Option<u8> {
        let r = self.rings.lock();
        r.slots.get(tag as usize)?.as_ref().map(|i| i.gen)
    }

    /// Whether generation `gen` of `tag` is still in flight.
    pub(crate) fn holds(&self, tag: u32, gen: u8) -> bool {
        self.inflight_gen(tag) == Some(gen)
    }

    /// Notes that an Abort is sent for generation `gen` of `tag`; false if
    /// one was sent already (or the command is gone).
    pub(crate) fn mark_aborted(&self, tag: u32, gen: u8) -> bool {
        let mut r = self.rings.lock();
        match r.slots.get_mut(tag as usize) {
            Some(Some(i)) if i.gen == gen && !i.aborted => {
                i.aborted = true;
                true
            }
            _ => false,
        }
    }

    /// Has the controller delete the pair (the submission queue first),
    /// waiting at most `timeout` for each command: this runs on teardown,
    /// where the controller is shut down and disabled next anyway.
    pub(crate) fn delete(&self, admin: &AdminQueue, timeout: Delta) -> Result {
        admin.submit_sync_within(Command::delete_io_sq(self.qid), timeout)?;
        admin.submit_sync_within(Command::delete_io_cq(self.qid), timeout)?;
        Ok(())
    }

    /// Sends `rq` to the controller as a command for namespace `ns`. The
    /// doorbell is written for the `last` request of a batch only (or by
    /// [`IoQueue::commit`]): one register write, which is costly, per batch.
    pub(crate) fn queue_rq(
        &self,
        ns: &NsInfo,
        mut rq: Request<NvmeOps>,
        last: bool,
    ) -> Result<(), Refused> {
        let cmd = match self.build(ns, &mut rq) {
            Ok(cmd) => cmd,
            // Out of DMA mappings or list pages: blk-mq tries again later.
            Err(e) if e == ENOMEM => return Err(rq.refuse(Status::RESOURCE)),
            Err(e) => {
                dev_err!(self.dev, "request not sent: {:?}\n", e);
                rq.end(Status::from_error(e));
                return Ok(());
            }
        };
        let tag = rq.tag() as usize;
        let mut r = self.rings.lock();
        if r.stopped {
            drop(r);
            return Err(rq.refuse(Status::IOERR));
        }
        let gen = match r.gens.get(tag) {
            Some(&g) if r.slots[tag].is_none() => cid::next_gen(g),
            _ => {
                drop(r);
                dev_err!(
                    self.dev,
                    "queue {}: tag {} already in flight\n",
                    self.qid,
                    tag
                );
                return Err(rq.refuse(Status::IOERR));
            }
        };
        let Some(slot) = r.sq.push() else {
            drop(r);
            return Err(rq.refuse(Status::DEV_RESOURCE));
        };
        let id = cid::make(tag as u16, gen);
        if self
            .sq
            .write(
                usize::from(slot) * Command::SIZE,
                &cmd.with_cid(id).to_bytes(),
            )
            .is_err()
        {
            drop(r);
            return Err(rq.refuse(Status::IOERR));
        }
        r.gens[tag] = gen;
        r.slots[tag] = Some(Inflight {
            rq,
            gen,
            aborted: false,
        });
        if last {
            self.ring_sq(&mut r);
        } else {
            r.unrung = true;
        }
        Ok(())
    }

    /// Tells the controller about the commands added since the doorbell
    /// was last written, if any.
    pub(crate) fn commit(&self) {
        let mut r = self.rings.lock();
        if r.unrung {
            self.ring_sq(&mut r);
        }
    }

    fn ring_sq(&self, r: &mut Rings) {
        r.unrung = false;
        self.regs.ring(
            regs::sq_doorbell(self.qid, self.regs.stride),
            u32::from(r.sq.tail()),
        );
    }

    /// The command for `rq`: data mapped and described by PRPs, lists in
    /// the request's data.
    fn build(&self, ns: &NsInfo, rq: &mut Request<NvmeOps>) -> Result<Command> {
        // A list left from an earlier try of the request.
        rq.data_mut().list = None;
        let lba = rq.sector() >> (ns.lba_shift - 9);
        let blocks = rq.bytes() >> ns.lba_shift;
        match rq.op() {
            Op::Read | Op::Write => {
                if blocks == 0 || blocks > 1 << 16 {
                    return Err(EINVAL);
                }
                let data = self.map(rq, false)?;
                let cmd = |ptr| {
                    Command::read_write(
                        rq.op() == Op::Write,
                        ns.nsid,
                        lba,
                        blocks,
                        rq.is_fua(),
                        ptr,
                    )
                };
                Ok(match data {
                    Data::Prp(ptr) => cmd(ptr),
                    Data::Sgl(d) => cmd(DataPtr::default()).with_sgl(d),
                })
            }
            Op::Flush => Ok(Command::flush(ns.nsid)),
            Op::WriteZeroes => {
                if blocks == 0 || blocks > 1 << 16 {
                    return Err(EINVAL);
                }
                Ok(Command::write_zeroes(ns.nsid, lba, blocks))
            }
            Op::Discard => {
                let list = self.pool.alloc_atomic()?;
                let mut n = 0u32;
                for (sector, bytes) in rq.ranges() {
                    if n == u32::from(MAX_DSM_RANGES) {
                        return Err(EINVAL);
                    }
                    let range = crate::command::dsm_range(
                        sector >> (ns.lba_shift - 9),
                        bytes >> ns.lba_shift,
                    );
                    list.write(n as usize * range.len(), &range)?;
                    n += 1;
                }
                if n == 0 {
                    return Err(EINVAL);
                }
                let ptr = DataPtr {
                    prp1: list.dma_addr(0),
                    prp2: 0,
                };
                rq.data_mut().list = Some(list);
                Ok(Command::deallocate(ns.nsid, n, ptr))
            }
            // Passthrough (`NVME_IOCTL_IO_CMD`): the caller's command,
            // with its data pointer.
            Op::DrvIn | Op::DrvOut => {
                let Some(user) = rq.data().user else {
                    return Err(EINVAL);
                };
                if rq.bytes() == 0 {
                    return Ok(user.cmd);
                }
                Ok(match self.map(rq, true)? {
                    Data::Prp(ptr) => user.cmd.with_data(ptr),
                    Data::Sgl(d) => user.cmd.with_sgl(d),
                })
            }
            _ => Err(EOPNOTSUPP),
        }
    }

    /// Maps the data of `rq` and describes it with PRP entries, or with an
    /// SGL if the controller has them and its segments are large enough on
    /// average (see [`sgl::use_sgl`]) or `user` (a passthrough command).
    fn map(&self, rq: &mut Request<NvmeOps>, user: bool) -> Result<Data> {
        let n = rq.map_data()? as usize;
        let mut segs = [Segment { addr: 0, len: 0 }; MAX_SEGMENTS as usize];
        if n > segs.len() {
            return Err(EINVAL);
        }
        for (s, (addr, len)) in segs.iter_mut().zip(rq.segments()) {
            *s = Segment { addr, len };
        }
        let segs = &segs[..n];
        let sgl = match self.sgl_threshold {
            Some(t) => user || sgl::use_sgl(true, t, rq.bytes(), n),
            None => false,
        };
        if sgl && sgl::fits_one_list(n, PAGE_SIZE as usize) {
            return self.map_sgl(rq, segs).map(Data::Sgl);
        }
        let plan = Plan::new(segs, PAGE_SIZE).map_err(|e| {
            // The queue limits (virt_boundary_mask, dma_alignment) rule
            // this out; say so if the block layer let one through.
            dev_err!(self.dev, "request data not describable by PRPs: {:?}\n", e);
            EINVAL
        })?;
        let prp2 = match plan.more {
            0 => 0,
            1 => plan.pages().next().unwrap_or(0),
            _ => {
                if plan.list_pages(PAGE_SIZE) != 1 {
                    return Err(EINVAL);
                }
                let list = self.pool.alloc_atomic()?;
                for (i, page) in plan.pages().enumerate() {
                    list.write(i * 8, &page.to_le_bytes())?;
                }
                let addr = list.dma_addr(0);
                rq.data_mut().list = Some(list);
                addr
            }
        };
        Ok(Data::Prp(DataPtr {
            prp1: plan.prp1,
            prp2,
        }))
    }

    /// The SGL entry 1 for `segs` (one to a list page of them): the one
    /// segment itself, or the list, written to a page of the pool.
    fn map_sgl(&self, rq: &mut Request<NvmeOps>, segs: &[Segment]) -> Result<Descriptor> {
        if let [one] = segs {
            return Ok(Descriptor::data(*one));
        }
        let list = self.pool.alloc_atomic()?;
        for (i, s) in segs.iter().enumerate() {
            list.write(i * sgl::DESC_SIZE, &Descriptor::data(*s).to_bytes())?;
        }
        let d = Descriptor::last_segment(list.dma_addr(0), segs.len());
        rq.data_mut().list = Some(list);
        Ok(d)
    }

    /// Reaps the completion queue and ends the requests completed; returns
    /// how many entries were consumed.
    pub(crate) fn process(&self) -> u32 {
        let mut total = 0;
        loop {
            let mut done: [Option<(Request<NvmeOps>, Completion)>; BATCH] = [const { None }; BATCH];
            let mut n = 0;
            let mut consumed = 0;
            {
                let mut r = self.rings.lock();
                while consumed < BATCH {
                    let Some(c) = next_completion(&self.cq, &mut r.cq) else {
                        break;
                    };
                    consumed += 1;
                    if r.sq.set_head(c.sq_head).is_err() {
                        dev_err!(
                            self.dev,
                            "queue {}: completion with SQ head {} out of range\n",
                            self.qid,
                            c.sq_head
                        );
                    }
                    let tag = usize::from(cid::tag(c.cid));
                    let gen = cid::gen(c.cid);
                    match r.slots.get_mut(tag) {
                        // Fault injection: lose the completion, so that
                        // the request times out.
                        Some(Some(i)) if i.gen == gen && i.rq.should_fake_timeout() => {}
                        Some(slot) if slot.as_ref().is_some_and(|i| i.gen == gen) => {
                            if let Some(i) = slot.take() {
                                done[n] = Some((i.rq, c));
                                n += 1;
                            }
                        }
                        _ => dev_warn!(
                            self.dev,
                            "queue {}: completion for command id {:#x}, which is not in flight; ignored\n",
                            self.qid,
                            c.cid
                        ),
                    }
                }
                if consumed > 0 {
                    self.regs.ring(
                        regs::cq_doorbell(self.qid, self.regs.stride),
                        u32::from(r.cq.head()),
                    );
                }
            }
            for (rq, c) in done.iter_mut().filter_map(Option::take) {
                complete(rq, c);
            }
            total += consumed as u32;
            if consumed < BATCH {
                return total;
            }
        }
    }

    /// Takes back the requests in flight on a controller that was disabled
    /// for a reset (so will not complete them), to be sent again after it:
    /// each is requeued, unless it was retried as often as allowed, when
    /// it fails. Returns how many were requeued and failed.
    pub(crate) fn cancel_for_reset(&self) -> (u32, u32) {
        let (mut requeued, mut failed) = (0, 0);
        loop {
            let taken = self.rings.lock().slots.iter_mut().find_map(Option::take);
            let Some(mut i) = taken else {
                return (requeued, failed);
            };
            let iod = i.rq.data_mut();
            iod.list = None;
            // A passthrough command is not sent twice behind its caller's
            // back (the C driver fails user commands on a reset too).
            if iod.user.is_some() {
                i.rq.end(Status::IOERR);
                failed += 1;
            } else if iod.retries < MAX_RETRIES {
                iod.retries += 1;
                i.rq.requeue(true);
                requeued += 1;
            } else {
                i.rq.end(Status::IOERR);
                failed += 1;
            }
        }
    }

    /// Stops the queue taking requests and ends those in flight with
    /// `status` (the controller is gone, or has been disabled).
    pub(crate) fn cancel_all(&self, status: Status) -> u32 {
        let mut n = 0;
        loop {
            let taken = {
                let mut r = self.rings.lock();
                r.stopped = true;
                r.slots.iter_mut().find_map(Option::take)
            };
            match taken {
                Some(i) => {
                    i.rq.end(status);
                    n += 1;
                }
                None => return n,
            }
        }
    }
}

/// How a command's data is described.
enum Data {
    Prp(DataPtr),
    Sgl(Descriptor),
}

/// Takes the entry at the head of completion queue `cq` if the controller
/// has posted it (its phase tag is the current one), and advances `ring`.
pub(crate) fn next_completion(cq: &DmaBuffer, ring: &mut CqRing) -> Option<Completion> {
    let at = usize::from(ring.head()) * Completion::SIZE;
    let sf = cq.read_u16_acquire(at + 14).ok()?;
    if !ring.is_new(sf & 1 != 0) {
        return None;
    }
    let mut entry = [0u8; Completion::SIZE];
    cq.read(at, &mut entry).ok()?;
    ring.advance();
    Some(Completion::from_bytes(&entry))
}

/// Ends `rq`, completed with `c`, or requeues it if the status allows a
/// retry.
fn complete(mut rq: Request<NvmeOps>, c: Completion) {
    let iod: &mut Iod = rq.data_mut();
    iod.list = None;
    // Passthrough: the caller gets the NVMe status; no retries.
    if let Some(user) = iod.user.as_mut() {
        user.done = Some((c.result, c.status.0 & 0x7fff));
        rq.end(if c.status.is_success() {
            Status::OK
        } else {
            Status::IOERR
        });
        return;
    }
    match c
        .status
        .disposition(u32::from(iod.retries), u32::from(MAX_RETRIES))
    {
        Disposition::Complete => {
            iod.retries = 0;
            let status = blk_status(c.status.blk_status());
            rq.end(status);
        }
        Disposition::Retry { .. } => {
            iod.retries += 1;
            rq.requeue(true);
        }
    }
}

/// The block layer status for an NVMe status class.
fn blk_status(s: BlkStatus) -> Status {
    match s {
        BlkStatus::Ok => Status::OK,
        BlkStatus::NoSpace => Status::NOSPC,
        BlkStatus::Target => Status::TARGET,
        BlkStatus::NotSupported => Status::NOTSUPP,
        BlkStatus::Medium => Status::MEDIUM,
        BlkStatus::Protection => Status::PROTECTION,
        BlkStatus::ReservationConflict => Status::RESV_CONFLICT,
        BlkStatus::Transport => Status::TRANSPORT,
        BlkStatus::ZoneActiveResource => Status::ZONE_ACTIVE_RESOURCE,
        BlkStatus::ZoneOpenResource => Status::ZONE_OPEN_RESOURCE,
        BlkStatus::IoError => Status::IOERR,
    }
}
