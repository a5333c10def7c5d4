//! Which nodes' shown states belong to a revision a gate sent back: after
//! a denial the subject's nodes run again, and until a node is reached in
//! the new revision its old state (say COMPLETED) is no longer true.

use super::info::WorkflowInfo;
use crate::event::EventKind;
use crate::run_state::{ChunkVec, GateOpening};

/// Nodes waiting to be reached again in the current revision.
#[derive(Debug, Clone, Default)]
pub struct Revisions {
    stale: Vec<bool>,
}

impl Revisions {
    /// Folds one event (after the run state folded it: the gate's opening
    /// is known).
    pub fn apply(
        &mut self,
        kind: &EventKind,
        info: &WorkflowInfo,
        openings: &ChunkVec<GateOpening, 16>,
    ) {
        match kind {
            EventKind::GateDecided {
                gate,
                approved: false,
                ..
            } => {
                let node = (0..openings.len())
                    .rev()
                    .map(|i| &openings[i])
                    .find(|o| o.gate.as_str() == &**gate)
                    .and_then(|o| info.node(&o.node));
                if let Some(g) = node {
                    self.stale.resize(info.nodes.len(), false);
                    let mut stack = info.nodes[g].children.clone();
                    while let Some(n) = stack.pop() {
                        if !std::mem::replace(&mut self.stale[n], true) {
                            stack.extend(info.nodes[n].children.iter().copied());
                        }
                    }
                }
            }
            EventKind::NodeStateChanged { node, .. } => {
                if let Some(i) = info.node(node)
                    && let Some(s) = self.stale.get_mut(i)
                {
                    *s = false;
                }
            }
            // A run that ended shows its last states as they were.
            EventKind::SessionEnded { .. } => self.stale.clear(),
            _ => {}
        }
    }

    /// True while node `i` shows a state from before the last revision.
    pub fn is_stale(&self, i: usize) -> bool {
        self.stale.get(i).copied().unwrap_or(false)
    }
}
