// SPDX-License-Identifier: GPL-2.0

//! agx-bench: rust_agx against vgem, the kernel's C GEM driver.
//!
//! ```text
//! agx-bench [--latency N] [--jobs N] [--inflight N] [--gem N] [--no-vgem]
//!           [--rsuite ROUND]
//! ```
//!
//! Measures, on rust_agx:
//! - the latency of an empty job (a 4-byte fill): SUBMIT with a binary
//!   out-syncobj, then SYNCOBJ_WAIT on it; p50 and p99 over `--latency`
//!   jobs (default 2000);
//! - jobs per second on 1 and on 4 queues: `--jobs` jobs (default 4000),
//!   round robin, each queue signalling the next point of its own timeline
//!   syncobj, with at most `--inflight` jobs (default 64, split between the
//!   queues) not yet signalled;
//! - GEM create + GEM_MMAP_OFFSET + mmap + touch a byte + munmap +
//!   GEM_CLOSE of a 16 KiB BO, per second, `--gem` times (default 2000);
//!
//! and the same on vgem (module vgem, its card node): a "job" is
//! VGEM_FENCE_ATTACH (write) + VGEM_FENCE_SIGNAL, its latency measured to
//! the signal's return; jobs per second with 1 BO, and with 4 BOs each with
//! a fence attached before the 4 are signalled; a GEM object is a 16 KiB
//! dumb buffer (1024 x 4 pixels of 32 bits) through MODE_CREATE_DUMB +
//! MODE_MAP_DUMB + mmap + touch + munmap + GEM_CLOSE.
//!
//! Prints a table with the ratios rust_agx/vgem (for latencies, above 1 is
//! slower; for rates, below 1 is slower). With `--rsuite ROUND`, also
//! `RSUITE-VALUE ROUND DRIVER gpu POINT VALUE UNIT` lines, vgem's first, for
//! scripts/vm.py's benchmark tables (every value there higher-is-better: a
//! latency is given as its rate, 1 / p50).

#![forbid(unsafe_code)]

use std::process::exit;
use std::time::{Duration, Instant};

use agx::{err_name, Bo, CmdBuf, Context, Device, Queue, Syncobj, Vgem};

const USAGE: &str = "usage: agx-bench [--latency N] [--jobs N] [--inflight N] [--gem N] [--no-vgem] [--rsuite ROUND]";
const WAIT: Duration = Duration::from_secs(30);
const BO_SIZE: u64 = 16 * 1024;

struct Opts {
    latency: usize,
    jobs: usize,
    inflight: usize,
    gem: usize,
    vgem: bool,
    rsuite: Option<u32>,
}

/// What one driver measured.
#[derive(Clone, Copy, Default)]
struct Results {
    p50_us: f64,
    p99_us: f64,
    jobs_1q: f64,
    jobs_4q: f64,
    gem_per_s: f64,
}

type R<T> = Result<T, String>;

/// One column of [`Results`].
type Metric = fn(&Results) -> f64;

fn fail(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {}", err_name(&e))
}

/// p50 and p99 of `v`, in microseconds.
fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |pct: usize| v[(v.len() * pct / 100).min(v.len() - 1)].as_secs_f64() * 1e6;
    (at(50), at(99))
}

fn rate(n: usize, t: Duration) -> f64 {
    n as f64 / t.as_secs_f64()
}

// --- rust_agx -------------------------------------------------------------------

fn agx_latency(dev: &Device, n: usize) -> R<(f64, f64)> {
    let mut ctx = Context::new(dev).map_err(fail("context"))?;
    let buf = ctx.alloc(BO_SIZE).map_err(fail("buffer"))?;
    let s = Syncobj::new(dev).map_err(fail("syncobj"))?;
    let mut cb = CmdBuf::new();
    cb.fill(buf.va, 4, 0, None);
    let mut lat = Vec::with_capacity(n);
    for i in 0..n + n / 20 {
        let t0 = Instant::now();
        ctx.submit(&cb, &[], &[s.binary()])
            .map_err(fail("submit"))?;
        s.wait(WAIT).map_err(fail("wait"))?;
        // The first 5% warm up.
        if i >= n / 20 {
            lat.push(t0.elapsed());
        }
    }
    Ok(percentiles(lat))
}

fn agx_jobs(dev: &Device, queues: usize, jobs: usize, inflight: usize) -> R<f64> {
    let mut ctx = Context::new(dev).map_err(fail("context"))?;
    let buf = ctx.alloc(BO_SIZE).map_err(fail("buffer"))?;
    let extra = (1..queues)
        .map(|_| ctx.new_queue(0))
        .collect::<Result<Vec<Queue>, _>>()
        .map_err(fail("queue"))?;
    let qs: Vec<&Queue> = std::iter::once(ctx.queue()).chain(extra.iter()).collect();
    let tls = (0..queues)
        .map(|_| Syncobj::new(dev))
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail("syncobj"))?;
    let per_queue = (inflight / queues).max(1) as u64;
    let mut cb = CmdBuf::new();
    cb.fill(buf.va, 4, 0, None);
    let mut last = vec![0u64; queues];
    let t0 = Instant::now();
    for j in 0..jobs {
        let q = j % queues;
        let point = last[q] + 1;
        if point > per_queue {
            tls[q]
                .wait_point(point - per_queue, WAIT)
                .map_err(fail("wait"))?;
        }
        qs[q]
            .submit(&cb, &[], &[tls[q].point(point)])
            .map_err(fail("submit"))?;
        last[q] = point;
    }
    for q in 0..queues {
        tls[q].wait_point(last[q], WAIT).map_err(fail("wait"))?;
    }
    Ok(rate(jobs, t0.elapsed()))
}

fn agx_gem(dev: &Device, n: usize) -> R<f64> {
    let t0 = Instant::now();
    for _ in 0..n {
        let bo = Bo::new(dev, BO_SIZE).map_err(fail("GEM create + mmap"))?;
        bo.write(0, &[1]);
    }
    Ok(rate(n, t0.elapsed()))
}

fn agx(o: &Opts) -> R<Results> {
    let dev = Device::open().map_err(|e| format!("open: {e}"))?;
    eprintln!("agx-bench: rust_agx at {}", dev.path().display());
    let (p50_us, p99_us) = agx_latency(&dev, o.latency)?;
    Ok(Results {
        p50_us,
        p99_us,
        jobs_1q: agx_jobs(&dev, 1, o.jobs, o.inflight)?,
        jobs_4q: agx_jobs(&dev, 4, o.jobs, o.inflight)?,
        gem_per_s: agx_gem(&dev, o.gem)?,
    })
}

// --- vgem -----------------------------------------------------------------------

/// A 16 KiB dumb buffer's handle.
fn dumb(v: &Vgem) -> R<u32> {
    let d = v
        .create_dumb(1024, 4, 32)
        .map_err(fail("MODE_CREATE_DUMB"))?;
    Ok(d.handle)
}

fn vgem_job(v: &Vgem, handle: u32) -> R<()> {
    let f = v
        .fence_attach(handle, true)
        .map_err(fail("VGEM_FENCE_ATTACH"))?;
    v.fence_signal(f).map_err(fail("VGEM_FENCE_SIGNAL"))
}

fn vgem(o: &Opts) -> R<Results> {
    let v = Vgem::open().map_err(|e| format!("open: {e} (modprobe vgem?)"))?;
    eprintln!("agx-bench: vgem at {}", v.path().display());
    let bos = (0..4).map(|_| dumb(&v)).collect::<R<Vec<u32>>>()?;

    let mut lat = Vec::with_capacity(o.latency);
    for i in 0..o.latency + o.latency / 20 {
        let t0 = Instant::now();
        vgem_job(&v, bos[0])?;
        if i >= o.latency / 20 {
            lat.push(t0.elapsed());
        }
    }
    let (p50_us, p99_us) = percentiles(lat);

    let t0 = Instant::now();
    for _ in 0..o.jobs {
        vgem_job(&v, bos[0])?;
    }
    let jobs_1q = rate(o.jobs, t0.elapsed());

    let t0 = Instant::now();
    for _ in 0..o.jobs / 4 {
        let fences = bos
            .iter()
            .map(|&h| v.fence_attach(h, true).map_err(fail("VGEM_FENCE_ATTACH")))
            .collect::<R<Vec<u32>>>()?;
        for f in fences {
            v.fence_signal(f).map_err(fail("VGEM_FENCE_SIGNAL"))?;
        }
    }
    let jobs_4q = rate(o.jobs / 4 * 4, t0.elapsed());

    let t0 = Instant::now();
    for _ in 0..o.gem {
        let h = dumb(&v)?;
        let off = v.map_dumb(h).map_err(fail("MODE_MAP_DUMB"))?;
        let m = v.mmap(off, BO_SIZE as usize).map_err(fail("mmap"))?;
        m.write(0, &[1]);
        drop(m);
        v.gem_close(h).map_err(fail("GEM_CLOSE"))?;
    }
    let gem_per_s = rate(o.gem, t0.elapsed());
    for h in bos {
        let _ = v.gem_close(h);
    }
    Ok(Results {
        p50_us,
        p99_us,
        jobs_1q,
        jobs_4q,
        gem_per_s,
    })
}

// --- output ---------------------------------------------------------------------

fn table(a: &Results, v: Option<&Results>) {
    let rows: [(&str, Metric); 5] = [
        ("empty job latency p50 (us)", |r| r.p50_us),
        ("empty job latency p99 (us)", |r| r.p99_us),
        ("jobs/s, 1 queue", |r| r.jobs_1q),
        ("jobs/s, 4 queues", |r| r.jobs_4q),
        ("GEM create+mmap+close/s", |r| r.gem_per_s),
    ];
    println!(
        "{:<30} {:>12} {:>12} {:>14}",
        "", "rust_agx", "vgem", "rust_agx/vgem"
    );
    for (name, f) in rows {
        match v {
            Some(v) => println!(
                "{name:<30} {:>12.1} {:>12.1} {:>14.2}",
                f(a),
                f(v),
                f(a) / f(v)
            ),
            None => println!("{name:<30} {:>12.1} {:>12} {:>14}", f(a), "-", "-"),
        }
    }
}

fn rsuite(round: u32, driver: &str, r: &Results) {
    let points = [
        ("empty-job-rate", 1e6 / r.p50_us, "1/s"),
        ("jobs-1-queue", r.jobs_1q, "jobs/s"),
        ("jobs-4-queues", r.jobs_4q, "jobs/s"),
        ("gem-create-mmap-close", r.gem_per_s, "ops/s"),
    ];
    for (point, value, unit) in points {
        println!("RSUITE-VALUE {round} {driver} gpu {point} {value:.1} {unit}");
    }
}

fn parse() -> Opts {
    let mut o = Opts {
        latency: 2000,
        jobs: 4000,
        inflight: 64,
        gem: 2000,
        vgem: true,
        rsuite: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> usize {
            match args.next().and_then(|s| s.parse::<usize>().ok()) {
                Some(n) if n > 0 => n,
                _ => {
                    eprintln!("agx-bench: {what} needs a positive number\n{USAGE}");
                    exit(2)
                }
            }
        };
        match a.as_str() {
            "--latency" => o.latency = num("--latency"),
            "--jobs" => o.jobs = num("--jobs").max(4),
            "--inflight" => o.inflight = num("--inflight"),
            "--gem" => o.gem = num("--gem"),
            "--rsuite" => o.rsuite = Some(num("--rsuite") as u32),
            "--no-vgem" => o.vgem = false,
            _ => {
                eprintln!("agx-bench: unknown argument {a:?}\n{USAGE}");
                exit(2)
            }
        }
    }
    o
}

fn main() {
    let o = parse();
    println!(
        "agx-bench: {} latency jobs, {} jobs ({} in flight), {} GEM objects of {} KiB",
        o.latency,
        o.jobs,
        o.inflight,
        o.gem,
        BO_SIZE / 1024
    );
    let a = agx(&o).unwrap_or_else(|e| {
        eprintln!("agx-bench: rust_agx: {e}");
        exit(1)
    });
    let v = if o.vgem {
        match vgem(&o) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("agx-bench: vgem: {e}");
                exit(1)
            }
        }
    } else {
        None
    };
    table(&a, v.as_ref());
    if let Some(round) = o.rsuite {
        // The baseline first: scripts/vm.py takes the first driver it sees
        // as the baseline.
        if let Some(v) = &v {
            rsuite(round, "vgem", v);
        }
        rsuite(round, "rust_agx", &a);
    }
}
