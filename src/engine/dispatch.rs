//! Where an agent's calls run. In-process is the default (the agent's own
//! provider, chosen once when the run starts, so the hot path pays
//! nothing); a [`Dispatch`] sends them elsewhere, e.g. to `agentctl worker`
//! processes over NATS, by giving the run another provider per agent.

use std::collections::HashMap;
use std::sync::Arc;

use crate::event::{EventKind, Id};
use crate::llm::Provider;
use crate::workflow::model::Agent;

/// Emits one event into the run's stream (for what a dispatcher learns
/// that the engine cannot: which worker ran a call, redeliveries).
pub type EventSink = Arc<dyn Fn(EventKind) + Send + Sync>;

/// What a dispatcher is told about the run when it starts.
pub struct DispatchRun<'a> {
    /// Session id.
    pub session: &'a Id,
    /// The run's seed (the sim's replies derive from it).
    pub seed: u64,
    /// The run's event stream.
    pub events: EventSink,
    /// A resumed run's tasks that were interrupted mid-call: task id →
    /// (agent id, the attempt that was running). A dispatcher that kept
    /// that attempt's result (or its call) can finish it instead of
    /// starting the next attempt.
    pub interrupted: HashMap<String, (String, u32)>,
    /// The scheduler's aging step (`[workflow] aging_step`): a dispatcher
    /// that queues calls orders them as the scheduler would.
    pub aging_step: u32,
}

/// Sends agents' calls somewhere other than the run's process.
pub trait Dispatch: Send + Sync + 'static {
    /// The provider the run uses for `agent` (a model or command agent;
    /// agents registered as Rust code always run in-process).
    fn provider(&self, run: &DispatchRun<'_>, agent: &Agent) -> Arc<dyn Provider>;
}
