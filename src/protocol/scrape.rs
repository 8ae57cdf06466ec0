//! Scrape requests and responses.
//!
//! Implements BEP 48, "Tracker Protocol Extension: Scrape": the request is the announce URL with
//! `announce` replaced by `scrape` and zero or more `info_hash` parameters; the response is
//! `d5:filesd<20-byte hash>d8:completei..e10:downloadedi..e10:incompletei..ee...ee`.
//! A scrape without `info_hash` asks for every torrent (whether that is allowed is policy, not
//! protocol).
//!
//! [`parse_scrape`] returns these [`ProtocolError`]s: `QueryTooLong`, `TooManyInfoHashes`,
//! `InvalidPercentEncoding`, `WrongLength`.

use super::bencode::{write_bytes, write_int};
use super::query::MAX_QUERY_BYTES;
use super::query::{decode_fixed, decode_key, pairs, FixedDecodeError, MAX_KEY_BYTES};
use super::{InfoHash, ProtocolError};

/// Raw length of one fully escaped `info_hash=%XX...%XX&` parameter: 10 + 60 + 1 bytes.
const MAX_HASH_PARAM_BYTES: usize = 71;

/// The raw query length limit for a scrape allowing `max_hashes` hashes: [`MAX_QUERY_BYTES`], or
/// more when a configured limit needs it, so that every allowed scrape fits even when the client
/// escapes every byte.
pub fn scrape_query_limit(max_hashes: usize) -> usize {
    MAX_QUERY_BYTES.max(max_hashes.saturating_mul(MAX_HASH_PARAM_BYTES))
}

/// Parses the raw query string of a scrape (without the leading `?`) into the info hashes it
/// names, sorted and without duplicates. An empty `Vec` is a request for a full scrape.
///
/// Other parameters are ignored. The number of `info_hash` parameters, duplicates included, is
/// checked against `max_hashes` before any of them is decoded, so an oversized request costs one
/// scan; the raw query length is checked first against [`scrape_query_limit`].
pub fn parse_scrape(query: &[u8], max_hashes: usize) -> Result<Vec<InfoHash>, ProtocolError> {
    let limit = scrape_query_limit(max_hashes);
    if query.len() > limit {
        return Err(ProtocolError::QueryTooLong {
            len: query.len(),
            limit,
        });
    }
    let is_hash = |raw_key: &[u8]| {
        let mut buf = [0u8; MAX_KEY_BYTES];
        decode_key(raw_key, &mut buf) == Some(b"info_hash")
    };
    let count = pairs(query).filter(|(k, _)| is_hash(k)).count();
    if count > max_hashes {
        return Err(ProtocolError::TooManyInfoHashes {
            count,
            limit: max_hashes,
        });
    }
    let mut hashes = Vec::with_capacity(count);
    for (_, value) in pairs(query).filter(|(k, _)| is_hash(k)) {
        hashes.push(decode_fixed::<20>(value).map_err(|e| match e {
            FixedDecodeError::InvalidEscape => ProtocolError::InvalidPercentEncoding("info_hash"),
            FixedDecodeError::WrongLength(len) => ProtocolError::WrongLength {
                param: "info_hash",
                len,
            },
        })?);
    }
    hashes.sort_unstable();
    hashes.dedup();
    Ok(hashes)
}

/// Statistics of one torrent in a scrape response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScrapeEntry {
    /// Which torrent.
    pub info_hash: InfoHash,
    /// `complete`: seeders.
    pub complete: u32,
    /// `incomplete`: leechers.
    pub incomplete: u32,
    /// `downloaded`: completed downloads seen by this tracker.
    pub downloaded: u64,
}

/// Appends the bencoded scrape response for `files` to `out`.
///
/// Bencode requires dictionary keys in sorted byte order, each once: entries are written sorted
/// by `info_hash`, and of several entries with the same hash only the first is written. Input
/// already sorted and duplicate-free (what [`parse_scrape`] yields, looked up in order) is written
/// directly; otherwise the entries are ordered through one temporary index.
pub fn encode_scrape(files: &[ScrapeEntry], out: &mut Vec<u8>) {
    out.extend_from_slice(b"d5:filesd");
    if files.windows(2).all(|w| w[0].info_hash < w[1].info_hash) {
        files.iter().for_each(|f| write_entry(f, out));
    } else {
        let mut order: Vec<&ScrapeEntry> = files.iter().collect();
        // Stable, so the first of equal hashes stays first for `dedup_by_key`.
        order.sort_by_key(|f| f.info_hash);
        order.dedup_by_key(|f| f.info_hash);
        order.into_iter().for_each(|f| write_entry(f, out));
    }
    out.extend_from_slice(b"ee");
}

fn write_entry(f: &ScrapeEntry, out: &mut Vec<u8>) {
    write_bytes(out, &f.info_hash);
    out.extend_from_slice(b"d8:complete");
    write_int(out, f.complete.into());
    out.extend_from_slice(b"10:downloaded");
    write_int(out, f.downloaded);
    out.extend_from_slice(b"10:incomplete");
    write_int(out, f.incomplete.into());
    out.push(b'e');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_sorted_and_deduplicated() {
        let q = b"info_hash=bbbbbbbbbbbbbbbbbbbb&x=1&info_hash=aaaaaaaaaaaaaaaaaaaa&info_hash=bbbbbbbbbbbbbbbbbbbb";
        assert_eq!(
            parse_scrape(q, 3).unwrap(),
            vec![*b"aaaaaaaaaaaaaaaaaaaa", *b"bbbbbbbbbbbbbbbbbbbb"]
        );
        assert_eq!(parse_scrape(b"", 3).unwrap(), Vec::<InfoHash>::new());
        assert_eq!(
            parse_scrape(q, 2).unwrap_err().to_string(),
            "too many info_hash values: 3 (limit 2)"
        );
    }

    #[test]
    fn limit_grows_with_max_hashes() {
        assert_eq!(scrape_query_limit(64), MAX_QUERY_BYTES);
        assert_eq!(scrape_query_limit(1000), 71_000);
        assert_eq!(scrape_query_limit(usize::MAX), usize::MAX);
    }

    #[test]
    fn encoding_orders_entries() {
        let e = |b: u8, n: u32| ScrapeEntry {
            info_hash: [b; 20],
            complete: n,
            incomplete: 0,
            downloaded: 0,
        };
        let mut out = Vec::new();
        encode_scrape(&[e(b'b', 1), e(b'a', 2), e(b'b', 3)], &mut out);
        let mut expected = b"d5:filesd20:aaaaaaaaaaaaaaaaaaaa".to_vec();
        expected.extend_from_slice(b"d8:completei2e10:downloadedi0e10:incompletei0ee");
        expected.extend_from_slice(b"20:bbbbbbbbbbbbbbbbbbbb");
        expected.extend_from_slice(b"d8:completei1e10:downloadedi0e10:incompletei0eeee");
        assert_eq!(out, expected);
        out.clear();
        encode_scrape(&[], &mut out);
        assert_eq!(out, b"d5:filesdee");
    }
}
