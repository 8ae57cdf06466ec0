//! The small bencode writer shared by the announce, scrape and failure encoders (BEP 3, "bencoding").
//!
//! Only what tracker responses need: non-negative integers (`i<n>e`) and byte strings
//! (`<len>:<bytes>`). Dictionaries and lists are written by the callers with literal `d`/`l`/`e`
//! bytes, because their keys are constants known to be in the sorted order BEP 3 requires; that
//! keeps every encoder a straight sequence of appends with no intermediate buffers.
//!
//! Everything appends to the caller's `Vec<u8>`, so a connection can reuse one buffer for all its
//! responses. Nothing here allocates apart from the `Vec` growing. The encoders built on these
//! functions are checked byte for byte against `serde_bencode` by the property tests in
//! `tests/protocol/`.

/// Appends the decimal digits of `n` (no sign, no leading zeros; `0` for zero).
///
/// Written by hand into a stack buffer so that integer formatting never allocates.
pub fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    // u64::MAX has 20 digits.
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[start..]);
}

/// Appends a bencoded integer: `i<n>e`.
pub fn write_int(out: &mut Vec<u8>, n: u64) {
    out.push(b'i');
    write_decimal(out, n);
    out.push(b'e');
}

/// Appends a bencoded byte string: `<len>:<bytes>`.
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_decimal(out, bytes.len() as u64);
    out.push(b':');
    out.extend_from_slice(bytes);
}

/// Appends only the length prefix of a byte string (`<len>:`), for callers that then stream
/// exactly `len` bytes themselves (the compact peer lists).
pub fn write_bytes_header(out: &mut Vec<u8>, len: usize) {
    write_decimal(out, len as u64);
    out.push(b':');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        let mut out = Vec::new();
        write_int(&mut out, 0);
        write_int(&mut out, 7);
        write_int(&mut out, 1_000);
        write_int(&mut out, u64::MAX);
        assert_eq!(out, b"i0ei7ei1000ei18446744073709551615e");
    }

    #[test]
    fn byte_strings() {
        let mut out = Vec::new();
        write_bytes(&mut out, b"");
        write_bytes(&mut out, b"spam");
        write_bytes(&mut out, &[0, 0xff]);
        assert_eq!(out, b"0:4:spam2:\x00\xff");
    }

    #[test]
    fn appends_without_clearing() {
        let mut out = b"x".to_vec();
        write_bytes_header(&mut out, 12);
        assert_eq!(out, b"x12:");
    }
}
