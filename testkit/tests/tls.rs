//! TLS: the test CA, the broker's TLS and secure WebSocket listeners, client
//! certificates. Checked with rustls as the client.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;

use common::{WAIT, mqtt_connect, start, tls_config, tls_connect, ws_handshake, ws_mqtt_connect};
use mqtt_proto::ReasonCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use testkit::{Mosquitto, TestCa};

fn is_unknown_issuer(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    )
}

#[test]
fn tls_listener_presents_a_certificate_that_chains_to_ca_pem() {
    let broker = start(Mosquitto::builder().tls());
    let port = broker.tls_port().unwrap();
    let config = tls_config(broker.ca_pem(), None);
    let ca = CertificateDer::from_pem_slice(broker.ca_pem().as_bytes()).unwrap();
    for name in ["localhost", "127.0.0.1"] {
        let mut stream = tls_connect(port, name, Arc::clone(&config))
            .unwrap_or_else(|e| panic!("handshake for {name}: {e}"));
        // The broker sends its own certificate, and OpenSSL adds the CA's.
        let chain = stream.conn.peer_certificates().unwrap();
        assert!(
            !chain.is_empty() && chain.len() <= 2,
            "{} certificates",
            chain.len()
        );
        assert_ne!(chain[0], ca);
        assert!(chain.len() == 1 || chain[1] == ca);
        let connack = mqtt_connect(&mut stream, "over-tls").unwrap();
        assert_eq!(connack.reason_code, ReasonCode::Success);
    }
}

#[test]
fn tls_listener_is_refused_by_a_client_trusting_another_ca() {
    let broker = start(Mosquitto::builder().tls());
    let other = TestCa::new("some other CA");
    let config = tls_config(other.ca_pem(), None);
    let error = tls_connect(broker.tls_port().unwrap(), "localhost", config).unwrap_err();
    assert!(is_unknown_issuer(&error), "{error:?}");
}

#[test]
fn tls_certificate_does_not_match_other_names() {
    let broker = start(Mosquitto::builder().tls());
    let config = tls_config(broker.ca_pem(), None);
    let error = tls_connect(broker.tls_port().unwrap(), "example.com", config).unwrap_err();
    assert!(
        matches!(
            error,
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })
                | rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
        ),
        "{error:?}"
    );
}

#[test]
fn required_client_certificate_admits_only_the_brokers_ca() {
    let broker = start(Mosquitto::builder().require_client_certificate());
    let port = broker.tls_port().unwrap();
    assert!(broker.config().contains("require_certificate true"));

    // Signed by the broker's CA: admitted.
    let identity = broker.client_identity("device-1");
    let mut stream = tls_connect(
        port,
        "localhost",
        tls_config(broker.ca_pem(), Some(identity)),
    )
    .expect("handshake with a client certificate");
    let connack = mqtt_connect(&mut stream, "with-cert").unwrap();
    assert_eq!(connack.reason_code, ReasonCode::Success);

    // No certificate, or one from another CA: no CONNACK. (Under TLS 1.3 the client's
    // handshake may finish before the server's refusal arrives.)
    let other = TestCa::new("intruder CA");
    for identity in [None, Some(other.client_identity("intruder"))] {
        let with_cert = identity.is_some();
        let refused = match tls_connect(port, "localhost", tls_config(broker.ca_pem(), identity)) {
            Err(_) => true,
            Ok(mut stream) => mqtt_connect(&mut stream, "refused").is_err(),
        };
        assert!(refused, "client certificate given: {with_cert}");
    }
}

#[test]
fn secure_websocket_listener_carries_mqtt() {
    let broker = start(Mosquitto::builder().secure_websockets());
    assert_eq!(broker.tls_port(), None);
    let port = broker.wss_port().unwrap();
    let mut stream = tls_connect(port, "localhost", tls_config(broker.ca_pem(), None)).unwrap();
    let head = ws_handshake(&mut stream, &format!("localhost:{port}"), "/mqtt").unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let connack = ws_mqtt_connect(&mut stream, "over-wss");
    assert_eq!(connack.reason_code, ReasonCode::Success);
}

#[test]
fn secure_websocket_listener_can_require_client_certificates() {
    let broker = start(
        Mosquitto::builder()
            .secure_websockets()
            .require_client_certificate(),
    );
    let port = broker.wss_port().unwrap();
    let identity = broker.client_identity("ws-device");
    let mut stream = tls_connect(
        port,
        "localhost",
        tls_config(broker.ca_pem(), Some(identity)),
    )
    .unwrap();
    let head = ws_handshake(&mut stream, &format!("localhost:{port}"), "/mqtt").unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");

    let refused = match tls_connect(port, "localhost", tls_config(broker.ca_pem(), None)) {
        Err(_) => true,
        Ok(mut stream) => ws_handshake(&mut stream, "localhost", "/mqtt").is_err(),
    };
    assert!(refused);
}

/// A rustls server with `ca`'s server identity for `names`, requiring a client
/// certificate from `ca`, that echoes one message.
fn echo_server(
    ca: &TestCa,
    names: &[&str],
) -> (u16, std::thread::JoinHandle<Result<(), rustls::Error>>) {
    let (cert, key) = ca.server_identity(names);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.ca_pem().as_bytes()).unwrap())
        .unwrap();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .unwrap();
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
        .unwrap();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(WAIT)).unwrap();
        let conn = ServerConnection::new(Arc::new(config))?;
        let mut stream = StreamOwned::new(conn, sock);
        let mut buf = [0u8; 5];
        stream
            .read_exact(&mut buf)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        stream
            .write_all(&buf)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        stream
            .flush()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        stream.conn.send_close_notify();
        let _ = stream.flush();
        Ok(())
    });
    (port, server)
}

#[test]
fn test_ca_identities_work_with_rustls_on_both_sides() {
    let ca = TestCa::new("standalone CA");
    assert_eq!(ca.name(), "standalone CA");
    let (port, server) = echo_server(&ca, &["broker.test", "127.0.0.1"]);
    let config = tls_config(ca.ca_pem(), Some(ca.client_identity("client-1")));
    let mut stream = tls_connect(port, "broker.test", config).unwrap();
    stream.write_all(b"hello").unwrap();
    let mut echoed = [0u8; 5];
    stream.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"hello");
    server.join().unwrap().unwrap();
}

#[test]
fn test_ca_server_identity_is_refused_under_another_ca() {
    let ca = TestCa::new("first CA");
    let other = TestCa::new("second CA");
    assert_ne!(ca.ca_pem(), other.ca_pem());
    let (port, server) = echo_server(&ca, &["localhost"]);
    let config = tls_config(other.ca_pem(), Some(ca.client_identity("client-1")));
    let error = tls_connect(port, "localhost", config).unwrap_err();
    assert!(is_unknown_issuer(&error), "{error:?}");
    assert!(server.join().unwrap().is_err());
}
