// SPDX-License-Identifier: GPL-2.0

//! Queue ring bookkeeping (NVM Express Base Specification 2.0, 3.3.1):
//! submission tails, completion heads and phase tags, and command
//! identifiers that a completion cannot forge.
//!
//! Plain `core` code; the queues themselves (DMA memory, doorbells, locks)
//! are the driver's. Also built and tested on the host.

/// The host side of a submission queue: it produces at the tail, the
/// controller consumes at the head it reports in completions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SqRing {
    entries: u16,
    tail: u16,
    head: u16,
}

/// A completion reported a submission queue head outside the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BadHead(pub(crate) u16);

impl SqRing {
    /// A ring of `entries` slots (at least 2: one slot always stays empty
    /// to tell a full queue from an empty one).
    pub(crate) fn new(entries: u16) -> Option<Self> {
        (entries >= 2).then_some(Self {
            entries,
            tail: 0,
            head: 0,
        })
    }

    /// Whether no slot is free.
    pub(crate) fn is_full(&self) -> bool {
        self.next(self.tail) == self.head
    }

    /// Takes the slot at the tail, advancing it; `None` if the ring is full.
    pub(crate) fn push(&mut self) -> Option<u16> {
        if self.is_full() {
            return None;
        }
        let slot = self.tail;
        self.tail = self.next(slot);
        Some(slot)
    }

    /// The tail to write to the doorbell.
    pub(crate) fn tail(&self) -> u16 {
        self.tail
    }

    /// Records the head a completion reported.
    pub(crate) fn set_head(&mut self, head: u16) -> Result<(), BadHead> {
        if head >= self.entries {
            return Err(BadHead(head));
        }
        self.head = head;
        Ok(())
    }

    fn next(&self, i: u16) -> u16 {
        if i + 1 == self.entries {
            0
        } else {
            i + 1
        }
    }
}

/// The host side of a completion queue: it consumes at the head; an entry
/// is new when its phase tag matches the current phase, which flips each
/// time the head wraps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CqRing {
    entries: u16,
    head: u16,
    phase: bool,
}

impl CqRing {
    /// A ring of `entries` slots (at least 2); the controller starts
    /// writing with the phase tag set.
    pub(crate) fn new(entries: u16) -> Option<Self> {
        (entries >= 2).then_some(Self {
            entries,
            head: 0,
            phase: true,
        })
    }

    /// The slot to look at next.
    pub(crate) fn head(&self) -> u16 {
        self.head
    }

    /// Whether the entry at the head, with phase tag `phase`, is new.
    pub(crate) fn is_new(&self, phase: bool) -> bool {
        phase == self.phase
    }

    /// Consumes the entry at the head.
    pub(crate) fn advance(&mut self) {
        self.head += 1;
        if self.head == self.entries {
            self.head = 0;
            self.phase = !self.phase;
        }
    }
}

/// Command identifiers: the request's tag in the low 12 bits and a 4-bit
/// generation in the high ones, bumped each time the tag is reused, as the
/// C driver does (`nvme_cid()`). A completion whose identifier names a tag
/// that is not outstanding, or an old generation of it, is bogus.
pub(crate) mod cid {
    /// Largest tag a command identifier can carry.
    pub(crate) const MAX_TAG: u16 = 0xfff;

    /// The identifier of generation `gen` of `tag`.
    pub(crate) fn make(tag: u16, gen: u8) -> u16 {
        (u16::from(gen & 0xf) << 12) | (tag & MAX_TAG)
    }

    /// The tag an identifier names.
    pub(crate) fn tag(cid: u16) -> u16 {
        cid & MAX_TAG
    }

    /// The generation an identifier carries.
    pub(crate) fn gen(cid: u16) -> u8 {
        (cid >> 12) as u8
    }

    /// The generation after `gen`.
    pub(crate) fn next_gen(gen: u8) -> u8 {
        (gen + 1) & 0xf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sq_fills_and_drains() {
        let mut sq = SqRing::new(4).unwrap();
        assert_eq!(sq.push(), Some(0));
        assert_eq!(sq.push(), Some(1));
        assert_eq!(sq.push(), Some(2));
        assert!(sq.is_full());
        assert_eq!(sq.push(), None);
        assert_eq!(sq.tail(), 3);
        sq.set_head(2).unwrap();
        assert_eq!(sq.push(), Some(3));
        assert_eq!(sq.push(), Some(0));
        assert_eq!(sq.tail(), 1);
        assert!(sq.is_full());
    }

    #[test]
    fn sq_refuses_bad_heads_and_sizes() {
        let mut sq = SqRing::new(4).unwrap();
        assert_eq!(sq.set_head(4), Err(BadHead(4)));
        assert_eq!(sq.set_head(u16::MAX), Err(BadHead(u16::MAX)));
        assert!(SqRing::new(1).is_none());
        assert!(SqRing::new(0).is_none());
        let mut big = SqRing::new(u16::MAX).unwrap();
        for _ in 0..u16::MAX - 1 {
            assert!(big.push().is_some());
        }
        assert_eq!(big.push(), None);
    }

    #[test]
    fn cq_phase_flips_on_wrap() {
        let mut cq = CqRing::new(2).unwrap();
        assert!(cq.is_new(true));
        assert!(!cq.is_new(false));
        cq.advance();
        assert_eq!(cq.head(), 1);
        cq.advance();
        assert_eq!(cq.head(), 0);
        assert!(cq.is_new(false));
        assert!(!cq.is_new(true));
        assert!(CqRing::new(1).is_none());
    }

    #[test]
    fn cids_carry_tag_and_generation() {
        let c = cid::make(0x123, 5);
        assert_eq!(cid::tag(c), 0x123);
        assert_eq!(cid::gen(c), 5);
        assert_eq!(cid::make(0x1fff, 0x1f), 0xffff);
        assert_eq!(cid::next_gen(15), 0);
        assert_ne!(cid::make(7, 1), cid::make(7, cid::next_gen(1)));
    }
}
