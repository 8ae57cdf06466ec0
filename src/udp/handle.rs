//! One BEP 15 packet in, its answer out: decode, check the connection id, resolve the client's
//! address (always the packet's source: no proxy stands in front of UDP), call the core
//! ([`crate::tracker`]), encode. Refusals become error packets with the text HTTP would send.

use super::{ConnectionIds, BAD_CONNECTION_ID};
use crate::policy;
use crate::protocol::scrape::ScrapeEntry;
use crate::protocol::udp::{
    encode_announce, encode_connect, encode_error, encode_scrape, parse_request, Announce,
    AnnounceResponse, Family, Request, Scrape, UdpError, ACTION_ANNOUNCE, ACTION_SCRAPE,
};
use crate::protocol::ProtocolError;
use crate::stats::{Event, Failure, RequestKind};
use crate::tracker::announce::{process, Answer};
use crate::tracker::{scrape, Refusal, Tracker};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Why a UDP announce or scrape is refused. `Display` is the error packet's message.
#[derive(Debug, thiserror::Error)]
enum Refused {
    /// Not an id this process issued to this address recently.
    #[error("{BAD_CONNECTION_ID}")]
    ConnectionId,
    /// Whatever HTTP would refuse, with the same text.
    #[error(transparent)]
    Tracker(#[from] Refusal),
}

impl Refused {
    fn failure(&self) -> Failure {
        match self {
            Refused::ConnectionId => Failure::BadConnectionId,
            Refused::Tracker(e) => e.failure(),
        }
    }
}

/// What every worker of one socket shares.
pub(super) struct Context {
    tracker: Arc<Tracker>,
    ids: &'static ConnectionIds,
    /// The socket's family: the peers handed out.
    family: Family,
}

impl Context {
    /// The context of a socket of `family`.
    pub(super) fn new(tracker: Arc<Tracker>, ids: &'static ConnectionIds, family: Family) -> Self {
        Context {
            tracker,
            ids,
            family,
        }
    }

    /// Writes the answer to one packet into `out`, or nothing when it gets none.
    pub(super) fn handle(
        &self,
        packet: &[u8],
        from: SocketAddr,
        out: &mut Vec<u8>,
        entries: &mut Vec<ScrapeEntry>,
    ) {
        let started = Instant::now();
        let (kind, transaction_id, result) = match parse_request(packet) {
            Ok(Request::Connect { transaction_id }) => {
                encode_connect(transaction_id, self.ids.issue(from), out);
                return;
            }
            Ok(Request::Announce(a)) => (
                RequestKind::Announce,
                a.transaction_id,
                self.announce(&a, from, out),
            ),
            Ok(Request::Scrape(s)) => (
                RequestKind::Scrape,
                s.transaction_id,
                self.scrape(&s, from, out, entries),
            ),
            Err(e) => return self.malformed(&e, started, out),
        };
        let failure = match result {
            Ok(()) => None,
            Err(refusal) => {
                out.clear();
                encode_error(transaction_id, &refusal.to_string(), out);
                Some(refusal.failure())
            }
        };
        self.tracker.stats.event(Event::Request {
            kind,
            failure,
            elapsed: started.elapsed(),
        });
    }

    fn announce(&self, a: &Announce, from: SocketAddr, out: &mut Vec<u8>) -> Result<(), Refused> {
        if !self.ids.valid(a.connection_id, from) {
            return Err(Refused::ConnectionId);
        }
        let req = &a.request;
        // Over UDP the client is always the source address, proxy mode or not.
        let settings = self.tracker.settings();
        let resolved = policy::resolve_direct(&settings.policy, from.ip(), req.ip.as_deref())
            .map_err(Refusal::from)?;
        // Warnings (reported ip not used, numwant capped) have no place in a BEP 15 answer.
        let Answer {
            outcome, interval, ..
        } = process(&self.tracker, &settings, req, &resolved, Some(self.family))?;
        encode_announce(
            &AnnounceResponse {
                transaction_id: a.transaction_id,
                interval,
                leechers: outcome.incomplete,
                seeders: outcome.complete,
                peers: &outcome.peers,
            },
            self.family,
            out,
        );
        Ok(())
    }

    fn scrape(
        &self,
        s: &Scrape,
        from: SocketAddr,
        out: &mut Vec<u8>,
        entries: &mut Vec<ScrapeEntry>,
    ) -> Result<(), Refused> {
        if !self.ids.valid(s.connection_id, from) {
            return Err(Refused::ConnectionId);
        }
        let settings = self.tracker.settings();
        let limit = settings.max_scrape_hashes;
        if s.info_hashes.len() > limit {
            let e = ProtocolError::TooManyInfoHashes {
                count: s.info_hashes.len(),
                limit,
            };
            return Err(Refusal::from(e).into());
        }
        // The same networks that may announce may scrape.
        policy::resolve_direct(&settings.policy, from.ip(), None).map_err(Refusal::from)?;
        // An empty list never gets here (the codec refuses it), so no full scrape over UDP.
        scrape::counts(&self.tracker, &s.info_hashes, entries);
        encode_scrape(s.transaction_id, entries, out);
        Ok(())
    }

    /// Answers a packet the codec refused, when it may be answered; counts announces and
    /// scrapes among them as malformed.
    fn malformed(&self, e: &UdpError, started: Instant, out: &mut Vec<u8>) {
        let kind = match e.action {
            Some(ACTION_ANNOUNCE) => Some(RequestKind::Announce),
            Some(ACTION_SCRAPE) => Some(RequestKind::Scrape),
            _ => None,
        };
        if let Some(kind) = kind {
            self.tracker.stats.event(Event::Request {
                kind,
                failure: Some(Failure::Malformed),
                elapsed: started.elapsed(),
            });
        }
        if let Some(transaction_id) = e.reply_to() {
            encode_error(transaction_id, &e.to_string(), out);
        }
    }
}
