//! gzip for every response the server sends (tracker answers, web pages, exports, metrics), in
//! one place: [`wrap`] goes around the whole filter of a listener.
//!
//! A body of at least [`MIN_BYTES`] is gzipped when the request's `Accept-Encoding` allows it
//! ([`accepts_gzip`], RFC 9110 section 12.5.3: `gzip` or `x-gzip`, else `*`, with a q-value
//! above 0), and gets `Content-Encoding: gzip`. Such a body is answered with
//! `Vary: Accept-Encoding` whether or not it was gzipped, since another request could get the
//! other form. Smaller bodies are sent as they are: a compact announce of 50 peers (about 330
//! bytes) would gain little and cost a compressor per request. A body that does not shrink (the
//! random bytes of a compact peer list compress badly) is sent as it is too.
//!
//! The accept loop reads `Accept-Encoding` from the request ([`AcceptsGzip::from_headers`]) and
//! hands the answer to the filter as a request extension, as it does with the socket address.

use flate2::write::GzEncoder;
use flate2::Compression;
use http::header::{HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING, VARY};
use http::{HeaderMap, Response};
use std::convert::Infallible;
use std::io::Write;
use warp::Filter;

/// Bodies shorter than this are never gzipped.
pub const MIN_BYTES: usize = 512;

/// Whether the request accepts a gzipped body; a request extension set by the accept loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AcceptsGzip(pub bool);

impl AcceptsGzip {
    /// Reads every `Accept-Encoding` header of a request.
    pub fn from_headers(headers: &HeaderMap) -> AcceptsGzip {
        AcceptsGzip(accepts_gzip(
            headers
                .get_all(ACCEPT_ENCODING)
                .iter()
                .map(|v| v.as_bytes()),
        ))
    }
}

/// True when `Accept-Encoding` values (one per header line) allow gzip: `gzip` or `x-gzip`
/// listed with a q-value above 0, or, when neither is listed, `*` with a q-value above 0.
/// Names are compared in any case; an element whose q-value does not parse is ignored.
pub fn accepts_gzip<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> bool {
    let mut gzip: Option<bool> = None;
    let mut any: Option<bool> = None;
    for value in values {
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        for element in value.split(',') {
            let mut parts = element.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let Some(q) = quality(parts) else {
                continue;
            };
            let slot =
                if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                    &mut gzip
                } else if coding == "*" {
                    &mut any
                } else {
                    continue;
                };
            // Listed twice: the most favourable mention counts.
            *slot = Some(slot.unwrap_or(false) || q);
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// The q parameter among `params`: `Some(true)` when absent or above 0, `Some(false)` for 0,
/// `None` when it is not a q-value (0 to 1, at most three decimals).
fn quality<'a>(params: impl Iterator<Item = &'a str>) -> Option<bool> {
    for p in params {
        let Some((name, value)) = p.split_once('=') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("q") {
            continue;
        }
        let value = value.trim();
        let (int, frac) = value.split_once('.').unwrap_or((value, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !matches!(int, "0" | "1") || frac.len() > 3 || !digits(frac) {
            return None;
        }
        if int == "1" && frac.bytes().any(|b| b != b'0') {
            return None;
        }
        return Some(int == "1" || frac.bytes().any(|b| b != b'0'));
    }
    Some(true)
}

/// `resp` gzipped when `accepts` and its body is large enough (see the module documentation).
pub fn compress(accepts: bool, mut resp: Response<Vec<u8>>) -> Response<Vec<u8>> {
    if resp.body().len() < MIN_BYTES || resp.headers().contains_key(CONTENT_ENCODING) {
        return resp;
    }
    resp.headers_mut()
        .append(VARY, HeaderValue::from_static("accept-encoding"));
    if !accepts {
        return resp;
    }
    let body = resp.body();
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 2), Compression::default());
    let gzipped = match encoder.write_all(body).and_then(|()| encoder.finish()) {
        Ok(g) if g.len() < body.len() => g,
        _ => return resp,
    };
    *resp.body_mut() = gzipped;
    resp.headers_mut()
        .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    resp
}

/// `filter` with its responses passed through [`compress`], reading the [`AcceptsGzip`]
/// extension (absent: no gzip).
pub fn wrap<F>(
    filter: F,
) -> impl warp::Filter<Extract = (Response<Vec<u8>>,), Error = Infallible> + Clone + Send + Sync + 'static
where
    F: warp::Filter<Extract = (Response<Vec<u8>>,), Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
{
    warp::ext::optional::<AcceptsGzip>()
        .and(filter)
        .map(|accepts: Option<AcceptsGzip>, resp| compress(accepts.is_some_and(|a| a.0), resp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn accepts(values: &[&str]) -> bool {
        accepts_gzip(values.iter().map(|v| v.as_bytes()))
    }

    #[test]
    fn accept_encoding_parsing() {
        for yes in [
            &["gzip"][..],
            &["GZIP"],
            &["x-gzip"],
            &["deflate, gzip;q=1.0, *;q=0.5"],
            &["br;q=1.0, gzip;q=0.001"],
            &["gzip ; q=0.8"],
            &["*"],
            &["identity, *;q=1"],
            &["br", "gzip"],
            &["gzip;level=9"],
            &["gzip;q=0, x-gzip;q=0.5"],
        ] {
            assert!(accepts(yes), "{yes:?}");
        }
        for no in [
            &[][..],
            &[""],
            &["identity"],
            &["br, deflate"],
            &["gzip;q=0"],
            &["gzip;Q=0.000"],
            &["gzip; q=0."],
            &["*;q=0"],
            &["gzip;q=0, *;q=1"],
            &["*;q=1", "gzip;q=0"],
            &["gzip;q=2"],
            &["gzip;q=1.5"],
            &["gzip;q=0.5000"],
            &["gzip;q=-1"],
            &["gzip;q=abc"],
            &["gzipx"],
        ] {
            assert!(!accepts(no), "{no:?}");
        }
        assert!(!accepts_gzip([&b"\xffgzip"[..]]));
    }

    fn response(len: usize) -> Response<Vec<u8>> {
        let body: Vec<u8> = b"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1eee"
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect();
        Response::new(body)
    }

    #[test]
    fn large_bodies_are_gzipped_when_accepted() {
        let plain = response(4000);
        let resp = compress(true, response(4000));
        assert_eq!(resp.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(resp.headers()[VARY], "accept-encoding");
        assert!(resp.body().len() < 4000 / 4);
        let mut decoded = Vec::new();
        GzDecoder::new(&resp.body()[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(&decoded, plain.body());

        let refused = compress(false, response(4000));
        assert_eq!(refused.body(), plain.body());
        assert!(refused.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(refused.headers()[VARY], "accept-encoding");
    }

    #[test]
    fn small_encoded_and_incompressible_bodies_are_left_alone() {
        let small = compress(true, response(MIN_BYTES - 1));
        assert!(small.headers().is_empty());
        assert_eq!(small.body().len(), MIN_BYTES - 1);

        let mut encoded = response(4000);
        encoded
            .headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("br"));
        let encoded = compress(true, encoded);
        assert_eq!(encoded.headers()[CONTENT_ENCODING], "br");
        assert_eq!(encoded.body().len(), 4000);

        // Random bytes (a compact peer list) do not shrink: sent as they are.
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let noise: Vec<u8> = (0..4000).map(|_| rng.random()).collect();
        let resp = compress(true, Response::new(noise.clone()));
        assert!(resp.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(resp.body(), &noise);
    }
}
