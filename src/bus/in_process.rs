use std::collections::VecDeque;
use std::sync::Mutex;

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use super::{
    BusError, MessageBus, Replay, SubscribeOptions, Subscription, inbox_matches, topic_matches,
};
use crate::event::BusMessage;

/// Messages the in-process bus keeps for late subscribers by default.
pub const DEFAULT_HISTORY: usize = 1024;

/// The embedded bus: subscriptions in a list, delivery by pattern match,
/// and a bounded history of the last messages for subscribers that join
/// late ([`Replay`]).
pub struct InProcessBus {
    state: Mutex<State>,
}

struct State {
    subs: Vec<(String, mpsc::UnboundedSender<BusMessage>)>,
    history: VecDeque<BusMessage>,
    capacity: usize,
    /// Highest id seen (messages published with id 0 are numbered from it).
    last_id: u64,
    /// Highest id the history has dropped, 0 if none.
    dropped_up_to: u64,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::with_history(DEFAULT_HISTORY)
    }
}

impl InProcessBus {
    /// An empty bus keeping the last [`DEFAULT_HISTORY`] messages.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty bus keeping the last `capacity` messages for replays
    /// (0: none, and a replay then gets nothing and says it was truncated
    /// once anything was published).
    pub fn with_history(capacity: usize) -> Self {
        InProcessBus {
            state: Mutex::new(State {
                subs: Vec::new(),
                history: VecDeque::with_capacity(capacity.min(DEFAULT_HISTORY)),
                capacity,
                last_id: 0,
                dropped_up_to: 0,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn deliver(&self, mut msg: BusMessage) {
        let mut s = self.state();
        if msg.id == 0 {
            msg.id = s.last_id + 1;
        }
        s.last_id = s.last_id.max(msg.id);
        // Drop subscriptions whose receiver is gone while delivering.
        s.subs.retain(|(pattern, tx)| {
            if tx.is_closed() {
                return false;
            }
            if matches(pattern, &msg) {
                return tx.send(msg.clone()).is_ok();
            }
            true
        });
        if s.capacity == 0 {
            s.dropped_up_to = msg.id;
            return;
        }
        if s.history.len() == s.capacity
            && let Some(old) = s.history.pop_front()
        {
            s.dropped_up_to = s.dropped_up_to.max(old.id);
        }
        s.history.push_back(msg);
    }

    fn open(&self, pattern: &str, options: &SubscribeOptions) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        // Under the lock that delivery takes: what the history holds and
        // what is published next cannot overlap or leave a gap.
        let mut s = self.state();
        let since = match options.replay {
            Replay::None => None,
            Replay::All => Some(0),
            Replay::After(id) => Some(id),
        };
        let mut truncated = false;
        if let Some(since) = since {
            truncated = s.dropped_up_to > since;
            for m in s.history.iter().filter(|m| m.id > since) {
                if matches(pattern, m) {
                    let _ = tx.send(m.clone());
                }
            }
        }
        s.subs.push((pattern.to_string(), tx));
        drop(s);
        let mut sub = Subscription::new(rx).ordered(options);
        if truncated {
            sub.set_replay_truncated();
        }
        sub
    }
}

/// The delivery rule: the topic matches, or the message is addressed and
/// the pattern matches the recipient's inbox.
fn matches(pattern: &str, msg: &BusMessage) -> bool {
    topic_matches(pattern, &msg.topic)
        || msg.to.as_deref().is_some_and(|r| inbox_matches(pattern, r))
}

impl MessageBus for InProcessBus {
    fn publish(&self, msg: BusMessage) -> BoxFuture<'_, Result<(), BusError>> {
        self.deliver(msg);
        Box::pin(async { Ok(()) })
    }

    fn subscribe(&self, pattern: &str) -> BoxFuture<'_, Result<Subscription, BusError>> {
        let sub = self.open(pattern, &SubscribeOptions::default());
        Box::pin(async { Ok(sub) })
    }

    fn subscribe_with(
        &self,
        pattern: &str,
        options: SubscribeOptions,
    ) -> BoxFuture<'_, Result<Subscription, BusError>> {
        let sub = self.open(pattern, &options);
        Box::pin(async { Ok(sub) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(topic: &str) -> BusMessage {
        BusMessage {
            id: 0,
            topic: topic.into(),
            from: "t".into(),
            to: None,
            kind: "event".into(),
            payload: json!(1),
            correlation: None,
            ts: 0,
            priority: 3,
        }
    }

    fn drain(sub: &mut Subscription) -> Vec<u64> {
        std::iter::from_fn(|| sub.try_recv())
            .map(|m| m.id)
            .collect()
    }

    #[tokio::test]
    async fn delivers_by_pattern_in_order() {
        let bus = InProcessBus::new();
        let mut all = bus.subscribe(">").await.unwrap();
        let mut alerts = bus.subscribe("alerts.*").await.unwrap();
        bus.publish(msg("alerts.high")).await.unwrap();
        bus.publish(msg("agent.x")).await.unwrap();
        assert_eq!(&*all.recv().await.unwrap().topic, "alerts.high");
        assert_eq!(&*all.recv().await.unwrap().topic, "agent.x");
        assert_eq!(&*alerts.recv().await.unwrap().topic, "alerts.high");
        assert!(alerts.try_recv().is_none());
    }

    #[tokio::test]
    async fn an_addressed_message_reaches_the_recipients_inbox_once() {
        let bus = InProcessBus::new();
        let mut inbox = bus.subscribe("agent.checker").await.unwrap();
        let mut other = bus.subscribe("agent.writer").await.unwrap();
        let mut topic = bus.subscribe("review.*").await.unwrap();
        let mut both = bus.subscribe(">").await.unwrap();
        let mut addressed = msg("review.ask");
        addressed.to = Some("checker".into());
        bus.publish(addressed).await.unwrap();
        bus.publish(msg("review.note")).await.unwrap();
        assert_eq!(
            drain(&mut inbox),
            [1],
            "the addressed one, not the broadcast"
        );
        assert_eq!(drain(&mut topic), [1, 2]);
        assert_eq!(
            drain(&mut both),
            [1, 2],
            "once, though topic and inbox match"
        );
        assert!(other.try_recv().is_none());
    }

    #[tokio::test]
    async fn a_late_subscriber_replays_what_it_missed_in_order_then_new_ones() {
        let bus = InProcessBus::new();
        for t in ["jobs.a", "other", "jobs.b", "jobs.c"] {
            bus.publish(msg(t)).await.unwrap();
        }
        let mut late = bus
            .subscribe_with("jobs.*", SubscribeOptions::new().replay(Replay::All))
            .await
            .unwrap();
        bus.publish(msg("jobs.d")).await.unwrap();
        assert_eq!(drain(&mut late), [1, 3, 4, 5]);
        assert!(!late.replay_truncated());
        // From a given id: only what came after it.
        let mut after = bus
            .subscribe_with("jobs.*", SubscribeOptions::new().replay(Replay::After(3)))
            .await
            .unwrap();
        assert_eq!(drain(&mut after), [4, 5]);
        // Without a replay, nothing from before.
        let mut plain = bus.subscribe("jobs.*").await.unwrap();
        assert!(plain.try_recv().is_none());
    }

    #[tokio::test]
    async fn the_history_is_bounded_and_a_replay_says_what_it_lost() {
        let bus = InProcessBus::with_history(3);
        for _ in 0..5 {
            bus.publish(msg("jobs.x")).await.unwrap();
        }
        let mut late = bus
            .subscribe_with("jobs.*", SubscribeOptions::new().replay(Replay::All))
            .await
            .unwrap();
        assert_eq!(drain(&mut late), [3, 4, 5], "the last three only");
        assert!(late.replay_truncated());
        let mut recent = bus
            .subscribe_with("jobs.*", SubscribeOptions::new().replay(Replay::After(2)))
            .await
            .unwrap();
        assert_eq!(drain(&mut recent), [3, 4, 5]);
        assert!(!recent.replay_truncated(), "nothing after 2 was dropped");
        let none = InProcessBus::with_history(0);
        none.publish(msg("jobs.x")).await.unwrap();
        let mut s = none
            .subscribe_with("jobs.*", SubscribeOptions::new().replay(Replay::All))
            .await
            .unwrap();
        assert!(s.try_recv().is_none() && s.replay_truncated());
    }

    #[tokio::test]
    async fn a_replay_in_priority_order_sorts_the_missed_ones_too() {
        let bus = InProcessBus::new();
        for p in [4, 1, 3] {
            let mut m = msg("jobs.x");
            m.priority = p;
            bus.publish(m).await.unwrap();
        }
        let mut late = bus
            .subscribe_with(
                "jobs.*",
                SubscribeOptions::new().replay(Replay::All).by_priority(),
            )
            .await
            .unwrap();
        assert_eq!(drain(&mut late), [2, 3, 1]);
    }
}
