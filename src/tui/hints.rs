//! Which keys make sense now: the status-bar hints, the offers under a
//! held task and the refusals of actions the run can no longer take all
//! come from what the run and the selection allow at this moment.

use super::keymap::{Action, Binding, Context, Keymap};
use super::ui_state::UiState;
use super::view_model::ViewModel;
use crate::event::TaskState;

/// Why `action` cannot do anything because the run has ended, if so
/// (said at once, before any dialog opens).
pub fn ended_refusal(vm: &ViewModel, action: Action) -> Option<String> {
    if vm.replay || vm.started_us.is_none() || vm.phase().is_live() {
        return None;
    }
    let what = match action {
        Action::PauseResume => "nothing to pause or resume",
        Action::Retry => "nothing to retry",
        Action::Reroute => "nothing to reroute",
        Action::Approve | Action::Deny => "no gate waits",
        Action::Cancel => "nothing to cancel",
        Action::Inject => "nothing reads the bus any more",
        Action::StepDebate | Action::ToggleStep => "no debate to step",
        Action::RaiseBudget => "no budget to raise",
        Action::SubmitTask => "nothing takes new tasks",
        _ => return None,
    };
    Some(format!(
        "the run has ended ({}): {what}",
        vm.phase().label().to_lowercase()
    ))
}

/// True when `action` can do something now (the hints show it).
pub fn possible(vm: &ViewModel, ui: &UiState, action: Action) -> bool {
    if ended_refusal(vm, action).is_some() {
        return false;
    }
    let selected = ui.selected_task(vm);
    match action {
        Action::PauseResume => !vm.replay,
        Action::Retry => selected.is_some_and(|t| t.state == TaskState::Failed),
        Action::Reroute | Action::Cancel => {
            selected.is_some_and(|t| !t.state.is_terminal() || vm.is_held(t))
        }
        Action::Approve | Action::Deny | Action::ReviewGate => !vm.gates.is_empty(),
        Action::RaiseBudget => vm.paused_for_budget(),
        Action::StepDebate => vm.debates.waiting.is_some(),
        _ => true,
    }
}

/// The name a hint shows: `resume` for the pause key while paused.
pub fn name(vm: &ViewModel, b: &Binding) -> &'static str {
    match b.action {
        Action::PauseResume if vm.paused => "resume",
        _ => b.name,
    }
}

/// Main-screen hints in the order the status bar tries them: the keys
/// that answer what the run waits for first, then the table's hints that
/// are possible now.
pub fn global<'a>(vm: &ViewModel, ui: &'a UiState) -> Vec<&'a Binding> {
    let urgent = |a: Action| match a {
        Action::Approve | Action::Deny | Action::ReviewGate => 0,
        Action::RaiseBudget | Action::StepDebate => 0,
        Action::Retry | Action::Reroute | Action::Cancel if vm.held > 0 => 1,
        Action::PauseResume if vm.paused => 1,
        _ => 2,
    };
    let mut hints: Vec<&Binding> = ui
        .keymap
        .bindings(Context::Global)
        .filter(|b| match b.action {
            // Offered only when they answer something waiting.
            Action::RaiseBudget | Action::StepDebate => possible(vm, ui, b.action),
            // A held task's own keys, though not hints in the table.
            Action::Cancel => vm.held > 0 && possible(vm, ui, b.action),
            _ => b.hint && possible(vm, ui, b.action),
        })
        .collect();
    hints.sort_by_key(|b| urgent(b.action));
    hints
}

/// What a held task's detail can offer now, as `r retry · R reroute · c
/// cancel` with the keys in use; `None` once the run has ended (or the
/// task is not held). For the Detail pane's held line, which still
/// writes its own.
#[cfg_attr(not(test), allow(dead_code))]
pub fn held_offers(
    vm: &ViewModel,
    keymap: &Keymap,
    t: &super::view_model::TaskView,
) -> Option<String> {
    if !vm.is_held(t) || vm.replay {
        return None;
    }
    let parts: Vec<String> = [Action::Retry, Action::Reroute, Action::Cancel]
        .into_iter()
        .filter_map(|a| {
            let b = keymap.bindings(Context::Global).find(|b| b.action == a)?;
            Some(format!("{} {}", b.keys.first()?.label(), b.name))
        })
        .collect();
    Some(parts.join(" · "))
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use tokio::sync::mpsc::unbounded_channel;

    use super::*;
    use crate::event::{Event, EventKind, RunStatus, Usage};
    use crate::tui::app::App;
    use crate::tui::test_support;
    use crate::tui::theme::Theme;
    use crate::tui::ui_state::Overlay;

    fn ended(app: &mut App) {
        app.apply(&Event {
            seq: 10_000,
            ts: test_support::T0 + 2_000_000,
            session: "s".into(),
            kind: EventKind::SessionEnded {
                status: RunStatus::Failed,
                output: None,
                error: Some("boom".into()),
                usage: Usage::default(),
                wall_ms: 1.0,
            },
        });
    }

    fn app() -> App {
        let (tx, _rx) = unbounded_channel();
        let mut app = App::new(
            test_support::info(),
            Some(tx),
            Theme::builtin("dark").unwrap(),
            false,
        );
        for e in &test_support::script().events {
            app.apply(e);
        }
        app.ui.now_us = test_support::T0 + 3_000_000;
        app.ui.prepare(&app.vm);
        app
    }

    #[test]
    fn reroute_and_inject_on_a_finished_run_refuse_at_once() {
        let mut a = app();
        ended(&mut a);
        for c in ['R', 'i', 'c'] {
            a.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
            assert!(
                a.ui.overlay.is_none(),
                "{c} opened a dialog on a finished run"
            );
            let flash = a.ui.current_flash().unwrap_or_default().to_owned();
            assert!(flash.contains("the run has ended (failed)"), "{c}: {flash}");
        }
    }

    #[test]
    fn a_held_task_offers_its_keys_only_while_the_run_is_live() {
        let mut a = app();
        let t = a.vm.task("fanout/summarize[2]").unwrap();
        assert_eq!(
            held_offers(&a.vm, &a.ui.keymap, t).as_deref(),
            Some("r retry · R reroute · c cancel")
        );
        // Live: R on the held task opens the picker.
        let pos = a.vm.task_position("fanout/summarize[2]").unwrap();
        a.ui.follow = false;
        a.ui.task_sel = a.ui.task_rows.iter().position(|&i| i == pos).unwrap();
        a.handle_key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::NONE));
        assert!(matches!(a.ui.overlay, Some(Overlay::Reroute { .. })));
        a.ui.overlay = None;
        ended(&mut a);
        let t = a.vm.task("fanout/summarize[2]").unwrap();
        assert_eq!(held_offers(&a.vm, &a.ui.keymap, t), None);
        assert!(!possible(&a.vm, &a.ui, Action::Retry));
    }

    #[test]
    fn detail_stops_offering_retry_once_the_run_ended() {
        let mut a = app();
        let pos = a.vm.task_position("fanout/summarize[2]").unwrap();
        a.ui.follow = false;
        a.ui.task_sel = a.ui.task_rows.iter().position(|&i| i == pos).unwrap();
        a.ui.prepare(&a.vm);
        let offers = |a: &App| a.ui.detail.lines.iter().any(|(_, l)| l.contains("r retry"));
        assert!(offers(&a), "a held task offers retry while the run is live");
        ended(&mut a);
        a.ui.prepare(&a.vm);
        assert!(!offers(&a), "the same Detail after the run ended");
    }
}
