//! `sequence`: a pipeline, each step's output the next one's input.

use super::Kind;
use super::NodeKindName;
use super::compile_context::CompileContext;
use super::diagram::{Diagram, Shape, vertex_id};
use crate::workflow::index::NodeIdx;
use crate::workflow::span::Spanned;

/// A compiled `sequence` node.
#[derive(Debug, Clone)]
pub struct SequenceNode {
    /// Steps.
    pub steps: Vec<NodeIdx>,
}

impl Kind for SequenceNode {
    fn children(&self) -> Vec<NodeIdx> {
        self.steps.clone()
    }

    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        if let Some(first) = self.steps.first() {
            d.edge(d.me(), vertex_id(*first), None);
        }
        for pair in self.steps.windows(2) {
            d.edge(vertex_id(pair[0]), vertex_id(pair[1]), Some("then".into()));
        }
        Shape::Box
    }
}

// ── spec: what a `sequence` node says in a workflow file ──

/// The fields of a `sequence` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceNodeSpec {
    /// Node ids in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Spanned<String>>>,
}

impl SequenceNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> SequenceNode {
        let steps = cx.node_list(
            i,
            "steps",
            &self.steps,
            NodeKindName::Sequence,
            "steps = [\"first\", \"second\"]",
        );
        SequenceNode { steps }
    }
}
