//! Topic names, topic filters and matching (mqtt-proto `topic.rs`) against a naive
//! reference written here from the specification (MQTT §4.7, §4.8.2):
//!
//! * a topic name is a non-empty MQTT string (no U+0000, at most 65,535 bytes) without
//!   `+` or `#`;
//! * a topic filter is a non-empty MQTT string whose levels (split on `/`) hold `+` only
//!   as the whole level and `#` only as the whole last level; `$share/{ShareName}/{filter}`
//!   is a shared subscription whose ShareName is non-empty without `+` or `#` (and, being
//!   cut at the first `/`, without `/`), followed by a valid filter;
//! * `+` matches exactly one level, `#` any number of levels including the parent level
//!   (`a/#` matches `a`), levels compare exactly, and a filter starting with a wildcard
//!   does not match a topic name starting with `$`; a shared subscription matches as its
//!   filter part.
//!
//! Checked: no panic; validity of names and filters (via `&str`, `String`, `MqttString`
//! and `Bytes`) agrees with the reference; `matches`, `share_name`, `filter`,
//! `is_shared`, `has_wildcards`, `is_system`, `levels` and `Display` agree with it.
#![no_main]

mod common;

use bytes::Bytes;
use common::two_strings;
use libfuzzer_sys::fuzz_target;
use mqtt_proto::{MqttString, TopicFilter, TopicName};

/// The pieces a leading 0xFE builds the input's strings from (see [`two_strings`]).
const PIECES: [&str; 16] = [
    "a", "b", "/", "/", "+", "#", "$", "$share/", "$SYS", "g", "", "\0", "é", "ab", "//", "$share",
];

fn mqtt_string_ok(s: &str) -> bool {
    !s.is_empty() && !s.contains('\0') && s.len() <= 65_535
}

fn ref_topic_name(s: &str) -> bool {
    mqtt_string_ok(s) && !s.contains(['+', '#'])
}

/// The levels rule for the filter part.
fn ref_filter_levels(f: &str) -> bool {
    if f.is_empty() {
        return false;
    }
    let levels: Vec<&str> = f.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return false;
        }
        if level.contains('+') && *level != "+" {
            return false;
        }
    }
    true
}

/// `(share name, filter part)` of a valid filter, or `None` if it is not valid.
fn ref_topic_filter(s: &str) -> Option<(Option<&str>, &str)> {
    if !mqtt_string_ok(s) {
        return None;
    }
    match s.strip_prefix("$share/") {
        None => ref_filter_levels(s).then_some((None, s)),
        Some(rest) => {
            let (share, filter) = rest.split_once('/')?;
            if share.is_empty() || share.contains(['+', '#']) {
                return None;
            }
            ref_filter_levels(filter).then_some((Some(share), filter))
        }
    }
}

fn ref_match_levels(f: &[&str], t: &[&str]) -> bool {
    match (f.first(), t.first()) {
        (None, None) => true,
        (Some(&"#"), _) => true,
        (Some(&"+"), Some(_)) => ref_match_levels(&f[1..], &t[1..]),
        (Some(a), Some(b)) if a == b => ref_match_levels(&f[1..], &t[1..]),
        _ => false,
    }
}

fn ref_matches(filter: &str, topic: &str) -> bool {
    let f: Vec<&str> = filter.split('/').collect();
    let t: Vec<&str> = topic.split('/').collect();
    if topic.starts_with('$') && (f[0] == "+" || f[0] == "#") {
        return false;
    }
    ref_match_levels(&f, &t)
}

fn check_name(s: &str) -> Option<TopicName> {
    let expected = ref_topic_name(s);
    let parsed = TopicName::try_from(s);
    assert_eq!(parsed.is_ok(), expected, "TopicName {s:?}: {parsed:?}");
    let owned = TopicName::try_from(s.to_string());
    assert_eq!(owned.is_ok(), expected, "TopicName (String) {s:?}");
    let bytes = TopicName::from_bytes(Bytes::copy_from_slice(s.as_bytes()));
    assert_eq!(bytes.is_ok(), expected, "TopicName::from_bytes {s:?}");
    if let Ok(m) = MqttString::try_from(s) {
        assert_eq!(
            TopicName::try_from(m).is_ok(),
            expected,
            "TopicName (MqttString) {s:?}"
        );
    }
    let name = parsed.ok()?;
    assert_eq!(name.as_str(), s);
    assert_eq!(name.to_string(), s, "TopicName Display");
    assert_eq!(name.is_system(), s.starts_with('$'), "is_system {s:?}");
    assert!(name.levels().eq(s.split('/')), "levels {s:?}");
    Some(name)
}

fn check_filter(s: &str) -> Option<TopicFilter> {
    let expected = ref_topic_filter(s);
    let parsed = TopicFilter::try_from(s);
    assert_eq!(
        parsed.is_ok(),
        expected.is_some(),
        "TopicFilter {s:?}: {parsed:?}"
    );
    let owned = TopicFilter::try_from(s.to_string());
    assert_eq!(
        owned.is_ok(),
        expected.is_some(),
        "TopicFilter (String) {s:?}"
    );
    let bytes = TopicFilter::from_bytes(Bytes::copy_from_slice(s.as_bytes()));
    assert_eq!(
        bytes.is_ok(),
        expected.is_some(),
        "TopicFilter::from_bytes {s:?}"
    );
    if let Ok(m) = MqttString::try_from(s) {
        assert_eq!(
            TopicFilter::try_from(m).is_ok(),
            expected.is_some(),
            "TopicFilter (MqttString) {s:?}"
        );
    }
    let filter = parsed.ok()?;
    let (share, part) = expected?;
    assert_eq!(filter.as_str(), s);
    assert_eq!(filter.to_string(), s, "TopicFilter Display");
    assert_eq!(filter.share_name(), share, "share_name {s:?}");
    assert_eq!(filter.is_shared(), share.is_some(), "is_shared {s:?}");
    assert_eq!(filter.filter(), part, "filter() {s:?}");
    assert_eq!(
        filter.has_wildcards(),
        part.contains(['+', '#']),
        "has_wildcards {s:?}"
    );
    Some(filter)
}

fuzz_target!(|data: &[u8]| {
    // The input: `filter 0xFF name`.
    let (f, t) = two_strings(data, &PIECES);
    // Each string both ways: as a name and as a filter.
    let filter = check_filter(&f);
    let name = check_name(&t);
    check_name(&f);
    check_filter(&t);
    if let (Some(filter), Some(name)) = (filter, name) {
        let expected = ref_matches(filter.filter(), name.as_str());
        assert_eq!(
            filter.matches(&name),
            expected,
            "{:?} matches {:?}",
            filter.as_str(),
            name.as_str()
        );
        assert_eq!(
            mqtt_proto::topic::matches(filter.filter(), name.as_str()),
            expected
        );
        if !filter.has_wildcards() {
            assert_eq!(expected, filter.filter() == name.as_str());
        }
        // A topic name is also a valid filter, and matches itself (unless shared syntax).
        if let Some(as_filter) = check_filter(name.as_str())
            && !as_filter.is_shared()
        {
            assert!(
                as_filter.matches(&name),
                "{:?} does not match itself",
                name.as_str()
            );
        }
    }
});
