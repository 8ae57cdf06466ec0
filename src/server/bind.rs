//! Binding the sockets the server is handed: TCP listeners and UDP tracker sockets, with the
//! options a tracker needs (IPv6-only for `::` beside `0.0.0.0`, `SO_REUSEADDR` on TCP only).

use tokio::net::{TcpListener, UdpSocket};

/// Binds a listener for `addr`. An IPv6 address is bound IPv6-only, so that `host = 0.0.0.0, ::`
/// gives one IPv4 and one IPv6 listener on the same port instead of a conflict.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // A restarted tracker must not wait for the old connections' TIME_WAIT to expire.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// Binds a UDP tracker socket for `addr`; an IPv6 address is bound IPv6-only, as in [`bind`].
///
/// Unlike [`bind`], without `SO_REUSEADDR`: UDP has no TIME_WAIT to skip, and on Linux the
/// option would let a second tracker bind the same UDP port without an error and silently take
/// over its packets.
pub fn bind_udp(addr: std::net::SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn ipv4_and_ipv6_wildcards_share_a_port() {
        let v4 = super::bind("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = v4.local_addr().unwrap().port();
        let v6 = super::bind(std::net::SocketAddr::new("::".parse().unwrap(), port));
        assert!(
            v6.is_ok(),
            "binding [::]:{port} beside 0.0.0.0:{port}: {v6:?}"
        );
    }

    #[tokio::test]
    async fn udp_families_share_a_port_but_a_taken_port_is_refused() {
        let v4 = super::bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = v4.local_addr().unwrap().port();
        let v6 = super::bind_udp(std::net::SocketAddr::new("::1".parse().unwrap(), port));
        assert!(
            v6.is_ok(),
            "binding udp [::1]:{port} beside 127.0.0.1:{port}: {v6:?}"
        );
        let again = super::bind_udp(std::net::SocketAddr::new([127, 0, 0, 1].into(), port));
        assert!(again.is_err(), "a second tracker took udp port {port}");
    }
}
