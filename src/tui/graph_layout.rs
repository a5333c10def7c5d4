//! The workflow graph's layered layout: control flows top to bottom, a
//! `sequence` as arrows between its steps, `parallel`, `router` and `map`
//! fanning out into lanes side by side and back into a join, loop and gate
//! back edges as rails on the left.
//!
//! Written here rather than taken from a crate: `ascii-dag`,
//! `sapling-renderdag` and `mermaid-text` render a graph to a `String`, so
//! every frame would re-lay it out to change one live count, and a string
//! can neither carry per-node colours and the selection nor tell which
//! cells belong to which node. Workflows are series-parallel by
//! construction (containment plus back edges), so composing blocks (stack,
//! lanes, rails) is a complete layered layout for them, with no crossing
//! minimisation to do. Lanes that do not fit the pane's width stack as
//! rails instead; fan-outs wider than [`MAX_LANES`] collapse.
//!
//! The rows depend only on the topology and the pane's width, so they are
//! computed once per both and cached in the UI state; the graph pane looks
//! up live state for the visible rows only.

mod cells;

pub use cells::{Cell, Piece};
use cells::{DOWN, JointRow, LEFT, RIGHT, UP};

use crate::text::width;
use crate::tui::view_model::{NodeFlow, PlanDraw, WorkflowInfo};

/// Fan-outs wider than this show their first [`SHOWN_WHEN_COLLAPSED`]
/// lanes and one lane summing up the rest.
pub const MAX_LANES: usize = 8;
const SHOWN_WHEN_COLLAPSED: usize = 5;
/// Columns between two lanes.
const GAP: usize = 2;
/// Room a node's live part (counts, agents) is given in a lane.
const LIVE_ROOM: usize = 12;
/// Widest a lane's node label is measured (longer labels are clipped).
const MAX_LABEL: usize = 40;

/// How a node's insides are drawn when not as usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// Not at all: one row says how much is inside.
    Folded,
    /// Every lane of a fan-out, none collapsed.
    Expanded,
}

/// One row of the graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphRow {
    /// Its pieces, left to right.
    pub cells: Vec<Cell>,
}

/// The graph's rows for one topology and width.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphLayout {
    key: (String, usize, usize, u16, Vec<(usize, Fold)>, u32),
    /// Rows top to bottom.
    pub rows: Vec<GraphRow>,
    /// Selectable nodes in reading order: (node index, row).
    pub nodes: Vec<(usize, usize)>,
}

impl GraphLayout {
    /// True when built for this topology at this width with these folds
    /// (sorted by node).
    pub fn fits(&self, info: &WorkflowInfo, width: u16, folded: &[(usize, Fold)]) -> bool {
        let (name, nodes, entry, w, f, plans) = &self.key;
        *name == info.name
            && *nodes == info.nodes.len()
            && *entry == info.entry
            && *w == width
            && f.as_slice() == folded
            && *plans == info.plan_version
    }

    /// Lays out the workflow from its entry node, `width` columns wide,
    /// the nodes in `folded` (sorted by node) folded or expanded; nodes not
    /// reachable from the entry follow as extra roots so nothing is hidden.
    pub fn build(info: &WorkflowInfo, width: u16, folded: &[(usize, Fold)]) -> GraphLayout {
        let mut b = Builder {
            info,
            seen: vec![false; info.nodes.len()],
            folded,
        };
        let mut all = Block::default();
        let roots = std::iter::once(info.entry).chain(0..info.nodes.len());
        for root in roots {
            if root < info.nodes.len() && !b.seen[root] {
                if !all.rows.is_empty() {
                    all.rows.push(Vec::new());
                }
                let block = b.node(root, width as usize);
                all.append(block, 0);
            }
        }
        let rows: Vec<GraphRow> = all
            .rows
            .into_iter()
            .map(|mut cells| {
                cells.sort_by_key(|c| c.col);
                GraphRow { cells }
            })
            .collect();
        let mut nodes = Vec::new();
        for (y, r) in rows.iter().enumerate() {
            for c in &r.cells {
                if let Piece::Node(i) = c.piece {
                    nodes.push((i, y));
                }
            }
        }
        GraphLayout {
            key: (
                info.name.clone(),
                info.nodes.len(),
                info.entry,
                width,
                folded.to_vec(),
                info.plan_version,
            ),
            rows,
            nodes,
        }
    }

    /// Position in [`GraphLayout::nodes`] of node `i`.
    pub fn position_of(&self, i: usize) -> Option<usize> {
        self.nodes.iter().position(|&(n, _)| n == i)
    }
}

/// A laid-out part of the graph: rows of placed cells. Flow enters it at
/// column 0 of its first row and leaves from column 0 of its last.
#[derive(Debug, Clone, Default)]
struct Block {
    rows: Vec<Vec<Cell>>,
}

impl Block {
    fn row(cells: Vec<Cell>) -> Block {
        Block { rows: vec![cells] }
    }

    /// Widest extent of its cells.
    fn width(&self, info: &WorkflowInfo) -> usize {
        self.rows
            .iter()
            .flatten()
            .map(|c| c.col as usize + natural_width(info, &c.piece).min(c.max as usize))
            .max()
            .unwrap_or(0)
    }

    /// Appends `other`'s rows shifted right by `dx`.
    fn append(&mut self, other: Block, dx: usize) {
        for row in other.rows {
            self.rows.push(shift(row, dx));
        }
    }

    fn push(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// An arrow into the next part, with an optional label beside it.
    fn arrow(&mut self, label: Option<&str>) {
        let mut cells = vec![Cell::new(0, Piece::Edge("▼".into()))];
        if let Some(l) = label {
            cells.push(Cell::new(2, Piece::Note(l.to_owned())));
        }
        self.rows.push(cells);
    }
}

fn shift(row: Vec<Cell>, dx: usize) -> Vec<Cell> {
    row.into_iter()
        .map(|mut c| {
            c.col += dx as u16;
            c
        })
        .collect()
}

/// How wide a piece is when nothing clips it (nodes: their static label
/// plus room for the live part).
fn natural_width(info: &WorkflowInfo, p: &Piece) -> usize {
    match p {
        Piece::Edge(s) | Piece::Note(s) => width(s),
        Piece::Node(i) => {
            let n = &info.nodes[*i];
            let note = info.flow_of(*i).note.as_deref().map_or(0, |t| 3 + width(t));
            let runner = n.runner.as_deref().map_or(0, |r| 2 + width(r));
            (3 + width(&n.id) + width(n.kind) + note + runner.max(LIVE_ROOM)).min(MAX_LABEL)
        }
        Piece::Ref(i) => 12 + width(&info.nodes[*i].id),
        Piece::More(_) | Piece::Folded(_) => 16,
        Piece::Review(_) => 18,
        Piece::Phase(_, a, _) => 12 + width(a),
        Piece::Subtasks(_) => 20,
        Piece::Step(n, i) => info
            .plans
            .get(n)
            .and_then(|p| Some((p, p.steps.get(*i)?)))
            .map_or(8, |(p, s)| {
                // ` ← a, b`
                let after: usize = s
                    .after
                    .iter()
                    .filter_map(|&d| p.steps.get(d))
                    .map(|d| width(&d.name) + 2)
                    .sum::<usize>()
                    + usize::from(!s.after.is_empty());
                // `◐ name title` and `  ⟳ agent`
                let live = LIVE_ROOM + 4;
                (3 + width(&s.name) + width(&s.title).min(25) + after + live).min(2 * MAX_LABEL)
            }),
    }
}

/// A plan's steps as a layered DAG: one row per layer (steps that depend on
/// nothing first, each later layer after the deepest step it needs), steps
/// of a layer side by side when they fit, each naming the steps it waits
/// for (`← a, b`); a layer too wide for `avail` stacks its steps.
fn plan_dag(n: usize, plan: &PlanDraw, avail: usize, info: &WorkflowInfo) -> Block {
    let deps: Vec<Vec<usize>> = plan.steps.iter().map(|s| s.after.clone()).collect();
    // A damaged recording may hold a cycle: draw the steps in plan order then.
    let layers = crate::workflow::kinds::plan_dag::layers(&deps)
        .unwrap_or_else(|| (0..plan.steps.len()).collect());
    let depth = layers.iter().max().map_or(0, |d| d + 1);
    let mut b = Block::default();
    for layer in 0..depth {
        let steps: Vec<usize> = (0..plan.steps.len())
            .filter(|&i| layers[i] == layer)
            .collect();
        if layer > 0 {
            b.push(vec![Cell::new(0, Piece::Edge("▼".into()))]);
        }
        let widths: Vec<usize> = steps
            .iter()
            .map(|&i| natural_width(info, &Piece::Step(n, i)))
            .collect();
        let total = widths.iter().sum::<usize>() + GAP * steps.len().saturating_sub(1);
        if total <= avail {
            let mut col = 0;
            let cells = steps
                .iter()
                .zip(&widths)
                .map(|(&i, &w)| {
                    let mut c = Cell::new(col, Piece::Step(n, i));
                    c.max = w as u16;
                    col += w + GAP;
                    c
                })
                .collect();
            b.push(cells);
        } else {
            for (k, &i) in steps.iter().enumerate() {
                let lead = if k + 1 == steps.len() { "└ " } else { "├ " };
                b.push(vec![
                    Cell::new(0, Piece::Edge(lead.into())),
                    Cell::new(2, Piece::Step(n, i)),
                ]);
            }
        }
    }
    b
}

struct Builder<'a> {
    info: &'a WorkflowInfo,
    seen: Vec<bool>,
    folded: &'a [(usize, Fold)],
}

impl Builder<'_> {
    /// Node `n` and what it contains, in at most `avail` columns.
    fn node(&mut self, n: usize, avail: usize) -> Block {
        if std::mem::replace(&mut self.seen[n], true) {
            return Block::row(vec![Cell::new(0, Piece::Ref(n))]);
        }
        let info = self.info;
        let node = &info.nodes[n];
        let flow = info.flow_of(n);
        let children = node.children.clone();
        let mut b = Block::row(vec![Cell::new(0, Piece::Node(n))]);
        let label = |i: usize| flow.edge_labels.get(i).cloned().flatten();
        let fold = self
            .folded
            .binary_search_by_key(&n, |&(i, _)| i)
            .ok()
            .map(|i| self.folded[i].1);
        if !children.is_empty() && fold == Some(Fold::Folded) {
            let mut inside = Vec::new();
            for c in children {
                self.mark_seen(c, &mut inside);
            }
            b.push(vec![
                Cell::new(0, Piece::Edge("┆".into())),
                Cell::new(2, Piece::Folded(inside)),
            ]);
            return b;
        }
        match node.kind {
            "sequence" => {
                for c in children {
                    b.arrow(None);
                    let child = self.node(c, avail);
                    b.append(child, 0);
                }
            }
            "parallel" | "router" => {
                let lanes = children.iter().enumerate().map(|(i, &c)| (c, label(i)));
                let join = if node.kind == "router" {
                    Some("one route".to_owned())
                } else {
                    flow.note.clone()
                };
                let fan = self.fan(lanes.collect(), join, avail, fold == Some(Fold::Expanded));
                b.append(fan, 0);
            }
            "map" => {
                let fan = self.map(n, &children, avail);
                b.append(fan, 0);
            }
            "loop" => {
                let body = self.loop_states(n, &children, avail);
                b.append(body, 0);
            }
            "gate" => {
                let mut inner = Block::default();
                let mut top = None;
                if let Some(&s) = children.first() {
                    inner = self.node(s, avail.saturating_sub(2));
                    inner.arrow(None);
                    top = Some(0);
                }
                let bottom = inner.rows.len();
                inner.push(vec![Cell::new(0, Piece::Review(n))]);
                b.arrow(Some("subject"));
                let edges: Vec<_> = top.map(|t| (t, bottom)).into_iter().collect();
                b.append(rails(inner, &edges), 0);
            }
            "plan" => {
                let mut inner = Block::default();
                if let Some(p) = flow.agents.first() {
                    inner.push(vec![Cell::new(0, Piece::Phase(n, p.clone(), 0))]);
                    inner.arrow(None);
                }
                let sub = inner.rows.len();
                match info.plans.get(&n).filter(|p| !p.steps.is_empty()) {
                    Some(plan) => {
                        let dag = plan_dag(n, plan, avail.saturating_sub(2), info);
                        inner.append(dag, 0);
                    }
                    None => inner.push(vec![Cell::new(0, Piece::Subtasks(n))]),
                }
                let mut edges = Vec::new();
                if let (true, Some(r)) = (flow.reviewed, flow.agents.get(1)) {
                    inner.arrow(None);
                    edges.push((sub, inner.rows.len()));
                    inner.push(vec![Cell::new(0, Piece::Phase(n, r.clone(), 1))]);
                }
                b.arrow(None);
                b.append(rails(inner, &edges), 0);
            }
            _ => {
                for (i, c) in children.into_iter().enumerate() {
                    b.arrow(label(i).as_deref());
                    let child = self.node(c, avail);
                    b.append(child, 0);
                }
            }
        }
        b
    }

    /// Lanes side by side under a fan-out and over a fan-in when they fit
    /// `avail`, else stacked as rails.
    fn fan(
        &mut self,
        lanes: Vec<(usize, Option<String>)>,
        join: Option<String>,
        avail: usize,
        expanded: bool,
    ) -> Block {
        let info = self.info;
        let (shown, hidden) = if lanes.len() > MAX_LANES && !expanded {
            lanes.split_at(SHOWN_WHEN_COLLAPSED)
        } else {
            (&lanes[..], &[][..])
        };
        let mut more: Vec<usize> = Vec::new();
        for (h, _) in hidden {
            self.mark_seen(*h, &mut more);
        }
        let seen_before = self.seen.clone();
        let mut blocks: Vec<(Block, Option<String>)> = shown
            .iter()
            .map(|(c, l)| (self.node(*c, avail), l.clone()))
            .collect();
        if !more.is_empty() {
            blocks.push((Block::row(vec![Cell::new(0, Piece::More(more))]), None));
        }
        let widths: Vec<usize> = blocks
            .iter()
            .map(|(b, l)| {
                let label = l.as_deref().map_or(0, |l| width(l).min(24) + 2);
                b.width(info).max(label).max(1)
            })
            .collect();
        let total = widths.iter().sum::<usize>() + GAP * widths.len().saturating_sub(1);
        if blocks.len() == 1 {
            let (block, label) = blocks.pop().expect("one lane");
            let mut b = Block::default();
            b.arrow(label.as_deref());
            b.append(block, 0);
            return b;
        }
        if blocks.len() > 1 && total <= avail {
            return lanes_side_by_side(blocks, &widths, join);
        }
        // Too wide: lay the lanes out again, narrower, as rails.
        self.seen = seen_before;
        let mut rebuilt: Vec<(Block, Option<String>)> = shown
            .iter()
            .map(|(c, l)| (self.node(*c, avail.saturating_sub(5)), l.clone()))
            .collect();
        if let Some(last) = blocks.pop().filter(|_| !hidden.is_empty()) {
            rebuilt.push(last);
        }
        lanes_as_rails(rebuilt)
    }

    /// A map: a fan of item lanes collapsed onto its body, then the
    /// gathering step.
    fn map(&mut self, n: usize, children: &[usize], avail: usize) -> Block {
        let info = self.info;
        let flow = info.flow_of(n);
        let stubs = flow.items.map_or(4, |k| (k as usize).clamp(1, 4));
        let mut b = Block::default();
        let mut out = JointRow::new(1);
        out.add(0, UP | DOWN);
        let last = 2 * stubs.saturating_sub(1);
        if last > 0 {
            out.hline(0, last);
            for s in 1..stubs {
                out.add(2 * s, DOWN);
            }
        }
        let items = match flow.items {
            Some(k) => format!("×{k} items"),
            None => "each item".to_owned(),
        };
        b.push(vec![
            Cell::new(0, Piece::Edge(out.text())),
            Cell::new(last + 2, Piece::Note(items)),
        ]);
        // Every item's lane points at the one body that runs them all.
        let arrows = vec!["▼"; stubs].join(" ");
        b.push(vec![Cell::new(0, Piece::Edge(arrows))]);
        if let Some(&body) = children.first() {
            let body = self.node(body, avail);
            b.append(body, 0);
        }
        if let Some(&agg) = children.get(1) {
            let mut inb = JointRow::new(1);
            inb.add(0, UP | DOWN);
            if last > 0 {
                inb.hline(0, last);
                for s in 1..stubs {
                    inb.add(2 * s, UP);
                }
            }
            let label = flow
                .edge_labels
                .get(1)
                .cloned()
                .flatten()
                .unwrap_or_else(|| "gathered".to_owned());
            b.push(vec![
                Cell::new(0, Piece::Edge(inb.text())),
                Cell::new(last + 2, Piece::Note(label)),
            ]);
            b.arrow(None);
            let agg = self.node(agg, avail);
            b.append(agg, 0);
        }
        b
    }

    /// A loop's states top to bottom with their forward transitions as
    /// arrows and back edges as rails.
    fn loop_states(&mut self, n: usize, states: &[usize], avail: usize) -> Block {
        let flow: NodeFlow = self.info.flow_of(n).clone();
        let backs = flow
            .transitions
            .iter()
            .filter(|t| t.to.is_some_and(|to| to <= t.from))
            .count();
        let inner_avail = avail.saturating_sub(backs + 1);
        let mut inner = Block::default();
        let mut tops = Vec::with_capacity(states.len());
        let mut edges = Vec::new();
        let mut pending_back: Vec<(usize, usize)> = Vec::new();
        if flow.start != 0
            && let Some(&s) = states.get(flow.start)
        {
            let id = &self.info.nodes[s].id;
            inner.push(vec![
                Cell::new(0, Piece::Edge("┆".into())),
                Cell::new(2, Piece::Note(format!("starts at {id}"))),
            ]);
        }
        for (p, &s) in states.iter().enumerate() {
            tops.push(inner.rows.len());
            let block = self.node(s, inner_avail);
            inner.append(block, 0);
            let nexts: Vec<_> = flow.transitions.iter().filter(|t| t.from == p).collect();
            let is_last = p + 1 == states.len();
            for t in &nexts {
                match t.to {
                    Some(to) if to <= p => {
                        let when = t.when.as_deref().unwrap_or("always");
                        let row = inner.rows.len();
                        inner.push(vec![
                            Cell::new(0, Piece::Edge(if is_last { "┘" } else { "┤" }.into())),
                            Cell::new(2, Piece::Note(format!("↺ {when}"))),
                        ]);
                        pending_back.push((to, row));
                    }
                    Some(to) if to > p + 1 => {
                        let id = &self.info.nodes[states[to]].id;
                        inner.push(vec![
                            Cell::new(0, Piece::Edge("├".into())),
                            Cell::new(2, Piece::Note(guarded(&format!("↷ {id}"), &t.when))),
                        ]);
                    }
                    None if !is_last => {
                        inner.push(vec![
                            Cell::new(0, Piece::Edge("├".into())),
                            Cell::new(2, Piece::Note(guarded("⇥ end", &t.when))),
                        ]);
                    }
                    _ => {}
                }
            }
            if is_last {
                if let Some(t) = nexts.iter().find(|t| t.to.is_none()) {
                    inner.arrow(Some(&guarded("end", &t.when)));
                }
            } else {
                let fwd = nexts.iter().find(|t| t.to == Some(p + 1));
                match fwd {
                    Some(t) => inner.arrow(t.when.as_deref()),
                    None if flow.transitions.is_empty() => inner.arrow(None),
                    None => inner.push(vec![Cell::new(0, Piece::Edge("┆".into()))]),
                }
            }
        }
        for (to, row) in pending_back {
            if let Some(&top) = tops.get(to) {
                edges.push((top, row));
            }
        }
        let mut b = Block::default();
        b.arrow(None);
        b.append(rails(inner, &edges), 0);
        b
    }

    /// Marks `n` and what it contains as drawn, collecting them.
    fn mark_seen(&mut self, n: usize, out: &mut Vec<usize>) {
        if !std::mem::replace(&mut self.seen[n], true) {
            out.push(n);
            for &c in &self.info.nodes[n].children.clone() {
                self.mark_seen(c, out);
            }
        }
    }
}

fn guarded(what: &str, when: &Option<String>) -> String {
    match when {
        Some(w) => format!("{what} if {w}"),
        None => what.to_owned(),
    }
}

/// Lanes at columns side by side: a fan-out row, an arrow (and label) per
/// lane, the lanes (shorter ones continued by a line), a fan-in row.
fn lanes_side_by_side(
    blocks: Vec<(Block, Option<String>)>,
    widths: &[usize],
    join: Option<String>,
) -> Block {
    let mut xs = Vec::with_capacity(widths.len());
    let mut x = 0;
    for w in widths {
        xs.push(x);
        x += w + GAP;
    }
    let last = *xs.last().unwrap_or(&0);
    let mut out = JointRow::new(last + 1);
    let mut inn = JointRow::new(last + 1);
    out.hline(0, last);
    inn.hline(0, last);
    out.add(0, UP);
    inn.add(0, DOWN);
    for &x in &xs {
        out.add(x, DOWN);
        inn.add(x, UP);
    }
    let height = blocks.iter().map(|(b, _)| b.rows.len()).max().unwrap_or(0);
    let mut b = Block::default();
    b.push(vec![Cell::new(0, Piece::Edge(out.text()))]);
    let mut arrows = Vec::new();
    for ((_, label), (&x, &w)) in blocks.iter().zip(xs.iter().zip(widths)) {
        arrows.push(Cell::new(x, Piece::Edge("▼".into())));
        if let Some(l) = label {
            let mut c = Cell::new(x + 2, Piece::Note(l.clone()));
            c.max = w.saturating_sub(2) as u16;
            arrows.push(c);
        }
    }
    b.push(arrows);
    let mut rows: Vec<Vec<Cell>> = vec![Vec::new(); height];
    for ((block, _), (&x, &w)) in blocks.into_iter().zip(xs.iter().zip(widths)) {
        let len = block.rows.len();
        for (y, row) in block.rows.into_iter().enumerate() {
            for mut c in shift(row, x) {
                let room = (x + w).saturating_sub(c.col as usize) as u16;
                c.max = c.max.min(room);
                rows[y].push(c);
            }
        }
        for row in rows.iter_mut().take(height).skip(len) {
            row.push(Cell::new(x, Piece::Edge("│".into())));
        }
    }
    b.rows.extend(rows);
    let mut fan_in = vec![Cell::new(0, Piece::Edge(inn.text()))];
    if let Some(j) = join {
        fan_in.push(Cell::new(last + 2, Piece::Note(j)));
    }
    b.push(fan_in);
    b
}

/// Lanes one under another, each hanging off a rail on the left.
fn lanes_as_rails(blocks: Vec<(Block, Option<String>)>) -> Block {
    let n = blocks.len();
    let mut b = Block::default();
    for (i, (block, label)) in blocks.into_iter().enumerate() {
        let last = i + 1 == n;
        let (tee, cont) = if last { ("└", " ") } else { ("├", "│") };
        let mut first = true;
        if let Some(l) = label {
            b.push(vec![
                Cell::new(0, Piece::Edge(format!("{tee}─┬─"))),
                Cell::new(5, Piece::Note(l)),
            ]);
            for row in block.rows {
                let lead = if first {
                    format!("{cont} └▶ ")
                } else {
                    format!("{cont}    ")
                };
                first = false;
                let mut cells = vec![Cell::new(0, Piece::Edge(lead))];
                cells.extend(shift(row, 5));
                b.push(cells);
            }
        } else {
            for row in block.rows {
                let lead = if first {
                    format!("{tee}──▶ ")
                } else {
                    format!("{cont}    ")
                };
                first = false;
                let mut cells = vec![Cell::new(0, Piece::Edge(lead))];
                cells.extend(shift(row, 5));
                b.push(cells);
            }
        }
    }
    b
}

/// Back edges as rails on the left: edge `(top, bottom)` leaves row
/// `bottom` leftwards, climbs, and enters row `top` with an arrowhead. The
/// longest edge runs outermost so rails nest.
fn rails(inner: Block, edges: &[(usize, usize)]) -> Block {
    if edges.is_empty() {
        return inner;
    }
    let mut edges = edges.to_vec();
    edges.sort_by_key(|&(t, b)| std::cmp::Reverse(b.saturating_sub(t)));
    let w = edges.len() + 1;
    let mut grid = vec![JointRow::new(w); inner.rows.len()];
    let mut heads = vec![false; inner.rows.len()];
    for (c, &(top, bottom)) in edges.iter().enumerate() {
        if top >= bottom || bottom >= grid.len() {
            continue;
        }
        grid[top].add(c, DOWN | RIGHT);
        grid[bottom].add(c, UP | RIGHT);
        for x in c + 1..w {
            grid[top].add(x, LEFT | RIGHT);
            grid[bottom].add(x, LEFT | RIGHT);
        }
        for row in grid.iter_mut().take(bottom).skip(top + 1) {
            row.add(c, UP | DOWN);
        }
        heads[top] = true;
    }
    let mut b = Block::default();
    for (y, row) in inner.rows.into_iter().enumerate() {
        let mut text = grid[y].text();
        if heads[y] {
            text.pop();
            text.push('▶');
        }
        let mut cells = Vec::with_capacity(row.len() + 1);
        if text.trim().is_empty() {
            cells.extend(shift(row, w));
        } else {
            cells.push(Cell::new(0, Piece::Edge(text)));
            cells.extend(shift(row, w));
        }
        b.push(cells);
    }
    b
}

#[cfg(test)]
mod tests;
