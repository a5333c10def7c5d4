//! Deadlock detection: nothing in a run waits without a bound.
//!
//! Calls and tasks are bounded by their time limits (built-in defaults
//! apply). What remains are nodes that wait for each other without doing
//! anything — an `on` trigger waiting for a topic no running or queued task
//! can publish (for example one that only a later step emits). Such waits
//! register here. The run's driver checks now and then (no per-task cost):
//! when no event but its own periodic ones came for `deadlock_ms`, no task
//! is running, queued or backing off, and nobody waits for a person (an
//! open gate, a held failure, a paused task or run, a debate waiting for a
//! step), every registered wait is failed with a `timeout` error naming
//! what it waited for, and a `deadlock_detected` event lists them.

use std::sync::Mutex;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::run::Run;
use crate::event::{Id, TaskState};

/// One registered wait.
struct Wait {
    id: u64,
    node: Id,
    what: String,
    cancel: CancellationToken,
}

/// The waits of one run that only another part of the run can end.
#[derive(Default)]
pub(crate) struct Waits {
    inner: Mutex<(u64, Vec<Wait>)>,
    /// Nodes waiting on a timer of their own (`on` with `every_ms`): the
    /// timer will fire, so the run is not stuck.
    timers: std::sync::atomic::AtomicUsize,
}

/// Counts a node timer while alive.
pub(crate) struct TimerGuard<'a>(&'a Waits);

impl Drop for TimerGuard<'_> {
    fn drop(&mut self) {
        self.0
            .timers
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Removes its wait when dropped (the wait ended, however).
pub(crate) struct WaitGuard<'a> {
    waits: &'a Waits,
    id: u64,
    /// Cancelled when the watchdog declares a deadlock.
    pub(crate) deadlock: CancellationToken,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        let mut g = self.waits.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.1.retain(|w| w.id != self.id);
    }
}

impl Waits {
    /// Registers a wait of `node` for `what` (in words).
    pub(crate) fn enter(&self, node: Id, what: String) -> WaitGuard<'_> {
        let cancel = CancellationToken::new();
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        let id = g.0;
        g.1.push(Wait {
            id,
            node,
            what,
            cancel: cancel.clone(),
        });
        WaitGuard {
            waits: self,
            id,
            deadlock: cancel,
        }
    }

    /// Counts a pending node timer until the guard drops.
    pub(crate) fn timer(&self) -> TimerGuard<'_> {
        self.timers
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        TimerGuard(self)
    }

    /// Fails every registered wait; returns what they waited for.
    fn fail_all(&self) -> Vec<Value> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.1.iter()
            .map(|w| {
                w.cancel.cancel();
                json!({"node": &*w.node, "waiting_for": w.what})
            })
            .collect()
    }
}

/// Why the run cannot be declared stuck now.
fn busy_or_human(run: &Run) -> bool {
    if run.sched.is_paused()
        || run.step.anyone_waiting()
        || run.waits.timers.load(std::sync::atomic::Ordering::Acquire) > 0
    {
        return true;
    }
    run.tasks().values().any(|t| {
        matches!(
            t.state,
            TaskState::Pending
                | TaskState::InProgress
                | TaskState::Planning
                | TaskState::Revision
                | TaskState::Review
                | TaskState::Paused
        ) || (t.state == TaskState::Failed && t.held)
    })
}

/// Watches one run's progress from its driver.
pub(crate) struct Watchdog {
    last_seen: u64,
    idle_since: tokio::time::Instant,
}

/// What the watchdog found.
pub(crate) enum Verdict {
    /// Progress, or a wait that is not a deadlock.
    Fine,
    /// Waits were failed; `deadlock_detected` was emitted.
    Broken,
    /// Nothing waits and nothing runs, yet the run is not done.
    Stuck(f64),
}

impl Watchdog {
    pub(crate) fn new() -> Self {
        Watchdog {
            last_seen: 0,
            idle_since: tokio::time::Instant::now(),
        }
    }

    /// One check. `progress` counts the run's events except the driver's
    /// own periodic ones.
    pub(crate) fn check(&mut self, run: &Run, progress: u64) -> Verdict {
        let now = tokio::time::Instant::now();
        if progress != self.last_seen {
            self.last_seen = progress;
            self.idle_since = now;
            return Verdict::Fine;
        }
        let idle = now.duration_since(self.idle_since);
        if idle < run.wf.policy.deadlock || busy_or_human(run) {
            return Verdict::Fine;
        }
        self.idle_since = now;
        let idle_ms = idle.as_secs_f64() * 1000.0;
        let waiting = run.waits.fail_all();
        if waiting.is_empty() {
            return Verdict::Stuck(idle_ms);
        }
        run.emit(crate::event::EventKind::DeadlockDetected { idle_ms, waiting });
        Verdict::Broken
    }
}
