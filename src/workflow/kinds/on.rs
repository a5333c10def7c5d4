//! `on`: runs its body per bus event or timer tick.

use std::time::Duration;

use super::Kind;
use super::diagram::{Diagram, Shape, vertex_id};
use crate::workflow::index::NodeIdx;
use crate::workflow::span::Spanned;

/// A compiled `on` node.
#[derive(Debug, Clone)]
pub struct OnNode {
    /// Topic pattern, if any.
    pub topic: Option<String>,
    /// Timer period, if any.
    pub every: Option<Duration>,
    /// Node run per firing.
    pub body: NodeIdx,
    /// Firings before the node completes.
    pub max_events: u32,
    /// Completes early when nothing fires for this long.
    pub idle_timeout: Duration,
}

impl Kind for OnNode {
    fn children(&self) -> Vec<NodeIdx> {
        vec![self.body]
    }

    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        let mut triggers = Vec::new();
        if let Some(t) = &self.topic {
            triggers.push(format!("on {t}"));
        }
        if let Some(e) = self.every {
            triggers.push(format!("every {} ms", e.as_millis()));
        }
        d.line(format_args!("≤{} events", self.max_events));
        d.edge(d.me(), vertex_id(self.body), Some(triggers.join(" / ")));
        Shape::Asymmetric
    }
}

// ── spec: what a `on` node says in a workflow file ──

/// The fields of a `on` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnNodeSpec {
    /// Node run per item or per event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Spanned<String>>,
    /// Bus topic to listen to (NATS-style wildcards `*` and `>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Spanned<String>>,
    /// Fire on a timer every N ms instead of (or as well as) a topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_ms: Option<Spanned<u64>>,
    /// Stop after this many firings (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_events: Option<Spanned<i64>>,
    /// Stop when nothing fires for this long (default 30000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<Spanned<u64>>,
}
