//! Building the HTTP responses of tracker requests.
//!
//! Tracker errors are answered with HTTP 200 and a bencoded `failure reason` (BEP 3): clients
//! show that text to the user, while many treat other statuses as "tracker unreachable".

use crate::protocol::{encode_failure, RetryIn};
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::{Response, StatusCode};

/// A 200 response with a bencoded body.
pub fn bencoded(body: Vec<u8>) -> Response<Vec<u8>> {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// A 200 response carrying `failure reason`, and `retry in` (BEP 31) when given.
pub fn failure(reason: &str, retry_in: Option<RetryIn>) -> Response<Vec<u8>> {
    let mut body = Vec::with_capacity(reason.len() + 48);
    encode_failure(reason, retry_in, &mut body);
    bencoded(body)
}

/// A plain-text response with the given status.
pub fn text(status: StatusCode, body: String) -> Response<Vec<u8>> {
    let mut resp = Response::new(body.into_bytes());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
