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
    /// Last agent given a task of this node (assigned, handed off or
    /// rerouted to), or whose failure of it is held for the user.
    pub last_agent: Option<Id>,
    /// Tasks created for this node.
    #[serde(skip)]
    pub tasks: u32,
    /// Tasks of this node whose reply is streaming now.
    #[serde(skip)]
    pub typing: u32,
    /// Failed tasks of this node held for the user (retry, reroute or
    /// cancel): the node waits on a human, it is not running.
    #[serde(skip)]
    pub held: u32,
    /// Tasks of this node created as another task's subtasks (a plan's).
    #[serde(skip)]
    pub subtasks: u32,
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
            held: 0,
            subtasks: 0,
        }
    }
}
