//! A TLS client's private key from PEM: every format rustls reads, and an encrypted
//! PKCS#8 key decrypted with its passphrase; each refusal says what was expected, what was
//! found and what to do.

use pkcs8::der::asn1::ObjectIdentifier;
use pkcs8::der::{Reader, SliceReader};
use pkcs8::{AlgorithmIdentifierRef, EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef, pkcs5};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::{self, PemObject};

use crate::error::Error;

/// The PEM label of an encrypted PKCS#8 key.
const ENCRYPTED_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// What a client key PEM may hold, for error messages.
const KEY_FORMATS: &str = "a PKCS#8 (\"-----BEGIN PRIVATE KEY-----\"), PKCS#1 RSA \
     (\"-----BEGIN RSA PRIVATE KEY-----\") or SEC1 EC (\"-----BEGIN EC PRIVATE KEY-----\") \
     PEM block, or an encrypted PKCS#8 one (\"-----BEGIN ENCRYPTED PRIVATE KEY-----\") with \
     its passphrase";

/// How to turn a key this client cannot decrypt into one it can.
const REENCRYPT: &str = "re-encrypt it as PKCS#8 with \
     `openssl pkcs8 -topk8 -v2 aes-256-cbc -in old-key.pem -out new-key.pem` and give the \
     passphrase with TlsOptions::with_client_identity_pem_encrypted";

/// One `-----BEGIN <label>-----` block of a PEM text.
struct PemBlock<'a> {
    label: String,
    /// From the BEGIN line to the END line, both included; `None` without an END line.
    text: Option<&'a [u8]>,
    /// Has an OpenSSL `Proc-Type: 4,ENCRYPTED` header (the legacy encrypted PEM format).
    legacy_encrypted: bool,
}

/// The blocks of `pem` by their BEGIN lines (whatever the label, unlike rustls's reader
/// which skips the labels it does not know).
fn pem_blocks(pem: &[u8]) -> Vec<PemBlock<'_>> {
    let mut blocks: Vec<PemBlock<'_>> = Vec::new();
    let mut open: Option<usize> = None; // the index of the block without END yet
    let mut begin = 0;
    let mut pos = 0;
    for line in pem.split_inclusive(|&b| b == b'\n') {
        let start = pos;
        pos += line.len();
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if let Some(label) = text
            .strip_prefix("-----BEGIN ")
            .and_then(|t| t.strip_suffix("-----"))
        {
            blocks.push(PemBlock {
                label: label.to_owned(),
                text: None,
                legacy_encrypted: false,
            });
            open = Some(blocks.len() - 1);
            begin = start;
        } else if let Some(i) = open {
            let block = &mut blocks[i];
            if text
                .strip_prefix("-----END ")
                .and_then(|t| t.strip_suffix("-----"))
                == Some(block.label.as_str())
            {
                block.text = Some(&pem[begin..pos]);
                open = None;
            } else if text.starts_with("Proc-Type:") && text.contains("ENCRYPTED") {
                block.legacy_encrypted = true;
            }
        }
    }
    blocks
}

/// Reads the client's private key: any format rustls reads, or an encrypted PKCS#8 key
/// decrypted with `passphrase`. Every refusal says what was expected and what was found.
pub(crate) fn read_client_key(
    key_pem: &[u8],
    passphrase: Option<&[u8]>,
) -> Result<PrivateKeyDer<'static>, Error> {
    let blocks = pem_blocks(key_pem);
    if let Some(block) = blocks.iter().find(|b| b.legacy_encrypted) {
        return Err(Error::Tls(format!(
            "the client key is encrypted in the legacy OpenSSL format (a \
             \"-----BEGIN {}-----\" block with \"Proc-Type: 4,ENCRYPTED\"), which this client \
             cannot decrypt; {REENCRYPT}",
            block.label
        )));
    }
    match PrivateKeyDer::from_pem_slice(key_pem) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => match blocks.iter().find(|b| b.label == ENCRYPTED_LABEL) {
            Some(block) => match passphrase {
                None => Err(Error::Tls(format!(
                    "the client key is encrypted (\"-----BEGIN {ENCRYPTED_LABEL}-----\"): give \
                     its passphrase with TlsOptions::with_client_identity_pem_encrypted(cert_pem, \
                     key_pem, passphrase)"
                ))),
                Some(passphrase) => decrypt_key(block.text.unwrap_or_default(), passphrase),
            },
            None => Err(Error::Tls(format!(
                "the client key PEM holds no private key: expected {KEY_FORMATS}; found {}",
                describe_found(&blocks, key_pem)
            ))),
        },
        Err(e) => Err(Error::Tls(format!(
            "cannot read the client key PEM ({e}); expected {KEY_FORMATS}"
        ))),
    }
}

/// What a key PEM without a usable key holds, for the error message.
fn describe_found(blocks: &[PemBlock<'_>], pem: &[u8]) -> String {
    if pem.iter().all(u8::is_ascii_whitespace) {
        return "nothing: the key PEM is empty".into();
    }
    if blocks.is_empty() {
        return if pem.first() == Some(&0x30) {
            "binary data that looks like DER, not PEM: convert it with \
             `openssl pkey -inform DER -in key.der -out key.pem`"
                .into()
        } else {
            "no PEM block (no \"-----BEGIN ...-----\" line)".into()
        };
    }
    let mut labels: Vec<&str> = Vec::new();
    for b in blocks {
        if !labels.contains(&b.label.as_str()) {
            labels.push(&b.label);
        }
    }
    let list = labels
        .iter()
        .map(|l| format!("\"-----BEGIN {l}-----\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut found = format!("only {list}");
    if labels.iter().any(|l| l.ends_with("CERTIFICATE")) {
        found.push_str(" (a certificate is not its key: give the key's own PEM)");
    }
    if labels.iter().any(|l| l.ends_with("PUBLIC KEY")) {
        found.push_str(" (a public key: the private key is needed)");
    }
    if labels.contains(&"OPENSSH PRIVATE KEY") {
        found.push_str(
            " (an OpenSSH key: convert a copy with `ssh-keygen -p -m PKCS8 -f <copy of the key>`)",
        );
    }
    found
}

/// Decrypts the encrypted PKCS#8 key in the PEM block `text`.
fn decrypt_key(text: &[u8], passphrase: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    let (_, der) = pkcs8::der::pem::decode_vec(text).map_err(|e| {
        Error::Tls(format!(
            "the encrypted client key PEM is damaged (cannot decode its base64: {e})"
        ))
    })?;
    let unreadable = |e: pkcs8::Error| match scheme_description(&der) {
        Some(scheme) => unsupported_scheme(&scheme),
        None => Error::Tls(format!(
            "the encrypted client key is not an encrypted PKCS#8 structure ({e}); expected \
             {KEY_FORMATS}"
        )),
    };
    let info = EncryptedPrivateKeyInfoRef::try_from(der.as_slice()).map_err(unreadable)?;
    let wrong = || {
        Error::Tls(
            "the passphrase of the encrypted client key is wrong: the key cannot be decrypted \
             with it (check the passphrase given to \
             TlsOptions::with_client_identity_pem_encrypted)"
                .into(),
        )
    };
    let decrypted = info.decrypt(passphrase).map_err(|e| match e {
        // A wrong key shows as bad padding (CBC), a bad tag (GCM) or, rarely, as
        // padding that happens to pass and a plaintext that is not DER.
        pkcs8::Error::EncryptedPrivateKey(pkcs5::Error::DecryptFailed) | pkcs8::Error::Asn1(_) => {
            wrong()
        }
        pkcs8::Error::EncryptedPrivateKey(pkcs5::Error::UnsupportedAlgorithm { oid }) => {
            unsupported_scheme(&algorithm_name(&oid))
        }
        pkcs8::Error::EncryptedPrivateKey(pkcs5::Error::NoPbes1CryptSupport) => {
            unsupported_scheme(&algorithm_name(&info.encryption_algorithm.oid()))
        }
        other => Error::Tls(format!(
            "the encrypted client key cannot be decrypted ({other}); {REENCRYPT}"
        )),
    })?;
    // The plaintext must be a private key, or the passphrase was not the right one.
    PrivateKeyInfoRef::try_from(decrypted.as_bytes()).map_err(|_| wrong())?;
    Ok(PrivateKeyDer::Pkcs8(decrypted.as_bytes().to_vec().into()))
}

/// The PBES2 scheme's object identifier.
const PBES2: &str = "1.2.840.113549.1.5.13";

/// Names the encryption scheme of an `EncryptedPrivateKeyInfo` the pkcs8 crate cannot
/// parse (a PKCS#12 scheme, or PBES2 with a cipher it does not know, for example).
fn scheme_description(der: &[u8]) -> Option<String> {
    let mut reader = SliceReader::new(der).ok()?;
    let algorithm = reader
        .sequence(|r| {
            let algorithm: AlgorithmIdentifierRef<'_> = r.decode()?;
            r.tlv_bytes()?;
            Ok::<_, pkcs8::der::Error>(algorithm)
        })
        .ok()?;
    if algorithm.oid.to_string() != PBES2 {
        return Some(algorithm_name(&algorithm.oid));
    }
    // PBES2-params ::= SEQUENCE { keyDerivationFunc, encryptionScheme }
    let inner = algorithm
        .parameters
        .and_then(|p| {
            p.sequence(|r| {
                let kdf: AlgorithmIdentifierRef<'_> = r.decode()?;
                let cipher: AlgorithmIdentifierRef<'_> = r.decode()?;
                Ok::<_, pkcs8::der::Error>((kdf.oid, cipher.oid))
            })
            .ok()
        })
        .map_or_else(
            || "unreadable parameters".to_owned(),
            |(kdf, cipher)| format!("{} and {}", algorithm_name(&kdf), algorithm_name(&cipher)),
        );
    Some(format!("PBES2 with {inner}"))
}

/// A readable name for the password-based encryption algorithms a key may use.
fn algorithm_name(oid: &ObjectIdentifier) -> String {
    let dotted = oid.to_string();
    match dotted.as_str() {
        "1.2.840.113549.1.5.12" => "PBKDF2".to_owned(),
        "1.3.6.1.4.1.11591.4.11" => "scrypt".to_owned(),
        "1.2.840.113549.2.7" => "PBKDF2 with HMAC-SHA1".to_owned(),
        "1.2.840.113549.3.7" => "DES-EDE3-CBC (triple DES)".to_owned(),
        "1.3.14.3.2.7" => "DES-CBC".to_owned(),
        "1.2.840.113549.3.2" => "RC2-CBC".to_owned(),
        "2.16.840.1.101.3.4.1.2" => "AES-128-CBC".to_owned(),
        "2.16.840.1.101.3.4.1.22" => "AES-192-CBC".to_owned(),
        "2.16.840.1.101.3.4.1.42" => "AES-256-CBC".to_owned(),
        PBES2 => "PBES2".to_owned(),
        d if d.starts_with("1.2.840.113549.1.5.") => format!("the PKCS#5 v1 scheme {d} (PBES1)"),
        d if d.starts_with("1.2.840.113549.1.12.1.") => {
            format!("the PKCS#12 password-based scheme {d}")
        }
        d => format!("the algorithm {d}"),
    }
}

/// The refusal of an encryption scheme this client cannot decrypt, naming it.
fn unsupported_scheme(scheme: &str) -> Error {
    Error::Tls(format!(
        "the encrypted client key uses {scheme}, which this client cannot decrypt (it decrypts \
         PBES2 with PBKDF2-HMAC-SHA-2 or scrypt, and AES-CBC or AES-GCM); {REENCRYPT}"
    ))
}
