//! Node kinds, one file each, and the table of kinds: the one place that
//! lists them. A kind's file holds its compiled form; the engine runs it
//! in the pattern file of the same name (`engine/patterns/<kind>.rs`).

pub mod ballot_checks;
pub mod compile_context;
pub mod diagram;
pub mod plan_dag;

use super::index::NodeIdx;
use super::source_tree::SourceValue;
use super::source_tree::de::{self, struct_fields};

/// The table of node kinds: one line per kind, the one place that lists
/// them. A line names the kind's variant, its module (`kinds/<module>.rs`
/// holds the compiled form and the spec, `engine/patterns/<module>.rs` the
/// runner), the two types, `boxed` for the large kinds, and the name files
/// write. It is a callback macro so that layers above (the engine's
/// dispatch and its pattern modules) are generated from the same lines.
macro_rules! with_node_kinds {
    ($callback:ident) => {
        $callback! {
            /// One task for one agent (or any agent with a capability).
            Agent: agent::{AgentNode, AgentNodeSpec} = "agent",
            /// Pipeline.
            Sequence: sequence::{SequenceNode, SequenceNodeSpec} = "sequence",
            /// Fan-out / fan-in.
            Parallel: parallel::{ParallelNode, ParallelNodeSpec} = "parallel",
            /// Scatter-gather over a list.
            Map: map::{MapNode, MapNodeSpec} = "map",
            /// Planner → executors → reviewer.
            Plan: plan::{PlanNode, PlanNodeSpec} = "plan",
            /// Conditional edge.
            Router: router::{RouterNode, RouterNodeSpec} = "router",
            /// State machine with guarded transitions.
            Loop: loop_node::{LoopNode, LoopNodeSpec} = "loop",
            /// Event-driven trigger on a bus topic or a timer.
            On: on::{OnNode, OnNodeSpec} = "on",
            /// Human review.
            Gate: gate::{GateNode, GateNodeSpec} = "gate",
            /// Agents argue in rounds; a judge or a vote decides (boxed: the
            /// largest kinds would otherwise size every node).
            Debate: debate::{DebateNode, DebateNodeSpec} boxed = "debate",
            /// Agents cast ballots; a protocol decides.
            Vote: vote::{VoteNode, VoteNodeSpec} boxed = "vote",
            /// Peers work a shared pool of items with leases; no coordinator.
            Swarm: swarm::{SwarmNode, SwarmNodeSpec} boxed = "swarm",
            /// Participants talk in turn or when addressed, until a rule ends it.
            Chat: chat::{ChatNode, ChatNodeSpec} boxed = "chat",
        }
    };
}
pub(crate) use with_node_kinds;

/// A kind's type as stored: boxed for the kinds marked `boxed`.
macro_rules! stored {
    (boxed $t:ty) => { Box<$t> };
    ($t:ty) => { $t };
}

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

    /// Draws the node in a workflow diagram: its label lines and edges.
    fn diagram(&self, d: &mut diagram::Diagram<'_>) -> diagram::Shape;
}

impl<K: Kind> Kind for Box<K> {
    fn children(&self) -> Vec<NodeIdx> {
        (**self).children()
    }

    fn may_ask_human(&self) -> bool {
        (**self).may_ask_human()
    }

    fn diagram(&self, d: &mut diagram::Diagram<'_>) -> diagram::Shape {
        (**self).diagram(d)
    }
}

/// Declares the kind modules, [`NodeKind`], [`NodeKindName`] and
/// [`KindSpec`] from the table.
macro_rules! declare_kinds {
    ($($(#[$doc:meta])* $variant:ident: $module:ident::{$node:ident, $spec:ident} $($boxed:ident)? = $name:literal,)+) => {
        $(pub mod $module;)+

        /// What a node does, with its kind's data.
        #[derive(Debug, Clone)]
        pub enum NodeKind {
            $($(#[$doc])* $variant(stored!($($boxed)? $module::$node)),)+
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

            /// Draws the node in a workflow diagram.
            pub fn diagram(&self, d: &mut diagram::Diagram<'_>) -> diagram::Shape {
                match self {
                    $(NodeKind::$variant(k) => k.diagram(d),)+
                }
            }
        }

        /// The kinds of node.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum NodeKindName {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)+
        }

        impl NodeKindName {
            /// Name as written in files.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(NodeKindName::$variant => $name,)+
                }
            }
        }

        /// What a node's file table says besides its header, per kind.
        #[derive(Debug, Clone, serde::Serialize)]
        #[serde(untagged)]
        pub enum KindSpec {
            $(#[doc = concat!("A `", $name, "` node's fields.")] $variant(stored!($($boxed)? $module::$spec)),)+
        }

        impl KindSpec {
            /// Every kind's name in files, in table order.
            pub const NAMES: &'static [&'static str] = &[$($name,)+];

            /// An empty spec of the kind named `name`.
            pub fn empty(name: &str) -> Option<KindSpec> {
                match name {
                    $($name => Some(KindSpec::$variant(Default::default())),)+
                    _ => None,
                }
            }

            /// The fields a kind's table may have (besides the header).
            pub fn fields_of(name: &str) -> &'static [&'static str] {
                match name {
                    $($name => struct_fields::<$module::$spec>(),)+
                    _ => &[],
                }
            }

            /// Checks the spec of node `i` and compiles it, in its kind's file.
            pub(crate) fn compile(&self, cx: &mut compile_context::CompileContext<'_>, i: usize) -> NodeKind {
                match self {
                    $(KindSpec::$variant(f) => NodeKind::$variant(f.compile(cx, i).into()),)+
                }
            }

            /// Reads the fields of kind `name` from a node's table.
            pub fn from_table(
                name: &str,
                table: &SourceValue,
            ) -> Result<KindSpec, de::Error> {
                match name {
                    $($name => de::from_table_fields::<$module::$spec>(table, struct_fields::<$module::$spec>())
                        .map(|s| KindSpec::$variant(s.into())),)+
                    _ => Err(serde::de::Error::custom(format!("unknown node kind `{name}`"))),
                }
            }
        }
    };
}

with_node_kinds!(declare_kinds);

/// The kinds (by name) whose tables have field `key`.
pub fn kinds_with_field(key: &str) -> Vec<&'static str> {
    KindSpec::NAMES
        .iter()
        .copied()
        .filter(|k| KindSpec::fields_of(k).contains(&key))
        .collect()
}

/// The call policy fields of the kinds whose own tasks call agents
/// (`agent`, `plan`, `router`).
#[derive(Debug, Clone, Copy)]
pub struct CallPolicySpec<'a> {
    /// Retry policy.
    pub retry: &'a Option<crate::workflow::spec::RetrySpec>,
    /// Time limit of one call, ms.
    pub timeout_ms: &'a Option<crate::workflow::span::Spanned<u64>>,
    /// Time limit of each task, ms.
    pub task_timeout_ms: &'a Option<crate::workflow::span::Spanned<u64>>,
    /// The node's limits.
    pub budget: &'a Option<crate::workflow::spec::BudgetSpec>,
    /// Cheaper agent under pressure.
    pub degrade: &'a Option<crate::workflow::spec::DegradeSpec>,
}

impl KindSpec {
    /// The call policy fields, for the kinds that have them.
    pub fn call_policy(&self) -> Option<CallPolicySpec<'_>> {
        macro_rules! of {
            ($f:expr) => {
                Some(CallPolicySpec {
                    retry: &$f.retry,
                    timeout_ms: &$f.timeout_ms,
                    task_timeout_ms: &$f.task_timeout_ms,
                    budget: &$f.budget,
                    degrade: &$f.degrade,
                })
            };
        }
        match self {
            KindSpec::Agent(f) => of!(f),
            KindSpec::Plan(f) => of!(f),
            KindSpec::Router(f) => of!(f),
            _ => None,
        }
    }
}
