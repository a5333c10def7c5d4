//! Runs a node: dispatches to its pattern, tracks the node's state, records
//! its output and publishes it when the node has an `emit` topic.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::run::{PartialOutputs, Run, Scope, TaskError};
use crate::event::Id;
use crate::event::{ErrorKind, EventKind};
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::{NodeKind, with_node_kinds};

pub(crate) type NodeResult = Result<Value, TaskError>;

/// Runs `node` on `input`. Boxed because patterns recurse.
pub(crate) fn exec_node(
    run: Arc<Run>,
    node: NodeIdx,
    input: Value,
    scope: Scope,
) -> BoxFuture<'static, NodeResult> {
    Box::pin(async move {
        run.pace().await;
        run.check_limit()?;
        run.node_enter(node);
        let guard = NodeExitGuard::new(&run, node);
        let handler = run.wf.nodes[node].on_error;
        let mut scope = scope;
        // A node with a handler collects what completes inside it; the
        // enclosing collector comes back once it ends.
        let partial = handler.map(|_| {
            let mine = Arc::new(PartialOutputs::default());
            (scope.partial.replace(mine.clone()), mine)
        });
        // Each pattern's future is boxed on its own: a not-yet-started node
        // then costs a pointer, not the size of the largest pattern (a map of
        // 5000 items creates 5000 of these before polling them).
        // One arm per kind, from the table of kinds.
        macro_rules! dispatch {
            ($($(#[$doc:meta])* $variant:ident: $module:ident::{$n:ident, $spec:ident} $($boxed:ident)? = $name:literal,)+) => {
                match &run.wf.nodes[node].kind {
                    $(NodeKind::$variant(k) => {
                        Box::pin(super::patterns::$module::run(&run, node, k, input, &scope)).await
                    })+
                }
            };
        }
        let mut result = with_node_kinds!(dispatch);
        if let Some((outer, mine)) = partial {
            scope.partial = outer;
            if let (Err(e), Some(h)) = (&result, handler)
                && e.kind != ErrorKind::Cancelled
            {
                result = handle_error(&run, node, h, e.clone(), &mine, &scope).await;
            }
        }
        guard.finish(result.as_ref().map(|_| ()).map_err(|e| e.kind));
        if let Ok(v) = &result {
            run.record_output(node, v);
            if let Some(p) = &scope.partial {
                p.push(run.wf.nodes[node].id.clone(), v.clone());
            }
            if let Some(topic) = &run.wf.nodes[node].emit {
                let from = run.wf.nodes[node].id.clone();
                // At the node's priority, so urgent outputs overtake.
                run.publish_at(
                    Id::from(topic.as_str()),
                    from,
                    None,
                    "event",
                    v.clone(),
                    None,
                    run.wf.nodes[node].priority,
                )
                .await;
            }
        }
        result
    })
}

/// Node `node` failed with `error`: its handler runs with
/// `{error, kind, node, partial}` and its output (or failure) is the node's.
async fn handle_error(
    run: &Arc<Run>,
    node: NodeIdx,
    handler: NodeIdx,
    error: TaskError,
    partial: &PartialOutputs,
    scope: &Scope,
) -> NodeResult {
    let (count, partial) = partial.take();
    let id = run.wf.nodes[node].id.clone();
    let handler_id = run.wf.nodes[handler].id.clone();
    run.emit(EventKind::ErrorHandled {
        node: id.clone(),
        handler: handler_id.clone(),
        error: error.message.clone(),
        partial: u32::try_from(count).unwrap_or(u32::MAX),
    });
    let kind = serde_json::to_value(error.kind).unwrap_or_default();
    let input = json!({
        "error": error.message,
        "kind": kind,
        "node": &*id,
        "partial": partial,
    });
    exec_node(run.clone(), handler, input, scope.clone())
        .await
        .map_err(|he| {
            TaskError::new(
                he.kind,
                format!(
                    "{id} failed ({}), and its handler {handler_id} failed too: {}",
                    error.message, he.message
                ),
            )
        })
}

/// Marks the node cancelled if its future is dropped mid-way.
pub(crate) struct NodeExitGuard<'a> {
    run: &'a Run,
    node: NodeIdx,
    done: bool,
}

impl<'a> NodeExitGuard<'a> {
    /// Guards a node just entered (`Run::node_enter`).
    pub(crate) fn new(run: &'a Run, node: NodeIdx) -> Self {
        NodeExitGuard {
            run,
            node,
            done: false,
        }
    }

    /// Records how the node ended.
    pub(crate) fn finish(mut self, r: Result<(), crate::event::ErrorKind>) {
        self.done = true;
        self.run.node_exit(self.node, r);
    }
}

impl Drop for NodeExitGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.run
                .node_exit(self.node, Err(crate::event::ErrorKind::Cancelled));
        }
    }
}
