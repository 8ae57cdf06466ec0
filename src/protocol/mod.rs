//! Pure tracker protocol: bytes in, bytes out. Nothing here does I/O or knows tokio, warp or rusqlite.
//!
//! - [`query`]: the raw query string, percent-decoded to byte strings (never through UTF-8);
//! - [`announce`]: BEP 3 announce requests; responses per BEP 3, BEP 23 (compact), BEP 7
//!   (`peers6`) and BEP 24 (`external ip`);
//! - [`scrape`]: BEP 48 scrape requests and responses;
//! - [`udp`]: BEP 15 UDP tracker packets (connect, announce with BEP 41 options, scrape, error),
//!   the announce mapped to the same [`announce::AnnounceRequest`];
//! - [`bencode`]: the small bencode writer the encoders share (checked against serde_bencode);
//! - [`bdecode`]: the bencode reader for tracker answers and `.torrent` files (the query tools),
//!   keeping each dictionary's raw bytes for info hashes;
//! - [`answer`]: the client side of announce and scrape: a tracker's HTTP answers read back
//!   (the query tools);
//! - [`udp_client`]: the client side of BEP 15: requests written, replies read (the query tools);
//! - [`metainfo`]: `.torrent` files (BEP 3, 12, 27, 47, 52): name, files, trackers, v1 and v2
//!   info hashes;
//! - [`error`]: [`ProtocolError`], whose `Display` is the `failure reason` sent to the client,
//!   and [`encode_failure`] (BEP 3, with BEP 31 `retry in`), which sends it.
//!
//! Parsers take the raw query string (without `?`) and reject anything longer than
//! [`query::MAX_QUERY_BYTES`] before looking at it; encoders append to a caller-owned `Vec<u8>`
//! so one buffer can serve every response of a connection. The encoders are checked byte for byte
//! against `serde_bencode`, and the parsers against requests captured from real clients
//! (`tests/protocol.rs`, `tests/protocol/`).

pub mod announce;
pub mod answer;
pub mod bdecode;
pub mod bencode;
pub mod error;
pub mod metainfo;
pub mod peer_id;
pub mod query;
pub mod scrape;
pub mod udp;
pub mod udp_client;

pub use error::{encode_failure, ProtocolError, RetryIn};

/// A v1 info hash, or a v2 hash truncated to 20 bytes, as clients announce it.
pub type InfoHash = [u8; 20];
/// A peer id as the client chose it.
pub type PeerId = [u8; 20];
