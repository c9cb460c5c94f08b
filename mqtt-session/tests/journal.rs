//! The journal (`Options::journal`): the records of every state change replay onto the
//! first state to the session's state (the simulation checks that after every step of
//! every scenario; these are the scripted cases), a restored session records only what
//! changes after it, and nothing is recorded with the journal off.

mod common;

use bytes::Bytes;
use common::{Harness, options};
use mqtt_proto::{
    AckProperties, ConnAck, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    ReasonCode, SubAck, SubscribeProperties, Subscription, TopicFilter, TopicName,
};
use mqtt_session::{InFlight, Options, Queued, Session, SessionState, StateChange, StoredMessage};

fn journaled(version: ProtocolVersion) -> Options {
    let mut o = options(version);
    o.clean_start = false;
    o.session_expiry_interval = 3600;
    o.max_in_flight = Some(1);
    o.journal = true;
    o
}

fn message(topic: &str, qos: QoS) -> Publish {
    Publish::new(
        TopicName::try_from(topic).unwrap(),
        Bytes::from_static(b"x"),
    )
    .with_qos(qos, None)
}

fn changes(h: &mut Harness) -> Vec<StateChange> {
    std::iter::from_fn(|| h.session.poll_state_change()).collect()
}

/// The state without what records do not carry (resend counters, DUP, the id hint).
fn normal(mut s: SessionState) -> SessionState {
    s.next_packet_id = 0;
    s.next_operation = 0;
    for f in &mut s.in_flight {
        f.publish.dup = false;
        *f = InFlight::new(f.operation, f.publish.clone(), f.stage.clone());
    }
    for q in &mut s.queued {
        *q = Queued::new(q.operation, q.publish.clone(), q.queued_at);
    }
    s
}

/// Replays the records onto `replica` and compares it with the session's state.
fn check(replica: &mut SessionState, h: &mut Harness, what: &str) {
    for c in changes(h) {
        replica.apply(c);
    }
    assert_eq!(
        normal(replica.clone()),
        normal(h.session.state()),
        "{}: after {what}",
        h.version
    );
}

#[test]
fn records_replay_to_the_sessions_state_at_every_step() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(journaled(version));
        let mut replica = h.session.state();
        h.connect();
        check(&mut replica, &mut h, "connect");
        h.session
            .subscribe(
                h.now,
                vec![Subscription::new(
                    TopicFilter::from_static("a/#"),
                    QoS::ExactlyOnce,
                )],
                SubscribeProperties::default(),
            )
            .unwrap();
        h.drain();
        check(&mut replica, &mut h, "subscribe");
        let Some(Packet::Subscribe(s)) = h.sent().pop() else {
            panic!("no SUBSCRIBE")
        };
        h.receive(SubAck {
            packet_id: s.packet_id,
            reason_codes: vec![ReasonCode::GrantedQoS2],
            properties: AckProperties::default().into(),
        });
        check(&mut replica, &mut h, "SUBACK");
        // A window of one: the first goes in flight, the others queue.
        for qos in [QoS::ExactlyOnce, QoS::AtLeastOnce, QoS::AtMostOnce] {
            h.session.publish(h.now, message("out", qos)).unwrap();
            h.drain();
            check(&mut replica, &mut h, "publish");
        }
        let first = h
            .sent()
            .into_iter()
            .find_map(|p| match p {
                Packet::Publish(p) => p.packet_id,
                _ => None,
            })
            .unwrap();
        h.receive(PubRec::new(first));
        check(&mut replica, &mut h, "PUBREC");
        h.receive(PubComp::new(first));
        check(&mut replica, &mut h, "PUBCOMP");
        let second = h
            .sent()
            .into_iter()
            .find_map(|p| match p {
                Packet::Publish(p) if p.qos == QoS::AtLeastOnce => p.packet_id,
                _ => None,
            })
            .expect("the queued QoS 1 message went out");
        // An incoming QoS 2 message, then its PUBREL.
        let incoming = mqtt_proto::PacketId::new(77);
        h.receive(message("a/b", QoS::ExactlyOnce).with_qos(QoS::ExactlyOnce, incoming));
        check(&mut replica, &mut h, "incoming QoS 2");
        assert_eq!(replica.incoming_qos2.len(), 1);
        h.receive(PubRel::new(incoming.unwrap()));
        check(&mut replica, &mut h, "PUBREL");
        assert!(replica.incoming_qos2.is_empty());
        // The connection drops and the server lost the session: the QoS 1 message is
        // queued again first.
        h.sent();
        h.reconnect(ConnAck::new(ReasonCode::Success));
        check(&mut replica, &mut h, "a reconnect without the session");
        h.receive(PubAck::new(second));
        check(&mut replica, &mut h, "late PUBACK");
        let mut stored = bytes::BytesMut::new();
        replica.encode(&mut stored).unwrap();
        assert_eq!(SessionState::decode(&stored).as_ref(), Ok(&replica));
    }
}

#[test]
fn a_restored_session_records_only_what_changes_after_it() {
    let mut h = Harness::new(journaled(ProtocolVersion::V5));
    h.connect();
    h.session
        .publish(h.now, message("out", QoS::AtLeastOnce))
        .unwrap();
    h.drain();
    let id = match h.sent().pop() {
        Some(Packet::Publish(p)) => p.packet_id.unwrap(),
        other => panic!("{other:?}"),
    };
    let snapshot = h.session.state();
    let mut restored =
        Harness::from_session(Session::restore(journaled(ProtocolVersion::V5), snapshot));
    assert_eq!(
        changes(&mut restored),
        vec![],
        "the snapshot is not a change"
    );
    let mut present = ConnAck::new(ReasonCode::Success);
    present.session_present = true;
    restored.connect_with(present);
    restored.receive(PubAck::new(id));
    let recorded = changes(&mut restored);
    assert!(
        recorded
            .iter()
            .any(|c| matches!(c, StateChange::Outgoing { entry: None, .. })),
        "the completion is recorded: {recorded:?}"
    );
    assert!(
        !recorded.iter().any(|c| matches!(
            c,
            StateChange::Outgoing {
                entry: Some(StoredMessage::Queued(_)),
                ..
            }
        )),
        "{recorded:?}"
    );
}

#[test]
fn nothing_is_recorded_with_the_journal_off_and_records_count_as_pending_output() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    h.session
        .publish(h.now, message("out", QoS::AtLeastOnce))
        .unwrap();
    h.drain();
    assert_eq!(h.session.poll_state_change(), None);

    let mut h = Harness::new(journaled(ProtocolVersion::V5));
    h.connect();
    while h.session.poll_state_change().is_some() {}
    h.session
        .publish(h.now, message("out", QoS::AtLeastOnce))
        .unwrap();
    while h.session.poll_transmit().is_some() {}
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.now),
        "a record waits: the driver must not sleep"
    );
    assert!(h.session.poll_state_change().is_some());
}

// Found by the `state` fuzz target: a record of operation u64::MAX overflowed the next
// operation. Records from a store are input like any other: applying one never panics.
#[test]
fn a_record_of_the_largest_operation_applies() {
    let mut state = SessionState::default();
    state.apply(StateChange::Outgoing {
        operation: mqtt_session::OperationId(u64::MAX),
        entry: None,
    });
    assert_eq!(state.next_operation, u64::MAX);
    let mut stored = bytes::BytesMut::new();
    StateChange::Outgoing {
        operation: mqtt_session::OperationId(u64::MAX),
        entry: None,
    }
    .encode(&mut stored)
    .unwrap();
    let read = StateChange::decode(&stored).unwrap();
    state.apply(read);
}

/// Delivers `publish` to `h` and returns the messages handed to the application.
fn delivered(h: &mut Harness, publish: Publish) -> Vec<mqtt_session::IncomingMessage> {
    h.receive(publish);
    h.take_events()
        .into_iter()
        .filter_map(|e| match e {
            mqtt_session::Event::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// A restored session, connected to a server that kept the session.
fn restored(state: SessionState, auto_ack: bool) -> Harness {
    let mut o = journaled(ProtocolVersion::V5);
    o.auto_ack = auto_ack;
    let mut h = Harness::from_session(Session::restore(o, state));
    let mut present = ConnAck::new(ReasonCode::Success);
    present.session_present = true;
    h.connect_with(present);
    h.sent();
    h
}

// [MQTT-4.3.3-10]: a QoS 2 message is delivered once; across a process restart, "once"
// counts from the application's acknowledgement, the moment it is recorded.
#[test]
fn with_manual_acks_an_incoming_qos2_message_is_recorded_when_the_application_acknowledges_it() {
    let mut o = journaled(ProtocolVersion::V5);
    o.auto_ack = false;
    let mut h = Harness::new(o);
    h.connect();
    changes(&mut h);
    let id = mqtt_proto::PacketId::new(9);
    let incoming = message("a/b", QoS::ExactlyOnce).with_qos(QoS::ExactlyOnce, id);
    let mut got = delivered(&mut h, incoming.clone());
    assert_eq!(got.len(), 1);
    assert_eq!(
        changes(&mut h),
        vec![],
        "nothing is recorded before the ack"
    );
    let before_ack = h.session.state();
    assert!(before_ack.incoming_qos2.is_empty());

    // Killed before the acknowledgement: the server re-sends it (DUP) and the restored
    // client hands it over again.
    let mut resent = incoming.clone();
    resent.dup = true;
    let mut again = restored(before_ack, false);
    assert_eq!(delivered(&mut again, resent.clone()).len(), 1);
    assert!(
        again.sent().is_empty(),
        "no PUBREC before the application acknowledges"
    );

    // Acknowledged: recorded, and the PUBREC goes out after the record.
    let token = got.pop().unwrap().ack.unwrap();
    h.session
        .acknowledge(h.now, token, ReasonCode::Success)
        .unwrap();
    h.drain();
    assert_eq!(
        changes(&mut h),
        vec![StateChange::IncomingQos2 {
            packet_id: id.unwrap(),
            awaiting_pubrel: true
        }]
    );
    assert!(matches!(h.sent().as_slice(), [Packet::PubRec(_)]));
    let after_ack = h.session.state();
    assert_eq!(after_ack.incoming_qos2, vec![id.unwrap()]);

    // Killed after it: the re-send is answered, not handed over again.
    let mut again = restored(after_ack, false);
    assert!(delivered(&mut again, resent).is_empty());
    assert!(matches!(again.sent().as_slice(), [Packet::PubRec(_)]));
}

#[test]
fn a_refused_incoming_qos2_message_is_never_recorded() {
    let mut o = journaled(ProtocolVersion::V5);
    o.auto_ack = false;
    let mut h = Harness::new(o);
    h.connect();
    changes(&mut h);
    let id = mqtt_proto::PacketId::new(10);
    let mut got = delivered(
        &mut h,
        message("a/b", QoS::ExactlyOnce).with_qos(QoS::ExactlyOnce, id),
    );
    let token = got.pop().unwrap().ack.unwrap();
    h.session
        .acknowledge(h.now, token, ReasonCode::UnspecifiedError)
        .unwrap();
    assert_eq!(changes(&mut h), vec![]);
    assert!(h.session.state().incoming_qos2.is_empty());
}
