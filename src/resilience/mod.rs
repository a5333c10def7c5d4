//! The resilience layer between a task and its provider: retry with
//! backoff and jitter, timeouts, circuit breakers, fallback chains, a
//! response cache, provider quotas and graceful degradation.
//!
//! Their settings are data in `workflow::policy`; this layer gives them
//! behaviour. Each concept is one small type with no knowledge of the engine; the
//! engine (`engine/agent_task.rs`) asks them for decisions and turns every
//! decision into an event. Time is `tokio::time`, so tests run under a
//! paused clock.

pub mod cache;
pub mod circuit_breaker;
pub mod degrade;
pub mod fallback;
pub mod in_flight;
pub mod quota;
pub mod retry;
pub mod timeout;

pub(crate) use cache::ResponseCache;
pub(crate) use circuit_breaker::{Admission, CircuitBreaker, Transition};
pub(crate) use fallback::FallbackChain;
pub use in_flight::{CallOutcome, InFlightLimit};
pub(crate) use quota::ProviderQuota;

/// A stable 64-bit hash (FNV-1a) of byte strings: the same on every
/// machine and run, unlike `std`'s randomly keyed hasher.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separator, so ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
