//! At most one log line per period for a condition that can repeat on every request or accept
//! (a misconfigured proxy, running out of file descriptors): visible, never a flood.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A gate that opens once per `period_secs`.
#[derive(Debug)]
pub struct Throttle {
    period_secs: u64,
    last: AtomicU64,
}

impl Throttle {
    /// A gate open once every `period_secs` seconds (first call opens it).
    pub const fn new(period_secs: u64) -> Self {
        Throttle {
            period_secs,
            last: AtomicU64::new(0),
        }
    }

    /// True when the caller should log now.
    pub fn ready(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.last.load(Ordering::Relaxed);
        (last == 0 || now.saturating_sub(last) >= self.period_secs)
            && self
                .last
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn opens_once_per_period() {
        let t = super::Throttle::new(3600);
        assert!(t.ready());
        assert!(!t.ready());
        assert!(!t.ready());
    }
}
