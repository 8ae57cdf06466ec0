//! The bencode reader (BEP 3, "bencoding"): what a tracker answers, and `.torrent` files.
//!
//! [`decode`] borrows from its input: byte strings are slices of it, and every dictionary keeps
//! the raw bytes it was read from ([`Dict::raw`]), because an info hash is the hash of the info
//! dictionary *as written* (BEP 3, BEP 52), not of a re-encoding.
//!
//! Integers must be canonical (`i0e`, `i-3e`; no `i-0e`, `i03e`, `ie`) and fit an `i64`, and
//! string lengths have no leading zeros, as BEP 3 says. Dictionary keys out of order or repeated
//! are accepted: real torrent makers have written both, and the raw bytes are hashed anyway;
//! [`Dict::get`] returns the first. Nesting deeper than [`MAX_DEPTH`] is refused so that a
//! hostile reply cannot exhaust the stack.
//!
//! Errors: [`DecodeError`], with the byte offset and what was expected there.

use std::fmt;

/// How deep lists and dictionaries may nest.
pub const MAX_DEPTH: usize = 64;

/// A decoded value, borrowing from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `i<n>e`.
    Int(i64),
    /// `<len>:<bytes>`.
    Bytes(&'a [u8]),
    /// `l...e`.
    List(Vec<Value<'a>>),
    /// `d...e`.
    Dict(Dict<'a>),
}

/// A decoded dictionary: its entries in input order, and the bytes it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dict<'a> {
    /// Key and value pairs, in the order of the input.
    entries: Vec<(&'a [u8], Value<'a>)>,
    /// The dictionary's own bytes, `d` to `e` inclusive.
    raw: &'a [u8],
}

impl<'a> Dict<'a> {
    /// The value of `key` (the first, if the input repeats it).
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// The entries in input order.
    pub fn entries(&self) -> &[(&'a [u8], Value<'a>)] {
        &self.entries
    }

    /// The bytes this dictionary was decoded from, `d` to `e` inclusive.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// `key` as an integer, if present and one.
    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_int)
    }

    /// `key` as a byte string, if present and one.
    pub fn bytes(&self, key: &str) -> Option<&'a [u8]> {
        self.get(key).and_then(Value::as_bytes)
    }

    /// `key` as text: a byte string, with invalid UTF-8 replaced.
    pub fn text(&self, key: &str) -> Option<String> {
        self.bytes(key)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// `key` as a dictionary, if present and one.
    pub fn dict(&self, key: &str) -> Option<&Dict<'a>> {
        self.get(key).and_then(Value::as_dict)
    }

    /// `key` as a list, if present and one.
    pub fn list(&self, key: &str) -> Option<&[Value<'a>]> {
        self.get(key).and_then(Value::as_list)
    }
}

impl<'a> Value<'a> {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
}

/// Why the input is not bencode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong there.
    pub kind: DecodeErrorKind,
}

/// What [`DecodeError`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ends inside a value.
    UnexpectedEnd,
    /// A byte that cannot start a value (or a dictionary key that is not a byte string).
    UnexpectedByte(u8),
    /// An integer that is empty, not decimal, not canonical or out of `i64` range.
    BadInteger,
    /// A string length that is not canonical decimal or runs past the input.
    BadLength,
    /// Lists or dictionaries nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Bytes after the one top-level value.
    TrailingBytes,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            DecodeErrorKind::UnexpectedEnd => "the data ends inside a value".to_owned(),
            DecodeErrorKind::UnexpectedByte(b) => {
                format!(
                    "unexpected byte {:?}",
                    char::from(b).escape_default().to_string()
                )
            }
            DecodeErrorKind::BadInteger => "malformed integer".to_owned(),
            DecodeErrorKind::BadLength => "malformed or too long string length".to_owned(),
            DecodeErrorKind::TooDeep => format!("nested deeper than {MAX_DEPTH} levels"),
            DecodeErrorKind::TrailingBytes => "extra bytes after the value".to_owned(),
        };
        write!(f, "not valid bencode: {what} at byte {}", self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes `input`, which must hold exactly one value.
pub fn decode(input: &[u8]) -> Result<Value<'_>, DecodeError> {
    let mut r = Reader { input, pos: 0 };
    let value = r.value(0)?;
    if r.pos != input.len() {
        return Err(r.error(DecodeErrorKind::TrailingBytes));
    }
    Ok(value)
}

/// Decodes the value at the start of `input`, and says how many bytes it took.
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), DecodeError> {
    let mut r = Reader { input, pos: 0 };
    let value = r.value(0)?;
    Ok((value, r.pos))
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            offset: self.pos,
            kind,
        }
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.error(DecodeErrorKind::UnexpectedEnd))
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        match self.peek()? {
            b'i' => self.int().map(Value::Int),
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            b'l' | b'd' if depth >= MAX_DEPTH => Err(self.error(DecodeErrorKind::TooDeep)),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                let start = self.pos;
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    match self.peek()? {
                        b'e' => break,
                        b'0'..=b'9' => {
                            let key = self.bytes()?;
                            entries.push((key, self.value(depth + 1)?));
                        }
                        other => return Err(self.error(DecodeErrorKind::UnexpectedByte(other))),
                    }
                }
                self.pos += 1;
                Ok(Value::Dict(Dict {
                    entries,
                    raw: &self.input[start..self.pos],
                }))
            }
            other => Err(self.error(DecodeErrorKind::UnexpectedByte(other))),
        }
    }

    /// The digits up to `end`, starting at the current position; the position moves past `end`.
    fn digits_until(&mut self, end: u8) -> Result<&'a [u8], DecodeError> {
        let rest = &self.input[self.pos..];
        let Some(len) = rest.iter().position(|&b| b == end) else {
            self.pos = self.input.len();
            return Err(self.error(DecodeErrorKind::UnexpectedEnd));
        };
        self.pos += len + 1;
        Ok(&rest[..len])
    }

    fn int(&mut self) -> Result<i64, DecodeError> {
        let start = self.pos;
        self.pos += 1;
        let text = self.digits_until(b'e')?;
        let bad = || DecodeError {
            offset: start,
            kind: DecodeErrorKind::BadInteger,
        };
        let digits = text.strip_prefix(b"-").unwrap_or(text);
        let canonical = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits == b"0" || digits[0] != b'0')
            && text != b"-0";
        if !canonical {
            return Err(bad());
        }
        std::str::from_utf8(text)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let bad = DecodeError {
            offset: start,
            kind: DecodeErrorKind::BadLength,
        };
        let digits = self.digits_until(b':')?;
        let canonical = !digits.is_empty()
            && digits.len() <= 19
            && digits.iter().all(u8::is_ascii_digit)
            && (digits == b"0" || digits[0] != b'0');
        if !canonical {
            return Err(bad);
        }
        let len = digits.iter().try_fold(0usize, |n, d| {
            n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
        });
        let rest = &self.input[self.pos..];
        match len.filter(|&len| rest.len() >= len) {
            Some(len) => {
                self.pos += len;
                Ok(&rest[..len])
            }
            None => Err(bad),
        }
    }
}

#[cfg(test)]
mod tests;
