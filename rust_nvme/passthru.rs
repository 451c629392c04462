// SPDX-License-Identifier: GPL-2.0

//! The controller's character device, `/dev/rnvme<N>`, with the NVMe
//! passthrough ioctls that nvme-cli uses: admin commands (`nvme id-ctrl`,
//! `nvme id-ns -n`, `nvme smart-log`, ...) and I/O commands (`nvme
//! io-passthru -n`). The namespaces' block devices, `/dev/rnvme<N>n<NSID>`,
//! have them too, as the C driver's do, with `NVME_IOCTL_ID` (their NSID,
//! which nvme-cli asks for when no `-n` is given) and `NVME_IOCTL_SUBMIT_IO`
//! (`nvme read`, `nvme write`); there I/O commands go to that namespace.
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
    command::{ioctl, DataPtr, Direction, Passthru, UserIo},
    ctrl::Ctrl,
    NsInfo, NvmeOps, UserCmd, PAGE_SIZE,
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

/// What passthrough uses of the controller while it is there.
struct Live {
    ctrl: Arc<Ctrl>,
    bounce: Bounce,
}

/// What the character device and the block devices reach: the
/// controller, while it is there. Open files may hold this after the
/// controller's removal, so [`CtrlDev::remove`] lets go of the controller
/// and of DMA memory then, not when the last file closes: the controller's
/// DMA pools must go while their device is still registered.
#[pin_data]
pub(crate) struct CtrlDev {
    dev: ARef<Device>,
    removed: Atomic<bool>,
    /// `None` once removed. Held for the whole of an admin command (one at
    /// a time, as the bounce buffer is one) and of a user's reset.
    #[pin]
    live: Mutex<Option<Live>>,
    /// The queue of each namespace's disk, by NSID; emptied on removal.
    #[pin]
    namespaces: Mutex<KVec<(u32, Arc<PrivateQueue<NvmeOps>>)>>,
}

impl CtrlDev {
    pub(crate) fn new(dev: &Device<Bound>, ctrl: Arc<Ctrl>) -> Result<Arc<Self>> {
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
                removed: Atomic::new(false),
                live <- new_mutex!(Some(Live {
                    ctrl,
                    bounce: Bounce { data, list },
                })),
                namespaces <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )
    }

    /// Makes the disk queue of namespace `nsid` reachable by I/O commands.
    pub(crate) fn add_namespace(&self, nsid: u32, queue: Arc<PrivateQueue<NvmeOps>>) -> Result {
        self.namespaces.lock().push((nsid, queue), GFP_KERNEL)?;
        Ok(())
    }

    /// The controller is going away: fail passthrough from now on. An I/O
    /// command running keeps its disk's queue (not the disk) until it
    /// ends; an admin command running is waited for.
    pub(crate) fn remove(&self) {
        self.removed.store(true, Relaxed);
        // Dropped after the locks: putting a queue may free it.
        let gone = core::mem::take(&mut *self.namespaces.lock());
        drop(gone);
        let live = self.live.lock().take();
        drop(live);
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

    /// `NVME_IOCTL_IO_CMD`: one I/O command, for the namespace its NSID
    /// names or, through a block device, for that device's namespace
    /// (`ns`), whatever NSID the command carries, as in the C driver.
    fn io_cmd(&self, arg: UserArg, size: usize, ns: Option<u32>) -> Result<i32> {
        let p = Self::user_cmd(&arg, size)?;
        let (result, status) = self.run_io(&p, ns.unwrap_or(p.nsid))?;
        Self::put_result(&arg, size, result)?;
        Ok(i32::from(status))
    }

    /// `NVME_IOCTL_SUBMIT_IO` on the block device of namespace `ns`.
    fn submit_io(&self, arg: UserArg, ns: &NsInfo) -> Result<i32> {
        let mut b = [0u8; UserIo::SIZE];
        arg.slice(UserIo::SIZE).reader().read_slice(&mut b)?;
        let p = UserIo::from_bytes(&b)
            .passthru(ns.nsid, ns.lba_shift)
            .ok_or(EINVAL)?;
        if p.data_len > MAX_DATA {
            return Err(EINVAL);
        }
        let (_, status) = self.run_io(&p, ns.nsid)?;
        Ok(i32::from(status))
    }

    /// Runs I/O command `p` on the disk of namespace `nsid`; the result
    /// (dword 0) and status it completed with.
    fn run_io(&self, p: &Passthru, nsid: u32) -> Result<(u32, u16)> {
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
            .find(|(n, _)| *n == nsid)
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
        Ok((result, status))
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
        let len = p.data_len as usize;
        let user = UserPtr::from_addr(p.addr as usize);
        let live = self.live.lock();
        let Some(Live { ctrl, bounce }) = live.as_ref() else {
            return Err(ENODEV);
        };
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
        let c = match ctrl.admin.submit_status(p.command(data), timeout) {
            Ok(c) => c,
            Err(e) => {
                if e == ETIMEDOUT {
                    // The bounce buffer stays ours until the controller
                    // is reset and cannot write it any more.
                    let _ = ctrl.reset(format_args!(
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
        drop(live);
        Self::put_result(&arg, size, c.result)?;
        // A positive return is the NVMe status, as the C driver returns it.
        Ok(i32::from(c.status.0 & 0x7fff))
    }
}

impl CtrlDev {
    /// The ioctls of the block device of namespace `ns`.
    pub(crate) fn ns_ioctl(&self, ns: &NsInfo, cmd: u32, arg: UserArg) -> Result<i32> {
        if cmd == ioctl::ID {
            // Unprivileged, as in the C driver; NSIDs above i32::MAX come
            // back as what the C driver returns, the same bits.
            return Ok(ns.nsid as i32);
        }
        let size = match cmd {
            ioctl::ADMIN_CMD | ioctl::IO_CMD => Passthru::SIZE,
            ioctl::ADMIN64_CMD | ioctl::IO64_CMD => Passthru::SIZE64,
            ioctl::SUBMIT_IO => UserIo::SIZE,
            _ => return Err(ENOTTY),
        };
        if !capable_sys_admin() {
            return Err(EACCES);
        }
        match cmd {
            ioctl::ADMIN_CMD | ioctl::ADMIN64_CMD => self.admin_cmd(arg, size),
            ioctl::IO_CMD | ioctl::IO64_CMD => self.io_cmd(arg, size, Some(ns.nsid)),
            _ => self.submit_io(arg, ns),
        }
    }

    /// Resets the controller for the user, waiting for the reset to end.
    fn user_reset(&self) -> Result {
        let live = self.live.lock();
        let live = live.as_ref().ok_or(ENODEV)?;
        live.ctrl.reset(format_args!("requested by user"))
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
            ioctl::IO_CMD | ioctl::IO64_CMD => self.io_cmd(arg, size, None),
            // NVME_IOCTL_ID among them: as on the C driver's controller
            // device, namespace IDs belong to the namespaces' block devices.
            _ => Err(ENOTTY),
        }
    }
}
