// SPDX-License-Identifier: GPL-2.0

//! A synchronous 9P2000.L client: one request in flight at a time, each
//! reply read as `size[4]` then the rest, with a read timeout.

use p9::proto::{
    self, msg, open_flags, Attr, DecodedReply, Qid, Reply, Request, WalkNames, HEADER_SIZE, NOFID,
    NOTAG, VERSION_9P2000L,
};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

/// The msize asked for in Tversion.
pub const MSIZE: u32 = 65536;

/// "No numeric uid / gid given".
pub const NONUNAME: u32 = u32::MAX;

/// How an exchange went wrong.
#[derive(Debug)]
pub enum Error {
    /// The server closed the connection (end of stream or reset).
    Closed,
    /// No (whole) reply within the read timeout.
    Timeout,
    /// The server answered Rlerror with this errno.
    Lerror(u32),
    /// A well-formed reply, but not the one the request calls for.
    Unexpected(String),
    /// A reply whose framing or contents are invalid.
    BadReply(String),
    /// Any other I/O error.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => write!(f, "connection closed by the server"),
            Error::Timeout => write!(f, "no reply within the timeout (hang)"),
            Error::Lerror(e) => write!(f, "Rlerror {}", errno_name(*e)),
            Error::Unexpected(s) => write!(f, "unexpected reply: {s}"),
            Error::BadReply(s) => write!(f, "invalid reply: {s}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

/// Maps an I/O error of the stream to [`Error`].
fn io_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout,
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Error::Closed,
        _ => Error::Io(e),
    }
}

/// `ENOENT(2)` and the like, for messages.
pub fn errno_name(e: u32) -> String {
    let name = match e {
        1 => "EPERM",
        2 => "ENOENT",
        5 => "EIO",
        7 => "E2BIG",
        9 => "EBADF",
        12 => "ENOMEM",
        13 => "EACCES",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        30 => "EROFS",
        36 => "ENAMETOOLONG",
        38 => "ENOSYS",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        61 => "ENODATA",
        71 => "EPROTO",
        74 => "EBADMSG",
        75 => "EOVERFLOW",
        90 => "EMSGSIZE",
        95 => "EOPNOTSUPP",
        _ => "errno",
    };
    format!("{name}({e})")
}

pub use p9::proto::is_request_type;

/// Checks a reply frame (`size[4]` included) against the request it answers
/// (type and tag from its header): it decodes, carries the request's tag, and
/// is the request's R-type or Rlerror (only Rlerror for a type that is not a
/// request).
pub fn check_reply(frame: &[u8], req_ty: u8, req_tag: u16) -> Result<(), String> {
    let (tag, d) = proto::decode_reply(frame).map_err(|e| format!("{e:?}"))?;
    if tag != req_tag {
        return Err(format!("tag {tag}, request's tag {req_tag}"));
    }
    let ty = d.type_code();
    let ok = ty == msg::RLERROR || (is_request_type(req_ty) && ty == req_ty.wrapping_add(1));
    if !ok {
        return Err(format!("type {ty} in reply to type {req_ty}"));
    }
    Ok(())
}

/// One decoded and checked reply, kept as its bytes.
pub struct RawReply(Vec<u8>);

impl RawReply {
    /// The decoded reply (checked when received).
    pub fn decoded(&self) -> DecodedReply<'_> {
        match proto::decode_reply(&self.0) {
            Ok((_, d)) => d,
            Err(_) => unreachable!("replies are decoded when received"),
        }
    }

    /// The errno of an Rlerror.
    pub fn ecode(&self) -> Option<u32> {
        match self.decoded() {
            DecodedReply::Reply(Reply::Lerror { ecode }) => Some(ecode),
            _ => None,
        }
    }

    /// A short description: "Rlerror ENOENT(2)", "Rwalk 2 qids", "type 13".
    pub fn describe(&self) -> String {
        match self.decoded() {
            DecodedReply::Reply(Reply::Lerror { ecode }) => {
                format!("Rlerror {}", errno_name(ecode))
            }
            DecodedReply::Walk { qids } => format!("Rwalk {} qids", qids.len()),
            d => format!("R-message type {}", d.type_code()),
        }
    }
}

/// Encodes walk names.
pub fn walk_names<'a>(buf: &'a mut Vec<u8>, names: &[&[u8]]) -> WalkNames<'a> {
    let len: usize = names.iter().map(|n| n.len() + 2).sum();
    buf.clear();
    buf.resize(len, 0);
    match WalkNames::build(buf, names) {
        Ok(w) => w,
        Err(_) => unreachable!("the buffer is sized for the names"),
    }
}

/// The aname of Tattach: "" (rust_9p serves its one export whatever the
/// aname), or `$P9HOSTILE_ANAME` (diod wants the export's path).
pub fn aname() -> &'static str {
    static ANAME: OnceLock<String> = OnceLock::new();
    ANAME.get_or_init(|| std::env::var("P9HOSTILE_ANAME").unwrap_or_default())
}

/// A connection to the server.
pub struct Client {
    stream: TcpStream,
    out: Vec<u8>,
    tag: u16,
    /// The negotiated msize (what we asked for until Rversion).
    pub msize: u32,
}

impl Client {
    /// Connects (TCP_NODELAY, `timeout` for connecting and for each reply).
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client {
            stream,
            out: vec![0; MSIZE as usize + 4096],
            tag: 0,
            msize: MSIZE,
        })
    }

    /// The next tag (never NOTAG).
    pub fn next_tag(&mut self) -> u16 {
        self.tag = if self.tag >= NOTAG - 1 {
            1
        } else {
            self.tag + 1
        };
        self.tag
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.stream.write_all(bytes).map_err(io_error)
    }

    /// Reads one frame: `size[4]` (at least 7, at most the msize), then the
    /// rest. Not decoded.
    pub fn recv_frame(&mut self) -> Result<Vec<u8>, Error> {
        let mut hdr = [0u8; 4];
        self.stream.read_exact(&mut hdr).map_err(io_error)?;
        let size = proto::message_size(&hdr);
        if (size as usize) < HEADER_SIZE || size > self.msize {
            return Err(Error::BadReply(format!("reply size field {size}")));
        }
        let mut buf = vec![0u8; size as usize];
        buf[..4].copy_from_slice(&hdr);
        self.stream.read_exact(&mut buf[4..]).map_err(io_error)?;
        Ok(buf)
    }

    /// Sends `req` and returns its reply, checked (Rlerror included: see
    /// [`Client::call`]).
    pub fn rpc(&mut self, req: &Request<'_>) -> Result<RawReply, Error> {
        let tag = if matches!(req, Request::Version { .. }) {
            NOTAG
        } else {
            self.next_tag()
        };
        let mut out = std::mem::take(&mut self.out);
        let sent = match proto::encode_request(&mut out, tag, req) {
            Ok(n) => self.send_raw(&out[..n]),
            Err(_) => Err(Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "request does not fit in a message",
            ))),
        };
        self.out = out;
        sent?;
        let frame = self.recv_frame()?;
        check_reply(&frame, req.type_code(), tag).map_err(Error::BadReply)?;
        Ok(RawReply(frame))
    }

    /// Like [`Client::rpc`], with Rlerror as `Err(Error::Lerror)`.
    pub fn call(&mut self, req: &Request<'_>) -> Result<RawReply, Error> {
        let r = self.rpc(req)?;
        match r.ecode() {
            Some(e) => Err(Error::Lerror(e)),
            None => Ok(r),
        }
    }

    /// Tversion MSIZE "9P2000.L"; records the negotiated msize.
    pub fn version(&mut self) -> Result<(), Error> {
        let r = self.call(&Request::Version {
            msize: MSIZE,
            version: VERSION_9P2000L,
        })?;
        match r.decoded() {
            DecodedReply::Reply(Reply::Version { msize, version })
                if version == VERSION_9P2000L =>
            {
                if !(4096..=MSIZE).contains(&msize) {
                    return Err(Error::Unexpected(format!("Rversion msize {msize}")));
                }
                self.msize = msize;
                Ok(())
            }
            _ => Err(Error::Unexpected(r.describe())),
        }
    }

    /// Tattach fid afid=NOFID uname="root" aname=[`aname`] n_uname=0: the
    /// root's qid.
    pub fn attach(&mut self, fid: u32) -> Result<Qid, Error> {
        let r = self.call(&Request::Attach {
            fid,
            afid: NOFID,
            uname: b"root",
            aname: aname().as_bytes(),
            n_uname: 0,
        })?;
        match r.decoded() {
            DecodedReply::Reply(Reply::Attach { qid }) => Ok(qid),
            _ => Err(Error::Unexpected(r.describe())),
        }
    }

    /// Twalk: the qids (fewer than the names for a partial walk, which
    /// makes no new fid).
    pub fn walk(&mut self, fid: u32, newfid: u32, names: &[&[u8]]) -> Result<Vec<Qid>, Error> {
        let mut nb = Vec::new();
        let names = walk_names(&mut nb, names);
        let r = self.call(&Request::Walk { fid, newfid, names })?;
        match r.decoded() {
            DecodedReply::Walk { qids } => Ok(qids.iter().collect()),
            _ => Err(Error::Unexpected(r.describe())),
        }
    }

    /// Tlopen.
    pub fn lopen(&mut self, fid: u32, flags: u32) -> Result<Qid, Error> {
        let r = self.call(&Request::Lopen { fid, flags })?;
        match r.decoded() {
            DecodedReply::Reply(Reply::Lopen { qid, .. }) => Ok(qid),
            _ => Err(Error::Unexpected(r.describe())),
        }
    }

    /// Tread.
    pub fn read(&mut self, fid: u32, offset: u64, count: u32) -> Result<Vec<u8>, Error> {
        let r = self.call(&Request::Read { fid, offset, count })?;
        match r.decoded() {
            DecodedReply::Reply(Reply::Read { data }) => Ok(data.to_vec()),
            _ => Err(Error::Unexpected(r.describe())),
        }
    }

    /// Treadlink.
    pub fn readlink(&mut self, fid: u32) -> Result<Vec<u8>, Error> {
        let r = self.call(&Request::Readlink { fid })?;
        match r.decoded() {
            DecodedReply::Reply(Reply::Readlink { target }) => Ok(target.to_vec()),
            _ => Err(Error::Unexpected(r.describe())),
        }
    }

    /// Tgetattr of the basic fields.
    pub fn getattr(&mut self, fid: u32) -> Result<Attr, Error> {
        let r = self.call(&Request::Getattr {
            fid,
            request_mask: proto::getattr_mask::BASIC,
        })?;
        match r.decoded() {
            DecodedReply::Reply(Reply::Getattr { attr }) => Ok(attr),
            _ => Err(Error::Unexpected(r.describe())),
        }
    }

    /// Shrinks the socket's receive buffer to about `bytes` (`SO_RCVBUF`,
    /// which also stops the kernel from growing it): what a client that
    /// does not read can hold is then small and known.
    pub fn set_recv_buffer(&self, bytes: u32) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let v = bytes as libc::c_int;
        // SAFETY: A valid socket descriptor and an int option value of the
        // size given.
        let r = unsafe {
            libc::setsockopt(
                self.stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The connection itself, for reading what the server sends as bytes.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    /// Tclunk.
    pub fn clunk(&mut self, fid: u32) -> Result<(), Error> {
        self.call(&Request::Clunk { fid }).map(|_| ())
    }

    /// Tversion, Tattach of fid 0, walk ["file"] to fid 1, getattr, clunk:
    /// the server works. The error names the step.
    pub fn smoke(&mut self) -> Result<(), String> {
        self.version().map_err(|e| format!("Tversion: {e}"))?;
        self.attach(0).map_err(|e| format!("Tattach: {e}"))?;
        let q = self
            .walk(0, 1, &[b"file"])
            .map_err(|e| format!("Twalk [\"file\"]: {e}"))?;
        if q.len() != 1 {
            return Err(format!("Twalk [\"file\"]: {} qids", q.len()));
        }
        self.getattr(1).map_err(|e| format!("Tgetattr: {e}"))?;
        self.clunk(1).map_err(|e| format!("Tclunk: {e}"))
    }
}

/// Parses `ADDR:PORT` (numeric: no name service in a static binary).
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| format!("bad address {s:?}: give a numeric IP:PORT"))
}

/// O_RDONLY, for readability.
pub const O_RDONLY: u32 = open_flags::RDONLY;
