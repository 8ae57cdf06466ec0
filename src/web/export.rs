//! `/api/stats` (the dashboard's [`Overview`](super::overview::Overview) as JSON) and the
//! downloads under `/export/`: peers and torrents as CSV or JSON, and the recorded tracker
//! checks ([`super::reports::export`]). All need a login (session cookie or HTTP basic auth).
//! The peers exports take the `/all_peers` filters (`hash=`, `net=`).
//!
//! CSV follows RFC 4180: a header row, CRLF line ends, fields holding `,` `"` CR or LF quoted,
//! quotes doubled. Because torrent names come from torrent files, a field that a spreadsheet
//! would run as a formula (first character `=` `+` `-` `@`, or tab / CR, as OWASP lists) gets a
//! leading `'` ([`csv_field`]).

use super::error::WebError;
use super::peers::{self, Filter, SortKey};
use super::{format, overview, reply, Req, Web};
use crate::hex;
use crate::protocol::peer_id::client_software;
use crate::protocol::InfoHash;
use crate::storage::TorrentMeta;
use http::{Method, Response};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// One CSV field: formula characters neutralised, then quoted if needed.
pub fn csv_field(text: &str) -> Cow<'_, str> {
    let text: Cow<'_, str> = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    };
    if text.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        text
    }
}

/// A CSV document: `header`, then `rows`, each line ending in CRLF.
pub fn csv<R, F>(header: &[&str], rows: R) -> String
where
    R: IntoIterator<Item = Vec<F>>,
    F: AsRef<str>,
{
    let mut out = String::new();
    let mut line = |fields: &mut dyn Iterator<Item = &str>| {
        for (i, f) in fields.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&csv_field(f));
        }
        out.push_str("\r\n");
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(AsRef::as_ref));
    }
    out
}

/// Handles `/api/...` and `/export/...` (the caller checked the login); unknown paths are 404.
pub async fn handle(web: &Arc<Web>, req: &Req) -> Result<Response<Vec<u8>>, WebError> {
    let known = matches!(
        req.path.as_str(),
        "/api/stats"
            | "/api/torrents"
            | "/export/peers.csv"
            | "/export/peers.json"
            | "/export/torrents.csv"
            | "/export/torrents.json"
            | "/export/checks.csv"
            | "/export/checks.json"
    );
    if known && !(req.method == Method::GET || req.method == Method::HEAD) {
        return Err(WebError::MethodNotAllowed);
    }
    match req.path.as_str() {
        "/api/stats" => {
            let o = overview::compute(web).await?;
            let value = serde_json::to_value(&o).map_err(|e| WebError::Internal(e.to_string()))?;
            Ok(reply::json(&value))
        }
        "/export/peers.csv" => peers_export(web, req, false).await,
        "/export/peers.json" => peers_export(web, req, true).await,
        "/export/torrents.csv" => torrents_export(web, false).await,
        "/export/torrents.json" => torrents_export(web, true).await,
        "/export/checks.csv" => super::reports::export(web, req, false).await,
        "/export/checks.json" => super::reports::export(web, req, true).await,
        // POST is routed before the login (web/torrents.rs); other methods end here.
        "/api/torrents" => Err(WebError::MethodNotAllowed),
        _ => Err(WebError::NotFound),
    }
}

/// JSON as a download.
fn json_download(filename: &str, value: &Value) -> Response<Vec<u8>> {
    let mut body = serde_json::to_vec_pretty(value).expect("a Value always serialises");
    body.push(b'\n');
    reply::download("application/json", filename, body)
}

/// Every peer (filtered), by torrent, address and port.
async fn peers_export(
    web: &Arc<Web>,
    req: &Req,
    as_json: bool,
) -> Result<Response<Vec<u8>>, WebError> {
    let filter = Filter::parse(&reply::form(req.query.as_bytes()))?;
    let w = Arc::clone(web);
    let rows = crate::blocking::try_run(move || {
        let rows = peers::collect(&*w.store, &filter);
        peers::sort_rows(rows, SortKey::Hash, false, 0, usize::MAX)
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?;
    if as_json {
        let list: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "info_hash": hex::encode(&r.info_hash),
                    "ip": r.ip.to_string(),
                    "port": r.port,
                    "seeder": r.seeder,
                    "last_seen": r.last_seen,
                    "last_seen_utc": format::utc(r.last_seen),
                    "client": client_software(&r.peer_id).display(),
                })
            })
            .collect();
        return Ok(json_download("peers.json", &Value::Array(list)));
    }
    let body = csv(
        &[
            "info_hash",
            "ip",
            "port",
            "seeder",
            "last_seen",
            "last_seen_utc",
            "client",
        ],
        rows.iter().map(|r| {
            vec![
                hex::encode(&r.info_hash),
                r.ip.to_string(),
                r.port.to_string(),
                r.seeder.to_string(),
                r.last_seen.to_string(),
                format::utc(r.last_seen),
                client_software(&r.peer_id).display(),
            ]
        }),
    );
    Ok(reply::download(
        "text/csv; charset=utf-8",
        "peers.csv",
        body.into_bytes(),
    ))
}

/// Every swarm in memory, most peers first (then by hash), with its name and payload size
/// when known (`retracker add-torrent`); an unknown size is an empty CSV field, JSON `null`.
async fn torrents_export(web: &Arc<Web>, as_json: bool) -> Result<Response<Vec<u8>>, WebError> {
    let w = Arc::clone(web);
    let swarms = crate::blocking::try_run(move || {
        let mut swarms = Vec::new();
        crate::tracker::scrape::every(&w.tracker, &mut swarms);
        swarms.sort_unstable_by(|a, b| {
            (b.complete + b.incomplete, b.complete, a.info_hash).cmp(&(
                a.complete + a.incomplete,
                a.complete,
                b.info_hash,
            ))
        });
        swarms
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?;
    let hashes: Vec<InfoHash> = swarms.iter().map(|s| s.info_hash).collect();
    let meta: HashMap<InfoHash, TorrentMeta> = web.db(move |s| s.torrent_meta(&hashes)).await?;
    let name = |h: &InfoHash| meta.get(h).map_or("", |m| m.name.as_str());
    let size = |h: &InfoHash| meta.get(h).and_then(|m| m.size);
    if as_json {
        let list: Vec<Value> = swarms
            .iter()
            .map(|s| {
                json!({
                    "info_hash": hex::encode(&s.info_hash),
                    "name": name(&s.info_hash),
                    "size": size(&s.info_hash),
                    "seeders": s.complete,
                    "leechers": s.incomplete,
                    "completed": s.downloaded,
                })
            })
            .collect();
        return Ok(json_download("torrents.json", &Value::Array(list)));
    }
    let body = csv(
        &[
            "info_hash",
            "name",
            "size",
            "seeders",
            "leechers",
            "completed",
        ],
        swarms.iter().map(|s| {
            vec![
                hex::encode(&s.info_hash),
                name(&s.info_hash).to_owned(),
                size(&s.info_hash).map_or_else(String::new, |n| n.to_string()),
                s.complete.to_string(),
                s.incomplete.to_string(),
                s.downloaded.to_string(),
            ]
        }),
    );
    Ok(reply::download(
        "text/csv; charset=utf-8",
        "torrents.csv",
        body.into_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(csv_field("2001:db8::1"), "2001:db8::1");
        assert_eq!(csv_field("café"), "café");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-1"), "'-1");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\tx"), "'\tx");
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_field("a=b"), "a=b", "only a leading character counts");
    }

    #[test]
    fn documents_have_a_header_and_crlf_lines() {
        let doc = csv(&["a", "b"], vec![vec!["1", "x,y"], vec!["2", "-3"]]);
        assert_eq!(doc, "a,b\r\n1,\"x,y\"\r\n2,'-3\r\n");
        assert_eq!(csv::<Vec<Vec<&str>>, &str>(&["only"], vec![]), "only\r\n");
    }
}
