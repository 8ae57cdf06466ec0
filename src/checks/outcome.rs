//! A tracker's answer (or why there was none) as a [`CheckResult`], with the words a person
//! reads: `refused by the tracker: ...`, `timed out: ...`, `connection refused: ...`,
//! `bad answer: ...`. Pure.

use super::CheckResult;
use crate::client::{ClientError, Outcome};
use crate::protocol::answer::{AnnounceAnswer, Answer, ScrapeAnswer};
use crate::protocol::InfoHash;
use crate::storage::checks::{CheckPeer, Source};

/// Why there was no answer, in words.
pub fn words(e: &ClientError) -> String {
    match e {
        ClientError::Timeout(d) => format!("timed out: no answer within {} s", d.as_secs_f64()),
        ClientError::Connect { addr, why } if why.to_ascii_lowercase().contains("refused") => {
            format!("connection refused by {addr}")
        }
        ClientError::Malformed(why) => format!("bad answer: {why}"),
        ClientError::Status(s) => format!("bad answer: HTTP status {s}"),
        ClientError::TooLarge(n) => format!("bad answer: larger than {n} bytes"),
        other => other.to_string(),
    }
}

fn base<T>(url: &str, request: &str, hash: &InfoHash, o: &Outcome<T>) -> CheckResult {
    let mut r = CheckResult {
        id: 0,
        at: 0,
        url: url.trim().to_owned(),
        request: request.to_owned(),
        info_hash: Some(crate::hex::encode(hash)),
        status: "ok".into(),
        error: None,
        seeders: None,
        leechers: None,
        downloaded: None,
        interval: None,
        time_ms: i64::try_from(o.elapsed.as_millis()).unwrap_or(i64::MAX),
        attempts: o.attempts.into(),
        external_ip: None,
        warnings: Vec::new(),
        source: Source::Page,
        peers: Vec::new(),
    };
    match &o.result {
        Ok(Answer::Success(_)) => {}
        Ok(Answer::Failure(f)) => {
            r.status = "failure".into();
            r.error = Some(format!("refused by the tracker: {}", f.reason));
        }
        Err(e) => {
            r.status = "error".into();
            r.error = Some(words(e));
        }
    }
    r
}

/// The result of an announce.
pub fn announce(url: &str, hash: &InfoHash, o: &Outcome<AnnounceAnswer>) -> CheckResult {
    let mut r = base(url, "announce", hash, o);
    if let Ok(Answer::Success(a)) = &o.result {
        r.interval = Some(a.interval);
        r.seeders = a.complete;
        r.leechers = a.incomplete;
        r.downloaded = a.downloaded;
        r.external_ip = a.external_ip.map(|ip| ip.to_string());
        r.warnings.extend(a.warning.clone());
        if crate::query::bep7::no_peers6(o.answered_by, a) {
            r.warnings.push(crate::query::bep7::WARNING.to_owned());
        }
        r.peers = a
            .peers
            .iter()
            .map(|p| CheckPeer {
                address: std::net::SocketAddr::new(p.ip, p.port).to_string(),
                client: p.peer_id.as_deref().map(client_name),
            })
            .collect();
    }
    r
}

/// The client a peer id names, or the id in hex when none is known.
fn client_name(id: &[u8]) -> String {
    match <[u8; 20]>::try_from(id) {
        Ok(id) => {
            let c = crate::protocol::peer_id::client_software(&id);
            if c.name == "Unknown" {
                crate::hex::encode(&id)
            } else {
                c.display()
            }
        }
        Err(_) => crate::hex::encode(id),
    }
}

/// The result of a scrape of one hash (a tracker that leaves the hash out: zero peers).
pub fn scrape(url: &str, hash: &InfoHash, o: &Outcome<ScrapeAnswer>) -> CheckResult {
    let mut r = base(url, "scrape", hash, o);
    if let Ok(Answer::Success(s)) = &o.result {
        match s.files.iter().find(|f| f.info_hash == *hash) {
            Some(f) => {
                r.seeders = f.complete;
                r.leechers = f.incomplete;
                r.downloaded = f.downloaded;
            }
            None => {
                r.seeders = Some(0);
                r.leechers = Some(0);
                r.downloaded = Some(0);
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn errors_in_words() {
        assert_eq!(
            words(&ClientError::Timeout(Duration::from_secs(2))),
            "timed out: no answer within 2 s"
        );
        let addr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            words(&ClientError::Connect {
                addr,
                why: "Connection refused (os error 111)".into()
            }),
            "connection refused by 127.0.0.1:9"
        );
        assert!(words(&ClientError::Malformed("x".into())).starts_with("bad answer: "));
    }

    #[test]
    fn peer_ids_name_their_client() {
        assert_eq!(client_name(b"-qB4520-!EYzUIYz4!gq"), "qBittorrent 4.5.2");
        assert_eq!(client_name(&[0xff; 4]), "ffffffff");
    }
}
