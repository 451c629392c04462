// SPDX-License-Identifier: GPL-2.0

//! Fids: what a client's 32-bit handles stand for.
//!
//! A fid holds a path reference (never a string), the credentials of the
//! user who attached, and what has been done with it since: opened as a
//! file or directory, or set up to read or write an extended attribute.

use abstractions::{
    cred::UserCred,
    vfs::{File, Path},
};
use kernel::{
    new_mutex,
    prelude::*,
    rbtree::RBTree,
    sync::{Arc, Mutex},
};

/// Most fids one connection may hold (a cache=loose client keeps one per
/// cached dentry). Beyond it, new fids get EMFILE.
pub(crate) const MAX_FIDS: usize = 65536;

/// Largest extended attribute value or name list (XATTR_SIZE_MAX).
pub(crate) const XATTR_MAX: usize = 65536;

/// An open file, closed (with the fid's POSIX locks dropped) when the last
/// request using it is done.
pub(crate) struct OpenFile {
    file: Option<File>,
    /// Identifies the fid as a POSIX lock owner.
    pub(crate) owner: usize,
    pub(crate) dir: bool,
}

impl OpenFile {
    pub(crate) fn new(file: File, owner: usize, dir: bool) -> Self {
        Self {
            file: Some(file),
            owner,
            dir,
        }
    }

    pub(crate) fn file(&self) -> &File {
        // Only `drop` takes it out.
        self.file.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        if let Some(f) = self.file.take() {
            f.close(self.owner);
        }
    }
}

/// What a fid is being used for.
pub(crate) enum FidState {
    /// Walked to, not opened.
    Walked,
    /// Opened by lopen or lcreate.
    Open(Arc<OpenFile>),
    /// An extended attribute's value (or the name list), read by Tread.
    XattrRead(KVVec<u8>),
    /// An extended attribute being written by Twrite, set at clunk.
    XattrWrite {
        name: KVec<u8>,
        value: KVVec<u8>,
        size: usize,
        flags: u32,
    },
}

/// One fid.
#[pin_data]
pub(crate) struct Fid {
    pub(crate) path: Path,
    pub(crate) user: Arc<UserCred>,
    #[pin]
    pub(crate) state: Mutex<FidState>,
}

impl Fid {
    pub(crate) fn new(path: Path, user: Arc<UserCred>, state: FidState) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                path,
                user,
                state <- new_mutex!(state),
            }),
            GFP_KERNEL,
        )
    }

    /// The open file, or EBADF if the fid is not open.
    pub(crate) fn open_file(&self) -> Result<Arc<OpenFile>> {
        match &*self.state.lock() {
            FidState::Open(f) => Ok(f.clone()),
            _ => Err(EBADF),
        }
    }

    /// The lock-owner identity of this fid: its address, unique while it
    /// lives (its locks are dropped when its file is closed).
    pub(crate) fn owner(self: &Arc<Self>) -> usize {
        core::ptr::from_ref::<Fid>(self).addr()
    }
}

/// The fids of one connection.
pub(crate) struct FidTable {
    tree: RBTree<u32, Arc<Fid>>,
    len: usize,
}

impl FidTable {
    pub(crate) fn new() -> Self {
        Self {
            tree: RBTree::new(),
            len: 0,
        }
    }

    pub(crate) fn get(&self, fid: u32) -> Result<Arc<Fid>> {
        self.tree.get(&fid).cloned().ok_or(EBADF)
    }

    /// Adds `fid`; EBADF if the number is in use, EMFILE past [`MAX_FIDS`].
    pub(crate) fn insert(&mut self, fid: u32, f: Arc<Fid>) -> Result {
        if self.tree.get(&fid).is_some() {
            return Err(EBADF);
        }
        if self.len >= MAX_FIDS {
            return Err(EMFILE);
        }
        self.tree.try_create_and_insert(fid, f, GFP_KERNEL)?;
        self.len += 1;
        Ok(())
    }

    /// Puts `f` in place of `fid` (a walk with newfid == fid).
    pub(crate) fn replace(&mut self, fid: u32, f: Arc<Fid>) -> Result {
        if self.remove(fid).is_none() {
            return Err(EBADF);
        }
        self.insert(fid, f)
    }

    pub(crate) fn remove(&mut self, fid: u32) -> Option<Arc<Fid>> {
        let f = self.tree.remove(&fid)?;
        self.len -= 1;
        Some(f)
    }

    /// Takes every fid out (Tversion, or the connection's end).
    pub(crate) fn take_all(&mut self) -> RBTree<u32, Arc<Fid>> {
        self.len = 0;
        core::mem::replace(&mut self.tree, RBTree::new())
    }
}
