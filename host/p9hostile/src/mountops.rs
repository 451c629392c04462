// SPDX-License-Identifier: GPL-2.0

//! Checks through v9fs mounts of what busybox cannot exercise: extended
//! attributes (Txattrwalk, Txattrcreate), POSIX locks between two clients
//! (Tlock, Tgetlock), and, on the wire, Tflush of a request in flight.

use crate::client::Client;
use p9::proto::{self, Request};
use std::{
    ffi::CString,
    fs::OpenOptions,
    io,
    os::{fd::AsRawFd, unix::ffi::OsStrExt},
    path::Path,
    process::Command,
    thread::sleep,
    time::Duration,
};

#[repr(C)]
#[derive(Default)]
struct Flock {
    l_type: i16,
    l_whence: i16,
    l_start: i64,
    l_len: i64,
    l_pid: i32,
}

const F_GETLK: i32 = 5;
const F_SETLK: i32 = 6;
const F_RDLCK: i16 = 0;
const F_WRLCK: i16 = 1;
const F_UNLCK: i16 = 2;

extern "C" {
    fn setxattr(path: *const i8, name: *const i8, value: *const u8, size: usize, flags: i32)
        -> i32;
    fn getxattr(path: *const i8, name: *const i8, value: *mut u8, size: usize) -> isize;
    fn listxattr(path: *const i8, list: *mut u8, size: usize) -> isize;
    fn removexattr(path: *const i8, name: *const i8) -> i32;
    fn fcntl(fd: i32, cmd: i32, ...) -> i32;
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("no NUL in paths")
}

fn get(p: &Path, name: &str) -> io::Result<Vec<u8>> {
    let (p, n) = (cpath(p), CString::new(name).unwrap());
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C strings; `buf` is writable for its length.
    let r = unsafe { getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr(), buf.len()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(r as usize);
    Ok(buf)
}

fn lock(fd: i32, cmd: i32, ty: i16, start: i64, len: i64) -> io::Result<Flock> {
    let mut fl = Flock {
        l_type: ty,
        l_whence: 0,
        l_start: start,
        l_len: len,
        l_pid: 0,
    };
    // SAFETY: `fl` is a valid struct flock for F_GETLK/F_SETLK.
    let r = unsafe { fcntl(fd, cmd, &mut fl as *mut Flock) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fl)
}

fn check(ok: bool, what: &str, failures: &mut Vec<String>, passed: &mut usize) {
    if ok {
        *passed += 1;
    } else {
        eprintln!("mountops: FAILED: {what}");
        failures.push(what.to_string());
    }
}

/// `hold-lock FILE SECONDS`: takes a write lock on bytes 0-99 of FILE and
/// holds it for SECONDS (the other client of the lock checks).
pub fn hold_lock(file: &str, secs: u64) -> i32 {
    let f = match OpenOptions::new().read(true).write(true).open(file) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("hold-lock: open {file}: {e}");
            return 1;
        }
    };
    if let Err(e) = lock(f.as_raw_fd(), F_SETLK, F_WRLCK, 0, 100) {
        eprintln!("hold-lock: F_SETLK: {e}");
        return 1;
    }
    println!("locked");
    sleep(Duration::from_secs(secs));
    0
}

/// `mountops MNT_A MNT_B`: two mounts of one export.
pub fn run(a: &str, b: &str) -> i32 {
    let (a, b) = (Path::new(a), Path::new(b));
    let mut failures = Vec::new();
    let mut passed = 0;

    // Extended attributes.
    let f = a.join("xattr-file");
    if let Err(e) = std::fs::write(&f, b"x") {
        eprintln!("mountops: cannot create {}: {e}", f.display());
        return 1;
    }
    let (p, n, v) = (
        cpath(&f),
        CString::new("user.rsuite").unwrap(),
        b"some value",
    );
    // SAFETY: valid C strings and value buffer.
    let r = unsafe { setxattr(p.as_ptr(), n.as_ptr(), v.as_ptr(), v.len(), 0) };
    check(
        r == 0,
        &format!("setxattr user.rsuite: {}", io::Error::last_os_error()),
        &mut failures,
        &mut passed,
    );
    let got = get(&f, "user.rsuite");
    check(
        matches!(&got, Ok(g) if g == v),
        &format!("getxattr user.rsuite gave {got:?}"),
        &mut failures,
        &mut passed,
    );
    // The other client sees it too (through its own fids).
    let got = get(&b.join("xattr-file"), "user.rsuite");
    check(
        matches!(&got, Ok(g) if g == v),
        &format!("getxattr from the other mount gave {got:?}"),
        &mut failures,
        &mut passed,
    );
    let mut list = vec![0u8; 4096];
    // SAFETY: valid C string; `list` writable for its length.
    let r = unsafe { listxattr(p.as_ptr(), list.as_mut_ptr(), list.len()) };
    let names = if r > 0 { &list[..r as usize] } else { &[][..] };
    check(
        names.split(|&c| c == 0).any(|s| s == b"user.rsuite"),
        "listxattr lists user.rsuite",
        &mut failures,
        &mut passed,
    );
    // SAFETY: valid C strings.
    let r = unsafe { removexattr(p.as_ptr(), n.as_ptr()) };
    check(
        r == 0,
        &format!("removexattr: {}", io::Error::last_os_error()),
        &mut failures,
        &mut passed,
    );
    let got = get(&f, "user.rsuite");
    check(
        matches!(&got, Err(e) if e.raw_os_error() == Some(61)),
        &format!("getxattr after removal gave {got:?}, not ENODATA"),
        &mut failures,
        &mut passed,
    );
    let got = get(&f, "user.nonexistent");
    check(
        matches!(&got, Err(e) if e.raw_os_error() == Some(61)),
        &format!("getxattr of a missing name gave {got:?}, not ENODATA"),
        &mut failures,
        &mut passed,
    );

    // POSIX locks between two clients: a child holds a write lock through
    // mount A; through mount B, F_GETLK reports it and F_SETLK is refused;
    // once the child is gone the lock is free.
    let lf = a.join("lock-file");
    let _ = std::fs::write(&lf, vec![0u8; 4096]);
    let me = std::env::current_exe().unwrap();
    let mut child = Command::new(me)
        .args(["hold-lock", lf.to_str().unwrap(), "600"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the lock holder");
    // It says "locked" once the server granted the lock.
    let mut line = String::new();
    let _ = std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    );
    check(
        line.trim() == "locked",
        &format!("the holder's lock: {line:?}"),
        &mut failures,
        &mut passed,
    );
    let fb = OpenOptions::new()
        .read(true)
        .write(true)
        .open(b.join("lock-file"))
        .unwrap();
    let fd = fb.as_raw_fd();
    let t = lock(fd, F_GETLK, F_WRLCK, 0, 10);
    check(
        matches!(&t, Ok(fl) if fl.l_type == F_WRLCK && fl.l_start == 0),
        &format!(
            "F_GETLK through the other mount: {:?}",
            t.as_ref().map(|fl| (fl.l_type, fl.l_start, fl.l_len))
        ),
        &mut failures,
        &mut passed,
    );
    let r = lock(fd, F_SETLK, F_RDLCK, 50, 10);
    check(
        r.is_err(),
        "F_SETLK of a locked range through the other mount succeeded",
        &mut failures,
        &mut passed,
    );
    let r = lock(fd, F_SETLK, F_WRLCK, 200, 10);
    check(
        r.is_ok(),
        &format!("F_SETLK of a free range: {:?}", r.err()),
        &mut failures,
        &mut passed,
    );
    // The holder's file is closed when it dies, and its locks go with it.
    let _ = child.kill();
    let _ = child.wait();
    sleep(Duration::from_millis(500));
    let r = lock(fd, F_SETLK, F_WRLCK, 0, 100);
    check(
        r.is_ok(),
        &format!("F_SETLK after the holder exited: {:?}", r.err()),
        &mut failures,
        &mut passed,
    );
    let r = lock(fd, F_SETLK, F_UNLCK, 0, 0);
    check(r.is_ok(), "unlock", &mut failures, &mut passed);
    drop(fb);
    let _ = std::fs::remove_file(&lf);
    let _ = std::fs::remove_file(&f);

    if failures.is_empty() {
        println!("mountops: {passed} checks passed");
        0
    } else {
        println!(
            "mountops: {passed} checks passed, {} failed",
            failures.len()
        );
        1
    }
}

/// `flush ADDR FILE`: Tflush of a request in flight and of an unknown tag,
/// on the wire (FILE is a large file in the export's root).
pub fn flush(addr: std::net::SocketAddr, file: &str) -> i32 {
    let run = || -> Result<usize, String> {
        let mut c = Client::connect(addr, Duration::from_secs(10)).map_err(|e| e.to_string())?;
        c.version().map_err(|e| format!("version: {e:?}"))?;
        c.attach(0).map_err(|e| format!("attach: {e:?}"))?;
        c.walk(0, 1, &[file.as_bytes()])
            .map_err(|e| format!("walk: {e:?}"))?;
        c.lopen(1, 0).map_err(|e| format!("lopen: {e:?}"))?;
        let mut checks = 0;
        // An unknown tag: Rflush at once.
        let r = c
            .rpc(&Request::Flush { oldtag: 777 })
            .map_err(|e| format!("flush: {e:?}"))?;
        if r.ecode().is_some() {
            return Err(format!("Tflush of an unknown tag got {}", r.describe()));
        }
        checks += 1;
        // Many reads, each followed at once by a Tflush of it: the read's
        // reply (if any) must come before the Rflush, never after.
        for round in 0..200u16 {
            let (rtag, ftag) = (100 + round * 2, 101 + round * 2);
            let mut buf = vec![0u8; 64];
            let n = proto::encode_request(
                &mut buf,
                rtag,
                &Request::Read {
                    fid: 1,
                    offset: 0,
                    count: 60000,
                },
            )
            .map_err(|_| "encode")?;
            let mut msg = buf[..n].to_vec();
            let n = proto::encode_request(&mut buf, ftag, &Request::Flush { oldtag: rtag })
                .map_err(|_| "encode")?;
            msg.extend_from_slice(&buf[..n]);
            c.send_raw(&msg).map_err(|e| format!("send: {e:?}"))?;
            let mut flushed = false;
            while !flushed {
                let f = c
                    .recv_frame()
                    .map_err(|e| format!("round {round}: {e:?}"))?;
                let tag = u16::from_le_bytes([f[5], f[6]]);
                match (f[4], tag) {
                    (ty, t) if ty == proto::msg::RREAD && t == rtag => {}
                    (ty, t) if ty == proto::msg::RFLUSH && t == ftag => flushed = true,
                    (ty, t) => {
                        return Err(format!("round {round}: unexpected reply type {ty} tag {t}"))
                    }
                }
            }
            checks += 1;
        }
        Ok(checks)
    };
    match run() {
        Ok(n) => {
            println!("flush: {n} checks passed");
            0
        }
        Err(e) => {
            eprintln!("flush: FAILED: {e}");
            1
        }
    }
}
