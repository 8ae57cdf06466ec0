//! What each listener serves, and the one router: on a listener that serves the tracker, the
//! accept loop matches tracker paths first (`crate::http::serve`, the only place they are
//! matched); every other request, on every listener, goes to the web UI's warp filters built
//! here, ending in one 404.

use super::accept::{serve_all, Serving};
use super::conns::Conns;
use super::wiring::Services;
use super::Listeners;
use crate::config::Config;
use crate::http::reply;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use warp::path::FullPath;
use warp::Filter;

/// Starts an accept loop on every TCP listener and a server on every UDP socket of `listeners`.
pub(super) fn serve(
    listeners: Listeners,
    services: &Services,
    config: &Config,
    conns: &Arc<Conns>,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let (tracker, web) = (&services.tracker, &services.web);
    let separate_web = !listeners.web.is_empty();
    let separate_metrics = !listeners.metrics.is_empty();
    let mut tasks = Vec::new();

    // Tracker listeners: the UI too unless it has its own, /metrics unless it has its own.
    let tracker_ui = crate::web::routes(
        Arc::clone(web),
        !separate_web,
        !separate_web && !separate_metrics,
    )
    .or(not_found())
    .unify();
    // Plain HTTP sends the UI to HTTPS when asked to and when HTTPS serves the UI.
    let redirect_to = match listeners.https.first().map(TcpListener::local_addr) {
        Some(Ok(addr)) if config.tls.redirect_http && !separate_web => Some(addr.port()),
        _ => None,
    };
    let plain_ui = crate::web::https_redirect(redirect_to)
        .or(tracker_ui.clone())
        .unify();
    let plain = Serving {
        tracker: Some(Arc::clone(tracker)),
        tls: None,
    };
    serve_all(
        listeners.tracker,
        &plain_ui,
        &plain,
        conns,
        stop,
        &mut tasks,
    );
    if let Some(certs) = &services.certs {
        let acceptor = TlsAcceptor::from(crate::tls::server_config(Arc::clone(certs)));
        let https = Serving {
            tracker: Some(Arc::clone(tracker)),
            tls: Some(acceptor),
        };
        serve_all(
            listeners.https,
            &tracker_ui,
            &https,
            conns,
            stop,
            &mut tasks,
        );
    }

    let web_only = Serving {
        tracker: None,
        tls: None,
    };
    let ui = crate::web::routes(Arc::clone(web), true, !separate_metrics)
        .or(not_found())
        .unify();
    serve_all(listeners.web, &ui, &web_only, conns, stop, &mut tasks);
    let metrics = crate::web::routes(Arc::clone(web), false, true)
        .or(not_found())
        .unify();
    serve_all(
        listeners.metrics,
        &metrics,
        &web_only,
        conns,
        stop,
        &mut tasks,
    );

    for socket in listeners.udp {
        let task = crate::udp::serve(socket, Arc::clone(tracker), stop.clone());
        tasks.push(tokio::spawn(task));
    }
    tasks
}

/// The answer to a path nobody serves on this listener.
fn not_found(
) -> impl Filter<Extract = (http::Response<Vec<u8>>,), Error = Infallible> + Clone + Send + Sync + 'static
{
    warp::path::full().map(|path: FullPath| {
        reply::text(
            http::StatusCode::NOT_FOUND,
            format!("not found: {}\n", path.as_str()),
        )
    })
}
