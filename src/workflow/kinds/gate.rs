//! `gate`: a human reviews, approves or sends back.

use super::Kind;
use crate::workflow::index::NodeIdx;

/// A compiled `gate` node.
#[derive(Debug, Clone)]
pub struct GateNode {
    /// Node under review.
    pub subject: Option<NodeIdx>,
    /// Revision limit.
    pub max_revisions: u32,
}

impl Kind for GateNode {
    fn children(&self) -> Vec<NodeIdx> {
        self.subject.into_iter().collect()
    }

    fn may_ask_human(&self) -> bool {
        true
    }
}
