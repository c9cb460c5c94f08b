//! Scripted conversations for the connection set-up: the CONNECT the options produce for
//! every version, the CONNACK properties the session honours, refusals, Session Present,
//! and a CONNACK that never comes.

mod common;

use bytes::Bytes;
use common::{Harness, options, secs};
use core::num::{NonZeroU16, NonZeroU32};
use core::time::Duration;
use mqtt_proto::{
    AckProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties, Encode, EncodeError,
    MAX_PACKET_SIZE, MqttString, Packet, PacketId, ProtocolVersion, PubAck, PubComp, PubRel,
    Publish, QoS, ReasonCode, SubAck, Subscribe, SubscribeProperties, Subscription, TopicFilter,
    TopicName, UserProperty, Will, WillProperties,
};
use mqtt_session::{
    Action, Connected, DisconnectReason, Event, OperationError, Options, PendingOnSessionLoss,
    ProtocolViolation, ServerLimits, SessionLossPolicy, UsageError,
};

const ALL: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];
const V3: [ProtocolVersion; 2] = [ProtocolVersion::V3_1, ProtocolVersion::V3_1_1];

/// The first reconnect delay of [`opts`] (no jitter).
const FIRST_DELAY: Duration = Duration::from_millis(100);

fn s(v: &str) -> MqttString {
    MqttString::try_from(v).unwrap()
}

fn topic(v: &str) -> TopicName {
    TopicName::try_from(v).unwrap()
}

fn filter(v: &str) -> TopicFilter {
    TopicFilter::try_from(v).unwrap()
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn msg(t: &str, payload: &'static str, qos: QoS) -> Publish {
    Publish::new(topic(t), Bytes::from_static(payload.as_bytes())).with_qos(qos, None)
}

/// The PUBLISH the server should see for `msg(t, payload, qos)` with identifier `id`.
fn wire(t: &str, payload: &'static str, qos: QoS, id: Option<u16>) -> Packet {
    Packet::Publish(msg(t, payload, qos).with_qos(qos, id.map(pid)))
}

/// Test options without reconnect jitter, so every reconnect instant is exact.
fn opts(version: ProtocolVersion) -> Options {
    let mut o = options(version);
    o.reconnect.jitter_percent = 0;
    o
}

fn ok() -> ConnAck {
    ConnAck::new(ReasonCode::Success)
}

fn default_limits(keep_alive: u16) -> ServerLimits {
    ServerLimits {
        receive_maximum: 65_535,
        maximum_qos: QoS::ExactlyOnce,
        retain_available: true,
        maximum_packet_size: MAX_PACKET_SIZE,
        topic_alias_maximum: 0,
        wildcard_subscription_available: true,
        subscription_identifier_available: true,
        shared_subscription_available: true,
        keep_alive,
    }
}

/// The CONNECT the session should send for `o` when it does not resume a session.
fn expected_connect(o: &Options) -> Connect {
    Connect {
        protocol_version: o.protocol_version,
        clean_start: true,
        keep_alive: o.keep_alive,
        client_id: o.client_id.clone(),
        will: None,
        user_name: None,
        password: None,
        properties: ConnectProperties::default(),
    }
}

/// Takes the events and returns the one `Connected`, asserting there is nothing else.
fn connected(h: &mut Harness) -> Connected {
    let events = h.take_events();
    match events.as_slice() {
        [Event::Connected(c)] => (**c).clone(),
        other => panic!("expected one Connected event, got {other:?}"),
    }
}

/// Accepts with `connack` and returns the `Connected` event.
fn accept(h: &mut Harness, connack: ConnAck) -> Connected {
    h.receive(connack);
    assert!(h.take_actions().is_empty());
    connected(h)
}

fn subscribe_packet(id: u16, f: &str, qos: QoS) -> Packet {
    Packet::Subscribe(Subscribe::new(
        pid(id),
        vec![Subscription::new(filter(f), qos)],
    ))
}

// ----- CONNECT from the options -----

// v3.1.1 [MQTT-3.1.0-1] [MQTT-3.1.3-3] [MQTT-3.1.2-18] [MQTT-3.1.2-20] [MQTT-3.1.2-11];
// v5 [MQTT-3.1.0-1] [MQTT-3.1.3-3] [MQTT-3.1.2-16] [MQTT-3.1.2-18] [MQTT-3.1.2-11]: the
// CONNECT carries the client id and keep alive; no user name, password or will unless
// configured; no properties by default (Receive Maximum 65,535 is the default, left out).
#[test]
fn connect_carries_client_id_clean_start_and_keep_alive_for_every_version() {
    for v in ALL {
        let mut o = opts(v);
        o.keep_alive = 17;
        let expected = expected_connect(&o);
        let mut h = Harness::new(o);
        assert_eq!(h.open(), expected, "{v:?}");
        assert!(h.take_events().is_empty());
    }
}

// v3.1.1 [MQTT-3.1.2-4]; v5 [MQTT-3.1.2-4] [MQTT-3.1.2-23]: Clean Session / Clean Start 0
// when the options ask to resume a session.
#[test]
fn clean_start_off_is_sent_for_every_version() {
    for v in ALL {
        let mut o = opts(v);
        o.clean_start = false;
        o.session_expiry_interval = 600;
        let mut h = Harness::new(o);
        let c = h.open();
        assert!(!c.clean_start, "{v:?}");
    }
}

// v3.1.1 [MQTT-3.1.2-19] [MQTT-3.1.2-21] [MQTT-3.1.3-1]; v5 [MQTT-3.1.2-17]
// [MQTT-3.1.2-19] [MQTT-3.1.3-1]: user name and password are present when configured.
#[test]
fn connect_carries_user_name_and_password_for_every_version() {
    for v in ALL {
        let mut o = opts(v);
        o.user_name = Some(s("alice"));
        o.password = Some(Bytes::from_static(b"s3cr3t\x00\xff"));
        let mut expected = expected_connect(&o);
        expected.user_name = Some(s("alice"));
        expected.password = Some(Bytes::from_static(b"s3cr3t\x00\xff"));
        let mut h = Harness::new(o);
        assert_eq!(h.open(), expected, "{v:?}");
    }
}

// v5 [MQTT-3.1.2-19]: 5.0 allows a password without a user name.
#[test]
fn v5_password_without_user_name_is_sent() {
    let mut o = opts(ProtocolVersion::V5);
    o.password = Some(Bytes::from_static(b"token"));
    let mut expected = expected_connect(&o);
    expected.password = Some(Bytes::from_static(b"token"));
    let mut h = Harness::new(o);
    assert_eq!(h.open(), expected);
}

// v3.1.1 [MQTT-3.1.2-22] [MQTT-3.1.3-7] (3.1: a client id of 1 to 23 characters; no
// properties before 5.0): options that cannot make a valid CONNECT are the application's
// mistake. `connect` refuses them with UsageError::InvalidPacket and asks for no
// transport, instead of opening one and then reporting a protocol violation by the
// server.
#[test]
fn options_that_cannot_make_a_connect_are_refused_by_connect() {
    let mut cases: Vec<(Options, Option<EncodeError>)> = Vec::new();
    for v in V3 {
        let mut o = opts(v);
        o.password = Some(Bytes::from_static(b"token"));
        cases.push((o, Some(EncodeError::PasswordWithoutUserName)));
        let mut o = opts(v);
        let mut will = Will::new(topic("w"), "x");
        will.properties.will_delay_interval = Some(5);
        o.will = Some(will);
        cases.push((o, None));
    }
    let mut o = opts(ProtocolVersion::V3_1_1);
    o.client_id = s("");
    o.clean_start = false;
    cases.push((o, Some(EncodeError::EmptyClientIdWithoutCleanSession)));
    let mut o = opts(ProtocolVersion::V3_1);
    o.client_id = s("");
    cases.push((o, None));
    for (o, error) in cases {
        let what = format!("{:?} {error:?}", o.protocol_version);
        let mut h = Harness::new(o);
        match (h.session.connect(h.now), error) {
            (Err(UsageError::InvalidPacket(e)), Some(expected)) => assert_eq!(e, expected),
            (Err(UsageError::InvalidPacket(_)), None) => {}
            (other, _) => panic!("{what}: {other:?}"),
        }
        h.drain();
        assert_eq!(h.take_actions(), vec![], "{what}");
        assert_eq!(h.take_events(), vec![], "{what}");
    }
}

// v3.1.1 [MQTT-3.1.2-9] [MQTT-3.1.3-10]; v5 [MQTT-3.1.2-9] [MQTT-3.1.3-11]: the Will
// topic, payload, QoS and retain flag are sent when a will is configured.
#[test]
fn will_is_sent_for_every_version() {
    for v in ALL {
        let mut will = Will::new(topic("clients/client/status"), "offline");
        will.qos = QoS::AtLeastOnce;
        will.retain = true;
        let mut o = opts(v);
        o.will = Some(will.clone());
        let mut expected = expected_connect(&o);
        expected.will = Some(will);
        let mut h = Harness::new(o);
        assert_eq!(h.open(), expected, "{v:?}");
    }
}

// v5 [MQTT-3.1.2-9] [MQTT-3.1.3-1]: the Will Properties, Will Delay Interval included, go
// out with the will.
#[test]
fn v5_will_properties_and_will_delay_are_sent() {
    let mut will = Will::new(topic("clients/client/status"), "offline");
    will.qos = QoS::ExactlyOnce;
    will.properties = WillProperties {
        will_delay_interval: Some(30),
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(3600),
        content_type: Some(s("text/plain")),
        response_topic: Some(topic("clients/client/ack")),
        correlation_data: Some(Bytes::from_static(b"\x01\x02")),
        user_properties: vec![UserProperty::new(s("k"), s("v"))],
    };
    let mut o = opts(ProtocolVersion::V5);
    o.will = Some(will.clone());
    let mut expected = expected_connect(&o);
    expected.will = Some(will);
    let mut h = Harness::new(o);
    assert_eq!(h.open(), expected);
}

// v5 [MQTT-3.1.2-23] (Session Expiry Interval), §3.1.2.11 (Receive Maximum, Maximum
// Packet Size, Topic Alias Maximum, Request Response / Problem Information, User
// Properties in order): every 5.0 CONNECT property comes from the options.
#[test]
fn v5_connect_properties_come_from_the_options() {
    let mut o = opts(ProtocolVersion::V5);
    o.session_expiry_interval = 3600;
    o.receive_maximum = 10;
    o.maximum_packet_size = Some(4096);
    o.topic_alias_maximum = 5;
    o.request_response_information = true;
    o.request_problem_information = Some(false);
    o.user_properties = vec![
        UserProperty::new(s("a"), s("1")),
        UserProperty::new(s("a"), s("2")),
        UserProperty::new(s("b"), s("3")),
    ];
    let mut expected = expected_connect(&o);
    expected.properties = ConnectProperties {
        session_expiry_interval: Some(3600),
        receive_maximum: NonZeroU16::new(10),
        maximum_packet_size: NonZeroU32::new(4096),
        topic_alias_maximum: Some(5),
        request_response_information: Some(true),
        request_problem_information: Some(false),
        user_properties: o.user_properties.clone(),
        authentication_method: None,
        authentication_data: None,
    };
    let mut h = Harness::new(o);
    assert_eq!(h.open(), expected);
}

// v3.1.1 [MQTT-3.1.3-1] (U311-06: a 3.1.1 CONNECT is the variable header and the payload
// fields, no properties): the 5.0-only options are not sent (and do not stop the
// connection).
#[test]
fn v5_only_options_are_left_out_under_v3() {
    for v in V3 {
        let mut o = opts(v);
        o.session_expiry_interval = 3600;
        o.receive_maximum = 10;
        o.maximum_packet_size = Some(4096);
        o.topic_alias_maximum = 5;
        o.request_response_information = true;
        o.request_problem_information = Some(false);
        o.user_properties = vec![UserProperty::new(s("a"), s("1"))];
        let expected = expected_connect(&o);
        let mut h = Harness::new(o);
        assert_eq!(h.open(), expected, "{v:?}");
        assert_eq!(accept(&mut h, ok()).limits, default_limits(60), "{v:?}");
    }
}

// v5 [MQTT-3.1.3-7] [MQTT-3.2.2-16] [MQTT-3.1.3-2]: an empty client id asks the server for
// one; the Assigned Client Identifier is adopted, reported, and used on the reconnect that
// resumes the session.
#[test]
fn v5_empty_client_id_adopts_the_assigned_identifier_and_reuses_it() {
    let mut o = opts(ProtocolVersion::V5);
    o.client_id = s("");
    o.session_expiry_interval = 600;
    let mut h = Harness::new(o);
    let c = h.open();
    assert_eq!(c.client_id, "");
    assert!(c.clean_start);
    let mut connack = ok();
    connack.properties.assigned_client_identifier = Some(s("srv-42"));
    let properties = connack.properties.clone();
    assert_eq!(
        accept(&mut h, connack),
        Connected {
            session_present: false,
            session_lost: false,
            client_id: s("srv-42"),
            limits: default_limits(60),
            properties,
        }
    );
    assert_eq!(h.session.client_id(), "srv-42");

    let mut present = ok();
    present.session_present = true;
    let c = h.reconnect(present);
    assert_eq!(c.client_id, "srv-42");
    assert!(!c.clean_start);
    assert_eq!(h.session.client_id(), "srv-42");
}

// v5 [MQTT-3.1.3-7]: also with a session that ends with the connection, the assigned id is
// kept for later connections (it is the client's identity now).
#[test]
fn v5_assigned_identifier_is_used_on_a_clean_reconnect() {
    let mut o = opts(ProtocolVersion::V5);
    o.client_id = s("");
    let mut h = Harness::new(o);
    h.open();
    let mut connack = ok();
    connack.properties.assigned_client_identifier = Some(s("auto-7"));
    assert_eq!(accept(&mut h, connack).client_id, "auto-7");
    let c = h.reconnect(ok());
    assert_eq!((c.client_id.as_str(), c.clean_start), ("auto-7", true));
}

// v3.1.1 [MQTT-3.1.3-7]: a zero-length client id goes with Clean Session 1, on every
// connection.
#[test]
fn v311_empty_client_id_goes_with_clean_session() {
    let mut o = opts(ProtocolVersion::V3_1_1);
    o.client_id = s("");
    let mut h = Harness::new(o);
    let c = h.open();
    assert_eq!((c.client_id.as_str(), c.clean_start), ("", true));
    assert_eq!(accept(&mut h, ok()).client_id, "");
    let c = h.reconnect(ok());
    assert_eq!((c.client_id.as_str(), c.clean_start), ("", true));
}

// v3.1.1 [MQTT-3.1.2-4] [MQTT-3.1.2-6]; v5 [MQTT-3.1.2-4] [MQTT-3.1.2-23]: a reconnect asks
// to resume exactly when the session outlives the connection.
#[test]
fn reconnect_resumes_only_a_session_that_outlives_the_connection() {
    // (version, clean_start option, session expiry, first CONNECT, reconnect CONNECT)
    let cases = [
        (ProtocolVersion::V3_1_1, true, 0, true, true),
        (ProtocolVersion::V3_1_1, false, 0, false, false),
        (ProtocolVersion::V3_1, false, 0, false, false),
        (ProtocolVersion::V5, true, 0, true, true),
        (ProtocolVersion::V5, true, 600, true, false),
        (ProtocolVersion::V5, false, 600, false, false),
    ];
    for (v, clean, expiry, first, second) in cases {
        let mut o = opts(v);
        o.clean_start = clean;
        o.session_expiry_interval = expiry;
        let mut h = Harness::new(o);
        let c = h.open();
        assert_eq!(c.clean_start, first, "{v:?} {clean} {expiry}");
        // 3.1 has no Session Present flag.
        let has_flag = v != ProtocolVersion::V3_1;
        let mut connack = ok();
        connack.session_present = has_flag && !first;
        h.receive(connack);
        let mut connack = ok();
        connack.session_present = has_flag && !second;
        let c = h.reconnect(connack);
        assert_eq!(c.clean_start, second, "{v:?} {clean} {expiry}");
        assert!(h.session.is_connected());
    }
}

// v3.1.1 [MQTT-3.1.0-2]; v5 [MQTT-3.1.0-2]: one CONNECT per connection, however often the
// driver or the application repeats itself.
#[test]
fn one_connect_per_connection() {
    for v in ALL {
        let mut h = Harness::new(opts(v));
        h.open();
        h.session.connect(h.now).unwrap();
        h.session.handle_connected(h.now);
        h.drain();
        assert_eq!(h.take_actions(), vec![], "{v:?}");
        assert_eq!(h.sent(), vec![], "{v:?}");
        accept(&mut h, ok());
        h.session.connect(h.now).unwrap();
        h.session.handle_connected(h.now);
        h.drain();
        assert_eq!(h.take_actions(), vec![], "{v:?}");
        assert_eq!(h.sent(), vec![], "{v:?}");
    }
}

// ----- CONNACK properties -----

// v5 [MQTT-3.1.2-21] [MQTT-3.2.2-21] [MQTT-3.1.2-20]: Server Keep Alive replaces the keep
// alive we asked for.
#[test]
fn server_keep_alive_replaces_ours() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    let mut connack = ok();
    connack.properties.server_keep_alive = Some(5);
    assert_eq!(accept(&mut h, connack).limits.keep_alive, 5);
    assert_eq!(h.session.server_limits().keep_alive, 5);
    h.advance(Duration::from_millis(4_999));
    assert_eq!(h.sent(), vec![]);
    h.advance(Duration::from_millis(1));
    assert_eq!(h.sent(), vec![Packet::PingReq]);
    h.receive(Packet::PingResp);
    h.advance(secs(5));
    assert_eq!(h.sent(), vec![Packet::PingReq]);
}

// v5 [MQTT-3.1.2-21]: a Server Keep Alive of 0 turns keep alive off.
#[test]
fn server_keep_alive_zero_turns_keep_alive_off() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    let mut connack = ok();
    connack.properties.server_keep_alive = Some(0);
    assert_eq!(accept(&mut h, connack).limits.keep_alive, 0);
    assert_eq!(h.session.poll_timeout(), None);
    h.advance(secs(1_000));
    assert_eq!(h.sent(), vec![]);
    assert!(h.session.is_connected());
}

// v5 [MQTT-3.3.4-7] [MQTT-4.9.0-2] [MQTT-3.3.4-8] [MQTT-4.9.0-3]: the CONNACK Receive
// Maximum bounds QoS 1/2 PUBLISHes in flight; QoS 0 and other packets are never held back.
#[test]
fn connack_receive_maximum_bounds_in_flight_only() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    let mut connack = ok();
    connack.properties.receive_maximum = NonZeroU16::new(1);
    assert_eq!(accept(&mut h, connack).limits.receive_maximum, 1);
    let first = h
        .session
        .publish(h.now, msg("t", "1", QoS::AtLeastOnce))
        .unwrap();
    let second = h
        .session
        .publish(h.now, msg("t", "2", QoS::ExactlyOnce))
        .unwrap();
    h.session
        .publish(h.now, msg("t", "0", QoS::AtMostOnce))
        .unwrap();
    h.session
        .subscribe(
            h.now,
            vec![Subscription::new(filter("s"), QoS::AtMostOnce)],
            SubscribeProperties::default(),
        )
        .unwrap();
    h.drain();
    assert_eq!(
        h.sent(),
        vec![
            wire("t", "1", QoS::AtLeastOnce, Some(1)),
            wire("t", "0", QoS::AtMostOnce, None),
            subscribe_packet(2, "s", QoS::AtMostOnce),
        ]
    );
    assert_eq!((h.session.in_flight(), h.session.queued()), (1, 1));
    h.receive(PubAck::new(pid(1)));
    assert_eq!(h.sent(), vec![wire("t", "2", QoS::ExactlyOnce, Some(3))]);
    assert_eq!(
        h.take_events(),
        vec![Event::PublishCompleted {
            id: first,
            reason_code: ReasonCode::Success
        }]
    );
    h.receive(mqtt_proto::PubRec::new(pid(3)));
    assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(pid(3)))]);
    h.receive(PubComp::new(pid(3)));
    assert_eq!(
        h.take_events(),
        vec![Event::PublishCompleted {
            id: second,
            reason_code: ReasonCode::Success
        }]
    );
}

// v5 [MQTT-3.2.2-15]: a PUBLISH (or SUBSCRIBE) larger than the server's Maximum Packet Size
// is refused with UsageError::PacketTooLarge; nothing is sent or queued.
#[test]
fn server_maximum_packet_size_refuses_oversize_packets() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    let mut connack = ok();
    connack.properties.maximum_packet_size = NonZeroU32::new(64);
    assert_eq!(accept(&mut h, connack).limits.maximum_packet_size, 64);

    // QoS 1 "t": 2 + (3 topic + 2 id + 1 property length) + payload bytes.
    let fits =
        Publish::new(topic("t"), Bytes::from(vec![b'x'; 56])).with_qos(QoS::AtLeastOnce, None);
    let too_big =
        Publish::new(topic("t"), Bytes::from(vec![b'x'; 57])).with_qos(QoS::AtLeastOnce, None);
    assert_eq!(
        fits.clone()
            .with_qos(QoS::AtLeastOnce, Some(pid(1)))
            .encoded_len(ProtocolVersion::V5),
        Ok(64)
    );
    assert_eq!(
        h.session.publish(h.now, too_big),
        Err(UsageError::PacketTooLarge {
            size: 65,
            maximum: 64
        })
    );
    let long_filter = "f".repeat(60);
    assert_eq!(
        h.session.subscribe(
            h.now,
            vec![Subscription::new(filter(&long_filter), QoS::AtMostOnce)],
            SubscribeProperties::default(),
        ),
        Err(UsageError::PacketTooLarge {
            size: 68,
            maximum: 64
        })
    );
    h.drain();
    assert_eq!(h.sent(), vec![]);
    assert_eq!((h.session.in_flight(), h.session.queued()), (0, 0));
    assert_eq!(h.take_events(), vec![]);

    h.session.publish(h.now, fits.clone()).unwrap();
    h.drain();
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(
            fits.with_qos(QoS::AtLeastOnce, Some(pid(1)))
        )]
    );
}

// v5 [MQTT-3.2.2-17] [MQTT-3.2.2-18] [MQTT-3.3.2-9] [MQTT-3.3.2-7]: outgoing Topic Aliases
// only up to the server's Topic Alias Maximum, none without one, and none carried over to
// a new connection.
#[test]
fn connack_topic_alias_maximum_enables_outgoing_aliases() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    let mut connack = ok();
    connack.properties.topic_alias_maximum = Some(1);
    assert_eq!(accept(&mut h, connack).limits.topic_alias_maximum, 1);
    let with_alias = |t: Option<&str>, payload: &'static str, alias: u16| {
        let mut p = Publish::new(
            t.map_or(TopicName::empty(), topic),
            Bytes::from_static(payload.as_bytes()),
        );
        p.properties.topic_alias = NonZeroU16::new(alias);
        Packet::Publish(p)
    };
    for (t, payload) in [("a/b", "1"), ("a/b", "2"), ("c", "3")] {
        h.session
            .publish(h.now, msg(t, payload, QoS::AtMostOnce))
            .unwrap();
    }
    h.drain();
    assert_eq!(
        h.sent(),
        vec![
            with_alias(Some("a/b"), "1", 1),
            with_alias(None, "2", 1),
            with_alias(Some("c"), "3", 1),
        ]
    );

    // The next connection's server allows no aliases.
    h.reconnect(ok());
    h.take_events();
    h.session
        .publish(h.now, msg("c", "4", QoS::AtMostOnce))
        .unwrap();
    h.drain();
    assert_eq!(h.sent(), vec![wire("c", "4", QoS::AtMostOnce, None)]);
}

// v5 [MQTT-3.2.2-9] [MQTT-3.2.2-11]: no PUBLISH above the server's Maximum QoS; the
// application is told with UsageError::QoSNotSupported and nothing is sent.
#[test]
fn connack_maximum_qos_refuses_higher_publishes() {
    for maximum in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let mut h = Harness::new(opts(ProtocolVersion::V5));
        h.open();
        let mut connack = ok();
        connack.properties.maximum_qos = Some(maximum);
        assert_eq!(accept(&mut h, connack).limits.maximum_qos, maximum);
        for requested in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            if requested <= maximum {
                continue;
            }
            assert_eq!(
                h.session.publish(h.now, msg("t", "x", requested)),
                Err(UsageError::QoSNotSupported { requested, maximum })
            );
        }
        h.drain();
        assert_eq!(h.sent(), vec![]);
        h.session.publish(h.now, msg("t", "x", maximum)).unwrap();
        h.drain();
        let id = (maximum != QoS::AtMostOnce).then_some(1);
        assert_eq!(h.sent(), vec![wire("t", "x", maximum, id)]);
    }
}

// v5 [MQTT-3.2.2-11]: a publish queued before the CONNACK is checked against the Maximum
// QoS the CONNACK announces: it is never sent above it, and its operation fails.
#[test]
fn publish_queued_before_connack_is_not_sent_above_maximum_qos() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    let op = h
        .session
        .publish(h.now, msg("t", "x", QoS::ExactlyOnce))
        .unwrap();
    let mut connack = ok();
    connack.properties.maximum_qos = Some(QoS::AtLeastOnce);
    h.receive(connack);
    assert_eq!(h.sent(), vec![]);
    let events = h.take_events();
    assert!(
        matches!(events.first(), Some(Event::Connected(_))),
        "{events:?}"
    );
    assert_eq!(
        events[1..],
        [Event::OperationFailed {
            id: op,
            error: OperationError::Rejected(UsageError::QoSNotSupported {
                requested: QoS::ExactlyOnce,
                maximum: QoS::AtLeastOnce,
            }),
        }]
    );
}

// v5 [MQTT-3.2.2-14]: no RETAIN 1 when the server says Retain Available 0.
#[test]
fn retain_unavailable_refuses_retained_publishes() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    let mut connack = ok();
    connack.properties.retain_available = Some(false);
    assert!(!accept(&mut h, connack).limits.retain_available);
    assert_eq!(
        h.session
            .publish(h.now, msg("t", "x", QoS::AtLeastOnce).with_retain(true)),
        Err(UsageError::RetainNotAvailable)
    );
    h.drain();
    assert_eq!(h.sent(), vec![]);
    h.session
        .publish(h.now, msg("t", "x", QoS::AtLeastOnce))
        .unwrap();
    h.drain();
    assert_eq!(h.sent(), vec![wire("t", "x", QoS::AtLeastOnce, Some(1))]);
}

// v5 [MQTT-3.2.2-14]: a retained publish queued before the CONNACK is not sent to a server
// without retained messages; its operation fails.
#[test]
fn retained_publish_queued_before_connack_is_not_sent_when_retain_unavailable() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    let op = h
        .session
        .publish(h.now, msg("t", "x", QoS::AtLeastOnce).with_retain(true))
        .unwrap();
    let mut connack = ok();
    connack.properties.retain_available = Some(false);
    h.receive(connack);
    assert_eq!(h.sent(), vec![]);
    let events = h.take_events();
    assert!(
        matches!(events.first(), Some(Event::Connected(_))),
        "{events:?}"
    );
    assert_eq!(
        events[1..],
        [Event::OperationFailed {
            id: op,
            error: OperationError::Rejected(UsageError::RetainNotAvailable),
        }]
    );
}

// v5 §3.2.2.3.11-13 (B.3 0x28, 0x29, 0x2A): without wildcard, subscription identifier or
// shared subscription support, such a SUBSCRIBE is refused locally and never sent.
#[test]
fn unavailable_subscription_features_are_local_errors() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    let mut connack = ok();
    connack.properties.wildcard_subscription_available = Some(false);
    connack.properties.subscription_identifier_available = Some(false);
    connack.properties.shared_subscription_available = Some(false);
    let limits = accept(&mut h, connack).limits;
    assert!(
        !limits.wildcard_subscription_available
            && !limits.subscription_identifier_available
            && !limits.shared_subscription_available
    );
    let sub = |f: &str| vec![Subscription::new(filter(f), QoS::AtLeastOnce)];
    assert_eq!(
        h.session
            .subscribe(h.now, sub("a/+"), SubscribeProperties::default()),
        Err(UsageError::WildcardSubscriptionsNotAvailable)
    );
    assert_eq!(
        h.session
            .subscribe(h.now, sub("a/#"), SubscribeProperties::default()),
        Err(UsageError::WildcardSubscriptionsNotAvailable)
    );
    assert_eq!(
        h.session
            .subscribe(h.now, sub("$share/g/a"), SubscribeProperties::default()),
        Err(UsageError::SharedSubscriptionsNotAvailable)
    );
    let with_id = SubscribeProperties {
        subscription_identifier: Some(7),
        ..SubscribeProperties::default()
    };
    assert_eq!(
        h.session.subscribe(h.now, sub("a/b"), with_id),
        Err(UsageError::SubscriptionIdentifiersNotAvailable)
    );
    h.drain();
    assert_eq!(h.sent(), vec![]);
    let op = h
        .session
        .subscribe(h.now, sub("a/b"), SubscribeProperties::default())
        .unwrap();
    h.drain();
    assert_eq!(h.sent(), vec![subscribe_packet(1, "a/b", QoS::AtLeastOnce)]);
    h.receive(SubAck {
        packet_id: pid(1),
        reason_codes: vec![ReasonCode::GrantedQoS1],
        properties: AckProperties::default().into(),
    });
    assert_eq!(
        h.take_events(),
        vec![Event::SubscribeCompleted {
            id: op,
            reason_codes: vec![ReasonCode::GrantedQoS1]
        }]
    );
}

// ----- refusals -----

// v3.1.1 [MQTT-3.2.2-5] (U311-13): the 3.1 / 3.1.1 return codes 1 to 5 are reported as the
// 5.0 reason codes of the same meaning; the server closes, so does the client, sending
// nothing. Bad credentials, identifier rejected, not authorised and unacceptable protocol
// version are final; server unavailable is retried.
#[test]
fn v3_refusals_are_mapped_and_final_ones_close_the_session() {
    let cases = [
        (1u8, ReasonCode::UnsupportedProtocolVersion, true),
        (2, ReasonCode::ClientIdentifierNotValid, true),
        (3, ReasonCode::ServerUnavailable, false),
        (4, ReasonCode::BadUserNameOrPassword, true),
        (5, ReasonCode::NotAuthorized, true),
    ];
    for v in V3 {
        for (raw, reason_code, final_) in cases {
            let mut h = Harness::new(opts(v));
            h.open();
            h.receive_bytes(&[0x20, 0x02, 0x00, raw]);
            assert_eq!(h.take_actions(), vec![Action::Close], "{v:?} {raw}");
            assert_eq!(h.sent(), vec![], "{v:?} {raw}");
            let reconnect_at = (!final_).then_some(h.now + FIRST_DELAY);
            assert_eq!(
                h.take_events(),
                vec![Event::Disconnected {
                    reason: DisconnectReason::Refused {
                        reason_code,
                        reason_string: None
                    },
                    reconnect_at,
                }],
                "{v:?} {raw}"
            );
            assert_eq!(h.session.is_closed(), final_, "{v:?} {raw}");
            assert!(!h.session.is_connected());
        }
    }
}

// v5 [MQTT-3.2.2-7]: a CONNACK >= 0x80 ends the attempt. Refusals that only a change of
// configuration can cure close the session for good, failing what was pending once.
#[test]
fn v5_final_refusals_close_the_session_and_fail_pending_operations() {
    for code in [
        ReasonCode::UnsupportedProtocolVersion,
        ReasonCode::ClientIdentifierNotValid,
        ReasonCode::BadUserNameOrPassword,
        ReasonCode::NotAuthorized,
        ReasonCode::Banned,
        ReasonCode::BadAuthenticationMethod,
    ] {
        let mut h = Harness::new(opts(ProtocolVersion::V5));
        h.open();
        let op = h
            .session
            .publish(h.now, msg("t", "x", QoS::AtLeastOnce))
            .unwrap();
        let mut connack = ConnAck::new(code);
        connack.properties.reason_string = Some(s("go away"));
        h.receive(connack);
        assert_eq!(h.take_actions(), vec![Action::Close], "{code:?}");
        assert_eq!(h.sent(), vec![], "{code:?}");
        assert_eq!(
            h.take_events(),
            vec![
                Event::Disconnected {
                    reason: DisconnectReason::Refused {
                        reason_code: code,
                        reason_string: Some(s("go away")),
                    },
                    reconnect_at: None,
                },
                Event::OperationFailed {
                    id: op,
                    error: OperationError::SessionClosed
                },
            ],
            "{code:?}"
        );
        assert!(h.session.is_closed());
        assert_eq!(h.session.poll_timeout(), None);
        assert_eq!(
            h.session.publish(h.now, msg("t", "x", QoS::AtMostOnce)),
            Err(UsageError::Closed)
        );
        assert_eq!(h.session.connect(h.now), Err(UsageError::Closed));
        h.advance(secs(60));
        assert_eq!((h.take_actions(), h.take_events()), (vec![], vec![]));
    }
}

// v5 [MQTT-3.2.2-7]: a transient refusal is retried after the back-off delay; what was
// pending stays pending and completes on the next connection.
#[test]
fn v5_transient_refusals_reconnect_and_keep_pending_operations() {
    for code in [
        ReasonCode::UnspecifiedError,
        ReasonCode::ServerUnavailable,
        ReasonCode::ServerBusy,
        ReasonCode::QuotaExceeded,
        ReasonCode::ConnectionRateExceeded,
    ] {
        let mut h = Harness::new(opts(ProtocolVersion::V5));
        h.open();
        let op = h
            .session
            .publish(h.now, msg("t", "x", QoS::AtLeastOnce))
            .unwrap();
        h.receive(ConnAck::new(code));
        assert_eq!(h.take_actions(), vec![Action::Close], "{code:?}");
        assert_eq!(h.sent(), vec![], "{code:?}");
        assert_eq!(
            h.take_events(),
            vec![Event::Disconnected {
                reason: DisconnectReason::Refused {
                    reason_code: code,
                    reason_string: None
                },
                reconnect_at: Some(h.now + FIRST_DELAY),
            }],
            "{code:?}"
        );
        h.advance(FIRST_DELAY);
        assert_eq!(
            h.take_actions(),
            vec![Action::Open {
                server: "test:1883".into()
            }]
        );
        h.session.handle_connected(h.now);
        h.drain();
        assert!(matches!(h.sent().as_slice(), [Packet::Connect(_)]));
        accept(&mut h, ok());
        assert_eq!(h.sent(), vec![wire("t", "x", QoS::AtLeastOnce, Some(1))]);
        h.receive(PubAck::new(pid(1)));
        assert_eq!(
            h.take_events(),
            vec![Event::PublishCompleted {
                id: op,
                reason_code: ReasonCode::Success
            }]
        );
    }
}

// ----- Session Present -----

// v5 [MQTT-3.2.2-4]: Session Present 1 although we hold no session (Clean Start 1): close
// the connection (after DISCONNECT 0x82), never report it connected.
// v3.1.1 [MQTT-3.2.2-1]: the server broke the protocol; the client closes, sending nothing.
#[test]
fn session_present_without_a_session_is_refused() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(opts(v));
        assert!(h.open().clean_start);
        let mut connack = ok();
        connack.session_present = true;
        h.receive(connack);
        let expected: Vec<Packet> = if v.is_v5() {
            vec![Packet::Disconnect(mqtt_proto::Disconnect::new(
                ReasonCode::ProtocolError,
            ))]
        } else {
            vec![]
        };
        assert_eq!(h.sent(), expected, "{v:?}");
        assert_eq!(h.take_actions(), vec![Action::Close], "{v:?}");
        assert_eq!(
            h.take_events(),
            vec![Event::Disconnected {
                reason: DisconnectReason::ProtocolViolation(
                    ProtocolViolation::UnexpectedSessionPresent
                ),
                reconnect_at: Some(h.now + FIRST_DELAY),
            }],
            "{v:?}"
        );
        assert!(!h.session.is_connected());
    }
}

/// Connects `h` (a session that persists), then leaves one subscription active, one QoS 1
/// publish in flight (id 2) and one incoming QoS 2 message awaiting PUBREL (id 7). Returns
/// the publish operation.
fn hold_session_state(h: &mut Harness) -> mqtt_session::OperationId {
    h.connect();
    h.session
        .subscribe(
            h.now,
            vec![Subscription::new(filter("a/#"), QoS::AtLeastOnce)],
            SubscribeProperties::default(),
        )
        .unwrap();
    h.drain();
    assert_eq!(h.sent(), vec![subscribe_packet(1, "a/#", QoS::AtLeastOnce)]);
    h.receive(SubAck {
        packet_id: pid(1),
        reason_codes: vec![ReasonCode::GrantedQoS1],
        properties: AckProperties::default().into(),
    });
    let op = h
        .session
        .publish(h.now, msg("t", "x", QoS::AtLeastOnce))
        .unwrap();
    h.drain();
    assert_eq!(h.sent(), vec![wire("t", "x", QoS::AtLeastOnce, Some(2))]);
    h.receive(msg("a/b", "in", QoS::ExactlyOnce).with_qos(QoS::ExactlyOnce, Some(pid(7))));
    assert_eq!(
        h.sent(),
        vec![Packet::PubRec(mqtt_proto::PubRec::new(pid(7)))]
    );
    h.take_events();
    op
}

/// After the reconnect that resumes [`hold_session_state`]'s session: its in-flight
/// PUBLISH `op` (id 2) goes again with DUP 1, and the PUBACK for it completes `op`.
fn assert_publish_resent_and_completed(h: &mut Harness, op: mqtt_session::OperationId) {
    let mut again = msg("t", "x", QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, Some(pid(2)));
    again.dup = true;
    // The re-sent PUBLISH goes first; then only SUBSCRIBEs (3.1 cannot say whether the
    // server kept the session, so any active subscription is made again: harmless if it
    // was kept).
    let sent = h.sent();
    assert_eq!(sent.first(), Some(&Packet::Publish(again)), "{sent:?}");
    assert!(
        sent[1..].iter().all(|p| matches!(p, Packet::Subscribe(_))),
        "{sent:?}"
    );
    h.receive(PubAck::new(pid(2)));
    assert_eq!(
        h.take_events(),
        vec![Event::PublishCompleted {
            id: op,
            reason_code: ReasonCode::Success
        }]
    );
}

// v5 [MQTT-3.2.2-5]; v3.1.1 [MQTT-3.2.2-3]: Session Present 0 when we hold a session: the
// session is reported lost and our state is discarded; by the default policy the pending
// publish goes again as a new message (DUP 0, new identifier) and the subscription is made
// again. The incoming QoS 2 state is gone: a PUBREL for it is unknown.
#[test]
fn session_present_zero_discards_the_held_session() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut o = opts(v);
        o.clean_start = v.is_v5();
        o.session_expiry_interval = 600;
        let mut h = Harness::new(o);
        let op = hold_session_state(&mut h);

        let c = h.reconnect(ok());
        assert!(!c.clean_start, "{v:?}");
        let events = h.take_events();
        assert!(
            matches!(
                events.as_slice(),
                [
                    Event::Disconnected {
                        reason: DisconnectReason::TransportClosed,
                        ..
                    },
                    Event::Connected(c)
                ] if !c.session_present && c.session_lost
            ),
            "{v:?} {events:?}"
        );
        assert_eq!(
            h.sent(),
            vec![
                subscribe_packet(3, "a/#", QoS::AtLeastOnce),
                wire("t", "x", QoS::AtLeastOnce, Some(4)),
            ],
            "{v:?}"
        );
        h.receive(SubAck {
            packet_id: pid(3),
            reason_codes: vec![ReasonCode::GrantedQoS1],
            properties: AckProperties::default().into(),
        });
        h.receive(PubAck::new(pid(4)));
        assert_eq!(
            h.take_events(),
            vec![Event::PublishCompleted {
                id: op,
                reason_code: ReasonCode::Success
            }],
            "{v:?}"
        );
        h.receive(PubRel::new(pid(7)));
        let code = if v.is_v5() {
            ReasonCode::PacketIdentifierNotFound
        } else {
            ReasonCode::Success
        };
        assert_eq!(
            h.sent(),
            vec![Packet::PubComp(PubComp::with_reason(pid(7), code))],
            "{v:?}"
        );
    }
}

// v5 [MQTT-3.2.2-5]: with the policy to fail pending messages, a lost session fails them
// (once) and nothing is sent again.
#[test]
fn session_present_zero_with_the_fail_policy_fails_pending_messages() {
    let mut o = opts(ProtocolVersion::V5);
    o.session_expiry_interval = 600;
    o.on_session_loss = SessionLossPolicy {
        resubscribe: false,
        pending: PendingOnSessionLoss::Fail,
    };
    let mut h = Harness::new(o);
    let op = hold_session_state(&mut h);
    h.reconnect(ok());
    let events = h.take_events();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(matches!(
        &events[1],
        Event::Connected(c) if c.session_lost
    ));
    assert_eq!(
        events[2],
        Event::OperationFailed {
            id: op,
            error: OperationError::SessionLost
        }
    );
    assert_eq!(h.sent(), vec![]);
    h.advance(secs(1));
    assert_eq!((h.sent(), h.take_events()), (vec![], vec![]));
}

// v5 [MQTT-3.2.2-3] [MQTT-4.4.0-1] [MQTT-3.3.1-1]: Session Present 1 on a resumed session:
// reported as present, the unacknowledged PUBLISH goes again with DUP 1 and its identifier.
#[test]
fn session_present_one_resumes_the_session() {
    let mut o = opts(ProtocolVersion::V5);
    o.session_expiry_interval = 600;
    let mut h = Harness::new(o);
    let op = hold_session_state(&mut h);
    let mut present = ok();
    present.session_present = true;
    h.reconnect(present);
    let events = h.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::Disconnected { .. },
                Event::Connected(c)
            ] if c.session_present && !c.session_lost
        ),
        "{events:?}"
    );
    assert_publish_resent_and_completed(&mut h, op);
    // The incoming QoS 2 message is still known: its PUBREL completes normally.
    h.receive(PubRel::new(pid(7)));
    assert_eq!(h.sent(), vec![Packet::PubComp(PubComp::new(pid(7)))]);
}

// MQTT 3.1 (§3.1 Clean session; as v3.1.1 [MQTT-4.4.0-1] [MQTT-3.3.1-1] [MQTT-4.3.3-2])
// has no Session Present flag: with Clean Session 0 the server keeps the session, so every
// reconnect resumes it. Unacknowledged PUBLISHes go again with DUP 1 and their identifier,
// nothing is reported lost, and a re-sent incoming QoS 2 message is not delivered twice.
#[test]
fn v31_reconnect_without_clean_session_resumes_the_session() {
    let mut o = opts(ProtocolVersion::V3_1);
    o.clean_start = false;
    let mut h = Harness::new(o);
    let op = hold_session_state(&mut h);
    let c = h.reconnect(ok());
    assert!(!c.clean_start);
    let events = h.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::Disconnected { .. },
                Event::Connected(c)
            ] if !c.session_lost
        ),
        "{events:?}"
    );
    assert_publish_resent_and_completed(&mut h, op);
    // The server sends the QoS 2 message again: answered, not delivered twice.
    let mut dup = msg("a/b", "in", QoS::ExactlyOnce).with_qos(QoS::ExactlyOnce, Some(pid(7)));
    dup.dup = true;
    h.receive(dup);
    assert_eq!(
        h.sent(),
        vec![Packet::PubRec(mqtt_proto::PubRec::new(pid(7)))]
    );
    assert_eq!(h.take_events(), vec![]);
}

// ----- no CONNACK -----

// v3.1.1 U311-10; v5 U5-17: no CONNACK within the connect timeout: close (sending nothing)
// and retry later. A CONNACK arriving after that is not taken.
#[test]
fn connect_timeout_without_connack() {
    for v in ALL {
        let mut o = opts(v);
        o.connect_timeout = secs(5);
        let mut h = Harness::new(o);
        h.open();
        assert_eq!(h.session.poll_timeout(), Some(h.now + secs(5)));
        h.advance(Duration::from_millis(4_999));
        assert_eq!((h.take_actions(), h.take_events()), (vec![], vec![]));
        h.advance(Duration::from_millis(1));
        assert_eq!(h.take_actions(), vec![Action::Close], "{v:?}");
        assert_eq!(h.sent(), vec![], "{v:?}");
        assert_eq!(
            h.take_events(),
            vec![Event::Disconnected {
                reason: DisconnectReason::ConnectTimeout,
                reconnect_at: Some(h.now + FIRST_DELAY),
            }],
            "{v:?}"
        );
        h.receive(ok());
        assert_eq!(h.take_events(), vec![], "{v:?}");
        assert!(!h.session.is_connected());
        h.advance(FIRST_DELAY);
        assert_eq!(
            h.take_actions(),
            vec![Action::Open {
                server: "test:1883".into()
            }]
        );
    }
}

// v3.1.1 [MQTT-3.2.2-6]: the server may close without CONNACK; the attempt failed and the
// session tries again (no Close: the transport is gone already).
#[test]
fn eof_while_waiting_for_connack() {
    for v in ALL {
        let mut h = Harness::new(opts(v));
        h.open();
        h.session.handle_closed(h.now);
        h.drain();
        assert_eq!(h.take_actions(), vec![], "{v:?}");
        assert_eq!(h.sent(), vec![], "{v:?}");
        assert_eq!(
            h.take_events(),
            vec![Event::Disconnected {
                reason: DisconnectReason::TransportClosed,
                reconnect_at: Some(h.now + FIRST_DELAY),
            }],
            "{v:?}"
        );
        h.advance(FIRST_DELAY);
        assert_eq!(
            h.take_actions(),
            vec![Action::Open {
                server: "test:1883".into()
            }]
        );
        h.session.handle_connected(h.now);
        h.drain();
        assert!(matches!(h.sent().as_slice(), [Packet::Connect(_)]));
        accept(&mut h, ok());
    }
}

// v5 [MQTT-3.2.2-9] [MQTT-3.1.2-28] (B.3, CONNACK properties and their defaults): the whole
// CONNACK property set reaches the application (Response Information, which we asked for,
// User Properties, Reason String...), next to the limits it derived.
#[test]
fn connected_event_carries_the_connack_properties() {
    let mut o = opts(ProtocolVersion::V5);
    o.request_response_information = true;
    let mut h = Harness::new(o);
    h.open();
    let properties = ConnAckProperties {
        session_expiry_interval: Some(120),
        receive_maximum: NonZeroU16::new(20),
        maximum_qos: Some(QoS::AtLeastOnce),
        retain_available: Some(false),
        maximum_packet_size: NonZeroU32::new(1024),
        topic_alias_maximum: Some(10),
        reason_string: Some(s("welcome")),
        user_properties: vec![UserProperty::new(s("node"), s("n1"))],
        wildcard_subscription_available: Some(false),
        subscription_identifier_available: Some(false),
        shared_subscription_available: Some(false),
        server_keep_alive: Some(30),
        response_information: Some(s("replies/client")),
        ..ConnAckProperties::default()
    };
    let mut connack = ok();
    connack.properties = properties.clone();
    assert_eq!(
        accept(&mut h, connack),
        Connected {
            session_present: false,
            session_lost: false,
            client_id: s("client"),
            limits: ServerLimits {
                receive_maximum: 20,
                maximum_qos: QoS::AtLeastOnce,
                retain_available: false,
                maximum_packet_size: 1024,
                topic_alias_maximum: 10,
                wildcard_subscription_available: false,
                subscription_identifier_available: false,
                shared_subscription_available: false,
                keep_alive: 30,
            },
            properties,
        }
    );
}
