//! The client side of BEP 15, for the query tools: the requests a client sends (connect,
//! announce, scrape) and the replies it reads (connect, announce, scrape, error). The packet
//! layouts are in [`super::udp`], which holds the tracker's side.
//!
//! [`parse_reply`] never panics and never reads past the packet. It does not check the
//! transaction id: the caller knows which one it sent ([`Reply::transaction_id`]).

use super::answer::{compact_peers, Peer};
use super::udp::{
    Family, ACTION_ANNOUNCE, ACTION_CONNECT, ACTION_ERROR, ACTION_SCRAPE, PROTOCOL_ID,
};
use super::InfoHash;

/// BEP 15 `event` numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpEvent {
    /// 0.
    None = 0,
    /// 1.
    Completed = 1,
    /// 2.
    Started = 2,
    /// 3.
    Stopped = 3,
}

/// The fields of an announce request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// From the connect reply.
    pub connection_id: u64,
    /// Echoed by the tracker.
    pub transaction_id: u32,
    /// Swarm.
    pub info_hash: InfoHash,
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// Bytes downloaded.
    pub downloaded: u64,
    /// Bytes left.
    pub left: u64,
    /// Bytes uploaded.
    pub uploaded: u64,
    /// Event.
    pub event: UdpEvent,
    /// Key.
    pub key: u32,
    /// Peers wanted; -1 is the tracker's default.
    pub num_want: i32,
    /// Our port.
    pub port: u16,
}

/// Appends a connect request.
pub fn encode_connect(transaction_id: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
    out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
}

/// Appends an announce request (98 bytes, no BEP 41 options; `ip` 0: the sender's address).
pub fn encode_announce(r: &AnnounceRequest, out: &mut Vec<u8>) {
    out.extend_from_slice(&r.connection_id.to_be_bytes());
    out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&r.transaction_id.to_be_bytes());
    out.extend_from_slice(&r.info_hash);
    out.extend_from_slice(&r.peer_id);
    out.extend_from_slice(&r.downloaded.to_be_bytes());
    out.extend_from_slice(&r.left.to_be_bytes());
    out.extend_from_slice(&r.uploaded.to_be_bytes());
    out.extend_from_slice(&(r.event as u32).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&r.key.to_be_bytes());
    out.extend_from_slice(&r.num_want.to_be_bytes());
    out.extend_from_slice(&r.port.to_be_bytes());
}

/// Appends a scrape request for `hashes` (BEP 15 allows about 74 per packet).
pub fn encode_scrape(
    connection_id: u64,
    transaction_id: u32,
    hashes: &[InfoHash],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(&connection_id.to_be_bytes());
    out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    for h in hashes {
        out.extend_from_slice(h);
    }
}

/// Counters of one torrent in a scrape reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScrapeCounts {
    /// Seeders.
    pub seeders: u32,
    /// Completed downloads.
    pub completed: u32,
    /// Leechers.
    pub leechers: u32,
}

/// A reply from the tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// To a connect.
    Connect {
        /// Echoed.
        transaction_id: u32,
        /// To use in the next requests (for a minute).
        connection_id: u64,
    },
    /// To an announce.
    Announce {
        /// Echoed.
        transaction_id: u32,
        /// Seconds until the next announce.
        interval: u32,
        /// Leechers.
        leechers: u32,
        /// Seeders.
        seeders: u32,
        /// Peers of the socket's family.
        peers: Vec<Peer>,
    },
    /// To a scrape: one entry per hash asked, in request order.
    Scrape {
        /// Echoed.
        transaction_id: u32,
        /// Counters.
        entries: Vec<ScrapeCounts>,
    },
    /// The tracker's error message.
    Error {
        /// Echoed.
        transaction_id: u32,
        /// Message text (lossy UTF-8).
        message: String,
    },
}

impl Reply {
    /// The transaction id the reply echoes.
    pub fn transaction_id(&self) -> u32 {
        match self {
            Reply::Connect { transaction_id, .. }
            | Reply::Announce { transaction_id, .. }
            | Reply::Scrape { transaction_id, .. }
            | Reply::Error { transaction_id, .. } => *transaction_id,
        }
    }
}

/// A packet that is no reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// Shorter than its action needs.
    #[error("reply too short: {len} bytes (at least {need} for action {action})")]
    TooShort {
        /// Bytes received.
        len: usize,
        /// Bytes needed.
        need: usize,
        /// Action field, or 0 when not even that was there.
        action: u32,
    },
    /// An action number BEP 15 does not define.
    #[error("unknown action {0} in the reply")]
    UnknownAction(u32),
    /// Peers or scrape entries that do not divide evenly.
    #[error("reply length {len} does not fit {what}")]
    Ragged {
        /// Packet length.
        len: usize,
        /// What the tail should hold.
        what: &'static str,
    },
}

fn u32_at(p: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
}

/// Parses a reply; announce peers are read in `family`'s size (the socket's address family).
pub fn parse_reply(p: &[u8], family: Family) -> Result<Reply, ReplyError> {
    let short = |need: usize, action: u32| ReplyError::TooShort {
        len: p.len(),
        need,
        action,
    };
    if p.len() < 8 {
        return Err(short(8, 0));
    }
    let action = u32_at(p, 0);
    let transaction_id = u32_at(p, 4);
    match action {
        ACTION_CONNECT => {
            if p.len() < 16 {
                return Err(short(16, action));
            }
            let mut id = [0u8; 8];
            id.copy_from_slice(&p[8..16]);
            Ok(Reply::Connect {
                transaction_id,
                connection_id: u64::from_be_bytes(id),
            })
        }
        ACTION_ANNOUNCE => {
            if p.len() < 20 {
                return Err(short(20, action));
            }
            let (ip_len, what) = match family {
                Family::V4 => (4, "6-byte IPv4 peers"),
                Family::V6 => (16, "18-byte IPv6 peers"),
            };
            let peers = compact_peers(&p[20..], "peers", ip_len)
                .map_err(|_| ReplyError::Ragged { len: p.len(), what })?;
            Ok(Reply::Announce {
                transaction_id,
                interval: u32_at(p, 8),
                leechers: u32_at(p, 12),
                seeders: u32_at(p, 16),
                peers,
            })
        }
        ACTION_SCRAPE => {
            if (p.len() - 8) % 12 != 0 {
                return Err(ReplyError::Ragged {
                    len: p.len(),
                    what: "12-byte scrape entries",
                });
            }
            let entries = p[8..]
                .chunks_exact(12)
                .map(|c| ScrapeCounts {
                    seeders: u32_at(c, 0),
                    completed: u32_at(c, 4),
                    leechers: u32_at(c, 8),
                })
                .collect();
            Ok(Reply::Scrape {
                transaction_id,
                entries,
            })
        }
        ACTION_ERROR => Ok(Reply::Error {
            transaction_id,
            message: String::from_utf8_lossy(&p[8..]).into_owned(),
        }),
        other => Err(ReplyError::UnknownAction(other)),
    }
}

#[cfg(test)]
mod tests;
