//! Topic names, topic filters and matching (MQTT §4.7, shared subscriptions §4.8.2).

use alloc::string::String;
use bytes::Bytes;
use core::{fmt, ops::Deref};

use crate::error::{DecodeError, StringError, TopicError};
use crate::string::MqttString;

const SHARE_PREFIX: &str = "$share/";

/// A topic name: the topic a PUBLISH is sent to.
///
/// At least one character ([MQTT-4.7.3-1]), no U+0000 ([MQTT-4.7.3-2]), at most 65,535
/// bytes ([MQTT-4.7.3-3]), and no wildcard `+` or `#` ([MQTT-4.7.0-1], v3.1.1
/// [MQTT-4.7.1-1]). Levels are separated by `/`; empty levels are allowed. Cloning is cheap
/// and a decoded topic name shares the received buffer.
///
/// The one exception is [`TopicName::empty`], the zero-length topic name an MQTT 5.0
/// PUBLISH carries when it names its topic by a Topic Alias alone.
///
/// ```
/// use mqtt_proto::TopicName;
/// assert!(TopicName::try_from("home/kitchen/temperature").is_ok());
/// assert!(TopicName::try_from("home/+/temperature").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(MqttString);

/// Checks a topic name: non-empty, no wildcards (string rules are checked by `MqttString`).
fn check_topic_name(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(TopicError::WildcardInTopicName);
    }
    Ok(())
}

impl TopicName {
    /// The zero-length topic name, valid only in an MQTT 5.0 PUBLISH that carries a
    /// Topic Alias ([MQTT-3.3.2-1]).
    pub const fn empty() -> TopicName {
        TopicName(MqttString::new())
    }

    /// A topic name from a literal.
    ///
    /// # Panics
    ///
    /// If `s` is not a valid topic name. Use [`TopicName::try_from`] for other strings.
    pub fn from_static(s: &'static str) -> TopicName {
        if let Err(e) = check_topic_name(s) {
            panic!("TopicName::from_static({s:?}): {e}");
        }
        TopicName(MqttString::from_static(s))
    }

    /// Wraps received bytes that [`check_wire`] accepted: validates UTF-8 only, keeping
    /// the bytes (zero-length allowed: the caller checks it against the Topic Alias).
    pub(crate) fn from_wire(bytes: Bytes) -> Result<TopicName, TopicError> {
        Ok(TopicName(MqttString::from_checked_bytes(bytes)?))
    }

    /// Validates UTF-8 bytes as a topic name, without copying them.
    pub fn from_bytes(bytes: Bytes) -> Result<TopicName, TopicError> {
        let s = MqttString::from_bytes(bytes)?;
        check_topic_name(&s)?;
        Ok(TopicName(s))
    }

    /// The topic name as `&str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The topic name as an [`MqttString`].
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// Whether this is a `$`-topic (such as `$SYS/...`), which wildcards at the first level
    /// do not match ([MQTT-4.7.2-1]).
    pub fn is_system(&self) -> bool {
        self.0.as_bytes().first() == Some(&b'$')
    }

    /// The levels of the topic name, split at `/`.
    pub fn levels(&self) -> core::str::Split<'_, char> {
        self.0.split('/')
    }
}

/// Checks a received topic name's bytes for U+0000 and wildcards (UTF-8 is the
/// caller's check, on the string type it builds). A length over 65,535 cannot arrive.
#[inline]
pub(crate) fn check_wire(bytes: &[u8]) -> Result<(), TopicError> {
    if has_null_or_wildcard(bytes) {
        if bytes.contains(&0) {
            return Err(TopicError::String(crate::error::StringError::NullCharacter));
        }
        return Err(TopicError::WildcardInTopicName);
    }
    Ok(())
}

/// Whether `b` holds U+0000, `+` or `#` (every received PUBLISH topic goes through here).
#[inline]
fn has_null_or_wildcard(b: &[u8]) -> bool {
    crate::string::contains_any(b, [0, b'+', b'#'])
}

impl TryFrom<MqttString> for TopicName {
    type Error = TopicError;
    fn try_from(s: MqttString) -> Result<TopicName, TopicError> {
        check_topic_name(&s)?;
        Ok(TopicName(s))
    }
}

impl TryFrom<&str> for TopicName {
    type Error = TopicError;
    fn try_from(s: &str) -> Result<TopicName, TopicError> {
        check_topic_name(s)?;
        Ok(TopicName(MqttString::try_from(s)?))
    }
}

impl TryFrom<String> for TopicName {
    type Error = TopicError;
    fn try_from(s: String) -> Result<TopicName, TopicError> {
        check_topic_name(&s)?;
        Ok(TopicName(MqttString::try_from(s)?))
    }
}

impl Deref for TopicName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for TopicName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A topic filter: what a SUBSCRIBE or UNSUBSCRIBE names, possibly with wildcards.
///
/// `+` matches exactly one level and must fill it ([MQTT-4.7.1-2] v5 / [MQTT-4.7.1-3]
/// v3.1.1); `#` matches any number of levels and must be the whole filter or the last level
/// ([MQTT-4.7.1-1] v5 / [MQTT-4.7.1-2] v3.1.1). A filter `$share/{ShareName}/{filter}` is a
/// shared subscription ([MQTT-4.8.2-1], [MQTT-4.8.2-2]).
///
/// ```
/// use mqtt_proto::{TopicFilter, TopicName};
/// let filter = TopicFilter::try_from("sensors/+/temperature").unwrap();
/// assert!(filter.matches(&TopicName::try_from("sensors/kitchen/temperature").unwrap()));
/// assert!(!filter.matches(&TopicName::try_from("sensors/kitchen/humidity").unwrap()));
///
/// let shared = TopicFilter::try_from("$share/workers/jobs/#").unwrap();
/// assert_eq!(shared.share_name(), Some("workers"));
/// assert_eq!(shared.filter(), "jobs/#");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(MqttString);

/// Checks the wildcard placement of a (non-shared part of a) topic filter, looking only at
/// its wildcards (found a word at a time): a wildcard must fill its level, and `#` must be
/// the last level.
fn check_filter_levels(b: &[u8]) -> Result<(), TopicError> {
    if b.is_empty() {
        return Err(TopicError::Empty);
    }
    // U+0000 is found in the same scan: a filter read from the wire is checked once.
    crate::string::for_each_position(b, [b'+', b'#', 0], |i| {
        if b[i] == 0 {
            return Err(TopicError::String(StringError::NullCharacter));
        }
        let fills_level = (i == 0 || b[i - 1] == b'/')
            && match b[i] {
                b'#' => i + 1 == b.len(),
                _ => b.get(i + 1).is_none_or(|&n| n == b'/'),
            };
        if fills_level {
            Ok(())
        } else {
            let level_start = b[..i].iter().rposition(|&c| c == b'/').map_or(0, |p| p + 1);
            Err(level_error(&b[level_start..]))
        }
    })
}

/// Which rule the level at the start of `rest` breaks (`#` first, as the specification
/// lists them); only called for a level that breaks one.
#[cold]
fn level_error(rest: &[u8]) -> TopicError {
    let level = rest.split(|&c| c == b'/').next().unwrap_or_default();
    let last = level.len() == rest.len();
    if level.contains(&b'#') && (level != b"#" || !last) {
        TopicError::MisplacedMultiLevelWildcard
    } else {
        TopicError::MisplacedSingleLevelWildcard
    }
}

/// Checks a whole topic filter, shared or not.
fn check_topic_filter(s: &str) -> Result<(), TopicError> {
    // Bytes, not `str` slices: a `str` split would link its char-boundary panic.
    match s.as_bytes().strip_prefix(SHARE_PREFIX.as_bytes()) {
        None => check_filter_levels(s.as_bytes()),
        Some(rest) => {
            let slash = rest.iter().position(|&c| c == b'/');
            let (share, filter) = rest.split_at(slash.ok_or(TopicError::InvalidShareName)?);
            if share.is_empty() || crate::string::contains_any(share, [b'+', b'#', 0]) {
                return Err(if share.contains(&0) {
                    TopicError::String(StringError::NullCharacter)
                } else {
                    TopicError::InvalidShareName
                });
            }
            check_filter_levels(&filter[1..])
        }
    }
}

impl TopicFilter {
    /// A topic filter from a literal.
    ///
    /// # Panics
    ///
    /// If `s` is not a valid topic filter. Use [`TopicFilter::try_from`] for other strings.
    pub fn from_static(s: &'static str) -> TopicFilter {
        if let Err(e) = check_topic_filter(s) {
            panic!("TopicFilter::from_static({s:?}): {e}");
        }
        TopicFilter(MqttString::from_static(s))
    }

    /// Validates UTF-8 bytes as a topic filter, without copying them.
    pub fn from_bytes(bytes: Bytes) -> Result<TopicFilter, TopicError> {
        TopicFilter::try_from(MqttString::from_bytes(bytes)?)
    }

    /// The whole filter as `&str`, `$share/...` prefix included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The whole filter as an [`MqttString`].
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// The ShareName of a shared subscription (`$share/{ShareName}/{filter}`).
    pub fn share_name(&self) -> Option<&str> {
        let rest = self.0.strip_prefix(SHARE_PREFIX)?;
        rest.split_once('/').map(|(share, _)| share)
    }

    /// Whether this is a shared subscription.
    pub fn is_shared(&self) -> bool {
        self.0.starts_with(SHARE_PREFIX)
    }

    /// The filter that topic names are matched against: without the `$share/{ShareName}/`
    /// prefix of a shared subscription.
    pub fn filter(&self) -> &str {
        match self.0.strip_prefix(SHARE_PREFIX) {
            Some(rest) => rest.split_once('/').map_or(rest, |(_, filter)| filter),
            None => &self.0,
        }
    }

    /// Whether the filter holds a wildcard (`+` or `#`).
    pub fn has_wildcards(&self) -> bool {
        self.filter().bytes().any(|b| b == b'+' || b == b'#')
    }

    /// Whether a message published to `topic` matches this filter (MQTT §4.7).
    ///
    /// Levels are compared exactly, without normalisation ([MQTT-4.7.3-4]); a filter that
    /// starts with a wildcard does not match a topic name starting with `$`
    /// ([MQTT-4.7.2-1]); a shared subscription matches as its filter part.
    pub fn matches(&self, topic: &TopicName) -> bool {
        matches(self.filter(), topic.as_str())
    }
}

/// Whether the topic filter `filter` (without any `$share/` prefix) matches topic name
/// `topic`. Both are taken as valid; see [`TopicFilter::matches`].
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl TopicFilter {
    /// A topic filter read from a packet: its UTF-8 checked once, U+0000 and the
    /// wildcards in one scan. A string error is reported as one of `field`, like any
    /// other string of the packet.
    pub(crate) fn read(
        r: &mut crate::wire::Reader,
        field: &'static str,
    ) -> Result<TopicFilter, DecodeError> {
        let s = MqttString::from_checked_bytes(r.binary(field)?)
            .map_err(|error| DecodeError::InvalidString { field, error })?;
        match check_topic_filter(&s) {
            Ok(()) => Ok(TopicFilter(s)),
            Err(TopicError::String(error)) => Err(DecodeError::InvalidString { field, error }),
            Err(e) => Err(DecodeError::InvalidTopicFilter(e)),
        }
    }
}

impl TryFrom<MqttString> for TopicFilter {
    type Error = TopicError;
    fn try_from(s: MqttString) -> Result<TopicFilter, TopicError> {
        check_topic_filter(&s)?;
        Ok(TopicFilter(s))
    }
}

impl TryFrom<&str> for TopicFilter {
    type Error = TopicError;
    fn try_from(s: &str) -> Result<TopicFilter, TopicError> {
        check_topic_filter(s)?;
        Ok(TopicFilter(MqttString::try_from(s)?))
    }
}

impl TryFrom<String> for TopicFilter {
    type Error = TopicError;
    fn try_from(s: String) -> Result<TopicFilter, TopicError> {
        check_topic_filter(&s)?;
        Ok(TopicFilter(MqttString::try_from(s)?))
    }
}

impl Deref for TopicFilter {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for TopicFilter {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{TopicError, check_filter_levels, has_null_or_wildcard};

    /// The rules level by level, as the specification states them: the oracle for the
    /// one-pass scan.
    fn levels_oracle(s: &str) -> Result<(), TopicError> {
        if s.is_empty() {
            return Err(TopicError::Empty);
        }
        let mut levels = s.split('/').peekable();
        while let Some(level) = levels.next() {
            // v5 [MQTT-4.7.1-1], v3.1.1 [MQTT-4.7.1-2]: `#` alone in the last level.
            if level.contains('#') && (level != "#" || levels.peek().is_some()) {
                return Err(TopicError::MisplacedMultiLevelWildcard);
            }
            // v5 [MQTT-4.7.1-2], v3.1.1 [MQTT-4.7.1-3]: `+` fills its level.
            if level.contains('+') && level != "+" {
                return Err(TopicError::MisplacedSingleLevelWildcard);
            }
        }
        Ok(())
    }

    #[test]
    fn the_filter_scan_agrees_with_the_level_rules_on_every_short_filter() {
        let alphabet = [b'a', b'/', b'+', b'#'];
        for len in 0..=9u32 {
            for mut code in 0..4usize.pow(len) {
                let mut s = alloc::string::String::new();
                for _ in 0..len {
                    s.push(char::from(alphabet[code % 4]));
                    code /= 4;
                }
                assert_eq!(
                    check_filter_levels(s.as_bytes()),
                    levels_oracle(&s),
                    "{s:?}"
                );
            }
        }
        // Longer ones, where the scan's last word overlaps the one before it.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for len in 10..=33 {
            for _ in 0..4096 {
                let s: alloc::string::String = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        char::from(alphabet[(seed >> 62) as usize])
                    })
                    .collect();
                assert_eq!(
                    check_filter_levels(s.as_bytes()),
                    levels_oracle(&s),
                    "{s:?}"
                );
            }
        }
    }

    #[test]
    fn swar_scan_finds_every_forbidden_byte_at_every_position() {
        for len in 0..40 {
            let clean: alloc::vec::Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(!has_null_or_wildcard(&clean));
            // UTF-8 continuation and lead bytes are never mistaken for them.
            let high: alloc::vec::Vec<u8> = (0..len).map(|i| 0x80 + (i % 64) as u8).collect();
            assert!(!has_null_or_wildcard(&high));
            for pos in 0..len {
                for bad in [0u8, b'+', b'#'] {
                    let mut v = clean.clone();
                    v[pos] = bad;
                    assert!(has_null_or_wildcard(&v), "len {len} pos {pos} byte {bad}");
                }
            }
        }
    }
}
