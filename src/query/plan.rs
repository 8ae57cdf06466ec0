//! What a `retracker query` command line asks for, checked: the tracker URLs, the info hashes,
//! announce or scrape. Every problem here is a usage error (exit status 2), with a message that
//! names the URL, file or option concerned.

use super::args::{ClientArg, EventArg, QueryArgs};
use crate::client::profiles::{self, Profile};
use crate::client::{Event, Scheme, TrackerUrl};
use crate::protocol::metainfo::Metainfo;
use crate::protocol::InfoHash;
use std::path::Path;
use std::time::Duration;

/// Announce or scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Announce with `event`; when `event` is `None` the tool announces `started` then
    /// `stopped` (see the `--help` text).
    Announce {
        /// `--event`.
        event: Option<Event>,
    },
    /// Scrape the hashes.
    Scrape,
    /// Scrape without info_hash.
    FullScrape,
}

/// A checked command line.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Trackers (announce URLs), each with its text as given.
    pub urls: Vec<(String, TrackerUrl)>,
    /// Hashes, one request each (empty for a full scrape).
    pub hashes: Vec<InfoHash>,
    /// The torrent's name, with `--torrent`.
    pub torrent_name: Option<String>,
    /// What to do.
    pub mode: Mode,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--client`, `random` already picked.
    pub client: Option<&'static Profile>,
}

/// The profile of `--client`.
pub fn profile(arg: ClientArg) -> &'static Profile {
    let name = match arg {
        ClientArg::Random => return profiles::random(),
        ClientArg::Qbittorrent => "qbittorrent",
        ClientArg::Transmission => "transmission",
        ClientArg::Deluge => "deluge",
        ClientArg::Utorrent => "utorrent",
        ClientArg::Libtorrent => "libtorrent",
        ClientArg::Aria2 => "aria2",
    };
    profiles::by_name(name).expect("every --client value has a profile")
}

/// Parses 40 hex digits.
pub fn parse_hash(text: &str) -> Result<InfoHash, String> {
    let text = text.trim();
    crate::hex::decode_array(text)
        .ok_or_else(|| format!("--info-hash {text:?}: expected 40 hex digits"))
}

/// A URL from the command line or a batch file; `what` names where it came from.
fn url(text: &str, what: &str, mode: Mode) -> Result<(String, TrackerUrl), String> {
    let u = TrackerUrl::parse(text).map_err(|e| format!("{what}{text}: {e}"))?;
    match mode {
        Mode::FullScrape if u.scheme == Scheme::Udp => Err(format!(
            "{what}{text}: --full-scrape needs http:// or https:// (BEP 15 scrapes name their \
             torrents)"
        )),
        Mode::Scrape | Mode::FullScrape => {
            u.scrape_url().map_err(|e| format!("{what}{text}: {e}"))?;
            Ok((text.trim().to_owned(), u))
        }
        Mode::Announce { .. } => Ok((text.trim().to_owned(), u)),
    }
}

/// The URLs of a batch file: one a line, blank lines and `#` comments skipped.
pub fn batch_urls(path: &Path, mode: Mode) -> Result<Vec<(String, TrackerUrl)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{} line {}: ", path.display(), i + 1);
        out.push(url(line, &at, mode)?);
    }
    if out.is_empty() {
        return Err(format!("{}: no tracker URL in the file", path.display()));
    }
    Ok(out)
}

impl Plan {
    /// Checks `args`.
    pub fn new(args: &QueryArgs) -> Result<Plan, String> {
        let mode = if args.full_scrape {
            Mode::FullScrape
        } else if args.scrape {
            Mode::Scrape
        } else {
            Mode::Announce {
                event: args.event.map(|e| match e {
                    EventArg::Started => Event::Started,
                    EventArg::Completed => Event::Completed,
                    EventArg::Stopped => Event::Stopped,
                    EventArg::None => Event::None,
                }),
            }
        };
        if !(args.timeout > 0.0 && args.timeout <= 3600.0) {
            return Err(format!(
                "--timeout {}: expected seconds above 0, at most 3600",
                args.timeout
            ));
        }
        if args.concurrency == 0 {
            return Err("--concurrency 0: expected at least 1".into());
        }
        let mut hashes = Vec::new();
        let mut torrent_name = None;
        match (&args.torrent, args.info_hash.is_empty(), mode) {
            (_, _, Mode::FullScrape) => {}
            (Some(_), false, _) => {
                return Err("give either --info-hash or --torrent, not both".into());
            }
            (None, true, _) => return Err("give --info-hash HEX or --torrent FILE".into()),
            (Some(path), true, _) => {
                let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let meta =
                    Metainfo::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
                hashes = meta.announce_hashes();
                torrent_name = Some(meta.name);
            }
            (None, false, _) => {
                for h in &args.info_hash {
                    let h = parse_hash(h)?;
                    if !hashes.contains(&h) {
                        hashes.push(h);
                    }
                }
            }
        }
        let urls = match (&args.url, &args.batch) {
            (Some(u), None) => vec![url(u, "", mode)?],
            (None, Some(path)) => batch_urls(path, mode)?,
            _ => return Err("give a TRACKER_URL or --batch FILE".into()),
        };
        Ok(Plan {
            urls,
            hashes,
            torrent_name,
            mode,
            timeout: Duration::from_secs_f64(args.timeout),
            client: args.client.map(profile),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_client_value_has_its_profile_and_version_in_the_help() {
        for arg in ClientArg::value_variants() {
            let value = arg.to_possible_value().unwrap();
            if *arg == ClientArg::Random {
                continue;
            }
            let p = profile(*arg);
            assert_eq!(value.get_name(), p.name);
            // The --help line names the version the table sends.
            let help = value.get_help().unwrap().to_string();
            let version = p.display.rsplit(' ').next().unwrap();
            assert!(help.contains(version), "{help:?} vs {}", p.display);
        }
        let picked = profile(ClientArg::Random);
        assert!(profiles::PROFILES.contains(picked));
    }

    #[test]
    fn hashes_are_40_hex_digits() {
        assert_eq!(
            parse_hash("466D846E88635A7AA032CA8CBE2D810495DEA262").unwrap()[0],
            0x46
        );
        for bad in [
            "466d",
            "zz6d846e88635a7aa032ca8cbe2d810495dea262",
            "é66d846e88635a7aa032ca8cbe2d810495dea26",
            // u8::from_str_radix took "+a" as 0x0a.
            "+a6d846e88635a7aa032ca8cbe2d810495dea262",
            "-a6d846e88635a7aa032ca8cbe2d810495dea262",
            "466d846e88635a7aa032ca8cbe2d810495dea2+2",
        ] {
            assert!(
                parse_hash(bad).unwrap_err().contains("40 hex digits"),
                "{bad}"
            );
        }
    }
}
