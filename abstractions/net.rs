// SPDX-License-Identifier: GPL-2.0

//! TCP sockets in the initial network namespace.
//!
//! C header: [`include/linux/net.h`](srctree/include/linux/net.h)

use crate::bindings;
use core::ptr::NonNull;
use kernel::{error::to_result, fmt, prelude::*};

/// An IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Addr([u8; 4]);

impl Ipv4Addr {
    /// `127.0.0.1`.
    pub const LOCALHOST: Self = Self::new(127, 0, 0, 1);
    /// `0.0.0.0`: every local address.
    pub const UNSPECIFIED: Self = Self::new(0, 0, 0, 0);

    /// Creates the address `a.b.c.d`.
    pub const fn new(a: u8, b: u8, c: u8, d: u8) -> Self {
        Self([a, b, c, d])
    }

    /// Creates an address from its 32-bit value (`127.0.0.1` is `0x7f000001`).
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits.to_be_bytes())
    }

    /// The four octets, most significant first.
    pub const fn octets(self) -> [u8; 4] {
        self.0
    }
}

impl fmt::Display for Ipv4Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

/// A TCP socket listening on an IPv4 address and port.
///
/// Dropping it shuts the socket down (waking any task blocked on it) and
/// releases it; the port is free again afterwards. A listener shared with
/// the task that accepts is stopped with [`TcpListener::shutdown`] first.
///
/// # Examples
///
/// ```ignore
/// use abstractions::net::{Ipv4Addr, TcpListener};
///
/// let listener = TcpListener::listen(Ipv4Addr::LOCALHOST, 5640, 16)?;
/// assert_eq!(listener.port(), 5640);
/// ```
///
/// # Invariants
///
/// `sock` points to a valid `struct socket` created by `sock_create_kern()`,
/// bound and listening, and owned by this object: nothing else releases it.
pub struct TcpListener {
    sock: NonNull<bindings::socket>,
    addr: Ipv4Addr,
    port: u16,
}

// SAFETY: The socket calls used here take the socket lock themselves, so the
// listener can be used and dropped from any thread.
unsafe impl Send for TcpListener {}
// SAFETY: See `Send`; no method takes `&self` to mutate Rust-side state.
unsafe impl Sync for TcpListener {}

impl TcpListener {
    /// Creates a TCP socket bound to `addr:port` and listening with room for
    /// `backlog` connections not yet accepted.
    ///
    /// Fails with `EADDRINUSE` if the port is taken, `EACCES` for a privileged
    /// port without the capability, and `EINVAL` for port 0.
    pub fn listen(addr: Ipv4Addr, port: u16, backlog: u32) -> Result<Self> {
        if port == 0 {
            return Err(EINVAL);
        }
        let backlog = i32::try_from(backlog).map_err(|_| EINVAL)?;
        let mut sock = core::ptr::null_mut();
        // SAFETY: `init_net` lives as long as the kernel; `sock` is a valid
        // place for the result.
        to_result(unsafe {
            bindings::sock_create_kern(
                &raw mut bindings::init_net,
                bindings::AF_INET as i32,
                bindings::sock_type_SOCK_STREAM as i32,
                bindings::IPPROTO_TCP as i32,
                &mut sock,
            )
        })?;
        // INVARIANT: `sock_create_kern()` succeeded, so `sock` is a valid
        // socket that we own; it is bound and listening once this function
        // returns `Ok`, and released by `Drop` on the error paths below.
        let this = Self {
            sock: NonNull::new(sock).ok_or(ENOMEM)?,
            addr,
            port,
        };

        // SAFETY: `this.sock` is valid by the type invariant, and a socket
        // fresh from `sock_create_kern()` has its `sk`.
        unsafe { bindings::sock_set_reuseaddr((*this.sock.as_ptr()).sk) };
        // Like every server: a restart must not wait for the TIME_WAIT
        // connections of the previous instance to expire.

        let sa = bindings::sockaddr_in {
            sin_family: bindings::AF_INET as u16,
            sin_port: port.to_be(),
            sin_addr: bindings::in_addr {
                s_addr: u32::from_be_bytes(addr.0).to_be(),
            },
            ..Default::default()
        };
        // SAFETY: `this.sock` is valid by the type invariant; `sa` is a
        // `sockaddr_in` that outlives the call, and its size is passed with it.
        to_result(unsafe {
            bindings::kernel_bind(
                this.sock.as_ptr(),
                core::ptr::from_ref(&sa).cast_mut().cast(),
                core::mem::size_of_val(&sa) as i32,
            )
        })?;
        // SAFETY: `this.sock` is valid by the type invariant.
        to_result(unsafe { bindings::kernel_listen(this.sock.as_ptr(), backlog) })?;
        Ok(this)
    }

    /// The local address the socket listens on.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The local port the socket listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for a connection and returns it, with Nagle's algorithm off
    /// (`TCP_NODELAY`), as request/response protocols want. Fails once [`Self::shutdown`]
    /// has been called (with `EINVAL`), or if interrupted.
    pub fn accept(&self) -> Result<TcpStream> {
        let mut sock = core::ptr::null_mut();
        // SAFETY: `self.sock` is valid by the type invariant; `sock` is a
        // valid place for the result.
        to_result(unsafe { bindings::kernel_accept(self.sock.as_ptr(), &mut sock, 0) })?;
        // INVARIANT: kernel_accept() succeeded: `sock` is a connected socket
        // that is ours.
        let stream = TcpStream {
            sock: NonNull::new(sock).ok_or(ENOMEM)?,
        };
        // SAFETY: The socket is valid (type invariant) and, accepted, has
        // its `sk`.
        unsafe { bindings::tcp_sock_set_nodelay((*stream.sock.as_ptr()).sk) };
        // Request/response protocols: a reply must not wait for the ACK of
        // the previous one (Nagle).
        Ok(stream)
    }

    /// Stops listening: a task blocked in [`Self::accept`] returns with an
    /// error, and so does every later call.
    pub fn shutdown(&self) {
        // SAFETY: `self.sock` is valid by the type invariant. An error only
        // means there was nothing to shut down.
        let _ = unsafe {
            bindings::kernel_sock_shutdown(
                self.sock.as_ptr(),
                bindings::sock_shutdown_cmd_SHUT_RDWR,
            )
        };
    }
}

/// A connected TCP socket.
///
/// Receiving, sending and [`Self::shutdown`] may run on different threads at
/// once (the socket serialises them itself); two tasks sending at once
/// interleave their bytes, so a protocol serialises its messages.
///
/// # Invariants
///
/// `sock` points to a valid connected `struct socket` owned by this object.
pub struct TcpStream {
    sock: NonNull<bindings::socket>,
}

// SAFETY: The socket calls used here take the socket lock themselves.
unsafe impl Send for TcpStream {}
// SAFETY: See `Send`.
unsafe impl Sync for TcpStream {}

impl TcpStream {
    /// Receives into `buf`, up to its length; `Ok(0)` is the end of the
    /// stream (or a shutdown).
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        let mut vec = bindings::kvec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg = bindings::msghdr::default();
        // SAFETY: `self.sock` is valid by the type invariant; `vec` describes
        // `buf`, which is writable and outlives the call.
        let n = unsafe {
            bindings::kernel_recvmsg(self.sock.as_ptr(), &mut msg, &mut vec, 1, buf.len(), 0)
        };
        to_result(n)?;
        Ok(n as usize)
    }

    /// Fills `buf` completely. A stream that ends first is `ECONNRESET`.
    pub fn recv_exact(&self, buf: &mut [u8]) -> Result {
        let mut done = 0;
        while done < buf.len() {
            match self.recv(&mut buf[done..])? {
                0 => return Err(ECONNRESET),
                n => done += n,
            }
        }
        Ok(())
    }

    /// Sends all of `buf`, however many partial sends it takes. With a send
    /// timeout ([`Self::set_send_timeout`]) it fails with `EAGAIN` when the
    /// peer takes nothing for that long.
    pub fn send_all(&self, buf: &[u8]) -> Result {
        let mut done = 0;
        while done < buf.len() {
            let rest = &buf[done..];
            let mut vec = bindings::kvec {
                iov_base: rest.as_ptr().cast_mut().cast(),
                iov_len: rest.len(),
            };
            let mut msg = bindings::msghdr {
                msg_flags: bindings::MSG_NOSIGNAL,
                ..Default::default()
            };
            // SAFETY: `self.sock` is valid by the type invariant; `vec`
            // describes `rest`, which the call only reads.
            let n = unsafe {
                bindings::kernel_sendmsg(self.sock.as_ptr(), &mut msg, &mut vec, 1, rest.len())
            };
            to_result(n)?;
            if n == 0 {
                return Err(EPIPE);
            }
            done += n as usize;
        }
        Ok(())
    }

    /// Bounds how long one send may wait for the peer to make room
    /// (`SO_SNDTIMEO`): [`Self::send_all`] fails with `EAGAIN` once the peer
    /// has taken none of the data for `secs` seconds. Without it a peer that
    /// stops reading holds the sender forever.
    pub fn set_send_timeout(&self, secs: u32) {
        // SAFETY: `self.sock` is valid by the type invariant and, connected,
        // has its `sk`; the field is written with `WRITE_ONCE()`, which
        // senders read without the socket lock.
        unsafe { bindings::sock_set_sndtimeo((*self.sock.as_ptr()).sk, i64::from(secs)) };
    }

    /// Shuts the connection down both ways: blocked receives return `Ok(0)`
    /// and sends fail, on every thread.
    pub fn shutdown(&self) {
        // SAFETY: `self.sock` is valid by the type invariant. An error only
        // means the connection was already down.
        let _ = unsafe {
            bindings::kernel_sock_shutdown(
                self.sock.as_ptr(),
                bindings::sock_shutdown_cmd_SHUT_RDWR,
            )
        };
    }

    /// The peer's IPv4 address and port, for log lines.
    pub fn peer(&self) -> Option<(Ipv4Addr, u16)> {
        let mut sa = bindings::sockaddr_in::default();
        // SAFETY: `self.sock` is valid by the type invariant; `sa` is a
        // writable `sockaddr_in`, as large as any AF_INET address.
        let n = unsafe {
            bindings::kernel_getpeername(self.sock.as_ptr(), core::ptr::from_mut(&mut sa).cast())
        };
        if n < 0 || sa.sin_family != bindings::AF_INET as u16 {
            return None;
        }
        Some((
            Ipv4Addr(u32::from_be(sa.sin_addr.s_addr).to_be_bytes()),
            u16::from_be(sa.sin_port),
        ))
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        // SAFETY: `self.sock` is valid and owned by the type invariant; it
        // is not used after being released here.
        unsafe { bindings::sock_release(self.sock.as_ptr()) };
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        // SAFETY: `self.sock` is valid and owned by the type invariant; it is
        // not used after being released here.
        unsafe {
            // Wakes anyone blocked in accept() before the socket goes away;
            // an error only means there was nothing to shut down.
            let _ = bindings::kernel_sock_shutdown(
                self.sock.as_ptr(),
                bindings::sock_shutdown_cmd_SHUT_RDWR,
            );
            bindings::sock_release(self.sock.as_ptr());
        }
    }
}
