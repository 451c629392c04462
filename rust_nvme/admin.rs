// SPDX-License-Identifier: GPL-2.0

//! Controller bring-up and shutdown, and the admin queue.
//!
//! Admin commands are submitted one at a time and their completion polled
//! for, bounded by a timeout: enough for bring-up and Identify. Interrupts,
//! concurrent admin commands and the reset path come with the I/O queues.

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
    pci,
    prelude::*,
    time::Delta,
};

/// BAR 0: the registers and doorbells.
pub(crate) type Bar0<'bound> = pci::Bar<'bound, { regs::BAR0_MIN }>;

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
fn wait_csts(bar: &Bar0<'_>, cap: Cap, mask: u32, want: u32) -> Result<u32> {
    // CAP.TO of 0 is a broken controller; give it the spec's minimum unit.
    let timeout = Delta::from_millis(i64::from(cap.timeout_ms().max(500)));
    read_poll_timeout(
        || {
            let v = bar.read32(regs::CSTS);
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
pub(crate) fn disable(bar: &Bar0<'_>, cap: Cap) -> Result {
    let cc_val = bar.read32(regs::CC);
    if cc_val & cc::EN != 0 {
        bar.write32(cc_val & !cc::EN, regs::CC);
    }
    wait_csts(bar, cap, csts::RDY, 0).map(|_| ())
}

/// Asks the controller to shut down normally (CC.SHN), waits for it, then
/// disables it. Data in a volatile write cache is on media afterwards.
pub(crate) fn shutdown(bar: &Bar0<'_>, cap: Cap) -> Result {
    let cc_val = bar.read32(regs::CC);
    bar.write32((cc_val & !cc::SHN_MASK) | cc::SHN_NORMAL, regs::CC);
    let done = read_poll_timeout(
        || Ok(bar.read32(regs::CSTS)),
        |v| *v == u32::MAX || v & csts::SHST_MASK == csts::SHST_COMPLETE,
        Delta::from_millis(1),
        SHUTDOWN_TIMEOUT,
    );
    let disabled = disable(bar, cap);
    done.and(disabled)
}

/// The admin submission and completion queues.
pub(crate) struct AdminQueue {
    sq: DmaBuffer,
    cq: DmaBuffer,
    sq_ring: SqRing,
    cq_ring: CqRing,
    stride: u32,
    gen: u8,
}

impl AdminQueue {
    /// Allocates the queues for a controller with doorbell stride `stride`.
    pub(crate) fn new(dev: &Device<Bound>, stride: u32) -> Result<Self> {
        Ok(Self {
            sq: DmaBuffer::zeroed(dev, usize::from(ADMIN_DEPTH) * Command::SIZE)?,
            cq: DmaBuffer::zeroed(dev, usize::from(ADMIN_DEPTH) * Completion::SIZE)?,
            sq_ring: SqRing::new(ADMIN_DEPTH).ok_or(EINVAL)?,
            cq_ring: CqRing::new(ADMIN_DEPTH).ok_or(EINVAL)?,
            stride,
            gen: 0,
        })
    }

    /// Points the (disabled) controller at the queues and enables it.
    pub(crate) fn enable(&self, bar: &Bar0<'_>, cap: Cap) -> Result {
        bar.write32(regs::aqa(ADMIN_DEPTH, ADMIN_DEPTH), regs::AQA);
        for (reg, addr) in [
            (regs::ASQ, self.sq.dma_addr(0)),
            (regs::ACQ, self.cq.dma_addr(0)),
        ] {
            // Low half first, as the C driver's lo_hi_writeq().
            bar.try_write32(addr as u32, reg)?;
            bar.try_write32((addr >> 32) as u32, reg + 4)?;
        }
        bar.write32(cc::enable(PAGE_SHIFT), regs::CC);
        wait_csts(bar, cap, csts::RDY, csts::RDY).map(|_| ())
    }

    /// Submits `cmd` and waits for its completion. A completion with an
    /// error status is `EIO`; one naming a command that is not outstanding
    /// is logged and skipped, never taken for ours.
    pub(crate) fn submit_sync(
        &mut self,
        dev: &Device,
        bar: &Bar0<'_>,
        cmd: Command,
    ) -> Result<Completion> {
        self.submit_sync_within(dev, bar, cmd, ADMIN_TIMEOUT)
    }

    /// [`AdminQueue::submit_sync`], waiting at most `timeout`.
    pub(crate) fn submit_sync_within(
        &mut self,
        dev: &Device,
        bar: &Bar0<'_>,
        cmd: Command,
        timeout: Delta,
    ) -> Result<Completion> {
        self.gen = cid::next_gen(self.gen);
        let id = cid::make(0, self.gen);
        let slot = self.sq_ring.push().ok_or(EBUSY)?;
        self.sq.write(
            usize::from(slot) * Command::SIZE,
            &cmd.with_cid(id).to_bytes(),
        )?;
        bar.try_write32(
            u32::from(self.sq_ring.tail()),
            regs::sq_doorbell(0, self.stride),
        )?;

        loop {
            let at = usize::from(self.cq_ring.head()) * Completion::SIZE;
            let ring = self.cq_ring;
            read_poll_timeout(
                || self.cq.read_u16_acquire(at + 14),
                |sf| ring.is_new(sf & 1 != 0),
                Delta::from_micros(50),
                timeout,
            )
            .inspect_err(|_| {
                dev_err!(dev, "admin command {:#x} timed out\n", cmd.opcode());
            })?;
            let mut entry = [0u8; Completion::SIZE];
            self.cq.read(at, &mut entry)?;
            let c = Completion::from_bytes(&entry);
            self.cq_ring.advance();
            bar.try_write32(
                u32::from(self.cq_ring.head()),
                regs::cq_doorbell(0, self.stride),
            )?;
            if self.sq_ring.set_head(c.sq_head).is_err() {
                dev_err!(
                    dev,
                    "admin completion with SQ head {} out of range\n",
                    c.sq_head
                );
                return Err(EIO);
            }
            if c.cid != id || c.sq_id != 0 {
                dev_warn!(
                    dev,
                    "ignoring admin completion for command id {:#x} (queue {}), waiting for {:#x}\n",
                    c.cid,
                    c.sq_id,
                    id
                );
                continue;
            }
            if !c.status.is_success() {
                dev_warn!(
                    dev,
                    "admin command {:#x} failed: status {:#x}\n",
                    cmd.opcode(),
                    c.status.0
                );
                return Err(EIO);
            }
            return Ok(c);
        }
    }
}
