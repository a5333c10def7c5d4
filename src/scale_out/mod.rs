//! Scale-out on NATS JetStream: agent calls run on `agentctl worker`
//! processes, possibly on other machines, while the orchestrator stays the
//! one scheduler, session writer and keeper of budgets and gates.
//!
//! - [`work_queue`]: the work-queue stream and its subjects (one per agent,
//!   per capability, and one for workers that serve any model agent).
//! - [`work_item`]: what travels with a call, and the result that comes back.
//! - [`result_store`]: results in a JetStream KV bucket keyed by attempt, so
//!   results stored while the orchestrator is down are kept.
//! - [`heartbeat`]: workers announce themselves in a KV bucket.
//! - [`remote_agent`]: the orchestrator's side, a [`Dispatch`] whose
//!   providers publish calls and wait for their results.
//! - [`capacity`]: no more calls in a lane's queue than its workers run
//!   at once; the rest wait in the scheduler's order.
//! - [`remote_tools`]: the run's MCP servers as tools whose calls run on
//!   the workers that run those servers.
//! - [`worker`]: the worker's side, pulling calls and running them with its
//!   own providers, keys and command agents.
//!
//! [`Dispatch`]: crate::engine::dispatch::Dispatch

pub mod capacity;
pub mod connection;
pub mod heartbeat;
pub mod remote_agent;
pub mod remote_tools;
pub mod result_store;
pub mod work_item;
pub mod work_queue;
pub mod worker;

/// Errors talking to NATS, as text for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NatsError(pub String);

impl NatsError {
    /// `what` failed because of `err`.
    pub fn new(what: &str, err: impl std::fmt::Display) -> Self {
        NatsError(format!("{what}: {err}"))
    }
}
