//! Node kinds, one file each, and the table of kinds: the one place that
//! lists them. A kind's file holds its compiled form; the engine runs it
//! in the pattern file of the same name (`engine/patterns/<kind>.rs`).

pub mod agent;
pub mod debate;
pub mod gate;
pub mod loop_node;
pub mod map;
pub mod on;
pub mod parallel;
pub mod plan;
pub mod router;
pub mod sequence;
pub mod vote;

use super::index::NodeIdx;

/// What every compiled kind answers about itself.
pub trait Kind {
    /// Containment children, in order.
    fn children(&self) -> Vec<NodeIdx> {
        Vec::new()
    }

    /// Whether running the node can open a human gate.
    fn may_ask_human(&self) -> bool {
        false
    }
}

impl<K: Kind> Kind for Box<K> {
    fn children(&self) -> Vec<NodeIdx> {
        (**self).children()
    }

    fn may_ask_human(&self) -> bool {
        (**self).may_ask_human()
    }
}

/// Declares [`NodeKind`] from the table: one line per kind, its variant,
/// its compiled form and its name in files.
macro_rules! node_kinds {
    ($($(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal,)+) => {
        /// What a node does, with its kind's data.
        #[derive(Debug, Clone)]
        pub enum NodeKind {
            $($(#[$doc])* $variant($ty),)+
        }

        impl NodeKind {
            /// Kind name as written in files.
            pub fn name(&self) -> &'static str {
                match self {
                    $(NodeKind::$variant(_) => $name,)+
                }
            }

            /// Containment children, in order.
            pub fn children(&self) -> Vec<NodeIdx> {
                match self {
                    $(NodeKind::$variant(k) => k.children(),)+
                }
            }

            /// Whether running the node can open a human gate.
            pub fn may_ask_human(&self) -> bool {
                match self {
                    $(NodeKind::$variant(k) => k.may_ask_human(),)+
                }
            }
        }
    };
}

node_kinds! {
    /// One agent task.
    Agent(agent::AgentNode) = "agent",
    /// Pipeline.
    Sequence(sequence::SequenceNode) = "sequence",
    /// Fan-out / fan-in.
    Parallel(parallel::ParallelNode) = "parallel",
    /// Scatter-gather.
    Map(map::MapNode) = "map",
    /// Planner → executors → reviewer.
    Plan(plan::PlanNode) = "plan",
    /// Conditional edge.
    Router(router::RouterNode) = "router",
    /// State machine.
    Loop(loop_node::LoopNode) = "loop",
    /// Event trigger.
    On(on::OnNode) = "on",
    /// Human review.
    Gate(gate::GateNode) = "gate",
    /// Agents argue in rounds; a judge or a vote decides (boxed: the
    /// largest kinds would otherwise size every node).
    Debate(Box<debate::DebateNode>) = "debate",
    /// Agents cast ballots; a protocol decides.
    Vote(Box<vote::VoteNode>) = "vote",
}
