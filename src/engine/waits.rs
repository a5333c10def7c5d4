//! The waits of one run that only another part of the run can end (an
//! `on` trigger waiting for a topic), and the node timers that will end
//! theirs. Nodes register here; the deadlock watchdog reads them.

use std::sync::Mutex;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::event::Id;

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
    pub(crate) fn fail_all(&self) -> Vec<Value> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.1.iter()
            .map(|w| {
                w.cancel.cancel();
                json!({"node": &*w.node, "waiting_for": w.what})
            })
            .collect()
    }

    /// True while a node waits on a timer of its own.
    pub(crate) fn timers_pending(&self) -> bool {
        self.timers.load(std::sync::atomic::Ordering::Acquire) > 0
    }
}
