//! The work queue: one JetStream stream with work-queue retention, a
//! subject per agent, per capability and one for workers that serve any
//! model agent, and one durable pull consumer per subject shared by every
//! worker serving it, so a free worker takes the next call.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};

use super::NatsError;

/// The stream's name.
pub const STREAM: &str = "AGENTCTL_WORK";
/// Subjects it holds.
pub const SUBJECTS: &str = "agentctl.work.>";
/// How long a message id is remembered (a republished attempt is dropped
/// within it). Outlasts an orchestrator restart.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(30 * 60);
/// Calls nobody took are dropped after this long.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// One subject of the work queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lane {
    /// Calls for one agent (a command agent that exists on some machines).
    Agent(String),
    /// Calls for agents with a capability.
    Capability(String),
    /// Calls of any model agent.
    Any,
    /// Tool calls of one MCP server, served by workers that run it
    /// (`agentctl worker --mcp NAME`).
    Mcp(String),
}

impl Lane {
    /// The NATS subject.
    pub fn subject(&self) -> String {
        match self {
            Lane::Agent(a) => format!("agentctl.work.agent.{}", token(a)),
            Lane::Capability(c) => format!("agentctl.work.cap.{}", token(c)),
            Lane::Any => "agentctl.work.any".into(),
            Lane::Mcp(s) => format!("agentctl.work.mcp.{}", token(s)),
        }
    }

    /// The durable consumer's name (shared by every worker on the lane).
    pub fn consumer(&self) -> String {
        match self {
            Lane::Agent(a) => format!("agent_{}", token(a)),
            Lane::Capability(c) => format!("cap_{}", token(c)),
            Lane::Any => "any".into(),
            Lane::Mcp(s) => format!("mcp_{}", token(s)),
        }
    }

    /// How the lane reads for people (`agent writer`, `capability code`).
    pub fn describe(&self) -> String {
        match self {
            Lane::Agent(a) => format!("agent `{a}`"),
            Lane::Capability(c) => format!("capability `{c}`"),
            Lane::Any => "any model agent".into(),
            Lane::Mcp(s) => format!("MCP server `{s}`"),
        }
    }
}

/// A subject token or consumer name for a free-text id: letters, digits,
/// `-` and `_` stay, anything else (`.`, `*`, `>`, spaces) becomes `_`
/// followed by its code point, so distinct ids stay distinct.
pub fn token(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c);
        } else {
            out.push_str(&format!("_{:x}", u32::from(c)));
        }
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// The work stream, created when missing.
pub async fn ensure_stream(js: &jetstream::Context) -> Result<stream::Stream, NatsError> {
    js.get_or_create_stream(stream::Config {
        name: STREAM.into(),
        subjects: vec![SUBJECTS.into()],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        max_age: MAX_AGE,
        ..Default::default()
    })
    .await
    .map_err(|e| NatsError::new("cannot open the work stream", e))
}

/// Delivery settings of the lanes' consumers.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// A call not acked (or progress-acked) within this is redelivered.
    pub ack_wait: Duration,
    /// Deliveries before a call is given up (every worker holding it died).
    pub max_deliver: i64,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            ack_wait: Duration::from_secs(5),
            max_deliver: 5,
        }
    }
}

/// The lane's durable pull consumer, created when missing.
pub async fn ensure_consumer(
    stream: &stream::Stream,
    lane: &Lane,
    delivery: Delivery,
) -> Result<consumer::Consumer<consumer::pull::Config>, NatsError> {
    let name = lane.consumer();
    stream
        .get_or_create_consumer(
            &name,
            consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: lane.subject(),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: delivery.ack_wait,
                max_deliver: delivery.max_deliver,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| NatsError::new(&format!("cannot open the queue of {}", lane.describe()), e))
}

/// Subject of JetStream's advisory when a call reached `max_deliver`.
pub fn max_deliveries_advisory() -> String {
    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{STREAM}.*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_tokens_without_subject_wildcards_and_stay_distinct() {
        assert_eq!(token("writer-2"), "writer-2");
        assert_eq!(token("a.b"), "a_2eb");
        assert_ne!(token("a.b"), token("a b"));
        assert_eq!(
            Lane::Agent("x*".into()).subject(),
            "agentctl.work.agent.x_2a"
        );
        assert_eq!(Lane::Capability("code".into()).consumer(), "cap_code");
        assert_eq!(Lane::Mcp("fs".into()).subject(), "agentctl.work.mcp.fs");
        assert_eq!(Lane::Mcp("fs".into()).consumer(), "mcp_fs");
        assert!(!token("a>b").contains('>'));
    }
}
