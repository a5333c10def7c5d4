//! Runs a node: dispatches to its pattern, tracks the node's state, records
//! its output and publishes it when the node has an `emit` topic.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use super::patterns;
use super::run::{Run, Scope, TaskError};
use crate::workflow::model::{NodeIdx, NodeKind};

pub(crate) type NodeResult = Result<Value, TaskError>;

/// Runs `node` on `input`. Boxed because patterns recurse.
pub(crate) fn exec_node(
    run: Arc<Run>,
    node: NodeIdx,
    input: Value,
    scope: Scope,
) -> BoxFuture<'static, NodeResult> {
    Box::pin(async move {
        run.node_enter(node);
        let guard = NodeExitGuard {
            run: &run,
            node,
            done: false,
        };
        let result = match &run.wf.nodes[node].kind {
            NodeKind::Agent { .. } => patterns::agent::run(&run, node, input, &scope).await,
            NodeKind::Sequence { .. } => patterns::sequence::run(&run, node, input, &scope).await,
            NodeKind::Parallel { .. } => patterns::parallel::run(&run, node, input, &scope).await,
            NodeKind::Map { .. } => patterns::map::run(&run, node, input, &scope).await,
            NodeKind::Plan { .. } => patterns::plan::run(&run, node, input, &scope).await,
            NodeKind::Router { .. } => patterns::router::run(&run, node, input, &scope).await,
            NodeKind::Loop { .. } => patterns::state_machine::run(&run, node, input, &scope).await,
            NodeKind::On { .. } => patterns::trigger::run(&run, node, input, &scope).await,
            NodeKind::Gate { .. } => patterns::gate::run(&run, node, input, &scope).await,
        };
        guard.finish(result.as_ref().map(|_| ()).map_err(|e| e.kind));
        if let Ok(v) = &result {
            run.record_output(node, v);
            if let Some(topic) = &run.wf.nodes[node].emit {
                let from = run.wf.nodes[node].id.clone();
                run.publish(topic.clone(), &from, None, "event", v.clone(), None)
                    .await;
            }
        }
        result
    })
}

/// Marks the node cancelled if its future is dropped mid-way.
struct NodeExitGuard<'a> {
    run: &'a Run,
    node: NodeIdx,
    done: bool,
}

impl NodeExitGuard<'_> {
    fn finish(mut self, r: Result<(), crate::event::ErrorKind>) {
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
