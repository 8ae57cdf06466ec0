//! Web UI authentication: the one account of `[STATS]`, signed session cookies, CSRF tokens,
//! and the per-address limit on failed logins.
//!
//! - The password is plain or an argon2 PHC hash (`retracker hash-password`); plain passwords are
//!   compared in constant time.
//! - A session cookie is `<expiry>.<nonce>.<mac>`: HMAC-SHA256 over expiry and nonce, keyed by
//!   the session secret *and* the account, so changing the user name or password ends every
//!   session. Logout revokes the nonce (kept in the database until it would have expired).
//! - A CSRF token is the HMAC of the session nonce (synchroniser token bound to the session);
//!   the login form, which has no session yet, uses a random cookie and its HMAC (double submit).
//! - Failed logins (form or HTTP basic auth) are counted per client address; past the limit,
//!   attempts are refused for the rest of a 15-minute window, right password or not.
//!
//! Everything here is pure apart from argon2's cost and the in-memory maps; the clock is passed
//! in as Unix seconds.

use crate::config::StatsConfig;
use crate::hex;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "retracker_session";
/// Name of the login form's CSRF cookie.
pub const LOGIN_COOKIE: &str = "retracker_login";
/// Window over which failed logins are counted, seconds.
pub const FAILURE_WINDOW_SECS: u32 = 15 * 60;
/// Addresses remembered by the failed-login limiter; beyond this the oldest windows are dropped.
const LIMITER_CAPACITY: usize = 10_000;
/// Seconds an accepted HTTP basic auth credential is remembered, so scripts do not pay argon2
/// on every request.
const BASIC_CACHE_SECS: u32 = 300;

type HmacSha256 = Hmac<Sha256>;

/// The configured password.
enum Password {
    /// Compared as is, in constant time.
    Plain(String),
    /// An argon2 PHC string, checked with its own parameters.
    Hash(String),
}

/// A signed-in browser session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    /// Random id, also the CSRF token's input.
    pub nonce: [u8; 16],
    /// Unix seconds after which the cookie is refused.
    pub expires: u32,
}

/// Failed logins of one address.
#[derive(Clone, Copy, Debug)]
struct Failures {
    /// Failures in the current window.
    count: u32,
    /// Start of the window, Unix seconds.
    since: u32,
}

/// The account and everything needed to check a request against it.
pub struct Auth {
    /// The `[STATS] access_username`.
    username: String,
    /// The `[STATS] access_password`.
    password: Password,
    /// HMAC key for cookies and tokens (secret + account).
    key: [u8; 32],
    /// How long a session lasts, seconds.
    session_secs: u32,
    /// Failed logins allowed per address and window.
    max_failures: u32,
    /// Logged-out sessions that have not expired yet, nonce → expiry.
    revoked: Mutex<HashMap<[u8; 16], u32>>,
    /// Failed logins per client address.
    failures: Mutex<HashMap<IpAddr, Failures>>,
    /// SHA-256 of accepted basic credentials → Unix seconds until which they are trusted.
    basic_ok: Mutex<HashMap<[u8; 32], u32>>,
}

impl Auth {
    /// The account of `[STATS]`, signing with `secret`; `revoked` are the logged-out sessions
    /// read from the database. `None` when no password is set (the web UI is then disabled).
    pub fn new(cfg: &StatsConfig, secret: &[u8], revoked: Vec<(Vec<u8>, u32)>) -> Option<Auth> {
        if cfg.access_password.is_empty() {
            return None;
        }
        let password = if cfg.access_password.starts_with("$argon2") {
            Password::Hash(cfg.access_password.clone())
        } else {
            Password::Plain(cfg.access_password.clone())
        };
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"retracker session v1\0");
        mac.update(&Sha256::digest(cfg.access_username.as_bytes()));
        mac.update(&Sha256::digest(cfg.access_password.as_bytes()));
        let key = mac.finalize().into_bytes().into();
        let revoked = revoked
            .into_iter()
            .filter_map(|(n, exp)| Some((<[u8; 16]>::try_from(n.as_slice()).ok()?, exp)))
            .collect();
        Some(Auth {
            username: cfg.access_username.clone(),
            password,
            key,
            session_secs: cfg.session_hours.saturating_mul(3600),
            max_failures: cfg.login_attempts,
            revoked: Mutex::new(revoked),
            failures: Mutex::new(HashMap::new()),
            basic_ok: Mutex::new(HashMap::new()),
        })
    }

    /// The account's user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Seconds a session lasts (the cookie's Max-Age).
    pub fn session_secs(&self) -> u32 {
        self.session_secs
    }

    /// True when the password is stored in plain text (worth a warning at start).
    pub fn password_is_plain(&self) -> bool {
        matches!(self.password, Password::Plain(_))
    }

    /// Checks a user name and password. Slow for an argon2 hash (tens of milliseconds): call it
    /// from a blocking thread.
    pub fn verify(&self, username: &str, password: &str) -> bool {
        let user_ok = bool::from(username.as_bytes().ct_eq(self.username.as_bytes()));
        let pass_ok = match &self.password {
            Password::Plain(p) => bool::from(password.as_bytes().ct_eq(p.as_bytes())),
            Password::Hash(phc) => PasswordHash::new(phc).is_ok_and(|h| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            }),
        };
        user_ok & pass_ok
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        for p in parts {
            mac.update(&(p.len() as u32).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// A new session starting `now`, and its cookie value.
    pub fn issue(&self, now: u32) -> (Session, String) {
        let session = Session {
            nonce: rand::random(),
            expires: now.saturating_add(self.session_secs),
        };
        let exp = session.expires.to_string();
        let mac = self.mac(&[b"session", exp.as_bytes(), &session.nonce]);
        let value = format!(
            "{exp}.{}.{}",
            hex::encode(&session.nonce),
            hex::encode(&mac)
        );
        (session, value)
    }

    /// The session a cookie value stands for, if it is genuine, unexpired and not logged out.
    pub fn session(&self, cookie: &str, now: u32) -> Option<Session> {
        let mut parts = cookie.split('.');
        let (exp, nonce, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let nonce: [u8; 16] = hex::decode_array(nonce)?;
        let mac: [u8; 32] = hex::decode_array(mac)?;
        let expected = self.mac(&[b"session", exp.as_bytes(), &nonce]);
        if !bool::from(mac.ct_eq(&expected)) {
            return None;
        }
        let expires: u32 = exp.parse().ok()?;
        if expires <= now || self.revoked.lock().contains_key(&nonce) {
            return None;
        }
        Some(Session { nonce, expires })
    }

    /// Ends `session` (logout); the caller also stores the revocation.
    pub fn revoke(&self, session: &Session, now: u32) {
        let mut revoked = self.revoked.lock();
        revoked.retain(|_, exp| *exp > now);
        revoked.insert(session.nonce, session.expires);
    }

    /// The CSRF token of the forms shown in `session`.
    pub fn csrf_token(&self, session: &Session) -> String {
        hex::encode(&self.mac(&[b"csrf", &session.nonce]))
    }

    /// True when `token` is the CSRF token of `session`.
    pub fn csrf_ok(&self, session: &Session, token: &str) -> bool {
        hex::decode(token)
            .is_some_and(|t| bool::from(t.ct_eq(&self.mac(&[b"csrf", &session.nonce]))))
    }

    /// A login form's CSRF pair: the cookie value and the token for the form.
    pub fn login_csrf(&self) -> (String, String) {
        let seed: [u8; 16] = rand::random();
        (
            hex::encode(&seed),
            hex::encode(&self.mac(&[b"login", &seed])),
        )
    }

    /// True when `token` matches the login cookie `cookie`.
    pub fn login_csrf_ok(&self, cookie: &str, token: &str) -> bool {
        match (hex::decode(cookie), hex::decode(token)) {
            (Some(seed), Some(t)) => bool::from(t.ct_eq(&self.mac(&[b"login", &seed]))),
            _ => false,
        }
    }

    /// `Err(seconds to wait)` while `ip` has used up its failed logins.
    pub fn login_allowed(&self, ip: IpAddr, now: u32) -> Result<(), u32> {
        match self.failures.lock().get(&ip) {
            Some(f) if f.count >= self.max_failures && now < f.since + FAILURE_WINDOW_SECS => {
                Err(f.since + FAILURE_WINDOW_SECS - now)
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed login from `ip`.
    pub fn login_failed(&self, ip: IpAddr, now: u32) {
        let mut map = self.failures.lock();
        if map.len() >= LIMITER_CAPACITY {
            map.retain(|_, f| now < f.since + FAILURE_WINDOW_SECS);
            if map.len() >= LIMITER_CAPACITY {
                // Under a spray from many addresses keep the limiter bounded; the newest
                // offenders are the ones still attacking.
                let oldest = map.values().map(|f| f.since).min().unwrap_or(now);
                map.retain(|_, f| f.since > oldest);
            }
        }
        let f = map.entry(ip).or_insert(Failures {
            count: 0,
            since: now,
        });
        if now >= f.since + FAILURE_WINDOW_SECS {
            *f = Failures {
                count: 0,
                since: now,
            };
        }
        f.count += 1;
    }

    /// Forgets the failures of `ip` after a successful login.
    pub fn login_succeeded(&self, ip: IpAddr) {
        self.failures.lock().remove(&ip);
    }

    /// The user name and password of an `Authorization: Basic` header value.
    pub fn parse_basic(header: &[u8]) -> Option<(String, String)> {
        let text = std::str::from_utf8(header).ok()?;
        let (scheme, b64) = text.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
        let (user, pass) = decoded.split_once(':')?;
        Some((user.to_owned(), pass.to_owned()))
    }

    /// Digest under which accepted basic credentials are remembered.
    pub fn basic_digest(&self, user: &str, pass: &str) -> [u8; 32] {
        self.mac(&[b"basic", user.as_bytes(), pass.as_bytes()])
    }

    /// True when these basic credentials were accepted in the last few minutes.
    pub fn basic_known(&self, digest: &[u8; 32], now: u32) -> bool {
        self.basic_ok
            .lock()
            .get(digest)
            .is_some_and(|&until| now < until)
    }

    /// Remembers accepted basic credentials.
    pub fn basic_accepted(&self, digest: [u8; 32], now: u32) {
        let mut map = self.basic_ok.lock();
        map.retain(|_, until| now < *until);
        if map.len() < 64 {
            map.insert(digest, now + BASIC_CACHE_SECS);
        }
    }
}

/// Session secrets that ship in example configs (the Python retracker's among them): as good as
/// none, since anyone can forge sessions with them.
const KNOWN_SECRETS: &[&str] = &[
    "change-me",
    "changeme",
    "change_me",
    "change-this",
    "secret",
    "secret_key",
    "secret-key",
    "your-secret-key",
    "your_secret_key",
    "dev",
    "development",
    "default",
    "retracker",
];

/// Shortest `[FLASK] secret_key` used as given.
const MIN_SECRET_LEN: usize = 16;

/// Whether `[FLASK] secret_key` can sign sessions: `Err(why not)` when it is empty, a known
/// example value or too short; the caller then uses a random secret kept in the database.
pub fn configured_secret(secret_key: &str) -> Result<&[u8], &'static str> {
    if secret_key.is_empty() {
        Err("it is empty")
    } else if KNOWN_SECRETS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(secret_key))
    {
        Err("it is a well-known example value")
    } else if secret_key.len() < MIN_SECRET_LEN {
        Err("it is shorter than 16 characters")
    } else {
        Ok(secret_key.as_bytes())
    }
}

/// An argon2id PHC string for `password`, with a random salt (`retracker hash-password`).
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes make a valid salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("default argon2 parameters accept any password")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(user: &str, pass: &str) -> StatsConfig {
        StatsConfig {
            access_username: user.into(),
            access_password: pass.into(),
            ..crate::config::Config::default().stats
        }
    }

    fn auth(pass: &str) -> Auth {
        Auth::new(&cfg("admin", pass), b"secret", Vec::new()).unwrap()
    }

    #[test]
    fn no_password_means_no_web_ui() {
        assert!(Auth::new(&cfg("admin", ""), b"s", Vec::new()).is_none());
    }

    #[test]
    fn plain_and_argon2_passwords_verify() {
        let a = auth("pw");
        assert!(a.password_is_plain());
        assert!(a.verify("admin", "pw"));
        assert!(!a.verify("admin", "pw "));
        assert!(!a.verify("Admin", "pw"));
        let phc = hash_password("correct horse");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert_ne!(phc, hash_password("correct horse"), "salted");
        let a = auth(&phc);
        assert!(!a.password_is_plain());
        assert!(a.verify("admin", "correct horse"));
        assert!(!a.verify("admin", "correct horse!"));
        assert!(
            !a.verify("admin", &phc),
            "the hash itself is not the password"
        );
    }

    #[test]
    fn sessions_are_signed_expire_and_can_be_revoked() {
        let a = auth("pw");
        let (s, cookie) = a.issue(1000);
        assert_eq!(s.expires, 1000 + 12 * 3600);
        assert_eq!(a.session(&cookie, 1001), Some(s));
        assert_eq!(a.session(&cookie, s.expires), None, "expired");
        // Any change to the cookie breaks the signature, including a later expiry.
        let later = cookie.replacen(&s.expires.to_string(), &(s.expires + 1).to_string(), 1);
        assert_eq!(a.session(&later, 1001), None);
        let mut flipped = cookie.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            a.session(std::str::from_utf8(&flipped).unwrap(), 1001),
            None
        );
        for junk in ["", "..", "1.2.3.4", "x.y.z", &format!("{cookie}.")] {
            assert_eq!(a.session(junk, 1001), None, "{junk}");
        }
        // Another password (or secret) makes old cookies worthless.
        assert_eq!(auth("pw2").session(&cookie, 1001), None);
        a.revoke(&s, 1002);
        assert_eq!(a.session(&cookie, 1003), None);
        // Revocations read back from the database survive a restart.
        let restarted = Auth::new(
            &cfg("admin", "pw"),
            b"secret",
            vec![(s.nonce.to_vec(), s.expires)],
        )
        .unwrap();
        assert_eq!(restarted.session(&cookie, 1003), None);
        let (_, fresh) = restarted.issue(1003);
        assert!(restarted.session(&fresh, 1004).is_some());
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session_and_the_login_cookie() {
        let a = auth("pw");
        let (s1, _) = a.issue(1);
        let (s2, _) = a.issue(1);
        let t1 = a.csrf_token(&s1);
        assert!(a.csrf_ok(&s1, &t1));
        assert!(!a.csrf_ok(&s2, &t1));
        assert!(!a.csrf_ok(&s1, ""));
        assert!(!a.csrf_ok(&s1, "zz"));
        let (cookie, token) = a.login_csrf();
        assert!(a.login_csrf_ok(&cookie, &token));
        let (other_cookie, _) = a.login_csrf();
        assert!(!a.login_csrf_ok(&other_cookie, &token));
        assert!(!a.login_csrf_ok("", &token));
        assert!(!auth("pw2").login_csrf_ok(&cookie, &token));
    }

    #[test]
    fn failed_logins_are_limited_per_address_for_a_window() {
        let a = auth("pw"); // 5 attempts by default
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..5 {
            assert_eq!(a.login_allowed(ip, 100), Ok(()));
            a.login_failed(ip, 100);
        }
        assert_eq!(a.login_allowed(ip, 160), Err(FAILURE_WINDOW_SECS - 60));
        assert_eq!(a.login_allowed(other, 160), Ok(()));
        assert_eq!(a.login_allowed(ip, 100 + FAILURE_WINDOW_SECS), Ok(()));
        a.login_failed(ip, 100 + FAILURE_WINDOW_SECS);
        assert_eq!(
            a.login_allowed(ip, 101 + FAILURE_WINDOW_SECS),
            Ok(()),
            "new window"
        );
        a.login_succeeded(ip);
        assert!(a.failures.lock().is_empty());
    }

    #[test]
    fn basic_header_parsing() {
        assert_eq!(
            Auth::parse_basic(b"Basic YWRtaW46cDp;"),
            None,
            "invalid base64"
        );
        assert_eq!(
            Auth::parse_basic(b"basic YWRtaW46cDp3"),
            Some(("admin".into(), "p:w".into()))
        );
        assert_eq!(Auth::parse_basic(b"Bearer YWRtaW46cHc="), None);
        assert_eq!(Auth::parse_basic(b"Basic"), None);
    }

    #[test]
    fn weak_secrets_are_replaced() {
        assert_eq!(configured_secret(""), Err("it is empty"));
        assert_eq!(
            configured_secret("Change-Me"),
            Err("it is a well-known example value")
        );
        assert_eq!(
            configured_secret("short"),
            Err("it is shorter than 16 characters")
        );
        assert!(configured_secret("0123456789abcdef").is_ok());
    }

    #[test]
    fn login_tokens_are_strict_hex() {
        let a = auth("pw");
        let seed = [0x0a; 16];
        let token = hex::encode(&a.mac(&[b"login", &seed]));
        assert!(a.login_csrf_ok(&"0a".repeat(16), &token));
        assert!(a.login_csrf_ok(&"0A".repeat(16), &token));
        // u8::from_str_radix reads "+a" as 0x0a: a second spelling of the same cookie.
        for spoiled in ["+a", " a", "a\n"] {
            let cookie = format!("{spoiled}{}", "0a".repeat(15));
            assert!(!a.login_csrf_ok(&cookie, &token), "{cookie:?}");
        }
    }
}
