//! Colour themes with meaning-based slots.
//!
//! A theme says what a colour *means* (a failed task, a focused border, a
//! budget close to its limit), never where it is drawn. Built-in themes are
//! TOML files under `themes/`, embedded in the binary. `NO_COLOR` selects a
//! monochrome theme that distinguishes states with modifiers only.
//!
//! A theme file is TOML restricted to `[section]` tables of string values.
//! Each value is a style: a colour (`"#rrggbb"`, a name such as
//! `"lightred"`, an index `"42"`, `"reset"`), optionally `on <colour>` for the
//! background, and modifiers (`bold dim italic underlined reversed`). Slots
//! a file leaves out keep the dark theme's style.

use std::fmt;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};

use super::view_model::RunPhase;
use crate::event::{NodeState, TaskState};

/// Built-in themes: (name, TOML source).
pub const BUILTIN: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.toml")),
];

/// A theme-file problem, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeError {
    /// Line number (1-based; 0 when the problem is not tied to a line).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ThemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ThemeError {}

/// Styles for every meaning the cockpit shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Theme name.
    pub name: String,
    /// Body text.
    pub text: Style,
    /// What every cell sits on (`on <colour>`); empty for the terminal's own.
    /// A light theme sets one, so its dark text stays readable on a dark
    /// terminal.
    pub background: Style,
    /// Secondary text (timestamps, labels).
    pub muted: Style,
    /// Highlights (selected tab, progress).
    pub accent: Style,
    /// Border of an unfocused pane.
    pub border: Style,
    /// Border of the focused pane.
    pub border_focused: Style,
    /// Title of an unfocused pane.
    pub title: Style,
    /// Title of the focused pane.
    pub title_focused: Style,
    /// Selected row.
    pub selection: Style,
    /// Status bar background and text.
    pub status_bar: Style,
    /// Key names in hints and help.
    pub key: Style,
    /// Error text.
    pub error: Style,
    /// Warning text.
    pub warn: Style,
    /// Agreement (debates, approvals).
    pub agree: Style,
    /// Dissent (debates, denials).
    pub dissent: Style,
    /// Budget use below the warning level.
    pub budget_ok: Style,
    /// Budget use near the limit.
    pub budget_warn: Style,
    /// Budget use at or past the limit.
    pub budget_critical: Style,
    /// Per task state, indexed by [`task_slot`].
    pub task: [Style; 9],
    /// Per node state, indexed by [`node_slot`].
    pub node: [Style; 5],
    /// Run badges: running, paused, waiting, done, failed, replay.
    pub badge: [Style; 6],
}

const TASK_KEYS: [&str; 9] = [
    "pending",
    "planning",
    "in_progress",
    "review",
    "revision",
    "completed",
    "failed",
    "paused",
    "cancelled",
];
const NODE_KEYS: [&str; 5] = ["pending", "running", "completed", "failed", "cancelled"];
const BADGE_KEYS: [&str; 6] = ["running", "paused", "waiting", "done", "failed", "replay"];
const UI_KEYS: [&str; 15] = [
    "text",
    "background",
    "muted",
    "accent",
    "border",
    "border_focused",
    "title",
    "title_focused",
    "selection",
    "status_bar",
    "key",
    "error",
    "warn",
    "agree",
    "dissent",
];
const BUDGET_KEYS: [&str; 3] = ["ok", "warn", "critical"];

/// Index of a task state in [`Theme::task`].
pub fn task_slot(s: TaskState) -> usize {
    match s {
        TaskState::Pending => 0,
        TaskState::Planning => 1,
        TaskState::InProgress => 2,
        TaskState::Review => 3,
        TaskState::Revision => 4,
        TaskState::Completed => 5,
        TaskState::Failed => 6,
        TaskState::Paused => 7,
        TaskState::Cancelled => 8,
    }
}

/// Index of a node state in [`Theme::node`].
pub fn node_slot(s: NodeState) -> usize {
    match s {
        NodeState::Pending => 0,
        NodeState::Running => 1,
        NodeState::Completed => 2,
        NodeState::Failed => 3,
        NodeState::Cancelled => 4,
    }
}

impl Theme {
    /// Style of a task state.
    pub fn task_state(&self, s: TaskState) -> Style {
        self.task[task_slot(s)]
    }

    /// Style of a node state.
    pub fn node_state(&self, s: NodeState) -> Style {
        self.node[node_slot(s)]
    }

    /// Style of the run badge.
    pub fn badge(&self, phase: RunPhase, replay: bool) -> Style {
        let i = if replay {
            5
        } else {
            match phase {
                RunPhase::Starting | RunPhase::Running => 0,
                RunPhase::Paused => 1,
                RunPhase::WaitingForYou => 2,
                RunPhase::Done => 3,
                RunPhase::Failed | RunPhase::Cancelled | RunPhase::Interrupted => 4,
            }
        };
        self.badge[i]
    }

    /// Style of a budget gauge at a level (computed from the limits, see
    /// [`crate::tui::view_model::level`]).
    pub fn budget(&self, level: crate::tui::view_model::BudgetLevel) -> Style {
        use crate::tui::view_model::BudgetLevel;
        match level {
            BudgetLevel::Ok => self.budget_ok,
            BudgetLevel::Warn => self.budget_warn,
            BudgetLevel::Critical => self.budget_critical,
        }
    }

    /// Names of the built-in themes, in cycling order (`t`): the theme
    /// files, then monochrome.
    pub fn names() -> impl Iterator<Item = &'static str> {
        BUILTIN
            .iter()
            .map(|(n, _)| *n)
            .chain(std::iter::once("monochrome"))
    }

    /// The style every cell starts from: the body text on the background.
    pub fn base(&self) -> Style {
        self.text.patch(self.background)
    }

    /// A built-in theme by name.
    pub fn builtin(name: &str) -> Option<Theme> {
        if name == "monochrome" {
            return Some(Theme::monochrome());
        }
        let (_, src) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        // Built-ins are checked by a test; a broken one falls back to dark.
        Some(Theme::parse(src).unwrap_or_else(|_| Theme::fallback()))
    }

    /// The default theme (dark), or the monochrome theme when `NO_COLOR` is set.
    pub fn from_env() -> Theme {
        if no_color() {
            Theme::monochrome()
        } else {
            Theme::builtin("dark").unwrap_or_else(Theme::fallback)
        }
    }

    /// The built-in theme after `name` (wrapping), for the `t` key.
    pub fn next_name(name: &str) -> &'static str {
        let names: Vec<&str> = Theme::names().collect();
        let i = names
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| (i + 1) % names.len());
        names[i]
    }

    /// A theme from a name (built-in) or a path to a `.toml` file.
    pub fn load(name_or_path: &str) -> Result<Theme, String> {
        if let Some(t) = Theme::builtin(name_or_path) {
            return Ok(t);
        }
        if name_or_path == "mono" || name_or_path == "monochrome" {
            return Ok(Theme::monochrome());
        }
        use crate::workflow::source_file::{MAX_TEXT_BYTES, read_text};
        let src = read_text(std::path::Path::new(name_or_path), MAX_TEXT_BYTES).map_err(|e| {
            let known: Vec<&str> = Theme::names().collect();
            format!(
                "theme {name_or_path:?}: {e} (built-in themes: {}, monochrome)",
                known.join(", ")
            )
        })?;
        Theme::parse(&src).map_err(|e| format!("{name_or_path}: {e}"))
    }

    /// Styles with no colour at all: states differ by modifiers only.
    pub fn monochrome() -> Theme {
        let n = Style::new();
        let b = Style::new().add_modifier(Modifier::BOLD);
        let d = Style::new().add_modifier(Modifier::DIM);
        let r = Style::new().add_modifier(Modifier::REVERSED);
        let rb = r.add_modifier(Modifier::BOLD);
        let i = Style::new().add_modifier(Modifier::ITALIC);
        let u = Style::new().add_modifier(Modifier::UNDERLINED);
        Theme {
            name: "monochrome".into(),
            text: n,
            background: n,
            muted: d,
            accent: b,
            border: d,
            border_focused: b,
            title: n,
            title_focused: rb,
            selection: r,
            status_bar: r,
            key: b,
            error: b.add_modifier(Modifier::UNDERLINED),
            warn: b,
            agree: b,
            dissent: u,
            budget_ok: n,
            budget_warn: b,
            budget_critical: rb,
            task: [
                d,
                i,
                b,
                u,
                u.add_modifier(Modifier::ITALIC),
                n,
                rb,
                i,
                d.add_modifier(Modifier::CROSSED_OUT),
            ],
            node: [d, b, n, rb, d.add_modifier(Modifier::CROSSED_OUT)],
            badge: [rb, rb, rb.add_modifier(Modifier::UNDERLINED), rb, rb, rb],
        }
    }

    /// Last resort when even the embedded dark theme is unusable.
    fn fallback() -> Theme {
        let mut t = Theme::monochrome();
        t.name = "fallback".into();
        t
    }

    fn slot_mut(&mut self, section: &str, key: &str) -> Option<&mut Style> {
        let idx = |keys: &[&str]| keys.iter().position(|k| *k == key);
        Some(match section {
            "ui" => match key {
                "text" => &mut self.text,
                "background" => &mut self.background,
                "muted" => &mut self.muted,
                "accent" => &mut self.accent,
                "border" => &mut self.border,
                "border_focused" => &mut self.border_focused,
                "title" => &mut self.title,
                "title_focused" => &mut self.title_focused,
                "selection" => &mut self.selection,
                "status_bar" => &mut self.status_bar,
                "key" => &mut self.key,
                "error" => &mut self.error,
                "warn" => &mut self.warn,
                "agree" => &mut self.agree,
                "dissent" => &mut self.dissent,
                _ => return None,
            },
            "budget" => match key {
                "ok" => &mut self.budget_ok,
                "warn" => &mut self.budget_warn,
                "critical" => &mut self.budget_critical,
                _ => return None,
            },
            "task" => &mut self.task[idx(&TASK_KEYS)?],
            "node" => &mut self.node[idx(&NODE_KEYS)?],
            "badge" => &mut self.badge[idx(&BADGE_KEYS)?],
            _ => return None,
        })
    }

    /// Every (section, key) a theme file may set.
    pub fn slots() -> impl Iterator<Item = (&'static str, &'static str)> {
        UI_KEYS
            .iter()
            .map(|k| ("ui", *k))
            .chain(BUDGET_KEYS.iter().map(|k| ("budget", *k)))
            .chain(TASK_KEYS.iter().map(|k| ("task", *k)))
            .chain(NODE_KEYS.iter().map(|k| ("node", *k)))
            .chain(BADGE_KEYS.iter().map(|k| ("badge", *k)))
    }

    /// Parses a theme file; slots it does not set keep the dark theme's style.
    pub fn parse(src: &str) -> Result<Theme, ThemeError> {
        let mut base = if src == BUILTIN[0].1 {
            Theme::fallback()
        } else {
            Theme::builtin("dark").unwrap_or_else(Theme::fallback)
        };
        parse_into(&mut base, src)?;
        Ok(base)
    }
}

/// Parses `src` over `theme`, returning how many slots it set.
fn parse_into(theme: &mut Theme, src: &str) -> Result<usize, ThemeError> {
    let mut section: Option<String> = None;
    let mut set = 0;
    let mut seen: Vec<(String, String)> = Vec::new();
    for (n, raw) in src.lines().enumerate() {
        let line_no = n + 1;
        let err = |message: String| ThemeError {
            line: line_no,
            message,
        };
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| err("unclosed table header".into()))?
                .trim();
            if !["ui", "budget", "task", "node", "badge"].contains(&name) {
                return Err(err(format!(
                    "unknown table [{name}] (expected ui, budget, task, node or badge)"
                )));
            }
            section = Some(name.to_owned());
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| err(format!("expected `key = \"value\"`, found {line:?}")))?;
        let key = key.trim();
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(|| err(format!("the value of {key} must be a quoted string")))?;
        let Some(sec) = section.as_deref() else {
            if key == "name" {
                theme.name = value.to_owned();
                continue;
            }
            return Err(err(format!(
                "unknown key {key:?} at the top level (only `name`)"
            )));
        };
        if seen.iter().any(|(s, k)| s == sec && k == key) {
            return Err(err(format!("duplicate key {key:?} in [{sec}]")));
        }
        let style = parse_style(value).map_err(err)?;
        let slot = theme.slot_mut(sec, key).ok_or_else(|| {
            let known: Vec<&str> = Theme::slots()
                .filter(|(s, _)| *s == sec)
                .map(|(_, k)| k)
                .collect();
            err(format!(
                "unknown key {key:?} in [{sec}] (known: {})",
                known.join(", ")
            ))
        })?;
        *slot = style;
        seen.push((sec.to_owned(), key.to_owned()));
        set += 1;
    }
    Ok(set)
}

fn strip_comment(line: &str) -> &str {
    // A `#` inside quotes is a colour, not a comment.
    let mut in_str = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '#' if !in_str => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Parses `"<fg>? (on <bg>)? <modifier>*"`.
pub fn parse_style(v: &str) -> Result<Style, String> {
    let mut style = Style::new();
    let mut words = v.split_whitespace();
    while let Some(w) = words.next() {
        let lw = w.to_ascii_lowercase();
        let m = match lw.as_str() {
            "bold" => Some(Modifier::BOLD),
            "dim" => Some(Modifier::DIM),
            "italic" => Some(Modifier::ITALIC),
            "underlined" | "underline" => Some(Modifier::UNDERLINED),
            "reversed" | "reverse" => Some(Modifier::REVERSED),
            "crossed_out" => Some(Modifier::CROSSED_OUT),
            _ => None,
        };
        if let Some(m) = m {
            style = style.add_modifier(m);
        } else if lw == "on" {
            let c = words.next().ok_or("`on` needs a background colour")?;
            style = style.bg(parse_color(c)?);
        } else {
            style = style.fg(parse_color(w)?);
        }
    }
    Ok(style)
}

fn parse_color(s: &str) -> Result<Color, String> {
    Color::from_str(s)
        .map_err(|_| format!("unknown colour {s:?} (use #rrggbb, a name like lightred, or 0-255)"))
}

/// True when the `NO_COLOR` convention asks for no colour (set and non-empty).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_set_every_slot() {
        let total = Theme::slots().count();
        for (name, src) in BUILTIN {
            let mut t = Theme::monochrome();
            let set = parse_into(&mut t, src).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(set, total, "{name} must set every slot explicitly");
            assert_eq!(t.name, name);
        }
    }

    #[test]
    fn states_are_distinguishable_in_every_theme() {
        let themes: Vec<Theme> = Theme::names()
            .filter_map(Theme::builtin)
            .chain(std::iter::once(Theme::monochrome()))
            .collect();
        for t in &themes {
            assert_ne!(
                t.task_state(TaskState::Completed),
                t.task_state(TaskState::Failed),
                "{}",
                t.name
            );
            assert_ne!(
                t.task_state(TaskState::InProgress),
                t.task_state(TaskState::Pending),
                "{}",
                t.name
            );
            assert_ne!(
                t.node_state(NodeState::Running),
                t.node_state(NodeState::Pending),
                "{}",
                t.name
            );
            assert_ne!(t.border, t.border_focused, "{}", t.name);
        }
    }

    #[test]
    fn monochrome_has_no_colour() {
        let t = Theme::monochrome();
        let all = [
            t.text,
            t.muted,
            t.accent,
            t.border,
            t.selection,
            t.status_bar,
            t.error,
        ]
        .into_iter()
        .chain(t.task)
        .chain(t.node)
        .chain(t.badge);
        for s in all {
            assert!(s.fg.is_none() && s.bg.is_none(), "{s:?}");
        }
    }

    #[test]
    fn errors_name_the_line() {
        let e = Theme::parse("name = \"x\"\n\n[task]\nfailed = \"red\"\nexploded = \"red\"\n")
            .unwrap_err();
        assert_eq!(e.line, 5);
        assert!(
            e.message.contains("exploded") && e.message.contains("known:"),
            "{e}"
        );
        let e = Theme::parse("[ui]\ntext = \"#zzzzzz\"").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("line 2: unknown colour"), "{e}");
        let e = Theme::parse("[colours]\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = Theme::parse("[ui]\ntext = red\n").unwrap_err();
        assert!(e.message.contains("quoted"), "{e}");
        let e = Theme::parse("[ui]\ntext = \"red\"\ntext = \"blue\"\n").unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn partial_theme_keeps_dark_defaults_and_parses_styles() {
        let t = Theme::parse(
            "name = \"mine\" # comment\n[task]\nfailed = \"black on #ff0000 bold underlined\"\n",
        )
        .unwrap();
        let dark = Theme::builtin("dark").unwrap();
        assert_eq!(t.name, "mine");
        assert_eq!(t.text, dark.text);
        let f = t.task_state(TaskState::Failed);
        assert_eq!(f.fg, Some(Color::Black));
        assert_eq!(f.bg, Some(Color::Rgb(255, 0, 0)));
        assert!(
            f.add_modifier
                .contains(Modifier::BOLD | Modifier::UNDERLINED)
        );
    }

    #[test]
    fn next_name_cycles_through_builtins() {
        assert_eq!(Theme::next_name("dark"), "light");
        // `t` no longer skips monochrome.
        assert_eq!(Theme::next_name("colorblind"), "monochrome");
        assert_eq!(Theme::next_name("monochrome"), "dark");
        assert_eq!(
            Theme::builtin("monochrome").map(|t| t.name),
            Some("monochrome".to_owned())
        );
    }

    /// Each row as runs of cells of one style: `fg/bg×count` (`-` for the
    /// terminal's own colour), so a snapshot shows what text cannot.
    fn style_runs(buf: &ratatui::buffer::Buffer) -> String {
        let name = |c: Color| match c {
            Color::Reset => "-".to_owned(),
            Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
            other => format!("{other:?}").to_lowercase(),
        };
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut runs: Vec<(String, usize)> = Vec::new();
            for x in 0..buf.area.width {
                let c = &buf[(x, y)];
                let key = format!("{}/{}", name(c.fg), name(c.bg));
                match runs.last_mut() {
                    Some((k, n)) if *k == key => *n += 1,
                    _ => runs.push((key, 1)),
                }
            }
            let row: Vec<String> = runs.iter().map(|(k, n)| format!("{k}×{n}")).collect();
            out.push_str(&format!("{y:2} {}\n", row.join(" ")));
        }
        out
    }

    #[test]
    fn the_light_theme_paints_its_own_background_on_every_cell() {
        let vm = crate::tui::test_support::vm();
        for name in ["light", "dark"] {
            let t = Theme::builtin(name).unwrap();
            for (w, h) in [(120, 40), (80, 24)] {
                let (_, buf) = crate::tui::test_support::draw_screen(w, h, &t, &vm, &|_| {});
                if name == "light" {
                    let bare = buf
                        .content()
                        .iter()
                        .filter(|c| c.bg == Color::Reset)
                        .count();
                    assert_eq!(bare, 0, "{w}x{h}: every cell has a light background");
                }
                insta::assert_snapshot!(format!("style_runs_{name}_{w}x{h}"), style_runs(&buf));
            }
        }
        // Dark text is never left on the terminal's (dark) background.
        let light = Theme::builtin("light").unwrap();
        assert_eq!(light.background.bg, Some(Color::Rgb(0xe1, 0xe2, 0xe7)));
        assert_eq!(Theme::builtin("dark").unwrap().background, Style::new());
    }
}
