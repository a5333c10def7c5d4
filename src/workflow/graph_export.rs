//! Diagrams of a workflow: Graphviz DOT and Mermaid flowcharts
//! (`agentctl graph WORKFLOW --format dot|mermaid`).
//!
//! One vertex per node, labelled `id (kind)`; edges show how control flows:
//! a `sequence` as a chain of its steps, `parallel` fanning out to its
//! branches and back into a join point, `map` to its body per item, router
//! edges labelled with their condition, loop transitions with their guard.

use std::fmt::Write as _;

use super::kinds::diagram::{Diagram, Edge, Shape, Vertex, vertex_id as vid};
use super::model::Workflow;

/// The vertices and edges both formats draw: each node's kind draws its
/// own part (`Kind::diagram`); helper points (joins, ends) come after the
/// nodes, in the order they were made.
fn graph(w: &Workflow) -> (Vec<Vertex>, Vec<Edge>) {
    let agent_names: Vec<&str> = w.agents.iter().map(|a| &*a.id).collect();
    let node_names: Vec<&str> = w.nodes.iter().map(|n| &*n.id).collect();
    let mut vs = Vec::with_capacity(w.nodes.len());
    let mut es = Vec::new();
    let mut helpers = Vec::new();
    for (i, n) in w.nodes.iter().enumerate() {
        let label = format!("{}\n({})", n.id, n.kind.name());
        let mut d = Diagram::new(i, label, &agent_names, &node_names, &mut es, &mut helpers);
        let shape = n.kind.diagram(&mut d);
        vs.push(Vertex {
            id: vid(i),
            label: d.into_label(),
            shape,
        });
    }
    // A handler is reached only when its node fails.
    for (i, n) in w.nodes.iter().enumerate() {
        if let Some(h) = n.on_error {
            es.push(Edge {
                from: vid(i),
                to: vid(h),
                label: Some("on error".into()),
                dashed: true,
            });
        }
    }
    vs.extend(helpers);
    (vs, es)
}

/// Graphviz DOT source for the workflow.
pub fn to_dot(w: &Workflow) -> String {
    let (vs, es) = graph(w);
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&w.name));
    out.push_str("  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    if w.entry < w.nodes.len() {
        let _ = writeln!(
            out,
            "  start [shape=circle, label=\"start\", width=0.3];\n  start -> {};",
            vid(w.entry)
        );
    }
    for v in &vs {
        let shape = match v.shape {
            Shape::Rounded => "box, style=rounded",
            Shape::Box => "box",
            Shape::Parallelogram => "parallelogram",
            Shape::Subroutine => "box3d",
            Shape::Trapezoid => "trapezium",
            Shape::Diamond => "diamond",
            Shape::Stadium => "box, style=\"rounded,bold\"",
            Shape::Asymmetric => "cds",
            Shape::Hexagon => "hexagon, style=filled, fillcolor=\"#fff3c4\"",
            Shape::Point => "circle, width=0.3, fontsize=9",
        };
        let _ = writeln!(
            out,
            "  {} [shape={shape}, label=\"{}\"];",
            v.id,
            dot_escape(&v.label)
        );
    }
    for e in &es {
        let mut attrs = Vec::new();
        if let Some(l) = &e.label {
            attrs.push(format!("label=\"{}\"", dot_escape(l)));
        }
        if e.dashed {
            attrs.push("style=dashed".to_string());
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        let _ = writeln!(out, "  {} -> {}{attrs};", e.from, e.to);
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart source for the workflow.
pub fn to_mermaid(w: &Workflow) -> String {
    let (vs, es) = graph(w);
    let mut out = String::from("flowchart TD\n");
    if w.entry < w.nodes.len() {
        let _ = writeln!(out, "  start((\"start\")) --> {}", vid(w.entry));
    }
    for v in &vs {
        let l = mermaid_escape(&v.label);
        let shaped = match v.shape {
            Shape::Rounded => format!("(\"{l}\")"),
            Shape::Box => format!("[\"{l}\"]"),
            Shape::Parallelogram => format!("[/\"{l}\"/]"),
            Shape::Subroutine => format!("[[\"{l}\"]]"),
            Shape::Trapezoid => format!("[/\"{l}\"\\]"),
            Shape::Diamond => format!("{{\"{l}\"}}"),
            Shape::Stadium => format!("([\"{l}\"])"),
            Shape::Asymmetric => format!(">\"{l}\"]"),
            Shape::Hexagon => format!("{{{{\"{l}\"}}}}"),
            Shape::Point => format!("((\"{l}\"))"),
        };
        let _ = writeln!(out, "  {}{shaped}", v.id);
    }
    for e in &es {
        let arrow = if e.dashed { "-.->" } else { "-->" };
        match &e.label {
            Some(l) if !l.is_empty() => {
                let _ = writeln!(
                    out,
                    "  {} {arrow}|\"{}\"| {}",
                    e.from,
                    mermaid_escape(l),
                    e.to
                );
            }
            _ => {
                let _ = writeln!(out, "  {} {arrow} {}", e.from, e.to);
            }
        }
    }
    out
}

/// Escapes a DOT double-quoted string; newlines become centred line breaks.
fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes a Mermaid quoted label with entity codes (Mermaid has no
/// backslash escapes); newlines become `<br/>`.
fn mermaid_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '`' => out.push_str("#96;"),
            '\n' => out.push_str("<br/>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::load::{Format, load_str};

    const FIXTURE: &str = include_str!("../../tests/fixtures/workflows/research_pipeline.toml");
    const SMALL: &str = include_str!("../../tests/fixtures/workflows/triage_fanout.toml");

    fn load(text: &str) -> Workflow {
        match load_str(text, "fixture.toml", Format::Toml) {
            Ok(l) => l.workflow,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn dot_snapshot() {
        insta::assert_snapshot!(to_dot(&load(FIXTURE)));
    }

    #[test]
    fn mermaid_snapshot() {
        insta::assert_snapshot!(to_mermaid(&load(FIXTURE)));
    }

    #[test]
    fn small_snapshots() {
        let w = load(SMALL);
        insta::assert_snapshot!("small_dot", to_dot(&w));
        insta::assert_snapshot!("small_mermaid", to_mermaid(&w));
    }

    #[test]
    fn every_node_has_one_vertex_and_labels_are_escaped() {
        let w = load(FIXTURE);
        let dot = to_dot(&w);
        let mermaid = to_mermaid(&w);
        for (i, n) in w.nodes.iter().enumerate() {
            let decl = format!("  n{i} [");
            assert_eq!(dot.matches(&decl).count(), 1, "{}", n.id);
            assert!(mermaid.contains(&format!("  n{i}")), "{}", n.id);
        }
        // Expressions with quotes stay inside their quoted labels.
        assert!(
            !dot.lines()
                .any(|l| l.matches('"').count() % 2 == 1 && !l.contains("\\\""))
        );
        assert!(!mermaid.contains("\"high\""));
        assert_eq!(dot_escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(
            mermaid_escape("a\"<b>|#\n"),
            "a#quot;#lt;b#gt;#124;#35;<br/>"
        );
    }
}
