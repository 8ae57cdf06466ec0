//! The BitTorrent clients `retracker query --client` poses as: peer id prefix and filler
//! (BEP 20), HTTP `User-Agent`, how `key` is written, and the `numwant` of a regular announce.
//! Trackers that allow-list clients refuse `retracker/0.1`; these are what the real programs
//! send, so the same query gets through.
//!
//! Sources, each read at the release tag named (value by value):
//! - qBittorrent 5.2.3: `src/base/bittorrent/sessionimpl.cpp` (`PEER_ID "qB"` through
//!   `lt::generate_fingerprint` with the 4 version numbers: `-qB5230-`; `USER_AGENT
//!   "qBittorrent/" QBT_VERSION_2`); the rest of the id, `key` and `numwant` are libtorrent's.
//!   The fixture `shared/fixtures/client-announces.tsv` (qBittorrent 4.5.2) shows the same
//!   shapes: `-qB4520-!EYzUIYz4!gq`, `User-Agent: qBittorrent/4.5.2`, `key=A6D638B4`.
//! - libtorrent (rasterbar) 2.0.13, the series qBittorrent and Deluge releases embed:
//!   `src/settings_pack.cpp` (`peer_fingerprint "-LT20D0-"`, `user_agent "libtorrent/"
//!   LIBTORRENT_VERSION` = `2.0.13.0`, `num_want 200`), `src/string_util.cpp` `url_random`
//!   (the filler alphabet), `src/http_tracker_connection.cpp` (`&key=%08X`). Fixture:
//!   `-LT2080-9nNpt!lg1FKE`, `key=DBB9BED2`.
//! - Deluge 2.2.0: `deluge/core/core.py` (`_create_peer_id`: libtorrent's fingerprint with
//!   the release character set to `s` for stable, `-DE220s-`; `user_agent
//!   f'Deluge/{DELUGE_VER} libtorrent/{LT_VERSION}'`), with libtorrent 2.0.7, the version its
//!   release workflow (`.github/workflows/cd.yml`) builds with; the rest is libtorrent's.
//! - Transmission 4.1.3: `CMakeLists.txt` (`TR_PEER_ID_PREFIX` `-TR4130-`, `0` for a stable
//!   release), `libtransmission/session.cc` `tr_peerIdInit` (12 base-36 characters, the last
//!   one making their sum a multiple of 36; the fixture's three Transmission ids pass this
//!   check), `session.cc` `userAgent` (`Transmission/4.1.3`), `announcer-http.cc`
//!   (`&key={key:08X}`), `announcer.cc` (`Numwant = 80`).
//! - µTorrent 3.5.4 build 44498 (closed source: no newer capture was found): JOAL's capture
//!   of it, `resources/clients/utorrent-3.5.4_44498.client` in anthonyraymond/joal: peer id
//!   `-UT354S-`, then the build number in two little-endian bytes (44498 = `0xADD2`), then
//!   10 random bytes; `User-Agent: uTorrent/354(111783378)(44498)`; `key` 8 upper-case hex
//!   digits; `numwant=200`.
//! - aria2 1.37.0: `src/OptionHandlerFactory.cc` (`A2-%d-%d-%d-` = `A2-1-37-0-`, user agent
//!   `"aria2/" PACKAGE_VERSION`), `src/bittorrent_helper.cc` `generatePeerId` (raw random
//!   bytes), `src/DefaultBtAnnounce.cc` (`key` is the last 8 bytes of the peer id,
//!   `numWant = 50`). Fixture: `A2-1-36-0-…`, whose `key` is its peer id's last 8 bytes.
//!
//! Over UDP (BEP 15) only the peer id applies: the packet has no `User-Agent`, and its `key`
//! is a number.

use rand::Rng;

/// What fills a peer id after the prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filler {
    /// libtorrent's `url_random`: letters, digits and `-_.!~*()`.
    Libtorrent,
    /// Transmission's: lower-case base 36, the last character making the sum of all 12 a
    /// multiple of 36.
    Transmission,
    /// Any byte (aria2, µTorrent).
    Bytes,
}

/// libtorrent's `url_random` alphabet.
const LIBTORRENT_ALPHABET: &[u8] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_.!~*()";
/// Transmission's peer id alphabet.
const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// How `key` is written in an HTTP announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KeyFormat {
    /// The number as 8 upper-case hex digits (libtorrent, Transmission 4, µTorrent).
    #[default]
    Hex,
    /// The last 8 bytes of the peer id, percent-escaped (aria2).
    PeerIdTail,
}

/// One client as it announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The `--client` value.
    pub name: &'static str,
    /// Name and version, for people.
    pub display: &'static str,
    /// The first bytes of the peer id.
    pub prefix: &'static [u8],
    /// What fills the rest of it.
    pub filler: Filler,
    /// The HTTP `User-Agent`.
    pub user_agent: &'static str,
    /// How `key` is written over HTTP.
    pub key: KeyFormat,
    /// `numwant` of an announce other than `stopped`.
    pub numwant: u32,
}

/// Every client, in the order of `--help`.
pub const PROFILES: [Profile; 6] = [
    Profile {
        name: "qbittorrent",
        display: "qBittorrent 5.2.3",
        prefix: b"-qB5230-",
        filler: Filler::Libtorrent,
        user_agent: "qBittorrent/5.2.3",
        key: KeyFormat::Hex,
        numwant: 200,
    },
    Profile {
        name: "transmission",
        display: "Transmission 4.1.3",
        prefix: b"-TR4130-",
        filler: Filler::Transmission,
        user_agent: "Transmission/4.1.3",
        key: KeyFormat::Hex,
        numwant: 80,
    },
    Profile {
        name: "deluge",
        display: "Deluge 2.2.0",
        prefix: b"-DE220s-",
        filler: Filler::Libtorrent,
        user_agent: "Deluge/2.2.0 libtorrent/2.0.7.0",
        key: KeyFormat::Hex,
        numwant: 200,
    },
    Profile {
        name: "utorrent",
        display: "µTorrent 3.5.4",
        prefix: b"-UT354S-\xd2\xad",
        filler: Filler::Bytes,
        user_agent: "uTorrent/354(111783378)(44498)",
        key: KeyFormat::Hex,
        numwant: 200,
    },
    Profile {
        name: "libtorrent",
        display: "libtorrent 2.0.13",
        prefix: b"-LT20D0-",
        filler: Filler::Libtorrent,
        user_agent: "libtorrent/2.0.13.0",
        key: KeyFormat::Hex,
        numwant: 200,
    },
    Profile {
        name: "aria2",
        display: "aria2 1.37.0",
        prefix: b"A2-1-37-0-",
        filler: Filler::Bytes,
        user_agent: "aria2/1.37.0",
        key: KeyFormat::PeerIdTail,
        numwant: 50,
    },
];

/// The profile named `name` (a `--client` value other than `random`).
pub fn by_name(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

/// One profile picked at random (`--client random`).
pub fn random() -> &'static Profile {
    &PROFILES[rand::rng().random_range(0..PROFILES.len())]
}

impl Profile {
    /// A fresh peer id: the prefix, then random filler.
    pub fn peer_id(&self) -> [u8; 20] {
        let mut rng = rand::rng();
        let mut id = [0u8; 20];
        id[..self.prefix.len()].copy_from_slice(self.prefix);
        let rest = &mut id[self.prefix.len()..];
        match self.filler {
            Filler::Bytes => rng.fill(rest),
            Filler::Libtorrent => {
                for b in rest.iter_mut() {
                    *b = LIBTORRENT_ALPHABET[rng.random_range(0..LIBTORRENT_ALPHABET.len())];
                }
            }
            Filler::Transmission => {
                let (body, last) = rest.split_at_mut(rest.len() - 1);
                let mut sum = 0;
                for b in body.iter_mut() {
                    let v = rng.random_range(0..BASE36.len());
                    sum += v;
                    *b = BASE36[v];
                }
                last[0] = BASE36[(BASE36.len() - sum % BASE36.len()) % BASE36.len()];
            }
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::peer_id::client_software;

    #[test]
    fn names_are_unique_and_found() {
        for p in &PROFILES {
            assert_eq!(by_name(p.name), Some(p));
        }
        assert_eq!(by_name("random"), None);
        assert_eq!(by_name("retracker"), None);
    }

    #[test]
    fn the_dashboard_names_each_peer_id_as_the_client_it_poses_as() {
        // The peer_id table of the tracker's dashboard was written from the clients' own
        // decoders: it must read each prefix back as the same program and version.
        for p in &PROFILES {
            for _ in 0..50 {
                let got = client_software(&p.peer_id()).display();
                let want = match p.name {
                    "libtorrent" => "libtorrent (Rasterbar) 2.0.13".to_owned(),
                    "utorrent" => "µTorrent 3.5.4".to_owned(),
                    _ => p.display.to_owned(),
                };
                assert_eq!(got, want, "{}", p.name);
            }
        }
    }

    #[test]
    fn peer_ids_keep_their_prefix_and_filler_alphabet() {
        for p in &PROFILES {
            for _ in 0..200 {
                let id = p.peer_id();
                assert!(id.starts_with(p.prefix), "{}", p.name);
                let rest = &id[p.prefix.len()..];
                match p.filler {
                    Filler::Libtorrent => {
                        assert!(
                            rest.iter().all(|b| LIBTORRENT_ALPHABET.contains(b)),
                            "{id:?}"
                        )
                    }
                    Filler::Transmission => {
                        assert!(rest.iter().all(|b| BASE36.contains(b)), "{id:?}");
                        let sum: usize = rest
                            .iter()
                            .map(|b| BASE36.iter().position(|c| c == b).unwrap())
                            .sum();
                        assert_eq!(sum % 36, 0, "{:?}", String::from_utf8_lossy(&id));
                    }
                    Filler::Bytes => {}
                }
            }
        }
    }

    #[test]
    fn the_transmission_checksum_accepts_real_ids() {
        // From shared/fixtures/client-announces.tsv (Transmission 3.00, same generator).
        for real in ["0qf3wu14q2jm", "uxcx73r3bidq", "y148571xr6nv"] {
            let sum: usize = real
                .bytes()
                .map(|b| BASE36.iter().position(|&c| c == b).unwrap())
                .sum();
            assert_eq!(sum % 36, 0, "{real}");
        }
    }

    #[test]
    fn random_bytes_vary() {
        // A filler that is not random would make every query the same peer.
        for p in &PROFILES {
            let ids: std::collections::HashSet<[u8; 20]> = (0..20).map(|_| p.peer_id()).collect();
            assert!(ids.len() > 15, "{}", p.name);
        }
    }
}
