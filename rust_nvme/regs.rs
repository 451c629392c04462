// SPDX-License-Identifier: GPL-2.0

//! NVMe controller registers (NVM Express Base Specification 2.0, 3.1.4).
//!
//! Plain `core` code: decoding only, no I/O. Also built and tested on the host.

use core::fmt;

/// Controller Capabilities, 64 bits.
pub(crate) const CAP: usize = 0x00;
/// Version, 32 bits.
pub(crate) const VS: usize = 0x08;
/// Controller Status, 32 bits.
pub(crate) const CSTS: usize = 0x1c;
/// The end of the register page; the doorbells start here.
pub(crate) const REGS_END: usize = 0x1000;

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
