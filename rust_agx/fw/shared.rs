// SPDX-License-Identifier: GPL-2.0

//! The firmware interface: what the driver and the GPU's firmware exchange.
//!
//! The firmware sees the driver only through registers, the page tables and
//! shared memory. Everything in shared memory is little-endian and reached by
//! kernel GPU virtual addresses (context slot 0), except the TTB table,
//! which holds the root table of each context slot and is found by bus
//! address through [`REG_TTBAT`].
//!
//! Rings are arrays of fixed-size messages described by a [`RingDesc`] in
//! shared memory; the producer owns `wptr`, the consumer `rptr`, both are
//! indices modulo the entry count, and the ring is full when advancing
//! `wptr` would make it equal `rptr`.

use super::{le32, le64};

/// Register: reads [`ID_MAGIC`].
pub const REG_ID: u32 = 0x00;
/// Register: bus address of the TTB table (`NUM_SLOTS` u64 entries).
pub const REG_TTBAT: u32 = 0x08;
/// Register: kernel GPU VA of the init data (offsets in [`initdata`]).
pub const REG_INITDATA: u32 = 0x10;
/// Register: write a `CONTROL_*` command.
pub const REG_CONTROL: u32 = 0x18;
/// Register: reads a `STATUS_*` value.
pub const REG_STATUS: u32 = 0x20;
/// Register: any write makes the firmware look at its rings.
pub const REG_DOORBELL: u32 = 0x28;
/// Register: reads the GPU timer in nanoseconds.
pub const REG_TIMER: u32 = 0x30;

/// Value of [`REG_ID`].
pub const ID_MAGIC: u64 = 0x5241_4758_0001_0000;
/// Boot the firmware from [`REG_TTBAT`] and [`REG_INITDATA`].
pub const CONTROL_BOOT: u64 = 1;
/// Stop the firmware and forget all its state.
pub const CONTROL_RESET: u64 = 2;

/// Not booted, or reset.
pub const STATUS_OFF: u64 = 0;
/// Running.
pub const STATUS_RUNNING: u64 = 1;
/// Halted after a fault or timeout, until the driver sends [`DEVCTL_RESUME`].
pub const STATUS_HALTED: u64 = 2;
/// The firmware could not boot or hit an error in its own structures.
pub const STATUS_CRASHED: u64 = 3;

/// TTB entry bit: the slot has a root table.
pub const TTB_VALID: u64 = 1;

/// `"RAGX"`.
pub const INITDATA_MAGIC: u32 = 0x5847_4152;
/// Version of the structures in this file.
pub const INITDATA_VERSION: u32 = 1;
/// Pipe priorities.
pub const NUM_PIPES: usize = 4;
/// Completion stamps.
pub const NUM_STAMPS: usize = 128;

/// Offsets in the init data (kernel VA, [`INITDATA_SIZE`] bytes).
pub mod initdata {
    /// u32 [`super::INITDATA_MAGIC`].
    pub const MAGIC: u64 = 0;
    /// u32 [`super::INITDATA_VERSION`].
    pub const VERSION: u64 = 4;
    /// u64 VA of the device-control ring's descriptor.
    pub const DEVCTL_RING: u64 = 8;
    /// u64 VA of the event ring's descriptor.
    pub const EVENT_RING: u64 = 16;
    /// u64 VA of the firmware log ring's descriptor.
    pub const FWLOG_RING: u64 = 24;
    /// u64 VA of each pipe ring's descriptor, [`super::NUM_PIPES`] of them.
    pub const PIPE_RINGS: u64 = 32;
    /// u64 VA of the stamps, [`super::NUM_STAMPS`] u32s.
    pub const STAMPS: u64 = 64;
    /// u32 number of stamps.
    pub const NUM_STAMPS: u64 = 72;
    /// u32 written by the firmware: `seq` of the last device-control
    /// message processed.
    pub const DEVCTL_ACK: u64 = 76;
}
/// Size of the init data.
pub const INITDATA_SIZE: u64 = 128;

/// Offsets in a ring descriptor (kernel VA, [`RING_DESC_SIZE`] bytes).
pub mod ring {
    /// u64 VA of the entries.
    pub const BASE: u64 = 0;
    /// u32 number of entries.
    pub const COUNT: u64 = 8;
    /// u32 bytes per entry.
    pub const ENTRY_SIZE: u64 = 12;
    /// u32 producer index.
    pub const WPTR: u64 = 16;
    /// u32 consumer index.
    pub const RPTR: u64 = 24;
}
/// Size of a ring descriptor.
pub const RING_DESC_SIZE: u64 = 32;

/// A ring descriptor's constant part, as the firmware reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingDesc {
    /// VA of the entries.
    pub base: u64,
    /// Number of entries.
    pub count: u32,
    /// Bytes per entry.
    pub entry_size: u32,
}

impl RingDesc {
    /// Whether the descriptor is usable for messages of `msg_size` bytes.
    pub fn is_sane(&self, msg_size: u64) -> bool {
        self.count >= 2 && self.count <= 4096 && u64::from(self.entry_size) == msg_size
    }

    /// VA of entry `idx`.
    pub fn entry(&self, idx: u32) -> u64 {
        self.base + u64::from(idx % self.count) * u64::from(self.entry_size)
    }

    /// The index after `idx`.
    pub fn next(&self, idx: u32) -> u32 {
        (idx + 1) % self.count
    }
}

/// Device-control message size.
pub const DEVCTL_SIZE: u64 = 32;
/// Device control: forget the cached translations of slot `arg0`.
pub const DEVCTL_TLBI_SLOT: u32 = 1;
/// Device control: forget every cached translation.
pub const DEVCTL_TLBI_ALL: u32 = 2;
/// Device control: leave [`STATUS_HALTED`]. If `arg1` is the VA of a
/// faulted work queue, its faulting job is skipped.
pub const DEVCTL_RESUME: u32 = 3;
/// Device control: stop looking at the work queue at `arg1` (its queue is
/// being destroyed; the driver waited for its jobs).
pub const DEVCTL_DROP_WQ: u32 = 4;

/// A device-control message: `op: u32, seq: u32, arg0: u32, pad: u32,
/// arg1: u64, arg2: u64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevCtl {
    /// `DEVCTL_*`.
    pub op: u32,
    /// Sequence number, echoed in `DEVCTL_ACK`.
    pub seq: u32,
    /// First argument.
    pub arg0: u32,
    /// Second argument.
    pub arg1: u64,
}

impl DevCtl {
    /// Encodes the message.
    pub fn encode(&self) -> [u8; DEVCTL_SIZE as usize] {
        let mut b = [0u8; DEVCTL_SIZE as usize];
        b[0..4].copy_from_slice(&self.op.to_le_bytes());
        b[4..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..12].copy_from_slice(&self.arg0.to_le_bytes());
        b[16..24].copy_from_slice(&self.arg1.to_le_bytes());
        b
    }

    /// Decodes a message.
    pub fn decode(b: &[u8; DEVCTL_SIZE as usize]) -> Self {
        Self {
            op: le32(b, 0),
            seq: le32(b, 4),
            arg0: le32(b, 8),
            arg1: le64(b, 16),
        }
    }
}

/// Pipe message size.
pub const PIPE_MSG_SIZE: u64 = 16;
/// Pipe message: run the work queue whose info is at `wq`.
pub const PIPE_RUN_WQ: u32 = 1;

/// Offsets in a work queue's info (kernel VA, [`WQ_INFO_SIZE`] bytes).
pub mod wq {
    /// u64 VA of the ring of job VAs (u64 each).
    pub const RING: u64 = 0;
    /// u32 entries of the ring.
    pub const COUNT: u64 = 8;
    /// u32 context slot the jobs run in.
    pub const SLOT: u64 = 12;
    /// u32 driver's write index.
    pub const WPTR: u64 = 16;
    /// u32 firmware's read index: jobs before it are done.
    pub const RPTR: u64 = 20;
    /// u32 stamp written as each job completes.
    pub const STAMP_INDEX: u64 = 24;
    /// u32 priority (pipe).
    pub const PRIORITY: u64 = 28;
    /// u32 `WQ_STATE_*`, written by the firmware.
    pub const STATE: u64 = 32;
}
/// Size of a work queue's info.
pub const WQ_INFO_SIZE: u64 = 64;
/// Work queue has no job running.
pub const WQ_STATE_IDLE: u32 = 0;
/// Work queue is running a job.
pub const WQ_STATE_BUSY: u32 = 1;
/// Work queue's job at `RPTR` faulted or timed out.
pub const WQ_STATE_FAULTED: u32 = 2;

/// `"RJOB"`.
pub const JOB_MAGIC: u32 = 0x424f_4a52;
/// Size of a job's header; its commands follow.
pub const JOB_HEADER_SIZE: u64 = 32;
/// Size of the firmware's save area, which follows the job header and is
/// zero when the driver queues the job. The firmware keeps a job's progress
/// there, so that it can switch between work queues mid-job.
pub const JOB_SAVE_SIZE: u64 = 256;
/// Offset of the first command in a job.
pub const JOB_CMDS: u64 = JOB_HEADER_SIZE + JOB_SAVE_SIZE;
/// Size of each firmware command.
pub const FW_CMD_SIZE: u64 = 64;

/// Offsets in a job's save area (from the job's VA + [`JOB_HEADER_SIZE`]).
/// Only the firmware reads or writes it.
pub mod save {
    /// u64 timer value when the job started; 0 before.
    pub const START_NS: u64 = 0;
    /// u32 index of the blit unit's current command.
    pub const BLIT_NEXT: u64 = 8;
    /// u64 bytes done of the blit unit's current command.
    pub const BLIT_DONE: u64 = 16;
    /// u32 index of the compute unit's current command.
    pub const COMPUTE_NEXT: u64 = 24;
    /// u32 current invocation of the compute command.
    pub const INVOCATION: u64 = 28;
    /// u32 program counter (instruction index) of the invocation.
    pub const PC: u64 = 32;
    /// u32 instructions the invocation has executed.
    pub const STEPS: u64 = 36;
    /// 16 u64 registers of the invocation.
    pub const REGS: u64 = 40;
    /// u32 non-zero once the invocation's registers are set up.
    pub const LIVE: u64 = 168;
}

/// A job's header: `magic: u32, num_cmds: u32, job_id: u64,
/// stamp_value: u32, timeout_ms: u32, pad: [u32; 2]`, then the save area,
/// then `num_cmds` firmware commands (see [`super::cmd::Cmd::encode_fw`]) at
/// [`JOB_CMDS`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobHeader {
    /// Number of commands.
    pub num_cmds: u32,
    /// Driver's id, echoed in events.
    pub job_id: u64,
    /// Value written to the work queue's stamp when the job completes.
    pub stamp_value: u32,
    /// Wall-clock budget; past it the job times out.
    pub timeout_ms: u32,
}

impl JobHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; JOB_HEADER_SIZE as usize] {
        let mut b = [0u8; JOB_HEADER_SIZE as usize];
        b[0..4].copy_from_slice(&JOB_MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&self.num_cmds.to_le_bytes());
        b[8..16].copy_from_slice(&self.job_id.to_le_bytes());
        b[16..20].copy_from_slice(&self.stamp_value.to_le_bytes());
        b[20..24].copy_from_slice(&self.timeout_ms.to_le_bytes());
        b
    }

    /// Decodes a header; `None` without the magic.
    pub fn decode(b: &[u8; JOB_HEADER_SIZE as usize]) -> Option<Self> {
        (le32(b, 0) == JOB_MAGIC).then(|| Self {
            num_cmds: le32(b, 4),
            job_id: le64(b, 8),
            stamp_value: le32(b, 16),
            timeout_ms: le32(b, 20),
        })
    }
}

/// Event message size.
pub const EVENT_SIZE: u64 = 32;
/// Event: a job completed; its stamp was written.
pub const EVENT_COMPLETE: u32 = 1;
/// Event: a job faulted on a page; firmware halted.
pub const EVENT_FAULT: u32 = 2;
/// Event: a job ran out of time or steps; firmware halted.
pub const EVENT_TIMEOUT: u32 = 3;
/// Event: a job ran an illegal instruction; firmware halted.
pub const EVENT_ILLEGAL: u32 = 4;

/// An event: `kind: u32, stamp_index: u32, slot: u32, unit: u8,
/// access: u8, pad: u16, job_id: u64, addr: u64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// `EVENT_*`.
    pub kind: u32,
    /// Stamp of the job's work queue.
    pub stamp_index: u32,
    /// Context slot of the job.
    pub slot: u32,
    /// Unit that faulted (0 blit, 1 compute).
    pub unit: u8,
    /// Access that faulted (1 read, 2 write).
    pub access: u8,
    /// Job's id from its header.
    pub job_id: u64,
    /// Faulting address.
    pub addr: u64,
}

impl Event {
    /// Encodes the event.
    pub fn encode(&self) -> [u8; EVENT_SIZE as usize] {
        let mut b = [0u8; EVENT_SIZE as usize];
        b[0..4].copy_from_slice(&self.kind.to_le_bytes());
        b[4..8].copy_from_slice(&self.stamp_index.to_le_bytes());
        b[8..12].copy_from_slice(&self.slot.to_le_bytes());
        b[12] = self.unit;
        b[13] = self.access;
        b[16..24].copy_from_slice(&self.job_id.to_le_bytes());
        b[24..32].copy_from_slice(&self.addr.to_le_bytes());
        b
    }

    /// Decodes an event.
    pub fn decode(b: &[u8; EVENT_SIZE as usize]) -> Self {
        Self {
            kind: le32(b, 0),
            stamp_index: le32(b, 4),
            slot: le32(b, 8),
            unit: b[12],
            access: b[13],
            job_id: le64(b, 16),
            addr: le64(b, 24),
        }
    }
}

/// Firmware log message size: `level: u32, len: u32, text: [u8; 56]`.
pub const FWLOG_SIZE: u64 = 64;
/// Bytes of text in one log message.
pub const FWLOG_TEXT: usize = 56;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let d = DevCtl {
            op: DEVCTL_RESUME,
            seq: 7,
            arg0: 3,
            arg1: 1 << 46,
        };
        assert_eq!(DevCtl::decode(&d.encode()), d);
        let e = Event {
            kind: EVENT_FAULT,
            stamp_index: 2,
            slot: 5,
            unit: 1,
            access: 2,
            job_id: 99,
            addr: 0xabc,
        };
        assert_eq!(Event::decode(&e.encode()), e);
        let j = JobHeader {
            num_cmds: 3,
            job_id: 1,
            stamp_value: 9,
            timeout_ms: 2000,
        };
        assert_eq!(JobHeader::decode(&j.encode()), Some(j));
        assert_eq!(JobHeader::decode(&[0; 32]), None);
    }

    #[test]
    fn ring_indices_wrap() {
        let r = RingDesc {
            base: 0x1000,
            count: 4,
            entry_size: 16,
        };
        assert!(r.is_sane(16));
        assert!(!r.is_sane(32));
        assert_eq!(r.next(3), 0);
        assert_eq!(r.entry(5), 0x1010);
    }
}
