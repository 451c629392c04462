// SPDX-License-Identifier: GPL-2.0

//! The compute bytecode of the virtual GPU.
//!
//! A program is an array of 8-byte little-endian instructions:
//! `opcode: u8, rd: u8, ra: u8, rb: u8, imm: u32`. There are 16 registers
//! of 64 bits; arithmetic wraps. Loads and stores go through the VM's page
//! tables and must be naturally aligned; their address is `ra + imm` with
//! `imm` sign-extended. Branch targets are instruction indices.
//!
//! An invocation ends at `HALT`. Running off the end of the program, an
//! unknown opcode, a register number above 15 or an unaligned access is an
//! illegal-instruction fault; exceeding the command's `max_steps` is a
//! timeout.

/// Size of one instruction.
pub const INSN_SIZE: usize = 8;
/// Number of registers.
pub const NUM_REGS: usize = 16;

/// Opcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// End the invocation.
    Halt = 0x00,
    /// `rd = imm` (zero-extended).
    Movi = 0x01,
    /// `rd = (rd & 0xffff_ffff) | imm << 32`.
    Movhi = 0x02,
    /// `rd = ra`.
    Mov = 0x03,
    /// `rd = ra + rb`.
    Add = 0x10,
    /// `rd = ra - rb`.
    Sub = 0x11,
    /// `rd = ra * rb`.
    Mul = 0x12,
    /// `rd = ra & rb`.
    And = 0x13,
    /// `rd = ra | rb`.
    Or = 0x14,
    /// `rd = ra ^ rb`.
    Xor = 0x15,
    /// `rd = ra << (rb & 63)`.
    Shl = 0x16,
    /// `rd = ra >> (rb & 63)` (logical).
    Shr = 0x17,
    /// `rd = ra + sext(imm)`.
    Addi = 0x18,
    /// `rd = ra * imm`.
    Muli = 0x19,
    /// `rd = ra << (imm & 63)`.
    Shli = 0x1a,
    /// `rd = ra >> (imm & 63)`.
    Shri = 0x1b,
    /// `rd = zext(mem32[ra + sext(imm)])`.
    Ld32 = 0x20,
    /// `mem32[ra + sext(imm)] = rb`.
    St32 = 0x21,
    /// `rd = mem64[ra + sext(imm)]`.
    Ld64 = 0x22,
    /// `mem64[ra + sext(imm)] = rb`.
    St64 = 0x23,
    /// `pc = imm`.
    Jmp = 0x30,
    /// `if ra < rb (unsigned) { pc = imm }`.
    Blt = 0x31,
    /// `if ra != rb { pc = imm }`.
    Bne = 0x32,
    /// `if ra == rb { pc = imm }`.
    Beq = 0x33,
}

impl Op {
    /// Decodes an opcode byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        use Op::*;
        Some(match v {
            0x00 => Halt,
            0x01 => Movi,
            0x02 => Movhi,
            0x03 => Mov,
            0x10 => Add,
            0x11 => Sub,
            0x12 => Mul,
            0x13 => And,
            0x14 => Or,
            0x15 => Xor,
            0x16 => Shl,
            0x17 => Shr,
            0x18 => Addi,
            0x19 => Muli,
            0x1a => Shli,
            0x1b => Shri,
            0x20 => Ld32,
            0x21 => St32,
            0x22 => Ld64,
            0x23 => St64,
            0x30 => Jmp,
            0x31 => Blt,
            0x32 => Bne,
            0x33 => Beq,
            _ => return None,
        })
    }
}

/// One decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Operation.
    pub op: Op,
    /// Destination register.
    pub rd: u8,
    /// First source register.
    pub ra: u8,
    /// Second source register.
    pub rb: u8,
    /// Immediate.
    pub imm: u32,
}

impl Insn {
    /// Builds an instruction.
    pub const fn new(op: Op, rd: u8, ra: u8, rb: u8, imm: u32) -> Self {
        Self {
            op,
            rd,
            ra,
            rb,
            imm,
        }
    }

    /// Decodes 8 bytes; `None` if the opcode or a register is invalid.
    pub fn decode(b: [u8; INSN_SIZE]) -> Option<Self> {
        let op = Op::from_u8(b[0])?;
        let (rd, ra, rb) = (b[1], b[2], b[3]);
        if rd as usize >= NUM_REGS || ra as usize >= NUM_REGS || rb as usize >= NUM_REGS {
            return None;
        }
        let imm = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        Some(Self {
            op,
            rd,
            ra,
            rb,
            imm,
        })
    }

    /// Encodes to 8 bytes.
    pub fn encode(&self) -> [u8; INSN_SIZE] {
        let i = self.imm.to_le_bytes();
        [
            self.op as u8,
            self.rd,
            self.ra,
            self.rb,
            i[0],
            i[1],
            i[2],
            i[3],
        ]
    }

    /// The immediate, sign-extended.
    pub const fn simm(&self) -> u64 {
        self.imm as i32 as i64 as u64
    }
}

/// Integer SAXPY, one invocation per element: `y[i] = a * x[i] + y[i]`
/// on 32-bit words, with r1 = a, r2 = x, r3 = y.
pub const SAXPY: [Insn; 9] = [
    Insn::new(Op::Shli, 5, 0, 0, 2),
    Insn::new(Op::Add, 6, 2, 5, 0),
    Insn::new(Op::Add, 7, 3, 5, 0),
    Insn::new(Op::Ld32, 8, 6, 0, 0),
    Insn::new(Op::Ld32, 9, 7, 0, 0),
    Insn::new(Op::Mul, 8, 8, 1, 0),
    Insn::new(Op::Add, 8, 8, 9, 0),
    Insn::new(Op::St32, 0, 7, 8, 0),
    Insn::new(Op::Halt, 0, 0, 0, 0),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_opcode() {
        for v in 0..=255u8 {
            if let Some(op) = Op::from_u8(v) {
                assert_eq!(op as u8, v);
                let i = Insn::new(op, 1, 2, 15, 0xdead_beef);
                assert_eq!(Insn::decode(i.encode()), Some(i));
            }
        }
    }

    #[test]
    fn rejects_bad_registers_and_opcodes() {
        assert_eq!(Insn::decode([0x10, 16, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(Insn::decode([0xff, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(Insn::new(Op::Addi, 0, 0, 0, u32::MAX).simm(), u64::MAX);
    }
}
