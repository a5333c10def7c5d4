//! `sequence`: a pipeline; each step receives the previous step's output.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::exec::{NodeResult, exec_node};
use crate::engine::run::{Run, Scope};
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::{NodeKind, sequence::SequenceNode};

pub(crate) async fn run(run: &Arc<Run>, node: NodeIdx, input: Value, scope: &Scope) -> NodeResult {
    let NodeKind::Sequence(SequenceNode { steps }) = &run.wf.nodes[node].kind else {
        unreachable!("dispatched by kind")
    };
    let mut value = input;
    for &step in steps {
        value = exec_node(run.clone(), step, value, scope.clone()).await?;
    }
    Ok(value)
}
