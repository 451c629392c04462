// SPDX-License-Identifier: GPL-2.0

//! DRM sync objects: the fences a job waits for and the ones it signals.
//!
//! Signalling is in two steps so that a submission can fail cleanly: all
//! allocations and lookups happen in [`SyncobjSignal::prepare`], before the
//! job is queued; [`SyncobjSignal::commit`] cannot fail.
//!
//! C header: [`include/drm/drm_syncobj.h`](srctree/include/drm/drm_syncobj.h)

use crate::{
    bindings,
    drm::{Driver, File},
    fence::Fence,
};
use core::ptr::NonNull;
use kernel::{error::to_result, prelude::*};

/// The fence of syncobj `handle` of `file`, at timeline point `point` (0
/// for a binary syncobj). `ENOENT` for a bad handle, `EINVAL` if there is no
/// fence (yet) at that point.
pub fn find_fence<T: Driver>(file: &File<T>, handle: u32, point: u64) -> Result<Fence> {
    let mut fence = core::ptr::null_mut();
    // SAFETY: `file` is open; on success we get a reference to a fence.
    to_result(unsafe {
        bindings::drm_syncobj_find_fence(file.as_raw(), handle, point, 0, &mut fence)
    })?;
    let fence = NonNull::new(fence).ok_or(EINVAL)?;
    // SAFETY: The reference the lookup gave us.
    Ok(unsafe { Fence::from_raw(fence) })
}

/// A syncobj ready to be given a fence.
///
/// # Invariants
///
/// `syncobj` holds a reference; `chain`, if any, is an unused
/// `dma_fence_chain` allocation owned by this object.
pub struct SyncobjSignal {
    syncobj: NonNull<bindings::drm_syncobj>,
    chain: Option<NonNull<bindings::dma_fence_chain>>,
    point: u64,
}

// SAFETY: Syncobjs are reference counted and lock internally.
unsafe impl Send for SyncobjSignal {}
// SAFETY: See `Send`; `&SyncobjSignal` has no methods.
unsafe impl Sync for SyncobjSignal {}

impl SyncobjSignal {
    /// Looks up syncobj `handle` of `file` (`ENOENT` if none) to signal it
    /// at `point`, or replace its fence if `point` is `None`.
    pub fn prepare<T: Driver>(file: &File<T>, handle: u32, point: Option<u64>) -> Result<Self> {
        let chain = match point {
            Some(_) => {
                // SAFETY: No preconditions.
                let chain = unsafe { bindings::rust_suite_fence_chain_alloc() };
                Some(NonNull::new(chain).ok_or(ENOMEM)?)
            }
            None => None,
        };
        // SAFETY: `file` is open; we get a reference or NULL.
        let syncobj = unsafe { bindings::drm_syncobj_find(file.as_raw(), handle) };
        let Some(syncobj) = NonNull::new(syncobj) else {
            if let Some(c) = chain {
                // SAFETY: Allocated above and unused.
                unsafe { bindings::rust_suite_fence_chain_free(c.as_ptr()) };
            }
            return Err(ENOENT);
        };
        Ok(Self {
            syncobj,
            chain,
            point: point.unwrap_or(0),
        })
    }

    /// Gives the syncobj `fence`: a new timeline point, or its new fence.
    pub fn commit(mut self, fence: &Fence) {
        match self.chain.take() {
            // SAFETY: The syncobj is alive (we hold a reference); the chain
            // is ours and `drm_syncobj_add_point` takes it over; it takes
            // its own fence reference.
            Some(chain) => unsafe {
                bindings::drm_syncobj_add_point(
                    self.syncobj.as_ptr(),
                    chain.as_ptr(),
                    fence.as_raw(),
                    self.point,
                )
            },
            // SAFETY: As above; the syncobj takes its own fence reference.
            None => unsafe {
                bindings::drm_syncobj_replace_fence(self.syncobj.as_ptr(), fence.as_raw())
            },
        }
    }
}

impl Drop for SyncobjSignal {
    fn drop(&mut self) {
        if let Some(c) = self.chain.take() {
            // SAFETY: The chain is ours and was never used.
            unsafe { bindings::rust_suite_fence_chain_free(c.as_ptr()) };
        }
        // SAFETY: We hold a reference (type invariant).
        unsafe { bindings::rust_suite_syncobj_put(self.syncobj.as_ptr()) };
    }
}
