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

    /// `key_pem`, an unencrypted PKCS#8 private key PEM (as [`TestCa::client_identity`]
    /// and [`TestCa::server_identity`] return it), encrypted with `passphrase`: an
    /// encrypted PKCS#8 PEM (`-----BEGIN ENCRYPTED PRIVATE KEY-----`) using PBES2 with
    /// PBKDF2-HMAC-SHA256 (2048 iterations, a random 16-byte salt) and AES-256-CBC, which
    /// is what `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes.
    ///
    /// An associated function, so it also encrypts the key of an identity made by
    /// [`Mosquitto::client_identity`](crate::Mosquitto::client_identity).
    ///
    /// ```
    /// use testkit::TestCa;
    ///
    /// let (_cert, key) = TestCa::new("example CA").client_identity("device-1");
    /// let encrypted = TestCa::encrypt_key_pem(&key, "correct horse");
    /// assert!(encrypted.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    /// ```
    ///
    /// # Panics
    ///
    /// If `key_pem` is not an unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), or if
    /// the system's random number generator fails.
    pub fn encrypt_key_pem(key_pem: &str, passphrase: &str) -> String {
        use pkcs8::pkcs5::pbes2;
        use pkcs8::{LineEnding, PrivateKeyInfoRef};
        use ring::rand::{SecureRandom, SystemRandom};

        let (label, der) = pkcs8::der::pem::decode_vec(key_pem.as_bytes())
            .unwrap_or_else(|e| panic!("testkit: the key to encrypt is not PEM: {e}"));
        assert_eq!(
            label, "PRIVATE KEY",
            "testkit: the key to encrypt must be an unencrypted PKCS#8 PEM"
        );
        let info = PrivateKeyInfoRef::try_from(der.as_slice())
            .unwrap_or_else(|e| panic!("testkit: the key to encrypt is not PKCS#8: {e}"));
        let (mut salt, mut iv) = ([0u8; 16], [0u8; 16]);
        let rng = SystemRandom::new();
        rng.fill(&mut salt)
            .and_then(|()| rng.fill(&mut iv))
            .expect("testkit: the system random number generator failed");
        let params = pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(2048, &salt, iv)
            .expect("testkit: PBES2 parameters");
        let encrypted = info
            .encrypt_with_params(params, passphrase)
            .expect("testkit: encrypting the key failed");
        encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .expect("testkit: encoding the encrypted key as PEM failed")
            .to_string()
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
