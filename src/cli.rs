//! The command line of the `retracker` binary, and its man page `retracker(8)` generated from
//! it (`retracker manpage`; the Debian package ships the result, and `tests/manpage.rs` keeps
//! the committed `packaging/retracker.8` equal to it).

use clap::{CommandFactory, Parser};
use roff::{bold, italic, roman, Inline, Roff};
use std::path::{Path, PathBuf};

/// Where the configuration is read from when `--config` is not given and `config/config.ini`
/// does not exist: the file the Debian package installs.
pub const PACKAGED_CONFIG: &str = "/etc/retracker/config.ini";

/// The configuration of a source checkout, read from the current folder.
pub const LOCAL_CONFIG: &str = "config/config.ini";

/// BitTorrent tracker for local networks.
#[derive(Parser, Debug)]
#[command(name = "retracker", version, about, long_about = None)]
pub struct Cli {
    /// What to do; with none, run the tracker.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Configuration file (INI; the Python retracker's config.ini is accepted as is)
    /// [default: config/config.ini if it exists, else /etc/retracker/config.ini].
    #[arg(short, long, value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,

    /// Validate the configuration, print the effective settings and exit (0 valid, 2 invalid).
    #[arg(long)]
    pub check_config: bool,
}

/// Subcommands.
#[derive(clap::Subcommand, Debug, PartialEq)]
pub enum Command {
    /// Print an argon2 hash of a password for [STATS] access_password (reads the password from
    /// the terminal without echo, or the first line of standard input).
    HashPassword,
    /// Announce to or scrape a tracker (http://, https://, udp://) and print its answer:
    /// interval, seeders, leechers, downloaded, peers, external ip, warnings, failure reason and
    /// the time taken, with a warning when a tracker reached over IPv6 hands out no IPv6 peers
    /// (BEP 7); --client to announce as qBittorrent, Transmission, Deluge, uTorrent, libtorrent
    /// or aria2, --batch for many trackers, --watch to poll and record.
    Query(crate::query::args::QueryArgs),
    /// Export a recording of `retracker query --watch --record FILE` as CSV or JSON.
    Report(crate::query::args::ReportArgs),
    /// Print what .torrent files hold: name, size, files, piece length, private flag,
    /// trackers, creator, the v1 info hash and the v2 hash (full and truncated to 20 bytes).
    TorrentInfo(TorrentInfoArgs),
    /// Store the name, size, file count, piece length, comment and creator of .torrent files in
    /// the tracker's database (for the v1 hash and the truncated v2 hash), so the stats page and
    /// exports show names: directly in the database of the configuration (-c), or through the
    /// web API with --url.
    AddTorrent(AddTorrentArgs),
    /// Print what the operator's network map of the configuration makes of addresses: the
    /// network (a name of [NETWORKS] or [LOCALITY] networks_file, else the AS, else the /24 or
    /// /48 block), the AS and its organisation, the country, and whether the address is inside
    /// the operator's networks; to check a map before a reload.
    Locate(LocateArgs),
    /// Print the man page retracker(8) in roff (used to build the Debian package).
    #[command(hide = true)]
    Manpage,
}

/// How `torrent-info` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InfoFormat {
    /// `key: value` lines, a blank line between torrents.
    #[default]
    Text,
    /// One JSON array, an object per torrent.
    Json,
}

/// `retracker torrent-info`.
#[derive(clap::Args, Debug, PartialEq)]
pub struct TorrentInfoArgs {
    /// The .torrent files.
    #[arg(required = true, value_name = "FILE.torrent")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: InfoFormat,
    /// List every file (text output lists the first 20 of a torrent; JSON always has all).
    #[arg(long = "files")]
    pub list_all: bool,
}

/// `retracker locate`.
#[derive(clap::Args, Debug, PartialEq)]
pub struct LocateArgs {
    /// IPv4 or IPv6 addresses (an IPv4-mapped IPv6 address is taken as IPv4).
    #[arg(required = true, value_name = "ADDRESS")]
    pub addresses: Vec<String>,
}

/// `retracker add-torrent`.
#[derive(clap::Args, Debug, PartialEq)]
pub struct AddTorrentArgs {
    /// The .torrent files.
    #[arg(required = true, value_name = "FILE.torrent")]
    pub files: Vec<PathBuf>,
    /// Send the files to a running tracker's web API (POST /api/torrents) instead of writing
    /// the database, e.g. http://tracker.lan:8080. The password is read from
    /// RETRACKER_PASSWORD, else from the terminal without echo (never from the command line).
    #[arg(long, value_name = "URL", requires = "user")]
    pub url: Option<String>,
    /// The web UI account for --url ([STATS] access_username).
    #[arg(long, value_name = "USER", requires = "url")]
    pub user: Option<String>,
    /// With an https:// --url: also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE", requires = "url")]
    pub ca_cert: Option<PathBuf>,
    /// With an https:// --url: do not check the server's certificate (as curl -k).
    #[arg(long, requires = "url")]
    pub insecure: bool,
}

impl Cli {
    /// The configuration file to read: `--config`, else [`LOCAL_CONFIG`] when it exists or
    /// when [`PACKAGED_CONFIG`] does not (so the error names the local file), else
    /// [`PACKAGED_CONFIG`].
    pub fn config_path(&self) -> PathBuf {
        self.config_path_in(Path::new("."), Path::new(PACKAGED_CONFIG))
    }

    /// [`Cli::config_path`] with the current folder and the packaged file given (for tests).
    pub fn config_path_in(&self, cwd: &Path, packaged: &Path) -> PathBuf {
        if let Some(path) = &self.config {
            return path.clone();
        }
        if cwd.join(LOCAL_CONFIG).exists() || !packaged.exists() {
            PathBuf::from(LOCAL_CONFIG)
        } else {
            packaged.to_owned()
        }
    }
}

/// The long description of the man page (the `--help` text stays short).
const DESCRIPTION: &str = "retracker is a BitTorrent tracker for local networks: ISPs and \
organisations run it as retracker.local so that clients find peers on the same LAN. It answers \
HTTP announce and scrape requests (BEP 3, 7, 23, 24, 48) on /announce and /scrape, UDP tracker \
requests (BEP 15) on the same port, and optionally HTTPS. Swarms live in memory and are written \
to SQLite at least once a second, so a restart keeps them. A password-protected web UI (/stat) \
shows statistics, peers and a blocklist; /metrics serves Prometheus metrics.";

/// `retracker(8)` as roff text: clap's view of the options, then what an operator needs
/// beside them (files, environment, signals, exit status).
pub fn man_page() -> String {
    let cmd = Cli::command().long_about(DESCRIPTION);
    let man = clap_mangen::Man::new(cmd.clone())
        .section("8")
        .date(release_date(CHANGELOG))
        .manual("System Administration")
        .source(format!("retracker {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    man.render_title(&mut out)
        .expect("writing to a Vec does not fail");
    // No hyphenation: names such as RETRACKER_TRACKER_PORT must not be split across lines.
    out.extend_from_slice(b".nh\n");
    for render in [
        clap_mangen::Man::render_name_section,
        clap_mangen::Man::render_synopsis_section,
        clap_mangen::Man::render_description_section,
        clap_mangen::Man::render_options_section,
    ] {
        render(&man, &mut out).expect("writing to a Vec does not fail");
    }
    let mut page = String::from_utf8(out).expect("roff is UTF-8");
    page.push_str(&extra_sections(&cmd).to_roff());
    page
}

/// The Debian changelog: its latest entry dates the man page, so the page changes only with a
/// release, and two builds of one release give the same page.
const CHANGELOG: &str = include_str!("../packaging/debian/changelog");

/// `2026-11-21` from the first ` -- name <mail>  Sat, 21 Nov 2026 18:57:10 +0000` line of
/// `changelog`; empty when there is none.
fn release_date(changelog: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Some(trailer) = changelog.lines().find(|l| l.starts_with(" -- ")) else {
        return String::new();
    };
    let date = trailer.rsplit("  ").next().unwrap_or_default();
    let words: Vec<&str> = date.split_whitespace().collect();
    match words.as_slice() {
        [_, day, month, year, ..] => match MONTHS.iter().position(|m| m == month) {
            Some(m) => format!("{year}-{:02}-{:0>2}", m + 1, day),
            None => String::new(),
        },
        _ => String::new(),
    }
}

/// A `.TP` paragraph: `term` in bold, then `text`.
fn item(roff: &mut Roff, term: impl Into<Vec<Inline>>, text: &str) {
    roff.control("TP", [] as [&str; 0]);
    roff.text(term);
    roff.text([roman(text)]);
}

fn extra_sections(cmd: &clap::Command) -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        item(
            &mut r,
            [bold(format!("retracker {}", sub.get_name()))],
            &about,
        );
    }

    r.control("SH", ["FILES"]);
    item(
        &mut r,
        [italic(PACKAGED_CONFIG)],
        "The configuration of the Debian package (owner root, group retracker, mode 0640, as \
         it may hold the web UI password). Every key is listed there with its default and \
         meaning.",
    );
    item(
        &mut r,
        [italic("/var/lib/retracker/retracker.sqlite")],
        "The database of the packaged configuration: swarms, completed counts, the blocklist, \
         history and web UI sessions.",
    );
    item(
        &mut r,
        [italic("/var/log/retracker/retracker.log")],
        "The log file of the packaged configuration, rotated by size; the same lines go to the \
         journal (journalctl -u retracker).",
    );
    item(
        &mut r,
        [italic(
            "/usr/share/doc/retracker/examples/nginx/retracker.conf",
        )],
        "An nginx server block for retracker.local in front of the tracker ([TRACKER] mode = \
         proxy).",
    );
    item(
        &mut r,
        [italic(LOCAL_CONFIG)],
        "Read instead of /etc/retracker/config.ini when it exists in the current folder (a \
         source checkout) and --config is not given.",
    );

    r.control("SH", ["ENVIRONMENT"]);
    item(
        &mut r,
        [
            bold("RETRACKER_"),
            italic("SECTION"),
            bold("_"),
            italic("KEY"),
        ],
        "Overrides one configuration key, for example RETRACKER_TRACKER_PORT=6969.",
    );
    item(
        &mut r,
        [bold("RETRACKER_PASSWORD")],
        "The web UI password for add-torrent --url (else it is read from the terminal).",
    );
    item(
        &mut r,
        [bold("RUST_LOG")],
        "Extra log filter directives (tracing EnvFilter syntax), added after [LOGGING] level.",
    );
    item(
        &mut r,
        [bold("NOTIFY_SOCKET")],
        "Set by systemd for Type=notify services: retracker sends READY=1 once it answers \
         requests, RELOADING=1 and READY=1 around a reload, and STOPPING=1 at shutdown.",
    );

    r.control("SH", ["SIGNALS"]);
    item(
        &mut r,
        [bold("SIGHUP")],
        "Re-read the configuration file (systemctl reload retracker), the access list file, the \
         networks file, the MaxMind databases and the HTTPS certificate. A file that does not \
         load is refused and the running settings are kept; keys that need a restart are named \
         in the log.",
    );
    item(
        &mut r,
        [bold("SIGTERM"), roman(", "), bold("SIGINT")],
        "Stop accepting, finish the requests in flight, write what is pending to the database \
         and exit 0.",
    );

    r.control("SH", ["EXIT STATUS"]);
    item(
        &mut r,
        [bold("0")],
        "Clean shutdown, or a valid configuration with --check-config.",
    );
    item(
        &mut r,
        [bold("1")],
        "Another start-up failure, such as a port already in use.",
    );
    item(
        &mut r,
        [bold("2")],
        "The configuration, the HTTPS certificate or key, the access list, the networks file, \
         a MaxMind database or the database cannot be used (the message names the file, and the \
         section, key and value or the line); or retracker locate was given something that is \
         not an IP address.",
    );

    r.control("SH", ["SEE ALSO"]);
    r.text([
        bold("systemctl"),
        roman("(1), "),
        bold("journalctl"),
        roman("(1), "),
        bold("systemd.service"),
        roman("(5), "),
        bold("nginx"),
        roman("(8); /usr/share/doc/retracker/README.md.gz"),
    ]);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("retracker").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn config_path_prefers_the_flag_then_the_local_file_then_the_packaged_one() {
        let dir = tempfile::tempdir().unwrap();
        let packaged = dir.path().join("etc-retracker.ini");
        let explicit = cli(&["--config", "/srv/x.ini"]);
        assert_eq!(
            explicit.config_path_in(dir.path(), &packaged),
            PathBuf::from("/srv/x.ini")
        );
        // Neither exists: the local name, so the error names what a checkout would have.
        let none = cli(&[]);
        assert_eq!(
            none.config_path_in(dir.path(), &packaged),
            PathBuf::from(LOCAL_CONFIG)
        );
        std::fs::write(&packaged, "").unwrap();
        assert_eq!(none.config_path_in(dir.path(), &packaged), packaged);
        std::fs::create_dir(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join(LOCAL_CONFIG), "").unwrap();
        assert_eq!(
            none.config_path_in(dir.path(), &packaged),
            PathBuf::from(LOCAL_CONFIG)
        );
    }

    #[test]
    fn the_page_is_dated_by_the_latest_changelog_entry() {
        let log = "retracker (0.2.0-1) unstable; urgency=medium\n\n  * x\n\n -- A B <a@b.c>  Mon, 5 Jan 2027 10:00:00 +0000\n\n -- A B <a@b.c>  Sat, 21 Nov 2026 18:57:10 +0000\n";
        assert_eq!(release_date(log), "2027-01-05");
        assert_eq!(release_date("no trailer"), "");
        assert!(!release_date(CHANGELOG).is_empty());
        assert!(man_page().contains(&format!(".TH retracker 8 {} ", release_date(CHANGELOG))));
    }

    #[test]
    fn the_man_page_subcommand_is_hidden_from_help() {
        assert_eq!(cli(&["manpage"]).command, Some(Command::Manpage));
        let help = Cli::command().render_help().to_string();
        assert!(
            help.contains("hash-password") && !help.contains("manpage"),
            "{help}"
        );
        assert!(!man_page().contains("manpage"));
    }
}
