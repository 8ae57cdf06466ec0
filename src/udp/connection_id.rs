//! BEP 15 connection ids, stateless: SipHash-2-4 of the client's IP address and the current
//! 60-second window, keyed once per process (see the module doc of [`crate::udp`] for why the
//! port is left out and how long an id lives).

use siphasher::sip::SipHasher24;
use std::hash::Hasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Instant;

/// Length of a connection id window; an id is valid in its window and the next.
pub const WINDOW_SECS: u64 = 60;

/// The message of the error for an unknown or expired connection id.
pub const BAD_CONNECTION_ID: &str = "connection ID expired or invalid";

/// Issues and checks connection ids; see the module doc.
#[derive(Clone)]
pub struct ConnectionIds {
    /// The MAC key.
    key: [u8; 16],
    /// Windows count from here: monotonic, immune to wall-clock jumps.
    started: Instant,
}

impl ConnectionIds {
    /// Ids keyed with `key`.
    pub fn new(key: [u8; 16]) -> Self {
        ConnectionIds {
            key,
            started: Instant::now(),
        }
    }

    /// The process-wide ids, keyed with 16 random bytes drawn at first use.
    pub fn process() -> &'static ConnectionIds {
        static IDS: OnceLock<ConnectionIds> = OnceLock::new();
        IDS.get_or_init(|| ConnectionIds::new(rand::random()))
    }

    /// The current window.
    fn window(&self) -> u64 {
        self.started.elapsed().as_secs() / WINDOW_SECS
    }

    /// The id for `client` in `window`.
    pub fn id_at(&self, client: IpAddr, window: u64) -> u64 {
        let mut mac = SipHasher24::new_with_key(&self.key);
        match client.to_canonical() {
            IpAddr::V4(v4) => mac.write(&v4.octets()),
            IpAddr::V6(v6) => mac.write(&v6.octets()),
        }
        mac.write(&window.to_be_bytes());
        mac.finish()
    }

    /// True when `id` was issued to `client` in `window` or the one before.
    pub fn valid_at(&self, id: u64, client: IpAddr, window: u64) -> bool {
        use subtle::ConstantTimeEq;
        // Which window matched may show in the timing; that tells an attacker nothing.
        let matches = |w: u64| bool::from(id.ct_eq(&self.id_at(client, w)));
        matches(window) || matches(window.wrapping_sub(1))
    }

    /// The id for `client` now.
    pub fn issue(&self, client: SocketAddr) -> u64 {
        self.id_at(client.ip(), self.window())
    }

    /// True when `id` is valid for `client` now.
    pub fn valid(&self, id: u64, client: SocketAddr) -> bool {
        self.valid_at(id, client.ip(), self.window())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ids_last_two_windows_and_belong_to_one_address() {
        let ids = ConnectionIds::new(*b"sixteen byte key");
        let me = addr("10.0.0.1:6881");
        let id = ids.issue(me);
        let window = ids.window();
        assert!(ids.valid_at(id, me.ip(), window));
        assert!(ids.valid_at(id, me.ip(), window + 1));
        assert!(!ids.valid_at(id, me.ip(), window + 2));
        assert!(!ids.valid_at(id, me.ip(), window.wrapping_sub(1)));
        // Another socket of the same client (another port) may use it; another address not.
        assert!(ids.valid(id, addr("10.0.0.1:6882")));
        assert!(!ids.valid(id, addr("10.0.0.2:6881")));
        assert!(!ids.valid(id ^ 1, me));
        // An IPv4 client seen through a dual-stack socket is the same client.
        assert!(ids.valid(id, addr("[::ffff:10.0.0.1]:6881")));
        assert!(ids.valid_at(ids.id_at(me.ip(), 0), me.ip(), 0));
    }

    #[test]
    fn ids_depend_on_the_key() {
        let me: IpAddr = "fe80::1".parse().unwrap();
        let a = ConnectionIds::new([1; 16]).id_at(me, 5);
        assert_ne!(a, ConnectionIds::new([2; 16]).id_at(me, 5));
        assert_eq!(a, ConnectionIds::new([1; 16]).id_at(me, 5));
        assert_ne!(a, ConnectionIds::new([1; 16]).id_at(me, 6));
        let ids = ConnectionIds::process();
        let client = SocketAddr::new(me, 1);
        assert!(ids.valid(ids.issue(client), client));
    }
}
