//! HTTPS: the `[TLS]` certificate and key, and the rustls configuration that serves them.
//!
//! The certificate lives in a [`CertStore`] that every new handshake asks for it
//! (`ResolvesServerCert`). [`CertStore::reload`] re-reads the files and swaps the certificate in
//! one step, so a renewed certificate (certbot renews in place) is used by new connections while
//! connections already open carry on with the one they started with. A file that does not load
//! leaves the current certificate in place.
//!
//! Errors are [`TlsError`]: they name the file and say what is wrong with it.

use parking_lot::RwLock;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls::crypto::ring as provider;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};

/// A certificate or key file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {what}", path.display())]
pub struct TlsError {
    /// The file at fault.
    pub path: PathBuf,
    /// What is wrong with it.
    pub what: String,
}

impl TlsError {
    fn new(path: &Path, what: impl Into<String>) -> TlsError {
        TlsError {
            path: path.to_owned(),
            what: what.into(),
        }
    }
}

/// Reads the PEM certificate chain at `cert` and the PEM private key at `key`, and checks that
/// the key belongs to the first certificate.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path).map_err(|e| TlsError::new(path, format!("cannot read the {what}: {e}")))
    };
    let cert_pem = read(cert, "certificate chain ([TLS] cert)")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::new(cert, format!("not a PEM certificate chain: {}", why(&e))))?;
    if chain.is_empty() {
        return Err(TlsError::new(
            cert,
            "no certificate in it (expected PEM: -----BEGIN CERTIFICATE-----)",
        ));
    }
    let key_pem = read(key, "private key ([TLS] key)")?;
    let der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::new(
            key,
            "no private key in it (expected PEM: -----BEGIN PRIVATE KEY-----, \
             -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)",
        ),
        e => TlsError::new(key, format!("not a PEM private key: {}", why(&e))),
    })?;
    let signing = provider::sign::any_supported_type(&der)
        .map_err(|e| TlsError::new(key, format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(TlsError::new(
                key,
                format!(
                    "this private key does not belong to the first certificate of {}",
                    cert.display()
                ),
            ))
        }
        Err(e) => {
            return Err(TlsError::new(
                cert,
                format!("the first certificate does not parse: {e}"),
            ))
        }
    }
    Ok(Arc::new(certified))
}

/// A PEM error in words.
fn why(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a section has no -----END line".into(),
        pem::Error::IllegalSectionStart { .. } => "a -----BEGIN line is malformed".into(),
        pem::Error::Base64Decode(e) => format!("bad base64 ({e})"),
        e => e.to_string(),
    }
}

/// The certificate new handshakes get; replaced by [`CertStore::reload`].
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertStore {
    /// A store serving the certificate at `cert` with the key at `key`.
    pub fn load(cert: &Path, key: &Path) -> Result<CertStore, TlsError> {
        Ok(CertStore {
            current: RwLock::new(load(cert, key)?),
        })
    }

    /// Re-reads `cert` and `key` (even when the paths are unchanged: certificates are renewed
    /// in place); when they load, new handshakes get them, otherwise nothing changes.
    pub fn reload(&self, cert: &Path, key: &Path) -> Result<(), TlsError> {
        let fresh = load(cert, key)?;
        *self.current.write() = fresh;
        Ok(())
    }

    /// The certificate chain served now (DER, server certificate first).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current.read().cert.clone()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.current.read()))
    }
}

/// The rustls server configuration: TLS 1.2 and 1.3 with ring's safe defaults, no client
/// certificates, the certificate from `store` at each handshake, and ALPN `http/1.1` (the
/// server speaks HTTP/1.1 only).
pub fn server_config(store: Arc<CertStore>) -> Arc<ServerConfig> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for localhost: (cert PEM, key PEM, cert DER).
    fn self_signed() -> (String, String, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn tls_loads_a_matching_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, der) = self_signed();
        let c = write(dir.path(), "cert.pem", &cert);
        let k = write(dir.path(), "key.pem", &key);
        let store = CertStore::load(&c, &k).unwrap();
        assert_eq!(store.chain()[0].as_ref(), der.as_slice());
        // A single file holding both works as cert and as key.
        let both = write(dir.path(), "both.pem", &format!("{cert}{key}"));
        assert!(load(&both, &both).is_ok());
    }

    #[test]
    fn tls_errors_name_the_file_and_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, _) = self_signed();
        let (_, other_key, _) = self_signed();
        let c = write(dir.path(), "cert.pem", &cert);
        let k = write(dir.path(), "key.pem", &key);
        let missing = dir.path().join("missing.pem");
        let err = |c: &Path, k: &Path| load(c, k).unwrap_err().to_string();

        let e = err(&missing, &k);
        assert!(
            e.starts_with(&format!("{}: cannot read", missing.display())),
            "{e}"
        );
        let e = err(&c, &missing);
        assert!(
            e.contains("missing.pem: cannot read the private key"),
            "{e}"
        );
        let junk = write(dir.path(), "junk.pem", "not a certificate\n");
        let e = err(&junk, &k);
        assert!(e.contains("junk.pem: no certificate in it"), "{e}");
        let e = err(&c, &junk);
        assert!(e.contains("junk.pem: no private key in it"), "{e}");
        let cut = write(dir.path(), "cut.pem", &cert[..cert.len() / 2]);
        let e = err(&cut, &k);
        assert!(e.contains("cut.pem: not a PEM certificate chain"), "{e}");
        // cert and key swapped: the key file has no key, the cert file no certificate.
        let e = err(&k, &c);
        assert!(e.contains("key.pem: no certificate in it"), "{e}");
        let wrong = write(dir.path(), "other-key.pem", &other_key);
        let e = err(&c, &wrong);
        assert!(
            e.contains("other-key.pem: this private key does not belong to")
                && e.contains("cert.pem"),
            "{e}"
        );
        let garbage = write(
            dir.path(),
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let e = err(&garbage, &k);
        assert!(
            e.contains("garbage.pem: the first certificate does not parse"),
            "{e}"
        );
    }

    #[test]
    fn tls_reload_swaps_or_keeps_the_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, first) = self_signed();
        let c = write(dir.path(), "cert.pem", &cert);
        let k = write(dir.path(), "key.pem", &key);
        let store = CertStore::load(&c, &k).unwrap();
        let (cert2, key2, second) = self_signed();
        // Renewed in place: the same paths, new contents.
        write(dir.path(), "cert.pem", &cert2);
        write(dir.path(), "key.pem", &key2);
        store.reload(&c, &k).unwrap();
        assert_eq!(store.chain()[0].as_ref(), second.as_slice());
        assert_ne!(first, second);
        // Half-renewed (new key, old cert): refused, the running certificate stays.
        write(dir.path(), "key.pem", &key);
        assert!(store.reload(&c, &k).is_err());
        assert_eq!(store.chain()[0].as_ref(), second.as_slice());
    }

    #[test]
    fn tls_server_config_offers_http_1_1() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, _) = self_signed();
        let c = write(dir.path(), "cert.pem", &cert);
        let k = write(dir.path(), "key.pem", &key);
        let config = server_config(Arc::new(CertStore::load(&c, &k).unwrap()));
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
