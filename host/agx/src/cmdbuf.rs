// SPDX-License-Identifier: GPL-2.0

//! A builder of SUBMIT command buffers, on `fw::cmd::encode_user` (the
//! encoder the driver's parser is tested against).
//!
//! FILL and COPY run on the blit unit, COMPUTE on the compute unit; each
//! unit runs its commands in order and the two run concurrently, so a
//! command that needs the result of a command of the *other* unit names
//! it as its barrier.

#![forbid(unsafe_code)]

use crate::fw::cmd::{self, Cmd, Unit, BARRIER_NONE};
use crate::Program;

/// A command buffer under construction.
#[derive(Clone, Debug, Default)]
pub struct CmdBuf {
    bytes: Vec<u8>,
    units: Vec<Unit>,
}

impl CmdBuf {
    /// An empty command buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `c`, which starts only after command `barrier` (an earlier
    /// command of the other unit) has completed. Returns its index.
    pub fn push(&mut self, c: Cmd, barrier: Option<u16>) -> u16 {
        let mut b = [0u8; cmd::HEADER_SIZE + 64];
        let n = cmd::encode_user(&c, barrier.unwrap_or(BARRIER_NONE), &mut b)
            .expect("a command fits 72 bytes");
        self.bytes.extend_from_slice(&b[..n]);
        self.units.push(c.unit());
        u16::try_from(self.units.len() - 1).expect("more than 65535 commands")
    }

    /// Fills `size` bytes at `addr` with the 32-bit `value`.
    pub fn fill(&mut self, addr: u64, size: u64, value: u32, barrier: Option<u16>) -> u16 {
        self.push(Cmd::Fill { addr, size, value }, barrier)
    }

    /// Copies `size` bytes from `src` to `dst`.
    pub fn copy(&mut self, src: u64, dst: u64, size: u64, barrier: Option<u16>) -> u16 {
        self.push(Cmd::Copy { src, dst, size }, barrier)
    }

    /// Runs `program` once per invocation, with r1..r4 = `args`, at most
    /// `max_steps` instructions each.
    pub fn compute(
        &mut self,
        program: &Program,
        invocations: u32,
        args: [u64; 4],
        max_steps: u32,
        barrier: Option<u16>,
    ) -> u16 {
        self.push(
            Cmd::Compute {
                program: program.va(),
                program_size: program.size,
                invocations,
                args,
                max_steps,
            },
            barrier,
        )
    }

    /// The last command of `unit` so far, to use as a barrier.
    pub fn last_of(&self, unit: Unit) -> Option<u16> {
        self.units
            .iter()
            .rposition(|&u| u == unit)
            .map(|i| i as u16)
    }

    /// Number of commands.
    pub fn count(&self) -> usize {
        self.units.len()
    }

    /// The encoded bytes, for SUBMIT.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoded bytes, to corrupt on purpose (ioctl tests, fuzzing).
    pub fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Bytes of the buffer.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there is no command.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fw::pgtable::USER_VA_START as A;

    #[test]
    fn builds_what_the_driver_parser_accepts() {
        let mut cb = CmdBuf::new();
        let f = cb.fill(A, 64, 7, None);
        let c = cb.push(
            Cmd::Compute {
                program: A + 0x4000,
                program_size: 72,
                invocations: 4,
                args: [1, 2, 3, 4],
                max_steps: 9,
            },
            Some(f),
        );
        let k = cb.copy(A, A + 64, 64, Some(c));
        assert_eq!((f, c, k), (0, 1, 2));
        assert_eq!(cb.last_of(Unit::Compute), Some(1));
        assert_eq!(cb.last_of(Unit::Blit), Some(2));
        assert_eq!(cmd::count(cb.bytes()), Ok(3));
        let parsed: Vec<_> = cmd::Parser::new(cb.bytes()).map(|r| r.unwrap()).collect();
        assert_eq!(parsed[1].1, 0);
        assert_eq!(
            parsed[2],
            (
                Cmd::Copy {
                    src: A,
                    dst: A + 64,
                    size: 64
                },
                1
            )
        );
        assert_eq!(cb.len(), 3 * 8 + 24 + 56 + 24);
    }
}
