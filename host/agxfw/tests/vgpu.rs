// SPDX-License-Identifier: GPL-2.0

//! Tests of `rust_agx/vgpu/model.rs`: a fake bus of 4 KiB pages and a small
//! test driver (`harness/`) that builds page tables, rings, init data and
//! work queues as the kernel driver does, queues jobs, runs the model and
//! checks memory, stamps, events and the firmware's status.

mod harness;

use std::collections::HashMap;

use harness::*;

#[test]
fn gpu_is_small() {
    assert!(
        std::mem::size_of::<Gpu>() < 4096,
        "{}",
        std::mem::size_of::<Gpu>()
    );
}

#[test]
fn boots_resets_and_reboots() {
    let mut d = Drv::new();
    assert_eq!(d.status(), STATUS_RUNNING);
    assert_eq!(d.gpu.read_reg(&d.bus, REG_ID), ID_MAGIC);
    assert_eq!(d.gpu.read_reg(&d.bus, REG_TTBAT), d.ttb);
    d.bus.now.set(1234);
    assert_eq!(d.gpu.read_reg(&d.bus, REG_TIMER), 1234);
    assert_eq!(d.logs(), [(LOG_INFO, "ragx fw 1 up".to_string())]);
    assert!(!d.gpu.run(&d.bus), "nothing to do");

    d.reg(REG_CONTROL, CONTROL_RESET);
    assert_eq!(d.status(), STATUS_OFF);
    assert!(!d.gpu.run(&d.bus));
    // The registers survive a reset; booting again works.
    d.reg(REG_CONTROL, CONTROL_BOOT);
    assert_eq!(d.status(), STATUS_RUNNING);
    assert_eq!(d.logs().len(), 1);
}

#[test]
fn boot_with_bad_magic_crashes() {
    let mut d = Drv::with(64, 0xdead_beef);
    assert_eq!(d.status(), STATUS_CRASHED);
    assert!(!d.gpu.run(&d.bus));
    assert!(d.logs().is_empty(), "no log ring to trust yet");
}

#[test]
fn boot_with_bad_ring_crashes_and_logs() {
    let mut d = Drv::new();
    d.logs();
    // An event ring whose entries are not events.
    d.write_u32(0, d.events + ring::ENTRY_SIZE, 16);
    d.reg(REG_CONTROL, CONTROL_BOOT);
    assert_eq!(d.status(), STATUS_CRASHED);
    let logs = d.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].0, LOG_ERR);
    assert!(logs[0].1.starts_with("crash: ring desc"), "{logs:?}");
    // An unmapped init data crashes too.
    d.reg(REG_INITDATA, KERNEL_VA_START + (1 << 40));
    d.reg(REG_CONTROL, CONTROL_BOOT);
    assert_eq!(d.status(), STATUS_CRASHED);
}

#[test]
fn fill() {
    let mut d = Drv::new();
    d.umap(1, U, 2 * PAGE_SIZE, true, true);
    let wq = d.create_wq(1, 1, 5);
    d.submit(
        wq,
        42,
        7,
        1000,
        &[(
            Cmd::Fill {
                addr: U + 8,
                size: 20000,
                value: 0xa1b2_c3d4,
            },
            NONE,
        )],
    );
    d.run_to_idle();

    let m = words(&d.read_va(1, U, 20016));
    assert_eq!(m[..2], [0, 0]);
    assert!(m[2..5002].iter().all(|&w| w == 0xa1b2_c3d4));
    assert_eq!(m[5002..], [0, 0]);
    assert_eq!(d.stamp(5), 7);
    assert_eq!(d.events(), [complete(42, 5, 1)]);
    assert_eq!(d.wq(wq, wq::RPTR), 1);
    assert_eq!(d.wq(wq, wq::STATE), WQ_STATE_IDLE);
    assert!(d.bus.irqs.get() > 0);
    assert_eq!(d.status(), STATUS_RUNNING);
    // The save area says when the job started.
    assert_ne!(
        d.read_u64(
            0,
            d.read_u64(0, d.read_u64(0, wq + wq::RING)) + JOB_HEADER_SIZE
        ),
        0
    );
}

#[test]
fn copy_spans_pages() {
    let mut d = Drv::new();
    let (src, dst) = (U + 0x3ff0, U + 8 * PAGE_SIZE + 0x1235);
    let len = 40000;
    d.umap(1, U, 4 * PAGE_SIZE, true, false);
    d.umap(1, U + 8 * PAGE_SIZE, 4 * PAGE_SIZE, true, true);
    let data = noise(len, 7);
    d.write_va(1, src, &data);
    let wq = d.create_wq(1, 2, 0);
    d.submit(
        wq,
        1,
        1,
        1000,
        &[(
            Cmd::Copy {
                src,
                dst,
                size: len as u64,
            },
            NONE,
        )],
    );
    d.run_to_idle();

    assert_eq!(d.events(), [complete(1, 0, 1)]);
    assert_eq!(d.read_va(1, dst, len), data);
    assert_eq!(d.read_va(1, dst - 16, 16), [0; 16]);
    assert_eq!(d.read_va(1, dst + len as u64, 16), [0; 16]);
}

#[test]
fn saxpy() {
    let mut d = Drv::new();
    let (x, y, prog) = (U, U + PAGE_SIZE, U + 2 * PAGE_SIZE);
    d.umap(1, U, 3 * PAGE_SIZE, true, true);
    let xs: Vec<u32> = (0..1000).map(|i| i * 3 + 1).collect();
    let ys: Vec<u32> = (0..1000).map(|i| 0xfff0_0000 + i * 77).collect(); // sums wrap
    d.write_va(
        1,
        x,
        &xs.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    );
    d.write_va(
        1,
        y,
        &ys.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    );
    let size = d.program(1, prog, &SAXPY);
    let a = 0x1_0000_0003; // only the low 32 bits matter to the 32-bit store
    let wq = d.create_wq(1, 1, 3);
    d.submit(
        wq,
        9,
        99,
        1000,
        &[(compute(prog, size, 1000, [a, x, y, 0], 16), NONE)],
    );
    let runs = d.run_to_idle();

    assert_eq!(d.events(), [complete(9, 3, 1)]);
    assert_eq!(d.stamp(3), 99);
    let got = words(&d.read_va(1, y, 4000));
    let want: Vec<u32> = xs
        .iter()
        .zip(&ys)
        .map(|(&x, &y)| (a as u32).wrapping_mul(x).wrapping_add(y))
        .collect();
    assert_eq!(got, want);
    // 9000 instructions take several slices: the save area carried them.
    assert!(runs > 2, "{runs}");
}

#[test]
fn checksum_loop() {
    let mut d = Drv::new();
    let (buf, out, prog) = (U, U + 2 * PAGE_SIZE, U + 3 * PAGE_SIZE);
    d.umap(1, U, 4 * PAGE_SIZE, true, true);
    let n = 5000;
    let data = noise(4 * n, 3);
    d.write_va(1, buf, &data);
    // r1 = buf, r2 = n, r3 = out: sum = sum * 31 + word, for each word.
    let insns = [
        Insn::new(Op::Movi, 5, 0, 0, 0),
        Insn::new(Op::Movi, 6, 0, 0, 0),
        Insn::new(Op::Beq, 0, 6, 2, 9),
        Insn::new(Op::Ld32, 7, 1, 0, 0),
        Insn::new(Op::Muli, 5, 5, 0, 31),
        Insn::new(Op::Add, 5, 5, 7, 0),
        Insn::new(Op::Addi, 1, 1, 0, 4),
        Insn::new(Op::Addi, 6, 6, 0, 1),
        Insn::new(Op::Jmp, 0, 0, 0, 2),
        Insn::new(Op::St64, 0, 3, 5, 0),
        Insn::new(Op::Halt, 0, 0, 0, 0),
    ];
    let size = d.program(1, prog, &insns);
    let wq = d.create_wq(1, 0, 1);
    d.submit(
        wq,
        5,
        5,
        1000,
        &[(
            compute(prog, size, 1, [buf, n as u64, out, 0], 1 << 20),
            NONE,
        )],
    );
    d.run_to_idle();

    assert_eq!(d.events(), [complete(5, 1, 1)]);
    let want = words(&data)
        .iter()
        .fold(0u64, |s, &w| s.wrapping_mul(31).wrapping_add(u64::from(w)));
    assert_eq!(d.read_u64(1, out), want);
}

#[test]
fn alu_and_branches() {
    let mut d = Drv::new();
    let (out, prog) = (U + 0x100, U + PAGE_SIZE);
    d.umap(1, U, 2 * PAGE_SIZE, true, true);
    // Each result goes to out + 8 * k (r1 = out).
    let insns = [
        Insn::new(Op::Movi, 2, 0, 0, 0x8000_0001),
        Insn::new(Op::Movhi, 2, 0, 0, 0xdead_beef), // r2 = 0xdeadbeef_80000001
        Insn::new(Op::St64, 0, 1, 2, 0),
        Insn::new(Op::Addi, 3, 2, 0, (-2i32) as u32), // sign-extended
        Insn::new(Op::St64, 0, 1, 3, 8),
        Insn::new(Op::Movi, 4, 0, 0, 68),
        Insn::new(Op::Shl, 5, 2, 4, 0), // by 68 & 63 = 4
        Insn::new(Op::St64, 0, 1, 5, 16),
        Insn::new(Op::Shri, 5, 2, 0, 60),
        Insn::new(Op::Sub, 5, 5, 2, 0),
        Insn::new(Op::St64, 0, 1, 5, 24),
        Insn::new(Op::Xor, 6, 2, 3, 0),
        Insn::new(Op::Or, 6, 6, 4, 0),
        Insn::new(Op::And, 6, 6, 2, 0),
        Insn::new(Op::St64, 0, 1, 6, 32),
        // r7 = count of loop iterations with Blt: 0..r4 (68).
        Insn::new(Op::Movi, 7, 0, 0, 0),
        Insn::new(Op::Addi, 7, 7, 0, 1),
        Insn::new(Op::Blt, 0, 7, 4, 16),
        Insn::new(Op::Bne, 0, 7, 4, 0), // not taken
        Insn::new(Op::Mul, 8, 7, 2, 0),
        Insn::new(Op::St64, 0, 1, 8, 40),
        // Store 32 bits of r2 at out + 48 and load it back with a
        // negative offset from out + 56.
        Insn::new(Op::St32, 0, 1, 2, 48),
        Insn::new(Op::Addi, 9, 1, 0, 56),
        Insn::new(Op::Ld32, 10, 9, 0, (-8i32) as u32),
        Insn::new(Op::Mov, 11, 10, 0, 0),
        Insn::new(Op::St64, 0, 1, 11, 56),
        // r0 is the invocation index.
        Insn::new(Op::St64, 0, 1, 0, 64),
        Insn::new(Op::Halt, 0, 0, 0, 0),
    ];
    let size = d.program(1, prog, &insns);
    let wq = d.create_wq(1, 0, 0);
    d.submit(
        wq,
        1,
        1,
        1000,
        &[(compute(prog, size, 1, [out, 0, 0, 0], 1000), NONE)],
    );
    d.run_to_idle();
    assert_eq!(d.events(), [complete(1, 0, 1)]);

    let r2: u64 = 0xdead_beef_8000_0001;
    let r3 = r2.wrapping_sub(2);
    let got: Vec<u64> = (0..9).map(|k| d.read_u64(1, out + 8 * k)).collect();
    let r5 = (r2 >> 60).wrapping_sub(r2);
    let want = [
        r2,
        r3,
        r2 << 4,
        r5,
        ((r2 ^ r3) | 68) & r2,
        68u64.wrapping_mul(r2),
        0x8000_0001,
        0x8000_0001,
        0,
    ];
    assert_eq!(got, want);
}

/// A compute writes `buf[i] = 7 i + 1` for 1024 invocations, then a copy
/// reads `buf`.
fn compute_then_copy(barrier: u16) -> (Vec<u8>, Vec<u32>) {
    let mut d = Drv::new();
    let (buf, dst, prog) = (U, U + PAGE_SIZE, U + 2 * PAGE_SIZE);
    d.umap(1, U, 3 * PAGE_SIZE, true, true);
    let insns = [
        Insn::new(Op::Muli, 5, 0, 0, 7),
        Insn::new(Op::Addi, 5, 5, 0, 1),
        Insn::new(Op::Shli, 6, 0, 0, 2),
        Insn::new(Op::Add, 6, 6, 1, 0),
        Insn::new(Op::St32, 0, 6, 5, 0),
        Insn::new(Op::Halt, 0, 0, 0, 0),
    ];
    let size = d.program(1, prog, &insns);
    let wq = d.create_wq(1, 0, 0);
    d.submit(
        wq,
        1,
        1,
        1000,
        &[
            (compute(prog, size, 1024, [buf, 0, 0, 0], 6), NONE),
            (
                Cmd::Copy {
                    src: buf,
                    dst,
                    size: 4096,
                },
                barrier,
            ),
        ],
    );
    d.run_to_idle();
    assert_eq!(d.events(), [complete(1, 0, 1)]);
    (
        d.read_va(1, dst, 4096),
        (0..1024).map(|i| 7 * i + 1).collect(),
    )
}

#[test]
fn barrier_orders_compute_before_copy() {
    let (got, want) = compute_then_copy(0);
    assert_eq!(words(&got), want);
    // Without the barrier the units run concurrently: the copy goes first.
    let (got, want) = compute_then_copy(NONE);
    assert_ne!(words(&got), want);
    assert_eq!(got[..4], [0; 4]);
}

#[test]
fn page_fault_halts_and_resume_skips_the_job() {
    let mut d = Drv::new();
    d.umap(1, U, PAGE_SIZE, true, true);
    let wq = d.create_wq(1, 1, 4);
    // The fill's second page is unmapped: the fault is at its first byte.
    d.submit(
        wq,
        1,
        10,
        1000,
        &[(
            Cmd::Fill {
                addr: U + PAGE_SIZE - 64,
                size: 128,
                value: 1,
            },
            NONE,
        )],
    );
    d.submit(
        wq,
        2,
        20,
        1000,
        &[(
            Cmd::Fill {
                addr: U,
                size: 64,
                value: 2,
            },
            NONE,
        )],
    );
    assert_eq!(d.run_to_idle(), 1);

    assert_eq!(d.status(), STATUS_HALTED);
    assert_eq!(d.events(), [fault(EVENT_FAULT, 1, 4, 0, 2, U + PAGE_SIZE)]);
    assert_eq!(d.wq(wq, wq::STATE), WQ_STATE_FAULTED);
    assert_eq!(d.wq(wq, wq::RPTR), 0);
    assert_eq!(d.stamp(4), 0);
    assert_eq!(
        words(&d.read_va(1, U + PAGE_SIZE - 64, 64)),
        [1; 16],
        "the first page was filled"
    );
    assert_eq!(d.read_u32(1, U), 0, "the second job did not run");
    let logs = d.logs();
    assert!(
        logs.iter()
            .any(|(l, t)| *l == LOG_ERR && t.starts_with("fault job 1 u0 a2")),
        "{logs:?}"
    );
    // Halted: more runs do nothing.
    assert!(!d.gpu.run(&d.bus));

    let seq = d.devctl(DEVCTL_RESUME, 0, wq);
    d.run_to_idle();
    assert_eq!(d.read_u32(0, d.initdata + initdata::DEVCTL_ACK), seq);
    assert_eq!(d.status(), STATUS_RUNNING);
    assert_eq!(d.events(), [complete(2, 4, 1)]);
    assert_eq!(d.stamp(4), 20);
    assert_eq!(d.wq(wq, wq::RPTR), 2);
    assert_eq!(d.wq(wq, wq::STATE), WQ_STATE_IDLE);
    assert_eq!(d.read_u32(1, U), 2);
}

#[test]
fn resume_without_a_queue_retries_the_job() {
    let mut d = Drv::new();
    let (src, dst) = (U + 4 * PAGE_SIZE, U);
    d.umap(1, U, PAGE_SIZE, true, true);
    let wq = d.create_wq(1, 1, 0);
    d.submit(wq, 1, 10, 1000, &[(Cmd::Copy { src, dst, size: 64 }, NONE)]);
    d.run_to_idle();
    assert_eq!(d.events(), [fault(EVENT_FAULT, 1, 0, 0, 1, src)]);

    // The driver maps the page (a fresh VA, so no stale TLB entry) and
    // resumes: the copy runs again from where it stopped.
    d.umap(1, src, PAGE_SIZE, true, false);
    d.write_va(1, src, &[9; 64]);
    d.devctl(DEVCTL_RESUME, 0, 0);
    d.run_to_idle();
    assert_eq!(d.events(), [complete(1, 0, 1)]);
    assert_eq!(d.read_va(1, dst, 64), [9; 64]);
}

#[test]
fn compute_read_fault() {
    let mut d = Drv::new();
    let prog = U;
    d.umap(1, U, PAGE_SIZE, true, false);
    let size = d.program(
        1,
        prog,
        &[
            Insn::new(Op::Ld32, 2, 1, 0, 0x124),
            Insn::new(Op::Halt, 0, 0, 0, 0),
        ],
    );
    let wq = d.create_wq(1, 0, 2);
    let bad = U + 16 * PAGE_SIZE;
    d.submit(
        wq,
        3,
        1,
        1000,
        &[(compute(prog, size, 1, [bad, 0, 0, 0], 10), NONE)],
    );
    d.run_to_idle();
    assert_eq!(d.status(), STATUS_HALTED);
    assert_eq!(d.events(), [fault(EVENT_FAULT, 3, 2, 1, 1, bad + 0x124)]);
}

#[test]
fn write_to_read_only_page_faults() {
    let mut d = Drv::new();
    d.umap(1, U, PAGE_SIZE, true, false);
    let wq = d.create_wq(1, 0, 0);
    d.submit(
        wq,
        1,
        1,
        1000,
        &[(
            Cmd::Fill {
                addr: U + 0x40,
                size: 8,
                value: 5,
            },
            NONE,
        )],
    );
    d.run_to_idle();
    assert_eq!(d.events(), [fault(EVENT_FAULT, 1, 0, 0, 2, U + 0x40)]);
    assert_eq!(d.read_u32(1, U + 0x40), 0);

    // The compute unit's stores are checked too.
    d.devctl(DEVCTL_RESUME, 0, wq);
    let prog = U + 0x1000;
    let size = d.program(
        1,
        prog,
        &[
            Insn::new(Op::St32, 0, 1, 1, 0),
            Insn::new(Op::Halt, 0, 0, 0, 0),
        ],
    );
    d.submit(
        wq,
        2,
        2,
        1000,
        &[(compute(prog, size, 1, [U + 0x80, 0, 0, 0], 10), NONE)],
    );
    d.run_to_idle();
    assert_eq!(d.events(), [fault(EVENT_FAULT, 2, 0, 1, 2, U + 0x80)]);
}

#[test]
fn runaway_loop_times_out_on_steps() {
    let mut d = Drv::new();
    d.umap(1, U, PAGE_SIZE, true, false);
    let size = d.program(
        1,
        U,
        &[
            Insn::new(Op::Addi, 1, 1, 0, 1),
            Insn::new(Op::Jmp, 0, 0, 0, 0),
        ],
    );
    let wq = d.create_wq(1, 0, 6);
    let job = d.submit(
        wq,
        8,
        1,
        1000,
        &[(compute(U, size, 1, [0; 4], 10_001), NONE)],
    );
    d.run_to_idle();
    assert_eq!(d.status(), STATUS_HALTED);
    // 10001 steps done, the last an ADDI; the JMP at pc 1 would exceed.
    assert_eq!(d.events(), [fault(EVENT_TIMEOUT, 8, 6, 1, 0, U + 8)]);
    assert_eq!(d.read_u32(0, job + JOB_HEADER_SIZE + save::STEPS), 10_001);
    assert_eq!(
        d.read_u64(0, job + JOB_HEADER_SIZE + save::REGS + 8),
        5001,
        "r1"
    );
    assert_eq!(d.wq(wq, wq::STATE), WQ_STATE_FAULTED);
}

#[test]
fn runaway_loop_times_out_on_the_clock() {
    let mut d = Drv::new();
    d.umap(1, U, PAGE_SIZE, true, false);
    let size = d.program(1, U, &[Insn::new(Op::Jmp, 0, 0, 0, 0)]);
    let wq = d.create_wq(1, 0, 6);
    d.submit(
        wq,
        8,
        1,
        5,
        &[(compute(U, size, 1, [0; 4], u32::MAX), NONE)],
    );
    let start = d.bus.now.get();
    let mut runs = 0;
    while d.gpu.run(&d.bus) {
        d.bus.now.set(d.bus.now.get() + 1_000_000);
        runs += 1;
        assert!(runs < 100);
    }
    assert_eq!(d.status(), STATUS_HALTED);
    assert_eq!(d.events(), [fault(EVENT_TIMEOUT, 8, 6, 0, 0, 0)]);
    assert!(d.bus.now.get() - start > 5_000_000);
    assert_eq!(
        runs, 6,
        "started at the first run, over 5 ms at the seventh"
    );
}

#[test]
fn illegal_instructions() {
    let halt = Insn::new(Op::Halt, 0, 0, 0, 0).encode();
    let movi = Insn::new(Op::Movi, 2, 0, 0, 6).encode();
    let ld = Insn::new(Op::Ld32, 3, 1, 0, 2).encode();
    let jmp_out = Insn::new(Op::Jmp, 0, 0, 0, 100).encode();
    let cases: [(&str, Vec<[u8; 8]>, u64, u8); 5] = [
        (
            "bad opcode",
            vec![movi, [0xff, 0, 0, 0, 0, 0, 0, 0], halt],
            U + 8,
            0,
        ),
        (
            "bad register",
            vec![movi, movi, [0x10, 16, 0, 0, 0, 0, 0, 0]],
            U + 16,
            0,
        ),
        ("unaligned load", vec![ld, halt], U + PAGE_SIZE + 2, 1),
        ("off the end", vec![movi], U + 8, 0),
        ("branch out", vec![jmp_out, halt], U + 800, 0),
    ];
    for (what, prog, addr, access) in cases {
        let mut d = Drv::new();
        d.umap(1, U, 2 * PAGE_SIZE, true, true);
        let bytes: Vec<u8> = prog.concat();
        d.write_va(1, U, &bytes);
        let wq = d.create_wq(1, 0, 0);
        d.submit(
            wq,
            1,
            1,
            1000,
            &[(
                compute(U, bytes.len() as u32, 1, [U + PAGE_SIZE, 0, 0, 0], 100),
                NONE,
            )],
        );
        d.run_to_idle();
        assert_eq!(d.status(), STATUS_HALTED, "{what}");
        assert_eq!(
            d.events(),
            [fault(EVENT_ILLEGAL, 1, 0, 1, access, addr)],
            "{what}"
        );
    }
}

#[test]
fn corrupted_command_is_illegal() {
    let mut d = Drv::new();
    d.umap(1, U, PAGE_SIZE, true, true);
    let wq = d.create_wq(1, 0, 0);
    let job = d.submit(
        wq,
        1,
        1,
        1000,
        &[(
            Cmd::Fill {
                addr: U,
                size: 4,
                value: 1,
            },
            NONE,
        )],
    );
    d.write_va(0, job + JOB_CMDS, &[9, 0]); // unknown type
    d.run_to_idle();
    assert_eq!(
        d.events(),
        [fault(EVENT_ILLEGAL, 1, 0, 0, 0, job + JOB_CMDS)]
    );
}

#[test]
fn two_work_queues_interleave() {
    let mut d = Drv::new();
    d.umap(1, U, 2 * PAGE_SIZE, true, true);
    // A counts to 200000 (400000 instructions, ~100 slices).
    let size = d.program(
        1,
        U,
        &[
            Insn::new(Op::Addi, 5, 5, 0, 1),
            Insn::new(Op::Blt, 0, 5, 1, 0),
            Insn::new(Op::Halt, 0, 0, 0, 0),
        ],
    );
    let a = d.create_wq(1, 1, 0);
    let b = d.create_wq(1, 1, 1);
    d.submit(
        a,
        1,
        11,
        100_000,
        &[(compute(U, size, 1, [200_000, 0, 0, 0], u32::MAX), NONE)],
    );
    d.submit(
        b,
        2,
        22,
        1000,
        &[(
            Cmd::Fill {
                addr: U + PAGE_SIZE,
                size: 64,
                value: 3,
            },
            NONE,
        )],
    );
    assert!(d.gpu.run(&d.bus));
    assert_eq!(
        d.events(),
        [complete(2, 1, 1)],
        "B's short job is done in the first run"
    );
    assert_eq!(d.stamp(0), 0);
    assert_eq!(d.wq(a, wq::STATE), WQ_STATE_BUSY);
    let runs = d.run_to_idle();
    assert!(runs > 50, "{runs}");
    assert_eq!(d.events(), [complete(1, 0, 1)]);
    assert_eq!(d.stamp(0), 11);
}

#[test]
fn higher_priority_runs_first() {
    let mut d = Drv::new();
    d.umap(1, U, 9 * PAGE_SIZE, true, true);
    let low = d.create_wq(1, 0, 0);
    let high = d.create_wq(1, 3, 1);
    // Pipes are read highest first, so these two start in priority order.
    d.submit(
        low,
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
    d.submit(
        high,
        2,
        2,
        1000,
        &[(
            Cmd::Fill {
                addr: U,
                size: 64,
                value: 2,
            },
            NONE,
        )],
    );
    d.run_to_idle();
    assert_eq!(d.events(), [complete(2, 1, 1), complete(1, 0, 1)]);
    assert_eq!(d.read_u32(1, U), 1, "the low one wrote last");

    // A low queue already active when a high one arrives: the high one
    // still gets its slice first. The low fill takes exactly two slices.
    let slice = u64::from(ROUNDS_PER_SLICE) * BLIT_BYTES_PER_TURN;
    d.submit(
        low,
        3,
        3,
        1000,
        &[(
            Cmd::Fill {
                addr: U,
                size: 2 * slice,
                value: 3,
            },
            NONE,
        )],
    );
    assert!(d.gpu.run(&d.bus));
    assert!(d.events().is_empty());
    d.submit(
        high,
        4,
        4,
        1000,
        &[(
            Cmd::Fill {
                addr: U + 8 * PAGE_SIZE,
                size: 64,
                value: 4,
            },
            NONE,
        )],
    );
    assert!(!d.gpu.run(&d.bus));
    assert_eq!(d.events(), [complete(4, 1, 1), complete(3, 0, 1)]);
}

#[test]
fn many_busy_queues_share_runs_and_devctl_is_not_held_up() {
    let mut d = Drv::new();
    // More queues than a run serves (and fewer than a pipe ring holds).
    let n = SLICES_PER_RUN + 4;
    d.umap(1, U, n as u64 * PAGE_SIZE, true, true);
    let wqs: Vec<u64> = (0..n).map(|i| d.create_wq(1, 0, i as u32)).collect();
    for (i, &wq) in wqs.iter().enumerate() {
        let fill = Cmd::Fill {
            addr: U + i as u64 * PAGE_SIZE,
            size: 64,
            value: 1,
        };
        d.submit(wq, i as u64 + 1, 1, 1000, &[(fill, NONE)]);
    }
    // One slice finishes each job; a run gives at most SLICES_PER_RUN.
    assert!(d.gpu.run(&d.bus));
    let mut done = d.events();
    assert_eq!(done.len(), SLICES_PER_RUN);
    // A device-control message posted now is taken by the next run, not
    // after a round of every busy queue. That run finishes the round, and
    // the firmware is idle.
    let seq = d.devctl(DEVCTL_TLBI_ALL, 0, 0);
    assert!(!d.gpu.run(&d.bus));
    assert_eq!(d.read_u32(0, d.initdata + initdata::DEVCTL_ACK), seq);
    done.extend(d.events());
    let want: Vec<Event> = (0..n)
        .map(|i| complete(i as u64 + 1, i as u32, 1))
        .collect();
    assert_eq!(done, want, "every job once, in the queues' order");
}

#[test]
fn tlb_keeps_stale_translations_until_invalidated() {
    let mut d = Drv::new();
    let (src, dst) = (U, U + PAGE_SIZE);
    d.umap(1, U, 2 * PAGE_SIZE, true, true);
    d.write_va(1, src, b"hello, stale world");
    let wq = d.create_wq(1, 0, 0);
    d.submit(wq, 1, 1, 1000, &[(Cmd::Copy { src, dst, size: 16 }, NONE)]);
    d.run_to_idle();
    assert_eq!(d.events(), [complete(1, 0, 1)]);

    // Unmapped, but the TLB still has it, even after another slot's TLBI.
    d.unmap(1, src);
    d.devctl(DEVCTL_TLBI_SLOT, 2, 0);
    d.submit(
        wq,
        2,
        2,
        1000,
        &[(
            Cmd::Copy {
                src,
                dst: dst + 64,
                size: 16,
            },
            NONE,
        )],
    );
    d.run_to_idle();
    assert_eq!(d.events(), [complete(2, 0, 1)]);
    assert_eq!(d.read_va(1, dst + 64, 16), b"hello, stale wor");

    d.devctl(DEVCTL_TLBI_SLOT, 1, 0);
    d.submit(
        wq,
        3,
        3,
        1000,
        &[(
            Cmd::Copy {
                src,
                dst: dst + 128,
                size: 16,
            },
            NONE,
        )],
    );
    d.run_to_idle();
    assert_eq!(d.events(), [fault(EVENT_FAULT, 3, 0, 0, 1, src)]);
    assert_eq!(d.status(), STATUS_HALTED);

    // Mapping it again (elsewhere) and TLBI_ALL.
    let bus = d.alloc_bus();
    d.map(1, src, bus, true, true);
    d.devctl(DEVCTL_TLBI_ALL, 0, 0);
    d.devctl(DEVCTL_RESUME, 0, 0);
    d.run_to_idle();
    assert_eq!(d.events(), [complete(3, 0, 1)]);
    assert_eq!(d.read_va(1, dst + 128, 16), [0; 16]);
}

#[test]
fn corrupted_job_magic_crashes() {
    let mut d = Drv::new();
    d.umap(1, U, PAGE_SIZE, true, true);
    let wq = d.create_wq(1, 0, 0);
    let job = d.submit(
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
    d.logs();
    d.write_u32(0, job, 0);
    assert!(!d.gpu.run(&d.bus));
    assert_eq!(d.status(), STATUS_CRASHED);
    let logs = d.logs();
    assert!(
        logs.iter()
            .any(|(l, t)| *l == LOG_ERR && t.starts_with("crash: job magic")),
        "{logs:?}"
    );
    assert!(d.events().is_empty());
    assert!(!d.gpu.run(&d.bus));
}

#[test]
fn insane_work_queue_crashes() {
    let mut d = Drv::new();
    let wq = d.create_wq(1, 0, 0);
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
    d.write_u32(0, wq + wq::SLOT, 0);
    d.run_to_idle();
    assert_eq!(d.status(), STATUS_CRASHED);
}

#[test]
fn full_event_ring_delays_completion() {
    // Two entries: room for one event.
    let mut d = Drv::with(2, INITDATA_MAGIC);
    d.umap(1, U, PAGE_SIZE, true, true);
    let wq = d.create_wq(1, 0, 0);
    d.submit(
        wq,
        1,
        10,
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
    d.submit(
        wq,
        2,
        20,
        1000,
        &[(
            Cmd::Fill {
                addr: U + 64,
                size: 64,
                value: 2,
            },
            NONE,
        )],
    );
    for _ in 0..10 {
        assert!(d.gpu.run(&d.bus), "the second completion waits");
        // Finished jobs do not time out while they wait.
        d.bus.now.set(d.bus.now.get() + 1_000_000_000);
    }
    assert_eq!(d.stamp(0), 10);
    assert_eq!(d.wq(wq, wq::RPTR), 1);
    assert_eq!(d.read_u32(1, U + 64), 2, "the job itself ran");
    assert_eq!(d.events(), [complete(1, 0, 1)]);
    d.run_to_idle();
    assert_eq!(d.events(), [complete(2, 0, 1)]);
    assert_eq!(d.stamp(0), 20);
    assert_eq!(d.wq(wq, wq::RPTR), 2);
}

#[test]
fn full_event_ring_delays_fault() {
    let mut d = Drv::with(2, INITDATA_MAGIC);
    d.umap(1, U, PAGE_SIZE, true, true);
    let wq = d.create_wq(1, 0, 0);
    d.submit(
        wq,
        1,
        10,
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
    d.submit(
        wq,
        2,
        20,
        1000,
        &[(
            Cmd::Fill {
                addr: U + PAGE_SIZE,
                size: 64,
                value: 2,
            },
            NONE,
        )],
    );
    for _ in 0..3 {
        assert!(d.gpu.run(&d.bus), "the fault event waits");
    }
    assert_eq!(d.status(), STATUS_HALTED);
    assert_eq!(d.events(), [complete(1, 0, 1)]);
    assert!(!d.gpu.run(&d.bus), "delivered: nothing more until RESUME");
    assert_eq!(d.events(), [fault(EVENT_FAULT, 2, 0, 0, 2, U + PAGE_SIZE)]);
}

#[test]
fn dropped_work_queue_stops_running() {
    let mut d = Drv::new();
    d.umap(1, U, PAGE_SIZE, true, false);
    let size = d.program(1, U, &[Insn::new(Op::Jmp, 0, 0, 0, 0)]);
    let wq = d.create_wq(1, 0, 0);
    let job = d.submit(
        wq,
        1,
        1,
        1000,
        &[(compute(U, size, 1, [0; 4], u32::MAX), NONE)],
    );
    assert!(d.gpu.run(&d.bus));
    let steps = d.read_u32(0, job + JOB_HEADER_SIZE + save::STEPS);
    assert!(steps > 0);
    let seq = d.devctl(DEVCTL_DROP_WQ, 0, wq);
    assert!(!d.gpu.run(&d.bus));
    assert_eq!(d.read_u32(0, d.initdata + initdata::DEVCTL_ACK), seq);
    assert_eq!(d.read_u32(0, job + JOB_HEADER_SIZE + save::STEPS), steps);
    assert!(d.events().is_empty());
}

#[test]
fn unknown_messages_are_logged_and_skipped() {
    let mut d = Drv::new();
    d.logs();
    let seq = d.devctl(77, 0, 0);
    let mut m = [0u8; PIPE_MSG_SIZE as usize];
    put32(&mut m, 0, 5);
    d.push(d.pipes[2], &m);
    assert!(!d.gpu.run(&d.bus));
    assert_eq!(d.status(), STATUS_RUNNING);
    assert_eq!(d.read_u32(0, d.initdata + initdata::DEVCTL_ACK), seq);
    let logs = d.logs();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs.iter().all(|(l, _)| *l == LOG_WARN));
}

/// Random bytes of kernel memory (init data, rings, work queues, jobs),
/// of the TTB and of the program change before and while the GPU runs:
/// whatever happens, the model must not panic (overflow checks are on in
/// tests) and each run must return.
#[test]
fn survives_corrupted_memory() {
    // Final statuses and events posted over all seeds: jobs complete,
    // fault, time out and run illegal instructions, and the firmware
    // crashes (halts end in a resume, which this loop keeps sending).
    let mut statuses = [0u32; 4];
    let mut kinds = [0u32; 5];
    for seed in 1..=500u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut d = Drv::new();
        d.umap(1, U, 4 * PAGE_SIZE, true, true);
        let prog = U + 3 * PAGE_SIZE;
        let size = d.program(1, prog, &SAXPY);
        let a = d.create_wq(1, 2, 3);
        let b = d.create_wq(1, 0, 4);
        let j1 = d.submit(
            a,
            1,
            1,
            1000,
            &[
                (
                    Cmd::Fill {
                        addr: U,
                        size: 4096,
                        value: 1,
                    },
                    NONE,
                ),
                (compute(prog, size, 64, [3, U, U + PAGE_SIZE, 0], 16), 0),
                (
                    Cmd::Copy {
                        src: U,
                        dst: U + 2 * PAGE_SIZE,
                        size: 8192,
                    },
                    1,
                ),
            ],
        );
        let j2 = d.submit(
            b,
            2,
            2,
            1,
            &[(compute(prog, size, 2000, [5, U, U + PAGE_SIZE, 0], 9), NONE)],
        );
        let kernel_len = d.next_kva - KERNEL_VA_START;
        // Bus addresses are looked up before anything is corrupted (the
        // page tables may be, too).
        let mut pages = HashMap::new();
        for page in (KERNEL_VA_START..d.kva_end).step_by(PAGE_SIZE as usize) {
            pages.insert((0, page), d.va_to_bus(0, page));
        }
        pages.insert((1, prog), d.va_to_bus(1, prog));
        let bus_of =
            |slot: usize, va: u64| pages[&(slot, va & !(PAGE_SIZE - 1))] | (va & (PAGE_SIZE - 1));
        let devctl_ptrs = bus_of(0, d.devctl + ring::WPTR);
        let devctl_base = d.ring_desc(d.devctl).0.base;
        let events_base = d.ring_desc(d.events).0.base;
        let corrupt = |d: &Drv, rng: &mut Rng| {
            let (va, slot) = match rng.below(6) {
                0 => (j1 + rng.below(JOB_CMDS + 3 * FW_CMD_SIZE), 0),
                1 => (j2 + rng.below(JOB_CMDS + FW_CMD_SIZE), 0),
                2 => (a + rng.below(WQ_INFO_SIZE), 0),
                3 => (prog + rng.below(72), 1),
                _ => (KERNEL_VA_START + rng.below(kernel_len), 0),
            };
            let v = rng.next() as u8;
            if rng.below(64) == 0 {
                // A root table entry.
                d.bus.write(d.ttb + 8 * rng.below(3), &[v]).unwrap();
            } else {
                d.bus.write(bus_of(slot, va), &[v]).unwrap();
            }
        };
        for _ in 0..1 + rng.below(4) {
            corrupt(&d, &mut rng);
        }
        let when = rng.below(10);
        let mut seq = 0;
        for i in 0..300 {
            if i == when {
                for _ in 0..1 + rng.below(4) {
                    corrupt(&d, &mut rng);
                }
            }
            let more = d.gpu.run(&d.bus);
            d.bus.now.set(d.bus.now.get() + 300_000);
            if d.status() == STATUS_HALTED && rng.below(2) == 0 {
                // Any resume, sane or not, if the device-control ring
                // (maybe corrupted) has room.
                let arg1 = [0, a, b, 0, a, b, 0, rng.next()][rng.below(8) as usize];
                let mut p = [0u8; 12];
                d.bus.read(devctl_ptrs, &mut p).unwrap();
                let wptr = u32::from_le_bytes(p[0..4].try_into().unwrap());
                let rptr = u32::from_le_bytes(p[8..12].try_into().unwrap());
                if wptr < 16 && (wptr + 1) % 16 != rptr {
                    seq += 1;
                    let m = DevCtl {
                        op: DEVCTL_RESUME,
                        seq,
                        arg0: rng.next() as u32,
                        arg1,
                    };
                    d.bus
                        .write(
                            bus_of(0, devctl_base + u64::from(wptr) * DEVCTL_SIZE),
                            &m.encode(),
                        )
                        .unwrap();
                    d.bus
                        .write(devctl_ptrs, &((wptr + 1) % 16).to_le_bytes())
                        .unwrap();
                }
            }
            if !more && d.status() != STATUS_HALTED {
                break;
            }
        }
        statuses[d.status() as usize] += 1;
        let mut w = [0u8; 4];
        d.bus
            .read(bus_of(0, d.events + ring::WPTR), &mut w)
            .unwrap();
        for i in 0..u32::from_le_bytes(w).min(64) {
            let mut m = [0u8; EVENT_SIZE as usize];
            d.bus
                .read(bus_of(0, events_base + u64::from(i) * EVENT_SIZE), &mut m)
                .unwrap();
            kinds[(Event::decode(&m).kind as usize).min(4)] += 1;
        }
    }
    assert!(
        statuses[STATUS_RUNNING as usize] > 0 && statuses[STATUS_CRASHED as usize] > 0,
        "{statuses:?}"
    );
    assert!(kinds[1..].iter().all(|&n| n > 0), "{kinds:?}");
}

/// Random register values and boots never panic either.
#[test]
fn survives_random_registers() {
    let mut rng = Rng(42);
    let mut d = Drv::new();
    for _ in 0..2000 {
        let reg =
            [REG_TTBAT, REG_INITDATA, REG_CONTROL, REG_DOORBELL, 0x1000][rng.below(5) as usize];
        let val = match rng.below(4) {
            0 => rng.next(),
            1 => KERNEL_VA_START + rng.below(1 << 16),
            2 => d.initdata,
            _ => [CONTROL_BOOT, CONTROL_RESET][rng.below(2) as usize],
        };
        d.reg(reg, val);
        d.gpu.run(&d.bus);
        assert!(d.status() <= STATUS_CRASHED);
    }
}
