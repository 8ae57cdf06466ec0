//! A fast random number generator per thread, for the draws made on every announce: which peers
//! to return and the interval jitter.
//!
//! `rand::rng()` (ChaCha12, reseeded) cost about 20 ns per draw, a tenth of an announce's CPU
//! time with 50 peers to pick. These draws need to be uniform and unknown in advance, not
//! secret, so `SmallRng` (Xoshiro256++) seeded once per thread from `rand::rng()` does. Nothing
//! secret (session nonces, connection-id keys) is drawn from it.

use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::cell::RefCell;

thread_local! {
    static RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_rng(&mut rand::rng()));
}

/// Runs `f` with this thread's generator.
pub fn with<T>(f: impl FnOnce(&mut SmallRng) -> T) -> T {
    RNG.with(|rng| f(&mut rng.borrow_mut()))
}

/// A handle on this thread's generator, usable wherever a `rand::Rng` is expected.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fast;

impl rand::RngCore for Fast {
    fn next_u32(&mut self) -> u32 {
        with(|r| r.next_u32())
    }

    fn next_u64(&mut self) -> u64 {
        with(|r| r.next_u64())
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        with(|r| r.fill_bytes(dst))
    }
}
