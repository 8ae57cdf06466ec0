//! When a peer that re-announces with nothing changed is written again: the renew boundary.
//!
//! The write-behind persists a peer when its state changes (new, left, seeder, address, port,
//! key, completed) and otherwise only when its announce falls in a later *renew window* than
//! the one its stored `last_seen` is in. Windows are `secs` long (a quarter of the peer
//! expiry) and aligned to Unix time, so a peer announcing every few seconds is rewritten once a
//! window, not once an announce, and no per-peer field is needed to know when it was stored.
//!
//! The price is slack: a stored `last_seen` may be older than the peer's real last announce,
//! but never by more than a window: while a peer has no change waiting, its stored and
//! in-memory `last_seen` lie in the same window (an announce in the same window changes
//! nothing stored; one in a later window is written). So at a restart a stored peer is taken as
//! seen at the end of its window ([`Restore::last_seen`]), and the database's own cleanup keeps
//! rows until their window ended before the expiry limit; no live peer expires early, and a
//! dead one lives at most a window longer.
//!
//! A reload that changes the expiry changes the windows; peers stored under the old ones keep
//! the old slack until they are next written (at most one old window).

/// The renew windows of one peer expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Renew {
    /// Window length in seconds, at least 1.
    secs: u32,
}

impl Renew {
    /// Windows of a quarter of `peer_expiry` seconds (at least one second).
    pub fn of_expiry(peer_expiry: u32) -> Renew {
        Renew::every(peer_expiry / 4)
    }

    /// Windows of `secs` seconds (at least one).
    pub const fn every(secs: u32) -> Renew {
        Renew {
            secs: if secs == 0 { 1 } else { secs },
        }
    }

    /// The window length in seconds.
    pub fn secs(self) -> u32 {
        self.secs
    }

    /// Whether an unchanged peer stored as seen in the window of `stored` must be written again
    /// when it announces at `now`.
    pub fn due(self, stored: u32, now: u32) -> bool {
        stored / self.secs != now / self.secs
    }

    /// The latest second a peer stored with `stored` can really have been seen: the end of
    /// its window.
    pub fn latest(self, stored: u32) -> u32 {
        (stored - stored % self.secs).saturating_add(self.secs - 1)
    }

    /// Rows stored with a `last_seen` below this are expired at `expire_before`: their window
    /// ended before it.
    pub fn stored_before(self, expire_before: u32) -> u32 {
        expire_before - expire_before % self.secs
    }
}

/// Which stored peers a restart brings back, and as seen when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restore {
    /// The time of the restart.
    pub now: u32,
    /// Peers last seen before this are expired.
    pub expire_before: u32,
    /// The windows the peers were written with.
    pub renew: Renew,
}

impl Restore {
    /// The restore at `now` of a store whose peers expire after `peer_expiry` seconds.
    pub fn at(now: u32, peer_expiry: u32) -> Restore {
        Restore {
            now,
            expire_before: now.saturating_sub(peer_expiry),
            renew: Renew::of_expiry(peer_expiry),
        }
    }

    /// Whether a peer stored as seen at `stored` is still live.
    pub fn keep(&self, stored: u32) -> bool {
        stored >= self.renew.stored_before(self.expire_before)
    }

    /// The `last_seen` a restored peer gets: the end of its window (the latest it can really
    /// have announced), but not in the future.
    pub fn last_seen(&self, stored: u32) -> u32 {
        self.renew.latest(stored).min(self.now).max(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_peer_is_due_once_a_window() {
        let r = Renew::every(900);
        assert!(!r.due(1800, 1800));
        assert!(!r.due(1800, 2699));
        assert!(r.due(1800, 2700));
        assert!(r.due(2699, 2700), "a window boundary, however close");
        // Announcing every 10 s for an hour writes 4 times, not 360.
        let writes = (0..360)
            .scan(0u32, |stored, i| {
                let now = 10_000 + i * 10;
                let due = i == 0 || r.due(*stored, now);
                if due {
                    *stored = now;
                }
                Some(due)
            })
            .filter(|&d| d)
            .count();
        assert_eq!(writes, 5, "the first announce and one per window entered");
    }

    #[test]
    fn a_restored_peer_is_taken_as_seen_at_the_end_of_its_window() {
        let r = Restore::at(10_000, 3600);
        assert_eq!(r.renew.secs(), 900);
        // Stored at 8100 (window 8100..=8999): it may have announced until 8999.
        assert_eq!(r.last_seen(8100), 8999);
        assert_eq!(r.last_seen(9950), 10_000, "never in the future");
        // expire_before = 6400, in window 6300..=7199: a peer stored at 6300 may have been
        // seen at 7199 and is live; one stored at 6299 was last seen at 6299 at the latest.
        assert!(r.keep(6300));
        assert!(!r.keep(6299));
        assert_eq!(r.renew.stored_before(r.expire_before), 6300);
    }

    #[test]
    fn tiny_expiries_get_one_second_windows() {
        let r = Renew::of_expiry(3);
        assert_eq!(r.secs(), 1);
        assert!(r.due(5, 6));
        assert!(!r.due(6, 6));
        assert_eq!(r.latest(6), 6);
        assert_eq!(r.stored_before(6), 6);
    }
}
