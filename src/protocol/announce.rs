//! BEP 3 announce: request parsing and response encoding (BEP 23 compact, BEP 7 `peers6`, BEP 24).
use super::{InfoHash, PeerId, ProtocolError};
use std::net::IpAddr;

/// `event=` of an announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// No event, or `event=` empty: a regular re-announce.
    None,
    /// `started`: first announce of a session.
    Started,
    /// `stopped`: the peer leaves the swarm.
    Stopped,
    /// `completed`: the download finished.
    Completed,
    /// `paused` (BEP 21 partial seed): treated as a regular announce.
    Paused,
}

/// A parsed announce request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// Swarm.
    pub info_hash: InfoHash,
    /// Peer.
    pub peer_id: PeerId,
    /// Port the peer listens on (1..=65535).
    pub port: u16,
    /// Bytes uploaded this session.
    pub uploaded: u64,
    /// Bytes downloaded this session.
    pub downloaded: u64,
    /// Bytes left; 0 means seeder.
    pub left: u64,
    /// Event.
    pub event: Event,
    /// Compact response (default true; only `compact=0` turns it off).
    pub compact: bool,
    /// Leave `peer id` out of the non-compact list.
    pub no_peer_id: bool,
    /// Peers wanted; `None` when absent.
    pub numwant: Option<u32>,
    /// 64-bit FNV-1a of the raw `key` bytes; `None` when absent.
    pub key: Option<u64>,
    /// `ip=` as the client sent it (lossy UTF-8); the policy decides whether to believe it.
    pub ip: Option<String>,
}

/// A peer in an announce response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponsePeer {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// Peer id (non-compact responses only).
    pub peer_id: PeerId,
}

/// A bencoded `failure reason` (stub).
pub fn encode_failure(_reason: &str, _out: &mut Vec<u8>) {}
/// Stub.
pub fn parse_announce(_q: &[u8]) -> Result<AnnounceRequest, ProtocolError> {
    todo!()
}
/// Stub.
pub struct AnnounceResponse<'a> {
    pub interval: u32,
    pub min_interval: u32,
    pub complete: u32,
    pub incomplete: u32,
    pub downloaded: u64,
    pub peers: &'a [ResponsePeer],
    pub external_ip: Option<IpAddr>,
    pub warning: Option<&'a str>,
    pub compact: bool,
    pub no_peer_id: bool,
}
/// Stub.
pub fn encode_announce(_r: &AnnounceResponse<'_>, _out: &mut Vec<u8>) {}
