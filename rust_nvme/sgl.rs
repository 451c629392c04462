// SPDX-License-Identifier: GPL-2.0

//! Scatter Gather Lists (NVM Express Base Specification 2.0, 4.1.2).
//!
//! With an SGL a command's data pointer is one 16-byte descriptor: a Data
//! Block descriptor when the transfer is one DMA segment, or else a Last
//! Segment descriptor pointing to a list of Data Block descriptors, one per
//! segment. Unlike PRPs, segments need not start or end on page boundaries,
//! and a large physically contiguous segment is one entry, not one per
//! page. Plain `core` code, also built and tested on the host.

use crate::prp::Segment;

/// Size of an SGL descriptor in bytes.
pub(crate) const DESC_SIZE: usize = 16;

/// Descriptor type (upper nibble) and subtype (lower nibble, 0: address).
pub(crate) mod desc_type {
    /// SGL Data Block: the data is at the address.
    pub(crate) const DATA_BLOCK: u8 = 0x00;
    /// SGL Last Segment: the address holds the final list of descriptors.
    pub(crate) const LAST_SEGMENT: u8 = 0x30;
}

/// One SGL descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Descriptor {
    pub(crate) addr: u64,
    pub(crate) len: u32,
    pub(crate) ty: u8,
}

impl Descriptor {
    /// A Data Block descriptor for `seg`.
    pub(crate) fn data(seg: Segment) -> Self {
        Self {
            addr: seg.addr,
            len: seg.len,
            ty: desc_type::DATA_BLOCK,
        }
    }

    /// A Last Segment descriptor for a list of `entries` descriptors at
    /// `addr`.
    pub(crate) fn last_segment(addr: u64, entries: usize) -> Self {
        Self {
            addr,
            len: (entries * DESC_SIZE) as u32,
            ty: desc_type::LAST_SEGMENT,
        }
    }

    /// The descriptor as the controller reads it: address, length, three
    /// reserved bytes, type.
    pub(crate) fn to_bytes(self) -> [u8; DESC_SIZE] {
        let mut b = [0u8; DESC_SIZE];
        b[..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[15] = self.ty;
        b
    }

    /// Command dwords 6-9 holding this descriptor as SGL entry 1.
    pub(crate) fn dwords(self) -> [u32; 4] {
        [
            self.addr as u32,
            (self.addr >> 32) as u32,
            self.len,
            u32::from(self.ty) << 24,
        ]
    }
}

/// Whether a transfer of `bytes` in `segments` DMA segments uses an SGL
/// rather than PRPs: the controller supports SGLs, `threshold` is not 0 and
/// the segments average at least `threshold` bytes (the C driver's
/// `sgl_threshold` rule: PRPs cost one entry per page, SGLs one per
/// segment).
pub(crate) fn use_sgl(supported: bool, threshold: u32, bytes: u32, segments: usize) -> bool {
    if !supported || threshold == 0 || segments == 0 {
        return false;
    }
    let avg = (bytes as usize).div_ceil(segments);
    avg >= threshold as usize
}

/// Whether `entries` descriptors fit one list page of `page` bytes (the
/// driver does not chain segments).
pub(crate) fn fits_one_list(entries: usize, page: usize) -> bool {
    entries >= 1 && entries <= page / DESC_SIZE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_block_encoding() {
        let d = Descriptor::data(Segment {
            addr: 0x1234_5678_9abc_de00,
            len: 0x2_0000,
        });
        assert_eq!(
            d.to_bytes(),
            [
                0x00, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x02, 0x00, 0, 0, 0,
                0x00
            ]
        );
        assert_eq!(d.dwords(), [0x9abc_de00, 0x1234_5678, 0x2_0000, 0]);
    }

    #[test]
    fn last_segment_encoding() {
        let d = Descriptor::last_segment(0x8000_1000, 3);
        assert_eq!(d.len, 48);
        assert_eq!(d.to_bytes()[15], 0x30);
        assert_eq!(d.dwords(), [0x8000_1000, 0, 48, 0x3000_0000]);
    }

    #[test]
    fn threshold_rule() {
        // The C driver's default, 32 KiB.
        assert!(use_sgl(true, 32768, 128 << 10, 4));
        assert!(!use_sgl(true, 32768, 128 << 10, 5));
        // 0 turns SGLs off; no support turns them off.
        assert!(!use_sgl(true, 0, 1 << 20, 1));
        assert!(!use_sgl(false, 4096, 1 << 20, 1));
        assert!(!use_sgl(true, 4096, 4096, 0));
        // Rounding up: 4097 bytes in 2 segments average 2049.
        assert!(use_sgl(true, 2049, 4097, 2));
        assert!(!use_sgl(true, 2050, 4097, 2));
    }

    #[test]
    fn one_list_page() {
        assert!(fits_one_list(1, 4096));
        assert!(fits_one_list(256, 4096));
        assert!(!fits_one_list(257, 4096));
        assert!(!fits_one_list(0, 4096));
    }
}
