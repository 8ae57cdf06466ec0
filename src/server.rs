//! `run(config, listeners, shutdown)`: the whole tracker, trivial to start from a test.
//!
//! Opens and restores the database, starts the write-behind, cleanup and statistics tasks,
//! serves HTTP on every listener (tracker, web UI and metrics, shared or apart) through hyper (warp's own server can neither time out slow headers nor stay
//! quiet about every reset connection) and BEP 15 on every UDP socket ([`crate::udp`]), and on
//! `shutdown` stops accepting, lets requests in flight finish, flushes the write-behind backlog
//! and returns.

use crate::blocklist::Blocklist;
use crate::config::{Config, DbKind};
use crate::http::{reply, routes, unix_now, ConnAddr, Tracker};
use crate::stats::Stats;
use crate::storage::writer::{Writer, WriterStatus};
use crate::storage::{Storage, StorageError};
use crate::swarm::{MemoryStore, SwarmStore};
use crate::web::Web;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tower_service::Service;
use warp::Filter;

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
/// How long shutdown waits for requests in flight before closing their connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the tracker could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The database could not be opened or read.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Binds a listener for `addr`. An IPv6 address is bound IPv6-only, so that `host = 0.0.0.0, ::`
/// gives one IPv4 and one IPv6 listener on the same port instead of a conflict.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // A restarted tracker must not wait for the old connections' TIME_WAIT to expire.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// Binds a UDP tracker socket for `addr`; an IPv6 address is bound IPv6-only, as in [`bind`].
///
/// Unlike [`bind`], without `SO_REUSEADDR`: UDP has no TIME_WAIT to skip, and on Linux the
/// option would let a second tracker bind the same UDP port without an error and silently take
/// over its packets.
pub fn bind_udp(addr: std::net::SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// Runs the tracker on `listeners` until `shutdown` completes, with the configuration it started
/// with.
pub async fn run(
    config: Config,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let (_keep, reloads) = watch::channel(Arc::new(config.clone()));
    run_with_reload(config, listeners, shutdown, reloads).await
}

/// Runs the tracker on `listeners` until `shutdown` completes; every configuration sent on
/// `reloads` (the binary sends one per SIGHUP, after validating the file) is applied to what
/// can change at run time, see [`reload_loop`].
pub async fn run_with_reload(
    config: Config,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()>,
    reloads: watch::Receiver<Arc<Config>>,
) -> Result<(), ServerError> {
    let listeners = listeners.into();
    let store: Arc<dyn SwarmStore> = Arc::new(MemoryStore::new());
    let db = Arc::new(match config.db.kind {
        DbKind::Sqlite => open_and_restore(&config, &store).await?,
        DbKind::Memory => Storage::open_memory()?,
    });
    // Swarms are written only when persistence is on; the web UI's tables always are.
    let storage = (config.db.kind == DbKind::Sqlite).then(|| Arc::clone(&db));
    let stats = Arc::new(Stats::new(unix_now()));
    let status = Arc::new(WriterStatus::default());
    let (web, blocklist) = {
        let (config, store, db, stats, status) = (
            config.clone(),
            Arc::clone(&store),
            Arc::clone(&db),
            Arc::clone(&stats),
            Arc::clone(&status),
        );
        tokio::task::spawn_blocking(move || {
            let blocklist = Arc::new(Blocklist::new(db.blocklist()?));
            let web = Web::build(&config, store, db, stats, Arc::clone(&blocklist), status)?;
            Ok::<_, StorageError>((Arc::new(web), blocklist))
        })
        .await
        .expect("storage thread does not panic")?
    };
    let tracker = Arc::new(Tracker::new(
        &config,
        Arc::clone(&store),
        Arc::clone(&stats),
        blocklist,
    ));
    let (stop_tx, stop_rx) = watch::channel(false);

    let writer = Writer::new(Arc::clone(&store), storage.clone(), status);
    let flush_every = Duration::from_millis(config.db.flush_interval_ms);
    let writer = tokio::spawn(writer.run(flush_every, stop_rx.clone()));
    let cleaner = tokio::spawn(cleanup_loop(
        Arc::clone(&tracker),
        storage,
        Duration::from_secs(u64::from(config.tracker.peer_cleanup_period)),
        stop_rx.clone(),
    ));

    let ticker = tokio::spawn(stats_loop(Arc::clone(&stats), stop_rx.clone()));
    let reloader = tokio::spawn(reload_loop(config.clone(), reloads, stop_rx.clone()));
    let snapshots = tokio::spawn(crate::web::history::snapshot_loop(
        Arc::clone(&web),
        stop_rx.clone(),
    ));

    let graceful = Arc::new(GracefulShutdown::new());
    let separate_web = !listeners.web.is_empty();
    let separate_metrics = !listeners.metrics.is_empty();
    let not_found =
        || warp::any().map(|| reply::text(http::StatusCode::NOT_FOUND, "not found\n".into()));
    let mut accepting = Vec::new();
    let tracker_filter = crate::web::routes(
        Arc::clone(&web),
        !separate_web,
        !separate_web && !separate_metrics,
    )
    .or(routes(Arc::clone(&tracker)))
    .unify();
    serve_all(
        listeners.tracker,
        &tracker_filter,
        &graceful,
        &stop_rx,
        &mut accepting,
    );
    let web_filter = crate::web::routes(Arc::clone(&web), true, !separate_metrics)
        .or(not_found())
        .unify();
    serve_all(
        listeners.web,
        &web_filter,
        &graceful,
        &stop_rx,
        &mut accepting,
    );
    let metrics_filter = crate::web::routes(Arc::clone(&web), false, true)
        .or(not_found())
        .unify();
    serve_all(
        listeners.metrics,
        &metrics_filter,
        &graceful,
        &stop_rx,
        &mut accepting,
    );
    for socket in listeners.udp {
        let task = crate::udp::serve(socket, Arc::clone(&tracker), stop_rx.clone());
        accepting.push(tokio::spawn(task));
    }

    shutdown.await;
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    let _ = stop_tx.send(true);
    for a in accepting {
        let _ = a.await;
    }
    if let Ok(graceful) = Arc::try_unwrap(graceful) {
        if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::info!("closing connections still open after {DRAIN_TIMEOUT:?}");
        }
    }
    let _ = cleaner.await;
    let _ = ticker.await;
    let _ = reloader.await;
    let _ = snapshots.await;
    let _ = writer.await; // its last flush writes the backlog
    tracing::info!("stopped");
    Ok(())
}

async fn open_and_restore(
    config: &Config,
    store: &Arc<dyn SwarmStore>,
) -> Result<Storage, ServerError> {
    let path = config.db.path.clone();
    let pool_size = config.db.pool_size;
    let expire_before = unix_now().saturating_sub(config.peer_expiry_secs());
    let (storage, torrents) = tokio::task::spawn_blocking(move || {
        let storage = Storage::open(&path, pool_size)?;
        let torrents = storage.load(expire_before)?;
        Ok::<_, StorageError>((storage, torrents))
    })
    .await
    .expect("storage thread does not panic")?;
    let peers: usize = torrents.iter().map(|t| t.peers.len()).sum();
    tracing::info!(
        "restored {} torrents and {peers} live peers from {}",
        torrents.len(),
        storage.path().display()
    );
    store.restore(torrents);
    Ok(storage)
}

/// Applies each reloaded configuration and logs what changed.
async fn reload_loop(
    mut current: Config,
    mut reloads: watch::Receiver<Arc<Config>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            changed = reloads.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
        let new = Config::clone(&reloads.borrow_and_update());
        let changed = crate::config::changed_keys(&current, &new);
        if changed.is_empty() {
            tracing::info!("reload: the configuration has not changed");
        } else {
            tracing::info!("reload: changed {}", changed.join(", "));
        }
        current = new;
    }
}

/// Samples the request counters once a second for the "per second now" rates.
async fn stats_loop(stats: Arc<Stats>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            t = tick.tick() => stats.tick(t.into_std()),
            _ = stop.changed() => return,
        }
    }
}

async fn cleanup_loop(
    tracker: Arc<Tracker>,
    storage: Option<Arc<Storage>>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let expire_before = unix_now().saturating_sub(tracker.peer_expiry);
        let report = tracker.store.cleanup(expire_before);
        if report.peers_removed > 0 || report.torrents_removed > 0 {
            tracing::debug!(
                "cleanup: {} expired peers and {} empty torrents removed",
                report.peers_removed,
                report.torrents_removed
            );
        }
        if let Some(storage) = storage.clone() {
            let _ =
                tokio::task::spawn_blocking(move || storage.delete_expired(expire_before)).await;
        }
    }
}

/// Starts an accept loop serving `filter` on each of `listeners`.
fn serve_all<F>(
    listeners: Vec<TcpListener>,
    filter: &F,
    graceful: &Arc<GracefulShutdown>,
    stop: &watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) where
    F: warp::Filter<Extract = (http::Response<Vec<u8>>,), Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
{
    for l in listeners {
        let task = accept_loop(l, filter.clone(), Arc::clone(graceful), stop.clone());
        tasks.push(tokio::spawn(task));
    }
}

async fn accept_loop<F>(
    listener: TcpListener,
    filter: F,
    graceful: Arc<GracefulShutdown>,
    mut stop: watch::Receiver<bool>,
) where
    F: warp::Filter<Extract = (http::Response<Vec<u8>>,), Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
{
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    static THROTTLE: crate::logging::Throttle = crate::logging::Throttle::new(60);
                    if THROTTLE.ready() {
                        tracing::warn!("accepting connections fails: {e} (logged at most once a minute)");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let service = warp::service(filter.clone());
        let svc =
            hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnAddr(remote));
                let mut service = service.clone();
                service.call(req)
            });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection from {remote}: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn ipv4_and_ipv6_wildcards_share_a_port() {
        let v4 = super::bind("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = v4.local_addr().unwrap().port();
        let v6 = super::bind(std::net::SocketAddr::new("::".parse().unwrap(), port));
        assert!(
            v6.is_ok(),
            "binding [::]:{port} beside 0.0.0.0:{port}: {v6:?}"
        );
    }

    #[tokio::test]
    async fn udp_families_share_a_port_but_a_taken_port_is_refused() {
        let v4 = super::bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = v4.local_addr().unwrap().port();
        let v6 = super::bind_udp(std::net::SocketAddr::new("::1".parse().unwrap(), port));
        assert!(
            v6.is_ok(),
            "binding udp [::1]:{port} beside 127.0.0.1:{port}: {v6:?}"
        );
        let again = super::bind_udp(std::net::SocketAddr::new([127, 0, 0, 1].into(), port));
        assert!(again.is_err(), "a second tracker took udp port {port}");
    }
}
