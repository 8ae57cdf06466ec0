//! `retracker report FILE --format csv|json`: a recording of `retracker query --watch` exported.
//! A file starting with SQLite's header (`SQLite format 3\0`) is read as a SQLite recording,
//! anything else as a CSV recording (RFC 4180, the columns of [`super::watch::CSV_HEADER`]).
//!
//! Exit status: 0 exported, 1 the file cannot be read, 2 it is not a recording.

use super::args::{ReportArgs, ReportFormat};
use super::watch::{csv_rows, CSV_HEADER};
use crate::storage::record::{Poll, Recording};
use std::process::ExitCode;

/// Runs `retracker report`.
pub fn main(args: &ReportArgs) -> ExitCode {
    let name = args.file.display().to_string();
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("retracker report: {name}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let polls = if bytes.starts_with(b"SQLite format 3\0") {
        Recording::open(&args.file, false)
            .map_err(|e| e.to_string())
            .and_then(|r| r.polls().map_err(|e| format!("{name}: {e}")))
    } else {
        std::str::from_utf8(&bytes)
            .map_err(|_| format!("{name}: neither SQLite nor UTF-8 CSV"))
            .and_then(|text| polls_from_csv(text).map_err(|e| format!("{name}: {e}")))
    };
    let polls = match polls {
        Ok(p) => p,
        Err(e) => {
            eprintln!("retracker report: {e}");
            return ExitCode::from(2);
        }
    };
    match args.format {
        ReportFormat::Csv => print!("{}", csv_rows(&polls)),
        ReportFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&polls).expect("polls serialize")
            )
        }
    }
    ExitCode::SUCCESS
}

/// Splits RFC 4180 text into records of fields (quoted fields may hold `,`, `"` and line
/// breaks; CRLF or LF ends a record).
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut line = 1;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: a quoted field is not closed"));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// The polls of a CSV recording.
pub fn polls_from_csv(text: &str) -> Result<Vec<Poll>, String> {
    let records = parse_csv(text)?;
    let Some((header, rows)) = records.split_first() else {
        return Err("empty file: not a recording".into());
    };
    if header != &CSV_HEADER {
        return Err(format!(
            "not a retracker recording: the header is not {}",
            CSV_HEADER.join(",")
        ));
    }
    let mut polls = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let at = i + 2;
        if r.len() != CSV_HEADER.len() {
            return Err(format!(
                "line {at}: {} fields, expected {}",
                r.len(),
                CSV_HEADER.len()
            ));
        }
        let opt_int = |k: usize| -> Result<Option<i64>, String> {
            if r[k].is_empty() {
                return Ok(None);
            }
            r[k].parse()
                .map(Some)
                .map_err(|_| format!("line {at}: {} {:?} is not an integer", CSV_HEADER[k], r[k]))
        };
        let int = |k: usize| opt_int(k)?.ok_or_else(|| format!("line {at}: no {}", CSV_HEADER[k]));
        let opt_text = |k: usize| (!r[k].is_empty()).then(|| r[k].clone());
        polls.push(Poll {
            time: r[0].clone(),
            url: r[1].clone(),
            request: r[2].clone(),
            info_hash: opt_text(3),
            status: r[4].clone(),
            error: opt_text(5),
            seeders: opt_int(6)?,
            leechers: opt_int(7)?,
            downloaded: opt_int(8)?,
            interval: opt_int(9)?,
            time_ms: int(10)?,
            attempts: int(11)?,
            peers: r[12].split_whitespace().map(str::to_owned).collect(),
        });
    }
    Ok(polls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_recordings_read_back() {
        let polls = vec![Poll {
            time: "2026-01-01T00:00:00Z".into(),
            url: "http://t/announce".into(),
            request: "announce".into(),
            info_hash: Some("ab".repeat(20)),
            status: "failure".into(),
            error: Some("a \"quoted\", multi\r\nline reason".into()),
            seeders: None,
            leechers: Some(3),
            downloaded: None,
            interval: Some(1800),
            time_ms: 7,
            attempts: 2,
            peers: vec!["127.0.0.1:1".into(), "[::1]:2".into()],
        }];
        let text = csv_rows(&polls);
        assert_eq!(polls_from_csv(&text).unwrap(), polls);
        assert!(polls_from_csv("a,b\r\n")
            .unwrap_err()
            .contains("not a retracker recording"));
        assert!(parse_csv("\"open").unwrap_err().contains("not closed"));
    }
}
