//! Calls in flight per endpoint. Many OpenAI-compatible servers run one
//! request at a time (llama-cpp-python by default even cuts a running
//! stream when the next request arrives), others rate-limit concurrency with
//! 429/503. Nobody should have to know that before pointing agentctl at one,
//! so by default the limit adapts, the way TCP's congestion window does:
//! halved when a call fails in a way that says "too many at once" while
//! other calls were in flight, raised by one after a run of successes. An
//! explicit `max_in_flight` fixes it instead.
//!
//! Written by hand rather than on `tokio::sync::Semaphore`: the limit moves
//! while permits are held, and waiters must be served strictly in order.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Where an adaptive limit starts, and the most it grows to.
pub const ADAPTIVE_START: u32 = 8;
/// The most an adaptive limit grows to.
pub const ADAPTIVE_MAX: u32 = 64;
/// Successes at the current limit (times the limit) before it grows by one.
const GROW_AFTER: u32 = 4;
/// Past a limit that congested, growth waits this many times longer: an
/// endpoint that cut calls at 2 should not be probed at 2 every few calls.
const PROBE_AFTER: u32 = 64;

/// How a call that held a slot ended, as far as congestion goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The reply came.
    Ok,
    /// Too many at once: a stream cut short, 429 or 503.
    Congested,
    /// Any other failure: says nothing about concurrency.
    Other,
}

/// A change of an adaptive limit, for the `endpoint_adapted` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitChange {
    /// Limit before.
    pub from: u32,
    /// Limit now.
    pub to: u32,
    /// Why.
    pub reason: String,
}

/// One endpoint's limit on calls in flight, shared by every agent calling it.
#[derive(Debug)]
pub struct InFlightLimit {
    adaptive: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    limit: u32,
    running: u32,
    waiting: VecDeque<oneshot::Sender<Slot>>,
    /// Successes since the limit last changed.
    successes: u32,
    /// Bumped at every decrease: a call that started before it cannot
    /// cause another (one congestion event halves once).
    epoch: u64,
    /// The lowest limit that congested (growth slows past it).
    congested_at: Option<u32>,
}

/// The right to have one call in flight; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    limit: Arc<InFlightLimit>,
    epoch: u64,
    /// Other calls in flight when this one started.
    others: u32,
    done: bool,
}

impl InFlightLimit {
    /// A fixed limit (`max_in_flight`), at least 1.
    pub fn fixed(limit: u32) -> Arc<Self> {
        Self::make(limit.max(1), false)
    }

    /// A limit that adapts, from [`ADAPTIVE_START`].
    pub fn adaptive() -> Arc<Self> {
        Self::make(ADAPTIVE_START, true)
    }

    fn make(limit: u32, adaptive: bool) -> Arc<Self> {
        Arc::new(InFlightLimit {
            adaptive,
            state: Mutex::new(State {
                limit,
                running: 0,
                waiting: VecDeque::new(),
                successes: 0,
                epoch: 0,
                congested_at: None,
            }),
        })
    }

    /// The current limit.
    pub fn limit(&self) -> u32 {
        self.lock().limit
    }

    /// Whether it adapts.
    pub fn is_adaptive(&self) -> bool {
        self.adaptive
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves consistent counters.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot now, or a place in the queue: calls are served first come,
    /// first served.
    pub fn try_acquire(self: &Arc<Self>) -> Result<Slot, Queued> {
        let mut s = self.lock();
        // Waiters that gave up must not hold a newcomer back.
        while s.waiting.front().is_some_and(|tx| tx.is_closed()) {
            s.waiting.pop_front();
        }
        if s.running < s.limit && s.waiting.is_empty() {
            let slot = Slot {
                limit: self.clone(),
                epoch: s.epoch,
                others: s.running,
                done: false,
            };
            s.running += 1;
            return Ok(slot);
        }
        let (tx, rx) = oneshot::channel();
        s.waiting.push_back(tx);
        Err(Queued { rx })
    }

    /// Hands free capacity to the queue. Slots whose waiter gave up come
    /// back and are dropped after the lock is released.
    fn grant(self: &Arc<Self>, s: &mut State, back: &mut Vec<Slot>) {
        while s.running < s.limit {
            let Some(tx) = s.waiting.pop_front() else {
                break;
            };
            if tx.is_closed() {
                continue;
            }
            let slot = Slot {
                limit: self.clone(),
                epoch: s.epoch,
                others: s.running,
                done: false,
            };
            s.running += 1;
            if let Err(slot) = tx.send(slot) {
                back.push(slot);
            }
        }
    }

    fn release(self: &Arc<Self>, slot: &Slot, outcome: CallOutcome) -> Option<LimitChange> {
        let mut back = Vec::new();
        let change = {
            let mut s = self.lock();
            s.running = s.running.saturating_sub(1);
            let change = if self.adaptive {
                adapt(&mut s, slot, outcome)
            } else {
                None
            };
            self.grant(&mut s, &mut back);
            change
        };
        drop(back);
        change
    }
}

/// The limit's response to one call's outcome.
fn adapt(s: &mut State, slot: &Slot, outcome: CallOutcome) -> Option<LimitChange> {
    match outcome {
        CallOutcome::Congested if slot.others > 0 && slot.epoch == s.epoch && s.limit > 1 => {
            // Halve, and never above what was running without trouble:
            // the calls already in flight were too many.
            let from = s.limit;
            s.limit = (s.limit / 2).min(slot.others).max(1);
            s.epoch += 1;
            s.successes = 0;
            s.congested_at = Some(s.congested_at.map_or(from, |c| c.min(from)));
            Some(LimitChange {
                from,
                to: s.limit,
                reason: format!(
                    "a call failed as if cut off by another while {} other call(s) were in flight",
                    slot.others
                ),
            })
        }
        CallOutcome::Ok if s.limit < ADAPTIVE_MAX => {
            s.successes += 1;
            let probing = s.congested_at.is_some_and(|c| s.limit + 1 >= c);
            let needed = s.limit * if probing { PROBE_AFTER } else { GROW_AFTER };
            if s.successes < needed {
                return None;
            }
            let from = s.limit;
            s.limit += 1;
            s.successes = 0;
            Some(LimitChange {
                from,
                to: s.limit,
                reason: format!("{needed} calls in a row succeeded"),
            })
        }
        _ => None,
    }
}

/// A place in an endpoint's queue.
#[derive(Debug)]
pub struct Queued {
    rx: oneshot::Receiver<Slot>,
}

impl Queued {
    /// Waits for the slot. Dropping this gives the place up.
    pub async fn slot(self) -> Slot {
        // The sender lives in the limit's queue, which never drops a live
        // waiter without sending; if it is somehow gone, no slot is owed.
        match self.rx.await {
            Ok(s) => s,
            Err(_) => unreachable_slot(),
        }
    }
}

#[cold]
fn unreachable_slot() -> Slot {
    // The queue only drops a sender after sending; a closed channel here
    // would mean the limit itself was dropped, which a waiter's Arc
    // prevents. Treat it as an unlimited slot rather than panic.
    Slot {
        limit: InFlightLimit::fixed(u32::MAX),
        epoch: 0,
        others: 0,
        done: true,
    }
}

impl Slot {
    /// Other calls in flight when this one started.
    pub fn others(&self) -> u32 {
        self.others
    }

    /// Gives the slot back, saying how the call ended; a change of the
    /// limit is returned for the event log.
    pub fn finish(mut self, outcome: CallOutcome) -> Option<LimitChange> {
        self.done = true;
        let limit = self.limit.clone();
        limit.release(&self, outcome)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            let limit = self.limit.clone();
            let _ = limit.release(self, CallOutcome::Other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(l: &Arc<InFlightLimit>) -> Slot {
        l.try_acquire().expect("a free slot")
    }

    #[test]
    fn a_fixed_limit_queues_in_order() {
        let l = InFlightLimit::fixed(1);
        let a = take(&l);
        let q1 = l.try_acquire().unwrap_err();
        let q2 = l.try_acquire().unwrap_err();
        drop(a);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let s1 = rt.block_on(q1.slot());
        assert_eq!(s1.others(), 0);
        // The second waits until the first is done.
        assert!(l.lock().running == 1);
        assert_eq!(s1.finish(CallOutcome::Congested), None, "fixed never moves");
        let s2 = rt.block_on(q2.slot());
        drop(s2);
        assert_eq!(l.lock().running, 0);
        assert_eq!(l.limit(), 1);
    }

    #[test]
    fn congestion_with_others_in_flight_halves_once() {
        let l = InFlightLimit::adaptive();
        let slots: Vec<Slot> = (0..3).map(|_| take(&l)).collect();
        let mut it = slots.into_iter();
        // The first call had nobody else in flight: no signal.
        assert_eq!(it.next().unwrap().finish(CallOutcome::Congested), None);
        let c = it.next().unwrap().finish(CallOutcome::Congested).unwrap();
        // Halved, and at most the one other call that was in flight.
        assert_eq!((c.from, c.to), (8, 1));
        // The third started before the decrease: the same congestion.
        assert_eq!(it.next().unwrap().finish(CallOutcome::Congested), None);
        assert_eq!(l.limit(), 1);
    }

    #[test]
    fn successes_grow_it_back_slowly_past_where_it_congested() {
        let l = InFlightLimit::make(2, true);
        let a = take(&l);
        let b = take(&l);
        drop(a);
        assert_eq!(b.finish(CallOutcome::Congested).unwrap().to, 1);
        // 1 → 2 would reach the congested limit: 64 successes, not 4.
        for i in 0..64 {
            let c = take(&l).finish(CallOutcome::Ok);
            if i < 63 {
                assert_eq!(c, None, "call {i}");
            } else {
                assert_eq!(c.unwrap().to, 2);
            }
        }
        // Other failures say nothing.
        assert_eq!(take(&l).finish(CallOutcome::Other), None);
    }

    #[test]
    fn a_waiter_that_gives_up_does_not_leak_its_slot() {
        let l = InFlightLimit::fixed(1);
        let a = take(&l);
        let q = l.try_acquire().unwrap_err();
        drop(q);
        drop(a);
        assert_eq!(l.lock().running, 0);
        assert!(l.try_acquire().is_ok());
    }
}
