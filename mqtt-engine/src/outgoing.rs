//! The bytes waiting for the socket, as a list of `Bytes` chunks written with one
//! vectored write: a large payload is its own chunk, shared with the application's
//! `Bytes` (never copied on plain TCP).

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes};

/// Most chunks handed to one vectored write (Linux's `IOV_MAX` is 1024).
pub const MAX_SLICES: usize = 64;

#[derive(Default)]
pub(crate) struct Outgoing {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl Outgoing {
    pub(crate) fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills `slices` with the first chunks; returns how many.
    pub(crate) fn slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, chunk) in slices.iter_mut().zip(&self.chunks) {
            *slot = IoSlice::new(chunk);
            n += 1;
        }
        n
    }

    /// Drops the first `written` bytes.
    pub(crate) fn advance(&mut self, mut written: usize) {
        written = written.min(self.len);
        self.len -= written;
        while written > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            if written >= front.len() {
                written -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(written);
                written = 0;
            }
        }
    }

    /// Gives the list's memory back if nothing waits.
    pub(crate) fn shrink_if_empty(&mut self) {
        if self.chunks.is_empty() {
            self.chunks = VecDeque::new();
        }
    }

    pub(crate) fn clear(&mut self) {
        self.chunks = VecDeque::new();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_writes_advance_across_chunks() {
        let mut out = Outgoing::default();
        out.push(Bytes::from_static(b"abc"));
        out.push(Bytes::new());
        out.push(Bytes::from_static(b"defg"));
        assert_eq!(out.len(), 7);
        let mut s = [IoSlice::new(&[]); 4];
        assert_eq!(out.slices(&mut s), 2);
        out.advance(4);
        let mut s = [IoSlice::new(&[]); 4];
        assert_eq!(out.slices(&mut s), 1);
        assert_eq!(&*s[0], b"efg");
        out.advance(3);
        assert!(out.is_empty());
    }
}
