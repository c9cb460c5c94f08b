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
