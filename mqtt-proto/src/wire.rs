//! Primitive wire types: integers, Variable Byte Integers, strings and binary data.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::string::MqttString;

/// The largest value a Variable Byte Integer holds (and so the largest Remaining Length).
pub const MAX_VARIABLE_BYTE_INTEGER: u32 = 268_435_455;

/// How many bytes the Variable Byte Integer `value` takes (1 to 4).
pub(crate) const fn var_int_len(value: usize) -> usize {
    if value < 128 {
        1
    } else if value < 16_384 {
        2
    } else if value < 2_097_152 {
        3
    } else {
        4
    }
}

/// Writes `value` (at most [`MAX_VARIABLE_BYTE_INTEGER`]) in its shortest form.
#[inline]
pub(crate) fn put_var_int(buf: &mut BytesMut, value: usize) {
    let mut v = value;
    loop {
        let mut byte = (v % 128) as u8;
        v /= 128;
        if v > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if v == 0 {
            break;
        }
    }
}

/// Reads a Variable Byte Integer from the start of `bytes`: `Ok(None)` if more bytes are
/// needed, else the value and how many bytes it took.
#[inline]
pub(crate) fn read_var_int(
    bytes: &[u8],
    strict: bool,
) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for i in 0..4 {
        let Some(&byte) = bytes.get(i) else {
            return Ok(None);
        };
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            if strict && i > 0 && byte == 0 {
                return Err(DecodeError::NonMinimalVariableByteInteger);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    Err(DecodeError::MalformedVariableByteInteger)
}

/// Writes a length-prefixed string.
#[inline]
pub(crate) fn put_str(buf: &mut BytesMut, s: &str) {
    buf.put_u16(s.len() as u16);
    buf.put_slice(s.as_bytes());
}

/// Writes length-prefixed binary data (length checked by the caller).
#[inline]
pub(crate) fn put_binary(buf: &mut BytesMut, b: &[u8]) {
    buf.put_u16(b.len() as u16);
    buf.put_slice(b);
}

/// Checks that binary data fits its two-byte length prefix.
pub(crate) fn check_binary(field: &'static str, b: &[u8]) -> Result<(), EncodeError> {
    if b.len() > 65_535 {
        return Err(EncodeError::BinaryTooLong {
            field,
            len: b.len(),
        });
    }
    Ok(())
}

/// Reads fields out of one packet's bytes; every slice it returns shares the packet's
/// buffer.
pub(crate) struct Reader {
    buf: Bytes,
    pos: usize,
    /// Reads stop here: the buffer's end, or the end of a property block being read.
    end: usize,
    strict: bool,
}

impl Reader {
    /// Bytes not read yet.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    #[inline]
    fn need(&self, n: usize, field: &'static str) -> Result<(), DecodeError> {
        if self.remaining() < n {
            Err(DecodeError::UnexpectedEnd { field })
        } else {
            Ok(())
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.need(1, field)?;
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.need(2, field)?;
        let v = u16::from_be_bytes([self.buf[self.pos], self.buf[self.pos + 1]]);
        self.pos += 2;
        Ok(v)
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.need(4, field)?;
        let b = &self.buf[self.pos..self.pos + 4];
        let v = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        self.pos += 4;
        Ok(v)
    }

    #[inline]
    pub(crate) fn var_int(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        match read_var_int(&self.buf[self.pos..self.end], self.strict)? {
            Some((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            None => Err(DecodeError::UnexpectedEnd { field }),
        }
    }

    /// The next `n` bytes, shared with the packet.
    #[inline]
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        self.need(n, field)?;
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// Two-byte length-prefixed binary data.
    #[inline]
    pub(crate) fn binary(&mut self, field: &'static str) -> Result<Bytes, DecodeError> {
        let n = self.u16(field)? as usize;
        self.take(n, field)
    }

    /// A length-prefixed MQTT UTF-8 string.
    #[inline]
    pub(crate) fn string(&mut self, field: &'static str) -> Result<MqttString, DecodeError> {
        let b = self.binary(field)?;
        MqttString::from_bytes(b).map_err(|error| DecodeError::InvalidString { field, error })
    }

    /// A reader over `buf` starting at byte `pos` (no slice, no reference count).
    pub(crate) fn new_at(buf: Bytes, pos: usize, strict: bool) -> Reader {
        let end = buf.len();
        Reader {
            buf,
            pos,
            end,
            strict,
        }
    }

    /// Makes reads stop at `end` (at most the current limit) and returns the limit it
    /// replaced, for [`Reader::unlimit`]: a property block is read within its Property
    /// Length, whatever follows it.
    #[inline]
    pub(crate) fn limit(&mut self, end: usize) -> usize {
        let limit = end.min(self.end);
        core::mem::replace(&mut self.end, limit)
    }

    /// Restores the limit [`Reader::limit`] replaced.
    #[inline]
    pub(crate) fn unlimit(&mut self, end: usize) {
        self.end = end;
    }

    /// Everything not read yet: moves the buffer out instead of slicing it (the reader
    /// is done), which saves a reference-count increment and decrement.
    #[inline]
    pub(crate) fn rest(&mut self) -> Bytes {
        let mut b = core::mem::take(&mut self.buf);
        b.truncate(self.end);
        bytes::Buf::advance(&mut b, self.pos);
        self.pos = 0;
        self.end = 0;
        b
    }

    /// How many bytes have been read.
    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The buffer up to the limit, read or not.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.end]
    }

    /// `buf[start..end]`, shared; the caller has checked the range.
    #[inline]
    pub(crate) fn slice(&self, start: usize, end: usize) -> Bytes {
        self.buf.slice(start..end)
    }

    /// Moves the position to `pos`, at most the end.
    #[inline]
    pub(crate) fn skip_to(&mut self, pos: usize) {
        self.pos = pos.min(self.end);
    }
}
