// SPDX-License-Identifier: GPL-2.0

//! nvme-user-io: one `NVME_IOCTL_SUBMIT_IO` on an NVMe namespace's block
//! device, the ioctl that nvme-cli does not use (it sends reads and writes
//! as `NVME_IOCTL_IO_CMD`).
//!
//! ```text
//! nvme-user-io DEV read|write|compare SLBA BLOCKS BLOCK_SIZE
//! ```
//!
//! Moves `BLOCKS` logical blocks of `BLOCK_SIZE` bytes at `SLBA`: a write
//! or compare takes its data from stdin, a read puts it on stdout. Exit
//! status 0 on success, 1 if the ioctl failed (errno on stderr), 2 if the
//! command completed with an NVMe status (on stderr, as a number), 3 for
//! bad arguments.
//!
//! With `NVME_USER_IO_AFTER=PATH` in the environment it opens DEV, then
//! waits (up to 120 s) for PATH to go away, say the disk's sysfs directory
//! after the controller's removal, before the ioctl: the call on a block
//! device that outlived its disk.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::process::exit;

/// `_IOW('N', 0x42, struct nvme_user_io)`.
const NVME_IOCTL_SUBMIT_IO: libc::c_ulong = 0x4030_4e42;

/// `struct nvme_user_io`.
#[repr(C)]
#[derive(Default)]
struct UserIo {
    opcode: u8,
    flags: u8,
    control: u16,
    nblocks: u16,
    rsvd: u16,
    metadata: u64,
    addr: u64,
    slba: u64,
    dsmgmt: u32,
    reftag: u32,
    apptag: u16,
    appmask: u16,
}

fn usage() -> ! {
    eprintln!("usage: nvme-user-io DEV read|write|compare SLBA BLOCKS BLOCK_SIZE");
    exit(3)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dev, op, slba, blocks, bs] = &args[..] else {
        usage()
    };
    let opcode = match op.as_str() {
        "write" => 0x01,
        "read" => 0x02,
        "compare" => 0x05,
        _ => usage(),
    };
    let num = |s: &str| s.parse::<u64>().unwrap_or_else(|_| usage());
    let (slba, blocks, bs) = (num(slba), num(blocks), num(bs));
    if !(1..=65536).contains(&blocks) || bs == 0 {
        usage();
    }
    let mut buf = vec![0u8; (blocks * bs) as usize];
    if opcode != 0x02 {
        if let Err(e) = std::io::stdin().read_exact(&mut buf) {
            eprintln!("nvme-user-io: reading {} bytes from stdin: {e}", buf.len());
            exit(1);
        }
    }
    let f = match std::fs::OpenOptions::new().read(true).open(dev) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("nvme-user-io: {dev}: {e}");
            exit(1);
        }
    };
    if let Some(path) = std::env::var_os("NVME_USER_IO_AFTER") {
        eprintln!(
            "nvme-user-io: {dev} open, waiting for {} to go",
            path.to_string_lossy()
        );
        let mut waited = 0;
        while std::path::Path::new(&path).exists() {
            if waited == 1200 {
                eprintln!(
                    "nvme-user-io: {} still there after 120 s",
                    path.to_string_lossy()
                );
                exit(1);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            waited += 1;
        }
    }
    let io = UserIo {
        opcode,
        nblocks: (blocks - 1) as u16,
        addr: buf.as_mut_ptr() as u64,
        slba,
        ..Default::default()
    };
    // SAFETY: `io` is a `struct nvme_user_io` whose `addr` is `buf`, large
    // enough for the transfer and alive across the call.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), NVME_IOCTL_SUBMIT_IO as _, &io) };
    if r < 0 {
        eprintln!(
            "nvme-user-io: NVME_IOCTL_SUBMIT_IO: {}",
            std::io::Error::last_os_error()
        );
        exit(1);
    }
    if r > 0 {
        eprintln!("nvme-user-io: NVMe status {r:#x}");
        exit(2);
    }
    if opcode == 0x02 {
        if let Err(e) = std::io::stdout().write_all(&buf) {
            eprintln!("nvme-user-io: writing stdout: {e}");
            exit(1);
        }
    }
}
