//! Yes/no confirmation (quit while running, cancel a task).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{centered, hints, popup};
use crate::tui::keymap::{Context, Keymap};
use crate::tui::theme::Theme;
use crate::tui::ui_state::ConfirmKind;
use crate::tui::view_model::ViewModel;

/// The question asked.
pub fn question(vm: &ViewModel, kind: &ConfirmKind) -> String {
    match kind {
        ConfirmKind::Quit if vm.replay => "Leave the replay?".to_owned(),
        ConfirmKind::Quit => format!(
            "The run is {} with {} task(s) in progress. Quit the cockpit anyway?",
            vm.phase().label().to_lowercase(),
            vm.in_progress
        ),
        ConfirmKind::CancelTask(t) => format!(
            "Cancel task {t}? It is cancelled and its work so far is discarded; {}.",
            cancel_effect(vm, t)
        ),
    }
}

/// What cancelling `task` does to the run: the first container up from
/// its node that can live without it (a `parallel` joining any, or k of n)
/// goes on; one that needs it (joining all, a `map`, a sequence) fails
/// with it, and when nothing up to the top can do without it the run
/// ends cancelled.
pub fn cancel_effect(vm: &ViewModel, task: &str) -> String {
    let info = &vm.info;
    let mut at = vm.task(task).and_then(|t| t.node);
    let mut needs: Option<String> = None;
    // Containment may share a node (a gate's subject): bounded walk.
    for _ in 0..info.nodes.len() {
        let Some(parent) = at.and_then(|i| info.parent_of(i)) else {
            break;
        };
        let p = &info.nodes[parent];
        match (p.kind, info.joins.get(&p.id).map(String::as_str)) {
            ("parallel", Some("all")) | ("parallel", None) => {
                needs.get_or_insert_with(|| format!("parallel `{}` joins all", p.id));
            }
            ("parallel" | "map", Some(join)) if join.starts_with("all settled") => {
                let first = match &needs {
                    Some(n) => format!("{n}; "),
                    None => String::new(),
                };
                return format!(
                    "{first}{} `{}` joins {join}: it keeps the cancel as that branch's error, and goes on unless too few succeed",
                    p.kind, p.id
                );
            }
            ("parallel", Some(join)) => {
                let first = match &needs {
                    Some(n) => format!("{n}; "),
                    None => String::new(),
                };
                return format!(
                    "{first}parallel `{}` joins {join}, so it goes on with its other branches while enough can still succeed",
                    p.id
                );
            }
            ("map", _) => {
                needs.get_or_insert_with(|| format!("map `{}` needs every item", p.id));
            }
            _ => {}
        }
        at = Some(parent);
    }
    match needs {
        Some(n) => format!("{n}, so the run ends cancelled"),
        None => "nothing can go on without it, so the run ends cancelled".to_owned(),
    }
}

/// Draws the dialog.
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    keys: &Keymap,
    vm: &ViewModel,
    kind: &ConfirmKind,
    theme: &Theme,
) {
    let r = centered(area, 64, 9);
    let inner = popup(
        r,
        buf,
        "Confirm",
        Some(hints(keys, Context::Confirm, theme)),
        theme,
    );
    Paragraph::new(Line::styled(question(vm, kind), theme.text))
        .wrap(Wrap { trim: true })
        .render(inner, buf);
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::event::EventKind;
    use crate::tui::render;
    use crate::tui::test_support::Script;
    use crate::tui::theme::Theme;
    use crate::tui::ui_state::{Overlay, UiState};
    use crate::tui::view_model::{NodeInfo, WorkflowInfo};

    fn node(id: &str, kind: &'static str, children: Vec<usize>) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            title: id.into(),
            kind,
            children,
            runner: None,
        }
    }

    /// main → parallel `fan` (a, b) joining `join`; task b held.
    fn vm(join: &str) -> ViewModel {
        let mut info = WorkflowInfo::new(
            "fan",
            0,
            vec![
                node("main", "sequence", vec![1]),
                node("fan", "parallel", vec![2, 3]),
                node("a", "agent", vec![]),
                node("b", "agent", vec![]),
            ],
            vec![],
        );
        info.joins.insert("fan".into(), join.into());
        let mut s = Script::default();
        s.start_task("a", "a", "w", 10);
        s.start_task("b", "b", "w", 10);
        let mut vm = ViewModel::new(info);
        for e in &s.events {
            vm.apply(e);
        }
        vm.apply(&crate::event::Event {
            seq: 999,
            ts: s.now,
            session: "s".into(),
            kind: EventKind::SessionStarted {
                workflow: "fan".into(),
                seed: 1,
                entry: "main".into(),
                agents: vec![],
            },
        });
        vm
    }

    #[test]
    fn the_cancel_question_says_what_happens_to_the_node_and_the_run() {
        let q = question(&vm("all"), &ConfirmKind::CancelTask("b".into()));
        assert_eq!(
            q,
            "Cancel task b? It is cancelled and its work so far is discarded; parallel `fan` joins all, so the run ends cancelled."
        );
        let q = question(&vm("any"), &ConfirmKind::CancelTask("b".into()));
        assert!(q.contains("parallel `fan` joins any, so it goes on"), "{q}");
        assert!(!q.contains("run ends"), "{q}");
        let vm = vm("all");
        for (w, h) in [(120, 40), (80, 24)] {
            let mut ui = UiState::default();
            ui.overlay = Some(Overlay::Confirm {
                kind: ConfirmKind::CancelTask("b".into()),
            });
            let mut t = Terminal::new(TestBackend::new(w, h)).expect("backend");
            let theme = Theme::builtin("dark").expect("dark");
            t.draw(|f| render::draw(f, &vm, &mut ui, &theme))
                .expect("draw");
            insta::assert_snapshot!(
                format!("confirm_cancel_join_all_{w}x{h}"),
                t.backend().to_string()
            );
        }
    }
}
