// SPDX-License-Identifier: GPL-2.0

//! The 9P2000.L wire codec: requests (T-messages) and replies (R-messages).
//!
//! Every message is `size[4] type[1] tag[2] body`, little-endian, where `size`
//! counts the whole message, itself included. Strings are `len[2]` and that
//! many bytes (no NUL); a [`Qid`] is `type[1] version[4] path[8]`. The formats
//! are those the Linux v9fs client speaks (`include/net/9p/9p.h`,
//! `net/9p/client.c`).
//!
//! Requests come from an untrusted peer. [`decode_request`] never panics,
//! never allocates and never reads outside the message: a short message is
//! [`DecodeError::Truncated`], a message with bytes left over is
//! [`DecodeError::TrailingBytes`]. Decoded requests borrow their strings and
//! data from the receive buffer. Names are checked for length only; whether a
//! name is an acceptable path component is the server's decision.
//!
//! Replies are written with [`encode_reply`], or, for `Rread` and `Rreaddir`,
//! in place: the server fills the data area of the send buffer (at
//! [`RREAD_DATA_OFFSET`], with a [`DirentWriter`] for directory entries) and
//! then writes the header with [`finish_rread`] or [`finish_rreaddir`].
//!
//! [`encode_request`] and [`decode_reply`] are the client's side, for host
//! tools and tests.
//!
//! This module uses only `core` (no allocation), so it is also built and
//! tested on the host.

use crate::wire::{Reader, Truncated, Writer};

/// Size of the header every message starts with: `size[4] type[1] tag[2]`.
pub const HEADER_SIZE: usize = 7;

/// The tag of `Tversion`, which is outside the tag space of other requests.
pub const NOTAG: u16 = 0xffff;

/// "No fid": the `afid` of a `Tattach` without authentication.
pub const NOFID: u32 = 0xffff_ffff;

/// Most names in one `Twalk` (and qids in one `Rwalk`); decoding refuses more.
pub const MAX_WALK: usize = 16;

/// The protocol version string of 9P2000.L.
pub const VERSION_9P2000L: &[u8] = b"9P2000.L";

/// `AT_REMOVEDIR` in the `flags` of `Tunlinkat`: remove a directory.
pub const AT_REMOVEDIR: u32 = 0x200;

/// Offset of the data in an `Rread`: `size[4] type[1] tag[2] count[4]`.
pub const RREAD_DATA_OFFSET: usize = 11;

/// Offset of the directory entries in an `Rreaddir`:
/// `size[4] type[1] tag[2] count[4]`.
pub const RREADDIR_DATA_OFFSET: usize = 11;

/// Size of an encoded [`Qid`].
pub const QID_SIZE: usize = 13;

/// Message type numbers (`enum p9_msg_t`). A reply's type is its request's
/// plus one.
pub mod msg {
    /// Not used (there is no request answered by `Rlerror` alone).
    pub const TLERROR: u8 = 6;
    /// Error reply to any request: `ecode[4]` (a Linux errno).
    pub const RLERROR: u8 = 7;
    /// File system status request.
    pub const TSTATFS: u8 = 8;
    /// File system status reply.
    pub const RSTATFS: u8 = 9;
    /// Open a file.
    pub const TLOPEN: u8 = 12;
    /// Open reply: qid and iounit.
    pub const RLOPEN: u8 = 13;
    /// Create and open a file.
    pub const TLCREATE: u8 = 14;
    /// Create reply: qid and iounit.
    pub const RLCREATE: u8 = 15;
    /// Create a symbolic link.
    pub const TSYMLINK: u8 = 16;
    /// Symbolic link reply.
    pub const RSYMLINK: u8 = 17;
    /// Create a special file.
    pub const TMKNOD: u8 = 18;
    /// Special file reply.
    pub const RMKNOD: u8 = 19;
    /// Rename a fid's file into a directory.
    pub const TRENAME: u8 = 20;
    /// Rename reply.
    pub const RRENAME: u8 = 21;
    /// Read a symbolic link.
    pub const TREADLINK: u8 = 22;
    /// Symbolic link target reply.
    pub const RREADLINK: u8 = 23;
    /// Get attributes.
    pub const TGETATTR: u8 = 24;
    /// Attributes reply.
    pub const RGETATTR: u8 = 25;
    /// Set attributes.
    pub const TSETATTR: u8 = 26;
    /// Set attributes reply.
    pub const RSETATTR: u8 = 27;
    /// Prepare to read or list extended attributes.
    pub const TXATTRWALK: u8 = 30;
    /// Extended attribute size reply.
    pub const RXATTRWALK: u8 = 31;
    /// Prepare to set an extended attribute.
    pub const TXATTRCREATE: u8 = 32;
    /// Extended attribute creation reply.
    pub const RXATTRCREATE: u8 = 33;
    /// Read directory entries.
    pub const TREADDIR: u8 = 40;
    /// Directory entries reply.
    pub const RREADDIR: u8 = 41;
    /// Flush a file to storage.
    pub const TFSYNC: u8 = 50;
    /// Flush reply.
    pub const RFSYNC: u8 = 51;
    /// Acquire or release a POSIX record lock.
    pub const TLOCK: u8 = 52;
    /// Lock reply: status.
    pub const RLOCK: u8 = 53;
    /// Test for a POSIX record lock.
    pub const TGETLOCK: u8 = 54;
    /// Lock test reply.
    pub const RGETLOCK: u8 = 55;
    /// Create a hard link.
    pub const TLINK: u8 = 70;
    /// Hard link reply.
    pub const RLINK: u8 = 71;
    /// Create a directory.
    pub const TMKDIR: u8 = 72;
    /// Directory creation reply.
    pub const RMKDIR: u8 = 73;
    /// Rename between directories.
    pub const TRENAMEAT: u8 = 74;
    /// Rename reply.
    pub const RRENAMEAT: u8 = 75;
    /// Remove a directory entry.
    pub const TUNLINKAT: u8 = 76;
    /// Removal reply.
    pub const RUNLINKAT: u8 = 77;
    /// Negotiate the version and the message size.
    pub const TVERSION: u8 = 100;
    /// Version reply.
    pub const RVERSION: u8 = 101;
    /// Open an authentication channel.
    pub const TAUTH: u8 = 102;
    /// Authentication reply.
    pub const RAUTH: u8 = 103;
    /// Attach to the export's root.
    pub const TATTACH: u8 = 104;
    /// Attach reply: the root's qid.
    pub const RATTACH: u8 = 105;
    /// Abort an earlier request.
    pub const TFLUSH: u8 = 108;
    /// Flush reply.
    pub const RFLUSH: u8 = 109;
    /// Walk names from a fid to a new fid.
    pub const TWALK: u8 = 110;
    /// Walk reply: one qid per name walked.
    pub const RWALK: u8 = 111;
    /// Read file data.
    pub const TREAD: u8 = 116;
    /// Read reply: the data.
    pub const RREAD: u8 = 117;
    /// Write file data.
    pub const TWRITE: u8 = 118;
    /// Write reply: the count written.
    pub const RWRITE: u8 = 119;
    /// Forget a fid.
    pub const TCLUNK: u8 = 120;
    /// Clunk reply.
    pub const RCLUNK: u8 = 121;
    /// Remove a fid's file and forget the fid.
    pub const TREMOVE: u8 = 122;
    /// Remove reply.
    pub const RREMOVE: u8 = 123;
}

/// A file's identity on the server: type bits ([`qid_type`]), version and a
/// unique path number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Qid {
    /// Type bits, [`qid_type`].
    pub ty: u8,
    /// Version, changed when the file is (0 where not tracked).
    pub version: u32,
    /// Unique number of the file on the server (the inode number, say).
    pub path: u64,
}

/// Bits of [`Qid::ty`] (`P9_QT*`).
pub mod qid_type {
    /// Directory.
    pub const DIR: u8 = 0x80;
    /// Append-only file.
    pub const APPEND: u8 = 0x40;
    /// Exclusive-use file.
    pub const EXCL: u8 = 0x20;
    /// Mount point.
    pub const MOUNT: u8 = 0x10;
    /// Authentication file.
    pub const AUTH: u8 = 0x08;
    /// Not backed up.
    pub const TMP: u8 = 0x04;
    /// Symbolic link.
    pub const SYMLINK: u8 = 0x02;
    /// Hard link.
    pub const LINK: u8 = 0x01;
    /// Plain file (no bit set).
    pub const FILE: u8 = 0x00;
}

/// Bits of [`SetattrArgs::valid`] (`P9_ATTR_*`): which fields to set.
pub mod setattr_valid {
    /// Set the mode.
    pub const MODE: u32 = 1;
    /// Set the owner.
    pub const UID: u32 = 2;
    /// Set the group.
    pub const GID: u32 = 4;
    /// Set the size (truncate).
    pub const SIZE: u32 = 8;
    /// Set the access time (to now unless [`ATIME_SET`]).
    pub const ATIME: u32 = 0x10;
    /// Set the modification time (to now unless [`MTIME_SET`]).
    pub const MTIME: u32 = 0x20;
    /// Set the change time (to now).
    pub const CTIME: u32 = 0x40;
    /// The access time is the one given, not now.
    pub const ATIME_SET: u32 = 0x80;
    /// The modification time is the one given, not now.
    pub const MTIME_SET: u32 = 0x100;
}

/// Bits of `Tgetattr`'s `request_mask` and of [`Attr::valid`]
/// (`P9_STATS_*`).
pub mod getattr_mask {
    /// Mode.
    pub const MODE: u64 = 0x1;
    /// Link count.
    pub const NLINK: u64 = 0x2;
    /// Owner.
    pub const UID: u64 = 0x4;
    /// Group.
    pub const GID: u64 = 0x8;
    /// Device number.
    pub const RDEV: u64 = 0x10;
    /// Access time.
    pub const ATIME: u64 = 0x20;
    /// Modification time.
    pub const MTIME: u64 = 0x40;
    /// Change time.
    pub const CTIME: u64 = 0x80;
    /// Inode number (the qid path).
    pub const INO: u64 = 0x100;
    /// Size.
    pub const SIZE: u64 = 0x200;
    /// Block count.
    pub const BLOCKS: u64 = 0x400;
    /// Birth time.
    pub const BTIME: u64 = 0x800;
    /// Generation number.
    pub const GEN: u64 = 0x1000;
    /// Data version.
    pub const DATA_VERSION: u64 = 0x2000;
    /// Everything up to [`BLOCKS`]: what `stat(2)` returns.
    pub const BASIC: u64 = 0x7ff;
    /// Every field.
    pub const ALL: u64 = 0x3fff;
}

/// [`LockArgs::ty`] (`P9_LOCK_TYPE_*`).
pub mod lock_type {
    /// Read (shared) lock.
    pub const RDLCK: u8 = 0;
    /// Write (exclusive) lock.
    pub const WRLCK: u8 = 1;
    /// Unlock.
    pub const UNLCK: u8 = 2;
}

/// The status of an `Rlock` (`P9_LOCK_*`).
pub mod lock_status {
    /// The lock was taken (or released).
    pub const SUCCESS: u8 = 0;
    /// A conflicting lock is held.
    pub const BLOCKED: u8 = 1;
    /// The lock failed.
    pub const ERROR: u8 = 2;
    /// The server is in its grace period.
    pub const GRACE: u8 = 3;
}

/// [`LockArgs::flags`] of a `Tlock` (`P9_LOCK_FLAGS_*`).
pub mod lock_flags {
    /// The client waits (`F_SETLKW`).
    pub const BLOCK: u32 = 1;
    /// Reclaim a lock held before a server restart.
    pub const RECLAIM: u32 = 2;
}

/// Flags of `Tlopen` and `Tlcreate` (`P9_DOTL_*`), octal as in `9p.h`.
pub mod open_flags {
    /// Read only (access mode).
    pub const RDONLY: u32 = 0o0;
    /// Write only (access mode).
    pub const WRONLY: u32 = 0o1;
    /// Read and write (access mode).
    pub const RDWR: u32 = 0o2;
    /// Neither (access mode 3).
    pub const NOACCESS: u32 = 0o3;
    /// Mask of the access mode.
    pub const ACCMODE: u32 = 0o3;
    /// Create the file.
    pub const CREATE: u32 = 0o100;
    /// With [`CREATE`]: fail if the file exists.
    pub const EXCL: u32 = 0o200;
    /// Do not become the controlling terminal.
    pub const NOCTTY: u32 = 0o400;
    /// Truncate the file.
    pub const TRUNC: u32 = 0o1000;
    /// Writes append.
    pub const APPEND: u32 = 0o2000;
    /// Non-blocking I/O.
    pub const NONBLOCK: u32 = 0o4000;
    /// Synchronous data writes.
    pub const DSYNC: u32 = 0o10000;
    /// Signal-driven I/O.
    pub const FASYNC: u32 = 0o20000;
    /// Direct I/O.
    pub const DIRECT: u32 = 0o40000;
    /// Large file.
    pub const LARGEFILE: u32 = 0o100000;
    /// Fail unless a directory.
    pub const DIRECTORY: u32 = 0o200000;
    /// Do not follow a final symbolic link.
    pub const NOFOLLOW: u32 = 0o400000;
    /// Do not update the access time.
    pub const NOATIME: u32 = 0o1000000;
    /// Close on exec.
    pub const CLOEXEC: u32 = 0o2000000;
    /// Synchronous writes.
    pub const SYNC: u32 = 0o4000000;
}

/// Why a message could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The message is shorter than its header or than its fields.
    Truncated,
    /// The header's `size[4]` disagrees with the length of the buffer.
    SizeMismatch,
    /// Bytes are left over after the last field.
    TrailingBytes,
    /// A type number this codec does not know (for [`decode_reply`]: any
    /// type that is not a reply).
    UnknownType(u8),
    /// A reply type (or `Rlerror`) sent as a request.
    NotARequest(u8),
    /// A `Twalk` (or `Rwalk`) with more than [`MAX_WALK`] names (or qids).
    TooManyWalkNames(u16),
}

impl From<Truncated> for DecodeError {
    fn from(_: Truncated) -> Self {
        DecodeError::Truncated
    }
}

/// Reads a string: `len[2]` bytes.
fn get_str<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], Truncated> {
    let len = r.u16()?;
    r.bytes(usize::from(len))
}

/// Writes a string: `len[2]` bytes. A string longer than `u16::MAX` cannot
/// be encoded: `Truncated`.
fn put_str(w: &mut Writer<'_>, s: &[u8]) -> Result<(), Truncated> {
    let len = u16::try_from(s.len()).map_err(|_| Truncated)?;
    w.u16(len)?;
    w.bytes(s)
}

/// Reads a qid.
fn get_qid(r: &mut Reader<'_>) -> Result<Qid, Truncated> {
    Ok(Qid {
        ty: r.u8()?,
        version: r.u32()?,
        path: r.u64()?,
    })
}

/// Writes a qid.
fn put_qid(w: &mut Writer<'_>, q: &Qid) -> Result<(), Truncated> {
    w.u8(q.ty)?;
    w.u32(q.version)?;
    w.u64(q.path)
}

/// Writes `count[4] data`.
fn put_data(w: &mut Writer<'_>, data: &[u8]) -> Result<(), Truncated> {
    let count = u32::try_from(data.len()).map_err(|_| Truncated)?;
    w.u32(count)?;
    w.bytes(data)
}

/// Reads `count[4] data`.
fn get_data<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], Truncated> {
    let count = usize::try_from(r.u32()?).map_err(|_| Truncated)?;
    r.bytes(count)
}

/// Reads `size[4] type[1] tag[2]` and checks `size` against `buf.len()`.
/// Returns the type, the tag and a reader positioned at the body.
fn header(buf: &[u8]) -> Result<(u8, u16, Reader<'_>), DecodeError> {
    let mut r = Reader::new(buf);
    let size = r.u32()?;
    let ty = r.u8()?;
    let tag = r.u16()?;
    if u32::try_from(buf.len()) != Ok(size) {
        return Err(DecodeError::SizeMismatch);
    }
    Ok((ty, tag, r))
}

/// Writes a whole message: header, then `body`, then patches the size.
fn message(
    buf: &mut [u8],
    ty: u8,
    tag: u16,
    body: impl FnOnce(&mut Writer<'_>) -> Result<(), Truncated>,
) -> Result<usize, Truncated> {
    let mut w = Writer::new(buf);
    let at = w.reserve(4)?;
    w.u8(ty)?;
    w.u16(tag)?;
    body(&mut w)?;
    let len = w.position();
    w.patch_u32(at, u32::try_from(len).map_err(|_| Truncated)?)?;
    Ok(len)
}

/// The names of a `Twalk`, kept as their encoded bytes and iterated without
/// allocation.
///
/// A decoded `WalkNames` holds at most [`MAX_WALK`] names ([`decode_request`]
/// refuses more), each already checked to be within the message, so
/// iterating cannot fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct WalkNames<'a> {
    /// The names as on the wire: `count` times `len[2] bytes`.
    raw: &'a [u8],
    /// How many names `raw` holds.
    count: u16,
}

impl<'a> WalkNames<'a> {
    /// Encodes `names` into `buf` and returns a view of them, for building a
    /// `Twalk` (host tools and tests). Any number of names up to `u16::MAX`
    /// may be built, so that a client can test a server's refusal of more
    /// than [`MAX_WALK`]. `Truncated` if they do not fit in `buf` (or a name
    /// or the count is too long to encode).
    pub fn build(buf: &'a mut [u8], names: &[&[u8]]) -> Result<Self, Truncated> {
        let count = u16::try_from(names.len()).map_err(|_| Truncated)?;
        let mut w = Writer::new(&mut *buf);
        for name in names {
            put_str(&mut w, name)?;
        }
        let len = w.position();
        let buf: &'a [u8] = buf;
        Ok(Self {
            raw: buf.get(..len).ok_or(Truncated)?,
            count,
        })
    }

    /// Reads `count` names from `r`, checking that each is within it.
    fn parse(r: &mut Reader<'a>, count: u16) -> Result<Self, DecodeError> {
        if usize::from(count) > MAX_WALK {
            return Err(DecodeError::TooManyWalkNames(count));
        }
        let mut whole = r.clone();
        let start = r.position();
        for _ in 0..count {
            get_str(r)?;
        }
        let len = r.position().checked_sub(start).ok_or(Truncated)?;
        Ok(Self {
            raw: whole.bytes(len)?,
            count,
        })
    }

    /// How many names there are.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether there are no names (a `Twalk` that clones a fid).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The names as they are encoded on the wire (without the count).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The names, in order.
    pub fn iter(&self) -> WalkNamesIter<'a> {
        WalkNamesIter {
            r: Reader::new(self.raw),
            left: self.count,
        }
    }
}

impl<'a> IntoIterator for WalkNames<'a> {
    type Item = &'a [u8];
    type IntoIter = WalkNamesIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &WalkNames<'a> {
    type Item = &'a [u8];
    type IntoIter = WalkNamesIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the names of a [`WalkNames`].
#[derive(Clone, Debug)]
pub struct WalkNamesIter<'a> {
    /// The names not yet returned.
    r: Reader<'a>,
    /// How many of them.
    left: u16,
}

impl<'a> Iterator for WalkNamesIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.left = self.left.checked_sub(1)?;
        let name = get_str(&mut self.r).ok();
        if name.is_none() {
            // Cannot happen for a decoded or built `WalkNames`; stop anyway.
            self.left = 0;
        }
        name
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.left);
        (n, Some(n))
    }
}

/// The qids of a decoded `Rwalk`, kept as their encoded bytes (at most
/// [`MAX_WALK`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct WalkQids<'a> {
    /// `n * QID_SIZE` bytes.
    raw: &'a [u8],
}

impl<'a> WalkQids<'a> {
    /// How many qids there are.
    pub fn len(&self) -> usize {
        self.raw.len() / QID_SIZE
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The `i`-th qid, if there is one.
    pub fn get(&self, i: usize) -> Option<Qid> {
        let at = i.checked_mul(QID_SIZE)?;
        get_qid(&mut Reader::new(self.raw.get(at..)?)).ok()
    }

    /// The qids, in order.
    pub fn iter(&self) -> impl Iterator<Item = Qid> + 'a {
        let raw = self.raw;
        (0..self.len()).filter_map(move |i| WalkQids { raw }.get(i))
    }

    /// Copies the qids into `out` (as many as fit) and returns the copied
    /// part, e.g. to re-encode them as a [`Reply::Walk`].
    pub fn copy_into<'b>(&self, out: &'b mut [Qid]) -> &'b [Qid] {
        let n = out.len().min(self.len());
        for (slot, qid) in out.iter_mut().zip(self.iter()) {
            *slot = qid;
        }
        out.get(..n).unwrap_or(&[])
    }
}

/// The arguments of a `Tsetattr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SetattrArgs {
    /// Which fields to set, [`setattr_valid`].
    pub valid: u32,
    /// New mode.
    pub mode: u32,
    /// New owner.
    pub uid: u32,
    /// New group.
    pub gid: u32,
    /// New size.
    pub size: u64,
    /// New access time, seconds (with [`setattr_valid::ATIME_SET`]).
    pub atime_sec: u64,
    /// New access time, nanoseconds.
    pub atime_nsec: u64,
    /// New modification time, seconds (with [`setattr_valid::MTIME_SET`]).
    pub mtime_sec: u64,
    /// New modification time, nanoseconds.
    pub mtime_nsec: u64,
}

/// A POSIX record lock, as in `Tlock`, `Tgetlock` and `Rgetlock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockArgs<'a> {
    /// Lock type, [`lock_type`].
    pub ty: u8,
    /// [`lock_flags`]; only `Tlock` carries them (0 when decoded from the
    /// others, ignored when encoding them).
    pub flags: u32,
    /// First byte.
    pub start: u64,
    /// Length in bytes (0: to the end of the file).
    pub length: u64,
    /// Process id of the owner.
    pub proc_id: u32,
    /// The client's name.
    pub client_id: &'a [u8],
}

/// A decoded request (T-message). Strings and data borrow from the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `Tversion`: negotiate the message size and protocol version.
    Version {
        /// Largest message the client will send or receive.
        msize: u32,
        /// Protocol version, [`VERSION_9P2000L`].
        version: &'a [u8],
    },
    /// `Tauth`: open an authentication fid.
    Auth {
        /// The new authentication fid.
        afid: u32,
        /// User name.
        uname: &'a [u8],
        /// Export name.
        aname: &'a [u8],
        /// Numeric user id.
        n_uname: u32,
    },
    /// `Tattach`: make `fid` the export's root.
    Attach {
        /// The new fid.
        fid: u32,
        /// Authentication fid, or [`NOFID`].
        afid: u32,
        /// User name.
        uname: &'a [u8],
        /// Export name.
        aname: &'a [u8],
        /// Numeric user id.
        n_uname: u32,
    },
    /// `Tflush`: abort the request tagged `oldtag`.
    Flush {
        /// Tag of the request to abort.
        oldtag: u16,
    },
    /// `Twalk`: walk `names` from `fid`, giving `newfid`.
    Walk {
        /// Starting fid.
        fid: u32,
        /// The new fid (may equal `fid`).
        newfid: u32,
        /// Names to walk (at most [`MAX_WALK`]).
        names: WalkNames<'a>,
    },
    /// `Tlopen`: open `fid`.
    Lopen {
        /// Fid to open.
        fid: u32,
        /// [`open_flags`].
        flags: u32,
    },
    /// `Tlcreate`: create `name` in the directory `fid` and open it as `fid`.
    Lcreate {
        /// Directory fid; becomes the new file's.
        fid: u32,
        /// Name of the new file.
        name: &'a [u8],
        /// [`open_flags`].
        flags: u32,
        /// Mode of the new file.
        mode: u32,
        /// Group of the new file.
        gid: u32,
    },
    /// `Tsymlink`: create the symbolic link `name` -> `target` in `fid`.
    Symlink {
        /// Directory fid.
        fid: u32,
        /// Name of the link.
        name: &'a [u8],
        /// Target of the link.
        target: &'a [u8],
        /// Group of the link.
        gid: u32,
    },
    /// `Tmknod`: create a special file.
    Mknod {
        /// Directory fid.
        dfid: u32,
        /// Name of the new file.
        name: &'a [u8],
        /// Mode, file type included.
        mode: u32,
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
        /// Group of the new file.
        gid: u32,
    },
    /// `Trename`: move `fid`'s file to `name` in directory `dfid`.
    Rename {
        /// Fid of the file to rename.
        fid: u32,
        /// Target directory fid.
        dfid: u32,
        /// New name.
        name: &'a [u8],
    },
    /// `Treadlink`: read the target of the link `fid`.
    Readlink {
        /// Fid of the link.
        fid: u32,
    },
    /// `Tgetattr`: get `fid`'s attributes.
    Getattr {
        /// The fid.
        fid: u32,
        /// Wanted fields, [`getattr_mask`].
        request_mask: u64,
    },
    /// `Tsetattr`: set `fid`'s attributes.
    Setattr {
        /// The fid.
        fid: u32,
        /// What to set.
        attr: SetattrArgs,
    },
    /// `Txattrwalk`: make `newfid` read the attribute `name` of `fid` (or
    /// the list of names, for an empty `name`).
    Xattrwalk {
        /// The file's fid.
        fid: u32,
        /// The new fid.
        newfid: u32,
        /// Attribute name (empty: list them).
        name: &'a [u8],
    },
    /// `Txattrcreate`: make `fid` write the attribute `name`.
    Xattrcreate {
        /// The fid (of the file; becomes the attribute's).
        fid: u32,
        /// Attribute name.
        name: &'a [u8],
        /// Size of the value to be written.
        size: u64,
        /// `XATTR_CREATE` / `XATTR_REPLACE`.
        flags: u32,
    },
    /// `Treaddir`: read directory entries.
    Readdir {
        /// Open directory fid.
        fid: u32,
        /// Resume offset (0, or one returned in an entry).
        offset: u64,
        /// Most bytes of entries to return.
        count: u32,
    },
    /// `Tfsync`: flush `fid`'s file to storage.
    Fsync {
        /// The fid.
        fid: u32,
        /// Non-zero: data only (`fdatasync`).
        datasync: u32,
    },
    /// `Tlock`: acquire or release a record lock.
    Lock {
        /// The fid.
        fid: u32,
        /// The lock.
        lock: LockArgs<'a>,
    },
    /// `Tgetlock`: test for a record lock (`lock.flags` is not on the wire:
    /// 0 when decoded, ignored when encoded).
    Getlock {
        /// The fid.
        fid: u32,
        /// The lock to test.
        lock: LockArgs<'a>,
    },
    /// `Tlink`: create the hard link `name` in `dfid` to `fid`'s file.
    Link {
        /// Directory fid.
        dfid: u32,
        /// Fid of the file to link.
        fid: u32,
        /// Name of the link.
        name: &'a [u8],
    },
    /// `Tmkdir`: create a directory.
    Mkdir {
        /// Parent directory fid.
        dfid: u32,
        /// Name of the new directory.
        name: &'a [u8],
        /// Mode of the new directory.
        mode: u32,
        /// Group of the new directory.
        gid: u32,
    },
    /// `Trenameat`: rename `oldname` in one directory to `newname` in
    /// another.
    Renameat {
        /// Source directory fid.
        olddirfid: u32,
        /// Source name.
        oldname: &'a [u8],
        /// Target directory fid.
        newdirfid: u32,
        /// Target name.
        newname: &'a [u8],
    },
    /// `Tunlinkat`: remove `name` from a directory.
    Unlinkat {
        /// Directory fid.
        dirfid: u32,
        /// Name to remove.
        name: &'a [u8],
        /// [`AT_REMOVEDIR`] for a directory.
        flags: u32,
    },
    /// `Tstatfs`: file system status.
    Statfs {
        /// Any fid on the file system.
        fid: u32,
    },
    /// `Tread`: read file data.
    Read {
        /// Open fid.
        fid: u32,
        /// File offset.
        offset: u64,
        /// Most bytes to read.
        count: u32,
    },
    /// `Twrite`: write file data.
    Write {
        /// Open fid.
        fid: u32,
        /// File offset.
        offset: u64,
        /// The data (its length is `count[4]` on the wire).
        data: &'a [u8],
    },
    /// `Tclunk`: forget `fid`.
    Clunk {
        /// The fid.
        fid: u32,
    },
    /// `Tremove`: remove `fid`'s file and forget `fid`.
    Remove {
        /// The fid.
        fid: u32,
    },
}

impl Request<'_> {
    /// The message type number ([`msg`]).
    pub fn type_code(&self) -> u8 {
        match self {
            Request::Version { .. } => msg::TVERSION,
            Request::Auth { .. } => msg::TAUTH,
            Request::Attach { .. } => msg::TATTACH,
            Request::Flush { .. } => msg::TFLUSH,
            Request::Walk { .. } => msg::TWALK,
            Request::Lopen { .. } => msg::TLOPEN,
            Request::Lcreate { .. } => msg::TLCREATE,
            Request::Symlink { .. } => msg::TSYMLINK,
            Request::Mknod { .. } => msg::TMKNOD,
            Request::Rename { .. } => msg::TRENAME,
            Request::Readlink { .. } => msg::TREADLINK,
            Request::Getattr { .. } => msg::TGETATTR,
            Request::Setattr { .. } => msg::TSETATTR,
            Request::Xattrwalk { .. } => msg::TXATTRWALK,
            Request::Xattrcreate { .. } => msg::TXATTRCREATE,
            Request::Readdir { .. } => msg::TREADDIR,
            Request::Fsync { .. } => msg::TFSYNC,
            Request::Lock { .. } => msg::TLOCK,
            Request::Getlock { .. } => msg::TGETLOCK,
            Request::Link { .. } => msg::TLINK,
            Request::Mkdir { .. } => msg::TMKDIR,
            Request::Renameat { .. } => msg::TRENAMEAT,
            Request::Unlinkat { .. } => msg::TUNLINKAT,
            Request::Statfs { .. } => msg::TSTATFS,
            Request::Read { .. } => msg::TREAD,
            Request::Write { .. } => msg::TWRITE,
            Request::Clunk { .. } => msg::TCLUNK,
            Request::Remove { .. } => msg::TREMOVE,
        }
    }
}

/// Whether `ty` is the type of a request this codec decodes.
pub fn is_request_type(ty: u8) -> bool {
    matches!(
        ty,
        msg::TSTATFS
            | msg::TLOPEN
            | msg::TLCREATE
            | msg::TSYMLINK
            | msg::TMKNOD
            | msg::TRENAME
            | msg::TREADLINK
            | msg::TGETATTR
            | msg::TSETATTR
            | msg::TXATTRWALK
            | msg::TXATTRCREATE
            | msg::TREADDIR
            | msg::TFSYNC
            | msg::TLOCK
            | msg::TGETLOCK
            | msg::TLINK
            | msg::TMKDIR
            | msg::TRENAMEAT
            | msg::TUNLINKAT
            | msg::TVERSION
            | msg::TAUTH
            | msg::TATTACH
            | msg::TFLUSH
            | msg::TWALK
            | msg::TREAD
            | msg::TWRITE
            | msg::TCLUNK
            | msg::TREMOVE
    )
}

/// Reads `size[4]` from the first 4 bytes of a header (for the receive loop,
/// which reads 4 bytes then the rest). The size counts the whole message,
/// these 4 bytes included.
pub fn message_size(header: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*header)
}

/// Decodes one complete T-message; `buf` is exactly the message (size field
/// included). Returns (tag, request).
///
/// Errors: [`DecodeError::Truncated`] if `buf` is shorter than the header or
/// a field runs past its end; [`DecodeError::SizeMismatch`] if `size[4]` is
/// not `buf.len()`; [`DecodeError::TrailingBytes`] if bytes are left after
/// the last field; [`DecodeError::NotARequest`] for the type of a reply (or
/// `Rlerror`); [`DecodeError::UnknownType`] for any other type this codec
/// does not decode (9P2000 and 9P2000.u only types included);
/// [`DecodeError::TooManyWalkNames`] for a `Twalk` of more than [`MAX_WALK`]
/// names.
pub fn decode_request(buf: &[u8]) -> Result<(u16, Request<'_>), DecodeError> {
    let (ty, tag, mut r) = header(buf)?;
    let r = &mut r;
    let req = match ty {
        msg::TVERSION => Request::Version {
            msize: r.u32()?,
            version: get_str(r)?,
        },
        msg::TAUTH => Request::Auth {
            afid: r.u32()?,
            uname: get_str(r)?,
            aname: get_str(r)?,
            n_uname: r.u32()?,
        },
        msg::TATTACH => Request::Attach {
            fid: r.u32()?,
            afid: r.u32()?,
            uname: get_str(r)?,
            aname: get_str(r)?,
            n_uname: r.u32()?,
        },
        msg::TFLUSH => Request::Flush { oldtag: r.u16()? },
        msg::TWALK => {
            let fid = r.u32()?;
            let newfid = r.u32()?;
            let count = r.u16()?;
            Request::Walk {
                fid,
                newfid,
                names: WalkNames::parse(r, count)?,
            }
        }
        msg::TLOPEN => Request::Lopen {
            fid: r.u32()?,
            flags: r.u32()?,
        },
        msg::TLCREATE => Request::Lcreate {
            fid: r.u32()?,
            name: get_str(r)?,
            flags: r.u32()?,
            mode: r.u32()?,
            gid: r.u32()?,
        },
        msg::TSYMLINK => Request::Symlink {
            fid: r.u32()?,
            name: get_str(r)?,
            target: get_str(r)?,
            gid: r.u32()?,
        },
        msg::TMKNOD => Request::Mknod {
            dfid: r.u32()?,
            name: get_str(r)?,
            mode: r.u32()?,
            major: r.u32()?,
            minor: r.u32()?,
            gid: r.u32()?,
        },
        msg::TRENAME => Request::Rename {
            fid: r.u32()?,
            dfid: r.u32()?,
            name: get_str(r)?,
        },
        msg::TREADLINK => Request::Readlink { fid: r.u32()? },
        msg::TGETATTR => Request::Getattr {
            fid: r.u32()?,
            request_mask: r.u64()?,
        },
        msg::TSETATTR => Request::Setattr {
            fid: r.u32()?,
            attr: SetattrArgs {
                valid: r.u32()?,
                mode: r.u32()?,
                uid: r.u32()?,
                gid: r.u32()?,
                size: r.u64()?,
                atime_sec: r.u64()?,
                atime_nsec: r.u64()?,
                mtime_sec: r.u64()?,
                mtime_nsec: r.u64()?,
            },
        },
        msg::TXATTRWALK => Request::Xattrwalk {
            fid: r.u32()?,
            newfid: r.u32()?,
            name: get_str(r)?,
        },
        msg::TXATTRCREATE => Request::Xattrcreate {
            fid: r.u32()?,
            name: get_str(r)?,
            size: r.u64()?,
            flags: r.u32()?,
        },
        msg::TREADDIR => Request::Readdir {
            fid: r.u32()?,
            offset: r.u64()?,
            count: r.u32()?,
        },
        msg::TFSYNC => Request::Fsync {
            fid: r.u32()?,
            datasync: r.u32()?,
        },
        msg::TLOCK => Request::Lock {
            fid: r.u32()?,
            lock: LockArgs {
                ty: r.u8()?,
                flags: r.u32()?,
                start: r.u64()?,
                length: r.u64()?,
                proc_id: r.u32()?,
                client_id: get_str(r)?,
            },
        },
        msg::TGETLOCK => Request::Getlock {
            fid: r.u32()?,
            lock: get_lock(r)?,
        },
        msg::TLINK => Request::Link {
            dfid: r.u32()?,
            fid: r.u32()?,
            name: get_str(r)?,
        },
        msg::TMKDIR => Request::Mkdir {
            dfid: r.u32()?,
            name: get_str(r)?,
            mode: r.u32()?,
            gid: r.u32()?,
        },
        msg::TRENAMEAT => Request::Renameat {
            olddirfid: r.u32()?,
            oldname: get_str(r)?,
            newdirfid: r.u32()?,
            newname: get_str(r)?,
        },
        msg::TUNLINKAT => Request::Unlinkat {
            dirfid: r.u32()?,
            name: get_str(r)?,
            flags: r.u32()?,
        },
        msg::TSTATFS => Request::Statfs { fid: r.u32()? },
        msg::TREAD => Request::Read {
            fid: r.u32()?,
            offset: r.u64()?,
            count: r.u32()?,
        },
        msg::TWRITE => Request::Write {
            fid: r.u32()?,
            offset: r.u64()?,
            data: get_data(r)?,
        },
        msg::TCLUNK => Request::Clunk { fid: r.u32()? },
        msg::TREMOVE => Request::Remove { fid: r.u32()? },
        msg::RLERROR => return Err(DecodeError::NotARequest(ty)),
        _ if ty % 2 == 1 && is_request_type(ty.wrapping_sub(1)) => {
            return Err(DecodeError::NotARequest(ty))
        }
        _ => return Err(DecodeError::UnknownType(ty)),
    };
    if !r.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok((tag, req))
}

/// Reads the lock of a `Tgetlock` or `Rgetlock` (no flags: 0):
/// `type[1] start[8] length[8] proc_id[4] client_id[s]`.
fn get_lock<'a>(r: &mut Reader<'a>) -> Result<LockArgs<'a>, Truncated> {
    Ok(LockArgs {
        ty: r.u8()?,
        flags: 0,
        start: r.u64()?,
        length: r.u64()?,
        proc_id: r.u32()?,
        client_id: get_str(r)?,
    })
}

/// Writes the lock of a `Tgetlock` or `Rgetlock` (`flags` left out).
fn put_lock(w: &mut Writer<'_>, l: &LockArgs<'_>) -> Result<(), Truncated> {
    w.u8(l.ty)?;
    w.u64(l.start)?;
    w.u64(l.length)?;
    w.u32(l.proc_id)?;
    put_str(w, l.client_id)
}

/// Encodes a T-message (used by host tools/tests and the hostile client);
/// returns the length written. `Truncated` if it does not fit in `buf` (or a
/// string is longer than `u16::MAX`, or data longer than `u32::MAX`).
pub fn encode_request(buf: &mut [u8], tag: u16, req: &Request<'_>) -> Result<usize, Truncated> {
    message(buf, req.type_code(), tag, |w| match *req {
        Request::Version { msize, version } => {
            w.u32(msize)?;
            put_str(w, version)
        }
        Request::Auth {
            afid,
            uname,
            aname,
            n_uname,
        } => {
            w.u32(afid)?;
            put_str(w, uname)?;
            put_str(w, aname)?;
            w.u32(n_uname)
        }
        Request::Attach {
            fid,
            afid,
            uname,
            aname,
            n_uname,
        } => {
            w.u32(fid)?;
            w.u32(afid)?;
            put_str(w, uname)?;
            put_str(w, aname)?;
            w.u32(n_uname)
        }
        Request::Flush { oldtag } => w.u16(oldtag),
        Request::Walk { fid, newfid, names } => {
            w.u32(fid)?;
            w.u32(newfid)?;
            w.u16(names.count)?;
            w.bytes(names.raw)
        }
        Request::Lopen { fid, flags } => {
            w.u32(fid)?;
            w.u32(flags)
        }
        Request::Lcreate {
            fid,
            name,
            flags,
            mode,
            gid,
        } => {
            w.u32(fid)?;
            put_str(w, name)?;
            w.u32(flags)?;
            w.u32(mode)?;
            w.u32(gid)
        }
        Request::Symlink {
            fid,
            name,
            target,
            gid,
        } => {
            w.u32(fid)?;
            put_str(w, name)?;
            put_str(w, target)?;
            w.u32(gid)
        }
        Request::Mknod {
            dfid,
            name,
            mode,
            major,
            minor,
            gid,
        } => {
            w.u32(dfid)?;
            put_str(w, name)?;
            w.u32(mode)?;
            w.u32(major)?;
            w.u32(minor)?;
            w.u32(gid)
        }
        Request::Rename { fid, dfid, name } => {
            w.u32(fid)?;
            w.u32(dfid)?;
            put_str(w, name)
        }
        Request::Readlink { fid }
        | Request::Statfs { fid }
        | Request::Clunk { fid }
        | Request::Remove { fid } => w.u32(fid),
        Request::Getattr { fid, request_mask } => {
            w.u32(fid)?;
            w.u64(request_mask)
        }
        Request::Setattr { fid, attr } => {
            w.u32(fid)?;
            w.u32(attr.valid)?;
            w.u32(attr.mode)?;
            w.u32(attr.uid)?;
            w.u32(attr.gid)?;
            w.u64(attr.size)?;
            w.u64(attr.atime_sec)?;
            w.u64(attr.atime_nsec)?;
            w.u64(attr.mtime_sec)?;
            w.u64(attr.mtime_nsec)
        }
        Request::Xattrwalk { fid, newfid, name } => {
            w.u32(fid)?;
            w.u32(newfid)?;
            put_str(w, name)
        }
        Request::Xattrcreate {
            fid,
            name,
            size,
            flags,
        } => {
            w.u32(fid)?;
            put_str(w, name)?;
            w.u64(size)?;
            w.u32(flags)
        }
        Request::Readdir { fid, offset, count } | Request::Read { fid, offset, count } => {
            w.u32(fid)?;
            w.u64(offset)?;
            w.u32(count)
        }
        Request::Fsync { fid, datasync } => {
            w.u32(fid)?;
            w.u32(datasync)
        }
        Request::Lock { fid, lock } => {
            w.u32(fid)?;
            w.u8(lock.ty)?;
            w.u32(lock.flags)?;
            w.u64(lock.start)?;
            w.u64(lock.length)?;
            w.u32(lock.proc_id)?;
            put_str(w, lock.client_id)
        }
        Request::Getlock { fid, lock } => {
            w.u32(fid)?;
            put_lock(w, &lock)
        }
        Request::Link { dfid, fid, name } => {
            w.u32(dfid)?;
            w.u32(fid)?;
            put_str(w, name)
        }
        Request::Mkdir {
            dfid,
            name,
            mode,
            gid,
        } => {
            w.u32(dfid)?;
            put_str(w, name)?;
            w.u32(mode)?;
            w.u32(gid)
        }
        Request::Renameat {
            olddirfid,
            oldname,
            newdirfid,
            newname,
        } => {
            w.u32(olddirfid)?;
            put_str(w, oldname)?;
            w.u32(newdirfid)?;
            put_str(w, newname)
        }
        Request::Unlinkat {
            dirfid,
            name,
            flags,
        } => {
            w.u32(dirfid)?;
            put_str(w, name)?;
            w.u32(flags)
        }
        Request::Write { fid, offset, data } => {
            w.u32(fid)?;
            w.u64(offset)?;
            put_data(w, data)
        }
    })
}

/// File attributes, the body of an `Rgetattr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Attr {
    /// Which fields are valid, [`getattr_mask`].
    pub valid: u64,
    /// The file's qid.
    pub qid: Qid,
    /// Mode, file type included.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u64,
    /// Device number (of a device file).
    pub rdev: u64,
    /// Size in bytes.
    pub size: u64,
    /// Preferred I/O size.
    pub blksize: u64,
    /// Allocated 512-byte blocks.
    pub blocks: u64,
    /// Access time, seconds.
    pub atime_sec: u64,
    /// Access time, nanoseconds.
    pub atime_nsec: u64,
    /// Modification time, seconds.
    pub mtime_sec: u64,
    /// Modification time, nanoseconds.
    pub mtime_nsec: u64,
    /// Change time, seconds.
    pub ctime_sec: u64,
    /// Change time, nanoseconds.
    pub ctime_nsec: u64,
    /// Birth time, seconds (reserved).
    pub btime_sec: u64,
    /// Birth time, nanoseconds (reserved).
    pub btime_nsec: u64,
    /// Generation number (reserved).
    pub gen: u64,
    /// Data version (reserved).
    pub data_version: u64,
}

/// File system status, the body of an `Rstatfs` (as `struct statfs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Statfs {
    /// File system type magic.
    pub ty: u32,
    /// Block size.
    pub bsize: u32,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks available to unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// File system id.
    pub fsid: u64,
    /// Longest name.
    pub namelen: u32,
}

/// A reply (R-message) to encode with [`encode_reply`]. Fixed-size replies,
/// or replies that borrow their variable part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `Rlerror`: the request failed.
    Lerror {
        /// Linux errno (positive).
        ecode: u32,
    },
    /// `Rversion`.
    Version {
        /// The negotiated message size.
        msize: u32,
        /// The version spoken (or `unknown`).
        version: &'a [u8],
    },
    /// `Rauth`.
    Auth {
        /// The authentication file's qid.
        aqid: Qid,
    },
    /// `Rattach`.
    Attach {
        /// The root's qid.
        qid: Qid,
    },
    /// `Rflush`.
    Flush,
    /// `Rwalk`: one qid per name walked ([`decode_reply`] refuses more than
    /// [`MAX_WALK`]).
    Walk {
        /// The qids.
        qids: &'a [Qid],
    },
    /// `Rlopen`.
    Lopen {
        /// The file's qid.
        qid: Qid,
        /// Largest I/O that is atomic (0: no promise).
        iounit: u32,
    },
    /// `Rlcreate`.
    Lcreate {
        /// The new file's qid.
        qid: Qid,
        /// Largest I/O that is atomic (0: no promise).
        iounit: u32,
    },
    /// `Rsymlink`.
    Symlink {
        /// The link's qid.
        qid: Qid,
    },
    /// `Rmknod`.
    Mknod {
        /// The new file's qid.
        qid: Qid,
    },
    /// `Rrename`.
    Rename,
    /// `Rreadlink`.
    Readlink {
        /// The link's target.
        target: &'a [u8],
    },
    /// `Rgetattr`.
    Getattr {
        /// The attributes.
        attr: Attr,
    },
    /// `Rsetattr`.
    Setattr,
    /// `Rxattrwalk`.
    Xattrwalk {
        /// Size of the attribute's value (or of the name list).
        size: u64,
    },
    /// `Rxattrcreate`.
    Xattrcreate,
    /// `Rfsync`.
    Fsync,
    /// `Rlock`.
    Lock {
        /// [`lock_status`].
        status: u8,
    },
    /// `Rgetlock` (`lock.flags` is not on the wire).
    Getlock {
        /// The conflicting lock, or the one asked about with type
        /// [`lock_type::UNLCK`] if none.
        lock: LockArgs<'a>,
    },
    /// `Rlink`.
    Link,
    /// `Rmkdir`.
    Mkdir {
        /// The new directory's qid.
        qid: Qid,
    },
    /// `Rrenameat`.
    Renameat,
    /// `Runlinkat`.
    Unlinkat,
    /// `Rstatfs`.
    Statfs {
        /// The status.
        st: Statfs,
    },
    /// `Rwrite`.
    Write {
        /// Bytes written.
        count: u32,
    },
    /// `Rclunk`.
    Clunk,
    /// `Rremove`.
    Remove,
    /// `Rread` with the data copied in (the server's hot path writes in place
    /// with [`finish_rread`] instead).
    Read {
        /// The data.
        data: &'a [u8],
    },
    /// `Rreaddir` with entries already encoded (see [`DirentWriter`],
    /// [`DirentReader`] and [`finish_rreaddir`]).
    Readdir {
        /// The encoded entries.
        data: &'a [u8],
    },
}

impl Reply<'_> {
    /// The message type number ([`msg`]).
    pub fn type_code(&self) -> u8 {
        match self {
            Reply::Lerror { .. } => msg::RLERROR,
            Reply::Version { .. } => msg::RVERSION,
            Reply::Auth { .. } => msg::RAUTH,
            Reply::Attach { .. } => msg::RATTACH,
            Reply::Flush => msg::RFLUSH,
            Reply::Walk { .. } => msg::RWALK,
            Reply::Lopen { .. } => msg::RLOPEN,
            Reply::Lcreate { .. } => msg::RLCREATE,
            Reply::Symlink { .. } => msg::RSYMLINK,
            Reply::Mknod { .. } => msg::RMKNOD,
            Reply::Rename => msg::RRENAME,
            Reply::Readlink { .. } => msg::RREADLINK,
            Reply::Getattr { .. } => msg::RGETATTR,
            Reply::Setattr => msg::RSETATTR,
            Reply::Xattrwalk { .. } => msg::RXATTRWALK,
            Reply::Xattrcreate => msg::RXATTRCREATE,
            Reply::Fsync => msg::RFSYNC,
            Reply::Lock { .. } => msg::RLOCK,
            Reply::Getlock { .. } => msg::RGETLOCK,
            Reply::Link => msg::RLINK,
            Reply::Mkdir { .. } => msg::RMKDIR,
            Reply::Renameat => msg::RRENAMEAT,
            Reply::Unlinkat => msg::RUNLINKAT,
            Reply::Statfs { .. } => msg::RSTATFS,
            Reply::Write { .. } => msg::RWRITE,
            Reply::Clunk => msg::RCLUNK,
            Reply::Remove => msg::RREMOVE,
            Reply::Read { .. } => msg::RREAD,
            Reply::Readdir { .. } => msg::RREADDIR,
        }
    }
}

/// Encodes a reply with its header; returns the length. `Truncated` if it
/// does not fit in `buf` (or a string is longer than `u16::MAX`, data longer
/// than `u32::MAX`, or more than `u16::MAX` qids).
pub fn encode_reply(buf: &mut [u8], tag: u16, reply: &Reply<'_>) -> Result<usize, Truncated> {
    message(buf, reply.type_code(), tag, |w| match *reply {
        Reply::Lerror { ecode } => w.u32(ecode),
        Reply::Version { msize, version } => {
            w.u32(msize)?;
            put_str(w, version)
        }
        Reply::Auth { aqid: qid }
        | Reply::Attach { qid }
        | Reply::Symlink { qid }
        | Reply::Mknod { qid }
        | Reply::Mkdir { qid } => put_qid(w, &qid),
        Reply::Walk { qids } => {
            w.u16(u16::try_from(qids.len()).map_err(|_| Truncated)?)?;
            qids.iter().try_for_each(|q| put_qid(w, q))
        }
        Reply::Lopen { qid, iounit } | Reply::Lcreate { qid, iounit } => {
            put_qid(w, &qid)?;
            w.u32(iounit)
        }
        Reply::Readlink { target } => put_str(w, target),
        Reply::Getattr { attr: a } => {
            w.u64(a.valid)?;
            put_qid(w, &a.qid)?;
            w.u32(a.mode)?;
            w.u32(a.uid)?;
            w.u32(a.gid)?;
            [
                a.nlink,
                a.rdev,
                a.size,
                a.blksize,
                a.blocks,
                a.atime_sec,
                a.atime_nsec,
                a.mtime_sec,
                a.mtime_nsec,
                a.ctime_sec,
                a.ctime_nsec,
                a.btime_sec,
                a.btime_nsec,
                a.gen,
                a.data_version,
            ]
            .iter()
            .try_for_each(|v| w.u64(*v))
        }
        Reply::Xattrwalk { size } => w.u64(size),
        Reply::Lock { status } => w.u8(status),
        Reply::Getlock { lock } => put_lock(w, &lock),
        Reply::Statfs { st } => {
            w.u32(st.ty)?;
            w.u32(st.bsize)?;
            w.u64(st.blocks)?;
            w.u64(st.bfree)?;
            w.u64(st.bavail)?;
            w.u64(st.files)?;
            w.u64(st.ffree)?;
            w.u64(st.fsid)?;
            w.u32(st.namelen)
        }
        Reply::Write { count } => w.u32(count),
        Reply::Read { data } | Reply::Readdir { data } => put_data(w, data),
        Reply::Flush
        | Reply::Rename
        | Reply::Setattr
        | Reply::Xattrcreate
        | Reply::Fsync
        | Reply::Link
        | Reply::Renameat
        | Reply::Unlinkat
        | Reply::Clunk
        | Reply::Remove => Ok(()),
    })
}

/// A decoded reply (host tools and tests). `Rwalk`'s qids cannot be
/// borrowed from the message as a `&[Qid]`, so it has its own variant with a
/// [`WalkQids`] view; every other reply is a [`Reply`] (never
/// [`Reply::Walk`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodedReply<'a> {
    /// `Rwalk`.
    Walk {
        /// The qids (at most [`MAX_WALK`]).
        qids: WalkQids<'a>,
    },
    /// Any other reply.
    Reply(Reply<'a>),
}

impl DecodedReply<'_> {
    /// The message type number ([`msg`]).
    pub fn type_code(&self) -> u8 {
        match self {
            DecodedReply::Walk { .. } => msg::RWALK,
            DecodedReply::Reply(r) => r.type_code(),
        }
    }
}

/// Decodes an R-message (host tools and tests): returns (tag, reply); the
/// type is [`DecodedReply::type_code`].
///
/// Errors as for [`decode_request`], except that any type that is not a
/// 9P2000.L reply is [`DecodeError::UnknownType`], and an `Rwalk` of more
/// than [`MAX_WALK`] qids is [`DecodeError::TooManyWalkNames`]. `Rread` and
/// `Rreaddir` data are returned as they are (see [`DirentReader`]).
pub fn decode_reply(buf: &[u8]) -> Result<(u16, DecodedReply<'_>), DecodeError> {
    let (ty, tag, mut r) = header(buf)?;
    let r = &mut r;
    let reply = match ty {
        msg::RLERROR => Reply::Lerror { ecode: r.u32()? },
        msg::RVERSION => Reply::Version {
            msize: r.u32()?,
            version: get_str(r)?,
        },
        msg::RAUTH => Reply::Auth { aqid: get_qid(r)? },
        msg::RATTACH => Reply::Attach { qid: get_qid(r)? },
        msg::RFLUSH => Reply::Flush,
        msg::RWALK => {
            let n = r.u16()?;
            if usize::from(n) > MAX_WALK {
                return Err(DecodeError::TooManyWalkNames(n));
            }
            let len = usize::from(n).checked_mul(QID_SIZE).ok_or(Truncated)?;
            let qids = WalkQids { raw: r.bytes(len)? };
            if !r.is_empty() {
                return Err(DecodeError::TrailingBytes);
            }
            return Ok((tag, DecodedReply::Walk { qids }));
        }
        msg::RLOPEN => Reply::Lopen {
            qid: get_qid(r)?,
            iounit: r.u32()?,
        },
        msg::RLCREATE => Reply::Lcreate {
            qid: get_qid(r)?,
            iounit: r.u32()?,
        },
        msg::RSYMLINK => Reply::Symlink { qid: get_qid(r)? },
        msg::RMKNOD => Reply::Mknod { qid: get_qid(r)? },
        msg::RRENAME => Reply::Rename,
        msg::RREADLINK => Reply::Readlink {
            target: get_str(r)?,
        },
        msg::RGETATTR => Reply::Getattr {
            attr: Attr {
                valid: r.u64()?,
                qid: get_qid(r)?,
                mode: r.u32()?,
                uid: r.u32()?,
                gid: r.u32()?,
                nlink: r.u64()?,
                rdev: r.u64()?,
                size: r.u64()?,
                blksize: r.u64()?,
                blocks: r.u64()?,
                atime_sec: r.u64()?,
                atime_nsec: r.u64()?,
                mtime_sec: r.u64()?,
                mtime_nsec: r.u64()?,
                ctime_sec: r.u64()?,
                ctime_nsec: r.u64()?,
                btime_sec: r.u64()?,
                btime_nsec: r.u64()?,
                gen: r.u64()?,
                data_version: r.u64()?,
            },
        },
        msg::RSETATTR => Reply::Setattr,
        msg::RXATTRWALK => Reply::Xattrwalk { size: r.u64()? },
        msg::RXATTRCREATE => Reply::Xattrcreate,
        msg::RFSYNC => Reply::Fsync,
        msg::RLOCK => Reply::Lock { status: r.u8()? },
        msg::RGETLOCK => Reply::Getlock { lock: get_lock(r)? },
        msg::RLINK => Reply::Link,
        msg::RMKDIR => Reply::Mkdir { qid: get_qid(r)? },
        msg::RRENAMEAT => Reply::Renameat,
        msg::RUNLINKAT => Reply::Unlinkat,
        msg::RSTATFS => Reply::Statfs {
            st: Statfs {
                ty: r.u32()?,
                bsize: r.u32()?,
                blocks: r.u64()?,
                bfree: r.u64()?,
                bavail: r.u64()?,
                files: r.u64()?,
                ffree: r.u64()?,
                fsid: r.u64()?,
                namelen: r.u32()?,
            },
        },
        msg::RWRITE => Reply::Write { count: r.u32()? },
        msg::RCLUNK => Reply::Clunk,
        msg::RREMOVE => Reply::Remove,
        msg::RREAD => Reply::Read { data: get_data(r)? },
        msg::RREADDIR => Reply::Readdir { data: get_data(r)? },
        _ => return Err(DecodeError::UnknownType(ty)),
    };
    if !r.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok((tag, DecodedReply::Reply(reply)))
}

/// Writes the header and `count[4]` of a reply whose `count` data bytes are
/// already at `buf[11..]`.
fn finish_data(buf: &mut [u8], ty: u8, tag: u16, count: u32) -> Result<usize, Truncated> {
    let total = usize::try_from(count)
        .ok()
        .and_then(|c| c.checked_add(RREAD_DATA_OFFSET))
        .ok_or(Truncated)?;
    if total > buf.len() {
        return Err(Truncated);
    }
    let size = u32::try_from(total).map_err(|_| Truncated)?;
    let mut w = Writer::new(buf);
    w.u32(size)?;
    w.u8(ty)?;
    w.u16(tag)?;
    w.u32(count)?;
    Ok(total)
}

/// Completes an `Rread` in place: the server has read `count` bytes of file
/// data into `buf[RREAD_DATA_OFFSET..]`; this writes the header and count in
/// front of them and returns the message's length. `Truncated` if `buf`
/// cannot hold `count` bytes of data (or the size overflows `u32`).
pub fn finish_rread(buf: &mut [u8], tag: u16, count: u32) -> Result<usize, Truncated> {
    finish_data(buf, msg::RREAD, tag, count)
}

/// Completes an `Rreaddir` in place: the server has written `count` bytes of
/// entries into `buf[RREADDIR_DATA_OFFSET..]` (with a [`DirentWriter`]);
/// this writes the header and count and returns the message's length.
/// `Truncated` if `buf` cannot hold `count` bytes of entries.
pub fn finish_rreaddir(buf: &mut [u8], tag: u16, count: u32) -> Result<usize, Truncated> {
    finish_data(buf, msg::RREADDIR, tag, count)
}

/// Size of a directory entry without its name: `qid[13] offset[8] type[1]
/// len[2]`.
pub const DIRENT_HEADER_SIZE: usize = QID_SIZE + 8 + 1 + 2;

/// Appends readdir entries (`qid[13] offset[8] type[1] name[s]`) into a
/// buffer region, the data area of an `Rreaddir`.
#[derive(Debug)]
pub struct DirentWriter<'a> {
    /// The data area being filled.
    buf: &'a mut [u8],
    /// Bytes of entries written.
    len: usize,
    /// Where the last entry pushed starts.
    last: Option<usize>,
}

impl<'a> DirentWriter<'a> {
    /// A writer filling `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            len: 0,
            last: None,
        }
    }

    /// Appends an entry: `qid`, the `offset` to resume reading after it,
    /// its `ty` (a `DT_*` value) and `name`. Returns false, writing nothing,
    /// if the entry does not fit (or the name is longer than `u16::MAX`).
    pub fn push(&mut self, qid: Qid, offset: u64, ty: u8, name: &[u8]) -> bool {
        let Some(need) = name.len().checked_add(DIRENT_HEADER_SIZE) else {
            return false;
        };
        let Ok(name_len) = u16::try_from(name.len()) else {
            return false;
        };
        let Some(room) = self.buf.get_mut(self.len..) else {
            return false;
        };
        if need > room.len() {
            return false;
        }
        let mut w = Writer::new(room);
        let written = put_qid(&mut w, &qid)
            .and_then(|()| w.u64(offset))
            .and_then(|()| w.u8(ty))
            .and_then(|()| w.u16(name_len))
            .and_then(|()| w.bytes(name));
        if written.is_err() {
            return false;
        }
        self.last = Some(self.len);
        // `need` fitted in what follows `len`: no overflow.
        self.len = self.len.saturating_add(need);
        true
    }

    /// Patches the offset of the last pushed entry (the server learns an
    /// entry's resume offset only when the next entry arrives, as getdents
    /// does). Does nothing if no entry was pushed.
    pub fn set_last_offset(&mut self, offset: u64) {
        let Some(at) = self.last.and_then(|l| l.checked_add(QID_SIZE)) else {
            return;
        };
        let Some(end) = at.checked_add(8) else {
            return;
        };
        if let Some(field) = self.buf.get_mut(at..end) {
            field.copy_from_slice(&offset.to_le_bytes());
        }
    }

    /// Bytes of entries written (the `count` of the `Rreaddir`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no entry has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes still free.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    /// The entries written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Parses `Rreaddir` data back (host tests): an iterator over
/// `(qid, offset, type, name)`. Malformed data yields one
/// `Err(DecodeError::Truncated)`, then the iteration ends.
#[derive(Clone, Debug)]
pub struct DirentReader<'a> {
    /// The entries not yet returned.
    r: Reader<'a>,
    /// An error was returned: the iteration is over.
    failed: bool,
}

impl<'a> DirentReader<'a> {
    /// A reader over the encoded entries `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            r: Reader::new(data),
            failed: false,
        }
    }

    /// Reads one entry.
    fn entry(&mut self) -> Result<(Qid, u64, u8, &'a [u8]), Truncated> {
        Ok((
            get_qid(&mut self.r)?,
            self.r.u64()?,
            self.r.u8()?,
            get_str(&mut self.r)?,
        ))
    }
}

impl<'a> Iterator for DirentReader<'a> {
    type Item = Result<(Qid, u64, u8, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.r.is_empty() {
            return None;
        }
        let entry = self.entry().map_err(DecodeError::from);
        self.failed = entry.is_err();
        Some(entry)
    }
}
