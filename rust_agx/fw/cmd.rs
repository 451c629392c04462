// SPDX-License-Identifier: GPL-2.0

//! The command buffer of `SUBMIT`, and its firmware encoding.
//!
//! Userspace passes a flat buffer of `struct drm_ragx_cmd_header`, each
//! followed by its payload. [`Parser`] validates every byte of it (types,
//! sizes, padding, alignment, address ranges, barriers) before anything
//! reaches the GPU; the firmware gets each command as a fixed
//! [`FW_CMD_SIZE`](super::shared::FW_CMD_SIZE) record.

use super::{
    le32, le64,
    pgtable::{USER_VA_END, USER_VA_START},
};

/// `DRM_RAGX_CMD_FILL`.
pub const CMD_FILL: u16 = 1;
/// `DRM_RAGX_CMD_COPY`.
pub const CMD_COPY: u16 = 2;
/// `DRM_RAGX_CMD_COMPUTE`.
pub const CMD_COMPUTE: u16 = 3;
/// `DRM_RAGX_BARRIER_NONE`.
pub const BARRIER_NONE: u16 = 0xffff;

/// Size of `struct drm_ragx_cmd_header`.
pub const HEADER_SIZE: usize = 8;
/// Most commands in one submission.
pub const MAX_CMDS: usize = 64;
/// Most bytes of one command buffer.
pub const MAX_CMDBUF_SIZE: usize = 64 * 1024;
/// Most invocations of one compute command.
pub const MAX_INVOCATIONS: u32 = 1 << 20;
/// Most bytes of a compute program.
pub const MAX_PROGRAM_SIZE: u32 = 64 * 1024;

/// The unit a command runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Fill and copy.
    Blit = 0,
    /// Compute.
    Compute = 1,
}

/// One validated command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// Fill `size` bytes at `addr` with `value`.
    Fill {
        /// GPU VA, 4-byte aligned.
        addr: u64,
        /// Bytes, a non-zero multiple of 4.
        size: u64,
        /// Pattern.
        value: u32,
    },
    /// Copy `size` bytes from `src` to `dst`.
    Copy {
        /// Source GPU VA.
        src: u64,
        /// Destination GPU VA.
        dst: u64,
        /// Bytes, non-zero.
        size: u64,
    },
    /// Run a program once per invocation.
    Compute {
        /// GPU VA of the program.
        program: u64,
        /// Bytes of program.
        program_size: u32,
        /// Number of invocations.
        invocations: u32,
        /// Initial r1..r4.
        args: [u64; 4],
        /// Instructions per invocation.
        max_steps: u32,
    },
}

impl Cmd {
    /// The unit the command runs on.
    pub fn unit(&self) -> Unit {
        match self {
            Cmd::Fill { .. } | Cmd::Copy { .. } => Unit::Blit,
            Cmd::Compute { .. } => Unit::Compute,
        }
    }

    /// Encodes the command and its barrier (an index, or [`BARRIER_NONE`])
    /// as a firmware record: `type: u16, barrier: u16, pad: u32`, then the
    /// payload in the UAPI layout.
    pub fn encode_fw(&self, barrier: u16) -> [u8; 64] {
        let mut b = [0u8; 64];
        let put64 =
            |b: &mut [u8; 64], at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        let ty = match *self {
            Cmd::Fill { addr, size, value } => {
                put64(&mut b, 8, addr);
                put64(&mut b, 16, size);
                b[24..28].copy_from_slice(&value.to_le_bytes());
                CMD_FILL
            }
            Cmd::Copy { src, dst, size } => {
                put64(&mut b, 8, src);
                put64(&mut b, 16, dst);
                put64(&mut b, 24, size);
                CMD_COPY
            }
            Cmd::Compute {
                program,
                program_size,
                invocations,
                args,
                max_steps,
            } => {
                put64(&mut b, 8, program);
                b[16..20].copy_from_slice(&program_size.to_le_bytes());
                b[20..24].copy_from_slice(&invocations.to_le_bytes());
                for (i, a) in args.iter().enumerate() {
                    put64(&mut b, 24 + 8 * i, *a);
                }
                b[56..60].copy_from_slice(&max_steps.to_le_bytes());
                CMD_COMPUTE
            }
        };
        b[0..2].copy_from_slice(&ty.to_le_bytes());
        b[2..4].copy_from_slice(&barrier.to_le_bytes());
        b
    }

    /// Decodes a firmware record into the command and its barrier. The
    /// firmware trusts nothing: a record it cannot decode is `None`.
    pub fn decode_fw(b: &[u8; 64]) -> Option<(Self, u16)> {
        let ty = u16::from_le_bytes([b[0], b[1]]);
        let barrier = u16::from_le_bytes([b[2], b[3]]);
        let mut p = [0u8; 56];
        p.copy_from_slice(&b[8..]);
        Some((decode_payload(ty, &p)?, barrier))
    }
}

/// Why a command buffer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdError {
    /// The buffer ends inside a header or payload.
    Truncated,
    /// Bigger than [`MAX_CMDBUF_SIZE`], more than [`MAX_CMDS`] commands, or
    /// no command at all.
    TooBig,
    /// Unknown command type.
    UnknownType,
    /// A size field does not fit its command.
    BadSize,
    /// Padding or reserved bytes are not zero.
    NonZeroPad,
    /// A barrier names no earlier command.
    BadBarrier,
    /// An address or size is misaligned, zero, overflows or is outside the
    /// user VA range, or copy ranges overlap.
    BadRange,
}

/// Size of the payload of a known command type.
fn payload_size(ty: u16) -> Option<usize> {
    match ty {
        CMD_FILL => Some(24),
        CMD_COPY => Some(24),
        CMD_COMPUTE => Some(56),
        _ => None,
    }
}

/// Decodes a payload without validating ranges.
fn decode_payload(ty: u16, p: &[u8]) -> Option<Cmd> {
    if p.len() < payload_size(ty)? {
        return None;
    }
    Some(match ty {
        CMD_FILL => Cmd::Fill {
            addr: le64(p, 0),
            size: le64(p, 8),
            value: le32(p, 16),
        },
        CMD_COPY => Cmd::Copy {
            src: le64(p, 0),
            dst: le64(p, 8),
            size: le64(p, 16),
        },
        _ => Cmd::Compute {
            program: le64(p, 0),
            program_size: le32(p, 8),
            invocations: le32(p, 12),
            args: [le64(p, 16), le64(p, 24), le64(p, 32), le64(p, 40)],
            max_steps: le32(p, 48),
        },
    })
}

/// Whether `[addr, addr + size)` is non-empty and inside the user VA range.
fn user_range(addr: u64, size: u64) -> bool {
    size != 0
        && addr >= USER_VA_START
        && addr.checked_add(size).is_some_and(|end| end <= USER_VA_END)
}

fn validate(ty: u16, p: &[u8], cmd: &Cmd) -> Result<(), CmdError> {
    // Padding words and any extension bytes beyond what we know must be 0.
    let known = payload_size(ty).ok_or(CmdError::UnknownType)?;
    let pad_ok = match ty {
        CMD_FILL => le32(p, 20) == 0,
        CMD_COMPUTE => le32(p, 52) == 0,
        _ => true,
    };
    if !pad_ok || p[known..].iter().any(|&b| b != 0) {
        return Err(CmdError::NonZeroPad);
    }
    let ok = match *cmd {
        Cmd::Fill { addr, size, .. } => addr % 4 == 0 && size % 4 == 0 && user_range(addr, size),
        Cmd::Copy { src, dst, size } => {
            user_range(src, size)
                && user_range(dst, size)
                && (src + size <= dst || dst + size <= src)
        }
        Cmd::Compute {
            program,
            program_size,
            invocations,
            max_steps,
            ..
        } => {
            program % 8 == 0
                && program_size % 8 == 0
                && program_size <= MAX_PROGRAM_SIZE
                && user_range(program, u64::from(program_size))
                && (1..=MAX_INVOCATIONS).contains(&invocations)
                && max_steps != 0
        }
    };
    if ok {
        Ok(())
    } else {
        Err(CmdError::BadRange)
    }
}

/// Iterates over the validated commands of a command buffer, with each
/// command's barrier. Stops at the first error; [`count`] checks a whole
/// buffer first.
#[derive(Clone, Debug)]
pub struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    index: usize,
    failed: bool,
}

impl<'a> Parser<'a> {
    /// Starts parsing `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            index: 0,
            failed: false,
        }
    }

    fn next_cmd(&mut self) -> Result<(Cmd, u16), CmdError> {
        let rest = &self.buf[self.pos..];
        if rest.len() < HEADER_SIZE {
            return Err(CmdError::Truncated);
        }
        if self.index >= MAX_CMDS {
            return Err(CmdError::TooBig);
        }
        let ty = u16::from_le_bytes([rest[0], rest[1]]);
        let size = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
        let barrier = u16::from_le_bytes([rest[4], rest[5]]);
        if rest[6] != 0 || rest[7] != 0 {
            return Err(CmdError::NonZeroPad);
        }
        let known = payload_size(ty).ok_or(CmdError::UnknownType)?;
        if size < known || size % 8 != 0 {
            return Err(CmdError::BadSize);
        }
        let p = rest
            .get(HEADER_SIZE..HEADER_SIZE + size)
            .ok_or(CmdError::Truncated)?;
        if barrier != BARRIER_NONE && usize::from(barrier) >= self.index {
            return Err(CmdError::BadBarrier);
        }
        let cmd = decode_payload(ty, p).ok_or(CmdError::BadSize)?;
        validate(ty, p, &cmd)?;
        self.pos += HEADER_SIZE + size;
        self.index += 1;
        Ok((cmd, barrier))
    }
}

impl Iterator for Parser<'_> {
    type Item = Result<(Cmd, u16), CmdError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos == self.buf.len() {
            return None;
        }
        let r = self.next_cmd();
        self.failed = r.is_err();
        Some(r)
    }
}

/// Validates a whole command buffer and returns its number of commands.
pub fn count(buf: &[u8]) -> Result<usize, CmdError> {
    if buf.is_empty() || buf.len() > MAX_CMDBUF_SIZE {
        return Err(CmdError::TooBig);
    }
    let mut n = 0;
    for c in Parser::new(buf) {
        c?;
        n += 1;
    }
    Ok(n)
}

/// Appends a command with its header to `out` (for userspace and tests).
/// Returns `None` if `out` is too short; else the bytes written.
pub fn encode_user(cmd: &Cmd, barrier: u16, out: &mut [u8]) -> Option<usize> {
    let fw = cmd.encode_fw(barrier);
    let ty = u16::from_le_bytes([fw[0], fw[1]]);
    let size = payload_size(ty)?;
    let total = HEADER_SIZE + size;
    let out = out.get_mut(..total)?;
    out[0..2].copy_from_slice(&ty.to_le_bytes());
    out[2..4].copy_from_slice(&(size as u16).to_le_bytes());
    out[4..6].copy_from_slice(&barrier.to_le_bytes());
    out[6..8].fill(0);
    out[8..].copy_from_slice(&fw[8..8 + size]);
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: u64 = USER_VA_START;

    fn buf(cmds: &[(Cmd, u16)]) -> ([u8; 1024], usize) {
        let mut b = [0u8; 1024];
        let mut n = 0;
        for (c, bar) in cmds {
            n += encode_user(c, *bar, &mut b[n..]).unwrap();
        }
        (b, n)
    }

    #[test]
    fn parses_each_kind() {
        let cmds = [
            (
                Cmd::Fill {
                    addr: A,
                    size: 64,
                    value: 7,
                },
                BARRIER_NONE,
            ),
            (
                Cmd::Copy {
                    src: A,
                    dst: A + 64,
                    size: 64,
                },
                BARRIER_NONE,
            ),
            (
                Cmd::Compute {
                    program: A + 4096,
                    program_size: 72,
                    invocations: 16,
                    args: [1, 2, 3, 4],
                    max_steps: 100,
                },
                1,
            ),
        ];
        let (b, n) = buf(&cmds);
        assert_eq!(count(&b[..n]), Ok(3));
        let got: Result<Vec<_>, _> = Parser::new(&b[..n]).collect();
        assert_eq!(got.unwrap(), cmds.to_vec());
        for (c, bar) in cmds {
            assert_eq!(Cmd::decode_fw(&c.encode_fw(bar)), Some((c, bar)));
        }
    }

    #[test]
    fn refuses_bad_buffers() {
        let fill = Cmd::Fill {
            addr: A,
            size: 64,
            value: 7,
        };
        let (b, n) = buf(&[(fill, BARRIER_NONE)]);
        assert_eq!(count(&b[..0]), Err(CmdError::TooBig));
        assert_eq!(count(&b[..n - 1]), Err(CmdError::Truncated));
        let mut bad = b;
        bad[6] = 1;
        assert_eq!(count(&bad[..n]), Err(CmdError::NonZeroPad));
        let mut bad = b;
        bad[28] = 1; // the fill's pad word
        assert_eq!(count(&bad[..n]), Err(CmdError::NonZeroPad));
        let mut bad = b;
        bad[0] = 9;
        assert_eq!(count(&bad[..n]), Err(CmdError::UnknownType));
        let mut bad = b;
        bad[2] = 20;
        assert_eq!(count(&bad[..n]), Err(CmdError::BadSize));
        let (b, n) = buf(&[(fill, 0)]);
        assert_eq!(count(&b[..n]), Err(CmdError::BadBarrier));
        for c in [
            Cmd::Fill {
                addr: A + 2,
                size: 64,
                value: 0,
            },
            Cmd::Fill {
                addr: 0x1000,
                size: 64,
                value: 0,
            },
            Cmd::Fill {
                addr: u64::MAX - 3,
                size: 64,
                value: 0,
            },
            Cmd::Copy {
                src: A,
                dst: A + 32,
                size: 64,
            },
            Cmd::Copy {
                src: A,
                dst: A + 64,
                size: 0,
            },
            Cmd::Compute {
                program: A,
                program_size: 8,
                invocations: 0,
                args: [0; 4],
                max_steps: 1,
            },
            Cmd::Compute {
                program: A,
                program_size: 8,
                invocations: 1,
                args: [0; 4],
                max_steps: 0,
            },
            Cmd::Compute {
                program: A + 4,
                program_size: 8,
                invocations: 1,
                args: [0; 4],
                max_steps: 1,
            },
        ] {
            let (b, n) = buf(&[(c, BARRIER_NONE)]);
            assert_eq!(count(&b[..n]), Err(CmdError::BadRange), "{c:?}");
        }
    }

    #[test]
    fn extension_bytes_must_be_zero() {
        let (mut b, n) = buf(&[(
            Cmd::Copy {
                src: A,
                dst: A + 64,
                size: 64,
            },
            BARRIER_NONE,
        )]);
        // Grow the payload by 8 zero bytes: accepted; non-zero: refused.
        b[2] = 32;
        assert_eq!(count(&b[..n + 8]), Ok(1));
        b[n + 3] = 1;
        assert_eq!(count(&b[..n + 8]), Err(CmdError::NonZeroPad));
    }
}
