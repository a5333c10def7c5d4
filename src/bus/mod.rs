//! The message bus: a `MessageBus` trait with NATS-style subjects, and the
//! in-process backend. A NATS JetStream backend implements the same trait.
//!
//! Delivery rules (the in-process bus keeps them; another backend should):
//! - a message reaches every subscription whose pattern matches its topic;
//! - an addressed message (`to = Some(r)`) also reaches every subscription
//!   whose pattern matches `agent.<r>`, the recipient's inbox, whatever its
//!   topic; a subscription matching both gets it once;
//! - a subscription in [`Order::Priority`] hands out the most urgent waiting
//!   message first (1 before 5), in publish order within a priority;
//! - a subscription made with a [`Replay`] first receives the matching
//!   messages it missed, from the bus's bounded history, then the new ones,
//!   none twice and none lost in between.

mod in_process;
mod subscription;

pub use in_process::{DEFAULT_HISTORY, InProcessBus};
pub use subscription::{DEFAULT_PRIORITY_WINDOW, Order, Replay, SubscribeOptions, Subscription};

use std::borrow::Cow;

use futures::future::BoxFuture;

use crate::event::{BusMessage, Id};

/// A bus failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("bus: {0}")]
pub struct BusError(pub String);

/// Publish/subscribe on subjects such as `agent.<id>`.
pub trait MessageBus: Send + Sync + 'static {
    /// Delivers a message to every matching subscription.
    fn publish(&self, msg: BusMessage) -> BoxFuture<'_, Result<(), BusError>>;
    /// Subscribes to a pattern (`*` matches one token, `>` the rest).
    fn subscribe(&self, pattern: &str) -> BoxFuture<'_, Result<Subscription, BusError>>;
    /// Subscribes with options: priority order, replay of missed messages.
    /// The default serves the order on top of [`MessageBus::subscribe`] and
    /// refuses a replay, since a bus without history cannot give one.
    fn subscribe_with(
        &self,
        pattern: &str,
        options: SubscribeOptions,
    ) -> BoxFuture<'_, Result<Subscription, BusError>> {
        let pattern = pattern.to_string();
        Box::pin(async move {
            if options.replay != Replay::None {
                return Err(BusError(format!(
                    "this bus keeps no history, so `{pattern}` cannot replay missed messages; \
                     subscribe without a replay, or use the in-process bus"
                )));
            }
            Ok(self.subscribe(&pattern).await?.ordered(&options))
        })
    }
}

/// How a message is published beyond its topic, kind and payload: to whom,
/// how urgently, in reply to what.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishOptions {
    /// The recipient: the message also reaches `agent.<to>` (its inbox).
    pub to: Option<Id>,
    /// 1 most urgent … 5; default 3.
    pub priority: u8,
    /// Correlates a request with its reply.
    pub correlation: Option<Id>,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            to: None,
            priority: BusMessage::DEFAULT_PRIORITY,
            correlation: None,
        }
    }
}

impl PublishOptions {
    /// Default options: a broadcast at priority 3.
    pub fn new() -> Self {
        Self::default()
    }

    /// Addresses the message to `recipient`.
    pub fn to(mut self, recipient: impl Into<Id>) -> Self {
        self.to = Some(recipient.into());
        self
    }

    /// Sets the priority (1 most urgent … 5).
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the correlation id.
    pub fn correlation(mut self, id: impl Into<Id>) -> Self {
        self.correlation = Some(id.into());
        self
    }

    /// The message these options make, or why they are wrong.
    pub fn message(
        self,
        topic: &str,
        from: Id,
        kind: impl Into<Cow<'static, str>>,
        payload: serde_json::Value,
    ) -> Result<BusMessage, BusError> {
        check_priority(self.priority)?;
        if topic.is_empty() || topic.split('.').any(str::is_empty) {
            return Err(BusError(format!(
                "`{topic}` is not a topic: use dot-separated names such as `alerts.disk`"
            )));
        }
        Ok(BusMessage {
            id: 0,
            topic: Id::from(topic),
            from,
            to: self.to,
            kind: kind.into(),
            payload,
            correlation: self.correlation,
            ts: crate::event::now_micros(),
            priority: self.priority,
        })
    }
}

/// A priority must be 1 (most urgent) to 5.
pub fn check_priority(priority: u8) -> Result<(), BusError> {
    if (1..=5).contains(&priority) {
        Ok(())
    } else {
        Err(BusError(format!(
            "priority {priority} is out of range: use 1 (most urgent) to 5 (default 3)"
        )))
    }
}

/// The inbox topic of an agent: addressed messages reach its subscribers.
pub fn inbox(agent: &str) -> String {
    format!("agent.{agent}")
}

/// NATS subject matching: tokens split on `.`, `*` matches exactly one
/// token, a final `>` matches one or more.
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    tokens_match(pattern, topic.split('.'))
}

/// Whether `pattern` matches `agent.<recipient>` (without building it: the
/// check runs for every addressed message and subscription).
pub(crate) fn inbox_matches(pattern: &str, recipient: &str) -> bool {
    tokens_match(
        pattern,
        std::iter::once("agent").chain(recipient.split('.')),
    )
}

fn tokens_match<'a>(pattern: &str, mut t: impl Iterator<Item = &'a str>) -> bool {
    let mut p = pattern.split('.');
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
    use super::*;

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

    #[test]
    fn inboxes_match_like_their_topic() {
        assert!(inbox_matches("agent.writer", "writer"));
        assert!(inbox_matches("agent.*", "writer"));
        assert!(inbox_matches(">", "writer"));
        assert!(!inbox_matches("agent.writer.log", "writer"));
        assert!(!inbox_matches("agent.critic", "writer"));
        assert_eq!(inbox("writer"), "agent.writer");
    }

    #[test]
    fn publish_options_check_priority_and_topic() {
        let m = PublishOptions::new()
            .to("b")
            .priority(1)
            .message("review.ask", "a".into(), "ask", serde_json::json!(1))
            .unwrap();
        assert_eq!((m.priority, m.to.as_deref()), (1, Some("b")));
        let e = PublishOptions::new()
            .priority(0)
            .message("t", "a".into(), "k", serde_json::json!(1))
            .unwrap_err();
        assert!(e.0.contains("1 (most urgent) to 5"), "{e}");
        assert!(
            PublishOptions::new()
                .message("a..b", "a".into(), "k", serde_json::json!(1))
                .is_err()
        );
    }
}
