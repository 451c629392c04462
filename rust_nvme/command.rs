// SPDX-License-Identifier: GPL-2.0

//! Submission queue entries (NVM Express Base Specification 2.0, 4.2).
//!
//! Plain `core` code: a [`Command`] is the 64 bytes the controller reads from
//! a submission queue, built here and copied into the queue by the driver.
//! Also built and tested on the host.

/// Admin command opcodes.
pub(crate) mod admin {
    pub(crate) const DELETE_IO_SQ: u8 = 0x00;
    pub(crate) const CREATE_IO_SQ: u8 = 0x01;
    pub(crate) const GET_LOG_PAGE: u8 = 0x02;
    pub(crate) const DELETE_IO_CQ: u8 = 0x04;
    pub(crate) const CREATE_IO_CQ: u8 = 0x05;
    pub(crate) const IDENTIFY: u8 = 0x06;
    pub(crate) const ABORT: u8 = 0x08;
    pub(crate) const SET_FEATURES: u8 = 0x09;
    pub(crate) const GET_FEATURES: u8 = 0x0a;
}

/// NVM command set opcodes.
pub(crate) mod io {
    pub(crate) const FLUSH: u8 = 0x00;
    pub(crate) const WRITE: u8 = 0x01;
    pub(crate) const READ: u8 = 0x02;
    pub(crate) const COMPARE: u8 = 0x05;
    pub(crate) const WRITE_ZEROES: u8 = 0x08;
    pub(crate) const DSM: u8 = 0x09;
}

/// Identify CNS values.
pub(crate) mod cns {
    /// Identify Namespace data structure for the given NSID.
    pub(crate) const NAMESPACE: u8 = 0x00;
    /// Identify Controller data structure.
    pub(crate) const CONTROLLER: u8 = 0x01;
    /// Active namespace ID list, from NSID + 1 on.
    pub(crate) const ACTIVE_NS_LIST: u8 = 0x02;
}

/// Feature identifiers.
pub(crate) mod feature {
    pub(crate) const NUM_QUEUES: u8 = 0x07;
    pub(crate) const VOLATILE_WC: u8 = 0x06;
}

/// Read/write command flags (CDW12).
pub(crate) mod rw {
    /// Force Unit Access.
    pub(crate) const FUA: u32 = 1 << 30;
}

/// Where a command's data is, as PRP entries (PSDT 00b).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DataPtr {
    /// PRP entry 1: the first page (with an offset).
    pub(crate) prp1: u64,
    /// PRP entry 2: the second page, or the address of a PRP list.
    pub(crate) prp2: u64,
}

/// PRP or SGL for Data Transfer, command dword 0 bits 15:14.
const PSDT_MASK: u32 = 3 << 14;
/// PSDT 01b: SGLs for data, metadata in one contiguous buffer.
const PSDT_SGL: u32 = 1 << 14;

/// A submission queue entry.
///
/// The command identifier is set by the queue when the command is submitted
/// ([`Command::with_cid`]), not by whoever builds the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Command {
    dw: [u32; 16],
}

impl Command {
    /// Size of a submission queue entry, in bytes (SQES 6).
    pub(crate) const SIZE: usize = 64;

    fn new(opcode: u8, nsid: u32) -> Self {
        let mut dw = [0; 16];
        dw[0] = u32::from(opcode);
        dw[1] = nsid;
        Self { dw }
    }

    /// The command with its data described by the PRP entries `ptr`.
    pub(crate) fn with_data(mut self, ptr: DataPtr) -> Self {
        self.dw[6] = ptr.prp1 as u32;
        self.dw[7] = (ptr.prp1 >> 32) as u32;
        self.dw[8] = ptr.prp2 as u32;
        self.dw[9] = (ptr.prp2 >> 32) as u32;
        self
    }

    fn cdw(mut self, n: usize, v: u32) -> Self {
        self.dw[n] = v;
        self
    }

    /// The opcode.
    pub(crate) fn opcode(&self) -> u8 {
        self.dw[0] as u8
    }

    /// The command identifier.
    pub(crate) fn cid(&self) -> u16 {
        (self.dw[0] >> 16) as u16
    }

    /// The namespace the command is for.
    pub(crate) fn nsid(&self) -> u32 {
        self.dw[1]
    }

    /// Command dword `n` (0 to 15).
    pub(crate) fn dword(&self, n: usize) -> u32 {
        self.dw[n]
    }

    /// The command with identifier `cid`.
    pub(crate) fn with_cid(mut self, cid: u16) -> Self {
        self.dw[0] = (self.dw[0] & 0xffff) | (u32::from(cid) << 16);
        self
    }

    /// The command with its data described by SGL entry 1 `sgl` instead of
    /// PRPs (PSDT 01b: SGL for data, metadata pointer to a contiguous
    /// buffer).
    pub(crate) fn with_sgl(mut self, sgl: crate::sgl::Descriptor) -> Self {
        self.dw[0] = (self.dw[0] & !PSDT_MASK) | PSDT_SGL;
        self.dw[6..10].copy_from_slice(&sgl.dwords());
        self
    }

    /// Whether the data is described by an SGL.
    pub(crate) fn uses_sgl(&self) -> bool {
        self.dw[0] & PSDT_MASK == PSDT_SGL
    }

    /// Identify: `cns` data structure (4096 bytes) into `buf`.
    pub(crate) fn identify(cns: u8, nsid: u32, buf: DataPtr) -> Self {
        Self::new(admin::IDENTIFY, nsid)
            .with_data(buf)
            .cdw(10, u32::from(cns))
    }

    /// Set Features, Number of Queues: asks for `sq` submission and `cq`
    /// completion queues (1-based counts; the controller answers with what
    /// it grants).
    pub(crate) fn set_num_queues(sq: u16, cq: u16) -> Self {
        let v = u32::from(sq.saturating_sub(1)) | u32::from(cq.saturating_sub(1)) << 16;
        Self::new(admin::SET_FEATURES, 0)
            .cdw(10, u32::from(feature::NUM_QUEUES))
            .cdw(11, v)
    }

    /// The queue pairs a Set Features (Number of Queues) completion with
    /// dword 0 `result` grants: the lesser of the 0-based submission (low
    /// half) and completion (high half) queue counts, plus one.
    pub(crate) fn queues_granted(result: u32) -> u16 {
        let sq = (result & 0xffff) as u16;
        let cq = (result >> 16) as u16;
        sq.min(cq).saturating_add(1)
    }

    /// Create I/O Completion Queue `qid` of `entries` entries at the
    /// physically contiguous `addr`, interrupting on `vector` if any.
    pub(crate) fn create_io_cq(qid: u16, entries: u16, addr: u64, vector: Option<u16>) -> Self {
        // PC (physically contiguous), and IEN with the vector if interrupts.
        let flags = 1 | vector.map_or(0, |v| 2 | u32::from(v) << 16);
        Self::new(admin::CREATE_IO_CQ, 0)
            .with_data(DataPtr {
                prp1: addr,
                prp2: 0,
            })
            .cdw(10, u32::from(qid) | u32::from(entries - 1) << 16)
            .cdw(11, flags)
    }

    /// Create I/O Submission Queue `qid` of `entries` entries at the
    /// physically contiguous `addr`, completing on queue `cqid`.
    pub(crate) fn create_io_sq(qid: u16, entries: u16, addr: u64, cqid: u16) -> Self {
        Self::new(admin::CREATE_IO_SQ, 0)
            .with_data(DataPtr {
                prp1: addr,
                prp2: 0,
            })
            .cdw(10, u32::from(qid) | u32::from(entries - 1) << 16)
            .cdw(11, 1 | u32::from(cqid) << 16)
    }

    /// Delete I/O Submission Queue `qid`.
    pub(crate) fn delete_io_sq(qid: u16) -> Self {
        Self::new(admin::DELETE_IO_SQ, 0).cdw(10, u32::from(qid))
    }

    /// Delete I/O Completion Queue `qid`.
    pub(crate) fn delete_io_cq(qid: u16) -> Self {
        Self::new(admin::DELETE_IO_CQ, 0).cdw(10, u32::from(qid))
    }

    /// Abort command `cid` of submission queue `sqid`.
    pub(crate) fn abort(sqid: u16, cid: u16) -> Self {
        Self::new(admin::ABORT, 0).cdw(10, u32::from(sqid) | u32::from(cid) << 16)
    }

    /// Read or write `blocks` (at least 1, at most 65536) logical blocks at
    /// `lba` of namespace `nsid`.
    pub(crate) fn read_write(
        write: bool,
        nsid: u32,
        lba: u64,
        blocks: u32,
        fua: bool,
        data: DataPtr,
    ) -> Self {
        let op = if write { io::WRITE } else { io::READ };
        Self::new(op, nsid)
            .with_data(data)
            .cdw(10, lba as u32)
            .cdw(11, (lba >> 32) as u32)
            .cdw(12, (blocks - 1) | if fua { rw::FUA } else { 0 })
    }

    /// Flush the volatile write cache of namespace `nsid`.
    pub(crate) fn flush(nsid: u32) -> Self {
        Self::new(io::FLUSH, nsid)
    }

    /// Write Zeroes to `blocks` logical blocks at `lba`.
    pub(crate) fn write_zeroes(nsid: u32, lba: u64, blocks: u32) -> Self {
        Self::new(io::WRITE_ZEROES, nsid)
            .cdw(10, lba as u32)
            .cdw(11, (lba >> 32) as u32)
            .cdw(12, blocks - 1)
    }

    /// Dataset Management, deallocate (discard) the `ranges` ranges listed
    /// (16 bytes each, see [`dsm_range`]) in the buffer at `data`.
    pub(crate) fn deallocate(nsid: u32, ranges: u32, data: DataPtr) -> Self {
        // NR is 0-based; AD (attribute deallocate) is bit 2 of CDW11.
        Self::new(io::DSM, nsid)
            .with_data(data)
            .cdw(10, ranges - 1)
            .cdw(11, 1 << 2)
    }

    /// The 64 bytes the controller reads.
    pub(crate) fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut out = [0; Self::SIZE];
        for (chunk, dw) in out.chunks_exact_mut(4).zip(self.dw) {
            chunk.copy_from_slice(&dw.to_le_bytes());
        }
        out
    }
}

/// The NVMe passthrough ioctls of `include/uapi/linux/nvme_ioctl.h`, as
/// nvme-cli issues them.
pub(crate) mod ioctl {
    /// `NVME_IOCTL_ID`: the namespace ID of a namespace's block device.
    pub(crate) const ID: u32 = 0x4e40;
    /// `NVME_IOCTL_ADMIN_CMD`, a 72-byte `struct nvme_passthru_cmd`.
    pub(crate) const ADMIN_CMD: u32 = 0xc048_4e41;
    /// `NVME_IOCTL_IO_CMD`.
    pub(crate) const IO_CMD: u32 = 0xc048_4e43;
    /// `NVME_IOCTL_ADMIN64_CMD`, an 80-byte `struct nvme_passthru_cmd64`.
    pub(crate) const ADMIN64_CMD: u32 = 0xc050_4e47;
    /// `NVME_IOCTL_IO64_CMD`.
    pub(crate) const IO64_CMD: u32 = 0xc050_4e48;
    /// `NVME_IOCTL_RESET`: reset the controller (`nvme reset`).
    pub(crate) const RESET: u32 = 0x4e44;
    /// `NVME_IOCTL_SUBMIT_IO`, a 48-byte `struct nvme_user_io` (`nvme read`,
    /// `nvme write`, `nvme compare` on a namespace's block device).
    pub(crate) const SUBMIT_IO: u32 = 0x4030_4e42;
}

/// The little-endian `u32` at byte `i` of a structure from userspace.
fn le_u32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// The little-endian `u64` at byte `i` of a structure from userspace.
fn le_u64(b: &[u8], i: usize) -> u64 {
    u64::from(le_u32(b, i)) | u64::from(le_u32(b, i + 4)) << 32
}

/// Which way a command moves data: bits 1:0 of the opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    None,
    ToDevice,
    FromDevice,
    Both,
}

/// A `struct nvme_passthru_cmd` (or the first 72 bytes of a
/// `struct nvme_passthru_cmd64`) from userspace. Untrusted: the driver
/// checks it before building a command from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Passthru {
    pub(crate) opcode: u8,
    pub(crate) flags: u8,
    pub(crate) nsid: u32,
    pub(crate) cdw2: u32,
    pub(crate) cdw3: u32,
    pub(crate) metadata: u64,
    pub(crate) addr: u64,
    pub(crate) metadata_len: u32,
    pub(crate) data_len: u32,
    pub(crate) cdw10_15: [u32; 6],
    pub(crate) timeout_ms: u32,
}

impl Passthru {
    /// Size of `struct nvme_passthru_cmd`.
    pub(crate) const SIZE: usize = 72;
    /// Size of `struct nvme_passthru_cmd64`.
    pub(crate) const SIZE64: usize = 80;
    /// Offset of `result` (32 bits) in `struct nvme_passthru_cmd`.
    pub(crate) const RESULT: usize = 68;
    /// Offset of `result` (64 bits) in `struct nvme_passthru_cmd64`.
    pub(crate) const RESULT64: usize = 72;

    /// Decodes the structure from its first [`Passthru::SIZE`] bytes.
    pub(crate) fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() < Self::SIZE {
            return None;
        }
        let (u32_at, u64_at) = (|i| le_u32(b, i), |i| le_u64(b, i));
        let mut cdw10_15 = [0; 6];
        for (i, d) in cdw10_15.iter_mut().enumerate() {
            *d = u32_at(40 + 4 * i);
        }
        Some(Self {
            opcode: b[0],
            flags: b[1],
            nsid: u32_at(4),
            cdw2: u32_at(8),
            cdw3: u32_at(12),
            metadata: u64_at(16),
            addr: u64_at(24),
            metadata_len: u32_at(32),
            data_len: u32_at(36),
            cdw10_15,
            timeout_ms: u32_at(64),
        })
    }

    /// Which way the command moves data.
    pub(crate) fn direction(&self) -> Direction {
        match self.opcode & 3 {
            0 => Direction::None,
            1 => Direction::ToDevice,
            2 => Direction::FromDevice,
            _ => Direction::Both,
        }
    }

    /// The command, with its data at `data`.
    pub(crate) fn command(&self, data: DataPtr) -> Command {
        let mut c = Command::new(self.opcode, self.nsid)
            .cdw(2, self.cdw2)
            .cdw(3, self.cdw3)
            .with_data(data);
        for (i, d) in self.cdw10_15.iter().enumerate() {
            c = c.cdw(10 + i, *d);
        }
        c
    }
}

/// A `struct nvme_user_io` from userspace (`NVME_IOCTL_SUBMIT_IO`): a read,
/// write or compare of `nblocks + 1` logical blocks at `slba` of the
/// namespace whose block device it came through. Untrusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UserIo {
    pub(crate) opcode: u8,
    pub(crate) flags: u8,
    pub(crate) control: u16,
    pub(crate) nblocks: u16,
    pub(crate) metadata: u64,
    pub(crate) addr: u64,
    pub(crate) slba: u64,
    pub(crate) dsmgmt: u32,
    pub(crate) reftag: u32,
    pub(crate) apptag: u16,
    pub(crate) appmask: u16,
}

impl UserIo {
    /// Size of `struct nvme_user_io`.
    pub(crate) const SIZE: usize = 48;

    /// Decodes the structure.
    pub(crate) fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let (u32_at, u64_at) = (|i| le_u32(b, i), |i| le_u64(b, i));
        Self {
            opcode: b[0],
            flags: b[1],
            control: u16_at(2),
            nblocks: u16_at(4),
            metadata: u64_at(8),
            addr: u64_at(16),
            slba: u64_at(24),
            dsmgmt: u32_at(32),
            reftag: u32_at(36),
            apptag: u16_at(40),
            appmask: u16_at(42),
        }
    }

    /// The same command as a passthrough one, for namespace `nsid` whose
    /// blocks are `1 << lba_shift` bytes, as the C driver builds it; `None`
    /// for what it refuses: another opcode than read, write or compare,
    /// flags, or metadata.
    pub(crate) fn passthru(&self, nsid: u32, lba_shift: u32) -> Option<Passthru> {
        if !matches!(self.opcode, io::READ | io::WRITE | io::COMPARE)
            || self.flags != 0
            || self.metadata != 0
        {
            return None;
        }
        if lba_shift >= 32 {
            return None;
        }
        let data_len = u32::try_from((u64::from(self.nblocks) + 1) << lba_shift).ok()?;
        Some(Passthru {
            opcode: self.opcode,
            flags: 0,
            nsid,
            cdw2: 0,
            cdw3: 0,
            metadata: 0,
            addr: self.addr,
            metadata_len: 0,
            data_len,
            cdw10_15: [
                self.slba as u32,
                (self.slba >> 32) as u32,
                u32::from(self.nblocks) | u32::from(self.control) << 16,
                self.dsmgmt,
                self.reftag,
                u32::from(self.apptag) | u32::from(self.appmask) << 16,
            ],
            timeout_ms: 0,
        })
    }
}

/// One Dataset Management range: `blocks` logical blocks at `lba`.
pub(crate) fn dsm_range(lba: u64, blocks: u32) -> [u8; 16] {
    let mut out = [0; 16];
    out[4..8].copy_from_slice(&blocks.to_le_bytes());
    out[8..16].copy_from_slice(&lba.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dw(bytes: &[u8; 64], n: usize) -> u32 {
        u32::from_le_bytes(bytes[n * 4..n * 4 + 4].try_into().unwrap())
    }

    #[test]
    fn identify_controller_layout() {
        let buf = DataPtr {
            prp1: 0x1_2345_6000,
            prp2: 0,
        };
        let b = Command::identify(cns::CONTROLLER, 0, buf)
            .with_cid(0xbeef)
            .to_bytes();
        assert_eq!(b[0], admin::IDENTIFY);
        assert_eq!(u16::from_le_bytes([b[2], b[3]]), 0xbeef);
        assert_eq!(dw(&b, 1), 0);
        assert_eq!(dw(&b, 6), 0x2345_6000);
        assert_eq!(dw(&b, 7), 0x1);
        assert_eq!(dw(&b, 10), 1);
    }

    #[test]
    fn cid_replaces_only_the_identifier() {
        let c = Command::flush(7).with_cid(1).with_cid(0xffff);
        assert_eq!(c.cid(), 0xffff);
        assert_eq!(c.opcode(), io::FLUSH);
        assert_eq!(c.nsid(), 7);
    }

    #[test]
    fn sgl_replaces_the_prps() {
        let prp = DataPtr {
            prp1: 0x1000,
            prp2: 0x2000,
        };
        let d = crate::sgl::Descriptor::last_segment(0x9_0000_3000, 4);
        let c = Command::read_write(false, 1, 8, 16, true, prp)
            .with_sgl(d)
            .with_cid(0x42);
        assert!(c.uses_sgl());
        assert!(!Command::flush(1).uses_sgl());
        let b = c.to_bytes();
        // PSDT 01b in the flags byte, opcode and identifier untouched.
        assert_eq!(b[0], io::READ);
        assert_eq!(b[1], 0x40);
        assert_eq!(c.cid(), 0x42);
        assert_eq!(b[24..40], d.to_bytes());
        // The rest of the read is as it was.
        assert_eq!(c.dword(10), 8);
        assert_eq!(c.dword(12), 15 | rw::FUA);
    }

    #[test]
    fn granted_queues_are_the_lesser_count() {
        assert_eq!(Command::queues_granted(0x0003_0001), 2);
        assert_eq!(Command::queues_granted(0x0000_0007), 1);
        assert_eq!(Command::queues_granted(0xffff_ffff), u16::MAX);
    }

    #[test]
    fn num_queues_is_zero_based() {
        let c = Command::set_num_queues(4, 4);
        assert_eq!(c.dword(10), u32::from(feature::NUM_QUEUES));
        assert_eq!(c.dword(11), 3 | 3 << 16);
        // Zero would underflow the 0-based field: it asks for one.
        assert_eq!(Command::set_num_queues(0, 0).dword(11), 0);
    }

    #[test]
    fn create_queues() {
        let cq = Command::create_io_cq(3, 1024, 0xabc000, Some(2));
        assert_eq!(cq.opcode(), admin::CREATE_IO_CQ);
        assert_eq!(cq.dword(10), 3 | 1023 << 16);
        assert_eq!(cq.dword(11), 1 | 2 | 2 << 16);
        let polled = Command::create_io_cq(4, 64, 0xabc000, None);
        assert_eq!(polled.dword(11), 1);
        let sq = Command::create_io_sq(3, 1024, 0xdef000, 3);
        assert_eq!(sq.dword(10), 3 | 1023 << 16);
        assert_eq!(sq.dword(11), 1 | 3 << 16);
        assert_eq!(sq.dword(6), 0xdef000);
    }

    #[test]
    fn read_write_fields() {
        let d = DataPtr {
            prp1: 0x1000,
            prp2: 0x2000,
        };
        let w = Command::read_write(true, 1, 0x1_0000_0002, 8, true, d);
        assert_eq!(w.opcode(), io::WRITE);
        assert_eq!(w.dword(10), 2);
        assert_eq!(w.dword(11), 1);
        assert_eq!(w.dword(12), 7 | rw::FUA);
        assert_eq!(w.dword(8), 0x2000);
        let r = Command::read_write(false, 2, 0, 1, false, d);
        assert_eq!(r.opcode(), io::READ);
        assert_eq!(r.dword(12), 0);
        assert_eq!(r.nsid(), 2);
    }

    #[test]
    fn zeroes_and_discard() {
        let z = Command::write_zeroes(1, 100, 16);
        assert_eq!(
            (z.opcode(), z.dword(10), z.dword(12)),
            (io::WRITE_ZEROES, 100, 15)
        );
        let d = Command::deallocate(
            1,
            2,
            DataPtr {
                prp1: 0x5000,
                prp2: 0,
            },
        );
        assert_eq!((d.opcode(), d.dword(10), d.dword(11)), (io::DSM, 1, 4));
        let r = dsm_range(0x1_0000_0010, 32);
        assert_eq!(&r[4..8], &32u32.to_le_bytes());
        assert_eq!(&r[8..16], &0x1_0000_0010u64.to_le_bytes());
        assert_eq!(&r[0..4], &[0; 4]);
    }

    #[test]
    fn abort_and_delete() {
        assert_eq!(Command::abort(2, 0x33).dword(10), 2 | 0x33 << 16);
        assert_eq!(Command::delete_io_sq(5).dword(10), 5);
        assert_eq!(Command::delete_io_cq(5).opcode(), admin::DELETE_IO_CQ);
    }

    #[test]
    fn passthru_decodes_and_builds() {
        let mut b = [0u8; Passthru::SIZE];
        b[0] = 0x06; // Identify: data from the device.
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        b[24..32].copy_from_slice(&0x7fff_1234_5000u64.to_le_bytes());
        b[36..40].copy_from_slice(&4096u32.to_le_bytes());
        b[40..44].copy_from_slice(&1u32.to_le_bytes()); // CDW10: CNS 1
        b[64..68].copy_from_slice(&500u32.to_le_bytes());
        let p = Passthru::from_bytes(&b).unwrap();
        assert_eq!(p.opcode, 0x06);
        assert_eq!(p.nsid, 1);
        assert_eq!(p.addr, 0x7fff_1234_5000);
        assert_eq!(p.data_len, 4096);
        assert_eq!(p.timeout_ms, 500);
        assert_eq!(p.direction(), Direction::FromDevice);
        let c = p.command(DataPtr {
            prp1: 0x1000,
            prp2: 0,
        });
        assert_eq!(
            c,
            Command::identify(
                1,
                1,
                DataPtr {
                    prp1: 0x1000,
                    prp2: 0
                }
            )
        );
        assert!(Passthru::from_bytes(&b[..71]).is_none());
    }

    #[test]
    fn ioctl_numbers_match_the_uapi() {
        // _IOWR('N', nr, size) = 3 << 30 | size << 16 | 'N' << 8 | nr.
        let iowr = |nr: u32, size: usize| 3 << 30 | (size as u32) << 16 | 0x4e << 8 | nr;
        assert_eq!(ioctl::ADMIN_CMD, iowr(0x41, Passthru::SIZE));
        assert_eq!(ioctl::IO_CMD, iowr(0x43, Passthru::SIZE));
        assert_eq!(ioctl::ADMIN64_CMD, iowr(0x47, Passthru::SIZE64));
        assert_eq!(ioctl::ID, 0x4e << 8 | 0x40);
        assert_eq!(ioctl::RESET, 0x4e << 8 | 0x44);
        // _IOW('N', 0x42, struct nvme_user_io).
        assert_eq!(
            ioctl::SUBMIT_IO,
            1 << 30 | (UserIo::SIZE as u32) << 16 | 0x4e << 8 | 0x42
        );
    }

    #[test]
    fn user_io_becomes_the_c_drivers_command() {
        let mut b = [0u8; UserIo::SIZE];
        b[0] = io::READ;
        b[2..4].copy_from_slice(&0x4000u16.to_le_bytes()); // control: FUA
        b[4..6].copy_from_slice(&7u16.to_le_bytes()); // 8 blocks
        b[16..24].copy_from_slice(&0x7f00_1234_5000u64.to_le_bytes());
        b[24..32].copy_from_slice(&0x1_0000_0010u64.to_le_bytes());
        b[32..36].copy_from_slice(&0x11u32.to_le_bytes());
        b[36..40].copy_from_slice(&0x22u32.to_le_bytes());
        b[40..42].copy_from_slice(&0x33u16.to_le_bytes());
        b[42..44].copy_from_slice(&0x44u16.to_le_bytes());
        let u = UserIo::from_bytes(&b);
        let p = u.passthru(3, 12).unwrap();
        assert_eq!(p.nsid, 3);
        assert_eq!(p.data_len, 8 << 12);
        assert_eq!(p.addr, 0x7f00_1234_5000);
        assert_eq!(p.direction(), Direction::FromDevice);
        assert_eq!(
            p.cdw10_15,
            [0x10, 1, 7 | 0x4000 << 16, 0x11, 0x22, 0x33 | 0x44 << 16]
        );
        let c = p.command(DataPtr::default()).to_bytes();
        assert_eq!(c[0], io::READ);
        assert_eq!(dw(&c, 1), 3);
        assert_eq!(dw(&c, 10), 0x10);
        assert_eq!(dw(&c, 12), 7 | 0x4000 << 16);
        // 65536 blocks of 512 bytes.
        b[4..6].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(
            UserIo::from_bytes(&b).passthru(1, 9).unwrap().data_len,
            32 << 20
        );
        // What the C driver refuses.
        for (at, v) in [(0, io::FLUSH), (0, 0x81), (1, 1), (8, 1)] {
            let mut bad = b;
            bad[at] = v;
            assert!(
                UserIo::from_bytes(&bad).passthru(1, 9).is_none(),
                "byte {at} = {v}"
            );
        }
    }
}
