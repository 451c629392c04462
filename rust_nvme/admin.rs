// SPDX-License-Identifier: GPL-2.0

//! Controller bring-up and shutdown, and the admin queue.
//!
//! Admin commands are submitted one at a time. Their completions are reaped
//! by whoever comes first: the submitter, which polls (interrupt vectors do
//! not exist yet at bring-up), or the handler of vector 0, which the admin
//! completion queue always signals once vectors are set up (and which, on a
//! level-triggered INTx line, must consume the entry to quiet the line).

use crate::{
    command::Command,
    completion::Completion,
    regs::{self, cc, csts, Cap},
    ring::{cid, CqRing, SqRing},
};
use abstractions::dma::DmaBuffer;
use kernel::{
    device::{Bound, Device},
    io::{poll::read_poll_timeout, Io},
    new_mutex, new_spinlock_irq, pci,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex, SpinLockIrq},
    time::Delta,
};

/// BAR 0: the registers and doorbells.
pub(crate) type Bar0<'bound> = pci::Bar<'bound, { regs::BAR0_MIN }>;

/// BAR 0 as the queues keep it: revoked when the device is unbound, after
/// which register accesses do nothing.
pub(crate) struct Regs {
    bar: pci::DevresBar<{ regs::BAR0_MIN }>,
    /// Doorbell stride in bytes (CAP.DSTRD).
    pub(crate) stride: u32,
}

impl Regs {
    pub(crate) fn new(bar: pci::DevresBar<{ regs::BAR0_MIN }>, stride: u32) -> Result<Arc<Self>> {
        Arc::new(Self { bar, stride }, GFP_KERNEL).map_err(Into::into)
    }

    /// Runs `f` on the BAR, unless the device is gone.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Bar0<'_>) -> R) -> Option<R> {
        self.bar.try_access().map(|bar| f(&bar))
    }

    /// Writes `value` to the doorbell register at `offset`.
    pub(crate) fn ring(&self, offset: usize, value: u32) {
        let _ = self.with(|bar| bar.try_write32(value, offset));
    }

    /// The register at `offset`, or all ones if the device is gone (as a
    /// read of a removed device returns).
    pub(crate) fn read32(&self, offset: usize) -> u32 {
        self.with(|bar| bar.read32(offset)).unwrap_or(u32::MAX)
    }

    /// Writes the register at `offset`, unless the device is gone.
    pub(crate) fn write32(&self, value: u32, offset: usize) {
        let _ = self.with(|bar| bar.write32(value, offset));
    }

    /// CSTS, or all ones if the device is gone.
    pub(crate) fn csts(&self) -> u32 {
        self.read32(regs::CSTS)
    }
}

/// Entries in each admin queue.
const ADMIN_DEPTH: u16 = 32;
/// How long an admin command may take (the C driver's `admin_timeout`).
const ADMIN_TIMEOUT: Delta = Delta::from_secs(60);
/// How long a normal shutdown may take (the C driver's `shutdown_timeout`),
/// and each admin command on the way there.
pub(crate) const SHUTDOWN_TIMEOUT: Delta = Delta::from_secs(5);
/// The memory page size the driver runs the controller with.
pub(crate) const PAGE_SHIFT: u32 = 12;

/// Waits for `(CSTS & mask) == want`, up to the controller's own worst
/// case (CAP.TO), failing early if the controller reports a fatal error.
fn wait_csts(regs: &Regs, cap: Cap, mask: u32, want: u32) -> Result<u32> {
    // CAP.TO of 0 is a broken controller; give it the spec's minimum unit.
    let timeout = Delta::from_millis(i64::from(cap.timeout_ms().max(500)));
    read_poll_timeout(
        || {
            let v = regs.csts();
            if v == u32::MAX {
                // All ones: the device is gone.
                return Err(ENODEV);
            }
            Ok(v)
        },
        |v| v & mask == want || (want != 0 && v & csts::CFS != 0),
        Delta::from_millis(1),
        timeout,
    )
    .and_then(|v| if v & mask == want { Ok(v) } else { Err(EIO) })
}

/// Clears CC.EN and waits for the controller to report it is disabled.
pub(crate) fn disable(r: &Regs, cap: Cap) -> Result {
    let cc_val = r.read32(regs::CC);
    if cc_val == u32::MAX {
        return Err(ENODEV);
    }
    if cc_val & cc::EN != 0 {
        r.write32(cc_val & !cc::EN, regs::CC);
    }
    wait_csts(r, cap, csts::RDY, 0).map(|_| ())
}

/// Asks the controller to shut down normally (CC.SHN), waits for it, then
/// disables it. Data in a volatile write cache is on media afterwards.
pub(crate) fn shutdown(r: &Regs, cap: Cap) -> Result {
    let cc_val = r.read32(regs::CC);
    if cc_val == u32::MAX {
        return Err(ENODEV);
    }
    r.write32((cc_val & !cc::SHN_MASK) | cc::SHN_NORMAL, regs::CC);
    let done = read_poll_timeout(
        || Ok(r.csts()),
        |v| *v == u32::MAX || v & csts::SHST_MASK == csts::SHST_COMPLETE,
        Delta::from_millis(1),
        SHUTDOWN_TIMEOUT,
    );
    let disabled = disable(r, cap);
    done.and(disabled)
}

/// Ring state of the admin queue.
struct AdminRings {
    sq: SqRing,
    cq: CqRing,
    gen: u8,
    /// The command identifier being waited for.
    waiting: Option<u16>,
    /// Its completion, once reaped.
    done: Option<Completion>,
    /// The controller is being reset: the command waited for will not
    /// complete, and no new one may be sent until [`AdminQueue::enable`].
    suspended: bool,
}

/// The admin submission and completion queues.
#[pin_data]
pub(crate) struct AdminQueue {
    regs: Arc<Regs>,
    dev: ARef<Device>,
    sq: DmaBuffer,
    cq: DmaBuffer,
    #[pin]
    rings: SpinLockIrq<AdminRings>,
    /// Held for the whole of a command: one at a time.
    #[pin]
    serial: Mutex<()>,
}

impl AdminQueue {
    /// Allocates the queues of the controller at `regs`.
    pub(crate) fn new(dev: &Device<Bound>, regs: Arc<Regs>) -> Result<Arc<Self>> {
        let sq = DmaBuffer::zeroed(dev, usize::from(ADMIN_DEPTH) * Command::SIZE)?;
        let cq = DmaBuffer::zeroed(dev, usize::from(ADMIN_DEPTH) * Completion::SIZE)?;
        Arc::pin_init(
            try_pin_init!(Self {
                regs,
                dev: dev.into(),
                sq,
                cq,
                rings <- new_spinlock_irq!(AdminRings {
                    sq: SqRing::new(ADMIN_DEPTH).ok_or(EINVAL)?,
                    cq: CqRing::new(ADMIN_DEPTH).ok_or(EINVAL)?,
                    gen: 0,
                    waiting: None,
                    done: None,
                    suspended: true,
                }),
                serial <- new_mutex!(()),
            }),
            GFP_KERNEL,
        )
    }

    /// Fails the command being waited for, if any, and refuses new ones
    /// until [`AdminQueue::enable`]: the controller is about to be reset.
    pub(crate) fn suspend(&self) {
        let mut r = self.rings.lock();
        r.suspended = true;
        r.waiting = None;
    }

    /// Points the (disabled) controller at the queues and enables it.
    pub(crate) fn enable(&self, cap: Cap) -> Result {
        // Whoever waited for a command the reset failed has left.
        let _serial = self.serial.lock();
        {
            // A disabled controller forgets its queue state: so do we.
            let mut r = self.rings.lock();
            r.sq = SqRing::new(ADMIN_DEPTH).ok_or(EINVAL)?;
            r.cq = CqRing::new(ADMIN_DEPTH).ok_or(EINVAL)?;
            r.waiting = None;
            r.done = None;
        }
        self.cq.fill_zero();
        let r = &*self.regs;
        r.write32(regs::aqa(ADMIN_DEPTH, ADMIN_DEPTH), regs::AQA);
        for (reg, addr) in [
            (regs::ASQ, self.sq.dma_addr(0)),
            (regs::ACQ, self.cq.dma_addr(0)),
        ] {
            // Low half first, as the C driver's lo_hi_writeq().
            r.write32(addr as u32, reg);
            r.write32((addr >> 32) as u32, reg + 4);
        }
        r.write32(cc::enable(PAGE_SHIFT), regs::CC);
        wait_csts(r, cap, csts::RDY, csts::RDY)?;
        self.rings.lock().suspended = false;
        Ok(())
    }

    /// Reaps admin completions; returns how many entries were consumed. A
    /// completion naming a command that is not outstanding is logged and
    /// dropped, never taken for another's.
    pub(crate) fn process(&self) -> u32 {
        let mut r = self.rings.lock();
        let mut n = 0;
        while let Some(c) = crate::queue::next_completion(&self.cq, &mut r.cq) {
            n += 1;
            if r.sq.set_head(c.sq_head).is_err() {
                dev_err!(
                    self.dev,
                    "admin completion with SQ head {} out of range\n",
                    c.sq_head
                );
            }
            if r.waiting == Some(c.cid) && c.sq_id == 0 {
                r.waiting = None;
                r.done = Some(c);
            } else {
                dev_warn!(
                    self.dev,
                    "ignoring admin completion for command id {:#x} (queue {})\n",
                    c.cid,
                    c.sq_id
                );
            }
        }
        if n > 0 {
            self.regs.ring(
                regs::cq_doorbell(0, self.regs.stride),
                u32::from(r.cq.head()),
            );
        }
        n
    }

    /// Submits `cmd` and waits for its completion. A completion with an
    /// error status is `EIO`.
    pub(crate) fn submit_sync(&self, cmd: Command) -> Result<Completion> {
        self.submit_sync_within(cmd, ADMIN_TIMEOUT)
    }

    /// [`AdminQueue::submit_sync`], waiting at most `timeout`.
    pub(crate) fn submit_sync_within(&self, cmd: Command, timeout: Delta) -> Result<Completion> {
        let c = self.submit_status(cmd, timeout)?;
        if !c.status.is_success() {
            dev_warn!(
                self.dev,
                "admin command {:#x} failed: status {:#x}\n",
                cmd.opcode(),
                c.status.0
            );
            return Err(EIO);
        }
        Ok(c)
    }

    /// Submits `cmd` and waits at most `timeout` for its completion, which
    /// is returned whatever its status.
    pub(crate) fn submit_status(&self, cmd: Command, timeout: Delta) -> Result<Completion> {
        let _serial = self.serial.lock();
        {
            let mut r = self.rings.lock();
            if r.suspended {
                return Err(EBUSY);
            }
            r.gen = cid::next_gen(r.gen);
            let id = cid::make(0, r.gen);
            let slot = r.sq.push().ok_or(EBUSY)?;
            self.sq.write(
                usize::from(slot) * Command::SIZE,
                &cmd.with_cid(id).to_bytes(),
            )?;
            r.waiting = Some(id);
            r.done = None;
            self.regs.ring(
                regs::sq_doorbell(0, self.regs.stride),
                u32::from(r.sq.tail()),
            );
        }
        let done = read_poll_timeout(
            || {
                self.process();
                let mut r = self.rings.lock();
                Ok(match r.done.take() {
                    Some(c) => Some(Ok(c)),
                    // A reset took the command away.
                    None if r.suspended => Some(Err(EIO)),
                    None => None,
                })
            },
            |d| d.is_some(),
            Delta::from_micros(50),
            timeout,
        );
        let c = match done {
            Ok(Some(c)) => c?,
            _ => {
                // A late completion must not be taken for the next command.
                self.rings.lock().waiting = None;
                dev_err!(self.dev, "admin command {:#x} timed out\n", cmd.opcode());
                return Err(ETIMEDOUT);
            }
        };
        Ok(c)
    }
}
