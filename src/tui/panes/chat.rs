//! A chat's transcript in the Debate pane's place: a summary line (turns,
//! how it ended), then the newest turns that fit, one per row: the turn,
//! the speaker (`↪` when it spoke because it was addressed), whom it
//! addressed, and what it said. Failed turns show their error.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::put_line;
use crate::run_state::{Chat, ChatLine};
use crate::tui::theme::Theme;

/// Draws the chat's summary and its newest turns.
pub fn render(area: Rect, buf: &mut Buffer, c: &Chat, theme: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let mut head = vec![
        Span::styled(format!("{} ", c.node), theme.accent),
        Span::styled(format!("{} turns", c.turns.len()), theme.text),
    ];
    if let Some(e) = &c.ended {
        let by =
            e.by.as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default();
        let style = if e.reason == "max_turns" {
            theme.dissent
        } else {
            theme.agree
        };
        head.push(Span::styled(format!(" · ✔ ended: {}{by}", e.reason), style));
    }
    put_line(buf, area, 0, &Line::from(head));
    let rows = usize::from(area.height - 1);
    // Too many turns: a note takes the first row and the newest fill the rest.
    let (note, shown) = if c.turns.len() > rows {
        (true, rows.saturating_sub(1))
    } else {
        (false, c.turns.len())
    };
    let first = c.turns.len() - shown;
    if note {
        let more = format!("({first} earlier turns)");
        put_line(buf, area, 1, &Line::styled(more, theme.muted));
    }
    for (y, t) in c.turns[first..].iter().enumerate() {
        put_line(
            buf,
            area,
            (1 + usize::from(note) + y) as u16,
            &turn_line(t, theme),
        );
    }
}

/// "[3] pm → @engineer: Good. @engineer can…" / "[2] ↪designer: …".
fn turn_line<'a>(t: &'a ChatLine, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::styled(format!("[{}] ", t.turn), theme.muted)];
    if t.addressed_in {
        spans.push(Span::styled("↪", theme.accent));
    }
    spans.push(Span::styled(t.speaker.as_str(), theme.accent));
    if let Some(to) = &t.to {
        spans.push(Span::styled(format!(" → @{to}"), theme.muted));
    }
    match &t.failed {
        Some(e) => {
            spans.push(Span::styled(" ✗ ", theme.error));
            spans.push(Span::styled(e.as_str(), theme.error));
        }
        None => {
            spans.push(Span::styled(": ", theme.muted));
            spans.push(Span::styled(t.text.as_str(), theme.text));
        }
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use crate::event::{EventKind, Id};
    use crate::tui::panes::swarm::tests::{swarm_info, swarm_script, vm_of};
    use crate::tui::test_support::{Script, draw_screen};
    use crate::tui::theme::Theme;
    use crate::tui::ui_state::PaneId;

    fn chat_script(mut s: Script) -> Script {
        let turn = |s: &mut Script, n: u32, who: &str, via: &str, to: Option<&str>, text: &str| {
            s.wait(40).push(EventKind::ChatTurn {
                node: Id::from("discuss"),
                task: format!("discuss/t{n}/{who}").as_str().into(),
                turn: n,
                speaker: who.into(),
                via: via.into(),
                addressed: to.map(Into::into),
                text: text.into(),
            });
        };
        turn(
            &mut s,
            1,
            "pm",
            "order",
            Some("designer"),
            "Users want CSV exports. @designer where should the button go?",
        );
        turn(
            &mut s,
            2,
            "designer",
            "addressed",
            None,
            "Top right, next to the date filter.",
        );
        turn(
            &mut s,
            3,
            "pm",
            "order",
            Some("engineer"),
            "Good. @engineer can the export stream large reports?",
        );
        s.push(EventKind::ChatTurnFailed {
            node: Id::from("discuss"),
            task: "discuss/t4/engineer".into(),
            turn: 4,
            speaker: "engineer".into(),
            error: "engineer: sim: injected random server error".into(),
        });
        turn(
            &mut s,
            5,
            "designer",
            "order",
            None,
            "A toast when the file is ready would help.",
        );
        turn(
            &mut s,
            6,
            "pm",
            "order",
            None,
            "Agreed: top right, streamed, 100k rows. DONE",
        );
        s.push(EventKind::ChatEnded {
            node: Id::from("discuss"),
            turns: 6,
            reason: "phrase".into(),
            by: Some("pm".into()),
        });
        s
    }

    #[test]
    fn the_transcript_shows_who_spoke_why_and_to_whom() {
        let vm = vm_of(swarm_info(false), &chat_script(Script::default()));
        let dark = Theme::builtin("dark").unwrap();
        let (text, _) = draw_screen(120, 30, &dark, &vm, &|ui| {
            ui.focus = PaneId::Debate;
            ui.zoom = true;
        });
        assert!(text.contains("Chat · discuss"), "{text}");
        assert!(text.contains("[2] ↪designer: Top right"), "{text}");
        assert!(text.contains("[3] pm → @engineer: Good."), "{text}");
        assert!(text.contains("✔ ended: phrase by pm"), "{text}");
        insta::assert_snapshot!("chat_transcript_zoomed", text);
        // A small pane keeps the newest turns and says how many are left out.
        let (text, _) = draw_screen(80, 10, &dark, &vm, &|ui| ui.focus = PaneId::Debate);
        assert!(text.contains("(2 earlier turns)"), "{text}");
        // The tab strip names what pane 6 shows.
        assert!(text.contains(" 6 Chat "), "{text}");
        assert!(!text.contains("Debate"), "{text}");
        insta::assert_snapshot!("chat_transcript_focused_80x10", text);
    }

    #[test]
    fn a_swarm_and_a_chat_share_the_pane() {
        let vm = vm_of(swarm_info(true), &chat_script(swarm_script()));
        let dark = Theme::builtin("dark").unwrap();
        let (text, _) = draw_screen(120, 30, &dark, &vm, &|ui| {
            ui.focus = PaneId::Debate;
            ui.zoom = true;
        });
        assert!(text.contains("Swarm · review · Chat · discuss"), "{text}");
        assert!(
            text.contains("round 3") && text.contains("6 turns"),
            "{text}"
        );
        insta::assert_snapshot!("swarm_and_chat_zoomed", text);
    }
}
