//! `sequence`: a pipeline, each step's output the next one's input.

use super::Kind;
use crate::workflow::index::NodeIdx;

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
}
