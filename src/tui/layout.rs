//! Screen layout: six panes on wide terminals, one pane with tabs on narrow
//! ones, one zoomed pane on request. Works at any size down to 1×1.

use ratatui::layout::{Constraint, Layout, Rect};

use super::ui_state::PaneId;

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

/// Splits the screen.
pub fn compute(area: Rect, focus: PaneId, zoom: bool) -> Areas {
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
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(52), Constraint::Percentage(48)]).areas(body);
    let [graph, bus] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(left);
    let [tasks, detail, bottom] = Layout::vertical([
        Constraint::Percentage(38),
        Constraint::Percentage(37),
        Constraint::Percentage(25),
    ])
    .areas(right);
    let [budgets, debate] =
        Layout::horizontal([Constraint::Percentage(66), Constraint::Percentage(34)]).areas(bottom);
    Areas {
        panes: vec![
            (PaneId::Graph, graph),
            (PaneId::Bus, bus),
            (PaneId::Tasks, tasks),
            (PaneId::Detail, detail),
            (PaneId::Budgets, budgets),
            (PaneId::Debate, debate),
        ],
        tabs: None,
        status: Some(status),
    }
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
