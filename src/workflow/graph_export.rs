//! Diagrams of a workflow: Graphviz DOT and Mermaid flowcharts
//! (`agentctl graph WORKFLOW --format dot|mermaid`).
//!
//! One vertex per node, labelled `id (kind)`; edges show how control flows:
//! a `sequence` as a chain of its steps, `parallel` fanning out to its
//! branches and back into a join point, `map` to its body per item, router
//! edges labelled with their condition, loop transitions with their guard.

use std::fmt::Write as _;

use super::kinds::{
    NodeKind,
    agent::{AgentNode, Target},
    debate::TurnOrder,
    gate::GateNode,
    loop_node::LoopNode,
    map::{MapNode, MapSource},
    on::OnNode,
    parallel::{Join, ParallelNode},
    plan::PlanNode,
    router::{RouteCond, RouterNode},
    sequence::SequenceNode,
    vote::Protocol,
};
use super::model::Workflow;

/// An edge between two vertices (by vertex id), with an optional label.
struct Edge {
    from: String,
    to: String,
    label: Option<String>,
    dashed: bool,
}

/// Vertex shapes, chosen per kind so the diagram reads at a glance.
#[derive(Clone, Copy)]
enum Shape {
    Rounded,
    Box,
    Parallelogram,
    Subroutine,
    Trapezoid,
    Diamond,
    Stadium,
    Asymmetric,
    Hexagon,
    Point,
}

struct Vertex {
    id: String,
    label: String,
    shape: Shape,
}

fn vid(i: usize) -> String {
    format!("n{i}")
}

/// The vertices and edges both formats draw.
fn graph(w: &Workflow) -> (Vec<Vertex>, Vec<Edge>) {
    let mut vs = Vec::new();
    let mut es = Vec::new();
    let edge =
        |es: &mut Vec<Edge>, from: String, to: String, label: Option<String>, dashed: bool| {
            es.push(Edge {
                from,
                to,
                label,
                dashed,
            });
        };
    let agent_name = |a: usize| w.agents.get(a).map_or("?", |a| &*a.id).to_string();
    let node_name = |n: usize| w.nodes.get(n).map_or("?", |n| &*n.id).to_string();
    for (i, n) in w.nodes.iter().enumerate() {
        let me = vid(i);
        let mut label = format!("{}\n({})", n.id, n.kind.name());
        let shape = match &n.kind {
            NodeKind::Agent(AgentNode { target, .. }) => {
                match target {
                    Target::Agent(a) => write!(label, "\nagent: {}", agent_name(*a)),
                    Target::Capability(c) => write!(label, "\ncapability: {c}"),
                }
                .ok();
                Shape::Rounded
            }
            NodeKind::Sequence(SequenceNode { steps }) => {
                if let Some(first) = steps.first() {
                    edge(&mut es, me.clone(), vid(*first), None, false);
                }
                for pair in steps.windows(2) {
                    edge(
                        &mut es,
                        vid(pair[0]),
                        vid(pair[1]),
                        Some("then".into()),
                        false,
                    );
                }
                Shape::Box
            }
            NodeKind::Parallel(ParallelNode {
                branches,
                join,
                branch_timeout,
            }) => {
                let join_id = format!("{me}_join");
                let join_label = match join {
                    Join::All => "join: all".to_string(),
                    Join::Any => "join: any".to_string(),
                    Join::KOfN(k) => format!("join: {k} of {}", branches.len()),
                };
                vs.push(Vertex {
                    id: join_id.clone(),
                    label: join_label,
                    shape: Shape::Point,
                });
                for b in branches {
                    let l = branch_timeout.map(|t| format!("timeout {} ms", t.as_millis()));
                    edge(&mut es, me.clone(), vid(*b), l, false);
                    edge(&mut es, vid(*b), join_id.clone(), None, false);
                }
                Shape::Parallelogram
            }
            NodeKind::Map(MapNode {
                source,
                body,
                concurrency,
                batch_size,
                aggregate,
            }) => {
                match source {
                    MapSource::Over(e) => write!(label, "\nover: {}", e.source()),
                    MapSource::Items(items) => write!(label, "\n{} items", items.len()),
                    MapSource::Count(c) => write!(label, "\ncount: {c}"),
                }
                .ok();
                if *concurrency > 0 {
                    write!(label, "\nconcurrency: {concurrency}").ok();
                }
                if *batch_size > 0 {
                    write!(label, "\nbatch: {batch_size}").ok();
                }
                edge(
                    &mut es,
                    me.clone(),
                    vid(*body),
                    Some("each item".into()),
                    false,
                );
                if let Some(a) = aggregate {
                    edge(&mut es, vid(*body), vid(*a), Some("gathered".into()), false);
                }
                Shape::Subroutine
            }
            NodeKind::Plan(PlanNode {
                planner,
                reviewer,
                max_revisions,
                ..
            }) => {
                write!(label, "\nplanner: {}", agent_name(*planner)).ok();
                if let Some(r) = reviewer {
                    write!(
                        label,
                        "\nreviewer: {} (≤{max_revisions} revisions)",
                        agent_name(*r)
                    )
                    .ok();
                }
                Shape::Trapezoid
            }
            NodeKind::Router(RouterNode {
                routes,
                default,
                classifier,
                ..
            }) => {
                if let Some(c) = classifier {
                    write!(label, "\nclassifier: {}", agent_name(*c)).ok();
                }
                for r in routes {
                    let l = match &r.cond {
                        RouteCond::Expr(e) => e.source().to_string(),
                        RouteCond::Label(l) => format!("label: {l}"),
                    };
                    edge(&mut es, me.clone(), vid(r.to), Some(l), false);
                }
                if let Some(d) = default {
                    edge(&mut es, me.clone(), vid(*d), Some("default".into()), true);
                }
                Shape::Diamond
            }
            NodeKind::Loop(LoopNode {
                states,
                start,
                transitions,
                max_iterations,
                end_at_max,
            }) => {
                let at_max = if *end_at_max { "end" } else { "fail" };
                write!(label, "\nmax {max_iterations} iterations, then {at_max}").ok();
                if let Some(s) = states.get(*start) {
                    edge(&mut es, me.clone(), vid(*s), Some("start".into()), false);
                }
                let end_id = format!("{me}_end");
                let mut has_end = false;
                for t in transitions {
                    let Some(&from) = states.get(t.from) else {
                        continue;
                    };
                    let to = match t.to.and_then(|s| states.get(s)) {
                        Some(&s) => vid(s),
                        None => {
                            has_end = true;
                            end_id.clone()
                        }
                    };
                    let l = t.when.as_ref().map(|e| e.source().to_string());
                    edge(&mut es, vid(from), to, l, false);
                }
                if has_end {
                    vs.push(Vertex {
                        id: end_id,
                        label: format!("end of {}", n.id),
                        shape: Shape::Point,
                    });
                }
                Shape::Stadium
            }
            NodeKind::On(OnNode {
                topic,
                every,
                body,
                max_events,
                ..
            }) => {
                let mut triggers = Vec::new();
                if let Some(t) = topic {
                    triggers.push(format!("on {t}"));
                }
                if let Some(e) = every {
                    triggers.push(format!("every {} ms", e.as_millis()));
                }
                write!(label, "\n≤{max_events} events").ok();
                edge(
                    &mut es,
                    me.clone(),
                    vid(*body),
                    Some(triggers.join(" / ")),
                    false,
                );
                Shape::Asymmetric
            }
            NodeKind::Gate(GateNode {
                subject,
                max_revisions,
            }) => {
                write!(label, "\nhuman review, ≤{max_revisions} revisions").ok();
                if let Some(s) = subject {
                    edge(
                        &mut es,
                        me.clone(),
                        vid(*s),
                        Some(format!("reviews {}", node_name(*s))),
                        true,
                    );
                }
                Shape::Hexagon
            }
            NodeKind::Debate(d) => {
                let names: Vec<String> = d.participants.iter().map(|a| agent_name(*a)).collect();
                write!(label, "\n{}", names.join(", ")).ok();
                let order = match d.order {
                    TurnOrder::RoundRobin => "round robin".to_string(),
                    TurnOrder::Moderator(m) => format!("moderator {}", agent_name(m)),
                    TurnOrder::Random => "random order".to_string(),
                };
                write!(label, "\n≤{} rounds, {order}", d.rounds).ok();
                match d.judge {
                    Some(j) => write!(label, "\njudge: {}", agent_name(j)),
                    None => write!(label, "\nvote: {}", d.rules.protocol.name()),
                }
                .ok();
                if d.step {
                    label.push_str("\nstep mode");
                }
                Shape::Stadium
            }
            NodeKind::Vote(v) => {
                let names: Vec<String> = v.voters.iter().map(|a| agent_name(*a)).collect();
                write!(label, "\nvoters: {}", names.join(", ")).ok();
                let rule = match v.rules.protocol {
                    Protocol::Quorum { k, .. } => format!("quorum {k} of {}", v.voters.len()),
                    Protocol::Bft { f } => format!("bft f={f} (needs {})", 2 * f + 1),
                    p => p.name().to_string(),
                };
                write!(label, "\n{rule}, ≤{} rounds", v.rounds).ok();
                if v.step {
                    label.push_str("\nstep mode");
                }
                Shape::Trapezoid
            }
        };
        vs.push(Vertex {
            id: me,
            label,
            shape,
        });
    }
    // Put the node vertices first, in declaration order, then helpers.
    vs.sort_by_key(|v| matches!(v.shape, Shape::Point));
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
