//! HTTPS as an operator sets it up: a certificate from a (test) CA, the tracker and the web UI
//! over TLS, the redirect from plain HTTP, the certificate renewed and reloaded without dropping
//! connections, and what a bad certificate does at start and at reload.
//!
//! Every certificate is made here with rcgen; the client is rustls with the test CA as its only
//! root, so a handshake succeeds only with the certificate the test expects.

mod common;

use common::web::{csrf_in, enc, set_cookie, PASSWORD};
use common::{parse_response, query, Resp, Tracker};
use retracker::server::Listeners;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, RootCertStore};
use tokio_rustls::TlsConnector;

/// A test certificate authority.
struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// A server certificate issued by a [`Ca`].
struct Issued {
    /// Certificate then CA certificate, as certbot's fullchain.pem.
    chain_pem: String,
    /// The private key.
    key_pem: String,
    /// The server certificate, as a client receives it.
    der: CertificateDer<'static>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// The CA certificate, as a client's trust root.
    fn root(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// A certificate for `localhost` and 127.0.0.1 with serial number `serial`.
    fn issue(&self, serial: u64) -> Issued {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params.serial_number = Some(serial.into());
        params.use_authority_key_identifier_extension = true;
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued {
            chain_pem: format!("{}{}", cert.pem(), self.cert.pem()),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

/// Where the tracker's certificate and key files are.
struct Files {
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn in_dir(dir: &Path) -> Files {
        Files {
            cert: dir.join("fullchain.pem"),
            key: dir.join("privkey.pem"),
        }
    }

    /// Writes `issued` in place, as certbot renews.
    fn write(&self, issued: &Issued) {
        std::fs::write(&self.cert, &issued.chain_pem).unwrap();
        std::fs::write(&self.key, &issued.key_pem).unwrap();
    }
}

/// Starts a tracker with the web UI (admin / [`PASSWORD`]) on an HTTP and an HTTPS listener,
/// serving `issued`, with the config changed by `tweak`. Gives the tracker and its config.
async fn start(
    issued: &Issued,
    tweak: impl FnOnce(&mut retracker::config::Config),
) -> (Tracker, retracker::config::Config, Files) {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::in_dir(dir.path());
    files.write(issued);
    let mut config = common::config_in(dir.path());
    config.stats.access_username = "admin".into();
    config.stats.access_password = PASSWORD.into();
    config.tls.cert = Some(files.cert.clone());
    config.tls.key = Some(files.key.clone());
    config.tls.port = 0;
    tweak(&mut config);
    let listeners = Listeners {
        tracker: vec![TcpListener::bind("127.0.0.1:0").await.unwrap()],
        https: vec![TcpListener::bind("127.0.0.1:0").await.unwrap()],
        ..Default::default()
    };
    let t = Tracker::start_with(dir, config.clone(), listeners).await;
    (t, config, files)
}

/// A TLS connection to `addr` as `name`, trusting only `roots`.
async fn connect_as(
    addr: SocketAddr,
    name: &str,
    roots: &[CertificateDer<'static>],
) -> std::io::Result<TlsStream<TcpStream>> {
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .expect("handshake within 10 s")
}

/// A TLS connection to `addr` as `localhost`, trusting only `root`.
async fn connect(addr: SocketAddr, root: &CertificateDer<'static>) -> TlsStream<TcpStream> {
    connect_as(addr, "localhost", std::slice::from_ref(root))
        .await
        .expect("TLS handshake")
}

/// The certificate the server presented on `stream`.
fn served(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// Sends one request on `stream`, leaving the connection open (keep-alive), and reads exactly
/// one response.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let req = common::web::format_request(method, target, "localhost", headers, body);
    stream.write_all(req.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let mut raw = Vec::new();
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if raw.len() >= end + 4 + len {
                return parse_response(&raw).0;
            }
        }
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut chunk))
            .await
            .expect("answer within 20 s")
            .unwrap();
        assert!(n > 0, "closed before a full response: {raw:?}");
        raw.extend_from_slice(&chunk[..n]);
    }
}

/// One request over a new TLS connection trusting only `root`.
async fn https(
    addr: SocketAddr,
    root: &CertificateDer<'static>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut s = connect(addr, root).await;
    exchange(&mut s, method, target, headers, body).await
}

/// The `Set-Cookie` header line for cookie `name`.
fn cookie_line<'a>(r: &'a Resp, name: &str) -> &'a str {
    r.headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with(&format!("{name}=")))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", r.headers))
}

/// A bencoded announce answer without a failure reason.
fn assert_announced(r: &Resp) {
    assert_eq!(r.status, 200);
    let d = r.dict();
    assert!(
        d.get("failure reason").is_none(),
        "{:?}",
        d.str("failure reason")
    );
    assert!(d.get("interval").is_some(), "{d:?}");
}

#[tokio::test]
async fn announce_and_scrape_over_https() {
    let ca = Ca::new("retracker test CA");
    let issued = ca.issue(1);
    let (t, _, _) = start(&issued, |_| {}).await;
    let https_addr = t.https[0];
    let hash = *b"https-test-hash-0001";

    let mut s = connect(https_addr, &ca.root()).await;
    assert_eq!(served(&s), issued.der);
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let q = query(&hash, 1, 6881, 0, "");
    let r = exchange(&mut s, "GET", &format!("/announce?{q}"), &[], "").await;
    assert_announced(&r);
    // The same connection serves a second request: a seeder's scrape.
    let r = exchange(
        &mut s,
        "GET",
        &format!("/scrape?info_hash={}", common::pct(&hash)),
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    let files = r.dict().dict("files");
    assert_eq!(
        files
            .dict(std::str::from_utf8(&hash).unwrap())
            .int("complete"),
        1
    );

    // The certificate names 127.0.0.1 too; a client asking for that name also gets in.
    let mut by_ip = connect_as(https_addr, "127.0.0.1", &[ca.root()])
        .await
        .unwrap();
    let q = query(&hash, 2, 6882, 10, "");
    let r = exchange(&mut by_ip, "GET", &format!("/announce?{q}"), &[], "").await;
    assert_announced(&r);
    assert_eq!(r.dict().peers4().len(), 1, "sees the seeder");

    // A client that trusts another CA refuses the certificate: verification is real.
    let stranger = Ca::new("someone else's CA");
    assert!(connect_as(https_addr, "localhost", &[stranger.root()])
        .await
        .is_err());
    // Plain HTTP still serves the tracker.
    assert_announced(
        &t.get(&format!("/announce?{}", query(&hash, 3, 6883, 10, "")))
            .await,
    );
}

#[tokio::test]
async fn web_login_over_https_sets_secure_cookies() {
    let ca = Ca::new("retracker test CA");
    let issued = ca.issue(1);
    let (t, _, _) = start(&issued, |_| {}).await;
    let (addr, root) = (t.https[0], ca.root());

    let form = https(addr, &root, "GET", "/login", &[], "").await;
    assert_eq!(form.status, 200);
    let line = cookie_line(&form, "retracker_login");
    assert!(line.contains("; Secure"), "{line}");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Strict"),
        "{line}"
    );
    let login = set_cookie(&form, "retracker_login").unwrap();
    let csrf = csrf_in(&String::from_utf8_lossy(&form.body)).unwrap();
    let r = https(
        addr,
        &root,
        "POST",
        "/login",
        &[("Cookie", &format!("retracker_login={login}"))],
        &format!(
            "csrf={csrf}&username=admin&password={}&next=%2Fstat",
            enc(PASSWORD)
        ),
    )
    .await;
    assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("location"), Some("/stat"));
    let line = cookie_line(&r, "retracker_session");
    assert!(
        line.contains("; Secure") && line.contains("HttpOnly"),
        "{line}"
    );
    let session = set_cookie(&r, "retracker_session").unwrap();
    let cookie = format!("retracker_session={session}");

    let page = https(addr, &root, "GET", "/stat", &[("Cookie", &cookie)], "").await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("admin"));
    // Metrics are served over HTTPS as on the tracker port (loopback may read them).
    let metrics = https(addr, &root, "GET", "/metrics", &[], "").await;
    assert_eq!(metrics.status, 200);

    // Plain HTTP (no redirect configured) still works, and its cookies are not Secure: a
    // browser would drop a Secure cookie set over http.
    let form = common::web::request(t.addr, "GET", "/login", &[], "").await;
    let line = cookie_line(&form, "retracker_login");
    assert!(!line.contains("Secure"), "{line}");
}

#[tokio::test]
async fn plain_http_redirects_the_web_ui_but_never_the_tracker() {
    let ca = Ca::new("retracker test CA");
    let issued = ca.issue(1);
    let (t, _, _) = start(&issued, |c| c.tls.redirect_http = true).await;
    let port = t.https[0].port();
    let plain = |method: &'static str, target: &'static str, host: &'static str| {
        let addr = t.addr;
        async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
            if method == "POST" {
                req.push_str("Content-Length: 0\r\n");
            }
            req.push_str("Connection: close\r\n\r\n");
            s.write_all(req.as_bytes()).await.unwrap();
            let mut raw = Vec::new();
            tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
                .await
                .unwrap()
                .unwrap();
            parse_response(&raw).0
        }
    };

    let r = plain("GET", "/stat?page=2", "127.0.0.1:8080").await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some(format!("https://127.0.0.1:{port}/stat?page=2").as_str())
    );
    let r = plain("GET", "/login", "tracker.lan").await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some(format!("https://tracker.lan:{port}/login").as_str())
    );
    let r = plain("GET", "/api/stats", "[::1]:8080").await;
    assert_eq!(
        r.header("location"),
        Some(format!("https://[::1]:{port}/api/stats").as_str())
    );
    // A form keeps its method: 308, not 301.
    let r = plain("POST", "/login", "localhost:8080").await;
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location"),
        Some(format!("https://localhost:{port}/login").as_str())
    );
    // No usable Host: nothing to redirect to, and no password form over plain HTTP either.
    let r = plain("GET", "/login", "bad host\"").await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));

    // Tracker requests are answered where they are asked: clients do not follow redirects.
    let hash = *b"redirect-test-hash-1";
    let r = t
        .get(&format!("/announce?{}", query(&hash, 1, 6881, 0, "")))
        .await;
    assert_announced(&r);
    assert_eq!(t.get("/scrape").await.status, 200);
    // Nor is /metrics (Prometheus scrapes the address it is configured with).
    assert_eq!(t.get("/metrics").await.status, 200);

    // The redirect target answers over HTTPS, without redirecting again.
    let r = https(t.https[0], &ca.root(), "GET", "/stat?page=2", &[], "").await;
    assert_eq!(r.status, 303);
    assert!(r.header("location").unwrap().starts_with("/login"), "{r:?}");
    let r = https(t.https[0], &ca.root(), "GET", "/login", &[], "").await;
    assert_eq!(r.status, 200);
}

/// Log lines written while the guard lives, on this thread (`#[tokio::test]` runs the server's
/// tasks on it).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Waits until a line contains `needle`, counting from byte `from`; gives the text.
    async fn wait_for(&self, needle: &str, from: usize) -> String {
        for _ in 0..500 {
            let text = self.text();
            if text[from..].contains(needle) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no {needle:?} in the log: {}", self.text());
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

#[tokio::test]
async fn reload_swaps_the_certificate_without_dropping_connections() {
    let logs = Logs::default();
    let _guard = logs.capture();
    let first_ca = Ca::new("first CA");
    let first = first_ca.issue(1);
    let (t, config, files) = start(&first, |_| {}).await;
    let addr = t.https[0];
    let hash = *b"reload-test-hash-001";

    // A connection opened before the reload.
    let mut old = connect(addr, &first_ca.root()).await;
    assert_eq!(served(&old), first.der);
    let q = query(&hash, 1, 6881, 0, "");
    assert_announced(&exchange(&mut old, "GET", &format!("/announce?{q}"), &[], "").await);

    // Renewed in place by another CA with a new serial number, then SIGHUP (the same config:
    // the paths have not changed, the files have).
    let second_ca = Ca::new("second CA");
    let second = second_ca.issue(2);
    files.write(&second);
    let mark = logs.text().len();
    t.reload(config.clone());
    let text = logs
        .wait_for("reload: HTTPS certificate loaded from", mark)
        .await;
    assert!(text.contains("fullchain.pem"), "{text}");

    let mut new = connect(addr, &second_ca.root()).await;
    assert_eq!(
        served(&new),
        second.der,
        "a new connection gets the new certificate"
    );
    assert_announced(&exchange(&mut new, "GET", &format!("/announce?{q}"), &[], "").await);
    // Only the new certificate is served: a client trusting only the first CA is refused.
    assert!(connect_as(addr, "localhost", &[first_ca.root()])
        .await
        .is_err());
    // The connection from before the reload still works (keep-alive) with its certificate.
    let r = exchange(&mut old, "GET", &format!("/announce?{q}"), &[], "").await;
    assert_announced(&r);
    assert_eq!(served(&old), first.der);

    // A broken renewal: a cut certificate file. The reload is refused and logged, the running
    // certificate stays, and new connections still succeed.
    std::fs::write(&files.cert, &second.chain_pem[..100]).unwrap();
    let mark = logs.text().len();
    t.reload(config.clone());
    let text = logs
        .wait_for("reload: keeping the current HTTPS certificate", mark)
        .await;
    assert!(
        text[mark..].contains("fullchain.pem"),
        "names the file: {text}"
    );
    assert!(
        !text[mark..].contains("reload: HTTPS certificate loaded"),
        "{text}"
    );
    let mut after = connect(addr, &second_ca.root()).await;
    assert_eq!(served(&after), second.der);
    assert_announced(&exchange(&mut after, "GET", &format!("/announce?{q}"), &[], "").await);
    // A key that does not match the certificate is refused the same way.
    files.write(&second);
    std::fs::write(&files.key, first.key_pem.as_bytes()).unwrap();
    let mark = logs.text().len();
    t.reload(config.clone());
    let text = logs
        .wait_for("reload: keeping the current HTTPS certificate", mark)
        .await;
    assert!(text[mark..].contains("does not belong"), "{text}");
    assert_eq!(served(&connect(addr, &second_ca.root()).await), second.der);
    // Both old connections are still open.
    assert_announced(&exchange(&mut old, "GET", &format!("/announce?{q}"), &[], "").await);
    assert_announced(&exchange(&mut new, "GET", &format!("/announce?{q}"), &[], "").await);
    t.stop().await;
}

#[tokio::test]
async fn plain_http_on_the_https_port_is_closed_without_hanging_the_server() {
    let ca = Ca::new("retracker test CA");
    let issued = ca.issue(1);
    let (t, _, _) = start(&issued, |_| {}).await;
    let addr = t.https[0];
    for request in [
        &b"GET /announce HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        &b"\x16\x03\x01\x00\x05hello"[..], // a TLS record header with junk inside
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut raw = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut raw)).await;
        let read = read.expect("the server closes the connection instead of waiting");
        // Closed (EOF, possibly after a TLS alert) or reset: never an HTTP answer.
        if read.is_ok() {
            assert!(!raw.starts_with(b"HTTP/"), "{raw:?}");
        }
    }
    // A client that connects and says nothing holds only its own task: others are served.
    let _silent = TcpStream::connect(addr).await.unwrap();
    let hash = *b"plain-on-tls-hash-01";
    let r = https(
        addr,
        &ca.root(),
        "GET",
        &format!("/announce?{}", query(&hash, 1, 6881, 0, "")),
        &[],
        "",
    )
    .await;
    assert_announced(&r);
    t.stop().await;
}

/// Runs the binary with `ini` as its configuration in a fresh folder; (status, stderr).
fn run_binary(ini: &str, extra: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("retracker.ini");
    std::fs::write(&path, ini.replace("$DIR", dir.path().to_str().unwrap())).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_retracker"))
        .arg("--config")
        .arg(&path)
        .args(extra)
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const BASE_INI: &str = "[TRACKER]\nhost = 127.0.0.1\nport = 0\n[DB]\ntype = memory\n\
                        [LOGGING]\nlog_file =\n[TLS]\nport = 0\n";

#[test]
fn a_missing_certificate_file_exits_2_naming_it() {
    let ini =
        format!("{BASE_INI}cert = $DIR/missing-fullchain.pem\nkey = $DIR/missing-privkey.pem\n");
    let (code, err) = run_binary(&ini, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing-fullchain.pem"), "{err}");
    // --check-config reads the files too, so an operator can check before a reload.
    let (code, err) = run_binary(&ini, &["--check-config"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing-fullchain.pem: cannot read"), "{err}");

    // A certificate without a key is a configuration error naming both keys.
    let (code, err) = run_binary(&format!("{BASE_INI}cert = /etc/ssl/c.pem\n"), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("[TLS] key = \"\"") && err.contains("cert (/etc/ssl/c.pem)"),
        "{err}"
    );
}
