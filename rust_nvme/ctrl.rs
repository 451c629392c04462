// SPDX-License-Identifier: GPL-2.0

//! The controller as its queues, its timeout handler and its users see it:
//! its state, and recovery by controller reset.
//!
//! A request that times out is first looked for in its completion queue (a
//! missed interrupt), then aborted; if it times out again, or the abort
//! fails, or the controller reports a fatal status (CSTS.CFS), the
//! controller is reset. A reset may also be asked for by root
//! (`/sys/class/misc/rnvme<N>/reset_controller`, `nvme reset`).
//!
//! A reset stops the block layer sending requests (the tag set is
//! quiesced), disables the controller, which then no longer touches memory,
//! reaps what it completed before, requeues what it did not (failing a
//! request only once it was retried as often as allowed), enables the
//! controller, creates the same queues again and lets the block layer go
//! on. Requests are never lost: each is in exactly one place, the
//! controller's queue slots, blk-mq's requeue list, or ended. If the
//! controller does not come back, it is dead: what is in flight and what
//! comes fails with an I/O error, and only removal is left.

use crate::{
    admin::{self, AdminQueue, Regs},
    command::Command,
    queue::IoQueue,
    regs::{csts, Cap},
    ring::cid,
    NvmeOps,
};
use abstractions::blk_mq::{Status, TagSet, TimedOut, TimeoutAction};
use core::fmt;
use kernel::{
    device::Device,
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    time::Delta,
};

/// How long an Abort may take before the controller is reset instead.
const ABORT_TIMEOUT: Delta = Delta::from_secs(5);

/// The states of a controller, in [`Ctrl::state`].
pub(crate) mod state {
    /// Taking requests.
    pub(crate) const LIVE: u32 = 0;
    /// Being reset: timeouts wait for the reset to end.
    pub(crate) const RESETTING: u32 = 1;
    /// Being removed: no more resets.
    pub(crate) const DELETING: u32 = 2;
    /// A reset failed: all I/O fails until removal.
    pub(crate) const DEAD: u32 = 3;
}

/// What a reset works on, under the reset lock.
pub(crate) struct ResetState {
    /// The tag set of the I/O queues, while there are disks. Cleared on
    /// removal (it holds the controller in turn).
    pub(crate) tag_set: Option<Arc<TagSet<NvmeOps>>>,
    /// Resets done.
    pub(crate) count: u32,
}

/// The shared part of a bound controller: its registers, queues and state.
#[pin_data]
pub(crate) struct Ctrl {
    pub(crate) dev: ARef<Device>,
    pub(crate) regs: Arc<Regs>,
    pub(crate) cap: Cap,
    pub(crate) admin: Arc<AdminQueue>,
    /// The I/O queues: the first `irq_queues` signal interrupts, the rest
    /// are polled. Fixed after probe; a reset creates the same ones again.
    pub(crate) queues: KVec<Arc<IoQueue>>,
    pub(crate) irq_queues: u32,
    /// Queue pairs asked for with Set Features, asked again on reset.
    wanted: u16,
    /// One of [`state`].
    state: Atomic<u32>,
    /// Serialises resets with each other and with removal.
    #[pin]
    reset: Mutex<ResetState>,
}

impl Ctrl {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        dev: ARef<Device>,
        regs: Arc<Regs>,
        cap: Cap,
        admin: Arc<AdminQueue>,
        queues: KVec<Arc<IoQueue>>,
        irq_queues: u32,
        wanted: u16,
    ) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                dev,
                regs,
                cap,
                admin,
                queues,
                irq_queues,
                wanted,
                state: Atomic::new(state::LIVE),
                reset <- new_mutex!(ResetState {
                    tag_set: None,
                    count: 0,
                }),
            }),
            GFP_KERNEL,
        )
    }

    /// The current state, one of [`state`].
    pub(crate) fn state(&self) -> u32 {
        self.state.load(Relaxed)
    }

    /// Sets the tag set resets quiesce.
    pub(crate) fn set_tag_set(&self, set: Arc<TagSet<NvmeOps>>) {
        self.reset.lock().tag_set = Some(set);
    }

    /// The controller is being removed: waits for a reset in progress, then
    /// allows no more, and hands back the tag set.
    pub(crate) fn start_delete(&self) -> Option<Arc<TagSet<NvmeOps>>> {
        let mut r = self.reset.lock();
        if self.state() != state::DEAD {
            self.state.store(state::DELETING, Relaxed);
        }
        r.tag_set.take()
    }

    /// Resets the controller (see the module documentation), saying `why`
    /// in the log. Fails if the controller is being removed or is dead, or
    /// if it does not come back, which leaves it dead.
    pub(crate) fn reset(&self, why: fmt::Arguments<'_>) -> Result {
        let mut guard = self.reset.lock();
        if matches!(self.state(), state::DELETING | state::DEAD) {
            return Err(ENODEV);
        }
        self.state.store(state::RESETTING, Relaxed);
        guard.count += 1;
        dev_warn!(
            self.dev,
            "resetting controller ({}), reset {}\n",
            why,
            guard.count
        );
        if let Some(set) = guard.tag_set.as_ref() {
            set.quiesce();
        }
        let res = self.reinit();
        match res {
            Ok((requeued, failed)) => {
                self.state.store(state::LIVE, Relaxed);
                dev_info!(
                    self.dev,
                    "controller reset: {} requests requeued, {} failed after {} tries\n",
                    requeued,
                    failed,
                    crate::queue::MAX_RETRIES + 1
                );
            }
            Err(e) => {
                dev_err!(
                    self.dev,
                    "controller did not come back from reset ({:?}): failing its I/O\n",
                    e
                );
                self.state.store(state::DEAD, Relaxed);
                let _ = admin::disable(&self.regs, self.cap);
                self.fail_all();
            }
        }
        // Requeued requests go out again (or fail on a dead controller).
        if let Some(set) = guard.tag_set.as_ref() {
            set.unquiesce();
        }
        res.map(|_| ())
    }

    /// Disables and enables the controller, taking back what was in flight;
    /// returns how many requests were requeued and failed.
    fn reinit(&self) -> Result<(u32, u32)> {
        self.admin.suspend();
        for q in self.queues.iter() {
            q.stop();
        }
        let disabled = admin::disable(&self.regs, self.cap);
        // What the controller completed before it stopped ends normally;
        // the rest goes back to the block layer.
        let (mut requeued, mut failed) = (0, 0);
        for q in self.queues.iter() {
            q.process();
            let (r, f) = q.cancel_for_reset();
            requeued += r;
            failed += f;
        }
        self.admin.process();
        disabled?;
        self.admin.enable(self.cap)?;
        let c = self
            .admin
            .submit_sync(Command::set_num_queues(self.wanted, self.wanted))?;
        let granted = usize::from(Command::queues_granted(c.result));
        if granted < self.queues.len() {
            dev_err!(
                self.dev,
                "after reset the controller grants {} I/O queues, not the {} in use\n",
                granted,
                self.queues.len()
            );
            return Err(EIO);
        }
        for q in self.queues.iter() {
            q.recreate(&self.admin)?;
        }
        for q in self.queues.iter() {
            q.start();
        }
        Ok((requeued, failed))
    }

    /// Ends every request in flight with an I/O error and refuses new
    /// ones: the controller is gone, dead or disabled.
    pub(crate) fn fail_all(&self) -> u32 {
        let mut n = 0;
        for q in self.queues.iter() {
            n += q.cancel_all(Status::IOERR);
        }
        n
    }

    /// The timeout handler: `t` of queue `q` has not completed in time.
    pub(crate) fn timeout(&self, q: &IoQueue, t: TimedOut) -> TimeoutAction {
        let Some(gen) = q.inflight_gen(t.tag) else {
            // Completed (or taken back by a reset) meanwhile.
            return TimeoutAction::Done;
        };
        let status = self.regs.csts();
        if status == u32::MAX {
            // The controller is gone; nothing it had will complete, and
            // removal follows.
            let n = self.fail_all();
            dev_warn!(
                self.dev,
                "I/O tag {} (queue {}) timed out, controller gone: {} requests failed\n",
                t.tag,
                q.qid,
                n
            );
            return TimeoutAction::Done;
        }
        match self.state() {
            state::RESETTING => return TimeoutAction::ResetTimer,
            state::DELETING | state::DEAD => {
                // No reset will come: stop the controller touching memory,
                // then end what it had.
                let _ = admin::disable(&self.regs, self.cap);
                let n = self.fail_all();
                dev_warn!(
                    self.dev,
                    "I/O tag {} (queue {}) timed out during removal: controller disabled, {} requests failed\n",
                    t.tag,
                    q.qid,
                    n
                );
                return TimeoutAction::Done;
            }
            _ => {}
        }
        // A missed interrupt?
        q.process();
        if !q.holds(t.tag, gen) {
            dev_warn!(
                self.dev,
                "I/O tag {} (queue {}) completed by polling: interrupt missed\n",
                t.tag,
                q.qid
            );
            return TimeoutAction::Done;
        }
        let id = cid::make(t.tag as u16, gen);
        if status & csts::CFS != 0 {
            let _ = self.reset(format_args!("fatal status, CSTS {:#x}", status));
        } else if q.mark_aborted(t.tag, gen) {
            dev_warn!(
                self.dev,
                "I/O tag {} (queue {}, command id {:#x}) timed out: aborting it\n",
                t.tag,
                q.qid,
                id
            );
            match self
                .admin
                .submit_status(Command::abort(q.qid, id), ABORT_TIMEOUT)
            {
                // Aborted, it completes with Abort Requested and is retried;
                // if not, it times out again and the controller is reset.
                Ok(_) => return TimeoutAction::ResetTimer,
                Err(e) => {
                    let _ = self.reset(format_args!("abort failed: {:?}", e));
                }
            }
        } else {
            let _ = self.reset(format_args!(
                "I/O tag {} (queue {}) timed out again after its abort",
                t.tag, q.qid
            ));
        }
        // After a reset the request is requeued or failed, not ours.
        if q.holds(t.tag, gen) {
            TimeoutAction::ResetTimer
        } else {
            TimeoutAction::Done
        }
    }
}
