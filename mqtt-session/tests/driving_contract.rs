//! The driving contract where it is easy to get wrong: draining in any order, application
//! calls made while draining, and a clock that runs backwards.

mod common;

use bytes::{Bytes, BytesMut};
use common::{Harness, options, secs};
use mqtt_proto::{
    ConnAck, Decoder, Encode, Packet, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, Role,
    SubAck, SubscribeProperties, Subscription, TopicFilter, TopicName,
};
use mqtt_session::{Action, DisconnectReason, Event, Instant, Session};

fn msg(qos: QoS) -> Publish {
    Publish::new(
        TopicName::try_from("a/b").unwrap(),
        Bytes::from_static(b"x"),
    )
    .with_qos(qos, None)
}

#[derive(Clone, Copy, Debug)]
enum Output {
    Actions,
    Transmit,
    Events,
}

const ORDERS: [[Output; 3]; 6] = {
    use Output::*;
    [
        [Actions, Transmit, Events],
        [Actions, Events, Transmit],
        [Transmit, Actions, Events],
        [Transmit, Events, Actions],
        [Events, Actions, Transmit],
        [Events, Transmit, Actions],
    ]
};

/// A driver loop that drains in `order` and, like an event handler might, publishes when
/// it sees `Connected` and subscribes when a publish completes. It "sleeps" whenever
/// `poll_timeout` is after `now` — and the test fails if it would sleep while output is
/// pending. A scripted broker answers everything at once, so all the work gets done
/// without time passing.
fn run(order: [Output; 3], version: ProtocolVersion) -> Vec<Event> {
    let now = Instant::ZERO;
    let mut session = Session::new(options(version));
    let mut broker = Decoder::new(version).with_sender(Role::Client);
    let mut to_broker = BytesMut::new();
    let mut to_client = BytesMut::new();
    let mut seen = Vec::new();
    session.connect(now).unwrap();
    for _ in 0..100 {
        for o in order {
            match o {
                Output::Actions => {
                    while let Some(a) = session.poll_action() {
                        if let Action::Open { .. } = a {
                            session.handle_connected(now);
                        }
                    }
                }
                Output::Transmit => {
                    while let Some(chunk) = session.poll_transmit() {
                        to_broker.extend_from_slice(&chunk);
                    }
                }
                Output::Events => {
                    while let Some(e) = session.poll_event() {
                        match &e {
                            Event::Connected(_) => {
                                session.publish(now, msg(QoS::AtLeastOnce)).unwrap();
                            }
                            Event::PublishCompleted { .. } => {
                                let filter = TopicFilter::try_from("a/#").unwrap();
                                session
                                    .subscribe(
                                        now,
                                        vec![Subscription::new(filter, QoS::AtLeastOnce)],
                                        SubscribeProperties::default(),
                                    )
                                    .unwrap();
                            }
                            _ => {}
                        }
                        seen.push(e);
                    }
                }
            }
        }
        // The broker answers what arrived.
        while let Some(p) = broker.decode(&mut to_broker).unwrap() {
            let answer: Packet = match p {
                Packet::Connect(_) => ConnAck::new(ReasonCode::Success).into(),
                Packet::Publish(p) => PubAck::new(p.packet_id.unwrap()).into(),
                Packet::Subscribe(s) => SubAck {
                    packet_id: s.packet_id,
                    reason_codes: vec![ReasonCode::GrantedQoS1],
                    properties: Default::default(),
                }
                .into(),
                _ => continue,
            };
            answer.encode(version, &mut to_client).unwrap();
        }
        if !to_client.is_empty() {
            session.handle_read(now, &mut to_client);
            continue;
        }
        match session.poll_timeout() {
            Some(t) if t <= now => continue,
            _ => {
                // The loop would sleep now: nothing may be waiting.
                assert!(
                    session.poll_action().is_none(),
                    "{order:?}: sleeping on an action"
                );
                assert!(
                    session.poll_transmit().is_none(),
                    "{order:?}: sleeping on bytes"
                );
                assert!(
                    session.poll_event().is_none(),
                    "{order:?}: sleeping on an event"
                );
                return seen;
            }
        }
    }
    panic!("{order:?}: the loop never went idle");
}

// Calling publish / subscribe from an event handler (while draining) leaves output behind;
// `poll_timeout` says so (it is `now`), so a loop that sleeps until it cannot hang on it,
// whatever order it drains in.
#[test]
fn a_loop_that_sleeps_until_poll_timeout_never_sleeps_on_pending_output() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        for order in ORDERS {
            let events = run(order, version);
            assert!(
                matches!(
                    events.as_slice(),
                    [
                        Event::Connected(_),
                        Event::PublishCompleted { .. },
                        Event::SubscribeCompleted { .. }
                    ]
                ),
                "{version:?} {order:?}: {events:?}"
            );
        }
    }
}

#[test]
fn poll_timeout_is_now_while_output_waits_and_later_once_drained() {
    let mut h = Harness::new(options(ProtocolVersion::V3_1_1));
    h.now = secs(5).into_instant();
    h.connect();
    h.session.publish(h.now, msg(QoS::AtMostOnce)).unwrap();
    assert_eq!(h.session.poll_timeout(), Some(h.now), "bytes wait");
    h.drain();
    h.sent();
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.now + secs(60)),
        "the keep-alive"
    );
    // An event waiting: a message from the server.
    let mut buf = BytesMut::new();
    Packet::Publish(msg(QoS::AtMostOnce))
        .encode(ProtocolVersion::V3_1_1, &mut buf)
        .unwrap();
    h.session.handle_read(h.now, &mut buf);
    assert_eq!(h.session.poll_timeout(), Some(h.now), "an event waits");
    h.drain();
    assert!(h.session.poll_timeout().unwrap() > h.now);
    // An action waiting: disconnect asks to close.
    h.session.disconnect(h.now, Default::default()).unwrap();
    assert_eq!(h.session.poll_timeout(), Some(h.now), "Close waits");
    h.drain();
    assert_eq!(h.session.poll_timeout(), None, "closed");
}

trait IntoInstant {
    fn into_instant(self) -> Instant;
}

impl IntoInstant for core::time::Duration {
    fn into_instant(self) -> Instant {
        Instant::ZERO + self
    }
}

/// A session connected at 10 s that is then told it is 5 s: it takes the 5 s as 10 s
/// (debug builds assert instead, to find the driver's clock bug early).
fn time_runs_backwards() {
    let mut h = Harness::new(options(ProtocolVersion::V3_1_1));
    h.now = secs(10).into_instant();
    h.connect();
    let earlier = secs(5).into_instant();
    h.session.publish(earlier, msg(QoS::AtMostOnce)).unwrap();
    h.drain();
    // The PUBLISH counts as sent at 10 s: the next keep-alive is at 70 s, not 65 s.
    assert_eq!(h.session.poll_timeout(), Some(secs(70).into_instant()));
    h.session.handle_timeout(secs(69).into_instant());
    h.drain();
    assert_eq!(h.sent().len(), 1, "only the PUBLISH, no PINGREQ yet");
}

#[test]
#[cfg_attr(
    debug_assertions,
    should_panic(expected = "earlier than the previous input's")
)]
fn a_now_earlier_than_the_previous_one_is_taken_as_the_previous_one() {
    time_runs_backwards();
}

// ----- manual acknowledgements: one message holds back the ones after it -----

fn incoming(id: u16) -> Packet {
    Packet::Publish(msg(QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, mqtt_proto::PacketId::new(id)))
}

fn tokens(events: Vec<Event>) -> Vec<mqtt_session::AckToken> {
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(m) => m.ack,
            _ => None,
        })
        .collect()
}

// [MQTT-4.6.0-2]: acknowledgements go out in arrival order, so the ones given for later
// messages wait for the first; the session counts them.
#[test]
fn acknowledgements_held_back_by_an_earlier_message_are_counted() {
    let mut o = options(ProtocolVersion::V5);
    o.auto_ack = false;
    let mut h = Harness::new(o);
    h.connect();
    for id in 1..=3 {
        h.receive(incoming(id));
    }
    let [t0, t1, t2] = <[_; 3]>::try_from(tokens(h.take_events())).unwrap();
    assert_eq!(h.session.acknowledgements_held_back(), 0);
    h.session
        .acknowledge(h.now, t2, ReasonCode::Success)
        .unwrap();
    h.session
        .acknowledge(h.now, t1, ReasonCode::Success)
        .unwrap();
    h.drain();
    assert!(h.sent().is_empty());
    assert_eq!(h.session.acknowledgements_held_back(), 2);
    h.session
        .acknowledge(h.now, t0, ReasonCode::Success)
        .unwrap();
    h.drain();
    assert_eq!(h.sent().len(), 3);
    assert_eq!(h.session.acknowledgements_held_back(), 0);
}

// A token is used once: a clone of the message does not carry it.
#[test]
fn a_clone_of_a_message_does_not_carry_its_acknowledgement_token() {
    let mut o = options(ProtocolVersion::V5);
    o.auto_ack = false;
    let mut h = Harness::new(o);
    h.connect();
    h.receive(incoming(1));
    let events = h.take_events();
    let copy = events.clone();
    let Event::Message(copied) = &copy[0] else {
        panic!("{copy:?}")
    };
    assert!(copied.ack.is_none(), "the clone has no token");
    assert_eq!(tokens(events).len(), 1, "the original keeps it");
}

// With an acknowledgement timeout, a message nobody acknowledges is acknowledged by the
// session when the time is up (5.0: 0x80, so the server may deliver it elsewhere; 3.1.1
// can only accept), reported, and the acknowledgements behind it go.
#[test]
fn a_message_not_acknowledged_in_time_is_acknowledged_with_an_error_and_reported() {
    for (v, code) in [
        (ProtocolVersion::V5, ReasonCode::UnspecifiedError),
        (ProtocolVersion::V3_1_1, ReasonCode::Success),
    ] {
        let mut o = options(v);
        o.auto_ack = false;
        o.acknowledgement_timeout = Some(secs(5));
        let mut h = Harness::new(o);
        h.connect();
        h.receive(incoming(1));
        h.advance(secs(1));
        h.receive(incoming(2));
        let [t0, t1] = <[_; 2]>::try_from(tokens(h.take_events())).unwrap();
        h.session
            .acknowledge(h.now, t1, ReasonCode::Success)
            .unwrap();
        h.drain();
        assert!(h.sent().is_empty(), "{v:?}");
        assert_eq!(
            h.session.poll_timeout(),
            Some(Instant::ZERO + secs(5)),
            "{v:?}"
        );
        h.fire_timer();
        assert_eq!(
            h.take_events(),
            vec![Event::AcknowledgementTimedOut {
                packet_id: mqtt_proto::PacketId::new(1).unwrap(),
                reason_code: code
            }],
            "{v:?}"
        );
        assert_eq!(
            h.sent(),
            vec![
                Packet::PubAck(PubAck::with_reason(
                    mqtt_proto::PacketId::new(1).unwrap(),
                    code
                )),
                Packet::PubAck(PubAck::new(mqtt_proto::PacketId::new(2).unwrap())),
            ],
            "{v:?}"
        );
        // The late token is refused: the message was acknowledged already.
        assert!(
            h.session
                .acknowledge(h.now, t0, ReasonCode::Success)
                .is_err()
        );
    }
}

// A driver that does not take the output is told at once: publishes are refused once more
// than `max_unsent_bytes` wait, with an error that says to drain; the session's own
// packets still go out, and draining makes room again.
#[test]
fn publishes_are_refused_while_the_driver_leaves_too_much_output_unsent() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut o = options(v);
        o.queue.max_unsent_bytes = 10_000;
        let mut h = Harness::new(o);
        h.connect();
        let payload = Bytes::from(vec![b'x'; 1000]);
        let message = |qos| {
            Publish::new(TopicName::try_from("a/b").unwrap(), payload.clone()).with_qos(qos, None)
        };
        // No draining: the output piles up until the bound, then publishes are refused.
        let mut accepted = 0;
        let error = loop {
            let qos = [QoS::AtMostOnce, QoS::AtLeastOnce][accepted % 2];
            match h.session.publish(h.now, message(qos)) {
                Ok(_) => accepted += 1,
                Err(e) => break e,
            }
            assert!(accepted < 100, "{v}: never refused");
        };
        let unsent = h.session.unsent_bytes();
        assert!(
            (10_000..10_000 + 1100).contains(&unsent),
            "{v}: {unsent} bytes unsent when refused"
        );
        assert_eq!(
            error,
            mqtt_session::UsageError::TransmitBacklog { unsent },
            "{v}"
        );
        assert!(error.to_string().contains("drain poll_transmit"), "{error}");
        assert_eq!(accepted, 10, "{v}: ten packets of 1 009 bytes pass 10 000");
        // The session's own packets are never refused: an incoming QoS 1 is answered.
        let mut incoming = BytesMut::new();
        let p = message(QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, mqtt_proto::PacketId::new(9));
        Packet::Publish(p).encode(v, &mut incoming).unwrap();
        h.session.handle_read(h.now, &mut incoming);
        assert!(h.session.unsent_bytes() > unsent, "{v}: PUBACK written");
        // Draining makes room.
        h.drain();
        let sent = h.sent();
        assert_eq!(sent.len(), accepted + 1, "{v}");
        assert!(h.session.publish(h.now, message(QoS::AtMostOnce)).is_ok());
    }
}

#[test]
fn abort_closes_at_once_without_disconnect_and_drops_unpolled_messages() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(options(version));
        h.connect();
        let pending = h.session.publish(h.now, msg(QoS::AtLeastOnce)).unwrap();
        h.drain();
        h.sent();
        h.take_events();
        h.take_actions();
        // A message arrives (its PUBACK waits in the output), then the driver gives up
        // before draining.
        let mut wire = BytesMut::new();
        msg(QoS::AtLeastOnce)
            .with_qos(QoS::AtLeastOnce, mqtt_proto::PacketId::new(5))
            .encode(version, &mut wire)
            .unwrap();
        h.session.handle_read(h.now, &mut wire);
        h.session
            .abort(h.now, "the session store failed: disk full".into());
        h.drain();
        assert!(h.sent().is_empty(), "{version}: no PUBACK, no DISCONNECT");
        assert_eq!(h.take_actions(), vec![Action::Close]);
        let events = h.take_events();
        assert!(
            !events.iter().any(|e| matches!(e, Event::Message(_))),
            "{version}: the unacknowledged message is dropped: {events:?}"
        );
        assert!(events.iter().any(|e| matches!(
            e,
            Event::Disconnected {
                reason: DisconnectReason::Aborted(why),
                reconnect_at: None,
            } if why.contains("disk full")
        )));
        assert!(events.iter().any(|e| matches!(
            e,
            Event::OperationFailed { id, .. } if *id == pending
        )));
        assert!(h.session.is_closed());
        assert_eq!(h.session.poll_timeout(), None);
        // Once closed, nothing more.
        h.session.abort(h.now, "again".into());
        h.drain();
        assert!(h.take_events().is_empty() && h.take_actions().is_empty());
    }
}
