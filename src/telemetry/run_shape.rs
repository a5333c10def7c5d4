//! What the span mapping needs to know about a workflow beyond its events:
//! which node contains which (events name a node, not its parent), and the
//! request settings of each agent (temperature, max tokens, system prompt).

use std::collections::HashMap;

use crate::event::Id;
use crate::workflow::model::Workflow;

/// The settings of one agent that a model-call span reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgentShape {
    pub(crate) max_tokens: Option<u32>,
    pub(crate) temperature: Option<f32>,
    pub(crate) system: Option<String>,
}

/// Node containment and agent settings of one workflow.
#[derive(Debug, Clone, Default)]
pub struct RunShape {
    node_parent: HashMap<Id, Id>,
    agents: HashMap<Id, AgentShape>,
}

impl RunShape {
    /// The shape of `wf`.
    pub fn of(wf: &Workflow) -> Self {
        let mut node_parent = HashMap::new();
        for (i, node) in wf.nodes.iter().enumerate() {
            for child in wf.children(i) {
                if let Some(c) = wf.nodes.get(child) {
                    node_parent.insert(c.id.clone(), node.id.clone());
                }
            }
        }
        let agents = wf
            .agents
            .iter()
            .map(|a| {
                let shape = AgentShape {
                    max_tokens: a.max_tokens,
                    temperature: a.temperature,
                    system: a.system.clone(),
                };
                (a.id.clone(), shape)
            })
            .collect();
        RunShape {
            node_parent,
            agents,
        }
    }

    /// The node that contains `node`, if any.
    pub(crate) fn parent_of(&self, node: &str) -> Option<&Id> {
        self.node_parent.get(node)
    }

    /// An agent's settings (defaults for an agent the workflow lacks).
    pub(crate) fn agent(&self, id: &str) -> Option<&AgentShape> {
        self.agents.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_nests_its_nodes() {
        let wf = crate::workflow::load::load_source("builtin:demo")
            .unwrap()
            .workflow;
        let shape = RunShape::of(&wf);
        assert_eq!(shape.parent_of("build").map(|p| &**p), Some("ship"));
        assert_eq!(shape.parent_of("design").map(|p| &**p), Some("build"));
        assert_eq!(shape.parent_of("check").map(|p| &**p), Some("checks"));
        assert_eq!(shape.parent_of("ship"), None);
        assert!(shape.agent("architect").is_some());
    }
}
