//! The orchestration engine: scheduler, task lifecycle and the patterns.
//! It never imports the TUI, sessions or the CLI: it emits [`Event`]s and
//! obeys [`Command`]s.
//!
//! [`Event`]: crate::event::Event
//! [`Command`]: crate::event::Command

mod agent_link;
mod agent_task;
mod context_notify;
pub(crate) mod cpu_placement;
pub mod dispatch;
mod emitter;
mod exec;
pub(crate) mod feed;
mod human_gate;
mod orchestrator;
mod patterns;
mod reply_schema;
mod resilient;
mod resume;
mod run;
mod scheduler;
mod step;
mod submit;
mod tool_gate;
mod traced_bus;
mod waits;
mod watchdog;

pub use feed::EventFeed;
pub use orchestrator::{
    Orchestrator, RunHandle, RunOptions, RunOutcome, StartError, new_session_id, reroute_candidates,
};
pub use resume::{Restore, RestoredSubmission, RestoredTask};
pub use submit::{NODE as SUBMITTED_NODE, Submission, SubmitError, SubmittedOutcome};
