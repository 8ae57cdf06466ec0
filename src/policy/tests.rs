//! The table of cases for [`resolve`] and [`may_trigger_cleanup`], and a property test that
//! headers from anyone but a trusted proxy never matter.
//!
//! Every row is chosen so that a plausible wrong implementation gives a different answer (e.g.
//! the "forged header" rows use a socket that *is* a trusted proxy address, so only the mode
//! stops the header from being believed).

use super::*;
use proptest::prelude::*;
use ReportedIpRejection as R;

/// Trusted proxies.
const P1: &str = "10.0.0.1";
const P2: &str = "10.0.0.2";
const P6: &str = "2001:db8:ffff::1";
/// The real client.
const C: &str = "198.51.100.7";
/// An outsider connecting directly.
const F: &str = "198.51.100.99";
/// An address someone would like to pass for.
const S: &str = "192.0.2.1";
/// A reported address that is acceptable on its own.
const V: &str = "198.51.100.50";
/// In `ignore_ip`.
const BAD: &str = "203.0.113.66";

/// Proxy mode with both headers enabled, `ip=` believed, nothing refused but [`BAD`].
fn base() -> AddressPolicy {
    AddressPolicy {
        mode: Mode::Proxy,
        trusted_proxies: nets("10.0.0.1, 10.0.0.2, 2001:db8:ffff::1"),
        use_x_real_ip: true,
        use_x_forwarded_for: true,
        ignore_reported_ip: false,
        verify_reported_ip: false,
        allow_internal_ip: false,
        internal_networks: nets("10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7"),
        ignore_ip: nets(BAD),
        allowed_networks: Networks::default(),
    }
}

fn nets(s: &str) -> Networks {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Policy tweaks; plain `fn`s so that a row stays one expression.
type Tweak = fn(&mut AddressPolicy);
fn none(_: &mut AddressPolicy) {}
fn direct(p: &mut AddressPolicy) {
    p.mode = Mode::Direct;
}
fn direct_verify(p: &mut AddressPolicy) {
    p.mode = Mode::Direct;
    p.verify_reported_ip = true;
}
fn no_real_ip(p: &mut AddressPolicy) {
    p.use_x_real_ip = false;
}
fn no_xff(p: &mut AddressPolicy) {
    p.use_x_forwarded_for = false;
}
fn no_headers(p: &mut AddressPolicy) {
    p.use_x_real_ip = false;
    p.use_x_forwarded_for = false;
}
fn verify(p: &mut AddressPolicy) {
    p.verify_reported_ip = true;
}
fn ignore_reported(p: &mut AddressPolicy) {
    p.ignore_reported_ip = true;
}
fn allow_internal(p: &mut AddressPolicy) {
    p.allow_internal_ip = true;
}
fn allowed_only(p: &mut AddressPolicy) {
    p.allowed_networks = nets("198.51.100.0/24");
}
fn direct_allowed_only(p: &mut AddressPolicy) {
    p.mode = Mode::Direct;
    p.allowed_networks = nets("198.51.100.0/24");
}

/// What a row expects; addresses as text so the table reads like a table.
#[derive(Debug)]
enum Want {
    /// `Ok` with this client, peer and rejection.
    Ok(&'static str, &'static str, Option<ReportedIpRejection>),
    NoProxyHeader,
    Ignored(&'static str),
    NotAllowed(&'static str),
}

/// Client = peer, nothing rejected.
fn ok(client: &'static str) -> Want {
    Want::Ok(client, client, None)
}
/// `ip=` accepted.
fn peer(client: &'static str, peer: &'static str) -> Want {
    Want::Ok(client, peer, None)
}
/// `ip=` rejected for `why`; the peer falls back to the client.
fn rejected(client: &'static str, why: ReportedIpRejection) -> Want {
    Want::Ok(client, client, Some(why))
}

impl Want {
    fn to_result(&self) -> Result<Resolved, AddressError> {
        match *self {
            Want::Ok(client, peer, reported_ip_rejected) => Ok(Resolved {
                client: ip(client),
                peer: ip(peer),
                reported_ip_rejected,
            }),
            Want::NoProxyHeader => Err(AddressError::NoProxyHeader),
            Want::Ignored(a) => Err(AddressError::Ignored(ip(a))),
            Want::NotAllowed(a) => Err(AddressError::NotAllowed(ip(a))),
        }
    }
}

/// One row: name, policy tweak, socket, X-Real-IP, X-Forwarded-For values, ip=, expected.
type Row = (
    &'static str,
    Tweak,
    &'static str,
    Option<&'static [u8]>,
    &'static [&'static [u8]],
    Option<&'static str>,
    Want,
);

#[rustfmt::skip]
fn table() -> Vec<Row> {
    vec![
        // --- direct mode: the socket address, whatever the headers say
        ("direct: socket address", direct, C, None, &[], None, ok(C)),
        ("direct: forged headers ignored even from a proxy address", direct, P1, Some(b"192.0.2.1"), &[b"192.0.2.1"], None, ok(P1)),
        ("direct: IPv4-mapped socket normalised", direct, "::ffff:198.51.100.7", None, &[], None, ok(C)),
        ("direct: XFF does not verify ip=", direct_verify, P1, None, &[b"198.51.100.50"], Some(V), rejected(P1, R::NotVerified)),
        // --- proxy mode, socket not a trusted proxy: headers ignored
        ("proxy: untrusted socket, headers ignored", none, F, Some(b"192.0.2.1"), &[b"192.0.2.1, 10.0.0.1"], None, ok(F)),
        ("proxy: untrusted socket without headers is no error", none, F, None, &[], None, ok(F)),
        ("proxy: untrusted socket, mapped, normalised", none, "::ffff:198.51.100.99", Some(b"192.0.2.1"), &[], None, ok(F)),
        ("proxy: untrusted socket's XFF does not verify ip=", verify, F, None, &[b"198.51.100.50"], Some(V), rejected(F, R::NotVerified)),
        // --- X-Real-IP
        ("real-ip: preferred over XFF", none, P1, Some(b"198.51.100.7"), &[b"192.0.2.1"], None, ok(C)),
        ("real-ip: disabled, XFF used", no_real_ip, P1, Some(b"192.0.2.1"), &[b"198.51.100.7"], None, ok(C)),
        ("real-ip: garbage falls back to XFF", none, P1, Some(b"not-an-ip"), &[b"198.51.100.7"], None, ok(C)),
        ("real-ip: non-UTF-8 falls back to XFF", none, P1, Some(b"\xff\xfe"), &[b"198.51.100.7"], None, ok(C)),
        ("real-ip: a list is garbage", none, P1, Some(b"192.0.2.1, 198.51.100.9"), &[b"198.51.100.7"], None, ok(C)),
        ("real-ip: 0.0.0.0 is garbage", none, P1, Some(b"0.0.0.0"), &[b"198.51.100.7"], None, ok(C)),
        ("real-ip: garbage and XFF disabled", no_xff, P1, Some(b"garbage"), &[b"198.51.100.7"], None, Want::NoProxyHeader),
        ("real-ip: spaces and IPv4-mapped", none, P1, Some(b" ::ffff:198.51.100.7 "), &[], None, ok(C)),
        ("real-ip: IPv6 from an IPv6 proxy", none, P6, Some(b"2001:db8::7"), &[], None, ok("2001:db8::7")),
        // --- X-Forwarded-For
        ("xff: right-most untrusted after two trusted hops", none, P1, None, &[b"192.0.2.1, 198.51.100.7, 10.0.0.2, 10.0.0.1"], None, ok(C)),
        ("xff: several headers are one chain", none, P1, None, &[b"192.0.2.1", b"198.51.100.7, 10.0.0.2", b"10.0.0.1"], None, ok(C)),
        ("xff: the last header holds the right-most entry", none, P1, None, &[b"192.0.2.1", b"198.51.100.7"], None, ok(C)),
        ("xff: ports stripped", none, P1, None, &[b"192.0.2.1:1, 198.51.100.7:5678, 10.0.0.2:443"], None, ok(C)),
        ("xff: IPv6 brackets and ports", none, P6, None, &[b"[2001:db8::bad]:1, [2001:db8::7]:80, [2001:db8:ffff::1]"], None, ok("2001:db8::7")),
        ("xff: bare IPv6", none, P1, None, &[b"2001:db8::bad,2001:db8::7"], None, ok("2001:db8::7")),
        ("xff: junk on the left is never reached", none, P1, None, &[b"<script>, unknown, 198.51.100.7"], None, ok(C)),
        ("xff: walk stops at junk after a trusted hop", none, P1, None, &[b"198.51.100.66, junk, 10.0.0.2"], None, ok(P2)),
        ("xff: non-UTF-8 stops the walk like junk", none, P1, None, &[b"198.51.100.66, \xc3\x28, 10.0.0.2"], None, ok(P2)),
        ("xff: non-UTF-8 on the left is harmless", none, P1, None, &[b"\xff\xfe\xfd, 198.51.100.7"], None, ok(C)),
        ("xff: 0.0.0.0 is junk", none, P1, None, &[b"198.51.100.66, 0.0.0.0, 10.0.0.2"], None, ok(P2)),
        ("xff: all trusted, left-most reached", none, P1, None, &[b"10.0.0.2, 10.0.0.1"], None, ok(P2)),
        ("xff: right-most entry junk", none, P1, None, &[b"198.51.100.7, junk"], None, Want::NoProxyHeader),
        ("xff: empty header", none, P1, None, &[b""], None, Want::NoProxyHeader),
        ("xff: empty entries skipped", none, P1, None, &[b"198.51.100.7, ,10.0.0.2,", b" "], None, ok(C)),
        ("xff: disabled", no_xff, P1, None, &[b"198.51.100.7"], None, Want::NoProxyHeader),
        ("xff: IPv4-mapped entries, trusted hop recognised", none, P1, None, &[b"::ffff:198.51.100.7, ::ffff:10.0.0.2"], None, ok(C)),
        ("proxy: trusted socket, no headers", none, P1, None, &[], None, Want::NoProxyHeader),
        ("proxy: trusted IPv4-mapped socket, no headers", none, "::ffff:10.0.0.1", None, &[], None, Want::NoProxyHeader),
        ("proxy: both headers disabled", no_headers, P1, Some(b"198.51.100.7"), &[b"198.51.100.7"], None, Want::NoProxyHeader),
        // --- refusals of the client address
        ("refused: ignore_ip from XFF", none, P1, None, &[b"203.0.113.66"], None, Want::Ignored(BAD)),
        ("refused: ignore_ip, direct, mapped socket", direct, "::ffff:203.0.113.66", None, &[], None, Want::Ignored(BAD)),
        ("refused: a forged header cannot escape ignore_ip", none, BAD, Some(b"198.51.100.7"), &[b"198.51.100.7"], None, Want::Ignored(BAD)),
        ("refused: ip= cannot escape ignore_ip", direct, BAD, None, &[], Some(C), Want::Ignored(BAD)),
        ("refused: outside allowed_networks", allowed_only, P1, None, &[b"192.0.2.1"], None, Want::NotAllowed(S)),
        ("allowed: inside allowed_networks via a proxy outside it", allowed_only, P1, None, &[b"198.51.100.7"], None, ok(C)),
        ("refused: ip= cannot escape allowed_networks", direct_allowed_only, S, None, &[], Some(V), Want::NotAllowed(S)),
        // --- reported ip=
        ("ip=: accepted", direct, C, None, &[], Some(V), peer(C, V)),
        ("ip=: IPv6 accepted", direct, C, None, &[], Some("2001:db8::50"), peer(C, "2001:db8::50")),
        ("ip=: IPv4-mapped normalised", direct, C, None, &[], Some("::ffff:198.51.100.50"), peer(C, V)),
        ("ip=: ignore_reported_ip", ignore_reported, F, None, &[], Some(V), rejected(F, R::Ignored)),
        ("ip=: ignored before invalid", ignore_reported, F, None, &[], Some("999.1.1.1"), rejected(F, R::Ignored)),
        ("ip=: 999.1.1.1 invalid", none, F, None, &[], Some("999.1.1.1"), rejected(F, R::Invalid)),
        ("ip=: host name never resolved", none, F, None, &[], Some("localhost"), rejected(F, R::Invalid)),
        ("ip=: 0.0.0.0 invalid", none, F, None, &[], Some("0.0.0.0"), rejected(F, R::Invalid)),
        ("ip=: :: invalid", none, F, None, &[], Some("::"), rejected(F, R::Invalid)),
        ("ip=: multicast invalid", none, F, None, &[], Some("239.1.1.1"), rejected(F, R::Invalid)),
        ("ip=: broadcast invalid", none, F, None, &[], Some("255.255.255.255"), rejected(F, R::Invalid)),
        ("ip=: port invalid", none, F, None, &[], Some("198.51.100.50:6881"), rejected(F, R::Invalid)),
        ("ip=: invalid before not verified", verify, P1, None, &[b"198.51.100.7"], Some("999.1.1.1"), rejected(C, R::Invalid)),
        ("ip=: left of the client is client-written, not verified", verify, P1, None, &[b"198.51.100.50, 198.51.100.7"], Some(V), rejected(C, R::NotVerified)),
        ("ip=: verified when a trusted proxy wrote it", verify, P1, None, &[b"198.51.100.50, 198.51.100.7"], Some(C), peer(C, C)),
        ("ip=: verified across headers, port, mapped", verify, P1, None, &[b"198.51.100.50", b"[::ffff:198.51.100.7]:1234"], Some(C), peer(C, C)),
        ("ip=: not in the trusted XFF", verify, P1, None, &[b"192.0.2.1, 198.51.100.7"], Some(V), rejected(C, R::NotVerified)),
        ("ip=: X-Real-IP does not verify", verify, P1, Some(b"198.51.100.50"), &[], Some(V), rejected(V, R::NotVerified)),
        ("ip=: not verified before internal", verify, P1, None, &[b"198.51.100.7"], Some("192.168.1.5"), rejected(C, R::NotVerified)),
        ("ip=: internal rejected", none, F, None, &[], Some("192.168.1.5"), rejected(F, R::Internal)),
        ("ip=: internal IPv6 ULA rejected", none, F, None, &[], Some("fd00::5"), rejected(F, R::Internal)),
        ("ip=: internal allowed", allow_internal, F, None, &[], Some("::ffff:192.168.1.5"), peer(F, "192.168.1.5")),
        ("ip=: verified internal still internal", verify, P1, None, &[b"198.51.100.7, 192.168.1.5"], Some("192.168.1.5"), rejected("192.168.1.5", R::Internal)),
        ("ip=: in ignore_ip", none, F, None, &[], Some(BAD), rejected(F, R::NotAllowed)),
        ("ip=: outside allowed_networks", allowed_only, F, None, &[], Some(S), rejected(F, R::NotAllowed)),
        ("ip=: inside allowed_networks", allowed_only, F, None, &[], Some(V), peer(F, V)),
        ("ip=: internal checked before allowed", allowed_only, F, None, &[], Some("192.168.1.5"), rejected(F, R::Internal)),
    ]
}

#[test]
fn policy_resolve_table() {
    let rows = table();
    let mut failures = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (name, tweak, socket, real_ip, xff, reported, want) in &rows {
        assert!(names.insert(*name), "duplicate row name {name:?}");
        let mut policy = base();
        tweak(&mut policy);
        let headers = ProxyHeaders {
            x_real_ip: *real_ip,
            x_forwarded_for: xff.to_vec(),
        };
        let got = resolve(&policy, ip(socket), &headers, *reported);
        let want = want.to_result();
        if got != want {
            failures.push(format!("{name}:\n    got  {got:?}\n    want {want:?}"));
        }
    }
    assert!(rows.len() >= 35, "the table shrank to {} rows", rows.len());
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn policy_cleanup_trigger() {
    let policy = base();
    let cases = [
        ("127.0.0.1", true),
        ("127.9.9.9", true),
        ("::1", true),
        ("::ffff:127.0.0.1", true),
        (P1, true),
        ("::ffff:10.0.0.1", true),
        (P6, true),
        // Internal but not a proxy: being on the LAN is not enough.
        ("10.0.0.3", false),
        (F, false),
        ("2001:db8::7", false),
    ];
    for (socket, want) in cases {
        assert_eq!(may_trigger_cleanup(&policy, ip(socket)), want, "{socket}");
    }
}

#[test]
fn policy_cleanup_ignores_forged_loopback_header() {
    // An outsider claiming to be localhost: resolve keeps its real address, and the cleanup
    // decision, which sees only the socket, says no.
    let policy = base();
    let headers = ProxyHeaders {
        x_real_ip: Some(b"127.0.0.1"),
        x_forwarded_for: vec![b"127.0.0.1"],
    };
    let got = resolve(&policy, ip(F), &headers, None).unwrap();
    assert_eq!(got.client, ip(F));
    assert!(!may_trigger_cleanup(&policy, ip(F)));
}

#[test]
fn policy_rejection_texts() {
    let all = [
        R::Ignored,
        R::Invalid,
        R::NotVerified,
        R::Internal,
        R::NotAllowed,
    ];
    let texts: std::collections::HashSet<_> = all.iter().map(|r| r.as_str()).collect();
    assert_eq!(texts.len(), all.len(), "texts must tell the reasons apart");
    for r in all {
        assert!(r.as_str().starts_with("reported ip ignored: "), "{r:?}");
        assert_eq!(r.to_string(), r.as_str());
    }
    assert_eq!(
        R::NotVerified.as_str(),
        "reported ip ignored: not verified by a trusted proxy"
    );
}

/// Header bytes: anything at all, or lists of things that look like addresses, including the
/// trusted proxies themselves and the client's own address.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let entry = prop_oneof![
        any::<IpAddr>().prop_map(|a| a.to_string()),
        any::<std::net::SocketAddr>().prop_map(|a| a.to_string()),
        Just(P1.to_string()),
        Just(P6.to_string()),
        Just("127.0.0.1".to_string()),
        Just(BAD.to_string()),
        Just(V.to_string()),
        "[0-9a-f:.\\[\\] ]{0,24}",
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..48),
        proptest::collection::vec(entry, 0..6).prop_map(|v| v.join(",").into_bytes()),
    ]
}

fn socket_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<IpAddr>(),
        any::<std::net::Ipv4Addr>().prop_map(|a| IpAddr::V6(a.to_ipv6_mapped())),
        Just(ip(BAD)),
        Just(ip(C)),
        Just(ip(P1)),
    ]
}

proptest! {
    /// From a socket that is not a trusted proxy (or in direct mode, from any socket), no header
    /// contents change anything: not the client, not the peer, not a refusal.
    #[test]
    fn policy_untrusted_headers_change_nothing(
        socket in socket_addr(),
        direct_mode in any::<bool>(),
        flags in any::<[bool; 5]>(),
        refuse in any::<bool>(),
        allow_list in any::<bool>(),
        real_ip in proptest::option::of(header_value()),
        xff in proptest::collection::vec(header_value(), 0..4),
        reported in proptest::option::of(prop_oneof![
            any::<IpAddr>().prop_map(|a| a.to_string()),
            Just(V.to_string()),
            ".{0,20}",
        ]),
    ) {
        let mut policy = base();
        policy.mode = if direct_mode { Mode::Direct } else { Mode::Proxy };
        prop_assume!(direct_mode || !policy.trusted_proxies.contains(&socket));
        policy.use_x_real_ip = flags[0];
        policy.use_x_forwarded_for = flags[1];
        policy.ignore_reported_ip = flags[2];
        policy.verify_reported_ip = flags[3];
        policy.allow_internal_ip = flags[4];
        if !refuse {
            policy.ignore_ip = Networks::default();
        }
        if allow_list {
            policy.allowed_networks = nets("198.51.100.0/24, 2000::/3");
        }
        let headers = ProxyHeaders {
            x_real_ip: real_ip.as_deref(),
            x_forwarded_for: xff.iter().map(Vec::as_slice).collect(),
        };
        prop_assert_eq!(client_address(&policy, socket, &headers), socket.to_canonical());
        let with = resolve(&policy, socket, &headers, reported.as_deref());
        let without = resolve(&policy, socket, &ProxyHeaders::default(), reported.as_deref());
        prop_assert_eq!(&with, &without);
        let socket = socket.to_canonical();
        match with {
            Ok(r) => prop_assert_eq!(r.client, socket),
            Err(AddressError::Ignored(a)) | Err(AddressError::NotAllowed(a)) => {
                prop_assert_eq!(a, socket)
            }
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }
}

#[test]
fn client_address_follows_a_trusted_proxy_and_never_refuses() {
    let mut policy = base();
    policy.mode = Mode::Proxy;
    let xff = ProxyHeaders {
        x_real_ip: None,
        x_forwarded_for: vec![b"198.51.100.7".as_slice()],
    };
    assert_eq!(client_address(&policy, ip(P1), &xff), ip("198.51.100.7"));
    // No usable header from the proxy: the proxy itself, not a refusal.
    assert_eq!(
        client_address(&policy, ip(P1), &ProxyHeaders::default()),
        ip(P1)
    );
    // ignore_ip does not apply: the web UI decides on its own.
    assert_eq!(client_address(&policy, ip(BAD), &xff), ip(BAD));
    policy.mode = Mode::Direct;
    assert_eq!(client_address(&policy, ip(P1), &xff), ip(P1));
}

#[test]
fn resolve_direct_ignores_proxy_mode_but_keeps_every_other_rule() {
    let mut policy = base();
    policy.mode = Mode::Proxy;
    // From a trusted proxy with no headers, proxy mode refuses; a direct transport does not.
    assert_eq!(
        resolve(&policy, ip(P1), &ProxyHeaders::default(), None),
        Err(AddressError::NoProxyHeader)
    );
    assert_eq!(
        resolve_direct(&policy, ip(P1), None).unwrap().client,
        ip(P1)
    );
    assert_eq!(
        resolve_direct(&policy, ip(BAD), None),
        Err(AddressError::Ignored(ip(BAD)))
    );
    let direct = AddressPolicy {
        mode: Mode::Direct,
        ..policy.clone()
    };
    for reported in [None, Some(V), Some("junk")] {
        assert_eq!(
            resolve_direct(&policy, ip(C), reported),
            resolve(&direct, ip(C), &ProxyHeaders::default(), reported),
            "{reported:?}"
        );
    }
}
