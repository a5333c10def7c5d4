//! Budgets: the run's and each agent's gauges (tokens and money), coloured
//! by how close they are to their limits, quota waits, breaker states and a
//! tokens-per-second sparkline.
//!
//! A scope with a limit shows used/limit in the theme's budget ok / warn /
//! critical slot (warn from the workflow's `warn_at`, critical from 95 % or
//! once a call was refused). An agent without a limit shows its share of the
//! run's tokens, as bar and as number (the two always say the same).
//! Rows that do not fit are counted (`+2 more`) and scrolled with `j`/`k`
//! when the pane has focus.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Widget};

use super::{fit, fmt_ms, fmt_tokens, put_line};
use crate::event::BreakerState;
use crate::text;
use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::{BudgetGauge, BudgetLevel, GaugeLevel, ViewModel};

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Most columns kept for the numbers right of a bar.
const RIGHT_W: usize = 24;

/// One gauge row before layout.
struct Gauge {
    label: String,
    label_style: Style,
    /// Bar fill, 0–1.
    fill: f64,
    style: Style,
    right: String,
    right_style: Style,
    suffix: Option<(String, Style)>,
}

/// Draws the header, gauges, breaker and quota lines and the sparkline.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let mut y = 0u16;
    put_line(
        buf,
        area,
        y,
        &header(vm, ui.now_us, area.width as usize, theme),
    );
    y += 1;
    if vm.paused_for_budget() {
        put_line(buf, area, y, &pause_line(vm, ui, theme));
        y += 1;
    }
    let gauges = gauges(vm, theme);
    let extra = extras(vm, theme);
    // Rows: gauges first, then breaker/quota lines, then (if room) the sparkline.
    let spark_rows: u16 = if area.height >= y + gauges.len() as u16 + extra.len() as u16 + 2 {
        2
    } else {
        0
    };
    let room = area.height.saturating_sub(y + spark_rows) as usize;
    let name_w = gauges
        .iter()
        .map(|g| text::width(&g.label))
        .max()
        .unwrap_or(5)
        .clamp(5, 16);
    // The numbers right of the bars take what the widest needs.
    let right_w = gauges
        .iter()
        .map(|g| text::width(&g.right) + g.suffix.as_ref().map_or(0, |(s, _)| text::width(s)))
        .max()
        .unwrap_or(0)
        .min(RIGHT_W);
    let bar_w = (area.width as usize)
        .saturating_sub(name_w + 2 + right_w)
        .min(40);
    // Rows past the pane's height are scrolled to (j/k) and counted, never
    // dropped silently.
    let rows = gauges.len() + extra.len();
    let hidden = rows > room;
    // The last row says what is hidden.
    let shown = if hidden { room.saturating_sub(1) } else { room };
    let top = ui.budget_top.min(rows.saturating_sub(shown));
    for i in (top..rows).take(shown) {
        match gauges.get(i) {
            Some(g) => gauge_row(buf, area, y, g, (name_w, bar_w), theme),
            None => put_line(buf, area, y, &extra[i - gauges.len()]),
        }
        y += 1;
    }
    if hidden && room > 0 {
        let below = rows - (top + shown).min(rows);
        let mut parts = Vec::new();
        if below > 0 {
            parts.push(format!("+{below} more"));
        }
        if top > 0 {
            parts.push(format!("{top} above"));
        }
        let key = if ui.focus == crate::tui::ui_state::PaneId::Budgets {
            "j/k scroll"
        } else {
            "5 then j/k scrolls"
        };
        put_line(
            buf,
            area,
            y,
            &Line::styled(format!("{} · {key}", parts.join(" · ")), theme.muted),
        );
    }
    if spark_rows > 0 {
        let spark = Rect::new(area.x, area.bottom() - spark_rows, area.width, spark_rows);
        let quiet = vm.quiet_seconds(ui.now_us);
        render_sparkline(spark, buf, &vm.token_rate, quiet, theme);
    }
}

fn header<'a>(vm: &ViewModel, now_us: u64, width: usize, theme: &Theme) -> Line<'a> {
    let total = vm.total_usage.total();
    let mut head = vec![
        Span::styled("total ", theme.muted),
        Span::styled(fmt_tokens(total), theme.accent),
        Span::styled(" tok", theme.muted),
    ];
    if vm.ended.is_none() {
        let rate = vm.token_rate_now(now_us);
        head.push(Span::styled(format!(" · {rate:.0} tok/s now"), theme.muted));
    }
    let split = format!(
        " · {} in · {} out",
        fmt_tokens(vm.total_usage.prompt_tokens),
        fmt_tokens(vm.total_usage.completion_tokens)
    );
    if head.iter().map(Span::width).sum::<usize>() + text::width(&split) <= width {
        head.push(Span::styled(split, theme.muted));
    }
    Line::from(head)
}

/// The run's gauges, then one per agent (limited or not), then limited nodes.
fn gauges(vm: &ViewModel, theme: &Theme) -> Vec<Gauge> {
    let b = &vm.budget;
    let warn_at = b.warn_at;
    let mut out = Vec::with_capacity(vm.agents.len() + 2);
    if let Some(run) = b.run() {
        limited(&mut out, "run", run, warn_at, theme);
    }
    let total = vm.total_usage.total();
    for a in &vm.agents {
        let live = (a.active > 0).then(|| {
            (
                format!(" ⟳{}", a.active),
                theme.task_state(crate::event::TaskState::InProgress),
            )
        });
        let start = out.len();
        match b.agent(&a.id) {
            Some(g) => limited(&mut out, &a.id, g, warn_at, theme),
            None => {
                // Bar and number both say the share of the run's tokens.
                let used = a.usage.total();
                let share = if total == 0 {
                    0.0
                } else {
                    used as f64 / total as f64
                };
                out.push(Gauge {
                    label: a.id.to_string(),
                    label_style: theme.text,
                    fill: share,
                    style: theme.budget(BudgetLevel::Ok),
                    right: format!("{:>6} {:>3.0}% of run", fmt_tokens(used), share * 100.0),
                    right_style: theme.text,
                    suffix: None,
                });
            }
        }
        if let Some(g) = out.get_mut(start) {
            g.suffix = live;
        }
    }
    for g in b.scopes.iter().filter(|s| s.scope.starts_with("node:")) {
        limited(&mut out, &g.scope, g, warn_at, theme);
    }
    out
}

/// One row per limited dimension (tokens, money) of a scope.
fn limited(out: &mut Vec<Gauge>, label: &str, g: &BudgetGauge, warn_at: f64, theme: &Theme) {
    let mut first = true;
    // The name takes the scope's worst level once it is not ok.
    let label_style = match g.level(warn_at) {
        BudgetLevel::Ok => theme.text,
        l => theme.budget(l),
    };
    if let (Some(limit), Some(f)) = (g.limit_tokens, g.token_fraction()) {
        let level = g.level_of(Some(f), warn_at);
        out.push(Gauge {
            label: label.to_owned(),
            label_style,
            fill: f,
            style: theme.budget(level),
            right: format!(
                "{}/{} {:>3.0}%",
                fmt_tokens(g.used_tokens),
                fmt_tokens(limit),
                f * 100.0
            ),
            right_style: theme.budget(level),
            suffix: None,
        });
        first = false;
    }
    if let (Some(limit), Some(f)) = (g.limit_usd, g.usd_fraction()) {
        let level = g.level_of(Some(f), warn_at);
        out.push(Gauge {
            label: if first {
                label.to_owned()
            } else {
                "  $".to_owned()
            },
            label_style,
            fill: f,
            style: theme.budget(level),
            right: format!("${:.2}/${:.2} {:>3.0}%", g.used_usd, limit, f * 100.0),
            right_style: theme.budget(level),
            suffix: None,
        });
    }
}

/// The budget pause: what ran out, the key that raises it, and what the
/// refused call met (its need, what was left, what calls in flight hold).
fn pause_line<'a>(vm: &ViewModel, ui: &UiState, theme: &Theme) -> Line<'a> {
    let b = &vm.budget;
    let scope = b.paused_by.as_deref().unwrap_or("run");
    let key = ui
        .keymap
        .key_label(crate::tui::keymap::Action::RaiseBudget)
        .unwrap_or_default();
    let mut spans = vec![
        Span::styled(format!("⏸ {scope} out of budget"), theme.budget_critical),
        Span::styled(format!(" · {key} raises it"), theme.muted),
    ];
    if let Some(reserved) = b.reserved_at_pause() {
        spans.push(Span::styled(
            format!(
                " · {} tok reserved by calls in flight",
                fmt_tokens(reserved)
            ),
            theme.warn,
        ));
    }
    if let Some(p) = &b.pause {
        let left = p
            .remaining_tokens
            .map(|r| format!(", {} left", fmt_tokens(r)))
            .unwrap_or_default();
        spans.push(Span::styled(
            format!(" · next call needs {}{left}", fmt_tokens(p.needed_tokens)),
            theme.muted,
        ));
    }
    Line::from(spans)
}

/// One gauge row: name and bar (a ratatui line gauge), then the numbers.
fn gauge_row(
    buf: &mut Buffer,
    area: Rect,
    y: u16,
    g: &Gauge,
    (name_w, bar_w): (usize, usize),
    theme: &Theme,
) {
    if y >= area.height {
        return;
    }
    let gauge_w = (name_w + 1 + bar_w).min(area.width as usize) as u16;
    LineGauge::default()
        .ratio(g.fill.clamp(0.0, 1.0))
        .label(Span::styled(fit(&g.label, name_w), g.label_style))
        .filled_symbol("█")
        .unfilled_symbol("░")
        .filled_style(g.style)
        .unfilled_style(theme.muted)
        .render(Rect::new(area.x, area.y + y, gauge_w, 1), buf);
    let mut spans = vec![Span::styled(g.right.as_str(), g.right_style)];
    if let Some((s, st)) = &g.suffix {
        spans.push(Span::styled(s.as_str(), *st));
    }
    let right = Rect::new(
        area.x + gauge_w,
        area.y,
        area.width.saturating_sub(gauge_w),
        area.height,
    );
    let mut line = vec![Span::raw(" ")];
    line.extend(spans);
    put_line(buf, right, y, &Line::from(line));
}

/// The last first row `j` can scroll to in a pane `height` rows high
/// (inside its border): its rows past the header, with the `+N more` row.
pub fn max_top(vm: &ViewModel, height: usize) -> usize {
    let theme = Theme::monochrome();
    let rows = gauges(vm, &theme).len() + extras(vm, &theme).len();
    let room = height.saturating_sub(1 + usize::from(vm.paused_for_budget()));
    if rows <= room {
        0
    } else {
        rows - room.saturating_sub(1)
    }
}

/// Breaker states and quota waits, when there are any.
fn extras<'a>(vm: &ViewModel, theme: &Theme) -> Vec<Line<'a>> {
    let b = &vm.budget;
    let mut out = Vec::new();
    if !b.breakers.is_empty() {
        let mut spans = vec![Span::styled("breakers ", theme.muted)];
        for (i, br) in b.breakers.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", theme.muted));
            }
            let (word, style) = match br.state {
                BreakerState::Closed => ("closed", theme.budget(BudgetLevel::Ok)),
                BreakerState::HalfOpen => ("half-open", theme.budget(BudgetLevel::Warn)),
                BreakerState::Open => ("open", theme.budget(BudgetLevel::Critical)),
            };
            spans.push(Span::styled(br.scope.to_string(), theme.text));
            spans.push(Span::raw(" "));
            spans.push(Span::styled(word, style));
        }
        out.push(Line::from(spans));
    }
    if b.quota_waits > 0 {
        let last = b
            .last_quota
            .as_ref()
            .map(|(p, l, ms)| format!(" · last {p} {l} {}", fmt_ms(*ms)))
            .unwrap_or_default();
        out.push(Line::from(vec![
            Span::styled("quota ", theme.muted),
            Span::styled(
                format!(
                    "{} wait{} · {} waited{last}",
                    b.quota_waits,
                    if b.quota_waits == 1 { "" } else { "s" },
                    fmt_ms(b.quota_wait_ms)
                ),
                theme.warn,
            ),
        ]));
    }
    out
}

/// Multi-row sparkline of the newest values, right-aligned, with a label;
/// `quiet` seconds with nothing spent since the last value show empty.
fn render_sparkline(area: Rect, buf: &mut Buffer, data: &[u64], quiet: u64, theme: &Theme) {
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
    let quiet = (quiet as usize).min(w);
    let shown = &data[data.len().saturating_sub(w - quiet)..];
    let max = shown.iter().copied().max().unwrap_or(0).max(1);
    let rows = area.height as u64;
    let levels = rows * 8;
    // The newest second at the right edge, quiet seconds after it.
    let x0 = x0 + (w - quiet - shown.len()) as u16;
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

#[cfg(test)]
mod tests;
