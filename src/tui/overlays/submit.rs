//! Submit a task to the running run (`N`): pick an agent, type a prompt,
//! set a priority, Enter sends `Command::Submit`. The form owns its state,
//! its keys and its drawing; the app only opens it, hands it the keys of
//! its context and the characters typed, and sends what it returns.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{centered, hints, popup};
use crate::event::{Command, Id};
use crate::tui::keymap::{Action, Context, Keymap};
use crate::tui::panes::{fill_row, fit, put_line};
use crate::tui::theme::Theme;
use crate::tui::view_model::ViewModel;

/// Longest prompt the form takes (a paste of a whole file is not a prompt).
const MAX_PROMPT: usize = 4000;

/// The open form.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitForm {
    /// The workflow's agents, in declaration order.
    pub agents: Vec<Id>,
    /// Highlighted agent.
    pub sel: usize,
    /// The prompt typed so far.
    pub prompt: String,
    /// Priority 1 (most urgent) to 5.
    pub priority: u8,
    /// Why the last Enter sent nothing.
    pub error: Option<String>,
}

/// What a key did to the form.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The form stays open.
    Open,
    /// Esc: closed, nothing sent.
    Closed,
    /// Enter: send this and close.
    Send(Command),
}

impl SubmitForm {
    /// A form over the run's agents (the selected task's agent highlighted
    /// when there is one).
    pub fn open(vm: &ViewModel, current: Option<&str>) -> SubmitForm {
        let agents: Vec<Id> = vm.info.agents.iter().map(|a| a.id.clone()).collect();
        let sel = current
            .and_then(|c| agents.iter().position(|a| &**a == c))
            .unwrap_or(0);
        SubmitForm {
            agents,
            sel,
            prompt: String::new(),
            priority: 3,
            error: None,
        }
    }

    /// Carries out a key of the [`Context::Submit`] context.
    pub fn handle(&mut self, action: Action) -> Outcome {
        match action {
            Action::Back => return Outcome::Closed,
            Action::Down => self.sel = (self.sel + 1).min(self.agents.len().saturating_sub(1)),
            Action::Up => self.sel = self.sel.saturating_sub(1),
            Action::ScrollLeft => self.priority = self.priority.saturating_sub(1).max(1),
            Action::ScrollRight => self.priority = (self.priority + 1).min(5),
            Action::Confirm => {
                let Some(agent) = self.agents.get(self.sel) else {
                    self.error = Some("the workflow has no agents".into());
                    return Outcome::Open;
                };
                if self.prompt.trim().is_empty() {
                    self.error = Some("type a prompt first".into());
                    return Outcome::Open;
                }
                return Outcome::Send(Command::Submit {
                    agent: agent.clone(),
                    prompt: self.prompt.trim().to_owned(),
                    priority: Some(self.priority),
                    task: None,
                });
            }
            _ => {}
        }
        Outcome::Open
    }

    /// Takes a key its context does not bind as prompt text; false when it
    /// is not text.
    pub fn type_key(&mut self, key: KeyEvent) -> bool {
        match key.code {
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                if self.prompt.chars().count() < MAX_PROMPT {
                    self.prompt.push(c);
                }
            }
            KeyCode::Backspace => {
                self.prompt.pop();
            }
            _ => return false,
        }
        self.error = None;
        true
    }

    /// Draws the popup.
    pub fn render(
        &self,
        area: Rect,
        buf: &mut Buffer,
        keys: &Keymap,
        vm: &ViewModel,
        theme: &Theme,
    ) {
        let h = (self.agents.len() as u16 + 7).clamp(9, 20);
        let r = centered(area, 72, h);
        let inner = popup(
            r,
            buf,
            "Submit a task",
            Some(hints(keys, Context::Submit, theme)),
            theme,
        );
        if inner.height < 4 || inner.width == 0 {
            return;
        }
        // The prompt's end stays in sight as it grows.
        let room = (inner.width as usize).saturating_sub(10);
        let shown = crate::text::suffix(&self.prompt, room.saturating_sub(1));
        put_line(
            buf,
            inner,
            0,
            &Line::from(vec![
                Span::styled("prompt   ", theme.muted),
                Span::styled(shown, theme.text),
                Span::styled("▏", theme.accent),
            ]),
        );
        put_line(
            buf,
            inner,
            1,
            &Line::from(vec![
                Span::styled("priority ", theme.muted),
                Span::styled(format!("◂ {} ▸", self.priority), theme.accent),
                Span::styled("  (1 most urgent … 5)", theme.muted),
            ]),
        );
        let (msg, style) = match &self.error {
            Some(e) => (e.as_str(), theme.warn),
            None => ("agent (↑/↓):", theme.muted),
        };
        put_line(buf, inner, 2, &Line::styled(msg, style));
        let rows = inner.height.saturating_sub(3) as usize;
        let top = crate::tui::panes::scroll_to_show(self.sel, 0, rows, self.agents.len());
        for (y, id) in self.agents.iter().skip(top).take(rows).enumerate() {
            let load = vm.agent(id).map_or(0, |a| a.active);
            let info = vm.info.agents.iter().find(|x| x.id == *id);
            let role = info.map_or("", |x| x.role.as_str());
            let row = 3 + y as u16;
            put_line(
                buf,
                inner,
                row,
                &Line::from(vec![
                    Span::styled(fit(id, 18), theme.text),
                    Span::styled(fit(role, 12), theme.muted),
                    Span::styled(format!("{load:>2} live"), theme.muted),
                ]),
            );
            if top + y == self.sel {
                fill_row(buf, inner, row, theme.selection);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::test_support;
    use crate::tui::ui_state::Overlay;

    fn typed(form: &mut SubmitForm, text: &str) {
        for c in text.chars() {
            assert!(form.type_key(KeyEvent::from(KeyCode::Char(c))));
        }
    }

    #[test]
    fn the_form_sends_the_chosen_agent_prompt_and_priority() {
        let vm = test_support::vm();
        let mut f = SubmitForm::open(&vm, None);
        assert_eq!(f.handle(Action::Confirm), Outcome::Open);
        assert_eq!(f.error.as_deref(), Some("type a prompt first"));
        typed(&mut f, "check the numbxx");
        assert!(f.type_key(KeyEvent::from(KeyCode::Backspace)));
        assert!(f.type_key(KeyEvent::from(KeyCode::Backspace)));
        typed(&mut f, "ers");
        assert_eq!(f.handle(Action::Down), Outcome::Open);
        assert_eq!(f.handle(Action::ScrollLeft), Outcome::Open);
        assert_eq!(f.handle(Action::ScrollLeft), Outcome::Open);
        assert_eq!(f.handle(Action::ScrollLeft), Outcome::Open);
        assert_eq!(f.priority, 1, "never below 1");
        let want = Command::Submit {
            agent: f.agents[1].clone(),
            prompt: "check the numbers".into(),
            priority: Some(1),
            task: None,
        };
        assert_eq!(f.handle(Action::Confirm), Outcome::Send(want));
        assert_eq!(f.handle(Action::Back), Outcome::Closed);
    }

    #[test]
    fn the_submit_form_shows_the_prompt_priority_and_agents() {
        let vm = test_support::vm();
        let dark = Theme::builtin("dark").unwrap();
        for (w, h) in [(120, 40), (80, 24)] {
            let (text, _) = test_support::draw_screen(w, h, &dark, &vm, &|ui| {
                let mut f = SubmitForm::open(&vm, Some("writer"));
                typed(&mut f, "summarise the open questions");
                f.handle(Action::ScrollRight);
                ui.overlay = Some(Overlay::Submit(Box::new(f)));
            });
            for want in [
                "Submit a task",
                "prompt   summarise the open questions",
                "priority ◂ 4 ▸",
                "writer",
                "researcher",
            ] {
                assert!(text.contains(want), "{w}x{h}: {want} missing:\n{text}");
            }
            insta::assert_snapshot!(format!("submit_form_{w}x{h}"), text);
        }
    }
}
