//! Client keys against a real mosquitto that requires client certificates (started per
//! test by `testkit`): an encrypted PKCS#8 key with its passphrase authenticates the
//! client, under MQTT 3.1.1 and 5.0; without the passphrase, or with a wrong one, the
//! options are refused before any connection with a message that says so.
//!
//! Without `mosquitto` installed these fail with testkit's message saying how to install
//! it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_session::Event;
use mqtt_std::{Client, ClientOptions, Completion, Error, Events, TlsOptions};
use testkit::{Mosquitto, TestCa};

/// How long any single step may take before the test fails.
const WAIT: Duration = Duration::from_secs(5);

const PASSPHRASE: &str = "correct horse battery staple";

fn broker_requiring_client_certificates() -> Mosquitto {
    Mosquitto::builder()
        .require_client_certificate()
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A client identifier unique in this run, at most 23 characters.
fn unique(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{tag}-{n}-{}", std::process::id() % 100_000)
}

fn options(url: &str, client_id: &str, version: ProtocolVersion, tls: TlsOptions) -> ClientOptions {
    ClientOptions::new(url, client_id)
        .unwrap_or_else(|e| panic!("options for {url}: {e}"))
        .protocol(version)
        .connect_timeout(WAIT)
        .session(|o| o.reconnect.enabled = false)
        .tls(tls)
}

fn trusting(broker: &Mosquitto) -> TlsOptions {
    TlsOptions::new()
        .with_ca_pem(broker.ca_pem().as_bytes())
        .expect("the broker's CA PEM")
}

/// Waits for the next event that is not about the connection's progress.
fn next_event(events: &Events, what: &str) -> Event {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(Event::Disconnected { reason, .. }) => {
                panic!("{what}: disconnected: {reason:?}")
            }
            Ok(event @ (Event::Connected(_) | Event::Message(_))) => return event,
            Ok(_) => {}
            Err(e) => panic!("{what}: nothing within {WAIT:?}: {e}"),
        }
    }
}

#[test]
fn encrypted_client_key_with_the_right_passphrase_connects() {
    let broker = broker_requiring_client_certificates();
    let url = broker.tls_url().expect("TLS listener");
    let (cert, key) = broker.client_identity("device-encrypted");
    let encrypted = TestCa::encrypt_key_pem(&key, PASSPHRASE);
    assert!(encrypted.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let tls = trusting(&broker)
        .with_client_identity_pem_encrypted(cert.as_bytes(), encrypted.as_bytes(), PASSPHRASE)
        .expect("the right passphrase");

    // The broker does require a certificate: without one the connection fails.
    let bare = options(
        &url,
        &unique("nocert"),
        ProtocolVersion::V5,
        trusting(&broker),
    );
    match Client::connect(bare) {
        Err(Error::Disconnected(_)) => {}
        Ok(_) => panic!("the broker took a client without a certificate"),
        Err(other) => panic!("without a certificate: {other:?}"),
    }

    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let what = format!("encrypted client key ({version})");
        let id = unique("enckey");
        let (client, events) = Client::connect(options(&url, &id, version, tls.clone()))
            .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
        assert!(
            matches!(next_event(&events, &what), Event::Connected(_)),
            "{what}: the first event is not Connected"
        );
        // MQTT both ways over the authenticated connection.
        let topic = format!("keys/{id}");
        client
            .subscribe(&topic, QoS::AtLeastOnce)
            .and_then(|p| p.wait_timeout(WAIT))
            .unwrap_or_else(|e| panic!("{what}: subscribe: {e}"));
        let done = client
            .publish(&topic, QoS::AtLeastOnce, false, what.clone())
            .and_then(|p| p.wait_timeout(WAIT))
            .unwrap_or_else(|e| panic!("{what}: publish: {e}"));
        assert!(matches!(done, Completion::Published(_)), "{what}: {done:?}");
        match next_event(&events, &what) {
            Event::Message(m) => assert_eq!(&m.publish.payload[..], what.as_bytes(), "{what}"),
            other => panic!("{what}: expected the message, got {other:?}"),
        }
        client
            .disconnect()
            .unwrap_or_else(|e| panic!("{what}: disconnect: {e}"));
        // The broker authenticated the certificate (mosquitto logs the connection).
        assert!(
            broker.log().contains(&id),
            "{what}: mosquitto did not log the client:\n{}",
            broker.log()
        );
    }
}

#[test]
fn encrypted_client_key_without_or_with_a_wrong_passphrase_is_refused_with_a_clear_error() {
    let broker = broker_requiring_client_certificates();
    let (cert, key) = broker.client_identity("device-encrypted");
    let encrypted = TestCa::encrypt_key_pem(&key, PASSPHRASE);

    match trusting(&broker).with_client_identity_pem(cert.as_bytes(), encrypted.as_bytes()) {
        Err(Error::Tls(message)) => assert!(
            message.contains("the client key is encrypted")
                && message.contains("give its passphrase with")
                && message.contains("with_client_identity_pem_encrypted"),
            "{message}"
        ),
        other => panic!("no passphrase: expected Error::Tls, got {other:?}"),
    }
    for wrong in ["", "correct horse battery stapler"] {
        match trusting(&broker).with_client_identity_pem_encrypted(
            cert.as_bytes(),
            encrypted.as_bytes(),
            wrong,
        ) {
            Err(Error::Tls(message)) => assert!(
                message.contains("the passphrase of the encrypted client key is wrong"),
                "{wrong:?}: {message}"
            ),
            other => panic!("wrong passphrase {wrong:?}: expected Error::Tls, got {other:?}"),
        }
    }
}
