//! The `retracker` binary: command line, configuration, logging, listeners, signals.
//!
//! Exit status: 0 after a clean shutdown (SIGTERM/SIGINT) or a valid `--check-config`;
//! 2 when the configuration or the database cannot be used; 1 for other start-up failures
//! (e.g. the port is taken).

use clap::Parser;
use retracker::config::{self, Config};
use retracker::server::{self, ServerError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// BitTorrent tracker for local networks.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Configuration file (INI; the Python retracker's config.ini is accepted as is).
    #[arg(short, long, value_name = "PATH", default_value = "config/config.ini")]
    config: PathBuf,

    /// Validate the configuration, print the effective settings and exit (0 valid, 2 invalid).
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = match config::load_file(&cli.config) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("retracker: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        for w in &loaded.warnings {
            eprintln!("retracker: warning: {w}");
        }
        print!("{}", config::render(&loaded.config));
        eprintln!(
            "retracker: {}: configuration is valid",
            cli.config.display()
        );
        return ExitCode::SUCCESS;
    }
    let _log_guard = match retracker::logging::init(&loaded.config.logging) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("retracker: cannot set up logging: {e}");
            return ExitCode::from(2);
        }
    };
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(loaded.config, &cli.config))
}

async fn serve(config: Config, path: &std::path::Path) -> ExitCode {
    let mut listeners = Vec::new();
    for host in &config.tracker.host {
        let addr = SocketAddr::new(*host, config.tracker.port);
        match server::bind(addr) {
            Ok(l) => listeners.push(l),
            Err(e) => {
                tracing::error!("cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    tracing::info!(
        "retracker {} starting with {} ({} mode)",
        env!("CARGO_PKG_VERSION"),
        path.display(),
        match config.tracker.mode {
            config::Mode::Direct => "direct",
            config::Mode::Proxy => "proxy",
        }
    );
    for l in &listeners {
        if let Ok(addr) = l.local_addr() {
            tracing::info!("retracker listening on http://{addr}/announce");
        }
    }
    match server::run(config, listeners, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(ServerError::Storage(e)) => {
            tracing::error!("{e}");
            eprintln!("retracker: {e}");
            ExitCode::from(2)
        }
    }
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}
