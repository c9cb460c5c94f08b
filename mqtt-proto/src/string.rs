//! MQTT UTF-8 encoded strings.

use alloc::string::String;
use bytes::Bytes;
use bytestring::ByteString;
use core::{borrow::Borrow, fmt, ops::Deref};

use crate::error::StringError;

/// The longest string MQTT can carry: its length prefix is two bytes.
pub const MAX_STRING_LEN: usize = 65_535;

/// An MQTT UTF-8 encoded string: well-formed UTF-8 without U+0000, at most 65,535 bytes.
///
/// It is stored in [`Bytes`], so a decoded string shares the received buffer (no copy) and
/// cloning it is cheap. Surrogate code points cannot occur: they are not well-formed UTF-8
/// ([MQTT-1.5.3-1], [MQTT-1.5.4-1]). A leading U+FEFF is kept as it is ([MQTT-1.5.4-3]).
///
/// ```
/// use mqtt_proto::MqttString;
/// let s = MqttString::try_from("sensors").unwrap();
/// assert_eq!(&*s, "sensors");
/// assert!(MqttString::try_from("a\0b").is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MqttString(ByteString);

/// Whether `b` holds any of `set` (none of which may be `a`), eight bytes at a time
/// (SWAR): every received string and topic goes through here. The last word overlaps the
/// one before it (or, under eight bytes, is padded with `a`), so no byte is tested alone.
#[inline(always)]
pub(crate) fn contains_any<const N: usize>(b: &[u8], set: [u8; N]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    fn flags<const N: usize>(v: u64, set: [u8; N]) -> u64 {
        // Non-zero if some byte of `v ^ pattern` is zero (exact for "some byte").
        set.iter().fold(0, |found, &x| {
            let d = v ^ (LO * u64::from(x));
            found | (d.wrapping_sub(LO) & !d & HI)
        })
    }
    #[inline(always)]
    fn word(c: &[u8]) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_le_bytes(w)
    }
    if b.len() < 8 {
        let mut w = [b'a'; 8];
        w[..b.len()].copy_from_slice(b);
        return flags(u64::from_le_bytes(w), set) != 0;
    }
    let mut chunks = b.chunks_exact(8);
    let mut found = 0;
    for c in &mut chunks {
        found |= flags(word(c), set);
    }
    if !chunks.remainder().is_empty() {
        found |= flags(word(&b[b.len() - 8..]), set);
    }
    found != 0
}

/// Calls `f` with the index of every byte of `b` that is in `set` (none of which may be
/// `a`), in ascending order, eight bytes at a time (SWAR) like [`contains_any`], but exact
/// per byte, so that a check can look at each hit's neighbours. Stops at the first error.
#[inline(always)]
pub(crate) fn for_each_position<const N: usize, E>(
    b: &[u8],
    set: [u8; N],
    mut f: impl FnMut(usize) -> Result<(), E>,
) -> Result<(), E> {
    const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const LO: u64 = 0x0101_0101_0101_0101;
    /// The high bit of each byte of `v` that is in `set`; no borrow crosses bytes.
    #[inline(always)]
    fn hits<const N: usize>(v: u64, set: [u8; N]) -> u64 {
        set.iter().fold(0, |found, &x| {
            let d = v ^ (LO * u64::from(x));
            found | !(((d & LO7) + LO7) | d | LO7)
        })
    }
    #[inline(always)]
    fn each<E>(
        mut mask: u64,
        base: usize,
        f: &mut impl FnMut(usize) -> Result<(), E>,
    ) -> Result<(), E> {
        while mask != 0 {
            f(base + (mask.trailing_zeros() / 8) as usize)?;
            mask &= mask - 1;
        }
        Ok(())
    }
    if b.len() < 8 {
        let mut w = [b'a'; 8];
        w[..b.len()].copy_from_slice(b);
        return each(hits(u64::from_le_bytes(w), set), 0, &mut f);
    }
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        each(hits(u64::from_le_bytes(w), set), base, &mut f)?;
        base += 8;
    }
    let tail = chunks.remainder().len();
    if tail > 0 {
        // The last eight bytes, without the ones the loop has already seen.
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[b.len() - 8..]);
        let seen = (8 - tail) * 8;
        each(
            hits(u64::from_le_bytes(w), set) >> seen << seen,
            b.len() - 8,
            &mut f,
        )?;
    }
    Ok(())
}

/// Checks the rules every MQTT string obeys, beyond being UTF-8.
pub(crate) fn check_str(s: &str) -> Result<(), StringError> {
    if s.len() > MAX_STRING_LEN {
        return Err(StringError::TooLong(s.len()));
    }
    if contains_any(s.as_bytes(), [0]) {
        return Err(StringError::NullCharacter);
    }
    Ok(())
}

impl MqttString {
    /// The empty string.
    pub const fn new() -> MqttString {
        MqttString(ByteString::new())
    }

    /// A string from a literal.
    ///
    /// # Panics
    ///
    /// If `s` breaks the MQTT string rules (it contains U+0000 or is longer than 65,535
    /// bytes). Use [`MqttString::try_from`] for strings that are not literals.
    pub fn from_static(s: &'static str) -> MqttString {
        match check_str(s) {
            Ok(()) => MqttString(ByteString::from_static(s)),
            Err(e) => panic!("MqttString::from_static({s:?}): {e}"),
        }
    }

    /// Validates UTF-8 bytes and keeps them without copying.
    pub fn from_bytes(bytes: Bytes) -> Result<MqttString, StringError> {
        let s = ByteString::try_from(bytes).map_err(|_| StringError::InvalidUtf8)?;
        check_str(&s)?;
        Ok(MqttString(s))
    }

    /// Wraps bytes already checked for U+0000 and length: validates UTF-8 only.
    pub(crate) fn from_checked_bytes(bytes: Bytes) -> Result<MqttString, StringError> {
        ByteString::try_from(bytes)
            .map(MqttString)
            .map_err(|_| StringError::InvalidUtf8)
    }

    /// The string as `&str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UTF-8 bytes, shared with this string.
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// The UTF-8 bytes, without copying.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// Length in bytes (what the length prefix on the wire says).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for MqttString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MqttString {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for MqttString {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for MqttString {
    type Error = StringError;
    fn try_from(s: &str) -> Result<MqttString, StringError> {
        check_str(s)?;
        Ok(MqttString(ByteString::from(s)))
    }
}

impl TryFrom<String> for MqttString {
    type Error = StringError;
    fn try_from(s: String) -> Result<MqttString, StringError> {
        check_str(&s)?;
        Ok(MqttString(ByteString::from(s)))
    }
}

impl TryFrom<&String> for MqttString {
    type Error = StringError;
    fn try_from(s: &String) -> Result<MqttString, StringError> {
        MqttString::try_from(s.as_str())
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{MqttString, contains_any, for_each_position};
    use bytes::Bytes;

    #[test]
    fn the_null_scan_finds_u0000_at_every_position_and_nothing_else() {
        for len in 0..40 {
            let clean: alloc::vec::Vec<u8> = (1..=len).map(|i| i as u8).collect();
            assert!(!contains_any(&clean, [0]), "len {len}");
            let high: alloc::vec::Vec<u8> = (0..len).map(|i| 0x80 + (i % 64) as u8).collect();
            assert!(!contains_any(&high, [0]));
            for pos in 0..len {
                let mut v = clean.clone();
                v[pos] = 0;
                assert!(contains_any(&v, [0]), "len {len} pos {pos}");
            }
        }
        // v5 [MQTT-1.5.4-2], v3.1.1 [MQTT-1.5.3-2]: U+0000 is refused wherever it is.
        assert!(MqttString::from_bytes(Bytes::from_static(b"0123456789\0")).is_err());
        assert!(MqttString::from_bytes(Bytes::from_static(b"012345678\x019")).is_ok());
    }

    #[test]
    fn the_position_scan_reports_every_hit_once_in_order() {
        for len in 0..40usize {
            for seed in 0..64u32 {
                let v: alloc::vec::Vec<u8> = (0..len)
                    .map(
                        |i| match (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 7 {
                            0 => b'+',
                            1 => b'#',
                            2 => b'/',
                            3 => 0x80 | b'+',
                            4 => b'+' ^ 1,
                            _ => b'x',
                        },
                    )
                    .collect();
                let expected: alloc::vec::Vec<usize> =
                    (0..len).filter(|&i| v[i] == b'+' || v[i] == b'#').collect();
                let mut got = alloc::vec::Vec::new();
                let _ = for_each_position(&v, [b'+', b'#'], |i| {
                    got.push(i);
                    Ok::<(), ()>(())
                });
                assert_eq!(got, expected, "{v:?}");
            }
        }
        let mut calls = 0;
        let stopped = for_each_position(b"+/+/+/+/+/+", [b'+'], |i| {
            calls += 1;
            if i == 4 { Err(i) } else { Ok(()) }
        });
        assert_eq!((stopped, calls), (Err(4), 3));
    }
}
