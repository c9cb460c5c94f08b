//! Scripted conversations for connection loss and the end of a session: reconnect
//! back-off, failover, operations across reconnects, the application's DISCONNECT, and
//! the timer contract.

mod common;

use bytes::Bytes;
use common::{Harness, options, secs};
use core::time::Duration;
use mqtt_proto::{
    AckProperties, ConnAck, Disconnect, DisconnectProperties, EncodeError, MqttString, Packet,
    PacketId, PropertyId, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    ReasonCode, SubAck, Subscribe, SubscribeProperties, Subscription, TopicFilter, TopicName,
    UnsubAck, Unsubscribe, UnsubscribeProperties, UserProperty,
};
use mqtt_session::{
    Action, DisconnectOptions, DisconnectReason, Event, Instant, OperationError, OperationId,
    Options, ReconnectPolicy, UsageError,
};

const ALL: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

fn s(v: &str) -> MqttString {
    MqttString::try_from(v).unwrap()
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn filter(v: &str) -> TopicFilter {
    TopicFilter::try_from(v).unwrap()
}

fn msg(t: &str, payload: &'static str, qos: QoS) -> Publish {
    Publish::new(
        TopicName::try_from(t).unwrap(),
        Bytes::from_static(payload.as_bytes()),
    )
    .with_qos(qos, None)
}

fn wire(t: &str, payload: &'static str, qos: QoS, id: Option<u16>) -> Packet {
    Packet::Publish(msg(t, payload, qos).with_qos(qos, id.map(pid)))
}

fn ok() -> ConnAck {
    ConnAck::new(ReasonCode::Success)
}

/// Options with the given reconnect policy timing (100 ms doubling up to 1 s) and jitter.
fn opts(version: ProtocolVersion, jitter_percent: u8, seed: u64) -> Options {
    let mut o = options(version);
    o.reconnect = ReconnectPolicy {
        enabled: true,
        min_delay: Duration::from_millis(100),
        max_delay: secs(1),
        jitter_percent,
        seed,
    };
    o
}

/// The pending Action::Open's server (after the reconnect timer fired or `connect`).
fn take_open(h: &mut Harness) -> String {
    let actions = h.take_actions();
    match actions.as_slice() {
        [Action::Open { server }] => server.clone(),
        other => panic!("expected one Open, got {other:?}"),
    }
}

/// The transport asked for could not be opened: returns the planned reconnect instant.
fn fail_attempt(h: &mut Harness) -> Instant {
    h.session.handle_closed(h.now);
    h.drain();
    match h.take_events().as_slice() {
        [
            Event::Disconnected {
                reason: DisconnectReason::TransportClosed,
                reconnect_at: Some(at),
            },
        ] => *at,
        other => panic!("{other:?}"),
    }
}

/// Fires the reconnect timer at its instant; returns the server of the Open.
fn wait_for_open(h: &mut Harness, at: Instant) -> String {
    assert_eq!(h.session.poll_timeout(), Some(at));
    h.advance(at - h.now - Duration::from_nanos(1));
    assert_eq!(h.take_actions(), vec![], "no Open before the delay");
    h.advance(Duration::from_nanos(1));
    take_open(h)
}

/// The transport opened: CONNECT, then the CONNACK `connack`.
fn establish(h: &mut Harness, connack: ConnAck) {
    h.session.handle_connected(h.now);
    h.drain();
    assert!(matches!(h.sent().as_slice(), [Packet::Connect(_)]));
    h.receive(connack);
}

/// The delays (reconnect instant minus failure instant) of `n` consecutive failed
/// attempts of a fresh session.
fn failure_delays(o: Options, n: usize) -> Vec<Duration> {
    let mut h = Harness::new(o);
    h.session.connect(h.now).unwrap();
    h.drain();
    take_open(&mut h);
    let mut delays = Vec::new();
    for _ in 0..n {
        let failed_at = h.now;
        let at = fail_attempt(&mut h);
        delays.push(at - failed_at);
        wait_for_open(&mut h, at);
    }
    delays
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ----- back-off -----

// v3.1.1 [MQTT-3.2.2-6]; v5 [MQTT-3.2.2-7] and B.4 0x89 / 0x9F ("retry later, back off"):
// the retry policy is the client's; ReconnectPolicy: delays double from the minimum up to
// the maximum, with no attempt before its delay, and start over after a successful
// connection.
#[test]
fn backoff_doubles_up_to_the_maximum_and_resets_on_success() {
    for v in ALL {
        assert_eq!(
            failure_delays(opts(v, 0, 1), 7),
            vec![
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1000),
                ms(1000),
                ms(1000)
            ],
            "{v:?}"
        );
    }
    let mut h = Harness::new(opts(ProtocolVersion::V5, 0, 1));
    h.session.connect(h.now).unwrap();
    h.drain();
    take_open(&mut h);
    let at = fail_attempt(&mut h);
    assert_eq!(at - h.now, ms(100));
    wait_for_open(&mut h, at);
    let at = fail_attempt(&mut h);
    assert_eq!(at - h.now, ms(200));
    wait_for_open(&mut h, at);
    establish(&mut h, ok());
    h.take_events();
    // Connected, and the server answered on the connection (here a PINGRESP): the next
    // loss starts from the minimum again. (An unproven connection does not reset it: see
    // tests/robustness.rs.)
    h.advance(secs(60));
    assert!(matches!(h.sent().as_slice(), [Packet::PingReq]));
    h.receive(Packet::PingResp);
    let at = fail_attempt(&mut h);
    assert_eq!(at - h.now, ms(100));
}

// B.4 0x9F (back off) / ReconnectPolicy::jitter_percent: each delay is between d * (100 - jitter) / 100 and d.
#[test]
fn backoff_jitter_stays_within_bounds() {
    for jitter in [10u8, 50, 100] {
        for seed in [1u64, 7, 0xDEAD_BEEF] {
            let delays = failure_delays(opts(ProtocolVersion::V5, jitter, seed), 10);
            let mut base = ms(100);
            for d in delays {
                let low = base * u32::from(100 - jitter) / 100;
                assert!(
                    d >= low && d <= base,
                    "jitter {jitter} seed {seed}: {d:?} outside [{low:?}, {base:?}]"
                );
                base = (base * 2).min(secs(1));
            }
        }
    }
}

// B.4 0x9F (back off) / ReconnectPolicy::seed: the session has no random source: the same seed gives the same
// delays; different seeds give different delays, adjacent ones included (clients seeded
// with consecutive device numbers must not reconnect in lockstep).
#[test]
fn backoff_is_deterministic_for_a_seed() {
    let delays = |seed| failure_delays(opts(ProtocolVersion::V5, 50, seed), 8);
    assert_eq!(delays(42), delays(42));
    assert_ne!(delays(42), delays(1_000));
    assert_ne!(delays(42), delays(43));
    assert_ne!(delays(0), delays(1));
}

// ----- failover -----

// v3.1.1 [MQTT-3.2.2-5] [MQTT-3.2.2-6] U311-10; v5 [MQTT-3.2.2-7] U5-17 (failed attempts:
// refused, closed, no CONNACK) and Options::servers: a failed attempt moves on to the next
// server (wrapping); a connection that was up is retried on its own server first.
#[test]
fn failover_across_servers() {
    let mut o = opts(ProtocolVersion::V3_1_1, 0, 1);
    o.servers = vec!["a:1883".into(), "b:1883".into(), "c:1883".into()];
    let mut h = Harness::new(o);
    h.session.connect(h.now).unwrap();
    h.drain();
    assert_eq!(take_open(&mut h), "a:1883");
    let at = fail_attempt(&mut h);
    assert_eq!(wait_for_open(&mut h, at), "b:1883");
    // The transport opens but no CONNACK comes: also a failed attempt.
    h.session.handle_connected(h.now);
    h.drain();
    h.sent();
    h.fire_timer();
    assert_eq!(h.take_actions(), vec![Action::Close]);
    let [
        Event::Disconnected {
            reconnect_at: Some(at),
            ..
        },
    ] = h.take_events()[..]
    else {
        panic!()
    };
    assert_eq!(wait_for_open(&mut h, at), "c:1883");
    // A refusal too.
    h.session.handle_connected(h.now);
    h.drain();
    h.sent();
    h.receive(ConnAck::new(ReasonCode::ServerUnavailable));
    assert_eq!(h.take_actions(), vec![Action::Close]);
    let [
        Event::Disconnected {
            reconnect_at: Some(at),
            ..
        },
    ] = h.take_events()[..]
    else {
        panic!()
    };
    assert_eq!(wait_for_open(&mut h, at), "a:1883");
    establish(&mut h, ok());
    h.take_events();
    // Connected to a: it is tried first after the loss, then b.
    let at = fail_attempt(&mut h);
    assert_eq!(wait_for_open(&mut h, at), "a:1883");
    let at = fail_attempt(&mut h);
    assert_eq!(wait_for_open(&mut h, at), "b:1883");
}

// ----- reconnect disabled -----

/// Connects and leaves one of each pending operation: a QoS 1 publish in flight (id 1),
/// under 5.0 a QoS 2 publish queued behind the server's Receive Maximum of 1, a SUBSCRIBE
/// (id 2) and an UNSUBSCRIBE (id 3) awaiting acknowledgement.
fn with_pending_operations(h: &mut Harness) -> Vec<OperationId> {
    let mut connack = ok();
    if h.version.is_v5() {
        connack.properties.receive_maximum = core::num::NonZeroU16::new(1);
    }
    h.connect_with(connack);
    h.take_events();
    let mut ops = vec![
        h.session
            .publish(h.now, msg("t", "1", QoS::AtLeastOnce))
            .unwrap(),
    ];
    if h.version.is_v5() {
        ops.push(
            h.session
                .publish(h.now, msg("t", "2", QoS::ExactlyOnce))
                .unwrap(),
        );
    }
    ops.push(
        h.session
            .subscribe(
                h.now,
                vec![Subscription::new(filter("s"), QoS::AtLeastOnce)],
                SubscribeProperties::default(),
            )
            .unwrap(),
    );
    ops.push(
        h.session
            .unsubscribe(h.now, vec![filter("u")], UnsubscribeProperties::default())
            .unwrap(),
    );
    h.drain();
    h.sent();
    ops
}

fn failed_once(ops: &[OperationId], error: OperationError) -> Vec<Event> {
    ops.iter()
        .map(|&id| Event::OperationFailed {
            id,
            error: error.clone(),
        })
        .collect()
}

// v5 [MQTT-4.13.2-1] (close on the error) and the lib.rs contract "exactly one completion
// or one failure", with ReconnectPolicy::enabled = false: when
// the connection ends, however it ends, the session closes and each pending operation
// fails once with SessionClosed; afterwards nothing more happens.
#[test]
fn reconnect_disabled_closes_the_session_and_fails_pending_operations_once() {
    type Ending = fn(&mut Harness) -> DisconnectReason;
    let endings: [(&str, Ending); 3] = [
        ("transport closed", |h| {
            h.session.handle_closed(h.now);
            h.drain();
            DisconnectReason::TransportClosed
        }),
        ("keep-alive timeout", |h| {
            h.advance(secs(60));
            assert_eq!(h.sent(), vec![Packet::PingReq]);
            h.advance(secs(30));
            assert_eq!(h.take_actions(), vec![Action::Close]);
            DisconnectReason::KeepAliveTimeout
        }),
        ("protocol violation", |h| {
            h.receive(ConnAck::new(ReasonCode::Success));
            assert_eq!(h.take_actions(), vec![Action::Close]);
            DisconnectReason::ProtocolViolation(mqtt_session::ProtocolViolation::UnexpectedPacket(
                "a second CONNACK",
            ))
        }),
    ];
    for v in ALL {
        for (name, end) in endings {
            let mut o = opts(v, 0, 1);
            o.reconnect.enabled = false;
            let mut h = Harness::new(o);
            let ops = with_pending_operations(&mut h);
            let reason = end(&mut h);
            let mut expected = vec![Event::Disconnected {
                reason,
                reconnect_at: None,
            }];
            expected.extend(failed_once(&ops, OperationError::SessionClosed));
            assert_eq!(h.take_events(), expected, "{v:?} {name}");
            assert!(h.session.is_closed());
            assert_eq!(h.session.poll_timeout(), None);
            assert_eq!((h.session.in_flight(), h.session.queued()), (0, 0));

            // Nothing more: no second report, no reconnect, no bytes.
            h.sent();
            h.session.handle_closed(h.now);
            h.advance(secs(3600));
            h.receive(PubAck::new(pid(1)));
            h.drain();
            assert_eq!(
                (h.take_events(), h.take_actions(), h.sent()),
                (vec![], vec![], vec![]),
                "{v:?} {name}"
            );
            assert_eq!(
                h.session.publish(h.now, msg("t", "x", QoS::AtMostOnce)),
                Err(UsageError::Closed)
            );
            assert_eq!(
                h.session.subscribe(
                    h.now,
                    vec![Subscription::new(filter("s"), QoS::AtMostOnce)],
                    SubscribeProperties::default()
                ),
                Err(UsageError::Closed)
            );
            assert_eq!(h.session.connect(h.now), Err(UsageError::Closed));
            assert_eq!(
                h.session.disconnect(h.now, DisconnectOptions::default()),
                Err(UsageError::Closed)
            );
        }
    }
}

// ----- operations across reconnects -----

// lib.rs (operations made while disconnected wait) and v3.1.1 / v5 [MQTT-3.1.0-1]: a
// publish, subscribe and unsubscribe made before `connect` or while waiting to reconnect
// go out after the next CONNACK and complete once.
#[test]
fn operations_made_while_disconnected_complete_after_reconnect() {
    for v in ALL {
        let mut h = Harness::new(opts(v, 0, 1));
        // Before the first connection.
        let early = h
            .session
            .publish(h.now, msg("t", "early", QoS::AtLeastOnce))
            .unwrap();
        h.connect();
        assert_eq!(
            h.sent(),
            vec![wire("t", "early", QoS::AtLeastOnce, Some(1))],
            "{v:?}"
        );
        h.receive(PubAck::new(pid(1)));
        assert_eq!(
            h.take_events(),
            vec![Event::PublishCompleted {
                id: early,
                reason_code: ReasonCode::Success
            }]
        );

        // While waiting to reconnect.
        h.session.handle_closed(h.now);
        h.drain();
        h.take_events();
        let p1 = h
            .session
            .publish(h.now, msg("t", "q1", QoS::AtLeastOnce))
            .unwrap();
        h.session
            .publish(h.now, msg("t", "q0", QoS::AtMostOnce))
            .unwrap();
        let sub = h
            .session
            .subscribe(
                h.now,
                vec![Subscription::new(filter("s/#"), QoS::ExactlyOnce)],
                SubscribeProperties::default(),
            )
            .unwrap();
        let p2 = h
            .session
            .publish(h.now, msg("t", "q2", QoS::ExactlyOnce))
            .unwrap();
        let unsub = h
            .session
            .unsubscribe(h.now, vec![filter("u")], UnsubscribeProperties::default())
            .unwrap();
        h.drain();
        assert_eq!(h.sent(), vec![]);
        assert_eq!(h.session.queued(), 3);

        h.fire_timer();
        take_open(&mut h);
        establish(&mut h, ok());
        assert!(matches!(h.take_events().as_slice(), [Event::Connected(_)]));
        // Requests first (identifiers 2 and 3 were taken when they were made), then the
        // queued messages in order.
        assert_eq!(
            h.sent(),
            vec![
                Packet::Subscribe(Subscribe::new(
                    pid(2),
                    vec![Subscription::new(filter("s/#"), QoS::ExactlyOnce)]
                )),
                Packet::Unsubscribe(Unsubscribe::new(pid(3), vec![filter("u")])),
                wire("t", "q1", QoS::AtLeastOnce, Some(4)),
                wire("t", "q0", QoS::AtMostOnce, None),
                wire("t", "q2", QoS::ExactlyOnce, Some(5)),
            ],
            "{v:?}"
        );
        h.receive(SubAck {
            packet_id: pid(2),
            reason_codes: vec![ReasonCode::GrantedQoS2],
            properties: AckProperties::default().into(),
        });
        h.receive(UnsubAck {
            packet_id: pid(3),
            reason_codes: if v.is_v5() {
                vec![ReasonCode::Success]
            } else {
                vec![]
            },
            properties: AckProperties::default().into(),
        });
        h.receive(PubAck::new(pid(4)));
        h.receive(PubRec::new(pid(5)));
        assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(pid(5)))]);
        h.receive(PubComp::new(pid(5)));
        assert_eq!(
            h.take_events(),
            vec![
                Event::SubscribeCompleted {
                    id: sub,
                    reason_codes: vec![ReasonCode::GrantedQoS2]
                },
                Event::UnsubscribeCompleted {
                    id: unsub,
                    reason_codes: vec![ReasonCode::Success]
                },
                Event::PublishCompleted {
                    id: p1,
                    reason_code: ReasonCode::Success
                },
                Event::PublishCompleted {
                    id: p2,
                    reason_code: ReasonCode::Success
                },
            ],
            "{v:?}"
        );
        assert_eq!((h.session.in_flight(), h.session.queued()), (0, 0));
    }
}

// v3.1.1 [MQTT-3.1.2-6] / v5 [MQTT-3.1.2-4]: with a session that ends with the connection,
// a publish left unacknowledged goes again on the new session as a new message (DUP 0)
// and completes exactly once; the SUBSCRIBE left unacknowledged goes again too.
#[test]
fn unacknowledged_operations_on_a_clean_session_go_again_and_complete_once() {
    for v in ALL {
        let mut h = Harness::new(opts(v, 0, 1));
        h.connect();
        let op = h
            .session
            .publish(h.now, msg("t", "x", QoS::AtLeastOnce))
            .unwrap();
        let sub = h
            .session
            .subscribe(
                h.now,
                vec![Subscription::new(filter("s"), QoS::AtMostOnce)],
                SubscribeProperties::default(),
            )
            .unwrap();
        h.drain();
        assert_eq!(h.sent().len(), 2);
        let c = h.reconnect(ok());
        assert!(c.clean_start);
        let sent = h.sent();
        assert_eq!(
            sent,
            vec![
                Packet::Subscribe(Subscribe::new(
                    pid(2),
                    vec![Subscription::new(filter("s"), QoS::AtMostOnce)]
                )),
                wire("t", "x", QoS::AtLeastOnce, Some(3)),
            ],
            "{v:?}"
        );
        h.receive(SubAck {
            packet_id: pid(2),
            reason_codes: vec![ReasonCode::Success],
            properties: AckProperties::default().into(),
        });
        h.receive(PubAck::new(pid(3)));
        let events = h.take_events();
        assert_eq!(
            events[2..],
            [
                Event::SubscribeCompleted {
                    id: sub,
                    reason_codes: vec![ReasonCode::Success]
                },
                Event::PublishCompleted {
                    id: op,
                    reason_code: ReasonCode::Success
                },
            ],
            "{v:?} {events:?}"
        );
    }
}

// ----- the application's DISCONNECT -----

/// Asserts the end of a session by `disconnect`: `packet` was the last packet, then Close,
/// Disconnected{Requested} and the pending operations failed once; after that nothing is
/// sent or reported, whatever comes in.
fn assert_ended_by_request(h: &mut Harness, packet: Packet, ops: &[OperationId]) {
    assert_eq!(h.sent(), vec![packet]);
    assert_eq!(h.take_actions(), vec![Action::Close]);
    let mut expected = vec![Event::Disconnected {
        reason: DisconnectReason::Requested,
        reconnect_at: None,
    }];
    expected.extend(failed_once(ops, OperationError::SessionClosed));
    assert_eq!(h.take_events(), expected);
    assert!(h.session.is_closed());
    assert_eq!(h.session.poll_timeout(), None);

    h.receive(msg("t", "late", QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, Some(pid(40))));
    h.advance(secs(3600));
    h.session.handle_closed(h.now);
    h.drain();
    assert_eq!(
        h.session.publish(h.now, msg("t", "x", QoS::AtLeastOnce)),
        Err(UsageError::Closed)
    );
    assert_eq!(
        h.session
            .unsubscribe(h.now, vec![filter("u")], UnsubscribeProperties::default()),
        Err(UsageError::Closed)
    );
    assert_eq!(
        h.session.disconnect(h.now, DisconnectOptions::default()),
        Err(UsageError::Closed)
    );
    h.drain();
    assert_eq!(
        (h.sent(), h.take_actions(), h.take_events()),
        (vec![], vec![], vec![])
    );
}

// v5 [MQTT-3.14.4-1] [MQTT-3.14.4-2] (U5-37: 0x00 discards the Will): `disconnect` sends
// DISCONNECT 0x00 (Normal disconnection), closes, and sends nothing more.
#[test]
fn v5_user_disconnect_sends_normal_disconnection_then_nothing() {
    let mut h = Harness::new(opts(ProtocolVersion::V5, 0, 1));
    let ops = with_pending_operations(&mut h);
    h.session
        .disconnect(h.now, DisconnectOptions::default())
        .unwrap();
    h.drain();
    assert_ended_by_request(
        &mut h,
        Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION)),
        &ops,
    );
}

// v3.1.1 [MQTT-3.14.4-1] [MQTT-3.14.4-2] (U311-18): DISCONNECT (E0 00), close, nothing
// more. 5.0-only options are refused, and nothing is sent then.
#[test]
fn v3_user_disconnect_sends_disconnect_then_nothing() {
    for v in [ProtocolVersion::V3_1, ProtocolVersion::V3_1_1] {
        let mut h = Harness::new(opts(v, 0, 1));
        let ops = with_pending_operations(&mut h);
        for bad in [
            DisconnectOptions {
                publish_will: true,
                ..DisconnectOptions::default()
            },
            DisconnectOptions {
                session_expiry_interval: Some(0),
                ..DisconnectOptions::default()
            },
        ] {
            assert!(matches!(
                h.session.disconnect(h.now, bad),
                Err(UsageError::RequiresV5(_))
            ));
            h.drain();
            assert_eq!((h.sent(), h.take_actions()), (vec![], vec![]));
            assert!(h.session.is_connected());
        }
        h.session
            .disconnect(h.now, DisconnectOptions::default())
            .unwrap();
        h.drain();
        assert_ended_by_request(
            &mut h,
            Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION)),
            &ops,
        );
    }
}

// v5 U5-37 (§3.14.2.1 0x04): disconnecting with the Will published sends 0x04, with the
// Reason String and User Properties given.
#[test]
fn v5_user_disconnect_with_will_message() {
    let mut h = Harness::new(opts(ProtocolVersion::V5, 0, 1));
    h.connect();
    h.session
        .disconnect(
            h.now,
            DisconnectOptions {
                publish_will: true,
                reason_string: Some(s("going dark")),
                user_properties: vec![UserProperty::new(s("k"), s("v"))],
                ..DisconnectOptions::default()
            },
        )
        .unwrap();
    h.drain();
    assert_ended_by_request(
        &mut h,
        Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::DisconnectWithWillMessage,
            properties: DisconnectProperties {
                reason_string: Some(s("going dark")),
                user_properties: vec![UserProperty::new(s("k"), s("v"))],
                ..DisconnectProperties::default()
            }
            .into(),
        }),
        &[],
    );
}

// v5 §3.14.2.2.2 (U5-30): DISCONNECT may change a non-zero Session Expiry Interval (to 0 or
// to another value).
#[test]
fn v5_user_disconnect_updates_the_session_expiry() {
    for expiry in [0u32, 7200] {
        let mut o = opts(ProtocolVersion::V5, 0, 1);
        o.session_expiry_interval = 600;
        let mut h = Harness::new(o);
        h.connect();
        h.session
            .disconnect(
                h.now,
                DisconnectOptions {
                    session_expiry_interval: Some(expiry),
                    ..DisconnectOptions::default()
                },
            )
            .unwrap();
        h.drain();
        assert_ended_by_request(
            &mut h,
            Packet::Disconnect(Disconnect {
                reason_code: ReasonCode::NORMAL_DISCONNECTION,
                properties: DisconnectProperties {
                    session_expiry_interval: Some(expiry),
                    ..DisconnectProperties::default()
                }
                .into(),
            }),
            &[],
        );
    }
}

// v5 U5-30: after a CONNECT Session Expiry Interval of 0, a non-zero one on DISCONNECT is a
// Protocol Error: refused, nothing sent, still connected; 0 itself is allowed.
#[test]
fn v5_user_disconnect_cannot_raise_a_zero_session_expiry() {
    let mut h = Harness::new(opts(ProtocolVersion::V5, 0, 1));
    let c = h.connect();
    assert_eq!(c.properties.session_expiry_interval, None);
    assert_eq!(
        h.session.disconnect(
            h.now,
            DisconnectOptions {
                session_expiry_interval: Some(60),
                ..DisconnectOptions::default()
            }
        ),
        Err(UsageError::InvalidPacket(
            EncodeError::InvalidPropertyValue {
                property: PropertyId::SessionExpiryInterval,
                value: 60
            }
        ))
    );
    h.drain();
    assert_eq!(
        (h.sent(), h.take_actions(), h.take_events()),
        (vec![], vec![], vec![])
    );
    assert!(h.session.is_connected());
    h.session
        .disconnect(
            h.now,
            DisconnectOptions {
                session_expiry_interval: Some(0),
                ..DisconnectOptions::default()
            },
        )
        .unwrap();
    h.drain();
    assert_ended_by_request(
        &mut h,
        Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::NORMAL_DISCONNECTION,
            properties: DisconnectProperties {
                session_expiry_interval: Some(0),
                ..DisconnectProperties::default()
            }
            .into(),
        }),
        &[],
    );
}

// v5 [MQTT-3.14.4-1] / v3.1.1 [MQTT-3.14.4-2] (nothing after the end): disconnecting
// while no connection is up sends nothing (there is no connection to send on) but still
// ends the session and fails what was pending, once.
#[test]
fn user_disconnect_while_waiting_to_reconnect() {
    let mut h = Harness::new(opts(ProtocolVersion::V5, 0, 1));
    let ops = with_pending_operations(&mut h);
    h.session.handle_closed(h.now);
    h.drain();
    h.take_events();
    h.session
        .disconnect(h.now, DisconnectOptions::default())
        .unwrap();
    h.drain();
    assert_eq!((h.sent(), h.take_actions()), (vec![], vec![]));
    assert_eq!(
        h.take_events(),
        failed_once(&ops, OperationError::SessionClosed)
    );
    assert!(h.session.is_closed());
    h.advance(secs(60));
    assert_eq!((h.take_actions(), h.take_events()), (vec![], vec![]));
}

// v5 [MQTT-3.14.4-2] / v3.1.1 [MQTT-3.14.4-1] (close the network connection): disconnecting
// while the CONNACK is awaited closes the open transport; no packet, nothing after.
#[test]
fn user_disconnect_while_awaiting_connack() {
    for v in ALL {
        let mut h = Harness::new(opts(v, 0, 1));
        h.open();
        let op = h
            .session
            .publish(h.now, msg("t", "x", QoS::AtLeastOnce))
            .unwrap();
        h.session
            .disconnect(h.now, DisconnectOptions::default())
            .unwrap();
        h.drain();
        assert_eq!(h.sent(), vec![], "{v:?}");
        assert_eq!(h.take_actions(), vec![Action::Close]);
        assert_eq!(
            h.take_events(),
            vec![
                Event::Disconnected {
                    reason: DisconnectReason::Requested,
                    reconnect_at: None
                },
                Event::OperationFailed {
                    id: op,
                    error: OperationError::SessionClosed
                }
            ]
        );
        h.receive(ok());
        assert_eq!((h.sent(), h.take_events()), (vec![], vec![]));
    }
}

// ----- the timer contract -----

/// Asserts that the session's deadline is not before `h.now`.
fn assert_deadline_ahead(h: &Harness, what: &str) {
    if let Some(t) = h.session.poll_timeout() {
        assert!(t >= h.now, "{what}: deadline {t:?} before now {:?}", h.now);
    }
}

// v5 [MQTT-3.1.2-20] U5-13; v3.1.1 [MQTT-3.1.2-23] U311-07, and the lib.rs driving
// contract: after every input, poll_timeout is never in the past, so a
// driver never spins: while waiting to reconnect, waiting for CONNACK, and connected and
// idle through keep-alive rounds, late PINGRESPs and traffic.
#[test]
fn poll_timeout_is_never_in_the_past() {
    for v in ALL {
        let mut o = opts(v, 50, 9);
        o.keep_alive = 10;
        let mut h = Harness::new(o);
        h.session.connect(h.now).unwrap();
        h.drain();
        take_open(&mut h);
        assert_eq!(
            h.session.poll_timeout(),
            None,
            "Opening waits for the driver"
        );
        h.session.handle_closed(h.now);
        h.drain();
        assert_deadline_ahead(&h, "waiting to reconnect");
        h.fire_timer();
        take_open(&mut h);
        h.advance(ms(30));
        h.session.handle_connected(h.now);
        h.drain();
        assert_deadline_ahead(&h, "awaiting CONNACK");
        h.advance(secs(2));
        h.receive(ok());
        assert_deadline_ahead(&h, "connected");
        let mut t = 0u64;
        for step in 0..200u64 {
            // Irregular input: time passes by 0.3 .. 6.9 s, sometimes traffic, sometimes
            // a PINGRESP (late or not), sometimes only the timer.
            t = t
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            h.advance(ms(300 + (t >> 33) % 6_600));
            assert_deadline_ahead(&h, "after the timer");
            match step % 5 {
                0 => {
                    h.session
                        .publish(h.now, msg("t", "x", QoS::AtMostOnce))
                        .unwrap();
                    h.drain();
                }
                1 | 3 => h.receive(Packet::PingResp),
                2 => h.receive(msg("in", "x", QoS::AtMostOnce)),
                _ => {}
            }
            assert_deadline_ahead(&h, "after an input");
            if !h.session.is_connected() {
                // A dead link: reconnect and carry on.
                assert_eq!(h.take_actions(), vec![Action::Close]);
                h.fire_timer();
                take_open(&mut h);
                establish(&mut h, ok());
                assert_deadline_ahead(&h, "reconnected");
            }
            h.sent();
            h.take_events();
            h.take_actions();
        }
    }
}

// v5 [MQTT-3.1.2-20]; v3.1.1 [MQTT-3.1.2-23]; lib.rs driving contract ("while connected
// and idle, poll_timeout is ... always after the last input's now"): a CONNACK that
// arrives after a keep-alive period has passed since CONNECT must not leave a deadline in
// the past (the PINGREQ is due at once: send it, or report `now`).
#[test]
fn poll_timeout_after_a_late_connack_is_not_in_the_past() {
    for v in ALL {
        let mut o = opts(v, 0, 1);
        o.keep_alive = 10;
        let mut h = Harness::new(o);
        h.open();
        h.advance(secs(12));
        h.receive(ok());
        assert!(h.session.is_connected());
        assert_deadline_ahead(&h, "late CONNACK");
    }
}
