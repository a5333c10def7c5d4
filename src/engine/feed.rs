//! How events leave the emitter: to unbounded receivers (the cockpit, a
//! library user's stream) or to a bounded feed (the session recorder).
//!
//! A bounded feed holds at most `capacity` events: when its reader falls
//! that far behind, the emitter waits for it (backpressure) instead of
//! buffering without limit or dropping an event. The recorder uses one so a
//! slow disk slows the run down rather than growing memory without bound;
//! with a capacity of tens of thousands of events the engine never waits
//! in practice (see BENCHMARKS.md, "Recording on vs off").

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError as StdTryRecvError, sync_channel};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::mpsc::error::TryRecvError;

use crate::event::Event;

/// The receiving end of an event stream, bounded or not; what
/// [`Recorder`](crate::session::Recorder) reads. Get a bounded one from
/// [`Orchestrator::subscribe_bounded`](super::Orchestrator::subscribe_bounded);
/// an unbounded [`Orchestrator::subscribe`](super::Orchestrator::subscribe)
/// receiver converts into one with `into()`.
#[derive(Debug)]
pub struct EventFeed(FeedRx);

#[derive(Debug)]
enum FeedRx {
    Unbounded(UnboundedReceiver<Event>),
    Bounded(Receiver<Event>),
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
        EventFeed(FeedRx::Unbounded(rx))
    }
}

impl EventFeed {
    /// A bounded feed and the sender the emitter writes to.
    pub(crate) fn bounded(capacity: usize) -> (Subscriber, EventFeed) {
        let (tx, rx) = sync_channel(capacity.max(1));
        (Subscriber::Bounded(tx), EventFeed(FeedRx::Bounded(rx)))
    }

    /// The next queued event, without waiting.
    pub(crate) fn try_recv(&mut self) -> Result<Event, FeedEmpty> {
        match &mut self.0 {
            FeedRx::Unbounded(rx) => rx.try_recv().map_err(|e| match e {
                TryRecvError::Empty => FeedEmpty::Empty,
                TryRecvError::Disconnected => FeedEmpty::Closed,
            }),
            FeedRx::Bounded(rx) => rx.try_recv().map_err(|e| match e {
                StdTryRecvError::Empty => FeedEmpty::Empty,
                StdTryRecvError::Disconnected => FeedEmpty::Closed,
            }),
        }
    }

    /// The next event, waiting for it on this (non-async) thread; `None`
    /// once the run is gone and everything was read.
    pub(crate) fn blocking_recv(&mut self) -> Option<Event> {
        match &mut self.0 {
            FeedRx::Unbounded(rx) => rx.blocking_recv(),
            FeedRx::Bounded(rx) => rx.recv().ok(),
        }
    }
}

/// The emitter's end of one subscription.
pub(crate) enum Subscriber {
    Unbounded(UnboundedSender<Event>),
    Bounded(SyncSender<Event>),
    /// A bounded subscriber whose reader went away.
    Gone,
}

impl Subscriber {
    /// Hands one event over; a bounded subscriber may wait for room.
    /// Returns false when the reader is gone.
    pub(crate) fn send(&mut self, ev: Event) -> bool {
        let ok = match self {
            Subscriber::Unbounded(tx) => tx.send(ev).is_ok(),
            Subscriber::Bounded(tx) => tx.send(ev).is_ok(),
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
            Subscriber::Bounded(_) => false,
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
        let (mut tx, mut rx) = EventFeed::bounded(2);
        assert!(tx.send(ev(1)));
        assert!(tx.send(ev(2)));
        // The third send must wait for room: run it on another thread and
        // check it has not finished before the reader takes one event.
        let sender = std::thread::spawn(move || {
            let ok = tx.send(ev(3));
            (ok, tx)
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!sender.is_finished(), "the sender went past a full feed");
        assert_eq!(rx.try_recv().map(|e| e.seq), Ok(1));
        let (ok, tx) = sender.join().expect("sender thread");
        assert!(ok);
        assert_eq!(rx.try_recv().map(|e| e.seq), Ok(2));
        assert_eq!(rx.try_recv().map(|e| e.seq), Ok(3));
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
