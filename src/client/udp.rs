//! BEP 15 exchanges: connect, then announce or scrape, each reply checked against the
//! transaction id sent. A connection id is reused for [`CONNECTION_ID_LIFE`] (BEP 15: "a
//! client can use a connection ID until one minute after it has received it"); one the tracker
//! calls expired is dropped and a new one asked for, once.
//!
//! Each attempt uses a new socket, so a late reply to an earlier attempt is never mistaken
//! for an answer. A reply with another transaction id, or one that is not the answer to the
//! request (a connect reply to an announce ...), is a malformed answer.

use super::url::TrackerUrl;
use super::{resolve_guarded, AnnounceParams, ClientError, Event, Options};
use crate::protocol::answer::{AnnounceAnswer, Answer, Failure, ScrapeAnswer, ScrapeFile};
use crate::protocol::udp::{Family, MAX_SCRAPE_HASHES};
use crate::protocol::udp_client::{self, parse_reply, Reply, UdpEvent};
use crate::protocol::InfoHash;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// How long a connection id is used.
pub const CONNECTION_ID_LIFE: Duration = Duration::from_secs(60);

/// Connection ids by tracker address, with when they were received.
#[derive(Default)]
pub struct Connections(Mutex<HashMap<SocketAddr, (u64, Instant)>>);

impl Connections {
    fn get(&self, addr: SocketAddr) -> Option<u64> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&addr)
            .filter(|(_, at)| at.elapsed() < CONNECTION_ID_LIFE)
            .map(|(id, _)| *id)
    }

    fn put(&self, addr: SocketAddr, id: u64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(addr, (id, Instant::now()));
    }

    fn forget(&self, addr: SocketAddr) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&addr);
    }
}

/// A socket connected to the tracker's first address.
struct Exchange<'a> {
    socket: UdpSocket,
    addr: SocketAddr,
    family: Family,
    connections: &'a Connections,
}

impl<'a> Exchange<'a> {
    async fn open(
        options: &Options,
        connections: &'a Connections,
        url: &TrackerUrl,
    ) -> Result<Exchange<'a>, ClientError> {
        let addr = resolve_guarded(&url.host, url.port, options).await?[0];
        let local: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse().expect("an address")
        } else {
            "[::]:0".parse().expect("an address")
        };
        let connect_err = |e: std::io::Error| ClientError::Connect {
            addr,
            why: e.to_string(),
        };
        let socket = UdpSocket::bind(local).await.map_err(connect_err)?;
        socket.connect(addr).await.map_err(connect_err)?;
        Ok(Exchange {
            socket,
            addr,
            family: Family::of(addr.ip()),
            connections,
        })
    }

    /// Sends `packet`, reads the reply, checks its transaction id.
    async fn round_trip(&self, packet: &[u8], transaction_id: u32) -> Result<Reply, ClientError> {
        // A refused port shows as ECONNREFUSED on a connected socket (ICMP port unreachable).
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => ClientError::Connect {
                addr: self.addr,
                why: e.to_string(),
            },
            _ => ClientError::Network(e.to_string()),
        };
        self.socket.send(packet).await.map_err(io)?;
        let mut buf = vec![0u8; 65536];
        let n = self.socket.recv(&mut buf).await.map_err(io)?;
        let reply = parse_reply(&buf[..n], self.family)
            .map_err(|e| ClientError::Malformed(e.to_string()))?;
        if reply.transaction_id() != transaction_id {
            return Err(ClientError::Malformed(format!(
                "transaction id {:#010x} in the reply, {transaction_id:#010x} sent",
                reply.transaction_id()
            )));
        }
        Ok(reply)
    }

    /// A connection id: the one received within the last minute, or a new one. `Err(Ok(_))`
    /// is the tracker's error reply.
    async fn connection_id(&self) -> Result<Result<u64, Failure>, ClientError> {
        if let Some(id) = self.connections.get(self.addr) {
            return Ok(Ok(id));
        }
        let tid: u32 = rand::random();
        let mut packet = Vec::with_capacity(16);
        udp_client::encode_connect(tid, &mut packet);
        match self.round_trip(&packet, tid).await? {
            Reply::Connect { connection_id, .. } => {
                self.connections.put(self.addr, connection_id);
                Ok(Ok(connection_id))
            }
            Reply::Error { message, .. } => Ok(Err(failure(message))),
            other => Err(unexpected("connect", &other)),
        }
    }

    /// Runs `request` (given a connection id and a transaction id, writes the packet) and
    /// gives the reply; asks for a new connection id once if the tracker says it expired.
    async fn request<F>(&self, write: F) -> Result<Result<Reply, Failure>, ClientError>
    where
        F: Fn(u64, u32, &mut Vec<u8>),
    {
        let mut fresh_tried = false;
        loop {
            let had_cached = self.connections.get(self.addr).is_some();
            let id = match self.connection_id().await? {
                Ok(id) => id,
                Err(f) => return Ok(Err(f)),
            };
            let tid: u32 = rand::random();
            let mut packet = Vec::with_capacity(128);
            write(id, tid, &mut packet);
            match self.round_trip(&packet, tid).await? {
                Reply::Error { message, .. }
                    if had_cached && !fresh_tried && stale_id(&message) =>
                {
                    self.connections.forget(self.addr);
                    fresh_tried = true;
                }
                Reply::Error { message, .. } => return Ok(Err(failure(message))),
                reply => return Ok(Ok(reply)),
            }
        }
    }
}

/// An error reply about the connection id (retracker's [`crate::udp::BAD_CONNECTION_ID`],
/// opentracker's "Connection ID missmatch." ...).
fn stale_id(message: &str) -> bool {
    message.to_ascii_lowercase().contains("connection id")
}

fn failure(message: String) -> Failure {
    Failure {
        reason: message,
        retry_in: None,
    }
}

fn unexpected(asked: &str, reply: &Reply) -> ClientError {
    let got = match reply {
        Reply::Connect { .. } => "connect",
        Reply::Announce { .. } => "announce",
        Reply::Scrape { .. } => "scrape",
        Reply::Error { .. } => "error",
    };
    ClientError::Malformed(format!("a {got} reply to a {asked} request"))
}

/// One announce over UDP; the answer and the address it came from.
pub async fn announce(
    options: &Options,
    connections: &Connections,
    url: &TrackerUrl,
    p: &AnnounceParams,
) -> Result<(Answer<AnnounceAnswer>, SocketAddr), ClientError> {
    let x = Exchange::open(options, connections, url).await?;
    let event = match p.event {
        Event::None => UdpEvent::None,
        Event::Started => UdpEvent::Started,
        Event::Completed => UdpEvent::Completed,
        Event::Stopped => UdpEvent::Stopped,
    };
    let reply = x
        .request(|connection_id, transaction_id, out| {
            udp_client::encode_announce(
                &udp_client::AnnounceRequest {
                    connection_id,
                    transaction_id,
                    info_hash: p.info_hash,
                    peer_id: p.peer_id,
                    downloaded: p.downloaded,
                    left: p.left,
                    uploaded: p.uploaded,
                    event,
                    key: p.key,
                    num_want: p
                        .numwant
                        .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX)),
                    port: p.port,
                },
                out,
            )
        })
        .await?;
    let answer = match reply {
        Err(f) => Answer::Failure(f),
        Ok(Reply::Announce {
            interval,
            leechers,
            seeders,
            peers,
            ..
        }) => Answer::Success(AnnounceAnswer {
            interval: interval.into(),
            complete: Some(seeders.into()),
            incomplete: Some(leechers.into()),
            peers,
            ..AnnounceAnswer::default()
        }),
        Ok(other) => return Err(unexpected("announce", &other)),
    };
    Ok((answer, x.addr))
}

/// One scrape over UDP: a request per [`MAX_SCRAPE_HASHES`] hashes; the answer and the address
/// it came from.
pub async fn scrape(
    options: &Options,
    connections: &Connections,
    url: &TrackerUrl,
    hashes: &[InfoHash],
) -> Result<(Answer<ScrapeAnswer>, SocketAddr), ClientError> {
    let x = Exchange::open(options, connections, url).await?;
    let mut files = Vec::with_capacity(hashes.len());
    for chunk in hashes.chunks(MAX_SCRAPE_HASHES) {
        let reply = x
            .request(|connection_id, transaction_id, out| {
                udp_client::encode_scrape(connection_id, transaction_id, chunk, out)
            })
            .await?;
        let entries = match reply {
            Err(f) => return Ok((Answer::Failure(f), x.addr)),
            Ok(Reply::Scrape { entries, .. }) => entries,
            Ok(other) => return Err(unexpected("scrape", &other)),
        };
        if entries.len() != chunk.len() {
            return Err(ClientError::Malformed(format!(
                "{} scrape entries for {} info hashes",
                entries.len(),
                chunk.len()
            )));
        }
        files.extend(chunk.iter().zip(entries).map(|(h, e)| ScrapeFile {
            info_hash: *h,
            complete: Some(e.seeders.into()),
            incomplete: Some(e.leechers.into()),
            downloaded: Some(e.completed.into()),
            name: None,
        }));
    }
    let answer = Answer::Success(ScrapeAnswer {
        files,
        min_request_interval: None,
    });
    Ok((answer, x.addr))
}
