// SPDX-License-Identifier: GPL-2.0

//! `fids`: the server's limit on the fids of one connection (65536).
//!
//! After Tattach (fid 0), Twalk clones of the root to fids 1, 2, ... 65536
//! go out in pipelined batches (replies may come in any order, the server
//! runs requests concurrently). Exactly one must be refused, with Rlerror
//! EMFILE: the one that would have been the 65537th fid. Then a Tclunk frees
//! a slot, which one new walk takes and the next does not get. The
//! connection then closes with 65536 fids open, which the server must free
//! (the harness checks kmemleak).

use crate::client::{errno_name, walk_names, Client};
use p9::proto::{self, DecodedReply, Reply, Request};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The server's limit.
const LIMIT: u32 = 65536;
/// Requests written before their replies are read.
const BATCH: u32 = 512;
const EMFILE: u32 = 24;

/// Walks from the root to `newfid`s in one pipelined batch; the errno of
/// each refused one.
fn walk_batch(c: &mut Client, newfids: &[u32]) -> Result<Vec<(u32, u32)>, String> {
    let mut out = Vec::new();
    let mut tags = HashMap::new();
    let mut nb = Vec::new();
    for &newfid in newfids {
        let tag = c.next_tag();
        let req = Request::Walk {
            fid: 0,
            newfid,
            names: walk_names(&mut nb, &[]),
        };
        let mut b = [0u8; 64];
        let n = proto::encode_request(&mut b, tag, &req).map_err(|e| format!("{e:?}"))?;
        out.extend_from_slice(&b[..n]);
        tags.insert(tag, newfid);
    }
    c.send_raw(&out)
        .map_err(|e| format!("sending walks: {e}"))?;
    let mut refused = Vec::new();
    for _ in newfids {
        let frame = c
            .recv_frame()
            .map_err(|e| format!("reading walk replies: {e}"))?;
        let (tag, d) = proto::decode_reply(&frame).map_err(|e| format!("bad reply: {e:?}"))?;
        let newfid = tags
            .remove(&tag)
            .ok_or_else(|| format!("reply with tag {tag}, not one in flight"))?;
        match d {
            DecodedReply::Walk { qids } if qids.iter().count() == 0 => {}
            DecodedReply::Reply(Reply::Lerror { ecode }) => refused.push((newfid, ecode)),
            other => return Err(format!("type {} in reply to Twalk", other.type_code())),
        }
    }
    Ok(refused)
}

/// Fills the fid table to its limit and past it; the exit status.
pub fn run(addr: SocketAddr) -> i32 {
    match fill(addr) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("fids: {e}");
            println!("fids: FAILED");
            1
        }
    }
}

fn fill(addr: SocketAddr) -> Result<String, String> {
    let start = Instant::now();
    let mut c =
        Client::connect(addr, Duration::from_secs(60)).map_err(|e| format!("connect: {e}"))?;
    c.version().map_err(|e| format!("Tversion: {e}"))?;
    c.attach(0).map_err(|e| format!("Tattach: {e}"))?;
    let mut refused = Vec::new();
    let mut next = 1;
    while next <= LIMIT {
        let end = (next + BATCH).min(LIMIT + 1);
        let fids: Vec<u32> = (next..end).collect();
        refused.extend(walk_batch(&mut c, &fids)?);
        next = end;
    }
    // Fid 0 and 65535 clones fill the table: one walk of the 65536 is over.
    let [(fid, ecode)] = refused[..] else {
        return Err(format!(
            "{} walks refused, want exactly 1: {:?}",
            refused.len(),
            &refused[..refused.len().min(8)]
        ));
    };
    if ecode != EMFILE {
        return Err(format!(
            "walk to fid {fid} refused with {}, want EMFILE",
            errno_name(ecode)
        ));
    }
    // A clunk frees a slot for one more.
    let open = if fid == 1 { 2 } else { 1 };
    c.clunk(open).map_err(|e| format!("Tclunk {open}: {e}"))?;
    if !walk_batch(&mut c, &[LIMIT + 10])?.is_empty() {
        return Err("walk refused after a clunk freed a slot".into());
    }
    match walk_batch(&mut c, &[LIMIT + 11])?[..] {
        [(_, EMFILE)] => {}
        ref r => return Err(format!("walk past the limit again: {r:?}, want EMFILE")),
    }
    // Still a working session.
    c.getattr(0)
        .map_err(|e| format!("Tgetattr after the limit: {e}"))?;
    Ok(format!(
        "fids: {LIMIT} fids open on one connection, the next refused with EMFILE ({:.1} s)",
        start.elapsed().as_secs_f64()
    ))
}
