//! The HTTP tracker adapter: `/announce`, `/scrape` and their `.php` aliases (BEP 3, 7, 23, 24,
//! 31, 48), answered straight from the parts hyper parsed.
//!
//! Like opentracker's `ot_http.c`, this only decodes the query, resolves the client's address
//! (proxy headers from trusted proxies only), calls the core ([`crate::tracker`]) and encodes
//! the answer. Any path whose last segment is `announce` or `scrape` is served
//! (`/abc123/announce` from clients configured with a passkey-like prefix works unchanged); the
//! accept loop (`server/accept.rs`) asks [`serve`] first and sends every other path to the web
//! UI, so tracker paths are matched in this one place. The query is taken raw and decoded to
//! bytes by [`crate::protocol`] (binary `info_hash` values survive). Every refusal becomes HTTP
//! 200 with a bencoded `failure reason` ([`crate::tracker::Refusal`]); other methods get 405.

pub mod announce;
pub mod gzip;
pub mod reply;
pub mod scrape;

use crate::config::Mode;
use crate::logging::Throttle;
use crate::policy::{self, AddressError, ProxyHeaders, Resolved};
use crate::stats::{Event, RequestKind};
use crate::tracker::{Refusal, Settings, Tracker};
use http::{HeaderMap, Method, Response, StatusCode};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

/// The answer to a tracker request: ready at once (every announce and every scrape of given
/// hashes), or after work on the blocking pool (a full scrape, a requested cleanup), which
/// the connection awaits without holding up the async worker.
pub enum Answer {
    /// Answered.
    Ready(Response<Vec<u8>>),
    /// Answered when the future completes.
    Pending(Pin<Box<dyn Future<Output = Response<Vec<u8>>> + Send>>),
}

type Route = fn(&Arc<Tracker>, IpAddr, &HeaderMap, &[u8]) -> Answer;

/// The tracker route of `path`: its last segment is `announce` or `scrape` (or their `.php`
/// forms).
fn route_of(path: &str) -> Option<Route> {
    match path.rsplit('/').next().unwrap_or("") {
        "announce" | "announce.php" => Some(announce::handle),
        "scrape" | "scrape.php" => Some(scrape::handle),
        _ => None,
    }
}

/// Answers a tracker request; `None` when `path` is not a tracker route (the caller then hands
/// the request to the web UI).
pub fn serve(
    tracker: &Arc<Tracker>,
    method: &Method,
    path: &str,
    query: &[u8],
    socket: IpAddr,
    headers: &HeaderMap,
) -> Option<Answer> {
    let route = route_of(path)?;
    if method != Method::GET && method != Method::HEAD {
        let mut resp = reply::text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n".into());
        resp.headers_mut().insert(
            http::header::ALLOW,
            http::HeaderValue::from_static("GET, HEAD"),
        );
        return Some(Answer::Ready(resp));
    }
    Some(route(tracker, socket, headers, query))
}

/// The bencoded answer to a tracker request (the body, or its `failure reason`), counted in the
/// statistics with the time since `started`.
fn answer(
    t: &Tracker,
    kind: RequestKind,
    started: Instant,
    result: Result<Vec<u8>, Refusal>,
) -> Response<Vec<u8>> {
    let (response, failure) = match result {
        Ok(body) => (reply::bencoded(body), None),
        Err(e) => (
            reply::failure(&e.to_string(), e.retry_in()),
            Some(e.failure()),
        ),
    };
    t.stats.event(Event::Request {
        kind,
        failure,
        elapsed: started.elapsed(),
    });
    response
}

/// Applies the address policy to a request (proxy headers are looked at only in proxy mode).
fn resolve_client(
    s: &Settings,
    socket: IpAddr,
    headers: &HeaderMap,
    reported_ip: Option<&str>,
) -> Result<Resolved, Refusal> {
    let proxy = if s.policy.mode == Mode::Proxy {
        ProxyHeaders::from_headers(headers)
    } else {
        ProxyHeaders::default()
    };
    policy::resolve(&s.policy, socket, &proxy, reported_ip).map_err(|e| {
        if e == AddressError::NoProxyHeader {
            // A misconfigured proxy would log this on every request: once a minute is enough.
            static THROTTLE: Throttle = Throttle::new(60);
            if THROTTLE.ready() {
                tracing::warn!(
                    "trusted proxy {socket} sent no usable X-Real-IP or X-Forwarded-For header; check the proxy configuration (logged at most once a minute)"
                );
            }
        }
        e.into()
    })
}
