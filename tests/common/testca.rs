//! A test CA and a `localhost` certificate it signed, written as PEM files, for the tests that
//! start an HTTPS listener and point a client at it with `--ca-cert`.

use retracker::config::Config;
use retracker::server::Listeners;
use std::path::{Path, PathBuf};
use tokio::net::TcpListener;

/// The PEM files [`write`] made.
pub struct Files {
    /// The server's chain: the leaf, then the CA.
    pub cert: PathBuf,
    /// The leaf's private key.
    pub key: PathBuf,
    /// The CA certificate alone (what a client trusts).
    pub ca: PathBuf,
}

/// Makes a CA and a certificate for `localhost`, and writes them into `dir`.
pub fn write(dir: &Path) -> Files {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "retracker test CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    let files = Files {
        cert: dir.join("c.pem"),
        key: dir.join("k.pem"),
        ca: dir.join("ca.pem"),
    };
    std::fs::write(&files.cert, format!("{}{}", leaf.pem(), ca.pem())).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    std::fs::write(&files.ca, ca.pem()).unwrap();
    files
}

/// Sets `config` up for HTTPS with `files`, and binds one HTTP and one HTTPS listener on
/// 127.0.0.1 for [`super::Tracker::start_with`].
pub async fn https_listeners(config: &mut Config, files: &Files) -> Listeners {
    config.tls.cert = Some(files.cert.clone());
    config.tls.key = Some(files.key.clone());
    config.tls.port = 0;
    Listeners {
        tracker: vec![TcpListener::bind("127.0.0.1:0").await.unwrap()],
        https: vec![TcpListener::bind("127.0.0.1:0").await.unwrap()],
        ..Default::default()
    }
}
