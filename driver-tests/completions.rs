//! Each operation's completion is delivered once: to its `Pending` when one waits for
//! it; when its handle was dropped, on the event stream (a failure always, a success with
//! `completion_events(true)`); and a client whose application dropped the event stream
//! never stalls for want of a reader. Against mosquitto, and the fake broker for refusals.

use std::time::{Duration, Instant};

#[path = "common.rs"]
mod common;

use crate::driver::{Client, ClientOptions, Completion, Events};
use common::{WAIT, connect};
use mqtt_proto::{Packet, ProtocolVersion, PubAck, QoS, ReasonCode};
use mqtt_session::{Event, OperationError};
use testkit::{FakeBroker, Mosquitto};

/// How long "nothing more arrives" is watched for.
const QUIET: Duration = Duration::from_millis(300);

fn broker() -> Mosquitto {
    Mosquitto::start().unwrap_or_else(|e| panic!("{e}"))
}

fn options(broker: &Mosquitto, client_id: &str) -> ClientOptions {
    ClientOptions::new(&broker.url(), client_id)
        .unwrap()
        .protocol(ProtocolVersion::V5)
        .connect_timeout(WAIT)
}

/// Every event that arrives until the stream is quiet for [`QUIET`].
fn drain(events: &Events) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Ok(event) = events.recv_timeout(QUIET) {
        seen.push(event);
    }
    seen
}

fn is_completion(event: &Event) -> bool {
    matches!(
        event,
        Event::PublishCompleted { .. }
            | Event::SubscribeCompleted { .. }
            | Event::UnsubscribeCompleted { .. }
            | Event::OperationFailed { .. }
    )
}

#[test]
fn an_awaited_completion_is_not_repeated_on_the_event_stream() {
    let broker = broker();
    let (client, events) = connect(options(&broker, "awaited"));
    let granted = client
        .subscribe("once/#", QoS::AtLeastOnce)
        .unwrap()
        .wait_timeout(WAIT);
    assert_eq!(
        granted.unwrap(),
        Completion::Subscribed(vec![ReasonCode::GrantedQoS1])
    );
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let published = client
            .publish("once/a", qos, false, "x")
            .unwrap()
            .wait_timeout(WAIT);
        assert!(
            matches!(published, Ok(Completion::Published(_))),
            "{published:?}"
        );
    }
    let unsubscribed = client.unsubscribe("once/#").unwrap().wait_timeout(WAIT);
    assert!(matches!(unsubscribed, Ok(Completion::Unsubscribed(_))));
    let seen = drain(&events);
    let messages = seen
        .iter()
        .filter(|e| matches!(e, Event::Message(_)))
        .count();
    assert_eq!(messages, 2, "{seen:?}");
    assert!(
        !seen.iter().any(is_completion),
        "a completion delivered to its waiter came again on the event stream: {seen:?}"
    );
}

#[test]
fn a_dropped_handle_reports_its_failure_but_not_its_success_on_the_event_stream() {
    let broker = FakeBroker::start(ProtocolVersion::V5).unwrap();
    let (client, events) = Client::start(
        ClientOptions::new(&broker.url(), "dropped-fail")
            .unwrap()
            .protocol(ProtocolVersion::V5),
    )
    .unwrap();
    let mut conn = broker.accept(WAIT).unwrap();
    conn.expect_connect(WAIT).unwrap();
    conn.send(mqtt_proto::ConnAck::new(ReasonCode::Success))
        .unwrap();
    for (topic, answer) in [
        ("refused", ReasonCode::ImplementationSpecificError),
        ("accepted", ReasonCode::Success),
    ] {
        drop(client.publish(topic, QoS::AtLeastOnce, false, "x").unwrap());
        let Ok(Packet::Publish(p)) = conn.expect_packet(WAIT) else {
            panic!("no PUBLISH for {topic}")
        };
        conn.send(PubAck::with_reason(p.packet_id.unwrap(), answer))
            .unwrap();
    }
    let seen = drain(&events);
    let completions: Vec<_> = seen.iter().filter(|e| is_completion(e)).collect();
    assert!(
        matches!(
            completions[..],
            [Event::OperationFailed {
                error: OperationError::Refused(ReasonCode::ImplementationSpecificError),
                ..
            }]
        ),
        "only the failure, once: {seen:?}"
    );
}

#[test]
fn with_completion_events_a_dropped_handle_reports_its_success_on_the_event_stream() {
    let broker = broker();
    let (client, events) = connect(options(&broker, "dropped").completion_events(true));
    drop(client.subscribe("gone/#", QoS::AtLeastOnce).unwrap());
    drop(
        client
            .publish("gone/a", QoS::AtLeastOnce, false, "x")
            .unwrap(),
    );
    drop(
        client
            .publish("gone/b", QoS::ExactlyOnce, false, "y")
            .unwrap(),
    );
    drop(client.unsubscribe("gone/#").unwrap());
    let seen = drain(&events);
    let subscribed = seen
        .iter()
        .filter(|e| matches!(e, Event::SubscribeCompleted { reason_codes, .. } if reason_codes == &[ReasonCode::GrantedQoS1]))
        .count();
    let published = seen
        .iter()
        .filter(|e| matches!(e, Event::PublishCompleted { .. }))
        .count();
    let unsubscribed = seen
        .iter()
        .filter(|e| matches!(e, Event::UnsubscribeCompleted { .. }))
        .count();
    assert_eq!(
        (subscribed, published, unsubscribed),
        (1, 2, 1),
        "each completion once on the stream: {seen:?}"
    );
}

#[test]
fn a_client_whose_event_stream_was_dropped_does_not_stall() {
    let broker = broker();
    // A 4-event buffer: without a reader it would be full after four messages and the
    // client would stop reading the socket (so no acknowledgement would arrive either).
    let (client, events) = connect(options(&broker, "no-reader").event_buffer(4));
    let granted = client
        .subscribe("own/#", QoS::AtLeastOnce)
        .unwrap()
        .wait_timeout(WAIT);
    assert!(matches!(granted, Ok(Completion::Subscribed(_))));
    drop(events);
    let deadline = Instant::now() + WAIT;
    for i in 0..200 {
        // Fire and forget: each completion goes to the (dropped) event stream.
        drop(
            client
                .publish("own/x", QoS::AtLeastOnce, false, format!("{i}"))
                .unwrap(),
        );
    }
    let last = client
        .publish("own/last", QoS::AtLeastOnce, false, "last")
        .unwrap()
        .wait_timeout(deadline.saturating_duration_since(Instant::now()));
    assert!(
        matches!(last, Ok(Completion::Published(ReasonCode::Success))),
        "the client stalled without an event reader: {last:?}"
    );
}
