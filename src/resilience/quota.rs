//! Provider quotas: requests per minute and tokens per minute, as token
//! buckets. A call over quota waits for capacity; none is refused.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::workflow::policy::quota::QuotaPolicy;

/// A token bucket that may go into debt: taking always succeeds and says
/// how long the taker must wait, so waiters are served first come, first
/// served and nobody is refused.
#[derive(Debug)]
struct Bucket {
    capacity: f64,
    per_sec: f64,
    level: f64,
    at: Instant,
}

impl Bucket {
    fn per_minute(n: f64) -> Self {
        Bucket {
            capacity: n,
            per_sec: n / 60.0,
            level: n,
            at: Instant::now(),
        }
    }

    /// Takes `n`; the wait until they are really available.
    fn take(&mut self, n: f64, now: Instant) -> Duration {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + dt * self.per_sec).min(self.capacity);
        self.at = now;
        // A request bigger than the bucket would never fit: let it go once
        // the bucket is full.
        let n = n.min(self.capacity);
        self.level -= n;
        if self.level >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.level / self.per_sec)
        }
    }
}

/// One provider's quota.
#[derive(Debug)]
pub(crate) struct ProviderQuota {
    requests: Option<Mutex<Bucket>>,
    tokens: Option<Mutex<Bucket>>,
}

/// Which limit made a call wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub(crate) enum QuotaLimit {
    /// Requests per minute.
    Requests,
    /// Tokens per minute.
    Tokens,
}

impl QuotaLimit {
    /// Name, for events.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl ProviderQuota {
    /// Buckets for a policy, full at the start.
    pub fn new(p: QuotaPolicy) -> Self {
        ProviderQuota {
            requests: p.rpm.map(|n| Mutex::new(Bucket::per_minute(f64::from(n)))),
            tokens: p.tpm.map(|n| Mutex::new(Bucket::per_minute(n as f64))),
        }
    }

    /// Books one request of `tokens`; the wait before it may be made, and
    /// the limit that imposes it (the longer wait of the two).
    pub fn book(&self, tokens: u64) -> Option<(Duration, QuotaLimit)> {
        let now = Instant::now();
        let lock =
            |m: &Mutex<Bucket>, n: f64| m.lock().unwrap_or_else(|p| p.into_inner()).take(n, now);
        let r = self
            .requests
            .as_ref()
            .map_or(Duration::ZERO, |b| lock(b, 1.0));
        let t = self
            .tokens
            .as_ref()
            .map_or(Duration::ZERO, |b| lock(b, tokens as f64));
        let (wait, limit) = if t > r {
            (t, QuotaLimit::Tokens)
        } else {
            (r, QuotaLimit::Requests)
        };
        (!wait.is_zero()).then_some((wait, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sixty_rpm_spreads_a_hundred_calls_and_refuses_none() {
        let q = std::sync::Arc::new(ProviderQuota::new(QuotaPolicy {
            rpm: Some(60),
            ..Default::default()
        }));
        let start = Instant::now();
        let mut calls = Vec::new();
        for i in 0..100u32 {
            let q = q.clone();
            calls.push(tokio::spawn(async move {
                if let Some((wait, limit)) = q.book(10) {
                    assert_eq!(limit, QuotaLimit::Requests);
                    tokio::time::sleep(wait).await;
                }
                (i, start.elapsed())
            }));
        }
        let mut at = Vec::new();
        for c in calls {
            at.push(c.await.unwrap().1);
        }
        at.sort();
        assert_eq!(at.len(), 100, "every call went through");
        // A full bucket lets 60 through at once, then one per second.
        assert!(at[..60].iter().all(|d| d.is_zero()));
        for (k, d) in at[60..].iter().enumerate() {
            let expect = Duration::from_secs(k as u64 + 1);
            assert!(
                *d >= expect && *d <= expect + Duration::from_millis(2),
                "call {} at {d:?}, expected {expect:?}",
                60 + k
            );
        }
        // Never more than 60 calls in any 60 s window after the first burst
        // plus the refill: the rate holds.
        for w in at.windows(61) {
            assert!(w[60] - w[0] >= Duration::from_millis(999));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_limit_waits_for_refill() {
        let q = ProviderQuota::new(QuotaPolicy {
            tpm: Some(600),
            ..Default::default()
        });
        assert_eq!(q.book(600), None);
        let (wait, limit) = q.book(100).unwrap();
        assert_eq!(limit, QuotaLimit::Tokens);
        assert_eq!(wait, Duration::from_secs(10));
        tokio::time::sleep(Duration::from_secs(70)).await;
        assert_eq!(q.book(500), None);
    }
}
