// SPDX-License-Identifier: GPL-2.0

//! NVMe controller registers (NVM Express Base Specification 2.0, 3.1.4).
//!
//! Plain `core` code: decoding only, no I/O. Also built and tested on the host.

use core::fmt;

/// Controller Capabilities, 64 bits.
pub(crate) const CAP: usize = 0x00;
/// Version, 32 bits.
pub(crate) const VS: usize = 0x08;
/// Controller Configuration, 32 bits.
pub(crate) const CC: usize = 0x14;
/// Controller Status, 32 bits.
pub(crate) const CSTS: usize = 0x1c;
/// Admin Queue Attributes, 32 bits.
pub(crate) const AQA: usize = 0x24;
/// Admin Submission Queue Base Address, 64 bits.
pub(crate) const ASQ: usize = 0x28;
/// Admin Completion Queue Base Address, 64 bits.
pub(crate) const ACQ: usize = 0x30;
/// The first doorbell register.
pub(crate) const DOORBELLS: usize = 0x1000;
/// The smallest BAR 0 the driver accepts: the registers and the doorbells
/// of the admin queue and some I/O queues.
pub(crate) const BAR0_MIN: usize = 0x2000;

/// Offset of the submission queue tail doorbell of queue `qid`.
pub(crate) fn sq_doorbell(qid: u16, stride: u32) -> usize {
    DOORBELLS + 2 * usize::from(qid) * stride as usize
}

/// Offset of the completion queue head doorbell of queue `qid`.
pub(crate) fn cq_doorbell(qid: u16, stride: u32) -> usize {
    DOORBELLS + (2 * usize::from(qid) + 1) * stride as usize
}

/// Admin Queue Attributes for admin queues of `sq` and `cq` entries.
pub(crate) fn aqa(sq: u16, cq: u16) -> u32 {
    u32::from(sq - 1) | u32::from(cq - 1) << 16
}

/// Controller Configuration fields.
pub(crate) mod cc {
    /// Enable.
    pub(crate) const EN: u32 = 1 << 0;
    /// Shutdown notification, normal.
    pub(crate) const SHN_NORMAL: u32 = 1 << 14;
    /// Shutdown notification field.
    pub(crate) const SHN_MASK: u32 = 3 << 14;

    /// CC to enable a controller for the NVM command set with memory pages
    /// of `1 << page_shift` bytes and 64/16-byte queue entries.
    pub(crate) fn enable(page_shift: u32) -> u32 {
        EN | (page_shift - 12) << 7 | 6 << 16 | 4 << 20
    }
}

/// The Controller Capabilities register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cap(pub(crate) u64);

impl Cap {
    /// Maximum entries of an I/O queue (MQES is 0-based).
    pub(crate) fn max_queue_entries(self) -> u32 {
        (self.0 & 0xffff) as u32 + 1
    }

    /// The worst-case time for CSTS.RDY to change after CC.EN does, in
    /// milliseconds (TO is in 500 ms units).
    pub(crate) fn timeout_ms(self) -> u32 {
        ((self.0 >> 24) & 0xff) as u32 * 500
    }

    /// The stride between doorbell registers, in bytes (4 << DSTRD).
    pub(crate) fn doorbell_stride(self) -> u32 {
        4 << ((self.0 >> 32) & 0xf)
    }

    /// Whether the NVM command set is supported (CSS bit 0).
    pub(crate) fn nvm_command_set(self) -> bool {
        self.0 & (1 << 37) != 0
    }

    /// Smallest memory page size the controller supports, in bytes.
    pub(crate) fn page_size_min(self) -> u64 {
        1 << (12 + ((self.0 >> 48) & 0xf))
    }

    /// Largest memory page size the controller supports, in bytes.
    pub(crate) fn page_size_max(self) -> u64 {
        1 << (12 + ((self.0 >> 52) & 0xf))
    }
}

/// The Version register: major, minor and tertiary version numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Version {
    pub(crate) major: u16,
    pub(crate) minor: u8,
    pub(crate) tertiary: u8,
}

impl From<u32> for Version {
    fn from(vs: u32) -> Self {
        Self {
            major: (vs >> 16) as u16,
            minor: (vs >> 8) as u8,
            tertiary: vs as u8,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.tertiary)
    }
}

/// Controller Status bits.
pub(crate) mod csts {
    /// Ready.
    pub(crate) const RDY: u32 = 1 << 0;
    /// Controller Fatal Status.
    pub(crate) const CFS: u32 = 1 << 1;
    /// Shutdown status field.
    pub(crate) const SHST_MASK: u32 = 3 << 2;
    /// Shutdown processing complete.
    pub(crate) const SHST_COMPLETE: u32 = 2 << 2;
}

#[cfg(test)]
mod tests {
    use super::*;

    // CAP of QEMU 7.2's emulated controller with its defaults (MQES=0x7ff,
    // CQR, TO=0xf, DSTRD=0, CSS=NVM, MPSMIN=0, MPSMAX=4); tests/vm/nvme-bind.sh
    // checks that the driver decodes the same from the device.
    const QEMU_CAP: u64 = 0x0040_0020_0f01_07ff | (1 << 37);

    #[test]
    fn decodes_qemu_cap() {
        let cap = Cap(QEMU_CAP);
        assert_eq!(cap.max_queue_entries(), 0x800);
        assert_eq!(cap.timeout_ms(), 7500);
        assert_eq!(cap.doorbell_stride(), 4);
        assert!(cap.nvm_command_set());
        assert_eq!(cap.page_size_min(), 4096);
        assert_eq!(cap.page_size_max(), 65536);
    }

    #[test]
    fn decodes_cap_extremes() {
        let cap = Cap(u64::MAX);
        assert_eq!(cap.max_queue_entries(), 65536);
        assert_eq!(cap.timeout_ms(), 255 * 500);
        assert_eq!(cap.doorbell_stride(), 4 << 15);
        assert_eq!(cap.page_size_min(), 1 << 27);
        let cap = Cap(0);
        assert_eq!(cap.max_queue_entries(), 1);
        assert!(!cap.nvm_command_set());
        assert_eq!(cap.timeout_ms(), 0);
    }

    #[test]
    fn encodes_configuration() {
        // 4 KiB pages, IOSQES 6, IOCQES 4, NVM command set, enabled: what
        // the C driver writes (0x460001).
        assert_eq!(cc::enable(12), 0x0046_0001);
        assert_eq!(cc::enable(16) & (0xf << 7), 4 << 7);
        assert_eq!(aqa(64, 64), 0x003f_003f);
    }

    #[test]
    fn doorbells_follow_the_stride() {
        assert_eq!(sq_doorbell(0, 4), 0x1000);
        assert_eq!(cq_doorbell(0, 4), 0x1004);
        assert_eq!(sq_doorbell(3, 4), 0x1018);
        assert_eq!(cq_doorbell(3, 16), 0x1000 + 7 * 16);
    }

    #[test]
    fn decodes_version() {
        assert_eq!(
            Version::from(0x0001_0400),
            Version {
                major: 1,
                minor: 4,
                tertiary: 0
            }
        );
        assert_eq!(
            Version::from(0x0002_0001),
            Version {
                major: 2,
                minor: 0,
                tertiary: 1
            }
        );
        assert!(Version::from(0x0001_0400) < Version::from(0x0002_0000));
    }
}
