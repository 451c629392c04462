// SPDX-License-Identifier: GPL-2.0

//! `stall`: a client that stops reading its replies.
//!
//! It shrinks its socket's receive buffer, opens FILE (a path beneath the
//! export, at least 64 MiB so that every read is whole) and writes 1024
//! Treads of a whole msize (64 KiB) each, 64 MiB of replies, then reads
//! nothing for HOLD seconds. The replies fill the socket buffers on both
//! sides (the server's send buffer grows to a few MiB at most) and the
//! server's senders wait on this client. The server must give
//! up on the connection (its send timeout) instead of keeping requests and
//! workers waiting forever, and without a hung task: after the hold,
//! reading what is still buffered must end with the end of the stream.
//! Another connection is served meanwhile and afterwards.

use crate::client::Client;
use p9::proto::{self, Request};
use std::io::{ErrorKind, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Reads written before the client stops reading.
const READS: u64 = 1024;
/// The receive buffer asked for (the kernel doubles it): a few times the
/// loopback MSS (64 KiB), so that window updates are not held back as
/// silly windows once the client reads again.
const RECV_BUFFER: u32 = 256 << 10;
/// Rread's header: size[4] type[1] tag[2] count[4].
const RREAD_HEADER: u32 = 11;
/// How long the buffered replies and the end of the stream may take to
/// come once the client reads again.
const DRAIN: Duration = Duration::from_secs(60);

/// Runs the check; the exit status.
pub fn run(addr: SocketAddr, file: &str, hold: u64) -> i32 {
    match stall(addr, file, hold) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("stall: {e}");
            println!("stall: FAILED");
            1
        }
    }
}

/// A new session that must still be served.
fn other_session(addr: SocketAddr, when: &str) -> Result<(), String> {
    let mut c = Client::connect(addr, Duration::from_secs(30))
        .map_err(|e| format!("connect {when}: {e}"))?;
    c.smoke()
        .map_err(|e| format!("another session {when}: {e}"))
}

fn stall(addr: SocketAddr, file: &str, hold: u64) -> Result<String, String> {
    let mut c =
        Client::connect(addr, Duration::from_secs(30)).map_err(|e| format!("connect: {e}"))?;
    c.set_recv_buffer(RECV_BUFFER)
        .map_err(|e| format!("SO_RCVBUF: {e}"))?;
    c.version().map_err(|e| format!("Tversion: {e}"))?;
    c.attach(0).map_err(|e| format!("Tattach: {e}"))?;
    let names: Vec<&[u8]> = file
        .split('/')
        .filter(|n| !n.is_empty())
        .map(str::as_bytes)
        .collect();
    c.walk(0, 1, &names)
        .map_err(|e| format!("Twalk to {file}: {e}"))?;
    c.lopen(1, 0).map_err(|e| format!("Tlopen {file}: {e}"))?;
    let count = c.msize - RREAD_HEADER;
    let mut out = Vec::new();
    for i in 0..READS {
        let tag = c.next_tag();
        let mut b = [0u8; 64];
        let n = proto::encode_request(
            &mut b,
            tag,
            &Request::Read {
                fid: 1,
                offset: i * u64::from(count),
                count,
            },
        )
        .map_err(|e| format!("{e:?}"))?;
        out.extend_from_slice(&b[..n]);
    }
    c.send_raw(&out)
        .map_err(|e| format!("sending the reads: {e}"))?;
    let asked = READS * u64::from(c.msize);

    // Not reading; the server is still there for others.
    std::thread::sleep(Duration::from_secs(hold / 2));
    other_session(addr, "while a client stalls")?;
    std::thread::sleep(Duration::from_secs(hold - hold / 2));

    let mut stream = c.into_stream();
    stream
        .set_read_timeout(Some(DRAIN))
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut got = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    let end = loop {
        match stream.read(&mut buf) {
            Ok(0) => break "end of stream",
            Ok(n) => got += n as u64,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break "reset",
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!(
                    "the server still holds the connection {hold} s after the client \
                     stopped reading ({got} of {asked} bytes of replies buffered, then \
                     nothing for {} s)",
                    DRAIN.as_secs()
                ));
            }
            Err(e) => return Err(format!("reading: {e}")),
        }
    };
    if got >= asked {
        return Err(format!(
            "all {got} bytes of replies came: the client never stalled the server"
        ));
    }
    other_session(addr, "after the stalled one")?;
    Ok(format!(
        "stall: the server closed a client that read nothing for {hold} s ({end} after \
         {got} of {asked} bytes of replies, {:.1} s); other sessions served",
        start.elapsed().as_secs_f64()
    ))
}
