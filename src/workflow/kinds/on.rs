//! `on`: runs its body per bus event or timer tick.

use std::time::Duration;

use super::Kind;
use super::NodeKindName;
use super::compile_context::{CompileContext, Owner, check_topic};
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
    /// Waits until the run is stopped (Ctrl-C, `q`, a limit) instead of
    /// ending when nothing fires: `idle_timeout` does not apply, and
    /// `max_events` only if given.
    pub forever: bool,
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
        if self.forever {
            d.line(format_args!("until stopped"));
        } else {
            d.line(format_args!("≤{} events", self.max_events));
        }
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
    /// Wait for events until the run is stopped (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forever: Option<bool>,
}

impl OnNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> OnNode {
        let n = self;
        if n.topic.is_none() && n.every_ms.is_none() {
            cx.require(
                i,
                NodeKindName::On,
                "`topic` or `every_ms`",
                "add topic = \"reviews.>\" or every_ms = 1000",
            );
        }
        if let Some(t) = &n.topic
            && let Err(why) = check_topic(&t.value)
        {
            let at = cx.str_span(Owner::Node(i), "topic", t);
            cx.error(
                at,
                format!("invalid topic pattern `{}`: {why}", t.value),
                "topics are dot-separated tokens; `*` matches one token, a final `>` the rest",
            );
        }
        let body = match &n.body {
            Some(b) => cx.node_ref(i, "body", b, true),
            None => {
                cx.require(i, NodeKindName::On, "`body`", "add body = \"<node run per event>\"");
                None
            }
        };
        let every = cx.millis(i, "every_ms", &n.every_ms);
        let idle_timeout = cx
            .millis(i, "idle_timeout_ms", &n.idle_timeout_ms)
            .unwrap_or(Duration::from_millis(30_000));
        let forever = n.forever.unwrap_or(false);
        if forever && let Some(t) = &n.idle_timeout_ms {
            let at = cx.value_span(Owner::Node(i), "idle_timeout_ms", &t.span, &t.value.to_string());
            cx.error(
                at,
                "`idle_timeout_ms` does not apply with `forever = true`: the node waits until the run is stopped",
                "remove idle_timeout_ms, or set forever = false",
            );
        }
        // Forever: every event until the run is stopped, unless bounded.
        let default_events = if forever { u32::MAX } else { 1 };
        let max_events = cx.int(i, "max_events", &n.max_events, 1, default_events);
        OnNode {
            forever,
            topic: n.topic.as_ref().map(|t| t.value.clone()),
            every,
            body: body.unwrap_or(0),
            max_events,
            idle_timeout,
        }
    }
}
