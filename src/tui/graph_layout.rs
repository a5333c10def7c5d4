//! The agent graph's rows: the workflow's containment tree in layers, one
//! row per node, with box-drawing edges and collapsed fan-outs.
//!
//! The rows depend only on the topology, so they are computed once and
//! cached in the UI state; the graph pane only looks up live state for the
//! visible rows.

use crate::tui::view_model::WorkflowInfo;

/// Fan-outs wider than this show their first `SHOWN_WHEN_COLLAPSED` children
/// and one summary row for the rest.
const MAX_FANOUT: usize = 8;
const SHOWN_WHEN_COLLAPSED: usize = 5;

/// What one graph row shows.
#[derive(Debug, Clone, PartialEq)]
pub enum RowKind {
    /// A node.
    Node(usize),
    /// A node already shown above (a shared subject); drawn as a reference.
    Ref(usize),
    /// Collapsed siblings.
    More(Vec<usize>),
}

/// One row: its edge prefix and content.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphRow {
    /// Box-drawing prefix (`│ ├─`).
    pub prefix: String,
    /// Content.
    pub kind: RowKind,
    /// Depth (layer) in the containment tree.
    pub depth: usize,
}

/// Rows for one topology.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphLayout {
    key: (String, usize, usize),
    /// Rows top to bottom.
    pub rows: Vec<GraphRow>,
}

impl GraphLayout {
    /// True when built for this topology.
    pub fn fits(&self, info: &WorkflowInfo) -> bool {
        self.key == (info.name.clone(), info.nodes.len(), info.entry)
    }

    /// Lays out the containment tree from the entry node; nodes not reachable
    /// from it follow as extra roots so nothing is hidden.
    pub fn build(info: &WorkflowInfo) -> GraphLayout {
        let mut rows = Vec::new();
        let mut seen = vec![false; info.nodes.len()];
        let roots = std::iter::once(info.entry).chain(0..info.nodes.len());
        for root in roots {
            if root < info.nodes.len() && !seen[root] {
                walk(info, root, String::new(), None, 0, &mut seen, &mut rows);
            }
        }
        GraphLayout {
            key: (info.name.clone(), info.nodes.len(), info.entry),
            rows,
        }
    }
}

fn walk(
    info: &WorkflowInfo,
    node: usize,
    indent: String,
    last: Option<bool>,
    depth: usize,
    seen: &mut [bool],
    rows: &mut Vec<GraphRow>,
) {
    let branch = match last {
        None => "",
        Some(true) => "└─",
        Some(false) => "├─",
    };
    let prefix = format!("{indent}{branch}");
    if seen[node] {
        rows.push(GraphRow {
            prefix,
            kind: RowKind::Ref(node),
            depth,
        });
        return;
    }
    seen[node] = true;
    rows.push(GraphRow {
        prefix,
        kind: RowKind::Node(node),
        depth,
    });
    let child_indent = match last {
        None => indent,
        Some(true) => format!("{indent}  "),
        Some(false) => format!("{indent}│ "),
    };
    let children = &info.nodes[node].children;
    let (shown, hidden) = if children.len() > MAX_FANOUT {
        children.split_at(SHOWN_WHEN_COLLAPSED)
    } else {
        (&children[..], &[][..])
    };
    for (i, &c) in shown.iter().enumerate() {
        let is_last = i + 1 == shown.len() && hidden.is_empty();
        walk(
            info,
            c,
            child_indent.clone(),
            Some(is_last),
            depth + 1,
            seen,
            rows,
        );
    }
    if !hidden.is_empty() {
        for &h in hidden {
            mark_seen(info, h, seen);
        }
        rows.push(GraphRow {
            prefix: format!("{child_indent}└─"),
            kind: RowKind::More(hidden.to_vec()),
            depth: depth + 1,
        });
    }
}

fn mark_seen(info: &WorkflowInfo, node: usize, seen: &mut [bool]) {
    if !seen[node] {
        seen[node] = true;
        for &c in &info.nodes[node].children {
            mark_seen(info, c, seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::view_model::NodeInfo;

    fn n(id: &str, children: Vec<usize>) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            title: id.into(),
            kind: "agent",
            children,
            runner: None,
        }
    }

    #[test]
    fn layout_draws_edges_refs_and_orphans() {
        let info = WorkflowInfo::new(
            "w",
            0,
            vec![
                n("a", vec![1, 2]),
                n("b", vec![3]),
                n("c", vec![3]),
                n("d", vec![]),
                n("orphan", vec![]),
            ],
            vec![],
        );
        let l = GraphLayout::build(&info);
        let text: Vec<String> = l
            .rows
            .iter()
            .map(|r| match &r.kind {
                RowKind::Node(i) => format!("{}{}", r.prefix, info.nodes[*i].id),
                RowKind::Ref(i) => format!("{}->{}", r.prefix, info.nodes[*i].id),
                RowKind::More(h) => format!("{}+{}", r.prefix, h.len()),
            })
            .collect();
        assert_eq!(text, ["a", "├─b", "│ └─d", "└─c", "  └─->d", "orphan"]);
        assert!(l.fits(&info));
    }

    #[test]
    fn wide_fanouts_collapse() {
        let mut nodes = vec![n("root", (1..=40).collect())];
        nodes.extend((1..=40).map(|i| n(&format!("b{i}"), vec![])));
        let info = WorkflowInfo::new("w", 0, nodes, vec![]);
        let l = GraphLayout::build(&info);
        assert_eq!(l.rows.len(), 1 + SHOWN_WHEN_COLLAPSED + 1);
        assert!(
            matches!(&l.rows.last().unwrap().kind, RowKind::More(h) if h.len() == 40 - SHOWN_WHEN_COLLAPSED)
        );
    }
}
