//! The message bus: a `MessageBus` trait with NATS-style subjects, and the
//! in-process backend. A NATS JetStream backend implements the same trait.

mod in_process;

pub use in_process::InProcessBus;

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use crate::event::BusMessage;

/// A bus failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("bus: {0}")]
pub struct BusError(pub String);

/// Messages matching one subscription pattern, in publish order.
pub struct Subscription {
    rx: mpsc::UnboundedReceiver<BusMessage>,
}

impl Subscription {
    /// Wraps a receiver (backends feed it).
    pub fn new(rx: mpsc::UnboundedReceiver<BusMessage>) -> Self {
        Subscription { rx }
    }

    /// Next message; `None` when the bus is gone.
    pub async fn recv(&mut self) -> Option<BusMessage> {
        self.rx.recv().await
    }

    /// Next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<BusMessage> {
        self.rx.try_recv().ok()
    }
}

/// Publish/subscribe on subjects such as `agent.<id>`.
pub trait MessageBus: Send + Sync + 'static {
    /// Delivers a message to every matching subscription.
    fn publish(&self, msg: BusMessage) -> BoxFuture<'_, Result<(), BusError>>;
    /// Subscribes to a pattern (`*` matches one token, `>` the rest).
    fn subscribe(&self, pattern: &str) -> BoxFuture<'_, Result<Subscription, BusError>>;
}

/// NATS subject matching: tokens split on `.`, `*` matches exactly one
/// token, a final `>` matches one or more.
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    let mut p = pattern.split('.');
    let mut t = topic.split('.');
    loop {
        match (p.next(), t.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::topic_matches;

    #[test]
    fn nats_wildcards() {
        assert!(topic_matches("agent.writer", "agent.writer"));
        assert!(topic_matches("agent.*", "agent.writer"));
        assert!(!topic_matches("agent.*", "agent.writer.x"));
        assert!(topic_matches("agent.>", "agent.writer.x"));
        assert!(!topic_matches("agent.>", "agent"));
        assert!(!topic_matches("alerts", "alerts.high"));
        assert!(topic_matches(">", "anything.at.all"));
    }
}
