//! Work that walks the whole swarm store (cleanup, census, exports, full scrape, sweeps of
//! refused peers) runs here, on tokio's blocking pool, never on an async worker thread: a walk
//! of a million peers takes tens of milliseconds, and on a worker it would stall every
//! connection and UDP socket scheduled there.
//!
//! [`run`] marks the thread while the closure runs, so that the walks can check where they are
//! with [`debug_assert_may_walk`]: off any runtime (tests, the command-line tools) or inside
//! [`run`] is fine; on a runtime thread outside it is a bug, caught in debug builds.

use std::cell::Cell;

thread_local! {
    /// Set while [`run`] executes its closure on this thread.
    static IN_BLOCKING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on the blocking pool and returns its result; a panic in `f` is resumed here.
pub async fn run<T, F>(f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match try_run(f).await {
        Ok(out) => out,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The pool is shutting down with the runtime: nothing left to return to.
        Err(e) => panic!("blocking task cancelled: {e}"),
    }
}

/// [`run`] for callers that carry on after a failure: a panic in `f` (or the pool shutting
/// down) comes back as the error, as from `tokio::task::spawn_blocking`.
pub async fn try_run<T, F>(f: F) -> Result<T, tokio::task::JoinError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        /// Clears the mark however `f` ends: the pool reuses the thread for unmarked work.
        struct Unmark;
        impl Drop for Unmark {
            fn drop(&mut self) {
                IN_BLOCKING.with(|b| b.set(false));
            }
        }
        IN_BLOCKING.with(|b| b.set(true));
        let _unmark = Unmark;
        f()
    })
    .await
}

/// True when this thread may walk the whole store: it is not a tokio runtime thread, or it is
/// inside [`run`].
pub fn may_walk() -> bool {
    IN_BLOCKING.with(Cell::get) || tokio::runtime::Handle::try_current().is_err()
}

/// Panics in debug builds when called on an async worker thread (see the module doc).
#[track_caller]
pub fn debug_assert_may_walk() {
    debug_assert!(
        may_walk(),
        "a walk of the whole swarm store on an async worker thread; use crate::blocking::run"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_threads_may_walk() {
        assert!(may_walk());
    }

    #[tokio::test]
    async fn async_workers_may_not_but_the_blocking_pool_may() {
        assert!(!may_walk(), "inside a #[tokio::test] task");
        assert!(run(may_walk).await, "inside blocking::run");
        // A bare spawn_blocking is inside the runtime but not marked: still refused, so every
        // walk goes through run() and keeps the check meaningful.
        assert!(!tokio::task::spawn_blocking(may_walk).await.unwrap());
        assert!(!may_walk(), "the mark does not leak back to the worker");
    }

    #[tokio::test]
    async fn try_run_marks_the_thread_and_returns_a_panic_as_an_error() {
        assert!(try_run(may_walk).await.unwrap());
        let err = try_run(|| panic!("boom")).await.unwrap_err();
        assert!(err.is_panic());
        // The thread that panicked is back in the pool unmarked.
        for _ in 0..8 {
            assert!(!tokio::task::spawn_blocking(may_walk).await.unwrap());
        }
    }

    #[tokio::test]
    #[should_panic(expected = "boom")]
    async fn a_panic_in_the_closure_reaches_the_caller() {
        run(|| panic!("boom")).await
    }
}
