// SPDX-License-Identifier: GPL-2.0

//! p9hostile: a hostile 9P2000.L client for testing rust_9p, the in-kernel
//! 9P server, over TCP from inside the test VM.
//!
//! ```text
//! p9hostile traversal ADDR:PORT     export confinement checks
//! p9hostile fuzz ADDR:PORT N SEED   N mutated messages (deterministic PRNG)
//! p9hostile flood ADDR:PORT CONNS   CONNS sessions open at once
//! p9hostile flush ADDR:PORT FILE    Tflush of reads in flight, on the wire
//! p9hostile latency ADDR:PORT N     N Tgetattr round trips, p50 and p99
//! p9hostile fids ADDR:PORT          the 65536-fid limit of a connection
//! p9hostile stall ADDR:PORT FILE HOLD  a client that stops reading for
//!                                   HOLD seconds is closed
//! p9hostile mountops MNT_A MNT_B    xattrs and POSIX locks through two
//!                                   v9fs mounts of one export
//! ```
//!
//! `traversal` expects the export prepared by the VM test script: /export
//! (tmpfs) holding `dir/`, `dir/up -> ../..`, `abs -> /`, `abs2 -> /secret`,
//! `rel -> ../../secret`, `mnt/` (another tmpfs, holding `inner`), `null`
//! (char 1,3), `fifo` and `file` ("inside"); `/secret` outside it.
//!
//! Exit status 0 when every check passes; each failure is one line on
//! stderr, and a summary line goes to stdout. Only std and the 9P codec
//! (`rust_9p/proto.rs`, through the `p9` crate): build it static to copy it
//! into a busybox initramfs:
//!
//! ```text
//! cd host && RUSTFLAGS="-C target-feature=+crt-static" \
//!     cargo build --release --target x86_64-unknown-linux-gnu -p p9hostile
//! ldd target/x86_64-unknown-linux-gnu/release/p9hostile   # statically linked
//! ```
//!
//! (scripts/build-vm-tools.sh does this.)
//!
//! Addresses are numeric (no name service). `$P9HOSTILE_ANAME` sets the
//! aname of Tattach (default ""; diod, say, wants the export's path).

mod client;
mod fids;
mod flood;
mod fuzz;
mod latency;
mod mountops;
mod stall;
mod traversal;

use std::process::exit;

const USAGE: &str = "usage: p9hostile traversal ADDR:PORT\n       \
                     p9hostile fuzz ADDR:PORT N SEED\n       \
                     p9hostile flood ADDR:PORT CONNS\n       \
                     p9hostile flush ADDR:PORT FILE\n       \
                     p9hostile latency ADDR:PORT N\n       \
                     p9hostile fids ADDR:PORT\n       \
                     p9hostile stall ADDR:PORT FILE HOLD\n       \
                     p9hostile mountops MNT_A MNT_B";

fn usage(msg: &str) -> ! {
    eprintln!("p9hostile: {msg}\n{USAGE}");
    exit(2)
}

/// Parses a decimal or 0x-prefixed hexadecimal number.
fn number(s: &str, what: &str) -> u64 {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.unwrap_or_else(|_| usage(&format!("bad {what} {s:?}")))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first() else {
        usage("no mode given")
    };
    // The modes that work on mounts, not on a server address.
    match (mode.as_str(), args.len()) {
        ("mountops", 3) => exit(mountops::run(&args[1], &args[2])),
        ("hold-lock", 3) => exit(mountops::hold_lock(&args[1], number(&args[2], "SECONDS"))),
        _ => {}
    }
    let addr = match args.get(1) {
        Some(a) => client::parse_addr(a).unwrap_or_else(|e| usage(&e)),
        None => usage("no ADDR:PORT given"),
    };
    let code = match (mode.as_str(), args.len()) {
        ("traversal", 2) => traversal::run(addr),
        ("fids", 2) => fids::run(addr),
        ("fuzz", 4) => fuzz::run(addr, number(&args[2], "N"), number(&args[3], "SEED")),
        ("flood", 3) => {
            let n = number(&args[2], "CONNS");
            if n == 0 || n > 4096 {
                usage("CONNS must be 1-4096");
            }
            flood::run(addr, n as usize)
        }
        ("flush", 3) => mountops::flush(addr, &args[2]),
        ("stall", 4) => match number(&args[3], "HOLD") {
            h @ 1..=3600 => stall::run(addr, &args[2], h),
            _ => usage("HOLD must be 1-3600 seconds"),
        },
        ("latency", 3) => match number(&args[2], "N") {
            n @ 1..=1_000_000 => latency::run(addr, n as usize),
            _ => usage("N must be 1-1000000"),
        },
        _ => usage("bad arguments"),
    };
    exit(code)
}
