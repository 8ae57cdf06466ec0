//! Web UI helpers: raw HTTP requests with any method and body, and a logged-in browser session
//! (cookie jar of one cookie) obtained through the real login form.
#![allow(dead_code)]

use super::{connect, parse_response, Resp, Tracker};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The password the web tests configure.
pub const PASSWORD: &str = "correct horse battery staple";

/// Starts a tracker with the web UI enabled (user `admin`, [`PASSWORD`]), changed by `tweak`.
pub async fn start(tweak: impl FnOnce(&mut retracker::config::Config)) -> Tracker {
    Tracker::start(|c| {
        c.stats.access_username = "admin".into();
        c.stats.access_password = PASSWORD.into();
        tweak(c);
    })
    .await
}

/// [`start`] on a manual clock the test moves ([`Tracker::start_manual`]).
pub async fn start_manual(tweak: impl FnOnce(&mut retracker::config::Config)) -> Tracker {
    Tracker::start_manual(|c| {
        c.stats.access_username = "admin".into();
        c.stats.access_password = PASSWORD.into();
        tweak(c);
    })
    .await
}

/// Sends `method target` with `headers` and `body` (a form when not empty) and reads the answer.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut stream = connect(addr, None).await;
    let mut all = vec![("Connection", "close")];
    all.extend_from_slice(headers);
    let req = format_request(method, target, &addr.to_string(), &all, body);
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut raw),
    )
    .await
    .expect("answer within 20 s")
    .unwrap();
    parse_response(&raw).0
}

/// The text of one HTTP/1.1 request; a POST body is sent as a form.
pub fn format_request(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    req
}

/// The value of `name=` in the response's `Set-Cookie` headers.
pub fn set_cookie(r: &Resp, name: &str) -> Option<String> {
    r.headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .filter_map(|(_, v)| {
            v.split(';')
                .next()?
                .trim()
                .strip_prefix(&format!("{name}="))
        })
        .map(str::to_owned)
        .next()
}

/// The value of the first hidden `csrf` input of an HTML page.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_owned())
}

/// An `Authorization` header value for HTTP basic auth.
pub fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {b64}")
}

/// Percent-encodes a form value.
pub fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A browser that logged in through the form.
pub struct Browser {
    /// Where the UI is served.
    pub addr: SocketAddr,
    /// `retracker_session=...`.
    pub cookie: String,
}

impl Browser {
    /// Logs in as `admin` with [`PASSWORD`] through GET and POST `/login`.
    pub async fn login(addr: SocketAddr) -> Browser {
        Self::try_login(addr, "admin", PASSWORD)
            .await
            .expect("login succeeds")
    }

    /// Logs in with these credentials; the failed response if they are refused.
    pub async fn try_login(addr: SocketAddr, user: &str, pass: &str) -> Result<Browser, Resp> {
        let form = request(addr, "GET", "/login", &[], "").await;
        assert_eq!(form.status, 200);
        let login_cookie = set_cookie(&form, "retracker_login").expect("login cookie");
        let csrf = csrf_in(&String::from_utf8_lossy(&form.body)).expect("csrf field");
        let body = format!(
            "csrf={csrf}&username={}&password={}&next=%2Fstat",
            enc(user),
            enc(pass)
        );
        let cookie = format!("retracker_login={login_cookie}");
        let r = request(addr, "POST", "/login", &[("Cookie", &cookie)], &body).await;
        match (r.status, set_cookie(&r, "retracker_session")) {
            (303, Some(session)) => Ok(Browser {
                addr,
                cookie: format!("retracker_session={session}"),
            }),
            _ => Err(r),
        }
    }

    /// GET with the session cookie.
    pub async fn get(&self, target: &str) -> Resp {
        request(self.addr, "GET", target, &[("Cookie", &self.cookie)], "").await
    }

    /// GET a page and return its HTML, expecting 200.
    pub async fn page(&self, target: &str) -> String {
        let r = self.get(target).await;
        assert_eq!(
            r.status,
            200,
            "{target}: {}",
            String::from_utf8_lossy(&r.body)
        );
        String::from_utf8(r.body).unwrap()
    }

    /// POST a form with the session cookie (the caller includes `csrf=` if it wants one).
    pub async fn post(&self, target: &str, form: &str) -> Resp {
        request(self.addr, "POST", target, &[("Cookie", &self.cookie)], form).await
    }
}
