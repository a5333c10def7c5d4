//! The Workers view (in the Graph pane, `W`): the `agentctl worker`s a
//! scale-out run (`--nats`) used, one row each: what it serves, what it
//! runs now, what it did for this run, and whether it is heard from.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::event::{TaskState, WorkerState};
use crate::run_state::WorkerRow;
use crate::tui::panes::{fit, fmt_ms, put_line};
use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::ViewModel;

/// Column widths: id, host, serves, in flight, ran, done, failed (the
/// state last: the row fits 80 columns).
const COLS: [usize; 7] = [13, 10, 12, 5, 5, 5, 5];

/// Rows the view has (the header, then a worker each).
pub fn len(vm: &ViewModel) -> usize {
    vm.workers.rows.len() + 1
}

/// The view's title.
pub fn title(vm: &ViewModel) -> String {
    let w = &vm.workers;
    let lost = w
        .rows
        .iter()
        .filter(|r| r.state == WorkerState::Lost)
        .count();
    let mut t = format!("Workers · {} live of {}", w.live(), w.rows.len());
    if lost > 0 {
        t.push_str(&format!(" · {lost} lost"));
    }
    t
}

/// Draws the visible rows.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    if vm.workers.is_empty() {
        put_line(
            buf,
            area,
            0,
            &Line::styled(
                "no workers: this run keeps its agents in-process (run with --nats to use workers)",
                theme.muted,
            ),
        );
        return;
    }
    let h = area.height as usize;
    put_line(buf, area, 0, &header(theme));
    let rows = &vm.workers.rows;
    let top = ui
        .graph_scroll
        .min(rows.len().saturating_sub(h.saturating_sub(1)));
    for (y, w) in rows.iter().skip(top).take(h.saturating_sub(1)).enumerate() {
        put_line(buf, area, y as u16 + 1, &row(w, ui.now_us, theme));
    }
}

fn cell(text: &str, width: usize) -> String {
    format!("{} ", fit(text, width))
}

fn header(theme: &Theme) -> Line<'static> {
    // `busy`: calls in flight of those it takes at once; `ran`: this
    // run's calls (↻ of them redelivered); `done`/`fail`: all it served.
    let names = ["  worker", "host", "serves", "busy", "ran", "done", "fail"];
    let mut s = String::new();
    for (n, w) in names.iter().zip(COLS) {
        s.push_str(&cell(n, w));
    }
    s.push_str("state");
    Line::styled(s, theme.muted)
}

fn row(w: &WorkerRow, now_us: u64, theme: &Theme) -> Line<'static> {
    let (glyph, style) = match w.state {
        WorkerState::Live if w.in_flight > 0 => ("◐", theme.task_state(TaskState::InProgress)),
        WorkerState::Live => ("●", theme.task_state(TaskState::Completed)),
        WorkerState::Lost => ("✗", theme.error),
        WorkerState::Stopped => ("○", theme.muted),
    };
    let since = fmt_ms(now_us.saturating_sub(w.last_us) as f64 / 1000.0);
    let state = match w.state {
        WorkerState::Live => "live".to_string(),
        WorkerState::Lost => format!("lost {since} ago"),
        WorkerState::Stopped => format!("stopped {since} ago"),
    };
    let ran = if w.redelivered > 0 {
        format!("{}↻{}", w.ran, w.redelivered)
    } else {
        w.ran.to_string()
    };
    let in_flight = format!("{}/{}", w.in_flight, w.concurrency);
    let host = if w.host.is_empty() { "?" } else { &w.host };
    let mut spans = vec![
        Span::styled(glyph, style),
        Span::raw(" "),
        Span::styled(cell(&w.id, COLS[0] - 2), style),
        Span::raw(cell(host, COLS[1])),
        Span::styled(cell(&w.serves(), COLS[2]), theme.muted),
        Span::raw(cell(&in_flight, COLS[3])),
        Span::raw(cell(&ran, COLS[4])),
        Span::raw(cell(&w.done.to_string(), COLS[5])),
    ];
    spans.push(if w.failures > 0 {
        Span::styled(cell(&w.failures.to_string(), COLS[6]), theme.error)
    } else {
        Span::raw(cell("0", COLS[6]))
    });
    spans.push(Span::styled(state, style));
    Line::from(spans)
}

#[cfg(test)]
mod tests;
