// SPDX-License-Identifier: GPL-2.0

//! Running VFS calls with the credentials of a given user.
//!
//! A file server acts for its clients' users: each request runs with that
//! user's file system identity, so that the VFS itself enforces the user's
//! permissions.
//!
//! C header: [`include/linux/cred.h`](srctree/include/linux/cred.h)

use crate::bindings;
use core::ptr::NonNull;
use kernel::prelude::*;

/// The credentials of one user of the initial user namespace: uid, gid and
/// file system ids set to the user's, no supplementary groups, and, for any
/// user but root, no capabilities at all.
///
/// # Examples
///
/// ```ignore
/// use abstractions::cred::UserCred;
///
/// let alice = UserCred::new(1000, 1000)?;
/// alice.with(|| {
///     // VFS calls here are checked against uid 1000's permissions.
/// });
/// ```
///
/// # Invariants
///
/// `ptr` is a valid `struct cred` of which this object owns one reference.
pub struct UserCred {
    ptr: NonNull<bindings::cred>,
    uid: u32,
    gid: u32,
}

// SAFETY: A `struct cred` is immutable once prepared and reference counted
// atomically; it can be used and released from any thread.
unsafe impl Send for UserCred {}
// SAFETY: See `Send`; `&UserCred` only reads the credentials.
unsafe impl Sync for UserCred {}

impl UserCred {
    /// Credentials for `uid` and `gid` (ids of the initial user namespace).
    ///
    /// Fails with `EINVAL` for an id with no mapping (`u32::MAX`) and
    /// `ENOMEM` if the credentials cannot be allocated.
    pub fn new(uid: u32, gid: u32) -> Result<Self> {
        if uid == u32::MAX || gid == u32::MAX {
            return Err(EINVAL);
        }
        // SAFETY: Plain call; the helper returns a new reference or NULL.
        let ptr = unsafe { bindings::rust_suite_cred_for_user(uid, gid) };
        // INVARIANT: the helper returned a prepared cred with one reference,
        // which is ours.
        Ok(Self {
            ptr: NonNull::new(ptr.cast_mut()).ok_or(ENOMEM)?,
            uid,
            gid,
        })
    }

    /// The user id.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The group id.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// Runs `f` with these credentials as the current task's subjective
    /// credentials, and restores the previous ones afterwards.
    pub fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: `self.ptr` is valid by the type invariant and outlives the
        // override, which ends below before `self` can be dropped.
        let old = unsafe { bindings::rust_suite_override_creds(self.ptr.as_ptr()) };
        let r = f();
        // SAFETY: `old` is what the matching override returned, on this task;
        // overrides nest because `f` cannot leak one (they are only made here).
        unsafe { bindings::rust_suite_revert_creds(old) };
        r
    }
}

impl Drop for UserCred {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own one reference to `self.ptr`.
        unsafe { bindings::rust_suite_put_cred(self.ptr.as_ptr()) };
    }
}
