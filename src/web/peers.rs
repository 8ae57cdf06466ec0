//! The peers browser, `GET /all_peers`: every peer of every swarm, 50 to a page, sortable and
//! filterable by torrent (`hash=`) and network (`net=`). The same filters apply to the peers
//! exports.
//!
//! Cost: each request walks every peer once (one shard locked at a time, on a blocking thread)
//! and keeps only the matching rows, about 70 bytes each (70 MB per million matching peers,
//! freed when the page is sent). The rows are then partially sorted: `select_nth_unstable`
//! puts the first `page × 50` rows in front in linear time and only those are sorted, so page 1
//! costs O(n) and page p O(n + 50p·log 50p). Sorting by client names every matching row's
//! client first (one peer_id decode each); the other orders name only the 50 shown. There is no
//! index to keep up to date on the announce path.

use super::error::WebError;
use super::{format, reply, Layout, Req, Web, Who};
use crate::hex;
use crate::protocol::peer_id::client_software;
use crate::protocol::{InfoHash, PeerId};
use crate::swarm::SwarmStore;
use askama::Template;
use http::Response;
use ipnet::IpNet;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Rows per page.
pub const PAGE_SIZE: usize = 50;

/// Which peers to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this torrent.
    pub hash: Option<InfoHash>,
    /// Only addresses in this network.
    pub net: Option<IpNet>,
}

/// Parses `hash=`: exactly 40 hex digits (any case).
pub fn parse_hash(text: &str) -> Result<InfoHash, String> {
    hex::decode_array(text.trim())
        .ok_or_else(|| format!("hash={text:?} is not an info hash: 40 hex digits expected"))
}

/// Parses `net=`: a CIDR network (host bits dropped) or a single address (a host network).
/// IPv4-mapped IPv6 is taken as IPv4.
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    let t = text.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Ok(match net {
            IpNet::V6(v6) if v6.addr().to_ipv4_mapped().is_some() && v6.prefix_len() >= 96 => {
                let v4 = v6.addr().to_ipv4_mapped().expect("checked");
                IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96)
                    .expect("a prefix of 96..=128 minus 96 fits IPv4")
                    .trunc()
            }
            other => other.trunc(),
        });
    }
    match t.parse::<IpAddr>() {
        Ok(ip) => Ok(IpNet::from(ip.to_canonical())),
        Err(_) => Err(format!(
            "net={text:?} is not a network: a CIDR network like 10.0.0.0/24 or a single address expected"
        )),
    }
}

impl Filter {
    /// Reads `hash=` and `net=` from query fields (empty = no filter).
    pub fn parse(q: &HashMap<String, String>) -> Result<Filter, WebError> {
        let field = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        Ok(Filter {
            hash: field("hash")
                .map(parse_hash)
                .transpose()
                .map_err(WebError::BadRequest)?,
            net: field("net")
                .map(parse_net)
                .transpose()
                .map_err(WebError::BadRequest)?,
        })
    }

    /// True when a peer of `hash` at `ip` (canonical) is shown.
    pub fn matches(&self, hash: &InfoHash, ip: &IpAddr) -> bool {
        self.hash.is_none_or(|h| h == *hash) && self.net.is_none_or(|n| n.contains(ip))
    }

    /// `hash=...&net=...` for links (only the filters set); empty for none.
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(h) = self.hash {
            parts.push(format!("hash={}", hex::encode(&h)));
        }
        if let Some(n) = self.net {
            parts.push(format!("net={}", reply::url_encode(&n.to_string())));
        }
        parts.join("&")
    }
}

/// A peer as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRow {
    /// Torrent.
    pub info_hash: InfoHash,
    /// Peer.
    pub peer_id: PeerId,
    /// Address (IPv4-mapped IPv6 shown as IPv4).
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// Seeder (else leecher).
    pub seeder: bool,
    /// Last announce, Unix seconds.
    pub last_seen: u32,
}

/// The peers of `store` that `filter` lets through, in no order.
pub fn collect(store: &dyn SwarmStore, filter: &Filter) -> Vec<PeerRow> {
    let mut rows = Vec::new();
    store.for_each_peer(&mut |h, id, p| {
        let ip = p.ip.to_canonical();
        if filter.matches(h, &ip) {
            rows.push(PeerRow {
                info_hash: *h,
                peer_id: *id,
                ip,
                port: p.port,
                seeder: p.seeder,
                last_seen: p.last_seen,
            });
        }
    });
    rows
}

/// Sort orders of the peers browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// Address, then port.
    Addr,
    /// Port, then address.
    Port,
    /// Info hash, then address and port.
    Hash,
    /// Last announce.
    LastSeen,
    /// Client name and version.
    Client,
}

impl SortKey {
    /// Every key, in column order.
    pub const ALL: [SortKey; 5] = [
        SortKey::Addr,
        SortKey::Port,
        SortKey::Hash,
        SortKey::Client,
        SortKey::LastSeen,
    ];

    /// The `sort=` value.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Addr => "addr",
            SortKey::Port => "port",
            SortKey::Hash => "hash",
            SortKey::LastSeen => "last_seen",
            SortKey::Client => "client",
        }
    }

    /// Parses a `sort=` value.
    pub fn parse(text: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.name() == text)
    }

    /// Direction of a first click: newest first for last seen, ascending for the others.
    pub fn default_desc(self) -> bool {
        self == SortKey::LastSeen
    }
}

/// `a` before `b` by `key` ascending (`Client` needs names: equal here).
fn primary(key: SortKey, a: &PeerRow, b: &PeerRow) -> Ordering {
    match key {
        SortKey::Addr => (a.ip, a.port).cmp(&(b.ip, b.port)),
        SortKey::Port => (a.port, a.ip).cmp(&(b.port, b.ip)),
        SortKey::Hash => (a.info_hash, a.ip, a.port).cmp(&(b.info_hash, b.ip, b.port)),
        SortKey::LastSeen => a.last_seen.cmp(&b.last_seen),
        SortKey::Client => Ordering::Equal,
    }
}

/// The tie-break of every order, by torrent and peer_id (unique), so that pages never overlap.
fn tie_break(a: &PeerRow, b: &PeerRow) -> Ordering {
    (a.info_hash, a.peer_id).cmp(&(b.info_hash, b.peer_id))
}

/// Elements `start..end` of `v` as if it were sorted by `cmp` (a total order), sorting only
/// the first `end`.
pub fn sorted_slice<T>(
    mut v: Vec<T>,
    cmp: impl Fn(&T, &T) -> Ordering,
    start: usize,
    end: usize,
) -> Vec<T> {
    let end = end.min(v.len());
    let start = start.min(end);
    if end < v.len() {
        if end == 0 {
            return Vec::new();
        }
        v.select_nth_unstable_by(end - 1, &cmp);
        v.truncate(end);
    }
    v.sort_unstable_by(&cmp);
    v.drain(start..).collect()
}

/// Rows `start..end` of `rows` in `key` order (`desc` reverses it).
pub fn sort_rows(
    rows: Vec<PeerRow>,
    key: SortKey,
    desc: bool,
    start: usize,
    end: usize,
) -> Vec<PeerRow> {
    let dir = |o: Ordering| if desc { o.reverse() } else { o };
    if key == SortKey::Client {
        let keyed: Vec<(String, PeerRow)> = rows
            .into_iter()
            .map(|r| (client_software(&r.peer_id).display(), r))
            .collect();
        let cmp = |a: &(String, PeerRow), b: &(String, PeerRow)| {
            dir(a.0.cmp(&b.0)).then_with(|| tie_break(&a.1, &b.1))
        };
        return sorted_slice(keyed, cmp, start, end)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
    }
    // The direction reverses the order, not the tie-break, so pages stay stable either way.
    let cmp = |a: &PeerRow, b: &PeerRow| dir(primary(key, a, b)).then_with(|| tie_break(a, b));
    sorted_slice(rows, cmp, start, end)
}

/// What `/all_peers` was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Which peers.
    pub filter: Filter,
    /// Order.
    pub sort: SortKey,
    /// Descending.
    pub desc: bool,
    /// Page number, from 1.
    pub page: usize,
}

impl Params {
    /// Reads `page=`, `sort=`, `dir=`, `hash=`, `net=`; a bad value is a 400 naming it.
    pub fn parse(query: &str) -> Result<Params, WebError> {
        let q = reply::form(query.as_bytes());
        let field = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let sort = match field("sort") {
            None => SortKey::LastSeen,
            Some(s) => SortKey::parse(s).ok_or_else(|| {
                WebError::BadRequest(format!(
                    "sort={s:?} is not a column: addr, port, hash, last_seen or client"
                ))
            })?,
        };
        let desc = match field("dir") {
            None => sort.default_desc(),
            Some("asc") => false,
            Some("desc") => true,
            Some(d) => {
                return Err(WebError::BadRequest(format!(
                    "dir={d:?} is not a direction: asc or desc"
                )))
            }
        };
        let page = match field("page") {
            None => 1,
            Some(p) => p.parse::<usize>().ok().filter(|&n| n >= 1).ok_or_else(|| {
                WebError::BadRequest(format!("page={p:?} is not a page number (1, 2, ...)"))
            })?,
        };
        Ok(Params {
            filter: Filter::parse(&q)?,
            sort,
            desc,
            page,
        })
    }

    /// The link to this view with `sort`, `desc` and `page` changed.
    pub fn href(&self, sort: SortKey, desc: bool, page: usize) -> String {
        let mut q = format!(
            "/all_peers?sort={}&dir={}",
            sort.name(),
            if desc { "desc" } else { "asc" }
        );
        let filters = self.filter.query();
        if !filters.is_empty() {
            q.push('&');
            q.push_str(&filters);
        }
        if page > 1 {
            q.push_str(&format!("&page={page}"));
        }
        q
    }
}

/// A column header.
struct Column {
    label: &'static str,
    /// Link that sorts by it (toggling when it is the current order), filters kept.
    href: String,
    /// ` ▲`, ` ▼` on the current order; empty otherwise.
    arrow: &'static str,
    class: &'static str,
}

/// A peer, formatted.
struct RowView {
    addr: String,
    port: u16,
    hash: String,
    hash_href: String,
    name: String,
    client: String,
    role: &'static str,
    seen_utc: String,
    seen_ago: String,
}

/// The peers page.
#[derive(Template)]
#[template(path = "peers.html")]
struct PeersPage<'a> {
    layout: Layout<'a>,
    columns: Vec<Column>,
    rows: Vec<RowView>,
    /// Filter values as typed back into the form.
    hash: String,
    net: String,
    sort: &'static str,
    dir: &'static str,
    /// "showing 51–100 of 1,234".
    showing: String,
    prev: String,
    next: String,
    /// Query of the filters, for the export links (empty for none).
    filters: String,
    filtered: bool,
}

/// `GET /all_peers`.
pub async fn page(web: &Arc<Web>, req: &Req, who: &Who) -> Result<Response<Vec<u8>>, WebError> {
    let p = Params::parse(&req.query)?;
    let w = Arc::clone(web);
    let (filter, sort, desc, wanted) = (p.filter.clone(), p.sort, p.desc, p.page);
    let (total, page, rows) = crate::blocking::try_run(move || {
        let rows = collect(&*w.store, &filter);
        let total = rows.len();
        let last = total.div_ceil(PAGE_SIZE).max(1);
        let page = wanted.min(last);
        let start = (page - 1) * PAGE_SIZE;
        (
            total,
            page,
            sort_rows(rows, sort, desc, start, start + PAGE_SIZE),
        )
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?;

    let mut hashes: Vec<InfoHash> = rows.iter().map(|r| r.info_hash).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let names = match web.db(move |s| s.torrent_names(&hashes)).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("peers page: torrent names not read: {e}");
            HashMap::new()
        }
    };
    let now = web.now();
    let start = (page - 1) * PAGE_SIZE;
    let showing = if total == 0 {
        "showing 0 of 0".to_owned()
    } else {
        format!(
            "showing {}–{} of {}",
            format::count(start as u64 + 1),
            format::count((start + rows.len()) as u64),
            format::count(total as u64)
        )
    };
    let columns = [
        (SortKey::Addr, "Address", ""),
        (SortKey::Port, "Port", "num"),
        (SortKey::Hash, "Torrent", ""),
        (SortKey::Client, "Client", ""),
        (SortKey::LastSeen, "Last seen", ""),
    ]
    .into_iter()
    .map(|(key, label, class)| {
        let current = key == p.sort;
        let desc = if current { !p.desc } else { key.default_desc() };
        Column {
            label,
            href: p.href(key, desc, 1),
            arrow: match (current, p.desc) {
                (false, _) => "",
                (true, false) => " ▲",
                (true, true) => " ▼",
            },
            class,
        }
    })
    .collect();
    let view = PeersPage {
        layout: Layout::new(who, "peers"),
        columns,
        rows: rows
            .iter()
            .map(|r| RowView {
                addr: r.ip.to_string(),
                port: r.port,
                hash: hex::encode(&r.info_hash),
                hash_href: {
                    let mut only = p.clone();
                    only.filter.hash = Some(r.info_hash);
                    only.href(p.sort, p.desc, 1)
                },
                name: names.get(&r.info_hash).cloned().unwrap_or_default(),
                client: client_software(&r.peer_id).display(),
                role: if r.seeder { "seeder" } else { "leecher" },
                seen_utc: format::utc(r.last_seen),
                seen_ago: format::duration(u64::from(now.saturating_sub(r.last_seen))),
            })
            .collect(),
        hash: p.filter.hash.map(|h| hex::encode(&h)).unwrap_or_default(),
        net: p.filter.net.map(|n| n.to_string()).unwrap_or_default(),
        sort: p.sort.name(),
        dir: if p.desc { "desc" } else { "asc" },
        showing,
        prev: if page > 1 {
            p.href(p.sort, p.desc, page - 1)
        } else {
            String::new()
        },
        next: if page * PAGE_SIZE < total {
            p.href(p.sort, p.desc, page + 1)
        } else {
            String::new()
        },
        filters: p.filter.query(),
        filtered: p.filter != Filter::default(),
    };
    Ok(reply::page(&view))
}

#[cfg(test)]
mod tests;
