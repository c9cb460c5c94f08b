//! TLS with rustls: configuration, and the TLS layer of a connection (sans-I/O: the
//! driver feeds it ciphertext and takes plaintext, so one thread owns it).

use std::io::{self, Read, Write};
use std::sync::Arc;

use bytes::BytesMut;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::client_key::read_client_key;
use crate::error::Error;

/// Where the trusted root certificates come from.
#[derive(Debug, Clone)]
enum Roots {
    /// The platform's store plus the bundled Mozilla roots (webpki-roots).
    Public,
    /// Only these certificates.
    Custom(Vec<CertificateDer<'static>>),
}

/// TLS settings: verification of the server is always on; by default against the
/// platform's and the bundled public roots.
///
/// ```
/// use mqtt_engine::TlsOptions;
/// // ALPN "x-amzn-mqtt-ca" lets AWS IoT Core take MQTT on port 443.
/// let tls = TlsOptions::new().with_alpn(["x-amzn-mqtt-ca"]);
/// ```
#[derive(Clone)]
pub struct TlsOptions {
    roots: Roots,
    identity: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    alpn: Vec<Vec<u8>>,
    server_name: Option<String>,
    config: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("roots", &self.roots)
            .field("client_identity", &self.identity.is_some())
            .field("alpn", &self.alpn)
            .field("server_name", &self.server_name)
            .field("custom_config", &self.config.is_some())
            .finish()
    }
}

impl Default for TlsOptions {
    fn default() -> TlsOptions {
        TlsOptions::new()
    }
}

impl TlsOptions {
    /// Verification against the platform's and the bundled public roots; no client
    /// certificate; no ALPN; SNI from the URL's host.
    pub fn new() -> TlsOptions {
        TlsOptions {
            roots: Roots::Public,
            identity: None,
            alpn: Vec::new(),
            server_name: None,
            config: None,
        }
    }

    /// Trusts only the CA certificates in `pem` (for a private CA).
    pub fn with_ca_pem(mut self, pem: &[u8]) -> Result<TlsOptions, Error> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Tls(format!("cannot read the CA certificate PEM: {e}")))?;
        if certs.is_empty() {
            return Err(Error::Tls("the CA PEM holds no certificate".into()));
        }
        self.roots = Roots::Custom(certs);
        Ok(self)
    }

    /// Authenticates with a client certificate (chain) and its private key, from PEM.
    ///
    /// The key may be PKCS#8 (`-----BEGIN PRIVATE KEY-----`), PKCS#1 RSA
    /// (`-----BEGIN RSA PRIVATE KEY-----`) or SEC1 EC (`-----BEGIN EC PRIVATE KEY-----`).
    /// An encrypted PKCS#8 key (`-----BEGIN ENCRYPTED PRIVATE KEY-----`) needs its
    /// passphrase: use [`TlsOptions::with_client_identity_pem_encrypted`]; given here, it is
    /// refused with an [`Error::Tls`] saying so.
    ///
    /// # Errors
    ///
    /// [`Error::Tls`] if the certificate or the key cannot be read (the message says what
    /// was expected and what was found); [`Error::Configuration`] if
    /// [`TlsOptions::with_config`] was called before (a client certificate cannot be
    /// combined with it: see there).
    pub fn with_client_identity_pem(
        self,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<TlsOptions, Error> {
        self.set_client_identity(cert_pem, key_pem, None)
    }

    /// Authenticates with a client certificate (chain) and its private key, from PEM, where
    /// the key is an encrypted PKCS#8 key (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, as
    /// `openssl pkcs8 -topk8 -v2 aes-256-cbc` or `openssl genpkey -aes256` write it)
    /// protected by `passphrase`.
    ///
    /// The key is decrypted here, once; the passphrase is not kept. Supported: PBES2 with
    /// PBKDF2 (HMAC-SHA-224/256/384/512) or scrypt, and AES-128/192/256-CBC or
    /// AES-128/256-GCM (what current OpenSSL writes). If the key is not encrypted (any
    /// format [`TlsOptions::with_client_identity_pem`] takes), the passphrase is not used.
    ///
    /// ```no_run
    /// use mqtt_engine::TlsOptions;
    ///
    /// # fn main() -> Result<(), mqtt_engine::Error> {
    /// let cert = std::fs::read("device.crt")?;
    /// let key = std::fs::read("device.key")?; // -----BEGIN ENCRYPTED PRIVATE KEY-----
    /// let tls = TlsOptions::new().with_client_identity_pem_encrypted(&cert, &key, "passphrase")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Tls`] if the passphrase is wrong, if the key is encrypted with a scheme
    /// that is not supported (the message names it and says how to re-encrypt the key),
    /// or if the certificate or key cannot be read; [`Error::Configuration`] if
    /// [`TlsOptions::with_config`] was called before.
    pub fn with_client_identity_pem_encrypted(
        self,
        cert_pem: &[u8],
        key_pem: &[u8],
        passphrase: impl AsRef<[u8]>,
    ) -> Result<TlsOptions, Error> {
        self.set_client_identity(cert_pem, key_pem, Some(passphrase.as_ref()))
    }

    fn set_client_identity(
        mut self,
        cert_pem: &[u8],
        key_pem: &[u8],
        passphrase: Option<&[u8]>,
    ) -> Result<TlsOptions, Error> {
        if self.config.is_some() {
            return Err(config_and_identity());
        }
        let certs = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Tls(format!("cannot read the client certificate PEM: {e}")))?;
        if certs.is_empty() {
            return Err(Error::Tls(
                "the client certificate PEM holds no certificate".into(),
            ));
        }
        let key = read_client_key(key_pem, passphrase)?;
        self.identity = Some((certs, Arc::new(key)));
        Ok(self)
    }

    /// Offers these ALPN protocols (for example `x-amzn-mqtt-ca` for AWS IoT on 443).
    pub fn with_alpn<I, P>(mut self, protocols: I) -> TlsOptions
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        self.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// Uses `name` for SNI and certificate verification instead of the URL's host.
    pub fn with_server_name(mut self, name: impl Into<String>) -> TlsOptions {
        self.server_name = Some(name.into());
        self
    }

    /// Uses a rustls configuration built by the application, as it is: the roots
    /// ([`TlsOptions::with_ca_pem`]) and ALPN ([`TlsOptions::with_alpn`]) options are then
    /// ignored; [`TlsOptions::with_server_name`] still applies.
    ///
    /// A client certificate cannot be combined with it: rustls fixes the client
    /// authentication when a `ClientConfig` is built, so these options cannot add one to
    /// yours, and ignoring it would connect without the certificate. Put the certificate
    /// into your configuration instead
    /// (`ClientConfig::builder().with_root_certificates(roots).with_client_auth_cert(certs, key)`),
    /// or leave this out and use [`TlsOptions::with_client_identity_pem`]. Asked for both,
    /// [`TlsOptions::with_client_identity_pem`] (after this) or the client's connect
    /// (after a client identity) fails with [`Error::Configuration`] saying so.
    pub fn with_config(mut self, config: Arc<ClientConfig>) -> TlsOptions {
        self.config = Some(config);
        self
    }

    pub(crate) fn build(&self) -> Result<Arc<ClientConfig>, Error> {
        if let Some(c) = &self.config {
            if self.identity.is_some() {
                return Err(config_and_identity());
            }
            return Ok(c.clone());
        }
        let mut roots = RootCertStore::empty();
        match &self.roots {
            Roots::Public => {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
            Roots::Custom(certs) => {
                for c in certs {
                    roots
                        .add(c.clone())
                        .map_err(|e| Error::Tls(format!("cannot use the CA certificate: {e}")))?;
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            Some((certs, key)) => builder
                .with_client_auth_cert(certs.clone(), key.clone_key())
                .map_err(|e| Error::Tls(format!("cannot use the client certificate: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }

    pub(crate) fn server_name(&self, host: &str) -> Result<ServerName<'static>, Error> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_string())
            .map_err(|e| Error::Tls(format!("invalid server name {name:?}: {e}")))
    }
}

/// The refusal of [`TlsOptions::with_config`] together with a client certificate.
fn config_and_identity() -> Error {
    Error::Configuration(
        "TlsOptions::with_config cannot be combined with a client certificate set on the \
         TlsOptions (with_client_identity_pem or with_client_identity_pem_encrypted): your \
         rustls ClientConfig is used as it is, so the certificate would not be sent. Put the \
         certificate into your ClientConfig with \
         ClientConfig::builder().with_root_certificates(..).with_client_auth_cert(certs, key), \
         or drop with_config and let the TlsOptions build the configuration"
            .into(),
    )
}

/// The TLS layer of one connection.
pub(crate) struct TlsLayer {
    conn: ClientConnection,
}

impl TlsLayer {
    pub(crate) fn new(
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<TlsLayer, Error> {
        let conn = ClientConnection::new(config, name).map_err(|e| Error::Tls(e.to_string()))?;
        Ok(TlsLayer { conn })
    }

    /// Moves pending TLS records (handshake, application data, alerts) to `down`.
    pub(crate) fn flush(&mut self, down: &mut Vec<u8>) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(down)?;
        }
        Ok(())
    }

    /// Ciphertext in; plaintext to `up`, records to send to `down`. `Ok(false)`: the
    /// server closed the TLS session.
    pub(crate) fn receive(
        &mut self,
        mut raw: &[u8],
        up: &mut BytesMut,
        down: &mut Vec<u8>,
    ) -> io::Result<bool> {
        let mut open = true;
        while !raw.is_empty() {
            self.conn.read_tls(&mut raw)?;
            self.conn
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}")))?;
            let mut buf = [0u8; 16 * 1024];
            loop {
                match self.conn.reader().read(&mut buf) {
                    Ok(0) => {
                        open = false;
                        break;
                    }
                    Ok(n) => up.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        self.flush(down)?;
        Ok(open)
    }

    /// Plaintext out: encrypted into `down` (buffered until the handshake is done).
    pub(crate) fn send(&mut self, data: &[u8], down: &mut Vec<u8>) -> io::Result<()> {
        self.conn.writer().write_all(data)?;
        self.flush(down)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::TestCa;

    // Throw-away P-256 keys written by OpenSSL 3.0 (`openssl genpkey -algorithm EC`, then
    // `openssl pkcs8 -topk8 ...` as named), to check against keys made by another tool
    // than the tests' own (testkit's `TestCa::encrypt_key_pem`).

    /// `-v2 aes-256-cbc` (PBES2, PBKDF2-HMAC-SHA256 2048 rounds, AES-256-CBC), passphrase
    /// "correct horse".
    const OPENSSL_AES: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAjdsvp9xV53agICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEIsZtLHlsL62Xn6GD2+S9QIEgZDH
OLEt2p3EVBWbmTnAl7dLegASgRrPZG2Jcp1Usm3vRIehZmdPBcfUrtJ8fOv/bnem
hLPHmj2eWrt0TDUCUSQf1EBQBkZGpsUS5co6dPjIL31qUsBPElh4jaKNBT2QKXuH
cRLgUxfwtA1DPjFSqFYDVMEwdos7YHVU8+GVEs1wEHydlzvP8jMfoFuDSHUOglk=
-----END ENCRYPTED PRIVATE KEY-----
";
    /// `-v2 des3` (PBES2, PBKDF2-HMAC-SHA256, DES-EDE3-CBC), passphrase "x".
    const OPENSSL_DES3: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHjME4GCSqGSIb3DQEFDTBBMCkGCSqGSIb3DQEFDDAcBAg/u8vUkpwOmwICCAAw
DAYIKoZIhvcNAgkFADAUBggqhkiG9w0DBwQItXjk3LJWmbEEgZC44qZFAJryulca
08yPMu0ZxU4ld/IcmlWPPJfauGzHypZwZ281wYOCu6EbSuHxt8LPbkPTAkzhU2Ev
1bS/OvpjGfZcMNZ9OUf28ZU8lI6qOMW8tox+Lzut/v3915xOKeMP8IMyYFedpw40
YIGjLTqUdDNMmMIv0H8oueDBA1NN3H0gpfK3q0Je3ze2ILvISm8=
-----END ENCRYPTED PRIVATE KEY-----
";
    /// `-v2 aes-256-cbc -v2prf hmacWithSHA1`, passphrase "x".
    const OPENSSL_SHA1: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHeMEkGCSqGSIb3DQEFDTA8MBsGCSqGSIb3DQEFDDAOBAgoqvZj9oH9cAICCAAw
HQYJYIZIAWUDBAEqBBBKBm0J+R3b0DqCSykTZVPgBIGQdBr3upMn58MXDiNptgXf
9rC8b48KZlv7LiBAri2reO3f2WQYz1BdM/1UPL6KPRdkcdrbhtP1/ZpO9AHo6ulT
NoYrvoVjhJKnm8v+cXFpxOn/ONviAN3rWiYBl2TRaW3geG3gl06UbCFcAoeJe1kR
IiXsifqkTWh7Vfq6nLyGdl/VPh3DuvJGYxCwpUxGON61
-----END ENCRYPTED PRIVATE KEY-----
";
    /// `-v1 PBE-SHA1-3DES` (a PKCS#12 scheme), passphrase "x".
    const OPENSSL_PKCS12: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGxMBwGCiqGSIb3DQEMAQMwDgQIeEBIq1f13G4CAggABIGQ0g7lgnmTbSsrOtaF
9MbjB4/r4ZSJTJWhZy/dXYJw0dvB/CzMJ+35ePajRciPvPNUQHj7gP/hfKtMJPPz
MT70kBXnDWarJY9QtQ0V+v+JFjLUqKp/3+0wdE0m4EBflKfYj5uETo/qrTKQqYMH
8nmnp+q74y8M+iPdWV3abVvITG88VFxoAbIIyyv18JibchMA
-----END ENCRYPTED PRIVATE KEY-----
";
    /// `openssl ec -aes256` (the legacy OpenSSL encrypted PEM), passphrase "x".
    const OPENSSL_LEGACY: &str = "-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-256-CBC,432B62FC5F658EF134F7C66C050E4F40

nyiENnzszX/5yUaja39PoedZ3okLsNkBgee+Yu8Q8iE0+tdYX9phNt0PT53IwmO8
p2GJ2AwmeiHJ2NuoSKwecUlHp8n6JxbZFJh6/L7Ru9551xT2OUhIqRSLigiqEjxf
wcilCCna8+3KJIhnZ7t/+jof0mIFFue4UdDx+3mBAQU=
-----END EC PRIVATE KEY-----
";

    const PASSPHRASE: &str = "correct horse battery staple";

    /// A client certificate, its key, and the key encrypted with [`PASSPHRASE`].
    fn identity() -> (String, String, String) {
        let (cert, key) = TestCa::new("tls unit tests").client_identity("device-1");
        let encrypted = TestCa::encrypt_key_pem(&key, PASSPHRASE);
        (cert, key, encrypted)
    }

    /// The message of an `Error::Tls`; panics on anything else.
    fn tls_message(result: Result<TlsOptions, Error>) -> String {
        match result {
            Err(Error::Tls(message)) => {
                assert!(
                    !message.contains("no items found"),
                    "the message must say what is wrong: {message}"
                );
                message
            }
            Err(other) => panic!("expected Error::Tls, got {other:?}"),
            Ok(_) => panic!("the key was accepted"),
        }
    }

    fn client_key(tls: &TlsOptions) -> &PrivateKeyDer<'static> {
        &tls.identity.as_ref().expect("a client identity").1
    }

    #[test]
    fn encrypted_key_with_the_right_passphrase_is_decrypted_to_the_original_key() {
        let (cert, key, encrypted) = identity();
        assert!(encrypted.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let tls = TlsOptions::new()
            .with_client_identity_pem_encrypted(cert.as_bytes(), encrypted.as_bytes(), PASSPHRASE)
            .expect("the right passphrase");
        let original = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        assert_eq!(client_key(&tls), &original);
        // rustls takes the decrypted key with its certificate.
        tls.build()
            .expect("a rustls configuration with the client key");
    }

    #[test]
    fn openssl_encrypted_key_is_decrypted() {
        let key = read_client_key(OPENSSL_AES.as_bytes(), Some(b"correct horse"))
            .expect("OpenSSL's default PKCS#8 encryption");
        assert!(matches!(key, PrivateKeyDer::Pkcs8(_)), "{key:?}");
        rustls::crypto::ring::default_provider()
            .key_provider
            .load_private_key(key)
            .expect("rustls can sign with the decrypted key");
    }

    #[test]
    fn encrypted_key_without_a_passphrase_says_to_give_one() {
        let (cert, _, encrypted) = identity();
        let message = tls_message(
            TlsOptions::new().with_client_identity_pem(cert.as_bytes(), encrypted.as_bytes()),
        );
        assert!(
            message.contains("the client key is encrypted")
                && message.contains("TlsOptions::with_client_identity_pem_encrypted"),
            "{message}"
        );
    }

    #[test]
    fn encrypted_key_with_a_wrong_passphrase_says_the_passphrase_is_wrong() {
        let (cert, _, encrypted) = identity();
        for wrong in ["wrong", "", "correct horse battery stapl"] {
            let message = tls_message(TlsOptions::new().with_client_identity_pem_encrypted(
                cert.as_bytes(),
                encrypted.as_bytes(),
                wrong,
            ));
            assert!(
                message.contains("passphrase of the encrypted client key is wrong"),
                "{wrong:?}: {message}"
            );
        }
        let message = tls_message(TlsOptions::new().with_client_identity_pem_encrypted(
            cert.as_bytes(),
            OPENSSL_AES.as_bytes(),
            "correct horses",
        ));
        assert!(message.contains("is wrong"), "{message}");
    }

    #[test]
    fn unsupported_encryption_schemes_are_named_with_how_to_re_encrypt() {
        let (cert, _, _) = identity();
        for (pem, name) in [
            (OPENSSL_DES3, "DES-EDE3-CBC"),
            (OPENSSL_SHA1, "HMAC-SHA1"),
            (OPENSSL_PKCS12, "PKCS#12"),
        ] {
            let message = tls_message(TlsOptions::new().with_client_identity_pem_encrypted(
                cert.as_bytes(),
                pem.as_bytes(),
                "x",
            ));
            assert!(
                message.contains(name)
                    && message.contains("cannot decrypt")
                    && message.contains("openssl pkcs8 -topk8 -v2 aes-256-cbc"),
                "{name}: {message}"
            );
        }
    }

    #[test]
    fn legacy_openssl_encrypted_key_says_to_convert_it_to_pkcs8() {
        let (cert, _, _) = identity();
        for passphrase in [None, Some("x")] {
            let result = match passphrase {
                None => TlsOptions::new()
                    .with_client_identity_pem(cert.as_bytes(), OPENSSL_LEGACY.as_bytes()),
                Some(p) => TlsOptions::new().with_client_identity_pem_encrypted(
                    cert.as_bytes(),
                    OPENSSL_LEGACY.as_bytes(),
                    p,
                ),
            };
            let message = tls_message(result);
            assert!(
                message.contains("legacy OpenSSL format")
                    && message.contains("Proc-Type: 4,ENCRYPTED")
                    && message.contains("openssl pkcs8 -topk8"),
                "{message}"
            );
        }
    }

    #[test]
    fn unreadable_key_says_what_was_expected_and_what_was_found() {
        let (cert, key, _) = identity();
        let der = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        let public = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
        let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----\n";
        let cases: [(&[u8], &str); 6] = [
            (
                cert.as_bytes(),
                "\"-----BEGIN CERTIFICATE-----\" (a certificate",
            ),
            (b"", "the key PEM is empty"),
            (b"not a key", "no PEM block"),
            (der.secret_der(), "looks like DER"),
            (public.as_bytes(), "(a public key"),
            (openssh.as_bytes(), "ssh-keygen -p -m PKCS8"),
        ];
        for (pem, found) in cases {
            for passphrase in [None, Some("x")] {
                let result = match passphrase {
                    None => TlsOptions::new().with_client_identity_pem(cert.as_bytes(), pem),
                    Some(p) => TlsOptions::new().with_client_identity_pem_encrypted(
                        cert.as_bytes(),
                        pem,
                        p,
                    ),
                };
                let message = tls_message(result);
                assert!(
                    message.contains("holds no private key")
                        && message.contains("PKCS#8")
                        && message.contains("PKCS#1 RSA")
                        && message.contains("SEC1 EC")
                        && message.contains(found),
                    "{found}: {message}"
                );
            }
        }
        // A key block that is not valid base64 says so, and what was expected.
        let broken = "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n";
        let message = tls_message(
            TlsOptions::new().with_client_identity_pem(cert.as_bytes(), broken.as_bytes()),
        );
        assert!(
            message.contains("base64") && message.contains("expected a PKCS#8"),
            "{message}"
        );
    }

    #[test]
    fn passphrase_is_not_used_for_a_key_that_is_not_encrypted() {
        let (cert, key, _) = identity();
        let tls = TlsOptions::new()
            .with_client_identity_pem_encrypted(cert.as_bytes(), key.as_bytes(), "unused")
            .expect("a plain key with a passphrase");
        let original = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        assert_eq!(client_key(&tls), &original);
    }

    fn user_config() -> Arc<ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth(),
        )
    }

    fn assert_config_and_identity_refused(error: Error) {
        match error {
            Error::Configuration(message) => assert!(
                message.contains(
                    "TlsOptions::with_config cannot be combined with a client certificate"
                ) && message.contains("with_client_auth_cert")
                    && message.contains("drop with_config"),
                "{message}"
            ),
            other => panic!("expected Error::Configuration, got {other:?}"),
        }
    }

    #[test]
    fn with_config_and_a_client_certificate_are_refused_in_either_order() {
        let (cert, key, encrypted) = identity();
        // Identity first: the options are built when the client connects.
        let tls = TlsOptions::new()
            .with_client_identity_pem(cert.as_bytes(), key.as_bytes())
            .unwrap()
            .with_config(user_config());
        assert_config_and_identity_refused(tls.build().unwrap_err());
        // with_config first: the identity is refused at once, encrypted key or not.
        let tls = TlsOptions::new().with_config(user_config());
        assert_config_and_identity_refused(
            tls.clone()
                .with_client_identity_pem(cert.as_bytes(), key.as_bytes())
                .unwrap_err(),
        );
        assert_config_and_identity_refused(
            tls.with_client_identity_pem_encrypted(
                cert.as_bytes(),
                encrypted.as_bytes(),
                PASSPHRASE,
            )
            .unwrap_err(),
        );
    }

    #[test]
    fn with_config_alone_is_used_as_given() {
        let config = user_config();
        let built = TlsOptions::new()
            .with_config(config.clone())
            .build()
            .unwrap();
        assert!(Arc::ptr_eq(&built, &config));
    }
}
