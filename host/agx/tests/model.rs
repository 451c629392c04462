// SPDX-License-Identifier: GPL-2.0

//! The programs of `agx::programs` on the virtual GPU itself
//! (`rust_agx/vgpu/model.rs`, through agxfw's test driver): each result is
//! checked against what the module computes on the CPU, the documented step
//! counts are exact (one step less times out), and the faulting programs
//! give the event kind, unit, access and address they are meant to.

#[allow(dead_code, unused_imports)]
#[path = "../../agxfw/tests/harness/mod.rs"]
mod harness;

use agx::programs as pg;
use agxfw::fw::cmd::Unit;
use harness::*;

// Units and accesses of an event.
const BLIT: u8 = Unit::Blit as u8;
const COMPUTE: u8 = Unit::Compute as u8;
const NO_ACCESS: u8 = 0;
const READ: u8 = 1;
const WRITE: u8 = 2;

/// Runs `invocations` of `code`, written at `prog` of slot 1, as job 1
/// (stamp 1) of a new queue, until the GPU is idle; returns the events.
fn run(
    d: &mut Drv,
    prog: u64,
    code: &[u8],
    invocations: u32,
    args: [u64; 4],
    max_steps: u32,
) -> Vec<Event> {
    d.write_va(1, prog, code);
    let wq = d.create_wq(1, 0, 1);
    let cmd = compute(prog, code.len() as u32, invocations, args, max_steps);
    d.submit(wq, 1, 1, 100_000, &[(cmd, NONE)]);
    d.run_to_idle();
    d.events()
}

/// The event of job 1 halting the GPU.
fn halt(kind: u32, unit: u8, access: u8, addr: u64) -> Event {
    fault(kind, 1, 1, unit, access, addr)
}

/// The step timeout of job 1 before the instruction at `index` of `prog`.
fn timeout_at(prog: u64, index: u32) -> Event {
    halt(
        EVENT_TIMEOUT,
        COMPUTE,
        NO_ACCESS,
        prog + u64::from(pg::size_of(index as usize)),
    )
}

/// `n` u32s at `va` of slot 1.
fn read_words(d: &Drv, va: u64, n: usize) -> Vec<u32> {
    words(&d.read_va(1, va, 4 * n))
}

#[test]
fn saxpy_matches_the_cpu() {
    const N: usize = 1000;
    const A: u32 = 0x9e37_79b9;
    // x and y straddle page boundaries.
    let x = U + PAGE_SIZE - 1000;
    let y = U + 2 * PAGE_SIZE - 2000;
    let prog = U + 3 * PAGE_SIZE;
    for (steps, completes) in [(pg::SAXPY_STEPS, true), (pg::SAXPY_STEPS - 1, false)] {
        let mut d = Drv::new();
        d.umap(1, U, 4 * PAGE_SIZE, true, true);
        let (xs, ys) = (noise(4 * N, 1), noise(4 * N, 2));
        d.write_va(1, x, &xs);
        d.write_va(1, y, &ys);
        let ev = run(
            &mut d,
            prog,
            &pg::encode(&pg::SAXPY),
            N as u32,
            [u64::from(A), x, y, 0],
            steps,
        );
        if !completes {
            assert_eq!(ev, [timeout_at(prog, steps)]);
            assert_eq!(d.status(), STATUS_HALTED);
            continue;
        }
        assert_eq!(ev, [complete(1, 1, 1)]);
        assert_eq!(d.stamp(1), 1);
        let (xs, ys) = (words(&xs), words(&ys));
        assert_eq!(read_words(&d, x, N), xs, "x is left alone");
        for (i, got) in read_words(&d, y, N).into_iter().enumerate() {
            assert_eq!(got, pg::saxpy(A, xs[i], ys[i]), "y[{i}]");
        }
    }
}

#[test]
fn pattern_matches_the_cpu() {
    const N: u32 = 3000;
    let prog = U + PAGE_SIZE;
    for (mul, add) in [
        (7, 9),
        (0x1234_5678_9abc, 0xffff_fff0),
        (u64::MAX, u64::MAX),
    ] {
        let mut d = Drv::new();
        d.umap(1, U, 2 * PAGE_SIZE, true, true);
        let ev = run(
            &mut d,
            prog,
            &pg::encode(&pg::PATTERN),
            N,
            [0, U, mul, add],
            pg::PATTERN_STEPS,
        );
        assert_eq!(ev, [complete(1, 1, 1)]);
        for (i, got) in read_words(&d, U, N as usize).into_iter().enumerate() {
            assert_eq!(
                got,
                pg::pattern(i as u32, mul, add),
                "x[{i}] of {mul:#x}, {add:#x}"
            );
        }
        assert_eq!(
            d.read_u32(1, U + 4 * u64::from(N)),
            0,
            "nothing past the end"
        );
    }
    let mut d = Drv::new();
    d.umap(1, U, 2 * PAGE_SIZE, true, true);
    let steps = pg::PATTERN_STEPS - 1;
    let ev = run(
        &mut d,
        prog,
        &pg::encode(&pg::PATTERN),
        N,
        [0, U, 7, 9],
        steps,
    );
    assert_eq!(ev, [timeout_at(prog, steps)]);
}

#[test]
fn checksum_matches_the_cpu() {
    // The data straddles a page boundary.
    let data = U + PAGE_SIZE - 4000;
    let out = U + 2 * PAGE_SIZE + 8;
    let prog = U + 3 * PAGE_SIZE;
    for n in [0u64, 1, 1000, 3000] {
        let bytes = noise(4 * n as usize, 9 + n as u32);
        let want = pg::checksum(&words(&bytes));
        for (steps, completes) in [
            (pg::checksum_steps(n), true),
            (pg::checksum_steps(n) - 1, false),
        ] {
            let mut d = Drv::new();
            d.umap(1, U, 4 * PAGE_SIZE, true, true);
            d.write_va(1, data, &bytes);
            let ev = run(
                &mut d,
                prog,
                &pg::encode(&pg::CHECKSUM),
                1,
                [data, n, out, 0],
                steps as u32,
            );
            if completes {
                assert_eq!(ev, [complete(1, 1, 1)], "{n} words");
                assert_eq!(d.read_u64(1, out), want, "{n} words");
            } else {
                // Everything but the HALT ran.
                assert_eq!(ev, [timeout_at(prog, 8)], "{n} words");
                assert_eq!(d.read_u64(1, out), want, "{n} words");
            }
        }
    }
}

#[test]
fn spin_step_counts_are_exact() {
    // The budget is per invocation: three invocations of exactly
    // spin_steps(n) complete, one step less times out before the HALT.
    for n in [1u64, 2, 1000, 100_000] {
        for (steps, completes) in [(pg::spin_steps(n), true), (pg::spin_steps(n) - 1, false)] {
            let mut d = Drv::new();
            d.umap(1, U, PAGE_SIZE, true, false);
            let ev = run(
                &mut d,
                U,
                &pg::encode(&pg::SPIN),
                3,
                [n, 0, 0, 0],
                steps as u32,
            );
            let want = if completes {
                complete(1, 1, 1)
            } else {
                timeout_at(U, 2)
            };
            assert_eq!(ev, [want], "{n} iterations, {steps} steps");
        }
    }
}

#[test]
fn runaway_times_out_on_steps() {
    let mut d = Drv::new();
    d.umap(1, U, PAGE_SIZE, true, false);
    let ev = run(&mut d, U, &pg::encode(&pg::RUNAWAY), 1, [0; 4], 10_000);
    assert_eq!(ev, [timeout_at(U, 0)]);
    assert_eq!(d.status(), STATUS_HALTED);
}

#[test]
fn every_opcode_matches_the_isa() {
    let mut d = Drv::new();
    d.umap(1, U, 2 * PAGE_SIZE, true, true);
    let (p, want) = pg::alu();
    let ev = run(
        &mut d,
        U + PAGE_SIZE,
        &pg::encode(&p),
        1,
        [U, 0, 0, 0],
        1000,
    );
    assert_eq!(ev, [complete(1, 1, 1)]);
    for (k, w) in want.iter().enumerate() {
        assert_eq!(d.read_u64(1, U + 8 * k as u64), *w, "result {k}");
    }
}

#[test]
fn registers_start_as_documented() {
    const N: u64 = 64;
    let args = [U, 22, u64::MAX, 0x8000_0000_0000_0001];
    let mut d = Drv::new();
    d.umap(1, U, 2 * PAGE_SIZE, true, true);
    let ev = run(
        &mut d,
        U + PAGE_SIZE,
        &pg::encode(&pg::regs_dump()),
        N as u32,
        args,
        100,
    );
    assert_eq!(ev, [complete(1, 1, 1)]);
    for i in 0..N {
        for r in 0..16u64 {
            let want = match r {
                0 => i,
                1..=4 => args[r as usize - 1],
                _ => 0, // r5..r15, and slot 5 is left alone
            };
            assert_eq!(
                d.read_u64(1, U + 128 * i + 8 * r),
                want,
                "invocation {i}, r{r}"
            );
        }
    }
}

#[test]
fn load_and_store_fault_at_their_address() {
    // LOAD of an unmapped page: a compute read fault at the exact VA.
    let mut d = Drv::new();
    d.umap(1, U, PAGE_SIZE, true, true);
    let gap = U + 4 * PAGE_SIZE + 0x40;
    let ev = run(&mut d, U, &pg::encode(&pg::LOAD), 1, [gap, 0, 0, 0], 10);
    assert_eq!(ev, [halt(EVENT_FAULT, COMPUTE, READ, gap)]);
    assert_eq!(d.status(), STATUS_HALTED);
    assert_eq!(d.stamp(1), 0, "no completion");

    // STORE to a writable page works; to a read-only one, a write fault.
    let data = U + PAGE_SIZE;
    for (write, addr) in [(true, data + 0x44), (false, data + 0x48)] {
        let mut d = Drv::new();
        d.umap(1, U, PAGE_SIZE, true, false);
        d.umap(1, data, PAGE_SIZE, true, write);
        let ev = run(
            &mut d,
            U,
            &pg::encode(&pg::STORE),
            1,
            [addr, 0xdead_beef_1234_5678, 0, 0],
            10,
        );
        if write {
            assert_eq!(ev, [complete(1, 1, 1)]);
            assert_eq!(d.read_u64(1, addr), 0x1234_5678, "the low half, zero above");
        } else {
            assert_eq!(ev, [halt(EVENT_FAULT, COMPUTE, WRITE, addr)]);
            assert_eq!(d.read_u32(1, addr), 0);
        }
    }
}

#[test]
fn illegal_programs_stop_at_the_instruction() {
    let prog = U + PAGE_SIZE;
    let (opcode, at) = pg::illegal_opcode();
    for (what, code, index) in [
        ("illegal opcode", opcode, at),
        ("bad register", pg::bad_register(), 0),
        ("run off the end", pg::encode(&pg::RUN_OFF_END), 1),
    ] {
        let mut d = Drv::new();
        d.umap(1, U, 2 * PAGE_SIZE, true, true);
        let ev = run(&mut d, prog, &code, 1, [0; 4], 10);
        assert_eq!(
            ev,
            [halt(EVENT_ILLEGAL, COMPUTE, NO_ACCESS, prog + 8 * index)],
            "{what}"
        );
        assert_eq!(d.status(), STATUS_HALTED, "{what}");
    }
}

#[test]
fn unaligned_load_is_illegal_at_the_data_address() {
    for base in [U, U + 4] {
        let mut d = Drv::new();
        d.umap(1, U, 2 * PAGE_SIZE, true, true);
        let code = pg::encode(&pg::UNALIGNED_LOAD);
        let ev = run(&mut d, U + PAGE_SIZE, &code, 1, [base, 0, 0, 0], 10);
        assert_eq!(ev, [halt(EVENT_ILLEGAL, COMPUTE, READ, base + 2)]);
    }
    // From 2 bytes short of a word, the load is aligned.
    let mut d = Drv::new();
    d.umap(1, U, 2 * PAGE_SIZE, true, true);
    let code = pg::encode(&pg::UNALIGNED_LOAD);
    let ev = run(&mut d, U + PAGE_SIZE, &code, 1, [U + 2, 0, 0, 0], 10);
    assert_eq!(ev, [complete(1, 1, 1)]);
}

#[test]
fn blits_fault_at_the_page() {
    // A copy from an unmapped page: a blit read fault at its first byte.
    let mut d = Drv::new();
    d.umap(1, U, PAGE_SIZE, true, true);
    let wq = d.create_wq(1, 0, 1);
    let src = U + 8 * PAGE_SIZE;
    d.submit(
        wq,
        1,
        1,
        1000,
        &[(
            Cmd::Copy {
                src,
                dst: U,
                size: 256,
            },
            NONE,
        )],
    );
    d.run_to_idle();
    assert_eq!(d.events(), [halt(EVENT_FAULT, BLIT, READ, src)]);
    // A fill of a read-only page: a blit write fault.
    let mut d = Drv::new();
    d.umap(1, U, PAGE_SIZE, true, false);
    let wq = d.create_wq(1, 0, 1);
    d.submit(
        wq,
        1,
        1,
        1000,
        &[(
            Cmd::Fill {
                addr: U,
                size: 64,
                value: 1,
            },
            NONE,
        )],
    );
    d.run_to_idle();
    assert_eq!(d.events(), [halt(EVENT_FAULT, BLIT, WRITE, U)]);
}
