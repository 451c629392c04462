// SPDX-License-Identifier: GPL-2.0

//! Workqueues owned by a module.
//!
//! The kernel crate has the system workqueues only. A module whose work items
//! block for a long time (a server's accept and receive loops) needs its own,
//! and needs to wait for all of its items before its code goes away: dropping
//! an [`OwnedQueue`] does both.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use crate::bindings;
use core::{ops::Deref, ptr::NonNull};
use kernel::{prelude::*, workqueue::Queue};

/// A workqueue, destroyed (after all its work has run) on drop.
///
/// It dereferences to the kernel crate's [`Queue`], so work is queued with
/// [`Queue::try_spawn`] and friends.
///
/// # Invariants
///
/// `ptr` is a workqueue made by `alloc_workqueue()` and owned by this object.
pub struct OwnedQueue {
    ptr: NonNull<bindings::workqueue_struct>,
}

// SAFETY: Workqueues are made to be used from any thread.
unsafe impl Send for OwnedQueue {}
// SAFETY: See `Send`.
unsafe impl Sync for OwnedQueue {}

impl OwnedQueue {
    /// The most items a queue can run at once (per CPU for a per-CPU one):
    /// the kernel's `WQ_MAX_ACTIVE`. The default is half of it.
    pub const MAX_ACTIVE: u32 = bindings::wq_consts_WQ_MAX_ACTIVE;

    /// Allocates an unbound workqueue named `name` that runs at most
    /// `max_active` items at once (items beyond wait their turn; 0 is the
    /// kernel's default).
    ///
    /// Its items may run on any CPU; one that spins does not hold up the
    /// others queued beside it.
    pub fn new_unbound(name: &CStr, max_active: u32) -> Result<Self> {
        Self::alloc(name, bindings::wq_flags_WQ_UNBOUND, max_active)
    }

    /// Allocates a per-CPU workqueue named `name` that runs at most
    /// `max_active` items at once on each CPU (0 is the kernel's default).
    ///
    /// An item runs on the CPU that queued it, so short items queued by a
    /// thread that then sleeps run warm in its cache, without waking
    /// another CPU. An item that sleeps lets the next one run; one that
    /// spins holds up the items queued after it on its CPU.
    pub fn new_percpu(name: &CStr, max_active: u32) -> Result<Self> {
        Self::alloc(name, bindings::wq_flags_WQ_PERCPU, max_active)
    }

    fn alloc(name: &CStr, flags: u32, max_active: u32) -> Result<Self> {
        let max_active = i32::try_from(max_active).map_err(|_| EINVAL)?;
        let name = name.as_char_ptr();
        // SAFETY: `name` is a NUL-terminated string that outlives the call
        // (the workqueue copies it).
        let ptr = unsafe { bindings::rust_suite_alloc_workqueue(name, flags, max_active) };
        // INVARIANT: a non-NULL result is a workqueue we own.
        Ok(Self {
            ptr: NonNull::new(ptr).ok_or(ENOMEM)?,
        })
    }
}

impl OwnedQueue {
    /// Waits until the queue is empty: every item queued, and every item
    /// those queue in turn, has run to its end. Only running items may
    /// queue more while this waits.
    pub fn drain(&self) {
        // SAFETY: The workqueue is valid (type invariant).
        unsafe { bindings::drain_workqueue(self.ptr.as_ptr()) };
    }
}

impl Deref for OwnedQueue {
    type Target = Queue;

    fn deref(&self) -> &Queue {
        // SAFETY: The workqueue is valid until `self` is dropped, which
        // cannot happen while the returned borrow lives.
        unsafe { Queue::from_raw(self.ptr.as_ptr()) }
    }
}

impl Drop for OwnedQueue {
    fn drop(&mut self) {
        // SAFETY: We own the workqueue (type invariant); destroy_workqueue()
        // drains it first, so no item runs after this returns.
        unsafe { bindings::destroy_workqueue(self.ptr.as_ptr()) };
    }
}
