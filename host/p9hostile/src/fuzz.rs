// SPDX-License-Identifier: GPL-2.0

//! `fuzz`: mutated 9P2000.L messages, one at a time, each complete on the
//! wire.
//!
//! A corpus of valid requests (every request type, fids 0-8) is sent as is
//! (30%: this walks, opens and reads, so the mutated messages meet fids in
//! every state) or mutated (69%); 1% of the time a valid Tversion + Tattach
//! resets the session. Destructive requests of the corpus only name files
//! starting with "fz" (mutations may still, rarely, reach others).
//!
//! Every message is framed so that the server reads exactly it: a size field
//! in 7..=msize gets exactly that many bytes (cut, or padded with garbage);
//! any other size field is sent as it is, and the server must close the
//! connection (then this reconnects). A well-framed message must get a
//! well-formed reply (its tag; its R-type or Rlerror) within 2 s, or the
//! server may close the connection; anything else is a server failure.

use crate::client::{check_reply, walk_names, Client, Error, NONUNAME, O_RDONLY};
use p9::proto::{
    self, lock_flags, lock_type, msg, open_flags, setattr_valid, LockArgs, Request, SetattrArgs,
    AT_REMOVEDIR, HEADER_SIZE, NOFID, NOTAG, VERSION_9P2000L,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Time a well-framed message has to get its reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest size field the fuzzer writes that the server should accept
/// (with msize 65536).
const MAX_FRAME: u32 = 64 * 1024;

/// xorshift64*: small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed: nearby seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng(if z == 0 { 1 } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n` > 0; 0 gives 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `0..n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi` (`lo` <= `hi`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True `pct` percent of the time.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    /// One of `items` (not empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// Appends `n` random bytes.
    pub fn extend(&mut self, v: &mut Vec<u8>, n: usize) {
        v.reserve(n);
        let mut left = n;
        while left > 0 {
            let b = self.next_u64().to_le_bytes();
            let k = left.min(8);
            v.extend_from_slice(&b[..k]);
            left -= k;
        }
    }
}

/// Encodes a request with tag 0 (the tag is set when sent).
fn enc(req: &Request<'_>) -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    let n = proto::encode_request(&mut b, 0, req).expect("corpus messages are small");
    b.truncate(n);
    b
}

fn walk(fid: u32, newfid: u32, names: &[&[u8]]) -> Vec<u8> {
    let mut nb = Vec::new();
    let names = walk_names(&mut nb, names);
    enc(&Request::Walk { fid, newfid, names })
}

/// Valid requests, every type. Fids: 0 the root (attached by the session),
/// 1 "file", 2 "dir", 3 a clone of the root, 4 special files, 5 an xattr,
/// 6 the created file "fz", 7 "fz" walked, 8 the symlink "fzl".
pub fn corpus() -> Vec<Vec<u8>> {
    let lock = LockArgs {
        ty: lock_type::WRLCK,
        flags: lock_flags::BLOCK,
        start: 0,
        length: 0,
        proc_id: 42,
        client_id: b"p9hostile",
    };
    let rw = open_flags::RDWR;
    vec![
        enc(&Request::Version {
            msize: crate::client::MSIZE,
            version: VERSION_9P2000L,
        }),
        enc(&Request::Auth {
            afid: 8,
            uname: b"root",
            aname: b"",
            n_uname: 0,
        }),
        enc(&Request::Attach {
            fid: 8,
            afid: NOFID,
            uname: b"nobody",
            aname: b"",
            n_uname: 65534,
        }),
        enc(&Request::Flush { oldtag: 5 }),
        walk(0, 1, &[b"file"]),
        walk(0, 2, &[b"dir"]),
        walk(0, 3, &[]),
        walk(0, 4, &[b"dir", b"..", b"fifo"]),
        walk(0, 4, &[b"null"]),
        walk(0, 4, &[b"mnt", b"inner"]),
        walk(2, 2, &[b"..", b"abs", b"x"]),
        walk(0, 7, &[b"fz"]),
        walk(0, 8, &[b"fzl"]),
        walk(0, 6, &[]),
        enc(&Request::Lopen {
            fid: 1,
            flags: O_RDONLY,
        }),
        enc(&Request::Lopen {
            fid: 2,
            flags: O_RDONLY | open_flags::DIRECTORY,
        }),
        enc(&Request::Lopen {
            fid: 4,
            flags: O_RDONLY,
        }),
        enc(&Request::Lopen { fid: 7, flags: rw }),
        enc(&Request::Lcreate {
            fid: 6,
            name: b"fz",
            flags: rw | open_flags::CREATE,
            mode: 0o644,
            gid: NONUNAME,
        }),
        enc(&Request::Symlink {
            fid: 0,
            name: b"fzl",
            target: b"file",
            gid: NONUNAME,
        }),
        enc(&Request::Mknod {
            dfid: 0,
            name: b"fzn",
            mode: 0o100644,
            major: 0,
            minor: 0,
            gid: NONUNAME,
        }),
        enc(&Request::Rename {
            fid: 7,
            dfid: 0,
            name: b"fz2",
        }),
        enc(&Request::Readlink { fid: 8 }),
        enc(&Request::Getattr {
            fid: 1,
            request_mask: proto::getattr_mask::ALL,
        }),
        enc(&Request::Setattr {
            fid: 6,
            attr: SetattrArgs {
                valid: setattr_valid::SIZE | setattr_valid::MODE,
                mode: 0o600,
                size: 3,
                ..SetattrArgs::default()
            },
        }),
        enc(&Request::Xattrwalk {
            fid: 1,
            newfid: 5,
            name: b"",
        }),
        enc(&Request::Xattrcreate {
            fid: 6,
            name: b"user.fz",
            size: 4,
            flags: 0,
        }),
        enc(&Request::Readdir {
            fid: 2,
            offset: 0,
            count: 4096,
        }),
        enc(&Request::Fsync {
            fid: 6,
            datasync: 0,
        }),
        enc(&Request::Lock { fid: 6, lock }),
        enc(&Request::Getlock { fid: 6, lock }),
        enc(&Request::Link {
            dfid: 0,
            fid: 7,
            name: b"fzh",
        }),
        enc(&Request::Mkdir {
            dfid: 0,
            name: b"fzd",
            mode: 0o755,
            gid: NONUNAME,
        }),
        enc(&Request::Renameat {
            olddirfid: 0,
            oldname: b"fz2",
            newdirfid: 0,
            newname: b"fz",
        }),
        enc(&Request::Unlinkat {
            dirfid: 0,
            name: b"fzd",
            flags: AT_REMOVEDIR,
        }),
        enc(&Request::Unlinkat {
            dirfid: 0,
            name: b"fzh",
            flags: 0,
        }),
        enc(&Request::Statfs { fid: 0 }),
        enc(&Request::Read {
            fid: 1,
            offset: 0,
            count: 8192,
        }),
        enc(&Request::Read {
            fid: 5,
            offset: 0,
            count: 256,
        }),
        enc(&Request::Write {
            fid: 6,
            offset: 1,
            data: b"fuzz",
        }),
        enc(&Request::Clunk { fid: 1 }),
        enc(&Request::Clunk { fid: 4 }),
        enc(&Request::Clunk { fid: 6 }),
        enc(&Request::Clunk { fid: 8 }),
        enc(&Request::Remove { fid: 7 }),
    ]
}

/// Where the first string of a request starts, for the types that have one.
fn first_string(ty: u8) -> Option<usize> {
    Some(match ty {
        msg::TVERSION | msg::TAUTH | msg::TLCREATE | msg::TSYMLINK | msg::TMKNOD => 11,
        msg::TXATTRCREATE | msg::TMKDIR | msg::TRENAMEAT | msg::TUNLINKAT => 11,
        msg::TATTACH | msg::TRENAME | msg::TXATTRWALK | msg::TLINK => 15,
        msg::TWALK => 17,
        msg::TGETLOCK => 32,
        msg::TLOCK => 36,
        _ => return None,
    })
}

fn put_u16(m: &mut [u8], at: usize, v: u16) {
    if let Some(s) = m.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

fn put_u32(m: &mut [u8], at: usize, v: u32) {
    if let Some(s) = m.get_mut(at..at + 4) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

fn put_u64(m: &mut [u8], at: usize, v: u64) {
    if let Some(s) = m.get_mut(at..at + 8) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// Sets the size field to the length.
fn fix_size(m: &mut [u8]) {
    let n = u32::try_from(m.len()).unwrap_or(u32::MAX);
    put_u32(m, 0, n);
}

/// The mutations, with their weights.
const MUTATIONS: &[(&str, u64)] = &[
    ("flip", 16),
    ("truncate", 8),
    ("extend", 8),
    ("size-smaller", 4),
    ("size-larger", 6),
    ("size-random", 2),
    ("type", 8),
    ("tag", 4),
    ("fid", 8),
    ("walk-count", 6),
    ("string-length", 10),
    ("huge-count", 10),
    ("int", 10),
];

/// Applies one mutation (named in the result) to the message `m`.
fn mutate_once(rng: &mut Rng, m: &mut Vec<u8>, msize: u32) -> &'static str {
    let total: u64 = MUTATIONS.iter().map(|&(_, w)| w).sum();
    let mut r = rng.below(total);
    let mut name = MUTATIONS[0].0;
    for &(n, w) in MUTATIONS {
        if r < w {
            name = n;
            break;
        }
        r -= w;
    }
    let len = m.len();
    let ty = m.get(4).copied().unwrap_or(0);
    // A random value for the lists of candidates below.
    let x = rng.next_u64();
    match name {
        "flip" => {
            for _ in 0..rng.range(1, 8) {
                // The size field rarely: most flips should reach the decoder.
                let lo = if rng.chance(6) { 0 } else { 4.min(len) };
                if len > lo {
                    let i = lo + rng.index(len - lo);
                    m[i] ^= 1 << rng.below(8);
                    if rng.chance(30) {
                        m[i] = rng.byte();
                    }
                }
            }
        }
        "truncate" => {
            if len > 4 {
                m.truncate(rng.range(4, len as u64 - 1) as usize);
                if rng.chance(70) {
                    fix_size(m);
                }
            }
        }
        "extend" => {
            let n = if rng.chance(10) {
                rng.range(1, 4096)
            } else {
                rng.range(1, 64)
            };
            rng.extend(m, n as usize);
            if rng.chance(70) {
                fix_size(m);
            }
        }
        "size-smaller" => {
            let s = rng.below(len as u64) as u32;
            put_u32(m, 0, s);
        }
        "size-larger" => {
            let max = msize.min(MAX_FRAME);
            let lo = (len as u32 + 1).min(max);
            let s = if rng.chance(20) {
                max
            } else {
                rng.range(u64::from(lo), u64::from(lo.saturating_add(256).min(max))) as u32
            };
            put_u32(m, 0, s);
        }
        "size-random" => {
            let s = rng.pick(&[
                0,
                1,
                6,
                u32::MAX,
                0x8000_0000,
                msize + 1,
                msize.saturating_mul(2),
            ]);
            let s = if rng.chance(50) {
                s
            } else {
                rng.next_u64() as u32
            };
            put_u32(m, 0, s);
        }
        "type" => {
            let t = if rng.chance(50) {
                rng.byte()
            } else {
                rng.pick(&[
                    msg::TVERSION,
                    msg::TWALK,
                    msg::TREAD,
                    msg::TWRITE,
                    msg::TLOCK,
                    msg::TXATTRCREATE,
                    msg::TREADDIR,
                    msg::TLERROR,
                    msg::RLERROR,
                    msg::RREAD,
                    102, // Tauth
                    106, // Terror (9P2000)
                    112, // Topen (9P2000)
                    124, // Tstat (9P2000)
                    126, // Twstat (9P2000)
                ])
            };
            if len > 4 {
                m[4] = t;
            }
        }
        "tag" => {
            let t = rng.pick(&[NOTAG, 0, 5, x as u16]);
            put_u16(m, 5, t);
        }
        "fid" => {
            let f = if rng.chance(70) {
                rng.below(9) as u32
            } else {
                rng.pick(&[NOFID, 0xdead, 0x8000_0000, x as u32])
            };
            let at = rng.pick(&[7, 11, 7 + (x as usize) % len.saturating_sub(7).max(1)]);
            put_u32(m, at, f);
        }
        "walk-count" if ty == msg::TWALK => {
            let n = rng.pick(&[17, 16, 0, 0xffff, 0x8000, x as u16]);
            put_u16(m, 15, n);
        }
        "string-length" => {
            let at = match first_string(ty) {
                Some(a) if a + 2 <= len && rng.chance(70) => a,
                _ if len > 9 => 7 + rng.index(len - 8),
                _ => return mutate_int(rng, m),
            };
            let past = (len - at - 2) as u16;
            let v = rng.pick(&[
                0xffff,
                0x8000,
                past.wrapping_add(1),
                past.wrapping_add(100),
                0,
                x as u16,
            ]);
            put_u16(m, at, v);
        }
        "huge-count" => match ty {
            msg::TREAD | msg::TREADDIR | msg::TWRITE => {
                let c = rng.pick(&[
                    u32::MAX,
                    0x8000_0000,
                    msize,
                    msize - 10,
                    msize - 11,
                    msize - 12,
                    MAX_FRAME + 1,
                    0,
                    x as u32,
                ]);
                put_u32(m, 19, c);
                if rng.chance(30) {
                    put_u64(
                        m,
                        11,
                        rng.pick(&[u64::MAX, i64::MAX as u64, 1 << 63, 1 << 40]),
                    );
                }
            }
            msg::TXATTRCREATE if len >= 19 => {
                let s = rng.pick(&[u64::MAX, 1 << 32, 1 << 20, 65536, 65537, 0, x]);
                put_u64(m, len - 12, s);
            }
            msg::TVERSION => {
                let s = rng.pick(&[0, 7, 4095, 4096, 4097, u32::MAX, x as u32]);
                put_u32(m, 7, s);
            }
            msg::TLOCK | msg::TGETLOCK => {
                let at = rng.pick(&[16usize, 24]) - if ty == msg::TGETLOCK { 4 } else { 0 };
                put_u64(m, at, rng.pick(&[u64::MAX, i64::MAX as u64, 1 << 63, x]));
                if rng.chance(30) && len > 12 {
                    m[11] = rng.byte();
                }
            }
            _ => return mutate_int(rng, m),
        },
        _ => return mutate_int(rng, m),
    }
    name
}

/// Writes an interesting integer at a random place after the header.
fn mutate_int(rng: &mut Rng, m: &mut [u8]) -> &'static str {
    let len = m.len();
    if len <= HEADER_SIZE {
        return "int";
    }
    let at = HEADER_SIZE + rng.index(len - HEADER_SIZE);
    let x = rng.next_u64();
    let v = rng.pick(&[
        0u64,
        1,
        0x7f,
        0x80,
        0xff,
        0x7fff,
        0xffff,
        0x7fff_ffff,
        0xffff_ffff,
        u64::MAX,
        x,
    ]);
    let w = rng.pick(&[1usize, 2, 4, 8]);
    let b = v.to_le_bytes();
    let n = w.min(len - at);
    m[at..at + n].copy_from_slice(&b[..n]);
    "int"
}

/// Mutates `m` (one mutation, sometimes 2-3 stacked); the first one's name.
pub fn mutate(rng: &mut Rng, m: &mut Vec<u8>, msize: u32) -> &'static str {
    let name = mutate_once(rng, m, msize);
    if rng.chance(15) {
        for _ in 0..rng.range(1, 2) {
            mutate_once(rng, m, msize);
        }
    }
    name
}

/// Makes `m` complete on the wire. A size field in 7..=`msize`: `m` becomes
/// exactly that long (cut, or padded with garbage) and the result is true.
/// Any other size field: `m` (at least 4 bytes) is sent as it is and the
/// server must close the connection: false.
pub fn frame(rng: &mut Rng, m: &mut Vec<u8>, msize: u32) -> bool {
    if m.len() < 4 {
        let n = 4 - m.len();
        rng.extend(m, n);
    }
    let size = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
    if (size as usize) < HEADER_SIZE || size > msize {
        return false;
    }
    let size = size as usize;
    if m.len() > size {
        m.truncate(size);
    } else {
        let n = size - m.len();
        rng.extend(m, n);
    }
    true
}

#[derive(Default)]
struct Stats {
    /// Messages of the fuzz loop (a resync counts as one).
    sent: u64,
    /// Tversion + Tattach to set sessions up again (reconnections aside).
    resync: u64,
    conns: u64,
    replies: u64,
    lerrors: u64,
    closes: u64,
    bad_size: u64,
    /// Bad sizes answered by a reply rather than a close.
    bad_size_answered: u64,
    /// Bad sizes after which the connection stayed open for 2 s.
    bad_size_open: u64,
    hangs: u64,
    bad_replies: u64,
    refused: u64,
    connect_failures: u64,
}

struct Fuzzer {
    addr: SocketAddr,
    rng: Rng,
    stats: Stats,
    c: Option<Client>,
    /// The last message sent (and what it was), for when the server dies.
    last: (Vec<u8>, &'static str),
}

fn hex(m: &[u8]) -> String {
    hex_n(m, 48)
}

/// The first `max` bytes of `m` in hex.
fn hex_n(m: &[u8], max: usize) -> String {
    let n = m.len().min(max);
    let mut s: String = m[..n].iter().map(|b| format!("{b:02x}")).collect();
    if m.len() > n {
        s.push_str(&format!("... ({} bytes)", m.len()));
    }
    s
}

impl Fuzzer {
    /// The session, connecting (version, attach) if there is none: 20 tries
    /// over about 14 s.
    fn session(&mut self) -> Result<&mut Client, String> {
        if self.c.is_none() {
            let mut last = String::new();
            // 20 tries: 20 ms apart at first, backing off to 1 s (14 s in
            // all).
            for attempt in 0..20u32 {
                if attempt > 0 {
                    let ms = (10u64 << attempt.min(7)).min(1000);
                    std::thread::sleep(Duration::from_millis(ms));
                }
                let mut c = match Client::connect(self.addr, REPLY_TIMEOUT) {
                    Ok(c) => c,
                    Err(e) => {
                        last = format!("connect: {e}");
                        continue;
                    }
                };
                match c.version().and_then(|_| c.attach(0)) {
                    Ok(_) => {
                        self.stats.conns += 1;
                        self.c = Some(c);
                        break;
                    }
                    Err(e) => {
                        self.note_error(&e, "session setup (Tversion/Tattach)", &[]);
                        last = format!("session setup: {e}");
                    }
                }
            }
            if self.c.is_none() {
                self.stats.connect_failures += 1;
                return Err(last);
            }
        }
        self.c.as_mut().ok_or_else(String::new)
    }

    /// Counts a failed exchange; the connection is dropped.
    fn note_error(&mut self, e: &Error, what: &str, m: &[u8]) {
        match e {
            Error::Timeout => {
                self.stats.hangs += 1;
                eprintln!("fuzz: hang: no reply within 2 s to {what} {}", hex(m));
            }
            Error::BadReply(s) => {
                self.stats.bad_replies += 1;
                eprintln!("fuzz: bad reply ({s}) to {what} {}", hex(m));
            }
            // Only requests that must succeed (Tversion, Tattach) get here
            // with a valid reply.
            Error::Lerror(_) | Error::Unexpected(_) => {
                self.stats.refused += 1;
                eprintln!("fuzz: {what}: {e}");
            }
            Error::Closed | Error::Io(_) => self.stats.closes += 1,
        }
        self.c = None;
    }

    /// Valid Tversion + Tattach on the current session.
    fn resync(&mut self) -> Result<(), String> {
        let c = self.session()?;
        let r = c.version().and_then(|_| c.attach(0));
        self.stats.resync += 2;
        if let Err(e) = r {
            self.note_error(&e, "resync Tversion/Tattach", &[]);
        }
        Ok(())
    }

    /// Sends one message; false if the server cannot be reached.
    fn one(&mut self, corpus: &[Vec<u8>]) -> Result<(), String> {
        let roll = self.rng.below(100);
        if roll == 0 {
            self.stats.sent += 1;
            return self.resync();
        }
        let c = self.session()?;
        let msize = c.msize;
        let tag = c.next_tag();
        let mut m = corpus[self.rng.index(corpus.len())].clone();
        put_u16(&mut m, 5, tag);
        let what = if roll <= 30 {
            "valid"
        } else {
            mutate(&mut self.rng, &mut m, msize)
        };
        let framed = frame(&mut self.rng, &mut m, msize);
        self.last = (m.clone(), what);
        let c = self.c.as_mut().ok_or_else(String::new)?;
        self.stats.sent += 1;
        if let Err(e) = c.send_raw(&m) {
            // The server closed the connection earlier without our noticing.
            self.note_error(&e, what, &m);
            return Ok(());
        }
        if !framed {
            // The server must close the connection; whatever it does, this
            // connection is out of step now.
            self.stats.bad_size += 1;
            match c.recv_frame() {
                Err(Error::Closed) => self.stats.closes += 1,
                Err(Error::BadReply(s)) => {
                    self.stats.bad_replies += 1;
                    eprintln!("fuzz: bad reply ({s}) to bad-size message {}", hex(&m));
                }
                Err(Error::Timeout) => {
                    self.stats.bad_size_open += 1;
                    if self.stats.bad_size_open <= 3 {
                        eprintln!(
                            "fuzz: note: bad size left open 2 s (not a failure): {}",
                            hex(&m)
                        );
                    }
                }
                Ok(f) => {
                    self.stats.bad_size_answered += 1;
                    if self.stats.bad_size_answered <= 3 {
                        eprintln!(
                            "fuzz: note: bad size answered {} (not a failure): {}",
                            hex(&f),
                            hex(&m)
                        );
                    }
                }
                Err(_) => self.stats.closes += 1,
            }
            self.c = None;
            return Ok(());
        }
        let (ty, mtag) = (m[4], u16::from_le_bytes([m[5], m[6]]));
        match c.recv_frame() {
            Ok(f) => {
                if let Err(s) = check_reply(&f, ty, mtag) {
                    self.stats.bad_replies += 1;
                    eprintln!(
                        "fuzz: bad reply ({s}): {} to {what} message {}",
                        hex(&f),
                        hex(&m)
                    );
                    self.c = None;
                    return Ok(());
                }
                self.stats.replies += 1;
                if f[4] == msg::RLERROR {
                    self.stats.lerrors += 1;
                }
                if ty == msg::TVERSION {
                    // Whatever it negotiated: back to a known session.
                    return self.resync();
                }
            }
            Err(e) => self.note_error(&e, what, &m),
        }
        Ok(())
    }
}

/// Sends `n` messages; the exit status.
pub fn run(addr: SocketAddr, n: u64, seed: u64) -> i32 {
    let corpus = corpus();
    let mut f = Fuzzer {
        addr,
        rng: Rng::new(seed),
        stats: Stats::default(),
        c: None,
        last: (Vec::new(), ""),
    };
    let start = Instant::now();
    let mut unreachable = None;
    for i in 0..n {
        if i > 0 && i % 10000 == 0 {
            let s = &f.stats;
            eprintln!(
                "fuzz: {i}/{n} messages, {} connections, {} closes, {} hangs, {} bad replies, {:.1} s",
                s.conns,
                s.closes,
                s.hangs,
                s.bad_replies,
                start.elapsed().as_secs_f64()
            );
        }
        if let Err(e) = f.one(&corpus) {
            unreachable = Some(format!("after {i} messages: cannot reach the server: {e}"));
            break;
        }
    }
    let s = &f.stats;
    let failures = s.hangs + s.bad_replies + s.refused + s.connect_failures;
    if let Some(e) = &unreachable {
        eprintln!("fuzz: {e}");
        eprintln!(
            "fuzz: the last message sent ({}): {}",
            f.last.1,
            hex_n(&f.last.0, 512)
        );
    }
    if s.hangs > 0 {
        eprintln!(
            "fuzz: {} hangs (no reply within 2 s to a well-framed message)",
            s.hangs
        );
    }
    if s.bad_replies > 0 {
        eprintln!("fuzz: {} bad replies", s.bad_replies);
    }
    if s.refused > 0 {
        eprintln!(
            "fuzz: {} valid Tversion/Tattach refused or answered wrongly",
            s.refused
        );
    }
    println!(
        "fuzz: {} messages sent over {} connections, {} server failures \
         ({} replies, {} Rlerror, {} closes by the server, {} Tversion/Tattach to resync, {} bad sizes ({} answered, {} left open), \
         {} hangs, {} bad replies; seed {seed}, {:.1} s)",
        s.sent,
        s.conns,
        failures,
        s.replies,
        s.lerrors,
        s.closes,
        s.resync,
        s.bad_size,
        s.bad_size_answered,
        s.bad_size_open,
        s.hangs,
        s.bad_replies,
        start.elapsed().as_secs_f64()
    );
    i32::from(failures > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::is_request_type;

    #[test]
    fn rng_is_deterministic_and_spread() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let mut c = Rng::new(8);
        let va: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let vb: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        let vc: Vec<u64> = (0..100).map(|_| c.next_u64()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
        let mut z = Rng::new(0);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let x = z.below(10) as usize;
            seen[x] = true;
            assert!(z.range(3, 5) >= 3);
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(z.below(0), 0);
        assert_eq!(z.range(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn corpus_is_valid_and_covers_every_request() {
        let corpus = corpus();
        let mut types = std::collections::BTreeSet::new();
        for m in &corpus {
            let (_, req) = proto::decode_request(m).expect("corpus message decodes");
            types.insert(req.type_code());
        }
        let all: Vec<u8> = (0..=255u8).filter(|&t| is_request_type(t)).collect();
        assert_eq!(all.len(), 28);
        for t in all {
            assert!(types.contains(&t), "no request of type {t} in the corpus");
        }
    }

    #[test]
    fn mutator_and_framing_never_panic() {
        let corpus = corpus();
        for seed in 0..4 {
            let mut rng = Rng::new(seed);
            for i in 0..50_000 {
                let msize = if i % 3 == 0 { 4096 } else { 65536 };
                let mut m = corpus[rng.index(corpus.len())].clone();
                mutate(&mut rng, &mut m, msize);
                let framed = frame(&mut rng, &mut m, msize);
                assert!(m.len() >= 4);
                let size = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
                if framed {
                    assert_eq!(m.len(), size as usize);
                    assert!((HEADER_SIZE as u32..=msize).contains(&size));
                    // Whatever the server makes of it, the codec copes.
                    let _ = proto::decode_request(&m);
                } else {
                    assert!(size < HEADER_SIZE as u32 || size > msize);
                }
            }
        }
    }

    #[test]
    fn every_mutation_is_reached() {
        let corpus = corpus();
        let mut rng = Rng::new(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..10_000 {
            let mut m = corpus[rng.index(corpus.len())].clone();
            seen.insert(mutate(&mut rng, &mut m, 65536));
        }
        for (name, _) in MUTATIONS {
            // "walk-count" and friends fall back to "int" on other types.
            assert!(seen.contains(name) || *name == "int", "{name} never chosen");
        }
    }
}
