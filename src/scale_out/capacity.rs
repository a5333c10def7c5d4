//! The orchestrator puts no more calls into a lane's queue than the live
//! workers serving it can run at once (the sum of their heartbeats'
//! concurrency). The rest wait here in the scheduler's order, priority
//! with aging (`tick + (priority - 1) * aging_step`, FIFO among equals),
//! so a worker that frees a slot gets the most urgent call, not the one
//! published first.
//!
//! A worker serving several lanes counts towards each, and several
//! orchestrators sharing workers each count only their own calls: the
//! queue may then hold a little more than the workers can take at once.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::heartbeat::WorkerTable;
use super::work_queue::Lane;

/// Calls in flight per lane and the calls waiting to be published.
#[derive(Default)]
pub struct Capacity {
    inner: Mutex<Inner>,
    changed: Notify,
}

#[derive(Default)]
struct Inner {
    tick: u64,
    lanes: HashMap<Lane, LaneState>,
}

#[derive(Default)]
struct LaneState {
    in_flight: u32,
    /// (key, tick) of each waiting call; the first is next.
    waiting: BTreeSet<(u64, u64)>,
}

/// A call's place in a lane's queue; dropping it frees the place (or
/// the slot it was given).
pub struct Slot {
    capacity: Arc<Capacity>,
    lane: Lane,
    ticket: (u64, u64),
    admitted: bool,
}

impl Capacity {
    /// Waits until `lane` has room for one more call and every more urgent
    /// call waiting for it has gone first. `priority` 1 is the most urgent
    /// (0 counts as 3).
    pub async fn acquire(
        self: &Arc<Self>,
        lane: &Lane,
        priority: u8,
        aging_step: u32,
        workers: &WorkerTable,
    ) -> Slot {
        let priority = if priority == 0 {
            3
        } else {
            priority.clamp(1, 5)
        };
        let ticket = {
            let mut inner = self.lock();
            inner.tick += 1;
            let tick = inner.tick;
            let key = tick + u64::from(priority - 1) * u64::from(aging_step.max(1));
            inner
                .lanes
                .entry(lane.clone())
                .or_default()
                .waiting
                .insert((key, tick));
            (key, tick)
        };
        let mut slot = Slot {
            capacity: self.clone(),
            lane: lane.clone(),
            ticket,
            admitted: false,
        };
        let mut table = workers.clone();
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let limit = workers.capacity(lane);
            {
                let mut inner = self.lock();
                let state = inner.lanes.entry(lane.clone()).or_default();
                if state.in_flight < limit && state.waiting.first() == Some(&ticket) {
                    state.waiting.remove(&ticket);
                    state.in_flight += 1;
                    slot.admitted = true;
                }
            }
            if slot.admitted {
                // The next in line may fit too.
                self.changed.notify_waiters();
                return slot;
            }
            tokio::select! {
                () = &mut notified => {}
                () = table.changed() => {}
            }
        }
    }

    /// Calls of `lane` published and not settled.
    pub fn in_flight(&self, lane: &Lane) -> u32 {
        self.lock().lanes.get(lane).map_or(0, |s| s.in_flight)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        {
            let mut inner = self.capacity.lock();
            if let Some(state) = inner.lanes.get_mut(&self.lane) {
                if self.admitted {
                    state.in_flight = state.in_flight.saturating_sub(1);
                } else {
                    state.waiting.remove(&self.ticket);
                }
            }
        }
        self.capacity.changed.notify_waiters();
    }
}
