//! Time limits per call and per task. A timeout is an ordinary retryable
//! failure (`ErrorKind::Timeout`), never a hang.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::event::ErrorKind;
use crate::llm::ProviderError;

/// The time limits of an agent's work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// One provider call.
    pub call: Option<Duration>,
    /// A whole task: every attempt, retry delay and fallback together.
    pub task: Option<Duration>,
}

impl Timeouts {
    /// The limit for the next call: the call limit, cut to what is left
    /// of the task's deadline.
    pub fn for_call(&self, task_deadline: Option<Instant>) -> Option<Duration> {
        let left = task_deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match (self.call, left) {
            (Some(c), Some(l)) => Some(c.min(l)),
            (c, l) => c.or(l),
        }
    }
}

/// Runs `f` within `limit` (no limit: exactly `f`, at no cost). On expiry
/// the call is dropped, which cancels it, and a `Timeout` error returned.
pub async fn within<T, F>(limit: Option<Duration>, f: F) -> Result<T, ProviderError>
where
    F: Future<Output = Result<T, ProviderError>>,
{
    match limit {
        None => f.await,
        Some(d) => match tokio::time::timeout(d, f).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::new(
                ErrorKind::Timeout,
                format!("no reply within {} ms", d.as_millis()),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_hanging_call_is_cut_at_the_limit() {
        let start = Instant::now();
        let r: Result<(), _> =
            within(Some(Duration::from_millis(250)), futures::future::pending()).await;
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert!(e.kind.is_retryable());
        assert_eq!(start.elapsed(), Duration::from_millis(250));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fast_call_is_untouched() {
        let r = within(Some(Duration::from_secs(1)), async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, ProviderError>(5)
        })
        .await;
        assert_eq!(r, Ok(5));
        assert_eq!(
            within(None, async { Ok::<_, ProviderError>(1) }).await,
            Ok(1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_task_deadline_shortens_the_call_limit() {
        let t = Timeouts {
            call: Some(Duration::from_secs(10)),
            task: Some(Duration::from_secs(3)),
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        assert_eq!(t.for_call(Some(deadline)), Some(Duration::from_secs(3)));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(t.for_call(Some(deadline)), Some(Duration::from_secs(1)));
        assert_eq!(t.for_call(None), Some(Duration::from_secs(10)));
        assert_eq!(Timeouts::default().for_call(None), None);
    }
}
