//! One workflow node as the stream tells it.

use serde::{Deserialize, Serialize};

use crate::event::{Id, NodeState};

/// Live state of one workflow node. Serialised (in session snapshots)
/// without the counts derived from its tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRun {
    /// Node id.
    pub id: Id,
    /// State.
    pub state: NodeState,
    /// `[done, total]` for fan-out nodes.
    pub progress: Option<[u32; 2]>,
    /// Tasks of this node in progress now.
    #[serde(skip)]
    pub active: u32,
    /// Last agent assigned a task of this node.
    pub last_agent: Option<Id>,
    /// Tasks created for this node.
    #[serde(skip)]
    pub tasks: u32,
    /// Tasks of this node whose reply is streaming now.
    #[serde(skip)]
    pub typing: u32,
}

impl NodeRun {
    pub(super) fn new(id: Id) -> NodeRun {
        NodeRun {
            id,
            state: NodeState::Pending,
            progress: None,
            active: 0,
            last_agent: None,
            tasks: 0,
            typing: 0,
        }
    }
}
