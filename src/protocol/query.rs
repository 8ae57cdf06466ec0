//! Raw query strings to byte strings: splitting, percent-decoding, decimal numbers.
//!
//! BEP 3 ("Trackers") sends `info_hash` and `peer_id` as URL-escaped raw bytes, so a query is
//! decoded to bytes here and never goes through UTF-8. The rules, following the URL
//! `application/x-www-form-urlencoded` split but not its `+` rule:
//!
//! - the query (without the leading `?`) splits on `&`; empty pieces are skipped;
//! - each piece splits into key and value at the first `=`; no `=` means an empty value;
//! - `%XX` with upper- or lower-case hex is one byte; every other byte is itself, including
//!   `+` (a literal plus, not a space: BEP 3 clients escape spaces and nothing else means space);
//! - a `%` not followed by two hex digits is an [`InvalidEscape`]; callers turn it into
//!   [`ProtocolError::InvalidPercentEncoding`](super::ProtocolError::InvalidPercentEncoding)
//!   naming the parameter.
//!
//! Decoding never allocates unless a caller asks for an owned copy ([`percent_decode`] of a
//! value that contains escapes): fixed-size values decode straight into arrays
//! ([`decode_fixed`]) and hashes consume a byte stream ([`decode_each`]).

use crate::hex;
use std::borrow::Cow;

/// Longest raw query accepted, in bytes. A longer one is rejected with
/// [`ProtocolError::QueryTooLong`](super::ProtocolError::QueryTooLong) before any parsing, which
/// bounds the work a single request can cause. Real announces are 250-400 bytes.
pub const MAX_QUERY_BYTES: usize = 8192;

/// Longest parameter name [`decode_key`] decodes. The longest name this layer looks up is
/// `no_peer_id` (10 bytes); longer keys can only be unknown ones, which are skipped undecoded.
pub const MAX_KEY_BYTES: usize = 16;

/// A `%` not followed by two hexadecimal digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidEscape;

/// Why a value could not be decoded into a fixed-size array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixedDecodeError {
    /// A `%` not followed by two hexadecimal digits.
    InvalidEscape,
    /// The value decoded to this many bytes instead of the array length.
    WrongLength(usize),
}

/// Why a value is not a decimal `u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// Empty, or something other than ASCII digits (signs and spaces included).
    NotDecimal,
    /// Digits only, but larger than `u64::MAX`.
    Overflow,
}

/// Iterator over the raw `(key, value)` pairs of a query; see [`pairs`].
#[derive(Clone, Debug)]
pub struct Pairs<'a> {
    rest: Option<&'a [u8]>,
}

/// Splits a raw query (without the leading `?`) into raw, still-escaped `(key, value)` pairs in
/// the order sent. Empty pieces (`a=1&&b=2`) are skipped; a piece without `=` has an empty value.
pub fn pairs(query: &[u8]) -> Pairs<'_> {
    Pairs { rest: Some(query) }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rest = self.rest?;
            let piece = match rest.iter().position(|&b| b == b'&') {
                Some(i) => {
                    self.rest = Some(&rest[i + 1..]);
                    &rest[..i]
                }
                None => {
                    self.rest = None;
                    rest
                }
            };
            if piece.is_empty() {
                continue;
            }
            return Some(match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &piece[piece.len()..]),
            });
        }
    }
}

/// Feeds each decoded byte of `raw` to `f`, in order.
///
/// On an invalid escape `f` has already seen the bytes before it; callers discard their result.
/// This is the allocation-free core the other decoders are built on.
#[inline]
pub fn decode_each(raw: &[u8], mut f: impl FnMut(u8)) -> Result<(), InvalidEscape> {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' {
            match (raw.get(i + 1), raw.get(i + 2)) {
                (Some(&hi), Some(&lo)) => f(hex::byte(hi, lo).ok_or(InvalidEscape)?),
                _ => return Err(InvalidEscape),
            }
            i += 3;
        } else {
            f(b);
            i += 1;
        }
    }
    Ok(())
}

/// Percent-decodes `raw` to bytes. Borrows when there is nothing to decode, so only values that
/// actually contain escapes allocate.
pub fn percent_decode(raw: &[u8]) -> Result<Cow<'_, [u8]>, InvalidEscape> {
    if !raw.contains(&b'%') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(raw.len());
    decode_each(raw, |b| out.push(b))?;
    Ok(Cow::Owned(out))
}

/// Percent-decodes `raw` into an `N`-byte array, without allocating; the value must decode to
/// exactly `N` bytes. [`FixedDecodeError::WrongLength`] reports the full decoded length even when
/// it is longer than `N`, so the error message can say what the client sent.
#[inline]
pub fn decode_fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], FixedDecodeError> {
    let mut out = [0u8; N];
    let mut len = 0usize;
    decode_each(raw, |b| {
        if let Some(slot) = out.get_mut(len) {
            *slot = b;
        }
        len += 1;
    })
    .map_err(|InvalidEscape| FixedDecodeError::InvalidEscape)?;
    if len == N {
        Ok(out)
    } else {
        Err(FixedDecodeError::WrongLength(len))
    }
}

/// Decodes a raw parameter name for comparison with the names this layer knows.
///
/// Returns `raw` itself when it has no escapes (the case for every real client), the decoded
/// name in `buf` when it does, and `None` when it cannot be a known name: an invalid escape, or
/// longer than [`MAX_KEY_BYTES`] once decoded. Unknown parameters are ignored, so such keys are
/// skipped rather than rejected.
#[inline]
pub fn decode_key<'a>(raw: &'a [u8], buf: &'a mut [u8; MAX_KEY_BYTES]) -> Option<&'a [u8]> {
    if !raw.contains(&b'%') {
        return Some(raw);
    }
    let mut len = 0usize;
    decode_each(raw, |b| {
        if let Some(slot) = buf.get_mut(len) {
            *slot = b;
        }
        len += 1;
    })
    .ok()?;
    buf.get(..len)
}

/// Whether the query has a parameter named `key` (decoded), with or without a value: `gc` is
/// found in `gc`, `gc=`, `gc=1&x=2` and `x=2&g%63`.
///
/// Not limited by [`MAX_QUERY_BYTES`]: it only scans, and callers use it for flags on paths that
/// are not announces.
pub fn query_has_key(query: &[u8], key: &[u8]) -> bool {
    pairs(query).any(|(raw, _)| {
        if raw.contains(&b'%') {
            decoded_eq(raw, key)
        } else {
            raw == key
        }
    })
}

/// Whether `raw` decodes to exactly `expected`, compared as a stream without allocating.
fn decoded_eq(raw: &[u8], expected: &[u8]) -> bool {
    let mut i = 0usize;
    let mut same = true;
    let valid = decode_each(raw, |b| {
        same &= expected.get(i) == Some(&b);
        i += 1;
    });
    valid.is_ok() && same && i == expected.len()
}

/// Parses plain decimal digits as a `u64`: no sign, no spaces, no empty string; leading zeros are
/// allowed. Operates on decoded bytes.
#[inline]
pub fn parse_u64(digits: &[u8]) -> Result<u64, NumberError> {
    if digits.is_empty() {
        return Err(NumberError::NotDecimal);
    }
    let mut n: u64 = 0;
    let mut overflow = false;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(NumberError::NotDecimal);
        }
        // Keep scanning after an overflow so that `99999999999999999999x` is reported as not
        // decimal rather than as too large.
        match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
        {
            Some(v) => n = v,
            None => overflow = true,
        }
    }
    if overflow {
        Err(NumberError::Overflow)
    } else {
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(q: &[u8]) -> Vec<(&[u8], &[u8])> {
        pairs(q).collect()
    }

    #[test]
    fn splitting() {
        assert_eq!(collect(b""), Vec::<(&[u8], &[u8])>::new());
        assert_eq!(
            collect(b"a=1&&b&c=&=d&e=f=g&"),
            vec![
                (&b"a"[..], &b"1"[..]),
                (b"b", b""),
                (b"c", b""),
                (b"", b"d"),
                (b"e", b"f=g"),
            ]
        );
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode(b"a+b-!~*(").unwrap(), &b"a+b-!~*("[..]);
        assert!(matches!(percent_decode(b"abc").unwrap(), Cow::Borrowed(_)));
        assert_eq!(
            percent_decode(b"%41%2d%2D%ff%00").unwrap(),
            &b"A--\xff\x00"[..]
        );
        // "%+a" would be 0x0a to u8::from_str_radix; "%é" is two non-ASCII bytes.
        for bad in [
            &b"%"[..],
            b"%4",
            b"x%G1",
            b"%4g",
            b"%%41",
            b"%+a",
            b"%-a",
            "%é".as_bytes(),
        ] {
            assert_eq!(percent_decode(bad), Err(InvalidEscape), "{bad:?}");
        }
    }

    #[test]
    fn fixed() {
        assert_eq!(decode_fixed::<3>(b"a%62c"), Ok(*b"abc"));
        assert_eq!(
            decode_fixed::<3>(b"ab"),
            Err(FixedDecodeError::WrongLength(2))
        );
        assert_eq!(
            decode_fixed::<3>(b"abcde"),
            Err(FixedDecodeError::WrongLength(5))
        );
        assert_eq!(
            decode_fixed::<3>(b"ab%"),
            Err(FixedDecodeError::InvalidEscape)
        );
    }

    #[test]
    fn keys() {
        let mut buf = [0; MAX_KEY_BYTES];
        assert_eq!(decode_key(b"port", &mut buf), Some(&b"port"[..]));
        assert_eq!(decode_key(b"p%6Frt", &mut buf), Some(&b"port"[..]));
        assert_eq!(decode_key(b"p%6", &mut buf), None);
        assert_eq!(decode_key(b"%61aaaaaaaaaaaaaaaa", &mut buf), None);
        assert!(query_has_key(b"gc", b"gc"));
        assert!(query_has_key(b"x=1&gc=1", b"gc"));
        assert!(query_has_key(b"x=2&g%63", b"gc"));
        assert!(!query_has_key(b"gcx=1&xgc&g", b"gc"));
        assert!(!query_has_key(b"x=gc", b"gc"));
        assert!(!query_has_key(b"g%6", b"gc"));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"0"), Ok(0));
        assert_eq!(parse_u64(b"007"), Ok(7));
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_u64(b"18446744073709551616"),
            Err(NumberError::Overflow)
        );
        assert_eq!(
            parse_u64(b"99999999999999999999x"),
            Err(NumberError::NotDecimal)
        );
        for bad in [&b""[..], b"-1", b"+1", b" 1", b"1 ", b"1.0", b"0x10"] {
            assert_eq!(parse_u64(bad), Err(NumberError::NotDecimal), "{bad:?}");
        }
    }
}
