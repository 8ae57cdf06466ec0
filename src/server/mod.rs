//! `run(config, listeners, shutdown)`: the whole tracker, trivial to start from a test.
//!
//! This file only sequences the start and the stop; each step has a file of its own:
//! - `bind.rs`: binding TCP listeners and UDP sockets;
//! - `wiring.rs`: the services (certificate, access list, store restored from SQLite,
//!   blocklist, statistics, the tracker core, the web UI);
//! - `background.rs`: the write-behind, cleanup, rates, history and reload tasks;
//! - `reload.rs`: everything SIGHUP does;
//! - `listen.rs` and `accept.rs`: what each listener serves and the one router (tracker paths
//!   first, then the web UI), HTTP through hyper (warp's own server can neither time out slow
//!   headers nor stay quiet about every reset connection), HTTPS through rustls, BEP 15 on
//!   every UDP socket ([`crate::udp`]);
//! - `conns.rs`: the table of open connections.
//!
//! On `shutdown` it stops accepting, lets requests in flight finish, flushes the write-behind
//! backlog and returns.

use crate::access::AccessFileError;
use crate::config::Config;
use crate::storage::StorageError;
use crate::tls::TlsError;
use crate::tracker::Clock;
use conns::Conns;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;

mod accept;
mod background;
mod bind;
mod conns;
mod listen;
mod reload;
mod wiring;

pub use bind::{bind, bind_udp};

/// The sockets to serve, by what they serve.
#[derive(Debug, Default)]
pub struct Listeners {
    /// Tracker requests; also the web UI when `web` is empty, and `/metrics` when both `web`
    /// and `metrics` are empty.
    pub tracker: Vec<TcpListener>,
    /// The web UI (and `/metrics` when `metrics` is empty).
    pub web: Vec<TcpListener>,
    /// `/metrics` only.
    pub metrics: Vec<TcpListener>,
    /// HTTPS with `[TLS] cert` and `key`, serving what `tracker` serves.
    pub https: Vec<TcpListener>,
    /// UDP tracker (BEP 15) sockets.
    pub udp: Vec<UdpSocket>,
}

impl From<Vec<TcpListener>> for Listeners {
    /// Everything on these listeners.
    fn from(tracker: Vec<TcpListener>) -> Self {
        Listeners {
            tracker,
            ..Default::default()
        }
    }
}

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests in flight before closing their connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the tracker could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The database could not be opened or read.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The HTTPS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The `[ACCESS]` file could not be read or has a bad line.
    #[error(transparent)]
    Access(#[from] AccessFileError),
    /// The network map (`networks_file`, `asn_db`, `country_db`) could not be read.
    #[error(transparent)]
    Locality(#[from] crate::locality::LocalityError),
    /// `[CHECKS] watch_file` could not be read or has a bad line.
    #[error(transparent)]
    Checks(#[from] crate::checks::WatchFileError),
    /// A task of the start-up (on the blocking pool) ended without an answer: it panicked, or
    /// the runtime is shutting down. Returned instead of panicking the caller.
    #[error("{0}")]
    Task(String),
}

/// Runs the tracker on `listeners` until `shutdown` completes, with the configuration it started
/// with.
pub async fn run(
    config: Config,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    run_with(config, listeners, shutdown, Options::default()).await
}

/// Runs the tracker on `listeners` until `shutdown` completes; every configuration sent on
/// `reloads` (the binary sends one per SIGHUP, after validating the file) is applied to what
/// can change at run time (see `reload.rs`).
pub async fn run_with_reload(
    config: Config,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()>,
    reloads: watch::Receiver<Arc<Config>>,
) -> Result<(), ServerError> {
    run_with_hooks(config, listeners, shutdown, reloads, Hooks::default()).await
}

/// What the caller is told while the server runs; the binary passes these on to systemd
/// ([`crate::sdnotify`]).
#[derive(Default)]
pub struct Hooks {
    /// Called once, when the database is restored and every listener is being served: from
    /// then on requests are answered.
    pub ready: Option<Box<dyn FnOnce() + Send>>,
    /// Called after each configuration received on `reloads` has been applied.
    pub reloaded: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("ready", &self.ready.is_some())
            .field("reloaded", &self.reloaded.is_some())
            .finish()
    }
}

/// Everything [`run_with`] takes besides the configuration, the listeners and `shutdown`.
#[derive(Debug, Default)]
pub struct Options {
    /// Configurations to apply at run time (the binary sends one per SIGHUP, after validating
    /// the file); `None`: the one it started with, for good.
    pub reloads: Option<watch::Receiver<Arc<Config>>>,
    /// What the caller is told.
    pub hooks: Hooks,
    /// The tracker's clock: the system's, or a manual one a test moves.
    pub clock: Clock,
}

/// [`run_with_reload`], calling `hooks` when the server is ready and after each reload.
pub async fn run_with_hooks(
    config: Config,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()>,
    reloads: watch::Receiver<Arc<Config>>,
    hooks: Hooks,
) -> Result<(), ServerError> {
    let options = Options {
        reloads: Some(reloads),
        hooks,
        clock: Clock::system(),
    };
    run_with(config, listeners, shutdown, options).await
}

/// Runs the tracker on `listeners` until `shutdown` completes, as `options` say.
pub async fn run_with(
    config: Config,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()>,
    options: Options,
) -> Result<(), ServerError> {
    let listeners = listeners.into();
    let Options {
        reloads,
        hooks,
        clock,
    } = options;
    let (_keep, unchanging) = watch::channel(Arc::new(config.clone()));
    let reloads = reloads.unwrap_or(unchanging);
    let services = wiring::build(&config, !listeners.https.is_empty(), clock).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let background = background::spawn(&services, &config, reloads, hooks.reloaded, &stop_rx);
    let conns = Conns::new(
        conns::effective_cap(config.tracker.max_connections),
        Arc::clone(&services.tracker.stats),
    );
    let accepting = listen::serve(listeners, &services, &config, &conns, &stop_rx);

    // Every accept loop is spawned, the database restored: requests are answered from now on.
    if let Some(ready) = hooks.ready {
        ready();
    }
    shutdown.await;
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    let _ = stop_tx.send(true);
    for a in accepting {
        let _ = a.await;
    }
    let left = conns.close_all(DRAIN_TIMEOUT).await;
    if left > 0 {
        tracing::info!("closing {left} connections still open after {DRAIN_TIMEOUT:?}");
    }
    background.join().await; // the write-behind's last flush writes the backlog
    tracing::info!("stopped");
    Ok(())
}
