//! The `retracker` binary: command line, configuration, logging, listeners, signals.
//!
//! Exit status: 0 after a clean shutdown (SIGTERM/SIGINT) or a valid `--check-config`;
//! 2 when the configuration (with the files it names: access list, networks file, MaxMind
//! databases), the HTTPS certificate or the database cannot be used; 1 for other start-up
//! failures (e.g. the port is taken).

use clap::Parser;
use retracker::cli::{Cli, Command};
use retracker::config::{self, Config};
use retracker::server::{self, ServerError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::HashPassword) => return hash_password(),
        Some(Command::Query(args)) => return retracker::query::main(args),
        Some(Command::Report(args)) => return retracker::query::report::main(args),
        Some(Command::TorrentInfo(args)) => return retracker::torrent::info::run(args),
        Some(Command::AddTorrent(args)) => {
            return retracker::torrent::add::run(args, &cli.config_path())
        }
        Some(Command::Locate(args)) => {
            return retracker::locality::locate::run(args, &cli.config_path())
        }
        Some(Command::Manpage) => {
            print!("{}", retracker::cli::man_page());
            return ExitCode::SUCCESS;
        }
        None => {}
    }
    let config_path = cli.config_path();
    let loaded = match config::load_file(&config_path) {
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
        // The certificate is part of what a reload would use: check it too.
        if let Some((cert, key)) = loaded.config.tls.files() {
            if let Err(e) = retracker::tls::load(cert, key) {
                eprintln!("retracker: HTTPS: {e}");
                return ExitCode::from(2);
            }
        }
        if let Err(e) = retracker::access::AccessRules::load(&loaded.config.access) {
            eprintln!("retracker: configuration error: {e}");
            return ExitCode::from(2);
        }
        // So are the networks file and the MaxMind databases of the network map.
        if let Err(e) = retracker::locality::NetworkMap::load(&loaded.config) {
            eprintln!("retracker: configuration error: {e}");
            return ExitCode::from(2);
        }
        print!("{}", config::render(&loaded.config));
        eprintln!(
            "retracker: {}: configuration is valid",
            config_path.display()
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
    runtime.block_on(serve(loaded.config, &config_path))
}

fn hash_password() -> ExitCode {
    use std::io::IsTerminal;
    let read = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ").and_then(|first| {
            let again = rpassword::prompt_password("Again: ")?;
            if first == again {
                Ok(first)
            } else {
                Err(std::io::Error::other("the passwords differ"))
            }
        })
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map(|_| line.trim_end_matches(['\r', '\n']).to_owned())
    };
    match read {
        Ok(p) if p.is_empty() => {
            eprintln!("retracker: an empty password would disable the web UI");
            ExitCode::from(2)
        }
        Ok(p) => {
            println!("{}", retracker::web::auth::hash_password(&p));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("retracker: cannot read the password: {e}");
            ExitCode::from(2)
        }
    }
}

/// Binds `port` on each of `hosts`.
fn bind_all(hosts: &[std::net::IpAddr], port: u16) -> Result<Vec<tokio::net::TcpListener>, ()> {
    let mut out = Vec::new();
    for host in hosts {
        let addr = SocketAddr::new(*host, port);
        match server::bind(addr) {
            Ok(l) => out.push(l),
            Err(e) => {
                tracing::error!("cannot listen on {addr}: {e}");
                return Err(());
            }
        }
    }
    Ok(out)
}

/// Binds the UDP tracker beside each tracker listener: on its port, or on `udp_port`.
fn bind_udp_all(
    tcp: &[tokio::net::TcpListener],
    udp_port: config::UdpPort,
) -> Result<Vec<tokio::net::UdpSocket>, ()> {
    let mut out = Vec::new();
    for l in tcp {
        let Ok(mut addr) = l.local_addr() else {
            continue;
        };
        match udp_port {
            config::UdpPort::Off => return Ok(out),
            config::UdpPort::SameAsHttp => {}
            config::UdpPort::Port(n) => addr.set_port(n),
        }
        match server::bind_udp(addr) {
            Ok(s) => out.push(s),
            Err(e) => {
                tracing::error!("cannot listen on udp://{addr}: {e}");
                return Err(());
            }
        }
    }
    Ok(out)
}

async fn serve(config: Config, path: &std::path::Path) -> ExitCode {
    let t = &config.tracker;
    let or_tracker_hosts = |h: &Vec<std::net::IpAddr>| {
        if h.is_empty() {
            t.host.clone()
        } else {
            h.clone()
        }
    };
    let mut listeners = server::Listeners::default();
    let bound = (|| {
        listeners.tracker = bind_all(&t.host, t.port)?;
        listeners.udp = bind_udp_all(&listeners.tracker, t.udp_port)?;
        if config.web.port != 0 {
            listeners.web = bind_all(&or_tracker_hosts(&config.web.host), config.web.port)?;
        }
        if config.metrics.port != 0 {
            listeners.metrics =
                bind_all(&or_tracker_hosts(&config.metrics.host), config.metrics.port)?;
        }
        if config.tls.files().is_some() {
            listeners.https = bind_all(&t.host, config.tls.port)?;
        }
        Ok::<(), ()>(())
    })();
    if bound.is_err() {
        return ExitCode::FAILURE;
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
    for l in &listeners.tracker {
        if let Ok(addr) = l.local_addr() {
            tracing::info!("retracker listening on http://{addr}/announce");
        }
    }
    for l in &listeners.https {
        if let Ok(addr) = l.local_addr() {
            tracing::info!("retracker listening on https://{addr}/announce");
        }
    }
    let ui = if listeners.web.is_empty() {
        &listeners.tracker
    } else {
        &listeners.web
    };
    // With redirect_http, plain HTTP only sends the UI on to HTTPS.
    let redirected = config.tls.redirect_http && !listeners.https.is_empty();
    if !config.stats.access_password.is_empty() {
        let plain_ui = !(redirected && listeners.web.is_empty());
        for l in ui.iter().filter(|_| plain_ui) {
            if let Ok(addr) = l.local_addr() {
                tracing::info!("web UI on http://{addr}/stat");
            }
        }
        if listeners.web.is_empty() {
            for l in &listeners.https {
                if let Ok(addr) = l.local_addr() {
                    tracing::info!("web UI on https://{addr}/stat");
                }
            }
        }
    }
    let metrics = [&listeners.metrics, &listeners.web, &listeners.tracker]
        .into_iter()
        .find(|l| !l.is_empty())
        .expect("tracker listeners exist");
    for l in metrics {
        if let Ok(addr) = l.local_addr() {
            tracing::info!("metrics on http://{addr}/metrics");
        }
    }
    let serving: Vec<String> = listeners
        .tracker
        .iter()
        .chain(&listeners.https)
        .filter_map(|l| l.local_addr().ok())
        .map(|a| a.to_string())
        .collect();
    let status = format!("STATUS=tracker on {}", serving.join(", "));
    let hooks = server::Hooks {
        ready: Some(Box::new(move || {
            tell_systemd(&format!("READY=1\n{status}"))
        })),
        reloaded: Some(std::sync::Arc::new(|| tell_systemd("READY=1"))),
    };
    let shutdown = async {
        shutdown_signal().await;
        tell_systemd("STOPPING=1");
    };
    let (reload_tx, reloads) = tokio::sync::watch::channel(std::sync::Arc::new(config.clone()));
    tokio::spawn(reload_on_sighup(path.to_owned(), reload_tx));
    match server::run_with_hooks(config, listeners, shutdown, reloads, hooks).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(ServerError::Storage(e)) => {
            tracing::error!("{e}");
            eprintln!("retracker: {e}");
            ExitCode::from(2)
        }
        Err(ServerError::Tls(e)) => {
            tracing::error!("HTTPS: {e}");
            eprintln!("retracker: HTTPS: {e}");
            ExitCode::from(2)
        }
        // The access list or the network map: files the configuration names.
        Err(e @ (ServerError::Access(_) | ServerError::Locality(_) | ServerError::Checks(_))) => {
            tracing::error!("{e}");
            eprintln!("retracker: configuration error: {e}");
            ExitCode::from(2)
        }
        // Not the operator's input: a bug or the runtime going away; exit 1, not 2.
        Err(ServerError::Task(e)) => {
            tracing::error!("start-up failed: {e}");
            eprintln!("retracker: start-up failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// On each SIGHUP re-reads the configuration file; a valid one is handed to the server, an
/// invalid one is logged and the running configuration kept.
async fn reload_on_sighup(
    path: PathBuf,
    reloads: tokio::sync::watch::Sender<std::sync::Arc<Config>>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: reload needs a restart");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP received: reloading {}", path.display());
        // The server says READY=1 again once it has applied the new configuration.
        tell_systemd(&retracker::sdnotify::reloading_message());
        match config::load_file(&path) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    tracing::warn!("{w}");
                }
                let _ = reloads.send(std::sync::Arc::new(loaded.config));
            }
            Err(e) => {
                tracing::error!("reload refused, keeping the running configuration: {e}");
                tell_systemd("READY=1");
            }
        }
    }
}

/// Passes `state` on to systemd when it started us with `$NOTIFY_SOCKET` (`Type=notify`);
/// a failure is logged, never fatal.
fn tell_systemd(state: &str) {
    if let Err(e) = retracker::sdnotify::notify(state) {
        let first = state.lines().next().unwrap_or_default();
        tracing::warn!("cannot notify the service manager of {first}: {e}");
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
