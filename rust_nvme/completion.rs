// SPDX-License-Identifier: GPL-2.0

//! Completion queue entries and status codes (NVM Express Base
//! Specification 2.0, 4.6 and 4.6.1).
//!
//! Plain `core` code. A completion entry comes from the device and is not
//! trusted: the command identifier it names is checked by the queue against
//! what it has outstanding, and unknown status codes map to an I/O error.
//! Also built and tested on the host.

/// A completion queue entry, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Completion {
    /// Command specific result (DW0).
    pub(crate) result: u32,
    /// How far the controller has consumed the submission queue.
    pub(crate) sq_head: u16,
    /// The submission queue the command came from.
    pub(crate) sq_id: u16,
    /// The command identifier, as the device reports it.
    pub(crate) cid: u16,
    /// The phase tag: flips each time the controller wraps the queue.
    pub(crate) phase: bool,
    /// The status of the command.
    pub(crate) status: Status,
}

impl Completion {
    /// Size of a completion queue entry, in bytes (CQES 4).
    pub(crate) const SIZE: usize = 16;

    /// Decodes the 16 bytes of an entry.
    pub(crate) fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        let le16 = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let sf = le16(14);
        Self {
            result: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            sq_head: le16(8),
            sq_id: le16(10),
            cid: le16(12),
            phase: sf & 1 != 0,
            status: Status(sf >> 1),
        }
    }
}

/// A status field: the 15 bits above the phase tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Status(pub(crate) u16);

/// What the block layer is told about a completed request; mirrors the
/// `blk_status_t` values the C driver's `nvme_error_status()` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlkStatus {
    Ok,
    NoSpace,
    Target,
    NotSupported,
    Medium,
    Protection,
    ReservationConflict,
    Transport,
    ZoneActiveResource,
    ZoneOpenResource,
    IoError,
}

/// What to do with a failed command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Done: succeeded, or failed for good.
    Complete,
    /// Submit again, after the delay the controller asked for (CRD index
    /// into CRDT1..3, 0 for none).
    Retry { crd: u8 },
}

impl Status {
    /// Successful completion.
    pub(crate) const SUCCESS: Self = Self(0);

    /// Status code.
    pub(crate) fn code(self) -> u8 {
        self.0 as u8
    }

    /// Status code type.
    pub(crate) fn code_type(self) -> u8 {
        ((self.0 >> 8) & 0x7) as u8
    }

    /// Command retry delay: which of the controller's CRDT values to wait.
    pub(crate) fn crd(self) -> u8 {
        ((self.0 >> 11) & 0x3) as u8
    }

    /// More status information in the error log.
    pub(crate) fn more(self) -> bool {
        self.0 & (1 << 13) != 0
    }

    /// Do Not Retry.
    pub(crate) fn dnr(self) -> bool {
        self.0 & (1 << 14) != 0
    }

    /// Whether the command succeeded.
    pub(crate) fn is_success(self) -> bool {
        self.0 & 0x7ff == 0
    }

    /// The block layer status, as the C driver's `nvme_error_status()` maps
    /// it (status values of `include/linux/nvme.h`: SCT << 8 | SC).
    pub(crate) fn blk_status(self) -> BlkStatus {
        match self.0 & 0x7ff {
            0x000 => BlkStatus::Ok,
            0x081 => BlkStatus::NoSpace,
            // LBA out of range, command interrupted, namespace not ready.
            0x080 | 0x021 | 0x082 => BlkStatus::Target,
            // Bad attributes, invalid opcode, invalid field, invalid NS.
            0x180 | 0x001 | 0x002 | 0x00b => BlkStatus::NotSupported,
            // Write fault, read error, unwritten block, access denied,
            // read-only, compare failed.
            0x280 | 0x281 | 0x287 | 0x286 | 0x182 | 0x285 => BlkStatus::Medium,
            // Guard, application tag, reference tag checks; invalid PI.
            0x282 | 0x283 | 0x284 | 0x181 => BlkStatus::Protection,
            0x083 => BlkStatus::ReservationConflict,
            0x370 => BlkStatus::Transport,
            0x1bd => BlkStatus::ZoneActiveResource,
            0x1be => BlkStatus::ZoneOpenResource,
            _ => BlkStatus::IoError,
        }
    }

    /// Whether to retry a command that completed with this status, the
    /// `retries` time, allowing `max_retries` (the C driver's default is 5).
    pub(crate) fn disposition(self, retries: u32, max_retries: u32) -> Disposition {
        if self.is_success() || self.dnr() || retries >= max_retries {
            Disposition::Complete
        } else {
            Disposition::Retry { crd: self.crd() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(result: u32, sqhd: u16, sqid: u16, cid: u16, sf: u16) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&result.to_le_bytes());
        b[8..10].copy_from_slice(&sqhd.to_le_bytes());
        b[10..12].copy_from_slice(&sqid.to_le_bytes());
        b[12..14].copy_from_slice(&cid.to_le_bytes());
        b[14..16].copy_from_slice(&sf.to_le_bytes());
        b
    }

    #[test]
    fn decodes_entry() {
        let c = Completion::from_bytes(&entry(0x0003_0003, 17, 2, 0x42, 1));
        assert_eq!(c.result, 0x0003_0003);
        assert_eq!((c.sq_head, c.sq_id, c.cid), (17, 2, 0x42));
        assert!(c.phase);
        assert!(c.status.is_success());
        let c = Completion::from_bytes(&entry(0, 0, 0, 0, 0));
        assert!(!c.phase);
    }

    #[test]
    fn decodes_status_bits() {
        // DNR, MORE, CRD=2, SCT=media, SC=0x81, phase 0.
        let sf: u16 = (1 << 15) | (1 << 14) | (2 << 12) | (2 << 9) | (0x81 << 1);
        let s = Completion::from_bytes(&entry(0, 0, 0, 0, sf)).status;
        assert!(s.dnr());
        assert!(s.more());
        assert_eq!(s.crd(), 2);
        assert_eq!(s.code_type(), 2);
        assert_eq!(s.code(), 0x81);
        assert!(!s.is_success());
    }

    #[test]
    fn maps_like_the_c_driver() {
        use BlkStatus::*;
        // Every case of nvme_error_status(), by its NVME_SC_* value.
        let table = [
            (0x000, Ok),
            (0x081, NoSpace),
            (0x080, Target),
            (0x021, Target),
            (0x082, Target),
            (0x180, NotSupported),
            (0x001, NotSupported),
            (0x002, NotSupported),
            (0x00b, NotSupported),
            (0x280, Medium),
            (0x281, Medium),
            (0x287, Medium),
            (0x286, Medium),
            (0x182, Medium),
            (0x285, Medium),
            (0x282, Protection),
            (0x283, Protection),
            (0x284, Protection),
            (0x181, Protection),
            (0x083, ReservationConflict),
            (0x370, Transport),
            (0x1bd, ZoneActiveResource),
            (0x1be, ZoneOpenResource),
        ];
        for (sc, want) in table {
            assert_eq!(Status(sc).blk_status(), want, "status {sc:#x}");
            // CRD, MORE and DNR do not change the mapping.
            assert_eq!(
                Status(sc | 0x7800).blk_status(),
                want,
                "status {sc:#x} with flags"
            );
        }
        // Anything else, including codes a device makes up, is an I/O error.
        for sc in [0x004, 0x00c, 0x10c, 0x300, 0x371, 0x7ff] {
            assert_eq!(Status(sc).blk_status(), IoError, "status {sc:#x}");
        }
    }

    #[test]
    fn retries_unless_dnr_or_exhausted() {
        let transient = Status(0x004); // data transfer error
        assert_eq!(transient.disposition(0, 5), Disposition::Retry { crd: 0 });
        assert_eq!(transient.disposition(5, 5), Disposition::Complete);
        let dnr = Status(transient.0 | 1 << 14);
        assert_eq!(dnr.disposition(0, 5), Disposition::Complete);
        let delayed = Status(transient.0 | 1 << 11);
        assert_eq!(delayed.disposition(1, 5), Disposition::Retry { crd: 1 });
        assert_eq!(Status::SUCCESS.disposition(0, 5), Disposition::Complete);
    }
}
