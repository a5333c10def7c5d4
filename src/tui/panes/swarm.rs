//! A swarm's pool in the Debate pane's place (when the run has no debate
//! or vote): a summary line (round, open / claimed / done, findings,
//! expired leases, how it converged), then one row per item with its state,
//! who holds it and through which round, its findings and the newest one,
//! and a last line of who holds what. With a chat too, the newest swarm
//! takes the top half and the chat (`chat.rs`) the bottom. Only visible
//! rows are laid out.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::put_line;
use crate::run_state::{PoolItem, Swarm};
use crate::text;
use crate::tui::theme::Theme;
use crate::tui::view_model::ViewModel;

/// The pane's title when it shows swarms or chats.
pub fn title(vm: &ViewModel) -> Option<String> {
    match (vm.swarm_records.last(), vm.chat_records.last()) {
        (Some(s), None) => Some(format!("Swarm · {}", s.node)),
        (None, Some(c)) => Some(format!("Chat · {}", c.node)),
        (Some(s), Some(c)) => Some(format!("Swarm · {} · Chat · {}", s.node, c.node)),
        (None, None) => None,
    }
}

/// Draws the newest swarm and chat; false when there is neither.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, theme: &Theme) -> bool {
    match (vm.swarm_records.last(), vm.chat_records.last()) {
        (None, None) => false,
        (Some(s), None) => {
            render_pool(area, buf, s, theme);
            true
        }
        (None, Some(c)) => {
            super::chat::render(area, buf, c, theme);
            true
        }
        (Some(s), Some(c)) => {
            let top = area.height / 2;
            render_pool(Rect::new(area.x, area.y, area.width, top), buf, s, theme);
            super::chat::render(
                Rect::new(area.x, area.y + top, area.width, area.height - top),
                buf,
                c,
                theme,
            );
            true
        }
    }
}

fn render_pool(area: Rect, buf: &mut Buffer, s: &Swarm, theme: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    put_line(buf, area, 0, &summary(s, theme));
    let holders = holders_line(s, theme);
    let rows = area.height.saturating_sub(1 + u16::from(holders.is_some()));
    // Rows not done first (what is being worked on), then done; the order
    // within each follows the pool.
    let mut order: Vec<&PoolItem> = s.items.iter().filter(|i| !i.done).collect();
    order.extend(s.items.iter().filter(|i| i.done));
    // Mark, id, state and count take 28 columns; the title gets half of
    // the rest (12 to 40), the newest finding what is left.
    let title_w = (usize::from(area.width).saturating_sub(28) / 2).clamp(12, 40);
    for (y, it) in order.iter().take(usize::from(rows)).enumerate() {
        put_line(buf, area, 1 + y as u16, &item_line(it, title_w, theme));
    }
    if order.len() > usize::from(rows) && rows > 0 {
        let more = format!("… {} more", order.len() - usize::from(rows) + 1);
        put_line(buf, area, rows, &Line::styled(more, theme.muted));
    }
    if let Some(h) = holders {
        put_line(buf, area, area.height - 1, &h);
    }
}

/// "review round 4 · 0 open · 1 held · 4 done · 9 findings · 1 expired · ✔ covered after 4 rounds"
/// (held: under a lease now; expired: leases that ran out).
fn summary<'a>(s: &Swarm, theme: &Theme) -> Line<'a> {
    let mut spans = vec![
        Span::styled(format!("{} ", s.node), theme.accent),
        Span::styled(
            format!(
                "round {} · {} open · {} held · {} done · {} findings",
                s.round,
                s.open(),
                s.claimed(),
                s.done(),
                s.findings
            ),
            theme.text,
        ),
    ];
    if s.expired > 0 {
        spans.push(Span::styled(
            format!(" · {} expired", s.expired),
            theme.warn,
        ));
    }
    if let Some(o) = &s.outcome {
        let style = if o.reason == "max_steps" {
            theme.dissent
        } else {
            theme.agree
        };
        spans.push(Span::styled(
            format!(" · ✔ {} after {} rounds", o.reason, o.rounds),
            style,
        ));
    }
    Line::from(spans)
}

/// "◐ i2  brute force protection   scout_d →r3 ✗   1  scout_b: failed logins…"
/// (held by scout_d through round 3, its last call failed).
fn item_line<'a>(it: &'a PoolItem, title_w: usize, theme: &Theme) -> Line<'a> {
    let (mark, mark_style) = if it.done {
        ("✔", theme.agree)
    } else if it.holder.is_some() {
        ("◐", theme.accent)
    } else {
        ("○", theme.muted)
    };
    let state = match (&it.holder, it.done) {
        (_, true) => "done".to_string(),
        (Some((a, until)), _) => format!("{a} →r{until}{}", if it.failing { " ✗" } else { "" }),
        (None, _) if !it.expired.is_empty() => "open, expired".to_string(),
        (None, _) => "open".to_string(),
    };
    let state_style = if it.failing {
        theme.error
    } else if it.done {
        theme.muted
    } else {
        theme.text
    };
    let mut spans = vec![
        Span::styled(format!("{mark} "), mark_style),
        Span::styled(format!("{:<4}", it.id), theme.muted),
        Span::styled(text::fit(&it.title, title_w), theme.text),
        Span::raw(" "),
        Span::styled(text::fit(&state, 18), state_style),
        Span::styled(format!(" {:>2} ", it.findings.len()), theme.text),
    ];
    if let Some((a, _, f)) = it.findings.last() {
        spans.push(Span::styled(format!("{a}: "), theme.muted));
        spans.push(Span::styled(f.as_str(), theme.text));
    } else if let Some(by) = &it.by {
        spans.push(Span::styled(format!("added by {by}"), theme.muted));
    }
    Line::from(spans)
}

/// "holds: scout_a → i3 · scout_d → i2 ✗"; `None` when nobody holds anything.
fn holders_line<'a>(s: &Swarm, theme: &Theme) -> Option<Line<'a>> {
    let held: Vec<(&str, &str, bool)> = s
        .items
        .iter()
        .filter_map(|it| {
            it.holder
                .as_ref()
                .map(|(a, _)| (a.as_str(), it.id.as_str(), it.failing))
        })
        .collect();
    if held.is_empty() {
        return None;
    }
    let mut spans = vec![Span::styled("holds: ", theme.muted)];
    for (i, (a, item, failing)) in held.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.muted));
        }
        let style = if *failing { theme.error } else { theme.text };
        let mark = if *failing { " ✗" } else { "" };
        spans.push(Span::styled(format!("{a} → {item}{mark}"), style));
    }
    Some(Line::from(spans))
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::event::EventKind;
    use crate::tui::test_support::{Script, draw_screen};
    use crate::tui::theme::Theme;
    use crate::tui::ui_state::PaneId;
    use crate::tui::view_model::{AgentInfo, NodeInfo, ViewModel, WorkflowInfo};

    pub(crate) fn swarm_info(with_chat: bool) -> WorkflowInfo {
        let mut nodes = vec![NodeInfo {
            id: "review".into(),
            title: "login review swarm".into(),
            kind: "swarm",
            children: vec![],
            runner: None,
        }];
        if with_chat {
            nodes.push(NodeInfo {
                id: "discuss".into(),
                title: "feature chat".into(),
                kind: "chat",
                children: vec![],
                runner: None,
            });
        }
        let agent = |id: &str| AgentInfo {
            id: id.into(),
            role: "scout".into(),
            model: "sim-1".into(),
            capabilities: vec![],
        };
        WorkflowInfo::new(
            "swarm",
            0,
            nodes,
            vec![agent("scout_a"), agent("scout_b"), agent("scout_d")],
        )
    }

    /// A swarm mid-run: one item done, one held by a failing scout, one
    /// whose lease expired and went to another scout, one open.
    pub(crate) fn swarm_script() -> Script {
        let mut s = Script::default();
        let node = || crate::event::Id::from("review");
        let add = |s: &mut Script, item: &str, title: &str, by: Option<&str>, round| {
            s.push(EventKind::SwarmItemAdded {
                node: node(),
                item: item.into(),
                title: title.into(),
                by: by.map(Into::into),
                round,
            });
        };
        add(&mut s, "i1", "password storage and checks", None, 0);
        add(&mut s, "i2", "brute force protection", None, 0);
        add(&mut s, "i3", "CSRF on the login and logout forms", None, 0);
        let claim = |s: &mut Script, item: &str, agent: &str, round: u32| {
            s.push(EventKind::SwarmClaimed {
                node: node(),
                item: item.into(),
                agent: agent.into(),
                round,
                until: round + 1,
            });
        };
        let find = |s: &mut Script, item: &str, agent: &str, round: u32, text: &str| {
            s.push(EventKind::SwarmFinding {
                node: node(),
                task: format!("review/r{round}/{agent}/{item}").as_str().into(),
                item: item.into(),
                agent: agent.into(),
                round,
                text: text.into(),
            });
        };
        claim(&mut s, "i1", "scout_a", 1);
        claim(&mut s, "i2", "scout_d", 1);
        claim(&mut s, "i3", "scout_b", 1);
        s.wait(50);
        find(
            &mut s,
            "i1",
            "scout_a",
            1,
            "passwords are hashed with bcrypt at cost 10",
        );
        s.push(EventKind::SwarmWorkFailed {
            node: node(),
            task: "review/r1/scout_d/i2".into(),
            item: "i2".into(),
            agent: "scout_d".into(),
            round: 1,
            error: "scout_d: sim: injected random server error".into(),
        });
        find(
            &mut s,
            "i3",
            "scout_b",
            1,
            "the logout link has no CSRF token",
        );
        add(
            &mut s,
            "i4",
            "check the session cookie flags",
            Some("scout_b"),
            1,
        );
        s.push(EventKind::SwarmRoundEnded {
            node: node(),
            round: 1,
            open: 4,
            done: 0,
            added: 1,
        });
        s.wait(50);
        claim(&mut s, "i1", "scout_b", 2);
        claim(&mut s, "i3", "scout_a", 2);
        find(
            &mut s,
            "i1",
            "scout_b",
            2,
            "no pepper, but the cost is fine",
        );
        s.push(EventKind::SwarmItemDone {
            node: node(),
            item: "i1".into(),
            round: 2,
        });
        s.push(EventKind::SwarmRoundEnded {
            node: node(),
            round: 2,
            open: 3,
            done: 1,
            added: 0,
        });
        s.wait(50);
        s.push(EventKind::SwarmLeaseExpired {
            node: node(),
            item: "i2".into(),
            agent: "scout_d".into(),
            round: 3,
        });
        claim(&mut s, "i2", "scout_b", 3);
        s
    }

    pub(crate) fn vm_of(info: WorkflowInfo, script: &Script) -> ViewModel {
        let mut vm = ViewModel::new(info);
        for e in &script.events {
            vm.apply(e);
        }
        vm
    }

    #[test]
    fn the_pool_shows_open_claimed_and_done_items_and_who_holds_what() {
        let vm = vm_of(swarm_info(false), &swarm_script());
        let dark = Theme::builtin("dark").unwrap();
        let (text, _) = draw_screen(120, 30, &dark, &vm, &|ui| {
            ui.focus = PaneId::Debate;
            ui.zoom = true;
        });
        assert!(text.contains("Swarm · review"), "{text}");
        assert!(
            text.contains("holds: scout_b → i2 · scout_a → i3"),
            "{text}"
        );
        insta::assert_snapshot!("swarm_pool_zoomed", text);
        // The main screen gives the pool the debate's place.
        let (text, _) = draw_screen(120, 40, &dark, &vm, &|_| {});
        assert!(
            text.contains("round 3 · 1 open · 2 held · 1 done"),
            "{text}"
        );
        insta::assert_snapshot!("swarm_pool_main", text);
    }
}
