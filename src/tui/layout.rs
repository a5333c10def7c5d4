//! Screen layout: six panes on wide terminals, one pane with tabs on narrow
//! ones, one zoomed pane on request. Works at any size down to 1×1.
//!
//! On wide terminals panes get room by what they hold ([`Content`]): the
//! graph as many rows as its drawing needs (within bounds), the budgets as
//! many as their gauges; when a debate or vote exists the Debate pane sits
//! under the graph at the left column's full width, so its decision reads
//! whole, and when none exists it is a narrow strip beside the budgets.
//! The user's [`Splits`] (Alt-arrows) move the column split and each
//! pane's height from there.

use ratatui::layout::{Constraint, Layout, Rect};

use super::splits::Splits;
use super::ui_state::PaneId;
use super::view_model::ViewModel;

/// Below this width the cockpit shows one pane at a time, with tabs.
pub const WIDE_MIN_WIDTH: u16 = 100;
/// Below this height likewise (six panes need some rows each).
pub const WIDE_MIN_HEIGHT: u16 = 20;

/// Where everything goes this frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Areas {
    /// Panes and their outer rectangles.
    pub panes: Vec<(PaneId, Rect)>,
    /// Tab bar, in single-pane mode.
    pub tabs: Option<Rect>,
    /// Status bar.
    pub status: Option<Rect>,
}

/// What the panes hold, as far as their size goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Content {
    /// A debate or vote exists (in the workflow or in the events).
    pub debate: bool,
    /// Rows the graph's drawing wants (inside its border).
    pub graph_rows: usize,
    /// Rows the budgets pane wants (header, gauges, sparkline).
    pub budget_rows: usize,
}

impl Default for Content {
    fn default() -> Self {
        Content {
            debate: false,
            graph_rows: 12,
            budget_rows: 8,
        }
    }
}

impl Content {
    /// What the view model holds now.
    pub fn of(vm: &ViewModel) -> Content {
        let limited = vm.budget.scopes.len();
        Content {
            debate: vm.info.has_debate()
                || vm.debates.row_count > 0
                || !vm.debates.decisions.is_empty()
                || !vm.swarm_records.is_empty()
                || !vm.chat_records.is_empty(),
            // The drawing takes about a row per node plus its references.
            graph_rows: vm.info.nodes.len().max(vm.nodes.len()) + 2,
            // Header, a row per agent and limit, the sparkline.
            budget_rows: 1 + vm.agents.len() + limited + 2,
        }
    }
}

/// Splits the screen with the default sizes.
#[cfg(test)]
pub fn compute(area: Rect, focus: PaneId, zoom: bool) -> Areas {
    compute_with(area, focus, zoom, &Content::default(), &Splits::default())
}

/// Splits the screen by content and the user's splits.
pub fn compute_with(
    area: Rect,
    focus: PaneId,
    zoom: bool,
    content: &Content,
    splits: &Splits,
) -> Areas {
    if area.width == 0 || area.height == 0 {
        return Areas::default();
    }
    let status = Rect::new(area.x, area.bottom() - 1, area.width, 1);
    let body = Rect::new(area.x, area.y, area.width, area.height - 1);
    if body.height < 3 {
        // No room for a bordered pane: the status bar alone still tells the state.
        return Areas {
            panes: Vec::new(),
            tabs: None,
            status: Some(status),
        };
    }
    let wide = area.width >= WIDE_MIN_WIDTH && area.height >= WIDE_MIN_HEIGHT;
    if zoom && wide {
        return Areas {
            panes: vec![(focus, body)],
            tabs: None,
            status: Some(status),
        };
    }
    if !wide || zoom {
        let tabs = Rect::new(body.x, body.y, body.width, 1);
        let pane = Rect::new(body.x, body.y + 1, body.width, body.height - 1);
        return Areas {
            panes: vec![(focus, pane)],
            tabs: Some(tabs),
            status: Some(status),
        };
    }
    let left_pct = (52 + splits.column).clamp(20, 80) as u16;
    let [left, right] = Layout::horizontal([
        Constraint::Percentage(left_pct),
        Constraint::Percentage(100 - left_pct),
    ])
    .areas(body);
    let h = body.height as usize;
    let mut panes = Vec::with_capacity(6);
    // Left: the graph as tall as its drawing (a quarter to 60 % of the
    // column), then the debate when one exists, then the bus.
    let graph = (content.graph_rows + 2).clamp(h / 4, h * 3 / 5);
    let mut left_col = vec![(PaneId::Graph, graph)];
    if content.debate {
        left_col.push((PaneId::Debate, (h * 2 / 5).max(8)));
    }
    left_col.push((PaneId::Bus, 0));
    panes.extend(stack(left, &left_col, splits));
    // Right: tasks and detail share what the budgets leave.
    let budgets = (content.budget_rows + 2).clamp(5, (h * 2 / 5).max(5));
    let rest = h.saturating_sub(budgets);
    let right_col = [
        (PaneId::Tasks, rest / 2),
        (PaneId::Detail, 0),
        (PaneId::Budgets, budgets),
    ];
    let mut right_panes = stack(right, &right_col, splits);
    if !content.debate {
        // No debate: a narrow strip beside the budgets says so.
        if let Some(i) = right_panes.iter().position(|(p, _)| *p == PaneId::Budgets) {
            let r = right_panes[i].1;
            let strip = (r.width / 4).clamp(12, 24).min(r.width / 2);
            let [b, d] =
                Layout::horizontal([Constraint::Min(1), Constraint::Length(strip)]).areas(r);
            right_panes[i].1 = b;
            right_panes.push((PaneId::Debate, d));
        }
    }
    panes.extend(right_panes);
    // Key order, as the hit map and the tests expect.
    panes.sort_by_key(|(p, _)| p.number());
    Areas {
        panes,
        tabs: None,
        status: Some(status),
    }
}

/// Stacks panes in a column: each its wanted rows (0: what is left) plus
/// the user's rows, every pane at least 3 rows, the column filled.
fn stack(col: Rect, want: &[(PaneId, usize)], splits: &Splits) -> Vec<(PaneId, Rect)> {
    const MIN: i32 = 3;
    let total = col.height as i32;
    let flex = want
        .iter()
        .position(|(_, w)| *w == 0)
        .unwrap_or(want.len() - 1);
    let mut rows: Vec<i32> = want
        .iter()
        .map(|(p, w)| *w as i32 + i32::from(splits.rows_of(*p)))
        .collect();
    // The flexible pane takes what the others leave; growing it takes
    // from its neighbour above.
    let fixed: i32 = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != flex)
        .map(|(_, r)| (*r).max(MIN))
        .sum();
    let grow = i32::from(splits.rows_of(want[flex].0));
    rows[flex] = total - fixed;
    if grow != 0 && flex > 0 {
        let moved = grow
            .min(rows[flex - 1].max(MIN) - MIN)
            .max(-(rows[flex] - MIN).max(0));
        rows[flex - 1] = rows[flex - 1].max(MIN) - moved;
        rows[flex] += moved;
    }
    // Too little room: every pane keeps its minimum, the lowest give first.
    for r in rows.iter_mut() {
        *r = (*r).max(MIN);
    }
    let mut over = rows.iter().sum::<i32>() - total;
    for r in rows.iter_mut().rev() {
        if over <= 0 {
            break;
        }
        let cut = over.min((*r - MIN).max(0));
        *r -= cut;
        over -= cut;
    }
    let mut y = col.y;
    let mut out = Vec::with_capacity(want.len());
    for (i, (p, _)) in want.iter().enumerate() {
        let h = rows[i].clamp(0, (col.bottom() - y) as i32) as u16;
        out.push((*p, Rect::new(col.x, y, col.width, h)));
        y += h;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_shows_six_panes_inside_the_screen() {
        let area = Rect::new(0, 0, 120, 40);
        let a = compute(area, PaneId::Tasks, false);
        assert_eq!(a.panes.len(), 6);
        for (_, r) in &a.panes {
            assert!(
                area.contains(r.as_position()) && r.right() <= 120 && r.bottom() <= 39,
                "{r:?}"
            );
        }
        assert_eq!(a.status, Some(Rect::new(0, 39, 120, 1)));
    }

    #[test]
    fn narrow_and_zoom_show_one_pane() {
        let a = compute(Rect::new(0, 0, 80, 24), PaneId::Bus, false);
        assert_eq!(a.panes, vec![(PaneId::Bus, Rect::new(0, 1, 80, 22))]);
        assert!(a.tabs.is_some());
        let z = compute(Rect::new(0, 0, 150, 50), PaneId::Graph, true);
        assert_eq!(z.panes, vec![(PaneId::Graph, Rect::new(0, 0, 150, 49))]);
    }

    #[test]
    fn tiny_sizes_degrade() {
        assert_eq!(
            compute(Rect::new(0, 0, 0, 0), PaneId::Bus, false),
            Areas::default()
        );
        let a = compute(Rect::new(0, 0, 1, 1), PaneId::Bus, false);
        assert!(a.panes.is_empty());
        assert_eq!(a.status, Some(Rect::new(0, 0, 1, 1)));
    }
}

#[cfg(test)]
mod content_tests {
    use super::*;

    fn pane(a: &Areas, p: PaneId) -> Rect {
        a.panes.iter().find(|(x, _)| *x == p).expect("pane").1
    }

    fn no_overlap(a: &Areas, area: Rect) {
        for (i, (p, r)) in a.panes.iter().enumerate() {
            assert!(
                r.right() <= area.right() && r.bottom() < area.bottom(),
                "{p:?} {r:?}"
            );
            assert!(r.height >= 3 && r.width >= 3, "{p:?} {r:?}");
            for (q, o) in &a.panes[i + 1..] {
                assert!(
                    r.intersection(*o).is_empty(),
                    "{p:?} {r:?} overlaps {q:?} {o:?}"
                );
            }
        }
        let cells: u32 = a.panes.iter().map(|(_, r)| r.area()).sum();
        assert_eq!(
            cells,
            u32::from(area.width) * u32::from(area.height - 1),
            "the body is filled"
        );
    }

    #[test]
    fn a_debate_gets_the_left_columns_width_and_none_a_strip() {
        let area = Rect::new(0, 0, 120, 40);
        let small = Content {
            debate: false,
            graph_rows: 9,
            budget_rows: 8,
        };
        let a = compute_with(area, PaneId::Tasks, false, &small, &Splits::default());
        no_overlap(&a, area);
        assert!(
            pane(&a, PaneId::Debate).width <= 24,
            "{:?}",
            pane(&a, PaneId::Debate)
        );
        // A 7-node tree is not given half the screen.
        assert!(
            pane(&a, PaneId::Graph).height <= 12,
            "{:?}",
            pane(&a, PaneId::Graph)
        );
        let with = Content {
            debate: true,
            ..small
        };
        let d = compute_with(area, PaneId::Tasks, false, &with, &Splits::default());
        no_overlap(&d, area);
        let debate = pane(&d, PaneId::Debate);
        assert!(debate.width >= 60 && debate.height >= 12, "{debate:?}");
        for (w, h) in [(100, 20), (160, 50), (250, 80)] {
            let area = Rect::new(0, 0, w, h);
            no_overlap(
                &compute_with(area, PaneId::Bus, false, &with, &Splits::default()),
                area,
            );
            no_overlap(
                &compute_with(area, PaneId::Bus, false, &small, &Splits::default()),
                area,
            );
        }
    }

    #[test]
    fn the_users_splits_move_the_column_and_the_focused_pane() {
        let area = Rect::new(0, 0, 160, 50);
        let c = Content::default();
        let base = compute_with(area, PaneId::Tasks, false, &c, &Splits::default());
        let mut s = Splits::default();
        s.move_column(true);
        s.grow(PaneId::Tasks, true);
        s.grow(PaneId::Tasks, true);
        s.grow(PaneId::Bus, true);
        let moved = compute_with(area, PaneId::Tasks, false, &c, &s);
        no_overlap(&moved, area);
        assert!(pane(&moved, PaneId::Graph).width > pane(&base, PaneId::Graph).width);
        assert_eq!(
            pane(&moved, PaneId::Tasks).height,
            pane(&base, PaneId::Tasks).height + 2
        );
        assert_eq!(
            pane(&moved, PaneId::Bus).height,
            pane(&base, PaneId::Bus).height + 1
        );
        // Extreme splits still leave every pane on screen.
        let mut far = Splits::default();
        for _ in 0..50 {
            far.move_column(false);
            far.grow(PaneId::Graph, true);
            far.grow(PaneId::Detail, false);
        }
        no_overlap(&compute_with(area, PaneId::Graph, false, &c, &far), area);
    }
}
