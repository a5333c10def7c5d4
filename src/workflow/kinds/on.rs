//! `on`: runs its body per bus event or timer tick.

use std::time::Duration;

use super::Kind;
use crate::workflow::index::NodeIdx;

/// A compiled `on` node.
#[derive(Debug, Clone)]
pub struct OnNode {
    /// Topic pattern, if any.
    pub topic: Option<String>,
    /// Timer period, if any.
    pub every: Option<Duration>,
    /// Node run per firing.
    pub body: NodeIdx,
    /// Firings before the node completes.
    pub max_events: u32,
    /// Completes early when nothing fires for this long.
    pub idle_timeout: Duration,
}

impl Kind for OnNode {
    fn children(&self) -> Vec<NodeIdx> {
        vec![self.body]
    }
}
