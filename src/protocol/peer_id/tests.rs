//! Real peer_ids captured from clients (see `tests/fixtures/client-announces.tsv`, whose
//! User-Agent column gives the true version), one row per scheme, and property tests that
//! arbitrary bytes never panic or leak unprintable bytes into a version.

use super::*;
use proptest::prelude::*;

/// `prefix` padded to 20 bytes with random-looking filler.
fn id(prefix: &[u8]) -> [u8; 20] {
    let mut out = *b"Zq3!x9Lk0pWm7rT2vB5n";
    out[..prefix.len()].copy_from_slice(prefix);
    out
}

fn exact(bytes: &[u8]) -> [u8; 20] {
    bytes.try_into().expect("a real peer_id is 20 bytes")
}

fn check(peer_id: [u8; 20], name: &str, version: &str) {
    let got = client_software(&peer_id);
    assert_eq!(
        (got.name, got.version.as_str()),
        (name, version),
        "peer_id {:?}",
        String::from_utf8_lossy(&peer_id)
    );
}

#[test]
fn real_peer_ids_from_the_fixture() {
    let rows: &[(&[u8], &str, &str)] = &[
        (b"-TR3000-0qf3wu14q2jm", "Transmission", "3.00"),
        (b"-qB4520-!EYzUIYz4!gq", "qBittorrent", "4.5.2"),
        (b"-LT2080-SuuDFwVQFdKp", "libtorrent (Rasterbar)", "2.0.8"),
        (
            b"-lt0D80-yH:\x88\xCF\xAC\x8B]\xC1\x9DlL",
            "rTorrent (libTorrent)",
            "0.13.8",
        ),
        (
            b"-CD0303-\x12\xAA\xE3\x87\x9C\x8DCx\x9CY\xF7\x14",
            "Enhanced CTorrent",
            "3.3",
        ),
        (
            b"A2-1-36-0-\\\xD3y\xD2\xEAD\x86\x9Aw\x9F",
            "aria2",
            "1.36.0",
        ),
        (b"A2-1-36-0-~\x14v\x1CIn\x0C\xE2\x16\xE6", "aria2", "1.36.0"),
        (b"-WW0001-abcdefghijkl", "WebTorrent", "0.1"),
    ];
    for &(peer_id, name, version) in rows {
        check(exact(peer_id), name, version);
    }
}

#[test]
fn azureus_style_schemes() {
    let rows: &[(&[u8], &str, &str)] = &[
        // Transmission's three eras.
        (b"-TR0006-", "Transmission", "0.6"),
        (b"-TR0072-", "Transmission", "0.72"),
        (b"-TR111Z-", "Transmission", "1.11+"),
        (b"-TR2940-", "Transmission", "2.94"),
        (b"-TR4050-", "Transmission", "4.0.5"),
        (b"-TR400B-", "Transmission", "4.0.0 beta"),
        (b"-TR4060-", "Transmission", "4.0.6"),
        // libtorrent-based: base-62 components, fourth character a tag.
        (b"-qB46A0-", "qBittorrent", "4.6.10"),
        (b"-LT1217-", "libtorrent (Rasterbar)", "1.2.1"),
        (b"-FD6130-", "Free Download Manager", "6.1.3"),
        (b"-A~0105-", "Ares", "0.1.0"),
        // The generic four digits.
        (b"-AZ5770-", "Vuze (Azureus)", "5.7.7.0"),
        (b"-BI3600-", "BiglyBT", "3.6.0.0"),
        (b"-XL0012-", "Xunlei", "0.0.1.2"),
        (b"-SD0100-", "Thunder", "0.1.0.0"),
        // Hundredths and plain major.minor.
        (b"-BC0103-", "BitComet", "1.03"),
        (b"-BC0201-", "BitComet", "2.01"),
        (b"-TX0291-", "Tixati", "2.91"),
        (b"-WW0102-", "WebTorrent", "1.2"),
        (b"-WW0200-", "WebTorrent", "2.0"),
        // µTorrent family: hex digits and a release letter, or a two-digit patch.
        (b"-UT355B-", "µTorrent", "3.5.5 beta"),
        (b"-UT3550-", "µTorrent", "3.5.5"),
        (b"-UT2210B", "µTorrent", "2.2.10 beta"),
        (b"-UMA100-", "µTorrent Mac", "10.1.0"),
        (b"-BT7A00-", "BitTorrent", "7.10.0"),
        // Deluge 2 release letters and Deluge 1's fourth digit.
        (b"-DE211s-", "Deluge", "2.1.1"),
        (b"-DE201b-", "Deluge", "2.0.1 beta"),
        (b"-DE200D-", "Deluge", "2.0.0 dev"),
        (b"-DE13F0-", "Deluge", "1.3.15"),
        // KTorrent stages.
        (b"-KT22D1-", "KTorrent", "2.2 dev 1"),
        (b"-KT22R3-", "KTorrent", "2.2 rc 3"),
        (b"-KT4310-", "KTorrent", "4.3.1"),
        // Written out, and none at all.
        (b"-ML2.7.2-", "MLDonkey", "2.7.2"),
        (b"-LW0001-", "LimeWire", ""),
    ];
    for &(prefix, name, version) in rows {
        check(id(prefix), name, version);
    }
}

#[test]
fn other_styles() {
    let rows: &[(&[u8], &str, &str)] = &[
        (b"M4-3-6--", "BitTorrent (Mainline)", "4.3.6"),
        (b"M7-10-2-", "BitTorrent (Mainline)", "7.10.2"),
        (b"Q1-10-0-", "Queen Bee", "1.10.0"),
        (b"S58B-----", "Shad0w", "5.8.11"),
        (b"T03I-----", "BitTornado", "0.3.18"),
        (b"A310-----", "ABC", "3.1.0"),
        (b"TIX0291-", "Tixati", "2.91"),
        (b"XBT054d-", "XBT Client", "0.5.4 debug"),
        (b"exbc\x00\x3aLORD", "BitLord", "0.58"),
        (b"exbc\x00\x3a", "BitComet", "0.58"),
        (b"aria2-", "aria2", ""),
    ];
    for &(prefix, name, version) in rows {
        check(id(prefix), name, version);
    }
}

#[test]
fn unrecognised_ids() {
    // An unknown Azureus-style code keeps its prefix so the dashboard can group it.
    check(id(b"-ZZ1234-"), "Unknown", "-ZZ1234-");
    // A known code with bytes that do not fit its scheme keeps the name only.
    check(id(b"-TR\xFF\xFE00-"), "Transmission", "");
    check(id(b"-qB4-2!-"), "qBittorrent", "");
    // Not Azureus style once the shape breaks, and nothing at all from random bytes.
    check(id(b"-ZZ1\x0034-"), "Unknown", "");
    check(id(b"-ZZ12345"), "Unknown", "");
    check([0u8; 20], "Unknown", "");
    check([0xFF; 20], "Unknown", "");
    // Near misses of the other styles.
    check(id(b"M4-3-6-x"), "Unknown", "");
    check(id(b"M4-3-6666"), "Unknown", "");
    check(id(b"S5-8-----"), "Unknown", "");
    check(id(b"S--------"), "Unknown", "");
    check(id(b"A2-x-36-0-"), "aria2", "");
}

#[test]
fn display_joins_name_and_version() {
    let named = ClientSoftware {
        name: "Transmission",
        version: "3.00".into(),
    };
    assert_eq!(named.display(), "Transmission 3.00");
    let bare = ClientSoftware {
        name: "LimeWire",
        version: String::new(),
    };
    assert_eq!(bare.display(), "LimeWire");
}

#[test]
fn azureus_table_is_sorted_unique_and_large() {
    assert!(AZUREUS.len() >= 40);
    assert!(
        AZUREUS.windows(2).all(|w| w[0].0 < w[1].0),
        "binary search needs strictly ascending codes"
    );
    for (code, name, _) in AZUREUS {
        assert!(!name.is_empty() && *name != UNKNOWN, "{code:?}");
    }
}

fn printable(s: &str) -> bool {
    s.bytes().all(|b| (b' '..=b'~').contains(&b))
}

proptest! {
    #[test]
    fn any_bytes_give_a_printable_version(peer_id in any::<[u8; 20]>()) {
        let got = client_software(&peer_id);
        prop_assert!(printable(&got.version), "{:?}", got);
        prop_assert!(!got.name.is_empty());
    }

    #[test]
    fn every_known_code_survives_any_version_bytes(
        entry in 0..AZUREUS.len(),
        tail in any::<[u8; 17]>(),
    ) {
        let mut peer_id = [0u8; 20];
        peer_id[0] = b'-';
        peer_id[1..3].copy_from_slice(&AZUREUS[entry].0);
        peer_id[3..].copy_from_slice(&tail);
        let got = client_software(&peer_id);
        prop_assert_eq!(got.name, AZUREUS[entry].1);
        prop_assert!(printable(&got.version), "{:?}", got);
    }

    #[test]
    fn styled_prefixes_with_random_digits_never_panic(
        lead in prop::sample::select(vec![&b"M"[..], b"Q", b"A2-", b"S", b"T", b"TIX", b"XBT", b"exbc"]),
        body in proptest::collection::vec(
            prop::sample::select(b"0123456789-.AZaz~".to_vec()), 19),
    ) {
        let mut peer_id = [0u8; 20];
        peer_id[..lead.len()].copy_from_slice(lead);
        peer_id[lead.len()..].copy_from_slice(&body[..20 - lead.len()]);
        prop_assert!(printable(&client_software(&peer_id).version));
    }
}

#[test]
fn the_query_tools_own_peer_id_is_named() {
    // `retracker query` announces with this prefix; the dashboard should not call it unknown.
    let ours = crate::client::AnnounceParams::random_peer_id();
    check(ours, "retracker query", "0.1.0.0");
}
