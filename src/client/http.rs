//! One GET to an HTTP or HTTPS tracker (hyper's HTTP/1.1 client over a tokio socket, rustls for
//! HTTPS): up to [`MAX_REDIRECTS`] redirects followed, a gzip body (`Accept-Encoding: gzip`)
//! inflated, bodies cut at [`MAX_BODY`] bytes before and after inflating. [`post`] sends one
//! body the same way (for `add-torrent --url`), without following redirects: a redirected POST
//! would carry the credentials to wherever the `Location` points.

use super::profiles::KeyFormat;
use super::tls::TlsSettings;
use super::url::{escape, Scheme, TrackerUrl};
use super::{resolve_guarded, AnnounceParams, ClientError, Event, Options};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::io::Read;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

/// Redirects followed at most (301, 302, 303, 307, 308).
pub const MAX_REDIRECTS: usize = 3;
/// Largest answer accepted, in bytes (a full scrape of a million torrents is about 80 MB, far
/// more than a LAN tracker holds).
pub const MAX_BODY: usize = 64 << 20;

/// The announce query string (BEP 3), with `compact=1` as every client sends (`compact=0` when
/// the peer ids are asked for).
pub fn announce_query(p: &AnnounceParams) -> String {
    let key = match p.key_format {
        KeyFormat::Hex => format!("{:08X}", p.key),
        KeyFormat::PeerIdTail => escape(&p.peer_id[12..]),
    };
    let mut q = format!(
        "info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact={}&key={key}",
        escape(&p.info_hash),
        escape(&p.peer_id),
        p.port,
        p.uploaded,
        p.downloaded,
        p.left,
        u8::from(p.compact),
    );
    let event = match p.event {
        Event::None => None,
        Event::Started => Some("started"),
        Event::Completed => Some("completed"),
        Event::Stopped => Some("stopped"),
    };
    if let Some(e) = event {
        q.push_str("&event=");
        q.push_str(e);
    }
    if let Some(n) = p.numwant {
        q.push_str(&format!("&numwant={n}"));
    }
    q
}

/// GETs `target` (path and query) from `url`'s host; gives the body of a 200 answer, or of any
/// answer that is bencode (trackers may refuse with a `failure reason` and another status),
/// and the address that sent it.
pub async fn get(
    options: &Options,
    tls: &TlsSettings,
    url: &TrackerUrl,
    target: &str,
) -> Result<(Vec<u8>, SocketAddr), ClientError> {
    let mut url = url.clone();
    let mut target = target.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let (status, location, body, from) =
            fetch(options, tls, &url, get_request(&target)?).await?;
        if status.is_redirection() {
            let Some(location) = location else {
                return Err(ClientError::Redirect(format!(
                    "HTTP {status} without a Location"
                )));
            };
            (url, target) = follow(&url, &location)?;
            continue;
        }
        if status == http::StatusCode::OK || crate::protocol::bdecode::decode(&body).is_ok() {
            return Ok((body, from));
        }
        return Err(ClientError::Status(status.to_string()));
    }
    Err(ClientError::Redirect(format!(
        "more than {MAX_REDIRECTS} redirects"
    )))
}

/// Where a `Location` leads: an absolute http(s) URL, or a path on the same host.
fn follow(from: &TrackerUrl, location: &str) -> Result<(TrackerUrl, String), ClientError> {
    if location.starts_with('/') && !location.starts_with("//") {
        return Ok((from.clone(), location.to_owned()));
    }
    let to = TrackerUrl::parse(location)
        .map_err(|e| ClientError::Redirect(format!("redirect to {location:?}: {e}")))?;
    if to.scheme == Scheme::Udp {
        return Err(ClientError::Redirect(format!(
            "redirect to {location:?}: not HTTP"
        )));
    }
    let target = to.path_and_query.clone();
    Ok((to, target))
}

/// POSTs `body` to `target` on `url`'s host with the extra `headers`; gives the status and the
/// body of whatever answer comes back (a redirect is an error naming its `Location`).
pub async fn post(
    options: &Options,
    tls: &TlsSettings,
    url: &TrackerUrl,
    target: &str,
    headers: &[(http::header::HeaderName, String)],
    body: Bytes,
) -> Result<(http::StatusCode, Vec<u8>), ClientError> {
    let mut request = http::Request::post(target);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(Full::new(body))
        .map_err(|e| ClientError::Network(format!("cannot build the request: {e}")))?;
    let (status, location, answer, _) = fetch(options, tls, url, request).await?;
    if status.is_redirection() {
        return Err(ClientError::Redirect(format!(
            "HTTP {status}: redirected to {}; use that URL",
            location.as_deref().unwrap_or("(no Location)")
        )));
    }
    Ok((status, answer))
}

/// A GET of `target` with no body.
fn get_request(target: &str) -> Result<http::Request<Full<Bytes>>, ClientError> {
    http::Request::get(target)
        .header(http::header::ACCEPT_ENCODING, "gzip")
        .body(Full::new(Bytes::new()))
        .map_err(|e| ClientError::Network(format!("cannot build the request: {e}")))
}

/// Status, `Location`, body, and the address that answered.
type Head = (http::StatusCode, Option<String>, Vec<u8>, SocketAddr);

/// One request on a new connection.
async fn fetch(
    options: &Options,
    tls: &TlsSettings,
    url: &TrackerUrl,
    request: http::Request<Full<Bytes>>,
) -> Result<Head, ClientError> {
    let addrs = resolve_guarded(&url.host, url.port, options).await?;
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let Some(tcp) = stream else {
        let (addr, e) = last.expect("resolve gives at least one address");
        return Err(ClientError::Connect {
            addr,
            why: e.to_string(),
        });
    };
    let _ = tcp.set_nodelay(true);
    let from = tcp
        .peer_addr()
        .map_err(|e| ClientError::Network(e.to_string()))?;
    let user_agent = options.user_agent.unwrap_or(DEFAULT_USER_AGENT);
    let (status, location, body) = match url.scheme {
        Scheme::Https => {
            let name = ServerName::try_from(url.host.clone())
                .map_err(|e| ClientError::Tls(format!("{}: {e}", url.host)))?;
            let stream = tls.connector().connect(name, tcp).await.map_err(|e| {
                match e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<tokio_rustls::rustls::Error>())
                {
                    // What a plain HTTP port answers to a ClientHello.
                    Some(tls @ tokio_rustls::rustls::Error::InvalidMessage(_)) => ClientError::Tls(
                        format!("{tls} (does the port serve plain http:// instead?)"),
                    ),
                    Some(tls) => ClientError::Tls(tls.to_string()),
                    None => ClientError::Tls(e.to_string()),
                }
            })?;
            exchange(stream, url, user_agent, options.max_body, request).await?
        }
        _ => exchange(tcp, url, user_agent, options.max_body, request).await?,
    };
    Ok((status, location, body, from))
}

/// The `User-Agent` without `--client`.
const DEFAULT_USER_AGENT: &str = concat!("retracker/", env!("CARGO_PKG_VERSION"));

async fn exchange<S>(
    io: S,
    url: &TrackerUrl,
    user_agent: &'static str,
    max_body: usize,
    mut request: http::Request<Full<Bytes>>,
) -> Result<(http::StatusCode, Option<String>, Vec<u8>), ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let net = |e: hyper::Error| ClientError::Network(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(net)?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let host = http::HeaderValue::try_from(host_header(url))
        .map_err(|e| ClientError::Network(format!("cannot build the request: {e}")))?;
    let headers = request.headers_mut();
    headers.insert(http::header::HOST, host);
    headers.insert(
        http::header::USER_AGENT,
        http::HeaderValue::from_static(user_agent),
    );
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    let response = sender.send_request(request).await.map_err(net)?;
    let status = response.status();
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let gzip = response
        .headers()
        .get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(net)?.into_data() {
            if bytes.len() + data.len() > max_body {
                return Err(ClientError::TooLarge(max_body));
            }
            bytes.extend_from_slice(&data);
        }
    }
    driver.abort();
    if gzip {
        bytes = inflate(&bytes, max_body)?;
    }
    Ok((status, location, bytes))
}

/// The `Host` header: the port only when it is not the scheme's default.
fn host_header(url: &TrackerUrl) -> String {
    let default = match url.scheme {
        Scheme::Https => 443,
        _ => 80,
    };
    if url.port == default {
        if url.host.contains(':') {
            format!("[{}]", url.host)
        } else {
            url.host.clone()
        }
    } else {
        url.authority()
    }
}

fn inflate(gz: &[u8], max_body: usize) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .take(max_body as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ClientError::Malformed(format!("bad gzip body: {e}")))?;
    if out.len() > max_body {
        return Err(ClientError::TooLarge(max_body));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announce_query_is_what_the_tracker_parses() {
        let p = AnnounceParams {
            info_hash: *b"\x00\x01-abc~\xff............",
            peer_id: AnnounceParams::random_peer_id(),
            key: 0xdead_beef,
            key_format: KeyFormat::Hex,
            port: 6881,
            uploaded: 1,
            downloaded: 2,
            left: 3,
            event: Event::Stopped,
            numwant: Some(0),
            compact: true,
        };
        let r = crate::protocol::announce::parse_announce(announce_query(&p).as_bytes()).unwrap();
        assert_eq!(
            (r.info_hash, r.peer_id, r.port),
            (p.info_hash, p.peer_id, 6881)
        );
        assert_eq!((r.uploaded, r.downloaded, r.left), (1, 2, 3));
        assert_eq!(r.event, crate::protocol::announce::Event::Stopped);
        assert_eq!(r.numwant, Some(0));
        assert_eq!(
            r.key,
            Some(crate::protocol::announce::key_hash(b"DEADBEEF"))
        );
    }

    #[test]
    fn aria2_keys_are_the_peer_id_tail_and_every_user_agent_is_a_header() {
        let aria2 = super::super::profiles::by_name("aria2").unwrap();
        let p = AnnounceParams {
            info_hash: [7; 20],
            peer_id: aria2.peer_id(),
            key: 1,
            key_format: KeyFormat::PeerIdTail,
            port: 6881,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: Event::Started,
            numwant: Some(50),
            compact: true,
        };
        let r = crate::protocol::announce::parse_announce(announce_query(&p).as_bytes()).unwrap();
        assert_eq!(r.peer_id, p.peer_id);
        assert_eq!(
            r.key,
            Some(crate::protocol::announce::key_hash(&p.peer_id[12..]))
        );
        // from_static in `exchange` would panic on a bad one.
        for p in &super::super::profiles::PROFILES {
            assert!(
                http::HeaderValue::from_str(p.user_agent).is_ok(),
                "{}",
                p.name
            );
        }
    }

    #[test]
    fn redirects_stay_on_http() {
        let from = TrackerUrl::parse("http://t:81/announce?a=1").unwrap();
        let (u, t) = follow(&from, "/x/announce?b=2").unwrap();
        assert_eq!((u.port, t.as_str()), (81, "/x/announce?b=2"));
        let (u, t) = follow(&from, "https://u/announce?c").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, t.as_str()),
            ("u", 443, "/announce?c")
        );
        assert!(follow(&from, "udp://u:1/announce").is_err());
    }
}
