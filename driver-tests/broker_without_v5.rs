//! The client against a real broker that speaks MQTT 3.1.1 only (amqtt, from PyPI): asked
//! for 5.0, it answers with a 3.1.1 CONNACK refusing the protocol version.
//!
//! * Without version fallback, `Client::connect` fails saying that the server does not
//!   support MQTT 5.0.
//! * With it, the client connects with 3.1.1, and subscribing, publishing at QoS 1 and
//!   receiving work.

use std::time::{Duration, Instant};

use crate::driver::{Client, ClientOptions, Completion, Error};
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use mqtt_session::{DisconnectReason, Event};
use testkit::Amqtt;

const WAIT: Duration = Duration::from_secs(10);

fn start_broker() -> Amqtt {
    Amqtt::start().unwrap_or_else(|e| panic!("{e}"))
}

fn options(broker: &Amqtt, client_id: &str) -> ClientOptions {
    ClientOptions::new(&broker.url(), client_id)
        .unwrap()
        .protocol(ProtocolVersion::V5)
}

#[test]
fn connect_to_a_broker_without_5_0_fails_saying_so() {
    let broker = start_broker();
    match Client::connect(options(&broker, "no-fallback")) {
        Err(
            e @ Error::Disconnected(DisconnectReason::UnsupportedProtocolVersion {
                requested: ProtocolVersion::V5,
            }),
        ) => {
            let text = e.to_string();
            assert!(
                text.contains("does not support MQTT 5.0") && text.contains("fallback"),
                "{text}"
            );
        }
        Err(e) => panic!("expected UnsupportedProtocolVersion, got {e:?}"),
        Ok(_) => panic!("amqtt accepted a 5.0 CONNECT"),
    }
}

#[test]
fn version_fallback_connects_to_a_broker_without_5_0_and_messages_flow() {
    let broker = start_broker();
    let (client, events) =
        Client::connect(options(&broker, "with-fallback").version_fallback(true))
            .unwrap_or_else(|e| panic!("connect with version fallback: {e}"));
    match client
        .subscribe("fallback/#", QoS::AtLeastOnce)
        .unwrap()
        .wait_timeout(WAIT)
    {
        Ok(Completion::Subscribed(codes)) => assert_eq!(codes, vec![ReasonCode::GrantedQoS1]),
        other => panic!("subscribe: {other:?}"),
    }
    match client
        .publish("fallback/a", QoS::AtLeastOnce, false, "over 3.1.1")
        .unwrap()
        .wait_timeout(WAIT)
    {
        Ok(Completion::Published(_)) => {}
        other => panic!("publish: {other:?}"),
    }
    let deadline = Instant::now() + WAIT;
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Message(m)) => {
                assert_eq!(m.publish.topic.as_str(), "fallback/a");
                assert_eq!(&m.publish.payload[..], b"over 3.1.1");
                break;
            }
            Ok(Event::Disconnected { reason, .. }) => panic!("disconnected: {reason}"),
            Ok(_) => {}
            Err(e) => panic!("no message: {e}"),
        }
    }
    client.disconnect().unwrap();
}
