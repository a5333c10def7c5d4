//! agentctl: a multi-agent orchestrator with a terminal cockpit.
//!
//! Everything that happens is an [`event::Event`]; everything a human does is
//! an [`event::Command`]. See `DESIGN.md` and `docs/events.md`.

pub mod bus;
pub mod config;
pub mod engine;
pub mod event;
pub mod llm;
pub mod secret;
pub mod tools;
pub mod tui;
pub mod workflow;
