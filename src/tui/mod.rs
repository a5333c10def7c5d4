//! The cockpit: a ratatui terminal UI over the event stream.
//!
//! Data flows one way: [`Event`](crate::event::Event)s fold into the view
//! model; panes render (view model, UI state, theme); keys resolve through
//! the keymap into actions that change UI state or send a
//! [`Command`](crate::event::Command). The UI never mutates engine state.
//!
//! The public surface is what a program embedding the cockpit needs:
//! [`run`] (a live run) and [`run_replay`] (a recorded session) with their [`TuiOptions`] (theme, replay, mouse, [`Keymap`]) and
//! [`TuiExit`], plus [`is_builtin_theme`]. Everything else is internal.

pub(crate) mod app;
pub(crate) mod detail_text;
pub(crate) mod format;
pub(crate) mod graph_layout;
pub(crate) mod hints;
pub(crate) mod keymap;
pub(crate) mod layout;
pub(crate) mod overlays;
pub(crate) mod panes;
pub(crate) mod render;
pub(crate) mod replay;
pub(crate) mod splits;
pub(crate) mod theme;
pub(crate) mod ui_state;
pub(crate) mod view_model;
pub(crate) mod wrap;

pub use app::{TuiExit, TuiOptions, run, run_replay, run_replay_with_fork};
pub use keymap::Keymap;
pub use replay::{Forker, LiveFork};

/// True when `name` is one of the themes built into the binary (`dark`,
/// `light`, `high-contrast`, `colorblind`, `monochrome`).
pub fn is_builtin_theme(name: &str) -> bool {
    theme::Theme::builtin(name).is_some()
}

#[cfg(test)]
mod cockpit_app_tests;
#[cfg(test)]
mod snapshot_tests;

/// Fixtures (a scripted run, a 100k-message run) for the unit tests and
/// [`bench_support`].
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod test_support;

/// For `benches/tui_render.rs` only: not part of the supported API.
#[doc(hidden)]
pub mod bench_support;
