//! `sequence`: a pipeline; each step receives the previous step's output.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::exec::{NodeResult, exec_node};
use crate::engine::run::{Run, Scope};
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::sequence::SequenceNode;

pub(crate) async fn run(
    run: &Arc<Run>,
    _node: NodeIdx,
    kind: &SequenceNode,
    input: Value,
    scope: &Scope,
) -> NodeResult {
    let SequenceNode { steps } = kind;
    let mut value = input;
    for &step in steps {
        value = exec_node(run.clone(), step, value, scope.clone()).await?;
    }
    Ok(value)
}
