//! Text to typed values, one function per [`Form`](super::keys::Form). Pure: the caller turns a
//! failure into a [`ConfigError`](super::ConfigError) naming the origin, key and expected form;
//! a failure carries an optional detail (which list entry is wrong).

use super::LogFormat;
use crate::netlist::Networks;
use std::net::{IpAddr, Ipv4Addr};

/// Why a value was refused: `None` when "expected ..." says it all, else a detail to append.
pub(super) type Refusal = Option<String>;

/// Python configparser's booleans, any case.
pub(super) fn boolean(text: &str) -> Result<bool, Refusal> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Ok(true),
        "0" | "no" | "false" | "off" => Ok(false),
        _ => Err(None),
    }
}

/// A whole number in `min..=max`.
pub(super) fn integer(text: &str, min: u64, max: u64) -> Result<u64, Refusal> {
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(None),
    }
}

/// A finite number greater than 0 and at most `max`.
pub(super) fn positive(text: &str, max: f64) -> Result<f64, Refusal> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= max => Ok(x),
        _ => Err(None),
    }
}

/// A finite number from 0 to 1, as `f32` (a share of an answer needs no more precision).
pub(super) fn fraction(text: &str) -> Result<f32, Refusal> {
    match text.parse::<f32>() {
        // -0 is 0, so that it shows back as "0".
        Ok(x) if x.is_finite() && (0.0..=1.0).contains(&x) => Ok(if x == 0.0 { 0.0 } else { x }),
        _ => Err(None),
    }
}

/// One of `words`, any case; gives the listed spelling back.
pub(super) fn choice(text: &str, words: &[&'static str]) -> Result<&'static str, Refusal> {
    words
        .iter()
        .copied()
        .find(|w| w.eq_ignore_ascii_case(text))
        .ok_or(None)
}

/// `full`, `compact`, `json` (any case), or a Python logging format string, which means `full`.
pub(super) fn log_format(text: &str) -> Result<LogFormat, Refusal> {
    if text.contains("%(") {
        return Ok(LogFormat::Full);
    }
    match text.to_ascii_lowercase().as_str() {
        "full" => Ok(LogFormat::Full),
        "compact" => Ok(LogFormat::Compact),
        "json" => Ok(LogFormat::Json),
        _ => Err(None),
    }
}

/// Items of a list separated by commas and/or white space.
fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

/// At least one IP address, each once; `localhost` is 127.0.0.1 and `[::1]` is `::1`.
pub(super) fn hosts(text: &str) -> Result<Vec<IpAddr>, Refusal> {
    let mut out: Vec<IpAddr> = Vec::new();
    for item in items(text) {
        let bare = item
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(item);
        let ip = if bare.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            bare.parse()
                .map_err(|_| Some(format!("'{item}' is not an IP address")))?
        };
        if out.contains(&ip) {
            return Err(Some(format!("{ip} is listed twice")));
        }
        out.push(ip);
    }
    if out.is_empty() {
        return Err(None);
    }
    Ok(out)
}

/// As [`hosts`], or nothing.
pub(super) fn opt_hosts(text: &str) -> Result<Vec<IpAddr>, Refusal> {
    if items(text).next().is_none() {
        return Ok(Vec::new());
    }
    hosts(text)
}

/// Nothing (`None`), or a port from 0 to 65535.
pub(super) fn opt_port(text: &str) -> Result<Option<u16>, Refusal> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    integer(text, 0, 65535).map(|n| Some(n as u16))
}

/// A possibly empty list of networks.
pub(super) fn networks(text: &str) -> Result<Networks, Refusal> {
    text.parse().map_err(Some)
}

/// Empty, or letters, digits, `_`, `-` and `.` only.
pub(super) fn token(text: &str) -> Result<String, Refusal> {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        Ok(text.to_owned())
    } else {
        Err(None)
    }
}

/// Redis URLs separated by commas or spaces: each `redis://` or `rediss://` (TLS) with a host,
/// or `redis+unix://` / `unix://` with a socket path, or `sentinel://host:port/primary-name`
/// (then every URL is a Sentinel of that primary). Empty = none.
pub(super) fn redis_urls(text: &str) -> Result<Vec<String>, Refusal> {
    let mut urls: Vec<String> = Vec::new();
    for (i, url) in text
        .split([',', ' ', '\t'])
        .filter(|u| !u.is_empty())
        .enumerate()
    {
        let (scheme, rest) = url.split_once("://").ok_or(None)?;
        let ok = match scheme.to_ascii_lowercase().as_str() {
            "redis" | "rediss" => {
                // [user[:password]@]host[:port][/db]: the host is what is left after the
                // credentials, up to the port or the database.
                let host_part = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                let host = host_part.split(['/', '?']).next().unwrap_or("");
                !host.is_empty() && !host.starts_with(':')
            }
            "redis+unix" | "unix" => rest.starts_with('/'),
            // sentinel://[:password@]host:port/name: the Sentinel's address, the primary's name.
            "sentinel" => {
                let host_part = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                let (host, name) = host_part.split_once('/').unwrap_or((host_part, ""));
                !host.is_empty()
                    && !host.starts_with(':')
                    && !name.is_empty()
                    && !name.contains('/')
            }
            _ => false,
        };
        if !ok {
            // Not the URL itself: it may carry the password.
            return Err(Some(format!("URL number {} is not one", i + 1)));
        }
        urls.push(url.to_owned());
    }
    let sentinels = urls.iter().filter(|u| is_sentinel(u)).count();
    if sentinels > 0 && sentinels < urls.len() {
        return Err(Some(
            "sentinel:// URLs cannot be mixed with Redis URLs".to_owned(),
        ));
    }
    Ok(urls)
}

/// Whether `url` names a Redis Sentinel.
pub(super) fn is_sentinel(url: &str) -> bool {
    url.get(..11)
        .is_some_and(|s| s.eq_ignore_ascii_case("sentinel://"))
}

/// One non-empty word of letters, digits, `_` and `-`, given back in lower case.
pub(super) fn word(text: &str) -> Result<String, Refusal> {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_python_configparser() {
        for t in ["1", "yes", "TRUE", "True", "on", "On"] {
            assert_eq!(boolean(t), Ok(true), "{t}");
        }
        for t in ["0", "no", "FALSE", "False", "off", "OFF"] {
            assert_eq!(boolean(t), Ok(false), "{t}");
        }
        for t in ["", "2", "y", "enabled", " true"] {
            assert!(boolean(t).is_err(), "{t}");
        }
    }

    #[test]
    fn integers_respect_bounds() {
        assert_eq!(integer("0", 0, 65535), Ok(0));
        assert_eq!(integer("65535", 0, 65535), Ok(65535));
        for t in ["65536", "-1", "", "80a", "1.5", "99999999999999999999999"] {
            assert!(integer(t, 0, 65535).is_err(), "{t}");
        }
        assert!(integer("0", 1, 10).is_err());
    }

    #[test]
    fn optional_ports() {
        assert_eq!(opt_port(""), Ok(None));
        assert_eq!(opt_port("0"), Ok(Some(0)));
        assert_eq!(opt_port("6969"), Ok(Some(6969)));
        for t in ["65536", "-1", "off", "80a"] {
            assert!(opt_port(t).is_err(), "{t}");
        }
    }

    #[test]
    fn positive_numbers() {
        assert_eq!(positive("2", 100.0), Ok(2.0));
        assert_eq!(positive("0.5", 100.0), Ok(0.5));
        assert_eq!(positive("100", 100.0), Ok(100.0));
        for t in ["0", "-1", "100.5", "inf", "NaN", "", "two"] {
            assert!(positive(t, 100.0).is_err(), "{t}");
        }
    }

    #[test]
    fn fractions() {
        assert_eq!(fraction("0"), Ok(0.0));
        assert_eq!(fraction("0.2"), Ok(0.2));
        assert_eq!(fraction("1"), Ok(1.0));
        assert_eq!(fraction(".5"), Ok(0.5));
        assert_eq!(fraction("-0").unwrap().to_string(), "0");
        for t in ["-0.1", "1.01", "inf", "NaN", "", "20%"] {
            assert!(fraction(t).is_err(), "{t}");
        }
    }

    #[test]
    fn choices_any_case() {
        assert_eq!(choice("PROXY", &["direct", "proxy"]), Ok("proxy"));
        assert!(choice("proxies", &["direct", "proxy"]).is_err());
        assert!(choice("", &["direct", "proxy"]).is_err());
    }

    #[test]
    fn log_formats() {
        assert_eq!(log_format("JSON"), Ok(LogFormat::Json));
        assert_eq!(log_format("compact"), Ok(LogFormat::Compact));
        assert_eq!(
            log_format("%(asctime)s - %(name)s - %(levelname)s - %(message)s"),
            Ok(LogFormat::Full)
        );
        // configparser's escaped form of the same string.
        assert_eq!(log_format("%%(message)s"), Ok(LogFormat::Full));
        assert!(log_format("").is_err());
        assert!(log_format("verbose").is_err());
    }

    #[test]
    fn host_lists() {
        assert_eq!(
            hosts("0.0.0.0, ::  localhost,[::1]").unwrap(),
            ["0.0.0.0", "::", "127.0.0.1", "::1"]
                .map(|s| s.parse::<IpAddr>().unwrap())
                .to_vec()
        );
        assert_eq!(hosts(""), Err(None));
        assert_eq!(
            hosts("999.1.1.1"),
            Err(Some("'999.1.1.1' is not an IP address".into()))
        );
        assert!(hosts("example.org").is_err());
        assert!(hosts("10.0.0.1 10.0.0.1")
            .unwrap_err()
            .unwrap()
            .contains("twice"));
    }

    #[test]
    fn redis_urls_need_a_scheme_and_a_host() {
        assert_eq!(redis_urls(""), Ok(vec![]));
        assert_eq!(
            redis_urls("redis://127.0.0.1:6379/0"),
            Ok(vec!["redis://127.0.0.1:6379/0".to_owned()])
        );
        assert_eq!(
            redis_urls("redis://a:1, redis://b:2 rediss://:pw@c:3").map(|v| v.len()),
            Ok(3)
        );
        assert_eq!(redis_urls("unix:///run/redis.sock").map(|v| v.len()), Ok(1));
        assert!(redis_urls("127.0.0.1:6379").is_err());
        assert!(redis_urls("http://host:6379").is_err());
        assert!(redis_urls("redis://").is_err());
        assert!(redis_urls("redis://:pw@:6379").is_err());
        assert_eq!(
            redis_urls("sentinel://10.0.0.1:26379/main, sentinel://10.0.0.2:26379/main")
                .map(|v| v.len()),
            Ok(2)
        );
        assert!(
            redis_urls("sentinel://10.0.0.1:26379").is_err(),
            "no primary name"
        );
        assert!(
            redis_urls("sentinel://10.0.0.1:26379/main redis://b:1").is_err(),
            "mixed"
        );
    }

    #[test]
    fn tokens_and_words() {
        assert_eq!(token(""), Ok(String::new()));
        assert_eq!(token("gc.run-1_x"), Ok("gc.run-1_x".into()));
        assert!(token("g c").is_err());
        assert!(token("gc&x=1").is_err());
        assert_eq!(word("Redis"), Ok("redis".into()));
        assert!(word("").is_err());
        assert!(word("file system").is_err());
    }
}
