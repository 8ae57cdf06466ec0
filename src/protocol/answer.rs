//! Reading a tracker's HTTP answers, for the query tools: the client side of [`super::announce`]
//! and [`super::scrape`], on top of [`super::bdecode`].
//!
//! - announce (BEP 3, 23, 7, 24): `interval`, `min interval`, `complete`, `incomplete`,
//!   `downloaded`, `peers` in the compact (6 bytes per IPv4 peer) or the dictionary form,
//!   `peers6` (18 bytes per IPv6 peer), `external ip` (4 or 16 bytes), `warning message`,
//!   `tracker id`;
//! - scrape (BEP 48): `files`, a dictionary of 20-byte info hashes to `complete`,
//!   `incomplete`, `downloaded` (and `name`, which some trackers add), and `flags`
//!   `min_request_interval`;
//! - either may be a BEP 3 `failure reason`, with BEP 31 `retry in` (minutes or `never`).
//!
//! Unknown keys are ignored, as clients do. What a client could not use is an [`AnswerError`]
//! naming the key: a body that is not bencode (an HTML page), a `peers` string whose length is
//! not a multiple of 6, an `interval` that is not an integer, an announce answer without
//! `interval` or a scrape answer without `files`.

use super::bdecode::{self, DecodeError, Dict, Value};
use super::{InfoHash, RetryIn};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A peer in an announce answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Peer {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// `peer id`, given only by the dictionary form.
    pub peer_id: Option<Vec<u8>>,
}

/// A successful announce answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnounceAnswer {
    /// `interval`: seconds until the next announce.
    pub interval: i64,
    /// `min interval`.
    pub min_interval: Option<i64>,
    /// `complete`: seeders.
    pub complete: Option<i64>,
    /// `incomplete`: leechers.
    pub incomplete: Option<i64>,
    /// `downloaded`: completed downloads.
    pub downloaded: Option<i64>,
    /// `peers` then `peers6`, in the order given.
    pub peers: Vec<Peer>,
    /// How many of `peers` came in a compact `peers` string (IPv4, BEP 23).
    pub compact_peers: usize,
    /// Whether there was a `peers6` key, even an empty one (BEP 7).
    pub peers6_key: bool,
    /// `external ip` (BEP 24).
    pub external_ip: Option<IpAddr>,
    /// `warning message`.
    pub warning: Option<String>,
    /// `tracker id`.
    pub tracker_id: Option<Vec<u8>>,
}

/// One torrent of a scrape answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeFile {
    /// Which torrent.
    pub info_hash: InfoHash,
    /// `complete`: seeders.
    pub complete: Option<i64>,
    /// `incomplete`: leechers.
    pub incomplete: Option<i64>,
    /// `downloaded`: completed downloads.
    pub downloaded: Option<i64>,
    /// `name`, which some trackers add.
    pub name: Option<String>,
}

/// A successful scrape answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrapeAnswer {
    /// `files`, in the order given.
    pub files: Vec<ScrapeFile>,
    /// `flags` `min_request_interval`: seconds before the next scrape.
    pub min_request_interval: Option<i64>,
}

/// A BEP 3 refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// `failure reason`.
    pub reason: String,
    /// BEP 31 `retry in`.
    pub retry_in: Option<RetryIn>,
}

/// What a tracker answered: `T`, or a `failure reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer<T> {
    /// The request was served.
    Success(T),
    /// The tracker refused it.
    Failure(Failure),
}

/// Why an answer cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// Not bencode at all (an HTML error page, a truncated body ...).
    #[error("{0}")]
    Bencode(#[from] DecodeError),
    /// Bencode, but not a dictionary.
    #[error("the answer is not a bencoded dictionary")]
    NotDict,
    /// A key holds the wrong kind of value.
    #[error("{key:?} is not {expected}")]
    BadValue {
        /// The key.
        key: String,
        /// What it should be.
        expected: &'static str,
    },
    /// A key every answer of this kind has is absent.
    #[error("no {0:?} and no \"failure reason\" in the answer")]
    Missing(&'static str),
}

fn bad(key: &str, expected: &'static str) -> AnswerError {
    AnswerError::BadValue {
        key: key.to_owned(),
        expected,
    }
}

/// `key` as an integer if present.
fn int(d: &Dict<'_>, key: &str) -> Result<Option<i64>, AnswerError> {
    match d.get(key) {
        None => Ok(None),
        Some(Value::Int(n)) => Ok(Some(*n)),
        Some(_) => Err(bad(key, "an integer")),
    }
}

/// `key` as a byte string if present.
fn bytes<'a>(d: &Dict<'a>, key: &str) -> Result<Option<&'a [u8]>, AnswerError> {
    match d.get(key) {
        None => Ok(None),
        Some(Value::Bytes(b)) => Ok(Some(b)),
        Some(_) => Err(bad(key, "a byte string")),
    }
}

/// The top dictionary, or the refusal it carries.
fn top<'a>(body: &'a [u8]) -> Result<Result<Dict<'a>, Failure>, AnswerError> {
    let Value::Dict(d) = bdecode::decode(body)? else {
        return Err(AnswerError::NotDict);
    };
    let Some(reason) = bytes(&d, "failure reason")? else {
        return Ok(Ok(d));
    };
    let retry_in = match d.get("retry in") {
        Some(Value::Bytes(b"never")) => Some(RetryIn::Never),
        Some(Value::Int(m)) => u32::try_from(*m).ok().map(RetryIn::Minutes),
        _ => None,
    };
    Ok(Err(Failure {
        reason: String::from_utf8_lossy(reason).into_owned(),
        retry_in,
    }))
}

/// Decodes the body of an HTTP announce answer.
pub fn decode_announce(body: &[u8]) -> Result<Answer<AnnounceAnswer>, AnswerError> {
    let d = match top(body)? {
        Ok(d) => d,
        Err(f) => return Ok(Answer::Failure(f)),
    };
    let interval = int(&d, "interval")?.ok_or(AnswerError::Missing("interval"))?;
    let mut peers = Vec::new();
    match d.get("peers") {
        None => {}
        Some(Value::Bytes(b)) => peers = compact_peers(b, "peers", 4)?,
        Some(Value::List(list)) => {
            for item in list {
                peers.push(peer_dict(item)?);
            }
        }
        Some(_) => return Err(bad("peers", "a byte string or a list")),
    }
    let compact_count = match d.get("peers") {
        Some(Value::Bytes(_)) => peers.len(),
        _ => 0,
    };
    let peers6 = bytes(&d, "peers6")?;
    if let Some(b) = peers6 {
        peers.extend(compact_peers(b, "peers6", 16)?);
    }
    let external_ip = match bytes(&d, "external ip")? {
        None => None,
        Some(b) => Some(ip_from_bytes(b).ok_or_else(|| bad("external ip", "4 or 16 bytes"))?),
    };
    Ok(Answer::Success(AnnounceAnswer {
        interval,
        min_interval: int(&d, "min interval")?,
        complete: int(&d, "complete")?,
        incomplete: int(&d, "incomplete")?,
        downloaded: int(&d, "downloaded")?,
        peers,
        compact_peers: compact_count,
        peers6_key: peers6.is_some(),
        external_ip,
        warning: bytes(&d, "warning message")?.map(|w| String::from_utf8_lossy(w).into_owned()),
        tracker_id: bytes(&d, "tracker id")?.map(<[u8]>::to_vec),
    }))
}

/// An address from its 4 or 16 network-order bytes.
pub fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        Some(IpAddr::V4(Ipv4Addr::from(v4)))
    } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
        Some(IpAddr::V6(Ipv6Addr::from(v6)))
    } else {
        None
    }
}

/// Compact peers: `ip_len` address bytes then 2 port bytes each (BEP 23, BEP 7, BEP 15).
pub fn compact_peers(b: &[u8], key: &str, ip_len: usize) -> Result<Vec<Peer>, AnswerError> {
    let size = ip_len + 2;
    if b.len() % size != 0 {
        let expected = if ip_len == 4 {
            "a multiple of 6 bytes"
        } else {
            "a multiple of 18 bytes"
        };
        return Err(bad(key, expected));
    }
    Ok(b.chunks_exact(size)
        .map(|c| Peer {
            ip: ip_from_bytes(&c[..ip_len]).expect("4 or 16 bytes"),
            port: u16::from_be_bytes([c[ip_len], c[ip_len + 1]]),
            peer_id: None,
        })
        .collect())
}

/// One `{ip, peer id, port}` dictionary of the BEP 3 list form.
fn peer_dict(item: &Value<'_>) -> Result<Peer, AnswerError> {
    let d = item
        .as_dict()
        .ok_or_else(|| bad("peers", "a list of dictionaries"))?;
    let ip = bytes(d, "ip")?
        .and_then(|t| std::str::from_utf8(t).ok())
        .and_then(|t| t.parse::<IpAddr>().ok())
        .ok_or_else(|| {
            bad(
                "peers",
                "a list of dictionaries with an IP address in \"ip\"",
            )
        })?;
    let port = int(d, "port")?
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| bad("peers", "a list of dictionaries with a port in \"port\""))?;
    Ok(Peer {
        ip,
        port,
        peer_id: bytes(d, "peer id")?.map(<[u8]>::to_vec),
    })
}

/// Decodes the body of an HTTP scrape answer.
pub fn decode_scrape(body: &[u8]) -> Result<Answer<ScrapeAnswer>, AnswerError> {
    let d = match top(body)? {
        Ok(d) => d,
        Err(f) => return Ok(Answer::Failure(f)),
    };
    let files = match d.get("files") {
        None => return Err(AnswerError::Missing("files")),
        Some(Value::Dict(f)) => f,
        Some(_) => return Err(bad("files", "a dictionary")),
    };
    let mut out = Vec::with_capacity(files.entries().len());
    for (hash, stats) in files.entries() {
        let info_hash =
            InfoHash::try_from(*hash).map_err(|_| bad("files", "keyed by 20-byte info hashes"))?;
        let stats = stats
            .as_dict()
            .ok_or_else(|| bad("files", "a dictionary of dictionaries"))?;
        out.push(ScrapeFile {
            info_hash,
            complete: int(stats, "complete")?,
            incomplete: int(stats, "incomplete")?,
            downloaded: int(stats, "downloaded")?,
            name: bytes(stats, "name")?.map(|n| String::from_utf8_lossy(n).into_owned()),
        });
    }
    let min_request_interval = match d.get("flags") {
        None => None,
        Some(Value::Dict(flags)) => int(flags, "min_request_interval")?,
        Some(_) => return Err(bad("flags", "a dictionary")),
    };
    Ok(Answer::Success(ScrapeAnswer {
        files: out,
        min_request_interval,
    }))
}

#[cfg(test)]
mod tests;
