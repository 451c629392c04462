// SPDX-License-Identifier: GPL-2.0

//! A budget for log lines that a peer or a user can provoke.

use core::sync::atomic::{AtomicU32, Ordering};

/// Lets the first `FIRST` lines through, then one in `EVERY`, so that a
/// hostile client or a faulting job cannot flood the kernel log.
///
/// The limits are constants so that the check needs no division by a value
/// that could be zero.
///
/// # Examples
///
/// ```ignore
/// static LOG: LogLimit<20, 1000> = LogLimit::new();
/// if LOG.allow() {
///     pr_warn!("malformed message\n");
/// }
/// ```
pub struct LogLimit<const FIRST: u32, const EVERY: u32> {
    count: AtomicU32,
}

impl<const FIRST: u32, const EVERY: u32> LogLimit<FIRST, EVERY> {
    const EVERY_IS_NOT_ZERO: () = assert!(EVERY != 0);

    /// A budget with nothing logged yet.
    pub const fn new() -> Self {
        let () = Self::EVERY_IS_NOT_ZERO;
        Self {
            count: AtomicU32::new(0),
        }
    }

    /// Whether a line may be logged now; counts it.
    #[inline]
    pub fn allow(&self) -> bool {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        n < FIRST || n % EVERY == 0
    }
}

impl<const FIRST: u32, const EVERY: u32> Default for LogLimit<FIRST, EVERY> {
    fn default() -> Self {
        Self::new()
    }
}
