// SPDX-License-Identifier: GPL-2.0

//! `latency`: N Tgetattr round trips on the root fid, one at a time; prints
//! the median and 99th percentile. It separates the server's round trip from
//! the v9fs client's (what a mount adds on top).

use crate::client::Client;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Times `n` Tgetattr exchanges; the exit status.
pub fn run(addr: SocketAddr, n: usize) -> i32 {
    let mut c = match Client::connect(addr, Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("latency: connect: {e}");
            return 1;
        }
    };
    if let Err(e) = c.version().and_then(|_| c.attach(0)) {
        eprintln!("latency: session: {e}");
        return 1;
    }
    let mut us = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        if let Err(e) = c.getattr(0) {
            eprintln!("latency: Tgetattr: {e}");
            return 1;
        }
        us.push(t.elapsed().as_micros());
    }
    us.sort_unstable();
    let at = |q: usize| us[(us.len() - 1) * q / 100];
    println!(
        "latency: {n} Tgetattr round trips: p50 {} us, p99 {} us",
        at(50),
        at(99)
    );
    0
}
