//! Snapshot tests of every pane and overlay, at two sizes and two themes.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::render;
use super::test_support::{self, T0};
use super::theme::Theme;
use super::ui_state::UiState;
use super::view_model::ViewModel;

/// Renders the scripted run at `w`×`h` after `setup` adjusts the UI state.
pub fn screen(
    w: u16,
    h: u16,
    theme: &Theme,
    vm: &ViewModel,
    setup: impl FnOnce(&mut UiState),
) -> Terminal<TestBackend> {
    let mut ui = UiState::default();
    ui.now_us = T0 + 3_000_000;
    setup(&mut ui);
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    term.draw(|f| render::draw(f, vm, &mut ui, theme))
        .expect("draw");
    term
}

#[test]
fn peek() {
    let vm = test_support::vm();
    let t = screen(120, 40, &Theme::builtin("dark").unwrap(), &vm, |_| {});
    println!("{}", t.backend());
    let t = screen(80, 24, &Theme::builtin("dark").unwrap(), &vm, |_| {});
    println!("{}", t.backend());
}
