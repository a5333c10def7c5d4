//! Stamps events with `seq` and `ts` and hands them to every subscriber.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::feed::Subscriber;
use crate::event::{Event, EventKind, Id, now_micros};

/// The single source of `seq` numbers for a session.
pub(crate) struct Emitter {
    session: Id,
    inner: Mutex<EmitterInner>,
    /// Some subscriber reads through an unbounded queue (see [`Emitter::due_yield`]).
    unbounded: bool,
    /// `seq` at the engine's last pacing yield.
    yielded_at: AtomicU64,
}

/// Events the engine emits between two pacing yields when an unbounded
/// subscriber listens: well below the 128 a reader on the same thread
/// takes per poll (tokio's budget), so its queue cannot grow.
const EVENTS_PER_YIELD: u64 = 64;

struct EmitterInner {
    seq: u64,
    subscribers: Vec<Subscriber>,
    /// A resumed run's already-recorded restatements (see
    /// `Restore::replayed`), with how many copies are left to drop.
    skip: HashMap<String, u32>,
}

impl Emitter {
    pub(crate) fn new(session: Id, subscribers: Vec<Subscriber>) -> Self {
        let unbounded = subscribers
            .iter()
            .any(|s| matches!(s, Subscriber::Unbounded(_)));
        Emitter {
            session,
            unbounded,
            yielded_at: AtomicU64::new(0),
            inner: Mutex::new(EmitterInner {
                seq: 0,
                subscribers,
                skip: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EmitterInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Continues a recorded session: numbering after `last_seq`, dropping
    /// re-emissions of the recorded restatements in `replayed`.
    pub(crate) fn resume_from(&self, last_seq: u64, replayed: &[EventKind]) {
        let mut inner = self.lock();
        inner.seq = last_seq;
        for k in replayed.iter().filter_map(super::resume::restatement_key) {
            *inner.skip.entry(k).or_insert(0) += 1;
        }
    }

    /// Emits one event. The lock is held while sending so subscribers see
    /// events in `seq` order; unbounded sends never block, a bounded one
    /// (the recorder) waits only when its reader is a whole queue behind.
    pub(crate) fn emit(&self, kind: EventKind) {
        let mut inner = self.lock();
        if !inner.skip.is_empty()
            && let Some(key) = super::resume::restatement_key(&kind)
            && let Some(n) = inner.skip.get_mut(&key)
        {
            *n -= 1;
            if *n == 0 {
                inner.skip.remove(&key);
            }
            return;
        }
        inner.seq += 1;
        let event = Event {
            seq: inner.seq,
            ts: now_micros(),
            session: self.session.clone(),
            kind,
        };
        inner.subscribers.retain(|s| !s.is_closed());
        if let Some((last, rest)) = inner.subscribers.split_last_mut() {
            for s in rest {
                let _ = s.send(event.clone());
            }
            let _ = last.send(event);
        }
    }

    /// Whether the engine should yield now so that unbounded subscribers
    /// keep up. A reader of an unbounded queue may run on the engine's
    /// thread (the headless CLI's runtime has one): if the engine only
    /// yielded when tokio's budget runs out, it could emit more per turn
    /// than the reader takes, and the queue would grow without end.
    pub(crate) fn due_yield(&self) -> bool {
        if !self.unbounded {
            return false;
        }
        let now = self.count();
        if now.saturating_sub(self.yielded_at.load(Ordering::Relaxed)) < EVENTS_PER_YIELD {
            return false;
        }
        self.yielded_at.store(now, Ordering::Relaxed);
        true
    }

    /// Events emitted so far.
    pub(crate) fn count(&self) -> u64 {
        self.lock().seq
    }
}
