//! Gate review: the artifact under review, scrollable, with approve/deny,
//! and the reviewer agent's own verdict when a reviewer judged the work.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{centered, hints, popup};
use crate::tui::keymap::{Context, Keymap};
use crate::tui::panes::{fill_row, fmt_clock, put_line};
use crate::tui::theme::Theme;
use crate::tui::view_model::{ReviewView, ViewModel};

/// Draws the review popup for `gate` (or a note that it was decided meanwhile).
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    keys: &Keymap,
    vm: &ViewModel,
    gate: &str,
    scroll: u16,
    theme: &Theme,
) {
    let r = centered(
        area,
        area.width.saturating_sub(8).max(20),
        area.height.saturating_sub(4).max(5),
    );
    let inner = popup(
        r,
        buf,
        "Gate review",
        Some(hints(keys, Context::Gate, theme)),
        theme,
    );
    if inner.height == 0 {
        return;
    }
    let Some(g) = vm.gates.iter().find(|g| &*g.gate == gate) else {
        put_line(
            buf,
            inner,
            0,
            &Line::styled(
                "this gate is no longer open (decided or the run ended)",
                theme.muted,
            ),
        );
        return;
    };
    let waited = vm.last_us.saturating_sub(g.opened_us);
    put_line(
        buf,
        inner,
        0,
        &Line::from(vec![
            Span::styled(&*g.gate, theme.accent),
            Span::styled(
                format!(
                    " on {} · revision {} · waiting {}",
                    g.node,
                    g.revision,
                    fmt_clock(waited)
                ),
                theme.muted,
            ),
        ]),
    );
    // Several gates can wait at once: list them all, the one shown marked.
    let mut y = 1u16;
    if vm.gates.len() > 1 {
        let room = (inner.height / 3).max(1) as usize;
        let shown = vm.gates.iter().position(|x| x.gate == g.gate).unwrap_or(0);
        let top = crate::tui::panes::scroll_to_show(shown, 0, room, vm.gates.len());
        put_line(
            buf,
            inner,
            y,
            &Line::styled(
                format!("{} gates waiting (Tab: next)", vm.gates.len()),
                theme.warn,
            ),
        );
        y += 1;
        for (i, other) in vm.gates.iter().enumerate().skip(top).take(room) {
            let mark = if i == shown { "▶ " } else { "  " };
            put_line(
                buf,
                inner,
                y,
                &Line::from(vec![
                    Span::styled(mark, theme.accent),
                    Span::styled(&*other.gate, theme.text),
                    Span::styled(
                        format!(
                            " on {} · revision {} · waiting {}",
                            other.node,
                            other.revision,
                            fmt_clock(vm.last_us.saturating_sub(other.opened_us))
                        ),
                        theme.muted,
                    ),
                ]),
            );
            if i == shown {
                fill_row(buf, inner, y, theme.selection);
            }
            y += 1;
        }
    }
    // The reviewer agent's own verdict sits next to the artifact when the
    // popup is wide, above it otherwise.
    let side = !g.reviews.is_empty() && inner.width >= 90;
    if !g.reviews.is_empty() && !side {
        for r in &g.reviews {
            if y + 2 >= inner.height {
                break;
            }
            put_line(buf, inner, y, &verdict_line(r, theme));
            y += 1;
        }
    }
    let rest = Rect::new(
        inner.x,
        inner.y + y.min(inner.height),
        inner.width,
        inner.height.saturating_sub(y),
    );
    let (art, verdicts) = if side {
        let right = (rest.width * 2 / 5).min(60);
        let left = rest.width - right - 1;
        for dy in 0..rest.height {
            if let Some(c) = buf.cell_mut((rest.x + left, rest.y + dy)) {
                c.set_char('│').set_style(theme.border);
            }
        }
        (
            Rect::new(rest.x, rest.y, left, rest.height),
            Some(Rect::new(rest.x + left + 1, rest.y, right, rest.height)),
        )
    } else {
        (rest, None)
    };
    put_line(
        buf,
        art,
        0,
        &Line::styled("Artifact under review", theme.muted),
    );
    let body = Rect::new(
        art.x,
        art.y + 1.min(art.height),
        art.width,
        art.height.saturating_sub(1),
    );
    let top = (scroll as usize).min(g.artifact_lines.len().saturating_sub(body.height as usize));
    for (y, l) in g
        .artifact_lines
        .iter()
        .skip(top)
        .take(body.height as usize)
        .enumerate()
    {
        put_line(buf, body, y as u16, &Line::styled(l.as_str(), theme.text));
    }
    if let Some(area) = verdicts {
        render_verdicts(area, buf, &g.reviews, theme);
    }
}

/// One line: `reviewer planner_review (plan r1): approved — feedback`.
fn verdict_line<'a>(r: &'a ReviewView, theme: &Theme) -> Line<'a> {
    let (word, style) = if r.approved {
        ("approved", theme.agree)
    } else {
        ("sent back", theme.dissent)
    };
    Line::from(vec![
        Span::styled("reviewer ", theme.muted),
        Span::styled(r.agent.as_deref().unwrap_or("?"), theme.text),
        Span::styled(format!(" ({} r{}): ", r.node, r.revision), theme.muted),
        Span::styled(word, style),
        Span::styled(format!(" — {}", r.feedback), theme.text),
    ])
}

/// The verdicts panel: each reviewer's verdict and its feedback, wrapped.
fn render_verdicts(area: Rect, buf: &mut Buffer, reviews: &[ReviewView], theme: &Theme) {
    let mut lines = vec![Line::styled("Reviewer verdict", theme.muted)];
    for r in reviews {
        let (word, style) = if r.approved {
            ("✔ approved", theme.agree)
        } else {
            ("✗ sent back", theme.dissent)
        };
        lines.push(Line::from(vec![
            Span::styled(word, style),
            Span::styled(
                format!(
                    " by {} · {} r{}",
                    r.agent.as_deref().unwrap_or("?"),
                    r.node,
                    r.revision
                ),
                theme.muted,
            ),
        ]));
        if !r.feedback.is_empty() {
            lines.push(Line::styled(r.feedback.as_str(), theme.text));
        }
        lines.push(Line::raw(""));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .render(area, buf);
}
