//! `retracker query --watch SECONDS [--count N] --record FILE`: the same requests every
//! SECONDS (from the start of one poll to the start of the next), each answer appended to FILE
//! as soon as the poll ends, and one line per request on standard output. Ctrl-C or SIGTERM
//! lets the poll in flight finish, then closes the file.
//!
//! FILE ending in `.csv` (any case) is CSV ([`CSV_HEADER`], a header when the file is new),
//! anything else a SQLite recording ([`crate::storage::record`]).

use super::args::QueryArgs;
use super::plan::Plan;
use super::row::{Row, Status};
use super::{render, run_once};
use crate::client::Client;
use crate::storage::record::{Poll, Recording};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Columns of a CSV recording (and of `retracker report --format csv`).
pub const CSV_HEADER: [&str; 13] = [
    "time",
    "url",
    "request",
    "info_hash",
    "status",
    "error",
    "seeders",
    "leechers",
    "downloaded",
    "interval",
    "time_ms",
    "attempts",
    "peers",
];

/// Where polls go.
enum Sink {
    Csv(std::fs::File),
    Sqlite(Recording),
}

impl Sink {
    fn open(path: &Path) -> Result<Sink, String> {
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if !is_csv {
            return Recording::open(path, true)
                .map(Sink::Sqlite)
                .map_err(|e| e.to_string());
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(false);
        if empty {
            file.write_all(
                crate::web::export::csv(&CSV_HEADER, Vec::<Vec<String>>::new()).as_bytes(),
            )
            .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(Sink::Csv(file))
    }

    fn append(&mut self, polls: &[Poll]) -> Result<(), String> {
        match self {
            Sink::Sqlite(r) => r.append(polls).map_err(|e| e.to_string()),
            Sink::Csv(f) => {
                let text = csv_rows(polls);
                // The header line is written once, at creation.
                let body = text.split_once("\r\n").map_or("", |(_, rows)| rows);
                f.write_all(body.as_bytes())
                    .and_then(|()| f.flush())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// Polls as CSV, header first.
pub fn csv_rows(polls: &[Poll]) -> String {
    let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    crate::web::export::csv(
        &CSV_HEADER,
        polls.iter().map(|p| {
            vec![
                p.time.clone(),
                p.url.clone(),
                p.request.clone(),
                p.info_hash.clone().unwrap_or_default(),
                p.status.clone(),
                p.error.clone().unwrap_or_default(),
                n(p.seeders),
                n(p.leechers),
                n(p.downloaded),
                n(p.interval),
                p.time_ms.to_string(),
                p.attempts.to_string(),
                p.peers.join(" "),
            ]
        }),
    )
}

/// `2026-11-21T17:08:00Z`.
pub fn rfc3339(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d, hh, mm, ss) = crate::web::format::civil(u32::try_from(secs).unwrap_or(u32::MAX));
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

fn poll_of(time: &str, r: &Row) -> Poll {
    Poll {
        time: time.to_owned(),
        url: r.url.clone(),
        request: r.request.to_owned(),
        info_hash: r.info_hash.clone(),
        status: r.status.as_str().to_owned(),
        error: r.error.clone(),
        seeders: r.seeders,
        leechers: r.leechers,
        downloaded: r.downloaded,
        interval: r.interval,
        time_ms: i64::try_from(r.time_ms).unwrap_or(i64::MAX),
        attempts: r.attempts.into(),
        peers: r.peers.iter().map(|p| p.address.clone()).collect(),
    }
}

/// Runs the watch; exit status 0 when every poll was answered, 1 otherwise or when the file
/// fails, 2 when FILE cannot be a recording.
pub async fn run(
    client: Arc<Client>,
    plan: &Plan,
    args: &QueryArgs,
    every: f64,
    record: &Path,
) -> ExitCode {
    let mut sink = match Sink::open(record) {
        Ok(s) => s,
        Err(e) => return super::usage(&format!("--record {e}")),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(tokio::sync::Notify::new());
    {
        let (stop, wake) = (stop.clone(), wake.clone());
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            stop.store(true, Ordering::SeqCst);
            wake.notify_one();
        });
    }
    let every = Duration::from_secs_f64(every);
    let mut all_ok = true;
    let mut polls = 0u64;
    loop {
        let started = Instant::now();
        let time = rfc3339(SystemTime::now());
        let rows = run_once(client.clone(), plan, args).await;
        all_ok &= rows.iter().all(|r| r.status == Status::Ok);
        let recorded: Vec<Poll> = rows.iter().map(|r| poll_of(&time, r)).collect();
        if let Err(e) = sink.append(&recorded) {
            eprintln!("retracker query: {}: cannot record: {e}", record.display());
            return ExitCode::FAILURE;
        }
        for r in &rows {
            let n = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
            println!(
                "{time}  {}  seeders {} leechers {} downloaded {} peers {}  {} ms  {} {}",
                render::status_text(r),
                n(r.seeders),
                n(r.leechers),
                n(r.downloaded),
                r.peers.len(),
                r.time_ms,
                r.url,
                r.info_hash.as_deref().unwrap_or("")
            );
        }
        polls += 1;
        if args.count.is_some_and(|c| polls >= c) || stop.load(Ordering::SeqCst) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(every.saturating_sub(started.elapsed())) => {}
            _ = wake.notified() => {}
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    drop(sink);
    eprintln!(
        "retracker query: {} polls recorded in {}",
        polls,
        record.display()
    );
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
