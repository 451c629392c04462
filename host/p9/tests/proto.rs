// SPDX-License-Identifier: GPL-2.0

//! Tests of `rust_9p/proto.rs`: every request and reply round trips, a few
//! messages against hand-written bytes, and the decoders' errors.

use p9::proto::*;
use p9::wire::Truncated;

const BUF: usize = 1 << 17;

fn qid(n: u8) -> Qid {
    Qid {
        ty: qid_type::DIR | n,
        version: 0x0102_0304 + u32::from(n),
        path: 0x1122_3344_5566_7788 + u64::from(n),
    }
}

fn encode_req(tag: u16, req: &Request<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; BUF];
    let n = encode_request(&mut buf, tag, req).expect("request fits");
    buf.truncate(n);
    buf
}

fn encode_rep(tag: u16, reply: &Reply<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; BUF];
    let n = encode_reply(&mut buf, tag, reply).expect("reply fits");
    buf.truncate(n);
    buf
}

/// `msg` with its size field set to its length.
fn with_size(mut msg: Vec<u8>) -> Vec<u8> {
    let len = u32::try_from(msg.len()).unwrap();
    if msg.len() >= 4 {
        msg[..4].copy_from_slice(&len.to_le_bytes());
    }
    msg
}

/// Every way of damaging a valid message that a decoder must refuse.
fn check_damage(msg: &[u8], decode: impl Fn(&[u8]) -> Result<(), DecodeError>) {
    for len in 0..msg.len() {
        let prefix = &msg[..len];
        if len < HEADER_SIZE {
            assert_eq!(
                decode(prefix).unwrap_err(),
                DecodeError::Truncated,
                "len {len}"
            );
        } else {
            // The size field still says the whole message.
            assert_eq!(
                decode(prefix).unwrap_err(),
                DecodeError::SizeMismatch,
                "len {len}"
            );
            // A consistent size: the fields run past the end.
            let fixed = with_size(prefix.to_vec());
            assert_eq!(
                decode(&fixed).unwrap_err(),
                DecodeError::Truncated,
                "len {len}"
            );
        }
    }
    // One byte more, size adjusted: trailing bytes.
    let mut longer = msg.to_vec();
    longer.push(0);
    assert_eq!(decode(&longer).unwrap_err(), DecodeError::SizeMismatch);
    let longer = with_size(longer);
    assert_eq!(decode(&longer).unwrap_err(), DecodeError::TrailingBytes);
    // A size field off by one either way.
    for delta in [-1i64, 1] {
        let mut bad = msg.to_vec();
        let size = i64::from(message_size(&bad[..4].try_into().unwrap())) + delta;
        bad[..4].copy_from_slice(&u32::try_from(size).unwrap().to_le_bytes());
        assert_eq!(decode(&bad).unwrap_err(), DecodeError::SizeMismatch);
    }
}

/// Encoding into every smaller buffer fails without panicking.
fn check_short_buffers(len: usize, encode: impl Fn(&mut [u8]) -> Result<usize, Truncated>) {
    let mut buf = vec![0u8; len];
    assert_eq!(encode(&mut buf), Ok(len));
    for short in 0..len {
        let mut buf = vec![0u8; short];
        assert_eq!(encode(&mut buf), Err(Truncated), "buffer of {short}");
    }
}

const T_TYPES: [u8; 28] = [
    msg::TSTATFS,
    msg::TLOPEN,
    msg::TLCREATE,
    msg::TSYMLINK,
    msg::TMKNOD,
    msg::TRENAME,
    msg::TREADLINK,
    msg::TGETATTR,
    msg::TSETATTR,
    msg::TXATTRWALK,
    msg::TXATTRCREATE,
    msg::TREADDIR,
    msg::TFSYNC,
    msg::TLOCK,
    msg::TGETLOCK,
    msg::TLINK,
    msg::TMKDIR,
    msg::TRENAMEAT,
    msg::TUNLINKAT,
    msg::TVERSION,
    msg::TAUTH,
    msg::TATTACH,
    msg::TFLUSH,
    msg::TWALK,
    msg::TREAD,
    msg::TWRITE,
    msg::TCLUNK,
    msg::TREMOVE,
];

fn all_requests<'a>(names: WalkNames<'a>, data: &'a [u8]) -> Vec<Request<'a>> {
    let lock = LockArgs {
        ty: lock_type::WRLCK,
        flags: lock_flags::BLOCK | lock_flags::RECLAIM,
        start: 0x10,
        length: u64::MAX,
        proc_id: 4242,
        client_id: b"client-host",
    };
    vec![
        Request::Version {
            msize: 8192,
            version: VERSION_9P2000L,
        },
        Request::Auth {
            afid: 9,
            uname: b"root",
            aname: b"/export",
            n_uname: 0,
        },
        Request::Attach {
            fid: 1,
            afid: NOFID,
            uname: b"user",
            aname: b"",
            n_uname: 1000,
        },
        Request::Flush { oldtag: 0x1234 },
        Request::Walk {
            fid: 1,
            newfid: 2,
            names,
        },
        Request::Walk {
            fid: 1,
            newfid: 3,
            names: WalkNames::default(),
        },
        Request::Lopen {
            fid: 2,
            flags: open_flags::RDWR | open_flags::TRUNC,
        },
        Request::Lcreate {
            fid: 2,
            name: b"new file",
            flags: open_flags::CREATE | open_flags::EXCL | open_flags::WRONLY,
            mode: 0o644,
            gid: 100,
        },
        Request::Symlink {
            fid: 2,
            name: b"link",
            target: b"../target/of/link",
            gid: 100,
        },
        Request::Mknod {
            dfid: 2,
            name: b"fifo",
            mode: 0o10644,
            major: 8,
            minor: 1,
            gid: 7,
        },
        Request::Rename {
            fid: 5,
            dfid: 6,
            name: b"renamed",
        },
        Request::Readlink { fid: 5 },
        Request::Getattr {
            fid: 5,
            request_mask: getattr_mask::ALL,
        },
        Request::Setattr {
            fid: 5,
            attr: SetattrArgs {
                valid: setattr_valid::MODE | setattr_valid::SIZE | setattr_valid::MTIME_SET,
                mode: 0o600,
                uid: 1,
                gid: 2,
                size: 1 << 40,
                atime_sec: 3,
                atime_nsec: 4,
                mtime_sec: 5,
                mtime_nsec: 999_999_999,
            },
        },
        Request::Xattrwalk {
            fid: 5,
            newfid: 6,
            name: b"user.comment",
        },
        Request::Xattrcreate {
            fid: 6,
            name: b"user.comment",
            size: 12,
            flags: 1,
        },
        Request::Readdir {
            fid: 7,
            offset: u64::MAX - 1,
            count: 4096,
        },
        Request::Fsync {
            fid: 7,
            datasync: 1,
        },
        Request::Lock { fid: 7, lock },
        Request::Getlock {
            fid: 7,
            lock: LockArgs { flags: 0, ..lock },
        },
        Request::Link {
            dfid: 2,
            fid: 7,
            name: b"hard",
        },
        Request::Mkdir {
            dfid: 2,
            name: b"dir",
            mode: 0o755,
            gid: 0,
        },
        Request::Renameat {
            olddirfid: 2,
            oldname: b"a",
            newdirfid: 3,
            newname: b"b",
        },
        Request::Unlinkat {
            dirfid: 2,
            name: b"dir",
            flags: AT_REMOVEDIR,
        },
        Request::Statfs { fid: 1 },
        Request::Read {
            fid: 7,
            offset: 8192,
            count: 65536,
        },
        Request::Write {
            fid: 7,
            offset: 1,
            data,
        },
        Request::Write {
            fid: 7,
            offset: 0,
            data: b"",
        },
        Request::Clunk { fid: 7 },
        Request::Remove { fid: 8 },
    ]
}

#[test]
fn every_request_round_trips() {
    let mut wbuf = [0u8; 256];
    let names = WalkNames::build(&mut wbuf, &[b"usr", b"", b"share", &[0xff, b'/', 0]]).unwrap();
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let reqs = all_requests(names, &data);
    let mut seen: Vec<u8> = reqs.iter().map(Request::type_code).collect();
    seen.sort_unstable();
    seen.dedup();
    let mut want = T_TYPES.to_vec();
    want.sort_unstable();
    assert_eq!(seen, want, "every request type is covered");
    for (i, req) in reqs.iter().enumerate() {
        let tag = u16::try_from(i).unwrap();
        let bytes = encode_req(tag, req);
        assert_eq!(bytes[4], req.type_code());
        assert_eq!(
            message_size(&bytes[..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        let (t, got) = decode_request(&bytes).unwrap();
        assert_eq!((t, got), (tag, *req));
        // Canonical: the decoded request encodes to the same bytes.
        assert_eq!(encode_req(tag, &got), bytes);
        check_damage(&bytes, |b| decode_request(b).map(drop));
        check_short_buffers(bytes.len(), |buf| encode_request(buf, tag, req));
    }
}

#[test]
fn getlock_flags_are_not_on_the_wire() {
    let lock = LockArgs {
        ty: lock_type::RDLCK,
        flags: 3,
        start: 1,
        length: 2,
        proc_id: 3,
        client_id: b"c",
    };
    let bytes = encode_req(1, &Request::Getlock { fid: 4, lock });
    assert_eq!(bytes.len(), HEADER_SIZE + 4 + 1 + 8 + 8 + 4 + 2 + 1);
    let (_, got) = decode_request(&bytes).unwrap();
    assert_eq!(
        got,
        Request::Getlock {
            fid: 4,
            lock: LockArgs { flags: 0, ..lock }
        }
    );
    let bytes = encode_req(1, &Request::Lock { fid: 4, lock });
    assert_eq!(bytes.len(), HEADER_SIZE + 4 + 1 + 4 + 8 + 8 + 4 + 2 + 1);
}

#[test]
fn tversion_bytes() {
    let bytes = encode_req(
        NOTAG,
        &Request::Version {
            msize: 8192,
            version: VERSION_9P2000L,
        },
    );
    let want = [
        21, 0, 0, 0, 100, 0xff, 0xff, 0x00, 0x20, 0, 0, 8, 0, b'9', b'P', b'2', b'0', b'0', b'0',
        b'.', b'L',
    ];
    assert_eq!(bytes, want);
    assert_eq!(
        decode_request(&want),
        Ok((
            NOTAG,
            Request::Version {
                msize: 8192,
                version: b"9P2000.L"
            }
        ))
    );
}

#[test]
fn twalk_bytes() {
    let want = [
        24, 0, 0, 0, 110, 3, 0, // header
        1, 0, 0, 0, 2, 0, 0, 0, // fid, newfid
        2, 0, // nwname
        1, 0, b'a', 2, 0, b'b', b'c',
    ];
    let (tag, req) = decode_request(&want).unwrap();
    assert_eq!(tag, 3);
    let Request::Walk { fid, newfid, names } = req else {
        panic!("{req:?}");
    };
    assert_eq!(
        (fid, newfid, names.len(), names.is_empty()),
        (1, 2, 2, false)
    );
    assert_eq!(names.iter().collect::<Vec<_>>(), [&b"a"[..], b"bc"]);
    assert_eq!(names.iter().size_hint(), (2, Some(2)));
    let collected: Vec<&[u8]> = names.into_iter().collect();
    assert_eq!(collected.len(), 2);
    let mut wbuf = [0u8; 16];
    let built = WalkNames::build(&mut wbuf, &[b"a", b"bc"]).unwrap();
    assert_eq!(built, names);
    assert_eq!(built.raw(), &want[17..]);
    let bytes = encode_req(
        3,
        &Request::Walk {
            fid: 1,
            newfid: 2,
            names: built,
        },
    );
    assert_eq!(bytes, want);
}

#[test]
fn walk_name_limit() {
    let names: Vec<&[u8]> = vec![b"x"; 17];
    let mut wbuf = [0u8; 256];
    let built = WalkNames::build(&mut wbuf, &names[..16]).unwrap();
    let req = Request::Walk {
        fid: 0,
        newfid: 1,
        names: built,
    };
    assert_eq!(decode_request(&encode_req(0, &req)).unwrap().1, req);
    // A client may build 17 (to test a server); decoding refuses them.
    let built = WalkNames::build(&mut wbuf, &names).unwrap();
    assert_eq!(built.len(), 17);
    let bytes = encode_req(
        0,
        &Request::Walk {
            fid: 0,
            newfid: 1,
            names: built,
        },
    );
    assert_eq!(
        decode_request(&bytes),
        Err(DecodeError::TooManyWalkNames(17))
    );
    // Refused from the count alone, before the names are read.
    let bytes = with_size(vec![
        0,
        0,
        0,
        0,
        msg::TWALK,
        0,
        0,
        0,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        0xff,
        0xff,
    ]);
    assert_eq!(
        decode_request(&bytes),
        Err(DecodeError::TooManyWalkNames(0xffff))
    );
    // Building into a buffer too small.
    let mut small = [0u8; 5];
    assert_eq!(WalkNames::build(&mut small, &[b"abcd"]), Err(Truncated));
}

#[test]
fn string_and_data_lengths_past_the_end() {
    // Tversion whose version claims 100 bytes.
    let bytes = with_size(vec![
        0,
        0,
        0,
        0,
        msg::TVERSION,
        0,
        0,
        0,
        0x20,
        0,
        0,
        100,
        0,
        b'9',
        b'P',
    ]);
    assert_eq!(decode_request(&bytes), Err(DecodeError::Truncated));
    // Twrite whose count says more than there is.
    let mut bytes = vec![0, 0, 0, 0, msg::TWRITE, 0, 0, 1, 0, 0, 0];
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(b"abc");
    assert_eq!(
        decode_request(&with_size(bytes)),
        Err(DecodeError::Truncated)
    );
    // A second name whose length runs past the end of a Twalk.
    let bytes = with_size(vec![
        0,
        0,
        0,
        0,
        msg::TWALK,
        0,
        0,
        1,
        0,
        0,
        0,
        2,
        0,
        0,
        0,
        2,
        0,
        1,
        0,
        b'a',
        5,
        0,
        b'b',
    ]);
    assert_eq!(decode_request(&bytes), Err(DecodeError::Truncated));
    // Rreaddir count past the end.
    let bytes = with_size(vec![0, 0, 0, 0, msg::RREADDIR, 0, 0, 9, 0, 0, 0, 1, 2]);
    assert_eq!(decode_reply(&bytes), Err(DecodeError::Truncated));
}

#[test]
fn strings_too_long_to_encode() {
    let long = vec![b'x'; 65536];
    let mut buf = vec![0u8; BUF];
    let req = Request::Mkdir {
        dfid: 1,
        name: &long,
        mode: 0,
        gid: 0,
    };
    assert_eq!(encode_request(&mut buf, 0, &req), Err(Truncated));
    let req = Request::Mkdir {
        dfid: 1,
        name: &long[..65535],
        mode: 0,
        gid: 0,
    };
    let n = encode_request(&mut buf, 0, &req).unwrap();
    assert_eq!(decode_request(&buf[..n]).unwrap().1, req);
    assert_eq!(
        encode_reply(&mut buf, 0, &Reply::Readlink { target: &long }),
        Err(Truncated)
    );
}

#[test]
fn types_that_are_not_requests() {
    let mut bytes = with_size(vec![0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    for ty in 0..=255u8 {
        bytes[4] = ty;
        let got = decode_request(&bytes);
        if T_TYPES.contains(&ty) {
            assert!(
                !matches!(
                    got,
                    Err(DecodeError::UnknownType(_) | DecodeError::NotARequest(_))
                ),
                "{ty}: {got:?}"
            );
        } else if ty == msg::RLERROR || (ty % 2 == 1 && T_TYPES.contains(&(ty - 1))) {
            assert_eq!(got, Err(DecodeError::NotARequest(ty)));
        } else {
            assert_eq!(got, Err(DecodeError::UnknownType(ty)));
        }
    }
    // An R-message sent as a request, with its real body.
    let rclunk = encode_rep(1, &Reply::Clunk);
    assert_eq!(
        decode_request(&rclunk),
        Err(DecodeError::NotARequest(msg::RCLUNK))
    );
    let rlerror = encode_rep(1, &Reply::Lerror { ecode: 5 });
    assert_eq!(
        decode_request(&rlerror),
        Err(DecodeError::NotARequest(msg::RLERROR))
    );
    // Tlerror (unused), 9P2000's Topen, Tstat, Rerror: unknown.
    for ty in [msg::TLERROR, 106, 107, 112, 113, 124, 0, 255] {
        bytes[4] = ty;
        assert_eq!(decode_request(&bytes), Err(DecodeError::UnknownType(ty)));
    }
    // A request given to decode_reply.
    let tclunk = encode_req(1, &Request::Clunk { fid: 1 });
    assert_eq!(
        decode_reply(&tclunk),
        Err(DecodeError::UnknownType(msg::TCLUNK))
    );
}

#[test]
fn header_errors() {
    assert_eq!(decode_request(&[]), Err(DecodeError::Truncated));
    assert_eq!(
        decode_request(&[7, 0, 0, 0, 120, 0]),
        Err(DecodeError::Truncated)
    );
    // A header alone, size right: the fid is missing.
    assert_eq!(
        decode_request(&[7, 0, 0, 0, 120, 0, 0]),
        Err(DecodeError::Truncated)
    );
    // Size field says 0 or huge.
    let mut bytes = encode_req(1, &Request::Clunk { fid: 1 });
    bytes[..4].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(decode_request(&bytes), Err(DecodeError::SizeMismatch));
    bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(decode_request(&bytes), Err(DecodeError::SizeMismatch));
    assert_eq!(decode_reply(&bytes), Err(DecodeError::SizeMismatch));
    assert_eq!(message_size(&[0x78, 0x56, 0x34, 0x12]), 0x1234_5678);
    assert_eq!(DecodeError::from(Truncated), DecodeError::Truncated);
}

fn attr() -> Attr {
    Attr {
        valid: getattr_mask::BASIC,
        qid: qid(1),
        mode: 0o100644,
        uid: 1,
        gid: 2,
        nlink: 3,
        rdev: 4,
        size: 5,
        blksize: 6,
        blocks: 7,
        atime_sec: 8,
        atime_nsec: 9,
        mtime_sec: 10,
        mtime_nsec: 11,
        ctime_sec: 12,
        ctime_nsec: 13,
        btime_sec: 14,
        btime_nsec: 15,
        gen: 16,
        data_version: 17,
    }
}

const R_TYPES: [u8; 29] = [
    msg::RLERROR,
    msg::RSTATFS,
    msg::RLOPEN,
    msg::RLCREATE,
    msg::RSYMLINK,
    msg::RMKNOD,
    msg::RRENAME,
    msg::RREADLINK,
    msg::RGETATTR,
    msg::RSETATTR,
    msg::RXATTRWALK,
    msg::RXATTRCREATE,
    msg::RREADDIR,
    msg::RFSYNC,
    msg::RLOCK,
    msg::RGETLOCK,
    msg::RLINK,
    msg::RMKDIR,
    msg::RRENAMEAT,
    msg::RUNLINKAT,
    msg::RVERSION,
    msg::RAUTH,
    msg::RATTACH,
    msg::RFLUSH,
    msg::RWALK,
    msg::RREAD,
    msg::RWRITE,
    msg::RCLUNK,
    msg::RREMOVE,
];

#[test]
fn every_reply_round_trips() {
    let qids: Vec<Qid> = (0..MAX_WALK as u8).map(qid).collect();
    let data: Vec<u8> = (0..=255u8).rev().cycle().take(3000).collect();
    let mut dbuf = [0u8; 256];
    let mut dw = DirentWriter::new(&mut dbuf);
    assert!(dw.push(qid(1), 1, 4, b"."));
    assert!(dw.push(qid(2), 2, 4, b".."));
    let dlen = dw.len();
    let entries = &dbuf[..dlen];
    let replies = [
        Reply::Lerror { ecode: 2 },
        Reply::Version {
            msize: 65536,
            version: b"unknown",
        },
        Reply::Auth { aqid: qid(3) },
        Reply::Attach { qid: qid(0) },
        Reply::Flush,
        Reply::Walk { qids: &qids },
        Reply::Walk { qids: &qids[..1] },
        Reply::Walk { qids: &[] },
        Reply::Lopen {
            qid: qid(4),
            iounit: 8192,
        },
        Reply::Lcreate {
            qid: qid(5),
            iounit: 0,
        },
        Reply::Symlink { qid: qid(6) },
        Reply::Mknod { qid: qid(7) },
        Reply::Rename,
        Reply::Readlink {
            target: b"/some/where",
        },
        Reply::Getattr { attr: attr() },
        Reply::Setattr,
        Reply::Xattrwalk { size: 77 },
        Reply::Xattrcreate,
        Reply::Fsync,
        Reply::Lock {
            status: lock_status::GRACE,
        },
        Reply::Getlock {
            lock: LockArgs {
                ty: lock_type::UNLCK,
                flags: 0,
                start: 1,
                length: 2,
                proc_id: 3,
                client_id: b"other",
            },
        },
        Reply::Link,
        Reply::Mkdir { qid: qid(8) },
        Reply::Renameat,
        Reply::Unlinkat,
        Reply::Statfs {
            st: Statfs {
                ty: 0x0102_1997,
                bsize: 4096,
                blocks: 1,
                bfree: 2,
                bavail: 3,
                files: 4,
                ffree: 5,
                fsid: 6,
                namelen: 255,
            },
        },
        Reply::Write { count: 1000 },
        Reply::Clunk,
        Reply::Remove,
        Reply::Read { data: &data },
        Reply::Read { data: b"" },
        Reply::Readdir { data: entries },
    ];
    let mut seen: Vec<u8> = replies.iter().map(Reply::type_code).collect();
    seen.sort_unstable();
    seen.dedup();
    let mut want = R_TYPES.to_vec();
    want.sort_unstable();
    assert_eq!(seen, want, "every reply type is covered");
    for (i, reply) in replies.iter().enumerate() {
        let tag = u16::try_from(i).unwrap() + 100;
        let bytes = encode_rep(tag, reply);
        assert_eq!(bytes[4], reply.type_code());
        let (t, got) = decode_reply(&bytes).unwrap();
        assert_eq!(t, tag);
        assert_eq!(got.type_code(), reply.type_code());
        let mut qbuf = [Qid::default(); MAX_WALK];
        let again = match (got, reply) {
            (DecodedReply::Walk { qids: got }, Reply::Walk { qids: want }) => {
                assert_eq!(got.len(), want.len());
                assert_eq!(got.is_empty(), want.is_empty());
                assert_eq!(got.iter().collect::<Vec<_>>(), *want);
                assert_eq!(got.get(want.len()), None);
                let copied = got.copy_into(&mut qbuf);
                assert_eq!(copied, *want);
                Reply::Walk { qids: copied }
            }
            (DecodedReply::Reply(got), _) => {
                assert_eq!(got, *reply);
                got
            }
            (got, _) => panic!("{reply:?} decoded as {got:?}"),
        };
        assert_eq!(encode_rep(tag, &again), bytes);
        check_damage(&bytes, |b| decode_reply(b).map(drop));
        check_short_buffers(bytes.len(), |buf| encode_reply(buf, tag, reply));
    }
}

#[test]
fn rgetattr_and_rlerror_bytes() {
    let bytes = encode_rep(9, &Reply::Getattr { attr: attr() });
    assert_eq!(bytes.len(), 7 + 153);
    assert_eq!(bytes.len(), 160);
    assert_eq!(&bytes[..7], &[160, 0, 0, 0, msg::RGETATTR, 9, 0]);
    assert_eq!(&bytes[7..15], &getattr_mask::BASIC.to_le_bytes());
    assert_eq!(
        &bytes[15..28],
        &[0x81, 5, 3, 2, 1, 0x89, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
    );
    assert_eq!(&bytes[152..160], &17u64.to_le_bytes());

    let bytes = encode_rep(5, &Reply::Lerror { ecode: 2 });
    assert_eq!(bytes, [11, 0, 0, 0, 7, 5, 0, 2, 0, 0, 0]);

    let bytes = encode_rep(1, &Reply::Walk { qids: &[qid(0)] });
    assert_eq!(
        bytes,
        [
            22, 0, 0, 0, 111, 1, 0, 1, 0, 0x80, 4, 3, 2, 1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33,
            0x22, 0x11
        ]
    );
    let bytes = encode_rep(NOTAG, &Reply::Flush);
    assert_eq!(bytes, [7, 0, 0, 0, 109, 0xff, 0xff]);
}

#[test]
fn rwalk_qid_limit() {
    let qids = vec![qid(0); 17];
    let bytes = encode_rep(1, &Reply::Walk { qids: &qids });
    assert_eq!(decode_reply(&bytes), Err(DecodeError::TooManyWalkNames(17)));
    let mut small = [Qid::default(); 2];
    let bytes = encode_rep(1, &Reply::Walk { qids: &qids[..5] });
    let Ok((_, DecodedReply::Walk { qids: got })) = decode_reply(&bytes) else {
        panic!();
    };
    assert_eq!(got.copy_into(&mut small), &qids[..2]);
}

#[test]
fn dirents_write_and_read_back() {
    let mut buf = [0u8; 100];
    let mut w = DirentWriter::new(&mut buf);
    assert!(w.is_empty());
    w.set_last_offset(99); // nothing pushed: nothing happens
    assert!(w.push(qid(1), 0, 4, b"."));
    assert_eq!(w.len(), DIRENT_HEADER_SIZE + 1);
    assert!(w.push(qid(2), 0, 8, b"file"));
    w.set_last_offset(7);
    assert!(w.push(qid(3), 0, 10, b"a-symlink"));
    let len = w.len();
    assert_eq!(len, 3 * DIRENT_HEADER_SIZE + 1 + 4 + 9);
    assert_eq!(w.remaining(), 100 - len);
    // Too long for what is left: refused, nothing written.
    let before = w.written().to_vec();
    assert!(!w.push(qid(4), 0, 8, &[b'x'; 32]));
    assert_eq!(w.len(), len);
    assert_eq!(w.written(), &before[..]);
    // The offset patch goes to the last entry pushed, not the refused one.
    w.set_last_offset(0xdead);
    assert!(!w.is_empty());
    let got: Vec<_> = DirentReader::new(&buf[..len]).collect();
    assert_eq!(
        got,
        [
            Ok((qid(1), 0, 4, &b"."[..])),
            Ok((qid(2), 7, 8, &b"file"[..])),
            Ok((qid(3), 0xdead, 10, &b"a-symlink"[..])),
        ]
    );
    // Exactly filling the buffer works.
    let mut exact = [0u8; DIRENT_HEADER_SIZE + 3];
    let mut w = DirentWriter::new(&mut exact);
    assert!(w.push(qid(1), 1, 1, b"abc"));
    assert_eq!(w.remaining(), 0);
    assert!(!w.push(qid(1), 1, 1, b""));
    // Names too long for the wire are refused.
    let mut big = vec![0u8; 70000 + DIRENT_HEADER_SIZE];
    let mut w = DirentWriter::new(&mut big);
    assert!(!w.push(qid(1), 1, 1, &[b'n'; 65536]));
    assert!(w.push(qid(1), 1, 1, &[b'n'; 65535]));
    // An empty buffer takes nothing.
    let mut none = [0u8; 0];
    assert!(!DirentWriter::new(&mut none).push(qid(1), 1, 1, b""));
}

#[test]
fn dirent_reader_stops_on_malformed_data() {
    let mut buf = [0u8; 64];
    let mut w = DirentWriter::new(&mut buf);
    assert!(w.push(qid(1), 1, 4, b"ok"));
    let len = w.len();
    for cut in 1..len {
        let got: Vec<_> = DirentReader::new(&buf[..cut]).collect();
        assert_eq!(got, [Err(DecodeError::Truncated)], "cut at {cut}");
    }
    // A good entry, then garbage: one entry, one error, then the end.
    let mut data = buf[..len].to_vec();
    data.extend_from_slice(&[1, 2, 3]);
    let got: Vec<_> = DirentReader::new(&data).collect();
    assert_eq!(got.len(), 2);
    assert!(got[0].is_ok());
    assert_eq!(got[1], Err(DecodeError::Truncated));
    assert_eq!(DirentReader::new(&[]).next(), None);
}

#[test]
fn rread_in_place() {
    let mut buf = [0xaau8; 64];
    buf[RREAD_DATA_OFFSET..RREAD_DATA_OFFSET + 5].copy_from_slice(b"hello");
    let n = finish_rread(&mut buf, 42, 5).unwrap();
    assert_eq!(n, 16);
    assert_eq!(&buf[..11], &[16, 0, 0, 0, msg::RREAD, 42, 0, 5, 0, 0, 0]);
    assert_eq!(
        decode_reply(&buf[..n]),
        Ok((42, DecodedReply::Reply(Reply::Read { data: b"hello" })))
    );
    assert_eq!(encode_rep(42, &Reply::Read { data: b"hello" }), &buf[..n]);
    // Zero bytes (end of file).
    let n = finish_rread(&mut buf, 1, 0).unwrap();
    assert_eq!(n, RREAD_DATA_OFFSET);
    assert_eq!(
        decode_reply(&buf[..n]).unwrap().1,
        DecodedReply::Reply(Reply::Read { data: b"" })
    );
    // The whole buffer, and one byte more than it holds.
    assert_eq!(finish_rread(&mut buf, 1, 64 - 11), Ok(64));
    let before = buf;
    assert_eq!(finish_rread(&mut buf, 1, 64 - 10), Err(Truncated));
    assert_eq!(finish_rread(&mut buf, 1, u32::MAX), Err(Truncated));
    assert_eq!(buf, before, "a refused finish writes nothing");
    assert_eq!(finish_rread(&mut [0u8; 10], 1, 0), Err(Truncated));
}

#[test]
fn rreaddir_in_place() {
    let mut buf = [0u8; 128];
    let count = {
        let mut w = DirentWriter::new(&mut buf[RREADDIR_DATA_OFFSET..]);
        assert!(w.push(qid(1), 0, 4, b"."));
        w.set_last_offset(1);
        assert!(w.push(qid(2), 0, 4, b".."));
        w.set_last_offset(2);
        u32::try_from(w.len()).unwrap()
    };
    let n = finish_rreaddir(&mut buf, 7, count).unwrap();
    assert_eq!(n, RREADDIR_DATA_OFFSET + count as usize);
    let (tag, reply) = decode_reply(&buf[..n]).unwrap();
    assert_eq!(tag, 7);
    let DecodedReply::Reply(Reply::Readdir { data }) = reply else {
        panic!("{reply:?}");
    };
    let got: Vec<_> = DirentReader::new(data).map(Result::unwrap).collect();
    assert_eq!(got, [(qid(1), 1, 4, &b"."[..]), (qid(2), 2, 4, &b".."[..])]);
    assert_eq!(finish_rreaddir(&mut buf, 7, 118), Err(Truncated));
}

/// A cheap deterministic fuzz: random and mutated messages never panic, and
/// what decodes re-encodes to the same bytes.
#[test]
fn random_input_never_panics() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut wbuf = [0u8; 64];
    let names = WalkNames::build(&mut wbuf, &[b"a", b"bb"]).unwrap();
    let seeds: Vec<Vec<u8>> = all_requests(names, b"data")
        .iter()
        .map(|r| encode_req(1, r))
        .collect();
    let mut out = vec![0u8; BUF];
    for round in 0..200_000 {
        let mut msg = seeds[round % seeds.len()].clone();
        for _ in 0..(next() % 4) {
            let len = msg.len();
            match next() % 4 {
                0 => msg[(next() as usize) % len] = next() as u8,
                1 => msg.push(next() as u8),
                2 if len > 0 => {
                    msg.pop();
                }
                _ => {
                    let at = 7 + (next() as usize) % len.saturating_sub(7).max(1);
                    if at < len {
                        msg[at] = 0xff;
                    }
                }
            }
        }
        if next() % 2 == 0 {
            msg = with_size(msg);
        }
        if let Ok((tag, req)) = decode_request(&msg) {
            let n = encode_request(&mut out, tag, &req).unwrap();
            assert_eq!(&out[..n], &msg[..]);
        }
        let _ = decode_reply(&msg);
    }
}
