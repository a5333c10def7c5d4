//! Retry with exponential backoff and full jitter.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

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

    /// The delay ceiling before retry number `retry` (from 1):
    /// `min(base · factor^(retry-1), max_delay)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let exp = self.factor.powi(retry.saturating_sub(1).min(1024) as i32);
        let secs = self.base.as_secs_f64() * exp;
        if !secs.is_finite() || secs >= self.max_delay.as_secs_f64() {
            self.max_delay
        } else {
            Duration::from_secs_f64(secs.max(0.0))
        }
    }

    /// Whether a failure of `kind` after `attempts_made` attempts is retried,
    /// and after how long. `seed` makes the jitter deterministic (the run's
    /// seed mixed with the task and attempt); a provider's Retry-After is a
    /// lower bound on the delay.
    pub fn next_delay(
        &self,
        kind: ErrorKind,
        attempts_made: u32,
        retry_after: Option<Duration>,
        seed: u64,
    ) -> Option<Duration> {
        if attempts_made >= self.max_attempts || !self.retry_on.contains(kind) {
            return None;
        }
        let ceiling = self.ceiling(attempts_made);
        let delay = if self.jitter && !ceiling.is_zero() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(rng.random_range(0..=nanos))
        } else {
            ceiling
        };
        Some(retry_after.map_or(delay, |ra| delay.max(ra)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: bool) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            factor: 2.0,
            max_delay: Duration::from_millis(500),
            jitter,
            retry_on: KindSet::transient(),
        }
    }

    #[test]
    fn ceilings_grow_then_cap() {
        let p = policy(false);
        let c: Vec<u128> = (1..=5).map(|r| p.ceiling(r).as_millis()).collect();
        assert_eq!(c, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn without_jitter_the_schedule_is_exact() {
        let p = policy(false);
        let d: Vec<Option<u128>> = (1..=5)
            .map(|a| {
                p.next_delay(ErrorKind::Server, a, None, 7)
                    .map(|d| d.as_millis())
            })
            .collect();
        assert_eq!(d, [Some(100), Some(200), Some(400), Some(500), None]);
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_is_deterministic() {
        let p = policy(true);
        let mut distinct = std::collections::HashSet::new();
        for seed in 0..200u64 {
            for a in 1..5 {
                let d = p.next_delay(ErrorKind::Timeout, a, None, seed).unwrap();
                assert!(d <= p.ceiling(a), "{d:?} > {:?}", p.ceiling(a));
                assert_eq!(Some(d), p.next_delay(ErrorKind::Timeout, a, None, seed));
                distinct.insert(d);
            }
        }
        // Really random: 800 draws over a continuous range.
        assert!(distinct.len() > 700, "{}", distinct.len());
    }

    #[test]
    fn fatal_kinds_are_not_retried() {
        let p = policy(false);
        for k in [
            ErrorKind::Auth,
            ErrorKind::InvalidRequest,
            ErrorKind::BudgetExhausted,
            ErrorKind::Cancelled,
            ErrorKind::Workflow,
        ] {
            assert_eq!(p.next_delay(k, 1, None, 0), None, "{k:?}");
        }
        for k in [
            ErrorKind::Timeout,
            ErrorKind::RateLimited,
            ErrorKind::Server,
            ErrorKind::Malformed,
        ] {
            assert!(p.next_delay(k, 1, None, 0).is_some(), "{k:?}");
        }
    }

    #[test]
    fn retry_after_is_a_lower_bound() {
        let p = policy(true);
        let ra = Duration::from_secs(2);
        for seed in 0..50 {
            let d = p
                .next_delay(ErrorKind::RateLimited, 1, Some(ra), seed)
                .unwrap();
            assert_eq!(d, ra, "jitter ≤ 100 ms, so Retry-After wins");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_loop_follows_the_schedule_on_the_paused_clock() {
        // A call failing three times then succeeding: the loop sleeps the
        // exact jittered delays, in order, and makes four attempts.
        let p = policy(true);
        let start = tokio::time::Instant::now();
        let mut attempts = 0u32;
        let mut expected = Duration::ZERO;
        loop {
            attempts += 1;
            if attempts == 4 {
                break;
            }
            let d = p
                .next_delay(ErrorKind::Server, attempts, None, 99 + u64::from(attempts))
                .unwrap();
            assert!(d <= p.ceiling(attempts));
            expected += d;
            tokio::time::sleep(d).await;
        }
        assert_eq!(attempts, 4);
        let waited = start.elapsed();
        // tokio timers have millisecond resolution: each sleep rounds up.
        assert!(waited >= expected && waited <= expected + Duration::from_millis(3));
    }
}
