//! TLS settings of the query tools' HTTPS client: the system's trusted roots (through
//! rustls-native-certs, which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`), plus a private CA
//! from `--ca-cert FILE`, or no certificate check at all with `--insecure` (as `curl -k`).

use std::path::Path;
use std::sync::{Arc, OnceLock};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{ring as provider, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_rustls::TlsConnector;

/// What HTTPS connections trust; the client configuration is built at first use, so that a
/// run without `https://` URLs never reads the system's certificates.
pub struct TlsSettings {
    extra_roots: Vec<CertificateDer<'static>>,
    insecure: bool,
    connector: OnceLock<TlsConnector>,
}

impl TlsSettings {
    /// Trust the system roots, plus the certificates in `ca_cert` (PEM) when given; or nothing
    /// checked when `insecure`. The error names the file and says what is wrong with it.
    pub fn new(ca_cert: Option<&Path>, insecure: bool) -> Result<TlsSettings, String> {
        let mut extra_roots = Vec::new();
        if let Some(path) = ca_cert {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                extra_roots.push(cert.map_err(|e| format!("{}: {e}", path.display()))?);
            }
            if extra_roots.is_empty() {
                return Err(format!(
                    "{}: no PEM certificate in the file",
                    path.display()
                ));
            }
        }
        Ok(TlsSettings {
            extra_roots,
            insecure,
            connector: OnceLock::new(),
        })
    }

    /// The connector, built at first call.
    pub fn connector(&self) -> TlsConnector {
        self.connector.get_or_init(|| self.build()).clone()
    }

    fn build(&self) -> TlsConnector {
        let crypto = Arc::new(provider::default_provider());
        let builder = ClientConfig::builder_with_provider(crypto.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions");
        let config = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoCheck(crypto)))
                .with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            // Unreadable or unparsable system certificates are skipped, as curl does.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            roots.add_parsable_certificates(self.extra_roots.iter().cloned());
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        TlsConnector::from(Arc::new(config))
    }
}

/// The `--insecure` verifier: any certificate, any name; signatures still checked so that the
/// handshake itself is sound.
#[derive(Debug)]
struct NoCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
