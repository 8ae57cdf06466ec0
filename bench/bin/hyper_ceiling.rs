//! The ceiling of the HTTP stack for `bench/http.sh`: a minimal hyper 1.x HTTP/1.1 server that
//! answers every request, whatever its path or query, with the same valid bencoded announce
//! response of exactly 200 bytes (23 compact peers). No parsing, no state, no logging: what
//! retracker and aquatic_http reach is compared with what tokio + hyper alone reach here.
//!
//! Usage: `hyper_ceiling ADDR [WORKERS]`, e.g. `hyper_ceiling 127.0.0.1:3002`. WORKERS is the
//! number of tokio worker threads; the default is tokio's own (one per core), as in retracker.
//! Keep-alive is hyper's default and `Connection: close` is honoured by hyper (the connection
//! closes after the answer, which says `connection: close`).

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Length of the answer body, in bytes.
const BODY_LEN: usize = 200;

/// The announce answer: complete, incomplete, interval and 23 compact IPv4 peers, which
/// brings the body to exactly [`BODY_LEN`] bytes.
fn announce_body() -> Bytes {
    let mut peers = Vec::with_capacity(138);
    for i in 0..23u8 {
        peers.extend_from_slice(&[127, 0, 0, i + 1, 0x1a, 0xe1]);
    }
    let mut body = Vec::with_capacity(BODY_LEN);
    body.extend_from_slice(b"d8:completei1000e10:incompletei50e8:intervali1800e5:peers");
    body.extend_from_slice(format!("{}:", peers.len()).as_bytes());
    body.extend_from_slice(&peers);
    body.push(b'e');
    assert_eq!(
        body.len(),
        BODY_LEN,
        "the fixed body must be {BODY_LEN} bytes"
    );
    Bytes::from(body)
}

/// A body sent in one frame with an exact size hint (so hyper writes `content-length`).
struct Fixed(Option<Bytes>);

impl Body for Fixed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: hyper_ceiling ADDR [WORKERS]";
    let addr: SocketAddr = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{usage}"));
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = args.next() {
        let workers: usize = workers.parse().unwrap_or_else(|_| panic!("{usage}"));
        runtime.worker_threads(workers);
    }
    let runtime = runtime.enable_all().build().expect("tokio runtime");
    runtime.block_on(serve(addr));
}

async fn serve(addr: SocketAddr) {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    println!("hyper_ceiling listening on {addr}");
    let body = announce_body();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                let response = Response::builder()
                    .header("content-type", "text/plain")
                    .body(Fixed(Some(body.clone())))
                    .expect("static response");
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
