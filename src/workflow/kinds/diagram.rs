//! What a kind draws in a workflow diagram (`agentctl graph`): the narrow
//! context each kind's `diagram` gets. The DOT and Mermaid writers in
//! `workflow/graph_export.rs` turn the result into text.

use std::fmt::Display;

use crate::workflow::index::{AgentIdx, NodeIdx};

/// Vertex shapes, chosen per kind so the diagram reads at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An agent task.
    Rounded,
    /// A pipeline.
    Box,
    /// A fan-out.
    Parallelogram,
    /// A map over items.
    Subroutine,
    /// A plan or a vote.
    Trapezoid,
    /// A branch.
    Diamond,
    /// A state machine or a debate.
    Stadium,
    /// An event trigger.
    Asymmetric,
    /// A human gate.
    Hexagon,
    /// A helper point (a join, an end).
    Point,
}

/// A vertex: a node, or a helper point a kind adds.
#[derive(Debug, Clone)]
pub struct Vertex {
    /// Vertex id in the diagram source.
    pub id: String,
    /// Text, lines separated by `\n`.
    pub label: String,
    /// Shape.
    pub shape: Shape,
}

/// An edge between two vertices (by vertex id), with an optional label.
#[derive(Debug, Clone)]
pub struct Edge {
    /// From vertex.
    pub from: String,
    /// To vertex.
    pub to: String,
    /// Label.
    pub label: Option<String>,
    /// Drawn dashed (a review, a default branch).
    pub dashed: bool,
}

/// The vertex id of node `i`.
pub fn vertex_id(i: NodeIdx) -> String {
    format!("n{i}")
}

/// One node's part of a diagram: its label lines, its edges and helpers.
pub struct Diagram<'a> {
    me: NodeIdx,
    node_id: &'a str,
    label: String,
    agent_names: &'a [&'a str],
    node_names: &'a [&'a str],
    edges: &'a mut Vec<Edge>,
    helpers: &'a mut Vec<Vertex>,
}

impl<'a> Diagram<'a> {
    /// Starts node `me`'s part, labelled `label`.
    pub fn new(
        me: NodeIdx,
        label: String,
        agent_names: &'a [&'a str],
        node_names: &'a [&'a str],
        edges: &'a mut Vec<Edge>,
        helpers: &'a mut Vec<Vertex>,
    ) -> Self {
        Diagram {
            me,
            node_id: node_names.get(me).copied().unwrap_or("?"),
            label,
            agent_names,
            node_names,
            edges,
            helpers,
        }
    }

    /// The label drawn so far.
    pub fn into_label(self) -> String {
        self.label
    }

    /// Adds a line to the node's label.
    pub fn line(&mut self, text: impl Display) {
        self.label.push('\n');
        self.label.push_str(&text.to_string());
    }

    /// An agent's id.
    pub fn agent(&self, a: AgentIdx) -> &'a str {
        self.agent_names.get(a).copied().unwrap_or("?")
    }

    /// A node's id.
    pub fn node(&self, n: NodeIdx) -> &'a str {
        self.node_names.get(n).copied().unwrap_or("?")
    }

    /// This node's id in the workflow.
    pub fn node_id(&self) -> &'a str {
        self.node_id
    }

    /// This node's vertex.
    pub fn me(&self) -> String {
        vertex_id(self.me)
    }

    /// A solid edge between two vertices.
    pub fn edge(&mut self, from: String, to: String, label: Option<String>) {
        self.edges.push(Edge {
            from,
            to,
            label,
            dashed: false,
        });
    }

    /// A dashed edge (a review, a default branch).
    pub fn dashed_edge(&mut self, from: String, to: String, label: Option<String>) {
        self.edges.push(Edge {
            from,
            to,
            label,
            dashed: true,
        });
    }

    /// Adds a helper point named after this node and `suffix`; returns its id.
    pub fn point(&mut self, suffix: &str, label: String) -> String {
        let id = format!("{}_{suffix}", self.me());
        self.helpers.push(Vertex {
            id: id.clone(),
            label,
            shape: Shape::Point,
        });
        id
    }
}
