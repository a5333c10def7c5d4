//! Debate and vote pane: a per-round table (speaker, position, confidence,
//! critique), the latest tally (or stance share) as a bar chart in the
//! theme's agree/dissent colours, and the decision. In step mode its first
//! line says what happens next and that it waits for `n`.
//!
//! Zoomed (`z`), the pane also shows the full transcript (the arguments)
//! under the table, wrapped and scrolled on its own: Tab moves the keys
//! from the table to the transcript and on to the next pane. The question
//! and its options head the pane. Only visible rows are laid out.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{fit, put_line};
use crate::text;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::ui_state::{PaneId, UiState};
use crate::tui::view_model::{Chart, DebateLineKind, DebateState, Decision, RowKind, ViewModel};
use crate::tui::wrap::{self, TextView, WrapIndex};

/// Most bars drawn (the rest are summed into the summary line).
const MAX_BARS: usize = 6;

/// Draws the step line, the round table, the chart and the decision.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let d = &vm.debates;
    if d.is_empty() && vm.debate.is_empty() {
        // No debate or vote: the pane shows swarms' pools and chats.
        if super::swarm::render(area, buf, vm, theme) {
            return;
        }
        render_empty(area, buf, vm, theme);
        return;
    }
    let mut area = area;
    // Zoomed and tall enough: the transcript (arguments) under the table,
    // scrolled on its own (Tab moves the keys between table and transcript).
    if shows_transcript(vm, ui, area.height) {
        let rows = transcript_rows(area.height);
        let top_h = area.height - rows - 1;
        let bottom = Rect::new(area.x, area.y + top_h, area.width, rows + 1);
        area.height = top_h;
        render_transcript(bottom, buf, vm, ui, theme);
    }
    let mut y = 0u16;
    if let Some(line) = step_line(d, ui, theme) {
        put_line(buf, area, y, &line);
        y += 1;
    }
    if let Some(line) = question_line(vm, ui, theme) {
        put_line(buf, area, y, &line);
        y += 1;
    }
    // Bottom up: the decisions (newest last), then the chart, then the
    // table gets the rest. Past the newest, a decision line is drawn only
    // when the chart still gets its full height and the table a few rows.
    let mut bottom = area.height;
    let chart_rows = d
        .chart
        .as_ref()
        .map_or(0, |c| 1 + c.bars.len().min(MAX_BARS) as u16);
    for (i, dec) in d.decisions.iter().rev().take(DECISION_LINES).enumerate() {
        let keep = if i == 0 { 1 } else { (3 * chart_rows).max(4) };
        if bottom <= y + keep {
            break;
        }
        bottom -= 1;
        put_line(buf, area, bottom, &decision_line(dec, theme));
    }
    if let Some(chart) = &d.chart {
        // The chart takes at most a third of what is left, at least 2 rows.
        let room = bottom.saturating_sub(y);
        let want = 1 + chart.bars.len().min(MAX_BARS) as u16;
        let h = want.min((room / 3).max(2)).min(room.saturating_sub(2));
        if h >= 2 {
            bottom -= h;
            render_chart(
                Rect::new(area.x, area.y + bottom, area.width, h),
                buf,
                chart,
                theme,
            );
        }
    }
    let table = Rect::new(area.x, area.y + y, area.width, bottom.saturating_sub(y));
    render_table(table, buf, vm, ui, theme);
}

/// Decision lines shown at most (the view model keeps a few more).
const DECISION_LINES: usize = 3;

/// "✔ decision clickhouse · node · by — reasons".
fn decision_line<'a>(dec: &'a Decision, theme: &Theme) -> Line<'a> {
    let (mark, style) = if dec.decided {
        ("✔ decision ", theme.agree)
    } else {
        ("✗ no decision ", theme.dissent)
    };
    let mut spans = vec![
        Span::styled(mark, style),
        Span::styled(dec.choice.as_str(), style),
        Span::styled(format!(" · {} · {}", dec.node, dec.by), theme.muted),
    ];
    if !dec.reasons.is_empty() {
        spans.push(Span::styled(format!(" — {}", dec.reasons), theme.muted));
    }
    Line::from(spans)
}

fn render_empty(area: Rect, buf: &mut Buffer, vm: &ViewModel, theme: &Theme) {
    let lines = if vm.info.has_debate() {
        vec![
            Line::styled("No turn or ballot yet.", theme.text),
            Line::styled(
                "Rounds, stances, ballots and the tally appear here as the debate and vote run.",
                theme.muted,
            ),
        ]
    } else {
        vec![
            Line::styled("No debate in this workflow.", theme.text),
            Line::styled(
                "Rounds, stances, ballots and the tally appear here when a debate or vote node runs.",
                theme.muted,
            ),
        ]
    };
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .render(area, buf);
}

/// What waits for a step (or that step mode is on).
fn step_line<'a>(d: &'a DebateState, ui: &UiState, theme: &Theme) -> Option<Line<'a>> {
    let key = ui.keymap.key_label(Action::StepDebate).unwrap_or_default();
    if let Some(w) = &d.waiting {
        let who = w
            .next
            .as_deref()
            .map(|n| format!(" by {n}"))
            .unwrap_or_else(|| " (the moderator picks)".to_owned());
        return Some(Line::from(vec![
            Span::styled("▶ next: ", theme.accent),
            Span::styled(format!("{}{who}", w.what), theme.text),
            Span::styled(format!(" · {} round {}", w.node, w.round), theme.muted),
            Span::styled(format!(" · waits for {key}"), theme.key),
        ]));
    }
    d.step_mode.then(|| {
        Line::styled(
            format!("step mode: each turn and ballot waits for {key}"),
            theme.muted,
        )
    })
}

/// Column widths for a table of `width` columns.
struct Cols {
    turn: usize,
    who: usize,
    position: usize,
    conf: usize,
}

impl Cols {
    fn new(width: usize, vm: &ViewModel) -> Cols {
        // Speakers and voters are agents: size by their ids, not by the rows.
        let who = vm
            .agents
            .iter()
            .map(|a| text::width(&a.id))
            .max()
            .unwrap_or(7)
            .clamp(7, 12);
        let position = if width >= 60 { 14 } else { 10 };
        // A bar of five cells and the value when there is room.
        let conf = if width >= 70 { 11 } else { 5 };
        Cols {
            turn: 4,
            who,
            position,
            conf,
        }
    }
}

fn render_table(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    let d = &vm.debates;
    if area.height == 0 {
        return;
    }
    let w = area.width as usize;
    let cols = Cols::new(w, vm);
    let body = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
    let h = body.height as usize;
    let max_top = d.row_count.saturating_sub(h);
    let top = ui.debate_top.unwrap_or(max_top).min(max_top);
    // Headings that fit what is shown: turns, ballots, or both.
    let (mut turns, mut ballots) = (false, false);
    for (_, row) in d.rows_from(top).take(h) {
        match row.map(|r| r.kind) {
            Some(RowKind::Turn) => turns = true,
            Some(RowKind::Ballot) => ballots = true,
            Some(RowKind::Failed) => {}
            None => {}
        }
    }
    let (who, what, note) = match (turns, ballots) {
        (false, true) => ("voter", "choice", "phase · rationale"),
        (true, true) => ("who", "stance/choice", "critique / rationale"),
        _ => ("speaker", "position", "critique"),
    };
    let head = format!(
        "{}{} {} {} {note}",
        fit("#", cols.turn),
        fit(who, cols.who),
        fit(what, cols.position),
        fit("conf", cols.conf),
    );
    put_line(buf, area, 0, &Line::styled(head, theme.muted));
    for (i, (round, row)) in d.rows_from(top).take(h).enumerate() {
        let line = match row {
            None => {
                let mut text = format!("{} · round {}", round.node, round.round);
                if !round.order.is_empty() {
                    let order: Vec<&str> = round.order.iter().map(|a| &**a).collect();
                    text.push_str(" · ");
                    text.push_str(&order.join(" → "));
                }
                if let Some(a) = round.agreement {
                    text.push_str(&format!(" · agreement {:.0}%", a * 100.0));
                }
                if let Some(c) = round.changed {
                    text.push_str(&format!(" · {c} changed"));
                }
                Line::styled(text, theme.accent)
            }
            Some(r) => {
                let num = if r.turn > 0 {
                    format!("#{}", r.turn)
                } else {
                    "·".to_owned()
                };
                let (pos, pos_style) = match r.kind {
                    RowKind::Failed => ("failed".to_owned(), theme.dissent),
                    _ if r.changed => (format!("{} ↻", r.position), theme.warn),
                    _ => (r.position.clone(), theme.text),
                };
                let note_style = if r.kind == RowKind::Failed || r.note.starts_with("flagged") {
                    theme.dissent
                } else {
                    theme.muted
                };
                Line::from(vec![
                    Span::styled(fit(&num, cols.turn), theme.muted),
                    Span::styled(fit(&r.who, cols.who), theme.text),
                    Span::raw(" "),
                    Span::styled(fit(&pos, cols.position), pos_style),
                    Span::raw(" "),
                    confidence(r.confidence, r.kind == RowKind::Failed, cols.conf, theme),
                    Span::raw(" "),
                    Span::styled(r.note.as_str(), note_style),
                ])
            }
        };
        put_line(buf, body, i as u16, &line);
    }
}

/// `▰▰▰▰▱ 0.85` (or just `0.85` when narrow).
fn confidence<'a>(c: f64, failed: bool, width: usize, theme: &Theme) -> Span<'a> {
    if failed {
        return Span::styled(fit("-", width), theme.muted);
    }
    let value = format!("{:.2}", c.clamp(0.0, 1.0));
    let text = if width >= 11 {
        let full = (c.clamp(0.0, 1.0) * 5.0).round() as usize;
        let mut s = String::with_capacity(width * 3);
        s.extend(std::iter::repeat_n('▰', full));
        s.extend(std::iter::repeat_n('▱', 5 - full));
        s.push(' ');
        s.push_str(&value);
        fit(&s, width)
    } else {
        fit(&value, width)
    };
    let style = if c >= 0.75 {
        theme.agree
    } else if c < 0.4 {
        theme.dissent
    } else {
        theme.text
    };
    Span::styled(text, style)
}

/// Title line, then one bar per choice: the leader in the agree colour,
/// the others in the dissent colour, scaled to the best score.
fn render_chart(area: Rect, buf: &mut Buffer, chart: &Chart, theme: &Theme) {
    let needed = chart
        .needed
        .map(|n| format!(" · needs {n:.0}"))
        .unwrap_or_default();
    put_line(
        buf,
        area,
        0,
        &Line::from(vec![
            Span::styled(
                format!("{} · {} r{}{needed}", chart.title, chart.node, chart.round),
                theme.muted,
            ),
            Span::styled(format!(" — {}", chart.summary), theme.muted),
        ]),
    );
    let label_w = chart
        .bars
        .iter()
        .map(|b| text::width(&b.label))
        .max()
        .unwrap_or(6)
        .clamp(6, 14);
    let value_w = 16;
    let bar_w = (area.width as usize)
        .saturating_sub(label_w + 2 + value_w)
        .min(48);
    let max = chart
        .bars
        .iter()
        .map(|b| b.score)
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    for (i, b) in chart
        .bars
        .iter()
        .take(MAX_BARS.min(area.height.saturating_sub(1) as usize))
        .enumerate()
    {
        let lead = chart.leader.as_deref() == Some(b.label.as_str());
        let style: Style = if lead { theme.agree } else { theme.dissent };
        let filled = ((b.score / max) * bar_w as f64).round() as usize;
        let filled = filled.max(usize::from(b.score > 0.0)).min(bar_w);
        let mut bar = String::with_capacity(bar_w * 3);
        bar.extend(std::iter::repeat_n('█', filled));
        let rest = " ".repeat(bar_w - filled);
        let votes = if b.votes == 1 { "vote" } else { "votes" };
        put_line(
            buf,
            area,
            1 + i as u16,
            &Line::from(vec![
                Span::styled(
                    fit(&b.label, label_w),
                    if lead { theme.agree } else { theme.text },
                ),
                Span::raw(" "),
                Span::styled(bar, style),
                Span::raw(rest),
                Span::styled(
                    format!(" {:.2} · {} {votes}", b.score, b.votes),
                    theme.muted,
                ),
            ]),
        );
    }
}

/// True when the pane (`height` rows inside its border) shows the
/// transcript: zoomed, focused, tall enough, and something to show.
pub fn shows_transcript(vm: &ViewModel, ui: &UiState, height: u16) -> bool {
    ui.zoom && ui.focus == PaneId::Debate && height >= 20 && !vm.debate.is_empty()
}

/// Rows of transcript text shown in a pane of `height` rows (under its
/// heading line; the table keeps the top half).
pub fn transcript_rows(height: u16) -> u16 {
    (height - height / 2).saturating_sub(1)
}

/// Lays the transcript out for `width` columns, once per (lines, width, wrap).
pub fn layout_transcript(vm: &ViewModel, ui: &mut UiState, width: usize) {
    let first = vm.debate.first().map_or(0, |l| l.text.as_ptr() as usize);
    ui.transcript.layout(
        (vm.debate.len(), first),
        width,
        ui.wrap,
        vm.debate.iter().map(|l| &*l.text),
    );
}

/// The transcript under its heading: wrapped rows from `transcript_top`
/// (the newest when following); only the rows shown are drawn.
fn render_transcript(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    if area.height < 2 || area.width == 0 {
        return;
    }
    let body = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
    let local;
    let index = if ui.transcript.fits(body.width as usize, ui.wrap) {
        &ui.transcript.rows
    } else {
        // Drawn without the frame's layout step (a test, a bench): lay out here.
        local = WrapIndex::build(
            vm.debate.iter().map(|l| &*l.text),
            body.width as usize,
            ui.wrap,
        );
        &local
    };
    let view = TextView {
        wrap: ui.wrap,
        top: ui.transcript_top.unwrap_or(usize::MAX),
        left: ui.transcript_left,
    };
    let top = wrap::draw(body, buf, index, &view, |i| {
        let l = &vm.debate[i];
        let style = match l.kind {
            DebateLineKind::Heading => theme.accent,
            DebateLineKind::Turn | DebateLineKind::Ballot => theme.text,
            DebateLineKind::Agree => theme.agree,
            DebateLineKind::Dissent | DebateLineKind::Failed => theme.dissent,
            DebateLineKind::Waiting => theme.accent,
            DebateLineKind::Muted => theme.muted,
        };
        (&*l.text, style)
    });
    let end = (top + body.height as usize).min(index.len());
    let (mark, style) = if ui.transcript_focus {
        ("▶ transcript", theme.accent)
    } else {
        ("─ transcript", theme.muted)
    };
    let follow = if ui.transcript_top.is_none() {
        " · newest"
    } else {
        ""
    };
    put_line(
        buf,
        area,
        0,
        &Line::from(vec![
            Span::styled(mark, style),
            Span::styled(
                format!(
                    " · rows {}–{end} of {}{follow} · Tab: {} ─",
                    (top + 1).min(end),
                    index.len(),
                    if ui.transcript_focus {
                        "next pane"
                    } else {
                        "scroll it"
                    }
                ),
                theme.muted,
            ),
        ]),
    );
}

/// `? choose_store: Which store…? · options: a · b · c` for the debate or
/// vote scrolled to (else waiting, else the newest).
fn question_line<'a>(vm: &'a ViewModel, ui: &UiState, theme: &Theme) -> Option<Line<'a>> {
    let qs = &vm.info.questions;
    if qs.is_empty() {
        return None;
    }
    let d = &vm.debates;
    // The node scrolled to, else the one waiting, else the newest.
    let scrolled = ui
        .debate_top
        .and_then(|t| d.rows_from(t).next().map(|(r, _)| &r.node));
    let node = scrolled
        .or_else(|| d.waiting.as_ref().map(|w| &w.node))
        .or_else(|| d.rounds.back().map(|r| &r.node));
    let q = node
        .and_then(|n| qs.iter().find(|q| q.node == *n))
        .unwrap_or(&qs[0]);
    let question = if q.question.trim().is_empty() {
        "(the node's input)"
    } else {
        q.question.as_str()
    };
    let mut spans = vec![
        Span::styled("? ", theme.accent),
        Span::styled(format!("{}: ", q.node), theme.muted),
        Span::styled(question, theme.text),
    ];
    if !q.options.is_empty() {
        spans.push(Span::styled(
            format!(" · options: {}", q.options.join(" · ")),
            theme.muted,
        ));
    }
    Some(Line::from(spans))
}

#[cfg(test)]
mod tests {
    use crate::tui::test_support;
    use crate::tui::theme::Theme;
    use crate::tui::ui_state::{PaneId, UiState};
    use crate::tui::view_model::ViewModel;

    fn decided() -> ViewModel {
        let mut vm = ViewModel::new(test_support::debate_info());
        for e in &test_support::debate_script(false).events {
            vm.apply(e);
        }
        vm
    }

    fn first_turns(ui: &mut UiState) {
        ui.focus = PaneId::Debate;
        ui.zoom = true;
        ui.transcript_focus = true;
        ui.transcript_top = Some(0);
    }

    #[test]
    fn the_zoomed_transcript_scrolls_back_to_the_first_turns() {
        let vm = decided();
        let dark = Theme::builtin("dark").unwrap();
        let first = vm.debate[1].text.to_string();
        assert!(first.starts_with("#1 ana"), "{first}");
        for (w, h) in [(120, 40), (80, 24)] {
            let (newest, _) = test_support::draw_screen(w, h, &dark, &vm, &|ui: &mut UiState| {
                ui.focus = PaneId::Debate;
                ui.zoom = true;
            });
            assert!(
                !newest.contains("#1 ana: clickhouse"),
                "{w}x{h}: the newest lines show first:\n{newest}"
            );
            let (text, _) = test_support::draw_screen(w, h, &dark, &vm, &first_turns);
            assert!(text.contains("#1 ana: clickhouse"), "{w}x{h}:\n{text}");
            assert!(text.contains("▶ transcript · rows 1–"), "{w}x{h}:\n{text}");
            insta::assert_snapshot!(format!("debate_transcript_first_turns_{w}x{h}"), text);
        }
    }

    #[test]
    fn a_vote_table_is_headed_voter_and_choice_and_the_question_shows() {
        let vm = decided();
        let dark = Theme::builtin("dark").unwrap();
        // At 80x24 only the vote's rows are in view.
        let (text, _) = test_support::draw_screen(80, 24, &dark, &vm, &|ui: &mut UiState| {
            ui.focus = PaneId::Debate;
            ui.zoom = true;
        });
        let head = text
            .lines()
            .find(|l| l.contains("conf"))
            .unwrap_or_default();
        assert!(head.contains("voter") && head.contains("choice"), "{head}");
        assert!(
            !head.contains("speaker") && !head.contains("critique"),
            "{head}"
        );
        assert!(text.contains("options: clickhouse · postgres"), "{text}");
        // Scrolled to the debate's rounds, the heading is the debate's.
        let (text, _) = test_support::draw_screen(80, 24, &dark, &vm, &|ui: &mut UiState| {
            ui.focus = PaneId::Debate;
            ui.zoom = true;
            ui.debate_top = Some(0);
        });
        let head = text
            .lines()
            .find(|l| l.contains("conf"))
            .unwrap_or_default();
        assert!(
            head.contains("speaker") && head.contains("position"),
            "{head}"
        );
        assert!(
            text.contains("? choose_store: Which analytics store"),
            "{text}"
        );
    }
}
