// SPDX-License-Identifier: GPL-2.0

//! Identify data structures (NVM Express Base Specification 2.0, 5.17.2;
//! NVM Command Set Specification 1.0, 4.1.5).
//!
//! Plain `core` code. The 4096 bytes come from the device and are validated
//! here: a namespace whose format the block layer cannot use is refused with
//! a reason, not registered with nonsense sizes. Also built and tested on the
//! host.

/// Size of every Identify data structure.
pub(crate) const SIZE: usize = 4096;

fn le16(b: &[u8; SIZE], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8; SIZE], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8; SIZE], at: usize) -> u64 {
    u64::from_le_bytes([
        b[at],
        b[at + 1],
        b[at + 2],
        b[at + 3],
        b[at + 4],
        b[at + 5],
        b[at + 6],
        b[at + 7],
    ])
}

/// An ASCII field, space padded on the right, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Text<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> Text<N> {
    fn read(b: &[u8; SIZE], at: usize) -> Self {
        let mut out = [0; N];
        out.copy_from_slice(&b[at..at + N]);
        Self(out)
    }

    /// The text without its padding; bytes that are not printable ASCII
    /// become `?` so that a hostile device cannot put control characters in
    /// a log line.
    pub(crate) fn trimmed(&self) -> ([u8; N], usize) {
        let mut out = [0; N];
        let mut len = 0;
        for (i, &c) in self.0.iter().enumerate() {
            out[i] = if (0x20..0x7f).contains(&c) { c } else { b'?' };
            if c != b' ' && c != 0 {
                len = i + 1;
            }
        }
        (out, len)
    }
}

/// What the driver uses of the Identify Controller data structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Controller {
    pub(crate) vid: u16,
    pub(crate) serial: Text<20>,
    pub(crate) model: Text<40>,
    pub(crate) firmware: Text<8>,
    /// Maximum data transfer size, as a power of two of the minimum page
    /// size; 0 for no limit.
    pub(crate) mdts: u8,
    pub(crate) cntlid: u16,
    /// Version, as in the VS register (0 from NVMe 1.0 controllers).
    pub(crate) ver: u32,
    /// Required and maximum submission queue entry sizes, log2.
    pub(crate) sqes: u8,
    /// Required and maximum completion queue entry sizes, log2.
    pub(crate) cqes: u8,
    /// Number of namespaces (the highest namespace ID).
    pub(crate) nn: u32,
    /// Optional NVM command support.
    pub(crate) oncs: u16,
    /// Volatile write cache present.
    pub(crate) vwc: bool,
    /// SGL support.
    pub(crate) sgls: u32,
}

/// Optional NVM command support bits (ONCS).
pub(crate) mod oncs {
    pub(crate) const DSM: u16 = 1 << 2;
    pub(crate) const WRITE_ZEROES: u16 = 1 << 3;
}

/// Why a controller or namespace cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// The controller needs larger queue entries than 64/16 bytes.
    QueueEntrySize,
    /// The namespace has no blocks.
    Empty,
    /// The namespace's current format index is beyond its format list.
    BadFormat,
    /// The logical block size is not a power of two from 512 bytes to the
    /// page size.
    BlockSize(u32),
    /// The format has metadata, which this driver does not transfer.
    Metadata(u16),
}

impl Controller {
    /// Decodes the structure and checks the controller can be driven.
    pub(crate) fn parse(b: &[u8; SIZE]) -> Result<Self, Unusable> {
        let c = Self {
            vid: le16(b, 0),
            serial: Text::read(b, 4),
            model: Text::read(b, 24),
            firmware: Text::read(b, 64),
            mdts: b[77],
            cntlid: le16(b, 78),
            ver: le32(b, 80),
            sqes: b[512],
            cqes: b[513],
            nn: le32(b, 516),
            oncs: le16(b, 520),
            vwc: b[525] & 1 != 0,
            sgls: le32(b, 536),
        };
        // The low nibbles are the required sizes: 64-byte SQEs, 16-byte CQEs.
        if c.sqes & 0xf > 6 || c.cqes & 0xf > 4 {
            return Err(Unusable::QueueEntrySize);
        }
        Ok(c)
    }

    /// Maximum transfer size in bytes, for a controller minimum page size
    /// `page`; `None` if unlimited.
    pub(crate) fn max_transfer(&self, page: u64) -> Option<u64> {
        match self.mdts {
            0 => None,
            m => page.checked_shl(u32::from(m)),
        }
    }

    /// Whether SGLs are supported for the NVM command set.
    pub(crate) fn supports_sgl(&self) -> bool {
        self.sgls & 0x3 != 0
    }
}

/// What the driver uses of an Identify Namespace data structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Namespace {
    /// Size in logical blocks.
    pub(crate) blocks: u64,
    /// log2 of the logical block size.
    pub(crate) lba_shift: u32,
    /// Deallocated blocks read as zeroes (DLFEAT).
    pub(crate) deallocated_reads_zero: bool,
    /// Optimal I/O boundary in blocks, 0 if none.
    pub(crate) noiob: u16,
}

impl Namespace {
    /// Decodes the structure; `page` is the largest logical block size the
    /// host can use (its page size).
    pub(crate) fn parse(b: &[u8; SIZE], page: u32) -> Result<Self, Unusable> {
        let blocks = le64(b, 0);
        if blocks == 0 {
            return Err(Unusable::Empty);
        }
        let nlbaf = usize::from(b[25]);
        let flbas = b[26];
        // Bits 3:0 and, with more than 16 formats, 6:5 of FLBAS.
        let index = usize::from(flbas & 0xf) | usize::from((flbas >> 5) & 0x3) << 4;
        // NLBAF is 0-based; the structure holds 64 descriptors at most.
        if index > nlbaf || index >= 64 {
            return Err(Unusable::BadFormat);
        }
        let lbaf = le32(b, 128 + 4 * index);
        let metadata = lbaf as u16;
        let lba_shift = (lbaf >> 16) & 0xff;
        if !(9..=31).contains(&lba_shift) || 1u32 << lba_shift > page {
            return Err(Unusable::BlockSize(if lba_shift < 32 {
                1 << lba_shift
            } else {
                0
            }));
        }
        if metadata != 0 {
            return Err(Unusable::Metadata(metadata));
        }
        Ok(Self {
            blocks,
            lba_shift,
            deallocated_reads_zero: b[33] & 0x7 == 1,
            noiob: le16(b, 46),
        })
    }

    /// Logical block size in bytes.
    pub(crate) fn block_size(&self) -> u32 {
        1 << self.lba_shift
    }

    /// Capacity in 512-byte sectors, saturating.
    pub(crate) fn sectors(&self) -> u64 {
        self.blocks
            .saturating_mul(u64::from(self.block_size() >> 9))
    }
}

/// The active namespace IDs of an Active Namespace ID list (CNS 02h): in
/// increasing order, up to the first zero.
pub(crate) fn active_namespaces(b: &[u8; SIZE]) -> impl Iterator<Item = u32> + '_ {
    let mut last = 0;
    (0..SIZE / 4)
        .map(move |i| le32(b, i * 4))
        .take_while(|&id| id != 0)
        // IDs must increase; a device that repeats or reorders is cut short
        // rather than believed.
        .take_while(move |&id| {
            let ok = id > last && id != u32::MAX;
            last = id;
            ok
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(b: &mut [u8; SIZE], at: usize, v: &[u8]) {
        b[at..at + v.len()].copy_from_slice(v);
    }

    fn qemu_controller() -> [u8; SIZE] {
        let mut b = [0; SIZE];
        put(&mut b, 0, &0x1b36u16.to_le_bytes());
        put(&mut b, 4, b"rsuite0001          ");
        put(&mut b, 24, b"QEMU NVMe Ctrl                          ");
        put(&mut b, 64, b"7.2.0   ");
        b[77] = 7;
        put(&mut b, 80, &0x0001_0400u32.to_le_bytes());
        b[512] = 0x66;
        b[513] = 0x44;
        put(&mut b, 516, &256u32.to_le_bytes());
        put(&mut b, 520, &0x015du16.to_le_bytes());
        b[525] = 1;
        put(&mut b, 536, &1u32.to_le_bytes());
        b
    }

    #[test]
    fn parses_controller() {
        let c = Controller::parse(&qemu_controller()).unwrap();
        assert_eq!(c.vid, 0x1b36);
        let (m, len) = c.model.trimmed();
        assert_eq!(&m[..len], b"QEMU NVMe Ctrl");
        let (s, len) = c.serial.trimmed();
        assert_eq!(&s[..len], b"rsuite0001");
        assert_eq!(c.ver, 0x0001_0400);
        assert_eq!(c.nn, 256);
        assert!(c.vwc);
        assert!(c.oncs & oncs::DSM != 0 && c.oncs & oncs::WRITE_ZEROES != 0);
        assert_eq!(c.max_transfer(4096), Some(512 * 1024));
        assert!(c.supports_sgl());
    }

    #[test]
    fn refuses_large_queue_entries() {
        let mut b = qemu_controller();
        b[512] = 0x77;
        assert_eq!(Controller::parse(&b), Err(Unusable::QueueEntrySize));
        let mut b = qemu_controller();
        b[513] = 0x55;
        assert_eq!(Controller::parse(&b), Err(Unusable::QueueEntrySize));
    }

    #[test]
    fn mdts_limits() {
        let mut b = qemu_controller();
        b[77] = 0;
        assert_eq!(Controller::parse(&b).unwrap().max_transfer(4096), None);
        b[77] = 255;
        assert_eq!(Controller::parse(&b).unwrap().max_transfer(4096), None);
    }

    #[test]
    fn hostile_text_is_made_printable() {
        let t = Text::<8>(*b"a\x1b[2Jb  ");
        let (out, len) = t.trimmed();
        assert_eq!(&out[..len], b"a?[2Jb");
    }

    fn namespace(blocks: u64, lbads: u8, ms: u16, flbas: u8, nlbaf: u8) -> [u8; SIZE] {
        let mut b = [0; SIZE];
        put(&mut b, 0, &blocks.to_le_bytes());
        b[25] = nlbaf;
        b[26] = flbas;
        let index = usize::from(flbas & 0xf);
        let lbaf = u32::from(ms) | u32::from(lbads) << 16;
        put(&mut b, 128 + 4 * index, &lbaf.to_le_bytes());
        b
    }

    #[test]
    fn parses_namespaces_of_both_block_sizes() {
        let ns = Namespace::parse(&namespace(524288, 9, 0, 0, 7), 4096).unwrap();
        assert_eq!(ns.block_size(), 512);
        assert_eq!(ns.sectors(), 524288);
        let ns = Namespace::parse(&namespace(65536, 12, 0, 3, 7), 4096).unwrap();
        assert_eq!(ns.block_size(), 4096);
        assert_eq!(ns.sectors(), 65536 * 8);
    }

    #[test]
    fn refuses_unusable_namespaces() {
        assert_eq!(
            Namespace::parse(&namespace(0, 9, 0, 0, 0), 4096),
            Err(Unusable::Empty)
        );
        assert_eq!(
            Namespace::parse(&namespace(8, 9, 0, 5, 2), 4096),
            Err(Unusable::BadFormat)
        );
        assert_eq!(
            Namespace::parse(&namespace(8, 13, 0, 0, 0), 4096),
            Err(Unusable::BlockSize(8192))
        );
        assert_eq!(
            Namespace::parse(&namespace(8, 8, 0, 0, 0), 4096),
            Err(Unusable::BlockSize(256))
        );
        assert_eq!(
            Namespace::parse(&namespace(8, 200, 0, 0, 0), 4096),
            Err(Unusable::BlockSize(0))
        );
        assert_eq!(
            Namespace::parse(&namespace(8, 9, 8, 0, 0), 4096),
            Err(Unusable::Metadata(8))
        );
    }

    #[test]
    fn capacity_saturates() {
        let ns = Namespace::parse(&namespace(u64::MAX, 12, 0, 0, 0), 4096).unwrap();
        assert_eq!(ns.sectors(), u64::MAX);
    }

    #[test]
    fn active_namespace_list() {
        let mut b = [0; SIZE];
        for (i, id) in [1u32, 2, 7].iter().enumerate() {
            put(&mut b, i * 4, &id.to_le_bytes());
        }
        let ids: [u32; 3] = {
            let mut it = active_namespaces(&b);
            [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(ids, [1, 2, 7]);
        assert_eq!(active_namespaces(&b).count(), 3);
        // A device that goes backwards or repeats is cut short.
        put(&mut b, 12, &7u32.to_le_bytes());
        assert_eq!(active_namespaces(&b).count(), 3);
        put(&mut b, 0, &9u32.to_le_bytes());
        assert_eq!(active_namespaces(&b).count(), 1);
        // A full list of 1024 IDs is read to its end.
        for i in 0..SIZE / 4 {
            put(&mut b, i * 4, &(i as u32 + 1).to_le_bytes());
        }
        assert_eq!(active_namespaces(&b).count(), 1024);
    }
}
