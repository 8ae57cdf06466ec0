//! Tests of `peers`.

use super::*;

fn row(h: u8, n: u8, ip: &str, port: u16, last_seen: u32) -> PeerRow {
    PeerRow {
        info_hash: [h; 20],
        peer_id: [n; 20],
        ip: ip.parse().unwrap(),
        port,
        seeder: false,
        last_seen,
    }
}

#[test]
fn filters_parse_or_name_the_bad_value() {
    let h = "00112233445566778899AABBCCDDEEFF00112233";
    assert_eq!(parse_hash(h).unwrap()[0..2], [0x00, 0x11]);
    assert_eq!(parse_hash(h).unwrap()[19], 0x33);
    for bad in [
        "abc",
        &h[..39],
        &format!("{h}0"),
        "+0112233445566778899aabbccddeeff0011223",
        "+a112233445566778899aabbccddeeff00112233",
        "-a112233445566778899aabbccddeeff00112233",
        "é112233445566778899aabbccddeeff00112233",
    ] {
        let e = parse_hash(bad).unwrap_err();
        assert!(e.contains(bad), "{e}");
    }
    assert_eq!(parse_net("10.1.2.3/24").unwrap().to_string(), "10.1.2.0/24");
    assert_eq!(parse_net("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
    assert_eq!(
        parse_net("::ffff:10.1.2.3").unwrap().to_string(),
        "10.1.2.3/32"
    );
    assert_eq!(
        parse_net("::ffff:10.1.2.3/120").unwrap().to_string(),
        "10.1.2.0/24"
    );
    assert_eq!(
        parse_net("2001:db8::5/48").unwrap().to_string(),
        "2001:db8::/48"
    );
    assert!(parse_net("10.0.0.0/33")
        .unwrap_err()
        .contains("10.0.0.0/33"));
    assert!(parse_net("example.org").is_err());

    let q = |s: &str| Params::parse(s);
    assert!(matches!(q("hash=zz"), Err(WebError::BadRequest(m)) if m.contains("zz")));
    assert!(matches!(q("net=1.2.3"), Err(WebError::BadRequest(m)) if m.contains("1.2.3")));
    assert!(matches!(q("sort=size"), Err(WebError::BadRequest(m)) if m.contains("size")));
    assert!(matches!(q("dir=up"), Err(WebError::BadRequest(m)) if m.contains("up")));
    assert!(matches!(q("page=0"), Err(WebError::BadRequest(_))));
    let p = q("hash=&net=&page=3&sort=port").unwrap();
    assert_eq!(
        (p.filter, p.sort, p.desc, p.page),
        (Filter::default(), SortKey::Port, false, 3)
    );
    let p = q("").unwrap();
    assert_eq!((p.sort, p.desc, p.page), (SortKey::LastSeen, true, 1));
}

#[test]
fn filter_matches_and_round_trips_in_links() {
    let f = Filter {
        hash: Some([1; 20]),
        net: Some("10.0.0.0/24".parse().unwrap()),
    };
    assert!(f.matches(&[1; 20], &"10.0.0.9".parse().unwrap()));
    assert!(!f.matches(&[2; 20], &"10.0.0.9".parse().unwrap()));
    assert!(!f.matches(&[1; 20], &"10.0.1.9".parse().unwrap()));
    let p = Params {
        filter: f.clone(),
        sort: SortKey::Addr,
        desc: false,
        page: 1,
    };
    let link = p.href(SortKey::Port, true, 2);
    let back = Params::parse(link.split_once('?').unwrap().1).unwrap();
    assert_eq!(
        back,
        Params {
            filter: f,
            sort: SortKey::Port,
            desc: true,
            page: 2
        }
    );
}

#[test]
fn pages_are_slices_of_the_full_sort() {
    let rows: Vec<PeerRow> = (0..57u8)
        .map(|i| {
            row(
                i % 3,
                i,
                &format!("10.0.{}.{}", i % 5, i),
                1000 + u16::from(i % 7),
                u32::from(i % 11),
            )
        })
        .collect();
    for key in SortKey::ALL {
        for desc in [false, true] {
            let all = sort_rows(rows.clone(), key, desc, 0, usize::MAX);
            assert_eq!(all.len(), rows.len());
            let mut paged = Vec::new();
            for start in (0..60).step_by(10) {
                paged.extend(sort_rows(rows.clone(), key, desc, start, start + 10));
            }
            assert_eq!(paged, all, "{key:?} desc={desc}");
        }
    }
    let by_seen = sort_rows(rows.clone(), SortKey::LastSeen, true, 0, 5);
    assert!(by_seen.iter().all(|r| r.last_seen == 10));
    let by_addr = sort_rows(rows.clone(), SortKey::Addr, false, 0, 2);
    assert_eq!(by_addr[0].ip.to_string(), "10.0.0.0");
    assert!(sort_rows(rows.clone(), SortKey::Addr, false, 100, 150).is_empty());
    assert!(sort_rows(rows, SortKey::Addr, false, 0, 0).is_empty());
}
