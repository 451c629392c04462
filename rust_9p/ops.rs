// SPDX-License-Identifier: GPL-2.0

//! The 9P2000.L requests, each run with the credentials of the user whose
//! fid it uses.

use crate::{
    conn::Conn,
    fid::{Fid, FidState, OpenFile, XATTR_MAX},
    log_allowed,
    proto::{
        self, lock_status, open_flags as p9, qid_type, Attr, DecodeError, DirentWriter, LockArgs,
        Qid, Reply, Request, SetattrArgs, Statfs, AT_REMOVEDIR, MAX_WALK, NOFID,
        RREADDIR_DATA_OFFSET, RREAD_DATA_OFFSET, VERSION_9P2000L,
    },
    MSIZE_MIN,
};
use abstractions::{
    cred::UserCred,
    vfs::{oflags, FileType, Name, Path, PosixLock, SetAttr, Stat, Target},
};
use kernel::{prelude::*, sync::Arc};

/// Room for every reply but Rread, Rreaddir and Rreadlink's long targets.
const SMALL_REPLY: usize = 512;

/// The longest symlink target read back.
const TARGET_MAX: usize = 4096;

/// The uid 9P uses for "no numeric uid given".
const NONUNAME: u32 = u32::MAX;

/// Allocates a reply buffer of `len` bytes.
fn reply_buf(len: usize) -> Result<KVVec<u8>> {
    let mut buf = KVVec::with_capacity(len, GFP_KERNEL)?;
    buf.resize(len, 0, GFP_KERNEL)?;
    Ok(buf)
}

/// Encodes a fixed reply into a buffer of its own size.
fn encode(tag: u16, r: &Reply<'_>, room: usize) -> Result<KVVec<u8>> {
    let mut buf = reply_buf(room)?;
    let n = proto::encode_reply(&mut buf, tag, r).map_err(|_| EOVERFLOW)?;
    buf.truncate(n);
    Ok(buf)
}

/// Rlerror for `e`.
pub(crate) fn error_reply(tag: u16, e: Error) -> Result<KVVec<u8>> {
    let ecode = e.to_errno().unsigned_abs();
    encode(tag, &Reply::Lerror { ecode }, 16)
}

/// Handles Tversion: the reply, and the msize if a session starts.
pub(crate) fn version(buf: &[u8], msize_max: u32) -> (Result<KVVec<u8>>, Option<u32>) {
    // A malformed Tversion ends the connection: there is no session to
    // answer in.
    let (tag, msize, version) = match proto::decode_request(buf) {
        Ok((tag, Request::Version { msize, version })) => (tag, msize, version),
        _ => return (Err(EPROTO), None),
    };
    if msize < MSIZE_MIN {
        if log_allowed() {
            pr_warn!(
                "client asked for msize {}, under {}: refused\n",
                msize,
                MSIZE_MIN
            );
        }
        return (error_reply(tag, EINVAL), None);
    }
    let msize = msize.min(msize_max);
    if version != VERSION_9P2000L {
        let r = encode(
            tag,
            &Reply::Version {
                msize,
                version: b"unknown",
            },
            64,
        );
        return (r, None);
    }
    (
        encode(
            tag,
            &Reply::Version {
                msize,
                version: VERSION_9P2000L,
            },
            64,
        ),
        Some(msize),
    )
}

/// Decodes and runs one request (any but Tversion); the reply to send.
pub(crate) fn handle(conn: &Arc<Conn>, buf: &[u8]) -> Result<KVVec<u8>> {
    let tag = u16::from_le_bytes([buf[5], buf[6]]);
    let req = match proto::decode_request(buf) {
        Ok((_, req)) => req,
        Err(e) => {
            if log_allowed() {
                pr_warn!("malformed message (type {}): {:?}\n", buf[4], e);
            }
            let errno = match e {
                DecodeError::UnknownType(_) | DecodeError::NotARequest(_) => EOPNOTSUPP,
                DecodeError::TooManyWalkNames(_) => E2BIG,
                _ => EPROTO,
            };
            return error_reply(tag, errno);
        }
    };
    let r = run(conn, tag, &req);
    match r {
        Ok(reply) => Ok(reply),
        Err(e) => error_reply(tag, e),
    }
}

/// Changes refused on a read-only export.
fn writable(conn: &Conn) -> Result {
    if conn.server.readonly {
        Err(EROFS)
    } else {
        Ok(())
    }
}

fn qid_of(path: &Path) -> Result<Qid> {
    let st = path.getattr()?;
    Ok(qid_from_stat(&st))
}

fn qid_from_stat(st: &Stat) -> Qid {
    let ty = match FileType::from_mode(st.mode) {
        FileType::Directory => qid_type::DIR,
        FileType::Symlink => qid_type::SYMLINK,
        _ => qid_type::FILE,
    };
    // Version 0: the Linux client compares versions to tell inodes apart,
    // so a version that changes with the file would look like a new file.
    Qid {
        ty,
        version: 0,
        path: st.ino,
    }
}

/// The kernel's dev_t (major << 20 | minor) in the userspace encoding
/// 9P carries (new_encode_dev()).
fn encode_dev(rdev: u32) -> u64 {
    let (major, minor) = (rdev >> 20, rdev & 0xfffff);
    u64::from((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12))
}

/// 9P2000.L open flags to open(2) flags, with what a server must not honour
/// dropped (O_DIRECT would need aligned buffers, O_NOATIME ownership,
/// O_CREAT/O_EXCL belong to Tlcreate) and O_NOFOLLOW always added.
fn open_flags(f: u32) -> Result<u32> {
    let mut o = match f & p9::ACCMODE {
        p9::RDONLY => oflags::RDONLY,
        p9::WRONLY => oflags::WRONLY,
        p9::RDWR => oflags::RDWR,
        _ => return Err(EINVAL),
    };
    for (p, k) in [
        (p9::TRUNC, oflags::TRUNC),
        (p9::APPEND, oflags::APPEND),
        (p9::DSYNC, oflags::DSYNC),
        (p9::SYNC, oflags::SYNC),
        (p9::DIRECTORY, oflags::DIRECTORY),
    ] {
        if f & p != 0 {
            o |= k;
        }
    }
    Ok(o | oflags::NOFOLLOW | oflags::LARGEFILE)
}

fn wants_write(f: u32) -> bool {
    f & p9::ACCMODE != p9::RDONLY || f & p9::TRUNC != 0
}

/// Opens `path` for a fid: regular files and directories only, so that no
/// device, FIFO or socket is ever opened through the export.
fn open_path(path: &Path, flags: u32) -> Result<(abstractions::vfs::File, bool)> {
    let o = open_flags(flags)?;
    match path.file_type() {
        FileType::Regular => Ok((path.open(o)?, false)),
        FileType::Directory => {
            if o & (oflags::WRONLY | oflags::RDWR | oflags::TRUNC) != 0 {
                return Err(EISDIR);
            }
            Ok((
                path.open(oflags::RDONLY | oflags::DIRECTORY | oflags::LARGEFILE)?,
                true,
            ))
        }
        FileType::Symlink => Err(ELOOP),
        _ => Err(EPERM),
    }
}

/// Credentials for a request that creates a file owned by `gid`.
fn creator(fid: &Fid, gid: u32) -> Result<Arc<UserCred>> {
    if gid == fid.user.gid() || gid == NONUNAME {
        return Ok(fid.user.clone());
    }
    Ok(Arc::new(UserCred::new(fid.user.uid(), gid)?, GFP_KERNEL)?)
}

/// Adds the fid of a new file or extended attribute.
fn add_fid(conn: &Conn, fid: u32, f: Arc<Fid>) -> Result {
    conn.fids.lock().insert(fid, f)
}

fn run(conn: &Arc<Conn>, tag: u16, req: &Request<'_>) -> Result<KVVec<u8>> {
    let fids = |n: u32| conn.fids.lock().get(n);
    let root = &conn.server.root;
    let small = |r: &Reply<'_>| encode(tag, r, SMALL_REPLY);
    match *req {
        Request::Version { .. } => Err(EPROTO),
        Request::Auth { .. } => Err(EOPNOTSUPP),
        Request::Flush { oldtag } => {
            // The flushed request's reply goes first, then Rflush: waiting
            // is always correct, and no request here blocks for long. This
            // runs in the receive loop (see `Conn::receive`).
            if oldtag != tag {
                conn.wait_for(oldtag);
            }
            small(&Reply::Flush)
        }
        Request::Attach {
            fid,
            afid,
            uname,
            aname,
            n_uname,
        } => {
            if afid != NOFID {
                return Err(EOPNOTSUPP);
            }
            let uid = if n_uname != NONUNAME {
                n_uname
            } else {
                uid_of_name(uname)
            };
            // One export: the client may name it by its path or not at all.
            let export = crate::export.value().to_bytes();
            if !aname.is_empty() && aname != export && aname != b"/" {
                return Err(ENOENT);
            }
            let user = conn.user(uid)?;
            let qid = user.with(|| qid_of(root))?;
            add_fid(conn, fid, Fid::new(root.clone(), user, FidState::Walked)?)?;
            small(&Reply::Attach { qid })
        }
        Request::Walk { fid, newfid, names } => {
            let f = fids(fid)?;
            let mut qids = [Qid::default(); MAX_WALK];
            let mut cur = f.path.clone();
            let mut n = 0;
            let mut err = None;
            f.user.with(|| {
                for nm in names.iter() {
                    let next = if nm == b".." {
                        cur.parent_beneath(root)
                    } else if nm == b"." {
                        Ok(cur.clone())
                    } else {
                        Name::new(nm).and_then(|nm| cur.lookup(&nm))
                    };
                    // Beneath the root even if a directory on the way was
                    // moved out of the export meanwhile.
                    let next = next.and_then(|p| {
                        if p.is_beneath(root) {
                            Ok(p)
                        } else {
                            Err(ENOENT)
                        }
                    });
                    match next.and_then(|p| Ok((qid_of(&p)?, p))) {
                        Ok((q, p)) => {
                            qids[n] = q;
                            n += 1;
                            cur = p;
                        }
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
            });
            if let Some(e) = err {
                if n == 0 {
                    return Err(e);
                }
                // A partial walk: the qids so far, and no new fid.
                return small(&Reply::Walk { qids: &qids[..n] });
            }
            let nf = Fid::new(cur, f.user.clone(), FidState::Walked)?;
            if newfid == fid {
                conn.fids.lock().replace(fid, nf)?;
            } else {
                add_fid(conn, newfid, nf)?;
            }
            small(&Reply::Walk { qids: &qids[..n] })
        }
        Request::Lopen { fid, flags } => {
            let f = fids(fid)?;
            if wants_write(flags) {
                writable(conn)?;
            }
            let (qid, file, dir) = f.user.with(|| -> Result<_> {
                let (file, dir) = open_path(&f.path, flags)?;
                Ok((qid_of(&f.path)?, file, dir))
            })?;
            let mut st = f.state.lock();
            if !matches!(*st, FidState::Walked) {
                return Err(EBADF);
            }
            *st = FidState::Open(Arc::new(OpenFile::new(file, f.owner(), dir), GFP_KERNEL)?);
            drop(st);
            small(&Reply::Lopen { qid, iounit: 0 })
        }
        Request::Lcreate {
            fid,
            name: nm,
            flags,
            mode,
            gid,
        } => {
            writable(conn)?;
            let f = fids(fid)?;
            let nm = Name::new(nm)?;
            if !matches!(*f.state.lock(), FidState::Walked) {
                return Err(EBADF);
            }
            let user = creator(&f, gid)?;
            let excl = flags & p9::EXCL != 0;
            let (path, file, qid) = user.with(|| -> Result<_> {
                let path = f.path.create(&nm, mode & 0o7777, excl)?;
                let (file, _) = open_path(&path, flags & !(p9::CREATE | p9::EXCL))?;
                let qid = qid_of(&path)?;
                Ok((path, file, qid))
            })?;
            // The fid now stands for the new file, opened.
            let nf = Fid::new(path, f.user.clone(), FidState::Walked)?;
            let open = Arc::new(OpenFile::new(file, nf.owner(), false), GFP_KERNEL)?;
            *nf.state.lock() = FidState::Open(open);
            conn.fids.lock().replace(fid, nf)?;
            small(&Reply::Lcreate { qid, iounit: 0 })
        }
        Request::Read { fid, offset, count } => {
            let f = fids(fid)?;
            let room = (conn.msize() as usize).saturating_sub(RREAD_DATA_OFFSET);
            let count = (count as usize).min(room);
            let mut buf = reply_buf(RREAD_DATA_OFFSET + count)?;
            let n = {
                let st = f.state.lock();
                match &*st {
                    FidState::XattrRead(v) => {
                        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(v.len());
                        let n = (v.len() - start).min(count);
                        buf[RREAD_DATA_OFFSET..][..n].copy_from_slice(&v[start..start + n]);
                        n
                    }
                    FidState::Open(o) => {
                        let o = o.clone();
                        drop(st);
                        if o.dir {
                            return Err(EISDIR);
                        }
                        f.user
                            .with(|| o.file().read_at(&mut buf[RREAD_DATA_OFFSET..], offset))?
                    }
                    _ => return Err(EBADF),
                }
            };
            let len = proto::finish_rread(&mut buf, tag, n as u32).map_err(|_| EOVERFLOW)?;
            buf.truncate(len);
            Ok(buf)
        }
        Request::Write { fid, offset, data } => {
            let f = fids(fid)?;
            let mut st = f.state.lock();
            let n = match &mut *st {
                FidState::XattrWrite { value, size, .. } => {
                    // Sequential, and never past the size Txattrcreate gave.
                    if offset != value.len() as u64 || value.len() + data.len() > *size {
                        return Err(EINVAL);
                    }
                    value.extend_from_slice(data, GFP_KERNEL)?;
                    data.len()
                }
                FidState::Open(o) => {
                    let o = o.clone();
                    drop(st);
                    writable(conn)?;
                    if o.dir {
                        return Err(EISDIR);
                    }
                    f.user.with(|| o.file().write_at(data, offset))?
                }
                _ => return Err(EBADF),
            };
            small(&Reply::Write { count: n as u32 })
        }
        Request::Clunk { fid } => {
            let f = conn.fids.lock().remove(fid).ok_or(EBADF)?;
            clunk(conn, &f)?;
            small(&Reply::Clunk)
        }
        Request::Remove { fid } => {
            // The fid goes even if the removal fails.
            let f = conn.fids.lock().remove(fid).ok_or(EBADF)?;
            let r = writable(conn).and_then(|()| f.user.with(|| f.path.remove()));
            let _ = clunk(conn, &f);
            r?;
            small(&Reply::Remove)
        }
        Request::Getattr { fid, .. } => {
            let f = fids(fid)?;
            let st = f.user.with(|| f.path.getattr())?;
            small(&Reply::Getattr {
                attr: attr_from_stat(&st),
            })
        }
        Request::Setattr { fid, attr } => {
            writable(conn)?;
            let f = fids(fid)?;
            let a = setattr_from(&attr)?;
            f.user.with(|| f.path.setattr(&a))?;
            small(&Reply::Setattr)
        }
        Request::Readdir { fid, offset, count } => {
            let f = fids(fid)?;
            let o = f.open_file()?;
            if !o.dir {
                return Err(ENOTDIR);
            }
            let room = (conn.msize() as usize).saturating_sub(RREADDIR_DATA_OFFSET);
            let count = (count as usize).min(room);
            let mut buf = reply_buf(RREADDIR_DATA_OFFSET + count)?;
            let pos = i64::try_from(offset).map_err(|_| EINVAL)?;
            let n = {
                let mut w = DirentWriter::new(&mut buf[RREADDIR_DATA_OFFSET..]);
                let end = f.user.with(|| {
                    o.file().readdir(pos, &mut |e| {
                        // The previous entry resumes where this one is.
                        w.set_last_offset(e.pos as u64);
                        let ty = match e.dtype {
                            4 => qid_type::DIR,
                            10 => qid_type::SYMLINK,
                            _ => qid_type::FILE,
                        };
                        let qid = Qid {
                            ty,
                            version: 0,
                            path: e.ino,
                        };
                        w.push(qid, 0, e.dtype, e.name)
                    })
                })?;
                w.set_last_offset(end as u64);
                w.len()
            };
            let len = proto::finish_rreaddir(&mut buf, tag, n as u32).map_err(|_| EOVERFLOW)?;
            buf.truncate(len);
            Ok(buf)
        }
        Request::Mkdir {
            dfid,
            name: nm,
            mode,
            gid,
        } => {
            writable(conn)?;
            let d = fids(dfid)?;
            let nm = Name::new(nm)?;
            let qid = creator(&d, gid)?.with(|| qid_of(&d.path.mkdir(&nm, mode & 0o7777)?))?;
            small(&Reply::Mkdir { qid })
        }
        Request::Symlink {
            fid,
            name: nm,
            target,
            gid,
        } => {
            writable(conn)?;
            let d = fids(fid)?;
            let nm = Name::new(nm)?;
            let target = Target::new(target)?;
            let qid = creator(&d, gid)?.with(|| qid_of(&d.path.symlink(&nm, &target)?))?;
            small(&Reply::Symlink { qid })
        }
        Request::Mknod {
            dfid,
            name: nm,
            mode,
            major,
            minor,
            gid,
        } => {
            writable(conn)?;
            let d = fids(dfid)?;
            let nm = Name::new(nm)?;
            let qid = creator(&d, gid)?.with(|| qid_of(&d.path.mknod(&nm, mode, major, minor)?))?;
            small(&Reply::Mknod { qid })
        }
        Request::Link {
            dfid,
            fid,
            name: nm,
        } => {
            writable(conn)?;
            let d = fids(dfid)?;
            let f = fids(fid)?;
            let nm = Name::new(nm)?;
            d.user.with(|| d.path.link(&f.path, &nm))?;
            small(&Reply::Link)
        }
        Request::Rename {
            fid,
            dfid,
            name: nm,
        } => {
            writable(conn)?;
            let f = fids(fid)?;
            let d = fids(dfid)?;
            let nm = Name::new(nm)?;
            if f.path.same(root) {
                return Err(EBUSY);
            }
            f.user.with(|| f.path.rename_to(&d.path, &nm))?;
            small(&Reply::Rename)
        }
        Request::Renameat {
            olddirfid,
            oldname,
            newdirfid,
            newname,
        } => {
            writable(conn)?;
            let od = fids(olddirfid)?;
            let nd = fids(newdirfid)?;
            let (on, nn) = (Name::new(oldname)?, Name::new(newname)?);
            od.user.with(|| od.path.rename(&on, &nd.path, &nn))?;
            small(&Reply::Renameat)
        }
        Request::Unlinkat {
            dirfid,
            name: nm,
            flags,
        } => {
            writable(conn)?;
            let d = fids(dirfid)?;
            let nm = Name::new(nm)?;
            d.user
                .with(|| d.path.unlink(&nm, flags & AT_REMOVEDIR != 0))?;
            small(&Reply::Unlinkat)
        }
        Request::Readlink { fid } => {
            let f = fids(fid)?;
            let mut target = KVec::with_capacity(TARGET_MAX, GFP_KERNEL)?;
            target.resize(TARGET_MAX, 0, GFP_KERNEL)?;
            let n = f.user.with(|| f.path.readlink(&mut target))?;
            encode(
                tag,
                &Reply::Readlink {
                    target: &target[..n],
                },
                16 + n,
            )
        }
        Request::Statfs { fid } => {
            let f = fids(fid)?;
            let s = f.user.with(|| f.path.statfs())?;
            small(&Reply::Statfs {
                st: Statfs {
                    ty: s.fs_type,
                    bsize: s.bsize,
                    blocks: s.blocks,
                    bfree: s.bfree,
                    bavail: s.bavail,
                    files: s.files,
                    ffree: s.ffree,
                    fsid: s.fsid,
                    namelen: s.namelen,
                },
            })
        }
        Request::Fsync { fid, datasync } => {
            let f = fids(fid)?;
            let o = f.open_file()?;
            f.user.with(|| o.file().fsync(datasync != 0))?;
            small(&Reply::Fsync)
        }
        Request::Xattrwalk {
            fid,
            newfid,
            name: nm,
        } => {
            let f = fids(fid)?;
            let value = f.user.with(|| read_xattr(&f.path, nm))?;
            let size = value.len() as u64;
            add_fid(
                conn,
                newfid,
                Fid::new(f.path.clone(), f.user.clone(), FidState::XattrRead(value))?,
            )?;
            small(&Reply::Xattrwalk { size })
        }
        Request::Xattrcreate {
            fid,
            name: nm,
            size,
            flags,
        } => {
            writable(conn)?;
            let f = fids(fid)?;
            let size = usize::try_from(size).map_err(|_| E2BIG)?;
            if size > XATTR_MAX {
                return Err(E2BIG);
            }
            let mut name = KVec::new();
            xattr_name(nm, &mut name)?;
            let mut st = f.state.lock();
            if !matches!(*st, FidState::Walked) {
                return Err(EBADF);
            }
            *st = FidState::XattrWrite {
                name,
                value: KVVec::with_capacity(size, GFP_KERNEL)?,
                size,
                flags,
            };
            drop(st);
            small(&Reply::Xattrcreate)
        }
        Request::Lock { fid, lock } => {
            let f = fids(fid)?;
            let o = f.open_file()?;
            let mut l = posix_lock(&lock);
            let status = match f.user.with(|| o.file().posix_lock(false, &mut l, o.owner)) {
                Ok(()) => lock_status::SUCCESS,
                // The client retries a blocking lock itself.
                Err(e) if e == EAGAIN => lock_status::BLOCKED,
                Err(e) if e == EINVAL => return Err(e),
                Err(_) => lock_status::ERROR,
            };
            small(&Reply::Lock { status })
        }
        Request::Getlock { fid, lock } => {
            let f = fids(fid)?;
            let o = f.open_file()?;
            let mut l = posix_lock(&lock);
            // The Linux client asks with type UNLCK, meaning "any lock"; the
            // VFS tests an unlock only against the caller's own locks, so
            // ask as a writer would: every other lock conflicts with that.
            if l.ty == proto::lock_type::UNLCK {
                l.ty = proto::lock_type::WRLCK;
            }
            f.user.with(|| o.file().posix_lock(true, &mut l, o.owner))?;
            encode(
                tag,
                &Reply::Getlock {
                    lock: LockArgs {
                        ty: l.ty,
                        flags: 0,
                        start: l.start,
                        length: l.len,
                        proc_id: l.pid,
                        client_id: lock.client_id,
                    },
                },
                SMALL_REPLY + lock.client_id.len(),
            )
        }
    }
}

/// The uid of a user name when the client gave no number: there is no user
/// database in the kernel, so only "root" and decimal ids are known; any
/// other name is `nobody` (the v9fs client attaches as "nobody" with
/// access=user before it attaches as each user by number).
fn uid_of_name(name: &[u8]) -> u32 {
    const NOBODY: u32 = 65534;
    if name == b"root" {
        return 0;
    }
    if name.is_empty() || name.len() > 9 || !name.iter().all(u8::is_ascii_digit) {
        return NOBODY;
    }
    name.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'))
}

/// Builds the NUL-terminated name of an extended attribute.
fn xattr_name(nm: &[u8], out: &mut KVec<u8>) -> Result {
    if nm.is_empty() || nm.len() > 255 || nm.contains(&0) {
        return Err(if nm.len() > 255 { ERANGE } else { EINVAL });
    }
    out.extend_from_slice(nm, GFP_KERNEL)?;
    out.push(0, GFP_KERNEL)?;
    Ok(())
}

/// The value of extended attribute `nm`, or the name list if `nm` is empty.
fn read_xattr(path: &Path, nm: &[u8]) -> Result<KVVec<u8>> {
    let mut cname = KVec::new();
    if !nm.is_empty() {
        xattr_name(nm, &mut cname)?;
    }
    let cname = CStr::from_bytes_with_nul(&cname).ok();
    // The size can change between the two calls: retry a few times.
    for _ in 0..3 {
        let size = match cname {
            Some(n) => path.getxattr(n, &mut [])?,
            None => path.listxattr(&mut [])?,
        };
        if size > XATTR_MAX {
            return Err(E2BIG);
        }
        let mut v = KVVec::with_capacity(size, GFP_KERNEL)?;
        v.resize(size, 0, GFP_KERNEL)?;
        if size == 0 {
            return Ok(v);
        }
        let r = match cname {
            Some(n) => path.getxattr(n, &mut v),
            None => path.listxattr(&mut v),
        };
        match r {
            Ok(n) => {
                v.truncate(n);
                return Ok(v);
            }
            Err(e) if e == ERANGE => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ERANGE)
}

/// Ends a fid: an extended attribute being written is set now.
fn clunk(conn: &Conn, f: &Fid) -> Result {
    let st = core::mem::replace(&mut *f.state.lock(), FidState::Walked);
    if let FidState::XattrWrite {
        name,
        value,
        size,
        flags,
    } = st
    {
        writable(conn)?;
        if value.len() != size {
            return Err(EINVAL);
        }
        let n = CStr::from_bytes_with_nul(&name).map_err(|_| EINVAL)?;
        f.user.with(|| {
            if size == 0 {
                // Txattrcreate with size 0 is how the client removes one
                // (removexattr passes XATTR_REPLACE), as QEMU's server has it.
                f.path.removexattr(n)
            } else {
                f.path.setxattr(n, &value, flags)
            }
        })?;
    }
    Ok(())
}

fn posix_lock(l: &LockArgs<'_>) -> PosixLock {
    PosixLock {
        ty: l.ty,
        start: l.start,
        len: l.length,
        pid: l.proc_id,
    }
}

fn attr_from_stat(st: &Stat) -> Attr {
    let mut valid = proto::getattr_mask::BASIC;
    let (btime_sec, btime_nsec) = match st.btime {
        Some((s, n)) => {
            valid |= proto::getattr_mask::BTIME;
            (s as u64, u64::from(n))
        }
        None => (0, 0),
    };
    Attr {
        valid,
        qid: qid_from_stat(st),
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
        nlink: u64::from(st.nlink),
        rdev: encode_dev(st.rdev),
        size: st.size,
        blksize: u64::from(st.blksize),
        blocks: st.blocks,
        atime_sec: st.atime.0 as u64,
        atime_nsec: u64::from(st.atime.1),
        mtime_sec: st.mtime.0 as u64,
        mtime_nsec: u64::from(st.mtime.1),
        ctime_sec: st.ctime.0 as u64,
        ctime_nsec: u64::from(st.ctime.1),
        btime_sec,
        btime_nsec,
        gen: 0,
        data_version: 0,
    }
}

fn setattr_from(a: &SetattrArgs) -> Result<SetAttr> {
    let nsec = |n: u64| {
        u32::try_from(n)
            .ok()
            .filter(|&n| n < 1_000_000_000)
            .ok_or(EINVAL)
    };
    let set_a = a.valid & proto::setattr_valid::ATIME_SET != 0;
    let set_m = a.valid & proto::setattr_valid::MTIME_SET != 0;
    Ok(SetAttr {
        // The 9P2000.L bits are the kernel's ATTR_* bits.
        valid: a.valid & 0x1ff,
        mode: a.mode,
        uid: a.uid,
        gid: a.gid,
        size: a.size,
        atime: if set_a {
            (a.atime_sec as i64, nsec(a.atime_nsec)?)
        } else {
            (0, 0)
        },
        mtime: if set_m {
            (a.mtime_sec as i64, nsec(a.mtime_nsec)?)
        } else {
            (0, 0)
        },
    })
}
