//! The dashboard, `GET /` (also `/stat` and `/stats`): the [`Overview`] as cards and tables.
//!
//! Every number is formatted here, once, so the template only places text: counts with
//! [`format::count`] (`1,234`), rates with [`format::rate`], sizes with [`format::bytes`] and
//! the uptime with [`format::duration`]. Each card's value element also carries the raw number
//! in `data-value`, for scripts and browser tests.

use super::error::WebError;
use super::overview::{self, Overview};
use super::{format, reply, Layout, Web, Who};
use askama::Template;
use http::Response;
use std::sync::Arc;

/// One number card.
pub struct Card {
    /// Element id of the value (stable: tests and scripts read it).
    pub id: &'static str,
    /// What it is.
    pub label: &'static str,
    /// The formatted value, the element's only text.
    pub value: String,
    /// The raw value (`data-value`).
    pub raw: String,
    /// A muted line under the value; may be empty.
    pub hint: String,
}

/// A top torrents row, formatted.
pub struct TorrentView {
    name: String,
    hash: String,
    href: String,
    seeders: String,
    leechers: String,
    completed: String,
}

/// A peers by network row, formatted.
pub struct NetworkView {
    network: String,
    /// Link to the peers of the network; empty for "other".
    href: String,
    peers: String,
    seeders: String,
    leechers: String,
}

/// A locality table (named network, AS or country), formatted; empty rows: not configured.
pub struct GroupTable {
    /// Element id of the table.
    id: &'static str,
    /// The heading.
    title: &'static str,
    /// The first column's heading.
    column: &'static str,
    rows: Vec<GroupView>,
}

/// A locality table row, formatted.
pub struct GroupView {
    key: String,
    name: String,
    peers: String,
    seeders: String,
    leechers: String,
}

/// A clients row, formatted.
pub struct ClientView {
    name: String,
    peers: String,
    seeders: String,
    leechers: String,
    versions: String,
}

/// The dashboard page.
#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    layout: Layout<'a>,
    cards: Vec<Card>,
    /// Why storage writes fail; empty when they work.
    write_error: String,
    write_failures: String,
    /// Why the dashboard could not read the database; empty when it could.
    read_error: String,
    torrents: Vec<TorrentView>,
    networks: Vec<NetworkView>,
    /// How peers are grouped, for the table's caption.
    grouping: &'static str,
    /// "showing 50 of 1,234 networks" when the table is cut; empty otherwise.
    networks_cut: String,
    clients: Vec<ClientView>,
    clients_cut: String,
    peer_expiry: String,
    /// The locality tables that have rows: by named network, AS, country.
    geography: Vec<GroupTable>,
    /// In a cluster: whether Redis answers, and why not.
    cluster: bool,
    cluster_up: bool,
    cluster_error: String,
    cluster_node: String,
    cluster_peers: String,
    local_peers: String,
    cluster_lag: String,
    cluster_queued: String,
    nodes: Vec<super::cluster::NodeView>,
    /// The watched trackers.
    watches: Vec<WatchView>,
}

/// A watched tracker's row, formatted.
pub struct WatchView {
    url: String,
    info_hash: String,
    every: String,
    last: String,
    status: String,
    /// "ok", "failure" or "error" (a class for the row), or "" before the first poll.
    class: String,
    failures: String,
    latency: String,
}

/// The rows of the watched trackers' table.
fn watch_rows(watches: &[crate::checks::WatchState]) -> Vec<WatchView> {
    watches
        .iter()
        .map(|w| WatchView {
            url: w.url.clone(),
            info_hash: w.info_hash.clone(),
            every: format::duration(u64::from(w.seconds)),
            last: w.last_at.map_or_else(|| "not yet".into(), format::utc),
            status: match (&w.last_status, &w.last_words) {
                (None, _) => "–".into(),
                (Some(s), Some(words)) if s != "ok" => format!("{s}: {words}"),
                (Some(s), _) => s.clone(),
            },
            class: w.last_status.clone().unwrap_or_default(),
            failures: format::count(u64::from(w.failures_in_row)),
            latency: w
                .last_latency_ms
                .map_or_else(|| "–".into(), |ms| format!("{ms} ms")),
        })
        .collect()
}

/// The locality tables of `g` that have rows.
fn geography_tables(g: &super::geography::Geography) -> Vec<GroupTable> {
    let c = format::count;
    [
        (
            "named-networks",
            "Peers by the operator's networks",
            "Network",
            &g.named_networks,
        ),
        ("asns", "Peers by autonomous system", "AS", &g.asns),
        ("countries", "Peers by country", "Country", &g.countries),
    ]
    .into_iter()
    .filter(|(.., rows)| !rows.is_empty())
    .map(|(id, title, column, rows)| GroupTable {
        id,
        title,
        column,
        rows: rows
            .iter()
            .map(|r| GroupView {
                key: r.key.clone(),
                name: r.name.clone(),
                peers: c(r.peers),
                seeders: c(r.seeders),
                leechers: c(r.leechers),
            })
            .collect(),
    })
    .collect()
}

fn card(id: &'static str, label: &'static str, value: String, raw: String, hint: String) -> Card {
    Card {
        id,
        label,
        value,
        raw,
        hint,
    }
}

fn count_card(id: &'static str, label: &'static str, n: u64, hint: String) -> Card {
    card(id, label, format::count(n), n.to_string(), hint)
}

fn roles_hint(seeders: u64, leechers: u64) -> String {
    format!(
        "{} seeders · {} leechers",
        format::count(seeders),
        format::count(leechers)
    )
}

/// The cards of `o`, in page order.
pub fn cards(o: &Overview) -> Vec<Card> {
    let c = format::count;
    vec![
        card(
            "uptime",
            "Uptime",
            format::duration(o.uptime_secs),
            o.uptime_secs.to_string(),
            format!("since {}", o.started_utc),
        ),
        count_card(
            "torrents",
            "Torrents",
            o.torrents,
            "swarms in memory".into(),
        ),
        count_card("peers", "Peers", o.peers, roles_hint(o.seeders, o.leechers)),
        count_card("seeders", "Seeders", o.seeders, String::new()),
        count_card("leechers", "Leechers", o.leechers, String::new()),
        count_card(
            "unique",
            "Unique addresses",
            o.unique_addrs,
            "distinct peer IPs".into(),
        ),
        count_card(
            "ipv4",
            "IPv4 peers",
            o.ipv4.peers,
            roles_hint(o.ipv4.seeders, o.ipv4.leechers),
        ),
        count_card(
            "ipv6",
            "IPv6 peers",
            o.ipv6.peers,
            roles_hint(o.ipv6.seeders, o.ipv6.leechers),
        ),
        card(
            "announce-rate",
            "Announces / s",
            format::rate(o.announces_per_sec),
            o.announces_per_sec.to_string(),
            format!(
                "{} ok · {} failed since start",
                c(o.announces_ok),
                c(o.announces_failed)
            ),
        ),
        card(
            "scrape-rate",
            "Scrapes / s",
            format::rate(o.scrapes_per_sec),
            o.scrapes_per_sec.to_string(),
            format!(
                "{} ok · {} failed since start",
                c(o.scrapes_ok),
                c(o.scrapes_failed)
            ),
        ),
        count_card(
            "completed",
            "Completed downloads",
            o.completed,
            if o.db_persistent {
                "all time".into()
            } else {
                "swarms in memory ([DB] type = memory)".into()
            },
        ),
        card(
            "db-size",
            "Database size",
            format::bytes(o.db_size_bytes),
            o.db_size_bytes.to_string(),
            if o.db_persistent {
                "SQLite file and write-ahead log".into()
            } else {
                "in memory, swarms not persisted".into()
            },
        ),
        count_card(
            "backlog",
            "Write backlog",
            o.backlog,
            "changes waiting for the writer".into(),
        ),
        share_card(
            "kept-network",
            "Kept in own network",
            o.kept_local.network_share,
            format!(
                "of {} peers handed out since start",
                c(o.kept_local.network + o.kept_local.operator + o.kept_local.outside)
            ),
        ),
        share_card(
            "kept-near",
            "Kept in own or operator's networks",
            o.kept_local.near_share,
            format!(
                "{} from the operator's other networks, {} from outside",
                c(o.kept_local.operator),
                c(o.kept_local.outside)
            ),
        ),
    ]
}

/// A share as a percentage ("57.1%", raw 0.571), or "–" before there is anything to divide.
fn share_card(id: &'static str, label: &'static str, share: Option<f64>, hint: String) -> Card {
    match share {
        Some(x) => card(id, label, format!("{:.1}%", x * 100.0), x.to_string(), hint),
        None => card(id, label, "–".into(), String::new(), hint),
    }
}

fn cut(shown: usize, total: u64, what: &str) -> String {
    if (shown as u64) < total {
        format!(
            "showing {} of {} {what}",
            format::count(shown as u64),
            format::count(total)
        )
    } else {
        String::new()
    }
}

/// `GET /`, `/stat`, `/stats`.
pub async fn page(web: &Arc<Web>, who: &Who) -> Result<Response<Vec<u8>>, WebError> {
    let o = overview::compute(web).await?;
    let c = format::count;
    let page = DashboardPage {
        layout: Layout::new(who, "stat"),
        cards: cards(&o),
        write_error: o.write_error.clone().unwrap_or_default(),
        write_failures: c(o.write_failures),
        read_error: o.read_error.clone().unwrap_or_default(),
        torrents: o
            .top_torrents
            .iter()
            .map(|t| TorrentView {
                name: t.name.clone(),
                href: format!("/all_peers?hash={}", t.info_hash),
                hash: t.info_hash.clone(),
                seeders: c(t.seeders),
                leechers: c(t.leechers),
                completed: c(t.completed),
            })
            .collect(),
        networks: o
            .networks
            .iter()
            .map(|n| NetworkView {
                network: n.network.clone(),
                href: if n.is_network {
                    format!("/all_peers?net={}", reply::url_encode(&n.network))
                } else {
                    String::new()
                },
                peers: c(n.peers),
                seeders: c(n.seeders),
                leechers: c(n.leechers),
            })
            .collect(),
        grouping: if o.network_grouping == "configured" {
            "by the configured networks ([STATS] peer_networks, else [TRACKER] allowed_networks); \"other\" is outside all of them"
        } else {
            "by /24 (IPv4) and /48 (IPv6) blocks"
        },
        networks_cut: cut(o.networks.len(), o.networks_total, "networks"),
        clients: o
            .clients
            .iter()
            .map(|cl| ClientView {
                name: cl.name.clone(),
                peers: c(cl.peers),
                seeders: c(cl.seeders),
                leechers: c(cl.leechers),
                versions: cl
                    .versions
                    .iter()
                    .map(|v| {
                        let version = if v.version.is_empty() {
                            "unknown"
                        } else {
                            &v.version
                        };
                        format!("{version} ({})", c(v.peers))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        clients_cut: cut(o.clients.len(), o.clients_total, "clients"),
        geography: geography_tables(&o.geography),
        peer_expiry: format::duration(u64::from(o.peer_expiry_secs)),
        cluster: o.cluster.is_some(),
        cluster_up: o.cluster.as_ref().is_some_and(|k| k.redis_up),
        cluster_error: o
            .cluster
            .as_ref()
            .and_then(|k| k.redis_error.clone())
            .unwrap_or_default(),
        cluster_node: o
            .cluster
            .as_ref()
            .map(|k| k.node.clone())
            .unwrap_or_default(),
        cluster_peers: c(o.cluster.as_ref().map_or(0, |k| k.cluster_peers)),
        local_peers: c(o.cluster.as_ref().map_or(0, |k| k.local_peers)),
        cluster_lag: format!("{} ms", o.cluster.as_ref().map_or(0, |k| k.sync_lag_ms)),
        cluster_queued: c(o.cluster.as_ref().map_or(0, |k| k.queued)),
        nodes: o
            .cluster
            .as_ref()
            .map(super::cluster::rows)
            .unwrap_or_default(),
        watches: watch_rows(&o.watches),
    };
    Ok(reply::page(&page))
}
