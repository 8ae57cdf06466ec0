//! systemd's readiness protocol (`sd_notify(3)`), without libsystemd: one datagram of
//! `KEY=VALUE` lines to the socket named by `$NOTIFY_SOCKET`.
//!
//! The binary sends `READY=1` once every listener is bound, the database restored and the accept
//! loops started (so `Type=notify` units are "active" only when the tracker answers),
//! `RELOADING=1` with `MONOTONIC_USEC` when a SIGHUP arrives and `READY=1` again when the reload
//! has been applied or refused, and `STOPPING=1` at shutdown. Without `$NOTIFY_SOCKET` (not
//! started by systemd, or `Type=simple`) nothing is sent.
//!
//! The socket is a file path (`/run/systemd/notify`) or, when it starts with `@`, a name in
//! Linux's abstract namespace.

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` to `$NOTIFY_SOCKET`; `Ok(false)` when the variable is not set.
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(socket) if !socket.is_empty() => notify_to(&socket, state).map(|()| true),
        _ => Ok(false),
    }
}

/// Sends `state` as one datagram to `socket`: a path, or `@name` for an abstract socket.
pub fn notify_to(socket: &OsStr, state: &str) -> io::Result<()> {
    let bytes = socket.as_bytes();
    let addr = match bytes.first() {
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..])?,
        Some(b'/') => SocketAddr::from_pathname(socket)?,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "NOTIFY_SOCKET {socket:?} is neither a path nor an abstract socket name (@...)"
                ),
            ))
        }
    };
    let sent = UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr)?;
    if sent != state.len() {
        return Err(io::Error::other("the notification was cut short"));
    }
    Ok(())
}

/// `RELOADING=1` with the `MONOTONIC_USEC` field systemd wants with it (CLOCK_MONOTONIC, in
/// microseconds).
pub fn reloading_message() -> String {
    format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec())
}

/// CLOCK_MONOTONIC in microseconds: the clock systemd compares `MONOTONIC_USEC` with
/// (`std::time::Instant` reads it too, but does not show its value).
fn monotonic_usec() -> u128 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let secs = u128::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u128::try_from(ts.tv_nsec).unwrap_or(0);
    secs * 1_000_000 + nanos / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn receive(socket: &UnixDatagram) -> String {
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        notify_to(path.as_os_str(), "READY=1").unwrap();
        assert_eq!(receive(&listener), "READY=1");
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        let name = format!("retracker-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        notify_to(OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        assert_eq!(receive(&listener), "STOPPING=1");
    }

    #[test]
    fn refuses_other_addresses_and_reports_a_missing_socket() {
        let err = notify_to(OsStr::new("vsock:2:1"), "READY=1").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(notify_to(OsStr::new("/nonexistent/notify"), "READY=1").is_err());
    }

    #[test]
    fn reloading_carries_the_monotonic_clock() {
        let first = reloading_message();
        let usec: u128 = first
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .unwrap()
            .parse()
            .unwrap();
        assert!(usec > 0);
        std::thread::sleep(Duration::from_millis(2));
        let later: u128 = reloading_message()
            .rsplit('=')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(later >= usec + 1_000, "{usec} then {later}");
    }
}
