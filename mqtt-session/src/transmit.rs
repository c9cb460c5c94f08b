//! The bytes waiting to be written, as `Bytes` chunks.

use alloc::collections::VecDeque;
use bytes::{Bytes, BytesMut};
use mqtt_proto::{Encode, EncodeError, ProtocolVersion};

/// Payloads this large go out as their own chunk, uncopied; smaller ones are copied next to
/// their header so that many small packets make one write.
const SEPARATE_PAYLOAD: usize = 512;

/// Encoded packets not yet handed to the driver.
pub(crate) struct Transmit {
    buf: BytesMut,
    chunks: VecDeque<Bytes>,
    /// Bytes in `chunks` (those in `buf` are `buf.len()`).
    chunked: usize,
}

impl Transmit {
    pub(crate) fn new() -> Transmit {
        Transmit {
            buf: BytesMut::new(),
            chunks: VecDeque::new(),
            chunked: 0,
        }
    }

    /// Encodes `packet`, refusing one over `maximum` bytes.
    pub(crate) fn write<P: Encode>(
        &mut self,
        packet: &P,
        version: ProtocolVersion,
        maximum: usize,
    ) -> Result<(), EncodeError> {
        if self.buf.capacity() - self.buf.len() < 256 {
            self.buf.reserve(4096);
        }
        if packet.vectored_payload_len() < SEPARATE_PAYLOAD {
            // Copied next to its header in one encode: taking the payload out as its own
            // `Bytes` would cost a reference-count increment and decrement per packet
            // (and, for a `Vec`-backed payload, an allocation on the first clone).
            packet.encode_within(version, maximum, &mut self.buf)?;
            return Ok(());
        }
        if let Some(payload) = packet.encode_vectored(version, maximum, &mut self.buf)? {
            let header = self.buf.split().freeze();
            self.chunked += header.len() + payload.len();
            self.chunks.push_back(header);
            self.chunks.push_back(payload);
        }
        Ok(())
    }

    /// Bytes waiting to be written.
    pub(crate) fn len(&self) -> usize {
        self.chunked + self.buf.len()
    }

    /// Whether nothing waits to be written.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.buf.is_empty()
    }

    /// The next chunk to write.
    pub(crate) fn poll(&mut self) -> Option<Bytes> {
        if let Some(chunk) = self.chunks.pop_front() {
            self.chunked -= chunk.len();
            return Some(chunk);
        }
        if self.buf.is_empty() {
            None
        } else {
            Some(self.buf.split().freeze())
        }
    }

    /// Hands every pending byte to `write`, in order, borrowing it (no reference count is
    /// touched); stops at the first error, dropping the rest (the connection is broken).
    pub(crate) fn write_with<E>(
        &mut self,
        mut write: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(chunk) = self.chunks.pop_front() {
            self.chunked -= chunk.len();
            if let Err(e) = write(&chunk) {
                self.clear();
                return Err(e);
            }
        }
        if !self.buf.is_empty() {
            let result = write(&self.buf);
            self.buf.clear();
            result?;
        }
        Ok(())
    }

    /// Gives the buffer's memory back if nothing waits in it.
    pub(crate) fn shrink(&mut self) {
        if self.buf.is_empty() && self.chunks.is_empty() {
            self.buf = BytesMut::new();
            self.chunks = VecDeque::new();
        }
    }

    /// Drops everything not yet written (the connection is gone).
    pub(crate) fn clear(&mut self) {
        self.chunked = 0;
        self.chunks.clear();
        self.buf.clear();
    }
}
