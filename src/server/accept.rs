//! Accept loops: one task per listener, one task per connection (hyper HTTP/1.1, after a TLS
//! handshake on HTTPS listeners).
//!
//! This is the one router. On a listener that serves the tracker, a request whose path is a
//! tracker route (`.../announce`, `.../scrape`) is answered by [`crate::http::serve`] directly
//! from the parts hyper parsed. Every other request (web UI, `/metrics`, unknown paths) goes to
//! the listener's warp filter (see `listen.rs`): a warp filter chain clones the header map,
//! allocates the query and tries every UI route, which cost a quarter of the tracker's
//! throughput when tracker requests went through it too. Both kinds of answers pass through the
//! one gzip rule ([`gzip::compress`]).
//!
//! Every connection holds a place in the [`Conns`] table from accept to close: an accepted
//! connection waits for room in the table before it is served, and closes when the table asks it
//! to (the cap or shutdown), after the request it is answering.

use super::conns::{Conns, Held};
use super::{HEADER_READ_TIMEOUT, TLS_HANDSHAKE_TIMEOUT};
use crate::http::{gzip, Answer};
use crate::tracker::Tracker;
use crate::web::{ConnAddr, Tls};
use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// What one kind of listener serves.
#[derive(Clone)]
pub(super) struct Serving {
    /// Tracker routes answered before the filter; `None` on web-only and metrics-only listeners.
    pub tracker: Option<Arc<Tracker>>,
    /// TLS for HTTPS listeners.
    pub tls: Option<TlsAcceptor>,
}

/// Starts an accept loop on each of `listeners`, serving `what` and then `filter`.
pub(super) fn serve_all<F>(
    listeners: Vec<TcpListener>,
    filter: &F,
    what: &Serving,
    conns: &Arc<Conns>,
    stop: &watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) where
    F: warp::Filter<Extract = (http::Response<Vec<u8>>,), Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
{
    // Every response of every listener goes through the one gzip wrapper.
    let filter = gzip::wrap(filter.clone());
    for l in listeners {
        let task = accept_loop(
            l,
            filter.clone(),
            what.clone(),
            Arc::clone(conns),
            stop.clone(),
        );
        tasks.push(tokio::spawn(task));
    }
}

/// Where a request goes: a tracker route (answered, or answered when its blocking work is
/// done), or the warp filter.
enum Route<F> {
    Tracker(http::Response<Vec<u8>>),
    TrackerLater(
        std::pin::Pin<Box<dyn std::future::Future<Output = http::Response<Vec<u8>>> + Send>>,
    ),
    Filter(F),
}

async fn accept_loop<F>(
    listener: TcpListener,
    filter: F,
    what: Serving,
    conns: Arc<Conns>,
    mut stop: watch::Receiver<bool>,
) where
    F: warp::Filter<Extract = (http::Response<Vec<u8>>,), Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
{
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    static THROTTLE: crate::logging::Throttle = crate::logging::Throttle::new(60);
                    if THROTTLE.ready() {
                        tracing::warn!("accepting connections fails: {e} (logged at most once a minute)");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        tokio::select! {
            () = conns.room() => {}
            _ = stop.changed() => return,
        }
        let held = conns.hold();
        let _ = stream.set_nodelay(true);
        let service = warp::service(filter.clone());
        let (slot, table) = (Arc::clone(&held.slot), Arc::clone(&conns));
        let https = what.tls.is_some();
        let tracker = what.tracker.clone();
        let svc = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            slot.touch(&table);
            let accepts_gzip = gzip::AcceptsGzip::from_headers(req.headers());
            let answered = tracker.as_ref().and_then(|t| {
                crate::http::serve(
                    t,
                    req.method(),
                    req.uri().path(),
                    req.uri().query().unwrap_or("").as_bytes(),
                    remote.ip(),
                    req.headers(),
                )
            });
            let route = match answered {
                Some(Answer::Ready(resp)) => Route::Tracker(gzip::compress(accepts_gzip.0, resp)),
                Some(Answer::Pending(later)) => Route::TrackerLater(later),
                None => {
                    let extensions = req.extensions_mut();
                    extensions.insert(ConnAddr(remote));
                    extensions.insert(accepts_gzip);
                    if https {
                        extensions.insert(Tls);
                    }
                    Route::Filter(service.clone().call(req))
                }
            };
            async move {
                match route {
                    Route::Tracker(resp) => {
                        Ok::<_, Infallible>(resp.map(|b| Either::Left(Full::new(Bytes::from(b)))))
                    }
                    Route::TrackerLater(later) => {
                        let resp = gzip::compress(accepts_gzip.0, later.await);
                        Ok(resp.map(|b| Either::Left(Full::new(Bytes::from(b)))))
                    }
                    Route::Filter(future) => Ok(future.await?.map(Either::Right)),
                }
            }
        });
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        let Some(acceptor) = what.tls.clone() else {
            let conn = http.serve_connection(TokioIo::new(stream), svc);
            tokio::spawn(drive(conn, held, remote));
            continue;
        };
        // The handshake runs in the connection's own task, so a slow client holds up nobody
        // else; it has TLS_HANDSHAKE_TIMEOUT, and the table can close it meanwhile.
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
            let stream = tokio::select! {
                done = handshake => match done {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!("TLS handshake with {remote} failed: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake with {remote}: no handshake within {TLS_HANDSHAKE_TIMEOUT:?}");
                        return;
                    }
                },
                () = held.slot.closed() => return,
            };
            let conn = http.serve_connection(TokioIo::new(stream), svc);
            drive(conn, held, remote).await;
        });
    }
}

/// Serves one connection until it ends, or until the table asks it to close: then it finishes
/// the request in flight and closes (at once when idle). Its place in the table goes with it.
async fn drive<T, S, B>(conn: http1::Connection<TokioIo<T>, S>, held: Held, remote: SocketAddr)
where
    T: AsyncRead + AsyncWrite + Unpin,
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = held.slot.closed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection from {remote}: {e}");
    }
}
