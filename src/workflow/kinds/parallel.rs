//! `parallel`: fan-out / fan-in.

use std::time::Duration;

use super::Kind;
use crate::workflow::index::NodeIdx;

/// A compiled `parallel` node.
#[derive(Debug, Clone)]
pub struct ParallelNode {
    /// Branches.
    pub branches: Vec<NodeIdx>,
    /// Join mode.
    pub join: Join,
    /// Per-branch time limit.
    pub branch_timeout: Option<Duration>,
}

impl Kind for ParallelNode {
    fn children(&self) -> Vec<NodeIdx> {
        self.branches.clone()
    }
}

/// How a `parallel` node joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Every branch must succeed.
    All,
    /// First success wins.
    Any,
    /// First k successes.
    KOfN(u32),
}
