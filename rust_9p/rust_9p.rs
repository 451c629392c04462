// SPDX-License-Identifier: GPL-2.0

//! 9P2000.L file server over TCP.
//!
//! Serves the directory of the `export` parameter to 9P2000.L clients (the
//! kernel's v9fs among them) on `addr`:`port`. Each connection has a receive
//! loop; its requests run concurrently as work items, each with the
//! credentials of the user whose fid it uses, so that the VFS enforces that
//! user's permissions. Every lookup stays beneath the export.
//!
//! Documentation/rust_9p.rst describes the design, the limits and the tests.

#![deny(unsafe_code)]

mod conn;
mod fid;
mod ops;
// The encoders of requests and decoders of replies are for the host tools
// (the hostile client, the tests).
#[allow(dead_code, unreachable_pub)]
mod proto;

// proto.rs is plain `core` code, shared with the host tests (host/p9); it
// finds the little-endian cursor as `crate::wire`.
use abstractions::wire;

use abstractions::{
    log::LogLimit,
    net::{Ipv4Addr, TcpListener},
    string_param,
    vfs::{FileType, Path},
    workqueue::OwnedQueue,
};
use conn::Conn;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

module! {
    type: Rust9p,
    name: "rust_9p",
    authors: ["Rust driver suite developers"],
    description: "In-kernel 9P2000.L file server over TCP",
    license: "GPL v2",
    params: {
        port: u16 {
            default: 564,
            description: "TCP port to listen on (1-65535)",
        },
        readonly: bool {
            default: false,
            description: "Serve the export read-only: changes get EROFS",
        },
        max_conns: u32 {
            default: 64,
            description: "Most connections served at once (1-1024); more are refused",
        },
        msize: u32 {
            default: 1048576,
            description: "Largest message size negotiated (4096-16777216)",
        },
    },
}

string_param!(export, 4096, "Directory to export (required)");
string_param!(
    addr,
    16,
    "IPv4 address to listen on (default 127.0.0.1; 0.0.0.0 for all)"
);

/// Connections that may wait for accept().
const BACKLOG: u32 = 64;

/// The smallest msize a client may negotiate (what the Linux client needs).
pub(crate) const MSIZE_MIN: u32 = 4096;

/// Parses a dotted-quad IPv4 address.
fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split(|&b| b == b'.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = p.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
        *o = u8::try_from(v).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    let [a, b, c, d] = octets;
    Some(Ipv4Addr::new(a, b, c, d))
}

/// Whether a line about a misbehaving client may be logged now: the
/// first 20, then one in 1000.
pub(crate) fn log_allowed() -> bool {
    static LOG: LogLimit<20, 1000> = LogLimit::new();
    LOG.allow()
}

/// What every connection shares.
#[pin_data]
pub(crate) struct Server {
    /// The export's root; every fid is at or beneath it.
    pub(crate) root: Path,
    pub(crate) readonly: bool,
    pub(crate) msize_max: u32,
    max_conns: u32,
    /// Runs the accept loop and the receive loops, which block for as
    /// long as their peers are idle.
    pub(crate) queue: OwnedQueue,
    /// Runs the requests, each on the CPU whose receive loop read it.
    pub(crate) requests: OwnedQueue,
    listener: TcpListener,
    /// Live connections, so that unload can shut them down.
    #[pin]
    conns: Mutex<KVec<Arc<Conn>>>,
    stopping: AtomicBool,
}

impl Server {
    fn accept_loop(self: Arc<Self>) {
        loop {
            let stream = match self.listener.accept() {
                Ok(s) => s,
                Err(e) => {
                    if !self.stopping.load(Ordering::Acquire) && log_allowed() {
                        pr_warn!("accept failed: {:?}; no longer accepting\n", e);
                    }
                    return;
                }
            };
            let mut conns = self.conns.lock();
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            if conns.len() >= self.max_conns as usize {
                if log_allowed() {
                    if let Some((a, p)) = stream.peer() {
                        pr_warn!(
                            "refused {}:{}: max_conns={} reached\n",
                            a,
                            p,
                            self.max_conns
                        );
                    }
                }
                continue;
            }
            let conn = match Conn::new(self.clone(), stream) {
                Ok(c) => c,
                Err(e) => {
                    pr_warn!("no memory for a connection: {:?}\n", e);
                    continue;
                }
            };
            if conns.push(conn.clone(), GFP_KERNEL).is_err() {
                continue;
            }
            drop(conns);
            let c = conn.clone();
            if self
                .queue
                .try_spawn(GFP_KERNEL, move || c.receive_loop())
                .is_err()
            {
                self.forget(&conn);
            }
        }
    }

    /// Drops a connection from the live list (its receive loop ended).
    pub(crate) fn forget(&self, conn: &Arc<Conn>) {
        let mut conns = self.conns.lock();
        if let Some(i) = conns.iter().position(|c| Arc::ptr_eq(c, conn)) {
            let _ = conns.remove(i);
        }
    }
}

struct Rust9p {
    server: Arc<Server>,
}

impl kernel::Module for Rust9p {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let port = module_parameters::port.value();
        let max_conns = module_parameters::max_conns.value();
        let msize_max = module_parameters::msize.value();
        let readonly = module_parameters::readonly.value();
        if port == 0 {
            pr_err!("port=0 is not a port to listen on; give 1-65535\n");
            return Err(EINVAL);
        }
        if !(1..=1024).contains(&max_conns) {
            pr_err!("max_conns={} is out of range; give 1-1024\n", max_conns);
            return Err(EINVAL);
        }
        if !(MSIZE_MIN..=16 << 20).contains(&msize_max) {
            pr_err!("msize={} is out of range; give 4096-16777216\n", msize_max);
            return Err(EINVAL);
        }
        let addr_s = addr.value().to_bytes();
        let ip = if addr_s.is_empty() {
            Ipv4Addr::LOCALHOST
        } else {
            parse_ipv4(addr_s).ok_or_else(|| {
                pr_err!(
                    "addr={:?} is not an IPv4 address like 127.0.0.1\n",
                    addr.value()
                );
                EINVAL
            })?
        };
        let dir = export.value();
        if dir.is_empty() {
            pr_err!("export= is required: the directory to serve\n");
            return Err(EINVAL);
        }
        if dir.to_bytes()[0] != b'/' {
            pr_err!("export={:?} must be an absolute path\n", dir);
            return Err(EINVAL);
        }
        let root = Path::lookup_dir(dir).inspect_err(|e| {
            pr_err!("export={:?}: cannot use it: {:?}\n", dir, e);
        })?;
        if root.file_type() != FileType::Directory {
            pr_err!("export={:?} is not a directory\n", dir);
            return Err(ENOTDIR);
        }
        let listener = TcpListener::listen(ip, port, BACKLOG).inspect_err(|e| {
            pr_err!("cannot listen on {}:{}: {:?}\n", ip, port, e);
        })?;
        // The accept loop and one receive loop per connection: unbound, as
        // they sleep for as long as their peers like, and never held back
        // (max_conns is at most 1024, half of MAX_ACTIVE). The requests: per
        // CPU, so that one runs where its message was received, warm in
        // the cache and without waking another CPU; a request that sleeps
        // in the VFS lets the next one run. No request waits for one that
        // has not started (Tflush waits in the receive loop; the turn to
        // send is held by running requests), so one held back by
        // MAX_ACTIVE only waits its turn.
        let queue = OwnedQueue::new_unbound(c"rust_9p", OwnedQueue::MAX_ACTIVE)?;
        let requests = OwnedQueue::new_percpu(c"rust_9p_req", OwnedQueue::MAX_ACTIVE)?;
        let server = Arc::pin_init(
            pin_init!(Server {
                root,
                readonly,
                msize_max,
                max_conns,
                queue,
                requests,
                listener,
                conns <- new_mutex!(KVec::new()),
                stopping: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        let s = server.clone();
        server
            .queue
            .try_spawn(GFP_KERNEL, move || s.accept_loop())?;
        let ro = if readonly { " read-only" } else { "" };
        pr_info!(
            "exporting {:?}{} on {}:{}\n",
            dir,
            ro,
            server.listener.addr(),
            server.listener.port()
        );
        Ok(Self { server })
    }
}

impl Drop for Rust9p {
    fn drop(&mut self) {
        let s = &self.server;
        s.stopping.store(true, Ordering::Release);
        s.listener.shutdown();
        let n = {
            let conns = s.conns.lock();
            for c in conns.iter() {
                c.shutdown();
            }
            conns.len()
        };
        // Every loop and request ends once its socket is down; wait for them
        // so that none runs this module's code after it is gone.
        // The receive loops wait for their requests in flight.
        s.queue.drain();
        s.requests.drain();
        pr_info!(
            "stopped serving port {} ({} connections closed)\n",
            s.listener.port(),
            n
        );
    }
}
