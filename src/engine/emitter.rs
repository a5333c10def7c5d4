//! Stamps events with `seq` and `ts` and hands them to every subscriber.

use std::sync::Mutex;

use tokio::sync::mpsc::UnboundedSender;

use crate::event::{Event, EventKind, Id, now_micros};

/// The single source of `seq` numbers for a session.
pub(crate) struct Emitter {
    session: Id,
    inner: Mutex<EmitterInner>,
}

struct EmitterInner {
    seq: u64,
    subscribers: Vec<UnboundedSender<Event>>,
}

impl Emitter {
    pub(crate) fn new(session: Id, subscribers: Vec<UnboundedSender<Event>>) -> Self {
        Emitter {
            session,
            inner: Mutex::new(EmitterInner {
                seq: 0,
                subscribers,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EmitterInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Emits one event. The lock is held while sending so subscribers see
    /// events in `seq` order; unbounded sends never block.
    pub(crate) fn emit(&self, kind: EventKind) {
        let mut inner = self.lock();
        inner.seq += 1;
        let event = Event {
            seq: inner.seq,
            ts: now_micros(),
            session: self.session.clone(),
            kind,
        };
        inner.subscribers.retain(|s| !s.is_closed());
        if let Some((last, rest)) = inner.subscribers.split_last() {
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
