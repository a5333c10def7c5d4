use std::sync::Mutex;

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use super::{BusError, MessageBus, Subscription, topic_matches};
use crate::event::BusMessage;

/// The embedded bus: subscriptions in a list, delivery by pattern match.
#[derive(Default)]
pub struct InProcessBus {
    subs: Mutex<Vec<(String, mpsc::UnboundedSender<BusMessage>)>>,
}

impl InProcessBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    fn deliver(&self, msg: BusMessage) {
        let mut subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        // Drop subscriptions whose receiver is gone while delivering.
        subs.retain(|(pattern, tx)| {
            if tx.is_closed() {
                return false;
            }
            if topic_matches(pattern, &msg.topic) {
                return tx.send(msg.clone()).is_ok();
            }
            true
        });
    }
}

impl MessageBus for InProcessBus {
    fn publish(&self, msg: BusMessage) -> BoxFuture<'_, Result<(), BusError>> {
        self.deliver(msg);
        Box::pin(async { Ok(()) })
    }

    fn subscribe(&self, pattern: &str) -> BoxFuture<'_, Result<Subscription, BusError>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((pattern.to_string(), tx));
        Box::pin(async { Ok(Subscription::new(rx)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(topic: &str) -> BusMessage {
        BusMessage {
            id: 1,
            topic: topic.into(),
            from: "t".into(),
            to: None,
            kind: "event".into(),
            payload: json!(1),
            correlation: None,
            ts: 0,
        }
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
}
