use super::*;
use proptest::prelude::*;
use serde_bencode::value::Value as Reference;
use std::collections::HashMap;

fn err(input: &[u8]) -> DecodeError {
    decode(input).expect_err("must be refused")
}

#[test]
fn reads_every_kind_of_value() {
    let v = decode(b"d3:bari-42e3:fool4:spami0eee").unwrap();
    let d = v.as_dict().unwrap();
    assert_eq!(d.int("bar"), Some(-42));
    let foo = d.list("foo").unwrap();
    assert_eq!(foo, &[Value::Bytes(b"spam"), Value::Int(0)]);
    assert_eq!(d.raw(), b"d3:bari-42e3:fool4:spami0eee");
    assert_eq!(d.get("missing"), None);
}

#[test]
fn a_nested_dictionary_keeps_its_own_bytes() {
    let input = b"d8:announce3:url4:infod4:name1:x6:lengthi5eee";
    let v = decode(input).unwrap();
    let info = v.as_dict().unwrap().dict("info").unwrap();
    assert_eq!(info.raw(), b"d4:name1:x6:lengthi5ee");
    assert_eq!(info.text("name").as_deref(), Some("x"));
}

#[test]
fn keys_out_of_order_or_repeated_are_read_and_the_first_wins() {
    let v = decode(b"d1:bi2e1:ai1e1:ai9ee").unwrap();
    let d = v.as_dict().unwrap();
    assert_eq!(d.int("a"), Some(1));
    assert_eq!(d.entries().len(), 3);
}

#[test]
fn integers_must_be_canonical() {
    for bad in [
        &b"ie"[..],
        b"i-0e",
        b"i03e",
        b"i-e",
        b"i1.5e",
        b"i 1e",
        b"i9223372036854775808e",
    ] {
        assert_eq!(err(bad).kind, DecodeErrorKind::BadInteger, "{bad:?}");
    }
    assert_eq!(
        decode(b"i-9223372036854775808e").unwrap(),
        Value::Int(i64::MIN)
    );
    assert_eq!(decode(b"i0e").unwrap(), Value::Int(0));
}

#[test]
fn string_lengths_must_be_canonical_and_fit() {
    assert_eq!(err(b"03:abc").kind, DecodeErrorKind::BadLength);
    assert_eq!(err(b"4:abc").kind, DecodeErrorKind::BadLength);
    assert_eq!(
        err(b"99999999999999999999:a").kind,
        DecodeErrorKind::BadLength
    );
    assert_eq!(decode(b"0:").unwrap(), Value::Bytes(b""));
}

#[test]
fn truncated_and_trailing_input_is_refused_with_the_offset() {
    assert_eq!(err(b"").kind, DecodeErrorKind::UnexpectedEnd);
    assert_eq!(err(b"l4:spam").kind, DecodeErrorKind::UnexpectedEnd);
    assert_eq!(err(b"i12").kind, DecodeErrorKind::UnexpectedEnd);
    let e = err(b"i1ex");
    assert_eq!((e.kind, e.offset), (DecodeErrorKind::TrailingBytes, 3));
    assert_eq!(
        e.to_string(),
        "not valid bencode: extra bytes after the value at byte 3"
    );
    let e = err(b"di1ei2ee");
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::UnexpectedByte(b'i'), 1)
    );
    assert_eq!(err(b"<html>").kind, DecodeErrorKind::UnexpectedByte(b'<'));
}

#[test]
fn decode_prefix_says_where_the_value_ends() {
    let (v, used) = decode_prefix(b"i7etrailing").unwrap();
    assert_eq!((v, used), (Value::Int(7), 3));
}

#[test]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    let ok = [vec![b'l'; MAX_DEPTH], vec![b'e'; MAX_DEPTH]].concat();
    assert!(decode(&ok).is_ok());
    let deep = vec![b'l'; 1_000_000];
    assert_eq!(err(&deep).kind, DecodeErrorKind::TooDeep);
}

/// Our value as serde_bencode's, to compare with the reference decoder.
fn to_reference(v: &Value<'_>) -> Reference {
    match v {
        Value::Int(n) => Reference::Int(*n),
        Value::Bytes(b) => Reference::Bytes(b.to_vec()),
        Value::List(l) => Reference::List(l.iter().map(to_reference).collect()),
        Value::Dict(d) => Reference::Dict(
            d.entries()
                .iter()
                .map(|(k, v)| (k.to_vec(), to_reference(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

fn reference_value() -> impl Strategy<Value = Reference> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Reference::Int),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Reference::Bytes),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Reference::List),
            proptest::collection::hash_map(
                proptest::collection::vec(any::<u8>(), 0..8),
                inner,
                0..6
            )
            .prop_map(Reference::Dict),
        ]
    })
}

/// Every dictionary's raw bytes, depth first.
fn raw_dicts<'a>(v: &Value<'a>, out: &mut Vec<&'a [u8]>) {
    match v {
        Value::List(l) => l.iter().for_each(|i| raw_dicts(i, out)),
        Value::Dict(d) => {
            out.push(d.raw());
            d.entries().iter().for_each(|(_, v)| raw_dicts(v, out));
        }
        _ => {}
    }
}

proptest! {
    /// serde_bencode encodes; the reader must give back the same value, and each dictionary's
    /// raw bytes must re-decode on their own to that dictionary.
    #[test]
    fn reads_what_serde_bencode_writes(value in reference_value()) {
        let bytes = serde_bencode::to_bytes(&value).unwrap();
        let ours = decode(&bytes).unwrap();
        prop_assert_eq!(to_reference(&ours), value);
        let mut raws = Vec::new();
        raw_dicts(&ours, &mut raws);
        for raw in raws {
            let again = decode(raw).unwrap();
            prop_assert_eq!(again.as_dict().unwrap().raw(), raw);
        }
    }

    /// Arbitrary bytes never panic, and whatever is accepted matches serde_bencode's reading.
    #[test]
    fn never_panics_and_agrees_with_the_reference(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let (Ok(ours), Ok(theirs)) = (decode(&bytes), serde_bencode::from_bytes::<Reference>(&bytes)) {
            // serde_bencode keeps the last of a repeated key, this reader the first.
            if !has_repeated_key(&ours) {
                prop_assert_eq!(to_reference(&ours), theirs);
            }
        }
    }
}

fn has_repeated_key(v: &Value<'_>) -> bool {
    match v {
        Value::List(l) => l.iter().any(has_repeated_key),
        Value::Dict(d) => {
            let e = d.entries();
            e.iter()
                .enumerate()
                .any(|(i, (k, _))| e[..i].iter().any(|(k2, _)| k2 == k))
                || e.iter().any(|(_, v)| has_repeated_key(v))
        }
        _ => false,
    }
}
