//! The tracker's HTTP routes (warp): `/announce`, `/scrape` and their `.php` aliases.
//!
//! Any path whose last segment is `announce` or `scrape` is served (`/abc123/announce` from
//! clients configured with a passkey-like prefix works unchanged). The query is taken raw and
//! decoded to bytes by [`crate::protocol`]; warp's query deserializer would turn binary
//! `info_hash` values into U+FFFD. Every refusal becomes HTTP 200 with a bencoded
//! `failure reason` (see [`error::RequestError`]); other paths get 404, other methods 405.

pub mod announce;
pub mod error;
pub mod gzip;
pub mod reply;
pub mod scrape;

use crate::access::AccessList;
use crate::blocklist::Blocklist;
use crate::config::{Config, Mode};
use crate::logging::Throttle;
use crate::policy::{self, AddressError, AddressPolicy, ProxyHeaders, Resolved};
use crate::stats::{Event, RequestKind, Stats};
use crate::swarm::SwarmStore;
use arc_swap::ArcSwap;
use error::RequestError;
use http::{HeaderMap, Method, Response, StatusCode};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use warp::path::FullPath;
use warp::Filter;

/// The socket address of the connection a request came on, set by the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct ConnAddr(pub SocketAddr);

/// Set by the accept loop on requests that came over HTTPS.
#[derive(Clone, Copy, Debug)]
pub struct Tls;

/// The tracker settings a request reads, taken from the configuration; replaced whole on
/// SIGHUP (see [`Tracker::set_settings`]).
#[derive(Debug)]
pub struct Settings {
    /// Client-address policy.
    pub policy: AddressPolicy,
    /// `interval` sent to clients, before jitter.
    pub interval: u32,
    /// Up to this many seconds added at random to each `interval` sent.
    pub interval_jitter: u32,
    /// `min interval` sent to clients.
    pub min_interval: u32,
    /// Peers returned when the client sends no numwant.
    pub numwant: u32,
    /// Upper bound on numwant.
    pub max_numwant: u32,
    /// Most hashes in one scrape.
    pub max_scrape_hashes: usize,
    /// Whether a scrape without info_hash lists every torrent.
    pub full_scrape: bool,
    /// Query key that triggers a cleanup; empty disables it.
    pub run_gc_key: Vec<u8>,
    /// Seconds after which a silent peer expires.
    pub peer_expiry: u32,
    /// Seconds between two cleanups of expired peers.
    pub cleanup_period: u32,
    /// `tracker id` sent in announce responses; `None` sends none.
    pub tracker_id: Option<Vec<u8>>,
}

impl Settings {
    /// Takes the tracker settings from `config`.
    pub fn from_config(config: &Config) -> Settings {
        let t = &config.tracker;
        Settings {
            policy: AddressPolicy::from_config(t),
            interval: t.announce_interval,
            interval_jitter: t.announce_interval_jitter,
            min_interval: config.min_interval_secs(),
            numwant: t.numwant,
            max_numwant: t.max_numwant,
            max_scrape_hashes: t.max_scrape_hashes as usize,
            full_scrape: t.full_scrape,
            run_gc_key: t.run_gc_key.as_bytes().to_vec(),
            peer_expiry: config.peer_expiry_secs(),
            cleanup_period: t.peer_cleanup_period,
            tracker_id: (!t.tracker_id.is_empty()).then(|| t.tracker_id.as_bytes().to_vec()),
        }
    }
}

/// Everything a tracker request needs, shared by all connections.
pub struct Tracker {
    /// The swarms.
    pub store: Arc<dyn SwarmStore>,
    /// Request counters.
    pub stats: Arc<Stats>,
    /// The operator's blocklist.
    pub blocklist: Arc<Blocklist>,
    /// The info-hash allow or deny list.
    pub access: Arc<AccessList>,
    /// Swapped whole on reload, so that a request reads one consistent set of settings and
    /// requests in flight finish with the ones they started with; loading takes no lock.
    settings: ArcSwap<Settings>,
}

impl Tracker {
    /// Takes the tracker settings from `config`.
    pub fn new(
        config: &Config,
        store: Arc<dyn SwarmStore>,
        stats: Arc<Stats>,
        blocklist: Arc<Blocklist>,
        access: Arc<AccessList>,
    ) -> Tracker {
        Tracker {
            store,
            stats,
            blocklist,
            access,
            settings: ArcSwap::from_pointee(Settings::from_config(config)),
        }
    }

    /// The settings in force; load them once per request and use that copy throughout.
    pub fn settings(&self) -> arc_swap::Guard<Arc<Settings>> {
        self.settings.load()
    }

    /// Puts `settings` in force for the requests that start from now on.
    pub fn set_settings(&self, settings: Settings) {
        self.settings.store(Arc::new(settings));
    }
}

/// Now, in Unix seconds (u32 lasts until 2106).
pub fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// The warp filter serving every tracker route.
pub fn routes(
    tracker: Arc<Tracker>,
) -> impl Filter<Extract = (Response<Vec<u8>>,), Error = Infallible> + Clone + Send + Sync + 'static
{
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::ext::optional::<ConnAddr>())
        .and(warp::header::headers_cloned())
        .map(
            move |method: Method,
                  path: FullPath,
                  query: String,
                  conn: Option<ConnAddr>,
                  headers: HeaderMap| {
                dispatch(
                    &tracker,
                    &method,
                    path.as_str(),
                    query.as_bytes(),
                    conn,
                    &headers,
                )
            },
        )
}

fn dispatch(
    tracker: &Tracker,
    method: &Method,
    path: &str,
    query: &[u8],
    conn: Option<ConnAddr>,
    headers: &HeaderMap,
) -> Response<Vec<u8>> {
    let Some(ConnAddr(socket)) = conn else {
        return reply::failure("internal error: connection address unknown", None);
    };
    serve(tracker, method, path, query, socket.ip(), headers)
        .unwrap_or_else(|| reply::text(StatusCode::NOT_FOUND, format!("not found: {path}\n")))
}

/// Whether `path` is a tracker route: its last segment is `announce` or `scrape` (or their
/// `.php` forms).
pub fn is_tracker_path(path: &str) -> bool {
    route_of(path).is_some()
}

type Route = fn(&Tracker, IpAddr, &HeaderMap, &[u8]) -> Response<Vec<u8>>;

fn route_of(path: &str) -> Option<Route> {
    match path.rsplit('/').next().unwrap_or("") {
        "announce" | "announce.php" => Some(announce::handle),
        "scrape" | "scrape.php" => Some(scrape::handle),
        _ => None,
    }
}

/// Answers a tracker request straight from the parts hyper parsed, without a warp filter
/// chain, header copies or a query `String`: the accept loop calls this first for every
/// request on a tracker listener. `None` when `path` is not a tracker route.
pub fn serve(
    tracker: &Tracker,
    method: &Method,
    path: &str,
    query: &[u8],
    socket: IpAddr,
    headers: &HeaderMap,
) -> Option<Response<Vec<u8>>> {
    let route = route_of(path)?;
    if method != Method::GET && method != Method::HEAD {
        let mut resp = reply::text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n".into());
        resp.headers_mut().insert(
            http::header::ALLOW,
            http::HeaderValue::from_static("GET, HEAD"),
        );
        return Some(resp);
    }
    Some(route(tracker, socket, headers, query))
}

/// The bencoded answer to a tracker request (the body, or its `failure reason`), counted in the
/// statistics with the time since `started`.
fn answer(
    t: &Tracker,
    kind: RequestKind,
    started: Instant,
    result: Result<Vec<u8>, RequestError>,
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

/// The proxy headers of a request, raw, for the address policy.
pub fn proxy_headers(headers: &HeaderMap) -> ProxyHeaders<'_> {
    ProxyHeaders {
        x_real_ip: headers.get("x-real-ip").map(|v| v.as_bytes()),
        x_forwarded_for: headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.as_bytes())
            .collect(),
    }
}

/// Applies the address policy to a request (proxy headers are looked at only in proxy mode).
fn resolve_client(
    s: &Settings,
    socket: IpAddr,
    headers: &HeaderMap,
    reported_ip: Option<&str>,
) -> Result<Resolved, RequestError> {
    let proxy = if s.policy.mode == Mode::Proxy {
        proxy_headers(headers)
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
