//! A subscription's receiving end, in publish order or by priority.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tokio::sync::mpsc;

use crate::event::BusMessage;

/// Most messages a priority-ordered subscription sorts at once: it hands
/// out the most urgent of the (up to) this many oldest waiting messages, so
/// its own buffer stays bounded however far behind the reader is.
pub const DEFAULT_PRIORITY_WINDOW: usize = 1024;

/// The order a subscription hands messages out in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// As published (the default).
    #[default]
    Arrival,
    /// The most urgent waiting message first (priority 1 before 5), in
    /// publish order within a priority.
    Priority,
}

/// Messages a new subscription asks for that were published before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Replay {
    /// Only messages published from now on (the default).
    #[default]
    None,
    /// Every matching message still in the bus's history.
    All,
    /// Matching messages in the history whose id is greater than this one
    /// (the last id the subscriber saw).
    After(u64),
}

/// How to subscribe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// Publish order or priority order.
    pub order: Order,
    /// Messages from before the subscription to receive first.
    pub replay: Replay,
    /// For [`Order::Priority`]: how many waiting messages are sorted at
    /// once (at least 1).
    pub window: usize,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            order: Order::Arrival,
            replay: Replay::None,
            window: DEFAULT_PRIORITY_WINDOW,
        }
    }
}

impl SubscribeOptions {
    /// Publish order, no replay.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands out the most urgent waiting message first.
    pub fn by_priority(mut self) -> Self {
        self.order = Order::Priority;
        self
    }

    /// Receives the missed messages first (see [`Replay`]).
    pub fn replay(mut self, replay: Replay) -> Self {
        self.replay = replay;
        self
    }

    /// How many waiting messages a priority order sorts at once.
    pub fn window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }
}

/// Messages matching one subscription pattern.
pub struct Subscription {
    rx: mpsc::UnboundedReceiver<BusMessage>,
    by_priority: Option<Waiting>,
    replay_truncated: bool,
}

impl Subscription {
    /// Wraps a receiver (backends feed it), handing messages out as sent.
    pub fn new(rx: mpsc::UnboundedReceiver<BusMessage>) -> Self {
        Subscription {
            rx,
            by_priority: None,
            replay_truncated: false,
        }
    }

    /// The same subscription, handing messages out in `options.order`.
    pub fn ordered(mut self, options: &SubscribeOptions) -> Self {
        self.by_priority = match options.order {
            Order::Arrival => None,
            Order::Priority => Some(Waiting::new(options.window)),
        };
        self
    }

    /// Marks a replay that could not go back as far as asked.
    pub(crate) fn set_replay_truncated(&mut self) {
        self.replay_truncated = true;
    }

    /// True when the replay asked for messages the bounded history had
    /// already dropped (they may or may not have matched the pattern).
    pub fn replay_truncated(&self) -> bool {
        self.replay_truncated
    }

    /// Next message; `None` when the bus is gone and nothing is waiting.
    pub async fn recv(&mut self) -> Option<BusMessage> {
        let Some(w) = &mut self.by_priority else {
            return self.rx.recv().await;
        };
        if w.heap.is_empty() {
            // No await after this: a dropped `recv` loses nothing.
            let m = self.rx.recv().await?;
            w.push(m);
        }
        w.fill(&mut self.rx);
        w.pop()
    }

    /// Next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<BusMessage> {
        let Some(w) = &mut self.by_priority else {
            return self.rx.try_recv().ok();
        };
        w.fill(&mut self.rx);
        w.pop()
    }
}

/// Messages taken off the channel, most urgent first.
struct Waiting {
    heap: BinaryHeap<Queued>,
    window: usize,
    seq: u64,
}

impl Waiting {
    fn new(window: usize) -> Self {
        Waiting {
            heap: BinaryHeap::new(),
            window: window.max(1),
            seq: 0,
        }
    }

    fn push(&mut self, msg: BusMessage) {
        self.seq += 1;
        self.heap.push(Queued { seq: self.seq, msg });
    }

    /// Takes what is waiting, up to the window.
    fn fill(&mut self, rx: &mut mpsc::UnboundedReceiver<BusMessage>) {
        while self.heap.len() < self.window {
            match rx.try_recv() {
                Ok(m) => self.push(m),
                Err(_) => break,
            }
        }
    }

    fn pop(&mut self) -> Option<BusMessage> {
        self.heap.pop().map(|q| q.msg)
    }
}

/// A waiting message; the max-heap's greatest is the lowest priority
/// number, then the earliest taken.
struct Queued {
    seq: u64,
    msg: BusMessage,
}

impl Queued {
    fn key(&self) -> (u8, u64) {
        (self.msg.priority, self.seq)
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(id: u64, priority: u8) -> BusMessage {
        BusMessage {
            id,
            topic: "jobs".into(),
            from: "t".into(),
            to: None,
            kind: "event".into(),
            payload: json!(id),
            correlation: None,
            ts: 0,
            priority,
        }
    }

    fn ids(sub: &mut Subscription) -> Vec<u64> {
        std::iter::from_fn(|| sub.try_recv())
            .map(|m| m.id)
            .collect()
    }

    #[tokio::test]
    async fn priority_order_hands_out_the_most_urgent_first_fifo_within_one() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut sub = Subscription::new(rx).ordered(&SubscribeOptions::new().by_priority());
        for (id, p) in [(1, 3), (2, 5), (3, 1), (4, 3), (5, 1), (6, 2)] {
            tx.send(msg(id, p)).unwrap();
        }
        assert_eq!(sub.recv().await.unwrap().id, 3);
        assert_eq!(ids(&mut sub), [5, 6, 1, 4, 2]);
        // A message arriving later still overtakes less urgent waiting ones.
        tx.send(msg(7, 4)).unwrap();
        tx.send(msg(8, 2)).unwrap();
        assert_eq!(ids(&mut sub), [8, 7]);
    }

    #[tokio::test]
    async fn arrival_order_is_the_default() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut sub = Subscription::new(rx);
        for (id, p) in [(1, 5), (2, 1)] {
            tx.send(msg(id, p)).unwrap();
        }
        assert_eq!(ids(&mut sub), [1, 2]);
    }

    #[tokio::test]
    async fn the_priority_window_bounds_what_is_sorted() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut sub =
            Subscription::new(rx).ordered(&SubscribeOptions::new().by_priority().window(2));
        for (id, p) in [(1, 5), (2, 4), (3, 1)] {
            tx.send(msg(id, p)).unwrap();
        }
        // Only two are taken off the channel at once: the urgent third
        // waits behind them until the window has room.
        assert_eq!(sub.try_recv().unwrap().id, 2);
        assert_eq!(sub.try_recv().unwrap().id, 3);
        assert_eq!(sub.try_recv().unwrap().id, 1);
        drop(tx);
        assert!(sub.recv().await.is_none());
    }
}
