//! gzip, `tracker id`, BEP 31 `retry in`, the info-hash access list, interval jitter and a
//! dual-stack (IPv4 + IPv6) listener pair, against the real server.

mod common;
use common::*;
use serde_bencode::value::Value;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};

/// Decodes a gzip body.
fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("a valid gzip stream");
    out
}

/// Torrent `n`'s info hash.
fn hash(n: u32) -> [u8; 20] {
    id20("extras-hash-", n)
}

/// The 40-hex form of a hash, as the access list file holds it.
fn hex(h: &[u8; 20]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_big_full_scrape_is_gzipped_and_decodes_to_the_same_bencode() {
    let t = Tracker::start(|c| c.tracker.full_scrape = true).await;
    for n in 0..40 {
        t.announce(&query(&hash(n), n, 6000, n.into(), "")).await;
    }
    let plain = get(t.addr, None, "/scrape", &[]).await;
    assert!(plain.body.len() > 2000, "{} bytes", plain.body.len());
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("accept-encoding"));

    let gz = get(
        t.addr,
        None,
        "/scrape",
        &[("Accept-Encoding", "gzip, deflate")],
    )
    .await;
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("accept-encoding"));
    assert!(gz.body.len() < plain.body.len() / 2, "{}", gz.body.len());
    assert_eq!(
        gz.header("content-length"),
        Some(gz.body.len().to_string().as_str())
    );
    let decoded = gunzip(&gz.body);
    assert_eq!(decoded, plain.body);
    assert_eq!(decode_dict(&decoded).dict("files").0.len(), 40);
}

#[tokio::test]
async fn a_long_non_compact_peer_list_is_gzipped() {
    let t = Tracker::start(|_| {}).await;
    let h = hash(1);
    for n in 0..30 {
        t.announce(&query(&h, n, 7000 + n as u16, 5, "")).await;
    }
    let target = format!("/announce?{}", query(&h, 99, 7999, 5, "&compact=0"));
    let r = get(t.addr, None, &target, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let d = decode_dict(&gunzip(&r.body));
    match d.get("peers") {
        Some(Value::List(peers)) => assert_eq!(peers.len(), 30),
        other => panic!("peers: {other:?}"),
    }
}

#[tokio::test]
async fn a_small_answer_is_not_gzipped() {
    let t = Tracker::start(|_| {}).await;
    let h = hash(2);
    t.announce(&query(&h, 1, 6001, 0, "")).await;
    let target = format!("/announce?{}", query(&h, 2, 6002, 5, ""));
    let r = get(t.addr, None, &target, &[("Accept-Encoding", "gzip")]).await;
    assert!(r.body.len() < 512);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("vary"), None);
    assert_eq!(r.dict().peers4().len(), 1);
}

#[tokio::test]
async fn gzip_with_q_0_is_not_sent() {
    let t = Tracker::start(|c| c.tracker.full_scrape = true).await;
    for n in 0..20 {
        t.announce(&query(&hash(n), n, 6000, 0, "")).await;
    }
    for refusal in ["gzip;q=0, deflate", "*;q=0", "gzip;q=0.000, *", "identity"] {
        let r = get(t.addr, None, "/scrape", &[("Accept-Encoding", refusal)]).await;
        assert!(r.body.len() > 512);
        assert_eq!(r.header("content-encoding"), None, "{refusal}");
        assert_eq!(r.header("vary"), Some("accept-encoding"), "{refusal}");
        assert_eq!(r.dict().dict("files").0.len(), 20, "{refusal}");
    }
    let r = get(
        t.addr,
        None,
        "/scrape",
        &[("Accept-Encoding", "br;q=1, *;q=0.1")],
    )
    .await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn web_pages_are_gzipped_too() {
    let t = common::web::start(|_| {}).await;
    let plain = get(t.addr, None, "/login", &[]).await;
    assert_eq!(plain.status, 200);
    assert!(plain.body.len() > 512, "{}", plain.body.len());
    let gz = get(t.addr, None, "/login", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let html = String::from_utf8(gunzip(&gz.body)).unwrap();
    assert!(html.contains("<form"), "{html}");
    // The security headers survive the wrapper.
    assert!(gz.header("content-security-policy").is_some());
}

#[tokio::test]
async fn tracker_id_is_sent_when_set_and_trackerid_is_accepted() {
    let t = Tracker::start(|_| {}).await;
    let d = t.announce(&query(&hash(3), 1, 6001, 0, "")).await;
    assert!(d.get("tracker id").is_none());

    let t = Tracker::start(|c| c.tracker.tracker_id = "lan-tracker-1".into()).await;
    let d = t.announce(&query(&hash(3), 1, 6001, 0, "")).await;
    assert_eq!(d.str("tracker id").as_deref(), Some("lan-tracker-1"));
    // The client echoes it back (BEP 3), escaped or not.
    for echo in [
        "&trackerid=lan-tracker-1",
        "&trackerid=lan%2Dtracker%2D1",
        "&trackerid=%FF",
    ] {
        let d = t.announce(&query(&hash(3), 2, 6002, 0, echo)).await;
        assert_eq!(
            d.str("tracker id").as_deref(),
            Some("lan-tracker-1"),
            "{echo}"
        );
    }
}

/// The failure dict of a refused announce from `from`.
async fn refusal(t: &Tracker, from: IpAddr, q: &str) -> Dict {
    let d = t.announce_from(from, q).await;
    assert!(d.get("failure reason").is_some(), "not refused: {q}");
    d
}

#[tokio::test]
async fn lasting_refusals_say_retry_in_never_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = {
        let mut c = config_in(dir.path());
        c.tracker.ignore_ip = "127.0.0.2".parse().unwrap();
        c.tracker.allowed_networks = "127.0.0.1/32, 127.0.0.2/32, 127.0.0.5/32".parse().unwrap();
        c
    };
    // Blocklist entries live in the database: put them there before the start.
    let blocked = hash(66);
    {
        let storage = retracker::storage::Storage::open(&config.db.path, 1).unwrap();
        for target in [hex(&blocked), "127.0.0.5".into()] {
            let target = retracker::blocklist::BlockTarget::parse(&target).unwrap();
            storage.add_block(&target, "test", 1, "admin").unwrap();
        }
    }
    let t = Tracker::start_in(dir, config, &["127.0.0.1:0"]).await;
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    let ok = query(&hash(4), 1, 6001, 0, "");

    let cases = [
        (
            "127.0.0.2",
            ok.clone(),
            "your address 127.0.0.2 is blocked by this tracker",
        ),
        ("127.0.0.3", ok.clone(), "not in a network allowed"),
        (
            "127.0.0.5",
            ok.clone(),
            "your address 127.0.0.5 is blocked on this tracker: test",
        ),
        (
            "127.0.0.1",
            query(&blocked, 1, 6001, 0, ""),
            "this torrent is blocked",
        ),
    ];
    for (from, q, reason) in cases {
        let d = refusal(&t, from.parse().unwrap(), &q).await;
        let got = d.str("failure reason").unwrap();
        assert!(got.contains(reason), "{from}: {got}");
        assert_eq!(d.str("retry in").as_deref(), Some("never"), "{from}: {got}");
    }
    for q in [
        "info_hash=short&peer_id=x&port=1&left=0",
        &ok.replace("port=6001", "port=65536"),
    ] {
        let d = refusal(&t, local, q).await;
        assert!(d.get("retry in").is_none(), "{q}: {:?}", d.0);
    }
    assert!(t.announce(&ok).await.get("retry in").is_none());
}

/// Starts a tracker with an access list of `mode` holding `listed`.
async fn with_access_list(mode: &str, listed: &[[u8; 20]]) -> Tracker {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("access.txt");
    let mut text = String::from("# access list of the test\n\n");
    for h in listed {
        text.push_str(&format!("  {}  # a torrent\n", hex(h).to_uppercase()));
    }
    std::fs::write(&file, text).unwrap();
    let mut config = config_in(dir.path());
    config.access.mode = match mode {
        "allow" => retracker::config::AccessMode::Allow,
        _ => retracker::config::AccessMode::Deny,
    };
    config.access.file = Some(file);
    Tracker::start_in(dir, config, &["127.0.0.1:0"]).await
}

/// `(complete, incomplete, downloaded)` of `h` in a scrape answer, if listed.
fn counts(files: &Dict, h: &[u8; 20]) -> Option<(i64, i64, i64)> {
    match files.0.get(&h[..]) {
        Some(Value::Dict(d)) => {
            let d = Dict(d.clone());
            Some((d.int("complete"), d.int("incomplete"), d.int("downloaded")))
        }
        _ => None,
    }
}

#[tokio::test]
async fn an_allow_list_lets_only_its_torrents_through() {
    let (listed, other) = (hash(10), hash(11));
    let t = with_access_list("allow", &[listed]).await;
    t.announce(&query(&listed, 1, 6001, 0, "")).await;
    let d = t.announce(&query(&listed, 2, 6002, 5, "")).await;
    assert_eq!(d.int("complete"), 1);

    let r = t
        .get(&format!("/announce?{}", query(&other, 1, 6001, 0, "")))
        .await;
    let d = r.dict();
    assert_eq!(
        d.str("failure reason").as_deref(),
        Some("info_hash is not on this tracker's allow list")
    );
    assert_eq!(d.str("retry in").as_deref(), Some("never"));

    // A scrape answers the unlisted torrent with zeros, as any unknown torrent.
    let r = t
        .get(&format!(
            "/scrape?info_hash={}&info_hash={}",
            pct(&listed),
            pct(&other)
        ))
        .await;
    let files = r.dict().dict("files");
    assert_eq!(counts(&files, &listed), Some((1, 1, 0)));
    assert_eq!(counts(&files, &other), Some((0, 0, 0)));
}

#[tokio::test]
async fn a_deny_list_refuses_its_torrents() {
    let (denied, other) = (hash(20), hash(21));
    let t = with_access_list("deny", &[denied]).await;
    let d = t.announce(&query(&other, 1, 6001, 0, "")).await;
    assert!(d.get("failure reason").is_none());
    let r = t
        .get(&format!("/announce?{}", query(&denied, 1, 6001, 0, "")))
        .await;
    let d = r.dict();
    assert_eq!(
        d.str("failure reason").as_deref(),
        Some("info_hash is on this tracker's deny list")
    );
    assert_eq!(d.str("retry in").as_deref(), Some("never"));

    let r = t
        .get(&format!(
            "/scrape?info_hash={}&info_hash={}",
            pct(&denied),
            pct(&other)
        ))
        .await;
    let files = r.dict().dict("files");
    assert_eq!(counts(&files, &denied), Some((0, 0, 0)));
    assert_eq!(counts(&files, &other), Some((1, 0, 0)));
}

#[tokio::test]
async fn a_bad_access_list_stops_the_start_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("allow.txt");
    std::fs::write(&file, format!("# ok\n{}\nnot-a-hash\n", hex(&hash(1)))).unwrap();
    let mut config = config_in(dir.path());
    config.access.mode = retracker::config::AccessMode::Allow;
    config.access.file = Some(file.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = retracker::server::run(config, vec![listener], std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("{}:3: expected an info hash", file.display())),
        "{err}"
    );
    assert!(err.contains("\"not-a-hash\""), "{err}");
}

#[tokio::test]
async fn interval_jitter_spreads_the_intervals_sent() {
    const INTERVAL: i64 = 1800;
    const JITTER: i64 = 600;
    const N: usize = 400;
    let t = Tracker::start(|c| {
        c.tracker.announce_interval = INTERVAL as u32;
        c.tracker.min_interval = 60;
        c.tracker.announce_interval_jitter = JITTER as u32;
    })
    .await;
    let h = hash(30);
    let mut intervals = Vec::with_capacity(N);
    for n in 0..N as u32 {
        let d = t.announce(&query(&h, n % 20, 6000, 0, "")).await;
        assert_eq!(d.int("min interval"), 60, "min interval has no jitter");
        intervals.push(d.int("interval"));
    }
    assert!(
        intervals
            .iter()
            .all(|i| (INTERVAL..=INTERVAL + JITTER).contains(i)),
        "{intervals:?}"
    );
    // Uniform on 0..=600: mean 300, standard deviation 173, so the mean of 400 draws has a
    // standard deviation of 8.7; every bound below is more than 6 of those away.
    let mean = intervals.iter().sum::<i64>() as f64 / N as f64 - INTERVAL as f64;
    assert!((240.0..=360.0).contains(&mean), "mean jitter {mean}");
    let quarter = |q: i64| {
        intervals
            .iter()
            .filter(|&&i| (i - INTERVAL) * 4 / (JITTER + 1) == q)
            .count()
    };
    // Each quarter expects 100 draws (standard deviation 8.7).
    for q in 0..4 {
        assert!(
            (50..=150).contains(&quarter(q)),
            "quarter {q}: {}",
            quarter(q)
        );
    }
    let mut distinct = intervals.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 150, "{} distinct values", distinct.len());
}

#[tokio::test]
async fn ipv4_and_ipv6_clients_share_a_swarm_on_a_dual_stack_port() {
    let t = Tracker::start_dual(|_| {}).await;
    let (v4, v6) = (t.addrs[0], t.addrs[1]);
    assert!(v4.is_ipv4() && v6.is_ipv6());
    assert_eq!(v4.port(), v6.port(), "one port, two listeners");
    let h = hash(40);
    let announce = |addr: SocketAddr, n: u32, port: u16| {
        let target = format!("/announce?{}", query(&h, n, port, 5, ""));
        async move { get(addr, None, &target, &[]).await.dict() }
    };
    announce(v4, 1, 6001).await;
    announce(v6, 2, 6002).await;

    let from_v4 = announce(v4, 3, 6003).await;
    let from_v6 = announce(v6, 4, 6004).await;
    let loop4: IpAddr = "127.0.0.1".parse().unwrap();
    let loop6: IpAddr = "::1".parse().unwrap();
    assert_eq!(from_v4.bytes("external ip"), [127, 0, 0, 1]);
    assert_eq!(from_v6.bytes("external ip").len(), 16);
    // Both families to both clients: IPv4 peers in peers, IPv6 peers in peers6.
    let mut v4_peers = from_v4.peers4();
    v4_peers.sort();
    assert_eq!(
        v4_peers,
        [SocketAddr::new(loop4, 6001)],
        "the IPv4 client sees the other IPv4 peer"
    );
    assert_eq!(from_v4.peers6(), [SocketAddr::new(loop6, 6002)]);
    let mut v4_seen_by_v6 = from_v6.peers4();
    v4_seen_by_v6.sort();
    assert_eq!(
        v4_seen_by_v6,
        [SocketAddr::new(loop4, 6001), SocketAddr::new(loop4, 6003)]
    );
    assert_eq!(from_v6.peers6(), [SocketAddr::new(loop6, 6002)]);
    assert_eq!(from_v6.int("incomplete"), 4);
}
