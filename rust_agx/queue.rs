// SPDX-License-Identifier: GPL-2.0

//! Queues, jobs and the scheduler.
//!
//! Each queue is a firmware work queue (an info block and a ring of job
//! pointers in kernel GPU memory) with its own fence timeline and
//! completion stamp. The scheduler is the driver's own, not `drm_sched`
//! (see Documentation/rust_agx.rst): a job waits in `pending` until its
//! in-fences have signalled and the queue has fewer than [`MAX_INFLIGHT`]
//! jobs on the GPU, then its commands are written to a kernel page and its
//! pointer to the ring. The firmware writes the stamp as each job ends; the
//! completion event makes the driver signal every fence up to that stamp,
//! in order.

use crate::{
    fw::{
        pgtable::KERNEL_VA_START,
        shared::{self, wq, JobHeader, FW_CMD_SIZE, JOB_CMDS, JOB_HEADER_SIZE, JOB_SAVE_SIZE},
        uapi,
    },
    gpu::{Gpu, KernelPage},
    mmu::{FaultState, Vm},
};
use abstractions::fence::{Fence, FenceCallback, FenceContext, FenceWait, PendingFence};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, ArcBorrow, Mutex},
    workqueue::{new_work, Work, WorkItem},
};

/// Jobs of one queue on the GPU at once; more wait in the driver
/// (backpressure on ring space and kernel memory).
pub(crate) const MAX_INFLIGHT: usize = 16;
/// Entries of a work queue's ring (more than [`MAX_INFLIGHT`]).
const RING_COUNT: u32 = 64;
/// Offset of the ring in the queue's kernel page.
const RING_OFF: u64 = 1024;
/// Jobs waiting in the driver per queue; more is `EBUSY`.
const MAX_PENDING: usize = 1024;

/// A submitted job, waiting for its in-fences and for room on the GPU.
pub(crate) struct Job {
    id: u64,
    /// In-fences not yet seen signalled; the last is waited on first.
    deps: KVec<Fence>,
    wait: Option<FenceWait<Queue>>,
    /// Firmware command records.
    cmds: KVec<[u8; FW_CMD_SIZE as usize]>,
    fence: PendingFence,
}

impl Job {
    /// A job of `cmds` that runs after `deps`, signalling `fence`.
    pub(crate) fn new(
        id: u64,
        deps: KVec<Fence>,
        cmds: KVec<[u8; FW_CMD_SIZE as usize]>,
        fence: PendingFence,
    ) -> Self {
        Self {
            id,
            deps,
            wait: None,
            cmds,
            fence,
        }
    }
}

/// A job on the GPU.
struct Inflight {
    id: u64,
    stamp: u32,
    fence: PendingFence,
    page: KernelPage,
}

struct QueueInner {
    pending: KVec<Job>,
    inflight: KVec<Inflight>,
    wptr: u32,
    next_stamp: u32,
    fault: FaultState,
    dead: bool,
}

/// A queue of jobs in a VM.
#[pin_data]
pub(crate) struct Queue {
    gpu: Arc<Gpu>,
    vm: Arc<Vm>,
    stamp_index: u32,
    priority: u32,
    /// Work queue info at 0, ring at [`RING_OFF`].
    #[pin]
    page: Mutex<Option<KernelPage>>,
    wq_va: u64,
    fctx: FenceContext,
    #[pin]
    inner: Mutex<QueueInner>,
    #[pin]
    work: Work<Queue>,
}

kernel::impl_has_work! {
    impl HasWork<Self> for Queue { self.work }
}

impl Queue {
    /// Creates a queue of `priority` on `vm`.
    pub(crate) fn new(gpu: &Arc<Gpu>, vm: Arc<Vm>, priority: u32) -> Result<Arc<Self>> {
        gpu.add_queue(|stamp_index| {
            let page = gpu.wq_page()?;
            let m = page.mem();
            m.write(0, &[0u8; shared::WQ_INFO_SIZE as usize])?;
            m.write_u64(wq::RING, page.va() + RING_OFF)?;
            m.write_u32(wq::COUNT, RING_COUNT)?;
            m.write_u32(wq::SLOT, vm.slot())?;
            m.write_u32(wq::STAMP_INDEX, stamp_index)?;
            m.write_u32(wq::PRIORITY, priority)?;
            // Stamps outlive queues: go on from the last value.
            let next_stamp = gpu.stamp(stamp_index)?.wrapping_add(1);
            let wq_va = page.va();
            Arc::pin_init(
                pin_init!(Self {
                    gpu: gpu.clone(),
                    vm,
                    stamp_index,
                    priority,
                    page <- new_mutex!(Some(page)),
                    wq_va,
                    fctx: FenceContext::new(),
                    inner <- new_mutex!(QueueInner {
                        pending: KVec::new(),
                        inflight: KVec::new(),
                        wptr: 0,
                        next_stamp,
                        fault: FaultState::default(),
                        dead: false,
                    }),
                    work <- new_work!("Queue::work"),
                }),
                GFP_KERNEL,
            )
        })
    }

    /// A new fence on the queue's timeline, for the next job.
    pub(crate) fn new_fence(&self) -> Result<PendingFence> {
        self.fctx.new_fence()
    }

    /// Queues `job`.
    pub(crate) fn submit(self: &Arc<Self>, job: Job) -> Result {
        {
            let mut inner = self.inner.lock();
            if inner.dead || self.gpu.is_dead() {
                return Err(ENODEV);
            }
            if inner.pending.len() >= MAX_PENDING {
                return Err(EBUSY);
            }
            inner.pending.push(job, GFP_KERNEL)?;
        }
        self.schedule();
        Ok(())
    }

    /// Moves every job that can run to the GPU.
    fn schedule(self: &Arc<Self>) {
        let mut inner = self.inner.lock();
        let mut kicked = false;
        while !inner.dead && !inner.pending.is_empty() {
            // Dependencies, last first.
            let job = &mut inner.pending[0];
            let mut blocked = false;
            let mut dep_failed = false;
            while let Some(dep) = job.deps.last() {
                if dep.is_signaled() {
                    dep_failed |= dep.error().is_some();
                    job.deps.pop();
                    job.wait = None;
                    continue;
                }
                if job.wait.is_none() {
                    match dep.on_signal(self.clone()) {
                        Ok(Some(w)) => job.wait = Some(w),
                        // Signalled meanwhile: look again.
                        Ok(None) => continue,
                        Err(_) => {
                            // Cannot wait without memory: fail the job
                            // rather than run it early.
                            dep_failed = true;
                            job.deps.clear();
                            break;
                        }
                    }
                }
                blocked = true;
                break;
            }
            if blocked {
                break;
            }
            if dep_failed {
                // A job whose input failed would compute with garbage.
                let job = inner.pending.remove(0);
                if let Ok(job) = job {
                    job.fence.signal(Err(ECANCELED));
                }
                continue;
            }
            if inner.inflight.len() >= MAX_INFLIGHT {
                break;
            }
            let Ok(job) = inner.pending.remove(0) else {
                break;
            };
            match self.push(&mut inner, job) {
                Ok(()) => kicked = true,
                Err((job, e)) => {
                    pr_warn!(
                        "queue {}: job {} not run: {:?}\n",
                        self.stamp_index,
                        job.id,
                        e
                    );
                    job.fence.signal(Err(e));
                }
            }
        }
        drop(inner);
        if kicked {
            if let Err(e) = self.gpu.run_wq(self.priority as usize, self.wq_va) {
                pr_err!(
                    "queue {}: cannot ring the firmware: {:?}\n",
                    self.stamp_index,
                    e
                );
            }
        }
    }

    /// Writes a job to a kernel page and its pointer to the ring.
    fn push(&self, inner: &mut QueueInner, job: Job) -> Result<(), (Job, Error)> {
        // Room to track the job before it can reach the GPU.
        if let Err(e) = inner.inflight.reserve(1, GFP_KERNEL) {
            return Err((job, e.into()));
        }
        let page = match self.gpu.kernel_page() {
            Ok(p) => p,
            Err(e) => return Err((job, e)),
        };
        let stamp = inner.next_stamp;
        let hdr = JobHeader {
            num_cmds: job.cmds.len() as u32,
            job_id: job.id,
            stamp_value: stamp,
            timeout_ms: self.gpu.job_timeout_ms(),
        };
        let mut write = || -> Result {
            let m = page.mem();
            m.write(0, &hdr.encode())?;
            m.write(JOB_HEADER_SIZE, &[0u8; JOB_SAVE_SIZE as usize])?;
            for (i, c) in job.cmds.iter().enumerate() {
                m.write(JOB_CMDS + i as u64 * FW_CMD_SIZE, c)?;
            }
            let guard = self.page.lock();
            let q = guard.as_ref().ok_or(ENODEV)?.mem();
            q.write_u64(RING_OFF + 8 * u64::from(inner.wptr), page.va())?;
            inner.wptr = (inner.wptr + 1) % RING_COUNT;
            // The ring entry before the pointer that publishes it.
            q.write_u32(wq::WPTR, inner.wptr)
        };
        if let Err(e) = write() {
            self.gpu.free_kernel_page(page);
            return Err((job, e));
        }
        inner.next_stamp = stamp.wrapping_add(1);
        let Job { id, fence, .. } = job;
        let entry = Inflight {
            id,
            stamp,
            fence,
            page,
        };
        // Cannot fail: the capacity was reserved above.
        let _ = inner.inflight.push(entry, GFP_KERNEL);
        Ok(())
    }

    /// The firmware wrote this queue's stamp: signal what is done.
    pub(crate) fn complete(self: &Arc<Self>) {
        let Ok(stamp) = self.gpu.stamp(self.stamp_index) else {
            return;
        };
        {
            let mut inner = self.inner.lock();
            while let Some(front) = inner.inflight.first() {
                if (stamp.wrapping_sub(front.stamp) as i32) < 0 {
                    break;
                }
                if let Ok(done) = inner.inflight.remove(0) {
                    done.fence.signal(Ok(()));
                    self.gpu.free_kernel_page(done.page);
                }
            }
        }
        self.schedule();
    }

    /// A job of this queue faulted or timed out: fail it and record the
    /// fault. Returns this work queue's VA, for the firmware to skip the job
    /// (recovery and teardown are serialised, so the work queue is still
    /// there), and the job's page, to free once the firmware skipped it.
    pub(crate) fn fault(&self, ev: &shared::Event) -> Option<(u64, Option<KernelPage>)> {
        let (state, err) = match ev.kind {
            shared::EVENT_FAULT => (uapi::FAULT_PAGE, EFAULT),
            shared::EVENT_TIMEOUT => (uapi::FAULT_TIMEOUT, ETIMEDOUT),
            _ => (uapi::FAULT_ILLEGAL, EIO),
        };
        // A bad firmware record names a kernel VA: not for userspace.
        let address = if ev.addr >= KERNEL_VA_START {
            0
        } else {
            ev.addr
        };
        let f = FaultState {
            state,
            unit: ev.unit.into(),
            address,
            access: ev.access.into(),
            count: 0,
        };
        let mut inner = self.inner.lock();
        if inner.dead {
            // Its jobs are cancelled; skip this one too.
            return Some((self.wq_va, None));
        }
        let Some(pos) = inner.inflight.iter().position(|j| j.id == ev.job_id) else {
            if crate::gpu::log_allowed() {
                pr_warn!(
                    "queue {}: fault of unknown job {}\n",
                    self.stamp_index,
                    ev.job_id
                );
            }
            return Some((self.wq_va, None));
        };
        let job = inner.inflight.remove(pos).ok()?;
        inner.fault = FaultState {
            count: inner.fault.count.saturating_add(1),
            ..f
        };
        drop(inner);
        self.vm.record_fault(f);
        if crate::gpu::log_allowed() {
            pr_info!(
                "queue {}: job {} failed ({:?}) in slot {}: unit {} access {} address {:#x}\n",
                self.stamp_index,
                ev.job_id,
                err,
                ev.slot,
                ev.unit,
                ev.access,
                address
            );
        }
        job.fence.signal(Err(err));
        Some((self.wq_va, Some(job.page)))
    }

    /// The queue's last fault.
    pub(crate) fn fault_state(&self) -> FaultState {
        self.inner.lock().fault
    }

    /// Fails every job, for a dead GPU.
    pub(crate) fn fail_all(&self, err: Error) {
        let (pending, inflight) = {
            let mut inner = self.inner.lock();
            inner.dead = true;
            (
                core::mem::take(&mut inner.pending),
                core::mem::take(&mut inner.inflight),
            )
        };
        for j in pending {
            j.fence.signal(Err(err));
        }
        for j in inflight {
            j.fence.signal(Err(err));
            // The firmware is dead: it will not touch the page again.
            self.gpu.free_kernel_page(j.page);
        }
    }

    /// Tears the queue down: unfinished jobs are cancelled.
    pub(crate) fn destroy(&self) {
        let (pending, inflight) = {
            let mut inner = self.inner.lock();
            inner.dead = true;
            (
                core::mem::take(&mut inner.pending),
                core::mem::take(&mut inner.inflight),
            )
        };
        // Waiting jobs first: their fence callbacks go with them.
        drop(pending);
        let page = self.page.lock().take();
        self.gpu.without_recovery(|| {
            let dropped = self
                .gpu
                .devctl(shared::DEVCTL_DROP_WQ, 0, self.wq_va)
                .is_ok()
                || !self.gpu.is_alive();
            self.gpu.remove_queue(self.stamp_index);
            for j in inflight {
                j.fence.signal(Err(ECANCELED));
                if dropped {
                    self.gpu.free_kernel_page(j.page);
                } else {
                    // The firmware may still read it: keep it out of the pool.
                    core::mem::forget(j.page);
                }
            }
            if let Some(page) = page {
                // Empty, so that a stale "run" message finds nothing to do.
                let m = page.mem();
                let emptied = m
                    .read_u32(wq::WPTR)
                    .and_then(|w| m.write_u32(wq::RPTR, w))
                    .and_then(|()| m.write_u32(wq::STATE, shared::WQ_STATE_IDLE));
                if dropped && emptied.is_ok() {
                    self.gpu.free_wq_page(page);
                } else {
                    core::mem::forget(page);
                }
            }
        });
    }
}

impl FenceCallback for Queue {
    fn signaled(this: ArcBorrow<'_, Self>) {
        // Atomic context: look again from the queue's worker.
        let this: Arc<Queue> = this.into();
        let wq = this.gpu.wq().clone();
        let _ = wq.enqueue(this);
    }
}

impl WorkItem for Queue {
    type Pointer = Arc<Queue>;

    fn run(this: Arc<Queue>) {
        this.schedule();
    }
}

/// Fault state of a queue, as GET_FAULT reports it.
pub(crate) fn fault_info(f: &FaultState, out: &mut uapi::GetFault) {
    out.state = f.state;
    out.unit = f.unit;
    out.address = f.address;
    out.access = f.access;
    out.count = f.count;
}
