//! [`ProtocolError`]: why a request cannot be answered, and [`encode_failure`], the BEP 3
//! `failure reason` response that carries it to the client, with BEP 31's `retry in` when the
//! refusal will not change.
//!
//! BEP 3 ("Trackers"): "If the response includes a key `failure reason`, then that maps to a
//! human readable string which explains why the query failed, and no other keys are required."
//! The `Display` text of every variant is that string, so each one says exactly which parameter is
//! wrong and how: a user reading it in their client's tracker tab should not need our logs.

use super::bencode;

/// A request the protocol layer rejects. `Display` is the `failure reason` sent to the client.
///
/// Parameter names are `&'static str` (always one of the BEP 3 names); values echoed back are
/// shown with Rust's debug escaping so that control bytes and quotes in hostile input cannot forge
/// or garble the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The raw query string is longer than the limit; checked before any parsing.
    #[error("query too long: {len} bytes (limit {limit})")]
    QueryTooLong {
        /// Length of the raw query in bytes.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A required parameter is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A `%` not followed by two hexadecimal digits in the named parameter.
    #[error("invalid percent-encoding in {0}")]
    InvalidPercentEncoding(&'static str),
    /// `info_hash` or `peer_id` does not decode to exactly 20 bytes.
    #[error("{param} must be 20 bytes, got {len}")]
    WrongLength {
        /// `info_hash` or `peer_id`.
        param: &'static str,
        /// Decoded length.
        len: usize,
    },
    /// `port` is not a decimal number from 0 to 65535.
    #[error("port must be a number from 0 to 65535")]
    InvalidPort,
    /// `uploaded`, `downloaded` or `left` is not plain decimal digits.
    #[error("{0} must be a non-negative integer")]
    InvalidInteger(&'static str),
    /// `uploaded`, `downloaded` or `left` does not fit in 64 bits.
    #[error("{0} must be at most 18446744073709551615")]
    IntegerTooLarge(&'static str),
    /// `numwant` is neither a decimal number nor a negative one (negative means "absent").
    #[error("numwant must be an integer")]
    InvalidNumwant,
    /// `event` is not one of the BEP 3 values (or BEP 21 `paused`). Holds the value, lossily
    /// decoded and cut to 64 characters.
    #[error("unknown event {0:?} (expected started, stopped, completed, paused or empty)")]
    UnknownEvent(String),
    /// A scrape names more info hashes than the configured limit.
    #[error("too many info_hash values: {count} (limit {limit})")]
    TooManyInfoHashes {
        /// Number of `info_hash` parameters in the query.
        count: usize,
        /// The limit in force.
        limit: usize,
    },
}

/// BEP 31 ("Tracker Failure Retry Extension") `retry in`: when a client may try again after a
/// failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryIn {
    /// `retry in` = this many minutes.
    Minutes(u32),
    /// `retry in` = `never`: the refusal will not change, stop announcing.
    Never,
}

/// Appends a BEP 3 failure response: `d14:failure reason<len>:<reason>e`, with
/// `8:retry in` (an integer of minutes or the string `never`, BEP 31) after it when given.
///
/// Usually called as `encode_failure(&err.to_string(), err.retry_in(), out)`; taking `&str` lets
/// the HTTP layer send its own reasons the same way.
pub fn encode_failure(reason: &str, retry_in: Option<RetryIn>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"d14:failure reason");
    bencode::write_bytes(out, reason.as_bytes());
    match retry_in {
        None => {}
        Some(RetryIn::Minutes(m)) => {
            out.extend_from_slice(b"8:retry in");
            bencode::write_int(out, m.into());
        }
        Some(RetryIn::Never) => out.extend_from_slice(b"8:retry in5:never"),
    }
    out.push(b'e');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_response() {
        let mut out = Vec::new();
        encode_failure("missing info_hash", None, &mut out);
        assert_eq!(out, b"d14:failure reason17:missing info_hashe");
        out.clear();
        encode_failure("no", Some(RetryIn::Never), &mut out);
        assert_eq!(out, b"d14:failure reason2:no8:retry in5:nevere");
        out.clear();
        encode_failure("busy", Some(RetryIn::Minutes(15)), &mut out);
        assert_eq!(out, b"d14:failure reason4:busy8:retry ini15ee");
    }

    #[test]
    fn echoed_values_are_escaped() {
        let e = ProtocolError::UnknownEvent("a\"\n".into());
        assert_eq!(
            e.to_string(),
            r#"unknown event "a\"\n" (expected started, stopped, completed, paused or empty)"#
        );
    }
}
