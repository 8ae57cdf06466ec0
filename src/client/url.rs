//! Tracker URLs: `http://`, `https://` and `udp://` parsed into what the transports need, the
//! BEP 48 scrape URL derived from an announce URL, and the announce and scrape query strings
//! (BEP 3: `info_hash` and `peer_id` as raw bytes, percent-escaped).

use crate::protocol::InfoHash;
use std::fmt;

/// How a tracker is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `http://`, port 80 by default.
    Http,
    /// `https://`, port 443 by default.
    Https,
    /// `udp://` (BEP 15); the port is required.
    Udp,
}

/// A tracker URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerUrl {
    /// Transport.
    pub scheme: Scheme,
    /// Host name or address, without the brackets of an IPv6 literal.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path and query as given (`/announce`, `/x/announce.php?passkey=1`); `/` when empty.
    pub path_and_query: String,
}

/// A URL this tool cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a URL.
    #[error("not a URL: {0}")]
    Invalid(String),
    /// Not http, https or udp.
    #[error("unsupported scheme {0:?} (expected http://, https:// or udp://)")]
    Scheme(String),
    /// No `scheme://`.
    #[error("no scheme (expected http://, https:// or udp://)")]
    NoScheme,
    /// No host.
    #[error("no host in the URL")]
    NoHost,
    /// `udp://` without a port.
    #[error("a udp:// URL needs a port (udp://host:port)")]
    NoUdpPort,
    /// BEP 48: the last path segment does not start with `announce`.
    #[error(
        "cannot derive a scrape URL: the last path segment of {0:?} does not start with \
         \"announce\" (BEP 48)"
    )]
    NoScrape(String),
}

impl TrackerUrl {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<TrackerUrl, UrlError> {
        let text = text.trim();
        if !text.contains("://") {
            return Err(UrlError::NoScheme);
        }
        let uri: http::Uri = text
            .parse()
            .map_err(|e: http::uri::InvalidUri| UrlError::Invalid(e.to_string()))?;
        let scheme = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            Some("udp") => Scheme::Udp,
            Some(other) => return Err(UrlError::Scheme(other.to_owned())),
            None => return Err(UrlError::NoScheme),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or(UrlError::NoHost)?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        // http::Uri takes `host:x` with no port rather than refusing it.
        let authority = uri.authority().map_or("", |a| a.as_str());
        let after_host = authority
            .rsplit_once(']')
            .map_or(authority, |(_, rest)| rest);
        if let Some((_, port)) = after_host.rsplit_once(':') {
            if port.parse::<u16>().ok().filter(|&n| n != 0).is_none() {
                return Err(UrlError::Invalid(format!(
                    "the port {port:?} is not a number from 1 to 65535"
                )));
            }
        }
        let port = match (uri.port_u16(), scheme) {
            (Some(p), _) => p,
            (None, Scheme::Http) => 80,
            (None, Scheme::Https) => 443,
            (None, Scheme::Udp) => return Err(UrlError::NoUdpPort),
        };
        let path_and_query = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or("/")
            .to_owned();
        Ok(TrackerUrl {
            scheme,
            host,
            port,
            path_and_query,
        })
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(&self.path_and_query[..], |(p, _)| p)
    }

    /// The BEP 48 scrape URL: the last path segment's leading `announce` becomes `scrape`
    /// (`/announce.php?passkey=1` -> `/scrape.php?passkey=1`). A `udp://` URL is its own scrape
    /// URL (scrape is an action of BEP 15).
    pub fn scrape_url(&self) -> Result<TrackerUrl, UrlError> {
        if self.scheme == Scheme::Udp {
            return Ok(self.clone());
        }
        let path = self.path();
        let cut = path.rfind('/').map_or(0, |i| i + 1);
        let (dir, last) = path.split_at(cut);
        let Some(rest) = last.strip_prefix("announce") else {
            return Err(UrlError::NoScrape(self.to_string()));
        };
        let query = &self.path_and_query[path.len()..];
        Ok(TrackerUrl {
            path_and_query: format!("{dir}scrape{rest}{query}"),
            ..self.clone()
        })
    }

    /// The request target with `params` added to the URL's own query.
    pub fn target_with(&self, params: &str) -> String {
        if params.is_empty() {
            self.path_and_query.clone()
        } else if self.path_and_query.contains('?') {
            format!("{}&{params}", self.path_and_query)
        } else {
            format!("{}?{params}", self.path_and_query)
        }
    }

    /// `host:port` as a `Host` header or a resolver wants it (IPv6 literals in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for TrackerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Udp => "udp",
        };
        write!(f, "{scheme}://{}{}", self.authority(), self.path_and_query)
    }
}

/// Percent-escapes raw bytes for a query string: RFC 3986 unreserved bytes stay, the rest are
/// `%XX` (upper-case hex).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The scrape query: one `info_hash=` per hash (none for a full scrape).
pub fn scrape_query(hashes: &[InfoHash]) -> String {
    hashes
        .iter()
        .map(|h| format!("info_hash={}", escape(h)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_schemes() {
        let u = TrackerUrl::parse("http://retracker.local/announce").unwrap();
        assert_eq!(
            (u.scheme, u.port, u.host.as_str()),
            (Scheme::Http, 80, "retracker.local")
        );
        let u = TrackerUrl::parse("HTTPS://[::1]:8443/a/announce.php?pk=1").unwrap();
        assert_eq!(
            (u.scheme, u.port, u.host.as_str()),
            (Scheme::Https, 8443, "::1")
        );
        assert_eq!(u.path(), "/a/announce.php");
        assert_eq!(u.to_string(), "https://[::1]:8443/a/announce.php?pk=1");
        let u = TrackerUrl::parse("udp://127.0.0.1:6969").unwrap();
        assert_eq!((u.scheme, u.path_and_query.as_str()), (Scheme::Udp, "/"));
        for (bad, want) in [
            ("ftp://x/announce", "unsupported scheme \"ftp\""),
            ("retracker.local/announce", "no scheme"),
            ("udp://tracker.example/announce", "needs a port"),
            ("http://", "not a URL"),
            ("http://t:x/announce", "the port \"x\" is not a number"),
            ("udp://t:0", "the port \"0\" is not a number"),
            ("http://t:65536/announce", "the port \"65536\""),
        ] {
            let e = TrackerUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn scrape_urls_follow_bep_48() {
        let s = |u: &str| {
            TrackerUrl::parse(u)
                .unwrap()
                .scrape_url()
                .map(|u| u.to_string())
        };
        assert_eq!(s("http://t/announce").unwrap(), "http://t:80/scrape");
        assert_eq!(
            s("http://t/x/announce.php?pk=a/b").unwrap(),
            "http://t:80/x/scrape.php?pk=a/b"
        );
        assert_eq!(s("udp://t:1/announce").unwrap(), "udp://t:1/announce");
        assert!(s("http://t/a").unwrap_err().to_string().contains("BEP 48"));
        assert!(s("http://t/announce/x").is_err());
    }

    #[test]
    fn targets_and_escapes() {
        let u = TrackerUrl::parse("http://t/announce?pk=1").unwrap();
        assert_eq!(u.target_with("a=b"), "/announce?pk=1&a=b");
        assert_eq!(
            TrackerUrl::parse("http://t/announce")
                .unwrap()
                .target_with("a=b"),
            "/announce?a=b"
        );
        assert_eq!(escape(b"a-Z~ \x00\xff"), "a-Z~%20%00%FF");
        assert_eq!(
            scrape_query(&[[0x41; 20], [1; 20]])
                .matches("info_hash=")
                .count(),
            2
        );
    }
}
