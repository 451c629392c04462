// SPDX-License-Identifier: GPL-2.0

//! DMA fences: a driver's own fences, references to anyone's, and callbacks
//! when they signal.
//!
//! A driver makes a [`PendingFence`] for each job on a [`FenceContext`]
//! (one timeline per queue) and must signal it; dropping it unsignalled
//! signals it with `ECANCELED`, so that no waiter hangs. Once signalled, a
//! fence never calls into the module again (the core detaches the ops and
//! frees it itself), so fences may outlive the module that made them.
//!
//! C header: [`include/linux/dma-fence.h`](srctree/include/linux/dma-fence.h)

use crate::bindings;
use core::{
    ffi::c_void,
    ptr::NonNull,
    sync::atomic::{AtomicU64, Ordering},
};
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// A counted reference to a `struct dma_fence`.
///
/// # Invariants
///
/// `ptr` is a fence this object holds one reference to.
pub struct Fence {
    ptr: NonNull<bindings::dma_fence>,
}

// SAFETY: Fences are reference counted and signalled under their own lock;
// the methods are thread-safe.
unsafe impl Send for Fence {}
// SAFETY: See `Send`.
unsafe impl Sync for Fence {}

impl Fence {
    /// Takes over a reference to `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a fence and the caller gives its reference to the result.
    pub(crate) unsafe fn from_raw(ptr: NonNull<bindings::dma_fence>) -> Self {
        // INVARIANT: The caller gave us a reference.
        Self { ptr }
    }

    /// The raw fence.
    pub(crate) fn as_raw(&self) -> *mut bindings::dma_fence {
        self.ptr.as_ptr()
    }

    /// Whether the fence has signalled.
    pub fn is_signaled(&self) -> bool {
        // SAFETY: We hold a reference (type invariant).
        unsafe { bindings::rust_suite_fence_is_signaled(self.as_raw()) }
    }

    /// The error the fence signalled with, if it has and did.
    pub fn error(&self) -> Option<Error> {
        // SAFETY: We hold a reference.
        let e = unsafe { bindings::rust_suite_fence_error(self.as_raw()) };
        (e < 0).then(|| Error::from_errno(e))
    }

    /// Calls `data.signaled()` once the fence signals, unless the returned
    /// [`FenceWait`] is dropped first. `Ok(None)` if the fence has already
    /// signalled (the callback is then never called).
    pub fn on_signal<C: FenceCallback>(&self, data: Arc<C>) -> Result<Option<FenceWait<C>>> {
        let raw = Arc::as_ptr(&data).cast_mut().cast::<c_void>();
        // SAFETY: The fence is alive. `raw` stays valid until the callback is
        // removed, because the `FenceWait` owning it keeps `data` alive
        // until after `rust_suite_fence_cb_free`.
        let cb = unsafe {
            bindings::rust_suite_fence_cb_new(self.as_raw(), Some(fence_callback::<C>), raw)
        };
        if cb.is_null() {
            return Ok(None);
        }
        kernel::error::from_err_ptr(cb)?;
        // INVARIANT: `cb` was just registered with `raw` = `data`.
        Ok(Some(FenceWait {
            cb: NonNull::new(cb).ok_or(ENOMEM)?,
            _data: data,
        }))
    }
}

impl Clone for Fence {
    fn clone(&self) -> Self {
        // SAFETY: We hold a reference, so the fence is alive to take another.
        unsafe { bindings::rust_suite_fence_get(self.as_raw()) };
        // INVARIANT: The reference just taken.
        Self { ptr: self.ptr }
    }
}

impl Drop for Fence {
    fn drop(&mut self) {
        // SAFETY: We own one reference (type invariant).
        unsafe { bindings::rust_suite_fence_put(self.as_raw()) };
    }
}

/// What to do when a fence signals ([`Fence::on_signal`]).
pub trait FenceCallback: Send + Sync {
    /// Called once, in the signalling context: the fence's spinlock is held
    /// and interrupts are off, so it must not sleep (queue work instead).
    fn signaled(this: ArcBorrow<'_, Self>);
}

/// `func` of a fence callback.
///
/// # Safety
///
/// `data` is the `Arc<C>` pointer given in `Fence::on_signal`, alive because
/// its `FenceWait` is.
unsafe extern "C" fn fence_callback<C: FenceCallback>(data: *mut c_void) {
    // SAFETY: See the safety section: the pointer is `Arc::as_ptr` of an
    // `Arc<C>` that outlives the call.
    C::signaled(unsafe { ArcBorrow::from_raw(data.cast::<C>()) });
}

/// A callback registered with [`Fence::on_signal`]; dropping it removes the
/// callback if it has not run, and waits for it if it is running.
///
/// # Invariants
///
/// `cb` is a callback registered with `_data`'s pointer.
pub struct FenceWait<C: FenceCallback> {
    cb: NonNull<bindings::rust_suite_fence_cb>,
    _data: Arc<C>,
}

// SAFETY: The callback is only touched through the C functions, which lock.
unsafe impl<C: FenceCallback> Send for FenceWait<C> {}
// SAFETY: See `Send`; `&FenceWait` has no methods.
unsafe impl<C: FenceCallback> Sync for FenceWait<C> {}

impl<C: FenceCallback> Drop for FenceWait<C> {
    fn drop(&mut self) {
        // SAFETY: `cb` is ours (type invariant); after this the callback
        // cannot run, and only then is `_data` dropped.
        unsafe { bindings::rust_suite_fence_cb_free(self.cb.as_ptr()) };
    }
}

/// A fence timeline: one fence context and its sequence numbers.
pub struct FenceContext {
    context: u64,
    seqno: AtomicU64,
}

impl FenceContext {
    /// Allocates a new fence context.
    pub fn new() -> Self {
        // SAFETY: No preconditions.
        let context = unsafe { bindings::dma_fence_context_alloc(1) };
        Self {
            context,
            seqno: AtomicU64::new(0),
        }
    }

    /// Creates the next fence of the timeline. Fences of one context must
    /// signal in the order they are created.
    pub fn new_fence(&self) -> Result<PendingFence> {
        let seqno = self.seqno.fetch_add(1, Ordering::Relaxed) + 1;
        // SAFETY: No preconditions; returns a new fence with one reference.
        let ptr = NonNull::new(unsafe { bindings::rust_suite_fence_new(self.context, seqno) })
            .ok_or(ENOMEM)?;
        // SAFETY: The reference of the new fence is given to the `Fence`.
        let fence = unsafe { Fence::from_raw(ptr) };
        Ok(PendingFence {
            fence,
            signaled: false,
        })
    }
}

impl Default for FenceContext {
    fn default() -> Self {
        Self::new()
    }
}

/// A fence of this driver that has not signalled yet. It signals exactly
/// once: by [`PendingFence::signal`], or with `ECANCELED` when dropped.
pub struct PendingFence {
    fence: Fence,
    signaled: bool,
}

impl PendingFence {
    /// A reference to the fence, to hand to waiters.
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// Signals the fence, with `result`'s error if any.
    pub fn signal(mut self, result: Result) {
        self.do_signal(result);
    }

    fn do_signal(&mut self, result: Result) {
        if !self.signaled {
            self.signaled = true;
            let err = result.err().map_or(0, |e| e.to_errno());
            // SAFETY: The fence is ours to signal: `PendingFence` was made
            // unsignalled by `FenceContext::new_fence` and signals once.
            unsafe { bindings::rust_suite_fence_signal(self.fence.as_raw(), err) };
        }
    }
}

impl Drop for PendingFence {
    fn drop(&mut self) {
        self.do_signal(Err(ECANCELED));
    }
}
