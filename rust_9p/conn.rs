// SPDX-License-Identifier: GPL-2.0

//! One client connection: its receive loop, its requests in flight, its
//! fids, and the replies it sends.

use crate::{
    fid::FidTable,
    log_allowed, ops,
    proto::{self, msg, HEADER_SIZE},
    Server,
};
use abstractions::{cred::UserCred, net::TcpStream};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Arc, CondVar, Mutex,
    },
};

/// Requests of one connection that run at once; the receive loop waits
/// for one to finish before reading the next message. With `msize` this
/// bounds the memory of a connection: about 2 × MAX_INFLIGHT × msize.
const MAX_INFLIGHT: usize = 16;

/// Most distinct users attached through one connection.
const MAX_USERS: usize = 256;

/// The msize before Tversion: enough for the Tversion itself.
const MSIZE_INITIAL: u32 = 8192;

/// A client that takes none of a reply for this long is gone or hostile:
/// the connection ends, so that no request waits on it forever. A send that
/// made some progress before the client stopped returns short at the
/// timeout and the next one times out in turn: a stalled client is found
/// within twice this.
const SEND_TIMEOUT_SECS: u32 = 40;

struct ConnState {
    /// The negotiated msize (MSIZE_INITIAL until Tversion).
    msize: u32,
    versioned: bool,
    /// Tags of the requests in flight.
    inflight: KVec<u16>,
    /// A reply is being sent: one at a time, whole.
    sending: bool,
}

/// The turn to send on a connection, held while one reply goes out.
struct SendTurn<'a>(&'a Conn);

impl Drop for SendTurn<'_> {
    fn drop(&mut self) {
        self.0.state.lock().sending = false;
        self.0.done.notify_all();
    }
}

#[pin_data]
pub(crate) struct Conn {
    pub(crate) server: Arc<Server>,
    stream: TcpStream,
    #[pin]
    state: Mutex<ConnState>,
    /// Signalled when a request finishes or a reply has been sent.
    #[pin]
    done: CondVar,
    #[pin]
    pub(crate) fids: Mutex<FidTable>,
    #[pin]
    users: Mutex<KVec<Arc<UserCred>>>,
}

impl Conn {
    pub(crate) fn new(server: Arc<Server>, stream: TcpStream) -> Result<Arc<Self>> {
        stream.set_send_timeout(SEND_TIMEOUT_SECS);
        Arc::pin_init(
            pin_init!(Self {
                server,
                stream,
                state <- new_mutex!(ConnState {
                    msize: MSIZE_INITIAL,
                    versioned: false,
                    inflight: KVec::new(),
                    sending: false,
                }),
                done <- new_condvar!(),
                fids <- new_mutex!(FidTable::new()),
                users <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )
    }

    /// Ends the connection: the receive loop sees the end of the stream.
    pub(crate) fn shutdown(&self) {
        self.stream.shutdown();
    }

    /// The negotiated msize.
    pub(crate) fn msize(&self) -> u32 {
        self.state.lock().msize
    }

    /// The credentials of `uid`, shared by all fids of that user.
    pub(crate) fn user(&self, uid: u32) -> Result<Arc<UserCred>> {
        let mut users = self.users.lock();
        if let Some(u) = users.iter().find(|u| u.uid() == uid) {
            return Ok(u.clone());
        }
        if users.len() >= MAX_USERS {
            return Err(EUSERS);
        }
        // No user database in the kernel: the group is the user's own
        // (user private groups); creating requests carry their group.
        let u = Arc::new(UserCred::new(uid, uid)?, GFP_KERNEL)?;
        users.push(u.clone(), GFP_KERNEL)?;
        Ok(u)
    }

    /// Sleeps until `done` is signalled. These waits last as long as the
    /// client takes to read replies, so they are not uninterruptible (the
    /// hung-task detector would report a slow client as a kernel bug); a
    /// workqueue worker has no signals, so this is a plain sleep.
    fn wait(&self, st: &mut Guard<'_, ConnState, MutexBackend>) {
        let _ = self.done.wait_interruptible(st);
    }

    /// Waits for the turn to send; frees `tag` (if any) in the same step,
    /// so that its reply goes out before anything that waited for the tag
    /// (a Tflush's Rflush) and the client, which may reuse the tag once it
    /// has the reply, never finds it still in flight.
    fn send_turn(&self, tag: Option<u16>) -> SendTurn<'_> {
        let mut st = self.state.lock();
        while st.sending {
            self.wait(&mut st);
        }
        st.sending = true;
        if let Some(tag) = tag {
            if let Some(i) = st.inflight.iter().position(|&t| t == tag) {
                let _ = st.inflight.remove(i);
            }
        }
        drop(st);
        self.done.notify_all();
        SendTurn(self)
    }

    /// Sends one reply, whole; a failure ends the connection.
    fn send(&self, turn: SendTurn<'_>, reply: &[u8]) {
        match self.stream.send_all(reply) {
            Ok(()) => {}
            Err(e) => {
                if e == EAGAIN && log_allowed() {
                    if let Some((a, p)) = self.stream.peer() {
                        pr_warn!(
                            "closing connection from {}:{}: no reply taken for {} s\n",
                            a,
                            p,
                            SEND_TIMEOUT_SECS
                        );
                    }
                }
                self.stream.shutdown();
            }
        }
        drop(turn);
    }

    pub(crate) fn receive_loop(self: Arc<Self>) {
        if let Err(e) = self.receive() {
            if e != ECONNRESET && log_allowed() {
                if let Some((a, p)) = self.stream.peer() {
                    pr_warn!("closing connection from {}:{}: {:?}\n", a, p, e);
                }
            }
        }
        self.stream.shutdown();
        {
            let mut st = self.state.lock();
            while !st.inflight.is_empty() {
                self.wait(&mut st);
            }
        }
        // Closes files and drops path references (and the POSIX locks the
        // client held) now, not when the last Arc goes.
        let fids = self.fids.lock().take_all();
        drop(fids);
        self.server.forget(&self);
    }

    /// Reads messages until the stream ends or the client breaks the
    /// protocol (then the error says how).
    fn receive(self: &Arc<Self>) -> Result {
        loop {
            let mut hdr = [0u8; 4];
            self.stream.recv_exact(&mut hdr)?;
            let size = proto::message_size(&hdr);
            {
                let mut st = self.state.lock();
                if (size as usize) < HEADER_SIZE || size > st.msize {
                    if log_allowed() {
                        pr_warn!("message of {} bytes (msize {})\n", size, st.msize);
                    }
                    return Err(EMSGSIZE);
                }
                while st.inflight.len() >= MAX_INFLIGHT {
                    self.wait(&mut st);
                }
            }
            let mut buf = KVVec::with_capacity(size as usize, GFP_KERNEL)?;
            buf.extend_from_slice(&hdr, GFP_KERNEL)?;
            buf.resize(size as usize, 0, GFP_KERNEL)?;
            self.stream.recv_exact(&mut buf[4..])?;
            let ty = buf[4];
            let tag = u16::from_le_bytes([buf[5], buf[6]]);

            if ty == msg::TVERSION {
                // Tversion starts a new session: nothing else may be in
                // flight while it resets the fids.
                let mut st = self.state.lock();
                while !st.inflight.is_empty() {
                    self.wait(&mut st);
                }
                drop(st);
                let (reply, msize) = ops::version(&buf, self.server.msize_max);
                drop(self.fids.lock().take_all());
                if let Some(msize) = msize {
                    let mut st = self.state.lock();
                    st.msize = msize;
                    st.versioned = true;
                }
                let reply = reply?;
                self.send(self.send_turn(None), &reply);
                continue;
            }
            {
                let mut st = self.state.lock();
                if !st.versioned {
                    drop(st);
                    let reply = ops::error_reply(tag, EPROTO)?;
                    self.send(self.send_turn(None), &reply);
                    continue;
                }
                if st.inflight.contains(&tag) {
                    if log_allowed() {
                        pr_warn!("tag {} reused while in flight\n", tag);
                    }
                    return Err(EPROTO);
                }
                st.inflight.push(tag, GFP_KERNEL)?;
            }
            if ty == msg::TFLUSH {
                // Tflush waits for the request it flushes. It waits here,
                // not in a worker, so that no request on the per-CPU queue
                // ever waits for another held back behind it there. The
                // wait is as long as one request; the requests in flight
                // go on meanwhile.
                self.clone().run(buf);
                continue;
            }
            let c = self.clone();
            if let Err(e) = self
                .server
                .requests
                .try_spawn(GFP_KERNEL, move || c.run(buf))
            {
                self.finish(tag);
                return Err(e.into());
            }
        }
    }

    /// Runs one request and sends its reply.
    fn run(self: Arc<Self>, buf: KVVec<u8>) {
        let tag = u16::from_le_bytes([buf[5], buf[6]]);
        let reply = ops::handle(&self, &buf);
        drop(buf);
        match reply {
            Ok(r) => self.send(self.send_turn(Some(tag)), &r),
            // No memory even for the reply: the client would wait forever.
            Err(_) => {
                self.stream.shutdown();
                self.finish(tag);
            }
        }
    }

    fn finish(&self, tag: u16) {
        let mut st = self.state.lock();
        if let Some(i) = st.inflight.iter().position(|&t| t == tag) {
            let _ = st.inflight.remove(i);
        }
        drop(st);
        self.done.notify_all();
    }

    /// Waits until the request with `tag` has sent its reply (Tflush).
    pub(crate) fn wait_for(&self, tag: u16) {
        let mut st = self.state.lock();
        while st.inflight.contains(&tag) {
            self.wait(&mut st);
        }
    }
}
