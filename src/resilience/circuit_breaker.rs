//! Circuit breaker: CLOSED → OPEN after N failures within a window, OPEN
//! for a cool-down, then HALF_OPEN lets K probe calls through; K successes
//! close it, any probe failure opens it again.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::event::BreakerState;
use crate::workflow::policy::breaker::BreakerPolicy;

/// Whether a call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Closed: call normally.
    Allowed,
    /// Half-open: this call is a probe; report its result.
    Probe,
    /// Open (or half-open with every probe out): fail fast.
    Rejected {
        /// Time until the breaker lets a probe through.
        retry_in: Duration,
    },
}

/// A state change, for the `breaker_state_changed` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transition {
    /// Previous state.
    pub from: BreakerState,
    /// New state.
    pub to: BreakerState,
    /// Why.
    pub reason: String,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    /// Failure times within the window (closed state).
    failures: VecDeque<Instant>,
    opened_at: Instant,
    probes_out: u32,
    probes_ok: u32,
}

/// One breaker (per agent, or per provider endpoint).
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    policy: BreakerPolicy,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(policy: BreakerPolicy) -> Self {
        CircuitBreaker {
            policy,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: VecDeque::new(),
                opened_at: Instant::now(),
                probes_out: 0,
                probes_ok: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Current state (moving OPEN → HALF_OPEN when the cool-down is over
    /// happens on the next `admit`).
    #[cfg(test)]
    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// Asks to make a call now.
    pub fn admit(&self) -> (Admission, Option<Transition>) {
        let now = Instant::now();
        let mut g = self.lock();
        let mut change = None;
        if g.state == BreakerState::Open {
            let reopen = g.opened_at + self.policy.open_for;
            if now < reopen {
                return (
                    Admission::Rejected {
                        retry_in: reopen - now,
                    },
                    None,
                );
            }
            g.state = BreakerState::HalfOpen;
            g.probes_out = 0;
            g.probes_ok = 0;
            change = Some(Transition {
                from: BreakerState::Open,
                to: BreakerState::HalfOpen,
                reason: format!(
                    "cool-down of {} ms over; letting {} probe(s) through",
                    self.policy.open_for.as_millis(),
                    self.policy.half_open_probes
                ),
            });
        }
        let admission = match g.state {
            BreakerState::Closed => Admission::Allowed,
            BreakerState::HalfOpen if g.probes_out < self.policy.half_open_probes => {
                g.probes_out += 1;
                Admission::Probe
            }
            _ => Admission::Rejected {
                retry_in: Duration::ZERO,
            },
        };
        (admission, change)
    }

    /// Reports a successful call.
    pub fn on_success(&self, admission: Admission) -> Option<Transition> {
        let mut g = self.lock();
        if admission != Admission::Probe || g.state != BreakerState::HalfOpen {
            return None;
        }
        g.probes_ok += 1;
        if g.probes_ok < self.policy.half_open_probes {
            return None;
        }
        g.state = BreakerState::Closed;
        g.failures.clear();
        Some(Transition {
            from: BreakerState::HalfOpen,
            to: BreakerState::Closed,
            reason: format!("{} probe(s) succeeded", g.probes_ok),
        })
    }

    /// Gives back an admission whose call was not made or says nothing
    /// about health (a probe slot is freed for another call).
    pub fn release(&self, admission: Admission) {
        let mut g = self.lock();
        if admission == Admission::Probe && g.state == BreakerState::HalfOpen {
            g.probes_out = g.probes_out.saturating_sub(1);
        }
    }

    /// Reports a failed call (only failures that say something about the
    /// callee's health: timeouts, rate limits, server errors).
    pub fn on_failure(&self, admission: Admission) -> Option<Transition> {
        let now = Instant::now();
        let mut g = self.lock();
        match g.state {
            BreakerState::HalfOpen if admission == Admission::Probe => {
                g.state = BreakerState::Open;
                g.opened_at = now;
                Some(Transition {
                    from: BreakerState::HalfOpen,
                    to: BreakerState::Open,
                    reason: "a probe failed".into(),
                })
            }
            BreakerState::Closed => {
                g.failures.push_back(now);
                while let Some(&t) = g.failures.front() {
                    if now.duration_since(t) >= self.policy.window {
                        g.failures.pop_front();
                    } else {
                        break;
                    }
                }
                if g.failures.len() as u32 >= self.policy.failures {
                    g.state = BreakerState::Open;
                    g.opened_at = now;
                    g.failures.clear();
                    Some(Transition {
                        from: BreakerState::Closed,
                        to: BreakerState::Open,
                        reason: format!(
                            "{} failures within {} ms",
                            self.policy.failures,
                            self.policy.window.as_millis()
                        ),
                    })
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BreakerState::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            failures: 3,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
            half_open_probes: 2,
        }
    }

    fn sleep(ms: u64) -> tokio::time::Sleep {
        tokio::time::sleep(Duration::from_millis(ms))
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_n_failures_within_the_window_only() {
        let b = CircuitBreaker::new(policy());
        // Two failures, then the window slides past them: still closed.
        assert_eq!(b.on_failure(Admission::Allowed), None);
        sleep(6000).await;
        assert_eq!(b.on_failure(Admission::Allowed), None);
        sleep(4000).await;
        // The first failure is now 10 s old: out of the window.
        assert_eq!(b.on_failure(Admission::Allowed), None);
        assert_eq!(b.state(), Closed);
        let t = b.on_failure(Admission::Allowed).expect("third in window");
        assert_eq!((t.from, t.to), (Closed, Open));
        assert_eq!(
            b.admit().0,
            Admission::Rejected {
                retry_in: Duration::from_secs(5)
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_exact_transition_schedule() {
        let b = CircuitBreaker::new(policy());
        for _ in 0..3 {
            b.on_failure(Admission::Allowed);
        }
        assert_eq!(b.state(), Open);
        sleep(4999).await;
        assert!(
            matches!(b.admit().0, Admission::Rejected { retry_in } if retry_in == Duration::from_millis(1))
        );
        sleep(1).await;
        // Cool-down over: half-open, exactly two probes pass.
        let (a1, t) = b.admit();
        assert_eq!(a1, Admission::Probe);
        assert_eq!(t.map(|t| (t.from, t.to)), Some((Open, HalfOpen)));
        let (a2, _) = b.admit();
        assert_eq!(a2, Admission::Probe);
        assert!(matches!(b.admit().0, Admission::Rejected { .. }));
        // One probe fails: open again for a full cool-down.
        let t = b.on_failure(a1).unwrap();
        assert_eq!((t.from, t.to), (HalfOpen, Open));
        assert_eq!(
            b.on_success(a2),
            None,
            "a late probe result changes nothing"
        );
        sleep(5000).await;
        let (p1, _) = b.admit();
        let (p2, _) = b.admit();
        assert_eq!(b.on_success(p1), None);
        let t = b.on_success(p2).unwrap();
        assert_eq!((t.from, t.to), (HalfOpen, Closed));
        assert_eq!(b.admit().0, Admission::Allowed);
        // Closed again with a fresh count.
        b.on_failure(Admission::Allowed);
        b.on_failure(Admission::Allowed);
        assert_eq!(b.state(), Closed);
    }
}
