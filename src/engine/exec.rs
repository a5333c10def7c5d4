//! Runs a node: dispatches to its pattern, tracks the node's state, records
//! its output and publishes it when the node has an `emit` topic.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use super::patterns::{
    agent, debate, gate, loop_node, map, on, parallel, plan, router, sequence, vote,
};
use super::run::{Run, Scope, TaskError};
use crate::event::Id;
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::NodeKind;

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
        // Each pattern's future is boxed on its own: a not-yet-started node
        // then costs a pointer, not the size of the largest pattern (a map of
        // 5000 items creates 5000 of these before polling them).
        let result = match &run.wf.nodes[node].kind {
            NodeKind::Agent(k) => Box::pin(agent::run(&run, node, k, input, &scope)).await,
            NodeKind::Sequence(k) => Box::pin(sequence::run(&run, node, k, input, &scope)).await,
            NodeKind::Parallel(k) => Box::pin(parallel::run(&run, node, k, input, &scope)).await,
            NodeKind::Map(k) => Box::pin(map::run(&run, node, k, input, &scope)).await,
            NodeKind::Plan(k) => Box::pin(plan::run(&run, node, k, input, &scope)).await,
            NodeKind::Router(k) => Box::pin(router::run(&run, node, k, input, &scope)).await,
            NodeKind::Loop(k) => Box::pin(loop_node::run(&run, node, k, input, &scope)).await,
            NodeKind::On(k) => Box::pin(on::run(&run, node, k, input, &scope)).await,
            NodeKind::Gate(k) => Box::pin(gate::run(&run, node, k, input, &scope)).await,
            NodeKind::Debate(k) => Box::pin(debate::run(&run, node, k, input, &scope)).await,
            NodeKind::Vote(k) => Box::pin(vote::run(&run, node, k, input, &scope)).await,
        };
        guard.finish(result.as_ref().map(|_| ()).map_err(|e| e.kind));
        if let Ok(v) = &result {
            run.record_output(node, v);
            if let Some(topic) = &run.wf.nodes[node].emit {
                let from = run.wf.nodes[node].id.clone();
                run.publish(
                    Id::from(topic.as_str()),
                    from,
                    None,
                    "event",
                    v.clone(),
                    None,
                )
                .await;
            }
        }
        result
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
