// SPDX-License-Identifier: GPL-2.0

//! `rust_agx/fw/cmd.rs` on arbitrary bytes: the command-buffer parser never
//! panics; what it accepts re-encodes to the same commands, stays in the
//! user VA range, and its firmware records decode to the same commands.

#![no_main]

use agxfw::fw::{
    cmd::{count, encode_user, Cmd, Parser, BARRIER_NONE},
    pgtable::{USER_VA_END, USER_VA_START},
};
use libfuzzer_sys::fuzz_target;

fn in_user(addr: u64, size: u64) -> bool {
    addr >= USER_VA_START && addr + size <= USER_VA_END
}

fuzz_target!(|data: &[u8]| {
    let Ok(n) = count(data) else {
        // A refused buffer may still parse partly; the iterator stops at the
        // first error and never panics.
        for c in Parser::new(data) {
            if c.is_err() {
                break;
            }
        }
        return;
    };
    let mut seen = 0;
    let mut out = vec![0u8; data.len() + 64];
    for (i, c) in Parser::new(data).enumerate() {
        let (cmd, barrier) = c.expect("count() accepted the buffer");
        assert!(barrier == BARRIER_NONE || (barrier as usize) < i);
        match cmd {
            Cmd::Fill { addr, size, .. } => assert!(in_user(addr, size) && size % 4 == 0),
            Cmd::Copy { src, dst, size } => {
                assert!(in_user(src, size) && in_user(dst, size));
                assert!(src + size <= dst || dst + size <= src);
            }
            Cmd::Compute {
                program,
                program_size,
                invocations,
                max_steps,
                ..
            } => {
                assert!(in_user(program, program_size.into()) && invocations > 0 && max_steps > 0);
            }
        }
        assert_eq!(
            Cmd::decode_fw(&cmd.encode_fw(barrier)),
            Some((cmd, barrier))
        );
        let len = encode_user(&cmd, barrier, &mut out).expect("fits");
        let again: Vec<_> = Parser::new(&out[..len]).collect();
        assert_eq!(again.len(), 1);
        seen += 1;
    }
    assert_eq!(seen, n);
});
