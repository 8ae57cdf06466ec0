//! Everything SIGHUP does, in one place: for each configuration the binary sends (after
//! validating the file), the log level, the tracker's live settings (which the web UI reads
//! too), the access list file, the blocklist, a sweep of the peers they now refuse, and the
//! HTTPS certificate; then it logs what changed and what waits for a restart.

use super::wiring::{describe_access, describe_map, load_access, load_network_map};
use crate::config::Config;
use crate::storage::Storage;
use crate::tls::CertStore;
use crate::tracker::{Settings, Tracker};
use std::sync::Arc;
use tokio::sync::watch;

/// What a reload changes in the running server.
pub(super) struct Live {
    /// The tracker core (its settings, access list and blocklist).
    pub tracker: Arc<Tracker>,
    /// The database holding the blocklist.
    pub db: Arc<Storage>,
    /// The HTTPS certificate, when HTTPS is served.
    pub certs: Option<Arc<CertStore>>,
    /// Tracker checks: the deny list and the watch file.
    pub checks: Arc<crate::checks::Checks>,
}

/// Applies each reloaded configuration (see [`apply`]), re-reads the HTTPS certificate (see
/// [`reload_certificate`]), then calls `reloaded`.
pub(super) async fn reload_loop(
    mut current: Config,
    mut reloads: watch::Receiver<Arc<Config>>,
    live: Live,
    reloaded: Option<Arc<dyn Fn() + Send + Sync>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            changed = reloads.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
        let new = Config::clone(&reloads.borrow_and_update());
        apply(&live, &current, &new).await;
        reload_certificate(live.certs.as_ref(), &new).await;
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
    match crate::blocking::run(move || certs.reload(&cert, &key)).await {
        Ok(()) => tracing::info!("reload: HTTPS certificate loaded from {shown}"),
        Err(e) => tracing::error!("reload: keeping the current HTTPS certificate: {e}"),
    }
}

/// Puts `new` in force where it can change at run time: the log level, the tracker settings
/// (requests in flight finish with the old ones; the web UI reads the same), re-reads the
/// access list file and the blocklist (changed or not: the file or the database may have
/// changed under the same configuration) and drops the peers they now refuse. Logs what
/// changed, and warns about changed keys that wait for a restart.
async fn apply(live: &Live, old: &Config, new: &Config) {
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
    // The map before the settings too: a request that sees a new locality mode sees the map
    // it was meant for. A map that does not load keeps the old one, as the access list does.
    match load_network_map(new).await {
        Ok(map) => {
            tracing::info!("reload: network map: {}", describe_map(&map, new));
            tracker.set_network_map(map);
            // Every stored peer's network, as the new map sees its address.
            let t = Arc::clone(tracker);
            let moved = crate::blocking::run(move || {
                let map = t.network_map();
                t.store.relabel(&mut |ip| map.net_id(ip))
            })
            .await;
            tracing::debug!("reload: {moved} peers changed network");
        }
        Err(e) => tracing::error!("reload: the network map is kept as it was: {e}"),
    }
    tracker.set_settings(Settings::from_config(new));
    // [CHECKS] deny_networks, and the watch file re-read (a bad one keeps the running watches).
    let (checks, config) = (Arc::clone(&live.checks), new.clone());
    crate::blocking::run(move || checks.reload(&config)).await;
    let (db, blocklist) = (Arc::clone(&live.db), Arc::clone(&tracker.blocklist));
    match crate::blocking::run(move || crate::web::blocklist::reload(&db, &blocklist)).await {
        Ok(n) => tracing::debug!("reload: blocklist re-read: {n} entries"),
        Err(e) => tracing::error!("reload: the blocklist is kept as it was: {e}"),
    }
    let sweep = Arc::clone(tracker);
    let dropped = crate::blocking::run(move || {
        sweep.store.remove_peers(&mut |h, p| {
            !sweep.access.permits(h) || sweep.blocklist.blocks_peer(h, p.ip)
        })
    })
    .await;

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
