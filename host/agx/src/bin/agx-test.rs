// SPDX-License-Identifier: GPL-2.0

//! agx-test: the rust_agx checks the VM tests run.
//!
//! ```text
//! agx-test ioctls          every driver ioctl, valid and invalid arguments
//! agx-test cmds            fill, copy, compute (SAXPY, checksum, every opcode)
//! agx-test order           barriers, queue order, timelines across queues
//! agx-test fault           page faults, illegal instructions; another
//!                          process keeps working meanwhile
//! agx-test timeout         a runaway job times out; the queue recovers
//! agx-test teardown        close, unbind, destroy with jobs in flight
//! agx-test prime           a BO shared with another process
//! agx-test fuzz [N [SEED]] N random ioctls (default 100000), then SAXPY
//! ```
//!
//! One line per check, `ok - NAME` or `not ok - NAME: DETAIL`, comments
//! (`# ...`) for measurements and for behaviour the UAPI leaves open, and
//! last `agx-test SUITE: N passed, M failed`. Exit status 1 on any failure,
//! 2 on a usage error.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::exit;
use std::time::{Duration, Instant};

use agx::abi::{self, GetFault, ParamsGlobal, VmBindOp};
use agx::fw::cmd::{self, Cmd};
use agx::fw::uapi::{
    self, BIND_READ, BIND_UNBIND, BIND_WRITE, FAULT_ILLEGAL, FAULT_NONE, FAULT_OBJECT_QUEUE,
    FAULT_OBJECT_VM, FAULT_PAGE, FAULT_TIMEOUT,
};
use agx::programs::{self, PATTERN, PATTERN_STEPS};
use agx::rng::Rng;
use agx::{
    err_name, errno, errno_name, fork, req, status_name, workloads, BadAddr, Bo, Buffer, CmdBuf,
    Context, Device, Mapping, Program, Queue, SyncPoint, Syncobj, UserPtr, PAGE_SIZE,
};
use libc::{EBADF, EBUSY, EFAULT, EINVAL, EIO, ENOENT, ETIMEDOUT};

const USAGE: &str =
    "usage: agx-test ioctls|cmds|order|fault|timeout|teardown|prime|fuzz [N [SEED]]";

/// How long a job that should succeed may take (the GPU is a model in a
/// VM, perhaps emulated).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);
const RW: u32 = BIND_READ | BIND_WRITE;
const P: u64 = PAGE_SIZE;
/// An id no file has (ids are small integers).
const BAD_ID: u32 = 0x7fff_fff0;

// --- reporting ------------------------------------------------------------------------

struct Tap {
    passed: u32,
    failed: u32,
}

impl Tap {
    fn ok(&mut self, name: &str) {
        println!("ok - {name}");
        self.passed += 1;
    }

    fn fail(&mut self, name: &str, detail: impl Display) {
        println!("not ok - {name}: {detail}");
        self.failed += 1;
    }

    fn note(&self, msg: impl Display) {
        println!("# {msg}");
    }

    fn check(&mut self, name: &str, r: Result<(), String>) -> bool {
        match r {
            Ok(()) => {
                self.ok(name);
                true
            }
            Err(e) => {
                self.fail(name, e);
                false
            }
        }
    }

    fn expect_ok<T>(&mut self, name: &str, r: io::Result<T>) -> Option<T> {
        match r {
            Ok(v) => {
                self.ok(name);
                Some(v)
            }
            Err(e) => {
                self.fail(name, format!("failed with {}", err_name(&e)));
                None
            }
        }
    }

    /// Passes if `r` failed with one of `want` (the first is what the
    /// UAPI implies; others are noted when seen).
    fn expect_err<T>(&mut self, name: &str, r: io::Result<T>, want: &[i32]) -> bool {
        let names = || {
            want.iter()
                .map(|&e| errno_name(e))
                .collect::<Vec<_>>()
                .join(" or ")
        };
        match r {
            Ok(_) => {
                self.fail(name, format!("succeeded, expected {}", names()));
                false
            }
            Err(e) if want.contains(&errno(&e)) => {
                if errno(&e) != want[0] {
                    self.note(format!("{name}: {}", err_name(&e)));
                }
                self.ok(name);
                true
            }
            Err(e) => {
                self.fail(
                    name,
                    format!("failed with {}, expected {}", err_name(&e), names()),
                );
                false
            }
        }
    }

    fn finish(self, suite: &str) -> i32 {
        println!(
            "agx-test {suite}: {} passed, {} failed",
            self.passed, self.failed
        );
        i32::from(self.failed > 0)
    }
}

/// `Err(msg())` unless `cond`.
fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

fn e2s(e: io::Error) -> String {
    err_name(&e)
}

/// Unwraps a setup step, or reports it and returns from the suite.
macro_rules! setup {
    ($t:expr, $what:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => {
                $t.fail(&format!("setup: {}", $what), e);
                return;
            }
        }
    };
}

// --- job helpers ------------------------------------------------------------------------

/// Runs `cb` on `q`: the fence's status (1 ok, < 0 the job's error).
fn run_status(q: &Queue, cb: &CmdBuf) -> Result<i32, String> {
    q.run(cb, JOB_TIMEOUT)
        .map_err(|e| format!("run: {}", err_name(&e)))
}

/// Runs `cb` on `q` and requires success.
fn run_ok(q: &Queue, cb: &CmdBuf) -> Result<(), String> {
    let s = run_status(q, cb)?;
    ensure(s == 1, || format!("fence {}", status_name(s)))
}

/// Requires `n` words of `m` from word `first` to be `want(i)`.
fn check_words(
    m: &Mapping,
    first: usize,
    n: usize,
    want: impl Fn(usize) -> u32,
) -> Result<(), String> {
    let got = m.u32s(first, n);
    match got.iter().enumerate().find(|(i, &g)| g != want(*i)) {
        None => Ok(()),
        Some((i, &g)) => Err(format!(
            "word {} is {g:#010x}, expected {:#010x}",
            first + i,
            want(i)
        )),
    }
}

/// Requires `got == want`, naming the first differing byte.
fn check_bytes(got: &[u8], want: &[u8], what: &str) -> Result<(), String> {
    ensure(got.len() == want.len(), || {
        format!("{what}: {} bytes, expected {}", got.len(), want.len())
    })?;
    match got.iter().zip(want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{what}: byte {i} is {:#04x}, expected {:#04x}",
            got[i], want[i]
        )),
    }
}

/// Requires GET_FAULT of (`object`, `id`) to report `state`/`unit`/`access`
/// and an address accepted by `addr_ok`.
fn check_fault(
    dev: &Device,
    object: u32,
    id: u32,
    want: (u32, u32, u32),
    addr_ok: impl Fn(u64) -> bool,
) -> Result<GetFault, String> {
    let f = dev
        .get_fault(object, id)
        .map_err(|e| format!("GET_FAULT: {}", err_name(&e)))?;
    let (state, unit, access) = want;
    ensure(
        f.state == state && f.unit == unit && f.access == access && addr_ok(f.address),
        || {
            format!(
                "state {} unit {} access {} address {:#x}, expected state {state} unit {unit} access {access}",
                f.state, f.unit, f.access, f.address
            )
        },
    )?;
    Ok(f)
}

/// A program that spins for a calibrated time, to keep a unit busy.
struct Spin {
    prog: Program,
    iters: u64,
}

impl Spin {
    /// Spins `iters` iterations (at most 2^31 - 1: max_steps is a u32),
    /// in `ctx`'s VM.
    fn new(ctx: &mut Context, iters: u64) -> io::Result<Spin> {
        Ok(Spin {
            prog: ctx.program(&programs::SPIN)?,
            iters: iters.clamp(1, (1 << 31) - 1),
        })
    }

    /// Measures the GPU's speed and picks iterations for about `target`.
    fn calibrate(ctx: &mut Context, target: Duration, t: &Tap) -> Result<Spin, String> {
        let mut s = Spin::new(ctx, 20_000).map_err(e2s)?;
        loop {
            let mut cb = CmdBuf::new();
            s.add(&mut cb, None);
            let t0 = Instant::now();
            run_ok(ctx.queue(), &cb)?;
            let dt = t0.elapsed();
            if dt >= Duration::from_millis(60) || s.iters >= 1 << 26 {
                let rate = programs::spin_steps(s.iters) as f64 / dt.as_secs_f64();
                let iters = ((rate * target.as_secs_f64() / 2.0) as u64).clamp(1000, 1 << 30);
                t.note(format!(
                    "GPU runs {:.1} M instructions/s; spinning {iters} iterations for ~{} ms",
                    rate / 1e6,
                    target.as_millis()
                ));
                s.iters = iters.min((1 << 31) - 1);
                return Ok(s);
            }
            s.iters *= 4;
        }
    }

    /// Appends the spin to `cb`.
    fn add(&self, cb: &mut CmdBuf, barrier: Option<u16>) -> u16 {
        let steps = programs::spin_steps(self.iters) as u32;
        cb.compute(&self.prog, 1, [self.iters, 0, 0, 0], steps, barrier)
    }
}

/// Appends PATTERN over `n` words of `buf`: `buf[i] = i * mul + add`.
fn add_pattern(cb: &mut CmdBuf, prog: &Program, buf: &Buffer, n: u32, mul: u64, add: u64) -> u16 {
    cb.compute(prog, n, [0, buf.va, mul, add], PATTERN_STEPS, None)
}

/// Runs `f` in a child process that must exit 0 within `deadline`.
fn in_child(t: &mut Tap, name: &str, deadline: Duration, f: impl FnOnce() -> i32) {
    match fork(f) {
        Err(e) => t.fail(name, format!("fork: {e}")),
        Ok(mut c) => match c.wait_timeout(deadline) {
            Ok(Some(0)) => t.ok(name),
            Ok(Some(code)) => t.fail(name, format!("child exited with {code}")),
            Ok(None) => {
                t.fail(
                    name,
                    format!("child still running after {} s: hung", deadline.as_secs()),
                );
                c.kill();
            }
            Err(e) => t.fail(name, format!("wait: {e}")),
        },
    }
}

/// A child's body: runs `f`, prints its error as a comment, exit code.
fn child_body(f: impl FnOnce() -> Result<(), String>) -> i32 {
    match f() {
        Ok(()) => 0,
        Err(e) => {
            println!("# child {}: {e}", std::process::id());
            1
        }
    }
}

fn bind_op(flags: u32, handle: u32, offset: u64, range: u64, addr: u64) -> VmBindOp {
    VmBindOp {
        flags,
        handle,
        offset,
        range,
        addr,
    }
}

fn vm_bind_raw(dev: &Device, vm: u32, ops: &[VmBindOp], stride: u32, pad: u32) -> io::Result<()> {
    let mut a = abi::VmBind {
        vm_id: vm,
        num_binds: ops.len() as u32,
        stride,
        pad,
        userptr: 0,
    };
    dev.raw_vm_bind(&mut a, UserPtr::input(ops))
}

/// Submits with every count and field given.
fn submit_raw(
    dev: &Device,
    q: u32,
    cb: &[u8],
    syncs: &[abi::Sync],
    counts: (u32, u32),
    flags: u32,
    pad: u32,
) -> io::Result<()> {
    let mut a = abi::Submit {
        queue_id: q,
        in_sync_count: counts.0,
        out_sync_count: counts.1,
        cmdbuf_size: cb.len() as u32,
        flags,
        pad,
        ..Default::default()
    };
    dev.raw_submit(&mut a, UserPtr::input(syncs), UserPtr::input(cb))
}

/// A FILL command buffer whose header says `payload` bytes (>= 24,
/// zero-extended): for the size limits.
fn padded_fill(addr: u64, payload: u16) -> Vec<u8> {
    let mut b = CmdBuf::new();
    b.fill(addr, 4, 0x5a5a_5a5a, None);
    let mut v = b.bytes().to_vec();
    v[2..4].copy_from_slice(&payload.to_le_bytes());
    v.resize(cmd::HEADER_SIZE + usize::from(payload), 0);
    v
}

/// Zero-extended 4-byte fills at `addr` making exactly `limit` bytes (a
/// multiple of 8, at least 32).
fn exact_size_cmdbuf(addr: u64, limit: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    while buf.len() < limit {
        let left = limit - buf.len();
        let chunk = left.min(cmd::HEADER_SIZE + 65528);
        // Leave room for one more command, if anything is left.
        let chunk = if left - chunk != 0 && left - chunk < 32 {
            chunk - 32
        } else {
            chunk
        };
        buf.extend(padded_fill(addr, (chunk - cmd::HEADER_SIZE) as u16));
    }
    buf
}

// --- ioctls ---------------------------------------------------------------------------------

fn ioctls(t: &mut Tap) {
    let dev = setup!(t, "open the render node", Device::open());
    let p: ParamsGlobal = *dev.params();
    match dev.version() {
        Ok(v) => {
            t.note(format!(
                "{} {}.{}.{} at {}",
                v.name,
                v.major,
                v.minor,
                v.patchlevel,
                dev.path().display()
            ));
            t.check(
                "version: driver name is rust_agx",
                ensure(v.name == "rust_agx", || v.name.clone()),
            );
        }
        Err(e) => t.fail("version", err_name(&e)),
    }
    t.note(format!("params: {p:?}"));
    t.check(
        "params: uabi_version 1",
        ensure(p.uabi_version == 1, || p.uabi_version.to_string()),
    );
    t.check(
        "params: page_size is DRM_RAGX_PAGE_SIZE",
        ensure(p.page_size == P, || format!("{:#x}", p.page_size)),
    );
    t.check(
        "params: VM range is page aligned, non-empty, inside the GPU's user range",
        ensure(
            p.vm_start.is_multiple_of(P)
                && p.vm_end.is_multiple_of(P)
                && p.vm_start < p.vm_end
                && p.vm_start >= agx::fw::pgtable::USER_VA_START
                && p.vm_end <= agx::fw::pgtable::USER_VA_END,
            || format!("[{:#x}, {:#x})", p.vm_start, p.vm_end),
        ),
    );
    t.check(
        "params: limits are non-zero and within the command parser's",
        ensure(
            p.num_vms_max >= 1
                && p.num_priorities >= 1
                && p.timer_frequency_hz > 0
                && (1..=cmd::MAX_CMDS as u32).contains(&p.max_commands_per_submission)
                && (cmd::HEADER_SIZE as u32 + 24..=cmd::MAX_CMDBUF_SIZE as u32)
                    .contains(&p.max_cmdbuf_size)
                && p.max_syncs >= 2
                && (1..=cmd::MAX_INVOCATIONS).contains(&p.max_invocations),
            || format!("{p:?}"),
        ),
    );

    get_params_checks(t, &dev);
    get_time_checks(t, &dev, &p);
    vm_create_checks(t, &dev);
    gem_checks(t, &dev);
    vm_bind_checks(t, &dev, &p);
    queue_checks(t, &dev, &p);
    submit_checks(t, &dev, &p);
    fault_object_checks(t, &dev);
    vm_destroy_in_use_checks(t, &dev);
    other_file_checks(t, &dev);
}

fn get_params_checks(t: &mut Tap, dev: &Device) {
    let mut full = [0u8; 64];
    match dev.get_params(0, &mut full) {
        Ok(size) => {
            let decoded = uapi::ParamsGlobal::decode(&full).unwrap();
            let p = dev.params();
            t.check(
                "GET_PARAMS: group 0 is 64 bytes, as read at open",
                ensure(
                    size == 64
                        && decoded.vm_start == p.vm_start
                        && decoded.max_syncs == p.max_syncs,
                    || format!("size {size}, {decoded:?}"),
                ),
            );
        }
        Err(e) => t.fail("GET_PARAMS: group 0", err_name(&e)),
    }
    // A short buffer: a truncated copy, and the whole group's size back.
    let mut small = [0xaau8; 64];
    let mut a = abi::GetParams {
        size: 8,
        ..Default::default()
    };
    let r = dev.raw_get_params(&mut a, UserPtr::output(&mut small));
    t.check(
        "GET_PARAMS: size 8 copies 8 bytes and returns size 64",
        match r {
            Ok(()) => ensure(
                a.size == 64 && small[..8] == full[..8] && small[8..].iter().all(|&b| b == 0xaa),
                || format!("size out {}, bytes {:02x?}", a.size, &small[..16]),
            ),
            Err(e) => Err(err_name(&e)),
        },
    );
    let mut big = [0xaau8; 256];
    let mut a = abi::GetParams {
        size: 256,
        ..Default::default()
    };
    let r = dev.raw_get_params(&mut a, UserPtr::output(&mut big));
    t.check(
        "GET_PARAMS: size 256 copies 64 bytes and returns size 64",
        match r {
            Ok(()) => ensure(
                a.size == 64 && big[..64] == full[..] && big[64..].iter().all(|&b| b == 0xaa),
                || format!("size out {}", a.size),
            ),
            Err(e) => Err(err_name(&e)),
        },
    );
    let mut a = abi::GetParams {
        size: 0,
        ..Default::default()
    };
    let r = dev.raw_get_params(&mut a, UserPtr::bad(BadAddr::Null));
    t.check(
        "GET_PARAMS: size 0 with a NULL pointer returns size 64",
        r.map_err(e2s)
            .and_then(|()| ensure(a.size == 64, || format!("size out {}", a.size))),
    );
    let mut buf = [0u8; 64];
    let mut a = abi::GetParams {
        pad: 1,
        size: 64,
        ..Default::default()
    };
    t.expect_err(
        "GET_PARAMS: non-zero pad",
        dev.raw_get_params(&mut a, UserPtr::output(&mut buf)),
        &[EINVAL],
    );
    for group in [1, u32::MAX] {
        let mut a = abi::GetParams {
            param_group: group,
            size: 64,
            ..Default::default()
        };
        t.expect_err(
            &format!("GET_PARAMS: unknown group {group:#x}"),
            dev.raw_get_params(&mut a, UserPtr::output(&mut buf)),
            &[EINVAL],
        );
    }
    let mut a = abi::GetParams {
        size: 64,
        ..Default::default()
    };
    t.expect_err(
        "GET_PARAMS: bad pointer",
        dev.raw_get_params(&mut a, UserPtr::bad(BadAddr::Kernel)),
        &[EFAULT],
    );
}

fn get_time_checks(t: &mut Tap, dev: &Device, p: &ParamsGlobal) {
    let t0 = Instant::now();
    let r1 = dev.get_time();
    std::thread::sleep(Duration::from_millis(100));
    let r2 = dev.get_time();
    let wall = t0.elapsed().as_secs_f64();
    match (r1, r2) {
        (Ok(a), Ok(b)) => {
            let rate = b.wrapping_sub(a) as f64 / wall;
            let ratio = rate / p.timer_frequency_hz as f64;
            t.note(format!(
                "GET_TIME advanced {} ticks in {:.1} ms: {ratio:.2} x timer_frequency_hz",
                b - a.min(b),
                wall * 1e3
            ));
            t.check(
                "GET_TIME: advances at about timer_frequency_hz",
                ensure(b > a && (0.5..2.0).contains(&ratio), || {
                    format!("{a} then {b}, ratio {ratio:.2}")
                }),
            );
        }
        (Err(e), _) | (_, Err(e)) => t.fail("GET_TIME", err_name(&e)),
    }
    let mut a = abi::GetTime {
        flags: 1,
        gpu_timestamp: 0,
    };
    t.expect_err(
        "GET_TIME: non-zero flags",
        dev.raw(req::RAGX_GET_TIME, &mut a),
        &[EINVAL],
    );
}

fn vm_create_checks(t: &mut Tap, dev: &Device) {
    let mut a = abi::VmCreate { flags: 1, vm_id: 0 };
    t.expect_err(
        "VM_CREATE: non-zero flags",
        dev.raw(req::RAGX_VM_CREATE, &mut a),
        &[EINVAL],
    );
    let Some(vm) = t.expect_ok("VM_CREATE", dev.vm_create()) else {
        return;
    };
    let mut a = abi::VmDestroy { vm_id: vm, pad: 1 };
    t.expect_err(
        "VM_DESTROY: non-zero pad",
        dev.raw(req::RAGX_VM_DESTROY, &mut a),
        &[EINVAL],
    );
    t.expect_ok("VM_DESTROY", dev.vm_destroy(vm));
    t.expect_err("VM_DESTROY: twice", dev.vm_destroy(vm), &[ENOENT]);
    t.expect_err("VM_DESTROY: unknown id", dev.vm_destroy(BAD_ID), &[ENOENT]);
}

fn gem_checks(t: &mut Tap, dev: &Device) {
    t.expect_err("GEM_CREATE: size 0", dev.gem_create(0), &[EINVAL]);
    let mut a = abi::GemCreate {
        size: P,
        flags: 1,
        handle: 0,
    };
    t.expect_err(
        "GEM_CREATE: non-zero flags",
        dev.raw(req::RAGX_GEM_CREATE, &mut a),
        &[EINVAL],
    );
    t.expect_err(
        "GEM_CREATE: size u64::MAX",
        dev.gem_create(u64::MAX),
        &[EINVAL],
    );
    t.expect_err(
        "GEM_CREATE: size that overflows when rounded up",
        dev.gem_create(u64::MAX - P + 2),
        &[EINVAL],
    );
    if let Some(h) = t.expect_ok("GEM_CREATE: size 1", dev.gem_create(1)) {
        // The size is rounded up to a page: the whole page maps, and reads zero.
        let r = dev
            .gem_mmap_offset(h)
            .and_then(|off| dev.mmap(off, P as usize));
        t.check(
            "GEM_MMAP_OFFSET + mmap: a 1-byte BO maps a whole 16 KiB page",
            r.map_err(e2s)
                .and_then(|m| ensure(m.to_vec().iter().all(|&b| b == 0), || "not zeroed".into())),
        );
        let mut a = abi::GemMmapOffset {
            handle: h,
            flags: 1,
            offset: 0,
        };
        t.expect_err(
            "GEM_MMAP_OFFSET: non-zero flags",
            dev.raw(req::RAGX_GEM_MMAP_OFFSET, &mut a),
            &[EINVAL],
        );
        t.expect_ok("GEM_CLOSE", dev.gem_close(h));
        t.expect_err("GEM_CLOSE: twice", dev.gem_close(h), &[EINVAL]);
        t.expect_err(
            "GEM_MMAP_OFFSET: closed handle",
            dev.gem_mmap_offset(h),
            &[ENOENT],
        );
    }
    t.expect_err(
        "GEM_MMAP_OFFSET: unknown handle",
        dev.gem_mmap_offset(BAD_ID),
        &[ENOENT],
    );
    // Fresh memory must not leak earlier contents.
    match Bo::new(dev, 1 << 20) {
        Ok(bo) => {
            t.check(
                "GEM_CREATE: a new 1 MiB BO reads zero",
                ensure(bo.to_vec().iter().all(|&b| b == 0), || "not zeroed".into()),
            );
        }
        Err(e) => t.fail("GEM_CREATE: 1 MiB", err_name(&e)),
    }
}

fn vm_bind_checks(t: &mut Tap, dev: &Device, p: &ParamsGlobal) {
    let vm = setup!(t, "VM_CREATE", agx::Vm::new(dev).map_err(e2s));
    let bo = setup!(t, "a 4-page BO", Bo::new_unmapped(dev, 4 * P).map_err(e2s));
    let v = vm.id();
    let h = bo.handle();
    let base = p.vm_start;
    let bind = |o: VmBindOp| dev.vm_bind(v, &[o]);
    t.expect_ok(
        "VM_BIND: map 4 pages RW at vm_start",
        bind(bind_op(RW, h, 0, 4 * P, base)),
    );
    let free = base + 64 * P; // nothing mapped there
    let top = !(P - 1);
    let mut cases: Vec<(&str, VmBindOp, &[i32])> = vec![
        (
            "map over the same range",
            bind_op(RW, h, 0, 4 * P, base),
            &[EINVAL],
        ),
        (
            "map over part of a mapping",
            bind_op(RW, h, 0, P, base + 3 * P),
            &[EINVAL],
        ),
        (
            "map straddling a mapping's end",
            bind_op(RW, h, 0, 2 * P, base + 3 * P),
            &[EINVAL],
        ),
        (
            "map without READ or WRITE",
            bind_op(0, h, 0, P, free),
            &[EINVAL],
        ),
        (
            "map with an unknown flag",
            bind_op(RW | 1 << 3, h, 0, P, free),
            &[EINVAL],
        ),
        ("map range 0", bind_op(RW, h, 0, 0, free), &[EINVAL]),
        (
            "map at a misaligned address",
            bind_op(RW, h, 0, P, free + 0x1000),
            &[EINVAL],
        ),
        (
            "map a misaligned range",
            bind_op(RW, h, 0, 0x1000, free),
            &[EINVAL],
        ),
        (
            "map at a misaligned offset",
            bind_op(RW, h, 0x1000, P, free),
            &[EINVAL],
        ),
        ("map at vm_end", bind_op(RW, h, 0, P, p.vm_end), &[EINVAL]),
        (
            "map across vm_end",
            bind_op(RW, h, 0, 2 * P, p.vm_end - P),
            &[EINVAL],
        ),
        (
            "map where addr + range overflows",
            bind_op(RW, h, 0, 2 * P, top),
            &[EINVAL],
        ),
        ("map a huge range", bind_op(RW, h, 0, top, free), &[EINVAL]),
        (
            "map beyond the BO's end",
            bind_op(RW, h, 3 * P, 2 * P, free),
            &[EINVAL],
        ),
        (
            "map at the BO's end",
            bind_op(RW, h, 4 * P, P, free),
            &[EINVAL],
        ),
        (
            "map where offset + range overflows",
            bind_op(RW, h, top, 2 * P, free),
            &[EINVAL],
        ),
        (
            "map an unknown handle",
            bind_op(RW, BAD_ID, 0, P, free),
            &[ENOENT],
        ),
        (
            "map handle 0",
            bind_op(RW, 0, 0, P, free),
            &[ENOENT, EINVAL],
        ),
        (
            "unmap with a handle",
            bind_op(BIND_UNBIND, h, 0, P, base),
            &[EINVAL],
        ),
        (
            "unmap with an offset",
            bind_op(BIND_UNBIND, 0, P, P, base),
            &[EINVAL],
        ),
        (
            "unmap range 0",
            bind_op(BIND_UNBIND, 0, 0, 0, base),
            &[EINVAL],
        ),
        (
            "unmap a misaligned range",
            bind_op(BIND_UNBIND, 0, 0, 0x1000, base),
            &[EINVAL],
        ),
        (
            "unmap at vm_end",
            bind_op(BIND_UNBIND, 0, 0, P, p.vm_end),
            &[EINVAL],
        ),
    ];
    if p.vm_start >= P {
        cases.push((
            "map below vm_start",
            bind_op(RW, h, 0, P, p.vm_start - P),
            &[EINVAL],
        ));
    }
    for (name, op, want) in cases {
        t.expect_err(&format!("VM_BIND: {name}"), bind(op), want);
    }
    t.expect_err(
        "VM_BIND: unknown VM",
        dev.vm_bind(BAD_ID, &[bind_op(RW, h, 0, P, free)]),
        &[ENOENT],
    );
    let op = [bind_op(RW, h, 0, P, free)];
    t.expect_err(
        "VM_BIND: non-zero pad",
        vm_bind_raw(dev, v, &op, 32, 1),
        &[EINVAL],
    );
    for stride in [0, 16, 31] {
        t.expect_err(
            &format!("VM_BIND: stride {stride}"),
            vm_bind_raw(dev, v, &op, stride, 0),
            &[EINVAL],
        );
    }
    let mut a = abi::VmBind {
        vm_id: v,
        num_binds: 1,
        stride: 32,
        pad: 0,
        userptr: 0,
    };
    t.expect_err(
        "VM_BIND: bad pointer",
        dev.raw_vm_bind(&mut a, UserPtr::bad(BadAddr::Kernel)),
        &[EFAULT],
    );

    // Larger strides: zero extension bytes are accepted, others refused.
    let mut ext = [0u64; 5];
    let o = bind_op(RW, h, 0, P, free);
    ext[..4].copy_from_slice(&[
        u64::from(o.flags) | u64::from(o.handle) << 32,
        o.offset,
        o.range,
        o.addr,
    ]);
    let mut a = abi::VmBind {
        vm_id: v,
        num_binds: 1,
        stride: 40,
        pad: 0,
        userptr: 0,
    };
    if t.expect_ok(
        "VM_BIND: stride 40 with zero extension bytes",
        dev.raw_vm_bind(&mut a, UserPtr::input(&ext)),
    )
    .is_some()
    {
        let _ = dev.vm_unmap(v, free, P);
    }
    ext[4] = 1;
    let mut a = abi::VmBind {
        vm_id: v,
        num_binds: 1,
        stride: 40,
        pad: 0,
        userptr: 0,
    };
    t.expect_err(
        "VM_BIND: stride 40 with non-zero extension bytes",
        dev.raw_vm_bind(&mut a, UserPtr::input(&ext)),
        &[EINVAL],
    );

    // A huge count over a small buffer whose first op is invalid: refused
    // at the count or at the first op, without allocating for the count.
    let bad_first = [bind_op(0, h, 0, P, free)];
    let mut a = abi::VmBind {
        vm_id: v,
        num_binds: u32::MAX,
        stride: 32,
        pad: 0,
        userptr: 0,
    };
    t.expect_err(
        "VM_BIND: num_binds u32::MAX",
        dev.raw_vm_bind(&mut a, UserPtr::input(&bad_first)),
        &[EINVAL, E2BIG_, EFAULT],
    );
    match dev.vm_bind(v, &[]) {
        Ok(()) => t.note("VM_BIND with num_binds 0: succeeds"),
        Err(e) => t.note(format!("VM_BIND with num_binds 0: {}", err_name(&e))),
    }

    // On error, the ops before the failing one stay applied.
    let a3 = base + 32 * P;
    t.expect_err(
        "VM_BIND: [valid map, invalid map] fails",
        dev.vm_bind(
            v,
            &[bind_op(RW, h, 0, P, a3), bind_op(0, h, 0, P, a3 + 2 * P)],
        ),
        &[EINVAL],
    );
    t.expect_err(
        "VM_BIND: ...and the first map stayed applied",
        bind(bind_op(RW, h, 0, P, a3)),
        &[EINVAL],
    );
    let _ = dev.vm_unmap(v, a3, P);

    t.expect_ok("VM_BIND: unmap a mapping", dev.vm_unmap(v, base, 4 * P));
    t.expect_ok(
        "VM_BIND: map the range again after unmapping it",
        bind(bind_op(RW, h, 0, 4 * P, base)),
    );
    t.expect_ok(
        "VM_BIND: unmap a range with nothing mapped",
        dev.vm_unmap(v, free, 8 * P),
    );
    let b = base + 40 * P;
    let two = dev.vm_bind(
        v,
        &[
            bind_op(BIND_READ, h, 0, P, b),
            bind_op(BIND_WRITE, h, P, P, b + P),
        ],
    );
    t.expect_ok("VM_BIND: map READ-only and WRITE-only", two);
    t.expect_ok(
        "VM_BIND: unmap a range holding two mappings",
        dev.vm_unmap(v, b, 2 * P),
    );
    t.expect_ok(
        "VM_BIND: ...which are both gone",
        bind(bind_op(RW, h, 0, 2 * P, b)),
    );
    t.expect_ok(
        "VM_BIND: map the last page below vm_end",
        bind(bind_op(RW, h, 0, P, p.vm_end - P)),
    );
    match dev.vm_unmap(v, base, P) {
        Ok(()) => t.note("VM_BIND: unmapping the first page of a 4-page mapping succeeds"),
        Err(e) => t.note(format!(
            "VM_BIND: unmapping the first page of a 4-page mapping: {}",
            err_name(&e)
        )),
    }
}

// Not in every libc: spelled out.
const E2BIG_: i32 = libc::E2BIG;

fn queue_checks(t: &mut Tap, dev: &Device, p: &ParamsGlobal) {
    let vm = setup!(t, "VM_CREATE", agx::Vm::new(dev).map_err(e2s));
    let mut a = abi::QueueCreate {
        flags: 1,
        vm_id: vm.id(),
        priority: 0,
        queue_id: 0,
    };
    t.expect_err(
        "QUEUE_CREATE: non-zero flags",
        dev.raw(req::RAGX_QUEUE_CREATE, &mut a),
        &[EINVAL],
    );
    t.expect_err(
        "QUEUE_CREATE: unknown VM",
        dev.queue_create(BAD_ID, 0),
        &[ENOENT],
    );
    t.expect_err(
        "QUEUE_CREATE: priority num_priorities",
        dev.queue_create(vm.id(), p.num_priorities),
        &[EINVAL],
    );
    t.expect_err(
        "QUEUE_CREATE: priority u32::MAX",
        dev.queue_create(vm.id(), u32::MAX),
        &[EINVAL],
    );
    let all = (0..p.num_priorities).try_for_each(|prio| {
        let q = dev
            .queue_create(vm.id(), prio)
            .map_err(|e| format!("priority {prio}: {}", err_name(&e)))?;
        dev.queue_destroy(q)
            .map_err(|e| format!("destroy: {}", err_name(&e)))
    });
    t.check("QUEUE_CREATE/DESTROY: every priority", all);
    let Some(q) = t.expect_ok("QUEUE_CREATE", dev.queue_create(vm.id(), 0)) else {
        return;
    };
    let mut a = abi::QueueDestroy {
        queue_id: q,
        pad: 1,
    };
    t.expect_err(
        "QUEUE_DESTROY: non-zero pad",
        dev.raw(req::RAGX_QUEUE_DESTROY, &mut a),
        &[EINVAL],
    );
    t.expect_ok("QUEUE_DESTROY", dev.queue_destroy(q));
    t.expect_err("QUEUE_DESTROY: twice", dev.queue_destroy(q), &[ENOENT]);
    t.expect_err(
        "QUEUE_DESTROY: unknown id",
        dev.queue_destroy(BAD_ID),
        &[ENOENT],
    );
}

fn submit_checks(t: &mut Tap, dev: &Device, p: &ParamsGlobal) {
    let mut ctx = setup!(t, "context", Context::new(dev).map_err(e2s));
    let data = setup!(t, "data buffer", ctx.alloc(64 * 1024).map_err(e2s));
    let prog = setup!(t, "program", ctx.program(&PATTERN).map_err(e2s));
    let q = ctx.queue().id();
    let mut good = CmdBuf::new();
    good.fill(data.va, 64, 0x1234_5678, None);
    let g = good.bytes().to_vec();
    let sub = |cb: &[u8]| submit_raw(dev, q, cb, &[], (0, 0), 0, 0);

    t.check(
        "SUBMIT: a fill runs and signals its fence",
        run_ok(ctx.queue(), &good),
    );
    t.check(
        "SUBMIT: ...and wrote the buffer",
        check_words(&data, 0, 16, |_| 0x1234_5678),
    );
    t.expect_err(
        "SUBMIT: non-zero flags",
        submit_raw(dev, q, &g, &[], (0, 0), 1, 0),
        &[EINVAL],
    );
    t.expect_err(
        "SUBMIT: non-zero pad",
        submit_raw(dev, q, &g, &[], (0, 0), 0, 1),
        &[EINVAL],
    );
    t.expect_err(
        "SUBMIT: unknown queue",
        submit_raw(dev, BAD_ID, &g, &[], (0, 0), 0, 0),
        &[ENOENT],
    );
    t.expect_err("SUBMIT: empty command buffer", sub(&[]), &[EINVAL]);
    let mut a = abi::Submit {
        queue_id: q,
        cmdbuf_size: g.len() as u32,
        ..Default::default()
    };
    t.expect_err(
        "SUBMIT: bad command buffer pointer",
        dev.raw_submit(
            &mut a,
            UserPtr::input::<u8>(&[]),
            UserPtr::bad(BadAddr::Kernel),
        ),
        &[EFAULT],
    );
    t.expect_err(
        "SUBMIT: truncated payload",
        sub(&g[..g.len() - 8]),
        &[EINVAL],
    );
    t.expect_err(
        "SUBMIT: truncated header after a command",
        sub(&[&g[..], &[0u8; 4]].concat()),
        &[EINVAL],
    );
    t.expect_err(
        "SUBMIT: a zero header after a command",
        sub(&[&g[..], &[0u8; 8]].concat()),
        &[EINVAL],
    );
    let corrupt = |at: usize, v: u8| {
        let mut b = g.clone();
        b[at] = v;
        b
    };
    t.expect_err(
        "SUBMIT: unknown command type 9",
        sub(&corrupt(0, 9)),
        &[EINVAL],
    );
    t.expect_err("SUBMIT: command type 0", sub(&corrupt(0, 0)), &[EINVAL]);
    t.expect_err(
        "SUBMIT: non-zero header pad",
        sub(&corrupt(6, 1)),
        &[EINVAL],
    );
    t.expect_err(
        "SUBMIT: payload size below the command's",
        sub(&corrupt(2, 16)),
        &[EINVAL],
    );
    t.expect_err(
        "SUBMIT: payload size not a multiple of 8",
        sub(&corrupt(2, 28)),
        &[EINVAL],
    );
    t.expect_err(
        "SUBMIT: non-zero payload pad",
        sub(&corrupt(8 + 20, 1)),
        &[EINVAL],
    );
    let mut b = CmdBuf::new();
    b.push(
        Cmd::Fill {
            addr: data.va,
            size: 4,
            value: 0,
        },
        Some(0),
    );
    t.expect_err(
        "SUBMIT: barrier on the command itself",
        sub(b.bytes()),
        &[EINVAL],
    );
    let mut b = CmdBuf::new();
    b.fill(data.va, 4, 0, None);
    b.push(
        Cmd::Fill {
            addr: data.va,
            size: 4,
            value: 0,
        },
        Some(5),
    );
    t.expect_err(
        "SUBMIT: barrier on a later command",
        sub(b.bytes()),
        &[EINVAL],
    );
    let mut b = CmdBuf::new();
    b.fill(data.va, 4, 0, None);
    b.fill(data.va + 4, 4, 0, Some(0));
    match sub(b.bytes()) {
        Ok(()) => t.note("SUBMIT: a barrier on a command of the same unit is accepted"),
        Err(e) => t.note(format!(
            "SUBMIT: a barrier on a command of the same unit: {}",
            err_name(&e)
        )),
    }

    // Command count and size limits.
    let max = p.max_commands_per_submission as usize;
    let mut b = CmdBuf::new();
    for k in 0..max {
        b.fill(data.va + 4 * k as u64, 4, k as u32 + 1, None);
    }
    t.check(
        "SUBMIT: max_commands_per_submission commands",
        run_ok(ctx.queue(), &b).and_then(|()| check_words(&data, 0, max, |i| i as u32 + 1)),
    );
    b.fill(data.va, 4, 0, None);
    t.expect_err(
        "SUBMIT: max_commands_per_submission + 1 commands",
        sub(b.bytes()),
        &[EINVAL],
    );
    let limit = p.max_cmdbuf_size as usize;
    if limit.is_multiple_of(8) && limit / (cmd::HEADER_SIZE + 65528) < max {
        // Commands zero-extended up to exactly the limit: accepted. One
        // more command: refused.
        let mut buf = exact_size_cmdbuf(data.va, limit);
        t.expect_ok(
            "SUBMIT: a command buffer of exactly max_cmdbuf_size",
            sub(&buf),
        );
        buf.extend(&g);
        t.expect_err(
            "SUBMIT: a command buffer over max_cmdbuf_size",
            sub(&buf),
            &[EINVAL, E2BIG_],
        );
    } else {
        t.note(format!(
            "max_cmdbuf_size {limit}: size-limit checks skipped"
        ));
    }

    // Commands the parser must refuse.
    let va = data.va;
    let bad_cmds: Vec<(&str, Cmd)> = vec![
        (
            "fill below vm_start",
            Cmd::Fill {
                addr: p.vm_start.saturating_sub(64),
                size: 64,
                value: 0,
            },
        ),
        (
            "fill at a misaligned address",
            Cmd::Fill {
                addr: va + 2,
                size: 64,
                value: 0,
            },
        ),
        (
            "fill of 0 bytes",
            Cmd::Fill {
                addr: va,
                size: 0,
                value: 0,
            },
        ),
        (
            "fill of 6 bytes",
            Cmd::Fill {
                addr: va,
                size: 6,
                value: 0,
            },
        ),
        (
            "fill across the end of the VA space",
            Cmd::Fill {
                addr: u64::MAX - 3,
                size: 8,
                value: 0,
            },
        ),
        (
            "copy between overlapping ranges",
            Cmd::Copy {
                src: va,
                dst: va + 32,
                size: 64,
            },
        ),
        (
            "copy of 0 bytes",
            Cmd::Copy {
                src: va,
                dst: va + 64,
                size: 0,
            },
        ),
        (
            "compute with 0 invocations",
            Cmd::Compute {
                program: prog.va(),
                program_size: prog.size,
                invocations: 0,
                args: [0; 4],
                max_steps: 9,
            },
        ),
        (
            "compute with max_invocations + 1",
            Cmd::Compute {
                program: prog.va(),
                program_size: prog.size,
                invocations: p.max_invocations + 1,
                args: [0; 4],
                max_steps: 9,
            },
        ),
        (
            "compute with max_steps 0",
            Cmd::Compute {
                program: prog.va(),
                program_size: prog.size,
                invocations: 1,
                args: [0; 4],
                max_steps: 0,
            },
        ),
        (
            "compute of a 0-byte program",
            Cmd::Compute {
                program: prog.va(),
                program_size: 0,
                invocations: 1,
                args: [0; 4],
                max_steps: 9,
            },
        ),
        (
            "compute of a program over 64 KiB",
            Cmd::Compute {
                program: prog.va(),
                program_size: 65544,
                invocations: 1,
                args: [0; 4],
                max_steps: 9,
            },
        ),
        (
            "compute of a misaligned program",
            Cmd::Compute {
                program: prog.va() + 4,
                program_size: 8,
                invocations: 1,
                args: [0; 4],
                max_steps: 9,
            },
        ),
        (
            "compute of a 12-byte program",
            Cmd::Compute {
                program: prog.va(),
                program_size: 12,
                invocations: 1,
                args: [0; 4],
                max_steps: 9,
            },
        ),
    ];
    for (name, c) in bad_cmds {
        let mut b = CmdBuf::new();
        b.push(c, None);
        t.expect_err(&format!("SUBMIT: {name}"), sub(b.bytes()), &[EINVAL]);
    }

    // Syncs.
    let s = setup!(t, "syncobj", Syncobj::new(dev).map_err(e2s));
    let sync = |ty: u32, h: u32, v: u64| abi::Sync {
        sync_type: ty,
        handle: h,
        timeline_value: v,
    };
    let bin = uapi::SYNC_SYNCOBJ;
    t.expect_err(
        "SUBMIT: unknown sync type",
        submit_raw(dev, q, &g, &[sync(2, s.handle(), 0)], (0, 1), 0, 0),
        &[EINVAL],
    );
    t.expect_err(
        "SUBMIT: binary sync with a timeline value",
        submit_raw(dev, q, &g, &[sync(bin, s.handle(), 1)], (0, 1), 0, 0),
        &[EINVAL],
    );
    t.expect_err(
        "SUBMIT: unknown out-syncobj",
        submit_raw(dev, q, &g, &[sync(bin, BAD_ID, 0)], (0, 1), 0, 0),
        &[ENOENT],
    );
    t.expect_err(
        "SUBMIT: unknown in-syncobj",
        submit_raw(dev, q, &g, &[sync(bin, BAD_ID, 0)], (1, 0), 0, 0),
        &[ENOENT],
    );
    let many: Vec<Syncobj> = (0..=p.max_syncs)
        .filter_map(|_| Syncobj::new(dev).ok())
        .collect();
    let outs: Vec<SyncPoint> = many.iter().map(|s| s.binary()).collect();
    if outs.len() == p.max_syncs as usize + 1 {
        t.expect_ok(
            "SUBMIT: max_syncs out-syncs",
            dev.submit(q, &g, &[], &outs[..p.max_syncs as usize]),
        );
        t.expect_err(
            "SUBMIT: max_syncs + 1 out-syncs",
            dev.submit(q, &g, &[], &outs),
            &[EINVAL, E2BIG_],
        );
    } else {
        t.fail("SUBMIT: max_syncs", "could not create the syncobjs");
    }
    let one = [sync(bin, s.handle(), 0)];
    t.expect_err(
        "SUBMIT: in_sync_count u32::MAX",
        submit_raw(dev, q, &g, &one, (u32::MAX, 0), 0, 0),
        &[EINVAL, E2BIG_],
    );
    t.expect_err(
        "SUBMIT: in + out sync counts wrapping to 0 in 32 bits",
        submit_raw(dev, q, &g, &one, (u32::MAX, 1), 0, 0),
        &[EINVAL, E2BIG_],
    );
    let mut a = abi::Submit {
        queue_id: q,
        out_sync_count: 1,
        cmdbuf_size: g.len() as u32,
        ..Default::default()
    };
    t.expect_err(
        "SUBMIT: bad syncs pointer",
        dev.raw_submit(&mut a, UserPtr::bad(BadAddr::Kernel), UserPtr::input(&g)),
        &[EFAULT],
    );
    if let Ok(empty) = Syncobj::new(dev) {
        match dev.submit(q, &g, &[empty.binary()], &[]) {
            Ok(()) => t.note("SUBMIT: an in-sync on a syncobj without a fence is accepted"),
            Err(e) => t.note(format!(
                "SUBMIT: an in-sync on a syncobj without a fence: {}",
                err_name(&e)
            )),
        }
    }
    t.check(
        "SUBMIT: the queue still runs a job after all that",
        run_ok(ctx.queue(), &good),
    );
    if let Ok(sig) = Syncobj::new_signaled(dev) {
        t.check(
            "syncobj created signalled: status 1",
            sig.status()
                .map_err(e2s)
                .and_then(|s| ensure(s == 1, || s.to_string())),
        );
    }
}

fn fault_object_checks(t: &mut Tap, dev: &Device) {
    let ctx = setup!(t, "context", Context::new(dev).map_err(e2s));
    for (object, id, what) in [
        (FAULT_OBJECT_QUEUE, ctx.queue().id(), "queue"),
        (FAULT_OBJECT_VM, ctx.vm().id(), "VM"),
    ] {
        let r = dev.get_fault(object, id);
        t.check(
            &format!("GET_FAULT: a new {what} has no fault"),
            r.map_err(e2s)
                .and_then(|f| ensure(f.state == FAULT_NONE && f.count == 0, || format!("{f:?}"))),
        );
    }
    for object in [2, u32::MAX] {
        t.expect_err(
            &format!("GET_FAULT: object {object:#x}"),
            dev.get_fault(object, ctx.queue().id()),
            &[EINVAL],
        );
    }
    t.expect_err(
        "GET_FAULT: unknown queue",
        dev.get_fault(FAULT_OBJECT_QUEUE, BAD_ID),
        &[ENOENT],
    );
    t.expect_err(
        "GET_FAULT: unknown VM",
        dev.get_fault(FAULT_OBJECT_VM, BAD_ID),
        &[ENOENT],
    );
}

fn vm_destroy_in_use_checks(t: &mut Tap, dev: &Device) {
    let mut ctx = setup!(t, "context", Context::new(dev).map_err(e2s));
    let buf = setup!(t, "buffer", ctx.alloc(P).map_err(e2s));
    let vm = ctx.vm().id();
    t.expect_ok("VM_DESTROY: a VM a queue uses", dev.vm_destroy(vm));
    t.expect_err(
        "VM_BIND: on the destroyed VM",
        dev.vm_unmap(vm, buf.va, P),
        &[ENOENT],
    );
    t.expect_err(
        "QUEUE_CREATE: on the destroyed VM",
        dev.queue_create(vm, 0),
        &[ENOENT],
    );
    t.expect_err(
        "GET_FAULT: of the destroyed VM",
        dev.get_fault(FAULT_OBJECT_VM, vm),
        &[ENOENT],
    );
    let mut cb = CmdBuf::new();
    cb.fill(buf.va, P, 0xfeed_0001, None);
    t.check(
        "SUBMIT: the queue still runs in the destroyed VM's mappings",
        run_ok(ctx.queue(), &cb)
            .and_then(|()| check_words(&buf, 0, (P / 4) as usize, |_| 0xfeed_0001)),
    );
    t.expect_ok(
        "QUEUE_DESTROY: the last user of a destroyed VM",
        dev.queue_destroy(ctx.queue().id()),
    );
    t.expect_err("VM_DESTROY: a destroyed VM", dev.vm_destroy(vm), &[ENOENT]);
}

fn other_file_checks(t: &mut Tap, dev: &Device) {
    // Another file's ids mean nothing here: a fresh file has no objects.
    let other = setup!(t, "second file", Device::open());
    let octx = setup!(
        t,
        "context in the second file",
        Context::new(&other).map_err(e2s)
    );
    let fresh = setup!(t, "third file", Device::open());
    let (ovm, oq) = (octx.vm().id(), octx.queue().id());
    t.expect_err("another file's VM id", fresh.vm_destroy(ovm), &[ENOENT]);
    t.expect_err(
        "another file's queue id",
        fresh.queue_destroy(oq),
        &[ENOENT],
    );
    t.expect_err(
        "another file's queue id in GET_FAULT",
        fresh.get_fault(FAULT_OBJECT_QUEUE, oq),
        &[ENOENT],
    );
    let mut cb = CmdBuf::new();
    cb.fill(dev.params().vm_start, 4, 0, None);
    t.expect_err(
        "another file's queue id in SUBMIT",
        fresh.submit(oq, cb.bytes(), &[], &[]),
        &[ENOENT],
    );
}

// --- cmds -------------------------------------------------------------------------------------

fn cmds(t: &mut Tap) {
    let dev = setup!(t, "open the render node", Device::open());
    let mut ctx = setup!(t, "context", Context::new(&dev).map_err(e2s));
    let q = ctx.queue();
    let _ = q;

    // FILL: a range in the middle; the bytes around it are untouched.
    let buf = setup!(t, "buffer", ctx.alloc(64 * 1024).map_err(e2s));
    buf.fill_bytes(0xaa);
    let mut cb = CmdBuf::new();
    cb.fill(buf.va + 4096, 40000, 0x1234_5678, None);
    t.check(
        "FILL: 40000 bytes in the middle of a BO",
        run_ok(ctx.queue(), &cb).and_then(|()| {
            let got = buf.to_vec();
            check_bytes(&got[..4096], &[0xaa; 4096], "before")?;
            check_words(&buf, 1024, 10000, |_| 0x1234_5678)?;
            check_bytes(&got[44096..], &vec![0xaa; 65536 - 44096], "after")
        }),
    );
    let mut cb = CmdBuf::new();
    cb.fill(buf.va + 65532, 4, 0x0bad_cafe, None);
    t.check(
        "FILL: the last word of a BO",
        run_ok(ctx.queue(), &cb).and_then(|()| check_words(&buf, 16383, 1, |_| 0x0bad_cafe)),
    );
    let three = setup!(t, "buffer", ctx.alloc(3 * P).map_err(e2s));
    let mut cb = CmdBuf::new();
    cb.fill(three.va, 3 * P, 0xc0ff_ee00, None);
    t.check(
        "FILL: three whole pages",
        run_ok(ctx.queue(), &cb)
            .and_then(|()| check_words(&three, 0, (3 * P / 4) as usize, |_| 0xc0ff_ee00)),
    );

    // COPY: unaligned, over several pages of two BOs.
    let src = setup!(t, "buffer", ctx.alloc(5 * P).map_err(e2s));
    let dst = setup!(t, "buffer", ctx.alloc(5 * P).map_err(e2s));
    let mut data = vec![0u8; (5 * P) as usize];
    Rng::new(7).fill(&mut data);
    src.write(0, &data);
    dst.fill_bytes(0x55);
    let n = (4 * P + 123) as usize;
    let mut cb = CmdBuf::new();
    cb.copy(src.va + 5, dst.va + 1000, n as u64, None);
    t.check(
        "COPY: 4 pages + 123 bytes, unaligned, across pages",
        run_ok(ctx.queue(), &cb).and_then(|()| {
            let got = dst.to_vec();
            check_bytes(&got[..1000], &[0x55; 1000], "before")?;
            check_bytes(&got[1000..1000 + n], &data[5..5 + n], "copied")?;
            check_bytes(&got[1000 + n..], &vec![0x55; got.len() - 1000 - n], "after")
        }),
    );

    t.check(
        "COMPUTE: SAXPY over 4096 elements",
        workloads::saxpy(&dev, 4096, 3).map(|_| ()),
    );
    t.check(
        "COMPUTE: SAXPY over 3 elements",
        workloads::saxpy(&dev, 3, 4).map(|_| ()),
    );
    t.check(
        "COMPUTE: checksum loop over 10000 words",
        workloads::checksum(&dev, 10000, 5).map(|_| ()),
    );

    // Every opcode once, against the ISA's documentation.
    let (alu, want) = programs::alu();
    let out = setup!(t, "buffer", ctx.alloc(P).map_err(e2s));
    let prog = setup!(t, "program", ctx.program(&alu).map_err(e2s));
    let mut cb = CmdBuf::new();
    cb.compute(&prog, 1, [out.va, 0, 0, 0], 1000, None);
    t.check(
        "COMPUTE: every opcode",
        run_ok(ctx.queue(), &cb).and_then(|()| {
            (0..want.len()).try_for_each(|k| {
                let got = out.read_u64(8 * k);
                ensure(got == want[k], || {
                    format!("result {k}: {got:#x}, expected {:#x}", want[k])
                })
            })
        }),
    );

    // Initial registers: r0 = index, r1..r4 = args, the rest zero.
    let regs = setup!(t, "buffer", ctx.alloc(64 * 128).map_err(e2s));
    regs.fill_bytes(0xee);
    let dump = setup!(
        t,
        "program",
        ctx.program(&programs::regs_dump()).map_err(e2s)
    );
    let mut cb = CmdBuf::new();
    cb.compute(
        &dump,
        64,
        [regs.va, 22, 33, 0xffff_ffff_ffff_fff4],
        100,
        None,
    );
    t.check(
        "COMPUTE: invocations start with r0 = index, r1..r4 = args, others 0",
        run_ok(ctx.queue(), &cb).and_then(|()| {
            (0..64usize).try_for_each(|i| {
                (0..16usize).filter(|&r| r != 5).try_for_each(|r| {
                    let want = match r {
                        0 => i as u64,
                        1 => regs.va,
                        2 => 22,
                        3 => 33,
                        4 => 0xffff_ffff_ffff_fff4,
                        _ => 0,
                    };
                    let got = regs.read_u64(128 * i + 8 * r);
                    ensure(got == want, || {
                        format!("invocation {i}: r{r} = {got:#x}, expected {want:#x}")
                    })
                })
            })
        }),
    );

    // Compute commands run in order on their unit: PATTERN, then SAXPY
    // reading what PATTERN wrote, without a barrier.
    let x = setup!(t, "buffer", ctx.alloc(4096 * 4).map_err(e2s));
    let y = setup!(t, "buffer", ctx.alloc(4096 * 4).map_err(e2s));
    let pat = setup!(t, "program", ctx.program(&PATTERN).map_err(e2s));
    let sax = setup!(t, "program", ctx.program(&programs::SAXPY).map_err(e2s));
    let y0: Vec<u32> = (0..4096).map(|i| i * 3).collect();
    y.write_u32s(0, &y0);
    let mut cb = CmdBuf::new();
    add_pattern(&mut cb, &pat, &x, 4096, 5, 1);
    cb.compute(&sax, 4096, [7, x.va, y.va, 0], programs::SAXPY_STEPS, None);
    t.check(
        "COMPUTE: two compute commands run in order",
        run_ok(ctx.queue(), &cb).and_then(|()| {
            check_words(&y, 0, 4096, |i| {
                programs::saxpy(7, programs::pattern(i as u32, 5, 1), y0[i])
            })
        }),
    );

    // Several out-syncs, binary and timeline, and a signalled in-sync.
    let (b, tl, sig) = match (
        Syncobj::new(&dev),
        Syncobj::new(&dev),
        Syncobj::new_signaled(&dev),
    ) {
        (Ok(b), Ok(tl), Ok(sig)) => (b, tl, sig),
        _ => {
            t.fail("setup: syncobjs", "SYNCOBJ_CREATE failed");
            return;
        }
    };
    let mut cb = CmdBuf::new();
    cb.fill(out.va, 64, 9, None);
    let r = ctx
        .submit(&cb, &[sig.binary()], &[b.binary(), tl.point(5)])
        .map_err(e2s)
        .and_then(|()| b.wait(JOB_TIMEOUT).map_err(e2s))
        .and_then(|()| tl.wait_point(5, JOB_TIMEOUT).map_err(e2s))
        .and_then(|()| {
            let (s, point) = (b.status().map_err(e2s)?, tl.query().map_err(e2s)?);
            ensure(s == 1 && point == 5, || {
                format!("status {s}, timeline at {point}")
            })
        });
    t.check(
        "SUBMIT: a signalled in-sync, a binary and a timeline out-sync",
        r,
    );
}

// --- order ------------------------------------------------------------------------------------

fn order(t: &mut Tap) {
    let dev = setup!(t, "open the render node", Device::open());
    let mut ctx = setup!(t, "context", Context::new(&dev).map_err(e2s));
    let spin = setup!(
        t,
        "calibration",
        Spin::calibrate(&mut ctx, Duration::from_millis(300), t)
    );
    let pat = setup!(t, "program", ctx.program(&PATTERN).map_err(e2s));
    let n = 4096u32;
    let x = setup!(t, "buffer", ctx.alloc(u64::from(n) * 4).map_err(e2s));
    let y = setup!(t, "buffer", ctx.alloc(u64::from(n) * 4).map_err(e2s));
    let big = setup!(t, "buffer", ctx.alloc(4 << 20).map_err(e2s));
    let bytes = u64::from(n) * 4;

    // compute -> copy: the copy waits for the pattern (after a spin).
    let mut cb = CmdBuf::new();
    spin.add(&mut cb, None);
    let c = add_pattern(&mut cb, &pat, &x, n, 3, 7);
    cb.copy(x.va, y.va, bytes, Some(c));
    t.check(
        "barrier: a copy after a compute sees its results",
        run_ok(ctx.queue(), &cb)
            .and_then(|()| check_words(&y, 0, n as usize, |i| programs::pattern(i as u32, 3, 7))),
    );

    // blit -> compute: SAXPY waits for the fill of x (after a 4 MiB fill).
    let sax = setup!(t, "program", ctx.program(&programs::SAXPY).map_err(e2s));
    let y0: Vec<u32> = (0..n).map(|i| i ^ 0x5555).collect();
    y.write_u32s(0, &y0);
    let mut cb = CmdBuf::new();
    cb.fill(big.va, big.size(), 1, None);
    let f = cb.fill(x.va, bytes, 0x1111, None);
    cb.compute(&sax, n, [3, x.va, y.va, 0], programs::SAXPY_STEPS, Some(f));
    t.check(
        "barrier: a compute after a fill sees the filled data",
        run_ok(ctx.queue(), &cb)
            .and_then(|()| check_words(&y, 0, n as usize, |i| programs::saxpy(3, 0x1111, y0[i]))),
    );

    // Jobs of one queue run in submission order.
    y.fill_bytes(0);
    let mut j1 = CmdBuf::new();
    spin.add(&mut j1, None);
    add_pattern(&mut j1, &pat, &x, n, 5, 9);
    let mut j2 = CmdBuf::new();
    j2.copy(x.va, y.va, bytes, None);
    let r = ctx
        .submit(&j1, &[], &[])
        .and_then(|()| ctx.run(&j2, JOB_TIMEOUT))
        .map_err(e2s)
        .and_then(|s| ensure(s == 1, || status_name(s)))
        .and_then(|()| check_words(&y, 0, n as usize, |i| programs::pattern(i as u32, 5, 9)));
    t.check("queue order: a job sees the previous job's results", r);

    // Two queues: B's copy waits for A's point 1.
    let qb = setup!(t, "second queue", ctx.new_queue(0).map_err(e2s));
    let tl = setup!(t, "timeline", Syncobj::new(&dev).map_err(e2s));
    let done = setup!(t, "syncobj", Syncobj::new(&dev).map_err(e2s));
    y.fill_bytes(0);
    let mut a = CmdBuf::new();
    spin.add(&mut a, None);
    add_pattern(&mut a, &pat, &x, n, 11, 13);
    let mut b = CmdBuf::new();
    b.copy(x.va, y.va, bytes, None);
    let r = ctx
        .submit(&a, &[], &[tl.point(1)])
        .and_then(|()| qb.submit(&b, &[tl.point(1)], &[done.binary()]))
        .and_then(|()| done.wait(JOB_TIMEOUT))
        .and_then(|()| done.status())
        .map_err(e2s)
        .and_then(|s| ensure(s == 1, || status_name(s)))
        .and_then(|()| check_words(&y, 0, n as usize, |i| programs::pattern(i as u32, 11, 13)))
        .and_then(|()| {
            tl.query()
                .map_err(e2s)
                .and_then(|v| ensure(v >= 1, || format!("timeline at {v}")))
        });
    t.check("timeline: queue B waits for queue A's point 1", r);

    // A chain of 3 points over 3 queues; the third in another VM, which
    // maps the same BOs at other addresses.
    let mut ctx2 = setup!(t, "second context", Context::new(&dev).map_err(e2s));
    let y2 = ctx2.reserve_va(y.size());
    setup!(
        t,
        "map y in the second VM",
        ctx2.vm().map(&y.bo, 0, y.size(), y2, RW).map_err(e2s)
    );
    let z = setup!(t, "buffer", ctx2.alloc(bytes).map_err(e2s));
    let chain = setup!(t, "timeline", Syncobj::new(&dev).map_err(e2s));
    y.fill_bytes(0);
    let mut a = CmdBuf::new();
    spin.add(&mut a, None);
    add_pattern(&mut a, &pat, &x, n, 17, 19);
    let mut b = CmdBuf::new();
    b.copy(x.va, y.va, bytes, None);
    let mut c = CmdBuf::new();
    c.copy(y2, z.va, bytes, None);
    let r = ctx
        .submit(&a, &[], &[chain.point(1)])
        .and_then(|()| qb.submit(&b, &[chain.point(1)], &[chain.point(2)]))
        .and_then(|()| ctx2.submit(&c, &[chain.point(2)], &[chain.point(3)]))
        .and_then(|()| chain.wait_point(3, JOB_TIMEOUT))
        .map_err(e2s)
        .and_then(|()| check_words(&z, 0, n as usize, |i| programs::pattern(i as u32, 17, 19)))
        .and_then(|()| {
            chain
                .query()
                .map_err(e2s)
                .and_then(|v| ensure(v == 3, || format!("timeline at {v}")))
        });
    t.check("timeline: a chain of 3 points across 3 queues and 2 VMs", r);
}

// --- fault ------------------------------------------------------------------------------------

/// The other process of the fault suite: fills a BO with a new value
/// per job and checks it, one byte to `sock` per good job, until it reads
/// `q` (or 300 s pass). Exit 0 if every job succeeded.
fn fault_worker(mut sock: UnixStream) -> i32 {
    child_body(|| {
        let dev = Device::open().map_err(|e| format!("open: {e}"))?;
        let mut ctx = Context::new(&dev).map_err(e2s)?;
        let buf = ctx.alloc(64 * 1024).map_err(e2s)?;
        sock.set_nonblocking(true).map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        for i in 1u32.. {
            let mut b = [0u8; 1];
            if matches!(sock.read(&mut b), Ok(0) | Ok(1)) || t0.elapsed() > Duration::from_secs(300)
            {
                return Ok(());
            }
            let mut cb = CmdBuf::new();
            cb.fill(buf.va, buf.size(), i, None);
            run_ok(ctx.queue(), &cb).map_err(|e| format!("worker job {i}: {e}"))?;
            for w in [0, 8191, 16383] {
                check_words(&buf, w, 1, |_| i).map_err(|e| format!("worker job {i}: {e}"))?;
            }
            sock.set_nonblocking(false).map_err(|e| e.to_string())?;
            let sent = sock.write_all(&[1]);
            sock.set_nonblocking(true).map_err(|e| e.to_string())?;
            if sent.is_err() {
                return Ok(()); // the parent is gone
            }
        }
        Ok(())
    })
}

/// Counts the worker's good jobs reported so far.
fn drain(sock: &mut UnixStream, count: &mut usize) {
    let mut b = [0u8; 256];
    while let Ok(n) = sock.read(&mut b) {
        if n == 0 {
            break;
        }
        *count += n;
    }
}

/// Waits until the worker has reported `target` good jobs.
fn wait_worker(sock: &mut UnixStream, count: &mut usize, target: usize, timeout: Duration) -> bool {
    let t0 = Instant::now();
    while *count < target && t0.elapsed() < timeout {
        drain(sock, count);
        std::thread::sleep(Duration::from_millis(5));
    }
    *count >= target
}

fn fault(t: &mut Tap) {
    let dev = setup!(t, "open the render node", Device::open());
    let mut ctx = setup!(t, "context", Context::new(&dev).map_err(e2s));
    let q = ctx.queue().id();
    let vm = ctx.vm().id();
    let page_of = |a: u64| a & !(P - 1);

    let (mut sock, theirs) = setup!(t, "socket pair", UnixStream::pair());
    let worker = fork(move || fault_worker(theirs));
    let mut worker = setup!(t, "fork the worker", worker);
    setup!(t, "socket", sock.set_nonblocking(true));
    let mut done = 0usize;
    t.check(
        "worker process: runs jobs before the faults",
        ensure(wait_worker(&mut sock, &mut done, 1, JOB_TIMEOUT), || {
            "no job done in 30 s".into()
        }),
    );

    // A read of an unmapped page by the blit unit, repeated while the
    // worker keeps running, until it has done 5 more jobs.
    let gap = ctx.reserve_va(P);
    let dst = setup!(t, "buffer", ctx.alloc(P).map_err(e2s));
    let mut faults = 0u32;
    let before = done;
    let mut first: Result<(), String> = Err("no fault".into());
    let mut repeat: Result<(), String> = Ok(());
    let t0 = Instant::now();
    while faults < 200
        && (faults < 1 || done < before + 5)
        && t0.elapsed() < Duration::from_secs(60)
    {
        let mut cb = CmdBuf::new();
        cb.copy(gap, dst.va, 256, None);
        let r = run_status(ctx.queue(), &cb)
            .and_then(|s| ensure(s == -EFAULT, || format!("fence {}", status_name(s))))
            .and_then(|()| {
                check_fault(
                    &dev,
                    FAULT_OBJECT_QUEUE,
                    q,
                    (FAULT_PAGE, abi::UNIT_BLIT, abi::ACCESS_READ),
                    |a| page_of(a) == gap,
                )
                .map(|_| ())
            });
        faults += 1;
        if faults == 1 {
            first = r;
        } else if repeat.is_ok() {
            repeat = r.map_err(|e| format!("fault {faults}: {e}"));
        }
        drain(&mut sock, &mut done);
    }
    t.check("fault: a copy from an unmapped page fails with EFAULT; GET_FAULT says PAGE, blit, read, the address", first);
    t.note(format!(
        "{faults} faulting jobs in {} ms; the worker did {} jobs meanwhile",
        t0.elapsed().as_millis(),
        done - before
    ));
    t.check("fault: every repeated fault reports the same", repeat);
    t.check(
        "worker process: keeps running jobs during the faults",
        ensure(done >= before + 5, || {
            format!("{} jobs during {faults} faults", done - before)
        }),
    );

    // A compute read of an unmapped address.
    let gap2 = ctx.reserve_va(P) + 0x40;
    let load = setup!(t, "program", ctx.program(&programs::LOAD).map_err(e2s));
    let mut cb = CmdBuf::new();
    cb.compute(&load, 1, [gap2, 0, 0, 0], 10, None);
    let r = run_status(ctx.queue(), &cb)
        .and_then(|s| ensure(s == -EFAULT, || format!("fence {}", status_name(s))))
        .and_then(|()| {
            check_fault(
                &dev,
                FAULT_OBJECT_QUEUE,
                q,
                (FAULT_PAGE, abi::UNIT_COMPUTE, abi::ACCESS_READ),
                |a| a == gap2,
            )
            .map(|_| ())
        });
    t.check(
        "fault: a compute load from an unmapped address: EFAULT; PAGE, compute, read, the address",
        r,
    );
    faults += 1;

    // Writes to a READ-only mapping, by each unit.
    let ro = setup!(
        t,
        "READ-only buffer",
        ctx.alloc_with(P, BIND_READ).map_err(e2s)
    );
    let mut cb = CmdBuf::new();
    cb.fill(ro.va, 64, 1, None);
    let r = run_status(ctx.queue(), &cb)
        .and_then(|s| ensure(s == -EFAULT, || format!("fence {}", status_name(s))))
        .and_then(|()| {
            check_fault(
                &dev,
                FAULT_OBJECT_QUEUE,
                q,
                (FAULT_PAGE, abi::UNIT_BLIT, abi::ACCESS_WRITE),
                |a| page_of(a) == ro.va,
            )
            .map(|_| ())
        });
    t.check(
        "fault: a fill of a READ-only mapping: EFAULT; PAGE, blit, write",
        r,
    );
    faults += 1;
    let store = setup!(t, "program", ctx.program(&programs::STORE).map_err(e2s));
    let mut cb = CmdBuf::new();
    cb.compute(&store, 1, [ro.va + 8, 5, 0, 0], 10, None);
    let r = run_status(ctx.queue(), &cb)
        .and_then(|s| ensure(s == -EFAULT, || format!("fence {}", status_name(s))))
        .and_then(|()| {
            check_fault(
                &dev,
                FAULT_OBJECT_QUEUE,
                q,
                (FAULT_PAGE, abi::UNIT_COMPUTE, abi::ACCESS_WRITE),
                |a| a == ro.va + 8,
            )
            .map(|_| ())
        });
    t.check(
        "fault: a compute store to a READ-only mapping: EFAULT; PAGE, compute, write, the address",
        r,
    );
    faults += 1;
    t.check(
        "fault: the READ-only mapping is unchanged",
        check_words(&ro, 0, (P / 4) as usize, |_| 0),
    );

    let r = dev
        .get_fault(FAULT_OBJECT_QUEUE, q)
        .map_err(e2s)
        .and_then(|f| {
            ensure(f.count == faults, || {
                format!("queue count {}, expected {faults}", f.count)
            })
        });
    t.check("GET_FAULT: the queue counts every fault", r);
    let r = dev
        .get_fault(FAULT_OBJECT_VM, vm)
        .map_err(e2s)
        .and_then(|f| {
            ensure(f.count == faults && f.state == FAULT_PAGE, || {
                format!(
                    "VM state {} count {}, expected PAGE, {faults}",
                    f.state, f.count
                )
            })
        });
    t.check(
        "GET_FAULT: the VM reports the last fault and counts them all",
        r,
    );

    let mut cb = CmdBuf::new();
    cb.fill(dst.va, P, 0x600d_0001, None);
    t.check(
        "fault: the faulting queue runs a new job afterwards",
        run_ok(ctx.queue(), &cb)
            .and_then(|()| check_words(&dst, 0, (P / 4) as usize, |_| 0x600d_0001)),
    );

    // A fault followed at once by a good job on the same queue.
    let (s1, s2) = match (Syncobj::new(&dev), Syncobj::new(&dev)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => {
            t.fail("setup: syncobjs", "SYNCOBJ_CREATE failed");
            return;
        }
    };
    let mut bad = CmdBuf::new();
    bad.copy(gap, dst.va, 64, None);
    let mut good = CmdBuf::new();
    good.fill(dst.va, 64, 0x600d_0002, None);
    let r = ctx
        .submit(&bad, &[], &[s1.binary()])
        .and_then(|()| ctx.submit(&good, &[], &[s2.binary()]))
        .and_then(|()| s2.wait(JOB_TIMEOUT))
        .and_then(|()| s1.wait(JOB_TIMEOUT))
        .and_then(|()| Ok((s1.status()?, s2.status()?)));
    match r {
        Ok((a, b)) => t.note(format!(
            "a good job queued right behind a faulting one: {} (the faulting one: {})",
            status_name(b),
            status_name(a)
        )),
        Err(e) => t.fail("fault: a fault with a job queued behind it", err_name(&e)),
    }
    faults += 1;
    let _ = faults;

    // Illegal instructions.
    let (code, at) = programs::illegal_opcode();
    let ill = setup!(t, "program", ctx.program_bytes(&code).map_err(e2s));
    let mut cb = CmdBuf::new();
    cb.compute(&ill, 1, [0; 4], 10, None);
    let r = run_status(ctx.queue(), &cb)
        .and_then(|s| ensure(s == -EIO, || format!("fence {}", status_name(s))))
        .and_then(|()| {
            check_fault(
                &dev,
                FAULT_OBJECT_QUEUE,
                q,
                (FAULT_ILLEGAL, abi::UNIT_COMPUTE, 0),
                |a| a == ill.va() + 8 * at,
            )
            .map(|_| ())
        });
    t.check("illegal: an unknown opcode: EIO; GET_FAULT says ILLEGAL, compute, the instruction's address", r);
    let p1 = ctx.program_bytes(&programs::bad_register());
    let p2 = ctx.program(&programs::RUN_OFF_END);
    let p3 = ctx.program(&programs::UNALIGNED_LOAD);
    let illegal_only = |t: &mut Tap, name: &str, prog: io::Result<Program>, args: [u64; 4]| {
        let prog = match prog {
            Ok(p) => p,
            Err(e) => return t.fail(name, format!("upload: {}", err_name(&e))),
        };
        let mut cb = CmdBuf::new();
        cb.compute(&prog, 1, args, 10, None);
        let r = run_status(ctx.queue(), &cb)
            .and_then(|s| ensure(s == -EIO, || format!("fence {}", status_name(s))))
            .and_then(|()| {
                let f = dev.get_fault(FAULT_OBJECT_QUEUE, q).map_err(e2s)?;
                println!(
                    "# {name}: GET_FAULT address {:#x} (program at {:#x})",
                    f.address,
                    prog.va()
                );
                ensure(
                    f.state == FAULT_ILLEGAL && f.unit == abi::UNIT_COMPUTE,
                    || format!("{f:?}"),
                )
            });
        t.check(name, r);
    };
    illegal_only(t, "illegal: register 16: EIO, ILLEGAL", p1, [0; 4]);
    illegal_only(
        t,
        "illegal: running off the program's end: EIO, ILLEGAL",
        p2,
        [0; 4],
    );
    illegal_only(
        t,
        "illegal: an unaligned load: EIO, ILLEGAL",
        p3,
        [dst.va, 0, 0, 0],
    );
    let mut cb = CmdBuf::new();
    cb.fill(dst.va, P, 0x600d_0003, None);
    t.check(
        "illegal: the queue runs a new job afterwards",
        run_ok(ctx.queue(), &cb)
            .and_then(|()| check_words(&dst, 0, (P / 4) as usize, |_| 0x600d_0003)),
    );

    // The worker goes on after the faults, then stops cleanly.
    drain(&mut sock, &mut done);
    let after = done;
    t.check(
        "worker process: runs jobs after the faults",
        ensure(
            wait_worker(&mut sock, &mut done, after + 3, JOB_TIMEOUT),
            || format!("{} jobs in 30 s", done - after),
        ),
    );
    let _ = sock.set_nonblocking(false);
    let _ = sock.write_all(b"q");
    match worker.wait_timeout(Duration::from_secs(60)) {
        Ok(Some(0)) => t.ok("worker process: every one of its jobs succeeded"),
        Ok(Some(c)) => t.fail(
            "worker process: every one of its jobs succeeded",
            format!("exit {c}"),
        ),
        Ok(None) => t.fail(
            "worker process: every one of its jobs succeeded",
            "did not exit in 60 s",
        ),
        Err(e) => t.fail("worker process", e),
    }
    t.note(format!("the worker ran {done} jobs"));
}

// --- timeout ----------------------------------------------------------------------------------

fn timeout(t: &mut Tap) {
    let dev = setup!(t, "open the render node", Device::open());
    let mut ctx = setup!(t, "context", Context::new(&dev).map_err(e2s));
    let q = ctx.queue().id();
    let runaway = setup!(t, "program", ctx.program(&programs::RUNAWAY).map_err(e2s));
    let buf = setup!(t, "buffer", ctx.alloc(P).map_err(e2s));
    let other = setup!(t, "second queue", ctx.new_queue(0).map_err(e2s));
    let (s, s2) = match (Syncobj::new(&dev), Syncobj::new(&dev)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => {
            t.fail("setup: syncobjs", "SYNCOBJ_CREATE failed");
            return;
        }
    };
    let mut cb = CmdBuf::new();
    cb.compute(&runaway, 1, [0; 4], 1 << 30, None);
    let mut fill = CmdBuf::new();
    fill.fill(buf.va, 64, 7, None);
    let t0 = Instant::now();
    if let Err(e) = ctx.submit(&cb, &[], &[s.binary()]) {
        return t.fail("timeout: submit a runaway loop", err_name(&e));
    }
    // How the GPU shares itself with a runaway (not in the UAPI).
    if other.submit(&fill, &[], &[s2.binary()]).is_ok() && s2.wait(Duration::from_secs(20)).is_ok()
    {
        t.note(format!(
            "a job on another queue finished {} ms after the runaway's submission",
            t0.elapsed().as_millis()
        ));
    }
    let r = s
        .wait(Duration::from_secs(20))
        .map_err(|e| format!("no signal in 20 s: {}", err_name(&e)));
    let took = t0.elapsed();
    t.note(format!(
        "the runaway's fence signalled after {} ms",
        took.as_millis()
    ));
    let r = r
        .and_then(|()| s.status().map_err(e2s))
        .and_then(|st| ensure(st == -ETIMEDOUT, || format!("fence {}", status_name(st))));
    t.check("timeout: a runaway loop fails with ETIMEDOUT", r);
    t.check(
        "timeout: ...within 10 s",
        ensure(took < Duration::from_secs(10), || {
            format!("{} ms", took.as_millis())
        }),
    );
    // The UAPI names no unit or address for a wall-clock timeout.
    let r = dev
        .get_fault(FAULT_OBJECT_QUEUE, q)
        .map_err(e2s)
        .and_then(|f| {
            println!(
                "# GET_FAULT after the runaway: unit {} access {} address {:#x}",
                f.unit, f.access, f.address
            );
            ensure(f.state == FAULT_TIMEOUT && f.count == 1, || {
                format!("state {} count {}", f.state, f.count)
            })
        });
    t.check("timeout: GET_FAULT says TIMEOUT, count 1", r);

    // max_steps is a timeout too.
    let spin = setup!(t, "program", Spin::new(&mut ctx, 1_000_000).map_err(e2s));
    let mut cb = CmdBuf::new();
    cb.compute(&spin.prog, 1, [spin.iters, 0, 0, 0], 1000, None);
    let t0 = Instant::now();
    let r = run_status(ctx.queue(), &cb)
        .and_then(|st| ensure(st == -ETIMEDOUT, || format!("fence {}", status_name(st))));
    t.check("timeout: exceeding max_steps fails with ETIMEDOUT", r);
    t.note(format!("...after {} ms", t0.elapsed().as_millis()));
    let r = dev
        .get_fault(FAULT_OBJECT_QUEUE, q)
        .map_err(e2s)
        .and_then(|f| {
            println!(
                "# GET_FAULT after max_steps: unit {} address {:#x}",
                f.unit, f.address
            );
            ensure(f.state == FAULT_TIMEOUT && f.count == 2, || {
                format!("state {} count {}", f.state, f.count)
            })
        });
    t.check("timeout: GET_FAULT says TIMEOUT, count 2", r);

    let mut cb = CmdBuf::new();
    cb.fill(buf.va, P, 0x600d, None);
    match ctx.new_queue(0) {
        Ok(q2) => {
            t.check(
                "timeout: a new queue runs a job afterwards",
                run_ok(&q2, &cb).and_then(|()| check_words(&buf, 0, 4096, |_| 0x600d)),
            );
        }
        Err(e) => t.fail("timeout: a new queue", err_name(&e)),
    }
    let mut cb = CmdBuf::new();
    cb.fill(buf.va, P, 0x600e, None);
    t.check(
        "timeout: the timed-out queue runs a job afterwards",
        run_ok(ctx.queue(), &cb).and_then(|()| check_words(&buf, 0, 4096, |_| 0x600e)),
    );
}

// --- teardown ---------------------------------------------------------------------------------

/// Queues 20 jobs (spin, then a pattern) on 4 queues, each waiting for the
/// previous one; returns everything, to be closed or leaked by the caller.
struct Busy {
    dev: Device,
    ctx: Context,
    queues: Vec<Queue>,
    spin: Spin,
    pat: Program,
    bufs: Vec<Buffer>,
    syncs: Vec<Syncobj>,
}

fn busy(iters: u64) -> Result<Busy, String> {
    let dev = Device::open().map_err(|e| format!("open: {e}"))?;
    let mut ctx = Context::new(&dev).map_err(e2s)?;
    let queues = (0..3)
        .map(|_| ctx.new_queue(0))
        .collect::<io::Result<Vec<_>>>()
        .map_err(e2s)?;
    let spin = Spin::new(&mut ctx, iters).map_err(e2s)?;
    let pat = ctx.program(&PATTERN).map_err(e2s)?;
    let bufs = (0..20)
        .map(|_| ctx.alloc(4096 * 4))
        .collect::<io::Result<Vec<_>>>()
        .map_err(e2s)?;
    let syncs = (0..20)
        .map(|_| Syncobj::new(&dev))
        .collect::<io::Result<Vec<_>>>()
        .map_err(e2s)?;
    for j in 0..20 {
        let mut cb = CmdBuf::new();
        spin.add(&mut cb, None);
        add_pattern(&mut cb, &pat, &bufs[j], 4096, 3, j as u64);
        let ins: Vec<SyncPoint> = if j > 0 {
            vec![syncs[j - 1].binary()]
        } else {
            vec![]
        };
        let r = match j % 4 {
            0 => ctx.submit(&cb, &ins, &[syncs[j].binary()]),
            k => queues[k - 1].submit(&cb, &ins, &[syncs[j].binary()]),
        };
        r.map_err(|e| format!("submit {j}: {}", err_name(&e)))?;
    }
    Ok(Busy {
        dev,
        ctx,
        queues,
        spin,
        pat,
        bufs,
        syncs,
    })
}

impl Busy {
    /// Gives up every object (they live until the file closes) and
    /// returns the last reference to the file.
    fn leak(self) -> Device {
        for b in self.bufs {
            b.bo.into_handle();
        }
        for s in self.syncs {
            s.into_handle();
        }
        for q in self.queues {
            q.into_id();
        }
        self.pat.buf.bo.into_handle();
        self.spin.prog.buf.bo.into_handle();
        self.ctx.into_ids();
        self.dev
    }
}

/// A fresh file runs a fill and sees it.
fn device_works() -> Result<(), String> {
    let dev = Device::open().map_err(|e| format!("open: {e}"))?;
    let mut ctx = Context::new(&dev).map_err(e2s)?;
    let buf = ctx.alloc(P).map_err(e2s)?;
    let mut cb = CmdBuf::new();
    cb.fill(buf.va, P, 0x600d_f00d, None);
    run_ok(ctx.queue(), &cb)?;
    check_words(&buf, 0, 4096, |_| 0x600d_f00d)
}

fn teardown(t: &mut Tap) {
    let dev = setup!(t, "open the render node", Device::open());
    let mut ctx = setup!(t, "context", Context::new(&dev).map_err(e2s));
    let iters = setup!(
        t,
        "calibration",
        Spin::calibrate(&mut ctx, Duration::from_millis(50), t)
    )
    .iters;

    in_child(
        t,
        "teardown: close the file with 20 jobs queued on 4 queues",
        Duration::from_secs(120),
        || {
            child_body(|| {
                let b = busy(iters)?;
                let dev = b.leak();
                let t0 = Instant::now();
                drop(dev);
                println!("# closing the file took {} ms", t0.elapsed().as_millis());
                device_works()
            })
        },
    );
    in_child(
        t,
        "teardown: exit with 20 jobs queued on 4 queues",
        Duration::from_secs(120),
        || {
            child_body(|| {
                let b = busy(iters)?;
                std::mem::forget(b); // the kernel closes the file at exit
                Ok(())
            })
        },
    );
    t.check("teardown: the device works after those", device_works());

    in_child(
        t,
        "teardown: unmap a buffer while a job uses it",
        Duration::from_secs(120),
        || {
            child_body(|| {
                let dev = Device::open().map_err(|e| format!("open: {e}"))?;
                let mut ctx = Context::new(&dev).map_err(e2s)?;
                let spin = Spin::new(&mut ctx, iters * 6).map_err(e2s)?;
                let pat = ctx.program(&PATTERN).map_err(e2s)?;
                let x = ctx.alloc(16384).map_err(e2s)?;
                let y = ctx.alloc(16384).map_err(e2s)?;
                let s = Syncobj::new(&dev).map_err(e2s)?;
                let mut cb = CmdBuf::new();
                spin.add(&mut cb, None);
                let c = add_pattern(&mut cb, &pat, &x, 4096, 1, 2);
                cb.copy(x.va, y.va, 16384, Some(c));
                ctx.submit(&cb, &[], &[s.binary()]).map_err(e2s)?;
                std::thread::sleep(Duration::from_millis(20));
                match ctx.vm().unmap(x.va, x.size()) {
                    Ok(()) => println!("# VM_BIND unmap of a buffer in use: succeeds"),
                    Err(e) if errno(&e) == EBUSY => {
                        println!("# VM_BIND unmap of a buffer in use: EBUSY")
                    }
                    Err(e) => return Err(format!("unmap: {}", err_name(&e))),
                }
                s.wait(JOB_TIMEOUT)
                    .map_err(|e| format!("the job never signalled: {}", err_name(&e)))?;
                let st = s.status().map_err(e2s)?;
                println!("# the job using the unmapped buffer: {}", status_name(st));
                ensure(st == 1 || st == -EFAULT, || {
                    format!("fence {}", status_name(st))
                })?;
                // The VA can be used again.
                let _ = ctx.vm().unmap(x.va, x.size());
                let fresh = Bo::new(&dev, 16384).map_err(e2s)?;
                ctx.vm()
                    .map(&fresh, 0, 16384, x.va, RW)
                    .map_err(|e| format!("map again: {}", err_name(&e)))?;
                let mut cb = CmdBuf::new();
                add_pattern(&mut cb, &pat, &x, 4096, 1, 3);
                run_ok(ctx.queue(), &cb)?;
                check_words(&fresh, 0, 4096, |i| programs::pattern(i as u32, 1, 3))
            })
        },
    );

    // Destroying a queue: the header says its jobs in flight still
    // complete; Documentation/rust_agx.rst says they are cancelled. Either
    // way every fence must signal, and a job that succeeded wrote its data.
    let r = (|| -> Result<(), String> {
        let q2 = ctx.new_queue(0).map_err(e2s)?;
        let spin = Spin::new(&mut ctx, iters * 2).map_err(e2s)?;
        let pat = ctx.program(&PATTERN).map_err(e2s)?;
        let bufs = (0..5)
            .map(|_| ctx.alloc(16384))
            .collect::<io::Result<Vec<_>>>()
            .map_err(e2s)?;
        let syncs = (0..5)
            .map(|_| Syncobj::new(&dev))
            .collect::<io::Result<Vec<_>>>()
            .map_err(e2s)?;
        for k in 0..5 {
            let mut cb = CmdBuf::new();
            spin.add(&mut cb, None);
            add_pattern(&mut cb, &pat, &bufs[k], 4096, 7, k as u64);
            q2.submit(&cb, &[], &[syncs[k].binary()]).map_err(e2s)?;
        }
        let id = q2.id();
        dev.queue_destroy(id)
            .map_err(|e| format!("QUEUE_DESTROY: {}", err_name(&e)))?;
        let mut seen = Vec::new();
        for k in 0..5 {
            syncs[k]
                .wait(JOB_TIMEOUT)
                .map_err(|e| format!("job {k} never signalled: {}", err_name(&e)))?;
            let st = syncs[k].status().map_err(e2s)?;
            seen.push(status_name(st));
            ensure(st == 1 || st == -libc::ECANCELED, || {
                format!("job {k}: fence {}", status_name(st))
            })?;
            if st == 1 {
                check_words(&bufs[k], 0, 4096, |i| {
                    programs::pattern(i as u32, 7, k as u64)
                })?;
            }
        }
        println!("# the destroyed queue's 5 jobs: {}", seen.join(", "));
        let mut cb = CmdBuf::new();
        cb.fill(bufs[0].va, 4, 0, None);
        match dev.submit(id, cb.bytes(), &[], &[]) {
            Err(e) if errno(&e) == ENOENT => Ok(()),
            r => Err(format!("SUBMIT to the destroyed queue: {r:?}")),
        }
    })();
    t.check(
        "teardown: destroying a queue with 5 jobs queued signals them all (ok or ECANCELED)",
        r,
    );

    let r = (|| -> Result<(), String> {
        let mut c2 = Context::new(&dev).map_err(e2s)?;
        let buf = c2.alloc(P).map_err(e2s)?;
        dev.vm_destroy(c2.vm().id())
            .map_err(|e| format!("VM_DESTROY: {}", err_name(&e)))?;
        let mut cb = CmdBuf::new();
        cb.fill(buf.va, P, 0x0dea_d0ff, None);
        run_ok(c2.queue(), &cb)?;
        check_words(&buf, 0, 4096, |_| 0x0dea_d0ff)?;
        match dev.vm_unmap(c2.vm().id(), buf.va, P) {
            Err(e) if errno(&e) == ENOENT => Ok(()),
            r => Err(format!("VM_BIND on the destroyed VM: {r:?}")),
        }
    })();
    t.check("teardown: a destroyed VM's queue keeps running in it", r);

    in_child(
        t,
        "teardown: 200 open/create/submit/close cycles",
        Duration::from_secs(600),
        || {
            child_body(|| {
                let t0 = Instant::now();
                let mut retries = 0;
                for i in 0..200 {
                    let dev = Device::open().map_err(|e| format!("cycle {i}: open: {e}"))?;
                    // A VM of a closed file may be freed asynchronously.
                    let vm = loop {
                        match agx::Vm::new(&dev) {
                            Ok(vm) => break vm,
                            Err(e) if retries < 200 => {
                                retries += 1;
                                if retries == 1 {
                                    println!("# cycle {i}: VM_CREATE: {} (retrying)", err_name(&e));
                                }
                                std::thread::sleep(Duration::from_millis(10));
                            }
                            Err(e) => {
                                return Err(format!("cycle {i}: VM_CREATE: {}", err_name(&e)))
                            }
                        }
                    };
                    let q = Queue::new(&dev, vm.id(), 0)
                        .map_err(|e| format!("cycle {i}: {}", err_name(&e)))?;
                    let bo =
                        Bo::new(&dev, P).map_err(|e| format!("cycle {i}: {}", err_name(&e)))?;
                    let va = dev.params().vm_start;
                    vm.map(&bo, 0, P, va, RW)
                        .map_err(|e| format!("cycle {i}: {}", err_name(&e)))?;
                    let s = Syncobj::new(&dev).map_err(e2s)?;
                    let mut cb = CmdBuf::new();
                    cb.fill(va, P, i, None);
                    q.submit(&cb, &[], &[s.binary()])
                        .map_err(|e| format!("cycle {i}: submit: {}", err_name(&e)))?;
                    if i % 2 == 0 {
                        s.wait(JOB_TIMEOUT)
                            .map_err(|e| format!("cycle {i}: {}", err_name(&e)))?;
                        ensure(matches!(s.status(), Ok(1)), || {
                            format!("cycle {i}: fence {:?}", s.status())
                        })?;
                        check_words(&bo, 0, 4096, |_| i).map_err(|e| format!("cycle {i}: {e}"))?;
                    }
                    // Close with everything alive.
                    bo.into_handle();
                    s.into_handle();
                    q.into_id();
                    vm.into_id();
                    drop(dev);
                }
                println!(
                    "# 200 cycles in {} ms, {retries} VM_CREATE retries",
                    t0.elapsed().as_millis()
                );
                device_works()
            })
        },
    );

    // Every VM slot is free again: this file can create all but its own.
    drop(ctx);
    std::thread::sleep(Duration::from_millis(500));
    let max = dev.params().num_vms_max;
    let mut vms = Vec::new();
    let err = loop {
        match agx::Vm::new(&dev) {
            Ok(v) if vms.len() <= max as usize => vms.push(v),
            Ok(_) => break None,
            Err(e) => break Some(e),
        }
    };
    t.note(format!(
        "created {} VMs of num_vms_max {max}; then: {}",
        vms.len(),
        err.as_ref()
            .map(err_name)
            .unwrap_or_else(|| "no error".into())
    ));
    t.check(
        "teardown: num_vms_max VMs can exist again (no slot leaked)",
        ensure(vms.len() == max as usize && err.is_some(), || {
            format!("{} VMs", vms.len())
        }),
    );
}

// --- prime ------------------------------------------------------------------------------------

fn prime(t: &mut Tap) {
    let dev = setup!(t, "open the render node", Device::open());
    let mut ctx = setup!(t, "context", Context::new(&dev).map_err(e2s));
    let pat = setup!(t, "program", ctx.program(&PATTERN).map_err(e2s));
    let words = 16384u32;
    let x = setup!(t, "buffer", ctx.alloc(u64::from(words) * 4).map_err(e2s));
    let mut cb = CmdBuf::new();
    add_pattern(&mut cb, &pat, &x, words, 7, 0x1000);
    setup!(t, "the GPU writes the BO", run_ok(ctx.queue(), &cb));
    let Some(fd) = t.expect_ok("PRIME_HANDLE_TO_FD", dev.prime_export(x.handle())) else {
        return;
    };
    match dev.prime_import(fd.as_fd()) {
        Ok(h) => {
            let want = x.handle();
            t.check(
                "PRIME_FD_TO_HANDLE: importing our own export gives our handle",
                ensure(h == want, || format!("{h}, expected {want}")),
            );
        }
        Err(e) => t.fail("PRIME_FD_TO_HANDLE: our own export", err_name(&e)),
    }
    t.expect_err(
        "PRIME_HANDLE_TO_FD: unknown handle",
        dev.prime_export(BAD_ID),
        &[ENOENT],
    );
    t.expect_err(
        "PRIME_FD_TO_HANDLE: fd -1",
        dev.prime_import_raw(-1),
        &[EBADF],
    );
    t.expect_err(
        "PRIME_FD_TO_HANDLE: a DRM file, not a dma-buf",
        dev.prime_import_raw(dev.fd().as_raw_fd()),
        &[EINVAL, EBADF],
    );

    let size = x.size();
    let fdr = &fd;
    in_child(
        t,
        "prime: another process imports, reads and writes the BO",
        Duration::from_secs(120),
        move || {
            child_body(|| {
                let devb = Device::open().map_err(|e| format!("open: {e}"))?;
                let mut ctxb = Context::new(&devb).map_err(e2s)?;
                let h = devb
                    .prime_import(fdr.as_fd())
                    .map_err(|e| format!("import: {}", err_name(&e)))?;
                let h2 = devb
                    .prime_import(fdr.as_fd())
                    .map_err(|e| format!("import again: {}", err_name(&e)))?;
                ensure(h == h2, || format!("imported twice: handles {h} and {h2}"))?;
                let mut bo = Bo::from_handle(&devb, h, size);
                bo.mmap()
                    .map_err(|e| format!("mmap of the import: {}", err_name(&e)))?;
                check_words(&bo, 0, words as usize, |i| {
                    programs::pattern(i as u32, 7, 0x1000)
                })
                .map_err(|e| format!("CPU view of the import: {e}"))?;
                let shared = ctxb
                    .map(bo, RW)
                    .map_err(|e| format!("VM_BIND of the import: {}", err_name(&e)))?;
                let y = ctxb.alloc(size).map_err(e2s)?;
                let mut cb = CmdBuf::new();
                cb.copy(shared.va, y.va, size, None);
                run_ok(ctxb.queue(), &cb)?;
                check_words(&y, 0, words as usize, |i| {
                    programs::pattern(i as u32, 7, 0x1000)
                })
                .map_err(|e| format!("GPU copy of the import: {e}"))?;
                let mut cb = CmdBuf::new();
                cb.fill(shared.va, size, 0x5eed_0001, None);
                run_ok(ctxb.queue(), &cb)
            })
        },
    );
    t.check(
        "prime: the other process's GPU writes are seen here",
        check_words(&x, 0, words as usize, |_| 0x5eed_0001),
    );
    drop(fd);
}

// --- fuzz -------------------------------------------------------------------------------------

/// Live objects of the fuzzer, with what it knows about them.
#[derive(Default)]
struct VmModel {
    live: bool,
    maps: Vec<(u64, u64, u32)>, // (va, size, flags)
}

struct FQueue {
    id: u32,
    vm: u32,
    inflight: u32,
    throttle: u32,
}

#[derive(Default)]
struct Stat {
    calls: u64,
    ok: u64,
    errs: BTreeMap<i32, u64>,
}

struct Fuzz {
    dev: Device,
    rng: Rng,
    p: ParamsGlobal,
    progs: Bo,
    prog_offsets: Vec<(u64, u32)>, // (offset in `progs`, size)
    bos: Vec<(u32, u64)>,
    bo_bytes: u64,
    vms: BTreeMap<u32, VmModel>,
    queues: Vec<FQueue>,
    syncobjs: Vec<(u32, u64)>, // (handle, highest point used)
    dmabufs: Vec<(OwnedFd, u64)>,
    stats: BTreeMap<&'static str, Stat>,
    slowest: (Duration, &'static str),
}

/// The VM window the fuzzer maps BOs in (above the program page).
const WINDOW: u64 = 1 << 20;
const WINDOW_PAGES: u64 = 1024;
const MAX_BO_BYTES: u64 = 64 << 20;

impl Fuzz {
    fn new(dev: &Device, rng: Rng, progs: Bo, prog_offsets: Vec<(u64, u32)>) -> Fuzz {
        Fuzz {
            dev: dev.clone(),
            rng,
            p: *dev.params(),
            progs,
            prog_offsets,
            bos: Vec::new(),
            bo_bytes: 0,
            vms: BTreeMap::new(),
            queues: Vec::new(),
            syncobjs: Vec::new(),
            dmabufs: Vec::new(),
            stats: BTreeMap::new(),
            slowest: (Duration::ZERO, ""),
        }
    }

    fn record<T>(&mut self, name: &'static str, dt: Duration, r: &io::Result<T>) {
        let s = self.stats.entry(name).or_default();
        s.calls += 1;
        match r {
            Ok(_) => s.ok += 1,
            Err(e) => *s.errs.entry(errno(e)).or_default() += 1,
        }
        if dt > self.slowest.0 {
            self.slowest = (dt, name);
        }
    }

    fn handle(&mut self) -> u32 {
        match self.rng.below(10) {
            0 => self.rng.below(64) as u32,
            1 => self.rng.edgy_u64() as u32,
            _ => self.rng.pick(&self.bos).map(|b| b.0).unwrap_or(1),
        }
    }

    fn vm_id(&mut self) -> u32 {
        let live: Vec<u32> = self
            .vms
            .iter()
            .filter(|(_, m)| m.live)
            .map(|(&k, _)| k)
            .collect();
        match self.rng.below(10) {
            0 => self.rng.edgy_u64() as u32,
            1 => self.rng.below(16) as u32,
            _ => self.rng.pick(&live).copied().unwrap_or(1),
        }
    }

    fn syncobj(&mut self) -> u32 {
        match self.rng.below(10) {
            0 => self.rng.edgy_u64() as u32,
            _ => self.rng.pick(&self.syncobjs).map(|s| s.0).unwrap_or(1),
        }
    }

    fn flags32(&mut self, valid: u32) -> u32 {
        match self.rng.below(20) {
            0 => self.rng.next_u32(),
            1 => 1 << self.rng.below(32),
            _ => valid,
        }
    }

    /// An input pointer: mostly `buf`, sometimes an address to refuse.
    fn in_ptr<'a, T: abi::Pod>(&mut self, buf: &'a [T]) -> UserPtr<'a> {
        if self.rng.chance(1, 30) {
            UserPtr::bad(*self.rng.pick(&BadAddr::ALL).unwrap())
        } else {
            UserPtr::input(buf)
        }
    }

    /// Forgets a destroyed VM, unless a queue still runs in it.
    fn vm_gone(&mut self, id: u32) {
        if self.queues.iter().any(|q| q.vm == id) {
            if let Some(m) = self.vms.get_mut(&id) {
                m.live = false;
            }
        } else {
            self.vms.remove(&id);
        }
    }

    /// A new VM with the programs mapped READ at vm_start.
    fn new_vm(&mut self) -> io::Result<u32> {
        let mut a = abi::VmCreate {
            flags: self.flags32(0),
            vm_id: 0,
        };
        let t0 = Instant::now();
        let r = self.dev.raw(req::RAGX_VM_CREATE, &mut a);
        self.record("VM_CREATE", t0.elapsed(), &r);
        r?;
        let _ = self.dev.vm_map(
            a.vm_id,
            self.progs.handle(),
            0,
            self.progs.size(),
            self.p.vm_start,
            BIND_READ,
        );
        self.vms.insert(
            a.vm_id,
            VmModel {
                live: true,
                maps: Vec::new(),
            },
        );
        Ok(a.vm_id)
    }

    fn step(&mut self) {
        let t0 = Instant::now();
        match self.rng.below(100) {
            0..=24 => self.submit(),
            25..=39 => self.vm_bind(),
            40..=45 => {
                // GEM_CREATE, keeping at most 64 BOs and 64 MiB.
                if self.bos.len() >= 64 || self.bo_bytes > MAX_BO_BYTES {
                    let k = self.rng.below(self.bos.len() as u64) as usize;
                    let (h, size) = self.bos.swap_remove(k);
                    self.bo_bytes -= size;
                    let _ = self.dev.gem_close(h);
                }
                let size = match self.rng.below(20) {
                    0 => 0,
                    1 => u64::MAX - self.rng.below(P),
                    2 => self.rng.range(1, 100_000),
                    _ => *self
                        .rng
                        .pick(&[P, P, 2 * P, 4 * P, 16 * P, 64 * P, 256 * P])
                        .unwrap(),
                };
                let mut a = abi::GemCreate {
                    size,
                    flags: self.flags32(0),
                    handle: 0,
                };
                let r = self.dev.raw(req::RAGX_GEM_CREATE, &mut a);
                self.record("GEM_CREATE", t0.elapsed(), &r);
                if r.is_ok() {
                    let size = agx::page_round_up(size).unwrap_or(size);
                    self.bos.push((a.handle, size));
                    self.bo_bytes += size;
                }
            }
            46..=50 => {
                let h = self.handle();
                let r = self.dev.gem_close(h);
                self.record("GEM_CLOSE", t0.elapsed(), &r);
                if r.is_ok() {
                    if let Some(k) = self.bos.iter().position(|b| b.0 == h) {
                        self.bo_bytes -= self.bos.swap_remove(k).1;
                    }
                }
            }
            51..=54 => {
                let h = self.handle();
                let mut a = abi::GemMmapOffset {
                    handle: h,
                    flags: self.flags32(0),
                    offset: 0,
                };
                let r = self.dev.raw(req::RAGX_GEM_MMAP_OFFSET, &mut a);
                self.record("GEM_MMAP_OFFSET", t0.elapsed(), &r);
                // Sometimes touch the first page through the CPU.
                if r.is_ok() && self.rng.chance(1, 4) {
                    if let Ok(m) = self.dev.mmap(a.offset, P as usize) {
                        let v = m.read_u32(0);
                        m.write_u32(1, v);
                    }
                }
            }
            55..=56 => {
                // At most 4 live VMs: the slots are device-wide.
                let live: Vec<u32> = self
                    .vms
                    .iter()
                    .filter(|(_, m)| m.live)
                    .map(|(&k, _)| k)
                    .collect();
                if live.len() >= 4 {
                    let id = live[self.rng.below(live.len() as u64) as usize];
                    if self.dev.vm_destroy(id).is_ok() {
                        self.vm_gone(id);
                    }
                }
                let _ = self.new_vm();
            }
            57..=58 => {
                let id = self.vm_id();
                let mut a = abi::VmDestroy {
                    vm_id: id,
                    pad: self.flags32(0),
                };
                let r = self.dev.raw(req::RAGX_VM_DESTROY, &mut a);
                self.record("VM_DESTROY", t0.elapsed(), &r);
                if r.is_ok() {
                    self.vm_gone(id);
                }
            }
            59..=61 => {
                if self.queues.len() >= 8 {
                    let q = self.queues.swap_remove(self.rng.below(8) as usize);
                    let _ = self.dev.queue_destroy(q.id);
                    let _ = self.dev.syncobj_destroy(q.throttle);
                }
                {
                    let vm = self.vm_id();
                    let prio = if self.rng.chance(1, 10) {
                        self.rng.edgy_u64() as u32
                    } else {
                        self.rng.below(u64::from(self.p.num_priorities) + 1) as u32
                    };
                    let mut a = abi::QueueCreate {
                        flags: self.flags32(0),
                        vm_id: vm,
                        priority: prio,
                        queue_id: 0,
                    };
                    let r = self.dev.raw(req::RAGX_QUEUE_CREATE, &mut a);
                    self.record("QUEUE_CREATE", t0.elapsed(), &r);
                    if r.is_ok() {
                        let throttle = self.dev.syncobj_create(false).unwrap_or(0);
                        self.queues.push(FQueue {
                            id: a.queue_id,
                            vm,
                            inflight: 0,
                            throttle,
                        });
                    }
                }
            }
            62..=63 => {
                let id = match self.rng.below(5) {
                    0 => self.rng.edgy_u64() as u32,
                    _ => self.rng.pick(&self.queues).map(|q| q.id).unwrap_or(1),
                };
                let mut a = abi::QueueDestroy {
                    queue_id: id,
                    pad: self.flags32(0),
                };
                let r = self.dev.raw(req::RAGX_QUEUE_DESTROY, &mut a);
                self.record("QUEUE_DESTROY", t0.elapsed(), &r);
                if r.is_ok() {
                    if let Some(k) = self.queues.iter().position(|q| q.id == id) {
                        let q = self.queues.swap_remove(k);
                        let _ = self.dev.syncobj_destroy(q.throttle);
                        if self.vms.get(&q.vm).is_some_and(|m| !m.live) {
                            self.vm_gone(q.vm);
                        }
                    }
                }
            }
            64..=66 => {
                let mut buf = [0u8; 256];
                let group = if self.rng.chance(1, 5) {
                    self.rng.edgy_u64() as u32
                } else {
                    0
                };
                let pad = self.flags32(0);
                let r = if self.rng.chance(1, 10) {
                    let mut a = abi::GetParams {
                        param_group: group,
                        pad,
                        pointer: 0,
                        size: self.rng.edgy_u64(),
                    };
                    let bad = *self.rng.pick(&BadAddr::ALL).unwrap();
                    self.dev.raw_get_params(&mut a, UserPtr::bad(bad))
                } else {
                    let size = *self.rng.pick(&[0, 8, 63, 64, 65, 256]).unwrap();
                    let mut a = abi::GetParams {
                        param_group: group,
                        pad,
                        pointer: 0,
                        size,
                    };
                    self.dev.raw_get_params(&mut a, UserPtr::output(&mut buf))
                };
                self.record("GET_PARAMS", t0.elapsed(), &r);
            }
            67..=68 => {
                let flags = if self.rng.chance(1, 10) {
                    self.rng.edgy_u64()
                } else {
                    0
                };
                let r = self.dev.raw(
                    req::RAGX_GET_TIME,
                    &mut abi::GetTime {
                        flags,
                        gpu_timestamp: 0,
                    },
                );
                self.record("GET_TIME", t0.elapsed(), &r);
            }
            69..=72 => {
                let object = if self.rng.chance(1, 10) {
                    self.rng.edgy_u64() as u32
                } else {
                    self.rng.below(2) as u32
                };
                let id = if object == FAULT_OBJECT_QUEUE && self.rng.chance(4, 5) {
                    self.rng.pick(&self.queues).map(|q| q.id).unwrap_or(1)
                } else {
                    self.vm_id()
                };
                let mut a = GetFault {
                    object,
                    id,
                    ..Default::default()
                };
                if self.rng.chance(1, 10) {
                    a.state = self.rng.next_u32();
                    a.address = self.rng.next_u64();
                }
                let r = self.dev.raw(req::RAGX_GET_FAULT, &mut a);
                self.record("GET_FAULT", t0.elapsed(), &r);
            }
            73..=75 => {
                if self.syncobjs.len() >= 32 {
                    let k = self.rng.below(32) as usize;
                    let _ = self.dev.syncobj_destroy(self.syncobjs.swap_remove(k).0);
                }
                let valid = self.rng.below(2) as u32;
                let flags = self.flags32(valid);
                let mut a = abi::SyncobjCreate { handle: 0, flags };
                let r = self.dev.raw(req::SYNCOBJ_CREATE, &mut a);
                self.record("SYNCOBJ_CREATE", t0.elapsed(), &r);
                if r.is_ok() {
                    self.syncobjs.push((a.handle, 0));
                }
            }
            76..=77 => {
                let h = self.syncobj();
                let r = self.dev.syncobj_destroy(h);
                self.record("SYNCOBJ_DESTROY", t0.elapsed(), &r);
                self.syncobjs.retain(|s| s.0 != h || r.is_err());
            }
            78..=81 => {
                let n = self.rng.range(1, 4) as usize;
                let handles: Vec<u32> = (0..n).map(|_| self.syncobj()).collect();
                let valid = self.rng.below(16) as u32;
                let flags = self.flags32(valid);
                let mut a = abi::SyncobjWait {
                    timeout_nsec: self.short_deadline(),
                    count_handles: if self.rng.chance(1, 20) {
                        self.rng.below(64) as u32
                    } else {
                        n as u32
                    },
                    flags,
                    deadline_nsec: self.rng.next_u64(),
                    ..Default::default()
                };
                let ptr = self.in_ptr(&handles);
                let r = self.dev.raw_syncobj_wait(&mut a, ptr);
                self.record("SYNCOBJ_WAIT", t0.elapsed(), &r);
            }
            82..=84 => {
                let n = self.rng.range(1, 4) as usize;
                let handles: Vec<u32> = (0..n).map(|_| self.syncobj()).collect();
                let points: Vec<u64> = (0..n).map(|_| self.rng.below(8)).collect();
                let valid = self.rng.below(16) as u32;
                let flags = self.flags32(valid);
                let mut a = abi::SyncobjTimelineWait {
                    timeout_nsec: self.short_deadline(),
                    count_handles: n as u32,
                    flags,
                    ..Default::default()
                };
                let hp = self.in_ptr(&handles);
                let pp = self.in_ptr(&points);
                let r = self.dev.raw_syncobj_timeline_wait(&mut a, hp, pp);
                self.record("SYNCOBJ_TIMELINE_WAIT", t0.elapsed(), &r);
            }
            85..=87 => {
                let n = self.rng.range(1, 4) as usize;
                let handles: Vec<u32> = (0..n).map(|_| self.syncobj()).collect();
                let mut points = vec![0u64; 4];
                let valid = self.rng.below(2) as u32;
                let flags = self.flags32(valid);
                let mut a = abi::SyncobjTimelineArray {
                    count_handles: n as u32,
                    flags,
                    ..Default::default()
                };
                let hp = self.in_ptr(&handles);
                let r = self
                    .dev
                    .raw_syncobj_query(&mut a, hp, UserPtr::output(&mut points));
                self.record("SYNCOBJ_QUERY", t0.elapsed(), &r);
            }
            88..=89 => {
                // No WAIT_FOR_SUBMIT: a transfer would block up to 5 s on it.
                let (src, dst) = (self.syncobj(), self.syncobj());
                let mut a = abi::SyncobjTransfer {
                    src_handle: src,
                    dst_handle: dst,
                    src_point: self.rng.below(6),
                    dst_point: self.rng.below(6),
                    flags: if self.rng.chance(1, 20) {
                        1 << self.rng.range(3, 31)
                    } else {
                        0
                    },
                    pad: 0,
                };
                let r = self.dev.raw(req::SYNCOBJ_TRANSFER, &mut a);
                self.record("SYNCOBJ_TRANSFER", t0.elapsed(), &r);
            }
            90..=92 => {
                let h = self.syncobj();
                let valid = self.rng.below(4) as u32;
                let flags = self.flags32(valid);
                let mut a = abi::SyncobjHandle {
                    handle: h,
                    flags,
                    fd: -1,
                    pad: 0,
                    point: self.rng.below(6),
                };
                let r = self.dev.raw_syncobj_handle_to_fd(&mut a);
                self.record("SYNCOBJ_HANDLE_TO_FD", t0.elapsed(), &r);
                if let Ok(fd) = r {
                    if flags & abi::SYNCOBJ_HANDLE_TO_FD_EXPORT_SYNC_FILE != 0 {
                        let _ = agx::sync_file_status(fd.as_fd());
                    }
                }
            }
            93..=95 => {
                if self.dmabufs.len() >= 8 {
                    self.dmabufs.remove(0);
                }
                let h = self.handle();
                let flags = self.flags32(abi::DRM_CLOEXEC | abi::DRM_RDWR);
                let mut a = abi::PrimeHandle {
                    handle: h,
                    flags,
                    fd: -1,
                };
                let r = self.dev.raw_prime_handle_to_fd(&mut a);
                self.record("PRIME_HANDLE_TO_FD", t0.elapsed(), &r);
                if let Ok(fd) = r {
                    let size = self.bos.iter().find(|b| b.0 == h).map(|b| b.1).unwrap_or(P);
                    self.dmabufs.push((fd, size));
                }
            }
            _ => {
                let (fd, size) = match (self.rng.below(5), self.dmabufs.is_empty()) {
                    (0, _) | (_, true) => (self.rng.below(24) as i32 - 2, P),
                    _ => {
                        let k = self.rng.below(self.dmabufs.len() as u64) as usize;
                        (self.dmabufs[k].0.as_raw_fd(), self.dmabufs[k].1)
                    }
                };
                let r = self.dev.prime_import_raw(fd);
                self.record("PRIME_FD_TO_HANDLE", t0.elapsed(), &r);
                if let Ok(h) = r {
                    if !self.bos.iter().any(|b| b.0 == h) && self.bos.len() < 64 {
                        self.bos.push((h, size));
                        self.bo_bytes += size;
                    }
                }
            }
        }
    }

    /// An absolute syncobj deadline at most 2 ms away (or in the past).
    fn short_deadline(&mut self) -> i64 {
        match self.rng.below(4) {
            0 => 0,
            1 => -(self.rng.below(1 << 40) as i64),
            _ => agx::monotonic_ns() + self.rng.below(2_000_000) as i64,
        }
    }

    fn vm_bind(&mut self) {
        let t0 = Instant::now();
        let vm = self.vm_id();
        let n = self.rng.range(1, 4) as usize;
        let base = self.p.vm_start + WINDOW;
        let mut ops = Vec::new();
        for _ in 0..n {
            let mut op = if self.rng.chance(7, 10) {
                let (h, size) = self.rng.pick(&self.bos).copied().unwrap_or((1, P));
                let pages = (size / P).max(1);
                let off = if self.rng.chance(1, 2) {
                    0
                } else {
                    self.rng.below(pages)
                };
                let len = self.rng.range(1, (pages - off).max(1));
                let flags = *self.rng.pick(&[RW, RW, RW, BIND_READ, BIND_WRITE]).unwrap();
                bind_op(
                    flags,
                    h,
                    off * P,
                    len * P,
                    base + P * self.rng.below(WINDOW_PAGES),
                )
            } else {
                let len = self.rng.range(1, 64);
                bind_op(
                    BIND_UNBIND,
                    0,
                    0,
                    len * P,
                    base + P * self.rng.below(WINDOW_PAGES),
                )
            };
            if self.rng.chance(1, 5) {
                match self.rng.below(6) {
                    0 => op.flags = self.rng.next_u32() & 0xf,
                    1 => op.addr = self.rng.edgy_u64(),
                    2 => op.range = self.rng.edgy_u64(),
                    3 => op.offset = self.rng.edgy_u64(),
                    4 => op.handle = self.rng.edgy_u64() as u32,
                    _ => op.addr += self.rng.below(P),
                }
            }
            ops.push(op);
        }
        let stride = match self.rng.below(20) {
            0 => *self.rng.pick(&[0, 16, 31, 33, 40, 64]).unwrap(),
            1 => self.rng.edgy_u64() as u32,
            _ => 32,
        };
        let num = match self.rng.below(30) {
            0 => 0,
            1 => self.rng.edgy_u64() as u32,
            _ => n as u32,
        };
        let pad = self.flags32(0);
        // Zeros past our ops (an invalid op), as for SUBMIT.
        let want = (num as usize).saturating_mul(stride as usize);
        if want > ops.len() * 32 && want <= 1 << 16 {
            ops.resize(want.div_ceil(32), VmBindOp::default());
        }
        let mut a = abi::VmBind {
            vm_id: vm,
            num_binds: num,
            stride,
            pad,
            userptr: 0,
        };
        let ptr = self.in_ptr(&ops);
        let r = self.dev.raw_vm_bind(&mut a, ptr);
        self.record("VM_BIND", t0.elapsed(), &r);
        if r.is_ok() && stride == 32 {
            if let Some(m) = self.vms.get_mut(&vm) {
                for op in &ops[..(num as usize).min(ops.len())] {
                    if op.flags & BIND_UNBIND != 0 {
                        m.maps.retain(|&(va, size, _)| {
                            va + size <= op.addr || va >= op.addr.saturating_add(op.range)
                        });
                    } else {
                        m.maps.push((op.addr, op.range, op.flags));
                    }
                }
            }
        }
    }

    /// A range of `len` bytes inside a mapping of `vm` with `flags`, or a
    /// random address in the window if there is none.
    fn range_in(&mut self, vm: u32, flags: u32, max: u64) -> (u64, u64) {
        let maps: Vec<(u64, u64)> = self
            .vms
            .get(&vm)
            .map(|m| {
                m.maps
                    .iter()
                    .filter(|x| x.2 & flags == flags)
                    .map(|x| (x.0, x.1))
                    .collect()
            })
            .unwrap_or_default();
        match self.rng.pick(&maps) {
            Some(&(va, size)) => {
                let len = self.rng.range(1, size.min(max) / 4).max(1) * 4;
                let off = self.rng.below((size - len) / 4 + 1) * 4;
                (va + off, len)
            }
            None => (
                self.p.vm_start + WINDOW + 4 * self.rng.below(WINDOW_PAGES * P / 4),
                4 * self.rng.range(1, 64),
            ),
        }
    }

    fn cmdbuf(&mut self, vm: u32) -> Vec<u8> {
        let mut cb = CmdBuf::new();
        for k in 0..self.rng.range(1, 6) {
            let barrier = if k > 0 && self.rng.chance(1, 3) {
                Some(self.rng.below(k) as u16)
            } else {
                None
            };
            match self.rng.below(8) {
                0..=2 => {
                    let (addr, size) = self.range_in(vm, BIND_WRITE, 16384);
                    cb.fill(addr, size, self.rng.next_u32(), barrier);
                }
                3..=5 => {
                    let (src, n) = self.range_in(vm, BIND_READ, 16384);
                    let (dst, m) = self.range_in(vm, BIND_WRITE, 16384);
                    let size = n.min(m);
                    if src + size <= dst || dst + size <= src {
                        cb.copy(src, dst, size, barrier);
                    } else {
                        cb.fill(dst, m, 0, barrier);
                    }
                }
                _ => {
                    let (off, size) = *self.rng.pick(&self.prog_offsets).unwrap();
                    let inv = self.rng.range(1, 64) as u32;
                    let (a, _) = self.range_in(vm, RW, 16384);
                    let (b, _) = self.range_in(vm, RW, 16384);
                    let args = [self.rng.below(1000), a, b, self.rng.below(1 << 20)];
                    let c = Cmd::Compute {
                        program: self.p.vm_start + off,
                        program_size: size,
                        invocations: inv,
                        args,
                        max_steps: self.rng.range(1, 4096) as u32,
                    };
                    cb.push(c, barrier);
                }
            }
        }
        let mut b = cb.bytes().to_vec();
        if self.rng.chance(3, 10) {
            for _ in 0..self.rng.range(1, 4) {
                if b.is_empty() {
                    break;
                }
                match self.rng.below(6) {
                    0 => {
                        let k = self.rng.below(b.len() as u64) as usize;
                        b[k] ^= 1 << self.rng.below(8);
                    }
                    1 => {
                        let k = self.rng.below(b.len() as u64) as usize;
                        b[k] = self.rng.next_u32() as u8;
                    }
                    2 => {
                        let k = self.rng.below(b.len() as u64 + 1) as usize;
                        b.truncate(k);
                    }
                    3 => {
                        let mut extra = [0u8; 8];
                        self.rng.fill(&mut extra);
                        b.extend_from_slice(&extra[..self.rng.range(1, 8) as usize]);
                    }
                    4 if b.len() >= 8 => {
                        // A header field: type, size or barrier.
                        let k = 2 * self.rng.below(3) as usize;
                        b[k..k + 2].copy_from_slice(&(self.rng.next_u32() as u16).to_le_bytes());
                    }
                    _ => {
                        let k = self.rng.below(b.len() as u64 / 8 + 1) as usize * 8;
                        if k + 8 <= b.len() {
                            let v = self.rng.edgy_u64().to_le_bytes();
                            b[k..k + 8].copy_from_slice(&v);
                        }
                    }
                }
            }
        }
        clamp_compute(&mut b);
        b
    }

    fn submit(&mut self) {
        let t0 = Instant::now();
        let qi = if self.queues.is_empty() {
            None
        } else {
            Some(self.rng.below(self.queues.len() as u64) as usize)
        };
        let (qid, vm) = match qi {
            Some(k) if self.rng.chance(9, 10) => (self.queues[k].id, self.queues[k].vm),
            _ => (self.rng.edgy_u64() as u32, 0),
        };
        // Bound the work in flight: wait a little for a busy queue.
        if let Some(k) = qi {
            if self.queues[k].inflight >= 16 {
                let _ =
                    self.dev
                        .syncobj_wait(&[self.queues[k].throttle], true, Duration::from_secs(1));
                self.queues[k].inflight = 0;
            }
        }
        let cb = self.cmdbuf(vm);
        let mut syncs = Vec::new();
        let nin = self.rng.below(3) as u32;
        let nout = self.rng.below(3) as u32;
        for _ in 0..nin + nout {
            let h = self.syncobj();
            let top = self
                .syncobjs
                .iter()
                .find(|s| s.0 == h)
                .map(|s| s.1)
                .unwrap_or(0);
            let s = match self.rng.below(10) {
                0 => abi::Sync {
                    sync_type: self.rng.below(4) as u32,
                    handle: h,
                    timeline_value: self.rng.below(4),
                },
                1..=4 => abi::Sync {
                    sync_type: uapi::SYNC_TIMELINE_SYNCOBJ,
                    handle: h,
                    timeline_value: self.rng.range(1, top + 2),
                },
                _ => abi::Sync {
                    sync_type: uapi::SYNC_SYNCOBJ,
                    handle: h,
                    timeline_value: 0,
                },
            };
            syncs.push(s);
        }
        let throttled =
            qi.is_some_and(|k| self.queues[k].id == qid) && (nin + nout) < self.p.max_syncs;
        let mut nout_total = nout;
        if let (true, Some(k)) = (throttled, qi) {
            syncs.push(abi::Sync {
                sync_type: uapi::SYNC_SYNCOBJ,
                handle: self.queues[k].throttle,
                timeline_value: 0,
            });
            nout_total += 1;
        }
        let (cin, cout) = match self.rng.below(40) {
            0 => (self.rng.edgy_u64() as u32, nout_total),
            1 => (nin, self.rng.edgy_u64() as u32),
            _ => (nin, nout_total),
        };
        let size = if self.rng.chance(1, 30) {
            self.rng.edgy_u64() as u32
        } else {
            cb.len() as u32
        };
        // What the kernel reads past our commands is zeros (an invalid
        // header), not heap bytes: runs replay from their seed, and no
        // unclamped compute command sneaks in.
        let mut cb = cb;
        if size as usize > cb.len() {
            cb.resize((size as usize).min(cmd::MAX_CMDBUF_SIZE + 8), 0);
        }
        let want_syncs = (cin as usize).saturating_add(cout as usize);
        if want_syncs > syncs.len() && want_syncs <= 2 * self.p.max_syncs as usize {
            syncs.resize(want_syncs, abi::Sync::default());
        }
        let mut a = abi::Submit {
            queue_id: qid,
            in_sync_count: cin,
            out_sync_count: cout,
            cmdbuf_size: size,
            flags: self.flags32(0),
            pad: self.flags32(0),
            ..Default::default()
        };
        let sp = self.in_ptr(&syncs);
        let cp = self.in_ptr(&cb);
        let r = self.dev.raw_submit(&mut a, sp, cp);
        self.record("SUBMIT", t0.elapsed(), &r);
        if r.is_ok() {
            if let (true, Some(k)) = (throttled, qi) {
                self.queues[k].inflight += 1;
            }
            for s in &syncs[nin as usize..] {
                if let Some(x) = self.syncobjs.iter_mut().find(|x| x.0 == s.handle) {
                    x.1 = x.1.max(s.timeline_value);
                }
            }
        }
    }
}

/// Keeps every well-formed compute command of `b` short: at most 64
/// invocations of 4096 steps, whatever the mutations did.
fn clamp_compute(b: &mut [u8]) {
    let mut pos = 0;
    while pos + cmd::HEADER_SIZE <= b.len() {
        let ty = u16::from_le_bytes([b[pos], b[pos + 1]]);
        let size = usize::from(u16::from_le_bytes([b[pos + 2], b[pos + 3]]));
        let p = pos + cmd::HEADER_SIZE;
        if ty == cmd::CMD_COMPUTE && p + 56 <= b.len() {
            let inv = u32::from_le_bytes(b[p + 12..p + 16].try_into().unwrap());
            let steps = u32::from_le_bytes(b[p + 48..p + 52].try_into().unwrap());
            b[p + 12..p + 16].copy_from_slice(&inv.min(64).to_le_bytes());
            b[p + 48..p + 52].copy_from_slice(&steps.min(4096).to_le_bytes());
        }
        if size == 0 {
            break;
        }
        pos = p + size;
    }
}

fn fuzz(t: &mut Tap, n: u64, seed: u64) {
    println!("# fuzz: {n} calls, seed {seed} (replay: agx-test fuzz {n} {seed})");
    let dev = setup!(t, "open the render node", Device::open());
    // The programs every fuzzed VM maps READ at vm_start.
    let progs = setup!(t, "program BO", Bo::new(&dev, P).map_err(e2s));
    let mut rng = Rng::new(seed);
    let mut prog_offsets = Vec::new();
    let mut off = 0usize;
    for code in [
        programs::encode(&programs::SAXPY),
        programs::encode(&PATTERN),
        programs::encode(&programs::CHECKSUM),
        programs::encode(&programs::SPIN),
        programs::encode(&programs::LOAD),
        programs::encode(&programs::STORE),
        programs::illegal_opcode().0,
    ] {
        progs.write(off, &code);
        prog_offsets.push((off as u64, code.len() as u32));
        off += 256;
    }
    // Random bytes: mostly illegal instructions, some wild loads/stores.
    let mut junk = vec![0u8; 4096];
    rng.fill(&mut junk);
    progs.write(8192, &junk);
    prog_offsets.push((8192, 4096));
    prog_offsets.push((8192 + 64, 256));

    let mut f = Fuzz::new(&dev, rng, progs, prog_offsets);
    drop(dev);
    let t0 = Instant::now();
    for i in 0..n {
        f.step();
        if (i + 1) % 10000 == 0 {
            println!("# {} calls, {} s", i + 1, t0.elapsed().as_secs());
            let _ = io::stdout().flush();
        }
    }
    let took = t0.elapsed();
    let mut faults = 0u64;
    for q in &f.queues {
        if let Ok(fl) = f.dev.get_fault(FAULT_OBJECT_QUEUE, q.id) {
            faults += u64::from(fl.count);
        }
    }
    println!("# {:<22} {:>8} {:>8}  errors", "ioctl", "calls", "ok");
    for (name, s) in &f.stats {
        let errs: Vec<String> = s
            .errs
            .iter()
            .map(|(e, c)| format!("{} {c}", errno_name(*e)))
            .collect();
        println!(
            "# {name:<22} {:>8} {:>8}  {}",
            s.calls,
            s.ok,
            errs.join(", ")
        );
    }
    t.note(format!(
        "{n} calls in {:.1} s; slowest {} ms ({}); {faults} faults on the live queues",
        took.as_secs_f64(),
        f.slowest.0.as_millis(),
        f.slowest.1
    ));
    let total: u64 = f.stats.values().map(|s| s.calls).sum();
    t.check(
        "fuzz: every call returned",
        ensure(total == n, || format!("{total} of {n}")),
    );
    t.check(
        "fuzz: no call took over 10 s",
        ensure(f.slowest.0 < Duration::from_secs(10), || {
            format!("{} took {} ms", f.slowest.1, f.slowest.0.as_millis())
        }),
    );
    let t1 = Instant::now();
    drop(f);
    t.note(format!(
        "closing the fuzzed file took {} ms",
        t1.elapsed().as_millis()
    ));
    match Device::open() {
        Ok(dev) => {
            t.check(
                "fuzz: SAXPY over 4096 elements afterwards",
                workloads::saxpy(&dev, 4096, seed).map(|_| ()),
            );
        }
        Err(e) => t.fail("fuzz: reopen the render node", e),
    }
}

fn number(s: &str) -> u64 {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.unwrap_or_else(|_| {
        eprintln!("agx-test: bad number {s:?}\n{USAGE}");
        exit(2)
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(suite) = args.first() else {
        eprintln!("agx-test: no suite given\n{USAGE}");
        exit(2)
    };
    let mut t = Tap {
        passed: 0,
        failed: 0,
    };
    match (suite.as_str(), args.len()) {
        ("ioctls", 1) => ioctls(&mut t),
        ("cmds", 1) => cmds(&mut t),
        ("order", 1) => order(&mut t),
        ("fault", 1) => fault(&mut t),
        ("timeout", 1) => timeout(&mut t),
        ("teardown", 1) => teardown(&mut t),
        ("prime", 1) => prime(&mut t),
        ("fuzz", 1..=3) => {
            let n = args.get(1).map(|s| number(s)).unwrap_or(100_000);
            let seed = args
                .get(2)
                .map(|s| number(s))
                .unwrap_or_else(Rng::seed_from_time);
            fuzz(&mut t, n, seed)
        }
        _ => {
            eprintln!("agx-test: unknown suite or arguments {args:?}\n{USAGE}");
            exit(2)
        }
    }
    exit(t.finish(suite))
}

#[cfg(test)]
mod tests {
    use super::*;
    use agx::fw::pgtable::USER_VA_START as A;

    /// A fuzzer on /dev/null (every ioctl fails) whose model holds BOs, two
    /// VMs with mappings, two queues and two syncobjs.
    fn fake_fuzz(seed: u64) -> Fuzz {
        let p = ParamsGlobal {
            uabi_version: 1,
            num_vms_max: 63,
            num_priorities: 4,
            vm_start: 1 << 32,
            vm_end: 1 << 46,
            page_size: P,
            timer_frequency_hz: 1_000_000_000,
            max_commands_per_submission: 64,
            max_cmdbuf_size: 65536,
            max_syncs: 64,
            max_invocations: 1 << 20,
            ..Default::default()
        };
        let dev = Device::null(p).unwrap();
        let progs = Bo::from_handle(&dev, 1, P);
        let offsets = vec![(0, 72), (256, 48), (8192, 4096)];
        let mut f = Fuzz::new(&dev, Rng::new(seed), progs, offsets);
        f.bos = (2..12).map(|h| (h, P << (h % 5))).collect();
        f.bo_bytes = f.bos.iter().map(|b| b.1).sum();
        let w = p.vm_start + WINDOW;
        let maps = vec![
            (w, 4 * P, RW),
            (w + 8 * P, 16 * P, BIND_READ),
            (w + 32 * P, P, BIND_WRITE),
        ];
        f.vms.insert(
            20,
            VmModel {
                live: true,
                maps: maps.clone(),
            },
        );
        f.vms.insert(21, VmModel { live: false, maps });
        f.queues = vec![
            FQueue {
                id: 30,
                vm: 20,
                inflight: 0,
                throttle: 31,
            },
            FQueue {
                id: 32,
                vm: 21,
                inflight: 0,
                throttle: 33,
            },
        ];
        f.syncobjs = vec![(40, 0), (41, 3)];
        f
    }

    #[test]
    fn fuzz_command_buffers_are_mostly_valid() {
        let mut f = fake_fuzz(3);
        let n = 20_000;
        let valid = (0..n).filter(|_| cmd::count(&f.cmdbuf(20)).is_ok()).count();
        // 30% are mutated; the rest parse.
        assert!(valid > n / 2, "{valid} of {n}");
        for _ in 0..n {
            let b = f.cmdbuf(20);
            for c in cmd::Parser::new(&b).map_while(|r| r.ok()) {
                if let (
                    Cmd::Compute {
                        invocations,
                        max_steps,
                        ..
                    },
                    _,
                ) = c
                {
                    assert!(invocations <= 64 && max_steps <= 4096);
                }
            }
        }
    }

    #[test]
    fn fuzz_steps_do_not_panic() {
        for seed in 0..4 {
            let mut f = fake_fuzz(seed);
            let n = 50_000;
            for _ in 0..n {
                f.step();
            }
            let total: u64 = f.stats.values().map(|s| s.calls).sum();
            assert_eq!(total, n, "one recorded call per step");
            assert!(f.stats.values().all(|s| s.ok == 0));
            assert!(
                f.stats.len() >= 20,
                "{:?}",
                f.stats.keys().collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn exact_size_command_buffers_parse() {
        for limit in [32, 4096, 65536, 65544, 65560, 100_000, 4 * 65536] {
            let b = exact_size_cmdbuf(A, limit);
            assert_eq!(b.len(), limit);
            let n = limit.div_ceil(65536);
            assert!(
                matches!(cmd::Parser::new(&b).count(), c if c >= n),
                "{limit}"
            );
            assert!(cmd::Parser::new(&b).all(|r| r.is_ok()), "{limit}");
        }
    }

    #[test]
    fn clamp_compute_bounds_every_compute() {
        let mut cb = CmdBuf::new();
        cb.fill(A, 4, 0, None);
        for _ in 0..2 {
            cb.push(
                Cmd::Compute {
                    program: A,
                    program_size: 8,
                    invocations: 1 << 20,
                    args: [0; 4],
                    max_steps: u32::MAX,
                },
                None,
            );
        }
        let mut b = cb.bytes().to_vec();
        clamp_compute(&mut b);
        let cmds: Vec<_> = cmd::Parser::new(&b).map(|r| r.unwrap().0).collect();
        assert_eq!(cmds.len(), 3);
        for c in &cmds[1..] {
            assert!(
                matches!(
                    c,
                    Cmd::Compute {
                        invocations: 64,
                        max_steps: 4096,
                        ..
                    }
                ),
                "{c:?}"
            );
        }
        // Truncated and garbage buffers do not panic.
        clamp_compute(&mut b[..20]);
        clamp_compute(&mut [3u8, 0, 0, 0, 0, 0, 0, 0, 1]);
    }
}
