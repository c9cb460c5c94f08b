//! TLS with rustls: configuration, and the TLS layer of a connection (sans-I/O: the
//! driver feeds it ciphertext and takes plaintext, so one thread owns it).

use std::io::{self, Read, Write};
use std::sync::Arc;

use bytes::BytesMut;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

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
    pub fn with_client_identity_pem(
        mut self,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<TlsOptions, Error> {
        let certs = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Tls(format!("cannot read the client certificate PEM: {e}")))?;
        if certs.is_empty() {
            return Err(Error::Tls(
                "the client certificate PEM holds no certificate".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| Error::Tls(format!("cannot read the client key PEM: {e}")))?;
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

    /// Uses a rustls configuration built by the application (roots, identity and ALPN
    /// options above are then ignored).
    pub fn with_config(mut self, config: Arc<ClientConfig>) -> TlsOptions {
        self.config = Some(config);
        self
    }

    pub(crate) fn build(&self) -> Result<Arc<ClientConfig>, Error> {
        if let Some(c) = &self.config {
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
