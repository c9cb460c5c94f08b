//! TLS options through the engine's public API, as a driver uses them: a rustls
//! `ClientConfig` of the application's own (`TlsOptions::with_config`) together with a
//! client certificate on the options is refused when the client starts, with an error that
//! says what to do; an encrypted client key is decrypted with its passphrase. (The
//! round trip with a broker that requires client certificates is mqtt-std's
//! `tests/tls_keys.rs`; the key-reading errors are unit tests in `src/tls.rs`.)

use std::sync::Arc;

use mqtt_engine::{ClientOptions, Engine, Error, TlsOptions};
use rustls::{ClientConfig, RootCertStore};
use testkit::TestCa;

/// A configuration the application built itself, without client authentication.
fn user_config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth(),
    )
}

fn start(tls: TlsOptions) -> Result<(), Error> {
    let options = ClientOptions::new("mqtts://localhost:8883", "tls-keys")
        .expect("options")
        .tls(tls);
    Engine::new(options).map(drop)
}

#[test]
fn with_config_and_a_client_certificate_are_refused_when_the_client_starts() {
    let (cert, key) = TestCa::new("tls_keys").client_identity("device-1");
    let tls = TlsOptions::new()
        .with_client_identity_pem(cert.as_bytes(), key.as_bytes())
        .expect("client identity")
        .with_config(user_config());
    match start(tls) {
        Err(Error::Configuration(message)) => {
            assert!(
                message.contains("with_config cannot be combined with a client certificate")
                    && message.contains("with_client_auth_cert")
                    && message.contains("drop with_config"),
                "{message}"
            );
            let shown = Error::Configuration(message).to_string();
            assert!(shown.starts_with("configuration: "), "{shown}");
        }
        other => panic!("expected Error::Configuration, got {other:?}"),
    }
}

#[test]
fn with_config_alone_and_a_client_certificate_alone_both_start() {
    start(TlsOptions::new().with_config(user_config())).expect("with_config alone");
    let ca = TestCa::new("tls_keys");
    let (cert, key) = ca.client_identity("device-1");
    let encrypted = TestCa::encrypt_key_pem(&key, "s3cret");
    let tls = TlsOptions::new()
        .with_ca_pem(ca.ca_pem().as_bytes())
        .expect("CA")
        .with_client_identity_pem_encrypted(cert.as_bytes(), encrypted.as_bytes(), "s3cret")
        .expect("the right passphrase");
    start(tls).expect("an encrypted client key with its passphrase");
}

#[test]
fn encrypted_client_key_errors_say_what_to_do() {
    let (cert, key) = TestCa::new("tls_keys").client_identity("device-1");
    let encrypted = TestCa::encrypt_key_pem(&key, "s3cret");
    let missing = TlsOptions::new()
        .with_client_identity_pem(cert.as_bytes(), encrypted.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("TLS: the client key is encrypted")
            && missing.contains(
                "give its passphrase with TlsOptions::with_client_identity_pem_encrypted"
            ),
        "{missing}"
    );
    let wrong = TlsOptions::new()
        .with_client_identity_pem_encrypted(cert.as_bytes(), encrypted.as_bytes(), "secret")
        .unwrap_err()
        .to_string();
    assert!(
        wrong.starts_with("TLS: the passphrase of the encrypted client key is wrong"),
        "{wrong}"
    );
}
