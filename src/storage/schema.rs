//! The database schema and its migrations.
//!
//! `PRAGMA user_version` is the number of migrations applied; `PRAGMA application_id` marks the
//! file as retracker's, so a foreign SQLite file is refused instead of being altered.

/// `application_id` of a retracker database ("RTRK").
pub const APPLICATION_ID: i32 = 0x5254_524B;

/// Migrations in order; migration `i` brings `user_version` from `i` to `i + 1`. Append only.
pub const MIGRATIONS: &[&str] = &[
    // 1: torrents with their completed counts, and the live peers of each swarm.
    "CREATE TABLE torrents (
        info_hash  BLOB PRIMARY KEY NOT NULL CHECK (length(info_hash) = 20),
        completed  INTEGER NOT NULL DEFAULT 0,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE peers (
        info_hash     BLOB NOT NULL,
        peer_id       BLOB NOT NULL,
        ip            BLOB NOT NULL CHECK (length(ip) IN (4, 16)),
        port          INTEGER NOT NULL,
        key           INTEGER,
        seeder        INTEGER NOT NULL,
        seen_leeching INTEGER NOT NULL,
        counted       INTEGER NOT NULL,
        last_seen     INTEGER NOT NULL,
        PRIMARY KEY (info_hash, peer_id)
    ) WITHOUT ROWID;
    CREATE INDEX peers_last_seen ON peers (last_seen);",
    // 2: the web UI's state: settings (the session secret), history snapshots, the blocklist,
    // sessions ended by logout before their expiry, and torrent metadata (names) for display.
    "CREATE TABLE settings (
        name  TEXT PRIMARY KEY NOT NULL,
        value BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE history (
        at                INTEGER PRIMARY KEY NOT NULL,
        torrents          INTEGER NOT NULL,
        seeders           INTEGER NOT NULL,
        leechers          INTEGER NOT NULL,
        ipv4_peers        INTEGER NOT NULL,
        ipv6_peers        INTEGER NOT NULL,
        unique_addrs      INTEGER NOT NULL,
        announces_per_sec REAL NOT NULL,
        scrapes_per_sec   REAL NOT NULL,
        completed         INTEGER NOT NULL
    );
    CREATE TABLE blocklist (
        id         INTEGER PRIMARY KEY,
        target     TEXT NOT NULL UNIQUE,
        reason     TEXT NOT NULL,
        created    INTEGER NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE TABLE revoked_sessions (
        nonce   BLOB PRIMARY KEY NOT NULL,
        expires INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE torrent_meta (
        info_hash    BLOB PRIMARY KEY NOT NULL CHECK (length(info_hash) = 20),
        name         TEXT NOT NULL,
        size         INTEGER,
        files        INTEGER,
        piece_length INTEGER,
        comment      TEXT,
        created_by   TEXT,
        added        INTEGER NOT NULL
    ) WITHOUT ROWID",
    // 3: what locality kept near between two history snapshots (NULL: nothing handed out, or a
    // snapshot taken before this column existed).
    "ALTER TABLE history ADD COLUMN kept_network REAL;
    ALTER TABLE history ADD COLUMN kept_near REAL;",
    // 4: no index on peers' last_seen: every peer write moved its entry (a second B-tree per
    // row), for the benefit of one expiry DELETE a cleanup period, which now scans the table
    // on the blocking pool instead.
    "DROP INDEX IF EXISTS peers_last_seen;",
    // 5: tracker checks made by the server (`crate::checks`): each answer (or why there was
    // none), its peers, and the watches added from the web UI (those of `[CHECKS] watch_file`
    // live in the file).
    "CREATE TABLE checks (
        id          INTEGER PRIMARY KEY,
        at          INTEGER NOT NULL,
        url         TEXT NOT NULL,
        request     TEXT NOT NULL,
        info_hash   TEXT,
        status      TEXT NOT NULL,
        error       TEXT,
        seeders     INTEGER,
        leechers    INTEGER,
        downloaded  INTEGER,
        interval    INTEGER,
        time_ms     INTEGER NOT NULL,
        attempts    INTEGER NOT NULL,
        external_ip TEXT,
        warnings    TEXT,
        source      TEXT NOT NULL CHECK (source IN ('page', 'watch'))
    );
    CREATE INDEX checks_target ON checks (url, info_hash, at);
    CREATE INDEX checks_at ON checks (at);
    CREATE TABLE check_peers (
        check_id INTEGER NOT NULL,
        address  TEXT NOT NULL,
        client   TEXT
    );
    CREATE INDEX check_peers_check ON check_peers (check_id);
    CREATE TABLE check_watches (
        id        INTEGER PRIMARY KEY,
        url       TEXT NOT NULL,
        info_hash TEXT NOT NULL,
        seconds   INTEGER NOT NULL CHECK (seconds >= 1),
        created   INTEGER NOT NULL,
        UNIQUE (url, info_hash)
    );",
];
