// SPDX-License-Identifier: GPL-2.0

//! Whole GPU jobs checked on the CPU, shared by `agx`, `agx-test` and the
//! fuzzer's final check: integer SAXPY and a checksum loop.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use crate::programs::{self, CHECKSUM, SAXPY, SAXPY_STEPS};
use crate::rng::Rng;
use crate::{err_name, status_name, CmdBuf, Context, Device, Syncobj};

/// A failed run, as text for a report line.
pub type Failure = String;

fn io(what: &str, e: std::io::Error) -> Failure {
    format!("{what}: {}", err_name(&e))
}

/// How long to wait for `steps` instructions of work: generous, since
/// the GPU is a model in a VM that may be emulated (TCG).
pub fn timeout_for(steps: u64) -> Duration {
    Duration::from_secs(30) + Duration::from_micros(steps / 2)
}

/// Runs integer SAXPY over `n` u32 elements (`y = a * x + y`) and checks
/// every element. Splits the work into compute commands of at most
/// `max_invocations` and submissions of at most
/// `max_commands_per_submission`. Returns the submit-to-done time.
pub fn saxpy(dev: &Device, n: u32, seed: u64) -> Result<Duration, Failure> {
    let mut ctx = Context::new(dev).map_err(|e| io("context", e))?;
    let bytes = u64::from(n.max(1)) * 4;
    let x = ctx.alloc(bytes).map_err(|e| io("x", e))?;
    let y = ctx.alloc(bytes).map_err(|e| io("y", e))?;
    let prog = ctx.program(&SAXPY).map_err(|e| io("program", e))?;
    let mut rng = Rng::new(seed);
    let a = rng.next_u32() | 1;
    let xs: Vec<u32> = (0..n).map(|_| rng.next_u32()).collect();
    let ys: Vec<u32> = (0..n).map(|_| rng.next_u32()).collect();
    x.write_u32s(0, &xs);
    y.write_u32s(0, &ys);

    let p = dev.params();
    let chunk = p.max_invocations.max(1);
    let per_job = (p.max_commands_per_submission.max(1)) as usize;
    let mut jobs = vec![CmdBuf::new()];
    let mut first = 0u32;
    while first < n {
        let count = chunk.min(n - first);
        if jobs.last().is_some_and(|cb| cb.count() == per_job) {
            jobs.push(CmdBuf::new());
        }
        let off = 4 * u64::from(first);
        let args = [u64::from(a), x.va + off, y.va + off, 0];
        jobs.last_mut()
            .unwrap()
            .compute(&prog, count, args, SAXPY_STEPS, None);
        first += count;
    }
    let t0 = Instant::now();
    let mut fences = Vec::new();
    for cb in jobs.iter().filter(|cb| !cb.is_empty()) {
        let s = Syncobj::new(dev).map_err(|e| io("syncobj", e))?;
        ctx.submit(cb, &[], &[s.binary()])
            .map_err(|e| io("submit", e))?;
        fences.push(s);
    }
    let timeout = timeout_for(u64::from(n) * u64::from(SAXPY_STEPS));
    for s in &fences {
        s.wait(timeout).map_err(|e| io("wait", e))?;
        let st = s.status().map_err(|e| io("fence status", e))?;
        if st != 1 {
            return Err(format!("job failed: fence {}", status_name(st)));
        }
    }
    let took = t0.elapsed();
    let got = y.u32s(0, n as usize);
    for (k, ((&g, &xv), &yv)) in got.iter().zip(&xs).zip(&ys).enumerate() {
        let want = programs::saxpy(a, xv, yv);
        if g != want {
            return Err(format!(
                "mismatch at element {k}: got {g:#010x}, expected {want:#010x}"
            ));
        }
    }
    Ok(took)
}

/// Sums `n` random u32 words with the CHECKSUM loop (one invocation) and
/// checks the u64 against the CPU's. Returns the sum and the time.
pub fn checksum(dev: &Device, n: u32, seed: u64) -> Result<(u64, Duration), Failure> {
    let steps = programs::checksum_steps(u64::from(n));
    let max_steps =
        u32::try_from(steps).map_err(|_| format!("{n} words need {steps} steps, over u32"))?;
    let mut ctx = Context::new(dev).map_err(|e| io("context", e))?;
    let data = ctx
        .alloc(u64::from(n.max(1)) * 4)
        .map_err(|e| io("data", e))?;
    let out = ctx.alloc(8).map_err(|e| io("out", e))?;
    let prog = ctx.program(&CHECKSUM).map_err(|e| io("program", e))?;
    let mut rng = Rng::new(seed);
    let words: Vec<u32> = (0..n).map(|_| rng.next_u32()).collect();
    data.write_u32s(0, &words);
    out.write_u64(0, 0xdead_dead_dead_dead);
    let mut cb = CmdBuf::new();
    cb.compute(
        &prog,
        1,
        [data.va, u64::from(n), out.va, 0],
        max_steps,
        None,
    );
    let t0 = Instant::now();
    let st = ctx.run(&cb, timeout_for(steps)).map_err(|e| io("run", e))?;
    let took = t0.elapsed();
    if st != 1 {
        return Err(format!("job failed: fence {}", status_name(st)));
    }
    let want = programs::checksum(&words);
    let got = out.read_u64(0);
    if got != want {
        return Err(format!("sum {got:#x}, expected {want:#x}"));
    }
    Ok((got, took))
}
