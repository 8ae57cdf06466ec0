//! Hexadecimal text: the one encoder and the one strict decoder of the crate.
//!
//! Info hashes typed by an operator (`retracker query --info-hash`, the peers filter, the
//! blocklist, the access list file), session cookies and CSRF tokens of the web UI, and the
//! `%XX` escapes of tracker queries are all read here, so that they all refuse the same text.
//! Strict means: ASCII `0-9`, `a-f`, `A-F` only, two digits per byte. `u8::from_str_radix` is
//! not used because it takes a sign (`"+a"` is 10), and `char::to_digit` is not applied to
//! anything but ASCII; whitespace is the caller's to trim, never skipped here.
//!
//! A leaf at the crate root, depending on nothing: [`crate::protocol`] (pure, and compiled on its
//! own by `fuzz/`) can use it as well as the web UI, the query tools and the list readers.

use std::fmt::Write;

/// Lower-case hex of `bytes`, two digits per byte.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Value of one ASCII hex digit, either case; `None` for anything else.
#[inline]
pub fn digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte spelled by two hex digits `hi`, `lo`.
#[inline]
pub fn byte(hi: u8, lo: u8) -> Option<u8> {
    Some(digit(hi)? << 4 | digit(lo)?)
}

/// Bytes of an even-length hex string (any case); `None` for anything else.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits.chunks_exact(2).map(|p| byte(p[0], p[1])).collect()
}

/// Exactly `N` bytes from exactly `2 * N` hex digits: an info hash is `decode_array::<20>`.
pub fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, p) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *o = byte(p[0], p[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "466D846E88635A7AA032CA8CBE2D810495DEA262";

    /// `HASH` with its first two characters replaced by `pair`.
    fn spoiled(pair: &str) -> String {
        format!("{pair}{}", &HASH[2..])
    }

    #[test]
    fn round_trips_in_lower_case() {
        assert_eq!(encode(&[0, 0xab, 0xff, 0x10]), "00abff10");
        assert_eq!(encode(&[]), "");
        assert_eq!(decode("00ABff10"), Some(vec![0, 0xab, 0xff, 0x10]));
        assert_eq!(decode(""), Some(vec![]));
        let h: [u8; 20] = decode_array(HASH).unwrap();
        assert_eq!(h[..3], [0x46, 0x6d, 0x84]);
        assert_eq!(encode(&h), HASH.to_ascii_lowercase());
    }

    #[test]
    fn refuses_signs_spaces_non_ascii_and_wrong_lengths() {
        // "é" is two bytes, so the string keeps 40 bytes and only the digit check can refuse it.
        for bad in ["+a", "-a", " a", "a ", "0x", "g0", "é"] {
            let text = spoiled(bad);
            assert_eq!(decode_array::<20>(&text), None, "{text:?}");
            assert_eq!(decode(&text), None, "{text:?}");
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        // Arabic-Indic digits are digits to char::to_digit's cousins, not hex here.
        assert_eq!(decode_array::<20>(&"\u{0661}".repeat(20)), None);
        assert_eq!(decode_array::<20>(&HASH[..38]), None);
        assert_eq!(decode_array::<20>(&format!("{HASH}00")), None);
        assert_eq!(decode("abc"), None);
    }

    #[test]
    fn digits_are_ascii_hex_only() {
        let accepted: Vec<u8> = (0..=255u8).filter(|&b| digit(b).is_some()).collect();
        assert_eq!(accepted, b"0123456789ABCDEFabcdef");
        assert_eq!(byte(b'f', b'F'), Some(0xff));
        assert_eq!(byte(b'+', b'a'), None);
    }
}
