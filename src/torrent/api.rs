//! The client side of `POST /api/torrents` for `retracker add-torrent --url`: HTTP basic auth,
//! the raw `.torrent` as an `application/x-bittorrent` body, over `http://` or `https://`
//! through the query tools' client ([`crate::client::http::post`]: system roots plus
//! `--ca-cert`, or `--insecure`). Redirects are not followed, so the credentials go only to
//! the URL the operator gave.

use crate::client::http as client_http;
use crate::client::tls::TlsSettings;
use crate::client::{Options, Scheme, TrackerUrl};
use base64::Engine;
use bytes::Bytes;
use http::header::{HeaderName, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use std::time::Duration;

/// Time limit of one upload (connect, send, answer).
const TIMEOUT: Duration = Duration::from_secs(60);

/// Where the API is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The web UI's base URL, parsed.
    pub url: TrackerUrl,
    /// Request target, e.g. `/api/torrents` or `/tracker/api/torrents`.
    pub target: String,
}

impl Endpoint {
    /// Parses `http[s]://host[:port][/prefix]`; the message names the URL and what is wrong.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        let url = TrackerUrl::parse(text).map_err(|e| format!("{text}: {e}"))?;
        if url.scheme == Scheme::Udp {
            return Err(format!(
                "{text}: the web API is reached over http:// or https://, not udp://"
            ));
        }
        if url.path_and_query.contains(['?', '#']) {
            return Err(format!("{text}: the URL must not have a query or fragment"));
        }
        let target = format!("{}/api/torrents", url.path().trim_end_matches('/'));
        Ok(Endpoint { url, target })
    }

    /// `host:port`, for messages and the password prompt.
    pub fn authority(&self) -> String {
        self.url.authority()
    }
}

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// Sends `torrent`; `Err` for network or TLS trouble, or a redirect.
pub async fn post(
    ep: &Endpoint,
    tls: &TlsSettings,
    user: &str,
    password: &str,
    torrent: Bytes,
) -> Result<Answer, String> {
    let options = Options {
        timeout: TIMEOUT,
        retries: 0,
        ipv6_only: false,
        user_agent: None,
        max_body: crate::client::http::MAX_BODY,
        guard: None,
    };
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let headers: [(HeaderName, String); 3] = [
        (AUTHORIZATION, format!("Basic {credentials}")),
        (CONTENT_TYPE, "application/x-bittorrent".to_owned()),
        (ACCEPT, "application/json".to_owned()),
    ];
    let sent = client_http::post(&options, tls, &ep.url, &ep.target, &headers, torrent);
    match tokio::time::timeout(TIMEOUT, sent).await {
        Ok(Ok((status, body))) => Ok(Answer {
            status: status.as_u16(),
            body,
        }),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_the_endpoint_or_say_what_is_wrong() {
        let e = Endpoint::parse("http://tracker.lan:8080").unwrap();
        assert_eq!((e.url.host.as_str(), e.url.port), ("tracker.lan", 8080));
        assert_eq!(e.target, "/api/torrents");
        let e = Endpoint::parse("https://[::1]:81/rt/").unwrap();
        assert_eq!(
            (e.url.host.as_str(), e.url.port, e.authority().as_str()),
            ("::1", 81, "[::1]:81")
        );
        assert_eq!(e.target, "/rt/api/torrents");
        assert_eq!(Endpoint::parse("http://h").unwrap().url.port, 80);
        assert_eq!(Endpoint::parse("https://h").unwrap().url.port, 443);
        for (bad, why) in [
            ("udp://h:1", "not udp://"),
            ("ftp://h", "unsupported scheme"),
            ("h:80", "no scheme"),
            ("http://h:x", "the port"),
            ("http://h/?a", "query"),
        ] {
            let e = Endpoint::parse(bad).unwrap_err();
            assert!(e.contains(why) && e.starts_with(bad), "{bad}: {e}");
        }
    }
}
