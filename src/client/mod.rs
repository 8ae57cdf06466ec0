//! A tracker client for the query tools (`retracker query`): announce and scrape over
//! `http://`, `https://` (BEP 3, 23, 7, 24, 48) and `udp://` (BEP 15). Network I/O lives here;
//! the packets and answers are read and written by [`crate::protocol::answer`] and
//! [`crate::protocol::udp_client`].
//!
//! - [`url`]: tracker URLs, the BEP 48 scrape URL, query strings;
//! - [`http`]: GET over HTTP or HTTPS (redirects, gzip, a size cap);
//! - [`tls`]: the client TLS settings (system roots, a private CA, or no check at all);
//! - [`udp`]: BEP 15 connect then announce or scrape, with connection ids reused for their
//!   minute;
//! - [`profiles`]: the real clients `--client` poses as (peer id, `User-Agent`, `key`).
//!
//! Each request gets [`Options::timeout`] per attempt and [`Options::retries`] more attempts
//! after a network error or a timeout. An answer is never retried: a `failure reason`, an
//! unreadable body or an HTTP error status would come back the same.

pub mod http;
pub mod profiles;
pub mod tls;
pub mod udp;
pub mod url;

use crate::protocol::answer::{AnnounceAnswer, Answer, ScrapeAnswer};
use crate::protocol::InfoHash;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
pub use url::{Scheme, TrackerUrl};

/// The peer id prefix of the query tools (Azureus style: `-`, client code, version, `-`).
pub const PEER_ID_PREFIX: &[u8; 8] = b"-RQ0100-";

/// How requests are made.
#[derive(Clone, Debug)]
pub struct Options {
    /// Time limit of one attempt (resolve, connect, request, answer, redirects included).
    pub timeout: Duration,
    /// Attempts after the first one, on network errors and timeouts only.
    pub retries: u32,
    /// Reach the tracker over IPv6 only; otherwise IPv4 addresses are tried first.
    pub ipv6_only: bool,
    /// The HTTP `User-Agent`; `None`: `retracker/<version>`.
    pub user_agent: Option<&'static str>,
    /// Largest answer body read, before and after inflating ([`http::MAX_BODY`] for the
    /// query tools; the server's tracker checks use less).
    pub max_body: usize,
    /// Judges every address a host name resolves to before anything is sent (also after a
    /// redirect); `None`: every address may be reached.
    pub guard: Option<AddressGuard>,
}

/// A rule over the resolved addresses of a tracker: `Err(why)` refuses them all, before any
/// connection is made (the server's `[CHECKS] deny_networks`).
#[derive(Clone)]
pub struct AddressGuard(pub std::sync::Arc<GuardFn>);

/// The function inside an [`AddressGuard`].
pub type GuardFn = dyn Fn(&[SocketAddr]) -> Result<(), String> + Send + Sync;

impl std::fmt::Debug for AddressGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AddressGuard")
    }
}

/// The `event` of an announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A regular announce.
    None,
    /// `started`.
    Started,
    /// `completed`.
    Completed,
    /// `stopped`.
    Stopped,
}

/// What an announce says about us.
#[derive(Clone, Debug)]
pub struct AnnounceParams {
    /// Swarm.
    pub info_hash: InfoHash,
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// Our key (the UDP field, and over HTTP as [`Self::key_format`] says).
    pub key: u32,
    /// How `key` is written over HTTP.
    pub key_format: profiles::KeyFormat,
    /// The port we claim to listen on.
    pub port: u16,
    /// Bytes uploaded.
    pub uploaded: u64,
    /// Bytes downloaded.
    pub downloaded: u64,
    /// Bytes left (0: a seeder).
    pub left: u64,
    /// Event.
    pub event: Event,
    /// Peers wanted; `None`: the tracker's default.
    pub numwant: Option<u32>,
    /// HTTP: `compact=1`, as every client sends; false asks for the dictionary model, whose
    /// peers carry their peer ids (client names). UDP answers are always compact.
    pub compact: bool,
}

impl AnnounceParams {
    /// A fresh peer id: [`PEER_ID_PREFIX`] then 12 random alphanumerics (`--client` uses
    /// [`profiles::Profile::peer_id`] instead).
    pub fn random_peer_id() -> [u8; 20] {
        use rand::Rng;
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(PEER_ID_PREFIX);
        let mut rng = rand::rng();
        for b in &mut id[8..] {
            *b = rng.sample(rand::distr::Alphanumeric);
        }
        id
    }
}

/// Why a request got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The host name does not resolve (or not to the family asked for).
    #[error("cannot resolve {host}: {why}")]
    Resolve {
        /// Host.
        host: String,
        /// Why.
        why: String,
    },
    /// No connection to any address.
    #[error("cannot connect to {addr}: {why}")]
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// Why.
        why: String,
    },
    /// No answer within the time limit.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Reading or writing failed mid-way.
    #[error("network error: {0}")]
    Network(String),
    /// The TLS handshake failed (certificate not trusted, wrong name ...).
    #[error("TLS: {0}")]
    Tls(String),
    /// An HTTP status other than 200 without a bencoded answer.
    #[error("HTTP status {0}")]
    Status(String),
    /// Redirects that cannot be followed.
    #[error("{0}")]
    Redirect(String),
    /// The answer is larger than [`Options::max_body`].
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    /// The answer cannot be read.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// [`Options::guard`] refused the tracker's addresses: nothing was sent.
    #[error("refused to contact {host}: {why}")]
    Denied {
        /// Host.
        host: String,
        /// Why, in words.
        why: String,
    },
}

impl ClientError {
    /// True for errors another attempt may not meet: network errors and timeouts.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ClientError::Resolve { .. }
                | ClientError::Connect { .. }
                | ClientError::Timeout(_)
                | ClientError::Network(_)
        )
    }
}

/// The result of one request, attempts included.
#[derive(Clone, Debug)]
pub struct Outcome<T> {
    /// The answer (success or `failure reason`), or why there was none.
    pub result: Result<Answer<T>, ClientError>,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
    /// Time from the first attempt to the end of the last.
    pub elapsed: Duration,
    /// The tracker address that answered (after redirects); `None` without an answer.
    pub answered_by: Option<SocketAddr>,
}

/// Makes requests with one set of [`Options`]; keeps the TLS settings and the UDP connection ids.
pub struct Client {
    options: Options,
    tls: tls::TlsSettings,
    udp: udp::Connections,
}

impl Client {
    /// A client; `tls` is built by [`tls::TlsSettings::new`].
    pub fn new(options: Options, tls: tls::TlsSettings) -> Client {
        Client {
            options,
            tls,
            udp: udp::Connections::default(),
        }
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Announces to `url`.
    pub async fn announce(&self, url: &TrackerUrl, p: &AnnounceParams) -> Outcome<AnnounceAnswer> {
        self.with_retries(|| async {
            match url.scheme {
                Scheme::Udp => udp::announce(&self.options, &self.udp, url, p).await,
                Scheme::Http | Scheme::Https => {
                    let target = url.target_with(&http::announce_query(p));
                    let (body, from) = http::get(&self.options, &self.tls, url, &target).await?;
                    crate::protocol::answer::decode_announce(&body)
                        .map(|a| (a, from))
                        .map_err(|e| ClientError::Malformed(e.to_string()))
                }
            }
        })
        .await
    }

    /// Scrapes `hashes` from `url` (an announce URL: the BEP 48 scrape URL is derived by the
    /// caller); no hashes is a full scrape (HTTP only).
    pub async fn scrape(&self, url: &TrackerUrl, hashes: &[InfoHash]) -> Outcome<ScrapeAnswer> {
        self.with_retries(|| async {
            match url.scheme {
                Scheme::Udp => udp::scrape(&self.options, &self.udp, url, hashes).await,
                Scheme::Http | Scheme::Https => {
                    let target = url.target_with(&url::scrape_query(hashes));
                    let (body, from) = http::get(&self.options, &self.tls, url, &target).await?;
                    crate::protocol::answer::decode_scrape(&body)
                        .map(|a| (a, from))
                        .map_err(|e| ClientError::Malformed(e.to_string()))
                }
            }
        })
        .await
    }

    /// Runs `attempt` until it answers, fails for good or runs out of retries; an attempt
    /// gives the answer and the address it came from.
    async fn with_retries<T, F, Fut>(&self, attempt: F) -> Outcome<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(Answer<T>, SocketAddr), ClientError>>,
    {
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = match tokio::time::timeout(self.options.timeout, attempt()).await {
                Ok(r) => r,
                Err(_) => Err(ClientError::Timeout(self.options.timeout)),
            };
            let again = matches!(&result, Err(e) if e.retryable());
            if !again || attempts > self.options.retries {
                let answered_by = result.as_ref().ok().map(|(_, from)| *from);
                return Outcome {
                    result: result.map(|(answer, _)| answer),
                    attempts,
                    elapsed: started.elapsed(),
                    answered_by,
                };
            }
        }
    }
}

/// [`resolve`] as `options` ask, then judged by [`Options::guard`].
pub async fn resolve_guarded(
    host: &str,
    port: u16,
    options: &Options,
) -> Result<Vec<SocketAddr>, ClientError> {
    let addrs = resolve(host, port, options.ipv6_only).await?;
    if let Some(guard) = &options.guard {
        (guard.0)(&addrs).map_err(|why| ClientError::Denied {
            host: host.to_owned(),
            why,
        })?;
    }
    Ok(addrs)
}

/// The addresses of `host:port` to try, in order: IPv4 first then IPv6, or IPv6 only.
pub async fn resolve(
    host: &str,
    port: u16,
    ipv6_only: bool,
) -> Result<Vec<SocketAddr>, ClientError> {
    let fail = |why: String| ClientError::Resolve {
        host: host.to_owned(),
        why,
    };
    let mut addrs: Vec<SocketAddr> = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| fail(e.to_string()))?
            .collect(),
    };
    if ipv6_only {
        addrs.retain(SocketAddr::is_ipv6);
        if addrs.is_empty() {
            return Err(fail("no IPv6 address (--ipv6)".into()));
        }
    }
    // Stable: the resolver's order within each family is kept.
    addrs.sort_by_key(SocketAddr::is_ipv6);
    if addrs.is_empty() {
        return Err(fail("no address".into()));
    }
    Ok(addrs)
}
