//! Time limits per call and per task. A timeout is an ordinary retryable
//! failure (`ErrorKind::Timeout`), never a hang.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::event::ErrorKind;
use crate::llm::ProviderError;
use crate::workflow::policy::timeouts::Timeouts;

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

/// Runs `f` within `limit` and before the task's deadline, whichever ends
/// first, arming the timer only if `f` does not finish on its first poll: a
/// call that answers at once (a zero-latency sim reply, a cache) costs no
/// timer, no clock read and no memory for one. The task's deadline is
/// fixed lazily too: when unset, the first call that has to wait sets it to
/// now + `task` (no time passed since the call started, so that is the
/// task's start). On expiry `f` is dropped (cancelling it) and the limit
/// that applied is returned.
pub async fn bounded<T, F>(
    limit: Option<Duration>,
    deadline: &mut Option<Instant>,
    task: Option<Duration>,
    f: F,
) -> Result<T, Duration>
where
    F: Future<Output = T>,
{
    if limit.is_none() && deadline.is_none() && task.is_none() {
        return Ok(f.await);
    }
    let mut f = std::pin::pin!(f);
    // Boxed: only slow calls pay for a timer.
    let mut timer: Option<(std::pin::Pin<Box<tokio::time::Sleep>>, Duration)> = None;
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
            return std::task::Poll::Ready(Ok(v));
        }
        let (sleep, applied) = timer.get_or_insert_with(|| {
            let now = Instant::now();
            if deadline.is_none() {
                *deadline = task.map(|t| now + t);
            }
            let until = match (limit.map(|l| now + l), *deadline) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(now),
            };
            (
                Box::pin(tokio::time::sleep_until(until)),
                until.saturating_duration_since(now),
            )
        });
        match sleep.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => std::task::Poll::Ready(Err(*applied)),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::policy::timeouts::DEFAULT_CALL_TIMEOUT;

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
    async fn bounded_cuts_at_the_earlier_of_limit_and_deadline() {
        let start = Instant::now();
        let mut deadline = Some(start + Duration::from_millis(200));
        let r = bounded(
            Some(Duration::from_millis(300)),
            &mut deadline,
            None,
            futures::future::pending::<()>(),
        )
        .await;
        assert_eq!(r, Err(Duration::from_millis(200)));
        assert_eq!(start.elapsed(), Duration::from_millis(200));
        // No deadline yet: the first wait fixes it from the task limit.
        let mut deadline = None;
        let t0 = Instant::now();
        let r = bounded(
            Some(Duration::from_millis(50)),
            &mut deadline,
            Some(Duration::from_millis(500)),
            futures::future::pending::<()>(),
        )
        .await;
        assert_eq!(r, Err(Duration::from_millis(50)));
        assert_eq!(deadline, Some(t0 + Duration::from_millis(500)));
        // A ready future sets no deadline; a slower one inside the limit
        // passes untouched.
        let mut none = None;
        assert_eq!(
            bounded(
                Some(Duration::ZERO),
                &mut none,
                Some(Duration::from_secs(1)),
                async { 7 }
            )
            .await,
            Ok(7)
        );
        assert_eq!(none, None);
        let slow = async {
            tokio::time::sleep(Duration::from_millis(40)).await;
            8
        };
        assert_eq!(
            bounded(Some(Duration::from_millis(50)), &mut None, None, slow).await,
            Ok(8)
        );
        assert_eq!(Timeouts::BUILT_IN.call, Some(DEFAULT_CALL_TIMEOUT));
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
