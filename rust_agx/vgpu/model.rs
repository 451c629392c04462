// SPDX-License-Identifier: GPL-2.0

//! The virtual GPU: its MMU, its firmware and its two execution units.
//!
//! [`Gpu`] is the device behind the registers and shared memory of
//! [`shared`](crate::fw::shared). It sees the machine only through a
//! [`Platform`] (bus reads and writes, a timer, the interrupt line), so the
//! same code runs in the kernel (where the glue schedules [`Gpu::run`] after
//! each doorbell) and on the host (tests, fuzzing).
//!
//! The model is `no_std`, allocates nothing, uses no floating point and
//! never panics on what it reads: every address sum wraps or is checked,
//! every buffer is reached with `get`, every loop is bounded. Anything wrong
//! with the firmware's own structures (init data, rings, work queues, jobs)
//! crashes the firmware ([`STATUS_CRASHED`]); anything wrong with what a job
//! does halts it with an event ([`STATUS_HALTED`]).
//!
//! # Execution
//!
//! Kernel structures are reached by kernel VA through context slot 0; a
//! job's data through its work queue's slot. Each [`Gpu::run`] consumes the
//! device-control ring, then the pipe rings (which make work queues active),
//! then gives each active work queue, highest priority first, one slice of
//! its current job, at most [`SLICES_PER_RUN`] slices a run: with more
//! queues active, the next run goes on where this one stopped, so that the
//! device-control ring is looked at every few slices however many queues
//! are busy. A slice alternates the blit unit (fills and copies, up to
//! [`BLIT_BYTES_PER_TURN`] bytes a turn) and the compute unit (up to
//! [`COMPUTE_INSNS_PER_TURN`] instructions a turn) for at most
//! [`ROUNDS_PER_SLICE`] rounds. All of a job's progress lives in its save
//! area, so slices of different work queues interleave freely.
//!
//! # Decisions beyond the firmware interface
//!
//! - Registers: [`REG_TTBAT`] and [`REG_INITDATA`] keep their values across
//!   a reset; a boot of a booted GPU resets it first. Unknown registers read
//!   0 and ignore writes; a doorbell does nothing (the glue calls `run`).
//! - Boot: `num_stamps` above [`NUM_STAMPS`] is a crash. The log ring is
//!   checked first, so that a bad descriptor after it is logged.
//! - MMU: a TTB entry's address bits are those of [`PTE_ADDR_MASK`] (root
//!   tables are pages). The TLB has [`TLB_ENTRIES`] entries, fully
//!   associative with FIFO replacement, holds level-3 entries of every slot
//!   (slot 0 too) and is only flushed by `TLBI_*` and reset. Permissions are
//!   checked against the cached entry, so they can be stale too.
//! - A work queue is insane (crash) unless `COUNT` is in 2..=4096, `RPTR`
//!   and `WPTR` are below it, `SLOT` is in 1..64, `STAMP_INDEX` is below
//!   `num_stamps` (checked at every slice) and `PRIORITY` is below
//!   [`NUM_PIPES`]. A ring pointer at or above its ring's count is a crash.
//! - Completion: stamp, event, interrupt, then `RPTR`. If the event ring is
//!   full, nothing is written and the finished job stays at `RPTR`; each run
//!   retries it, raises the interrupt (so that the driver drains the ring)
//!   and returns `true`. If `RPTR` then equals the `WPTR` read at the start
//!   of the slice, the queue is marked idle and leaves the active set (the
//!   driver posts `PIPE_RUN_WQ` after bumping `WPTR`, so nothing is lost).
//! - Faults, timeouts and illegal instructions halt the firmware; their
//!   event waits in a one-event slot while the ring is full (only one can
//!   exist, as the firmware halts). While halted, `run` returns `true` only
//!   while that event waits.
//! - `RESUME` with `arg1 == 0` retries the faulting job from its save area
//!   (the faulting chunk or instruction runs again, e.g. after the driver
//!   mapped the page; a timed-out job times out again). `RESUME` naming a
//!   queue that is not faulted skips nothing. A faulted queue stays in the
//!   active set, so its next job runs after the skip; a queue dropped
//!   (`DROP_WQ`) before the `RESUME` is not brought back.
//! - Event fields: a page fault has the unit, the access (1 read, 2 write)
//!   and the faulting VA. A step timeout has unit 1 and the VA of the
//!   instruction it would have run; a wall-clock timeout has unit 0, access
//!   0, address 0. An illegal instruction has unit 1 and its VA; an
//!   unaligned access has unit 1, its access and the data address; a
//!   command record that does not decode (or whose barrier is not an earlier
//!   command) has the unit that met it and the record's kernel VA.
//! - `timeout_ms` is taken literally (0 times out at the job's second
//!   slice). `STEPS` counts instructions that completed (a faulting one is
//!   retried uncounted); `HALT` counts. A compute command of 0 invocations
//!   and a blit of 0 bytes complete at once.
//! - `MULI` zero-extends its immediate (only `ADDI` and addresses are said
//!   to sign-extend).
//! - If neither unit can move in a round (impossible with barriers to
//!   earlier commands), the slice ends; the wall-clock timeout ends the job.
//! - Unknown device-control or pipe messages are logged, acknowledged and
//!   skipped; so is `PIPE_RUN_WQ` with VA 0 or with the active set full.
//! - Log messages are `level, len, text`, `len` ≤ [`FWLOG_TEXT`], text
//!   truncated, not NUL-terminated; levels are the kernel's
//!   ([`LOG_ERR`], [`LOG_WARN`], [`LOG_INFO`]).

use core::fmt::{self, Write as _};

use crate::fw::cmd::{Cmd, Unit, BARRIER_NONE, MAX_CMDS};
use crate::fw::isa::{Insn, Op, INSN_SIZE, NUM_REGS};
use crate::fw::pgtable::{self, Access, Fault, NUM_SLOTS, PAGE_SHIFT, PAGE_SIZE, PTE_ADDR_MASK};
use crate::fw::shared::{
    initdata, ring, save, wq, DevCtl, Event, JobHeader, RingDesc, CONTROL_BOOT, CONTROL_RESET,
    DEVCTL_DROP_WQ, DEVCTL_RESUME, DEVCTL_SIZE, DEVCTL_TLBI_ALL, DEVCTL_TLBI_SLOT, EVENT_COMPLETE,
    EVENT_FAULT, EVENT_ILLEGAL, EVENT_SIZE, EVENT_TIMEOUT, FWLOG_SIZE, FWLOG_TEXT, FW_CMD_SIZE,
    ID_MAGIC, INITDATA_MAGIC, INITDATA_SIZE, INITDATA_VERSION, JOB_CMDS, JOB_HEADER_SIZE,
    NUM_PIPES, NUM_STAMPS, PIPE_MSG_SIZE, PIPE_RUN_WQ, REG_CONTROL, REG_ID, REG_INITDATA,
    REG_STATUS, REG_TIMER, REG_TTBAT, STATUS_CRASHED, STATUS_HALTED, STATUS_OFF, STATUS_RUNNING,
    TTB_VALID, WQ_STATE_BUSY, WQ_STATE_FAULTED, WQ_STATE_IDLE,
};
use crate::fw::{le32, le64};

/// Entries of the TLB.
pub const TLB_ENTRIES: usize = 64;
/// Most work queues the firmware runs at once.
pub const MAX_ACTIVE_WQS: usize = 128;
/// Bytes the blit unit moves in one turn.
pub const BLIT_BYTES_PER_TURN: u64 = 4096;
/// Instructions the compute unit runs in one turn.
pub const COMPUTE_INSNS_PER_TURN: u32 = 256;
/// Turns of each unit in one slice of a job.
pub const ROUNDS_PER_SLICE: u32 = 16;
/// Slices one [`Gpu::run`] gives at most, so that a run (and the wait of a
/// device-control message for the next one) stays short with many work
/// queues busy.
pub const SLICES_PER_RUN: usize = 8;
/// Log level of errors (the kernel's `KERN_ERR`).
pub const LOG_ERR: u32 = 3;
/// Log level of warnings (`KERN_WARNING`).
pub const LOG_WARN: u32 = 4;
/// Log level of information (`KERN_INFO`).
pub const LOG_INFO: u32 = 6;

/// Bytes of the blit unit's bounce buffer (on the stack: kept small for the
/// kernel's stack).
const BLIT_CHUNK: usize = 512;
/// Most entries of a work queue's ring (as for rings).
const MAX_WQ_COUNT: u32 = 4096;
/// `Event::access` of a read and of a write.
const ACCESS_READ: u8 = 1;
const ACCESS_WRITE: u8 = 2;
/// Bytes of the save area the firmware uses (through `LIVE`).
const SAVE_USED: usize = save::LIVE as usize + 4;
/// Bytes of a work queue's info the firmware reads (through `STATE`).
const WQ_USED: usize = wq::STATE as usize + 4;

/// A bus access failed: the address is not mapped on the GPU's bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusError;

/// What the GPU sees of the machine.
pub trait Platform {
    /// Reads `buf.len()` bytes at bus (physical-like) address `addr`.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), BusError>;
    /// Writes `buf` at bus address `addr`.
    fn write(&self, addr: u64, buf: &[u8]) -> Result<(), BusError>;
    /// A monotonic timer, in nanoseconds.
    fn now_ns(&self) -> u64;
    /// Raises the interrupt line; the driver then reads the event ring.
    fn raise_irq(&self);
}

/// The firmware's own structures are unreachable or insane: it crashes.
#[derive(Clone, Copy)]
struct Crash {
    /// What was wrong, for the log.
    what: &'static str,
    /// Where (kernel VA).
    va: u64,
}

/// Why a slice of a job stopped short.
enum Stop {
    /// The firmware crashed.
    Crash(Crash),
    /// The job faulted, timed out or ran an illegal instruction.
    Halt(Event),
}

impl From<Crash> for Stop {
    fn from(c: Crash) -> Self {
        Stop::Crash(c)
    }
}

/// Where a VM access failed (every kind of [`Fault`] makes the same
/// event).
#[derive(Clone, Copy)]
struct VmFault {
    va: u64,
}

/// A ring: its descriptor's VA and constant part, checked at boot.
#[derive(Clone, Copy)]
struct Ring {
    desc: u64,
    d: RingDesc,
}

/// Before boot: no ring (a zero count, which no access uses).
const NO_RING: Ring = Ring {
    desc: 0,
    d: RingDesc {
        base: 0,
        count: 0,
        entry_size: 0,
    },
};

impl Ring {
    /// VA of entry `idx` (`idx < count`, checked by [`Gpu::ring_ptrs`]).
    fn entry(&self, idx: u32) -> u64 {
        self.d
            .base
            .wrapping_add(u64::from(idx) * u64::from(self.d.entry_size))
    }

    /// The index after `idx`.
    fn next(&self, idx: u32) -> u32 {
        next_index(idx, self.d.count)
    }
}

/// The index after `idx` in a ring of `count` entries.
fn next_index(idx: u32, count: u32) -> u32 {
    if idx.saturating_add(1) >= count {
        0
    } else {
        idx + 1
    }
}

/// One TLB entry: a tag (0 when empty) and the level-3 entry.
#[derive(Clone, Copy)]
struct TlbEntry {
    tag: u64,
    pte: u64,
}

/// The TLB tag of `va` in `slot`; never 0.
const fn tlb_tag(slot: usize, va: u64) -> u64 {
    ((va >> PAGE_SHIFT) << 7) | ((slot as u64 & 63) << 1) | 1
}

/// The slot of a TLB tag.
const fn tlb_slot(tag: u64) -> u64 {
    (tag >> 1) & 63
}

/// A work queue's info, read at the start of its slice.
struct WqInfo {
    va: u64,
    ring: u64,
    count: u32,
    slot: u32,
    wptr: u32,
    rptr: u32,
    stamp_index: u32,
    state: u32,
}

/// The job a slice runs, as its events name it.
struct Job {
    va: u64,
    slot: usize,
    num_cmds: u32,
    job_id: u64,
    stamp_index: u32,
}

impl Job {
    /// An event about this job.
    fn event(&self, kind: u32, unit: Unit, access: u8, addr: u64) -> Event {
        Event {
            kind,
            stamp_index: self.stamp_index,
            slot: self.slot as u32,
            unit: unit as u8,
            access,
            job_id: self.job_id,
            addr,
        }
    }

    /// A halt with an event about this job.
    fn halt(&self, kind: u32, unit: Unit, access: u8, addr: u64) -> Stop {
        Stop::Halt(self.event(kind, unit, access, addr))
    }

    /// VA of command `idx`'s record.
    fn cmd_va(&self, idx: u32) -> u64 {
        self.va
            .wrapping_add(JOB_CMDS)
            .wrapping_add(u64::from(idx) * FW_CMD_SIZE)
    }
}

/// A job's progress, as kept in its save area.
struct Save {
    start_ns: u64,
    blit_next: u32,
    blit_done: u64,
    compute_next: u32,
    invocation: u32,
    pc: u32,
    steps: u32,
    regs: [u64; NUM_REGS],
    live: u32,
}

impl Save {
    fn decode(b: &[u8; SAVE_USED]) -> Self {
        let mut regs = [0u64; NUM_REGS];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = le64(b, save::REGS + 8 * i as u64);
        }
        Self {
            start_ns: le64(b, save::START_NS),
            blit_next: le32(b, save::BLIT_NEXT),
            blit_done: le64(b, save::BLIT_DONE),
            compute_next: le32(b, save::COMPUTE_NEXT),
            invocation: le32(b, save::INVOCATION),
            pc: le32(b, save::PC),
            steps: le32(b, save::STEPS),
            regs,
            live: le32(b, save::LIVE),
        }
    }

    fn encode(&self) -> [u8; SAVE_USED] {
        let mut b = [0u8; SAVE_USED];
        put(&mut b, save::START_NS, &self.start_ns.to_le_bytes());
        put(&mut b, save::BLIT_NEXT, &self.blit_next.to_le_bytes());
        put(&mut b, save::BLIT_DONE, &self.blit_done.to_le_bytes());
        put(&mut b, save::COMPUTE_NEXT, &self.compute_next.to_le_bytes());
        put(&mut b, save::INVOCATION, &self.invocation.to_le_bytes());
        put(&mut b, save::PC, &self.pc.to_le_bytes());
        put(&mut b, save::STEPS, &self.steps.to_le_bytes());
        for (i, r) in self.regs.iter().enumerate() {
            put(&mut b, save::REGS + 8 * i as u64, &r.to_le_bytes());
        }
        put(&mut b, save::LIVE, &self.live.to_le_bytes());
        b
    }
}

/// How a unit's turn went.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// The unit has no command left.
    Done,
    /// The unit waits for a barrier.
    Blocked,
    /// The unit did some work.
    Progress,
}

/// How a work queue's slice went.
enum Slice {
    /// The queue is empty: it leaves the active set.
    Idle,
    /// The queue has work left.
    Busy,
    /// A job halted the firmware.
    Halted,
}

/// One log message's text, truncated to [`FWLOG_TEXT`] bytes.
struct Line {
    text: [u8; FWLOG_TEXT],
    len: usize,
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let free = self.text.get_mut(self.len..).unwrap_or_default();
        let n = free.len().min(s.len());
        if let (Some(to), Some(from)) = (free.get_mut(..n), s.as_bytes().get(..n)) {
            to.copy_from_slice(from);
            // At most FWLOG_TEXT: saturating only to keep panics out.
            self.len = self.len.saturating_add(n);
        }
        Ok(())
    }
}

/// The virtual GPU and its firmware's state.
///
/// Small (a TLB and the set of active work queues); a job's progress is in
/// its save area in shared memory.
pub struct Gpu {
    status: u64,
    ttbat: u64,
    initdata: u64,
    devctl: Ring,
    events: Ring,
    fwlog: Ring,
    pipes: [Ring; NUM_PIPES],
    stamps: u64,
    num_stamps: u32,
    tlb: [TlbEntry; TLB_ENTRIES],
    /// Where the next TLB fill goes.
    tlb_next: u8,
    /// The last entry hit, looked at first.
    tlb_last: u8,
    /// Kernel VAs of the active work queues, `active[..num_active]`.
    active: [u64; MAX_ACTIVE_WQS],
    num_active: usize,
    /// Active work queues, in the order [`Gpu::schedule`] serves them, that
    /// had their slice in this round of slices (a round spans runs when more
    /// than [`SLICES_PER_RUN`] queues are active).
    served: usize,
    /// A halt event waiting for room in the event ring.
    pending: Option<Event>,
}

impl Default for Gpu {
    fn default() -> Self {
        Self::new()
    }
}

impl Gpu {
    /// A GPU after power-on: registers zero, firmware off.
    pub const fn new() -> Self {
        Self {
            status: STATUS_OFF,
            ttbat: 0,
            initdata: 0,
            devctl: NO_RING,
            events: NO_RING,
            fwlog: NO_RING,
            pipes: [NO_RING; NUM_PIPES],
            stamps: 0,
            num_stamps: 0,
            tlb: [TlbEntry { tag: 0, pte: 0 }; TLB_ENTRIES],
            tlb_next: 0,
            tlb_last: 0,
            active: [0; MAX_ACTIVE_WQS],
            num_active: 0,
            served: 0,
            pending: None,
        }
    }

    /// Reads register `reg` (a `REG_*` offset); unknown registers read 0.
    pub fn read_reg(&self, p: &impl Platform, reg: u32) -> u64 {
        match reg {
            REG_ID => ID_MAGIC,
            REG_STATUS => self.status,
            REG_TIMER => p.now_ns(),
            REG_TTBAT => self.ttbat,
            REG_INITDATA => self.initdata,
            _ => 0,
        }
    }

    /// Writes register `reg`. [`REG_CONTROL`] boots or resets the firmware;
    /// the doorbell does nothing here (the glue schedules [`Gpu::run`]).
    pub fn write_reg(&mut self, p: &impl Platform, reg: u32, val: u64) {
        match reg {
            REG_TTBAT => self.ttbat = val,
            REG_INITDATA => self.initdata = val,
            REG_CONTROL if val == CONTROL_BOOT => self.boot(p),
            REG_CONTROL if val == CONTROL_RESET => self.forget(),
            _ => {}
        }
    }

    /// Does a bounded amount of work: the device-control ring, the pipe
    /// rings, then one slice of each active work queue's current job.
    /// Returns whether more work is pending (the caller calls again after
    /// yielding); `false` when idle, halted, crashed or off.
    pub fn run(&mut self, p: &impl Platform) -> bool {
        if self.status != STATUS_RUNNING && self.status != STATUS_HALTED {
            return false;
        }
        match self.step(p) {
            Ok(more) => more,
            Err(c) => {
                self.crash(p, c);
                false
            }
        }
    }

    /// Forgets everything but the registers: the firmware is off. Field by
    /// field, rather than `*self = Self::new()`, to keep a whole `Gpu` off
    /// the kernel stack; every field but the registers is reset here.
    fn forget(&mut self) {
        self.status = STATUS_OFF;
        self.devctl = NO_RING;
        self.events = NO_RING;
        self.fwlog = NO_RING;
        self.pipes = [NO_RING; NUM_PIPES];
        self.stamps = 0;
        self.num_stamps = 0;
        self.tlb_flush();
        self.tlb_next = 0;
        self.tlb_last = 0;
        self.active = [0; MAX_ACTIVE_WQS];
        self.num_active = 0;
        self.served = 0;
        self.pending = None;
    }

    /// Crashes the firmware, with a log line if the log ring still works.
    fn crash(&mut self, p: &impl Platform, c: Crash) {
        let _ = self.log(p, LOG_ERR, format_args!("crash: {} @{:#x}", c.what, c.va));
        self.status = STATUS_CRASHED;
    }

    fn boot(&mut self, p: &impl Platform) {
        self.forget();
        match self.try_boot(p) {
            Ok(()) => self.status = STATUS_RUNNING,
            Err(c) => self.crash(p, c),
        }
    }

    fn try_boot(&mut self, p: &impl Platform) -> Result<(), Crash> {
        let at = self.initdata;
        let mut b = [0u8; INITDATA_SIZE as usize];
        self.kread(p, at, &mut b)?;
        if le32(&b, initdata::MAGIC) != INITDATA_MAGIC
            || le32(&b, initdata::VERSION) != INITDATA_VERSION
        {
            return Err(Crash {
                what: "initdata magic",
                va: at,
            });
        }
        // The log ring first, so that what follows can be logged.
        self.fwlog = self.ring_desc(p, le64(&b, initdata::FWLOG_RING), FWLOG_SIZE)?;
        self.devctl = self.ring_desc(p, le64(&b, initdata::DEVCTL_RING), DEVCTL_SIZE)?;
        self.events = self.ring_desc(p, le64(&b, initdata::EVENT_RING), EVENT_SIZE)?;
        for i in 0..NUM_PIPES {
            let desc = le64(&b, initdata::PIPE_RINGS + 8 * i as u64);
            let r = self.ring_desc(p, desc, PIPE_MSG_SIZE)?;
            if let Some(slot) = self.pipes.get_mut(i) {
                *slot = r;
            }
        }
        self.stamps = le64(&b, initdata::STAMPS);
        self.num_stamps = le32(&b, initdata::NUM_STAMPS);
        if self.num_stamps as usize > NUM_STAMPS {
            return Err(Crash {
                what: "num_stamps",
                va: at.wrapping_add(initdata::NUM_STAMPS),
            });
        }
        self.log(p, LOG_INFO, format_args!("ragx fw {} up", INITDATA_VERSION))
    }

    /// Reads and checks the ring descriptor at `va`.
    fn ring_desc(&mut self, p: &impl Platform, va: u64, msg_size: u64) -> Result<Ring, Crash> {
        let mut b = [0u8; 16];
        self.kread(p, va, &mut b)?;
        let d = RingDesc {
            base: le64(&b, ring::BASE),
            count: le32(&b, ring::COUNT),
            entry_size: le32(&b, ring::ENTRY_SIZE),
        };
        if !d.is_sane(msg_size) {
            return Err(Crash {
                what: "ring desc",
                va,
            });
        }
        Ok(Ring { desc: va, d })
    }

    /// A ring's `(wptr, rptr)`, both checked against its count.
    fn ring_ptrs(&mut self, p: &impl Platform, r: Ring) -> Result<(u32, u32), Crash> {
        let mut b = [0u8; 12];
        let at = r.desc.wrapping_add(ring::WPTR);
        self.kread(p, at, &mut b)?;
        let (wptr, rptr) = (le32(&b, 0), le32(&b, ring::RPTR - ring::WPTR));
        if wptr >= r.d.count || rptr >= r.d.count {
            return Err(Crash {
                what: "ring ptr",
                va: r.desc,
            });
        }
        Ok((wptr, rptr))
    }

    /// One call of [`Gpu::run`] on a running or halted firmware.
    fn step(&mut self, p: &impl Platform) -> Result<bool, Crash> {
        if let Some(ev) = self.pending {
            if self.post_event(p, &ev)? {
                self.pending = None;
            }
            // Either way the driver must look (and drain the ring).
            p.raise_irq();
        }
        self.devctl(p)?;
        if self.status == STATUS_HALTED {
            return Ok(self.pending.is_some());
        }
        self.pipes(p)?;
        if self.schedule(p)? {
            return Ok(self.pending.is_some());
        }
        Ok(self.num_active > 0)
    }

    // --- Device control and pipes ---

    fn devctl(&mut self, p: &impl Platform) -> Result<(), Crash> {
        let r = self.devctl;
        let (wptr, mut rptr) = self.ring_ptrs(p, r)?;
        // Both are below the count, so this ends within `count` messages.
        while rptr != wptr {
            let mut b = [0u8; DEVCTL_SIZE as usize];
            self.kread(p, r.entry(rptr), &mut b)?;
            let msg = DevCtl::decode(&b);
            self.devctl_msg(p, &msg)?;
            rptr = r.next(rptr);
            self.kwrite_u32(p, r.desc.wrapping_add(ring::RPTR), rptr)?;
            self.kwrite_u32(p, self.initdata.wrapping_add(initdata::DEVCTL_ACK), msg.seq)?;
        }
        Ok(())
    }

    fn devctl_msg(&mut self, p: &impl Platform, msg: &DevCtl) -> Result<(), Crash> {
        match msg.op {
            DEVCTL_TLBI_SLOT if (msg.arg0 as usize) < NUM_SLOTS => {
                for e in self.tlb.iter_mut() {
                    if e.tag != 0 && tlb_slot(e.tag) == u64::from(msg.arg0) {
                        e.tag = 0;
                    }
                }
            }
            DEVCTL_TLBI_ALL => self.tlb_flush(),
            DEVCTL_RESUME => {
                if msg.arg1 != 0 {
                    self.skip_faulted(p, msg.arg1)?;
                }
                if self.status == STATUS_HALTED {
                    self.status = STATUS_RUNNING;
                }
            }
            DEVCTL_DROP_WQ => self.deactivate(msg.arg1),
            op => self.log(
                p,
                LOG_WARN,
                format_args!("devctl: bad msg {} arg0 {}", op, msg.arg0),
            )?,
        }
        Ok(())
    }

    /// `RESUME` of a faulted work queue: skip its faulting job.
    fn skip_faulted(&mut self, p: &impl Platform, va: u64) -> Result<(), Crash> {
        let w = self.read_wq(p, va)?;
        if w.state != WQ_STATE_FAULTED {
            return self.log(
                p,
                LOG_WARN,
                format_args!("resume: wq {:#x} not faulted", va),
            );
        }
        if w.rptr != w.wptr {
            self.kwrite_u32(p, va.wrapping_add(wq::RPTR), next_index(w.rptr, w.count))?;
        }
        // It stays in the active set (a halt does not remove it); a queue
        // dropped meanwhile is not brought back.
        self.kwrite_u32(p, va.wrapping_add(wq::STATE), WQ_STATE_IDLE)
    }

    fn pipes(&mut self, p: &impl Platform) -> Result<(), Crash> {
        for i in (0..NUM_PIPES).rev() {
            let Some(&r) = self.pipes.get(i) else {
                continue;
            };
            let (wptr, mut rptr) = self.ring_ptrs(p, r)?;
            while rptr != wptr {
                let mut b = [0u8; PIPE_MSG_SIZE as usize];
                self.kread(p, r.entry(rptr), &mut b)?;
                let (op, va) = (le32(&b, 0), le64(&b, 8));
                if op == PIPE_RUN_WQ && va != 0 {
                    self.activate(p, va)?;
                } else {
                    self.log(
                        p,
                        LOG_WARN,
                        format_args!("pipe {}: bad msg {} {:#x}", i, op, va),
                    )?;
                }
                rptr = r.next(rptr);
                self.kwrite_u32(p, r.desc.wrapping_add(ring::RPTR), rptr)?;
            }
        }
        Ok(())
    }

    /// Adds a work queue to the active set (once).
    fn activate(&mut self, p: &impl Platform, va: u64) -> Result<(), Crash> {
        let n = self.num_active;
        if self.active.get(..n).is_some_and(|a| a.contains(&va)) {
            return Ok(());
        }
        match self.active.get_mut(n) {
            Some(slot) => {
                *slot = va;
                self.num_active = n + 1;
                Ok(())
            }
            None => self.log(p, LOG_WARN, format_args!("too many wqs: {:#x} ignored", va)),
        }
    }

    /// Removes a work queue from the active set.
    fn deactivate(&mut self, va: u64) {
        let n = self.num_active;
        if let Some(a) = self.active.get_mut(..n) {
            for e in a.iter_mut().filter(|e| **e == va) {
                *e = 0;
            }
        }
        self.compact();
    }

    /// Squeezes the zeros (removed queues) out of the active set, keeping
    /// the order.
    fn compact(&mut self) {
        let mut kept = 0;
        for i in 0..self.num_active.min(MAX_ACTIVE_WQS) {
            let va = self.active.get(i).copied().unwrap_or(0);
            if va != 0 {
                if let Some(e) = self.active.get_mut(kept) {
                    *e = va;
                }
                kept += 1;
            }
        }
        self.num_active = kept;
    }

    // --- Work queues ---

    /// Runs one slice of each active work queue, highest priority first,
    /// up to [`SLICES_PER_RUN`] of them; the next call goes on with the
    /// rest. Returns whether a job halted the firmware.
    fn schedule(&mut self, p: &impl Platform) -> Result<bool, Crash> {
        let n = self.num_active.min(MAX_ACTIVE_WQS);
        let mut prio = [0u8; MAX_ACTIVE_WQS];
        for (i, pr) in prio.iter_mut().enumerate().take(n) {
            let va = self.active.get(i).copied().unwrap_or(0);
            let at = va.wrapping_add(wq::PRIORITY);
            let v = self.kread_u32(p, at)?;
            if v as usize >= NUM_PIPES {
                return Err(Crash {
                    what: "wq priority",
                    va: at,
                });
            }
            *pr = v as u8;
        }
        // Queues before `skip` in this order had their slice in an earlier
        // run of this round. A queue that went idle since leaves the order,
        // and one made active joins it: the round is fair to within those.
        let skip = self.served;
        let (mut pos, mut ran, mut idle) = (0, 0, 0);
        // The round goes on in the next run (after the rings) if it stops
        // here: at the slice budget, or at a halt.
        let (mut stopped, mut halted) = (false, false);
        'round: for level in (0..NUM_PIPES as u8).rev() {
            for (i, &pr) in prio.iter().enumerate().take(n) {
                let va = self.active.get(i).copied().unwrap_or(0);
                if pr != level || va == 0 {
                    continue;
                }
                pos += 1;
                if pos <= skip {
                    continue;
                }
                if ran == SLICES_PER_RUN {
                    stopped = true;
                    break 'round;
                }
                ran += 1;
                match self.slice(p, va)? {
                    Slice::Idle => {
                        if let Some(e) = self.active.get_mut(i) {
                            *e = 0;
                        }
                        idle += 1;
                    }
                    Slice::Busy => {}
                    Slice::Halted => {
                        halted = true;
                        break 'round;
                    }
                }
            }
        }
        self.served = if stopped || halted {
            skip + ran - idle
        } else {
            0
        };
        self.compact();
        Ok(halted)
    }

    /// Reads and checks a work queue's info.
    fn read_wq(&mut self, p: &impl Platform, va: u64) -> Result<WqInfo, Crash> {
        let mut b = [0u8; WQ_USED];
        self.kread(p, va, &mut b)?;
        let w = WqInfo {
            va,
            ring: le64(&b, wq::RING),
            count: le32(&b, wq::COUNT),
            slot: le32(&b, wq::SLOT),
            wptr: le32(&b, wq::WPTR),
            rptr: le32(&b, wq::RPTR),
            stamp_index: le32(&b, wq::STAMP_INDEX),
            state: le32(&b, wq::STATE),
        };
        let sane = (2..=MAX_WQ_COUNT).contains(&w.count)
            && w.rptr < w.count
            && w.wptr < w.count
            && (1..NUM_SLOTS as u32).contains(&w.slot)
            && w.stamp_index < self.num_stamps;
        if !sane {
            return Err(Crash {
                what: "wq info",
                va,
            });
        }
        Ok(w)
    }

    /// One slice of a work queue's current job.
    fn slice(&mut self, p: &impl Platform, va: u64) -> Result<Slice, Crash> {
        let w = self.read_wq(p, va)?;
        let state_va = va.wrapping_add(wq::STATE);
        if w.rptr == w.wptr {
            if w.state != WQ_STATE_IDLE {
                self.kwrite_u32(p, state_va, WQ_STATE_IDLE)?;
            }
            return Ok(Slice::Idle);
        }
        let job_va = self.kread_u64(p, w.ring.wrapping_add(8 * u64::from(w.rptr)))?;
        if w.state != WQ_STATE_BUSY {
            self.kwrite_u32(p, state_va, WQ_STATE_BUSY)?;
        }
        let h = match self.run_job(p, &w, job_va) {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(Slice::Busy),
            Err(Stop::Crash(c)) => return Err(c),
            Err(Stop::Halt(ev)) => {
                self.halt(p, &w, ev)?;
                return Ok(Slice::Halted);
            }
        };
        // Finished. Nothing is written until the event fits: the job stays
        // at RPTR and the next run retries.
        if !self.event_room(p)? {
            p.raise_irq();
            return Ok(Slice::Busy);
        }
        let stamp = self.stamps.wrapping_add(4 * u64::from(w.stamp_index));
        self.kwrite_u32(p, stamp, h.stamp_value)?;
        let ev = Event {
            kind: EVENT_COMPLETE,
            stamp_index: w.stamp_index,
            slot: w.slot,
            job_id: h.job_id,
            ..Event::default()
        };
        self.post_event(p, &ev)?;
        p.raise_irq();
        let rptr = next_index(w.rptr, w.count);
        self.kwrite_u32(p, va.wrapping_add(wq::RPTR), rptr)?;
        if rptr == w.wptr {
            self.kwrite_u32(p, state_va, WQ_STATE_IDLE)?;
            return Ok(Slice::Idle);
        }
        Ok(Slice::Busy)
    }

    /// Halts the firmware on a job's fault, timeout or illegal instruction.
    fn halt(&mut self, p: &impl Platform, w: &WqInfo, ev: Event) -> Result<(), Crash> {
        self.kwrite_u32(p, w.va.wrapping_add(wq::STATE), WQ_STATE_FAULTED)?;
        if !self.post_event(p, &ev)? {
            self.pending = Some(ev);
        }
        self.status = STATUS_HALTED;
        let what = match ev.kind {
            EVENT_FAULT => "fault",
            EVENT_TIMEOUT => "timeout",
            _ => "illegal",
        };
        let r = self.log(
            p,
            LOG_ERR,
            format_args!(
                "{} job {} u{} a{} @{:#x}",
                what, ev.job_id, ev.unit, ev.access, ev.addr
            ),
        );
        p.raise_irq();
        r
    }

    // --- Events and log ---

    /// Whether the event ring has room for one event.
    fn event_room(&mut self, p: &impl Platform) -> Result<bool, Crash> {
        let r = self.events;
        let (wptr, rptr) = self.ring_ptrs(p, r)?;
        Ok(r.next(wptr) != rptr)
    }

    /// Posts an event; `false` if the ring is full.
    fn post_event(&mut self, p: &impl Platform, ev: &Event) -> Result<bool, Crash> {
        let r = self.events;
        let (wptr, rptr) = self.ring_ptrs(p, r)?;
        let next = r.next(wptr);
        if next == rptr {
            return Ok(false);
        }
        self.kwrite(p, r.entry(wptr), &ev.encode())?;
        self.kwrite_u32(p, r.desc.wrapping_add(ring::WPTR), next)?;
        Ok(true)
    }

    /// Appends a message to the log ring; dropped if the ring is full or
    /// not set up yet.
    fn log(
        &mut self,
        p: &impl Platform,
        level: u32,
        args: fmt::Arguments<'_>,
    ) -> Result<(), Crash> {
        let r = self.fwlog;
        if r.d.count == 0 {
            return Ok(());
        }
        let mut line = Line {
            text: [0; FWLOG_TEXT],
            len: 0,
        };
        // `Line` never fails; it truncates.
        let _ = line.write_fmt(args);
        let (wptr, rptr) = self.ring_ptrs(p, r)?;
        let next = r.next(wptr);
        if next == rptr {
            return Ok(());
        }
        let mut msg = [0u8; FWLOG_SIZE as usize];
        put(&mut msg, 0, &level.to_le_bytes());
        put(&mut msg, 4, &(line.len as u32).to_le_bytes());
        put(&mut msg, 8, &line.text);
        self.kwrite(p, r.entry(wptr), &msg)?;
        self.kwrite_u32(p, r.desc.wrapping_add(ring::WPTR), next)
    }

    // --- Jobs ---

    /// Runs one slice of the job at `job_va`; its header when it finished.
    fn run_job(
        &mut self,
        p: &impl Platform,
        w: &WqInfo,
        job_va: u64,
    ) -> Result<Option<JobHeader>, Stop> {
        let mut hb = [0u8; JOB_HEADER_SIZE as usize];
        self.kread(p, job_va, &mut hb)?;
        let h = JobHeader::decode(&hb).ok_or(Crash {
            what: "job magic",
            va: job_va,
        })?;
        if h.num_cmds == 0 || h.num_cmds as usize > MAX_CMDS {
            return Err(Crash {
                what: "job num_cmds",
                va: job_va,
            }
            .into());
        }
        let job = Job {
            va: job_va,
            slot: w.slot as usize,
            num_cmds: h.num_cmds,
            job_id: h.job_id,
            stamp_index: w.stamp_index,
        };
        let save_va = job_va.wrapping_add(JOB_HEADER_SIZE);
        let mut sb = [0u8; SAVE_USED];
        self.kread(p, save_va, &mut sb)?;
        let mut s = Save::decode(&sb);

        // Finished earlier, its completion waiting for room in the event
        // ring: done, whatever the clock says.
        if s.blit_next >= h.num_cmds && s.compute_next >= h.num_cmds {
            return Ok(Some(h));
        }
        let now = p.now_ns();
        let r = if s.start_ns == 0 {
            s.start_ns = now.max(1);
            self.run_units(p, &job, &mut s)
        } else if now.saturating_sub(s.start_ns) > u64::from(h.timeout_ms) * 1_000_000 {
            Err(job.halt(EVENT_TIMEOUT, Unit::Blit, 0, 0))
        } else {
            self.run_units(p, &job, &mut s)
        };
        if let Err(Stop::Crash(c)) = r {
            return Err(c.into());
        }
        // Keep the progress, even of a faulting job: RESUME may retry it.
        self.kwrite(p, save_va, &s.encode())?;
        Ok(r?.then_some(h))
    }

    /// Alternates the two units; whether the job finished.
    fn run_units(&mut self, p: &impl Platform, job: &Job, s: &mut Save) -> Result<bool, Stop> {
        for _ in 0..ROUNDS_PER_SLICE {
            let b = self.blit_turn(p, job, s)?;
            let c = self.compute_turn(p, job, s)?;
            if b == Turn::Done && c == Turn::Done {
                return Ok(true);
            }
            if b != Turn::Progress && c != Turn::Progress {
                return Ok(false);
            }
        }
        // The last round may have ended the last commands: finish now
        // rather than in one more slice.
        Ok(self
            .current(p, job, Unit::Blit, &mut s.blit_next)?
            .is_none()
            && self
                .current(p, job, Unit::Compute, &mut s.compute_next)?
                .is_none())
    }

    /// Reads and decodes command `idx` and its barrier. A record that does
    /// not decode, or whose barrier is not an earlier command, is illegal
    /// (the kernel checked it, so memory was corrupted).
    fn command(
        &mut self,
        p: &impl Platform,
        job: &Job,
        idx: u32,
        unit: Unit,
    ) -> Result<(Cmd, u16), Stop> {
        let va = job.cmd_va(idx);
        let mut rec = [0u8; FW_CMD_SIZE as usize];
        self.kread(p, va, &mut rec)?;
        match Cmd::decode_fw(&rec) {
            Some((cmd, b)) if b == BARRIER_NONE || u32::from(b) < idx => Ok((cmd, b)),
            _ => Err(job.halt(EVENT_ILLEGAL, unit, 0, va)),
        }
    }

    /// Moves `next` past the other unit's commands and returns this unit's
    /// current command with its barrier; `None` when the unit is done.
    fn current(
        &mut self,
        p: &impl Platform,
        job: &Job,
        unit: Unit,
        next: &mut u32,
    ) -> Result<Option<(Cmd, u16)>, Stop> {
        while *next < job.num_cmds {
            let (cmd, barrier) = self.command(p, job, *next, unit)?;
            if cmd.unit() == unit {
                return Ok(Some((cmd, barrier)));
            }
            *next += 1;
        }
        Ok(None)
    }

    /// Whether the barrier of the current command is met: command `b` is
    /// complete once its unit's next command is past it.
    fn barrier_met(
        &mut self,
        p: &impl Platform,
        job: &Job,
        s: &Save,
        b: u16,
        unit: Unit,
    ) -> Result<bool, Stop> {
        if b == BARRIER_NONE {
            return Ok(true);
        }
        let b = u32::from(b);
        let next = match self.command(p, job, b, unit)?.0.unit() {
            Unit::Blit => s.blit_next,
            Unit::Compute => s.compute_next,
        };
        Ok(next > b)
    }

    /// One turn of the blit unit: up to [`BLIT_BYTES_PER_TURN`] bytes of
    /// its current fill or copy.
    fn blit_turn(&mut self, p: &impl Platform, job: &Job, s: &mut Save) -> Result<Turn, Stop> {
        let Some((cmd, barrier)) = self.current(p, job, Unit::Blit, &mut s.blit_next)? else {
            return Ok(Turn::Done);
        };
        if !self.barrier_met(p, job, s, barrier, Unit::Blit)? {
            return Ok(Turn::Blocked);
        }
        let size = match cmd {
            Cmd::Fill { size, .. } | Cmd::Copy { size, .. } => size,
            Cmd::Compute { .. } => 0,
        };
        let mut buf = [0u8; BLIT_CHUNK];
        let mut budget = BLIT_BYTES_PER_TURN;
        while s.blit_done < size && budget > 0 {
            let done = s.blit_done;
            let n = (size - done).min(budget).min(BLIT_CHUNK as u64);
            let Some(chunk) = buf.get_mut(..n as usize) else {
                break;
            };
            match cmd {
                Cmd::Fill { addr, value, .. } => {
                    let pat = value.to_le_bytes();
                    for (k, c) in chunk.iter_mut().enumerate() {
                        // The pattern is aligned to the start of the fill.
                        *c = pat[(done.wrapping_add(k as u64) & 3) as usize];
                    }
                    self.user_write(p, job, Unit::Blit, addr.wrapping_add(done), chunk)?;
                }
                Cmd::Copy { src, dst, .. } => {
                    self.user_read(p, job, Unit::Blit, src.wrapping_add(done), chunk)?;
                    self.user_write(p, job, Unit::Blit, dst.wrapping_add(done), chunk)?;
                }
                Cmd::Compute { .. } => {}
            }
            s.blit_done = done + n;
            budget -= n;
        }
        if s.blit_done >= size {
            s.blit_next += 1;
            s.blit_done = 0;
        }
        Ok(Turn::Progress)
    }

    /// One turn of the compute unit: up to [`COMPUTE_INSNS_PER_TURN`]
    /// instructions of its current command's invocations.
    fn compute_turn(&mut self, p: &impl Platform, job: &Job, s: &mut Save) -> Result<Turn, Stop> {
        let Some((cmd, barrier)) = self.current(p, job, Unit::Compute, &mut s.compute_next)? else {
            return Ok(Turn::Done);
        };
        if !self.barrier_met(p, job, s, barrier, Unit::Compute)? {
            return Ok(Turn::Blocked);
        }
        let Cmd::Compute {
            program,
            program_size,
            invocations,
            args,
            max_steps,
        } = cmd
        else {
            return Ok(Turn::Done);
        };
        for _ in 0..COMPUTE_INSNS_PER_TURN {
            if s.live == 0 {
                if s.invocation >= invocations {
                    s.compute_next += 1;
                    s.invocation = 0;
                    return Ok(Turn::Progress);
                }
                let init = [u64::from(s.invocation), args[0], args[1], args[2], args[3]];
                s.regs = [0; NUM_REGS];
                for (r, v) in s.regs.iter_mut().zip(init) {
                    *r = v;
                }
                s.pc = 0;
                s.steps = 0;
                s.live = 1;
            }
            let offset = u64::from(s.pc) * INSN_SIZE as u64;
            let insn_va = program.wrapping_add(offset);
            if s.steps >= max_steps {
                return Err(job.halt(EVENT_TIMEOUT, Unit::Compute, 0, insn_va));
            }
            if offset >= u64::from(program_size) {
                return Err(job.halt(EVENT_ILLEGAL, Unit::Compute, 0, insn_va));
            }
            let mut raw = [0u8; INSN_SIZE];
            self.user_read(p, job, Unit::Compute, insn_va, &mut raw)?;
            let insn = Insn::decode(raw)
                .ok_or_else(|| job.halt(EVENT_ILLEGAL, Unit::Compute, 0, insn_va))?;
            let halted = self.execute(p, job, s, &insn)?;
            // Below max_steps, so no overflow.
            s.steps += 1;
            if halted {
                s.live = 0;
                s.invocation = s.invocation.saturating_add(1);
            }
        }
        Ok(Turn::Progress)
    }

    /// Executes one instruction; whether it was `HALT`.
    fn execute(
        &mut self,
        p: &impl Platform,
        job: &Job,
        s: &mut Save,
        i: &Insn,
    ) -> Result<bool, Stop> {
        // `Insn::decode` checked the register numbers; the mask keeps
        // indexing panic-free regardless.
        let reg = |n: u8| usize::from(n) % NUM_REGS;
        let (a, b, d) = (s.regs[reg(i.ra)], s.regs[reg(i.rb)], s.regs[reg(i.rd)]);
        let imm = u64::from(i.imm);
        // pc * 8 < program_size <= u32::MAX, so this does not overflow.
        let mut next_pc = s.pc.wrapping_add(1);
        let val = match i.op {
            Op::Halt => return Ok(true),
            Op::Movi => Some(imm),
            Op::Movhi => Some((d & 0xffff_ffff) | (imm << 32)),
            Op::Mov => Some(a),
            Op::Add => Some(a.wrapping_add(b)),
            Op::Sub => Some(a.wrapping_sub(b)),
            Op::Mul => Some(a.wrapping_mul(b)),
            Op::And => Some(a & b),
            Op::Or => Some(a | b),
            Op::Xor => Some(a ^ b),
            Op::Shl => Some(a << (b & 63)),
            Op::Shr => Some(a >> (b & 63)),
            Op::Addi => Some(a.wrapping_add(i.simm())),
            Op::Muli => Some(a.wrapping_mul(imm)),
            Op::Shli => Some(a << (imm & 63)),
            Op::Shri => Some(a >> (imm & 63)),
            Op::Ld32 => {
                let mut v = [0u8; 4];
                let at = data_addr(job, a, i, 4, ACCESS_READ)?;
                self.user_read(p, job, Unit::Compute, at, &mut v)?;
                Some(u64::from(u32::from_le_bytes(v)))
            }
            Op::Ld64 => {
                let mut v = [0u8; 8];
                let at = data_addr(job, a, i, 8, ACCESS_READ)?;
                self.user_read(p, job, Unit::Compute, at, &mut v)?;
                Some(u64::from_le_bytes(v))
            }
            Op::St32 => {
                let at = data_addr(job, a, i, 4, ACCESS_WRITE)?;
                self.user_write(p, job, Unit::Compute, at, &(b as u32).to_le_bytes())?;
                None
            }
            Op::St64 => {
                let at = data_addr(job, a, i, 8, ACCESS_WRITE)?;
                self.user_write(p, job, Unit::Compute, at, &b.to_le_bytes())?;
                None
            }
            Op::Jmp => {
                next_pc = i.imm;
                None
            }
            Op::Blt | Op::Bne | Op::Beq => {
                let taken = match i.op {
                    Op::Blt => a < b,
                    Op::Bne => a != b,
                    _ => a == b,
                };
                if taken {
                    next_pc = i.imm;
                }
                None
            }
        };
        if let Some(v) = val {
            s.regs[reg(i.rd)] = v;
        }
        s.pc = next_pc;
        Ok(false)
    }

    // --- Memory ---

    /// Reads a job's memory; a failure is a page fault of `unit`.
    fn user_read(
        &mut self,
        p: &impl Platform,
        job: &Job,
        unit: Unit,
        va: u64,
        buf: &mut [u8],
    ) -> Result<(), Stop> {
        self.vm_read(p, job.slot, va, buf)
            .map_err(|f| job.halt(EVENT_FAULT, unit, ACCESS_READ, f.va))
    }

    /// Writes a job's memory; a failure is a page fault of `unit`.
    fn user_write(
        &mut self,
        p: &impl Platform,
        job: &Job,
        unit: Unit,
        va: u64,
        buf: &[u8],
    ) -> Result<(), Stop> {
        self.vm_write(p, job.slot, va, buf)
            .map_err(|f| job.halt(EVENT_FAULT, unit, ACCESS_WRITE, f.va))
    }

    /// Reads the firmware's own structures; a failure crashes it.
    fn kread(&mut self, p: &impl Platform, va: u64, buf: &mut [u8]) -> Result<(), Crash> {
        self.vm_read(p, 0, va, buf).map_err(|f| Crash {
            what: "read",
            va: f.va,
        })
    }

    /// Writes the firmware's own structures; a failure crashes it.
    fn kwrite(&mut self, p: &impl Platform, va: u64, buf: &[u8]) -> Result<(), Crash> {
        self.vm_write(p, 0, va, buf).map_err(|f| Crash {
            what: "write",
            va: f.va,
        })
    }

    fn kread_u32(&mut self, p: &impl Platform, va: u64) -> Result<u32, Crash> {
        let mut b = [0u8; 4];
        self.kread(p, va, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn kread_u64(&mut self, p: &impl Platform, va: u64) -> Result<u64, Crash> {
        let mut b = [0u8; 8];
        self.kread(p, va, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn kwrite_u32(&mut self, p: &impl Platform, va: u64, v: u32) -> Result<(), Crash> {
        self.kwrite(p, va, &v.to_le_bytes())
    }

    /// Reads `buf.len()` bytes at `va` of `slot`, page piece by page piece.
    fn vm_read(
        &mut self,
        p: &impl Platform,
        slot: usize,
        va: u64,
        buf: &mut [u8],
    ) -> Result<(), VmFault> {
        let mut off = 0;
        while off < buf.len() {
            let (cur, in_page, n) = piece(va, off, buf.len());
            let bus = self
                .translate(p, slot, cur, Access::Read)
                .map_err(|_| VmFault { va: cur })?;
            let bus_err = VmFault { va: cur };
            let part = buf.get_mut(off..off + n).ok_or(bus_err)?;
            p.read(bus | in_page, part).map_err(|_| bus_err)?;
            off += n;
        }
        Ok(())
    }

    /// Writes `buf` at `va` of `slot`, page piece by page piece.
    fn vm_write(
        &mut self,
        p: &impl Platform,
        slot: usize,
        va: u64,
        buf: &[u8],
    ) -> Result<(), VmFault> {
        let mut off = 0;
        while off < buf.len() {
            let (cur, in_page, n) = piece(va, off, buf.len());
            let bus = self
                .translate(p, slot, cur, Access::Write)
                .map_err(|_| VmFault { va: cur })?;
            let bus_err = VmFault { va: cur };
            let part = buf.get(off..off + n).ok_or(bus_err)?;
            p.write(bus | in_page, part).map_err(|_| bus_err)?;
            off += n;
        }
        Ok(())
    }

    /// Bus address of the page of `va` in `slot`, through the TLB.
    fn translate(
        &mut self,
        p: &impl Platform,
        slot: usize,
        va: u64,
        access: Access,
    ) -> Result<u64, Fault> {
        let tag = tlb_tag(slot, va);
        let pte = match self.tlb_lookup(tag) {
            Some(pte) => pte,
            None => {
                let pte = self.walk(p, slot, va)?;
                self.tlb_fill(tag, pte);
                pte
            }
        };
        if !pgtable::permits(pte, access) {
            return Err(Fault::Permission);
        }
        Ok(pgtable::entry_addr(pte))
    }

    /// Walks `slot`'s page tables from its TTB entry.
    fn walk(&self, p: &impl Platform, slot: usize, va: u64) -> Result<u64, Fault> {
        if slot >= NUM_SLOTS {
            return Err(Fault::Unmapped);
        }
        let at = self.ttbat.checked_add(8 * slot as u64).ok_or(Fault::Bus)?;
        let ttb = bus_u64(p, at).ok_or(Fault::Bus)?;
        if ttb & TTB_VALID == 0 {
            return Err(Fault::Unmapped);
        }
        pgtable::walk(ttb & PTE_ADDR_MASK, slot, va, |a| bus_u64(p, a))
    }

    fn tlb_lookup(&mut self, tag: u64) -> Option<u64> {
        if let Some(e) = self.tlb.get(usize::from(self.tlb_last)) {
            if e.tag == tag {
                return Some(e.pte);
            }
        }
        let i = self.tlb.iter().position(|e| e.tag == tag)?;
        self.tlb_last = i as u8;
        self.tlb.get(i).map(|e| e.pte)
    }

    fn tlb_fill(&mut self, tag: u64, pte: u64) {
        let i = usize::from(self.tlb_next) % TLB_ENTRIES;
        if let Some(e) = self.tlb.get_mut(i) {
            *e = TlbEntry { tag, pte };
        }
        self.tlb_last = i as u8;
        self.tlb_next = ((i + 1) % TLB_ENTRIES) as u8;
    }

    fn tlb_flush(&mut self) {
        for e in self.tlb.iter_mut() {
            e.tag = 0;
        }
    }
}

/// The address of a load or store of `size` (4 or 8) bytes, which must be
/// naturally aligned.
fn data_addr(job: &Job, base: u64, i: &Insn, size: u64, access: u8) -> Result<u64, Stop> {
    let at = base.wrapping_add(i.simm());
    if at & (size - 1) != 0 {
        return Err(job.halt(EVENT_ILLEGAL, Unit::Compute, access, at));
    }
    Ok(at)
}

/// The piece of an access of `len` bytes at `va` that starts `off` bytes
/// in and stays in one page: its VA, offset in the page and length.
fn piece(va: u64, off: usize, len: usize) -> (u64, u64, usize) {
    let cur = va.wrapping_add(off as u64);
    let in_page = cur & (PAGE_SIZE - 1);
    let n = (len - off).min((PAGE_SIZE - in_page) as usize);
    (cur, in_page, n)
}

/// Reads a little-endian u64 at a bus address.
fn bus_u64(p: &impl Platform, addr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    p.read(addr, &mut b).ok()?;
    Some(u64::from_le_bytes(b))
}

/// Copies `v` into `b` at `at` (offsets are constants that fit).
fn put(b: &mut [u8], at: u64, v: &[u8]) {
    if let Some(s) = b.get_mut(at as usize..).and_then(|s| s.get_mut(..v.len())) {
        s.copy_from_slice(v);
    }
}
