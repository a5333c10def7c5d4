//! Reroute picker: the agents able to take the selected task.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{centered, hints, popup};
use crate::event::Id;
use crate::tui::keymap::{Context, Keymap};
use crate::tui::panes::{fill_row, fit, put_line};
use crate::tui::theme::Theme;
use crate::tui::view_model::ViewModel;

/// The capability a task needs: its own, else its node's (`cap:<name>`
/// runners); `None` for a task addressed to a fixed agent.
pub fn capability<'a>(vm: &'a ViewModel, task: &str) -> Option<&'a str> {
    let t = vm.task(task)?;
    t.capability.as_deref().or_else(|| {
        let node = &vm.info.nodes[t.node?];
        node.runner.as_deref()?.strip_prefix("cap:")
    })
}

/// Agents that may take `task`: those with its capability (all agents when
/// it was addressed to a fixed agent), without its current agent.
pub fn candidates(vm: &ViewModel, task: &str) -> Vec<Id> {
    let Some(t) = vm.task(task) else {
        return Vec::new();
    };
    vm.info
        .capable_agents(capability(vm, task))
        .filter(|a| t.agent.as_ref() != Some(&a.id))
        .map(|a| a.id.clone())
        .collect()
}

/// What the picker shows: the task, the candidate agents, the highlighted one.
pub struct Picker<'a> {
    /// Task to move.
    pub task: &'a str,
    /// Candidate agents.
    pub agents: &'a [Id],
    /// Highlighted agent.
    pub sel: usize,
}

/// Draws the picker.
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    keys: &Keymap,
    vm: &ViewModel,
    picker: Picker<'_>,
    theme: &Theme,
) {
    let Picker { task, agents, sel } = picker;
    let h = (agents.len() as u16 + 4).clamp(6, 20);
    let r = centered(area, 72, h);
    let inner = popup(
        r,
        buf,
        "Reroute",
        Some(hints(keys, Context::Reroute, theme)),
        theme,
    );
    if inner.height == 0 {
        return;
    }
    let current = vm
        .task(task)
        .and_then(|t| t.agent.as_deref())
        .unwrap_or("-");
    let needs = capability(vm, task)
        .map(|c| format!(" · needs {c}"))
        .unwrap_or_default();
    put_line(
        buf,
        inner,
        0,
        &Line::from(vec![
            Span::styled(task, theme.text),
            Span::styled(format!(" (now on {current}{needs}) → "), theme.muted),
        ]),
    );
    if agents.is_empty() {
        put_line(
            buf,
            inner,
            1,
            &Line::styled("no other agent has the capability", theme.warn),
        );
        return;
    }
    let rows = inner.height.saturating_sub(1) as usize;
    let top = crate::tui::panes::scroll_to_show(sel, 0, rows, agents.len());
    for (y, id) in agents.iter().skip(top).take(rows).enumerate() {
        let a = vm.agent(id);
        let load = a.map_or(0, |a| a.active);
        let info = vm.info.agents.iter().find(|x| x.id == *id);
        let role = info.map_or("", |x| x.role.as_str());
        let caps = info.map(|x| x.capabilities.join(", ")).unwrap_or_default();
        let row = 1 + y as u16;
        put_line(
            buf,
            inner,
            row,
            &Line::from(vec![
                Span::styled(fit(id, 16), theme.text),
                Span::styled(fit(role, 10), theme.muted),
                Span::styled(format!("{load:>2} live  "), theme.muted),
                Span::styled(caps, theme.accent),
            ]),
        );
        if top + y == sel {
            fill_row(buf, inner, row, theme.selection);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::test_support;

    #[test]
    fn only_agents_with_the_capability_are_offered() {
        let vm = test_support::vm();
        // A summarize task (its node runs on `cap:summarize`) on summarizer_a.
        assert_eq!(capability(&vm, "fanout/summarize[3]"), Some("summarize"));
        let c = candidates(&vm, "fanout/summarize[3]");
        assert_eq!(c, vec![Id::from("summarizer_b"), Id::from("writer")]);
        assert!(
            !c.contains(&Id::from("researcher")),
            "researcher cannot summarize"
        );
    }
}
