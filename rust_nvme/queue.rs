// SPDX-License-Identifier: GPL-2.0

//! I/O queue pairs: their memory, and their creation and deletion through
//! the admin queue.

use crate::{
    admin::{AdminQueue, Bar0},
    command::Command,
    completion::Completion,
};
use abstractions::dma::DmaBuffer;
use kernel::{
    device::{Bound, Device},
    prelude::*,
    time::Delta,
};

/// An I/O submission queue and the completion queue it completes on, with
/// the same ID and depth.
pub(crate) struct IoQueue {
    pub(crate) qid: u16,
    // The controller reads and writes these until the pair is deleted.
    sq: DmaBuffer,
    cq: DmaBuffer,
}

impl IoQueue {
    /// Allocates queue pair `qid` of `depth` entries (at least 2) and has the
    /// controller create it, the completion queue first as the submission
    /// queue names it. Created without an interrupt vector: the I/O path
    /// that will use the pair brings its vector.
    pub(crate) fn create(
        dev: &Device<Bound>,
        bar: &Bar0<'_>,
        admin: &mut AdminQueue,
        qid: u16,
        depth: u16,
    ) -> Result<Self> {
        let q = Self {
            qid,
            sq: DmaBuffer::zeroed(dev, usize::from(depth) * Command::SIZE)?,
            cq: DmaBuffer::zeroed(dev, usize::from(depth) * Completion::SIZE)?,
        };
        admin.submit_sync(
            dev,
            bar,
            Command::create_io_cq(qid, depth, q.cq.dma_addr(0), None),
        )?;
        if let Err(e) = admin.submit_sync(
            dev,
            bar,
            Command::create_io_sq(qid, depth, q.sq.dma_addr(0), qid),
        ) {
            // Do not leave a completion queue behind for memory we free.
            let _ = admin.submit_sync(dev, bar, Command::delete_io_cq(qid));
            return Err(e);
        }
        Ok(q)
    }

    /// Has the controller delete the pair (the submission queue first),
    /// waiting at most `timeout` for each command: this runs on teardown,
    /// where the controller is shut down and disabled next anyway.
    pub(crate) fn delete(
        &self,
        dev: &Device,
        bar: &Bar0<'_>,
        admin: &mut AdminQueue,
        timeout: Delta,
    ) -> Result {
        admin.submit_sync_within(dev, bar, Command::delete_io_sq(self.qid), timeout)?;
        admin.submit_sync_within(dev, bar, Command::delete_io_cq(self.qid), timeout)?;
        Ok(())
    }
}
