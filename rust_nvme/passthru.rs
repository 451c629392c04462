// SPDX-License-Identifier: GPL-2.0

//! The controller's character device, `/dev/rnvme<N>`, with the NVMe
//! passthrough ioctls that nvme-cli uses: admin commands (`nvme id-ctrl`,
//! `nvme id-ns -n`, `nvme smart-log`, ...) and I/O commands (`nvme
//! io-passthru -n`).
//!
//! Commands are checked before they reach the controller: no metadata, at
//! most [`MAX_DATA`] bytes of data, and none of the admin commands that
//! would take the driver's own queues away (queue creation and deletion,
//! async event requests). Admin data goes through a bounce buffer of
//! coherent DMA memory allocated at probe, one command at a time. An I/O
//! command goes to the namespace its NSID names, as a driver-private
//! request on that disk's queue (so blk-mq gives it a tag and the timeout,
//! abort and reset handling of any request); it is not retried, and a reset
//! fails it. `CAP_SYS_ADMIN` is required, as for the C driver's
//! unrestricted passthrough.
//!
//! The device also resets the controller: `NVME_IOCTL_RESET` (`nvme
//! reset`) and the sysfs trigger `reset_controller` next to it, as the C
//! driver's controller device has. An admin command that times out resets
//! the controller too.

use crate::{
    command::{ioctl, DataPtr, Direction, Passthru},
    ctrl::Ctrl,
    NvmeOps, UserCmd, PAGE_SIZE,
};
use abstractions::{
    blk_mq::PrivateQueue,
    dma::DmaBuffer,
    miscdev::{capable_sys_admin, MiscDevice, UserArg},
};
use kernel::{
    device::{Bound, Device},
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    time::Delta,
    uaccess::{UserPtr, UserSlice},
};

/// The bounce buffer and a PRP list describing its pages after the first.
struct Bounce {
    data: DmaBuffer,
    list: DmaBuffer,
}

/// Largest data transfer of a passthrough command (Identify is 4 KiB, the
/// SMART log 512 bytes).
const MAX_DATA: u32 = 64 << 10;
/// Admin commands userspace may not send: delete/create I/O SQ and CQ,
/// asynchronous event request.
const REFUSED: [u8; 5] = [0x00, 0x01, 0x04, 0x05, 0x0c];

/// What the character device reaches: the controller, while it is there.
#[pin_data]
pub(crate) struct CtrlDev {
    dev: ARef<Device>,
    ctrl: Arc<Ctrl>,
    removed: Atomic<bool>,
    #[pin]
    bounce: Mutex<Bounce>,
    /// The queue of each namespace's disk, by NSID; emptied on removal.
    #[pin]
    namespaces: Mutex<KVec<(u32, Arc<PrivateQueue<NvmeOps>>)>>,
}

impl CtrlDev {
    pub(crate) fn new(
        dev: &Device<Bound>,
        ctrl: Arc<Ctrl>,
        namespaces: KVec<(u32, Arc<PrivateQueue<NvmeOps>>)>,
    ) -> Result<Arc<Self>> {
        let data = DmaBuffer::zeroed(dev, MAX_DATA as usize)?;
        let list = DmaBuffer::zeroed(dev, PAGE_SIZE as usize)?;
        for i in 1..(MAX_DATA as usize).div_ceil(PAGE_SIZE as usize) {
            list.write(
                (i - 1) * 8,
                &data.dma_addr(i * PAGE_SIZE as usize).to_le_bytes(),
            )?;
        }
        Arc::pin_init(
            try_pin_init!(Self {
                dev: dev.into(),
                ctrl,
                removed: Atomic::new(false),
                bounce <- new_mutex!(Bounce { data, list }),
                namespaces <- new_mutex!(namespaces),
            }),
            GFP_KERNEL,
        )
    }

    /// The controller is going away: fail passthrough from now on. A
    /// command running keeps its disk's queue (not the disk) until it ends.
    pub(crate) fn remove(&self) {
        self.removed.store(true, Relaxed);
        // Dropped after the lock: putting a queue may free it.
        let gone = core::mem::take(&mut *self.namespaces.lock());
        drop(gone);
    }

    /// Reads and checks the caller's passthrough structure of `size`
    /// bytes.
    fn user_cmd(arg: &UserArg, size: usize) -> Result<Passthru> {
        let mut bytes = [0u8; Passthru::SIZE64];
        arg.slice(size).reader().read_slice(&mut bytes[..size])?;
        let p = Passthru::from_bytes(&bytes[..size]).ok_or(EINVAL)?;
        if p.flags != 0 || p.metadata_len != 0 || p.metadata != 0 {
            return Err(EINVAL);
        }
        if p.data_len > MAX_DATA || (p.data_len != 0 && p.direction() == Direction::None) {
            return Err(EINVAL);
        }
        Ok(p)
    }

    /// Writes a command's result into the caller's structure.
    fn put_result(arg: &UserArg, size: usize, result: u32) -> Result {
        let (at, result) = if size == Passthru::SIZE64 {
            (Passthru::RESULT64, &u64::from(result).to_le_bytes()[..])
        } else {
            (Passthru::RESULT, &result.to_le_bytes()[..])
        };
        UserSlice::new(UserPtr::from_addr(arg.value() + at), result.len())
            .writer()
            .write_slice(result)
    }

    /// `NVME_IOCTL_IO_CMD`: one I/O command for the namespace its NSID
    /// names.
    fn io_cmd(&self, arg: UserArg, size: usize) -> Result<i32> {
        let p = Self::user_cmd(&arg, size)?;
        // One request moves data one way.
        if p.direction() == Direction::Both {
            return Err(EINVAL);
        }
        if self.removed.load(Relaxed) {
            return Err(ENODEV);
        }
        let queue = self
            .namespaces
            .lock()
            .iter()
            .find(|(nsid, _)| *nsid == p.nsid)
            .map(|(_, q)| q.clone())
            .ok_or(EINVAL)?;
        let len = p.data_len as usize;
        let user = UserPtr::from_addr(p.addr as usize);
        let to_device = p.direction() == Direction::ToDevice;
        let mut buf = KVec::from_elem(0u8, len, GFP_KERNEL)?;
        if to_device {
            UserSlice::new(user, len).reader().read_slice(&mut buf)?;
        }
        let timeout = (p.timeout_ms != 0).then(|| Delta::from_millis(i64::from(p.timeout_ms)));
        let cmd = UserCmd {
            cmd: p.command(DataPtr::default()),
            done: None,
        };
        let done = queue.execute(
            to_device,
            &mut buf,
            timeout,
            |iod| iod.user = Some(cmd),
            |iod, _status| iod.user.take().and_then(|u| u.done),
        )?;
        // No completion: failed by a reset or the controller's removal.
        let (result, status) = done.ok_or(EIO)?;
        if p.direction() == Direction::FromDevice {
            UserSlice::new(user, len).writer().write_slice(&buf)?;
        }
        Self::put_result(&arg, size, result)?;
        Ok(i32::from(status))
    }

    fn admin_cmd(&self, arg: UserArg, size: usize) -> Result<i32> {
        let p = Self::user_cmd(&arg, size)?;
        if REFUSED.contains(&p.opcode) {
            dev_warn!(
                self.dev,
                "passthrough admin command {:#x} refused: it would take the driver's queues\n",
                p.opcode
            );
            return Err(EINVAL);
        }
        if self.removed.load(Relaxed) {
            return Err(ENODEV);
        }
        let len = p.data_len as usize;
        let user = UserPtr::from_addr(p.addr as usize);
        let bounce = self.bounce.lock();
        let b = &bounce.data;
        let data = match len.div_ceil(PAGE_SIZE as usize) {
            0 => DataPtr::default(),
            1 => DataPtr {
                prp1: b.dma_addr(0),
                prp2: 0,
            },
            2 => DataPtr {
                prp1: b.dma_addr(0),
                prp2: b.dma_addr(PAGE_SIZE as usize),
            },
            _ => DataPtr {
                prp1: b.dma_addr(0),
                prp2: bounce.list.dma_addr(0),
            },
        };
        let mut tmp = KVec::from_elem(0u8, len, GFP_KERNEL)?;
        if matches!(p.direction(), Direction::ToDevice | Direction::Both) {
            UserSlice::new(user, len).reader().read_slice(&mut tmp)?;
        }
        // Zeroes, or the caller's data: nothing of an earlier command.
        b.write(0, &tmp)?;
        let timeout = match p.timeout_ms {
            0 => Delta::from_secs(60),
            ms => Delta::from_millis(i64::from(ms)),
        };
        let c = match self.ctrl.admin.submit_status(p.command(data), timeout) {
            Ok(c) => c,
            Err(e) => {
                if e == ETIMEDOUT {
                    // The bounce buffer stays ours until the controller
                    // is reset and cannot write it any more.
                    let _ = self.ctrl.reset(format_args!(
                        "passthrough admin command {:#x} timed out",
                        p.opcode
                    ));
                }
                return Err(e);
            }
        };
        if matches!(p.direction(), Direction::FromDevice | Direction::Both) {
            b.read(0, &mut tmp)?;
            UserSlice::new(user, len).writer().write_slice(&tmp)?;
        }
        drop(bounce);
        Self::put_result(&arg, size, c.result)?;
        // A positive return is the NVMe status, as the C driver returns it.
        Ok(i32::from(c.status.0 & 0x7fff))
    }
}

impl CtrlDev {
    /// Resets the controller for the user, waiting for the reset to end.
    fn user_reset(&self) -> Result {
        if self.removed.load(Relaxed) {
            return Err(ENODEV);
        }
        self.ctrl.reset(format_args!("requested by user"))
    }
}

impl MiscDevice for CtrlDev {
    const TRIGGERS: &'static [&'static CStr] = &[c"reset_controller"];

    fn trigger(&self, _index: usize) -> Result {
        self.user_reset()
    }

    fn ioctl(&self, cmd: u32, arg: UserArg) -> Result<i32> {
        // Every command here is privileged, as the C driver's unrestricted
        // passthrough.
        let size = match cmd {
            ioctl::ADMIN_CMD | ioctl::IO_CMD => Passthru::SIZE,
            ioctl::ADMIN64_CMD | ioctl::IO64_CMD => Passthru::SIZE64,
            _ => 0,
        };
        if (cmd == ioctl::RESET || size != 0) && !capable_sys_admin() {
            return Err(EACCES);
        }
        match cmd {
            ioctl::RESET => self.user_reset().map(|()| 0),
            ioctl::ADMIN_CMD | ioctl::ADMIN64_CMD => self.admin_cmd(arg, size),
            ioctl::IO_CMD | ioctl::IO64_CMD => self.io_cmd(arg, size),
            // NVME_IOCTL_ID among them: as on the C driver's controller
            // device, namespace IDs belong to the namespaces' block devices.
            _ => Err(ENOTTY),
        }
    }
}
