//! The one table of key bindings.
//!
//! Every action is declared once in [`BINDINGS`] with its keys, name,
//! description and context. The help overlay, the status-bar hints and the
//! command palette are all generated from the [`Keymap`] in use (the table
//! with the user's `[keys]` overrides applied), so they cannot drift apart.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::Deserialize;
use toml::Spanned;

use crate::workflow::diagnostics::{Diagnostic, Diagnostics};

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
    /// One bus message in full.
    Message,
    /// The form that submits a task to the running run.
    Submit,
    // ── replay controls (issue #6 replay) ──
    /// The main screen of `agentctl replay`: looked up before `Global`.
    Replay,
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
            Context::Message => "Bus message",
            Context::Submit => "Submit a task (other keys type the prompt)",
            Context::Replay => "Replay (agentctl replay; before the main-screen keys)",
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
    /// Raise the run's (or the selected task's agent's) budget; offered
    /// while the run is paused because a budget ran out.
    RaiseBudget,
    /// Switch the Graph pane between the workflow and the agents' traffic.
    GraphView,
    /// Show the workers of a scale-out run in the Graph pane (again: back).
    Workers,
    /// Fold or unfold the selected graph node.
    Fold,
    /// Suspend to the shell (Ctrl-Z).
    Suspend,
    /// Move the wide layout's column split right (the left column wider).
    SplitRight,
    /// Move the column split left.
    SplitLeft,
    /// Make the focused pane one row taller.
    Taller,
    /// Make the focused pane one row shorter.
    Shorter,
    /// Accept (Enter in overlays).
    Confirm,
    /// Decline (confirm dialog).
    Decline,
    /// Submit the editor (Ctrl-S).
    Submit,
    /// Soft-wrap long lines, or cut them and scroll sideways.
    ToggleWrap,
    /// Scroll sideways to the left (lines not wrapped).
    ScrollLeft,
    /// Scroll sideways to the right (lines not wrapped).
    ScrollRight,
    /// Open the selected bus message in full.
    OpenMessage,
    /// Submit a task to the running run (agent, prompt, priority).
    SubmitTask,
    // ── replay controls (issue #6 replay) ──
    /// Play or pause the replay.
    PlayPause,
    /// Apply the next recorded event (pauses).
    StepForward,
    /// Undo the last applied event (pauses).
    StepBack,
    /// Next faster playback speed.
    Faster,
    /// Next slower playback speed.
    Slower,
    /// Seek forward by a few seconds of recorded time.
    SeekForward,
    /// Seek back by a few seconds of recorded time.
    SeekBack,
    /// Seek to a typed time, event number or fraction.
    SeekTo,
    /// Jump to the next gate opened or decided.
    NextGate,
    /// Jump back to the previous gate event.
    PrevGate,
    /// Jump to the next debate turn or ballot.
    NextTurn,
    /// Jump back to the previous debate turn or ballot.
    PrevTurn,
    /// Jump to the next failure.
    NextFailure,
    /// Jump back to the previous failure.
    PrevFailure,
    /// Fork the recorded run here into a live run (a new session).
    Fork,
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
const fn alt(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::ALT,
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
        let mut out = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            out.push_str("C-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            out.push_str("M-");
        }
        out.push_str(&base);
        out
    }
}

/// One declared action.
#[derive(Debug, Clone)]
pub struct Binding {
    /// Keys that trigger it (the user's, when overridden).
    pub keys: Cow<'static, [Key]>,
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
        keys: Cow::Borrowed(keys),
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
        "end a seek, leave zoom or clear the filter",
        false,
    ),
    b(
        C::Global,
        &[code(KeyCode::Tab)],
        A::NextPane,
        "next pane",
        "focus the next pane (zoomed Debate: its transcript first)",
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
        "focus debate · vote · swarm · chat",
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
        &[k('w')],
        A::ToggleWrap,
        "wrap",
        "wrap long lines, or cut them to scroll sideways (Detail, transcript)",
        false,
    ),
    b(
        C::Global,
        &[k('h')],
        A::ScrollLeft,
        "left",
        "scroll Detail or the transcript left (wrap off)",
        false,
    ),
    b(
        C::Global,
        &[k('l')],
        A::ScrollRight,
        "right",
        "scroll Detail or the transcript right (wrap off)",
        false,
    ),
    b(
        C::Global,
        &[code(KeyCode::Enter)],
        A::OpenMessage,
        "open message",
        "open the selected bus message in full (in Bus)",
        false,
    ),
    b(
        C::Global,
        &[k('N')],
        A::SubmitTask,
        "submit task",
        "submit a task to the running run: agent, prompt, priority",
        false,
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
        C::Global,
        &[k('B')],
        A::RaiseBudget,
        "raise budget",
        "raise the exhausted budget (run paused for budget only)",
        true,
    ),
    b(
        C::Global,
        &[alt(KeyCode::Right)],
        A::SplitRight,
        "split right",
        "widen the left column (remembered in the state dir)",
        false,
    ),
    b(
        C::Global,
        &[k('e')],
        A::GraphView,
        "graph view",
        "switch the graph between the workflow and the agents' traffic",
        false,
    ),
    b(
        C::Global,
        &[k('W')],
        A::Workers,
        "workers",
        "show the workers of a run with --nats in the graph pane (again: back)",
        false,
    ),
    b(
        C::Global,
        &[alt(KeyCode::Left)],
        A::SplitLeft,
        "split left",
        "widen the right column (remembered in the state dir)",
        false,
    ),
    b(
        C::Global,
        &[alt(KeyCode::Down)],
        A::Taller,
        "taller",
        "make the focused pane taller (remembered in the state dir)",
        false,
    ),
    b(
        C::Global,
        &[alt(KeyCode::Up)],
        A::Shorter,
        "shorter",
        "make the focused pane shorter (remembered in the state dir)",
        false,
    ),
    b(
        C::Global,
        &[k('o')],
        A::Fold,
        "fold",
        "fold, unfold or expand the selected graph node",
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
        &[k('w')],
        A::ToggleWrap,
        "wrap",
        "wrap the artifact's long lines, or cut them",
        true,
    ),
    b(
        C::Gate,
        &[k('h')],
        A::ScrollLeft,
        "left",
        "scroll the artifact left (wrap off)",
        false,
    ),
    b(
        C::Gate,
        &[k('l')],
        A::ScrollRight,
        "right",
        "scroll the artifact right (wrap off)",
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
    b(
        C::Message,
        &[code(KeyCode::Esc), code(KeyCode::Enter), k('q')],
        A::Back,
        "close",
        "close the message",
        true,
    ),
    b(
        C::Message,
        &[k('j'), code(KeyCode::Down)],
        A::Down,
        "down",
        "scroll down",
        true,
    ),
    b(
        C::Message,
        &[k('k'), code(KeyCode::Up)],
        A::Up,
        "up",
        "scroll up",
        false,
    ),
    b(
        C::Message,
        &[code(KeyCode::PageDown)],
        A::PageDown,
        "page down",
        "scroll a page down",
        false,
    ),
    b(
        C::Message,
        &[code(KeyCode::PageUp)],
        A::PageUp,
        "page up",
        "scroll a page up",
        false,
    ),
    b(
        C::Message,
        &[k('g'), code(KeyCode::Home)],
        A::Top,
        "top",
        "jump to the top",
        false,
    ),
    b(
        C::Message,
        &[k('G'), code(KeyCode::End)],
        A::Bottom,
        "bottom",
        "jump to the end",
        false,
    ),
    b(
        C::Message,
        &[k('w')],
        A::ToggleWrap,
        "wrap",
        "wrap long lines, or cut them",
        true,
    ),
    b(
        C::Message,
        &[k('h')],
        A::ScrollLeft,
        "left",
        "scroll left (wrap off)",
        false,
    ),
    b(
        C::Message,
        &[k('l')],
        A::ScrollRight,
        "right",
        "scroll right (wrap off)",
        false,
    ),
    b(
        C::Submit,
        &[code(KeyCode::Esc)],
        A::Back,
        "cancel",
        "close the form, submit nothing",
        true,
    ),
    b(
        C::Submit,
        &[code(KeyCode::Enter)],
        A::Confirm,
        "submit",
        "submit the task to the selected agent",
        true,
    ),
    b(
        C::Submit,
        &[code(KeyCode::Down)],
        A::Down,
        "next agent",
        "highlight the next agent",
        true,
    ),
    b(
        C::Submit,
        &[code(KeyCode::Up)],
        A::Up,
        "prev agent",
        "highlight the previous agent",
        false,
    ),
    b(
        C::Submit,
        &[code(KeyCode::Left)],
        A::ScrollLeft,
        "more urgent",
        "priority one step more urgent (1 is the most)",
        true,
    ),
    b(
        C::Submit,
        &[code(KeyCode::Right)],
        A::ScrollRight,
        "less urgent",
        "priority one step less urgent (5 is the least)",
        false,
    ),
    // ── replay controls (issue #6 replay) ──
    b(
        C::Replay,
        &[k(' '), k('p')],
        A::PlayPause,
        "play",
        "play or pause (at the end: again from the start)",
        true,
    ),
    b(
        C::Replay,
        &[k('.')],
        A::StepForward,
        "step",
        "apply the next recorded event (pauses)",
        true,
    ),
    b(
        C::Replay,
        &[k(',')],
        A::StepBack,
        "step back",
        "undo the last event (pauses)",
        true,
    ),
    b(
        C::Replay,
        &[k('>'), k('+')],
        A::Faster,
        "faster",
        "next speed up: 0.5× 1× 2× 4× 8× 16×",
        true,
    ),
    b(
        C::Replay,
        &[k('<'), k('-')],
        A::Slower,
        "slower",
        "next speed down",
        false,
    ),
    b(
        C::Replay,
        &[code(KeyCode::Right)],
        A::SeekForward,
        "forward 5s",
        "seek 5 s of recorded time forward",
        false,
    ),
    b(
        C::Replay,
        &[code(KeyCode::Left)],
        A::SeekBack,
        "back 5s",
        "seek 5 s of recorded time back",
        false,
    ),
    b(
        C::Replay,
        &[k('T')],
        A::SeekTo,
        "seek",
        "seek to a typed time (1:05, 90s, +10s), #event, 50%, start, end",
        true,
    ),
    b(
        C::Replay,
        &[k(']')],
        A::NextGate,
        "next gate",
        "jump to the next gate opened or decided",
        true,
    ),
    b(
        C::Replay,
        &[k('[')],
        A::PrevGate,
        "prev gate",
        "jump back to the previous gate event",
        false,
    ),
    b(
        C::Replay,
        &[k('}')],
        A::NextTurn,
        "next turn",
        "jump to the next debate turn or ballot",
        false,
    ),
    b(
        C::Replay,
        &[k('{')],
        A::PrevTurn,
        "prev turn",
        "jump back to the previous debate turn or ballot",
        false,
    ),
    b(
        C::Replay,
        &[k(')')],
        A::NextFailure,
        "next fail",
        "jump to the next failure (task, turn, ballot or run)",
        false,
    ),
    b(
        C::Replay,
        &[k('(')],
        A::PrevFailure,
        "prev fail",
        "jump back to the previous failure",
        false,
    ),
    b(
        C::Replay,
        &[k('F')],
        A::Fork,
        "fork",
        "fork here: a new session shares the run so far and goes on live",
        false,
    ),
];

/// The key bindings in use: the declared defaults with the user's overrides.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            bindings: BINDINGS.to_vec(),
        }
    }
}

impl Keymap {
    /// Resolves a key in a context.
    ///
    /// Ctrl-C force-quits everywhere so a stuck overlay can never trap the user.
    pub(crate) fn resolve(&self, context: Context, ev: &KeyEvent) -> Option<Action> {
        if ev.kind == KeyEventKind::Release {
            return None;
        }
        let key = Key::from_event(ev);
        if key == ctrl('c') {
            return Some(Action::ForceQuit);
        }
        self.bindings
            .iter()
            .filter(|b| b.context == context)
            .find(|b| b.keys.contains(&key))
            .map(|b| b.action)
    }

    /// Bindings of one context, in declaration order.
    pub(crate) fn bindings(&self, context: Context) -> impl Iterator<Item = &Binding> {
        self.bindings.iter().filter(move |b| b.context == context)
    }

    /// Every binding, in declaration order.
    pub(crate) fn all(&self) -> &[Binding] {
        &self.bindings
    }

    /// The first key of a main-screen action, as help writes it.
    pub(crate) fn key_label(&self, action: Action) -> Option<String> {
        self.bindings(Context::Global)
            .find(|b| b.action == action)
            .and_then(|b| b.keys.first())
            .map(Key::label)
    }

    /// The defaults with the `[keys]` table of a config file applied.
    ///
    /// `[keys]` maps an action name to a key or a list of keys, which replace
    /// that action's keys: `approve = "A"`, `down = ["j", "Down", "C-n"]`.
    /// A bare name is a main-screen action (`config_name` in the help); it
    /// also rebinds the same action in overlays that share its default keys
    /// (`approve` moves the gate review's approve too). `gate.approve` names
    /// one overlay's binding. Other tables of the file are ignored. Unknown
    /// actions and keys, and two actions on one key, are errors pointing at
    /// the line; all are reported at once.
    pub fn with_overrides(text: &str, file: &str) -> Result<Keymap, Diagnostics> {
        #[derive(Deserialize)]
        struct ConfigFile {
            #[serde(default)]
            keys: BTreeMap<Spanned<String>, Spanned<Entry>>,
        }
        let parsed: ConfigFile = toml::from_str(text).map_err(|e| {
            Diagnostics::from(
                Diagnostic::error(file, text, e.span().unwrap_or(0..0), e.message().trim())
                    .with_hint("fix the TOML syntax; key bindings go in a [keys] table"),
            )
        })?;
        let mut map = Keymap::default();
        let mut errors = Vec::new();
        // Which override line set each (context, action): for conflict reports.
        let mut origin: HashMap<(Context, Action), std::ops::Range<usize>> = HashMap::new();
        // `gate.approve = "A"` and `[keys.gate]` both nest: flatten to dotted names.
        let mut entries = Vec::new();
        for (name, value) in &parsed.keys {
            match value.get_ref() {
                Entry::Table(inner) => {
                    for (n, v) in inner {
                        let dotted = format!("{}.{}", name.get_ref(), n.get_ref());
                        entries.push((Spanned::new(n.span(), dotted), v));
                    }
                }
                _ => entries.push((name.clone(), value)),
            }
        }
        for (name, value) in entries {
            let targets = map.targets(name.get_ref());
            if targets.is_empty() {
                let hint = match closest_name(name.get_ref()) {
                    Some(n) => {
                        format!("did you mean `{n}`? (`agentctl tui`, then `?`, lists them)")
                    }
                    None => "see the key table in the README or `?` in the cockpit".to_owned(),
                };
                errors.push(
                    Diagnostic::error(
                        file,
                        text,
                        name.span(),
                        format!("unknown action `{}` in [keys]", name.get_ref()),
                    )
                    .with_hint(hint),
                );
                continue;
            }
            let keys = match parse_keys(value.get_ref()) {
                Ok(k) => k,
                Err((msg, hint)) => {
                    errors.push(Diagnostic::error(file, text, value.span(), msg).with_hint(hint));
                    continue;
                }
            };
            for i in targets {
                let b = &mut map.bindings[i];
                if b.context.takes_text()
                    && let Some(k) = keys.iter().find(|k| k.is_text())
                {
                    errors.push(
                        Diagnostic::error(
                            file,
                            text,
                            value.span(),
                            format!(
                                "`{}` would stop you typing `{}` in the {}",
                                name.get_ref(),
                                k.label(),
                                b.context.place()
                            ),
                        )
                        .with_hint("use a key with Ctrl or Alt, or a named key like Esc"),
                    );
                    continue;
                }
                b.keys = Cow::Owned(keys.clone());
                origin.insert((b.context, b.action), value.span());
            }
        }
        // Two actions on one key in one context.
        let mut seen: HashMap<(Context, Key), usize> = HashMap::new();
        for (i, b) in map.bindings.iter().enumerate() {
            for key in b.keys.iter() {
                let Some(&j) = seen.get(&(b.context, *key)) else {
                    seen.insert((b.context, *key), i);
                    continue;
                };
                let other = &map.bindings[j];
                // Point at an override: the later one if both are overridden.
                let (at, moved, kept) = match (
                    origin.get(&(b.context, b.action)),
                    origin.get(&(other.context, other.action)),
                ) {
                    (Some(r), _) => (r.clone(), b, other),
                    (None, Some(r)) => (r.clone(), other, b),
                    (None, None) => continue,
                };
                errors.push(
                    Diagnostic::error(
                        file,
                        text,
                        at,
                        format!(
                            "`{}` is bound to both `{}` and `{}` in {}",
                            key.label(),
                            moved.config_name(),
                            kept.config_name(),
                            b.context.place()
                        ),
                    )
                    .with_hint(format!(
                        "pick another key, or move `{}` too (e.g. `{} = \"...\"`)",
                        kept.config_name(),
                        kept.config_name()
                    )),
                );
            }
        }
        if errors.is_empty() {
            Ok(map)
        } else {
            Err(Diagnostics(errors))
        }
    }

    /// The defaults with the `[keys]` table of the config file at `path`
    /// applied; the defaults alone when the file does not exist.
    pub fn load(path: &Path) -> Result<Keymap, Diagnostics> {
        use crate::workflow::source_file::{MAX_TEXT_BYTES, SourceError, read_text};
        // A FIFO or device as the config must not hang the cockpit.
        match read_text(path, MAX_TEXT_BYTES) {
            Ok(text) => Keymap::with_overrides(&text, &path.display().to_string()),
            Err(SourceError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Keymap::default())
            }
            Err(e) => Err(Diagnostic::file_error(
                &path.display().to_string(),
                format!("cannot read the config file: {e}"),
            )
            .into()),
        }
    }

    /// Indices of the bindings a `[keys]` name rebinds.
    fn targets(&self, name: &str) -> Vec<usize> {
        let Some(i) = self.bindings.iter().position(|b| b.config_name() == name) else {
            return Vec::new();
        };
        let main = &self.bindings[i];
        let mut out = vec![i];
        if main.context == Context::Global {
            let default_keys = &BINDINGS[i].keys;
            out.extend(self.bindings.iter().enumerate().filter_map(|(j, b)| {
                (b.context != Context::Global
                    && b.action == main.action
                    && BINDINGS[j].keys == *default_keys)
                    .then_some(j)
            }));
        }
        out
    }
}

/// The nearest declared `[keys]` name, for "did you mean".
fn closest_name(name: &str) -> Option<String> {
    BINDINGS
        .iter()
        .map(Binding::config_name)
        .map(|n| (strsim::levenshtein(name, &n), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// A value in `[keys]`: a key, a list of keys, or a table of one overlay's
/// bindings (`[keys.gate]`). Deserialised by hand so the spans of nested
/// entries survive (an untagged enum would buffer them away).
enum Entry {
    One(String),
    Many(Vec<toml::Value>),
    Table(BTreeMap<Spanned<String>, Spanned<Entry>>),
    Other(String),
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Entry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key, a list of keys, or a table of bindings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Entry, E> {
                Ok(Entry::One(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Entry, E> {
                Ok(Entry::Other(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Entry, E> {
                Ok(Entry::Other(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Entry, E> {
                Ok(Entry::Other(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Entry, E> {
                Ok(Entry::Other(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Entry, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element::<toml::Value>()? {
                    out.push(v);
                }
                Ok(Entry::Many(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Entry, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(k) = a.next_key::<Spanned<String>>()? {
                    let v = a.next_value::<Spanned<Entry>>()?;
                    out.insert(k, v);
                }
                Ok(Entry::Table(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn parse_keys(value: &Entry) -> Result<Vec<Key>, (String, String)> {
    let hint = || {
        "write a key like \"A\", \"C-s\", \"Alt-x\", \"Esc\", \"PgDn\", \"F5\", or a list of them"
            .to_owned()
    };
    let strings: Vec<&str> = match value {
        Entry::One(s) => vec![s.as_str()],
        Entry::Many(items) => {
            let mut out = Vec::new();
            for v in items {
                match v.as_str() {
                    Some(s) => out.push(s),
                    None => return Err((format!("expected a key name, found {v}"), hint())),
                }
            }
            out
        }
        Entry::Other(v) => {
            return Err((
                format!("expected a key or a list of keys, found {v}"),
                hint(),
            ));
        }
        Entry::Table(_) => {
            return Err((
                "expected a key or a list of keys, found a table".to_owned(),
                hint(),
            ));
        }
    };
    if strings.is_empty() {
        return Err((
            "an action needs at least one key".to_owned(),
            "list one key or more; to leave the default, remove the line".to_owned(),
        ));
    }
    let mut keys = Vec::with_capacity(strings.len());
    for s in strings {
        match parse_key(s) {
            Some(k) if !keys.contains(&k) => keys.push(k),
            Some(_) => {}
            None => return Err((format!("unknown key `{s}`"), hint())),
        }
    }
    Ok(keys)
}

/// Parses a key as written in `[keys]`: a character (`a`, `A`, `?`), a named
/// key (`Esc`, `Enter`, `Tab`, `S-Tab`, `Up`, `PgDn`, `Home`, `Space`,
/// `Backspace`, `Delete`, `F1`–`F12`), with optional `C-`/`Ctrl-` and
/// `M-`/`Alt-` prefixes (`-` or `+`), any case.
pub fn parse_key(text: &str) -> Option<Key> {
    let mut rest = text.trim();
    let mut mods = KeyModifiers::NONE;
    let mut shift = false;
    while let Some((head, tail)) = rest.split_once(['-', '+']) {
        if head.is_empty() || tail.is_empty() {
            break;
        }
        match head.to_ascii_lowercase().as_str() {
            "c" | "ctrl" | "control" => mods |= KeyModifiers::CONTROL,
            "m" | "alt" | "meta" => mods |= KeyModifiers::ALT,
            "s" | "shift" => shift = true,
            _ => return None,
        }
        rest = tail;
    }
    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) => {
            let c = if shift { c.to_ascii_uppercase() } else { c };
            // Terminals report Ctrl/Alt letters in lower case.
            if !mods.is_empty() && !shift {
                KeyCode::Char(c.to_ascii_lowercase())
            } else {
                KeyCode::Char(c)
            }
        }
        _ => {
            let lower = rest.to_ascii_lowercase();
            match lower.as_str() {
                "esc" | "escape" => KeyCode::Esc,
                "enter" | "return" => KeyCode::Enter,
                "tab" if shift => KeyCode::BackTab,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pagedown" => KeyCode::PageDown,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n @ 1..=12) => KeyCode::F(n),
                    _ => return None,
                },
                _ => return None,
            }
        }
    };
    Some(Key { code, mods })
}

impl Key {
    /// A key that types a character (no Ctrl or Alt).
    fn is_text(&self) -> bool {
        matches!(self.code, KeyCode::Char(_))
            && !self
                .mods
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    }
}

impl Context {
    /// Contexts where unbound keys are typed as text.
    fn takes_text(self) -> bool {
        matches!(
            self,
            Context::Palette | Context::Filter | Context::Editor | Context::Submit
        )
    }

    /// Where the context is, for messages ("the main screen").
    fn place(self) -> &'static str {
        match self {
            Context::Global => "the main screen",
            Context::Help => "the help",
            Context::Palette => "the command palette",
            Context::Filter => "the filter input",
            Context::Reroute => "the reroute picker",
            Context::Gate => "the gate review",
            Context::Editor => "the editor",
            Context::Confirm => "the confirm dialog",
            Context::Message => "the bus message view",
            Context::Submit => "the submit form",
            Context::Replay => "the replay screen",
        }
    }

    /// Prefix of this context's names in `[keys]` (`gate.approve`).
    pub fn config_prefix(self) -> Option<&'static str> {
        match self {
            Context::Global => None,
            Context::Help => Some("help"),
            Context::Palette => Some("palette"),
            Context::Filter => Some("filter"),
            Context::Reroute => Some("reroute"),
            Context::Gate => Some("gate"),
            Context::Editor => Some("editor"),
            Context::Confirm => Some("confirm"),
            Context::Message => Some("message"),
            Context::Submit => Some("submit"),
            Context::Replay => Some("replay"),
        }
    }
}

impl Binding {
    /// The name of this binding in the config file's `[keys]` table:
    /// `approve`, `next_pane`, `gate.next_gate`.
    pub fn config_name(&self) -> String {
        let base = self.name.replace([' ', '-'], "_");
        match self.context.config_prefix() {
            Some(p) => format!("{p}.{base}"),
            None => base,
        }
    }
}

/// The key reference as a Markdown table (where, keys, `[keys]` name,
/// action), generated from the table so the README cannot drift from it.
#[cfg(test)]
pub fn markdown_table(keys: &Keymap) -> String {
    let mut out = String::from("| where | keys | `[keys]` name | action |\n|---|---|---|---|\n");
    for b in keys.all() {
        let where_ = match b.context {
            Context::Global => "main screen",
            Context::Help => "help",
            Context::Palette => "palette",
            Context::Filter => "filter",
            Context::Reroute => "reroute",
            Context::Gate => "gate review",
            Context::Editor => "editor",
            Context::Confirm => "confirm",
            Context::Message => "bus message",
            Context::Submit => "submit form",
            Context::Replay => "replay",
        };
        let ks: Vec<String> = b.keys.iter().map(|k| format!("`{}`", k.label())).collect();
        out.push_str(&format!(
            "| {where_} | {} | `{}` | {} |\n",
            ks.join(" "),
            b.config_name(),
            b.description
        ));
    }
    out
}

/// Keys of a binding, as `j/↓`.
pub fn keys_label(b: &Binding) -> String {
    b.keys.iter().map(Key::label).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn resolve(context: Context, ev: &KeyEvent) -> Option<Action> {
        Keymap::default().resolve(context, ev)
    }

    #[test]
    fn no_key_is_bound_twice_in_a_context() {
        let mut seen: HashMap<(Context, Key), &str> = HashMap::new();
        for b in BINDINGS {
            for key in b.keys.iter() {
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
    fn config_names_are_unique_and_plain() {
        let mut seen = HashMap::new();
        for b in BINDINGS {
            let n = b.config_name();
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.' || c.is_ascii_digit()),
                "{n}"
            );
            assert!(seen.insert(n.clone(), b.action).is_none(), "{n} twice");
        }
    }

    #[test]
    fn every_default_key_label_parses_back() {
        for b in BINDINGS {
            for k in b.keys.iter() {
                // Arrows are drawn as ←; their config names keep the modifiers.
                let alt = if k.mods.contains(KeyModifiers::ALT) {
                    "M-"
                } else {
                    ""
                };
                let label = match k.code {
                    KeyCode::Up => format!("{alt}Up"),
                    KeyCode::Down => format!("{alt}Down"),
                    KeyCode::Left => format!("{alt}Left"),
                    KeyCode::Right => format!("{alt}Right"),
                    _ => k.label(),
                };
                assert_eq!(parse_key(&label), Some(*k), "{label}");
            }
        }
    }

    #[test]
    fn key_strings_parse() {
        let key = |code, mods| Some(Key { code, mods });
        assert_eq!(parse_key("A"), Some(k('A')));
        assert_eq!(parse_key("shift-a"), Some(k('A')));
        assert_eq!(parse_key("Ctrl+S"), Some(ctrl('s')));
        assert_eq!(parse_key("C-s"), Some(ctrl('s')));
        assert_eq!(
            parse_key("alt-x"),
            key(KeyCode::Char('x'), KeyModifiers::ALT)
        );
        assert_eq!(parse_key("Space"), Some(k(' ')));
        assert_eq!(parse_key("-"), Some(k('-')));
        assert_eq!(parse_key("pagedown"), Some(code(KeyCode::PageDown)));
        assert_eq!(parse_key("Shift-Tab"), Some(code(KeyCode::BackTab)));
        assert_eq!(parse_key("F5"), Some(code(KeyCode::F(5))));
        assert_eq!(parse_key("F13"), None);
        assert_eq!(parse_key("hyper-a"), None);
        assert_eq!(parse_key("ab"), None);
    }

    #[test]
    fn overrides_apply_to_the_main_screen_and_matching_overlays() {
        let text = "[provider]\nname = \"x\"\n\n[keys]\napprove = \"A\"\nreroute = \"X\"\ndown = [\"j\", \"C-n\"]\ngate.next_gate = \"n\"\n";
        let map = Keymap::with_overrides(text, "config.toml").unwrap();
        let ev = |c: char, m| KeyEvent::new(KeyCode::Char(c), m);
        let none = KeyModifiers::NONE;
        assert_eq!(
            map.resolve(Context::Global, &ev('A', KeyModifiers::SHIFT)),
            Some(Action::Approve)
        );
        assert_eq!(map.resolve(Context::Global, &ev('a', none)), None);
        // `approve` shares its default key with the gate review's: both move.
        assert_eq!(
            map.resolve(Context::Gate, &ev('A', none)),
            Some(Action::Approve)
        );
        assert_eq!(
            map.resolve(Context::Gate, &ev('n', none)),
            Some(Action::NextPane)
        );
        assert_eq!(
            map.resolve(Context::Help, &ev('n', KeyModifiers::CONTROL)),
            Some(Action::Down)
        );
        assert_eq!(
            map.resolve(Context::Global, &KeyEvent::new(KeyCode::Down, none)),
            None
        );
        // The help lists what is in use.
        let approve = map
            .bindings(Context::Global)
            .find(|b| b.action == Action::Approve)
            .unwrap();
        assert_eq!(keys_label(approve), "A");
        // No [keys] table at all: the defaults.
        let plain = Keymap::with_overrides("[other]\nx = 1\n", "c.toml").unwrap();
        assert_eq!(
            plain.resolve(Context::Global, &ev('a', none)),
            Some(Action::Approve)
        );
    }

    #[test]
    fn bad_overrides_are_reported_with_their_lines() {
        let text = "[keys]\napprov = \"A\"\npause = \"Hyper-p\"\napprove = \"R\"\nfilter.apply = \"x\"\nhelp = []\n";
        let errs = Keymap::with_overrides(text, "config.toml").unwrap_err();
        let all = errs.to_string();
        let at = |line: usize, what: &str| {
            assert!(
                errs.0
                    .iter()
                    .any(|d| d.line == line && d.message.contains(what)),
                "no error with {what:?} on line {line}:\n{all}"
            )
        };
        at(2, "unknown action `approv`");
        assert!(all.contains("did you mean `approve`"), "{all}");
        at(3, "unknown key `Hyper-p`");
        at(4, "`R` is bound to both `approve` and `reroute`");
        at(5, "would stop you typing `x`");
        at(6, "at least one key");
        assert!(all.contains("config.toml:4:"), "{all}");
        // Broken TOML is located too.
        let errs = Keymap::with_overrides("[keys]\napprove = \n", "c.toml").unwrap_err();
        assert_eq!(errs.0[0].line, 2, "{errs}");
    }

    #[test]
    fn a_missing_config_file_means_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let map = Keymap::load(&dir.path().join("config.toml")).unwrap();
        assert_eq!(map.all().len(), BINDINGS.len());
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[keys]\nquit = \"Q\"\n").unwrap();
        let map = Keymap::load(&path).unwrap();
        let ev = KeyEvent::new(KeyCode::Char('Q'), KeyModifiers::SHIFT);
        assert_eq!(map.resolve(Context::Global, &ev), Some(Action::Quit));
    }

    /// The README section's key table is generated from the keymap; run with
    /// `AGENTCTL_BLESS=1` to rewrite it after changing a binding.
    #[test]
    fn readme_key_table_matches_the_keymap() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (start, end) = ("<!-- keys:start -->\n", "<!-- keys:end -->");
        let a = doc.find(start).expect("start marker") + start.len();
        let b = doc.find(end).expect("end marker");
        let table = markdown_table(&Keymap::default());
        if std::env::var_os("AGENTCTL_BLESS").is_some() {
            let new = format!("{}{table}{}", &doc[..a], &doc[b..]);
            std::fs::write(path, new).unwrap();
        } else {
            assert_eq!(
                doc[a..b],
                table,
                "README.md's key table is stale: rerun with AGENTCTL_BLESS=1"
            );
        }
    }
}
