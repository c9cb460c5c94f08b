//! Scripted conversations for MQTT 5.0 enhanced authentication: the exchange before
//! CONNACK, re-authentication, and the server's mistakes.

mod common;

use bytes::Bytes;
use common::{FIRST_DELAY, Harness, msg, options, pid, s, secs};
use mqtt_proto::{
    AckProperties, Auth, ConnAck, Disconnect, Packet, ProtocolVersion, PubAck, QoS, ReasonCode,
    SubAck, Subscribe, SubscribeProperties, Subscription, TopicFilter, UnsubAck, Unsubscribe,
    UnsubscribeProperties,
};
use mqtt_session::{
    Action, DisconnectReason, Event, OperationError, Options, ProtocolViolation, UsageError,
};

fn wire(t: &str, payload: &'static str, qos: QoS, id: Option<u16>) -> Packet {
    Packet::Publish(msg(t, payload, qos).with_qos(qos, id.map(pid)))
}

fn data(d: &'static [u8]) -> Option<Bytes> {
    Some(Bytes::from_static(d))
}

/// v5 options with Authentication Method "SCRAM-SHA-1" and initial data "client-first";
/// no reconnect jitter.
fn auth_opts() -> Options {
    let mut o = options(ProtocolVersion::V5);
    o.reconnect.jitter_percent = 0;
    o.authentication_method = Some(s("SCRAM-SHA-1"));
    o.authentication_data = data(b"client-first");
    o
}

fn plain_opts() -> Options {
    let mut o = options(ProtocolVersion::V5);
    o.reconnect.jitter_percent = 0;
    o
}

fn auth(code: ReasonCode, method: &str, d: Option<Bytes>) -> Auth {
    Auth::new(code, s(method), d)
}

/// A successful CONNACK carrying `method`.
fn connack_with(method: &str) -> ConnAck {
    let mut c = ConnAck::new(ReasonCode::Success);
    c.properties.authentication_method = Some(s(method));
    c
}

/// Asserts that the server's last packet was a protocol violation: DISCONNECT 0x82 is the
/// last packet sent, then Close and one Disconnected event.
fn assert_protocol_error(h: &mut Harness, violation: ProtocolViolation) {
    assert_eq!(
        h.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
    assert_eq!(h.take_actions(), vec![Action::Close]);
    assert_eq!(
        h.take_events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::ProtocolViolation(violation),
            reconnect_at: Some(h.now + FIRST_DELAY),
        }]
    );
    assert!(!h.session.is_connected());
}

/// Connects `h` (configured with SCRAM-SHA-1) without an exchange: CONNACK with the method.
fn connect_authenticated(h: &mut Harness) {
    h.open();
    h.receive(connack_with("SCRAM-SHA-1"));
    let events = h.take_events();
    assert!(
        matches!(events.as_slice(), [Event::Connected(_)]),
        "{events:?}"
    );
}

// v5 [MQTT-4.12.0-2] [MQTT-4.12.0-3] [MQTT-4.12.0-5] (U5-41): CONNECT carries the method
// and initial data; each AUTH 0x18 from the server is an AuthChallenge, answered by
// `authenticate` with AUTH 0x18 and the same method; CONNACK with that method connects.
#[test]
fn enhanced_authentication_exchange_before_connack() {
    let mut h = Harness::new(auth_opts());
    let c = h.open();
    assert_eq!(c.properties.authentication_method, Some(s("SCRAM-SHA-1")));
    assert_eq!(c.properties.authentication_data, data(b"client-first"));

    for (challenge, answer) in [
        (&b"server-first"[..], &b"client-final"[..]),
        (&b"server-second"[..], &b"client-more"[..]),
    ] {
        h.receive(auth(
            ReasonCode::ContinueAuthentication,
            "SCRAM-SHA-1",
            Some(Bytes::copy_from_slice(challenge)),
        ));
        assert_eq!(h.sent(), vec![]);
        assert_eq!(
            h.take_events(),
            vec![Event::AuthChallenge {
                method: s("SCRAM-SHA-1"),
                data: Some(Bytes::copy_from_slice(challenge)),
            }]
        );
        h.session
            .authenticate(h.now, Some(Bytes::copy_from_slice(answer)))
            .unwrap();
        h.drain();
        assert_eq!(
            h.sent(),
            vec![Packet::Auth(auth(
                ReasonCode::ContinueAuthentication,
                "SCRAM-SHA-1",
                Some(Bytes::copy_from_slice(answer)),
            ))]
        );
    }

    let mut connack = connack_with("SCRAM-SHA-1");
    connack.properties.authentication_data = data(b"server-final");
    h.receive(connack.clone());
    let events = h.take_events();
    let [Event::Connected(connected)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(connected.properties, connack.properties);
    assert!(h.session.is_connected());
    assert_eq!(h.take_actions(), vec![]);
}

// v5 [MQTT-3.1.2-30] (U5-16): with an Authentication Method the client sends nothing but
// AUTH (or DISCONNECT) before CONNACK: publishes, subscriptions and keep-alive wait, and go
// out, in order, once CONNACK arrives.
#[test]
fn only_auth_before_connack_when_authenticating() {
    let mut o = auth_opts();
    o.keep_alive = 5;
    let mut h = Harness::new(o);
    h.open();
    let q1 = h
        .session
        .publish(h.now, msg("t", "1", QoS::AtLeastOnce))
        .unwrap();
    h.session
        .publish(h.now, msg("t", "0", QoS::AtMostOnce))
        .unwrap();
    let sub = h
        .session
        .subscribe(
            h.now,
            vec![Subscription::new(
                TopicFilter::try_from("s").unwrap(),
                QoS::AtLeastOnce,
            )],
            SubscribeProperties::default(),
        )
        .unwrap();
    let unsub = h
        .session
        .unsubscribe(
            h.now,
            vec![TopicFilter::try_from("u").unwrap()],
            UnsubscribeProperties::default(),
        )
        .unwrap();
    h.drain();
    assert_eq!(h.sent(), vec![]);
    // Two keep-alive periods pass in the exchange: no PINGREQ either.
    h.advance(secs(6));
    h.receive(auth(
        ReasonCode::ContinueAuthentication,
        "SCRAM-SHA-1",
        data(b"c"),
    ));
    h.advance(secs(6));
    h.session.authenticate(h.now, data(b"r")).unwrap();
    h.drain();
    assert_eq!(
        h.sent(),
        vec![Packet::Auth(auth(
            ReasonCode::ContinueAuthentication,
            "SCRAM-SHA-1",
            data(b"r")
        ))]
    );
    assert_eq!(
        h.take_events(),
        vec![Event::AuthChallenge {
            method: s("SCRAM-SHA-1"),
            data: data(b"c")
        }]
    );
    assert_eq!(h.take_actions(), vec![]);

    h.receive(connack_with("SCRAM-SHA-1"));
    assert_eq!(
        h.sent(),
        vec![
            Packet::Subscribe(Subscribe::new(
                pid(1),
                vec![Subscription::new(
                    TopicFilter::try_from("s").unwrap(),
                    QoS::AtLeastOnce
                )]
            )),
            Packet::Unsubscribe(Unsubscribe::new(
                pid(2),
                vec![TopicFilter::try_from("u").unwrap()]
            )),
            wire("t", "1", QoS::AtLeastOnce, Some(3)),
            wire("t", "0", QoS::AtMostOnce, None),
        ]
    );
    h.receive(SubAck {
        packet_id: pid(1),
        reason_codes: vec![ReasonCode::GrantedQoS1],
        properties: AckProperties::default().into(),
    });
    h.receive(UnsubAck {
        packet_id: pid(2),
        reason_codes: vec![ReasonCode::Success],
        properties: AckProperties::default().into(),
    });
    h.receive(PubAck::new(pid(3)));
    let events = h.take_events();
    assert!(matches!(events[0], Event::Connected(_)), "{events:?}");
    assert_eq!(
        events[1..],
        [
            Event::SubscribeCompleted {
                id: sub,
                reason_codes: vec![ReasonCode::GrantedQoS1]
            },
            Event::UnsubscribeCompleted {
                id: unsub,
                reason_codes: vec![ReasonCode::Success]
            },
            Event::PublishCompleted {
                id: q1,
                reason_code: ReasonCode::Success
            },
        ]
    );
}

// v5 [MQTT-4.12.0-5]: an AUTH with another method than CONNECT's is a Protocol Error.
#[test]
fn auth_with_another_method_is_a_protocol_error() {
    let mut h = Harness::new(auth_opts());
    h.open();
    h.receive(auth(
        ReasonCode::ContinueAuthentication,
        "PLAIN",
        data(b"x"),
    ));
    assert_protocol_error(
        &mut h,
        ProtocolViolation::Authentication("AUTH with a different Authentication Method"),
    );
}

// v5 [MQTT-4.12.0-5]: the successful CONNACK carries CONNECT's method; without it (or with
// another) it is a Protocol Error and the client is not connected.
#[test]
fn connack_without_the_method_is_a_protocol_error() {
    for connack in [ConnAck::new(ReasonCode::Success), connack_with("PLAIN")] {
        let mut h = Harness::new(auth_opts());
        h.open();
        h.receive(connack);
        assert_protocol_error(
            &mut h,
            ProtocolViolation::Authentication(
                "CONNACK Authentication Method differs from CONNECT's",
            ),
        );
    }
}

// v5 [MQTT-4.12.0-6] (U5-32): without an Authentication Method in CONNECT, an AUTH from the
// server, before or after CONNACK, is a Protocol Error.
#[test]
fn auth_without_a_configured_method_is_a_protocol_error() {
    for after_connack in [false, true] {
        let mut h = Harness::new(plain_opts());
        if after_connack {
            h.connect();
        } else {
            let c = h.open();
            assert_eq!(c.properties.authentication_method, None);
        }
        h.receive(auth(
            ReasonCode::ContinueAuthentication,
            "PLAIN",
            data(b"x"),
        ));
        assert_protocol_error(
            &mut h,
            ProtocolViolation::Authentication("AUTH without an Authentication Method in CONNECT"),
        );
    }
}

// v5 [MQTT-4.12.0-6]: a CONNACK with an Authentication Method the client did not ask for is
// a Protocol Error.
#[test]
fn connack_with_a_method_that_was_not_asked_for_is_a_protocol_error() {
    let mut h = Harness::new(plain_opts());
    h.open();
    h.receive(connack_with("PLAIN"));
    assert_protocol_error(
        &mut h,
        ProtocolViolation::Authentication("CONNACK Authentication Method differs from CONNECT's"),
    );
}

// v5 [MQTT-4.12.0-7]: without an Authentication Method in CONNECT the client never sends
// AUTH: `authenticate` and `reauthenticate` refuse, before and after CONNACK. 3.1.1 has no
// AUTH at all.
#[test]
fn client_never_sends_auth_without_a_method() {
    let mut h = Harness::new(plain_opts());
    h.open();
    assert_eq!(
        h.session.authenticate(h.now, data(b"x")),
        Err(UsageError::NoAuthentication)
    );
    assert_eq!(
        h.session.reauthenticate(h.now, data(b"x")),
        Err(UsageError::NoAuthentication)
    );
    h.receive(ConnAck::new(ReasonCode::Success));
    h.take_events();
    assert_eq!(
        h.session.authenticate(h.now, data(b"x")),
        Err(UsageError::NoAuthentication)
    );
    assert_eq!(
        h.session.reauthenticate(h.now, data(b"x")),
        Err(UsageError::NoAuthentication)
    );
    h.drain();
    assert_eq!(h.sent(), vec![]);
    assert!(h.session.is_connected());

    let mut o = options(ProtocolVersion::V3_1_1);
    o.authentication_method = Some(s("SCRAM-SHA-1"));
    let mut h = Harness::new(o);
    let c = h.connect();
    assert_eq!(c.properties.authentication_method, None);
    assert!(matches!(
        h.session.reauthenticate(h.now, None),
        Err(UsageError::RequiresV5(_))
    ));
    assert!(matches!(
        h.session.authenticate(h.now, None),
        Err(UsageError::RequiresV5(_))
    ));
    h.drain();
    assert_eq!(h.sent(), vec![]);
}

// v5 [MQTT-4.12.0-3]: the client's AUTH 0x18 answers a server AUTH; with no challenge
// outstanding `authenticate` is refused and nothing is sent.
#[test]
fn authenticate_without_a_challenge_is_refused() {
    let mut h = Harness::new(auth_opts());
    h.open();
    assert_eq!(
        h.session.authenticate(h.now, data(b"unprompted")),
        Err(UsageError::NoAuthentication)
    );
    h.drain();
    assert_eq!(h.sent(), vec![]);
    // One challenge, one answer: a second answer is refused.
    h.receive(auth(
        ReasonCode::ContinueAuthentication,
        "SCRAM-SHA-1",
        data(b"c"),
    ));
    h.take_events();
    h.session.authenticate(h.now, data(b"r")).unwrap();
    assert_eq!(
        h.session.authenticate(h.now, data(b"again")),
        Err(UsageError::NoAuthentication)
    );
    h.drain();
    assert_eq!(
        h.sent(),
        vec![Packet::Auth(auth(
            ReasonCode::ContinueAuthentication,
            "SCRAM-SHA-1",
            data(b"r")
        ))]
    );
    h.receive(connack_with("SCRAM-SHA-1"));
    h.take_events();
    assert_eq!(
        h.session.authenticate(h.now, data(b"after")),
        Err(UsageError::NoAuthentication)
    );
    h.drain();
    assert_eq!(h.sent(), vec![]);
}

// v5 [MQTT-3.15.2-1] (Table 3-11): AUTH 0x00 ends a re-authentication; the initial exchange
// ends with CONNACK. AUTH 0x00 before CONNACK is a Protocol Error.
#[test]
fn auth_success_before_connack_is_a_protocol_error() {
    let mut h = Harness::new(auth_opts());
    h.open();
    h.receive(auth(ReasonCode::Success, "SCRAM-SHA-1", None));
    assert_protocol_error(
        &mut h,
        ProtocolViolation::Authentication("unexpected AUTH reason code"),
    );
}

// v5 [MQTT-4.12.1-1] (U5-41): re-authentication starts after CONNACK with AUTH 0x19 and the
// CONNECT's method; the server's AUTH 0x18 is answered with 0x18; AUTH 0x00 ends it with
// ReAuthenticated. Other traffic continues meanwhile.
#[test]
fn reauthentication_flow() {
    let mut h = Harness::new(auth_opts());
    connect_authenticated(&mut h);
    h.session.reauthenticate(h.now, data(b"re-first")).unwrap();
    h.drain();
    assert_eq!(
        h.sent(),
        vec![Packet::Auth(auth(
            ReasonCode::ReAuthenticate,
            "SCRAM-SHA-1",
            data(b"re-first")
        ))]
    );
    // Publishing goes on during the exchange.
    let op = h
        .session
        .publish(h.now, msg("t", "x", QoS::AtLeastOnce))
        .unwrap();
    h.drain();
    assert_eq!(h.sent(), vec![wire("t", "x", QoS::AtLeastOnce, Some(1))]);

    h.receive(auth(
        ReasonCode::ContinueAuthentication,
        "SCRAM-SHA-1",
        data(b"re-challenge"),
    ));
    assert_eq!(
        h.take_events(),
        vec![Event::AuthChallenge {
            method: s("SCRAM-SHA-1"),
            data: data(b"re-challenge")
        }]
    );
    h.session.authenticate(h.now, data(b"re-answer")).unwrap();
    h.drain();
    assert_eq!(
        h.sent(),
        vec![Packet::Auth(auth(
            ReasonCode::ContinueAuthentication,
            "SCRAM-SHA-1",
            data(b"re-answer")
        ))]
    );
    h.receive(PubAck::new(pid(1)));
    h.receive(auth(ReasonCode::Success, "SCRAM-SHA-1", None));
    assert_eq!(
        h.take_events(),
        vec![
            Event::PublishCompleted {
                id: op,
                reason_code: ReasonCode::Success
            },
            Event::ReAuthenticated
        ]
    );
    assert_eq!((h.sent(), h.take_actions()), (vec![], vec![]));
    assert!(h.session.is_connected());
}

// v5 [MQTT-4.12.1-1]: re-authentication only after CONNACK.
#[test]
fn reauthentication_only_after_connack() {
    let mut h = Harness::new(auth_opts());
    assert_eq!(
        h.session.reauthenticate(h.now, None),
        Err(UsageError::NoAuthentication)
    );
    h.open();
    assert_eq!(
        h.session.reauthenticate(h.now, None),
        Err(UsageError::NoAuthentication)
    );
    h.drain();
    assert_eq!(h.sent(), vec![]);
}

// v5 [MQTT-4.12.1-2]: the server ends a failed re-authentication with DISCONNECT; the
// client reports AuthenticationFailed with its code, closes, and sends nothing.
#[test]
fn failed_reauthentication_is_reported() {
    for code in [
        ReasonCode::NotAuthorized,
        ReasonCode::BadAuthenticationMethod,
    ] {
        let mut h = Harness::new(auth_opts());
        connect_authenticated(&mut h);
        h.session.reauthenticate(h.now, data(b"re")).unwrap();
        h.drain();
        assert_eq!(h.sent().len(), 1);
        h.receive(Disconnect::new(code));
        assert_eq!(h.sent(), vec![]);
        assert_eq!(h.take_actions(), vec![Action::Close]);
        assert_eq!(
            h.take_events(),
            vec![Event::Disconnected {
                reason: DisconnectReason::AuthenticationFailed(code),
                reconnect_at: Some(h.now + FIRST_DELAY),
            }]
        );
    }
}

// v5 [MQTT-4.12.1-2] [MQTT-4.12.0-5]: when the client finds the re-authentication broken
// (an AUTH with another method), it sends DISCONNECT and closes.
#[test]
fn broken_reauthentication_is_closed_by_the_client() {
    let mut h = Harness::new(auth_opts());
    connect_authenticated(&mut h);
    h.session.reauthenticate(h.now, None).unwrap();
    h.drain();
    h.sent();
    h.receive(auth(ReasonCode::ContinueAuthentication, "PLAIN", None));
    assert_protocol_error(
        &mut h,
        ProtocolViolation::Authentication("AUTH with a different Authentication Method"),
    );
}

// v5 [MQTT-4.12.1-1] (§4.12.1: only the client starts a re-authentication): an AUTH 0x18
// from the server when no exchange is under way is a Protocol Error, not a challenge.
#[test]
fn unsolicited_auth_after_connack_is_a_protocol_error() {
    let mut h = Harness::new(auth_opts());
    connect_authenticated(&mut h);
    h.receive(auth(
        ReasonCode::ContinueAuthentication,
        "SCRAM-SHA-1",
        data(b"?"),
    ));
    let sent = h.sent();
    assert_eq!(
        sent,
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
    assert_eq!(h.take_actions(), vec![Action::Close]);
    let events = h.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Disconnected {
                reason: DisconnectReason::ProtocolViolation(_),
                ..
            }]
        ),
        "{events:?}"
    );
}

// v5 [MQTT-3.2.2-7]: the server refuses the authentication with CONNACK 0x86 / 0x8C: the
// attempt failed, for good (new credentials are needed), and pending work fails once.
#[test]
fn authentication_refused_by_connack_is_final() {
    for code in [
        ReasonCode::BadUserNameOrPassword,
        ReasonCode::BadAuthenticationMethod,
        ReasonCode::NotAuthorized,
    ] {
        let mut h = Harness::new(auth_opts());
        h.open();
        let op = h
            .session
            .publish(h.now, msg("t", "x", QoS::AtLeastOnce))
            .unwrap();
        h.receive(auth(
            ReasonCode::ContinueAuthentication,
            "SCRAM-SHA-1",
            data(b"c"),
        ));
        h.session.authenticate(h.now, data(b"wrong")).unwrap();
        h.drain();
        assert_eq!(h.sent().len(), 1);
        h.receive(ConnAck::new(code));
        assert_eq!(h.sent(), vec![]);
        assert_eq!(h.take_actions(), vec![Action::Close]);
        assert_eq!(
            h.take_events(),
            vec![
                Event::AuthChallenge {
                    method: s("SCRAM-SHA-1"),
                    data: data(b"c")
                },
                Event::Disconnected {
                    reason: DisconnectReason::Refused {
                        reason_code: code,
                        reason_string: None
                    },
                    reconnect_at: None,
                },
                Event::OperationFailed {
                    id: op,
                    error: OperationError::SessionClosed
                },
            ]
        );
        assert!(h.session.is_closed());
    }
}

// v5 [MQTT-4.12.0-5] [MQTT-3.1.2-30]: every reconnect authenticates again with the same
// method and initial data; an exchange left unfinished by a dropped connection does not
// carry over.
#[test]
fn every_connection_authenticates_again() {
    let mut h = Harness::new(auth_opts());
    h.open();
    h.receive(auth(
        ReasonCode::ContinueAuthentication,
        "SCRAM-SHA-1",
        data(b"c"),
    ));
    h.take_events();
    h.session.handle_closed(h.now);
    h.drain();
    assert_eq!(
        h.session.authenticate(h.now, data(b"late")),
        Err(UsageError::NoAuthentication)
    );
    h.fire_timer();
    assert_eq!(
        h.take_actions(),
        vec![Action::Open {
            server: "test:1883".into()
        }]
    );
    h.session.handle_connected(h.now);
    h.drain();
    let sent = h.sent();
    let [Packet::Connect(c)] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_eq!(c.properties.authentication_method, Some(s("SCRAM-SHA-1")));
    assert_eq!(c.properties.authentication_data, data(b"client-first"));
    h.receive(connack_with("SCRAM-SHA-1"));
    let events = h.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Disconnected { .. }, Event::Connected(_)]
        ),
        "{events:?}"
    );
}
