//! `retracker query`: announce to or scrape trackers and print what they answer; `--batch`
//! for many trackers at once, `--watch` to poll and record. And `retracker report`, which
//! exports a recording.
//!
//! - [`args`]: the command lines;
//! - [`plan`]: the command line checked (usage errors, exit status 2);
//! - [`row`]: one request's result, flattened;
//! - [`render`]: table, JSON and CSV output (pure);
//! - [`rdns`]: reverse DNS of the peers;
//! - [`bep7`]: the warning for a tracker reached over IPv6 that hands out no IPv6 peers;
//! - [`watch`]: `--watch --record`; [`report`]: `retracker report`.
//!
//! Exit status: 0 when every request got an answer, 1 when any was refused (`failure
//! reason`), unreachable or unreadable, 2 for a usage error. Errors go to standard error as
//! `retracker query: <url or file>: <message>`.

pub mod args;
pub mod bep7;
pub mod plan;
pub mod rdns;
pub mod render;
pub mod report;
pub mod row;
pub mod watch;

use crate::client::{AnnounceParams, Client, Event, Options};
use args::{Format, QueryArgs};
use plan::{Mode, Plan};
use row::{Row, Status};
use std::process::ExitCode;
use std::sync::Arc;

/// Runs `retracker query`.
pub fn main(args: &QueryArgs) -> ExitCode {
    let plan = match Plan::new(args) {
        Ok(p) => p,
        Err(e) => return usage(&e),
    };
    if args.watch.is_some_and(|w| !(w > 0.0 && w.is_finite())) {
        return usage("--watch: expected seconds above 0");
    }
    let tls = match crate::client::tls::TlsSettings::new(args.ca_cert.as_deref(), args.insecure) {
        Ok(t) => t,
        Err(e) => return usage(&format!("--ca-cert {e}")),
    };
    if args.insecure {
        eprintln!(
            "retracker query: warning: --insecure: https:// certificates are not checked, \
             anyone on the path can answer in the tracker's name"
        );
    }
    if let (Some(args::ClientArg::Random), Some(p)) = (args.client, plan.client) {
        // So that a refusal can be told apart from the others.
        eprintln!(
            "retracker query: --client random: announcing as {}",
            p.display
        );
    }
    let client = Arc::new(Client::new(
        Options {
            timeout: plan.timeout,
            retries: args.retries,
            ipv6_only: args.ipv6,
            user_agent: plan.client.map(|p| p.user_agent),
            max_body: crate::client::http::MAX_BODY,
            guard: None,
        },
        tls,
    ));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("retracker query: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let (Some(every), Some(record)) = (args.watch, &args.record) {
        return runtime.block_on(watch::run(client, &plan, args, every, record));
    }
    let rows = runtime.block_on(run_once(client, &plan, args));
    print!("{}", render_rows(&rows, &plan, args));
    exit_status(&rows)
}

/// Prints a usage error; exit status 2.
pub fn usage(message: &str) -> ExitCode {
    eprintln!("retracker query: {message}");
    ExitCode::from(2)
}

/// 0 when every row is a success, else 1.
pub fn exit_status(rows: &[Row]) -> ExitCode {
    if rows.iter().all(|r| r.status == Status::Ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The output in `args.format`; `--batch` and full scrapes get the one-line-per-request table.
pub fn render_rows(rows: &[Row], plan: &Plan, args: &QueryArgs) -> String {
    match args.format {
        Format::Json => render::json(rows),
        Format::Csv => render::csv(rows),
        Format::Table if plan.urls.len() > 1 || plan.mode == Mode::FullScrape => {
            render::summary(rows)
        }
        Format::Table => render::details(rows, args.peers || args.rdns),
    }
}

/// Runs every request of `plan` (at most `--concurrency` at once), prints errors to standard
/// error, resolves peer names with `--rdns`. Rows come in plan order; with `--batch` sorted by
/// response time, failures last.
pub async fn run_once(client: Arc<Client>, plan: &Plan, args: &QueryArgs) -> Vec<Row> {
    let permits = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    let mut index = 0usize;
    for (text, url) in &plan.urls {
        let hashes: Vec<Option<crate::protocol::InfoHash>> = if plan.mode == Mode::FullScrape {
            vec![None]
        } else {
            plan.hashes.iter().copied().map(Some).collect()
        };
        for hash in hashes {
            let (client, permits, url) = (client.clone(), permits.clone(), url.clone());
            let text = text.clone();
            let (mode, port, left) = (plan.mode, args.port, args.left);
            let profile = plan.client;
            let numwant = args.numwant.or(profile.map(|p| p.numwant));
            let at = index;
            index += 1;
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let rows = match (mode, hash) {
                    (Mode::Announce { event }, Some(h)) => {
                        let mut p = AnnounceParams {
                            info_hash: h,
                            peer_id: profile.map_or_else(AnnounceParams::random_peer_id, |p| p.peer_id()),
                            key: rand::random(),
                            key_format: profile.map(|p| p.key).unwrap_or_default(),
                            port,
                            uploaded: 0,
                            downloaded: 0,
                            left,
                            event: event.unwrap_or(Event::Started),
                            numwant,
                            compact: true,
                        };
                        let o = client.announce(&url, &p).await;
                        let answered = matches!(o.result, Ok(crate::protocol::answer::Answer::Success(_)));
                        if event.is_none() && answered {
                            // Leave the swarm again: see the --help text.
                            p.event = Event::Stopped;
                            p.numwant = Some(0);
                            let stop = client.announce(&url, &p).await;
                            if let Err(e) = stop.result {
                                eprintln!("retracker query: {text}: the `stopped` announce after the query failed: {e}");
                            }
                        }
                        vec![Row::announce(&text, &h, &o)]
                    }
                    (_, hash) => {
                        let scrape_url = url.scrape_url().expect("checked by the plan");
                        let hashes: Vec<_> = hash.into_iter().collect();
                        let o = client.scrape(&scrape_url, &hashes).await;
                        Row::scrape(&text, hash.as_ref(), &o)
                    }
                };
                (at, rows)
            });
        }
    }
    let mut done = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(r) = joined {
            done.push(r);
        }
    }
    done.sort_by_key(|(at, _)| *at);
    let mut rows: Vec<Row> = done.into_iter().flat_map(|(_, rows)| rows).collect();
    for r in &mut rows {
        r.name = r.name.take().or_else(|| plan.torrent_name.clone());
        if r.status != Status::Ok {
            eprintln!("retracker query: {}: {}", r.url, render::status_text(r));
        }
        if r.ipv6_without_peers6 {
            eprintln!("retracker query: {}: warning: {}", r.url, bep7::WARNING);
        }
    }
    if plan.urls.len() > 1 {
        // Stable: equal times keep the file's order.
        rows.sort_by_key(|r| (r.status != Status::Ok, r.time_ms));
    }
    if args.rdns {
        rdns::fill(&mut rows).await;
    }
    rows
}
