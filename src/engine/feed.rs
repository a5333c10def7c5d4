//! How events leave the emitter: to unbounded receivers (the cockpit, a
//! library user's stream) or to a bounded hand-off (the session recorder).
//!
//! The hand-off is a pair of buffers behind one lock rather than a
//! channel, because its cost lands on the engine's thread for every event
//! (BENCHMARKS.md, "Recording on vs off", has the measurements behind each
//! choice):
//! - the emitter boxes each event and pushes the pointer onto `queued` (an
//!   uncontended lock and an 8-byte push: moving the 300-byte events
//!   themselves through the buffers cost more than the allocation); the
//!   reader swaps the whole buffer out at once, every poll;
//! - the reader gives the events it wrote back through `spent`, and the
//!   emitter frees one of them per event it sends. An event is therefore
//!   allocated and freed on the same thread: freeing it on the reader's
//!   thread instead (what a channel does) made the allocator's memory and
//!   the reference counts of the ids inside the events travel between the
//!   two cores, which cost more than everything else recording does;
//! - it holds at most `capacity` events: when its reader falls that far
//!   behind, the emitter waits for it (backpressure) instead of buffering
//!   without limit or dropping an event, so a slow disk slows the run down
//!   rather than growing memory. With tens of thousands of events of room
//!   the engine never waits in practice.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::event::Event;

/// Events as the hand-off moves them: boxed, so its buffers hold pointers
/// and not the events themselves (see the module docs for why).
#[allow(clippy::vec_box)]
pub(crate) type EventBatch = Vec<Box<Event>>;

/// The receiving end of an event stream, bounded or not; what
/// [`Recorder`](crate::session::Recorder) reads. Get a bounded one from
/// [`Orchestrator::subscribe_bounded`](super::Orchestrator::subscribe_bounded);
/// an unbounded [`Orchestrator::subscribe`](super::Orchestrator::subscribe)
/// receiver converts into one with `into()`.
#[derive(Debug)]
pub struct EventFeed {
    source: Source,
}

#[derive(Debug)]
enum Source {
    Channel(UnboundedReceiver<Event>),
    Handoff(Arc<Handoff>),
}

/// Returned events the emitter frees per event it sends. One keeps pace
/// (every event sent comes back once) and spreads the frees evenly between
/// allocations, which measured faster than freeing in bursts.
const FREE_PER_SEND: usize = 1;

/// Returned events waiting to be freed beyond which the reader frees a
/// batch itself, so a run that goes quiet (waiting on a model) does not
/// keep more than this many written events alive.
const SPENT_MAX: usize = 4096;

/// The state both ends of a bounded feed share.
#[derive(Debug)]
pub(crate) struct Handoff {
    state: Mutex<HandoffState>,
    /// Set when the reader is dropped; checked without the lock on every send.
    reader_gone: AtomicBool,
    /// Signalled when events arrive for a reader that waits for them.
    arrived: Condvar,
    /// Signalled when the reader took events from a full queue.
    room: Condvar,
    capacity: usize,
    /// The CPU the emitter last ran on ([`NO_CPU`]: not known), so the
    /// reader can keep off it (see [`super::cpu_placement`]).
    sender_cpu: AtomicU32,
}

const NO_CPU: u32 = u32::MAX;

/// The emitter publishes its CPU once per this many events.
const CPU_EVERY: u32 = 64;

#[derive(Debug, Default)]
struct HandoffState {
    /// Sent, not yet taken by the reader.
    queued: EventBatch,
    /// Written by the reader, waiting to be freed by the emitter.
    spent: EventBatch,
    reader_waiting: bool,
    sender_waiting: bool,
    sender_gone: bool,
}

impl Handoff {
    fn lock(&self) -> MutexGuard<'_, HandoffState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves everything queued into `batch` (which must be empty): a swap,
    /// so the two buffers' capacities are reused, never reallocated.
    fn take(&self, st: &mut HandoffState, batch: &mut EventBatch) {
        std::mem::swap(&mut st.queued, batch);
        if st.sender_waiting {
            st.sender_waiting = false;
            self.room.notify_one();
        }
    }
}

/// Why [`EventFeed::take`] returned no event.
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
            source: Source::Channel(rx),
        }
    }
}

impl EventFeed {
    /// A bounded feed and the sender the emitter writes to.
    pub(crate) fn bounded(capacity: usize) -> (Subscriber, EventFeed) {
        let shared = Arc::new(Handoff {
            state: Mutex::new(HandoffState::default()),
            reader_gone: AtomicBool::new(false),
            arrived: Condvar::new(),
            room: Condvar::new(),
            capacity: capacity.max(1),
            sender_cpu: AtomicU32::new(NO_CPU),
        });
        (
            Subscriber::Bounded(HandoffSender {
                shared: shared.clone(),
                freeing: Vec::new(),
                sent: 0,
            }),
            EventFeed {
                source: Source::Handoff(shared),
            },
        )
    }

    /// Moves every queued event into `batch` (empty on entry), in `seq`
    /// order, without waiting.
    pub(crate) fn take(&mut self, batch: &mut EventBatch) -> Result<(), FeedEmpty> {
        debug_assert!(batch.is_empty());
        match &mut self.source {
            Source::Channel(rx) => loop {
                match rx.try_recv() {
                    Ok(ev) => batch.push(Box::new(ev)),
                    Err(_) if !batch.is_empty() => return Ok(()),
                    Err(TryRecvError::Empty) => return Err(FeedEmpty::Empty),
                    Err(TryRecvError::Disconnected) => return Err(FeedEmpty::Closed),
                }
            },
            Source::Handoff(shared) => {
                let mut st = shared.lock();
                if !st.queued.is_empty() {
                    shared.take(&mut st, batch);
                    Ok(())
                } else if st.sender_gone {
                    Err(FeedEmpty::Closed)
                } else {
                    Err(FeedEmpty::Empty)
                }
            }
        }
    }

    /// Like [`EventFeed::take`], but waits on this (non-async) thread until
    /// there is an event; false once the run is gone and everything was read.
    pub(crate) fn wait(&mut self, batch: &mut EventBatch) -> bool {
        debug_assert!(batch.is_empty());
        match &mut self.source {
            Source::Channel(rx) => match rx.blocking_recv() {
                Some(ev) => {
                    batch.push(Box::new(ev));
                    true
                }
                None => false,
            },
            Source::Handoff(shared) => {
                let mut st = shared.lock();
                loop {
                    if !st.queued.is_empty() {
                        shared.take(&mut st, batch);
                        return true;
                    }
                    if st.sender_gone {
                        return false;
                    }
                    st.reader_waiting = true;
                    st = shared.arrived.wait(st).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }

    /// The CPU the emitter ran on lately, when known.
    pub(crate) fn sender_cpu(&self) -> Option<u32> {
        match &self.source {
            Source::Handoff(shared) => {
                Some(shared.sender_cpu.load(Ordering::Relaxed)).filter(|&c| c != NO_CPU)
            }
            Source::Channel(_) => None,
        }
    }

    /// Hands a batch the reader is done with back to the emitter's thread
    /// to be freed there; `batch` is left empty, its capacity kept.
    pub(crate) fn give_back(&mut self, batch: &mut EventBatch) {
        if let Source::Handoff(shared) = &self.source {
            let mut st = shared.lock();
            // A run that stopped sending frees nothing: past SPENT_MAX,
            // the reader frees them itself.
            if !st.sender_gone && st.spent.len() < SPENT_MAX {
                st.spent.append(batch);
                return;
            }
        }
        batch.clear();
    }
}

impl Drop for EventFeed {
    fn drop(&mut self) {
        if let Source::Handoff(shared) = &self.source {
            shared.reader_gone.store(true, Ordering::Release);
            // Wake a sender waiting for room, under the lock so the wake
            // cannot fall between its check and its wait.
            let _st = shared.lock();
            shared.room.notify_all();
        }
    }
}

/// The emitter's end of a bounded feed.
pub(crate) struct HandoffSender {
    shared: Arc<Handoff>,
    /// Events the reader gave back, freed a few per send.
    freeing: EventBatch,
    /// Events sent, to publish the CPU every [`CPU_EVERY`].
    sent: u32,
}

impl HandoffSender {
    fn send(&mut self, ev: Event) -> bool {
        let shared = &*self.shared;
        if shared.reader_gone.load(Ordering::Acquire) {
            return false;
        }
        let mut st = shared.lock();
        st.queued.push(Box::new(ev));
        if self.freeing.is_empty() && !st.spent.is_empty() {
            std::mem::swap(&mut self.freeing, &mut st.spent);
        }
        if st.reader_waiting {
            st.reader_waiting = false;
            shared.arrived.notify_one();
        }
        while st.queued.len() >= shared.capacity && !shared.reader_gone.load(Ordering::Acquire) {
            st.sender_waiting = true;
            st = shared.room.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        drop(st);
        let keep = self.freeing.len().saturating_sub(FREE_PER_SEND);
        self.freeing.truncate(keep);
        if self.sent.is_multiple_of(CPU_EVERY)
            && let Some(cpu) = super::cpu_placement::current_cpu()
        {
            shared.sender_cpu.store(cpu, Ordering::Relaxed);
        }
        self.sent = self.sent.wrapping_add(1);
        true
    }
}

impl Drop for HandoffSender {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.sender_gone = true;
        self.shared.arrived.notify_all();
    }
}

/// The emitter's end of one subscription.
pub(crate) enum Subscriber {
    Unbounded(UnboundedSender<Event>),
    Bounded(HandoffSender),
    /// A subscriber whose reader went away.
    Gone,
}

impl Subscriber {
    /// Hands one event over; a bounded subscriber may wait for room.
    /// Returns false when the reader is gone.
    pub(crate) fn send(&mut self, ev: Event) -> bool {
        let ok = match self {
            Subscriber::Unbounded(tx) => tx.send(ev).is_ok(),
            Subscriber::Bounded(tx) => tx.send(ev),
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
            Subscriber::Bounded(tx) => tx.shared.reader_gone.load(Ordering::Acquire),
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

    /// Takes until `n` events were read, giving each batch back.
    fn read(rx: &mut EventFeed, n: usize) -> Vec<u64> {
        let mut got = Vec::new();
        let mut batch = Vec::new();
        while got.len() < n {
            match rx.take(&mut batch) {
                Ok(()) => {
                    got.extend(batch.iter().map(|e| e.seq));
                    rx.give_back(&mut batch);
                }
                Err(FeedEmpty::Empty) => std::thread::yield_now(),
                Err(FeedEmpty::Closed) => panic!("closed early"),
            }
        }
        got
    }

    #[test]
    fn a_full_bounded_feed_makes_the_sender_wait_until_the_reader_catches_up() {
        let cap = 8;
        let (mut tx, mut rx) = EventFeed::bounded(cap);
        let n = 3 * cap as u64;
        for i in 1..cap as u64 {
            assert!(tx.send(ev(i)));
        }
        // The send that fills the queue must wait for room: run the rest
        // on another thread and check it does not get through before the
        // reader takes events.
        let sender = std::thread::spawn(move || {
            for i in cap as u64..=n {
                assert!(tx.send(ev(i)));
            }
            tx
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!sender.is_finished(), "the sender went past a full feed");
        let got = read(&mut rx, n as usize);
        let tx = sender.join().expect("sender thread");
        assert_eq!(got, (1..=n).collect::<Vec<_>>(), "every event, in order");
        let mut batch = Vec::new();
        assert_eq!(rx.take(&mut batch), Err(FeedEmpty::Empty));
        drop(tx);
        assert_eq!(rx.take(&mut batch), Err(FeedEmpty::Closed));
        assert!(!rx.wait(&mut batch));
    }

    #[test]
    fn events_given_back_are_freed_by_the_sender() {
        let (mut tx, mut rx) = EventFeed::bounded(1024);
        let sid: crate::event::Id = "returned".into();
        for i in 1..=10 {
            assert!(tx.send(Event {
                session: sid.clone(),
                ..ev(i)
            }));
        }
        let mut batch = Vec::new();
        assert_eq!(rx.take(&mut batch), Ok(()));
        rx.give_back(&mut batch);
        assert!(batch.is_empty());
        // The ten given back hold ten references to their session id, until
        // the sender frees FREE_PER_SEND of them per event it sends.
        assert_eq!(Arc::strong_count(&sid), 11);
        let Subscriber::Bounded(sender) = &mut tx else {
            unreachable!()
        };
        assert!(sender.send(ev(11)));
        assert_eq!(Arc::strong_count(&sid), 11 - FREE_PER_SEND);
        for i in 12..=(10 + 10 / FREE_PER_SEND as u64) {
            assert!(sender.send(ev(i)));
        }
        assert_eq!(Arc::strong_count(&sid), 1, "all returned events freed");
        assert!(sender.freeing.is_empty());
        drop(rx);
    }

    #[test]
    fn a_waiting_reader_is_woken_by_the_next_event_and_by_the_end() {
        let (mut tx, mut rx) = EventFeed::bounded(16);
        let reader = std::thread::spawn(move || {
            let mut batch = Vec::new();
            let mut got = Vec::new();
            while rx.wait(&mut batch) {
                got.extend(batch.iter().map(|e| e.seq));
                rx.give_back(&mut batch);
            }
            got
        });
        std::thread::sleep(std::time::Duration::from_millis(10));
        assert!(tx.send(ev(1)));
        std::thread::sleep(std::time::Duration::from_millis(10));
        assert!(tx.send(ev(2)));
        drop(tx);
        assert_eq!(reader.join().expect("reader"), vec![1, 2]);
    }

    #[test]
    fn a_dropped_reader_closes_the_subscriber() {
        let (mut tx, rx) = EventFeed::bounded(4);
        drop(rx);
        assert!(!tx.send(ev(1)));
        assert!(tx.is_closed());
    }

    #[test]
    fn an_unbounded_receiver_reads_through_the_same_interface() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut feed = EventFeed::from(rx);
        let mut batch = Vec::new();
        assert_eq!(feed.take(&mut batch), Err(FeedEmpty::Empty));
        tx.send(ev(1)).expect("send");
        tx.send(ev(2)).expect("send");
        assert_eq!(feed.take(&mut batch), Ok(()));
        assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        feed.give_back(&mut batch);
        assert!(batch.is_empty());
        drop(tx);
        assert_eq!(feed.take(&mut batch), Err(FeedEmpty::Closed));
    }
}
