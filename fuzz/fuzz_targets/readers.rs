//! The readers of what other parties send the query tools and the upload API: bencode
//! (`protocol::bdecode`), `.torrent` files (`protocol::metainfo`), HTTP tracker answers
//! (`protocol::answer`) and BEP 15 replies (`protocol::udp_client`).
//!
//! Never a panic. Accepted bencode spans the whole input, and every dictionary's raw bytes
//! decode on their own to a dictionary with the same raw bytes (info hashes are taken from
//! them). A parsed torrent has a v1 or a v2 hash, its size is the sum of its files, and it is
//! announced under one hash per version, the v2 one being the SHA-256 cut to 20 bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use retracker_fuzz::protocol::bdecode::{self, Value};
use retracker_fuzz::protocol::metainfo::Metainfo;
use retracker_fuzz::protocol::udp::Family;
use retracker_fuzz::protocol::{answer, udp_client};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = bdecode::decode(data) {
        check_raw(&value);
        if let Value::Dict(d) = &value {
            assert_eq!(d.raw(), data);
        }
    }
    if let Ok(m) = Metainfo::from_bytes(data) {
        assert!(m.info_hash_v1.is_some() || m.info_hash_v2.is_some());
        assert_eq!(m.total_size, m.files.iter().map(|f| f.length).sum::<u64>());
        let hashes = m.announce_hashes();
        let versions =
            usize::from(m.info_hash_v1.is_some()) + usize::from(m.info_hash_v2.is_some());
        assert_eq!(hashes.len(), versions);
        if let Some(v2) = m.info_hash_v2 {
            assert_eq!(hashes.last().unwrap()[..], v2[..20]);
        }
    }
    let _ = answer::decode_announce(data);
    let _ = answer::decode_scrape(data);
    let _ = udp_client::parse_reply(data, Family::V4);
    let _ = udp_client::parse_reply(data, Family::V6);
});

fn check_raw(value: &Value<'_>) {
    match value {
        Value::List(items) => items.iter().for_each(check_raw),
        Value::Dict(d) => {
            let again = bdecode::decode(d.raw()).expect("a dictionary's own bytes decode");
            assert_eq!(again.as_dict().map(|a| a.raw()), Some(d.raw()));
            d.entries().iter().for_each(|(_, v)| check_raw(v));
        }
        _ => {}
    }
}
