//! Names the client software behind a peer_id, for the operator dashboard's "clients by
//! software" table.
//!
//! Follows BEP 20, "Peer ID Conventions", and the longer list it summarises (wiki.theory.org):
//! - Azureus style, `-XXvvvv-`: a two-character client code between dashes, then a version;
//! - Mainline style, `M4-3-6--` (also Queen Bee, `Q1-10-0-`): dash-separated decimal numbers;
//! - Shad0w style, `S58B-----`: one letter, up to five base-64 digits, dashes;
//! - aria2, `A2-1-36-0-`, Tixati, `TIX0291-`, XBT, `XBT054d-`, and BitComet before 0.59, `exbc`
//!   followed by two raw bytes.
//!
//! The generic Azureus reading of `vvvv` is four digits, one per version component. Many clients
//! write something else, so each code in [`AZUREUS`] carries its own [`Scheme`], taken from the
//! client's own source where it is known (libtorrent, Transmission, Deluge, WebTorrent, Enhanced
//! CTorrent) and otherwise from Transmission's `clients.cc`, the most complete decoder in use.
//!
//! A peer_id is 20 bytes of the client's choosing, and most of it is random: nothing here panics,
//! and a returned version is always printable ASCII, so it can go into HTML or a log as is.

use std::fmt::Write as _;

/// Client software named by a peer_id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSoftware {
    /// Program name, e.g. "Transmission", "qBittorrent", "libtorrent (Rasterbar)",
    /// "rTorrent (libTorrent)", "aria2"; "Unknown" when not recognised.
    pub name: &'static str,
    /// Version as the client writes it, e.g. "3.00", "4.5.2", "1.36.0"; empty when unknown.
    /// For an Azureus-style code not in the table, the 8-byte prefix (e.g. "-XX1234-"), so the
    /// dashboard can still tell such clients apart. Always printable ASCII.
    pub version: String,
}

impl ClientSoftware {
    /// "Transmission 3.00", or just the name when the version is unknown.
    pub fn display(&self) -> String {
        if self.version.is_empty() {
            self.name.to_owned()
        } else {
            format!("{} {}", self.name, self.version)
        }
    }

    fn new(name: &'static str, version: Option<String>) -> Self {
        ClientSoftware {
            name,
            version: version.unwrap_or_default(),
        }
    }
}

/// Name of software we could not recognise.
const UNKNOWN: &str = "Unknown";

/// Names the client software that chose `peer_id`.
pub fn client_software(peer_id: &[u8; 20]) -> ClientSoftware {
    let id = peer_id;
    if id[0] == b'-' {
        if let Ok(i) = AZUREUS.binary_search_by_key(&[id[1], id[2]], |&(code, ..)| code) {
            let (_, name, scheme) = AZUREUS[i];
            return ClientSoftware::new(name, azureus_version(scheme, id));
        }
        if id[7] == b'-' && id[1..7].iter().all(u8::is_ascii_graphic) {
            // Keeping the prefix groups an unknown client's peers together on the dashboard.
            let prefix = String::from_utf8_lossy(&id[..8]).into_owned();
            return ClientSoftware::new(UNKNOWN, Some(prefix));
        }
    }
    // Order matters: "A2-1-0---" and "Q1-0-0--" + "-" would also read as Shad0w style.
    if id.starts_with(b"A2-") {
        return ClientSoftware::new("aria2", dashed(&id[3..], 3, 17).map(|(v, _)| v));
    }
    if id.starts_with(b"aria2-") {
        return ClientSoftware::new("aria2", None);
    }
    if let Some(found) = mainline(id) {
        return found;
    }
    if id.starts_with(b"TIX") {
        return ClientSoftware::new("Tixati", major_minor(&id[3..7], true));
    }
    if id.starts_with(b"XBT") {
        return ClientSoftware::new("XBT Client", digits(&id[3..6]).map(|v| v + mnemonic(id[6])));
    }
    if id.starts_with(b"exbc") {
        // Two raw bytes: major, and minor in hundredths (BitComet 0.58 is 0, 58).
        let name = if &id[6..10] == b"LORD" {
            "BitLord"
        } else {
            "BitComet"
        };
        return ClientSoftware::new(name, Some(format!("{}.{:02}", id[4], id[5])));
    }
    if let Some(found) = shad0w(id) {
        return found;
    }
    ClientSoftware::new(UNKNOWN, None)
}

/// How the four characters after an Azureus-style code encode the version.
#[derive(Clone, Copy, Debug)]
enum Scheme {
    /// `-XXabc?-` → "a.b.c", base-62 digits: libtorrent's fingerprint, whose fourth character
    /// is a tag, not a version component (libtorrent 2.0.8 sends `-LT2080-`).
    Three,
    /// `-XXabcd-` → "a.b.c.d", base-62 digits: the generic BEP 20 reading.
    Four,
    /// `-XXMMmm-` → "M.mm": decimal major, minor in hundredths (BitComet 1.03 sends `-BC0103-`).
    Hundredths,
    /// `-XXMMmm-` → "M.m": decimal major and minor (WebTorrent 1.2 sends `-WW0102-`, Enhanced
    /// CTorrent 3.3.2 sends `-CD0303-`; neither encodes the patch level).
    MajorMinor,
    /// Transmission: `-TR0072-` is 0.72, `-TR3000-` is 3.00, `-TR4050-` is 4.0.5.
    Transmission,
    /// µTorrent: hex digits, then a release letter (`-UT355B-` is 3.5.5 beta); a longer
    /// patch number takes the place of the trailing dash (`-UT2210B` is 2.2.10 beta).
    UTorrent,
    /// Deluge 2: three base-62 digits and a release letter, `s` for stable (`-DE211s-` is 2.1.1);
    /// Deluge 1 wrote a fourth digit, zero in every release.
    Deluge,
    /// KTorrent: `-KT22D1-` is 2.2 dev 1, `-KT22R1-` 2.2 rc 1, otherwise three digits.
    KTorrent,
    /// The version written out between the code and the dash: `-ML2.7.2-` (MLDonkey).
    Literal,
    /// The prefix carries no version.
    Unversioned,
}

/// Azureus-style client codes, sorted bytewise for binary search (so uppercase before
/// lowercase, and `~` after both).
const AZUREUS: &[([u8; 2], &str, Scheme)] = {
    use Scheme::*;
    &[
        (*b"AG", "Ares", Four),
        (*b"AR", "Arctic", Four),
        (*b"AT", "Artemis", Four),
        (*b"AV", "Avicora", Four),
        (*b"AX", "BitPump", Hundredths),
        (*b"AZ", "Vuze (Azureus)", Four),
        (*b"A~", "Ares", Three),
        (*b"BC", "BitComet", Hundredths),
        (*b"BE", "BitTorrent SDK", Four),
        (*b"BF", "BitFlu", Unversioned),
        (*b"BG", "BTGetit", Four),
        (*b"BI", "BiglyBT", Four),
        (*b"BM", "BitMagnet", Four),
        (*b"BN", "Baidu Netdisk", Unversioned),
        (*b"BS", "BTSlave", Four),
        (*b"BT", "BitTorrent", UTorrent),
        (*b"BW", "BitWombat", Four),
        (*b"BX", "BittorrentX", Four),
        (*b"CD", "Enhanced CTorrent", MajorMinor),
        (*b"CT", "CTorrent", Four),
        (*b"DE", "Deluge", Deluge),
        (*b"DP", "Propagate Data Client", Four),
        (*b"EB", "EBit", Four),
        (*b"ES", "Electric Sheep", Three),
        (*b"FC", "FileCroc", Four),
        (*b"FD", "Free Download Manager", Three),
        (*b"FG", "FlashGet", Hundredths),
        (*b"FL", "Folx", Four),
        (*b"FT", "FoxTorrent", Four),
        (*b"FW", "FrostWire", Three),
        (*b"FX", "Freebox", Four),
        (*b"GR", "GetRight", Four),
        (*b"GS", "GSTorrent", Four),
        (*b"HK", "Hekate", Four),
        (*b"HL", "Halite", Three),
        (*b"HN", "Hydranode", Four),
        (*b"KG", "KGet", Four),
        (*b"KT", "KTorrent", KTorrent),
        (*b"LC", "LeechCraft", Four),
        (*b"LH", "LH-ABC", Four),
        (*b"LP", "Lphant", Hundredths),
        (*b"LT", "libtorrent (Rasterbar)", Three),
        (*b"LW", "LimeWire", Unversioned),
        (*b"MG", "MediaGet", Four),
        (*b"ML", "MLDonkey", Literal),
        (*b"MO", "MonoTorrent", Four),
        (*b"MP", "MooPolice", Three),
        (*b"MR", "Miro", Four),
        (*b"MT", "Moonlight", Four),
        (*b"NE", "BT Next Evolution", Four),
        (*b"NX", "Net Transport", Four),
        (*b"OS", "OneSwarm", Four),
        (*b"OT", "OmegaTorrent", Four),
        (*b"PD", "Pando", Four),
        (*b"PI", "PicoTorrent", Four),
        (*b"QD", "QQDownload", Four),
        (*b"QT", "Qt 4 Torrent example", Four),
        (*b"RQ", "retracker query", Four),
        (*b"RT", "Retriever", Four),
        (*b"RZ", "RezTorrent", Four),
        (*b"SB", "Swiftbit", Four),
        (*b"SD", "Thunder", Four),
        (*b"SM", "SoMud", Four),
        (*b"SP", "BitSpirit", Three),
        (*b"SS", "SwarmScope", Four),
        (*b"ST", "SymTorrent", Four),
        (*b"SZ", "Shareaza", Four),
        (*b"S~", "Shareaza", Four),
        (*b"TL", "Tribler", Four),
        (*b"TN", "Torrent .NET", Four),
        (*b"TR", "Transmission", Transmission),
        (*b"TS", "Torrentstorm", Four),
        (*b"TT", "TuoTu", Four),
        (*b"TX", "Tixati", Hundredths),
        (*b"UE", "µTorrent Embedded", UTorrent),
        (*b"UL", "uLeecher!", Four),
        (*b"UM", "µTorrent Mac", UTorrent),
        (*b"UT", "µTorrent", UTorrent),
        (*b"UW", "µTorrent Web", UTorrent),
        (*b"VG", "Vagaa", Four),
        (*b"WD", "WebTorrent Desktop", MajorMinor),
        (*b"WS", "HTTP Seed", Unversioned),
        (*b"WT", "BitLet", Four),
        (*b"WW", "WebTorrent", MajorMinor),
        (*b"WY", "FireTorrent", Four),
        (*b"XF", "Xfplay", Four),
        (*b"XL", "Xunlei", Four),
        (*b"XS", "XSwifter", Four),
        (*b"XT", "XanTorrent", Four),
        (*b"XX", "Xtorrent", Four),
        (*b"ZO", "Zona", Four),
        (*b"ZT", "Zip Torrent", Four),
        (*b"bk", "BitKitten (libtorrent)", Four),
        (*b"lt", "rTorrent (libTorrent)", Three),
        (*b"pb", "pbTorrent", Three),
        (*b"qB", "qBittorrent", Three),
        (*b"st", "SharkTorrent", Four),
    ]
};

/// The version in `id[3..8]` read per `scheme`; `None` when the bytes do not fit it (a client
/// reusing a code, or a forged id).
fn azureus_version(scheme: Scheme, id: &[u8; 20]) -> Option<String> {
    let v = &id[3..8];
    match scheme {
        Scheme::Three => digits(&v[..3]),
        Scheme::Four => digits(&v[..4]),
        Scheme::Hundredths => major_minor(&v[..4], true),
        Scheme::MajorMinor => major_minor(&v[..4], false),
        Scheme::Transmission => transmission(v),
        Scheme::UTorrent => utorrent(v),
        Scheme::Deluge => {
            let release = match v[3] {
                b'0' | b's' => "",
                b'D' => " dev",
                b'a' => " alpha",
                b'b' => " beta",
                b'r' => " rc",
                _ => return None,
            };
            Some(digits(&v[..3])? + release)
        }
        Scheme::KTorrent => {
            let stage = match v[2] {
                b'D' => "dev",
                b'R' => "rc",
                _ => return digits(&v[..3]),
            };
            let (major, minor, n) = (base62(v[0])?, base62(v[1])?, base62(v[3])?);
            Some(format!("{major}.{minor} {stage} {n}"))
        }
        Scheme::Literal => {
            let end = id[3..].iter().position(|&b| b == b'-')?;
            let text = &id[3..3 + end];
            let ok = !text.is_empty() && text.iter().all(|b| b.is_ascii_digit() || *b == b'.');
            ok.then(|| String::from_utf8_lossy(text).into_owned())
        }
        Scheme::Unversioned => None,
    }
}

/// Transmission's three eras: `-TR0006-` is 0.6, `-TR0072-` 0.72, `-TR1110-` 1.11 up to
/// `-TR3000-` 3.00 (a trailing `Z` or `X` marks a build after the release: 1.11+), and from 4.0
/// one digit per component, `-TR4050-` 4.0.5 (`-TR400B-` 4.0.0 beta).
fn transmission(v: &[u8]) -> Option<String> {
    if v.starts_with(b"000") {
        return v[3].is_ascii_digit().then(|| format!("0.{}", v[3] - b'0'));
    }
    if v.starts_with(b"00") {
        return Some(format!("0.{:02}", dec(&v[2..4])?));
    }
    if v[0] <= b'3' {
        let plus = if matches!(v[3], b'Z' | b'X') { "+" } else { "" };
        return Some(format!("{}.{:02}{plus}", base62(v[0])?, dec(&v[1..3])?));
    }
    Some(digits(&v[..3])? + mnemonic(v[3]))
}

/// µTorrent: see [`Scheme::UTorrent`].
fn utorrent(v: &[u8]) -> Option<String> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let (major, minor) = (hex(v[0])?, hex(v[1])?);
    if v[4] == b'-' {
        Some(format!("{major}.{minor}.{}{}", hex(v[2])?, mnemonic(v[3])))
    } else {
        Some(format!(
            "{major}.{minor}.{}{}",
            dec(&v[2..4])?,
            mnemonic(v[4])
        ))
    }
}

/// The release stage letter shared by µTorrent, XBT and Transmission 4.
fn mnemonic(b: u8) -> &'static str {
    match b {
        b'b' | b'B' => " beta",
        b'd' => " debug",
        b'x' | b'X' | b'Z' => " dev",
        _ => "",
    }
}

/// Base-62 digits `0-9A-Za-z` joined with dots: how libtorrent writes components above 9
/// (rTorrent's libTorrent 0.13.8 sends `-lt0D80-`).
fn digits(v: &[u8]) -> Option<String> {
    let mut out = String::new();
    for (i, &b) in v.iter().enumerate() {
        let dot = if i == 0 { "" } else { "." };
        let _ = write!(out, "{dot}{}", base62(b)?);
    }
    Some(out)
}

/// Two two-digit decimal numbers: "M.mm" when the minor is in hundredths, else "M.m".
fn major_minor(v: &[u8], hundredths: bool) -> Option<String> {
    let (major, minor) = (dec(&v[..2])?, dec(&v[2..4])?);
    Some(if hundredths {
        format!("{major}.{minor:02}")
    } else {
        format!("{major}.{minor}")
    })
}

fn base62(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'A'..=b'Z' => Some(u32::from(b - b'A') + 10),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 36),
        _ => None,
    }
}

/// A run of ASCII decimal digits (at most a few, so no overflow).
fn dec(v: &[u8]) -> Option<u32> {
    v.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// `parts` decimal numbers of 1 to 3 digits, each followed by a dash, within the first `max`
/// bytes of `v`: "1-36-0-" → ("1.36.0", 7). Returns the version and the bytes consumed.
fn dashed(v: &[u8], parts: usize, max: usize) -> Option<(String, usize)> {
    let v = &v[..max.min(v.len())];
    let mut out = String::new();
    let mut at = 0;
    for i in 0..parts {
        let len = v[at..].iter().position(|&b| b == b'-')?;
        if !(1..=3).contains(&len) {
            return None;
        }
        let dot = if i == 0 { "" } else { "." };
        let _ = write!(out, "{dot}{}", dec(&v[at..at + len])?);
        at += len + 1;
    }
    Some((out, at))
}

/// Mainline (`M`) and Queen Bee (`Q`): three dash-terminated numbers padded to 8 bytes with
/// dashes, `M4-3-6--` or `M7-10-2-`.
fn mainline(id: &[u8; 20]) -> Option<ClientSoftware> {
    let name = match id[0] {
        b'M' => "BitTorrent (Mainline)",
        b'Q' => "Queen Bee",
        _ => return None,
    };
    let (version, used) = dashed(&id[1..], 3, 7)?;
    id[1 + used..8]
        .iter()
        .all(|&b| b == b'-')
        .then(|| ClientSoftware::new(name, Some(version)))
}

/// Shad0w style: a client letter, up to five version digits from `0-9A-Za-z.` padded with
/// dashes, and `---` at bytes 6 to 8: `S58B-----` is Shad0w 5.8.11.
fn shad0w(id: &[u8; 20]) -> Option<ClientSoftware> {
    let name = match id[0] {
        b'A' => "ABC",
        b'O' => "Osprey",
        b'Q' => "BTQueue",
        b'R' => "Tribler",
        b'S' => "Shad0w",
        b'T' => "BitTornado",
        b'U' => "UPnP NAT Bit Torrent",
        _ => return None,
    };
    if &id[6..9] != b"---" {
        return None;
    }
    let len = id[1..6].iter().position(|&b| b == b'-').unwrap_or(5);
    let version = &id[1..1 + len];
    // Dashes may only pad: "S5-8-----" is not Shad0w style.
    if version.is_empty() || id[1 + len..6].iter().any(|&b| b != b'-') {
        return None;
    }
    let mut out = String::new();
    for (i, &b) in version.iter().enumerate() {
        let n = if b == b'.' { 62 } else { base62(b)? };
        let dot = if i == 0 { "" } else { "." };
        let _ = write!(out, "{dot}{n}");
    }
    Some(ClientSoftware::new(name, Some(out)))
}

#[cfg(test)]
mod tests;
