// SPDX-License-Identifier: GPL-2.0

//! Compute programs (the bytecode of `fw::isa`) used by the CLI, the tests
//! and the benchmark, with what they compute, for checks on the CPU.
//!
//! Each invocation starts with r0 = its index, r1..r4 = the command's
//! arguments and the other registers zero. The unit tests run every
//! program on a small reference interpreter of the ISA's documentation.

#![forbid(unsafe_code)]

use crate::fw::isa::{Insn, Op, INSN_SIZE};

const fn i(op: Op, rd: u8, ra: u8, rb: u8, imm: u32) -> Insn {
    Insn::new(op, rd, ra, rb, imm)
}

/// Encodes a program.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|x| x.encode()).collect()
}

/// Bytes of a program of `n` instructions.
pub const fn size_of(n: usize) -> u32 {
    (n * INSN_SIZE) as u32
}

/// Integer SAXPY, `fw::isa::SAXPY`: one invocation per element,
/// `y[i] = a * x[i] + y[i]` on u32s, with r1 = a, r2 = &x, r3 = &y.
pub const SAXPY: [Insn; 9] = crate::fw::isa::SAXPY;
/// Instructions one SAXPY invocation executes.
pub const SAXPY_STEPS: u32 = 9;

/// What SAXPY computes for one element.
pub fn saxpy(a: u32, x: u32, y: u32) -> u32 {
    a.wrapping_mul(x).wrapping_add(y)
}

/// Spins r1 iterations (r1 >= 1), then halts: a job that takes time.
pub const SPIN: [Insn; 3] = [
    i(Op::Addi, 1, 1, 0, u32::MAX), // r1 -= 1
    i(Op::Bne, 0, 1, 6, 0),         // r6 is 0: loop while r1 != 0
    i(Op::Halt, 0, 0, 0, 0),
];

/// Instructions SPIN executes for `n` iterations.
pub const fn spin_steps(n: u64) -> u64 {
    2 * n + 1
}

/// Writes a pattern: `x[i] = i * r3 + r4` (u32) at r2 = &x, one
/// invocation per element.
pub const PATTERN: [Insn; 6] = [
    i(Op::Shli, 5, 0, 0, 2),
    i(Op::Add, 5, 2, 5, 0),
    i(Op::Mul, 6, 0, 3, 0),
    i(Op::Add, 6, 6, 4, 0),
    i(Op::St32, 0, 5, 6, 0),
    i(Op::Halt, 0, 0, 0, 0),
];
/// Instructions one PATTERN invocation executes.
pub const PATTERN_STEPS: u32 = 6;

/// What PATTERN writes at index `i`.
pub fn pattern(i: u32, mul: u64, add: u64) -> u32 {
    u64::from(i).wrapping_mul(mul).wrapping_add(add) as u32
}

/// Sums r2 u32 words at r1 into the u64 at r3, in one invocation.
pub const CHECKSUM: [Insn; 9] = [
    i(Op::Shli, 9, 2, 0, 2), // r9 = 4 * n
    i(Op::Add, 9, 1, 9, 0),  // r9 = end
    i(Op::Beq, 0, 1, 9, 7),  // while r1 != end
    i(Op::Ld32, 8, 1, 0, 0),
    i(Op::Add, 6, 6, 8, 0),
    i(Op::Addi, 1, 1, 0, 4),
    i(Op::Jmp, 0, 0, 0, 2),
    i(Op::St64, 0, 3, 6, 0),
    i(Op::Halt, 0, 0, 0, 0),
];

/// Instructions CHECKSUM executes for `n` words.
pub const fn checksum_steps(n: u64) -> u64 {
    5 * n + 5
}

/// What CHECKSUM computes.
pub fn checksum(words: &[u32]) -> u64 {
    words
        .iter()
        .fold(0u64, |s, &w| s.wrapping_add(u64::from(w)))
}

/// Branches to itself forever: only the job timeout (or max_steps) ends it.
pub const RUNAWAY: [Insn; 1] = [i(Op::Jmp, 0, 0, 0, 0)];

/// Loads the u32 at r1 + 0 (to fault on purpose, or to touch memory).
pub const LOAD: [Insn; 2] = [i(Op::Ld32, 5, 1, 0, 0), i(Op::Halt, 0, 0, 0, 0)];

/// Stores r2 as a u32 at r1 + 0.
pub const STORE: [Insn; 2] = [i(Op::St32, 0, 1, 2, 0), i(Op::Halt, 0, 0, 0, 0)];

/// Dumps the registers an invocation starts with: 16 u64 slots at
/// r1 + 128 * r0, slot k = rk, except slot 5 (r5 holds the address) which
/// is left alone.
pub fn regs_dump() -> Vec<Insn> {
    let mut p = vec![i(Op::Shli, 5, 0, 0, 7), i(Op::Add, 5, 5, 1, 0)];
    for r in (0..16u8).filter(|&r| r != 5) {
        p.push(i(Op::St64, 0, 5, r, 8 * u32::from(r)));
    }
    p.push(i(Op::Halt, 0, 0, 0, 0));
    p
}

/// An illegal opcode (0xff) as instruction 1: `(bytes, index of the
/// illegal instruction)`.
pub fn illegal_opcode() -> (Vec<u8>, u64) {
    let mut b = encode(&[i(Op::Movi, 1, 0, 0, 1)]);
    b.extend_from_slice(&[0xff, 0, 0, 0, 0, 0, 0, 0]);
    b.extend(encode(&[i(Op::Halt, 0, 0, 0, 0)]));
    (b, 1)
}

/// An ADD to register 16 (there are 16 registers) as instruction 0.
pub fn bad_register() -> Vec<u8> {
    let mut b = vec![Op::Add as u8, 16, 0, 0, 0, 0, 0, 0];
    b.extend(encode(&[i(Op::Halt, 0, 0, 0, 0)]));
    b
}

/// A program without HALT: runs off its end after one instruction.
pub const RUN_OFF_END: [Insn; 1] = [i(Op::Movi, 1, 0, 0, 1)];

/// Loads a u32 from r1 + 2: unaligned if r1 is.
pub const UNALIGNED_LOAD: [Insn; 2] = [i(Op::Ld32, 5, 1, 0, 2), i(Op::Halt, 0, 0, 0, 0)];

/// A program exercising every opcode once, with r1 = output: it stores
/// one u64 result per check at r1 + 8 * k. Returns the program and the
/// expected results, computed here from the ISA's documentation.
pub fn alu() -> (Vec<Insn>, Vec<u64>) {
    const A: u64 = 0x0123_4567_89ab_cdef;
    const B: u64 = 13;
    let mut p = vec![
        i(Op::Movi, 2, 0, 0, 0x89ab_cdef),
        i(Op::Movhi, 2, 0, 0, 0x0123_4567), // r2 = A
        i(Op::Movi, 3, 0, 0, B as u32),     // r3 = B
        i(Op::Movi, 7, 0, 0, 70),           // r7 = 70: shifts use it & 63
        i(Op::Movi, 10, 0, 0, u32::MAX),
        i(Op::Movhi, 10, 0, 0, u32::MAX), // r10 = u64::MAX
    ];
    let mut want = Vec::new();
    let store = |p: &mut Vec<Insn>, want: &mut Vec<u64>, v: u64| {
        p.push(i(Op::St64, 0, 1, 5, 8 * want.len() as u32));
        want.push(v);
    };
    // (instruction computing r5, expected r5)
    let alu: [(Insn, u64); 17] = [
        (i(Op::Mov, 5, 2, 0, 0), A),
        (i(Op::Add, 5, 2, 3, 0), A.wrapping_add(B)),
        (i(Op::Sub, 5, 3, 2, 0), B.wrapping_sub(A)),
        (i(Op::Mul, 5, 2, 2, 0), A.wrapping_mul(A)),
        (i(Op::And, 5, 2, 3, 0), A & B),
        (i(Op::Or, 5, 2, 3, 0), A | B),
        (i(Op::Xor, 5, 2, 3, 0), A ^ B),
        (i(Op::Shl, 5, 2, 3, 0), A << B),
        (i(Op::Shr, 5, 2, 3, 0), A >> B),
        (i(Op::Shl, 5, 2, 7, 0), A << (70 & 63)),
        (i(Op::Shr, 5, 10, 7, 0), u64::MAX >> (70 & 63)),
        (i(Op::Addi, 5, 2, 0, (-5i32) as u32), A.wrapping_sub(5)),
        (i(Op::Muli, 5, 2, 0, 1000), A.wrapping_mul(1000)),
        (i(Op::Shli, 5, 2, 0, 60), A << 60),
        (i(Op::Shri, 5, 2, 0, 60), A >> 60),
        (i(Op::Movi, 5, 0, 0, 0xffff_ffff), 0xffff_ffff),
        (i(Op::Movhi, 5, 0, 0, 0x1234_5678), 0x1234_5678_ffff_ffff), // keeps the low half
    ];
    for (insn, v) in alu {
        p.push(insn);
        store(&mut p, &mut want, v);
    }
    // Memory: st32 writes the low half of r2 into a zeroed slot; ld32
    // zero-extends it back; ld64 with a negative offset reads slot 0 (A).
    let k = want.len() as u32;
    p.push(i(Op::St32, 0, 1, 2, 8 * k));
    want.push(A & 0xffff_ffff);
    p.push(i(Op::Ld32, 5, 1, 0, 8 * k));
    store(&mut p, &mut want, A & 0xffff_ffff);
    p.push(i(Op::Addi, 8, 1, 0, 256));
    p.push(i(Op::Ld64, 5, 8, 0, (-256i32) as u32));
    store(&mut p, &mut want, A);
    // Branches: r5 = 1; branch over `r5 = 0`; store r5 (1 if taken).
    let branches: [(Op, u8, u8, bool); 8] = [
        (Op::Blt, 3, 2, true),   // 13 < A
        (Op::Blt, 2, 3, false),  // A < 13
        (Op::Blt, 3, 10, true),  // unsigned: 13 < u64::MAX
        (Op::Blt, 10, 3, false), // (signed, -1 < 13 would be taken)
        (Op::Bne, 2, 3, true),
        (Op::Bne, 2, 2, false),
        (Op::Beq, 2, 2, true),
        (Op::Beq, 2, 3, false),
    ];
    for (op, ra, rb, taken) in branches {
        p.push(i(Op::Movi, 5, 0, 0, 1));
        let target = p.len() as u32 + 2;
        p.push(i(op, 0, ra, rb, target));
        p.push(i(Op::Movi, 5, 0, 0, 0));
        store(&mut p, &mut want, u64::from(taken));
    }
    // JMP over a store of a wrong value.
    p.push(i(Op::Movi, 5, 0, 0, 0x600d));
    let target = p.len() as u32 + 2;
    p.push(i(Op::Jmp, 0, 0, 0, target));
    p.push(i(Op::Movi, 5, 0, 0, 0xbad));
    store(&mut p, &mut want, 0x600d);
    p.push(i(Op::Halt, 0, 0, 0, 0));
    (p, want)
}

#[cfg(test)]
pub(crate) mod interp {
    //! A reference interpreter of `fw::isa`'s documentation, to check the
    //! programs above (not the GPU model: that is rust_agx/vgpu's).
    use super::*;

    /// Flat memory at `base`.
    pub struct Mem {
        pub base: u64,
        pub bytes: Vec<u8>,
    }

    impl Mem {
        fn at(&self, addr: u64, n: u64) -> Result<usize, String> {
            if !addr.is_multiple_of(n) {
                return Err(format!("unaligned {addr:#x}"));
            }
            let off = addr
                .checked_sub(self.base)
                .ok_or(format!("unmapped {addr:#x}"))?;
            if off + n > self.bytes.len() as u64 {
                return Err(format!("unmapped {addr:#x}"));
            }
            Ok(off as usize)
        }

        pub fn ld(&self, addr: u64, n: u64) -> Result<u64, String> {
            let o = self.at(addr, n)?;
            let mut b = [0u8; 8];
            b[..n as usize].copy_from_slice(&self.bytes[o..o + n as usize]);
            Ok(u64::from_le_bytes(b))
        }

        pub fn st(&mut self, addr: u64, n: u64, v: u64) -> Result<(), String> {
            let o = self.at(addr, n)?;
            self.bytes[o..o + n as usize].copy_from_slice(&v.to_le_bytes()[..n as usize]);
            Ok(())
        }
    }

    /// Runs one invocation; `Err` on a fault or timeout.
    pub fn run(
        code: &[u8],
        index: u64,
        args: [u64; 4],
        mem: &mut Mem,
        max_steps: u64,
    ) -> Result<u64, String> {
        let mut r = [0u64; 16];
        r[0] = index;
        r[1..5].copy_from_slice(&args);
        let mut pc = 0usize;
        for step in 0..max_steps {
            let b: [u8; 8] = code
                .get(pc * 8..pc * 8 + 8)
                .ok_or(format!("ran off the end at {pc}"))?
                .try_into()
                .unwrap();
            let x = Insn::decode(b).ok_or(format!("illegal instruction at {pc}"))?;
            let (d, a, bb) = (x.rd as usize, x.ra as usize, x.rb as usize);
            let imm = u64::from(x.imm);
            pc += 1;
            match x.op {
                Op::Halt => return Ok(step + 1),
                Op::Movi => r[d] = imm,
                Op::Movhi => r[d] = (r[d] & 0xffff_ffff) | imm << 32,
                Op::Mov => r[d] = r[a],
                Op::Add => r[d] = r[a].wrapping_add(r[bb]),
                Op::Sub => r[d] = r[a].wrapping_sub(r[bb]),
                Op::Mul => r[d] = r[a].wrapping_mul(r[bb]),
                Op::And => r[d] = r[a] & r[bb],
                Op::Or => r[d] = r[a] | r[bb],
                Op::Xor => r[d] = r[a] ^ r[bb],
                Op::Shl => r[d] = r[a] << (r[bb] & 63),
                Op::Shr => r[d] = r[a] >> (r[bb] & 63),
                Op::Addi => r[d] = r[a].wrapping_add(x.simm()),
                Op::Muli => r[d] = r[a].wrapping_mul(imm),
                Op::Shli => r[d] = r[a] << (imm & 63),
                Op::Shri => r[d] = r[a] >> (imm & 63),
                Op::Ld32 => r[d] = mem.ld(r[a].wrapping_add(x.simm()), 4)?,
                Op::St32 => mem.st(r[a].wrapping_add(x.simm()), 4, r[bb])?,
                Op::Ld64 => r[d] = mem.ld(r[a].wrapping_add(x.simm()), 8)?,
                Op::St64 => mem.st(r[a].wrapping_add(x.simm()), 8, r[bb])?,
                Op::Jmp => pc = x.imm as usize,
                Op::Blt => {
                    if r[a] < r[bb] {
                        pc = x.imm as usize
                    }
                }
                Op::Bne => {
                    if r[a] != r[bb] {
                        pc = x.imm as usize
                    }
                }
                Op::Beq => {
                    if r[a] == r[bb] {
                        pc = x.imm as usize
                    }
                }
            }
        }
        Err("timeout".into())
    }
}

#[cfg(test)]
mod tests {
    use super::interp::{run, Mem};
    use super::*;

    const BASE: u64 = 1 << 32;

    fn mem(n: usize) -> Mem {
        Mem {
            base: BASE,
            bytes: vec![0; n],
        }
    }

    #[test]
    fn saxpy_and_pattern() {
        let mut m = mem(64);
        for k in 0..8u64 {
            m.st(BASE + 4 * k, 4, k + 1).unwrap(); // x
            m.st(BASE + 32 + 4 * k, 4, 100 * k).unwrap(); // y
        }
        for k in 0..8 {
            let steps = run(&encode(&SAXPY), k, [3, BASE, BASE + 32, 0], &mut m, 100).unwrap();
            assert_eq!(steps, u64::from(SAXPY_STEPS));
        }
        for k in 0..8u32 {
            let want = saxpy(3, k + 1, 100 * k);
            assert_eq!(
                m.ld(BASE + 32 + 4 * u64::from(k), 4).unwrap(),
                u64::from(want)
            );
        }
        for k in 0..16 {
            let steps = run(&encode(&PATTERN), k, [0, BASE, 7, 0xffff_fff0], &mut m, 100).unwrap();
            assert_eq!(steps, u64::from(PATTERN_STEPS));
        }
        assert_eq!(
            m.ld(BASE + 4 * 15, 4).unwrap(),
            u64::from(pattern(15, 7, 0xffff_fff0))
        );
    }

    #[test]
    fn checksum_spin_and_regs() {
        let mut m = mem(4096);
        let words: Vec<u32> = (0..1000u32).map(|k| k.wrapping_mul(0x9e37_79b9)).collect();
        for (k, w) in words.iter().enumerate() {
            m.st(BASE + 4 * k as u64, 4, u64::from(*w)).unwrap();
        }
        let steps = run(
            &encode(&CHECKSUM),
            0,
            [BASE, 1000, BASE + 4000, 0],
            &mut m,
            1 << 20,
        )
        .unwrap();
        assert_eq!(steps, checksum_steps(1000));
        assert_eq!(m.ld(BASE + 4000, 8).unwrap(), checksum(&words));

        assert_eq!(
            run(&encode(&SPIN), 0, [1000, 0, 0, 0], &mut m, 1 << 20).unwrap(),
            spin_steps(1000)
        );
        assert!(run(&encode(&RUNAWAY), 0, [0; 4], &mut m, 1000).is_err());

        let mut m = mem(128 * 3);
        for k in 0..3 {
            run(&encode(&regs_dump()), k, [BASE, 22, 33, 44], &mut m, 100).unwrap();
        }
        assert_eq!(m.ld(BASE + 128 * 2, 8).unwrap(), 2);
        assert_eq!(m.ld(BASE + 128 * 2 + 8, 8).unwrap(), BASE);
        assert_eq!(m.ld(BASE + 128 * 2 + 32, 8).unwrap(), 44);
        assert_eq!(m.ld(BASE + 128 * 2 + 120, 8).unwrap(), 0);
    }

    #[test]
    fn alu_expectations_follow_the_isa() {
        let (p, want) = alu();
        let mut m = mem(8 * want.len() + 256);
        run(&encode(&p), 0, [BASE, 0, 0, 0], &mut m, 1000).unwrap();
        for (k, w) in want.iter().enumerate() {
            assert_eq!(m.ld(BASE + 8 * k as u64, 8).unwrap(), *w, "check {k}");
        }
    }

    #[test]
    fn faulting_programs_fault() {
        let mut m = mem(64);
        let (b, at) = illegal_opcode();
        assert_eq!(
            run(&b, 0, [0; 4], &mut m, 10),
            Err(format!("illegal instruction at {at}"))
        );
        assert!(run(&bad_register(), 0, [0; 4], &mut m, 10)
            .unwrap_err()
            .starts_with("illegal"));
        assert!(run(&encode(&RUN_OFF_END), 0, [0; 4], &mut m, 10)
            .unwrap_err()
            .starts_with("ran off"));
        assert!(
            run(&encode(&UNALIGNED_LOAD), 0, [BASE, 0, 0, 0], &mut m, 10)
                .unwrap_err()
                .starts_with("unaligned")
        );
        assert!(run(&encode(&LOAD), 0, [BASE + 64, 0, 0, 0], &mut m, 10)
            .unwrap_err()
            .starts_with("unmapped"));
        run(&encode(&STORE), 0, [BASE + 4, 9, 0, 0], &mut m, 10).unwrap();
        assert_eq!(m.ld(BASE + 4, 4).unwrap(), 9);
    }
}
