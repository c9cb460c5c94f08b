//! Proptest strategies: every valid MQTT packet of every protocol version, and ways to
//! break valid packets and their encodings.
//!
//! "Valid" means what the specification allows the version to express and what the
//! encoder's `check` functions accept: MQTT 3.1 / 3.1.1 packets carry no properties, no
//! reason codes but the success ones (CONNACK return codes 0-5, SUBACK 0/1/2 and, from
//! 3.1.1, 0x80), no UNSUBACK reason codes and no AUTH; 3.1 has no Session Present and no
//! empty client identifier; MQTT 5.0 packets carry every property each packet may have,
//! with allowed values only.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use mqtt_proto::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    Disconnect, DisconnectProperties, MAX_VARIABLE_BYTE_INTEGER, MqttString, Packet, PacketId,
    PacketType, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties, QoS,
    ReasonCode, RetainHandling, SubAck, Subscribe, SubscribeProperties, Subscription,
    SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Unsubscribe, UnsubscribeProperties,
    UserProperty, Will, WillProperties,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// `cases` cases (unless `PROPTEST_CASES` is set), and no regression files written into
/// the source tree.
pub(crate) fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config.failure_persistence = None;
    config
}

/// Every protocol version the crate speaks.
pub(crate) const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

pub(crate) fn version() -> impl Strategy<Value = ProtocolVersion> {
    select(&VERSIONS[..])
}

// ---------------------------------------------------------------------------------------
// Primitive values
// ---------------------------------------------------------------------------------------

/// Characters worth seeing often: every UTF-8 length boundary, the BOM U+FEFF (which
/// must be kept, [MQTT-1.5.4-3]), non-characters, control characters, and the characters
/// topics treat specially.
const SPECIAL_CHARS: &[char] = &[
    '\u{1}',
    '\u{1F}',
    '\u{7F}',
    '\u{80}',
    '\u{9F}',
    '\u{FF}',
    '\u{7FF}',
    '\u{800}',
    '\u{FEFF}',
    '\u{FFFD}',
    '\u{FFFE}',
    '\u{FFFF}',
    '\u{10000}',
    '\u{10FFFF}',
    'é',
    'ß',
    'Ω',
    '€',
    '中',
    '𝄞',
    '😀',
    ' ',
    '$',
    '/',
    '+',
    '#',
];

/// Any character but U+0000, weighted towards ASCII and the characters above.
fn string_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range('\u{1}', '\u{7F}'),
        2 => select(SPECIAL_CHARS),
        1 => any::<char>(),
    ]
    .prop_map(|c| if c == '\0' { '\u{FEFF}' } else { c })
}

fn chars_to_string(chars: Vec<char>) -> String {
    chars.into_iter().collect()
}

/// A valid MQTT UTF-8 string: empty to a few hundred characters, no U+0000.
pub(crate) fn mqtt_string() -> impl Strategy<Value = MqttString> {
    prop_oneof![
        6 => vec(string_char(), 0..12),
        1 => vec(string_char(), 12..200),
    ]
    .prop_map(|chars| MqttString::try_from(chars_to_string(chars)).expect("valid MQTT string"))
}

/// A character of a topic level: anything but `/`, `+`, `#` and U+0000.
fn level_char() -> impl Strategy<Value = char> {
    string_char().prop_map(|c| if matches!(c, '/' | '+' | '#') { '_' } else { c })
}

/// One topic level without wildcards; may be empty.
fn topic_level() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => vec(level_char(), 1..10),
        1 => Just(Vec::new()),
        1 => vec(level_char(), 10..60),
    ]
    .prop_map(chars_to_string)
}

/// A valid (non-empty) topic name: levels joined by `/`, empty levels included, sometimes
/// a `$` topic.
pub(crate) fn topic_name() -> impl Strategy<Value = TopicName> {
    (
        select(&["", "", "", "", "", "$SYS/", "$share/", "/"][..]),
        vec(topic_level(), 1..5),
    )
        .prop_map(|(prefix, levels)| {
            let mut s = String::from(prefix);
            s.push_str(&levels.join("/"));
            if s.is_empty() {
                s.push('t');
            }
            TopicName::try_from(s).expect("valid topic name")
        })
}

/// A topic filter without the `$share/` prefix: `+` as whole levels, `#` only as the last
/// level.
fn plain_filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![3 => topic_level(), 1 => Just("+".to_owned())];
    (vec(level, 0..5), proptest::bool::weighted(0.25)).prop_map(|(mut levels, hash)| {
        if hash {
            levels.push("#".to_owned());
        }
        let s = levels.join("/");
        if s.is_empty() { "#".to_owned() } else { s }
    })
}

/// A valid topic filter, sometimes a shared subscription `$share/{ShareName}/{filter}`.
pub(crate) fn topic_filter() -> impl Strategy<Value = TopicFilter> {
    (
        option::weighted(0.2, vec(level_char(), 1..8)),
        plain_filter(),
    )
        .prop_map(|(share, filter)| {
            let s = match share {
                Some(name) => format!("$share/{}/{filter}", chars_to_string(name)),
                None => filter,
            };
            TopicFilter::try_from(s).expect("valid topic filter")
        })
}

/// Binary data of a property, password or the like: mostly short.
fn binary() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..16),
        1 => vec(any::<u8>(), 16..300),
    ]
    .prop_map(Bytes::from)
}

/// An application payload: empty to a few KiB.
pub(crate) fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        5 => vec(any::<u8>(), 0..32),
        3 => vec(any::<u8>(), 32..512),
        2 => vec(any::<u8>(), 512..4096),
    ]
    .prop_map(Bytes::from)
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    option::weighted(0.5, s)
}

fn u16_value() -> impl Strategy<Value = u16> {
    prop_oneof![Just(0u16), Just(1), Just(u16::MAX), any::<u16>()]
}

fn u32_value() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(1), Just(u32::MAX), any::<u32>()]
}

fn non_zero_u16() -> impl Strategy<Value = NonZeroU16> {
    prop_oneof![Just(1u16), Just(u16::MAX), 1..=u16::MAX]
        .prop_map(|v| NonZeroU16::new(v).expect("non-zero"))
}

fn non_zero_u32() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![Just(1u32), Just(u32::MAX), 1..=u32::MAX]
        .prop_map(|v| NonZeroU32::new(v).expect("non-zero"))
}

/// A Subscription Identifier, 1 to 268,435,455, often at a Variable Byte Integer length
/// boundary.
pub(crate) fn subscription_identifier() -> impl Strategy<Value = u32> {
    prop_oneof![
        1 => select(&[1u32, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, MAX_VARIABLE_BYTE_INTEGER][..]),
        2 => 1..=MAX_VARIABLE_BYTE_INTEGER,
    ]
}

pub(crate) fn packet_id() -> impl Strategy<Value = PacketId> {
    non_zero_u16().prop_map(PacketId::from)
}

pub(crate) fn qos() -> impl Strategy<Value = QoS> {
    select(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][..])
}

/// Every reason code MQTT 5.0 allows in a packet of type `packet`.
pub(crate) fn reason_codes_for(packet: PacketType) -> Vec<ReasonCode> {
    (0..=u8::MAX)
        .filter_map(ReasonCode::from_u8)
        .filter(|c| c.is_allowed_in(packet))
        .collect()
}

fn reason_code_for(packet: PacketType) -> impl Strategy<Value = ReasonCode> {
    select(reason_codes_for(packet))
}

/// Every reason code MQTT 5.0 defines.
pub(crate) fn any_reason_code() -> impl Strategy<Value = ReasonCode> {
    select(
        (0..=u8::MAX)
            .filter_map(ReasonCode::from_u8)
            .collect::<Vec<_>>(),
    )
}

fn user_property() -> impl Strategy<Value = UserProperty> {
    let name = prop_oneof![
        2 => mqtt_string(),
        1 => select(&["k", "name", ""][..]).prop_map(MqttString::from_static),
    ];
    (name, mqtt_string()).prop_map(|(name, value)| UserProperty::new(name, value))
}

/// User Properties: none, or a few, names often repeated.
fn user_properties() -> impl Strategy<Value = Vec<UserProperty>> {
    prop_oneof![
        1 => Just(Vec::new()),
        2 => vec(user_property(), 1..5),
    ]
}

// ---------------------------------------------------------------------------------------
// Properties of MQTT 5.0 packets
// ---------------------------------------------------------------------------------------

/// An Authentication Method and maybe Authentication Data (never data without method).
fn authentication() -> impl Strategy<Value = Option<(MqttString, Option<Bytes>)>> {
    option::weighted(0.3, (mqtt_string(), opt(binary())))
}

fn connect_properties() -> impl Strategy<Value = ConnectProperties> {
    (
        opt(u32_value()),
        opt(non_zero_u16()),
        opt(non_zero_u32()),
        opt(u16_value()),
        opt(any::<bool>()),
        opt(any::<bool>()),
        user_properties(),
        authentication(),
    )
        .prop_map(|(sei, rm, mps, tam, rri, rpi, user_properties, auth)| {
            let (authentication_method, authentication_data) = split_auth(auth);
            ConnectProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_packet_size: mps,
                topic_alias_maximum: tam,
                request_response_information: rri,
                request_problem_information: rpi,
                user_properties,
                authentication_method,
                authentication_data,
            }
        })
}

fn split_auth(auth: Option<(MqttString, Option<Bytes>)>) -> (Option<MqttString>, Option<Bytes>) {
    match auth {
        Some((method, data)) => (Some(method), data),
        None => (None, None),
    }
}

fn will_properties() -> impl Strategy<Value = WillProperties> {
    (
        opt(u32_value()),
        opt(any::<bool>()),
        opt(u32_value()),
        opt(mqtt_string()),
        opt(topic_name()),
        opt(binary()),
        user_properties(),
    )
        .prop_map(
            |(wdi, pfi, mei, ct, rt, cd, user_properties)| WillProperties {
                will_delay_interval: wdi,
                payload_format_indicator: pfi,
                message_expiry_interval: mei,
                content_type: ct,
                response_topic: rt,
                correlation_data: cd,
                user_properties,
            },
        )
}

fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    let limits = (
        opt(u32_value()),
        opt(non_zero_u16()),
        opt(select(&[QoS::AtMostOnce, QoS::AtLeastOnce][..])),
        opt(any::<bool>()),
        opt(non_zero_u32()),
        opt(u16_value()),
        opt(any::<bool>()),
        opt(any::<bool>()),
        opt(any::<bool>()),
        opt(u16_value()),
    );
    let texts = (
        opt(mqtt_string()),
        opt(mqtt_string()),
        user_properties(),
        opt(mqtt_string()),
        opt(mqtt_string()),
        authentication(),
    );
    (limits, texts).prop_map(
        |(
            (sei, rm, mq, ra, mps, tam, wsa, sia, ssa, ska),
            (aci, rs, user_properties, ri, sr, auth),
        )| {
            let (authentication_method, authentication_data) = split_auth(auth);
            ConnAckProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_qos: mq,
                retain_available: ra,
                maximum_packet_size: mps,
                assigned_client_identifier: aci,
                topic_alias_maximum: tam,
                reason_string: rs,
                user_properties,
                wildcard_subscription_available: wsa,
                subscription_identifier_available: sia,
                shared_subscription_available: ssa,
                server_keep_alive: ska,
                response_information: ri,
                server_reference: sr,
                authentication_method,
                authentication_data,
            }
        },
    )
}

fn publish_properties() -> impl Strategy<Value = PublishProperties> {
    (
        opt(any::<bool>()),
        opt(u32_value()),
        opt(non_zero_u16()),
        opt(topic_name()),
        opt(binary()),
        user_properties(),
        prop_oneof![
            2 => Just(Vec::new()),
            1 => vec(subscription_identifier(), 1..5),
        ],
        opt(mqtt_string()),
    )
        .prop_map(
            |(pfi, mei, ta, rt, cd, user_properties, sids, ct)| PublishProperties {
                payload_format_indicator: pfi,
                message_expiry_interval: mei,
                topic_alias: ta,
                response_topic: rt,
                correlation_data: cd,
                user_properties,
                subscription_identifiers: sids,
                content_type: ct,
            },
        )
}

fn ack_properties() -> impl Strategy<Value = AckProperties> {
    (opt(mqtt_string()), user_properties()).prop_map(|(reason_string, user_properties)| {
        AckProperties {
            reason_string,
            user_properties,
        }
    })
}

fn disconnect_properties() -> impl Strategy<Value = DisconnectProperties> {
    (
        opt(u32_value()),
        opt(mqtt_string()),
        user_properties(),
        opt(mqtt_string()),
    )
        .prop_map(
            |(session_expiry_interval, reason_string, user_properties, server_reference)| {
                DisconnectProperties {
                    session_expiry_interval,
                    reason_string,
                    user_properties,
                    server_reference,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------

fn will(version: ProtocolVersion) -> impl Strategy<Value = Will> {
    let properties = if version.is_v5() {
        will_properties().boxed()
    } else {
        Just(WillProperties::default()).boxed()
    };
    (topic_name(), payload(), qos(), any::<bool>(), properties).prop_map(
        |(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        },
    )
}

/// A CONNECT asking for `version`.
pub(crate) fn connect(version: ProtocolVersion) -> impl Strategy<Value = Connect> {
    let properties = if version.is_v5() {
        connect_properties().boxed()
    } else {
        Just(ConnectProperties::default()).boxed()
    };
    (
        any::<bool>(),
        u16_value(),
        mqtt_string(),
        option::weighted(0.4, will(version)),
        opt(mqtt_string()),
        opt(binary()),
        properties,
    )
        .prop_map(
            move |(clean_start, keep_alive, client_id, will, user_name, password, properties)| {
                let mut connect = Connect {
                    protocol_version: version,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    user_name,
                    password,
                    properties,
                };
                if version == ProtocolVersion::V3_1 && connect.client_id.is_empty() {
                    // MQTT 3.1: the client identifier has 1 to 23 characters.
                    connect.client_id = MqttString::from_static("c");
                }
                if !version.is_v5() {
                    // [MQTT-3.1.3-7]: a zero-byte client identifier needs Clean Session.
                    if connect.client_id.is_empty() {
                        connect.clean_start = true;
                    }
                    // [MQTT-3.1.2-22]: no password without a user name.
                    if connect.user_name.is_none() {
                        connect.password = None;
                    }
                }
                connect
            },
        )
}

fn connack(version: ProtocolVersion) -> impl Strategy<Value = ConnAck> {
    let (codes, properties) = if version.is_v5() {
        (
            reason_codes_for(PacketType::ConnAck),
            connack_properties().boxed(),
        )
    } else {
        (
            (0..=5).filter_map(ReasonCode::from_v3_connack).collect(),
            Just(ConnAckProperties::default()).boxed(),
        )
    };
    (any::<bool>(), select(codes), properties).prop_map(
        move |(session_present, reason_code, properties)| ConnAck {
            // Session Present only with success ([MQTT-3.2.2-4] v3.1.1, [MQTT-3.2.2-6] v5);
            // MQTT 3.1 has no Session Present.
            session_present: session_present
                && reason_code == ReasonCode::Success
                && version != ProtocolVersion::V3_1,
            reason_code,
            properties,
        },
    )
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Publish> {
    let v5 = version.is_v5();
    let properties = if v5 {
        publish_properties().boxed()
    } else {
        Just(PublishProperties::default()).boxed()
    };
    let topic = if v5 {
        // MQTT 5.0: a zero-length topic name goes with a Topic Alias.
        option::weighted(0.85, topic_name()).boxed()
    } else {
        topic_name().prop_map(Some).boxed()
    };
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic,
        packet_id(),
        payload(),
        properties,
        non_zero_u16(),
    )
        .prop_map(
            |(qos, dup, retain, topic, id, payload, mut properties, alias)| {
                let topic = topic.unwrap_or_else(|| {
                    properties.topic_alias.get_or_insert(alias);
                    TopicName::empty()
                });
                let qos0 = qos == QoS::AtMostOnce;
                Publish {
                    dup: dup && !qos0,
                    qos,
                    retain,
                    topic,
                    packet_id: (!qos0).then_some(id),
                    payload,
                    properties: properties.into(),
                }
            },
        )
}

macro_rules! pub_ack_strategy {
    ($name:ident, $t:ident) => {
        fn $name(version: ProtocolVersion) -> impl Strategy<Value = $t> {
            let rest = if version.is_v5() {
                (reason_code_for(PacketType::$t), ack_properties()).boxed()
            } else {
                Just((ReasonCode::Success, AckProperties::default())).boxed()
            };
            (packet_id(), rest).prop_map(|(packet_id, (reason_code, properties))| $t {
                packet_id,
                reason_code,
                properties: properties.into(),
            })
        }
    };
}
pub_ack_strategy!(puback, PubAck);
pub_ack_strategy!(pubrec, PubRec);
pub_ack_strategy!(pubrel, PubRel);
pub_ack_strategy!(pubcomp, PubComp);

fn subscription(version: ProtocolVersion) -> impl Strategy<Value = Subscription> {
    let v5 = version.is_v5();
    (
        topic_filter(),
        qos(),
        any::<bool>(),
        any::<bool>(),
        select(
            &[
                RetainHandling::SendAtSubscribe,
                RetainHandling::SendIfNew,
                RetainHandling::DoNotSend,
            ][..],
        ),
    )
        .prop_map(move |(filter, qos, no_local, rap, retain_handling)| {
            let options = if v5 {
                SubscriptionOptions {
                    qos,
                    // [MQTT-3.8.3-4]: no No Local on a shared subscription.
                    no_local: no_local && !filter.is_shared(),
                    retain_as_published: rap,
                    retain_handling,
                }
            } else {
                SubscriptionOptions::new(qos)
            };
            Subscription { filter, options }
        })
}

fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Subscribe> {
    let properties = if version.is_v5() {
        (opt(subscription_identifier()), user_properties())
            .prop_map(
                |(subscription_identifier, user_properties)| SubscribeProperties {
                    subscription_identifier,
                    user_properties,
                },
            )
            .boxed()
    } else {
        Just(SubscribeProperties::default()).boxed()
    };
    (packet_id(), vec(subscription(version), 1..6), properties).prop_map(
        |(packet_id, subscriptions, properties)| Subscribe {
            packet_id,
            subscriptions,
            properties: properties.into(),
        },
    )
}

fn suback(version: ProtocolVersion) -> impl Strategy<Value = SubAck> {
    let (codes, properties) = if version.is_v5() {
        (
            reason_codes_for(PacketType::SubAck),
            ack_properties().boxed(),
        )
    } else {
        // MQTT 3.1 SUBACK grants QoS 0/1/2; 3.1.1 adds 0x80 Failure.
        let v3_codes: &[u8] = if version == ProtocolVersion::V3_1 {
            &[0, 1, 2]
        } else {
            &[0, 1, 2, 0x80]
        };
        (
            v3_codes
                .iter()
                .copied()
                .filter_map(ReasonCode::from_v3_suback)
                .collect(),
            Just(AckProperties::default()).boxed(),
        )
    };
    (packet_id(), vec(select(codes), 1..8), properties).prop_map(
        |(packet_id, reason_codes, properties)| SubAck {
            packet_id,
            reason_codes,
            properties: properties.into(),
        },
    )
}

fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Unsubscribe> {
    let user_properties = if version.is_v5() {
        user_properties().boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (packet_id(), vec(topic_filter(), 1..6), user_properties).prop_map(
        |(packet_id, filters, user_properties)| Unsubscribe {
            packet_id,
            filters,
            properties: UnsubscribeProperties { user_properties }.into(),
        },
    )
}

fn unsuback(version: ProtocolVersion) -> impl Strategy<Value = UnsubAck> {
    let rest = if version.is_v5() {
        (
            vec(reason_code_for(PacketType::UnsubAck), 1..8),
            ack_properties(),
        )
            .boxed()
    } else {
        // MQTT 3.1 / 3.1.1 UNSUBACK has no reason codes.
        Just((Vec::new(), AckProperties::default())).boxed()
    };
    (packet_id(), rest).prop_map(|(packet_id, (reason_codes, properties))| UnsubAck {
        packet_id,
        reason_codes,
        properties: properties.into(),
    })
}

fn disconnect(version: ProtocolVersion) -> BoxedStrategy<Disconnect> {
    if !version.is_v5() {
        return Just(Disconnect::default()).boxed();
    }
    (
        reason_code_for(PacketType::Disconnect),
        disconnect_properties(),
    )
        .prop_map(|(reason_code, properties)| Disconnect {
            reason_code,
            properties: properties.into(),
        })
        .boxed()
}

/// An MQTT 5.0 AUTH: the bare Success form, or a reason code with an Authentication
/// Method (required whenever there is a body, [MQTT-3.15.2-1] and §3.15.2.2.2).
fn auth() -> impl Strategy<Value = Auth> {
    (
        reason_code_for(PacketType::Auth),
        option::weighted(
            0.85,
            (
                mqtt_string(),
                opt(binary()),
                opt(mqtt_string()),
                user_properties(),
            ),
        ),
    )
        .prop_map(|(reason_code, properties)| match properties {
            None => Auth::default(),
            Some((method, data, reason_string, user_properties)) => Auth {
                reason_code,
                properties: AuthProperties {
                    authentication_method: Some(method),
                    authentication_data: data,
                    reason_string,
                    user_properties,
                }
                .into(),
            },
        })
}

/// Every valid packet `version` can express.
pub(crate) fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let common = prop_oneof![
        2 => connect(version).prop_map(Packet::from),
        1 => connack(version).prop_map(Packet::from),
        3 => publish(version).prop_map(Packet::Publish),
        1 => puback(version).prop_map(Packet::PubAck),
        1 => pubrec(version).prop_map(Packet::PubRec),
        1 => pubrel(version).prop_map(Packet::PubRel),
        1 => pubcomp(version).prop_map(Packet::PubComp),
        2 => subscribe(version).prop_map(Packet::Subscribe),
        1 => suback(version).prop_map(Packet::SubAck),
        1 => unsubscribe(version).prop_map(Packet::Unsubscribe),
        1 => unsuback(version).prop_map(Packet::UnsubAck),
        1 => Just(Packet::PingReq),
        1 => Just(Packet::PingResp),
        1 => disconnect(version).prop_map(Packet::Disconnect),
    ];
    if version.is_v5() {
        prop_oneof![14 => common, 1 => auth().prop_map(Packet::Auth)].boxed()
    } else {
        common.boxed()
    }
}

/// A protocol version and a valid packet of it.
pub(crate) fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    version().prop_flat_map(|v| (Just(v), packet(v)))
}

/// A protocol version and a few valid packets of it.
pub(crate) fn versioned_packets(
    max: usize,
) -> impl Strategy<Value = (ProtocolVersion, Vec<Packet>)> {
    version().prop_flat_map(move |v| (Just(v), vec(packet(v), 1..max)))
}

/// A CONNECT of any version.
pub(crate) fn any_connect() -> impl Strategy<Value = Connect> {
    version().prop_flat_map(connect)
}

// ---------------------------------------------------------------------------------------
// Breaking encodings
// ---------------------------------------------------------------------------------------

/// A change to a byte string.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    /// Flips bit `1` of the byte at `0`.
    FlipBit(Index, u8),
    /// Replaces the byte at `0`.
    Overwrite(Index, u8),
    /// Inserts bytes at `0`.
    Insert(Index, Vec<u8>),
    /// Removes up to `1` bytes at `0`.
    Remove(Index, usize),
    /// Cuts the string at `0`.
    Truncate(Index),
    /// Copies a range to another place (a duplicated field or property).
    Duplicate(Index, usize, Index),
}

pub(crate) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), 0..8u8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        3 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        2 => (any::<Index>(), vec(any::<u8>(), 1..4)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1..4usize).prop_map(|(i, n)| Mutation::Remove(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1..16usize, any::<Index>())
            .prop_map(|(from, n, to)| Mutation::Duplicate(from, n, to)),
    ]
}

impl Mutation {
    pub(crate) fn apply(&self, bytes: &mut Vec<u8>) {
        let len = bytes.len();
        match self {
            Mutation::FlipBit(i, bit) => {
                if len > 0 {
                    bytes[i.index(len)] ^= 1 << bit;
                }
            }
            Mutation::Overwrite(i, b) => {
                if len > 0 {
                    bytes[i.index(len)] = *b;
                }
            }
            Mutation::Insert(i, new) => {
                let at = i.index(len + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Remove(i, n) => {
                if len > 0 {
                    let at = i.index(len);
                    bytes.drain(at..(at + n).min(len));
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(len + 1)),
            Mutation::Duplicate(from, n, to) => {
                if len > 0 {
                    let from = from.index(len);
                    let copy = bytes[from..(from + n).min(len)].to_vec();
                    let to = to.index(len + 1);
                    bytes.splice(to..to, copy);
                }
            }
        }
    }
}

/// A first byte with a packet type and flags the fixed header accepts (mostly), or any.
pub(crate) fn first_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => (1u8..=15).prop_map(|t| {
            let flags = match t {
                6 | 8 | 10 => 0b0010,
                _ => 0,
            };
            (t << 4) | flags
        }),
        2 => (0u8..16).prop_map(|flags| 0x30 | flags),
        1 => any::<u8>(),
    ]
}

// ---------------------------------------------------------------------------------------
// Breaking packets: changes to the model that make a valid packet invalid (or leave it
// valid), for checking that whatever the encoder accepts the decoder gives back.
// ---------------------------------------------------------------------------------------

/// A change to a packet's fields.
#[derive(Debug, Clone)]
pub(crate) enum Tweak {
    /// Sets the reason code (every reason code of an SUBACK / UNSUBACK).
    ReasonCode(ReasonCode),
    /// CONNACK: sets Session Present.
    SessionPresent,
    /// CONNECT, CONNACK, AUTH: removes the Authentication Method.
    DropAuthenticationMethod,
    /// CONNECT, CONNACK, AUTH: sets Authentication Data.
    AuthenticationData(Bytes),
    /// PUBLISH, Will: a zero-length Response Topic.
    EmptyResponseTopic,
    /// PUBLISH, Will: a zero-length topic name.
    EmptyTopic,
    /// PUBLISH: removes the Topic Alias.
    DropTopicAlias,
    /// Adds a User Property to the packet's (or the Will's) properties.
    UserProperty(UserProperty),
    /// SUBSCRIBE: sets No Local on every subscription.
    NoLocal,
    /// SUBSCRIBE: Retain As Published and Retain Handling on every subscription.
    RetainOptions(RetainHandling),
    /// SUBSCRIBE, UNSUBSCRIBE, SUBACK, UNSUBACK: removes every entry.
    ClearEntries,
    /// SUBSCRIBE, PUBLISH: a Subscription Identifier of this value.
    SubscriptionIdentifier(u32),
    /// PUBLISH: sets the QoS, leaving the packet identifier.
    QoS(QoS),
    /// PUBLISH: sets or removes the packet identifier.
    PacketId(Option<PacketId>),
    /// PUBLISH: sets DUP.
    Dup,
    /// CONNACK: Maximum QoS 2.
    MaximumQoS2,
    /// CONNECT: changes the protocol version it asks for.
    ProtocolVersion(ProtocolVersion),
    /// CONNECT: zero-length client identifier without Clean Start.
    EmptyClientIdWithoutCleanStart,
    /// CONNECT: removes the user name (keeping a password).
    DropUserName,
    /// CONNECT: sets a password.
    Password(Bytes),
    /// CONNECT, PUBLISH: a binary field of 65,536 bytes.
    LongBinary,
    /// Sets MQTT 5.0 properties of the packet (to be refused by 3.1 / 3.1.1).
    Properties(Box<Packet>),
}

pub(crate) fn tweak() -> impl Strategy<Value = Tweak> {
    prop_oneof![
        3 => any_reason_code().prop_map(Tweak::ReasonCode),
        1 => Just(Tweak::SessionPresent),
        1 => Just(Tweak::DropAuthenticationMethod),
        1 => binary().prop_map(Tweak::AuthenticationData),
        1 => Just(Tweak::EmptyResponseTopic),
        1 => Just(Tweak::EmptyTopic),
        1 => Just(Tweak::DropTopicAlias),
        1 => user_property().prop_map(Tweak::UserProperty),
        1 => Just(Tweak::NoLocal),
        1 => select(&[RetainHandling::SendAtSubscribe, RetainHandling::SendIfNew, RetainHandling::DoNotSend][..])
            .prop_map(Tweak::RetainOptions),
        1 => Just(Tweak::ClearEntries),
        1 => prop_oneof![Just(0u32), Just(MAX_VARIABLE_BYTE_INTEGER + 1), Just(u32::MAX), subscription_identifier()]
            .prop_map(Tweak::SubscriptionIdentifier),
        1 => qos().prop_map(Tweak::QoS),
        1 => option::of(packet_id()).prop_map(Tweak::PacketId),
        1 => Just(Tweak::Dup),
        1 => Just(Tweak::MaximumQoS2),
        1 => version().prop_map(Tweak::ProtocolVersion),
        1 => Just(Tweak::EmptyClientIdWithoutCleanStart),
        1 => Just(Tweak::DropUserName),
        1 => binary().prop_map(Tweak::Password),
        1 => Just(Tweak::LongBinary),
        2 => packet(ProtocolVersion::V5).prop_map(|p| Tweak::Properties(Box::new(p))),
    ]
}

fn long_binary() -> Bytes {
    Bytes::from(vec![0xA5; 65_536])
}

impl Tweak {
    /// Applies the change where it makes sense for `packet`; elsewhere does nothing.
    pub(crate) fn apply(&self, packet: &mut Packet) {
        match (self, packet) {
            (Tweak::ReasonCode(c), Packet::ConnAck(p)) => p.reason_code = *c,
            (Tweak::ReasonCode(c), Packet::PubAck(p)) => p.reason_code = *c,
            (Tweak::ReasonCode(c), Packet::PubRec(p)) => p.reason_code = *c,
            (Tweak::ReasonCode(c), Packet::PubRel(p)) => p.reason_code = *c,
            (Tweak::ReasonCode(c), Packet::PubComp(p)) => p.reason_code = *c,
            (Tweak::ReasonCode(c), Packet::Disconnect(p)) => p.reason_code = *c,
            (Tweak::ReasonCode(c), Packet::Auth(p)) => p.reason_code = *c,
            (Tweak::ReasonCode(c), Packet::SubAck(p)) => p.reason_codes.push(*c),
            (Tweak::ReasonCode(c), Packet::UnsubAck(p)) => p.reason_codes.push(*c),
            (Tweak::SessionPresent, Packet::ConnAck(p)) => p.session_present = true,
            (Tweak::DropAuthenticationMethod, Packet::Connect(p)) => {
                p.properties.authentication_method = None
            }
            (Tweak::DropAuthenticationMethod, Packet::ConnAck(p)) => {
                p.properties.authentication_method = None
            }
            (Tweak::DropAuthenticationMethod, Packet::Auth(p)) => {
                p.properties.authentication_method = None
            }
            (Tweak::AuthenticationData(b), Packet::Connect(p)) => {
                p.properties.authentication_data = Some(b.clone())
            }
            (Tweak::AuthenticationData(b), Packet::ConnAck(p)) => {
                p.properties.authentication_data = Some(b.clone())
            }
            (Tweak::AuthenticationData(b), Packet::Auth(p)) => {
                p.properties.authentication_data = Some(b.clone())
            }
            (Tweak::EmptyResponseTopic, Packet::Publish(p)) => {
                p.properties.response_topic = Some(TopicName::empty())
            }
            (Tweak::EmptyResponseTopic, Packet::Connect(p)) => {
                if let Some(w) = &mut p.will {
                    w.properties.response_topic = Some(TopicName::empty());
                }
            }
            (Tweak::EmptyTopic, Packet::Publish(p)) => p.topic = TopicName::empty(),
            (Tweak::EmptyTopic, Packet::Connect(p)) => {
                if let Some(w) = &mut p.will {
                    w.topic = TopicName::empty();
                }
            }
            (Tweak::DropTopicAlias, Packet::Publish(p)) => p.properties.topic_alias = None,
            (Tweak::UserProperty(u), packet) => add_user_property(packet, u.clone()),
            (Tweak::NoLocal, Packet::Subscribe(p)) => {
                for s in &mut p.subscriptions {
                    s.options.no_local = true;
                }
            }
            (Tweak::RetainOptions(h), Packet::Subscribe(p)) => {
                for s in &mut p.subscriptions {
                    s.options.retain_as_published = true;
                    s.options.retain_handling = *h;
                }
            }
            (Tweak::ClearEntries, Packet::Subscribe(p)) => p.subscriptions.clear(),
            (Tweak::ClearEntries, Packet::Unsubscribe(p)) => p.filters.clear(),
            (Tweak::ClearEntries, Packet::SubAck(p)) => p.reason_codes.clear(),
            (Tweak::ClearEntries, Packet::UnsubAck(p)) => p.reason_codes.clear(),
            (Tweak::SubscriptionIdentifier(id), Packet::Subscribe(p)) => {
                p.properties.subscription_identifier = Some(*id)
            }
            (Tweak::SubscriptionIdentifier(id), Packet::Publish(p)) => {
                p.properties.subscription_identifiers.push(*id)
            }
            (Tweak::QoS(q), Packet::Publish(p)) => p.qos = *q,
            (Tweak::PacketId(id), Packet::Publish(p)) => p.packet_id = *id,
            (Tweak::Dup, Packet::Publish(p)) => p.dup = true,
            (Tweak::MaximumQoS2, Packet::ConnAck(p)) => {
                p.properties.maximum_qos = Some(QoS::ExactlyOnce)
            }
            (Tweak::ProtocolVersion(v), Packet::Connect(p)) => p.protocol_version = *v,
            (Tweak::EmptyClientIdWithoutCleanStart, Packet::Connect(p)) => {
                p.client_id = MqttString::new();
                p.clean_start = false;
            }
            (Tweak::DropUserName, Packet::Connect(p)) => p.user_name = None,
            (Tweak::Password(b), Packet::Connect(p)) => p.password = Some(b.clone()),
            (Tweak::LongBinary, Packet::Connect(p)) => match &mut p.will {
                Some(w) => w.payload = long_binary(),
                None => p.password = Some(long_binary()),
            },
            (Tweak::LongBinary, Packet::Publish(p)) => {
                p.properties.correlation_data = Some(long_binary())
            }
            (Tweak::Properties(source), packet) => copy_properties(source, packet),
            _ => {}
        }
    }
}

fn add_user_property(packet: &mut Packet, u: UserProperty) {
    match packet {
        Packet::Connect(p) => match &mut p.will {
            Some(w) if u.name.len().is_multiple_of(2) => w.properties.user_properties.push(u),
            _ => p.properties.user_properties.push(u),
        },
        Packet::ConnAck(p) => p.properties.user_properties.push(u),
        Packet::Publish(p) => p.properties.user_properties.push(u),
        Packet::PubAck(p) => p.properties.user_properties.push(u),
        Packet::PubRec(p) => p.properties.user_properties.push(u),
        Packet::PubRel(p) => p.properties.user_properties.push(u),
        Packet::PubComp(p) => p.properties.user_properties.push(u),
        Packet::Subscribe(p) => p.properties.user_properties.push(u),
        Packet::SubAck(p) => p.properties.user_properties.push(u),
        Packet::Unsubscribe(p) => p.properties.user_properties.push(u),
        Packet::UnsubAck(p) => p.properties.user_properties.push(u),
        Packet::Disconnect(p) => p.properties.user_properties.push(u),
        Packet::Auth(p) => p.properties.user_properties.push(u),
        _ => {}
    }
}

/// Copies the properties of `source` (a 5.0 packet) into `packet` if both are of the
/// same type.
fn copy_properties(source: &Packet, packet: &mut Packet) {
    match (source, packet) {
        (Packet::Connect(s), Packet::Connect(p)) => {
            p.properties = s.properties.clone();
            if let (Some(sw), Some(w)) = (&s.will, &mut p.will) {
                w.properties = sw.properties.clone();
            }
        }
        (Packet::ConnAck(s), Packet::ConnAck(p)) => p.properties = s.properties.clone(),
        (Packet::Publish(s), Packet::Publish(p)) => p.properties = s.properties.clone(),
        (Packet::PubAck(s), Packet::PubAck(p)) => p.properties = s.properties.clone(),
        (Packet::PubRec(s), Packet::PubRec(p)) => p.properties = s.properties.clone(),
        (Packet::PubRel(s), Packet::PubRel(p)) => p.properties = s.properties.clone(),
        (Packet::PubComp(s), Packet::PubComp(p)) => p.properties = s.properties.clone(),
        (Packet::Subscribe(s), Packet::Subscribe(p)) => p.properties = s.properties.clone(),
        (Packet::SubAck(s), Packet::SubAck(p)) => p.properties = s.properties.clone(),
        (Packet::Unsubscribe(s), Packet::Unsubscribe(p)) => p.properties = s.properties.clone(),
        (Packet::UnsubAck(s), Packet::UnsubAck(p)) => p.properties = s.properties.clone(),
        (Packet::Disconnect(s), Packet::Disconnect(p)) => p.properties = s.properties.clone(),
        (Packet::Auth(s), Packet::Auth(p)) => p.properties = s.properties.clone(),
        _ => {}
    }
}
