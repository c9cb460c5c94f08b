//! A build without the features `qos2` and `unsubscribe` (the embedded configuration:
//! `cargo test -p mqtt-session --no-default-features --test without_qos2`; with both
//! features on, this file is empty). QoS 0 and 1 work; what needs a left-out feature is
//! refused with an error that names it, and the server's packets of a left-out exchange
//! are protocol violations.
#![cfg(not(any(feature = "qos2", feature = "unsubscribe")))]

mod common;

use common::{Harness, msg, options, persistent, pid, with_id};
use mqtt_proto::{
    PacketId, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, SubAck,
    Subscribe, SubscribeProperties, Subscription, TopicFilter, UnsubAck,
};
use mqtt_session::{
    DisconnectReason, Event, InFlight, OperationError, ProtocolViolation, Session, SessionState,
    Stage, UsageError,
};

const V: ProtocolVersion = ProtocolVersion::V3_1_1;

fn connected() -> Harness {
    let mut h = Harness::new(options(V));
    h.connect();
    h.take_events();
    h
}

fn filter(f: &str) -> TopicFilter {
    TopicFilter::try_from(f).unwrap()
}

/// The session closed the connection over a protocol violation naming `what`.
fn assert_violation(h: &mut Harness, what: &str) {
    let events = h.take_events();
    let found = events.iter().any(|e| {
        matches!(e, Event::Disconnected {
            reason: DisconnectReason::ProtocolViolation(ProtocolViolation::UnexpectedPacket(w)),
            ..
        } if w.contains(what))
    });
    assert!(
        found,
        "expected a protocol violation about {what:?}, got {events:?}"
    );
}

#[test]
fn qos_0_and_1_work_without_the_features() {
    let mut h = connected();
    let id = h
        .session
        .publish(h.now, msg("t", "one", QoS::AtLeastOnce))
        .unwrap();
    h.drain();
    assert_eq!(
        h.sent(),
        [with_id(msg("t", "one", QoS::AtLeastOnce), 1).into()]
    );
    h.receive(PubAck::new(pid(1)));
    assert!(h.take_events().contains(&common::completed(id)));
    let sub = h
        .session
        .subscribe(
            h.now,
            vec![Subscription::new(filter("a/#"), QoS::AtLeastOnce)],
            SubscribeProperties::default(),
        )
        .unwrap();
    h.drain();
    assert_eq!(h.sent().len(), 1);
    h.receive(SubAck {
        packet_id: pid(2),
        reason_codes: vec![ReasonCode::GrantedQoS1],
        properties: Default::default(),
    });
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Event::SubscribeCompleted { id, .. } if *id == sub))
    );
    h.receive(with_id(msg("a/b", "in", QoS::AtLeastOnce), 7));
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Event::Message(_)))
    );
    assert_eq!(h.sent(), [PubAck::new(pid(7)).into()]);
}

#[test]
fn a_qos_2_publish_is_refused_naming_the_feature() {
    let mut h = connected();
    let e = h
        .session
        .publish(h.now, msg("t", "x", QoS::ExactlyOnce))
        .unwrap_err();
    assert_eq!(
        e,
        UsageError::FeatureNotEnabled {
            what: "a QoS 2 publish",
            feature: "qos2"
        }
    );
    assert!(e.to_string().contains("feature `qos2`"), "{e}");
    h.drain();
    assert!(h.sent().is_empty(), "nothing sent for a refused publish");
}

#[test]
fn a_qos_2_subscription_is_refused_naming_the_feature() {
    let mut h = connected();
    let e = h
        .session
        .subscribe(
            h.now,
            vec![
                Subscription::new(filter("a"), QoS::AtLeastOnce),
                Subscription::new(filter("b"), QoS::ExactlyOnce),
            ],
            SubscribeProperties::default(),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            UsageError::FeatureNotEnabled {
                feature: "qos2",
                ..
            }
        ),
        "{e:?}"
    );
    let packet = Subscribe::new(
        PacketId::MAX,
        vec![Subscription::new(filter("b"), QoS::ExactlyOnce)],
    );
    // The driver-side admission check refuses it too.
    assert!(mqtt_session::admission::check_subscribe(V, None, &packet).is_err());
}

#[test]
fn a_qos_2_publish_from_the_server_is_a_protocol_violation() {
    // [MQTT-3.8.4-6]: the server sends at most the granted QoS, and no subscription
    // asked for QoS 2.
    let mut h = connected();
    h.receive(with_id(msg("a", "x", QoS::ExactlyOnce), 3));
    assert_violation(&mut h, "QoS 2 PUBLISH");
}

#[test]
fn pubrec_and_pubcomp_are_protocol_violations_without_qos2() {
    let mut h = connected();
    h.receive(PubRec::new(pid(1)));
    assert_violation(&mut h, "QoS 2 acknowledgement");
    let mut h = connected();
    h.receive(PubComp::new(pid(1)));
    assert_violation(&mut h, "QoS 2 acknowledgement");
}

#[test]
fn pubrel_is_still_answered_with_pubcomp() {
    // A restored state may hold incoming QoS 2 identifiers; [MQTT-4.3.3-11]: PUBREL is
    // answered with PUBCOMP.
    let mut h = connected();
    h.receive(PubRel::new(pid(4)));
    assert_eq!(h.sent(), [PubComp::new(pid(4)).into()]);
}

#[test]
fn an_unsuback_is_a_protocol_violation_without_unsubscribe() {
    let mut h = connected();
    h.receive(UnsubAck {
        packet_id: pid(1),
        reason_codes: Vec::new(),
        properties: Default::default(),
    });
    assert_violation(&mut h, "UNSUBACK");
}

#[test]
fn a_restored_qos_2_message_fails_naming_the_feature() {
    let publisher = Session::new(persistent(V));
    let mut state: SessionState = publisher.state();
    let mut message: Publish = with_id(msg("t", "x", QoS::ExactlyOnce), 1);
    message.dup = false;
    state.in_flight.push(InFlight::new(
        mqtt_session::OperationId(9),
        message,
        Stage::AwaitingAck,
    ));
    state.has_session = true;
    let mut h = Harness::from_session(Session::restore(persistent(V), state));
    h.drain();
    let events = h.take_events();
    assert!(
        events.iter().any(|e| matches!(e,
            Event::OperationFailed {
                id,
                error: OperationError::Rejected(UsageError::FeatureNotEnabled { feature: "qos2", .. }),
            } if id.0 == 9)),
        "{events:?}"
    );
}
