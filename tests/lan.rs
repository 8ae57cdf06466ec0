//! The tracker on a LAN as an ISP runs it (issue 7, "LAN topology"): subscribers on two subnets,
//! Debian's nginx in front of retracker in proxy mode with packaging/nginx/retracker.conf, and
//! a host outside `allowed_networks`. Four real clients from Debian (transmission-cli seeding;
//! aria2c, libtorrent through python3-libtorrent and Enhanced CTorrent leeching) download a file
//! from each other through it. Checked through the tracker's own interfaces: every client is
//! recorded with its real address, a subscriber sending its own `X-Forwarded-For` / `X-Real-IP`
//! (and `ip=`) cannot change its address, the outside host is refused, and `/stat` shows the
//! peers by subnet. Locality: the two subnets are the operator's named networks `first` and
//! `second`; with the default `prefer` every download completes and a subscriber's peer list
//! holds its own subnet's peers first; with `strict` (after a reload that also lets the
//! outside host in) the outside host gets none of the subscribers and they never get it.
//!
//! Topology, in network namespaces the test creates and deletes (tests/lan/netns.rs):
//!
//! ```text
//!   tr 10.1.0.10  ar 10.1.0.11  sp 10.1.0.12       lt 10.2.0.10  ct 10.2.0.11
//!        \____________ br1 10.1.0.1 ____/               \___ br2 10.2.0.1 ___/
//!                              router rt (forwarding, no NAT)
//!        srv 10.0.0.2: nginx :80 -> retracker 127.0.0.1:port        out 10.9.0.2
//! ```
//!
//! Each client has a namespace of its own (rtorrent and ctorrent drop peers sharing their
//! address). Without NAT, nginx's `$remote_addr` is the subscriber's own address. Needs root,
//! nginx, curl, aria2, transmission-cli, ctorrent and python3-libtorrent: tests/run-all.sh
//! installs them and runs this test as root. About 30 s.

mod common;
#[path = "lan/netns.rs"]
mod netns;

use netns::{Lan, Side};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_retracker");
/// The server's address: nginx listens on port 80 there.
const SERVER: &str = "10.0.0.2";
const USER: &str = "admin";

/// A subscriber: namespace role, address, router bridge and peer port. The ports are fixed:
/// each namespace is new and holds nothing else that could take them.
struct Host {
    role: &'static str,
    ip: &'static str,
    bridge: &'static str,
    port: u16,
}

const TRANSMISSION: Host = Host {
    role: "tr",
    ip: "10.1.0.10",
    bridge: "br1",
    port: 51413,
};
const ARIA2: Host = Host {
    role: "ar",
    ip: "10.1.0.11",
    bridge: "br1",
    port: 6881,
};
/// Sends hand-made announces with forged headers, and reads the web UI as an operator would.
const FORGER: Host = Host {
    role: "sp",
    ip: "10.1.0.12",
    bridge: "br1",
    port: 7000,
};
const LIBTORRENT: Host = Host {
    role: "lt",
    ip: "10.2.0.10",
    bridge: "br2",
    port: 6882,
};
const CTORRENT: Host = Host {
    role: "ct",
    ip: "10.2.0.11",
    bridge: "br2",
    port: 6883,
};
const SUBSCRIBERS: [&Host; 5] = [&TRANSMISSION, &ARIA2, &FORGER, &LIBTORRENT, &CTORRENT];

/// The router, the server, the outside host and the subscribers.
fn build(lan: &mut Lan) {
    lan.router(&[("br1", "10.1.0.1/24"), ("br2", "10.2.0.1/24")]);
    lan.attach("srv", "10.0.0.2/24", "10.0.0.1", Side::Addr("10.0.0.1/24"));
    lan.attach("out", "10.9.0.2/24", "10.9.0.1", Side::Addr("10.9.0.1/24"));
    for h in SUBSCRIBERS {
        let gateway = if h.bridge == "br1" {
            "10.1.0.1"
        } else {
            "10.2.0.1"
        };
        lan.attach(
            h.role,
            &format!("{}/24", h.ip),
            gateway,
            Side::Bridge(h.bridge),
        );
    }
}

fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(
        found,
        "{tool} is not installed (Debian package {package}): tests/run-all.sh installs it"
    );
}

/// Writes the tracker's configuration: proxy mode on 127.0.0.1 (a port the kernel picks) with
/// the default `trusted_proxies`; with `x_real_ip` false the client address comes from
/// `X-Forwarded-For` alone. The subnets are the named networks `first` and `second`; `strict`
/// sets `[LOCALITY] mode = strict` and lets the outside host's network announce.
fn write_config(lan: &Lan, password: &str, x_real_ip: bool, strict: bool) -> PathBuf {
    let dir = lan.dir("tracker");
    let config = dir.join("config.ini");
    // allow_internal_ip: a forged ip= must be refused for not being verified by the proxy,
    // not for being a LAN address. announce_interval: ctorrent reports a finished download
    // only in its next regular announce (it sends no `completed`); peer_expire_factor keeps
    // the forger's early announces alive however long the test takes.
    fs::write(
        &config,
        format!(
            "[LOGGING]\nlog_file =\n\n\
             [TRACKER]\nhost = 127.0.0.1\nport = 0\nudp_port = 0\nmode = proxy\n\
             use_x_real_ip = {x_real_ip}\n\
             allowed_networks = 10.1.0.0/24, 10.2.0.0/24{outside}\nallow_internal_ip = true\n\
             announce_interval = 15\nannounce_interval_jitter = 0\npeer_expire_factor = 40\n\n\
             [DB]\npath = {}\n\n\
             [STATS]\naccess_username = {USER}\naccess_password = {password}\n\n\
             [NETWORKS]\nfirst = 10.1.0.0/24\nsecond = 10.2.0.0/24\n\n\
             [LOCALITY]\nmode = {mode}\n",
            dir.join("retracker.sqlite").display(),
            outside = if strict { ", 10.9.0.0/24" } else { "" },
            mode = if strict { "strict" } else { "prefer" },
        ),
    )
    .unwrap();
    config
}

/// Starts retracker on the server with [`write_config`]; returns its port.
fn start_tracker(lan: &mut Lan, password: &str) -> u16 {
    let config = write_config(lan, password, true, false);
    let cmd = [BIN, "--config", config.to_str().unwrap()];
    lan.spawn("retracker", "srv", &cmd, config.parent().unwrap());
    let mut port = None;
    lan.wait_until("retracker listening", 20, || {
        port = tracker_log(lan)
            .split("listening on http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok());
        port.map(|_| ())
            .ok_or_else(|| "no listening line".to_owned())
    });
    port.unwrap()
}

fn tracker_log(lan: &Lan) -> String {
    fs::read_to_string(lan.logs.join("retracker.log")).unwrap_or_default()
}

/// Turns `use_x_real_ip` off in the running tracker (SIGHUP), so that it finds clients in
/// `X-Forwarded-For`, where the entries a client writes itself sit beside nginx's.
fn reload_without_x_real_ip(lan: &Lan, password: &str) {
    write_config(lan, password, false, false);
    let pid = lan.pid("retracker").to_string();
    let sent = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(sent.success());
    lan.wait_until("reload of use_x_real_ip", 10, || {
        let log = tracker_log(lan);
        match log
            .lines()
            .any(|l| l.contains("reload: changed") && l.contains("use_x_real_ip"))
        {
            true => Ok(()),
            false => Err("no reload line".to_owned()),
        }
    });
}

/// Starts Debian's nginx on the server with packaging/nginx/retracker.conf as shipped but for
/// the upstream's port, inside the small main configuration of tests/lan/nginx.conf.
fn start_nginx(lan: &mut Lan, tracker_port: u16) {
    let dir = lan.dir("nginx");
    // nginx's worker (user nobody) must reach the temp folders its master creates in here.
    let opened = Command::new("chmod")
        .args([
            "755",
            lan.work.path().to_str().unwrap(),
            dir.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(opened.success());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = fs::read_to_string(root.join("packaging/nginx/retracker.conf")).unwrap();
    let upstream = "server 127.0.0.1:8080;";
    assert_eq!(
        site.matches(upstream).count(),
        1,
        "packaging/nginx/retracker.conf no longer has `{upstream}`"
    );
    let site = site.replace(upstream, &format!("server 127.0.0.1:{tracker_port};"));
    fs::write(dir.join("retracker.conf"), site).unwrap();
    let d = dir.to_str().unwrap();
    let main = fs::read_to_string(root.join("tests/lan/nginx.conf")).unwrap();
    fs::write(dir.join("nginx.conf"), main.replace("@DIR@", d)).unwrap();
    let conf = format!("{d}/nginx.conf");
    let cmd = ["nginx", "-p", d, "-c", &conf, "-g", "daemon off;"];
    lan.spawn("nginx", "srv", &cmd, &dir);
}

/// GET `path` of the web UI through nginx from the forger's host, with basic auth.
fn web_get(lan: &Lan, password: &str, path: &str) -> Vec<u8> {
    let auth = format!("{USER}:{password}");
    let (code, body) = lan.curl(
        FORGER.role,
        &format!("http://{SERVER}{path}"),
        &["-u", &auth],
    );
    if code != 200 {
        lan.fail(&format!(
            "{path} answered {code}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    body
}

/// The tracker's authenticated JSON export `path` (a list).
fn export(lan: &Lan, password: &str, path: &str) -> Vec<Value> {
    match serde_json::from_slice(&web_get(lan, password, path)) {
        Ok(Value::Array(list)) => list,
        other => lan.fail(&format!("{path} is not a list: {other:?}")),
    }
}

/// The peers of torrent `hash` (hex) in /export/peers.json.
fn peers_of(lan: &Lan, password: &str, hash: &str) -> Vec<Value> {
    export(lan, password, "/export/peers.json")
        .into_iter()
        .filter(|p| p["info_hash"] == hash)
        .collect()
}

/// The host outside `allowed_networks`, routed to the server like anyone, is refused for good
/// (BEP 31 `retry in: never`), its own address in the reason.
fn outside_host_is_refused(lan: &Lan, announce_url: &str) {
    let query = common::query(b"lan-outside-probe-01", 1, 7001, 0, "&event=started");
    let (code, body) = lan.curl("out", &format!("{announce_url}?{query}"), &[]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let d = common::decode_dict(&body);
    assert_eq!(
        d.str("failure reason").as_deref(),
        Some("your address 10.9.0.2 is not in a network allowed to use this tracker"),
        "{d:?}"
    );
    assert_eq!(d.str("retry in").as_deref(), Some("never"));
}

/// A subscriber forging `X-Forwarded-For` and `X-Real-IP` with a neighbour's address on the
/// other subnet is answered with, and recorded under, its own: nginx replaces `X-Real-IP` and
/// appends the real address to `X-Forwarded-For`. Then the same with `ip=` naming the forged
/// address: the entry the client wrote into `X-Forwarded-For` does not verify it.
fn forged_headers_change_nothing(lan: &Lan, announce_url: &str, password: &str, hash: &[u8; 20]) {
    let forged = "10.2.0.77";
    let query = common::query(hash, 1, FORGER.port, 1000, "&event=started&key=f0e1d2c3");
    let xff = format!("X-Forwarded-For: {forged}");
    let real = format!("X-Real-IP: {forged}");
    for extra in [String::new(), format!("&ip={forged}")] {
        let url = format!("{announce_url}?{query}{extra}");
        let (code, body) = lan.curl(FORGER.role, &url, &["-H", &xff, "-H", &real]);
        assert_eq!(code, 200);
        let d = common::decode_dict(&body);
        assert!(d.get("failure reason").is_none(), "{d:?}");
        assert_eq!(
            d.bytes("external ip"),
            [10, 1, 0, 12],
            "BEP 24 external ip is the subscriber's own address"
        );
        if !extra.is_empty() {
            assert_eq!(
                d.str("warning message").as_deref(),
                Some("reported ip ignored: not verified by a trusted proxy")
            );
        }
    }
    let peers = peers_of(lan, password, &hex(hash));
    assert_eq!(peers.len(), 1, "{peers:#?}");
    assert_eq!(peers[0]["ip"], FORGER.ip, "{peers:#?}");
    assert_eq!(peers[0]["port"], FORGER.port, "{peers:#?}");
}

/// Writes `payload` and a private torrent of it announcing to `announce_url` (private: no DHT,
/// PEX or local peer discovery, so the clients find each other through the tracker only);
/// returns the torrent's path and info hash (hex).
fn make_torrent(lan: &Lan, payload: &[u8], announce_url: &str) -> (PathBuf, String) {
    let file = lan.dir("seed").join("payload.bin");
    fs::write(&file, payload).unwrap();
    let torrent = lan.work.path().join("payload.torrent");
    let created = Command::new("transmission-create")
        .args(["-p", "-o", torrent.to_str().unwrap(), "-t", announce_url])
        .arg(&file)
        .env("HOME", lan.dir("home"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(created.success(), "transmission-create failed");
    // The info dict runs from after "4:info" to the outer dict's final 'e' (transmission-create
    // writes `info` last).
    let raw = fs::read(&torrent).unwrap();
    let start = raw.windows(6).position(|w| w == b"4:info").unwrap() + 6;
    use sha1::{Digest, Sha1};
    let hash = hex(&Sha1::digest(&raw[start..raw.len() - 1]));
    (torrent, hash)
}

/// transmission-cli seeds the file from the folder `seed`. It waits ~30 s before asking a
/// fresh seeder for pieces, so it seeds rather than leeches here.
fn start_transmission(lan: &mut Lan, torrent: &Path) {
    let conf = lan.dir("transmission");
    fs::write(
        conf.join("settings.json"),
        r#"{"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "port-forwarding-enabled": false}"#,
    )
    .unwrap();
    let seed = lan.dir("seed");
    let port = TRANSMISSION.port.to_string();
    let cmd = [
        "transmission-cli",
        "-g",
        conf.to_str().unwrap(),
        "-w",
        seed.to_str().unwrap(),
        "-p",
        &port,
        "-u",
        "-1",
        "-d",
        "-1",
        torrent.to_str().unwrap(),
    ];
    lan.spawn("transmission", TRANSMISSION.role, &cmd, &seed);
}

/// aria2c, libtorrent and ctorrent download the torrent, each into a folder of its own, and
/// keep seeding; returns where each one's copy of the file will be.
fn start_leechers(lan: &mut Lan, torrent: &Path) -> Vec<(&'static str, PathBuf)> {
    let t = torrent.to_str().unwrap();
    let ar = lan.dir("aria2");
    let port = ARIA2.port.to_string();
    let cmd = [
        "aria2c",
        "--dir",
        ar.to_str().unwrap(),
        "--listen-port",
        &port,
        // Seeding until the test ends, so the tracker still holds it when peers are counted.
        "--seed-time=60",
        "--seed-ratio=0.0",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--summary-interval=0",
        "--console-log-level=notice",
        t,
    ];
    lan.spawn("aria2c", ARIA2.role, &cmd, &ar);

    let lt = lan.dir("libtorrent");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lan/lt_client.py");
    let port = LIBTORRENT.port.to_string();
    let cmd = [
        "/usr/bin/python3",
        script.to_str().unwrap(),
        t,
        lt.to_str().unwrap(),
        LIBTORRENT.ip,
        &port,
    ];
    lan.spawn("libtorrent", LIBTORRENT.role, &cmd, &lt);

    // ctorrent keeps its bitfield file beside the torrent: it gets a copy of its own.
    let ct = lan.dir("ctorrent");
    let ct_torrent = ct.join("payload.torrent");
    fs::copy(torrent, &ct_torrent).unwrap();
    let port = CTORRENT.port.to_string();
    let out = ct.join("payload.bin");
    let cmd = [
        "ctorrent",
        "-e",
        "1",
        "-p",
        &port,
        "-s",
        out.to_str().unwrap(),
        ct_torrent.to_str().unwrap(),
    ];
    lan.spawn("ctorrent", CTORRENT.role, &cmd, &ct);

    vec![
        ("aria2c", ar.join("payload.bin")),
        ("libtorrent", lt.join("payload.bin")),
        ("ctorrent", out),
    ]
}

/// The tracker holds each client once, under its namespace's address and its own port, named
/// by its peer_id, all four seeding once the leechers have finished; three downloads counted.
fn swarm_has_every_client_at_its_address(lan: &Lan, password: &str, hash: &str) {
    let expected: BTreeSet<(String, u64, String)> = [
        (&TRANSMISSION, "Transmission"),
        (&ARIA2, "aria2"),
        (&LIBTORRENT, "libtorrent (Rasterbar)"),
        (&CTORRENT, "Enhanced CTorrent"),
    ]
    .iter()
    .map(|(h, client)| (h.ip.to_owned(), u64::from(h.port), (*client).to_owned()))
    .collect();
    let mut swarm = Vec::new();
    lan.wait_until("all four clients recorded as seeders", 30, || {
        swarm = peers_of(lan, password, hash);
        match swarm.len() == 4 && swarm.iter().all(|p| p["seeder"] == true) {
            true => Ok(()),
            false => Err(format!("{swarm:#?}")),
        }
    });
    // The export names the version too ("Transmission 3.00"): compare program names.
    let recorded: BTreeSet<(String, u64, String)> = swarm
        .iter()
        .map(|p| {
            let client = p["client"].as_str().unwrap_or_default();
            let name = expected
                .iter()
                .map(|e| e.2.as_str())
                .find(|n| client.starts_with(n))
                .unwrap_or(client);
            (
                p["ip"].as_str().unwrap_or_default().to_owned(),
                p["port"].as_u64().unwrap_or_default(),
                name.to_owned(),
            )
        })
        .collect();
    assert_eq!(recorded, expected, "{swarm:#?}");

    let torrents = export(lan, password, "/export/torrents.json");
    let row = torrents.iter().find(|t| t["info_hash"] == hash);
    let counts = row.map(|t| (&t["seeders"], &t["leechers"], &t["completed"]));
    assert_eq!(
        counts,
        Some((&Value::from(4), &Value::from(0), &Value::from(3))),
        "{torrents:#?}"
    );
}

/// The dashboard, read from a subscriber through nginx as an operator would, groups the peers
/// by the allowed networks: Transmission, aria2 and the forger (a leecher) on 10.1.0.0/24,
/// libtorrent and ctorrent on 10.2.0.0/24, and nothing else (the outside host was refused).
fn stat_page_shows_peers_by_subnet(lan: &Lan, password: &str) {
    let page = String::from_utf8(web_get(lan, password, "/stat")).unwrap();
    assert_eq!(
        network_rows(&page),
        [
            ("10.1.0.0/24".to_owned(), 3, 2, 1),
            ("10.2.0.0/24".to_owned(), 2, 2, 0),
        ],
        "peers by network on /stat"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The dashboard's `<table id="networks">` as (network, peers, seeders, leechers) rows.
fn network_rows(html: &str) -> Vec<(String, u64, u64, u64)> {
    let Some(start) = html.find("<table id=\"networks\">") else {
        return Vec::new();
    };
    let table = &html[start..];
    let table = &table[..table.find("</table>").unwrap_or(table.len())];
    let body = table.split("<tbody>").nth(1).unwrap_or("");
    body.split("<tr")
        .skip(1)
        .filter_map(|row| {
            let cells: Vec<String> = row.split("<td").skip(1).map(text_of).collect();
            let num = |i: usize| cells.get(i)?.parse::<u64>().ok();
            Some((cells.first()?.clone(), num(1)?, num(2)?, num(3)?))
        })
        .collect()
}

/// The text of an HTML fragment that starts inside a tag: tags dropped, trimmed.
fn text_of(fragment: &str) -> String {
    let mut out = String::new();
    let mut in_tag = true;
    for c in fragment.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_owned()
}

/// The compact IPv4 peers of a hand-made announce for `hash` from `role` (a fake peer of its
/// own, port `port`), in answer order.
fn peer_list(lan: &Lan, announce_url: &str, role: &str, hash: &str, port: u16) -> Vec<[u8; 4]> {
    let raw: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&hash[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let hash: [u8; 20] = raw.try_into().unwrap();
    let query = common::query(&hash, u32::from(port), port, 1000, "&numwant=50");
    let (code, body) = lan.curl(role, &format!("{announce_url}?{query}"), &[]);
    assert_eq!(code, 200);
    let d = common::decode_dict(&body);
    assert!(d.get("failure reason").is_none(), "{role}: {d:?}");
    d.peers4()
        .iter()
        .map(|p| match p.ip() {
            std::net::IpAddr::V4(v4) => v4.octets(),
            other => panic!("an IPv6 peer {other} on this LAN"),
        })
        .collect()
}

/// With `prefer`, a subscriber of each subnet gets the swarm's peers of its own subnet first,
/// then the other subnet's; the real clients' announces were counted by tier as well.
fn own_subnet_first(lan: &Lan, announce_url: &str, password: &str, hash: &str) {
    for (role, own, port) in [(FORGER.role, 1u8, 7100), (LIBTORRENT.role, 2u8, 7101)] {
        let subnet = |ip: &[u8; 4]| ip[..3] == [10, own, 0];
        let list = peer_list(lan, announce_url, role, hash, port);
        let first_other = list.iter().position(|ip| !subnet(ip)).unwrap_or(list.len());
        assert!(
            first_other >= 2,
            "{role}: its subnet's clients first: {list:?}"
        );
        assert!(
            list[first_other..].iter().all(|ip| !subnet(ip)),
            "{role}: own subnet first, then the other: {list:?}"
        );
        assert!(
            first_other < list.len(),
            "{role}: the other subnet too: {list:?}"
        );
    }
    let metrics = String::from_utf8(web_get(lan, password, "/metrics")).unwrap();
    let network = metrics
        .lines()
        .find_map(|l| l.strip_prefix("retracker_peers_handed_out_total{tier=\"network\"} "))
        .map(|v| v.trim().parse::<f64>().unwrap());
    assert!(network.is_some_and(|n| n >= 4.0), "{metrics}");
}

/// With `strict`, and the outside host's network let in: it is answered, but with none of the
/// subscribers, and a subscriber's list never holds it.
fn strict_keeps_the_outside_host_out(lan: &Lan, announce_url: &str, password: &str, hash: &str) {
    write_config(lan, password, false, true);
    let pid = lan.pid("retracker").to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    lan.wait_until("reload to strict", 10, || {
        match tracker_log(lan)
            .lines()
            .any(|l| l.contains("reload: changed") && l.contains("[LOCALITY] mode"))
        {
            true => Ok(()),
            false => Err("no reload line".to_owned()),
        }
    });
    let outside = peer_list(lan, announce_url, "out", hash, 7200);
    assert!(
        outside
            .iter()
            .all(|ip| ip[..2] != [10, 1] && ip[..2] != [10, 2]),
        "the outside host got subscribers: {outside:?}"
    );
    let inside = peer_list(lan, announce_url, FORGER.role, hash, 7201);
    assert!(!inside.is_empty());
    assert!(
        inside.iter().all(|ip| *ip != [10, 9, 0, 2]),
        "a subscriber got the outside host: {inside:?}"
    );
}

#[test]
#[ignore = "needs root: tests/run-all.sh runs it as root"]
fn subscribers_on_two_subnets_share_a_file_through_nginx_and_the_tracker() {
    let began = Instant::now();
    for (tool, package) in [
        ("ip", "iproute2"),
        ("nginx", "nginx"),
        ("curl", "curl"),
        ("aria2c", "aria2"),
        ("transmission-cli", "transmission-cli"),
        ("transmission-create", "transmission-cli"),
        ("ctorrent", "ctorrent"),
    ] {
        require(tool, package);
    }
    let libtorrent = Command::new("/usr/bin/python3")
        .args(["-c", "import libtorrent"])
        .status();
    assert!(
        libtorrent.is_ok_and(|s| s.success()),
        "/usr/bin/python3 has no libtorrent (Debian package python3-libtorrent)"
    );

    let mut lan = Lan::new();
    build(&mut lan);
    let password = hex(&rand::random::<[u8; 12]>());
    let port = start_tracker(&mut lan, &password);
    start_nginx(&mut lan, port);

    // nginx answers on the server's address from a subscriber, through the router: an announce
    // without parameters gets the tracker's failure reason.
    let announce_url = format!("http://{SERVER}/announce");
    let mut last = (0, Vec::new());
    lan.wait_until("nginx answering from a subscriber", 20, || {
        last = lan.curl(FORGER.role, &announce_url, &[]);
        match last.0 {
            200 => Ok(()),
            code => Err(format!("HTTP {code}")),
        }
    });
    let d = common::decode_dict(&last.1);
    assert!(d.str("failure reason").is_some(), "{d:?}");

    outside_host_is_refused(&lan, &announce_url);
    forged_headers_change_nothing(&lan, &announce_url, &password, b"lan-forged-headers-1");

    let payload: Vec<u8> = (0..4 << 20).map(|_| rand::random::<u8>()).collect();
    let (torrent, hash) = make_torrent(&lan, &payload, &announce_url);
    start_transmission(&mut lan, &torrent);
    lan.wait_until("transmission announcing as a seeder", 30, || {
        let peers = peers_of(&lan, &password, &hash);
        match peers.iter().any(|p| p["seeder"] == true) {
            true => Ok(()),
            false => Err(format!("{peers:?}")),
        }
    });

    let files = start_leechers(&mut lan, &torrent);
    lan.wait_until("every leecher holding the whole file", 60, || {
        let unfinished: Vec<&str> = files
            .iter()
            .filter(|(_, f)| fs::read(f).map_or(true, |got| got != payload))
            .map(|(name, _)| *name)
            .collect();
        match unfinished.is_empty() {
            true => Ok(()),
            false => Err(format!("not complete: {unfinished:?}")),
        }
    });
    let downloaded = began.elapsed();

    swarm_has_every_client_at_its_address(&lan, &password, &hash);
    stat_page_shows_peers_by_subnet(&lan, &password);
    // The same forgery when the tracker reads X-Forwarded-For only (nginx sends both headers).
    reload_without_x_real_ip(&lan, &password);
    forged_headers_change_nothing(&lan, &announce_url, &password, b"lan-forged-headers-2");
    own_subnet_first(&lan, &announce_url, &password, &hash);
    strict_keeps_the_outside_host_out(&lan, &announce_url, &password, &hash);
    eprintln!(
        "LAN test: files downloaded {:.1} s after start, all checked after {:.1} s",
        downloaded.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
}
