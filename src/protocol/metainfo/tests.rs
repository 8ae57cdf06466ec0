use super::*;
use crate::hex;
use serde_bencode::value::Value as B;
use std::collections::HashMap;

/// The fixtures made by mktorrent, transmission-create and libtorrent, with the hashes that
/// tests/fixtures (../shared/fixtures/README.md) gives for them.
const FIXTURES: [(&str, &[u8], &str, Option<&str>); 4] = [
    (
        "v1-private",
        include_bytes!("../../../tests/fixtures/v1-private.torrent"),
        "466d846e88635a7aa032ca8cbe2d810495dea262",
        None,
    ),
    (
        "v1-public",
        include_bytes!("../../../tests/fixtures/v1-public.torrent"),
        "1802e2c90219193823a3b8ddb81839c95637b59e",
        None,
    ),
    (
        "v1-transmission-create",
        include_bytes!("../../../tests/fixtures/v1-transmission-create.torrent"),
        "a04067d6aeceee168468e71d691c758d7fa5a9db",
        None,
    ),
    (
        "hybrid-v1-v2",
        include_bytes!("../../../tests/fixtures/hybrid-v1-v2.torrent"),
        "ed5790779b59bf64be1415eb81854af639002ac0",
        Some("8ab16bf527dc9eb4ebb3d0c05db6eb8651ebe8ca"),
    ),
];

fn dict(entries: &[(&str, B)]) -> B {
    B::Dict(
        entries
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect::<HashMap<_, _>>(),
    )
}

fn s(text: &str) -> B {
    B::Bytes(text.as_bytes().to_vec())
}

fn int(n: i64) -> B {
    B::Int(n)
}

fn list(items: &[B]) -> B {
    B::List(items.to_vec())
}

fn encode(v: &B) -> Vec<u8> {
    serde_bencode::to_bytes(v).unwrap()
}

/// What serde_bencode (an independent decoder) reads from `key` of a dictionary.
fn get<'a>(d: &'a B, key: &str) -> Option<&'a B> {
    match d {
        B::Dict(m) => m.get(key.as_bytes()),
        _ => None,
    }
}

fn get_int(d: &B, key: &str) -> Option<i64> {
    match get(d, key) {
        Some(B::Int(n)) => Some(*n),
        _ => None,
    }
}

#[test]
fn every_fixture_gives_the_hashes_its_maker_announced() {
    for (name, bytes, v1, v2) in FIXTURES {
        let m = Metainfo::from_bytes(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            m.info_hash_v1.map(|h| hex::encode(&h)).as_deref(),
            Some(v1),
            "{name}"
        );
        assert_eq!(
            m.info_hash_v2_truncated()
                .map(|h| hex::encode(&h))
                .as_deref(),
            v2,
            "{name}"
        );
        let expected: Vec<String> = std::iter::once(v1).chain(v2).map(str::to_owned).collect();
        let got: Vec<String> = m.announce_hashes().iter().map(|h| hex::encode(h)).collect();
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn every_fixture_agrees_with_an_independent_decoder() {
    for (name, bytes, _, _) in FIXTURES {
        let m = Metainfo::from_bytes(bytes).unwrap();
        let top: B = serde_bencode::from_bytes(bytes).unwrap();
        let info = get(&top, "info").unwrap();
        let Some(B::Bytes(n)) = get(info, "name") else {
            panic!("{name}: no name")
        };
        assert_eq!(m.name.as_bytes(), n.as_slice(), "{name}");
        assert_eq!(Some(m.total_size as i64), get_int(info, "length"), "{name}");
        assert_eq!(
            Some(m.piece_length as i64),
            get_int(info, "piece length"),
            "{name}"
        );
        assert_eq!(m.private, get_int(info, "private") == Some(1), "{name}");
        if let Some(B::Bytes(p)) = get(info, "pieces") {
            assert_eq!(m.piece_count, p.len() as u64 / 20, "{name}");
        }
        let Some(B::Bytes(a)) = get(&top, "announce") else {
            panic!("{name}: no announce")
        };
        assert_eq!(
            m.tracker_urls().collect::<Vec<_>>(),
            [std::str::from_utf8(a).unwrap()],
            "{name}"
        );
        assert_eq!(m.creation_date, get_int(&top, "creation date"), "{name}");
        assert_eq!(m.files.len(), 1, "{name}");
        // The fixtures are canonical bencode, so a re-encoding hashes the same (an
        // independent check of "SHA-1 of the raw info dictionary").
        let v1 = sha1::Sha1::digest(encode(info));
        assert_eq!(m.info_hash_v1, Some(v1.into()), "{name}");
    }
}

#[test]
fn the_hybrid_fixture_is_v2_with_its_file_tree() {
    let (_, bytes, _, _) = FIXTURES[3];
    let m = Metainfo::from_bytes(bytes).unwrap();
    assert_eq!(m.meta_version, 2);
    let top: B = serde_bencode::from_bytes(bytes).unwrap();
    let v2 = sha2::Sha256::digest(encode(get(&top, "info").unwrap()));
    assert_eq!(m.info_hash_v2, Some(v2.into()));
    assert_eq!(m.files[0].path, ["payload.bin"]);
}

fn v1_multi() -> B {
    dict(&[
        ("announce", s("http://a.example/announce")),
        (
            "announce-list",
            list(&[
                list(&[s("http://b.example/announce"), s("udp://c.example:80")]),
                list(&[
                    s("http://a.example/announce"),
                    s("http://b.example/announce"),
                ]),
                list(&[]),
            ]),
        ),
        ("comment", s("made by hand")),
        ("created by", s("the test")),
        (
            "info",
            dict(&[
                ("name", s("Latin-1 \u{fffd}")),
                ("name.utf-8", s("Café")),
                ("piece length", int(16384)),
                ("pieces", B::Bytes(vec![7; 60])),
                (
                    "files",
                    list(&[
                        dict(&[("length", int(10000)), ("path", list(&[s("a.txt")]))]),
                        dict(&[
                            ("length", int(6384)),
                            ("attr", s("p")),
                            ("path", list(&[s(".pad"), s("6384")])),
                        ]),
                        dict(&[
                            ("length", int(20000)),
                            ("path", list(&[s("sub"), s("b.bin")])),
                        ]),
                        dict(&[
                            ("length", int(100)),
                            ("path", list(&[s("_____padding_file_0_")])),
                        ]),
                    ]),
                ),
            ]),
        ),
        ("url-list", s("http://seed.example/")),
    ])
}

#[test]
fn a_v1_multi_file_torrent_leaves_pad_files_out_of_the_payload() {
    let bytes = encode(&v1_multi());
    let m = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(m.name, "Café");
    let paths: Vec<String> = m.files.iter().map(FileEntry::display_path).collect();
    assert_eq!(paths, ["a.txt", "sub/b.bin"]);
    assert_eq!(m.total_size, 30000);
    assert_eq!((m.pad_files, m.pad_size), (2, 6484));
    assert_eq!(m.piece_count, 3);
    assert!(!m.private);
    assert_eq!(m.info_hash_v2, None);
    let info = get(&v1_multi(), "info").unwrap().clone();
    assert_eq!(
        m.info_hash_v1,
        Some(sha1::Sha1::digest(encode(&info)).into())
    );
    assert_eq!(m.announce_hashes(), vec![m.info_hash_v1.unwrap()]);
    // announce is in tier 2, so it is not repeated; b is kept once; the empty tier goes.
    assert_eq!(
        m.trackers,
        vec![
            vec![
                "http://b.example/announce".to_owned(),
                "udp://c.example:80".to_owned()
            ],
            vec!["http://a.example/announce".to_owned()],
        ]
    );
    assert_eq!(m.comment.as_deref(), Some("made by hand"));
    assert_eq!(m.created_by.as_deref(), Some("the test"));
    assert_eq!(m.url_list, ["http://seed.example/"]);
    assert_eq!(m.creation_date, None);
}

#[test]
fn an_announce_url_no_tier_has_comes_first() {
    let t = dict(&[
        ("announce", s("http://first.example/announce")),
        (
            "announce-list",
            list(&[list(&[s("udp://other.example:1")])]),
        ),
        (
            "info",
            dict(&[
                ("name", s("x")),
                ("length", int(1)),
                ("piece length", int(16384)),
                ("pieces", B::Bytes(vec![0; 20])),
            ]),
        ),
    ]);
    let m = Metainfo::from_bytes(&encode(&t)).unwrap();
    assert_eq!(
        m.tracker_urls().collect::<Vec<_>>(),
        ["http://first.example/announce", "udp://other.example:1"]
    );
}

fn v2_only() -> B {
    let file = |len: i64| {
        dict(&[(
            "",
            dict(&[("length", int(len)), ("pieces root", B::Bytes(vec![1; 32]))]),
        )])
    };
    dict(&[(
        "info",
        dict(&[
            ("name", s("album")),
            ("meta version", int(2)),
            ("piece length", int(16384)),
            ("private", int(1)),
            (
                "file tree",
                dict(&[
                    ("cover.jpg", file(16385)),
                    (
                        "disc 1",
                        dict(&[("01.flac", file(100)), ("02.flac", file(32768))]),
                    ),
                ]),
            ),
        ]),
    )])
}

#[test]
fn a_v2_only_torrent_has_only_the_sha256_hash() {
    let m = Metainfo::from_bytes(&encode(&v2_only())).unwrap();
    assert_eq!(m.info_hash_v1, None);
    let info = get(&v2_only(), "info").unwrap().clone();
    let full: [u8; 32] = sha2::Sha256::digest(encode(&info)).into();
    assert_eq!(m.info_hash_v2, Some(full));
    assert_eq!(
        m.announce_hashes(),
        vec![<[u8; 20]>::try_from(&full[..20]).unwrap()]
    );
    let paths: Vec<String> = m.files.iter().map(FileEntry::display_path).collect();
    assert_eq!(paths, ["cover.jpg", "disc 1/01.flac", "disc 1/02.flac"]);
    assert_eq!(m.total_size, 16385 + 100 + 32768);
    // v2 pieces do not span files: 2 + 1 + 2.
    assert_eq!(m.piece_count, 5);
    assert!(m.private);
    assert!(m.trackers.is_empty());
}

fn info_with(entries: &[(&str, B)]) -> Vec<u8> {
    encode(&dict(&[("info", dict(entries))]))
}

fn error(bytes: &[u8]) -> String {
    Metainfo::from_bytes(bytes)
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn malformed_torrents_are_refused_with_the_key_named() {
    let pieces = || ("pieces", B::Bytes(vec![0; 20]));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"not bencode".to_vec(),
            "not a torrent file: not valid bencode",
        ),
        (b"d4:info".to_vec(), "not valid bencode: the data ends"),
        (b"li1ee".to_vec(), "the top level is not a dictionary"),
        (encode(&dict(&[("announce", s("x"))])), "no info dictionary"),
        (
            encode(&dict(&[("info", s("x"))])),
            "info is not a dictionary",
        ),
        (
            info_with(&[("piece length", int(1)), ("length", int(1)), pieces()]),
            "info.name missing",
        ),
        (
            info_with(&[("name", s("x")), ("length", int(1)), pieces()]),
            "info.piece length missing",
        ),
        (
            info_with(&[
                ("name", s("x")),
                ("piece length", int(0)),
                ("length", int(1)),
                pieces(),
            ]),
            "info.piece length is not a positive integer",
        ),
        (
            info_with(&[
                ("name", s("x")),
                ("piece length", s("1")),
                ("length", int(1)),
                pieces(),
            ]),
            "info.piece length is not a non-negative integer",
        ),
        (
            info_with(&[
                ("name", s("x")),
                ("piece length", int(1)),
                ("length", int(1)),
                ("pieces", B::Bytes(vec![0; 21])),
            ]),
            "info.pieces is not a multiple of 20 bytes long",
        ),
        (
            info_with(&[
                ("name", s("x")),
                ("piece length", int(1)),
                ("length", int(1)),
            ]),
            "neither v1 pieces nor meta version 2",
        ),
        (
            info_with(&[
                ("name", s("x")),
                ("piece length", int(1)),
                ("meta version", int(3)),
            ]),
            "info.meta version is not 1 or 2",
        ),
        (
            info_with(&[
                ("name", s("x")),
                ("piece length", int(1)),
                ("meta version", int(2)),
            ]),
            "info.file tree missing",
        ),
        (
            info_with(&[("name", s("x")), ("piece length", int(1)), pieces()]),
            "info.length or info.files missing",
        ),
        (
            info_with(&[
                ("name", s("x")),
                ("piece length", int(1)),
                ("length", int(-1)),
                pieces(),
            ]),
            "info.length is not a non-negative integer",
        ),
        (
            info_with(&[
                ("name", s("x")),
                ("piece length", int(1)),
                pieces(),
                ("files", list(&[dict(&[("path", list(&[s("a")]))])])),
            ]),
            "info.files[0].length missing",
        ),
        (
            info_with(&[
                ("name", s("x")),
                ("piece length", int(1)),
                pieces(),
                (
                    "files",
                    list(&[dict(&[("length", int(1)), ("path", list(&[]))])]),
                ),
            ]),
            "info.files[0].path is not a non-empty list",
        ),
        (
            info_with(&[
                ("name", s("x")),
                ("piece length", int(1)),
                pieces(),
                (
                    "files",
                    list(&[
                        dict(&[("length", int(i64::MAX)), ("path", list(&[s("a")]))]),
                        dict(&[("length", int(i64::MAX)), ("path", list(&[s("b")]))]),
                        dict(&[("length", int(i64::MAX)), ("path", list(&[s("c")]))]),
                    ]),
                ),
            ]),
            "more than 2^64 bytes",
        ),
        (
            info_with(&[
                ("name", s("x")),
                ("piece length", int(1)),
                ("meta version", int(2)),
                ("file tree", dict(&[("a", dict(&[("", dict(&[]))]))])),
            ]),
            "info.file tree/a.length missing",
        ),
    ];
    for (bytes, expected) in cases {
        let message = error(&bytes);
        assert!(
            message.contains(expected),
            "{:?}: {message:?} lacks {expected:?}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(!message.contains('\n'));
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    use proptest::prelude::*;
    let hybrid = FIXTURES[3].1;
    proptest!(|(cut in 0..hybrid.len(), flip in 0..hybrid.len(), byte in any::<u8>())| {
        let mut b = hybrid[..cut].to_vec();
        let _ = Metainfo::from_bytes(&b);
        b = hybrid.to_vec();
        b[flip] = byte;
        let _ = Metainfo::from_bytes(&b);
    });
}
