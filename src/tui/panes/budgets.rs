//! Token usage: a gauge per agent (share of the run's tokens), the total,
//! and a tokens-per-second sparkline.
//!
//! The workflow model has no token limits yet, so gauges show each agent's
//! share of the run rather than pretending to know a budget.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{fit, fmt_tokens, put_line};
use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::ViewModel;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Draws the total line, one gauge per agent and the rate sparkline.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, _ui: &UiState, theme: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let total = vm.total_usage.total();
    let rate = vm.recent_token_rate(10);
    let mut head = vec![
        Span::styled("total ", theme.muted),
        Span::styled(fmt_tokens(total), theme.accent),
        Span::styled(format!(" tok · {rate:.0} tok/s"), theme.muted),
    ];
    let split = format!(
        " · {} in · {} out",
        fmt_tokens(vm.total_usage.prompt_tokens),
        fmt_tokens(vm.total_usage.completion_tokens)
    );
    if head.iter().map(Span::width).sum::<usize>() + split.chars().count() <= area.width as usize {
        head.push(Span::styled(split, theme.muted));
    }
    put_line(buf, area, 0, &Line::from(head));
    let name_w = vm
        .agents
        .iter()
        .map(|a| a.id.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 16);
    let right_w = 16;
    let bar_w = (area.width as usize)
        .saturating_sub(name_w + 1 + right_w)
        .min(40);
    let max = vm
        .agents
        .iter()
        .map(|a| a.usage.total())
        .max()
        .unwrap_or(0)
        .max(1);
    // Leave at least two rows for the sparkline when the pane is tall enough.
    let spark_rows: u16 = if area.height >= 8 { 2 } else { 0 };
    let gauge_rows = area.height.saturating_sub(1 + spark_rows) as usize;
    for (y, a) in vm.agents.iter().take(gauge_rows).enumerate() {
        let used = a.usage.total();
        let filled = ((used as f64 / max as f64) * bar_w as f64).round() as usize;
        let share = if total == 0 {
            0.0
        } else {
            used as f64 * 100.0 / total as f64
        };
        let mut bar = String::with_capacity(bar_w * 3);
        bar.extend(std::iter::repeat_n('█', filled.min(bar_w)));
        let mut rest = String::with_capacity(bar_w * 3);
        rest.extend(std::iter::repeat_n('░', bar_w - filled.min(bar_w)));
        let live = if a.active > 0 {
            format!(" ⟳{}", a.active)
        } else {
            String::new()
        };
        put_line(
            buf,
            area,
            1 + y as u16,
            &Line::from(vec![
                Span::styled(fit(&a.id, name_w), theme.text),
                Span::raw(" "),
                Span::styled(bar, theme.budget(0.0)),
                Span::styled(rest, theme.muted),
                Span::styled(
                    format!(" {:>6} {share:>3.0}%", fmt_tokens(used)),
                    theme.text,
                ),
                Span::styled(live, theme.task_state(crate::event::TaskState::InProgress)),
            ]),
        );
    }
    if spark_rows > 0 {
        let spark = Rect::new(area.x, area.bottom() - spark_rows, area.width, spark_rows);
        render_sparkline(spark, buf, &vm.token_rate, theme);
    }
}

/// Multi-row sparkline of the newest values, right-aligned, with a label.
fn render_sparkline(area: Rect, buf: &mut Buffer, data: &[u64], theme: &Theme) {
    let label = "tok/s ";
    put_line(
        buf,
        area,
        area.height - 1,
        &Line::styled(label, theme.muted),
    );
    let x0 = area.x + label.len() as u16;
    let w = area.right().saturating_sub(x0) as usize;
    if w == 0 || data.is_empty() {
        return;
    }
    let shown = &data[data.len().saturating_sub(w)..];
    let max = shown.iter().copied().max().unwrap_or(0).max(1);
    let rows = area.height as u64;
    let levels = rows * 8;
    for (i, &v) in shown.iter().enumerate() {
        // Scale to eighths of a cell across all rows.
        let mut h = (v * levels).div_ceil(max);
        if v > 0 {
            h = h.max(1);
        }
        for r in 0..rows {
            let fill = h.saturating_sub(r * 8).min(8);
            if fill == 0 {
                break;
            }
            let y = area.bottom() - 1 - r as u16;
            if let Some(cell) = buf.cell_mut((x0 + i as u16, y)) {
                cell.set_char(BARS[fill as usize - 1])
                    .set_style(theme.accent);
            }
        }
    }
}
