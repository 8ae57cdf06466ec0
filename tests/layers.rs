//! The import rules of docs/architecture.md, checked on the source: the tracker core never
//! uses a transport, the web UI or the server; the HTTP and UDP adapters never use each other;
//! the protocol code does no I/O; SQL stays in the storage module. A newcomer who breaks one
//! learns it here, with the file and line, instead of in a review.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    assert!(!out.is_empty(), "no sources under {}", dir.display());
    out
}

/// The code lines (not comments) of the files under `src/<dir>` (or the file `src/<dir>.rs`)
/// that contain one of `forbidden`, as `file:line: text`.
fn offending(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let path = root.join(dir);
    let files = if path.is_dir() {
        sources(&path)
    } else {
        vec![root.join(format!("{dir}.rs"))]
    };
    let mut found = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if forbidden.iter().any(|x| code.contains(x)) {
                found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_tracker_core_uses_no_transport_web_or_server() {
    let bad = offending(
        "tracker",
        &[
            "crate::http",
            "crate::udp",
            "crate::web",
            "crate::server",
            "warp::",
            "hyper::",
        ],
    );
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn the_http_and_udp_adapters_do_not_use_each_other_or_the_server() {
    let bad = offending("udp", &["crate::http", "crate::web", "crate::server"]);
    assert!(bad.is_empty(), "{bad:#?}");
    let bad = offending("http", &["crate::udp", "crate::web", "crate::server"]);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn the_web_ui_does_not_use_the_transports_or_the_server() {
    let bad = offending("web", &["crate::http", "crate::udp", "crate::server"]);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn the_protocol_code_does_no_io() {
    let io = offending(
        "protocol",
        &[
            "tokio",
            "std::fs",
            "std::io::stdin",
            "TcpStream",
            "UdpSocket",
            "rusqlite",
        ],
    );
    assert!(io.is_empty(), "{io:#?}");
    // Inside the crate it uses only itself and the leaf helpers (the fuzz crate builds it from
    // those files alone); its tests may compare with anything.
    let leaves = ["crate::protocol", "crate::hex", "crate::text"];
    let bad: Vec<String> = offending("protocol", &["crate::"])
        .into_iter()
        .filter(|l| !l.contains("/tests.rs:") && !l.contains("/tests/"))
        .filter(|l| {
            let code = l.splitn(3, ':').nth(2).unwrap_or("");
            code.match_indices("crate::")
                .any(|(i, _)| !leaves.iter().any(|ok| code[i..].starts_with(ok)))
        })
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn sql_stays_in_the_storage_module() {
    for dir in [
        "tracker", "http", "udp", "web", "server", "swarm", "stats", "query",
    ] {
        let bad = offending(dir, &["rusqlite", "SELECT ", "INSERT ", "DELETE FROM"]);
        assert!(bad.is_empty(), "{dir}: {bad:#?}");
    }
}

#[test]
fn redis_stays_in_the_cluster_modules_redis_file() {
    // The crate is named only in src/cluster/redis.rs; the rest of the cluster module goes
    // through `super::redis`.
    let uses = [
        "use redis",
        " redis::",
        "(redis::",
        "<redis::",
        "&redis::",
        "!redis::",
    ];
    for dir in [
        "tracker", "http", "udp", "web", "server", "swarm", "stats", "query", "storage", "config",
        "locality", "protocol",
    ] {
        let bad = offending(dir, &uses);
        assert!(bad.is_empty(), "{dir}: {bad:#?}");
    }
    for file in ["keys", "mod", "refresh", "status", "sync", "view"] {
        let bad = offending(&format!("cluster/{file}"), &uses);
        assert!(bad.is_empty(), "cluster/{file}.rs: {bad:#?}");
    }
    // And SQL stays out of it, as the cluster never touches the database itself.
    let bad = offending("cluster", &["rusqlite", "SELECT ", "INSERT "]);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn the_cluster_uses_no_transport_web_or_server() {
    let bad = offending(
        "cluster",
        &["crate::http", "crate::udp", "crate::web", "crate::server"],
    );
    assert!(bad.is_empty(), "{bad:#?}");
}
