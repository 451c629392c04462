// SPDX-License-Identifier: GPL-2.0

//! Physical Region Page entries (NVM Express Base Specification 2.0, 4.1.1).
//!
//! A transfer is described to the controller by PRP1 (the first page, with
//! an offset), PRP2 (the second page) or, past two pages, PRP2 pointing to a
//! list of page addresses, itself chained across list pages. Plain `core`
//! code: it plans the entries for a transfer given as DMA segments; the
//! driver writes the lists into DMA memory. Also built and tested on the host.

/// A DMA segment of a transfer: bus address and length in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) addr: u64,
    pub(crate) len: u32,
}

/// Why a transfer cannot be described with PRPs (it needs an SGL or a
/// bounce buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotPrp {
    /// No data, or a zero-length segment.
    Empty,
    /// A segment other than the first starts inside a page, or one other
    /// than the last ends inside a page.
    Gap { segment: usize },
    /// PRP entries must be 4-byte aligned.
    Misaligned,
}

/// The pages of a transfer after the first, in order: PRP2 and what a PRP
/// list holds.
#[derive(Clone, Debug)]
pub(crate) struct Pages<'a> {
    segments: &'a [Segment],
    page: u64,
    /// Index of the segment being walked and the next address in it.
    seg: usize,
    addr: u64,
}

impl Iterator for Pages<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        loop {
            let s = self.segments.get(self.seg)?;
            let end = s.addr + u64::from(s.len);
            if self.addr < end {
                let out = self.addr;
                self.addr = (self.addr & !(self.page - 1)) + self.page;
                return Some(out);
            }
            self.seg += 1;
            self.addr = self.segments.get(self.seg)?.addr;
        }
    }
}

/// The PRP plan of a transfer.
#[derive(Clone, Debug)]
pub(crate) struct Plan<'a> {
    /// PRP entry 1.
    pub(crate) prp1: u64,
    /// How many page entries follow PRP1 (0: PRP2 unused; 1: PRP2 is that
    /// page; more: PRP2 points to a PRP list of that many entries).
    pub(crate) more: usize,
    pages: Pages<'a>,
}

impl<'a> Plan<'a> {
    /// Plans `segments` for a controller page size `page` (a power of two,
    /// at least 4096).
    pub(crate) fn new(segments: &'a [Segment], page: u64) -> Result<Self, NotPrp> {
        let first = segments.first().ok_or(NotPrp::Empty)?;
        let mask = page - 1;
        if first.addr & 3 != 0 {
            return Err(NotPrp::Misaligned);
        }
        let last = segments.len() - 1;
        for (i, s) in segments.iter().enumerate() {
            if s.len == 0 {
                return Err(NotPrp::Empty);
            }
            if i > 0 && s.addr & mask != 0 {
                return Err(NotPrp::Gap { segment: i });
            }
            if i < last && (s.addr + u64::from(s.len)) & mask != 0 {
                return Err(NotPrp::Gap { segment: i });
            }
        }
        let mut pages = Pages {
            segments,
            page,
            seg: 0,
            addr: first.addr,
        };
        let prp1 = pages.next().ok_or(NotPrp::Empty)?;
        let more = pages.clone().count();
        Ok(Self { prp1, more, pages })
    }

    /// The page entries after PRP1, in order.
    pub(crate) fn pages(&self) -> Pages<'a> {
        self.pages.clone()
    }

    /// How many list pages the PRP list needs (0 if none): each holds
    /// `page / 8` entries, the last of which chains to the next list page
    /// when more follow.
    pub(crate) fn list_pages(&self, page: u64) -> usize {
        let per = (page / 8) as usize;
        match self.more {
            0 | 1 => 0,
            n if n <= per => 1,
            n => (n - per).div_ceil(per - 1) + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u64 = 4096;

    fn seg(addr: u64, len: u32) -> Segment {
        Segment { addr, len }
    }

    #[test]
    fn one_page() {
        let s = [seg(0x10_0200, 512)];
        let p = Plan::new(&s, P).unwrap();
        assert_eq!((p.prp1, p.more, p.list_pages(P)), (0x10_0200, 0, 0));
    }

    #[test]
    fn two_pages_use_prp2() {
        // 4 KiB starting mid-page crosses into a second page.
        let s = [seg(0x10_0800, 4096)];
        let p = Plan::new(&s, P).unwrap();
        assert_eq!((p.prp1, p.more), (0x10_0800, 1));
        assert_eq!(p.pages().next(), Some(0x10_1000));
        assert_eq!(p.list_pages(P), 0);
    }

    #[test]
    fn several_segments_make_a_list() {
        let s = [seg(0x1000, 4096), seg(0x8000, 8192), seg(0x20000, 100)];
        let p = Plan::new(&s, P).unwrap();
        assert_eq!(p.prp1, 0x1000);
        assert_eq!(p.more, 3);
        let mut it = p.pages();
        assert_eq!(
            [it.next(), it.next(), it.next(), it.next()],
            [Some(0x8000), Some(0x9000), Some(0x20000), None]
        );
        assert_eq!(p.list_pages(P), 1);
    }

    #[test]
    fn gaps_are_refused() {
        assert_eq!(
            Plan::new(&[seg(0x1000, 512), seg(0x8000, 4096)], P).unwrap_err(),
            NotPrp::Gap { segment: 0 }
        );
        assert_eq!(
            Plan::new(&[seg(0x1000, 4096), seg(0x8200, 512)], P).unwrap_err(),
            NotPrp::Gap { segment: 1 }
        );
        assert_eq!(Plan::new(&[], P).unwrap_err(), NotPrp::Empty);
        assert_eq!(Plan::new(&[seg(0x1000, 0)], P).unwrap_err(), NotPrp::Empty);
        assert_eq!(
            Plan::new(&[seg(0x1001, 8)], P).unwrap_err(),
            NotPrp::Misaligned
        );
    }

    #[test]
    fn list_pages_chain() {
        // 512 entries fit one 4 KiB list page; 513 need a second one, as
        // the first page's last slot becomes the chain pointer.
        let per = (P / 8) as usize;
        let plan = |more| Plan {
            prp1: 0,
            more,
            pages: Pages {
                segments: &[],
                page: P,
                seg: 0,
                addr: 0,
            },
        };
        assert_eq!(plan(2).list_pages(P), 1);
        assert_eq!(plan(per).list_pages(P), 1);
        assert_eq!(plan(per + 1).list_pages(P), 2);
        assert_eq!(plan(per + per - 1).list_pages(P), 2);
        assert_eq!(plan(per + per).list_pages(P), 3);
        // A 2 MiB transfer from a page boundary: 511 entries after PRP1.
        let s = [seg(0x20_0000, 2 << 20)];
        let p = Plan::new(&s, P).unwrap();
        assert_eq!(p.more, 511);
        assert_eq!(p.list_pages(P), 1);
        assert_eq!(p.pages().last(), Some(0x20_0000 + (2 << 20) - 4096));
    }
}
