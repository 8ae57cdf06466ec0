//! The output of `retracker query`, from its [`Row`]s: pure functions, no I/O.
//!
//! - table: one block per request (`details`), or one line per request (`summary`, for
//!   `--batch` and full scrapes);
//! - JSON: an array of objects, one per row, peers included;
//! - CSV: RFC 4180 ([`crate::web::export::csv`]), one line per row, the peers in one field
//!   separated by spaces.

use super::row::Row;

/// The table's per-request blocks; `peers` lists the peers under each.
pub fn details(rows: &[Row], peers: bool) -> String {
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}  {}", r.url, r.request));
        if let Some(h) = &r.info_hash {
            out.push_str(&format!("  {h}"));
        }
        if let Some(n) = &r.name {
            out.push_str(&format!("  {n}"));
        }
        out.push('\n');
        let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<12} {v}\n"));
        line("status", status_text(r));
        if let Some(i) = r.interval {
            let min = r
                .min_interval
                .map(|m| format!(" (min {m} s)"))
                .unwrap_or_default();
            line("interval", format!("{i} s{min}"));
        } else if let Some(m) = r.min_interval {
            line("min interval", format!("{m} s"));
        }
        for (k, v) in [
            ("seeders", r.seeders),
            ("leechers", r.leechers),
            ("downloaded", r.downloaded),
        ] {
            if let Some(v) = v {
                line(k, v.to_string());
            }
        }
        if r.request == "announce" && r.interval.is_some() {
            line("peers", r.peers.len().to_string());
        }
        if let Some(ip) = &r.external_ip {
            line("external ip", ip.clone());
        }
        if let Some(w) = &r.warning {
            line("warning", w.clone());
        }
        let plural = if r.attempts == 1 { "" } else { "s" };
        line(
            "time",
            format!("{} ms ({} attempt{plural})", r.time_ms, r.attempts),
        );
        if r.ipv6_without_peers6 {
            out.push_str(&format!("  warning: {}\n", super::bep7::WARNING));
        }
        if peers {
            for p in &r.peers {
                match &p.host {
                    Some(h) => out.push_str(&format!("    {:<47} {h}\n", p.address)),
                    None => out.push_str(&format!("    {}\n", p.address)),
                }
            }
        }
    }
    out
}

/// `ok`, `failure: <reason> (retry in never)`, `error: <why>`.
pub fn status_text(r: &Row) -> String {
    let mut s = r.status.as_str().to_owned();
    if let Some(e) = &r.error {
        s.push_str(": ");
        s.push_str(e);
    }
    if let Some(retry) = &r.retry_in {
        match retry.as_str() {
            "never" => s.push_str(" (retry in: never)"),
            m => s.push_str(&format!(" (retry in {m} min)")),
        }
    }
    s
}

/// The table's one line per request, with a header.
pub fn summary(rows: &[Row]) -> String {
    let opt = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let mut table: Vec<[String; 8]> = vec![[
        "status",
        "ms",
        "seeders",
        "leechers",
        "done",
        "peers",
        "url",
        "info hash / error",
    ]
    .map(str::to_owned)];
    for r in rows {
        let last = match (&r.error, &r.info_hash) {
            (Some(_), _) => status_text(r)
                .split_once(": ")
                .map_or_else(String::new, |(_, e)| e.to_owned()),
            (None, Some(h)) => match &r.name {
                Some(n) => format!("{h} {n}"),
                None => h.clone(),
            },
            (None, None) => String::new(),
        };
        let peers = if r.request == "announce" && r.status.as_str() == "ok" {
            r.peers.len().to_string()
        } else {
            "-".to_owned()
        };
        table.push([
            r.status.as_str().to_owned(),
            r.time_ms.to_string(),
            opt(r.seeders),
            opt(r.leechers),
            opt(r.downloaded),
            peers,
            r.url.clone(),
            last,
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 7 {
                line.push_str(cell);
            } else if (1..=5).contains(&c) {
                line.push_str(&format!("{cell:>w$}  ", w = widths[c]));
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The JSON array.
pub fn json(rows: &[Row]) -> String {
    let mut s = serde_json::to_string_pretty(rows).expect("rows serialize");
    s.push('\n');
    s
}

/// The CSV columns.
pub const CSV_HEADER: [&str; 18] = [
    "url",
    "request",
    "info_hash",
    "name",
    "status",
    "error",
    "retry_in",
    "interval",
    "min_interval",
    "seeders",
    "leechers",
    "downloaded",
    "peer_count",
    "peers",
    "external_ip",
    "warning",
    "time_ms",
    "attempts",
];

/// The CSV document.
pub fn csv(rows: &[Row]) -> String {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    crate::web::export::csv(
        &CSV_HEADER,
        rows.iter().map(|r| {
            let peers: Vec<String> = r
                .peers
                .iter()
                .map(|p| match &p.host {
                    Some(h) => format!("{}={h}", p.address),
                    None => p.address.clone(),
                })
                .collect();
            vec![
                r.url.clone(),
                r.request.to_owned(),
                s(&r.info_hash),
                s(&r.name),
                r.status.as_str().to_owned(),
                s(&r.error),
                s(&r.retry_in),
                n(r.interval),
                n(r.min_interval),
                n(r.seeders),
                n(r.leechers),
                n(r.downloaded),
                r.peers.len().to_string(),
                peers.join(" "),
                s(&r.external_ip),
                s(&r.warning),
                r.time_ms.to_string(),
                r.attempts.to_string(),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::row::{PeerRow, Status};
    use super::*;

    fn row(status: Status) -> Row {
        Row {
            url: "http://t/announce".into(),
            request: "announce",
            info_hash: Some("ab".repeat(20)),
            name: None,
            status,
            error: (status != Status::Ok).then(|| "unknown torrent, \"x\"".to_owned()),
            retry_in: (status == Status::Failure).then(|| "never".to_owned()),
            interval: (status == Status::Ok).then_some(1800),
            min_interval: None,
            seeders: (status == Status::Ok).then_some(2),
            leechers: (status == Status::Ok).then_some(1),
            downloaded: None,
            peers: vec![PeerRow {
                address: "10.0.0.1:6881".into(),
                host: Some("a.lan".into()),
            }],
            external_ip: None,
            warning: None,
            ipv6_without_peers6: false,
            time_ms: 12,
            attempts: 1,
        }
    }

    #[test]
    fn details_show_the_answer_and_peers() {
        let t = details(&[row(Status::Ok), row(Status::Failure)], true);
        assert!(t.contains("  interval     1800 s\n"), "{t}");
        assert!(
            t.contains("  seeders      2\n  leechers     1\n  peers        1\n"),
            "{t}"
        );
        assert!(t.contains("    10.0.0.1:6881"), "{t}");
        assert!(t.contains("a.lan"), "{t}");
        assert!(
            t.contains("status       failure: unknown torrent, \"x\" (retry in: never)"),
            "{t}"
        );
        assert!(t.contains("time         12 ms (1 attempt)"), "{t}");
    }

    #[test]
    fn the_bep7_warning_shows_in_the_table_and_json() {
        let mut r = row(Status::Ok);
        let t = details(std::slice::from_ref(&r), false);
        assert!(!t.contains("BEP 7"), "{t}");
        assert!(json(std::slice::from_ref(&r)).contains("\"ipv6_without_peers6\": false"));
        r.ipv6_without_peers6 = true;
        let t = details(std::slice::from_ref(&r), false);
        assert!(
            t.contains("\n  warning: reached over IPv6 but the answer has no peers6 (BEP 7)"),
            "{t}"
        );
        assert!(json(&[r]).contains("\"ipv6_without_peers6\": true"));
    }

    #[test]
    fn csv_quotes_and_lists_peers() {
        let c = csv(&[row(Status::Failure)]);
        let mut lines = c.split("\r\n");
        assert_eq!(lines.next().unwrap(), CSV_HEADER.join(","));
        let line = lines.next().unwrap();
        assert!(
            line.contains(",failure,\"unknown torrent, \"\"x\"\"\",never,"),
            "{line}"
        );
        assert!(line.contains(",1,10.0.0.1:6881=a.lan,"), "{line}");
    }

    #[test]
    fn summary_aligns_columns() {
        let s = summary(&[row(Status::Ok), row(Status::Error)]);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("status  ms  seeders"), "{s}");
        let url_at = lines[0].find("url").unwrap();
        assert_eq!(lines[1].find("http://").unwrap(), url_at, "{s}");
        assert!(lines[2].ends_with("unknown torrent, \"x\""), "{s}");
    }
}
