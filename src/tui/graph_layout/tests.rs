//! The layout's rows as text (static parts only), for the shapes it composes.

use super::*;
use crate::tui::view_model::NodeInfo;

fn n(id: &str, kind: &'static str, children: Vec<usize>) -> NodeInfo {
    NodeInfo {
        id: id.into(),
        title: id.into(),
        kind,
        children,
        runner: None,
    }
}

/// Each row: edges and notes as drawn, nodes as `[id]`.
fn text(info: &WorkflowInfo, l: &GraphLayout) -> Vec<String> {
    l.rows
        .iter()
        .map(|r| {
            let mut line = String::new();
            for c in &r.cells {
                while line.chars().count() < c.col as usize {
                    line.push(' ');
                }
                match &c.piece {
                    Piece::Edge(s) | Piece::Note(s) => line.push_str(s),
                    Piece::Node(i) => line.push_str(&format!("[{}]", info.nodes[*i].id)),
                    Piece::Ref(i) => line.push_str(&format!("->{}", info.nodes[*i].id)),
                    Piece::More(h) => line.push_str(&format!("+{}", h.len())),
                    Piece::Folded(h) => line.push_str(&format!("▸{}", h.len())),
                    Piece::Review(_) => line.push_str("review"),
                    Piece::Phase(..) => line.push_str("phase"),
                    Piece::Subtasks(_) => line.push_str("subtasks"),
                    Piece::Step(n, k) => {
                        let s = &info.plans[n].steps[*k];
                        line.push_str(&format!("<{}>", s.name));
                    }
                }
            }
            line.trim_end().to_owned()
        })
        .collect()
}

#[test]
fn sequences_are_arrows_and_parallels_are_lanes_with_a_join() {
    let info = WorkflowInfo::new(
        "w",
        0,
        vec![
            n("s", "sequence", vec![1, 2]),
            n("a", "agent", vec![]),
            n("p", "parallel", vec![3, 4]),
            n("b", "agent", vec![]),
            n("c", "agent", vec![]),
            n("orphan", "agent", vec![]),
        ],
        vec![],
    );
    let l = GraphLayout::build(&info, 120, &[]);
    let t = text(&info, &l);
    assert_eq!(t[0], "[s]");
    assert_eq!(t[1], "▼");
    assert_eq!(t[2], "[a]");
    assert_eq!(t[4], "[p]");
    assert!(t[5].starts_with("├─") && t[5].ends_with('┐'), "{t:?}");
    assert!(t[7].starts_with("[b]") && t[7].contains("[c]"), "{t:?}");
    assert!(t[8].starts_with('├') && t[8].contains('┘'), "{t:?}");
    // Unreachable nodes follow, so nothing is hidden.
    assert_eq!(t.last().map(String::as_str), Some("[orphan]"));
    assert!(
        l.fits(&info, 120, &[])
            && !l.fits(&info, 40, &[])
            && !l.fits(&info, 120, &[(2, Fold::Folded)])
    );
    assert_eq!(
        l.nodes.iter().map(|&(i, _)| i).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5]
    );
}

#[test]
fn lanes_too_wide_for_the_pane_stack_as_rails_and_shared_nodes_are_refs() {
    let info = WorkflowInfo::new(
        "w",
        0,
        vec![
            n("p", "parallel", vec![1, 2]),
            n("a_rather_long_branch_name", "agent", vec![]),
            n("g", "gate", vec![1]),
        ],
        vec![],
    );
    let l = GraphLayout::build(&info, 30, &[]);
    let t = text(&info, &l);
    assert_eq!(t[1], "├──▶ [a_rather_long_branch_name]", "{t:?}");
    assert!(t[2].starts_with("└──▶ [g]"), "{t:?}");
    assert!(
        t.iter().any(|r| r.contains("->a_rather_long_branch_name")),
        "{t:?}"
    );
    assert!(t.iter().any(|r| r.contains("review")), "{t:?}");
}

#[test]
fn wide_fanouts_collapse() {
    let mut nodes = vec![n("root", "parallel", (1..=40).collect())];
    nodes.extend((1..=40).map(|i| n(&format!("b{i}"), "agent", vec![])));
    let info = WorkflowInfo::new("w", 0, nodes, vec![]);
    let l = GraphLayout::build(&info, 200, &[]);
    let t = text(&info, &l);
    assert_eq!(l.nodes.len(), 1 + SHOWN_WHEN_COLLAPSED);
    assert!(
        t.iter()
            .any(|r| r.contains(&format!("+{}", 40 - SHOWN_WHEN_COLLAPSED))),
        "{t:?}"
    );
    // Expanded, every lane shows (stacked: 40 lanes do not fit 200 columns).
    let l = GraphLayout::build(&info, 200, &[(0, Fold::Expanded)]);
    assert_eq!(l.nodes.len(), 41);
    assert!(text(&info, &l)[1].starts_with("├──▶ [b1]"));
}

#[test]
fn back_edges_run_as_rails_into_their_target() {
    use crate::tui::view_model::{LoopEdge, NodeFlow};
    let info = WorkflowInfo::new(
        "w",
        0,
        vec![
            n("l", "loop", vec![1, 2]),
            n("x", "agent", vec![]),
            n("y", "agent", vec![]),
        ],
        vec![],
    )
    .with_flow(vec![
        NodeFlow {
            transitions: vec![
                LoopEdge {
                    from: 0,
                    to: Some(1),
                    when: None,
                },
                LoopEdge {
                    from: 1,
                    to: Some(0),
                    when: Some("again".into()),
                },
                LoopEdge {
                    from: 1,
                    to: None,
                    when: None,
                },
            ],
            ..NodeFlow::default()
        },
        NodeFlow::default(),
        NodeFlow::default(),
    ]);
    let l = GraphLayout::build(&info, 80, &[]);
    let t = text(&info, &l);
    assert_eq!(
        t,
        [
            "[l]",
            "▼",
            "┌▶[x]",
            "│ ▼",
            "│ [y]",
            "└─┘ ↺ again",
            "  ▼ end"
        ],
        "{t:?}"
    );
}

#[test]
fn a_folded_node_hides_what_it_contains() {
    let info = WorkflowInfo::new(
        "w",
        0,
        vec![
            n("s", "sequence", vec![1, 3]),
            n("p", "parallel", vec![2, 4]),
            n("b", "agent", vec![]),
            n("after", "agent", vec![]),
            n("c", "agent", vec![]),
        ],
        vec![],
    );
    let l = GraphLayout::build(&info, 120, &[(1, Fold::Folded)]);
    let t = text(&info, &l);
    assert_eq!(t, ["[s]", "▼", "[p]", "┆ ▸2", "▼", "[after]"], "{t:?}");
    assert_eq!(
        l.nodes.iter().map(|&(i, _)| i).collect::<Vec<_>>(),
        [0, 1, 3]
    );
}

#[test]
fn a_plan_draws_its_dag_by_layer_once_planned() {
    use crate::event::PlannedSubtask;
    let mut info = WorkflowInfo::new("w", 0, vec![n("p", "plan", vec![])], vec![]);
    let before = GraphLayout::build(&info, 120, &[]);
    assert!(text(&info, &before).iter().any(|r| r == "subtasks"));
    let step = |i: usize, name: &str, deps: &[usize]| PlannedSubtask {
        task: format!("p/{i}").into(),
        title: name.into(),
        capability: "c".into(),
        step: Some(name.into()),
        depends_on: deps.iter().map(|d| format!("p/{d}").into()).collect(),
        estimate_tokens: None,
        estimate_minutes: None,
    };
    info.plans.insert(
        0,
        PlanDraw::of(&[
            step(1, "a", &[]),
            step(2, "b", &[]),
            step(3, "sum", &[1, 2]),
            step(4, "fmt", &[3]),
        ]),
    );
    info.plan_version += 1;
    assert!(
        !before.fits(&info, 120, &[]),
        "a new plan lays the graph out again"
    );
    let l = GraphLayout::build(&info, 120, &[]);
    let t = text(&info, &l);
    let rows: Vec<&str> = t.iter().map(|r| r.trim_start_matches(['│', ' '])).collect();
    let a = rows
        .iter()
        .position(|r| r.starts_with("<a>"))
        .expect("layer 0");
    assert!(
        rows[a].contains("<b>"),
        "independent steps side by side: {t:?}"
    );
    assert_eq!(rows[a + 1], "▼");
    assert_eq!(rows[a + 2], "<sum>");
    assert_eq!(rows[a + 4], "<fmt>");
    // Too narrow for a layer: its steps stack.
    let narrow = GraphLayout::build(&info, 30, &[]);
    let t = text(&info, &narrow);
    assert!(
        t.iter().any(|r| r.contains("├ <a>")) && t.iter().any(|r| r.contains("└ <b>")),
        "{t:?}"
    );
}
