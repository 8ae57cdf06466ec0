//! `run(config, listeners, shutdown)`: the whole tracker, trivial to start from a test.
//!
//! Opens and restores the database, starts the write-behind, cleanup and statistics tasks,
//! serves HTTP on every listener (tracker, web UI and metrics, shared or apart) through hyper (warp's own server can neither time out slow headers nor stay
//! quiet about every reset connection), HTTPS (rustls) with the same routes as the tracker
//! listener, and BEP 15 on every UDP socket ([`crate::udp`]); on `shutdown` stops accepting,
//! lets requests in flight finish, flushes the write-behind backlog and returns.

use crate::access::{AccessFileError, AccessList, AccessRules};
use crate::blocklist::Blocklist;
use crate::config::{AccessMode, Config, DbKind};
use crate::http::{reply, routes, unix_now, Settings, Tracker};
use crate::stats::Stats;
use crate::storage::writer::{Writer, WriterStatus};
use crate::storage::{Storage, StorageError};
use crate::swarm::{MemoryStore, SwarmStore};
use crate::tls::{CertStore, TlsError};
use crate::web::Web;
use accept::{serve_all, Serving};
use conns::Conns;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use warp::Filter;

mod accept;
mod conns;

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

/// [`run_with_reload`], calling `hooks` when the server is ready and after each reload.
pub async fn run_with_hooks(
    config: Config,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()>,
    reloads: watch::Receiver<Arc<Config>>,
    hooks: Hooks,
) -> Result<(), ServerError> {
    let listeners = listeners.into();
    let certs = if listeners.https.is_empty() {
        None
    } else {
        let Some((cert, key)) = config.tls.files() else {
            return Err(TlsError {
                path: "[TLS] cert".into(),
                what: "HTTPS listeners need a certificate and a key".into(),
            }
            .into());
        };
        let store = Arc::new(CertStore::load(cert, key)?);
        tracing::info!("HTTPS certificate loaded from {}", cert.display());
        Some(store)
    };
    let access = load_access(&config).await?;
    if access.mode != AccessMode::Off {
        tracing::info!("access list: {}", describe_access(&access, &config));
    }
    let access = Arc::new(AccessList::new(access));
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
        access,
    ));
    let (stop_tx, stop_rx) = watch::channel(false);

    let writer = Writer::new(Arc::clone(&store), storage.clone(), status);
    let flush_every = Duration::from_millis(config.db.flush_interval_ms);
    let writer = tokio::spawn(writer.run(flush_every, stop_rx.clone()));
    let cleaner = tokio::spawn(cleanup_loop(Arc::clone(&tracker), storage, stop_rx.clone()));

    let ticker = tokio::spawn(stats_loop(Arc::clone(&stats), stop_rx.clone()));
    let live = Live {
        tracker: Arc::clone(&tracker),
        web: Arc::clone(&web),
        db: Arc::clone(&db),
    };
    let reloader = tokio::spawn(reload_loop(
        config.clone(),
        reloads,
        certs.clone(),
        stop_rx.clone(),
        live,
        hooks.reloaded,
    ));
    let snapshots = tokio::spawn(crate::web::history::snapshot_loop(
        Arc::clone(&web),
        stop_rx.clone(),
    ));

    let conns = Conns::new(
        conns::effective_cap(config.tracker.max_connections),
        Arc::clone(&stats),
    );
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
    // Plain HTTP sends the UI to HTTPS when asked to and when HTTPS serves the UI.
    let redirect_to = match listeners.https.first().map(TcpListener::local_addr) {
        Some(Ok(addr)) if config.tls.redirect_http && !separate_web => Some(addr.port()),
        _ => None,
    };
    let plain_filter = crate::web::https_redirect(redirect_to)
        .or(tracker_filter.clone())
        .unify();
    let tracker_plain = Serving {
        tracker: Some(Arc::clone(&tracker)),
        tls: None,
    };
    let web_only = Serving {
        tracker: None,
        tls: None,
    };
    serve_all(
        listeners.tracker,
        &plain_filter,
        &tracker_plain,
        &conns,
        &stop_rx,
        &mut accepting,
    );
    if let Some(certs) = &certs {
        let acceptor = TlsAcceptor::from(crate::tls::server_config(Arc::clone(certs)));
        let tracker_tls = Serving {
            tracker: Some(Arc::clone(&tracker)),
            tls: Some(acceptor),
        };
        serve_all(
            listeners.https,
            &tracker_filter,
            &tracker_tls,
            &conns,
            &stop_rx,
            &mut accepting,
        );
    }
    let web_filter = crate::web::routes(Arc::clone(&web), true, !separate_metrics)
        .or(not_found())
        .unify();
    serve_all(
        listeners.web,
        &web_filter,
        &web_only,
        &conns,
        &stop_rx,
        &mut accepting,
    );
    let metrics_filter = crate::web::routes(Arc::clone(&web), false, true)
        .or(not_found())
        .unify();
    serve_all(
        listeners.metrics,
        &metrics_filter,
        &web_only,
        &conns,
        &stop_rx,
        &mut accepting,
    );
    for socket in listeners.udp {
        let task = crate::udp::serve(socket, Arc::clone(&tracker), stop_rx.clone());
        accepting.push(tokio::spawn(task));
    }

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
    let restore_to = Arc::clone(store);
    let (storage, (torrents, peers), took) = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let storage = Storage::open(&path, pool_size)?;
        let counts = storage.restore_into(expire_before, &*restore_to)?;
        Ok::<_, StorageError>((storage, counts, started.elapsed()))
    })
    .await
    .expect("storage thread does not panic")?;
    tracing::info!(
        "restored {torrents} torrents and {peers} live peers from {} in {} ms",
        storage.path().display(),
        took.as_millis()
    );
    Ok(storage)
}

/// The `[ACCESS]` rules, reading the file on a blocking thread.
async fn load_access(config: &Config) -> Result<AccessRules, AccessFileError> {
    let access = config.access.clone();
    tokio::task::spawn_blocking(move || AccessRules::load(&access))
        .await
        .expect("access list thread does not panic")
}

/// `allow list of 3 info hashes from /etc/retracker/allow.txt`, for the log.
fn describe_access(rules: &AccessRules, config: &Config) -> String {
    match (rules.mode, &config.access.file) {
        (AccessMode::Allow | AccessMode::Deny, Some(file)) => {
            format!("{} from {}", rules.describe(), file.display())
        }
        _ => rules.describe(),
    }
}

/// What a reload changes in the running server.
struct Live {
    tracker: Arc<Tracker>,
    web: Arc<Web>,
    db: Arc<Storage>,
}

/// Applies each reloaded configuration (see [`apply_reload`]), re-reads the HTTPS certificate
/// (see [`reload_certificate`]), then calls `reloaded`.
async fn reload_loop(
    mut current: Config,
    mut reloads: watch::Receiver<Arc<Config>>,
    certs: Option<Arc<CertStore>>,
    mut stop: watch::Receiver<bool>,
    live: Live,
    reloaded: Option<Arc<dyn Fn() + Send + Sync>>,
) {
    loop {
        tokio::select! {
            changed = reloads.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
        let new = Config::clone(&reloads.borrow_and_update());
        apply_reload(&live, &current, &new).await;
        reload_certificate(certs.as_ref(), &new).await;
        current = new;
        if let Some(reloaded) = &reloaded {
            reloaded();
        }
    }
}

/// Re-reads the certificate and key files of `config` into `certs` (certbot renews them in
/// place, so this happens on every reload, changed paths or not). New handshakes get the new
/// certificate; open connections keep theirs. Files that do not load are logged and the running
/// certificate kept. HTTPS itself starts or stops only with a restart.
async fn reload_certificate(certs: Option<&Arc<CertStore>>, config: &Config) {
    let files = config
        .tls
        .files()
        .map(|(c, k)| (c.to_owned(), k.to_owned()));
    let (certs, (cert, key)) = match (certs, files) {
        (Some(certs), Some(files)) => (Arc::clone(certs), files),
        (Some(_), None) => {
            tracing::warn!(
                "reload: [TLS] cert is now empty, but HTTPS stops only with a restart; keeping the current certificate"
            );
            return;
        }
        (None, Some(_)) => {
            tracing::warn!("reload: [TLS] cert is set, but HTTPS starts only with a restart");
            return;
        }
        (None, None) => return,
    };
    let shown = cert.display().to_string();
    let loaded = tokio::task::spawn_blocking(move || certs.reload(&cert, &key))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match loaded {
        Ok(()) => tracing::info!("reload: HTTPS certificate loaded from {shown}"),
        Err(e) => tracing::error!("reload: keeping the current HTTPS certificate: {e}"),
    }
}

/// Puts `new` in force where it can change at run time: the log level, the tracker settings
/// (requests in flight finish with the old ones), the web UI's address policy; re-reads the
/// access list file and the blocklist (changed or not: the file or the database may have
/// changed under the same configuration) and drops the peers they now refuse. Logs what
/// changed, and warns about changed keys that wait for a restart.
async fn apply_reload(live: &Live, old: &Config, new: &Config) {
    // First, so that the lines below are written at the new level.
    if new.logging.level != old.logging.level {
        crate::logging::set_level(new.logging.level);
    }
    let changed = crate::config::changed_keys(old, new);
    let (_, restart) = crate::config::reload_changes(old, new);
    // The access list is swapped before the settings, so that a request that sees the new
    // settings also sees the new access list.
    let tracker = &live.tracker;
    match load_access(new).await {
        Ok(rules) if *tracker.access.rules() == rules => {
            tracing::debug!("reload: access list unchanged: {}", rules.describe());
        }
        Ok(rules) => {
            tracing::info!("reload: access list now {}", describe_access(&rules, new));
            tracker.access.replace(rules);
        }
        Err(e) => tracing::error!(
            "reload: the access list is kept as it was ({}): {e}",
            tracker.access.rules().describe()
        ),
    }
    tracker.set_settings(Settings::from_config(new));
    live.web.reload(new);
    let (db, blocklist) = (Arc::clone(&live.db), Arc::clone(&tracker.blocklist));
    match tokio::task::spawn_blocking(move || crate::web::blocklist::reload(&db, &blocklist)).await
    {
        Ok(Ok(n)) => tracing::debug!("reload: blocklist re-read: {n} entries"),
        Ok(Err(e)) => tracing::error!("reload: the blocklist is kept as it was: {e}"),
        Err(e) => tracing::error!("reload: the blocklist is kept as it was: {e}"),
    }
    let sweep = Arc::clone(tracker);
    let dropped = tokio::task::spawn_blocking(move || {
        sweep.store.remove_peers(&mut |h, p| {
            !sweep.access.permits(h) || sweep.blocklist.blocks_peer(h, p.ip)
        })
    })
    .await
    .unwrap_or(0);

    if changed.is_empty() {
        tracing::info!("reload: the configuration has not changed");
    } else {
        tracing::info!("reload: changed {}", changed.join(", "));
    }
    if dropped > 0 {
        tracing::info!(
            "reload: {dropped} peers of refused torrents or blocked addresses dropped from the swarms"
        );
    }
    if !restart.is_empty() {
        tracing::warn!(
            "reload: these changes take effect only after a restart: {}",
            restart.join(", ")
        );
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

/// Drops expired peers every `peer_cleanup_period` (read again after each cleanup, so a reload
/// changes it from the next wait on).
async fn cleanup_loop(
    tracker: Arc<Tracker>,
    storage: Option<Arc<Storage>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let every = Duration::from_secs(u64::from(tracker.settings().cleanup_period));
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let expire_before = unix_now().saturating_sub(tracker.settings().peer_expiry);
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
