//! The dashboard, `/api/stats`, the peers browser and the exports, checked over HTTP against a
//! swarm built with real announces (several loopback addresses, reported IPv6 addresses, real
//! client peer_ids) and a real SQLite file.

mod common;

use common::html::{text, unescape};
use common::web::{self, basic, request, Browser, PASSWORD};
use common::{id20, pct, Tracker};
use retracker::web::format;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Duration;

const H1: [u8; 20] = [0x11; 20];
const H2: [u8; 20] = [0x22; 20];
const H3: [u8; 20] = [0x33; 20];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One peer of the test swarm.
#[derive(Clone, Debug)]
struct Peer {
    hash: [u8; 20],
    id: [u8; 20],
    /// Loopback address the announce is sent from.
    from: &'static str,
    /// Reported `ip=` (believed with verify_reported_ip off), else `from`.
    ip: Option<&'static str>,
    port: u16,
    seeder: bool,
    /// Announces as a leecher first, then `event=completed` with left=0.
    completes: bool,
}

impl Peer {
    fn addr(&self) -> IpAddr {
        self.ip.unwrap_or(self.from).parse().unwrap()
    }
}

fn peer(
    hash: [u8; 20],
    prefix: &str,
    n: u32,
    from: &'static str,
    ip: Option<&'static str>,
) -> Peer {
    Peer {
        hash,
        id: id20(prefix, n),
        from,
        ip,
        port: 6000 + n as u16,
        seeder: false,
        completes: false,
    }
}

fn seeder(mut p: Peer) -> Peer {
    p.seeder = true;
    p
}

/// The swarm of the dashboard tests: three torrents, IPv4 from several loopback addresses and
/// an internal reported address, IPv6 by `ip=`, four client programs and one completed download.
fn swarm() -> Vec<Peer> {
    let mut completing = peer(H2, "-qB4520-", 6, "127.0.0.1", Some("2001:db8:0:1::5"));
    completing.completes = true;
    completing.seeder = true;
    vec![
        seeder(peer(H1, "-TR3000-", 1, "127.0.0.2", None)),
        peer(H1, "-qB4520-", 2, "127.0.0.3", None),
        peer(H1, "A2-1-36-0-", 3, "127.0.0.4", None),
        seeder(peer(H1, "-LT2080-", 4, "127.0.0.1", Some("2001:db8::1"))),
        peer(H2, "-TR3000-", 5, "127.0.0.2", None),
        completing,
        seeder(peer(H3, "-TR3000-", 7, "127.0.0.1", Some("10.9.8.7"))),
    ]
}

/// Sends an announce from `from`, expecting success.
async fn announce_from(t: &Tracker, from: &str, query: &str) {
    let d = t.announce_from(from.parse().unwrap(), query).await;
    assert!(
        d.get("failure reason").is_none(),
        "refused: {:?} for {query}",
        d.str("failure reason")
    );
}

fn announce_query(p: &Peer, left: u64, extra: &str) -> String {
    let ip = p.ip.map(|ip| format!("&ip={ip}")).unwrap_or_default();
    format!(
        "info_hash={}&peer_id={}&port={}&uploaded=0&downloaded=0&left={left}{ip}{extra}",
        pct(&p.hash),
        pct(&p.id),
        p.port
    )
}

/// Announces every peer; returns how many announces were sent.
async fn build(t: &Tracker, peers: &[Peer]) -> u64 {
    let mut sent = 0;
    for p in peers {
        let left = if p.seeder && !p.completes { 0 } else { 1000 };
        announce_from(t, p.from, &announce_query(p, left, "&event=started")).await;
        sent += 1;
        if p.completes {
            announce_from(t, p.from, &announce_query(p, 0, "&event=completed")).await;
            sent += 1;
        }
    }
    sent
}

/// The tweak that makes the tracker believe `ip=` (so tests can place peers anywhere).
fn believe_ip(c: &mut retracker::config::Config) {
    c.tracker.verify_reported_ip = false;
    c.tracker.allow_internal_ip = true;
}

/// GET with HTTP basic auth; returns the response.
async fn api(t: &Tracker, target: &str) -> common::Resp {
    request(
        t.addr,
        "GET",
        target,
        &[("Authorization", &basic("admin", PASSWORD))],
        "",
    )
    .await
}

async fn api_json(t: &Tracker, target: &str) -> Value {
    let r = api(t, target).await;
    assert_eq!(
        r.status,
        200,
        "{target}: {}",
        String::from_utf8_lossy(&r.body)
    );
    serde_json::from_slice(&r.body).unwrap()
}

/// Waits until the write-behind backlog is empty, so the numbers stay put.
async fn settle(t: &Tracker) {
    for _ in 0..100 {
        if api_json(t, "/api/stats").await["backlog"] == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the backlog was never written");
}

/// The element with `id="..."`: its opening tag and its inner HTML (no nesting of the same tag).
fn element<'a>(html: &'a str, id: &str) -> Option<(&'a str, &'a str)> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let open = html[..at].rfind('<')?;
    let tag: String = html[open + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let start = at + html[at..].find('>')? + 1;
    let end = start + html[start..].find(&format!("</{tag}>"))?;
    Some((&html[open..start], &html[start..end]))
}

/// The visible text of the element `id`.
fn text_of(html: &str, id: &str) -> String {
    let (_, inner) = element(html, id).unwrap_or_else(|| panic!("no element id={id}"));
    text(inner)
}

/// A number as the dashboard writes it ("1,234").
fn number(s: &str) -> u64 {
    s.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {s:?}"))
}

/// The body rows of table `id`, each as the cells' visible text.
fn table(html: &str, id: &str) -> Vec<Vec<String>> {
    let (_, inner) = element(html, id).unwrap_or_else(|| panic!("no table id={id}"));
    let body = &inner[inner.find("<tbody>").expect("tbody")..];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let cell = &cell[cell.find('>').unwrap() + 1..];
                    text(&cell[..cell.find("</td>").unwrap_or(cell.len())])
                })
                .collect()
        })
        .collect()
}

/// The `href`s of the links inside `html`, entities decoded.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|s| unescape(&s[..s.find('"').unwrap()]))
        .collect()
}

/// The links of the column headers of the peers table.
fn header_links(html: &str) -> Vec<String> {
    let (_, inner) = element(html, "peers").expect("peers table");
    links(&inner[..inner.find("</thead>").expect("thead")])
}

/// A tiny RFC 4180 reader: every line must end in CRLF; quoted fields may hold `,` `"` CR LF.
fn parse_csv(doc: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = doc.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            '\n' => panic!("bare LF line end"),
            c => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quote");
    assert!(field.is_empty() && row.is_empty(), "last line without CRLF");
    rows
}

/// CSV rows as maps from the header's names.
fn csv_records(doc: &str) -> Vec<HashMap<String, String>> {
    let rows = parse_csv(doc);
    let header = &rows[0];
    rows[1..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), header.len(), "{r:?}");
            header.iter().cloned().zip(r.iter().cloned()).collect()
        })
        .collect()
}

/// The /24 or /48 of an address, as the dashboard groups by default.
fn block(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => ipnet::Ipv4Net::new(v4, 24).unwrap().trunc().to_string(),
        IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, 48).unwrap().trunc().to_string(),
    }
}

/// Client program of each peer_id prefix used here.
fn program(id: &[u8; 20]) -> &'static str {
    match &id[..3] {
        b"-TR" => "Transmission",
        b"-qB" => "qBittorrent",
        b"A2-" => "aria2",
        b"-LT" => "libtorrent (Rasterbar)",
        other => panic!("no program for {other:?}"),
    }
}

/// What the swarm should look like, counted from its definition.
struct Expected {
    torrents: u64,
    peers: u64,
    seeders: u64,
    leechers: u64,
    unique: u64,
    ipv4: u64,
    ipv6: u64,
    completed: u64,
}

fn expected(peers: &[Peer]) -> Expected {
    let n = |f: &dyn Fn(&Peer) -> bool| peers.iter().filter(|p| f(p)).count() as u64;
    Expected {
        torrents: peers.iter().map(|p| p.hash).collect::<BTreeSet<_>>().len() as u64,
        peers: peers.len() as u64,
        seeders: n(&|p| p.seeder),
        leechers: n(&|p| !p.seeder),
        unique: peers.iter().map(Peer::addr).collect::<BTreeSet<_>>().len() as u64,
        ipv4: n(&|p| p.addr().is_ipv4()),
        ipv6: n(&|p| p.addr().is_ipv6()),
        completed: n(&|p| p.completes),
    }
}

#[tokio::test]
async fn dashboard_cards_tables_and_api_agree_with_the_swarm() {
    let t = web::start(|c| {
        believe_ip(c);
        // No history snapshot may grow the database while its size is compared.
        c.stats.snapshot_interval = 3600;
    })
    .await;
    let b = Browser::login(t.addr).await;

    // Before any announce: zeros and "no peers yet" rows.
    let html = b.page("/stat").await;
    assert_eq!(text_of(&html, "peers"), "0");
    for id in ["top-torrents", "networks", "clients"] {
        assert_eq!(table(&html, id), [["no peers yet"]], "{id}");
    }

    let peers = swarm();
    let announces = build(&t, &peers).await;
    let scrape = t.get(&format!("/scrape?info_hash={}", pct(&H1))).await;
    assert_eq!(scrape.status, 200);
    let names = [
        (H1, "Debian 12, \"bookworm\""),
        (H2, "=HYPERLINK(\"http://evil.example\",\"click\")"),
        (H3, "<script>alert(1)</script>"),
    ];
    {
        let storage = retracker::storage::Storage::open(&t.db, 1).unwrap();
        for (h, name) in names {
            storage.set_torrent_name(&h, name, 1).unwrap();
        }
    }
    settle(&t).await;
    let e = expected(&peers);
    assert!(e.unique < e.peers, "one address runs two peers");

    let html = b.page("/").await;
    assert!(b.page("/stats").await.contains("id=\"peers\""));
    let card = |id: &str| number(&text_of(&html, id));
    let o = api_json(&t, "/api/stats").await;
    for (id, field, want) in [
        ("torrents", "torrents", e.torrents),
        ("peers", "peers", e.peers),
        ("seeders", "seeders", e.seeders),
        ("leechers", "leechers", e.leechers),
        ("unique", "unique_addrs", e.unique),
        ("completed", "completed", e.completed),
        ("backlog", "backlog", 0),
    ] {
        assert_eq!(card(id), want, "card {id}");
        assert_eq!(o[field], want, "/api/stats {field}");
    }
    assert_eq!(card("ipv4"), e.ipv4);
    assert_eq!(card("ipv6"), e.ipv6);
    assert_eq!(o["ipv4"]["peers"], e.ipv4);
    assert_eq!(o["ipv6"]["peers"], e.ipv6);
    let v6_seeders = peers
        .iter()
        .filter(|p| p.seeder && p.addr().is_ipv6())
        .count() as u64;
    assert_eq!(o["ipv6"]["seeders"], v6_seeders);
    assert_eq!(o["ipv6"]["leechers"], e.ipv6 - v6_seeders);
    assert_eq!(o["announces_ok"], announces);
    assert_eq!(o["scrapes_ok"], 1);
    assert_eq!(o["completed_source"], "database");
    assert!(o["write_error"].is_null());
    assert!(
        html.contains(&format!("{} ok", announces)),
        "announce totals shown"
    );
    for id in ["announce-rate", "scrape-rate"] {
        let rate: f64 = text_of(&html, id).parse().unwrap();
        assert!(rate >= 0.0, "{id}");
    }
    assert!(o["announces_per_sec"].is_number());
    assert!(!text_of(&html, "uptime").is_empty());
    let on_disk: u64 = [t.db.clone(), t.db.with_extension("sqlite-wal")]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    assert_eq!(o["db_size_bytes"], on_disk);
    assert_eq!(text_of(&html, "db-size"), format::bytes(on_disk));
    assert!(!html.contains("id=\"storage-alert\""));

    // Top torrents: most peers first, names as text (escaped, never markup), hash links.
    assert!(!html.contains("<script>alert(1)"), "names are escaped");
    let top = table(&html, "top-torrents");
    let mut want: Vec<(usize, [u8; 20])> = [H1, H2, H3]
        .iter()
        .map(|h| (peers.iter().filter(|p| p.hash == *h).count(), *h))
        .collect();
    want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(top.len(), 3);
    for (row, (_, h)) in top.iter().zip(&want) {
        let name = names.iter().find(|(n, _)| n == h).unwrap().1;
        let of = |f: &dyn Fn(&Peer) -> bool| {
            peers
                .iter()
                .filter(|p| p.hash == *h && f(p))
                .count()
                .to_string()
        };
        let completed = of(&|p| p.completes);
        assert_eq!(
            row,
            &[
                name.to_owned(),
                hex(h),
                of(&|p| p.seeder),
                of(&|p| !p.seeder),
                completed
            ]
        );
    }
    assert!(links(&html).contains(&format!("/all_peers?hash={}", hex(&H1))));
    let api_top = o["top_torrents"].as_array().unwrap();
    assert_eq!(api_top[0]["info_hash"], hex(&want[0].1));
    assert_eq!(api_top[0]["name"], names[0].1);
    assert_eq!(
        api_top[0]["seeders"].as_u64().unwrap() + api_top[0]["leechers"].as_u64().unwrap(),
        want[0].0 as u64
    );

    // Peers by network: /24 and /48 blocks by default, biggest first, each linking to its peers.
    let mut groups: BTreeMap<String, u64> = BTreeMap::new();
    for p in &peers {
        *groups.entry(block(p.addr())).or_default() += 1;
    }
    let rows = table(&html, "networks");
    let shown: BTreeMap<String, u64> = rows.iter().map(|r| (r[0].clone(), number(&r[1]))).collect();
    assert_eq!(shown, groups);
    let counts: Vec<u64> = rows.iter().map(|r| number(&r[1])).collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "sorted: {counts:?}"
    );
    assert_eq!(o["network_grouping"], "blocks");
    assert_eq!(o["networks"].as_array().unwrap().len(), groups.len());
    let (net, n) = groups.iter().max_by_key(|(_, n)| **n).unwrap();
    let link = links(&html)
        .into_iter()
        .find(|l| *l == format!("/all_peers?net={}", net.replace(':', "%3A")))
        .expect("network link");
    let page = b.page(&link).await;
    assert_eq!(table(&page, "peers").len() as u64, *n, "{link}");

    // Clients by program, with the versions.
    let mut programs: BTreeMap<&str, u64> = BTreeMap::new();
    for p in &peers {
        *programs.entry(program(&p.id)).or_default() += 1;
    }
    let rows = table(&html, "clients");
    let shown: BTreeMap<&str, u64> = rows
        .iter()
        .map(|r| (r[0].as_str(), number(&r[1])))
        .collect();
    assert_eq!(shown, programs);
    let transmission = rows.iter().find(|r| r[0] == "Transmission").unwrap();
    assert_eq!(
        transmission[4],
        format!("3.00 ({})", programs["Transmission"])
    );
    let api_clients = o["clients"].as_array().unwrap();
    assert_eq!(api_clients[0]["name"], "Transmission");
    assert_eq!(api_clients[0]["versions"][0]["version"], "3.00");

    // The export links are there.
    for l in [
        "/export/peers.csv",
        "/export/peers.json",
        "/export/torrents.csv",
        "/export/torrents.json",
        "/api/stats",
    ] {
        assert!(links(&html).iter().any(|x| x == l), "{l}");
    }
}

#[tokio::test]
async fn configured_networks_group_peers_with_an_other_row() {
    let t = web::start(|c| {
        believe_ip(c);
        c.stats.peer_networks = "127.0.0.0/8, 2001:db8::/32".parse().unwrap();
    })
    .await;
    let b = Browser::login(t.addr).await;
    let peers = swarm();
    build(&t, &peers).await;
    let in_net = |net: &str| {
        let net: ipnet::IpNet = net.parse().unwrap();
        peers.iter().filter(|p| net.contains(&p.addr())).count() as u64
    };
    let other = peers.len() as u64 - in_net("127.0.0.0/8") - in_net("2001:db8::/32");
    assert!(other > 0);
    let html = b.page("/stat").await;
    let rows: BTreeMap<String, (u64, u64, u64)> = table(&html, "networks")
        .iter()
        .map(|r| (r[0].clone(), (number(&r[1]), number(&r[2]), number(&r[3]))))
        .collect();
    let keys: Vec<&str> = rows.keys().map(String::as_str).collect();
    assert_eq!(keys, ["127.0.0.0/8", "2001:db8::/32", "other"]);
    assert_eq!(rows["127.0.0.0/8"].0, in_net("127.0.0.0/8"));
    assert_eq!(rows["2001:db8::/32"].0, in_net("2001:db8::/32"));
    assert_eq!(rows["other"].0, other);
    for (peers_n, seeders, leechers) in rows.values() {
        assert_eq!(seeders + leechers, *peers_n);
    }
    let o = api_json(&t, "/api/stats").await;
    assert_eq!(o["network_grouping"], "configured");
    let other_row = o["networks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["network"] == "other")
        .unwrap();
    assert_eq!(other_row["is_network"], false);
    assert_eq!(other_row["peers"], other);
    // Networks link to their peers; "other" is not a network and has no link.
    let hrefs = links(&html);
    assert!(
        hrefs
            .iter()
            .any(|l| l == "/all_peers?net=2001%3Adb8%3A%3A/32"),
        "{hrefs:?}"
    );
    assert!(!hrefs.iter().any(|l| l.contains("net=other")));
    let page = b.page("/all_peers?net=2001%3Adb8%3A%3A/32").await;
    assert_eq!(table(&page, "peers").len() as u64, in_net("2001:db8::/32"));
}

#[tokio::test]
async fn failing_storage_writes_show_an_alert_until_they_recover() {
    let t = web::start(|_| {}).await;
    let b = Browser::login(t.addr).await;
    let db = rusqlite::Connection::open(&t.db).unwrap();
    db.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON torrents BEGIN SELECT RAISE(ABORT, 'disk says no'); END;",
    )
    .unwrap();
    t.announce(&common::query(&H1, 1, 6001, 0, "")).await;
    let mut html = String::new();
    for _ in 0..100 {
        html = b.page("/stat").await;
        if html.contains("id=\"storage-alert\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alert = text_of(&html, "storage-alert");
    assert!(alert.contains("Storage writes are failing"), "{alert}");
    assert!(alert.contains("disk says no"), "{alert}");
    let o = api_json(&t, "/api/stats").await;
    assert!(o["write_error"].as_str().unwrap().contains("disk says no"));

    db.execute_batch("DROP TRIGGER refuse").unwrap();
    for _ in 0..100 {
        html = b.page("/stat").await;
        if !html.contains("id=\"storage-alert\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !html.contains("id=\"storage-alert\""),
        "the alert goes with the error"
    );
    let o = api_json(&t, "/api/stats").await;
    assert!(o["write_error"].is_null());
    assert!(
        o["write_failures"].as_u64().unwrap() > 0,
        "failures stay counted"
    );
    assert_eq!(text_of(&html, "backlog"), "0");
}

#[tokio::test]
async fn memory_database_counts_completed_downloads_in_memory() {
    let t = web::start(|c| {
        believe_ip(c);
        c.db.kind = retracker::config::DbKind::Memory;
    })
    .await;
    let b = Browser::login(t.addr).await;
    let peers = swarm();
    build(&t, &peers).await;
    let html = b.page("/stat").await;
    assert_eq!(
        number(&text_of(&html, "completed")),
        expected(&peers).completed
    );
    assert_eq!(text_of(&html, "db-size"), "0 B");
    let o = api_json(&t, "/api/stats").await;
    assert_eq!(o["completed_source"], "memory");
    assert_eq!(o["db_persistent"], false);
    assert_eq!(o["completed"], expected(&peers).completed);
}

/// A peers page's rows as (address, port, torrent text, client, role, seen text).
fn peer_rows(html: &str) -> Vec<Vec<String>> {
    let rows = table(html, "peers");
    if rows.len() == 1 && rows[0].len() == 1 {
        return Vec::new(); // "no peers yet"
    }
    rows
}

/// Sends `n` peers of `hash` from reported addresses 10.0.(i % 4).(i), ports 7000 + i % 9.
async fn crowd(t: &Tracker, hash: [u8; 20], first: u32, n: u32) -> Vec<Peer> {
    let prefixes = ["-TR3000-", "-qB4520-", "A2-1-36-0-", "-LT2080-"];
    let mut out = Vec::new();
    for i in first..first + n {
        let ip: &'static str =
            Box::leak(format!("10.0.{}.{}", i % 4, i % 250 + 1).into_boxed_str());
        let mut p = peer(hash, prefixes[i as usize % 4], i, "127.0.0.1", Some(ip));
        p.port = 7000 + (i % 9) as u16;
        p.seeder = i % 3 == 0;
        let left = if p.seeder { 0 } else { 1000 };
        announce_from(t, p.from, &announce_query(&p, left, "")).await;
        out.push(p);
    }
    out
}

#[tokio::test]
async fn peers_browser_sorts_pages_and_filters() {
    let t = web::start_manual(believe_ip).await;
    let b = Browser::login(t.addr).await;
    assert_eq!(
        text_of(&b.page("/all_peers").await, "showing"),
        "showing 0 of 0"
    );
    let mut peers = crowd(&t, H1, 1, 30).await;
    // One second later on the tracker's clock, so "last seen" tells the two groups apart.
    t.clock.advance(1);
    peers.extend(crowd(&t, H2, 31, 35).await);
    let total = peers.len();
    assert!(total > 50);

    // Default: last seen, newest first; two pages that together list every peer once.
    let html = b.page("/all_peers").await;
    assert_eq!(
        text_of(&html, "showing"),
        format!("showing 1–50 of {total}")
    );
    let first = peer_rows(&html);
    assert_eq!(first.len(), 50);
    let seen: Vec<&str> = first.iter().map(|r| r[5].as_str()).collect();
    assert!(
        seen.windows(2).all(|w| w[0][..23] >= w[1][..23]),
        "{seen:?}"
    );
    assert!(
        first[..35].iter().all(|r| r[2] == hex(&H2)),
        "the later group first"
    );
    assert!(element(&html, "prev").is_none());
    let (next_tag, _) = element(&html, "next").expect("a next link");
    let next = links(next_tag).remove(0);
    let html2 = b.page(&next).await;
    assert_eq!(
        text_of(&html2, "showing"),
        format!("showing 51–{total} of {total}")
    );
    assert!(element(&html2, "next").is_none());
    assert!(element(&html2, "prev").is_some());
    let second = peer_rows(&html2);
    let listed: BTreeSet<(String, String, String)> = first
        .iter()
        .chain(&second)
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    let want: BTreeSet<(String, String, String)> = peers
        .iter()
        .map(|p| (p.addr().to_string(), p.port.to_string(), hex(&p.hash)))
        .collect();
    assert_eq!(listed, want);
    // Beyond the last page: the last page.
    let html = b.page("/all_peers?page=99").await;
    assert_eq!(
        text_of(&html, "showing"),
        format!("showing 51–{total} of {total}")
    );

    // Each row shows what the peer is.
    let by_addr: HashMap<(String, String), &Peer> = peers
        .iter()
        .map(|p| ((p.addr().to_string(), p.port.to_string()), p))
        .collect();
    for r in first.iter().chain(&second) {
        let p = by_addr[&(r[0].clone(), r[1].clone())];
        assert!(r[3].starts_with(program(&p.id)), "{r:?}");
        assert_eq!(r[4], if p.seeder { "seeder" } else { "leecher" });
        assert!(r[5].ends_with("ago)"), "{r:?}");
    }

    // Sorting by address, ascending, then descending via the column header.
    let html = b.page("/all_peers?sort=addr&dir=asc").await;
    let rows = peer_rows(&html);
    let addrs: Vec<(IpAddr, u16)> = rows
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    let mut all: Vec<(IpAddr, u16)> = peers.iter().map(|p| (p.addr(), p.port)).collect();
    all.sort();
    assert_eq!(addrs, all[..50]);
    let header = header_links(&html)
        .into_iter()
        .find(|l| l.contains("sort=addr"))
        .unwrap();
    assert!(header.contains("dir=desc"), "{header}");
    let rows = peer_rows(&b.page(&header).await);
    let desc: Vec<(IpAddr, u16)> = rows
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    all.reverse();
    assert_eq!(desc, all[..50]);

    // Port descending; client ascending.
    let rows = peer_rows(&b.page("/all_peers?sort=port&dir=desc").await);
    let ports: Vec<u16> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(ports.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(ports[0], peers.iter().map(|p| p.port).max().unwrap());
    let rows = peer_rows(&b.page("/all_peers?sort=client").await);
    let clients: Vec<&str> = rows.iter().map(|r| r[3].as_str()).collect();
    assert!(clients.windows(2).all(|w| w[0] <= w[1]), "{clients:?}");
    let rows = peer_rows(&b.page("/all_peers?sort=hash&dir=asc").await);
    assert!(rows[..30].iter().all(|r| r[2] == hex(&H1)));

    // Filters: by torrent, by network, by single address; header links keep them.
    let html = b
        .page(&format!("/all_peers?hash={}", hex(&H1).to_uppercase()))
        .await;
    let rows = peer_rows(&html);
    assert_eq!(rows.len(), 30);
    assert!(rows.iter().all(|r| r[2] == hex(&H1)));
    assert_eq!(text_of(&html, "showing"), "showing 1–30 of 30");
    let headers = header_links(&html);
    assert_eq!(headers.len(), 5, "{headers:?}");
    assert!(headers
        .iter()
        .all(|l| l.contains(&format!("hash={}", hex(&H1)))));
    let net: ipnet::IpNet = "10.0.1.0/24".parse().unwrap();
    let in_net = peers.iter().filter(|p| net.contains(&p.addr())).count();
    let html = b.page("/all_peers?net=10.0.1.0%2F24&sort=addr").await;
    let rows = peer_rows(&html);
    assert_eq!(rows.len(), in_net);
    assert!(rows
        .iter()
        .all(|r| net.contains(&r[0].parse::<IpAddr>().unwrap())));
    let one = peers[5].addr().to_string();
    let rows = peer_rows(&b.page(&format!("/all_peers?net={one}")).await);
    assert_eq!(
        rows.len(),
        peers.iter().filter(|p| p.addr().to_string() == one).count()
    );
    let rows = peer_rows(
        &b.page(&format!("/all_peers?hash={}&net=10.0.1.0/24", hex(&H2)))
            .await,
    );
    assert_eq!(
        rows.len(),
        peers
            .iter()
            .filter(|p| p.hash == H2 && net.contains(&p.addr()))
            .count()
    );
    assert!(peer_rows(&b.page(&format!("/all_peers?hash={}", hex(&H3))).await).is_empty());

    // Bad values are refused, naming the value.
    for (q, bad) in [
        ("hash=xyz", "xyz"),
        ("hash=1111", "1111"),
        ("net=10.0.0.0/33", "10.0.0.0/33"),
        ("net=banana", "banana"),
        ("sort=size", "size"),
        ("dir=up", "up"),
        ("page=0", "0"),
    ] {
        let r = b.get(&format!("/all_peers?{q}")).await;
        assert_eq!(r.status, 400, "{q}");
        assert!(String::from_utf8_lossy(&r.body).contains(bad), "{q}");
    }
}

#[tokio::test]
async fn exports_and_api_need_credentials_and_match_the_swarm() {
    let t = web::start(believe_ip).await;
    let peers = swarm();
    build(&t, &peers).await;
    let names = [(H1, "Debian 12, \"bookworm\""), (H2, "=cmd|' /C calc'!A0")];
    {
        let storage = retracker::storage::Storage::open(&t.db, 1).unwrap();
        for (h, name) in names {
            storage.set_torrent_name(&h, name, 1).unwrap();
        }
    }
    for path in [
        "/api/stats",
        "/export/peers.csv",
        "/export/peers.json",
        "/export/torrents.csv",
        "/export/torrents.json",
    ] {
        let r = request(t.addr, "GET", path, &[], "").await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(api(&t, path).await.status, 200, "{path}");
    }
    assert_eq!(api(&t, "/api/nope").await.status, 404);
    assert_eq!(api(&t, "/export/peers.xml").await.status, 404);
    // A browser session works too.
    let b = Browser::login(t.addr).await;
    assert_eq!(b.get("/export/torrents.csv").await.status, 200);

    // peers.csv: every peer once, with its fields.
    let r = api(&t, "/export/peers.csv").await;
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"peers.csv\"")
    );
    let doc = String::from_utf8(r.body).unwrap();
    assert!(doc.starts_with("info_hash,ip,port,seeder,last_seen,last_seen_utc,client\r\n"));
    let records = csv_records(&doc);
    assert_eq!(records.len(), peers.len());
    let want: BTreeSet<(String, String, String, String)> = peers
        .iter()
        .map(|p| {
            (
                hex(&p.hash),
                p.addr().to_string(),
                p.port.to_string(),
                p.seeder.to_string(),
            )
        })
        .collect();
    let got: BTreeSet<(String, String, String, String)> = records
        .iter()
        .map(|r| {
            (
                r["info_hash"].clone(),
                r["ip"].clone(),
                r["port"].clone(),
                r["seeder"].clone(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let now = retracker::tracker::unix_now();
    for rec in &records {
        let seen: u32 = rec["last_seen"].parse().unwrap();
        assert!(now.abs_diff(seen) < 60);
        assert_eq!(rec["last_seen_utc"], format::utc(seen));
        let p = peers
            .iter()
            .find(|p| p.addr().to_string() == rec["ip"] && p.port.to_string() == rec["port"])
            .unwrap();
        assert!(rec["client"].starts_with(program(&p.id)), "{rec:?}");
    }
    // Filtered like the peers page.
    let r = api(&t, &format!("/export/peers.csv?hash={}", hex(&H1))).await;
    let filtered = csv_records(&String::from_utf8(r.body).unwrap());
    assert_eq!(
        filtered.len(),
        peers.iter().filter(|p| p.hash == H1).count()
    );
    assert_eq!(api(&t, "/export/peers.csv?net=nope").await.status, 400);

    // peers.json: the same peers, typed.
    let r = api(&t, "/export/peers.json").await;
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"peers.json\"")
    );
    let list: Vec<Value> = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(list.len(), peers.len());
    let got: BTreeSet<(String, String, String, String)> = list
        .iter()
        .map(|v| {
            assert!(v["last_seen"].is_u64() && v["port"].is_u64());
            assert_eq!(
                v["last_seen_utc"],
                format::utc(v["last_seen"].as_u64().unwrap() as u32)
            );
            (
                v["info_hash"].as_str().unwrap().to_owned(),
                v["ip"].as_str().unwrap().to_owned(),
                v["port"].to_string(),
                v["seeder"].as_bool().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);

    // torrents.csv: names quoted as needed, formulas neutralised.
    let r = api(&t, "/export/torrents.csv").await;
    let doc = String::from_utf8(r.body).unwrap();
    assert!(doc.starts_with("info_hash,name,size,seeders,leechers,completed\r\n"));
    let records = csv_records(&doc);
    assert_eq!(records.len(), 3);
    for h in [H1, H2, H3] {
        let rec = records.iter().find(|r| r["info_hash"] == hex(&h)).unwrap();
        let of = |f: &dyn Fn(&Peer) -> bool| {
            peers
                .iter()
                .filter(|p| p.hash == h && f(p))
                .count()
                .to_string()
        };
        assert_eq!(rec["seeders"], of(&|p| p.seeder));
        assert_eq!(rec["leechers"], of(&|p| !p.seeder));
        assert_eq!(rec["completed"], of(&|p| p.completes));
        let name = names.iter().find(|(n, _)| *n == h).map_or("", |n| n.1);
        if name.starts_with('=') {
            assert_eq!(rec["name"], format!("'{name}"), "formula neutralised");
        } else {
            assert_eq!(rec["name"], name);
        }
    }
    assert!(
        doc.contains("\"Debian 12, \"\"bookworm\"\"\""),
        "RFC 4180 quoting"
    );

    // torrents.json: names as they are (JSON has no formulas).
    let list: Vec<Value> =
        serde_json::from_slice(&api(&t, "/export/torrents.json").await.body).unwrap();
    assert_eq!(list.len(), 3);
    let h2 = list.iter().find(|v| v["info_hash"] == hex(&H2)).unwrap();
    assert_eq!(h2["name"], names[1].1);
    assert_eq!(h2["completed"], 1);
    let h3 = list.iter().find(|v| v["info_hash"] == hex(&H3)).unwrap();
    assert_eq!(h3["name"], "");
    assert_eq!(h3["seeders"], 1);
}
