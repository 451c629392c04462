// SPDX-License-Identifier: GPL-2.0

//! `flood`: many connections at once. Each thread connects and does
//! Tversion, Tattach, walk ["file"], Tgetattr and Tclunk, then keeps its
//! connection open until every thread is done (a barrier), so that all are
//! open at the same time; all must succeed.
//!
//! At most [`SETUP_AT_ONCE`] threads are connecting and setting up at any
//! moment, so that the server's listen backlog (64 for rust_9p) does not
//! overflow: an overflow drops handshakes, which TCP retries only after
//! seconds, and that would be a test artefact rather than a server failure.

use crate::client::Client;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Most connections being set up at once.
const SETUP_AT_ONCE: usize = 32;

/// A counting semaphore.
struct Gate {
    free: Mutex<usize>,
    cv: Condvar,
}

impl Gate {
    fn enter(&self) {
        let mut f = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *f == 0 {
            f = self.cv.wait(f).unwrap_or_else(|e| e.into_inner());
        }
        *f -= 1;
    }

    fn leave(&self) {
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.cv.notify_one();
    }
}

/// Opens `conns` connections at once; the exit status.
pub fn run(addr: SocketAddr, conns: usize) -> i32 {
    let start = Instant::now();
    let barrier = Arc::new(Barrier::new(conns));
    let gate = Arc::new(Gate {
        free: Mutex::new(SETUP_AT_ONCE),
        cv: Condvar::new(),
    });
    let mut threads = Vec::with_capacity(conns);
    for i in 0..conns {
        let barrier = barrier.clone();
        let gate = gate.clone();
        let t = thread::Builder::new()
            .name(format!("flood{i}"))
            .stack_size(256 * 1024)
            .spawn(move || {
                gate.enter();
                let r = Client::connect(addr, TIMEOUT)
                    .map_err(|e| format!("connect: {e}"))
                    .and_then(|mut c| c.smoke().map(|_| c));
                gate.leave();
                // Every thread reaches the barrier, failed or not.
                barrier.wait();
                r.map(drop)
            });
        match t {
            Ok(t) => threads.push(t),
            Err(e) => {
                eprintln!("flood: cannot start thread {i}: {e}");
                return 1;
            }
        }
    }
    let mut ok = 0;
    for (i, t) in threads.into_iter().enumerate() {
        match t.join() {
            Ok(Ok(())) => ok += 1,
            Ok(Err(e)) => eprintln!("flood: connection {i}: {e}"),
            Err(_) => eprintln!("flood: connection {i}: thread panicked"),
        }
    }
    println!(
        "flood: {ok} of {conns} connections succeeded ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
    i32::from(ok != conns)
}
