//! `map`: scatter-gather, one body run per item.

use std::ops::Range;

use serde_json::Value;

use super::Kind;
use super::NodeKindName;
use super::compile_context::{CompileContext, Owner};
use super::diagram::{Diagram, Shape, vertex_id};
use crate::workflow::expr::Expr;
use crate::workflow::index::NodeIdx;
use super::parallel::settle_floor;
use crate::workflow::span::Spanned;
use crate::workflow::spec::JoinName;

/// A compiled `map` node.
#[derive(Debug, Clone)]
pub struct MapNode {
    /// Items.
    pub source: MapSource,
    /// Node run per item.
    pub body: NodeIdx,
    /// Items in flight (0 = no limit).
    pub concurrency: u32,
    /// Batch size (0 = one batch).
    pub batch_size: u32,
    /// Node receiving the gathered list.
    pub aggregate: Option<NodeIdx>,
    /// `join = "all_settled"`: every item runs to its end and keeps its
    /// result or error; fewer successes than this fail the node.
    pub settle: Option<u32>,
}

impl Kind for MapNode {
    fn children(&self) -> Vec<NodeIdx> {
        let mut v = vec![self.body];
        v.extend(self.aggregate);
        v
    }

    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        match &self.source {
            MapSource::Over(e) => d.line(format_args!("over: {}", e.source())),
            MapSource::Items(items) => d.line(format_args!("{} items", items.len())),
            MapSource::Count(c) => d.line(format_args!("count: {c}")),
        }
        if self.concurrency > 0 {
            d.line(format_args!("concurrency: {}", self.concurrency));
        }
        if self.batch_size > 0 {
            d.line(format_args!("batch: {}", self.batch_size));
        }
        match self.settle {
            Some(0) => d.line("join: all settled"),
            Some(k) => d.line(format_args!("join: all settled, ≥{k} ok")),
            None => {}
        }
        d.edge(d.me(), vertex_id(self.body), Some("each item".into()));
        if let Some(a) = self.aggregate {
            d.edge(vertex_id(self.body), vertex_id(a), Some("gathered".into()));
        }
        Shape::Subroutine
    }
}

/// Where a `map` gets its items.
#[derive(Debug, Clone)]
pub enum MapSource {
    /// Inline list.
    Items(Vec<Value>),
    /// 0..n.
    Count(u32),
    /// Expression over `input` / `outputs`.
    Over(Expr),
}

// ── spec: what a `map` node says in a workflow file ──

/// The fields of a `map` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapNodeSpec {
    /// Expression giving the list (e.g. `input.items`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<Spanned<String>>,
    /// An inline list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Value>>,
    /// Run the body this many times (items 0..count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Spanned<i64>>,
    /// Node run per item or per event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Spanned<String>>,
    /// Most items in flight (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Spanned<i64>>,
    /// Items are started in batches of this size; a batch finishes before
    /// the next starts (default: one batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<Spanned<i64>>,
    /// Node that receives the gathered list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Spanned<String>>,
    /// `all` (default: the first failure fails the map) or `all_settled`
    /// (every item runs to its end; each keeps its result or error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<Spanned<JoinName>>,
    /// With join = "all_settled": fewer successful items fail the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_success: Option<Spanned<i64>>,
}

impl MapNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> MapNode {
        let n = self;
        let o = Owner::Node(i);
        let present: Vec<&str> = [
            n.over.as_ref().map(|_| "over"),
            n.items.as_ref().map(|_| "items"),
            n.count.as_ref().map(|_| "count"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if present.is_empty() {
            cx.require(
                i,
                NodeKindName::Map,
                "`over`, `items` or `count`",
                "add over = \"input.items\" (an expression giving a list)",
            );
        } else if present.len() > 1 {
            // Point at the later of the conflicting fields in the file.
            let spans: Vec<Range<usize>> = present
                .iter()
                .map(|k| cx.field_span(o, k, None))
                .collect();
            let at = spans
                .iter()
                .max_by_key(|s| s.start)
                .cloned()
                .unwrap_or_default();
            let list: Vec<String> = present.iter().map(|k| format!("`{k}`")).collect();
            cx.error(
                at,
                format!(
                    "a `map` takes exactly one of `over`, `items` or `count`, got {}",
                    list.join(" and ")
                ),
                "keep one source of items",
            );
        }
        let source = if let Some(over) = &n.over {
            cx.expr(i, "over", over).map(MapSource::Over)
        } else if let Some(items) = &n.items {
            Some(MapSource::Items(items.clone()))
        } else {
            n.count
                .as_ref()
                .map(|_| MapSource::Count(cx.int(i, "count", &n.count, 0, 0)))
        };
        // `count` is checked even when it conflicts, so a bad value is reported too.
        if n.over.is_some() || n.items.is_some() {
            cx.int(i, "count", &n.count, 0, 0);
        }
        let body = match &n.body {
            Some(b) => cx.node_ref(i, "body", b, true),
            None => {
                cx.require(
                    i,
                    NodeKindName::Map,
                    "`body`",
                    "add body = \"<node run for each item>\"",
                );
                None
            }
        };
        let concurrency = cx.int(i, "concurrency", &n.concurrency, 0, 0);
        let batch_size = cx.int(i, "batch_size", &n.batch_size, 0, 0);
        let aggregate = n
            .aggregate
            .as_ref()
            .and_then(|a| cx.node_ref(i, "aggregate", a, true));
        let known = match &source {
            Some(MapSource::Items(items)) => items.len(),
            Some(MapSource::Count(c)) => *c as usize,
            _ => 0,
        };
        let settle = match n.join.as_ref().map(|j| (j.value, j)) {
            Some((JoinName::AllSettled, _)) => Some(settle_floor(cx, i, &n.min_success, known)),
            Some((JoinName::Any | JoinName::KOfN, j)) => {
                let at = cx.value_span(o, "join", &j.span, &format!("\"{}\"", j.value.as_str()));
                cx.error(
                    at,
                    format!("a `map` cannot join `{}`", j.value.as_str()),
                    "a map joins \"all\" (the default: one failure fails it) or \"all_settled\"",
                );
                None
            }
            Some((JoinName::All, _)) | None => None,
        };
        if let (Some(m), None) = (&n.min_success, settle) {
            let at = cx.field_span(o, "min_success", m.span.clone());
            cx.error(
                at,
                "`min_success` only applies to join = \"all_settled\"",
                "set join = \"all_settled\", or remove `min_success`",
            );
        }
        MapNode {
            settle,
            source: source.unwrap_or(MapSource::Count(0)),
            body: body.unwrap_or(0),
            concurrency,
            batch_size,
            aggregate,
        }
    }
}
