//! Topic names, topic filters and matching: the CODEC statements of §4.7 (both versions)
//! and §4.8.2 (5.0 shared subscriptions), and the unnumbered row U311-21.
//!
//! IDs differ between the versions (Part D of `/work/shared/CONFORMANCE.md`): the wildcard
//! ban in topic names is v3.1.1 [MQTT-4.7.1-1] and v5 [MQTT-4.7.0-1]; `#` placement is
//! v3.1.1 [MQTT-4.7.1-2] and v5 [MQTT-4.7.1-1]; `+` placement is v3.1.1 [MQTT-4.7.1-3] and
//! v5 [MQTT-4.7.1-2]. [MQTT-4.7.2-1] and [MQTT-4.7.3-1..4] carry the same number and
//! meaning in both. The wire side of these rules (the decoder refusing such topics) is in
//! `conformance_v311.rs` and `conformance_v5.rs`.

use bytes::Bytes;
use mqtt_proto::topic::matches;
use mqtt_proto::{MqttString, StringError, TopicError, TopicFilter, TopicName};

fn name(s: &str) -> TopicName {
    TopicName::try_from(s).unwrap_or_else(|e| panic!("topic name {s:?} refused: {e}"))
}

fn filter(s: &str) -> TopicFilter {
    TopicFilter::try_from(s).unwrap_or_else(|e| panic!("topic filter {s:?} refused: {e}"))
}

/// Whether `f` matches `t`, checked through `TopicFilter::matches` and, for a filter that is
/// not shared, the free function `matches` too.
fn m(f: &str, t: &str) -> bool {
    let tf = filter(f);
    let result = tf.matches(&name(t));
    if !tf.is_shared() {
        assert_eq!(matches(f, t), result, "matches({f:?}, {t:?}) disagrees");
    }
    result
}

fn assert_matches(f: &str, topics: &[&str]) {
    for t in topics {
        assert!(m(f, t), "{f:?} should match {t:?}");
    }
}

fn assert_no_match(f: &str, topics: &[&str]) {
    for t in topics {
        assert!(!m(f, t), "{f:?} should not match {t:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Topic names: no wildcards
// ---------------------------------------------------------------------------------------

// v3.1.1 [MQTT-4.7.1-1], v5 [MQTT-4.7.0-1]
#[test]
fn wildcards_are_not_allowed_in_topic_names() {
    for t in [
        "+",
        "#",
        "a/+",
        "a/#",
        "+/a",
        "a/b#",
        "a+b",
        "sport/tennis/#",
        "$SYS/#",
    ] {
        assert_eq!(
            TopicName::try_from(t),
            Err(TopicError::WildcardInTopicName),
            "{t:?}"
        );
        assert_eq!(
            TopicName::from_bytes(Bytes::copy_from_slice(t.as_bytes())),
            Err(TopicError::WildcardInTopicName)
        );
        assert_eq!(
            TopicName::try_from(MqttString::try_from(t).unwrap()),
            Err(TopicError::WildcardInTopicName)
        );
    }
    // The same strings are fine as filters, and ordinary names are fine as names.
    for t in ["+", "#", "a/+", "a/#", "+/a"] {
        filter(t);
    }
    for t in ["a", "a/b", "/", "a b", "$SYS/broker", "ünïcödé/тема"] {
        assert_eq!(name(t).as_str(), t);
    }
}

// ---------------------------------------------------------------------------------------
// Topic filters: wildcard placement
// ---------------------------------------------------------------------------------------

// v3.1.1 [MQTT-4.7.1-2], v5 [MQTT-4.7.1-1]
#[test]
fn multi_level_wildcard_is_alone_in_the_last_level() {
    for f in [
        "#",
        "sport/#",
        "sport/tennis/player1/#",
        "+/#",
        "/#",
        "$SYS/#",
        "a//#",
    ] {
        assert_eq!(filter(f).as_str(), f);
    }
    for f in [
        "sport/tennis#",
        "sport/tennis/#/ranking",
        "#/a",
        "a/#/",
        "##",
        "a/##",
        "#a",
        "a#/b",
        "#+",
    ] {
        assert_eq!(
            TopicFilter::try_from(f),
            Err(TopicError::MisplacedMultiLevelWildcard),
            "{f:?}"
        );
    }
}

// v3.1.1 [MQTT-4.7.1-3], v5 [MQTT-4.7.1-2]
#[test]
fn single_level_wildcard_fills_its_level() {
    for f in [
        "+",
        "+/tennis/#",
        "sport/+/player1",
        "sport/+",
        "+/+",
        "/+",
        "+/",
        "a/+/+/b",
        "+/+/+",
    ] {
        assert_eq!(filter(f).as_str(), f);
    }
    for f in [
        "sport+",
        "sport/+tennis",
        "a/b+",
        "++",
        "+a/b",
        "a/+b/c",
        "a/ +",
    ] {
        assert_eq!(
            TopicFilter::try_from(f),
            Err(TopicError::MisplacedSingleLevelWildcard),
            "{f:?}"
        );
    }
    assert!(filter("a/+").has_wildcards());
    assert!(filter("#").has_wildcards());
    assert!(!filter("a/b").has_wildcards());
}

// ---------------------------------------------------------------------------------------
// $-topics
// ---------------------------------------------------------------------------------------

// v3.1.1 and v5 [MQTT-4.7.2-1]
#[test]
fn wildcards_at_the_first_level_do_not_match_dollar_topics() {
    assert_no_match("#", &["$SYS/monitor/Clients", "$SYS", "$", "$share/x"]);
    assert_no_match("+/monitor/Clients", &["$SYS/monitor/Clients"]);
    assert_no_match("+", &["$SYS"]);
    assert_no_match("+/#", &["$SYS/a"]);
    assert_matches("$SYS/#", &["$SYS/monitor/Clients", "$SYS"]);
    assert_matches("$SYS/monitor/+", &["$SYS/monitor/Clients"]);
    assert_matches("$SYS/monitor/Clients", &["$SYS/monitor/Clients"]);
    // '$' only counts at the start: elsewhere it is an ordinary character.
    assert_matches("#", &["a/$SYS", "a$"]);
    assert_matches("+/$x", &["a/$x"]);
    assert!(name("$SYS/x").is_system());
    assert!(!name("a/$SYS").is_system());
    // A shared subscription matches as its filter part, with the same rule.
    assert!(!m("$share/g/#", "$SYS/x"));
    assert!(m("$share/g/$SYS/#", "$SYS/x"));
}

// ---------------------------------------------------------------------------------------
// Length and characters
// ---------------------------------------------------------------------------------------

// v3.1.1 and v5 [MQTT-4.7.3-1]
#[test]
fn topic_names_and_filters_are_at_least_one_character() {
    assert_eq!(TopicName::try_from(""), Err(TopicError::Empty));
    assert_eq!(TopicName::from_bytes(Bytes::new()), Err(TopicError::Empty));
    assert_eq!(TopicFilter::try_from(""), Err(TopicError::Empty));
    assert_eq!(
        TopicFilter::from_bytes(Bytes::new()),
        Err(TopicError::Empty)
    );
    // One character, even '/', is enough.
    for t in ["a", "/", " "] {
        name(t);
        filter(t);
    }
    // The zero-length name exists only for a 5.0 PUBLISH that names its topic by alias
    // (the encoders refuse it anywhere else: see the conformance tests).
    assert!(TopicName::empty().is_empty());
}

// v3.1.1 and v5 [MQTT-4.7.3-2]
#[test]
fn topic_names_and_filters_have_no_null_character() {
    let null = Err(TopicError::String(StringError::NullCharacter));
    assert_eq!(TopicName::try_from("a\0b"), null);
    assert_eq!(TopicName::try_from("\0"), null);
    assert_eq!(
        TopicName::from_bytes(Bytes::from_static(b"a/\0")),
        Err(TopicError::String(StringError::NullCharacter))
    );
    assert_eq!(
        TopicFilter::try_from("a/\0/#"),
        Err(TopicError::String(StringError::NullCharacter))
    );
    assert_eq!(
        TopicFilter::from_bytes(Bytes::from_static(b"\0")),
        Err(TopicError::String(StringError::NullCharacter))
    );
    // Other bytes are checked as UTF-8.
    assert_eq!(
        TopicName::from_bytes(Bytes::from_static(b"a/\xFF")),
        Err(TopicError::String(StringError::InvalidUtf8))
    );
    assert_eq!(
        TopicFilter::from_bytes(Bytes::from_static(b"\xED\xA0\x80/#")),
        Err(TopicError::String(StringError::InvalidUtf8))
    );
}

// v3.1.1 and v5 [MQTT-4.7.3-3]
#[test]
fn topic_names_and_filters_are_at_most_65535_bytes() {
    let longest = "a/".repeat(32_767) + "b";
    assert_eq!(longest.len(), 65_535);
    assert_eq!(name(&longest).len(), 65_535);
    let longest_filter = "+/".repeat(32_767) + "#";
    assert_eq!(filter(&longest_filter).len(), 65_535);
    let too_long = longest.clone() + "c";
    assert_eq!(
        TopicName::try_from(too_long.as_str()),
        Err(TopicError::String(StringError::TooLong(65_536)))
    );
    assert_eq!(
        TopicFilter::try_from(too_long.as_str()),
        Err(TopicError::String(StringError::TooLong(65_536)))
    );
    // Counted in bytes: 21,846 three-byte characters are 65,538 bytes.
    let wide = "€".repeat(21_846);
    assert_eq!(
        TopicName::try_from(wide.as_str()),
        Err(TopicError::String(StringError::TooLong(65_538)))
    );
    assert!(TopicName::try_from("€".repeat(21_845)).is_ok());
}

// v3.1.1 and v5 [MQTT-4.7.3-4]
#[test]
fn matching_compares_levels_exactly_without_normalisation() {
    // Case-sensitive.
    assert_no_match("ACCOUNTS", &["Accounts", "accounts"]);
    assert_matches("Accounts", &["Accounts"]);
    // Unicode normalisation forms are different topics: é (U+00E9) vs e + U+0301.
    assert_no_match("caf\u{E9}", &["cafe\u{301}"]);
    assert_no_match("cafe\u{301}", &["caf\u{E9}"]);
    assert_no_match("+/caf\u{E9}", &["x/cafe\u{301}"]);
    // Full-width and compatibility characters are not folded.
    assert_no_match("A", &["\u{FF21}"]);
    assert_no_match("ﬁ", &["fi"]);
    // Spaces are significant and never trimmed.
    assert_no_match("a b", &["ab", "a  b", " a b", "a b "]);
    assert_matches("Accounts payable", &["Accounts payable"]);
    // A leading U+FEFF is part of the topic.
    assert_no_match("a", &["\u{FEFF}a"]);
    assert_matches("\u{FEFF}a", &["\u{FEFF}a"]);
    // The stored strings are exactly the bytes given.
    assert_eq!(name("cafe\u{301}").as_bytes(), "cafe\u{301}".as_bytes());
}

// ---------------------------------------------------------------------------------------
// Matching examples of §4.7.1 and U311-21
// ---------------------------------------------------------------------------------------

// v3.1.1 [MQTT-4.7.1-2], v5 [MQTT-4.7.1-1]: what '#' matches.
#[test]
fn multi_level_wildcard_matches_the_parent_and_any_number_of_levels() {
    assert_matches(
        "sport/tennis/player1/#",
        &[
            "sport/tennis/player1",
            "sport/tennis/player1/ranking",
            "sport/tennis/player1/score/wimbledon",
            "sport/tennis/player1/",
        ],
    );
    assert_no_match(
        "sport/tennis/player1/#",
        &["sport/tennis/player2", "sport/tennis"],
    );
    assert_matches("sport/#", &["sport", "sport/", "sport/a/b/c"]);
    assert_no_match("sport/#", &["sports", "sportx/a"]);
    assert_matches("#", &["a", "/", "a/b/c", "/finance", " "]);
}

// v3.1.1 [MQTT-4.7.1-3], v5 [MQTT-4.7.1-2]: what '+' matches.
#[test]
fn single_level_wildcard_matches_exactly_one_level() {
    assert_matches(
        "sport/tennis/+",
        &["sport/tennis/player1", "sport/tennis/player2"],
    );
    assert_no_match(
        "sport/tennis/+",
        &["sport/tennis/player1/ranking", "sport/tennis"],
    );
    assert_matches("sport/+", &["sport/"]);
    assert_no_match("sport/+", &["sport", "sport/a/b"]);
    assert_matches(
        "+/tennis/#",
        &["sport/tennis", "sport/tennis/x/y", "/tennis"],
    );
    assert_matches(
        "sport/+/player1",
        &["sport/tennis/player1", "sport//player1"],
    );
    assert_matches("+", &["a", " "]);
    assert_no_match("+", &["a/b", "/"]);
}

// v3.1.1 U311-21 (the same facts hold in 5.0 §4.7)
#[test]
fn u311_21_levels_empty_levels_case_spaces_and_spec_examples() {
    // "sport/#" matches "sport"; "sport/+" matches "sport/" but not "sport".
    assert!(m("sport/#", "sport"));
    assert!(m("sport/+", "sport/"));
    assert!(!m("sport/+", "sport"));
    // "/finance" matches "+/+" and "/+" but not "+".
    assert!(m("+/+", "/finance"));
    assert!(m("/+", "/finance"));
    assert!(!m("+", "/finance"));
    // Empty levels are legal, distinct and matched by '+'.
    assert_eq!(name("a//b").levels().collect::<Vec<_>>(), ["a", "", "b"]);
    assert_eq!(name("/").levels().collect::<Vec<_>>(), ["", ""]);
    assert!(m("a//b", "a//b"));
    assert!(m("a/+/b", "a//b"));
    assert!(!m("a/b", "a//b"));
    assert!(!m("a//b", "a/b"));
    assert!(m("+/+", "/"));
    assert!(m("/", "/"));
    assert!(!m("/a", "a"));
    assert!(!m("a/", "a"));
    assert!(m("a/+", "a/"));
    assert!(m("//#", "//"));
    // Case-sensitive, spaces allowed.
    assert!(!m("ACCOUNTS", "Accounts"));
    assert!(m("Accounts payable/+", "Accounts payable/2024 Q1"));
}

// ---------------------------------------------------------------------------------------
// Shared subscriptions (5.0 §4.8.2)
// ---------------------------------------------------------------------------------------

// v5 [MQTT-4.8.2-1]
#[test]
fn mqtt_4_8_2_1_shared_filter_is_share_prefix_and_a_non_empty_share_name() {
    let f = filter("$share/consumer1/sport/tennis/+");
    assert!(f.is_shared());
    assert_eq!(f.share_name(), Some("consumer1"));
    assert_eq!(f.filter(), "sport/tennis/+");
    assert_eq!(f.as_str(), "$share/consumer1/sport/tennis/+");
    assert!(f.has_wildcards());
    let f = filter("$share/c/#");
    assert_eq!((f.share_name(), f.filter()), (Some("c"), "#"));
    let f = filter("$share/c/a");
    assert!(!f.has_wildcards());
    for bad in ["$share//a", "$share//#"] {
        assert_eq!(
            TopicFilter::try_from(bad),
            Err(TopicError::InvalidShareName),
            "{bad:?}"
        );
    }
    // Only "$share/" starts a shared subscription; look-alikes are ordinary filters.
    for ordinary in [
        "$share",
        "$sharex/g/a",
        "$SHARE/g/a",
        "share/g/a",
        "a/$share/g/b",
    ] {
        let f = filter(ordinary);
        assert!(!f.is_shared(), "{ordinary:?}");
        assert_eq!((f.share_name(), f.filter()), (None, ordinary));
    }
}

// v5 [MQTT-4.8.2-2]
#[test]
fn mqtt_4_8_2_2_share_name_has_no_slash_plus_or_hash_and_is_followed_by_a_filter() {
    for bad in [
        "$share/g",
        "$share/g+/a",
        "$share/+/a",
        "$share/g#/a",
        "$share/#/a",
        "$share/#",
    ] {
        assert_eq!(
            TopicFilter::try_from(bad),
            Err(TopicError::InvalidShareName),
            "{bad:?}"
        );
    }
    // The part after the ShareName is an ordinary filter, with the ordinary rules.
    assert_eq!(TopicFilter::try_from("$share/g/"), Err(TopicError::Empty));
    assert_eq!(
        TopicFilter::try_from("$share/g/a/#/b"),
        Err(TopicError::MisplacedMultiLevelWildcard)
    );
    assert_eq!(
        TopicFilter::try_from("$share/g/a+"),
        Err(TopicError::MisplacedSingleLevelWildcard)
    );
    // A '/' ends the ShareName: the rest, '/' included, is the filter.
    let f = filter("$share/g//a");
    assert_eq!((f.share_name(), f.filter()), (Some("g"), "/a"));
    let f = filter("$share/g/$share/h/a");
    assert_eq!((f.share_name(), f.filter()), (Some("g"), "$share/h/a"));
    // Matching uses the filter part only.
    assert!(m("$share/g/sport/+", "sport/tennis"));
    assert!(!m("$share/g/sport/+", "g/sport/tennis"));
    assert!(m("$share/g//+", "/a"));
    assert!(m("$share/g/#", "anything/at/all"));
}
