//! The command lines of `retracker query` and `retracker report` (clap definitions; checked
//! further in [`super::plan`]).

use std::path::PathBuf;

/// Output formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// A JSON array, one object per request.
    Json,
    /// RFC 4180 CSV with a header row, one row per request.
    Csv,
}

/// `--event`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventArg {
    /// First announce of a session.
    Started,
    /// The download finished.
    Completed,
    /// The peer leaves the swarm.
    Stopped,
    /// A regular re-announce (no event).
    None,
}

/// `--client`: the real clients of [`crate::client::profiles`] (the versions are there).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientArg {
    /// qBittorrent 5.2.3.
    Qbittorrent,
    /// Transmission 4.1.3.
    Transmission,
    /// Deluge 2.2.0 (with libtorrent 2.0.7).
    Deluge,
    /// µTorrent 3.5.4.
    Utorrent,
    /// libtorrent (rasterbar) 2.0.13.
    Libtorrent,
    /// aria2 1.37.0.
    Aria2,
    /// One of the above, picked at random for the run.
    Random,
}

/// `retracker query`.
#[derive(clap::Args, Debug, PartialEq)]
#[command(after_help = "\
An announce adds this tool as a peer (port --port, --left bytes left, so counted as a leecher \
by default). Unless --event is given it announces `started`, prints the answer, then announces \
`stopped` with the same peer id, so that no phantom peer stays in the swarm. With --event, only \
that one announce is sent.

Reached over IPv6, an answer with compact IPv4 peers and no peers6 key gets a warning (BEP 7): \
that tracker hands out no IPv6 peers.

Exit status: 0 every request answered, 1 a tracker refused (failure reason) or could not be \
reached or answered something unreadable, 2 usage error (bad URL, hash, file or option).")]
pub struct QueryArgs {
    /// Tracker announce URL: http://, https:// or udp://host:port (not with --batch).
    #[arg(value_name = "TRACKER_URL", required_unless_present = "batch")]
    pub url: Option<String>,
    /// Info hash as 40 hex digits (repeatable: one request each).
    #[arg(long = "info-hash", value_name = "HEX")]
    pub info_hash: Vec<String>,
    /// Take the info hash(es) from a .torrent file (a hybrid v1+v2 torrent gives two: the v1
    /// hash and the v2 hash truncated to 20 bytes, one request each, as libtorrent does).
    #[arg(long, value_name = "FILE")]
    pub torrent: Option<PathBuf>,
    /// Scrape (BEP 48: the URL's last path segment `announce` becomes `scrape`) instead of
    /// announcing.
    #[arg(long)]
    pub scrape: bool,
    /// Scrape every torrent the tracker has (no info_hash; HTTP and HTTPS only).
    #[arg(long, conflicts_with_all = ["scrape", "info_hash", "torrent"])]
    pub full_scrape: bool,
    /// Announce with this event only (no `stopped` after it).
    #[arg(long, value_enum)]
    pub event: Option<EventArg>,
    /// Peers wanted [default: the tracker's, or the --client's].
    #[arg(long, value_name = "N")]
    pub numwant: Option<u32>,
    /// Announce as this BitTorrent client does: its peer id prefix, HTTP User-Agent, key
    /// format and numwant (over UDP, the peer id only), for trackers that allow only known
    /// clients [default: retracker's own].
    #[arg(long, value_enum, value_name = "NAME")]
    pub client: Option<ClientArg>,
    /// Port announced.
    #[arg(long, default_value_t = 6881)]
    pub port: u16,
    /// Bytes left announced (0: a seeder).
    #[arg(long, default_value_t = 1, value_name = "BYTES")]
    pub left: u64,
    /// List the peers (address:port) in the table output (JSON always has them).
    #[arg(long)]
    pub peers: bool,
    /// Look up the peers' host names (reverse DNS, 2 s at most each).
    #[arg(long, visible_alias = "resolve")]
    pub rdns: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Extra attempts after a network error or timeout (never after an answer).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub retries: u32,
    /// Seconds allowed for one attempt.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub timeout: f64,
    /// Reach the tracker over IPv6 only (default: any address, IPv4 first).
    #[arg(long)]
    pub ipv6: bool,
    /// Trust this CA certificate (PEM) for https:// besides the system's roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Do not check https:// certificates at all (prints a warning).
    #[arg(long)]
    pub insecure: bool,
    /// Query every tracker URL in FILE (one a line; blank lines and # comments skipped).
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    pub batch: Option<PathBuf>,
    /// Requests in flight at once with --batch.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,
    /// Poll every SECONDS (announce or scrape) until --count polls or Ctrl-C/SIGTERM.
    #[arg(long, value_name = "SECONDS", requires = "record")]
    pub watch: Option<f64>,
    /// Polls with --watch [default: until stopped].
    #[arg(long, value_name = "N", requires = "watch")]
    pub count: Option<u64>,
    /// Record every --watch poll into FILE: CSV when it ends in .csv, else SQLite.
    #[arg(long, value_name = "FILE", requires = "watch")]
    pub record: Option<PathBuf>,
}

/// `retracker report`.
#[derive(clap::Args, Debug, PartialEq)]
pub struct ReportArgs {
    /// A recording made by `retracker query --watch --record` (SQLite or CSV).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Csv)]
    pub format: ReportFormat,
}

/// `retracker report --format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// RFC 4180 CSV, one row per poll.
    Csv,
    /// A JSON array, one object per poll.
    Json,
}
