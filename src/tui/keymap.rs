//! The one table of key bindings.
//!
//! Every action is declared once in [`BINDINGS`] with its keys, name,
//! description and context. The help overlay, the status-bar hints and the
//! command palette are all generated from it, so they cannot drift apart.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Where a binding applies. Overlay contexts take all keys while open;
/// `Global` applies when no overlay is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// The main screen.
    Global,
    /// Help overlay.
    Help,
    /// Command palette.
    Palette,
    /// Filter input.
    Filter,
    /// Reroute picker.
    Reroute,
    /// Gate review.
    Gate,
    /// Text editor (gate comment, inject).
    Editor,
    /// Yes/no confirmation.
    Confirm,
}

impl Context {
    /// Heading used in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::Help => "Help",
            Context::Palette => "Command palette",
            Context::Filter => "Filter",
            Context::Reroute => "Reroute picker",
            Context::Gate => "Gate review (other main-screen keys work too)",
            Context::Editor => "Editor",
            Context::Confirm => "Confirm",
        }
    }
}

/// Something a key can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Show the help overlay.
    Help,
    /// Quit (asks first while work is running).
    Quit,
    /// Quit at once (Ctrl-C).
    ForceQuit,
    /// Close the overlay / leave zoom / clear selection.
    Back,
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Focus pane n (1-based).
    FocusPane(u8),
    /// Move down one row.
    Down,
    /// Move up one row.
    Up,
    /// Jump to the first row.
    Top,
    /// Jump to the last row.
    Bottom,
    /// Move down a page.
    PageDown,
    /// Move up a page.
    PageUp,
    /// Open the filter input.
    Filter,
    /// Open the command palette.
    Palette,
    /// Pause or resume the run.
    PauseResume,
    /// Retry the selected failed task.
    Retry,
    /// Reroute the selected task to another agent.
    Reroute,
    /// Approve the selected open gate.
    Approve,
    /// Deny the selected open gate, with a comment.
    Deny,
    /// Open the gate review (artifact and every waiting gate).
    ReviewGate,
    /// Step the debate one turn.
    StepDebate,
    /// Toggle debate step mode.
    ToggleStep,
    /// Toggle follow mode (bus and tasks stick to the newest row).
    Follow,
    /// Switch to the next theme.
    NextTheme,
    /// Publish a message on the bus.
    Inject,
    /// Zoom the focused pane.
    Zoom,
    /// Cancel the selected task (asks first).
    Cancel,
    /// Suspend to the shell (Ctrl-Z).
    Suspend,
    /// Accept (Enter in overlays).
    Confirm,
    /// Decline (confirm dialog).
    Decline,
    /// Submit the editor (Ctrl-S).
    Submit,
}

/// One key: a code and the modifiers that must be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// Key code.
    pub code: KeyCode,
    /// Required modifiers (Shift is implied by upper-case characters).
    pub mods: KeyModifiers,
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}
const fn code(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}
const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

impl Key {
    /// Normalises a terminal key event for lookup (Shift is part of the
    /// character for printable keys, so it is dropped there).
    pub fn from_event(ev: &KeyEvent) -> Key {
        let mut mods =
            ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        if matches!(ev.code, KeyCode::Char(_) | KeyCode::BackTab) {
            mods.remove(KeyModifiers::SHIFT);
        }
        Key {
            code: ev.code,
            mods,
        }
    }

    /// How the key is written in help and hints.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_owned(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            other => format!("{other:?}"),
        };
        if self.mods.contains(KeyModifiers::CONTROL) {
            format!("C-{base}")
        } else {
            base
        }
    }
}

/// One declared action.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Keys that trigger it.
    pub keys: &'static [Key],
    /// What it does.
    pub action: Action,
    /// Short name (hints, palette).
    pub name: &'static str,
    /// One-line description (help, palette).
    pub description: &'static str,
    /// Where it applies.
    pub context: Context,
    /// Shown in the status-bar hints.
    pub hint: bool,
}

const fn b(
    context: Context,
    keys: &'static [Key],
    action: Action,
    name: &'static str,
    description: &'static str,
    hint: bool,
) -> Binding {
    Binding {
        keys,
        action,
        name,
        description,
        context,
        hint,
    }
}

use Action as A;
use Context as C;

/// Every binding of the cockpit.
pub const BINDINGS: &[Binding] = &[
    b(
        C::Global,
        &[k('?')],
        A::Help,
        "help",
        "show every key",
        true,
    ),
    b(
        C::Global,
        &[k('q')],
        A::Quit,
        "quit",
        "quit (asks while work is running)",
        true,
    ),
    b(
        C::Global,
        &[ctrl('c')],
        A::ForceQuit,
        "force quit",
        "quit at once",
        false,
    ),
    b(
        C::Global,
        &[ctrl('z')],
        A::Suspend,
        "suspend",
        "suspend to the shell (fg to come back)",
        false,
    ),
    b(
        C::Global,
        &[code(KeyCode::Esc)],
        A::Back,
        "back",
        "leave zoom or clear the filter",
        false,
    ),
    b(
        C::Global,
        &[code(KeyCode::Tab)],
        A::NextPane,
        "next pane",
        "focus the next pane",
        true,
    ),
    b(
        C::Global,
        &[code(KeyCode::BackTab)],
        A::PrevPane,
        "prev pane",
        "focus the previous pane",
        false,
    ),
    b(
        C::Global,
        &[k('1')],
        A::FocusPane(1),
        "graph",
        "focus the agent graph",
        false,
    ),
    b(
        C::Global,
        &[k('2')],
        A::FocusPane(2),
        "bus",
        "focus the bus traffic",
        false,
    ),
    b(
        C::Global,
        &[k('3')],
        A::FocusPane(3),
        "tasks",
        "focus the task list",
        false,
    ),
    b(
        C::Global,
        &[k('4')],
        A::FocusPane(4),
        "detail",
        "focus the task detail",
        false,
    ),
    b(
        C::Global,
        &[k('5')],
        A::FocusPane(5),
        "budgets",
        "focus the token budgets",
        false,
    ),
    b(
        C::Global,
        &[k('6')],
        A::FocusPane(6),
        "debate",
        "focus the debate transcript",
        false,
    ),
    b(
        C::Global,
        &[k('j'), code(KeyCode::Down)],
        A::Down,
        "down",
        "move down",
        false,
    ),
    b(
        C::Global,
        &[k('k'), code(KeyCode::Up)],
        A::Up,
        "up",
        "move up",
        false,
    ),
    b(
        C::Global,
        &[k('g'), code(KeyCode::Home)],
        A::Top,
        "top",
        "jump to the top",
        false,
    ),
    b(
        C::Global,
        &[k('G'), code(KeyCode::End)],
        A::Bottom,
        "bottom",
        "jump to the bottom",
        false,
    ),
    b(
        C::Global,
        &[code(KeyCode::PageDown)],
        A::PageDown,
        "page down",
        "move down a page",
        false,
    ),
    b(
        C::Global,
        &[code(KeyCode::PageUp)],
        A::PageUp,
        "page up",
        "move up a page",
        false,
    ),
    b(
        C::Global,
        &[k('/')],
        A::Filter,
        "filter",
        "filter the bus or the tasks",
        true,
    ),
    b(
        C::Global,
        &[k(':')],
        A::Palette,
        "palette",
        "run any action by name",
        true,
    ),
    b(
        C::Global,
        &[k('p')],
        A::PauseResume,
        "pause",
        "pause or resume the run",
        true,
    ),
    b(
        C::Global,
        &[k('r')],
        A::Retry,
        "retry",
        "retry the selected failed task",
        true,
    ),
    b(
        C::Global,
        &[k('R')],
        A::Reroute,
        "reroute",
        "move the selected task to another agent",
        true,
    ),
    b(
        C::Global,
        &[k('a')],
        A::Approve,
        "approve",
        "approve the waiting gate at once",
        true,
    ),
    b(
        C::Global,
        &[k('d')],
        A::Deny,
        "deny",
        "deny the waiting gate with a comment",
        true,
    ),
    b(
        C::Global,
        &[k('v')],
        A::ReviewGate,
        "review gate",
        "show the gate review (artifact, every waiting gate)",
        true,
    ),
    b(
        C::Global,
        &[k('n')],
        A::StepDebate,
        "step",
        "step the debate one turn",
        false,
    ),
    b(
        C::Global,
        &[k('s')],
        A::ToggleStep,
        "step mode",
        "toggle debate step mode",
        false,
    ),
    b(
        C::Global,
        &[k('f')],
        A::Follow,
        "follow",
        "follow the newest bus messages and tasks",
        true,
    ),
    b(
        C::Global,
        &[k('t')],
        A::NextTheme,
        "theme",
        "switch to the next theme",
        false,
    ),
    b(
        C::Global,
        &[k('i')],
        A::Inject,
        "inject",
        "publish a message on the bus",
        false,
    ),
    b(
        C::Global,
        &[k('z')],
        A::Zoom,
        "zoom",
        "zoom the focused pane",
        true,
    ),
    b(
        C::Global,
        &[k('c')],
        A::Cancel,
        "cancel",
        "cancel the selected task (asks first)",
        false,
    ),
    b(
        C::Help,
        &[code(KeyCode::Esc), k('?'), k('q')],
        A::Back,
        "close",
        "close help",
        true,
    ),
    b(
        C::Help,
        &[k('j'), code(KeyCode::Down)],
        A::Down,
        "down",
        "scroll down",
        true,
    ),
    b(
        C::Help,
        &[k('k'), code(KeyCode::Up)],
        A::Up,
        "up",
        "scroll up",
        true,
    ),
    b(
        C::Help,
        &[code(KeyCode::PageDown)],
        A::PageDown,
        "page down",
        "scroll a page down",
        false,
    ),
    b(
        C::Help,
        &[code(KeyCode::PageUp)],
        A::PageUp,
        "page up",
        "scroll a page up",
        false,
    ),
    b(
        C::Palette,
        &[code(KeyCode::Esc)],
        A::Back,
        "close",
        "close the palette",
        true,
    ),
    b(
        C::Palette,
        &[code(KeyCode::Enter)],
        A::Confirm,
        "run",
        "run the highlighted action",
        true,
    ),
    b(
        C::Palette,
        &[code(KeyCode::Down), ctrl('n')],
        A::Down,
        "next",
        "highlight the next match",
        true,
    ),
    b(
        C::Palette,
        &[code(KeyCode::Up), ctrl('p')],
        A::Up,
        "prev",
        "highlight the previous match",
        false,
    ),
    b(
        C::Filter,
        &[code(KeyCode::Esc)],
        A::Back,
        "clear",
        "clear the filter and close",
        true,
    ),
    b(
        C::Filter,
        &[code(KeyCode::Enter)],
        A::Confirm,
        "apply",
        "keep the filter and close",
        true,
    ),
    b(
        C::Reroute,
        &[code(KeyCode::Esc)],
        A::Back,
        "cancel",
        "close without rerouting",
        true,
    ),
    b(
        C::Reroute,
        &[code(KeyCode::Enter)],
        A::Confirm,
        "reroute",
        "send the task to the highlighted agent",
        true,
    ),
    b(
        C::Reroute,
        &[k('j'), code(KeyCode::Down)],
        A::Down,
        "down",
        "next agent",
        true,
    ),
    b(
        C::Reroute,
        &[k('k'), code(KeyCode::Up)],
        A::Up,
        "up",
        "previous agent",
        false,
    ),
    b(
        C::Gate,
        &[code(KeyCode::Esc)],
        A::Back,
        "close",
        "close; the gate stays open",
        true,
    ),
    b(
        C::Gate,
        &[k('a')],
        A::Approve,
        "approve",
        "approve the artifact",
        true,
    ),
    b(
        C::Gate,
        &[k('d')],
        A::Deny,
        "deny",
        "deny with a comment",
        true,
    ),
    b(
        C::Gate,
        &[k('j'), code(KeyCode::Down)],
        A::Down,
        "down",
        "scroll the artifact",
        true,
    ),
    b(
        C::Gate,
        &[k('k'), code(KeyCode::Up)],
        A::Up,
        "up",
        "scroll the artifact",
        false,
    ),
    b(
        C::Gate,
        &[code(KeyCode::PageDown)],
        A::PageDown,
        "page down",
        "scroll a page down",
        false,
    ),
    b(
        C::Gate,
        &[code(KeyCode::PageUp)],
        A::PageUp,
        "page up",
        "scroll a page up",
        false,
    ),
    b(
        C::Gate,
        &[code(KeyCode::Tab)],
        A::NextPane,
        "next gate",
        "review the next waiting gate",
        true,
    ),
    b(
        C::Gate,
        &[code(KeyCode::BackTab)],
        A::PrevPane,
        "prev gate",
        "review the previous waiting gate",
        false,
    ),
    b(
        C::Editor,
        &[code(KeyCode::Esc)],
        A::Back,
        "cancel",
        "discard and close",
        true,
    ),
    b(
        C::Editor,
        &[ctrl('s')],
        A::Submit,
        "send",
        "send (Enter adds a line)",
        true,
    ),
    b(
        C::Confirm,
        &[k('y'), code(KeyCode::Enter)],
        A::Confirm,
        "yes",
        "confirm",
        true,
    ),
    b(
        C::Confirm,
        &[k('n'), code(KeyCode::Esc)],
        A::Decline,
        "no",
        "go back",
        true,
    ),
];

/// Resolves a key in a context.
///
/// Ctrl-C force-quits everywhere so a stuck overlay can never trap the user.
pub fn resolve(context: Context, ev: &KeyEvent) -> Option<Action> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    let key = Key::from_event(ev);
    if key == ctrl('c') {
        return Some(Action::ForceQuit);
    }
    BINDINGS
        .iter()
        .filter(|b| b.context == context)
        .find(|b| b.keys.contains(&key))
        .map(|b| b.action)
}

/// Bindings of one context, in declaration order.
pub fn bindings(context: Context) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.context == context)
}

/// The first key label of a binding (`j/↓` for several).
pub fn keys_label(b: &Binding) -> String {
    b.keys.iter().map(Key::label).collect::<Vec<_>>().join("/")
}

/// Fuzzy subsequence score of `query` against `text` (higher is better),
/// `None` when not every query character appears in order.
pub fn fuzzy_score(query: &str, text: &str) -> Option<i64> {
    if query.is_empty() {
        return Some(0);
    }
    let mut score = 0i64;
    let mut last: Option<usize> = None;
    let mut chars = text
        .char_indices()
        .map(|(i, c)| (i, c.to_ascii_lowercase()));
    for q in query.chars().map(|c| c.to_ascii_lowercase()) {
        let (i, _) = chars.find(|(_, c)| *c == q)?;
        score += match last {
            Some(l) if i == l + 1 => 8,
            _ => 1,
        };
        if i == 0 || text[..i].ends_with([' ', '-', '_']) {
            score += 4;
        }
        last = Some(i);
    }
    Some(score - text.len() as i64 / 8)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn no_key_is_bound_twice_in_a_context() {
        let mut seen: HashMap<(Context, Key), &str> = HashMap::new();
        for b in BINDINGS {
            for key in b.keys {
                if let Some(prev) = seen.insert((b.context, *key), b.name) {
                    panic!(
                        "{} is bound to both {prev:?} and {:?} in {:?}",
                        key.label(),
                        b.name,
                        b.context
                    );
                }
            }
        }
    }

    #[test]
    fn every_action_is_declared_once_per_context() {
        let mut seen = HashMap::new();
        for b in BINDINGS {
            assert!(
                seen.insert((b.context, b.action), b.name).is_none(),
                "{:?} twice in {:?}",
                b.action,
                b.context
            );
            assert!(!b.keys.is_empty() && !b.description.is_empty());
        }
    }

    #[test]
    fn design_default_keys_resolve() {
        let ev = |c: KeyCode, m: KeyModifiers| KeyEvent::new(c, m);
        let g = |c: char| resolve(Context::Global, &ev(KeyCode::Char(c), KeyModifiers::NONE));
        assert_eq!(g('?'), Some(Action::Help));
        assert_eq!(g('q'), Some(Action::Quit));
        assert_eq!(g('p'), Some(Action::PauseResume));
        assert_eq!(g('R'), Some(Action::Reroute));
        assert_eq!(g('r'), Some(Action::Retry));
        assert_eq!(g('4'), Some(Action::FocusPane(4)));
        assert_eq!(
            resolve(
                Context::Global,
                &ev(KeyCode::Char('R'), KeyModifiers::SHIFT)
            ),
            Some(Action::Reroute)
        );
        assert_eq!(
            resolve(Context::Global, &ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevPane)
        );
        assert_eq!(
            resolve(
                Context::Gate,
                &ev(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Some(Action::ForceQuit)
        );
        assert_eq!(
            resolve(
                Context::Editor,
                &ev(KeyCode::Char('s'), KeyModifiers::CONTROL)
            ),
            Some(Action::Submit)
        );
        assert_eq!(
            resolve(Context::Editor, &ev(KeyCode::Char('q'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn fuzzy_prefers_word_starts_and_runs() {
        assert!(fuzzy_score("rr", "reroute").is_some());
        assert!(fuzzy_score("xyz", "reroute").is_none());
        assert!(
            fuzzy_score("pau", "pause").unwrap()
                > fuzzy_score("pau", "step mode pause").unwrap_or(i64::MIN)
        );
    }
}
