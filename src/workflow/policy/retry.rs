//! Retry settings: how often and how patiently a failed call is tried
//! again (`resilience::retry` computes the delays).

use std::time::Duration;

use crate::event::ErrorKind;

/// A set of error kinds, as bits (cheap to copy and test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KindSet(u16);

impl KindSet {
    /// No kind.
    pub const EMPTY: KindSet = KindSet(0);

    fn bit(k: ErrorKind) -> u16 {
        1 << (k as u16)
    }

    /// The kinds retrying may fix: timeout, rate limit, server error,
    /// malformed output. Auth, invalid request, budget exhausted, cancelled
    /// and workflow failures are fatal.
    pub fn transient() -> Self {
        [
            ErrorKind::Timeout,
            ErrorKind::RateLimited,
            ErrorKind::Server,
            ErrorKind::Malformed,
        ]
        .into_iter()
        .collect()
    }

    /// Whether `k` is in the set.
    pub fn contains(self, k: ErrorKind) -> bool {
        self.0 & Self::bit(k) != 0
    }

    /// Adds a kind.
    pub fn insert(&mut self, k: ErrorKind) {
        self.0 |= Self::bit(k);
    }
}

impl FromIterator<ErrorKind> for KindSet {
    fn from_iter<I: IntoIterator<Item = ErrorKind>>(iter: I) -> Self {
        let mut s = KindSet::EMPTY;
        for k in iter {
            s.insert(k);
        }
        s
    }
}

/// How often and how patiently a failed call is tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Delay ceiling before the first retry.
    pub base: Duration,
    /// Growth of the ceiling per retry.
    pub factor: f64,
    /// Largest ceiling.
    pub max_delay: Duration,
    /// Full jitter: the delay is uniform in `[0, ceiling]`; else exactly the
    /// ceiling.
    pub jitter: bool,
    /// Kinds worth retrying.
    pub retry_on: KindSet,
}

impl Default for RetryPolicy {
    /// No retry: one attempt.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 1,
            base: Duration::from_millis(200),
            factor: 2.0,
            max_delay: Duration::from_secs(30),
            jitter: true,
            retry_on: KindSet::transient(),
        }
    }
}

impl RetryPolicy {
    /// What a provider that calls a network endpoint retries when the
    /// workflow says nothing (every official OpenAI client retries by
    /// default): 4 attempts on rate limits, 5xx, timeouts, refused
    /// connections and cut streams, with full jitter from 0.5 s doubling to
    /// at most 20 s; a server's Retry-After is the lower bound.
    pub fn network_default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(500),
            factor: 2.0,
            max_delay: Duration::from_secs(20),
            jitter: true,
            retry_on: KindSet::transient(),
        }
    }
}
