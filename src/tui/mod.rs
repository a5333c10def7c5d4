//! The cockpit: a ratatui terminal UI over the event stream.
//!
//! Data flows one way: [`Event`](crate::event::Event)s fold into the
//! [`view_model::ViewModel`]; panes render (view model, UI state, theme);
//! keys resolve through the [`keymap`] into actions that change UI state or
//! send a [`Command`](crate::event::Command). The UI never mutates engine state.

pub mod app;
pub mod keymap;
pub mod layout;
pub mod overlays;
pub mod panes;
pub mod render;
pub mod theme;
pub mod ui_state;
pub mod view_model;

pub use app::{FrameRequester, TuiExit, TuiOptions, run};

#[cfg(test)]
mod cockpit_app_tests;
#[cfg(test)]
mod snapshot_tests;
/// Fixtures (a scripted run, a 100k-message run) shared by the unit tests
/// and the render benchmark; not part of the supported API.
#[doc(hidden)]
pub mod test_support;
