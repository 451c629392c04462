// SPDX-License-Identifier: GPL-2.0

//! `rust_9p/proto.rs` on arbitrary bytes: the decoders never panic, and what
//! decodes re-encodes to the very same bytes and decodes to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use p9::proto::{
    decode_reply, decode_request, encode_reply, encode_request, DecodedReply, DirentReader,
    DirentWriter, Qid, Reply, Request, MAX_WALK,
};

fn check(msg: &[u8]) {
    let mut out = vec![0u8; msg.len()];

    if let Ok((tag, req)) = decode_request(msg) {
        if let Request::Walk { names, .. } = req {
            assert!(names.len() <= MAX_WALK);
            assert_eq!(names.iter().count(), names.len());
        }
        let n = encode_request(&mut out, tag, &req).expect("a decoded request re-encodes");
        assert_eq!(&out[..n], msg);
        assert_eq!(decode_request(&out[..n]), Ok((tag, req)));
    }

    match decode_reply(msg) {
        Ok((tag, DecodedReply::Walk { qids })) => {
            assert!(qids.len() <= MAX_WALK);
            let mut buf = [Qid::default(); MAX_WALK];
            let copied = qids.copy_into(&mut buf);
            assert_eq!(copied.len(), qids.len());
            let n = encode_reply(&mut out, tag, &Reply::Walk { qids: copied })
                .expect("a decoded Rwalk re-encodes");
            assert_eq!(&out[..n], msg);
            assert_eq!(
                decode_reply(&out[..n]),
                Ok((tag, DecodedReply::Walk { qids }))
            );
        }
        Ok((tag, DecodedReply::Reply(reply))) => {
            assert!(!matches!(reply, Reply::Walk { .. }));
            let n = encode_reply(&mut out, tag, &reply).expect("a decoded reply re-encodes");
            assert_eq!(&out[..n], msg);
            assert_eq!(
                decode_reply(&out[..n]),
                Ok((tag, DecodedReply::Reply(reply)))
            );
        }
        Err(_) => {}
    }
}

/// Directory entries parsed from `data` are written back to the same bytes.
fn check_dirents(data: &[u8]) {
    let mut out = vec![0u8; data.len()];
    let mut w = DirentWriter::new(&mut out);
    for entry in DirentReader::new(data) {
        let Ok((qid, offset, ty, name)) = entry else {
            break;
        };
        assert!(
            w.push(qid, 0, ty, name),
            "a parsed entry fits where it came from"
        );
        w.set_last_offset(offset);
    }
    let n = w.len();
    assert_eq!(&out[..n], &data[..n]);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    // The same bytes with a size field that agrees, to reach the bodies.
    if let (Some(size), Ok(len)) = (data.get(..4), u32::try_from(data.len())) {
        if size != len.to_le_bytes() {
            let mut fixed = data.to_vec();
            fixed[..4].copy_from_slice(&len.to_le_bytes());
            check(&fixed);
        }
    }
    check_dirents(data);
});
