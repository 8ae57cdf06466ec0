//! The operator web UI: login, dashboard, history, peers browser, blocklist, tracker checks,
//! reports, exports, metrics.
//!
//! Served by the same server as the tracker (or on `[WEB]` / `[METRICS]` listeners of its own).
//! The accept loop answers tracker paths first (`crate::http::serve`) and hands every other
//! request to [`routes`]. Every request goes through [`dispatch`], the one routing table
//! (its paths are listed once, in [`UI_PATHS`]), and every page but `/login`
//! through [`guard`]: a session cookie or HTTP basic auth, else 303 to `/login` (pages) or 401
//! (API, exports, metrics). `POST /api/torrents` ([`torrents`]) takes `.torrent` files from
//! `retracker add-torrent --url` (basic auth only). Templates are compiled in (askama,
//! `templates/`), CSS is inlined and there is no JavaScript, so the UI works on a LAN without
//! Internet.
//!
//! Errors: [`error::WebError`], turned into an HTTP status and a short page in one place.

pub mod auth;
pub mod blocklist;
pub mod chart;
pub mod checks;
pub mod cluster;
pub mod dashboard;
pub mod error;
pub mod export;
pub mod form_data;
pub mod format;
pub mod geography;
pub mod history;
pub mod login;
pub mod metrics;
pub mod overview;
pub mod peers;
pub mod reply;
pub mod reports;
pub mod torrents;

use crate::blocklist::Blocklist;
use crate::netlist::Networks;
use crate::policy::{self, ProxyHeaders};
use crate::stats::{Event, Stats};
use crate::storage::writer::WriterStatus;
use crate::storage::Storage;
use crate::swarm::SwarmStore;
use crate::tracker::{unix_now, Tracker};
use auth::{Auth, Session};
use bytes::Bytes;
use error::WebError;
use http::{HeaderMap, Method, Response};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use warp::path::FullPath;
use warp::Filter;

/// Largest form body accepted.
const MAX_FORM_BYTES: u64 = 16 * 1024;

/// The socket address of the connection a request came on, set by the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct ConnAddr(pub SocketAddr);

/// Set by the accept loop on requests that came over HTTPS.
#[derive(Clone, Copy, Debug)]
pub struct Tls;

/// Everything the web UI reads and changes, shared by all requests.
///
/// The settings a reload changes (the address policy, the peer expiry) are read from the
/// tracker's live settings, never copied here, so the UI and the tracker cannot disagree.
pub struct Web {
    /// The tracker core: its live settings and its clock.
    pub tracker: Arc<Tracker>,
    /// The swarms (the tracker's store).
    pub store: Arc<dyn SwarmStore>,
    /// The database (a private in-memory one with `[DB] type = memory`).
    pub storage: Arc<Storage>,
    /// Request counters (the tracker's).
    pub stats: Arc<Stats>,
    /// The blocklist the tracker enforces (the tracker's).
    pub blocklist: Arc<Blocklist>,
    /// The write-behind task's health.
    pub writer: Arc<WriterStatus>,
    /// The account; `None` when no password is configured (the UI is then disabled).
    pub auth: Option<Auth>,
    /// Who may read `/metrics` without logging in.
    pub metrics_networks: Networks,
    /// Networks the dashboard groups peers by; empty = /24 and /48 blocks.
    pub peer_networks: Networks,
    /// Days of history kept.
    pub history_days: u32,
    /// Seconds between history snapshots.
    pub snapshot_interval: u32,
    /// Tracker checks (`crate::checks`): run one, the watches and their states.
    pub checks: Arc<crate::checks::Checks>,
}

/// One web request, read in full.
#[derive(Debug)]
pub struct Req {
    /// GET, POST, ...
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (may be empty).
    pub query: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// The client address (after trusted proxy headers).
    pub client: IpAddr,
    /// The body (forms); empty for GET.
    pub body: Bytes,
    /// Whether the request came over HTTPS (cookies are then `Secure`).
    pub https: bool,
}

impl Req {
    /// The request as the accept loop handed it over, with an empty body (a form's body is
    /// set by the caller; uploads read theirs from the stream).
    fn new(
        web: &Web,
        method: Method,
        path: &FullPath,
        query: String,
        conn: Option<ConnAddr>,
        tls: Option<Tls>,
        headers: HeaderMap,
    ) -> Req {
        let socket = conn.map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
        Req {
            method,
            path: path.as_str().to_owned(),
            query,
            client: web.client_address(socket.ip(), &headers),
            headers,
            body: Bytes::new(),
            https: tls.is_some(),
        }
    }
}

/// Who is signed in.
#[derive(Clone, Debug)]
pub struct Who {
    /// The user name.
    pub user: String,
    /// The browser session; `None` for HTTP basic auth (no forms are served to scripts).
    pub session: Option<Session>,
    /// The CSRF token for forms in this session (empty without a session).
    pub csrf: String,
}

/// What the page layout (`templates/base.html`) shows around every page.
pub struct Layout<'a> {
    /// Who is signed in (name, and the CSRF token of the logout form).
    pub who: &'a Who,
    /// The menu entry to highlight: `stat`, `history`, `peers`, `blocklist`, `checks` or
    /// `reports`.
    pub active: &'static str,
    /// retracker's version.
    pub version: &'static str,
    /// When the page was made (UTC), so a stale tab is obvious.
    pub now: String,
}

impl<'a> Layout<'a> {
    /// The layout for `who` with menu entry `active` highlighted.
    pub fn new(who: &'a Who, active: &'static str) -> Layout<'a> {
        Layout {
            who,
            active,
            version: env!("CARGO_PKG_VERSION"),
            now: format::utc(unix_now()),
        }
    }
}

/// How a request that lacks a login is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A page for people: 303 to the login form.
    Page,
    /// API, export or metrics: 401 with `WWW-Authenticate: Basic`.
    Api,
}

/// The pages of the UI, the one list [`dispatch`] serves; with `/api/...` and `/export/...`
/// ([`UI_PREFIXES`]) they are every path of the UI.
pub const UI_PATHS: &[&str] = &[
    "/",
    "/stat",
    "/stats",
    "/history",
    "/all_peers",
    "/blocklist",
    "/blocklist/remove",
    "/checks",
    "/checks/watch",
    "/checks/watch/remove",
    "/reports",
    "/login",
    "/logout",
];

/// The `POST` paths whose handlers read the body themselves, after the login (uploads larger
/// than [`MAX_FORM_BYTES`]).
const STREAMED_PATHS: &[&str] = &["/api/torrents", "/checks"];

/// The path prefixes of the UI's API and exports.
pub const UI_PREFIXES: &[&str] = &["/api/", "/export/"];

/// Whether `path` is one of the UI's (not `/metrics`, which is served apart).
pub fn is_ui_path(path: &str) -> bool {
    UI_PATHS.contains(&path) || UI_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// The warp filter for a listener: the UI's paths when `ui`, `/metrics` when `metrics`; other
/// paths are rejected (not found), for the listener's own 404 `or`-ed after it.
pub fn routes(
    web: Arc<Web>,
    ui: bool,
    metrics: bool,
) -> impl Filter<Extract = (Response<Vec<u8>>,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    let claim = warp::path::full()
        .and_then(move |p: FullPath| async move {
            let path = p.as_str();
            if (ui && is_ui_path(path)) || (metrics && path == "/metrics") {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one();
    let common = warp::path::full()
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::ext::optional::<ConnAddr>())
        .and(warp::ext::optional::<Tls>())
        .and(warp::header::headers_cloned());
    let get = warp::method()
        .and(common)
        .and_then(|m: Method, p, q, c, t, h| async move {
            if m == Method::POST {
                Err(warp::reject::not_found()) // read with its body below
            } else {
                Ok::<_, warp::Rejection>((m, p, q, c, t, h, Bytes::new()))
            }
        })
        .untuple_one();
    let post = warp::post()
        .map(|| Method::POST)
        .and(common)
        .and(warp::body::content_length_limit(MAX_FORM_BYTES))
        .and(warp::body::bytes());
    // POST /api/torrents and POST /checks read their (large) bodies themselves, after the
    // login: see torrents.rs and checks.rs.
    let streamed_web = Arc::clone(&web);
    let streamed = warp::post()
        .and(
            warp::path::full()
                .and_then(|p: FullPath| async move {
                    if STREAMED_PATHS.contains(&p.as_str()) {
                        Ok(())
                    } else {
                        Err(warp::reject::not_found())
                    }
                })
                .untuple_one(),
        )
        .and(common)
        .and(warp::body::stream())
        .then(
            move |path: FullPath,
                  query,
                  conn: Option<ConnAddr>,
                  tls: Option<Tls>,
                  headers: HeaderMap,
                  body| {
                let web = Arc::clone(&streamed_web);
                async move {
                    let req = Req::new(&web, Method::POST, &path, query, conn, tls, headers);
                    reply::finish(if req.path == "/checks" {
                        checks::submit(&web, req, body).await
                    } else {
                        torrents::add(&web, req, body).await
                    })
                }
            },
        );
    let requests = get.or(post).unify().then(
        move |method,
              path: FullPath,
              query,
              conn: Option<ConnAddr>,
              tls: Option<Tls>,
              headers,
              body| {
            let web = Arc::clone(&web);
            async move {
                let req = Req {
                    body,
                    ..Req::new(&web, method, &path, query, conn, tls, headers)
                };
                let result = dispatch(&web, &req, ui, metrics).await;
                reply::finish(result.unwrap_or_else(|e| e.into_response(&req)))
            }
        },
    );
    claim.and(
        streamed
            .or(requests)
            .unify()
            .recover(reject_to_response)
            .unify(),
    )
}

/// On a plain HTTP listener with `[TLS] redirect_http`: sends the UI's paths to the same path
/// on HTTPS at `port` (301 for GET and HEAD, 308 otherwise, so a form keeps its method). Other
/// paths, and everything when `port` is `None`, are rejected (not found) for the listener's own
/// routes: tracker requests are never redirected (clients do not follow redirects reliably),
/// nor is `/metrics` (Prometheus scrapes the address it is given).
pub fn https_redirect(
    port: Option<u16>,
) -> impl Filter<Extract = (Response<Vec<u8>>,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and_then(
            move |method: Method, path: FullPath, query: String, headers: HeaderMap| async move {
                match port {
                    Some(port) if is_ui_path(path.as_str()) => Ok(redirect_to_https(
                        &method,
                        path.as_str(),
                        &query,
                        &headers,
                        port,
                    )),
                    _ => Err(warp::reject::not_found()),
                }
            },
        )
}

/// The redirect of [`https_redirect`]: the host the client asked for, the HTTPS port, the same
/// path and query.
fn redirect_to_https(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    port: u16,
) -> Response<Vec<u8>> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_without_port);
    let Some(host) = host else {
        return reply::finish(
            WebError::BadRequest(format!(
                "the web UI is served over HTTPS only (port {port}); this request has no usable Host header"
            ))
            .into_plain_response(),
        );
    };
    let authority = if port == 443 {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    };
    let mut location = format!("https://{authority}{path}");
    if !query.is_empty() {
        location.push('?');
        location.push_str(query);
    }
    let mut resp = reply::text_redirect(&location);
    if !(method == Method::GET || method == Method::HEAD) {
        *resp.status_mut() = http::StatusCode::PERMANENT_REDIRECT;
    }
    reply::finish(resp)
}

/// The host of a `Host` header (`name`, `name:port`, `[v6]`, `[v6]:port`) without its port;
/// `None` when it is not a plain host name or address.
fn host_without_port(value: &str) -> Option<&str> {
    let host = if value.starts_with('[') {
        let end = value.find(']')?;
        let rest = &value[end + 1..];
        if !(rest.is_empty() || rest.starts_with(':')) {
            return None;
        }
        &value[..=end]
    } else {
        value.split_once(':').map_or(value, |(h, _)| h)
    };
    let inner = host.trim_start_matches('[').trim_end_matches(']');
    let ok = !inner.is_empty()
        && inner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'_'));
    ok.then_some(host)
}

/// Maps what warp refuses before a handler runs (body too large, no length) to an answer.
async fn reject_to_response(r: warp::Rejection) -> Result<Response<Vec<u8>>, Infallible> {
    let e = if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        WebError::BadRequest(format!("form larger than {MAX_FORM_BYTES} bytes"))
    } else if r.find::<warp::reject::LengthRequired>().is_some() {
        WebError::BadRequest("a form needs a Content-Length".into())
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        WebError::MethodNotAllowed
    } else {
        WebError::NotFound
    };
    Ok(reply::finish(e.into_plain_response()))
}

/// The routing table.
async fn dispatch(
    web: &Arc<Web>,
    req: &Req,
    ui: bool,
    metrics: bool,
) -> Result<Response<Vec<u8>>, WebError> {
    let get = req.method == Method::GET || req.method == Method::HEAD;
    let post = req.method == Method::POST;
    match req.path.as_str() {
        "/metrics" if metrics && get => metrics::metrics(web, req).await,
        _ if !ui => Err(WebError::NotFound),
        "/login" if get => login::form(web, req).await,
        "/login" if post => login::submit(web, req).await,
        "/logout" if post => {
            let who = web.guard(req, Access::Page).await?;
            login::logout(web, req, &who).await
        }
        "/" | "/stat" | "/stats" if get => {
            let who = web.guard(req, Access::Page).await?;
            dashboard::page(web, &who).await
        }
        "/all_peers" if get => {
            let who = web.guard(req, Access::Page).await?;
            peers::page(web, req, &who).await
        }
        "/history" if get => {
            let who = web.guard(req, Access::Page).await?;
            history::page(web, &who).await
        }
        "/blocklist" if get => {
            let who = web.guard(req, Access::Page).await?;
            blocklist::show(web, &who).await
        }
        "/blocklist" if post => {
            let who = web.guard(req, Access::Page).await?;
            blocklist::add(web, req, &who).await
        }
        "/blocklist/remove" if post => {
            let who = web.guard(req, Access::Page).await?;
            blocklist::remove(web, req, &who).await
        }
        "/checks" if get => {
            let who = web.guard(req, Access::Page).await?;
            checks::show(web, &who).await
        }
        "/checks/watch" if post => {
            let who = web.guard(req, Access::Page).await?;
            checks::add_watch(web, req, &who).await
        }
        "/checks/watch/remove" if post => {
            let who = web.guard(req, Access::Page).await?;
            checks::remove_watch(web, req, &who).await
        }
        "/reports" if get => {
            let who = web.guard(req, Access::Page).await?;
            reports::page(web, req, &who).await
        }
        path if UI_PREFIXES.iter().any(|p| path.starts_with(p)) => {
            web.guard(req, Access::Api).await?;
            export::handle(web, req).await
        }
        // A page of the UI asked with a method its arm above does not take.
        path if UI_PATHS.contains(&path) => Err(WebError::MethodNotAllowed),
        _ => Err(WebError::NotFound),
    }
}

/// Name of the database setting that holds the generated session secret.
const SECRET_SETTING: &str = "session_secret";

impl Web {
    /// Builds the web UI's state from the configuration; reads the database (blocking).
    ///
    /// The session secret is `[FLASK] secret_key` when it is usable, else a random one created
    /// once and kept in the database (so sessions survive restarts). Logs why the UI is off
    /// when no password is set, and warns about a plain-text password.
    pub fn build(
        config: &crate::config::Config,
        tracker: Arc<Tracker>,
        storage: Arc<Storage>,
        writer: Arc<WriterStatus>,
        checks: Arc<crate::checks::Checks>,
    ) -> Result<Web, crate::storage::StorageError> {
        let stats_cfg = &config.stats;
        let auth = if stats_cfg.access_password.is_empty() {
            tracing::warn!(
                "web UI disabled: [STATS] access_password is empty (set it, or an argon2 hash from `retracker hash-password`); the tracker works without it"
            );
            None
        } else {
            let secret = match auth::configured_secret(&config.flask.secret_key) {
                Ok(s) => s.to_vec(),
                Err(why) => {
                    if !config.flask.secret_key.is_empty() {
                        tracing::warn!(
                            "[FLASK] secret_key is not used to sign web sessions because {why}; using a random secret kept in the database"
                        );
                    }
                    let fresh: [u8; 32] = rand::random();
                    storage.setting_or_insert(SECRET_SETTING, &fresh)?
                }
            };
            let revoked = storage.revoked_sessions(unix_now())?;
            let auth = Auth::new(stats_cfg, &secret, revoked);
            if auth.as_ref().is_some_and(Auth::password_is_plain) {
                tracing::warn!(
                    "[STATS] access_password is a plain-text password; `retracker hash-password` prints an argon2 hash to put there instead"
                );
            }
            auth
        };
        let t = &config.tracker;
        let peer_networks = if !stats_cfg.peer_networks.is_empty() {
            stats_cfg.peer_networks.clone()
        } else {
            t.allowed_networks.clone()
        };
        Ok(Web {
            store: Arc::clone(&tracker.store),
            stats: Arc::clone(&tracker.stats),
            blocklist: Arc::clone(&tracker.blocklist),
            tracker,
            storage,
            writer,
            auth,
            metrics_networks: config.metrics.allowed_networks.clone(),
            peer_networks,
            history_days: stats_cfg.history_days,
            snapshot_interval: stats_cfg.snapshot_interval,
            checks,
        })
    }

    /// Now, by the tracker's clock (what peers' last-seen times are stamped with).
    pub fn now(&self) -> u32 {
        self.tracker.clock.now()
    }

    /// The client address of a request (trusted proxy headers applied, with the tracker's
    /// address policy in force).
    pub fn client_address(&self, socket: IpAddr, headers: &HeaderMap) -> IpAddr {
        let proxy = ProxyHeaders::from_headers(headers);
        policy::client_address(&self.tracker.settings().policy, socket, &proxy)
    }

    /// The account, or the "web UI disabled" error.
    pub fn auth(&self) -> Result<&Auth, WebError> {
        self.auth.as_ref().ok_or(WebError::Disabled)
    }

    /// Who is signed in: a valid session cookie, or HTTP basic auth (checked against the limit
    /// of failed logins). Otherwise the error that sends a browser to `/login` or asks a script
    /// for credentials.
    pub async fn guard(self: &Arc<Self>, req: &Req, access: Access) -> Result<Who, WebError> {
        let auth = self.auth()?;
        let now = unix_now();
        if let Some(session) =
            reply::cookie(&req.headers, auth::SESSION_COOKIE).and_then(|c| auth.session(c, now))
        {
            return Ok(Who {
                user: auth.username().to_owned(),
                csrf: auth.csrf_token(&session),
                session: Some(session),
            });
        }
        let Some(basic) = req.headers.get(http::header::AUTHORIZATION) else {
            return Err(match access {
                Access::Page => WebError::LoginNeeded,
                Access::Api => WebError::Unauthorized,
            });
        };
        let Some((user, pass)) = Auth::parse_basic(basic.as_bytes()) else {
            return Err(WebError::Unauthorized);
        };
        let digest = auth.basic_digest(&user, &pass);
        if !auth.basic_known(&digest, now) {
            auth.login_allowed(req.client, now)
                .map_err(WebError::TooManyRequests)?;
            let ok = self.verify_password(user.clone(), pass).await?;
            self.stats.event(Event::Login { ok });
            if !ok {
                auth.login_failed(req.client, now);
                tracing::warn!("failed basic auth for user {user:?} from {}", req.client);
                return Err(WebError::Unauthorized);
            }
            auth.login_succeeded(req.client);
            auth.basic_accepted(digest, now);
        }
        Ok(Who {
            user,
            session: None,
            csrf: String::new(),
        })
    }

    /// Checks the password on a blocking thread (argon2 takes tens of milliseconds).
    pub async fn verify_password(
        self: &Arc<Self>,
        user: String,
        pass: String,
    ) -> Result<bool, WebError> {
        let web = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            web.auth.as_ref().is_some_and(|a| a.verify(&user, &pass))
        })
        .await
        .map_err(|e| WebError::Internal(e.to_string()))
    }

    /// Runs `f` with the database on a blocking thread, where it may also walk the swarm store
    /// (`/metrics` takes its census there).
    pub async fn db<T, F>(self: &Arc<Self>, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&Storage) -> Result<T, crate::storage::StorageError> + Send + 'static,
    {
        let storage = Arc::clone(&self.storage);
        crate::blocking::try_run(move || f(&storage))
            .await
            .map_err(|e| WebError::Internal(e.to_string()))?
            .map_err(WebError::Storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_redirect_keeps_the_host_and_drops_its_port() {
        assert_eq!(host_without_port("tracker.lan:8080"), Some("tracker.lan"));
        assert_eq!(host_without_port("tracker.lan"), Some("tracker.lan"));
        assert_eq!(host_without_port("10.0.0.1:80"), Some("10.0.0.1"));
        assert_eq!(host_without_port("[fd00::1]:8080"), Some("[fd00::1]"));
        assert_eq!(host_without_port("[fd00::1]"), Some("[fd00::1]"));
        for bad in ["", ":8080", "[]", "[::1]x", "a b", "evil/x", "a@b", "[::1"] {
            assert_eq!(host_without_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn tls_redirect_location_keeps_path_query_and_method() {
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, "tracker.lan:8080".parse().unwrap());
        let r = redirect_to_https(&Method::GET, "/stat", "a=1", &h, 8443);
        assert_eq!(r.status(), http::StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            r.headers()[http::header::LOCATION],
            "https://tracker.lan:8443/stat?a=1"
        );
        let r = redirect_to_https(&Method::POST, "/login", "", &h, 443);
        assert_eq!(r.status(), http::StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            r.headers()[http::header::LOCATION],
            "https://tracker.lan/login"
        );
        let r = redirect_to_https(&Method::GET, "/stat", "", &HeaderMap::new(), 8443);
        assert_eq!(r.status(), http::StatusCode::BAD_REQUEST);
    }
}
