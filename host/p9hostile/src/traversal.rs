// SPDX-License-Identifier: GPL-2.0

//! `traversal`: the export confinement checks.
//!
//! The export (see main.rs) holds `dir/`, `dir/up -> ../..`, `abs -> /`,
//! `abs2 -> /secret`, `rel -> ../../secret`, `mnt/` (another file system,
//! holding `inner`), `null` (char device 1,3), `fifo` and `file`
//! ("inside"); `/secret` is outside it.
//!
//! Each check is one line on stdout ("ok ...") or stderr ("FAIL ...").
//! Where a request must fail, the server closing the connection is accepted
//! too (reported as "closed"; the next check reconnects).

use crate::client::{errno_name, Client, Error, NONUNAME, O_RDONLY};
use p9::proto::{open_flags, qid_type, Qid, Request};
use std::net::SocketAddr;
use std::time::Duration;

/// Per-reply timeout: a hang is a failure.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A fid no check ever makes.
const UNKNOWN_FID: u32 = 0x00de_ad00;

/// Why a check did not pass.
enum Bad {
    /// The server closed the connection at a request that must fail: the
    /// check passes, reported "closed".
    Closed(String),
    /// The check failed.
    Fail(String),
}

type Check = Result<String, Bad>;

/// A connection attached to the export root as fid 0.
struct Session {
    c: Client,
    root: Qid,
    next_fid: u32,
}

impl Session {
    fn open(addr: SocketAddr) -> Result<Self, String> {
        let mut c = Client::connect(addr, TIMEOUT).map_err(|e| format!("connect {addr}: {e}"))?;
        c.version().map_err(|e| format!("Tversion: {e}"))?;
        let root = c.attach(0).map_err(|e| format!("Tattach: {e}"))?;
        Ok(Session {
            c,
            root,
            next_fid: 1,
        })
    }

    fn fid(&mut self) -> u32 {
        self.next_fid += 1;
        self.next_fid
    }

    /// A request that must succeed (setup of a check).
    fn must<T>(&mut self, step: &str, r: Result<T, Error>) -> Result<T, Bad> {
        r.map_err(|e| Bad::Fail(format!("{step}: {e}")))
    }

    /// Walks `names` from `fid` to a new fid; the whole walk must succeed.
    fn must_walk(&mut self, fid: u32, names: &[&[u8]]) -> Result<(u32, Vec<Qid>), Bad> {
        let nf = self.fid();
        let step = format!("walk {}", show(names));
        let q = self.c.walk(fid, nf, names);
        let q = self.must(&step, q)?;
        if q.len() != names.len() {
            return Err(Bad::Fail(format!(
                "{step}: only {} of {} names walked",
                q.len(),
                names.len()
            )));
        }
        Ok((nf, q))
    }

    /// A request result that must be a failure: Rlerror, or the connection
    /// closed.
    fn refused<T>(&mut self, step: &str, r: Result<T, Error>) -> Check {
        match r {
            Err(Error::Lerror(e)) => Ok(format!("{step}: Rlerror {}", errno_name(e))),
            Err(Error::Closed) => Err(Bad::Closed(step.to_string())),
            Err(e) => Err(Bad::Fail(format!("{step}: {e}"))),
            Ok(_) => Err(Bad::Fail(format!("{step}: succeeded, must fail"))),
        }
    }

    /// A walk that must not reach its end: Rlerror, a partial Rwalk, or the
    /// connection closed.
    fn walk_refused(&mut self, fid: u32, names: &[&[u8]]) -> Check {
        let nf = self.fid();
        let step = format!("walk {}", show(names));
        match self.c.walk(fid, nf, names) {
            Ok(q) if q.len() < names.len() => Ok(format!(
                "{step}: partial Rwalk ({} of {})",
                q.len(),
                names.len()
            )),
            Ok(q) => {
                let _ = self.c.clunk(nf);
                Err(Bad::Fail(format!(
                    "{step}: walked all {} names (last qid type {:#04x}), must fail",
                    q.len(),
                    q.last().map_or(0, |q| q.ty)
                )))
            }
            r => self.refused(&step, r),
        }
    }
}

/// `["a", "b"]`, with unprintable bytes escaped.
fn show(names: &[&[u8]]) -> String {
    let v: Vec<String> = names
        .iter()
        .map(|n| format!("{:?}", String::from_utf8_lossy(n)).replace('\u{0}', "\\0"))
        .collect();
    format!("[{}]", v.join(","))
}

struct Runner {
    addr: SocketAddr,
    s: Option<Session>,
    passed: usize,
    failed: usize,
    /// No session could be started: the remaining checks are skipped.
    dead: bool,
    skipped: usize,
}

impl Runner {
    /// Runs one check on the current session (connecting first if needed).
    fn check(&mut self, id: &str, f: impl FnOnce(&mut Session) -> Check) {
        if self.dead {
            self.skipped += 1;
            return;
        }
        if self.s.is_none() {
            match Session::open(self.addr) {
                Ok(s) => self.s = Some(s),
                Err(e) => {
                    // The server is gone or refuses sessions: no use going
                    // on.
                    self.failed += 1;
                    self.dead = true;
                    eprintln!("FAIL {id}: cannot start a session: {e}");
                    return;
                }
            }
        }
        let Some(s) = self.s.as_mut() else { return };
        match f(s) {
            Ok(note) => {
                self.passed += 1;
                println!("ok   {id}: {note}");
            }
            Err(Bad::Closed(step)) => {
                self.passed += 1;
                println!("ok   {id}: {step}: closed");
                self.s = None;
            }
            Err(Bad::Fail(m)) => {
                self.failed += 1;
                eprintln!("FAIL {id}: {m}");
                // The session may be out of step (a hang, a close): start
                // afresh.
                self.s = None;
            }
        }
    }
}

/// Checks a symlink `name` (qid type SYMLINK, not walked through, not
/// opened); `target`: what readlink must give, if checked.
fn symlink_checks(r: &mut Runner, id: &str, name: &'static [u8], target: Option<&'static [u8]>) {
    r.check(&format!("{id} walk {}", show(&[name])), |s| {
        let (_, q) = s.must_walk(0, &[name])?;
        if q[0].ty & qid_type::SYMLINK == 0 {
            return Err(Bad::Fail(format!("qid type {:#04x}, not SYMLINK", q[0].ty)));
        }
        Ok("qid type SYMLINK".into())
    });
    r.check(&format!("{id} walk through {}", show(&[name])), |s| {
        let (f, _) = s.must_walk(0, &[name])?;
        s.walk_refused(f, &[b"secret"])
    });
    r.check(&format!("{id} walk {}", show(&[name, b"secret"])), |s| {
        s.walk_refused(0, &[name, b"secret"])
    });
    r.check(&format!("{id} Tlopen {}", show(&[name])), |s| {
        let (f, _) = s.must_walk(0, &[name])?;
        let o = s.c.lopen(f, O_RDONLY);
        s.refused("Tlopen O_RDONLY", o)
    });
    if let Some(t) = target {
        r.check(&format!("{id} Treadlink {}", show(&[name])), |s| {
            let (f, _) = s.must_walk(0, &[name])?;
            let got = s.c.readlink(f);
            match got {
                // Only the link's text: allowed.
                Ok(got) if got == t => Ok(format!(
                    "Treadlink gives {:?} (text only)",
                    String::from_utf8_lossy(&got)
                )),
                Ok(got) => Err(Bad::Fail(format!(
                    "Treadlink gives {:?}",
                    String::from_utf8_lossy(&got)
                ))),
                Err(Error::Lerror(e)) => Ok(format!("Treadlink refused: {}", errno_name(e))),
                Err(e) => Err(Bad::Fail(format!("Treadlink: {e}"))),
            }
        });
    }
}

/// Runs all checks; the exit status.
pub fn run(addr: SocketAddr) -> i32 {
    let mut r = Runner {
        addr,
        s: None,
        passed: 0,
        failed: 0,
        dead: false,
        skipped: 0,
    };

    // 1. ".." out of the root.
    r.check("1 walk [..,..,secret]", |s| {
        s.walk_refused(0, &[b"..", b"..", b"secret"])
    });
    r.check("1 walk [..,..] is the root", |s| {
        let (_, q) = s.must_walk(0, &[b"..", b".."])?;
        if q.iter().any(|q| *q != s.root) {
            return Err(Bad::Fail(format!(
                "walk [..,..] gives {:?}, the root is {:?}",
                q, s.root
            )));
        }
        Ok("\"..\" of the root is the root".into())
    });

    // 2. Up from a subdirectory.
    r.check("2 walk [dir,..,..,..] then [secret]", |s| {
        let nf = s.fid();
        match s.c.walk(0, nf, &[b"dir", b"..", b"..", b".."]) {
            Ok(q) if q.len() == 4 => {
                if q[3] != s.root {
                    return Err(Bad::Fail(format!(
                        "walk [dir,..,..,..] ends at {:?}, not the root {:?}",
                        q[3], s.root
                    )));
                }
                s.walk_refused(nf, &[b"secret"])
                    .map(|m| format!("at the root; {m}"))
            }
            Ok(q) => Ok(format!(
                "walk [dir,..,..,..] stopped after {} names",
                q.len()
            )),
            Err(Error::Lerror(e)) => Ok(format!("walk [dir,..,..,..] refused: {}", errno_name(e))),
            Err(e) => Err(Bad::Fail(format!("walk [dir,..,..,..]: {e}"))),
        }
    });

    // 3, 4. Symlinks are never followed.
    symlink_checks(&mut r, "3", b"abs", Some(b"/"));
    symlink_checks(&mut r, "4", b"abs2", Some(b"/secret"));
    symlink_checks(&mut r, "4", b"rel", Some(b"../../secret"));
    r.check("4 walk [dir,up,secret]", |s| {
        s.walk_refused(0, &[b"dir", b"up", b"secret"])
    });
    r.check("4 Tlopen [dir,up]", |s| {
        let nf = s.fid();
        match s.c.walk(0, nf, &[b"dir", b"up"]) {
            Ok(q) if q.len() == 2 => {
                let o = s.c.lopen(nf, open_flags::RDONLY | open_flags::DIRECTORY);
                s.refused("Tlopen O_DIRECTORY", o)
            }
            r => {
                let r = r.map(|_| ());
                s.refused("walk [dir,up]", r)
            }
        }
    });

    // 5. Mount points.
    r.check("5 mount point mnt", |s| {
        let nf = s.fid();
        match s.c.walk(0, nf, &[b"mnt"]) {
            Ok(q) if q.len() == 1 => {
                let m = s.walk_refused(0, &[b"mnt", b"inner"])?;
                Ok(format!("walk [mnt] allowed, [mnt,inner] refused ({m})"))
            }
            r => {
                let r = r.map(|_| ());
                let m = s.refused("walk [mnt]", r)?;
                Ok(format!("crossing refused: {m}"))
            }
        }
    });

    // 6. Special files are never opened.
    for name in [&b"null"[..], b"fifo"] {
        for (fl, fname) in [(O_RDONLY, "O_RDONLY"), (open_flags::RDWR, "O_RDWR")] {
            r.check(&format!("6 Tlopen {} {fname}", show(&[name])), |s| {
                let nf = s.fid();
                match s.c.walk(0, nf, &[name]) {
                    Ok(q) if q.len() == 1 => {
                        let o = s.c.lopen(nf, fl);
                        s.refused(&format!("Tlopen {fname}"), o)
                    }
                    r => {
                        let r = r.map(|_| ());
                        s.refused("walk", r)
                            .map(|m| format!("{m} (not even walked)"))
                    }
                }
            });
        }
    }

    // 7. Names that are not names.
    let bad_names: [&[u8]; 7] = [
        b"dir/../../secret",
        b"/secret",
        b"dir/",
        b"",
        b"fi\0le",
        b"file\0",
        b"\0",
    ];
    for n in bad_names {
        r.check(&format!("7 walk {}", show(&[n])), |s| {
            s.walk_refused(0, &[n])
        });
    }
    r.check("7 walk [dir,\"\"]", |s| s.walk_refused(0, &[b"dir", b""]));

    // 8. The server works.
    r.check("8 read file", |s| {
        let (f, _) = s.must_walk(0, &[b"file"])?;
        let o = s.c.lopen(f, O_RDONLY);
        s.must("Tlopen", o)?;
        let d = s.c.read(f, 0, 4096);
        let d = s.must("Tread", d)?;
        if d.strip_suffix(b"\n").unwrap_or(&d) != b"inside" {
            return Err(Bad::Fail(format!(
                "file holds {:?}, not \"inside\"",
                String::from_utf8_lossy(&d)
            )));
        }
        Ok("Tread gives \"inside\"".into())
    });

    // 9. Creating requests with names that leave the directory.
    for n in [&b"../escape"[..], b"a/b", b"..", b"."] {
        r.check(&format!("9 Tlcreate {}", show(&[n])), |s| {
            let (f, _) = s.must_walk(0, &[])?;
            let c = s.c.call(&Request::Lcreate {
                fid: f,
                name: n,
                flags: open_flags::RDWR | open_flags::CREATE,
                mode: 0o644,
                gid: NONUNAME,
            });
            s.refused("Tlcreate", c)
        });
    }
    for n in [&b"a/b"[..], b"..", b"../escapedir"] {
        r.check(&format!("9 Tmkdir {}", show(&[n])), |s| {
            let c = s.c.call(&Request::Mkdir {
                dfid: 0,
                name: n,
                mode: 0o755,
                gid: NONUNAME,
            });
            s.refused("Tmkdir", c)
        });
    }
    r.check("9 Tmknod [\"../node\"]", |s| {
        let c = s.c.call(&Request::Mknod {
            dfid: 0,
            name: b"../node",
            mode: 0o100644,
            major: 0,
            minor: 0,
            gid: NONUNAME,
        });
        s.refused("Tmknod", c)
    });
    r.check("9 Tsymlink x -> /etc/passwd", |s| {
        let c = s.c.call(&Request::Symlink {
            fid: 0,
            name: b"x",
            target: b"/etc/passwd",
            gid: NONUNAME,
        });
        let made = match c {
            Ok(_) => "created".to_string(),
            Err(Error::Lerror(e)) => format!("refused ({})", errno_name(e)),
            Err(e) => return Err(Bad::Fail(format!("Tsymlink: {e}"))),
        };
        let through = |s: &mut Session| -> Check {
            let m1 = s.walk_refused(0, &[b"x", b"passwd"])?;
            let nf = s.fid();
            let m2 = match s.c.walk(0, nf, &[b"x"]) {
                Ok(q) if q.len() == 1 => {
                    let o = s.c.lopen(nf, O_RDONLY);
                    s.refused("Tlopen [x]", o)?
                }
                r => {
                    let r = r.map(|_| ());
                    s.refused("walk [x]", r)?
                }
            };
            Ok(format!("{m1}; {m2}"))
        };
        let r = through(s);
        // Leave the export as it was, whatever happened.
        if !matches!(r, Err(Bad::Closed(_))) {
            let u = s.c.call(&Request::Unlinkat {
                dirfid: 0,
                name: b"x",
                flags: 0,
            });
            let nf = s.fid();
            if u.is_err() && s.c.walk(0, nf, &[b"x"]).is_ok_and(|q| q.len() == 1) {
                let _ = s.c.call(&Request::Remove { fid: nf });
            }
        }
        r.map(|m| format!("Tsymlink {made}; {m}"))
    });
    r.check("9 Trenameat file -> ../moved", |s| {
        let c = s.c.call(&Request::Renameat {
            olddirfid: 0,
            oldname: b"file",
            newdirfid: 0,
            newname: b"../moved",
        });
        s.refused("Trenameat", c)
    });
    r.check("9 Trename [file] -> ../moved", |s| {
        let (f, _) = s.must_walk(0, &[b"file"])?;
        let c = s.c.call(&Request::Rename {
            fid: f,
            dfid: 0,
            name: b"../moved",
        });
        s.refused("Trename", c)
    });
    for n in [&b".."[..], b"../linked", b"."] {
        r.check(&format!("9 Tlink {}", show(&[n])), |s| {
            let (f, _) = s.must_walk(0, &[b"file"])?;
            let c = s.c.call(&Request::Link {
                dfid: 0,
                fid: f,
                name: n,
            });
            s.refused("Tlink", c)
        });
    }
    r.check("9 Tunlinkat [\"../secret\"]", |s| {
        let c = s.c.call(&Request::Unlinkat {
            dirfid: 0,
            name: b"../secret",
            flags: 0,
        });
        s.refused("Tunlinkat", c)
    });

    // 10. Too many names.
    r.check("10 walk of 17 names", |s| {
        let names: Vec<&[u8]> = vec![b"."; 17];
        let nf = s.fid();
        let w = s.c.walk(0, nf, &names);
        s.refused("Twalk of 17 names", w)
    });

    // 11. Fids that are in use, or unknown.
    r.check("11 Tattach fid 0 again", |s| {
        let a = s.c.attach(0);
        s.refused("Tattach fid 0", a)
    });
    r.check("11 Tclunk unknown fid", |s| {
        let c = s.c.clunk(UNKNOWN_FID);
        s.refused("Tclunk", c)
    });
    r.check("11 Twalk from unknown fid", |s| {
        let nf = s.fid();
        let w = s.c.walk(UNKNOWN_FID, nf, &[]);
        s.refused("Twalk", w)
    });
    r.check("11 Tlopen unknown fid", |s| {
        let o = s.c.lopen(UNKNOWN_FID, O_RDONLY);
        s.refused("Tlopen", o)
    });

    // 12. The server still serves a new connection.
    r.s = None;
    r.check("12 new connection", |s| {
        let (f, _) = s.must_walk(0, &[b"file"])?;
        let a = s.c.getattr(f);
        let a = s.must("Tgetattr", a)?;
        Ok(format!(
            "version/attach/walk/getattr work (file size {})",
            a.size
        ))
    });

    if r.skipped > 0 {
        eprintln!("FAIL {} checks not run: no session", r.skipped);
    }
    let failed = r.failed + r.skipped;
    let total = r.passed + failed;
    if failed == 0 {
        println!("traversal: {} checks passed", r.passed);
        0
    } else {
        println!("traversal: {failed} of {total} checks FAILED");
        1
    }
}
