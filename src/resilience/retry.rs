//! Retry with exponential backoff and full jitter.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::event::ErrorKind;
use crate::workflow::policy::retry::RetryPolicy;

impl RetryPolicy {
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
    use crate::workflow::policy::retry::KindSet;

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
