//! An [`Agent`] from an async closure, for agents that are a few lines of
//! code and need no type of their own.

use std::future::Future;

use super::{Agent, AgentContext, AgentError, AgentOutput, AgentTask};

/// An agent made by [`from_fn`].
pub struct FnAgent<F>(F);

/// An agent whose work is `f(task, ctx)`.
///
/// ```
/// use agentctl::agent::{AgentOutput, from_fn};
/// use serde_json::json;
///
/// let doubler = from_fn(|task, _ctx| async move {
///     let n = task.input.as_i64().unwrap_or(0);
///     Ok(AgentOutput::from(json!(n * 2)))
/// });
/// # let _ = doubler;
/// ```
pub fn from_fn<F, Fut>(f: F) -> FnAgent<F>
where
    F: Fn(AgentTask, AgentContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AgentOutput, AgentError>> + Send,
{
    FnAgent(f)
}

impl<F, Fut> Agent for FnAgent<F>
where
    F: Fn(AgentTask, AgentContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AgentOutput, AgentError>> + Send,
{
    fn process(
        &self,
        task: AgentTask,
        ctx: AgentContext,
    ) -> impl Future<Output = Result<AgentOutput, AgentError>> + Send {
        (self.0)(task, ctx)
    }
}
