//! Load the real binary must hold (issue 7, "Load"): 10,000 concurrent keep-alive connections,
//! each answered, held open, and answered again on the same connection. The binary runs as its
//! own process, as in production, so its descriptors and the test's are counted apart; the test
//! raises its own open-file limit for its 10,000 client sockets. Speed is not measured here
//! (bench/ does that); the 10-minute soak is `bench/soak.sh`.

mod common;
use common::process::Process;
use common::*;
use std::sync::Arc;
use std::time::Instant;

const CONNECTIONS: usize = 10_000;

/// Raises the soft open-file limit to what `need` descriptors take (the hard limit, or more as root).
fn raise_fd_limit(need: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut l = getrlimit(Resource::Nofile);
    if l.current.is_some_and(|c| c < need) {
        l.current = Some(need);
        if l.maximum.is_some_and(|m| m < need) {
            l.maximum = Some(need);
        }
        setrlimit(Resource::Nofile, l).unwrap_or_else(|e| {
            panic!("the test needs {need} open files: `ulimit -n {need}` (or run as root): {e}")
        });
    }
}

/// Starts the binary on 127.0.0.1:0 with a database in `dir`.
fn start(dir: &std::path::Path) -> Process {
    let config = dir.join("config.ini");
    std::fs::write(
        &config,
        format!(
            "[LOGGING]\nlog_file =\n[TRACKER]\nhost = 127.0.0.1\nport = 0\nudp_port = 0\n\
             max_connections = 12000\n[DB]\npath = {}\n",
            dir.join("retracker.sqlite").display()
        ),
    )
    .unwrap();
    Process::start(&config)
}

#[test]
fn ten_thousand_keep_alive_connections_are_held_and_answered() {
    raise_fd_limit(CONNECTIONS as u64 + 512);
    let dir = tempfile::tempdir().unwrap();
    let tracker = start(dir.path());
    let addr = tracker.addr;
    println!(
        "load: {CONNECTIONS} connections to http://{addr}/announce?{}",
        query(&id20("load-", 0), 0, 1, 0, "")
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let started = Instant::now();
        // Opened and answered a few hundred at a time (the listen backlog is 1024).
        let gate = Arc::new(tokio::sync::Semaphore::new(256));
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                let gate = Arc::clone(&gate);
                tokio::spawn(async move {
                    let _turn = gate.acquire().await.unwrap();
                    let mut s = connect(addr, None).await;
                    let hash = id20("load-", (i % 100) as u32);
                    let target = format!(
                        "/announce?{}",
                        query(&hash, i as u32, 10_000 + (i % 50_000) as u16, 1, "")
                    );
                    let r = get_on(&mut s, &target).await;
                    assert_eq!(r.status, 200);
                    assert!(
                        r.dict().get("interval").is_some(),
                        "answer {i}: {:?}",
                        r.dict()
                    );
                    (s, target)
                })
            })
            .collect();
        let mut held = Vec::with_capacity(CONNECTIONS);
        for t in tasks {
            held.push(t.await.unwrap());
        }
        println!(
            "{CONNECTIONS} connections answered in {:?}",
            started.elapsed()
        );

        // All of them are open at once on the server's side.
        let m = String::from_utf8(get(addr, None, "/metrics", &[]).await.body).unwrap();
        let open = metric(&m, "retracker_http_connections");
        assert!(open > CONNECTIONS as f64, "{open} open, {CONNECTIONS} held");
        assert_eq!(metric(&m, "retracker_http_connections_evicted_total"), 0.0);

        // And every one still answers, on the connection it already has.
        let again: Vec<_> = held
            .into_iter()
            .map(|(mut s, target)| {
                tokio::spawn(async move {
                    let r = get_on(&mut s, &target).await;
                    assert!(r.dict().get("interval").is_some());
                })
            })
            .collect();
        for t in again {
            t.await.unwrap();
        }
        println!(
            "answered again on every connection after {:?}",
            started.elapsed()
        );
    });
}
