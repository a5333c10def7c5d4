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
use crate::tui::wrap::{self, TextView, WrapIndex};

/// Draws the review popup for `gate` (or a note that it was decided
/// meanwhile). The artifact is wrapped to the popup (or cut and scrolled
/// sideways, `w` toggles). Returns the last row the artifact may scroll to.
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    keys: &Keymap,
    vm: &ViewModel,
    gate: &str,
    view: TextView,
    theme: &Theme,
) -> usize {
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
        return 0;
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
        return 0;
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
                    "{} · revision {} · waiting {}",
                    titled(&g.gate, &g.title),
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
                            "{} · revision {} · waiting {}",
                            titled(&other.gate, &other.title),
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
    // The reviewer agent's own verdict sits next to the artifact only when
    // it is long and the popup wide; a short verdict goes above it, so the
    // artifact keeps the full width.
    let short = g
        .reviews
        .iter()
        .all(|r| line_width(&verdict_line(r, theme)) <= inner.width as usize)
        && g.reviews.len() <= 3;
    let side = !g.reviews.is_empty() && !short && inner.width >= 90;
    if !g.reviews.is_empty() && !side {
        // Wrapped, in at most a third of what is left.
        let room = (inner.height.saturating_sub(y) / 3).max(1);
        let mut used = 0u16;
        'verdicts: for r in &g.reviews {
            let line = verdict_line(r, theme);
            if line_width(&line) <= inner.width as usize {
                if used == room || y + 2 >= inner.height {
                    break;
                }
                put_line(buf, inner, y, &line);
                y += 1;
                used += 1;
                continue;
            }
            let text = line_text(&line);
            let style = if r.approved {
                theme.agree
            } else {
                theme.dissent
            };
            for (a, b) in wrap::wrap_ranges(&text, inner.width as usize) {
                if used == room || y + 2 >= inner.height {
                    break 'verdicts;
                }
                put_line(buf, inner, y, &Line::styled(text[a..b].to_owned(), style));
                y += 1;
                used += 1;
            }
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
    let body = Rect::new(
        art.x,
        art.y + 1.min(art.height),
        art.width,
        art.height.saturating_sub(1),
    );
    let index = WrapIndex::build(
        g.artifact_lines.iter().map(String::as_str),
        body.width as usize,
        view.wrap,
    );
    let top = wrap::draw(body, buf, &index, &view, |i| {
        (g.artifact_lines[i].as_str(), theme.text)
    });
    let shown_end = (top + body.height as usize).min(index.len());
    let mode = if view.wrap {
        String::from("wrapped")
    } else {
        format!("not wrapped, column {}", view.left + 1)
    };
    put_line(
        buf,
        art,
        0,
        &Line::from(vec![
            Span::styled("Artifact under review", theme.muted),
            Span::styled(
                format!(
                    " · rows {}–{shown_end} of {} · {mode}",
                    (top + 1).min(shown_end),
                    index.len()
                ),
                theme.muted,
            ),
        ]),
    );
    if let Some(area) = verdicts {
        render_verdicts(area, buf, &g.reviews, theme);
    }
    index.len().saturating_sub(body.height as usize)
}

/// Columns a line takes.
fn line_width(l: &Line<'_>) -> usize {
    l.spans.iter().map(|s| crate::text::width(&s.content)).sum()
}

/// A line's text, its spans joined.
fn line_text(l: &Line<'_>) -> String {
    l.spans.iter().map(|s| s.content.as_ref()).collect()
}

/// One line: `reviewer planner_review (plan r1): approved — feedback`.
fn verdict_line<'a>(r: &'a ReviewView, theme: &Theme) -> Line<'a> {
    let (word, style) = if r.approved {
        ("approved", theme.agree)
    } else {
        ("sent back", theme.dissent)
    };
    let mut spans = vec![
        Span::styled("reviewer ", theme.muted),
        Span::styled(r.agent.as_deref().unwrap_or("?"), theme.text),
        Span::styled(format!(" ({} r{}): ", r.node, r.revision), theme.muted),
        Span::styled(word, style),
    ];
    if !r.feedback.is_empty() {
        spans.push(Span::styled(format!(" — {}", r.feedback), theme.text));
    }
    Line::from(spans)
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

/// " · Title" after a gate's id, when the node has a title of its own.
fn titled(gate: &str, title: &str) -> String {
    if title == gate {
        String::new()
    } else {
        format!(" · {title}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::event::EventKind;
    use crate::tui::test_support::{self, Script};
    use crate::tui::theme::Theme;
    use crate::tui::ui_state::{Overlay, UiState};
    use crate::tui::view_model::ViewModel;

    /// One line of 300 characters, words of five, ending in a marker.
    fn long_line() -> String {
        let mut s = String::new();
        let mut n = 0;
        while s.len() < 292 {
            s.push_str(&format!("w{n:03} "));
            n += 1;
        }
        s.truncate(292);
        s.push_str("END-MARK");
        s
    }

    /// A run waiting at a gate over `artifact`, with one short reviewer verdict.
    fn gate_vm(artifact: serde_json::Value) -> ViewModel {
        let mut s = Script::default();
        s.push(EventKind::SessionStarted {
            workflow: "reviewed-report".into(),
            seed: 3,
            entry: "main".into(),
            agents: vec!["planner".into(), "critic".into()],
        });
        s.start_task("report/review", "report", "critic", 600);
        s.wait(100).push(EventKind::ReviewVerdict {
            node: "report".into(),
            task: "report/review".into(),
            approved: true,
            feedback: String::new(),
            revision: 0,
        });
        s.wait(50).push(EventKind::GateOpened {
            gate: "sign_off".into(),
            node: "sign_off".into(),
            artifact,
            revision: 0,
        });
        let mut vm = ViewModel::new(test_support::review_info());
        for e in &s.events {
            vm.apply(e);
        }
        vm
    }

    fn open(ui: &mut UiState) {
        ui.overlay = Some(Overlay::Gate {
            gate: "sign_off".into(),
            scroll: 0,
        });
    }

    /// Every non-space character of `text`, in order, is inside the popup.
    fn all_shown(screen: &str, text: &str) -> bool {
        let shown: String = screen
            .lines()
            .filter_map(|l| {
                let (a, b) = (l.find('║')?, l.rfind('║')?);
                (a < b).then(|| &l[a..b])
            })
            .flat_map(str::chars)
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let want: String = text.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        shown.contains(&want)
    }

    #[test]
    fn the_review_is_headed_by_the_gate_nodes_title() {
        let vm = gate_vm(json!("a short draft"));
        let dark = Theme::builtin("dark").unwrap();
        let (text, _) = test_support::draw_screen(120, 40, &dark, &vm, &open);
        // The node's title ("sign off"), not the gate's id repeated.
        assert!(text.contains("sign_off · sign off · revision 0"), "{text}");
        assert!(!text.contains("sign_off on sign_off"), "{text}");
    }

    #[test]
    fn a_300_character_artifact_wraps_in_the_gate_review() {
        let line = long_line();
        assert_eq!(line.chars().count(), 300);
        let vm = gate_vm(json!(format!(
            "Reviewer feedback to address: none.\n{line}"
        )));
        let dark = Theme::builtin("dark").unwrap();
        for (w, h) in [(120, 40), (80, 24), (100, 20)] {
            let (text, _) = test_support::draw_screen(w, h, &dark, &vm, &open);
            assert!(
                all_shown(&text, &line),
                "{w}x{h}: the whole line is readable, wrapped:\n{text}"
            );
            assert!(text.contains("END-MARK"), "{w}x{h}:\n{text}");
            if (w, h) != (100, 20) {
                insta::assert_snapshot!(format!("gate_artifact_300_wrapped_{w}x{h}"), text);
            }
        }
    }

    #[test]
    fn a_short_verdict_leaves_the_artifact_the_full_width() {
        let vm = gate_vm(json!(format!(
            "Reviewer feedback to address: {}",
            long_line()
        )));
        let dark = Theme::builtin("dark").unwrap();
        let (_, buf) = test_support::draw_screen(160, 50, &dark, &vm, &open);
        // No verdict column: no divider in the artifact's rows.
        let divider_rows = (4..buf.area.height - 4)
            .filter(|&y| (20..140).any(|x| buf[(x, y)].symbol() == "│"))
            .count();
        assert_eq!(divider_rows, 0, "a short verdict sits above the artifact");
    }

    #[test]
    fn wrap_off_cuts_the_line_and_l_scrolls_it_sideways() {
        let vm = gate_vm(json!(long_line()));
        let dark = Theme::builtin("dark").unwrap();
        let cut = |ui: &mut UiState| {
            open(ui);
            ui.wrap = false;
        };
        let (text, _) = test_support::draw_screen(100, 20, &dark, &vm, &cut);
        assert!(!text.contains("END-MARK"), "cut at the edge:\n{text}");
        let scrolled = |ui: &mut UiState| {
            cut(ui);
            ui.gate_left = 240;
        };
        let (text, _) = test_support::draw_screen(100, 20, &dark, &vm, &scrolled);
        assert!(text.contains("END-MARK"), "scrolled to the end:\n{text}");
        assert!(text.contains("not wrapped, column 241"), "{text}");
    }
}
