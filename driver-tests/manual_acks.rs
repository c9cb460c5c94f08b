//! Manual acknowledgements against a real mosquitto (5.0, a persistent session): a token
//! acknowledges its message once; a refused reason code hands the token back; and a
//! message left unacknowledged holds back the acknowledgements of the later ones (they
//! go out in arrival order), so the broker sends both again on the next connection.

use std::time::Duration;

#[path = "common.rs"]
mod common;

use crate::driver::{Client, ClientOptions, Completion, Events};
use common::{WAIT, connect, unique};
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use mqtt_session::{AckToken, AcknowledgeError, Event, UsageError};
use testkit::Mosquitto;

/// How long "nothing more arrives" is watched for.
const QUIET: Duration = Duration::from_millis(400);

fn subscriber_options(broker: &Mosquitto, client_id: &str) -> ClientOptions {
    ClientOptions::new(&broker.url(), client_id)
        .unwrap()
        .protocol(ProtocolVersion::V5)
        .connect_timeout(WAIT)
        .clean_start(false)
        .session(|o| o.session_expiry_interval = 300)
        .manual_acks(true)
        .no_reconnect()
}

/// The payloads and tokens of the messages that arrive until the stream is quiet.
fn received(events: &Events) -> Vec<(String, Option<AckToken>)> {
    let mut seen = Vec::new();
    while let Ok(event) = events.recv_timeout(QUIET) {
        if let Event::Message(m) = event {
            seen.push((
                String::from_utf8_lossy(&m.publish.payload).into_owned(),
                m.ack,
            ));
        }
    }
    seen
}

/// Subscribes `id` (manual acknowledgements, persistent session) to `topic`, publishes
/// "1" and "2" to it at QoS 1 from another client, and returns the subscriber with the
/// two messages' tokens.
fn two_messages(broker: &Mosquitto, id: &str, topic: &str) -> (Client, Events, [AckToken; 2]) {
    let (subscriber, events) = connect(subscriber_options(broker, id));
    let granted = subscriber
        .subscribe(topic, QoS::AtLeastOnce)
        .unwrap()
        .wait_timeout(WAIT);
    assert_eq!(
        granted.unwrap(),
        Completion::Subscribed(vec![ReasonCode::GrantedQoS1])
    );
    let (publisher, _publisher_events) = connect(
        ClientOptions::new(&broker.url(), &unique("pub"))
            .unwrap()
            .protocol(ProtocolVersion::V5),
    );
    for payload in ["1", "2"] {
        let sent = publisher
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .unwrap()
            .wait_timeout(WAIT);
        assert!(matches!(sent, Ok(Completion::Published(_))), "{sent:?}");
    }
    let got = received(&events);
    let payloads: Vec<_> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(payloads, ["1", "2"]);
    let tokens = got
        .into_iter()
        .map(|(_, t)| t.expect("a token with manual acks"));
    let tokens: Vec<_> = tokens.collect();
    let Ok(tokens) = <[AckToken; 2]>::try_from(tokens) else {
        panic!("two tokens")
    };
    (subscriber, events, tokens)
}

#[test]
fn acknowledged_messages_are_not_sent_again_and_a_refused_reason_code_returns_the_token() {
    let broker = Mosquitto::start().unwrap_or_else(|e| panic!("{e}"));
    let id = unique("acked");
    let (subscriber, _events, [first, second]) = two_messages(&broker, &id, "acked/t");
    // 0x10 is a code the server sends in PUBACK, not the client: refused, token back.
    let first = match subscriber.acknowledge(first, ReasonCode::NoMatchingSubscribers) {
        Err(AcknowledgeError {
            error: UsageError::InvalidPacket(_),
            token: Some(token),
        }) => token,
        other => panic!("expected the token back: {other:?}"),
    };
    subscriber.acknowledge(second, ReasonCode::Success).unwrap();
    subscriber.acknowledge(first, ReasonCode::Success).unwrap();
    // Let the acknowledgements reach the broker, then drop the connection abruptly.
    std::thread::sleep(QUIET);
    subscriber.close().unwrap();
    drop(subscriber);
    let (_again, events) = connect(subscriber_options(&broker, &id));
    let redelivered = received(&events);
    assert!(
        redelivered.is_empty(),
        "acknowledged messages came again: {:?}",
        redelivered.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
}

#[test]
fn an_unacknowledged_message_holds_back_the_acknowledgements_after_it() {
    let broker = Mosquitto::start().unwrap_or_else(|e| panic!("{e}"));
    let id = unique("held");
    let (subscriber, _events, [first, second]) = two_messages(&broker, &id, "held/t");
    // Only the second is acknowledged: its PUBACK waits behind the first's.
    subscriber.acknowledge(second, ReasonCode::Success).unwrap();
    drop(first);
    std::thread::sleep(QUIET);
    subscriber.close().unwrap();
    drop(subscriber);
    let (again, events) = connect(subscriber_options(&broker, &id));
    let redelivered = received(&events);
    let payloads: Vec<_> = redelivered.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        payloads,
        ["1", "2"],
        "both come again: the second's acknowledgement never left"
    );
    for (_, token) in redelivered {
        again
            .acknowledge(token.expect("a token"), ReasonCode::Success)
            .unwrap();
    }
}
