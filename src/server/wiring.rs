//! Wiring the services at start: the HTTPS certificate, the access list, the swarm store
//! restored from SQLite, the blocklist, the statistics, the tracker core and the web UI, in the
//! order each needs the one before. Everything that reads a file or the database runs on the
//! blocking pool.

use super::ServerError;
use crate::access::{AccessList, AccessRules};
use crate::blocklist::Blocklist;
use crate::config::{AccessMode, Config, DbKind};
use crate::locality::NetworkMap;
use crate::stats::Stats;
use crate::storage::writer::WriterStatus;
use crate::storage::{Storage, StorageError};
use crate::swarm::{MemoryStore, Restore, SwarmStore};
use crate::tls::{CertStore, TlsError};
use crate::tracker::{Clock, Tracker};
use crate::web::Web;
use std::sync::Arc;

/// The running services, shared by the listeners and the background tasks.
pub(super) struct Services {
    /// The tracker core.
    pub tracker: Arc<Tracker>,
    /// The web UI.
    pub web: Arc<Web>,
    /// The database: the swarms' (with `[DB] type = sqlite`) and always the web UI's tables.
    pub db: Arc<Storage>,
    /// The database the swarms are written to; `None` with `[DB] type = memory`.
    pub swarm_db: Option<Arc<Storage>>,
    /// The write-behind task's health, shown by the web UI.
    pub writer_status: Arc<WriterStatus>,
    /// The HTTPS certificate, when HTTPS listeners are served.
    pub certs: Option<Arc<CertStore>>,
    /// Tracker checks and watches (`[CHECKS]`).
    pub checks: Arc<crate::checks::Checks>,
}

/// Builds every service for `config`; `https` says whether HTTPS listeners will be served.
pub(super) async fn build(
    config: &Config,
    https: bool,
    clock: Clock,
) -> Result<Services, ServerError> {
    let certs = if https {
        Some(load_certs(config)?)
    } else {
        None
    };
    let access = load_access(config).await?;
    if access.mode != AccessMode::Off {
        tracing::info!("access list: {}", describe_access(&access, config));
    }
    let access = Arc::new(AccessList::new(access));
    let network_map = load_network_map(config).await?;
    tracing::info!("network map: {}", describe_map(&network_map, config));
    let store: Arc<dyn SwarmStore> = if config.cluster.enabled() {
        Arc::new(MemoryStore::for_cluster(crate::cluster::MAX_QUEUED))
    } else {
        Arc::new(MemoryStore::new())
    };
    let db = Arc::new(match config.db.kind {
        DbKind::Sqlite => open_and_restore(config, &store, clock.now()).await?,
        DbKind::Memory => Storage::open_memory()?,
    });
    // Swarms are written only when persistence is on; the web UI's tables always are.
    let swarm_db = (config.db.kind == DbKind::Sqlite).then(|| Arc::clone(&db));
    let stats = Arc::new(Stats::new(clock.now()));
    let writer_status = Arc::new(WriterStatus::default());
    let (config, db_for_web, status) =
        (config.clone(), Arc::clone(&db), Arc::clone(&writer_status));
    let (db_for_checks, checks_config) = (Arc::clone(&db), config.clone());
    let checks =
        crate::blocking::try_run(move || crate::checks::Checks::new(&checks_config, db_for_checks))
            .await
            .map_err(|e| ServerError::Task(format!("reading the watch file: {e}")))??;
    let checks = Arc::new(checks);
    let checks_for_web = Arc::clone(&checks);
    let (tracker, web) = crate::blocking::try_run(move || {
        let blocklist = Arc::new(Blocklist::new(db_for_web.blocklist()?));
        let tracker = Arc::new(Tracker::new(
            &config,
            store,
            stats,
            blocklist,
            access,
            network_map,
            clock,
        ));
        // Restored peers come back without a network (it is not stored): the map gives it.
        let map = tracker.network_map();
        tracker.store.relabel(&mut |ip| map.net_id(ip));
        drop(map);
        let web = Web::build(
            &config,
            Arc::clone(&tracker),
            db_for_web,
            status,
            checks_for_web,
        )?;
        Ok::<_, StorageError>((tracker, Arc::new(web)))
    })
    .await
    .map_err(|e| ServerError::Task(format!("building the web UI: {e}")))??;
    Ok(Services {
        tracker,
        web,
        db,
        swarm_db,
        writer_status,
        certs,
        checks,
    })
}

/// The HTTPS certificate and key of `[TLS]`.
fn load_certs(config: &Config) -> Result<Arc<CertStore>, ServerError> {
    let Some((cert, key)) = config.tls.files() else {
        return Err(TlsError {
            path: "[TLS] cert".into(),
            what: "HTTPS listeners need a certificate and a key".into(),
        }
        .into());
    };
    let store = Arc::new(CertStore::load(cert, key)?);
    tracing::info!("HTTPS certificate loaded from {}", cert.display());
    Ok(store)
}

/// Opens the database and restores the swarms' live peers into `store`.
async fn open_and_restore(
    config: &Config,
    store: &Arc<dyn SwarmStore>,
    now: u32,
) -> Result<Storage, ServerError> {
    let path = config.db.path.clone();
    let pool_size = config.db.pool_size;
    let at = Restore::at(now, config.peer_expiry_secs());
    let restore_to = Arc::clone(store);
    let (storage, (torrents, peers), took) = crate::blocking::try_run(move || {
        let started = std::time::Instant::now();
        let storage = Storage::open(&path, pool_size)?;
        let counts = storage.restore_into(at, &*restore_to)?;
        Ok::<_, StorageError>((storage, counts, started.elapsed()))
    })
    .await
    .map_err(|e| ServerError::Task(format!("restoring the swarms: {e}")))??;
    tracing::info!(
        "restored {torrents} torrents and {peers} live peers from {} in {} ms",
        storage.path().display(),
        took.as_millis()
    );
    Ok(storage)
}

/// The `[ACCESS]` rules, reading the file on a blocking thread.
pub(super) async fn load_access(config: &Config) -> Result<AccessRules, ServerError> {
    let access = config.access.clone();
    crate::blocking::try_run(move || AccessRules::load(&access))
        .await
        .map_err(|e| ServerError::Task(format!("reading the access list: {e}")))?
        .map_err(ServerError::from)
}

/// The network map of `config`, reading its files on a blocking thread.
pub(super) async fn load_network_map(config: &Config) -> Result<NetworkMap, ServerError> {
    let c = config.clone();
    crate::blocking::try_run(move || NetworkMap::load(&c))
        .await
        .map_err(|e| ServerError::Task(format!("reading the network map: {e}")))?
        .map_err(ServerError::from)
}

/// `2 named networks, ASN database /var/lib/GeoLite2-ASN.mmdb (locality mode prefer)`, for
/// the log.
pub(super) fn describe_map(map: &NetworkMap, config: &Config) -> String {
    let mut parts = vec![format!("{} named networks", map.networks().len())];
    if let Some(file) = &config.locality.networks_file {
        parts.push(format!("networks file {}", file.display()));
    }
    if let Some(db) = &config.locality.asn_db {
        parts.push(format!("ASN database {}", db.display()));
    }
    if let Some(db) = &config.locality.country_db {
        parts.push(format!("country database {}", db.display()));
    }
    format!(
        "{} (locality mode {})",
        parts.join(", "),
        config.locality.mode.word()
    )
}

/// `allow list of 3 info hashes from /etc/retracker/allow.txt`, for the log.
pub(super) fn describe_access(rules: &AccessRules, config: &Config) -> String {
    match (rules.mode, &config.access.file) {
        (AccessMode::Allow | AccessMode::Deny, Some(file)) => {
            format!("{} from {}", rules.describe(), file.display())
        }
        _ => rules.describe(),
    }
}
