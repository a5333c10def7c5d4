//! How events leave the emitter: to unbounded receivers (the cockpit, a
//! library user's stream) or to a bounded feed (the session recorder).
//!
//! A bounded feed holds at most `capacity` events: when its reader falls
//! that far behind, the emitter waits for it (backpressure) instead of
//! buffering without limit or dropping an event. The recorder uses one so a
//! slow disk slows the run down rather than growing memory without bound;
//! with a capacity of tens of thousands of events the engine never waits
//! in practice (see BENCHMARKS.md, "Recording on vs off").

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::event::Event;

/// The receiving end of an event stream, bounded or not; what
/// [`Recorder`](crate::session::Recorder) reads. Get a bounded one from
/// [`Orchestrator::subscribe_bounded`](super::Orchestrator::subscribe_bounded);
/// an unbounded [`Orchestrator::subscribe`](super::Orchestrator::subscribe)
/// receiver converts into one with `into()`.
#[derive(Debug)]
pub struct EventFeed {
    rx: UnboundedReceiver<Event>,
    backlog: Option<Arc<Backlog>>,
    /// Events taken but not yet subtracted from the shared count.
    taken: usize,
}

/// Both ends update the shared count once per this many events, not per
/// event, so the engine's thread and the reader's do not bounce one cache
/// line between them on every event; the bound is exact to within this.
const COUNT_EVERY: usize = 64;

/// How many events a bounded feed holds, shared by its two ends. The queue
/// itself is an unbounded channel (it allocates as it grows, not up
/// front); this count is what bounds it: one atomic add per
/// [`COUNT_EVERY`] sends, one subtract per as many receives, and a lock
/// only when the queue is full.
#[derive(Debug)]
pub(crate) struct Backlog {
    queued: AtomicUsize,
    capacity: usize,
    lock: Mutex<()>,
    room: Condvar,
}

impl Backlog {
    /// Called by the sender once the queue is over capacity: waits until
    /// the reader has taken enough (or is gone).
    fn wait_for_room(&self, tx: &UnboundedSender<Event>) {
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        while self.queued.load(Ordering::Acquire) > self.capacity && !tx.is_closed() {
            // The timeout only guards against a reader that died without
            // closing; a live reader wakes us.
            guard = match self.room.wait_timeout(guard, Duration::from_millis(5)) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Called by the reader for `n` events taken.
    fn taken(&self, n: usize) {
        if self.queued.fetch_sub(n, Ordering::AcqRel) > self.capacity {
            // A sender may be waiting: wake it under the lock, so the wake
            // cannot fall between its check and its wait.
            let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            self.room.notify_all();
        }
    }
}

/// Why [`EventFeed::try_recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FeedEmpty {
    /// Nothing queued right now.
    Empty,
    /// The run is gone and everything was read.
    Closed,
}

impl From<UnboundedReceiver<Event>> for EventFeed {
    fn from(rx: UnboundedReceiver<Event>) -> Self {
        EventFeed {
            rx,
            backlog: None,
            taken: 0,
        }
    }
}

impl EventFeed {
    /// A bounded feed and the sender the emitter writes to.
    pub(crate) fn bounded(capacity: usize) -> (Subscriber, EventFeed) {
        let (tx, rx) = unbounded_channel();
        let backlog = Arc::new(Backlog {
            queued: AtomicUsize::new(0),
            capacity: capacity.max(1),
            lock: Mutex::new(()),
            room: Condvar::new(),
        });
        (
            Subscriber::Bounded {
                tx,
                backlog: backlog.clone(),
                sent: 0,
            },
            EventFeed {
                rx,
                backlog: Some(backlog),
                taken: 0,
            },
        )
    }

    /// The next queued event, without waiting.
    pub(crate) fn try_recv(&mut self) -> Result<Event, FeedEmpty> {
        match self.rx.try_recv() {
            Ok(ev) => {
                self.count_taken(false);
                Ok(ev)
            }
            Err(e) => {
                // Nothing queued: settle the count now, so a sender waiting
                // for room sees it.
                self.count_taken(true);
                Err(match e {
                    TryRecvError::Empty => FeedEmpty::Empty,
                    TryRecvError::Disconnected => FeedEmpty::Closed,
                })
            }
        }
    }

    /// The next event, waiting for it on this (non-async) thread; `None`
    /// once the run is gone and everything was read.
    pub(crate) fn blocking_recv(&mut self) -> Option<Event> {
        self.count_taken(true);
        let ev = self.rx.blocking_recv()?;
        self.count_taken(false);
        Some(ev)
    }

    /// Counts one event taken (`settle`: none, but settle what is pending).
    fn count_taken(&mut self, settle: bool) {
        let Some(b) = &self.backlog else { return };
        if !settle {
            self.taken += 1;
        }
        if self.taken > 0 && (settle || self.taken >= COUNT_EVERY) {
            b.taken(self.taken);
            self.taken = 0;
        }
    }
}

/// The emitter's end of one subscription.
pub(crate) enum Subscriber {
    Unbounded(UnboundedSender<Event>),
    Bounded {
        tx: UnboundedSender<Event>,
        backlog: Arc<Backlog>,
        /// Events sent but not yet added to the shared count.
        sent: usize,
    },
    /// A bounded subscriber whose reader went away.
    Gone,
}

impl Subscriber {
    /// Hands one event over; a bounded subscriber may wait for room.
    /// Returns false when the reader is gone.
    pub(crate) fn send(&mut self, ev: Event) -> bool {
        let ok = match self {
            Subscriber::Unbounded(tx) => tx.send(ev).is_ok(),
            Subscriber::Bounded { tx, backlog, sent } => {
                let ok = tx.send(ev).is_ok();
                *sent += 1;
                if ok && *sent >= COUNT_EVERY {
                    let before = backlog.queued.fetch_add(*sent, Ordering::AcqRel);
                    *sent = 0;
                    if before >= backlog.capacity {
                        backlog.wait_for_room(tx);
                    }
                }
                ok
            }
            Subscriber::Gone => false,
        };
        if !ok {
            *self = Subscriber::Gone;
        }
        ok
    }

    /// True when nobody reads this subscription any more.
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Subscriber::Unbounded(tx) => tx.is_closed(),
            Subscriber::Bounded { tx, .. } => tx.is_closed(),
            Subscriber::Gone => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    fn ev(seq: u64) -> Event {
        Event {
            seq,
            ts: 0,
            session: "s".into(),
            kind: EventKind::RunPaused,
        }
    }

    #[test]
    fn a_full_bounded_feed_makes_the_sender_wait_until_the_reader_catches_up() {
        // Counted per COUNT_EVERY events: a capacity of one batch is full
        // after two batches were sent.
        let (mut tx, mut rx) = EventFeed::bounded(COUNT_EVERY);
        let n = 3 * COUNT_EVERY as u64;
        for i in 1..2 * COUNT_EVERY as u64 {
            assert!(tx.send(ev(i)));
        }
        // The send that completes the second batch must wait for room: run
        // the rest on another thread and check it does not get through
        // before the reader takes events.
        let sender = std::thread::spawn(move || {
            for i in 2 * COUNT_EVERY as u64..=n {
                assert!(tx.send(ev(i)));
            }
            tx
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!sender.is_finished(), "the sender went past a full feed");
        let mut got = Vec::new();
        while got.len() < n as usize {
            match rx.try_recv() {
                Ok(e) => got.push(e.seq),
                Err(FeedEmpty::Empty) => std::thread::yield_now(),
                Err(FeedEmpty::Closed) => panic!("closed early"),
            }
        }
        let tx = sender.join().expect("sender thread");
        assert_eq!(got, (1..=n).collect::<Vec<_>>(), "every event, in order");
        assert_eq!(rx.try_recv().map(|e| e.seq), Err(FeedEmpty::Empty));
        drop(tx);
        assert_eq!(rx.try_recv().map(|e| e.seq), Err(FeedEmpty::Closed));
        assert!(rx.blocking_recv().is_none());
    }

    #[test]
    fn a_dropped_reader_closes_the_subscriber() {
        let (mut tx, rx) = EventFeed::bounded(4);
        drop(rx);
        assert!(!tx.send(ev(1)));
        assert!(tx.is_closed());
    }
}
