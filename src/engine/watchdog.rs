//! Deadlock detection: nothing in a run waits without a bound.
//!
//! Calls and tasks are bounded by their time limits (built-in defaults
//! apply). What remains are nodes that wait for each other without doing
//! anything — an `on` trigger waiting for a topic no running or queued task
//! can publish (for example one that only a later step emits). Such waits
//! register in [`super::waits`]. The run's driver checks now and then (no
//! per-task cost): when no event but its own periodic ones came for
//! `deadlock_ms`, no task is running, queued or backing off, and nobody
//! waits for a person (an open gate, a held failure, a paused task or run,
//! a debate waiting for a step), every registered wait is failed with a
//! `timeout` error naming what it waited for, and a `deadlock_detected`
//! event lists them.

use super::run::Run;
use crate::event::TaskState;

/// Why the run cannot be declared stuck now.
fn busy_or_human(run: &Run) -> bool {
    if run.sched.is_paused() || run.step.anyone_waiting() || run.waits.timers_pending() {
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
