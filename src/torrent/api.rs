//! The client side of `POST /api/torrents` for `retracker add-torrent --url`: one HTTP/1.1
//! request per file over a plain TCP connection (`Connection: close`), HTTP basic auth, the
//! raw `.torrent` as an `application/x-bittorrent` body.
//!
//! Plain `http://` only: the web UI is a LAN service, and the command runs where `--url` is
//! trusted. For an HTTPS-only UI, use the direct mode on the tracker host, or an SSH tunnel.

use base64::Engine;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one read or write may wait.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest answer read.
const MAX_ANSWER: u64 = 1 << 20;

/// Where the API is: `host:port` and the path of `/api/torrents` under the URL's prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` to connect to (and send as `Host`).
    pub authority: String,
    /// Host name or address without brackets, for the connection.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Request target, e.g. `/api/torrents` or `/tracker/api/torrents`.
    pub target: String,
}

impl Endpoint {
    /// Parses `http://host[:port][/prefix]`; the message says what is wrong.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(if url.starts_with("https://") {
                format!("{url}: https:// is not supported by add-torrent; use http:// on the LAN, an SSH tunnel, or add-torrent without --url on the tracker host")
            } else {
                format!("{url}: not an http:// URL (e.g. http://tracker.lan:8080)")
            });
        };
        let (authority, prefix) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
        if prefix.contains(['?', '#']) {
            return Err(format!("{url}: the URL must not have a query or fragment"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url}: unclosed [ in the host"))?;
            match after {
                "" => (h, 80),
                p => (h, port_of(url, p.strip_prefix(':').unwrap_or("x"))?),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, port_of(url, p)?),
                None => (authority, 80),
            }
        };
        if host.is_empty() || host.contains(['@', ' ']) {
            return Err(format!("{url}: no usable host"));
        }
        Ok(Endpoint {
            authority: authority.to_owned(),
            host: host.to_owned(),
            port,
            target: format!("{}/api/torrents", prefix.trim_end_matches('/')),
        })
    }
}

fn port_of(url: &str, p: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("{url}: the port is not a number from 1 to 65535"))
}

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

/// Sends `torrent` and returns the answer; `Err` for network trouble or a reply that is not
/// HTTP.
pub fn post(ep: &Endpoint, user: &str, password: &str, torrent: &[u8]) -> Result<Answer, String> {
    let addrs = (ep.host.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", ep.host))?;
    let mut last = format!("{} has no address", ep.host);
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last)?;
    let io = |e: std::io::Error| format!("{}: {e}", ep.authority);
    stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(io)?;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {credentials}\r\nContent-Type: application/x-bittorrent\r\nContent-Length: {}\r\nAccept: application/json\r\nConnection: close\r\nUser-Agent: retracker/{}\r\n\r\n",
        ep.target,
        ep.authority,
        torrent.len(),
        env!("CARGO_PKG_VERSION"),
    );
    stream.write_all(head.as_bytes()).map_err(io)?;
    // The server may answer (401, 413) without reading the body; its answer counts then.
    let sent = stream.write_all(torrent);
    let mut raw = Vec::new();
    let read = (&mut stream).take(MAX_ANSWER).read_to_end(&mut raw);
    if raw.is_empty() {
        sent.map_err(io)?;
        read.map_err(io)?;
    }
    parse_answer(&raw).ok_or_else(|| format!("{}: the answer is not HTTP", ep.authority))
}

/// Status and body of a raw HTTP/1.1 answer (`Content-Length`, chunked, or up to the close).
fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()?
        .strip_prefix("HTTP/1.")?
        .get(2..5)?
        .parse()
        .ok()?;
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        let (k, v) = l.split_once(':')?;
        let v = v.trim();
        if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.eq_ignore_ascii_case("chunked");
        } else if k.eq_ignore_ascii_case("content-length") {
            length = v.parse::<usize>().ok();
        }
    }
    let body = &raw[end + 4..];
    let body = if chunked {
        dechunk(body)?
    } else if let Some(n) = length {
        body.get(..n)?.to_vec()
    } else {
        body.to_vec()
    };
    Some(Answer { status, body })
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_the_endpoint_or_say_what_is_wrong() {
        let e = Endpoint::parse("http://tracker.lan:8080").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("tracker.lan", 8080));
        assert_eq!(e.target, "/api/torrents");
        let e = Endpoint::parse("http://[::1]:81/rt/").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.authority.as_str()),
            ("::1", 81, "[::1]:81")
        );
        assert_eq!(e.target, "/rt/api/torrents");
        assert_eq!(Endpoint::parse("http://h").unwrap().port, 80);
        for (bad, why) in [
            ("https://h", "https:// is not supported"),
            ("ftp://h", "not an http:// URL"),
            ("http://h:0", "the port"),
            ("http://h:x", "the port"),
            ("http://:80", "no usable host"),
            ("http://u@h", "no usable host"),
            ("http://h/?a", "query"),
            ("http://[::1", "unclosed"),
        ] {
            let e = Endpoint::parse(bad).unwrap_err();
            assert!(e.contains(why) && e.starts_with(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn answers_are_read_with_a_length_chunked_or_to_the_close() {
        let a = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiXX").unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"hi"[..]));
        let a = parse_answer(
            b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1;x\r\nd\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((a.status, a.body.as_slice()), (400, &b"abcd"[..]));
        let a = parse_answer(b"HTTP/1.0 401 No\r\n\r\nrest").unwrap();
        assert_eq!((a.status, a.body.as_slice()), (401, &b"rest"[..]));
        assert!(parse_answer(b"SSH-2.0\r\n\r\n").is_none());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_none());
    }
}
