//! `[CHECKS] max_concurrent` and `max_per_minute`: a semaphore and a sliding window of start
//! times. A check asked for is refused at once, in words, when either is full; a watch waits
//! for a place instead (it is counted in the window all the same).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The window `max_per_minute` counts over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The two limits.
pub struct Limits {
    permits: Arc<Semaphore>,
    max_concurrent: u32,
    max_per_minute: u32,
    started: parking_lot::Mutex<VecDeque<Instant>>,
}

impl Limits {
    /// Limits of `max_concurrent` at once and `max_per_minute` in any 60 seconds.
    pub fn new(max_concurrent: u32, max_per_minute: u32) -> Limits {
        Limits {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1) as usize)),
            max_concurrent: max_concurrent.max(1),
            max_per_minute: max_per_minute.max(1),
            started: parking_lot::Mutex::new(VecDeque::new()),
        }
    }

    /// A place for one check now, or why not.
    pub fn try_start(&self, now: Instant) -> Result<OwnedSemaphorePermit, String> {
        let permit = Arc::clone(&self.permits).try_acquire_owned().map_err(|_| {
            format!(
                "busy: {} checks are running already ([CHECKS] max_concurrent); try again when one ends",
                self.max_concurrent
            )
        })?;
        let mut started = self.started.lock();
        while started
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            started.pop_front();
        }
        if started.len() >= self.max_per_minute as usize {
            let wait = started
                .front()
                .map_or(WINDOW, |t| WINDOW.saturating_sub(now.duration_since(*t)));
            return Err(format!(
                "too many checks: {} started in the last minute ([CHECKS] max_per_minute); try again in {} s",
                self.max_per_minute,
                wait.as_secs().max(1)
            ));
        }
        started.push_back(now);
        Ok(permit)
    }

    /// A place for one watch poll: waits for a free one, and counts it in the window.
    pub async fn start_waiting(&self) -> OwnedSemaphorePermit {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        self.started.lock().push_back(Instant::now());
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_and_rate_refuse_in_words() {
        let l = Limits::new(1, 2);
        let t = Instant::now();
        let first = l.try_start(t).unwrap();
        assert!(l.try_start(t).unwrap_err().contains("max_concurrent"));
        drop(first);
        drop(l.try_start(t).unwrap());
        let e = l.try_start(t).unwrap_err();
        assert!(e.contains("max_per_minute") && e.contains("60 s"), "{e}");
        // A minute later the window is empty again.
        drop(l.try_start(t + WINDOW).unwrap());
    }
}
