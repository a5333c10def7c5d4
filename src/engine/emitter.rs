//! Stamps events with `seq` and `ts` and hands them to every subscriber.

use std::collections::HashMap;
use std::sync::Mutex;

use super::feed::Subscriber;
use crate::event::{Event, EventKind, Id, now_micros};

/// The single source of `seq` numbers for a session.
pub(crate) struct Emitter {
    session: Id,
    inner: Mutex<EmitterInner>,
}

struct EmitterInner {
    seq: u64,
    subscribers: Vec<Subscriber>,
    /// A resumed run's already-recorded restatements (see
    /// `Restore::replayed`), with how many copies are left to drop.
    skip: HashMap<String, u32>,
}

impl Emitter {
    pub(crate) fn new(session: Id, subscribers: Vec<Subscriber>) -> Self {
        Emitter {
            session,
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

    /// Events emitted so far.
    pub(crate) fn count(&self) -> u64 {
        self.lock().seq
    }
}
