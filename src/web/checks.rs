//! `/checks`: check any tracker from the browser, and the watches.
//!
//! - `GET /checks`: the form (tracker URL, an info hash or a `.torrent` file, announce or
//!   scrape, port, numwant, the client to pose as, peer ids) and the watches with their state;
//! - `POST /checks` (`multipart/form-data`, for the file; urlencoded works too): runs the check
//!   with `crate::checks` (the query tools' client, timeouts, size caps, deny list and limits)
//!   and shows the answer: interval, counts, peers with their client names, external ip,
//!   warnings, the failure in words, time taken. A hybrid torrent (BEP 52) is checked under
//!   both hashes clients announce it with. Every check is recorded (`/reports` lists them).
//! - `POST /checks/watch` and `/checks/watch/remove`: page watches, kept in the database and
//!   polled like the ones of `[CHECKS] watch_file` (which the page shows but cannot remove).
//!
//! Order on `POST /checks`, so that nobody makes the server read a body or contact a tracker:
//! login (a browser session: basic auth has no CSRF token), then type and declared length,
//! then the body (capped while reading), then the CSRF token, then the check. Forms that
//! change nothing but run a check still carry the token: a cross-site form must not make the
//! server contact trackers in an admin's name.

use super::error::WebError;
use super::form_data::{self, FormData};
use super::{format, reply, Access, Layout, Req, Web, Who};
use crate::checks::{CheckError, CheckRequest, CheckResult, Kind, WatchState};
use crate::client::profiles;
use crate::protocol::metainfo::Metainfo;
use crate::storage::checks::Source;
use askama::Template;
use bytes::Buf;
use futures_util::Stream;
use http::{header, Response, StatusCode};
use std::sync::Arc;

/// Largest `numwant` the form sends (trackers cap far below).
const MAX_NUMWANT: u32 = 1000;
/// Longest watch interval the form accepts: a day.
const MAX_WATCH_SECONDS: u32 = 86_400;

/// What the check form shows (the last submission, so nothing is typed twice).
#[derive(Debug, Default)]
struct Form {
    url: String,
    hash: String,
    scrape: bool,
    port: String,
    numwant: String,
    client: String,
    peer_ids: bool,
    /// Seconds allowed for one attempt ("": the query tools' 10 s).
    timeout: String,
}

/// One check's answer, ready to show.
struct Answer {
    r: CheckResult,
    /// `/reports` filtered to this tracker and hash.
    report: String,
    /// Peers: address, client name ("" when the answer had no peer id).
    peers: Vec<(String, String)>,
}

/// One watch row.
struct WatchRow {
    s: WatchState,
    /// The page watch's id; `None` for a watch of the file.
    id: Option<i64>,
    last: String,
}

/// The page.
#[derive(Template)]
#[template(path = "checks.html")]
struct ChecksPage<'a> {
    layout: Layout<'a>,
    /// Why the last submission was refused; empty for none.
    error: &'a str,
    /// A note about the submission (the tracker taken from the torrent).
    note: String,
    form: Form,
    clients: Vec<&'static str>,
    answers: Vec<Answer>,
    watches: Vec<WatchRow>,
    max_numwant: u32,
    max_watch_seconds: u32,
    max_timeout: u64,
}

/// "—" for nothing, else the number.
fn opt(n: &Option<i64>) -> String {
    n.map_or_else(|| "—".to_owned(), |n| n.to_string())
}

fn render(
    web: &Web,
    who: &Who,
    status: StatusCode,
    error: &str,
    note: String,
    form: Form,
    results: Vec<CheckResult>,
) -> Response<Vec<u8>> {
    let answers = results
        .into_iter()
        .map(|r| Answer {
            report: format!(
                "/reports?tracker={}&hash={}",
                reply::url_encode(&r.url),
                r.info_hash.as_deref().unwrap_or("")
            ),
            peers: r
                .peers
                .iter()
                .map(|p| (p.address.clone(), p.client.clone().unwrap_or_default()))
                .collect(),
            r,
        })
        .collect();
    let page_ids = web.checks.page_watches();
    let watches = web
        .checks
        .states()
        .into_iter()
        .map(|s| WatchRow {
            id: (!s.from_file)
                .then(|| {
                    page_ids
                        .iter()
                        .find(|p| p.url == s.url && p.info_hash == s.info_hash)
                        .map(|p| p.id)
                })
                .flatten(),
            last: s.last_at.map_or_else(|| "not yet".to_owned(), format::utc),
            s,
        })
        .collect();
    let page = ChecksPage {
        layout: Layout::new(who, "checks"),
        error,
        note,
        form,
        clients: profiles::PROFILES.iter().map(|p| p.name).collect(),
        answers,
        watches,
        max_numwant: MAX_NUMWANT,
        max_watch_seconds: MAX_WATCH_SECONDS,
        max_timeout: crate::checks::MAX_TIMEOUT.as_secs(),
    };
    let mut resp = reply::page(&page);
    if resp.status() == StatusCode::OK {
        *resp.status_mut() = status;
    }
    resp
}

/// `GET /checks`: the empty form (peer ids asked for, so the answer names the clients).
pub async fn show(web: &Arc<Web>, who: &Who) -> Result<Response<Vec<u8>>, WebError> {
    let form = Form {
        peer_ids: true,
        ..Form::default()
    };
    Ok(render(
        web,
        who,
        StatusCode::OK,
        "",
        String::new(),
        form,
        Vec::new(),
    ))
}

/// `POST /checks` with its body still unread: see the module doc for the order.
pub async fn submit<S, B>(web: &Arc<Web>, req: Req, body: S) -> Response<Vec<u8>>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    match run(web, &req, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(&req),
    }
}

async fn run<S, B>(web: &Arc<Web>, req: &Req, body: S) -> Result<Response<Vec<u8>>, WebError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let who = web.guard(req, Access::Page).await?;
    let auth = web.auth()?;
    let Some(session) = who.session else {
        return Err(WebError::Csrf);
    };
    let content_type = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let max = super::torrents::MAX_TORRENT_BYTES;
    let declared = req
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max + 64 * 1024) {
        return Err(WebError::PayloadTooLarge(max));
    }
    let bytes = super::torrents::read_capped(body, declared.unwrap_or(0)).await?;
    let data = form_data::parse(&content_type, bytes, &["torrent"], max).await?;
    if !auth.csrf_ok(&session, data.text("csrf")) {
        return Err(WebError::Csrf);
    }
    let form = Form {
        url: data.text("url").trim().to_owned(),
        hash: data.text("hash").trim().to_owned(),
        scrape: data.text("kind") == "scrape",
        port: data.text("port").trim().to_owned(),
        numwant: data.text("numwant").trim().to_owned(),
        client: data.text("client").trim().to_owned(),
        peer_ids: !data.text("peer_ids").is_empty(),
        timeout: data.text("timeout").trim().to_owned(),
    };
    let (requests, note) = match requests(&form, &data) {
        Ok(r) => r,
        Err(message) => {
            return Ok(render(
                web,
                &who,
                StatusCode::BAD_REQUEST,
                &message,
                String::new(),
                form,
                Vec::new(),
            ))
        }
    };
    let mut results = Vec::new();
    for r in &requests {
        match web.checks.run(r).await {
            Ok(result) => results.push(result),
            Err(e) => {
                let status = match e {
                    CheckError::BadUrl(_) | CheckError::UnknownClient(..) => {
                        StatusCode::BAD_REQUEST
                    }
                    CheckError::Denied(_) => StatusCode::FORBIDDEN,
                    CheckError::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
                };
                return Ok(render(
                    web,
                    &who,
                    status,
                    &e.to_string(),
                    note,
                    form,
                    results,
                ));
            }
        }
    }
    tracing::info!(
        "tracker check by {} from {}: {} of {} ({})",
        who.user,
        req.client,
        if form.scrape { "scrape" } else { "announce" },
        requests[0].url,
        results
            .iter()
            .map(|r| r.status.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(render(web, &who, StatusCode::OK, "", note, form, results))
}

/// The checks a submission asks for (two for a hybrid torrent), and a note; `Err` with what
/// to fix.
fn requests(form: &Form, data: &FormData) -> Result<(Vec<CheckRequest>, String), String> {
    let torrent = data
        .files
        .get("torrent")
        .map(|b| {
            Metainfo::from_bytes(b).map_err(|e| format!("the uploaded file is not a torrent: {e}"))
        })
        .transpose()?;
    let mut note = String::new();
    let (hashes, url) = match (&torrent, form.hash.is_empty()) {
        (Some(_), false) => {
            return Err(
                "give an info hash or a .torrent file, not both (clear one of the two)".into(),
            )
        }
        (None, true) => {
            return Err(
                "no torrent: type its info hash (40 hex digits) or choose its .torrent file".into(),
            )
        }
        (None, false) => {
            let h = crate::hex::decode_array(&form.hash).ok_or_else(|| {
                format!(
                    "{:?} is not an info hash: 40 hex digits expected (a v2 hash is given by its .torrent file)",
                    form.hash
                )
            })?;
            (vec![h], form.url.clone())
        }
        (Some(meta), true) => {
            let url = if form.url.is_empty() {
                let url = meta
                    .tracker_urls()
                    .find(|u| ["http://", "https://", "udp://"].iter().any(|s| u.starts_with(s)))
                    .ok_or("no tracker URL: type one (the torrent lists no http, https or udp tracker)")?
                    .to_owned();
                note = format!("Tracker taken from the torrent: {url}");
                url
            } else {
                form.url.clone()
            };
            let hashes = meta.announce_hashes();
            if hashes.len() > 1 {
                let names = [
                    meta.info_hash_v1
                        .map(|h| format!("v1 {}", crate::hex::encode(&h))),
                    meta.info_hash_v2_truncated()
                        .map(|h| format!("v2 (truncated) {}", crate::hex::encode(&h))),
                ];
                let names: Vec<String> = names.into_iter().flatten().collect();
                note = [
                    note,
                    format!(
                        "A hybrid torrent: checked under both hashes, {}.",
                        names.join(" and ")
                    ),
                ]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            }
            (hashes, url)
        }
    };
    if url.is_empty() {
        return Err("no tracker URL: type one (http://, https:// or udp://)".into());
    }
    let port = match form.port.as_str() {
        "" => 0,
        p => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("port {p:?}: a number from 1 to 65535 expected"))?,
    };
    let numwant = match form.numwant.as_str() {
        "" => None,
        n => Some(
            n.parse::<u32>()
                .ok()
                .filter(|n| *n <= MAX_NUMWANT)
                .ok_or_else(|| {
                    format!("numwant {n:?}: a number from 0 to {MAX_NUMWANT} expected")
                })?,
        ),
    };
    let max_timeout = crate::checks::MAX_TIMEOUT.as_secs();
    let timeout = match form.timeout.as_str() {
        "" => None,
        t => Some(std::time::Duration::from_secs(
            t.parse::<u64>()
                .ok()
                .filter(|t| (1..=max_timeout).contains(t))
                .ok_or_else(|| {
                    format!("timeout {t:?}: a number of seconds from 1 to {max_timeout} expected")
                })?,
        )),
    };
    let requests = hashes
        .into_iter()
        .map(|info_hash| CheckRequest {
            url: url.clone(),
            info_hash,
            kind: if form.scrape {
                Kind::Scrape
            } else {
                Kind::Announce
            },
            client: Some(form.client.clone()).filter(|c| !c.is_empty()),
            timeout,
            retries: 0,
            port,
            numwant,
            peer_ids: form.peer_ids,
            source: Source::Page,
        })
        .collect();
    Ok((requests, note))
}

/// `POST /checks/watch`: adds a page watch (tracker URL, info hash, seconds), then 303 back.
pub async fn add_watch(
    web: &Arc<Web>,
    req: &Req,
    who: &Who,
) -> Result<Response<Vec<u8>>, WebError> {
    let fields = super::blocklist::checked_form(web, req, who)?;
    let field = |n: &str| fields.get(n).map_or("", |v| v.trim());
    let refuse = |message: String| {
        let form = Form {
            url: field("url").to_owned(),
            hash: field("hash").to_owned(),
            peer_ids: true,
            ..Form::default()
        };
        render(
            web,
            who,
            StatusCode::BAD_REQUEST,
            &message,
            String::new(),
            form,
            Vec::new(),
        )
    };
    let Some(hash) = crate::hex::decode_array(field("hash")) else {
        return Ok(refuse(format!(
            "watch: {:?} is not an info hash: 40 hex digits expected",
            field("hash")
        )));
    };
    let seconds = match field("seconds").parse::<u32>() {
        Ok(s) if (1..=MAX_WATCH_SECONDS).contains(&s) => s,
        _ => {
            return Ok(refuse(format!(
                "watch: every {:?} seconds: a number from 1 to {MAX_WATCH_SECONDS} expected",
                field("seconds")
            )))
        }
    };
    let url = field("url").to_owned();
    let checks = Arc::clone(&web.checks);
    let added = crate::blocking::try_run(move || checks.add_watch(&url, &hash, seconds))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    match added {
        Ok(_) => {
            tracing::info!(
                "page watch added by {}: {} {} every {seconds} s",
                who.user,
                field("url"),
                crate::hex::encode(&hash)
            );
            Ok(reply::redirect("/checks#watches"))
        }
        Err(message) => Ok(refuse(format!("watch: {message}"))),
    }
}

/// `POST /checks/watch/remove`: removes page watch `id`, then 303 back.
pub async fn remove_watch(
    web: &Arc<Web>,
    req: &Req,
    who: &Who,
) -> Result<Response<Vec<u8>>, WebError> {
    let fields = super::blocklist::checked_form(web, req, who)?;
    let id = fields
        .get("id")
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| WebError::BadRequest("no watch id in the form".into()))?;
    let checks = Arc::clone(&web.checks);
    let removed = crate::blocking::try_run(move || checks.remove_watch(id))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(WebError::Internal)?;
    if !removed {
        return Err(WebError::BadRequest(format!(
            "there is no page watch {id} (removed already?)"
        )));
    }
    tracing::info!("page watch {id} removed by {}", who.user);
    Ok(reply::redirect("/checks#watches"))
}
