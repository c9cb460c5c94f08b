//! A throw-away certificate authority for TLS tests.

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// A self-signed certificate authority made at test time (ECDSA P-256, with rcgen), that
/// issues server and client certificates.
///
/// Nothing is written to disk: certificates and keys are PEM strings. [`Mosquitto`]
/// uses one for its TLS listeners; a test makes a second one to check that a client
/// refuses a server whose certificate chains to a CA it does not trust.
///
/// ```
/// use testkit::TestCa;
///
/// let ca = TestCa::new("example CA");
/// assert!(ca.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// let (cert_pem, key_pem) = ca.server_identity(&["localhost", "127.0.0.1"]);
/// assert!(cert_pem.contains("CERTIFICATE") && key_pem.contains("PRIVATE KEY"));
/// let (_cert, _key) = ca.client_identity("device-1");
/// ```
///
/// [`Mosquitto`]: crate::Mosquitto
pub struct TestCa {
    name: String,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa").field("name", &self.name).finish()
    }
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "testkit");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn new_key() -> KeyPair {
    KeyPair::generate().expect("testkit: generating an ECDSA P-256 key pair failed")
}

impl TestCa {
    /// A new CA whose certificate has the common name `name`.
    ///
    /// # Panics
    ///
    /// If rcgen fails to make the key or certificate (it does not for valid input).
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = new_key();
        let cert = params
            .self_signed(&key)
            .expect("testkit: self-signing the CA certificate failed");
        TestCa {
            name: name.to_owned(),
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The common name given to [`TestCa::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CA certificate, PEM-encoded: what a client (or a server checking client
    /// certificates) trusts.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A server certificate and its private key (PKCS#8), both PEM-encoded, signed by
    /// this CA, valid for `names`: each one that parses as an IP address becomes an IP
    /// address subject alternative name, any other a DNS name. The first name is also the
    /// common name.
    ///
    /// # Panics
    ///
    /// If a name is neither an IP address nor a valid DNS name.
    pub fn server_identity(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone())
            .unwrap_or_else(|e| panic!("testkit: invalid server names {names:?}: {e}"));
        params.distinguished_name =
            distinguished_name(names.first().map_or("testkit server", String::as_str));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate for the common name `cn` and its private key (PKCS#8), both
    /// PEM-encoded, signed by this CA.
    ///
    /// # Panics
    ///
    /// If rcgen fails to make the key or certificate (it does not for valid input).
    pub fn client_identity(&self, cn: &str) -> (String, String) {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(cn);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, mut params: CertificateParams) -> (String, String) {
        params.use_authority_key_identifier_extension = true;
        let key = new_key();
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("testkit: signing a certificate failed");
        (cert.pem(), key.serialize_pem())
    }
}
