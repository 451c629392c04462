// SPDX-License-Identifier: GPL-2.0

//! Bounds-checked little-endian encoding over byte slices.
//!
//! The suite's wire formats (9P messages, NVMe queue entries, the GPU command
//! stream) are little-endian and often come from an untrusted peer. A
//! [`Reader`] never reads past its buffer: a short buffer is a [`Truncated`]
//! error, never a panic. A [`Writer`] likewise never writes past its buffer.
//!
//! This module uses only `core`, so it is also built and tested on the host.

/// The buffer ended before the value being read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncated;

/// Reads little-endian values from the front of a byte slice.
///
/// # Examples
///
/// ```
/// # use wire::{Reader, Truncated};
/// let mut r = Reader::new(&[0x34, 0x12, 0xff]);
/// assert_eq!(r.u16(), Ok(0x1234));
/// assert_eq!(r.u16(), Err(Truncated));
/// assert_eq!(r.u8(), Ok(0xff));
/// assert!(r.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Creates a reader positioned at the start of `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// How many bytes have been consumed.
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    pub const fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte has been consumed.
    pub const fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Consumes the next `n` bytes. On error nothing is consumed.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        if n > self.remaining() {
            return Err(Truncated);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Consumes the next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let mut out = [0; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// Consumes and returns all that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, Truncated> {
        self.array().map(u16::from_le_bytes)
    }

    /// Reads a little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, Truncated> {
        self.array().map(u32::from_le_bytes)
    }

    /// Reads a little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, Truncated> {
        self.array().map(u64::from_le_bytes)
    }
}

/// Writes little-endian values into a byte slice, front to back.
///
/// # Examples
///
/// ```
/// # use wire::{Truncated, Writer};
/// let mut buf = [0u8; 6];
/// let mut w = Writer::new(&mut buf);
/// let size = w.reserve(4).unwrap();
/// w.u16(0xbeef).unwrap();
/// let len = w.position() as u32;
/// w.patch_u32(size, len).unwrap();
/// assert_eq!(w.u8(0), Err(Truncated));
/// assert_eq!(buf, [6, 0, 0, 0, 0xef, 0xbe]);
/// ```
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// Creates a writer positioned at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// How many bytes have been written.
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes still fit.
    pub const fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// What has been written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.pos]
    }

    /// Appends `bytes`. On error nothing is written.
    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), Truncated> {
        if bytes.len() > self.remaining() {
            return Err(Truncated);
        }
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
        Ok(())
    }

    /// Skips `n` bytes, zeroing them, and returns their offset so that they
    /// can be filled in later (a length prefix, say).
    pub fn reserve(&mut self, n: usize) -> Result<usize, Truncated> {
        if n > self.remaining() {
            return Err(Truncated);
        }
        let at = self.pos;
        self.buf[at..at + n].fill(0);
        self.pos += n;
        Ok(at)
    }

    /// Overwrites the little-endian `u32` at offset `at` of what has already
    /// been written.
    pub fn patch_u32(&mut self, at: usize, v: u32) -> Result<(), Truncated> {
        let end = at.checked_add(4).ok_or(Truncated)?;
        if end > self.pos {
            return Err(Truncated);
        }
        self.buf[at..end].copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    /// Appends a `u8`.
    pub fn u8(&mut self, v: u8) -> Result<(), Truncated> {
        self.bytes(&[v])
    }

    /// Appends a little-endian `u16`.
    pub fn u16(&mut self, v: u16) -> Result<(), Truncated> {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a little-endian `u32`.
    pub fn u32(&mut self, v: u32) -> Result<(), Truncated> {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a little-endian `u64`.
    pub fn u64(&mut self, v: u64) -> Result<(), Truncated> {
        self.bytes(&v.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_width_little_endian() {
        let buf = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        let mut r = Reader::new(&buf);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(0x0302));
        assert_eq!(r.u32(), Ok(0x0706_0504));
        assert_eq!(r.u64(), Ok(0x0f0e_0d0c_0b0a_0908));
        assert!(r.is_empty());
        assert_eq!(r.position(), 15);
    }

    #[test]
    fn short_read_consumes_nothing() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u32(), Err(Truncated));
        assert_eq!(r.position(), 0);
        assert_eq!(r.bytes(4), Err(Truncated));
        assert_eq!(r.bytes(usize::MAX), Err(Truncated));
        assert_eq!(r.bytes(3), Ok(&[1, 2, 3][..]));
        assert_eq!(r.u8(), Err(Truncated));
    }

    #[test]
    fn rest_takes_everything_left() {
        let mut r = Reader::new(&[9, 8, 7]);
        r.u8().unwrap();
        assert_eq!(r.rest(), &[8, 7]);
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.rest(), &[] as &[u8]);
    }

    #[test]
    fn writer_round_trips_through_reader() {
        let mut buf = [0u8; 15];
        let mut w = Writer::new(&mut buf);
        w.u8(0xab).unwrap();
        w.u16(0xcdef).unwrap();
        w.u32(0xdead_beef).unwrap();
        w.u64(u64::MAX - 1).unwrap();
        assert_eq!(w.remaining(), 0);
        assert_eq!(w.u8(0), Err(Truncated));
        let mut r = Reader::new(&buf);
        assert_eq!(r.u8(), Ok(0xab));
        assert_eq!(r.u16(), Ok(0xcdef));
        assert_eq!(r.u32(), Ok(0xdead_beef));
        assert_eq!(r.u64(), Ok(u64::MAX - 1));
    }

    #[test]
    fn short_write_writes_nothing() {
        let mut buf = [0x55u8; 3];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.u32(1), Err(Truncated));
        assert_eq!(w.position(), 0);
        assert_eq!(w.reserve(4), Err(Truncated));
        assert_eq!(buf, [0x55; 3]);
    }

    #[test]
    fn patch_only_inside_what_was_written() {
        let mut buf = [0u8; 8];
        let mut w = Writer::new(&mut buf);
        let at = w.reserve(4).unwrap();
        assert_eq!(w.patch_u32(at, 7), Ok(()));
        assert_eq!(w.patch_u32(1, 7), Err(Truncated));
        assert_eq!(w.patch_u32(usize::MAX, 7), Err(Truncated));
        assert_eq!(w.written(), &[7, 0, 0, 0]);
    }
}
