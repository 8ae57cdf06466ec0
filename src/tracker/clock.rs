//! The tracker's clock: Unix seconds, from the system or set by a test.
//!
//! Everything that ages peers or stamps a record (announces, expiry, cleanup, history snapshots,
//! the web UI's "last seen") reads the time through one [`Clock`] held by the
//! [`Tracker`](super::Tracker), so that a test can move time forward instead of sleeping through
//! it: expiry, history and interval tests run in milliseconds with [`Clock::manual`]. The loops
//! that wait for "the next cleanup" or "the next snapshot" wait on the same clock
//! ([`Clock::sleep`]), so a manual clock wakes them when it passes their deadline.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// Now, in Unix seconds from the system clock (u32 lasts until 2106).
pub fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// A source of Unix seconds: the system clock, or a manual one that only moves when told.
/// Cloning shares the same time.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system clock. Some: the manual time, watched by sleepers.
    manual: Option<Arc<watch::Sender<u32>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands at `start` until [`Clock::set`] or [`Clock::advance`] moves it.
    pub fn manual(start: u32) -> Clock {
        Clock {
            manual: Some(Arc::new(watch::Sender::new(start))),
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Now, in Unix seconds.
    pub fn now(&self) -> u32 {
        match &self.manual {
            None => unix_now(),
            Some(t) => *t.borrow(),
        }
    }

    /// Moves a manual clock to `t` (never backwards: a smaller `t` is ignored) and wakes the
    /// sleepers whose deadline has come.
    ///
    /// # Panics
    /// On the system clock, which nobody sets.
    pub fn set(&self, t: u32) {
        let manual = self
            .manual
            .as_ref()
            .expect("only a manual clock can be set");
        manual.send_if_modified(|now| {
            let moved = t > *now;
            *now = (*now).max(t);
            moved
        });
    }

    /// Moves a manual clock forward by `secs`; see [`Clock::set`].
    pub fn advance(&self, secs: u32) {
        self.set(self.now().saturating_add(secs));
    }

    /// Waits `d`: in real time on the system clock; on a manual clock, until it has been moved
    /// at least `d` (rounded up to whole seconds) past the time of the call.
    pub async fn sleep(&self, d: Duration) {
        let Some(manual) = &self.manual else {
            return tokio::time::sleep(d).await;
        };
        let mut rx = manual.subscribe();
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        let until = u64::from(*rx.borrow_and_update()) + secs;
        while u64::from(*rx.borrow_and_update()) < until {
            if rx.changed().await.is_err() {
                // Unreachable while `self` holds the sender; never spin if it were.
                return std::future::pending().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_unix_time() {
        let c = Clock::system();
        let a = unix_now();
        let b = c.now();
        assert!(b >= a && b <= a + 1, "{a} {b}");
        assert!(b > 1_700_000_000, "{b}");
        assert!(!c.is_manual());
    }

    #[test]
    fn a_manual_clock_moves_only_forward_and_clones_share_it() {
        let c = Clock::manual(1000);
        let d = c.clone();
        assert_eq!(c.now(), 1000);
        c.advance(5);
        assert_eq!(d.now(), 1005);
        d.set(900);
        assert_eq!(c.now(), 1005, "never backwards");
        d.set(2000);
        assert_eq!(c.now(), 2000);
    }

    #[tokio::test]
    async fn sleep_on_a_manual_clock_ends_when_the_clock_passes_its_deadline() {
        let c = Clock::manual(100);
        let sleeper = tokio::spawn({
            let c = c.clone();
            async move { c.sleep(Duration::from_millis(2500)).await }
        });
        // Let the sleeper subscribe: it must not end while the clock stands still.
        tokio::task::yield_now().await;
        c.advance(2);
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "woke at 102, deadline 103");
        c.advance(1);
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("woke at 103")
            .unwrap();
    }
}
