//! The user's resizing of the wide layout (Alt-arrows) and the state file
//! that remembers it between runs.
//!
//! The file is `agentctl/layout.json` in the user's state directory
//! (`$XDG_STATE_HOME`, else `~/.local/state`), never `config.toml`, which
//! the user edits by hand. A file that cannot be read is ignored with a
//! warning: the layout then starts from its defaults.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ui_state::PaneId;

/// Most the column split moves from its default, in percent.
pub const MAX_COLUMN_SHIFT: i16 = 26;
/// Most rows a pane grows or shrinks by.
pub const MAX_ROW_SHIFT: i16 = 40;
/// Percent the column split moves per key press.
pub const COLUMN_STEP: i16 = 4;

/// How far the user moved the splits from the layout's own choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Splits {
    /// Left column width, percent points from its default (positive: wider).
    #[serde(default)]
    pub column: i16,
    /// Rows added to each pane's height (in [`PaneId::ALL`] order).
    #[serde(default)]
    pub rows: [i16; 6],
}

impl Splits {
    /// Moves the column split right (`wider`) or left by one step.
    pub fn move_column(&mut self, wider: bool) {
        let d = if wider { COLUMN_STEP } else { -COLUMN_STEP };
        self.column = (self.column + d).clamp(-MAX_COLUMN_SHIFT, MAX_COLUMN_SHIFT);
    }

    /// Makes `pane` one row taller (or shorter).
    pub fn grow(&mut self, pane: PaneId, taller: bool) {
        let r = &mut self.rows[pane.number() as usize - 1];
        *r = (*r + if taller { 1 } else { -1 }).clamp(-MAX_ROW_SHIFT, MAX_ROW_SHIFT);
    }

    /// Rows added to `pane`.
    pub fn rows_of(&self, pane: PaneId) -> i16 {
        self.rows[pane.number() as usize - 1]
    }

    /// Reads the splits from `path`: the defaults when there is no file,
    /// and a warning (with the defaults) when it cannot be read.
    pub fn load(path: &Path) -> (Splits, Option<String>) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Splits::default(), None),
            Err(e) => {
                return (
                    Splits::default(),
                    Some(format!("{}: {e}; layout sizes reset", path.display())),
                );
            }
        };
        match serde_json::from_str::<Splits>(&text) {
            Ok(s) => (s.clamped(), None),
            Err(e) => (
                Splits::default(),
                Some(format!(
                    "{}: not a layout file ({e}); ignored, layout sizes reset",
                    path.display()
                )),
            ),
        }
    }

    /// Writes the splits to `path`, creating its directory.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        // Write then rename: a crash never leaves half a file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }

    fn clamped(mut self) -> Splits {
        self.column = self.column.clamp(-MAX_COLUMN_SHIFT, MAX_COLUMN_SHIFT);
        for r in &mut self.rows {
            *r = (*r).clamp(-MAX_ROW_SHIFT, MAX_ROW_SHIFT);
        }
        self
    }
}

/// Where the layout file lives: `$XDG_STATE_HOME/agentctl/layout.json`,
/// else `~/.local/state/agentctl/layout.json`; `None` without a home.
pub fn default_path() -> Option<PathBuf> {
    let dir = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => directories::BaseDirs::new()?
            .home_dir()
            .join(".local/state"),
    };
    Some(dir.join("agentctl").join("layout.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_round_trip_through_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agentctl/layout.json");
        assert_eq!(Splits::load(&path), (Splits::default(), None));
        let mut s = Splits::default();
        s.move_column(true);
        s.grow(PaneId::Debate, true);
        s.save(&path).unwrap();
        assert_eq!(Splits::load(&path), (s, None));
        assert_eq!(s.column, COLUMN_STEP);
        assert_eq!(s.rows_of(PaneId::Debate), 1);
    }

    #[test]
    fn a_corrupt_state_file_is_ignored_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layout.json");
        std::fs::write(&path, "{ not json").unwrap();
        let (s, warning) = Splits::load(&path);
        assert_eq!(s, Splits::default());
        let w = warning.expect("a warning");
        assert!(w.contains("layout.json") && w.contains("ignored"), "{w}");
        // Out-of-range values are clamped, not trusted.
        std::fs::write(&path, r#"{"column": 999, "rows": [0,0,0,0,0,-999]}"#).unwrap();
        let (s, warning) = Splits::load(&path);
        assert_eq!(
            (s.column, s.rows[5], warning),
            (MAX_COLUMN_SHIFT, -MAX_ROW_SHIFT, None)
        );
    }

    #[test]
    fn alt_arrows_resize_the_layout_and_it_is_remembered() {
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;

        use crate::tui::app::App;
        use crate::tui::render;
        use crate::tui::test_support;
        use crate::tui::theme::Theme;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agentctl/layout.json");
        let new_app = || {
            let mut a = App::new(
                test_support::info(),
                None,
                Theme::builtin("dark").unwrap(),
                false,
            );
            a.remember_layout(Some(path.clone()));
            let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
            t.draw(|f| render::draw(f, &a.vm, &mut a.ui, &a.theme))
                .unwrap();
            a
        };
        let mut a = new_app();
        let alt = |code| KeyEvent::new(code, KeyModifiers::ALT);
        a.handle_key(alt(KeyCode::Right));
        a.handle_key(alt(KeyCode::Down));
        // `<`/`>` set the replay speed; the arrows alone seek: not resizes.
        a.handle_key(KeyEvent::new(KeyCode::Char('>'), KeyModifiers::NONE));
        assert_eq!(a.ui.splits.column, COLUMN_STEP);
        assert_eq!(a.ui.splits.rows_of(a.ui.focus), 1);
        let b = new_app();
        assert_eq!(b.ui.splits, a.ui.splits, "read back from the state file");
        std::fs::write(&path, "garbage").unwrap();
        let c = new_app();
        assert_eq!(c.ui.splits, Splits::default());
        assert!(c.ui.current_flash().unwrap_or_default().contains("ignored"));
    }
}
