//! Status bar: run badge, elapsed time, progress, throughput and key hints
//! drawn from the keymap for the current context.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{fmt_clock, fmt_tokens, put_line};
use crate::text;
use crate::tui::hints;
use crate::tui::keymap::Context;
use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::ViewModel;

/// Columns kept for key hints before optional statistics are added.
const HINT_ROOM: usize = 34;

/// Draws the one-row status bar.
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    vm: &ViewModel,
    ui: &UiState,
    theme: &Theme,
    context: Context,
) {
    if area.height == 0 {
        return;
    }
    buf.set_style(area, theme.status_bar);
    let width = area.width as usize;
    let phase = vm.phase();
    // Waiting for the user says for what, so the user knows which key answers.
    let label = match vm.waiting_for() {
        Some(w) => format!("{} · {}", phase.label(), w.label()),
        None => phase.label().to_owned(),
    };
    let badge = if vm.replay {
        format!(" REPLAY · {label} ")
    } else {
        format!(" {label} ")
    };
    // A replay with controls shows where it is instead of the run clock.
    let clock = match &ui.replay {
        Some(r) => Span::styled(r.label(width < 100), theme.accent),
        None => Span::styled(
            format!(" {} ", fmt_clock(vm.elapsed_us(ui.now_us))),
            theme.status_bar,
        ),
    };
    let mut spans = vec![
        Span::styled(badge, theme.badge(phase, vm.replay)),
        clock,
        Span::styled(
            format!("{}/{} done", vm.completed, vm.tasks.len()),
            theme.status_bar,
        ),
    ];
    if vm.failed > 0 {
        spans.push(Span::styled(
            format!(" · {} failed", vm.failed),
            theme.error,
        ));
    }
    if !vm.gates.is_empty() {
        spans.push(Span::styled(
            format!(
                " · ⚑ {} gate{}",
                vm.gates.len(),
                if vm.gates.len() == 1 { "" } else { "s" }
            ),
            theme.warn,
        ));
    }
    // Optional statistics, most useful first, only while hints keep their room.
    let live = vm.ended.is_none();
    let optional = [
        (vm.in_progress > 0 && vm.ended.is_none()).then(|| format!(" · {} live", vm.in_progress)),
        Some(format!(" · {} tok", fmt_tokens(vm.total_usage.total()))),
        // Current rates fall to 0 when nothing happens; the average is the
        // whole run's, and says so.
        // whole run's, and says so. A run that ended has no current rate.
        live.then(|| format!(" · {:.0} tok/s now", vm.token_rate_now(ui.now_us))),
        Some(if live {
            format!(
                " · {:.0} tasks/min now, {:.1} avg",
                vm.tasks_per_minute_now(ui.now_us),
                vm.tasks_per_minute(ui.now_us)
            )
        } else {
            format!(" · {:.1} tasks/min avg", vm.tasks_per_minute(ui.now_us))
        }),
        ui.step_mode.then(|| " · step mode".to_owned()),
    ];
    let mut used: usize = spans.iter().map(Span::width).sum();
    for s in optional.into_iter().flatten() {
        let w = text::width(&s);
        if used + w + HINT_ROOM > width {
            break;
        }
        used += w;
        spans.push(Span::styled(s, theme.status_bar));
    }
    spans.push(Span::raw("   "));
    used += 3;
    let room = width.saturating_sub(used);
    if let Some(msg) = ui.current_flash() {
        spans.push(Span::styled(msg.to_owned(), theme.warn));
    } else if matches!(
        ui.overlay,
        Some(crate::tui::ui_state::Overlay::Filter {
            target: crate::tui::ui_state::FilterTarget::Seek,
            ..
        })
    ) {
        // The seek prompt above lists its own keys.
    } else {
        // Whole hints only: those possible now, the keys that answer what
        // the run waits for first (see `hints::global`).
        let mut hints = if context == Context::Global {
            hints::global(vm, ui)
        } else {
            ui.keymap.bindings(context).filter(|b| b.hint).collect()
        };
        if context == Context::Global && vm.replay {
            // Replay keys first; keys that would change the run are off.
            hints.retain(|b| crate::tui::replay::read_only_message(b.action).is_none());
            if ui.replay.is_some() {
                let replay = ui.keymap.bindings(Context::Replay).filter(|b| b.hint);
                hints.splice(0..0, replay);
            }
        }
        let mut w = 0;
        for b in hints {
            let key = b.keys[0].label();
            let name = hints::name(vm, b);
            let need = text::width(&key) + text::width(name) + 3;
            if w + need > room {
                break;
            }
            w += need;
            spans.push(Span::styled(key, theme.key));
            spans.push(Span::styled(format!(" {name}  "), theme.status_bar));
        }
    }
    put_line(buf, area, 0, &Line::from(spans));
}

#[cfg(test)]
mod tests;
