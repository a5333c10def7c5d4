//! Agents that are not (only) a model and a prompt: the [`Agent`] trait for
//! agents written in Rust, and command agents backed by an external program.
//!
//! The engine treats every agent the same way: an agent is reached through
//! the [`crate::llm::Provider`] interface, so scheduling, pause,
//! reroute, retry, budgets and events apply to a Rust agent or a command
//! agent exactly as to an LLM agent. [`AgentProvider`] is that adapter.

pub mod command;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::bus::{BusError, MessageBus, Subscription};
use crate::event::{BusMessage, ErrorKind, Id, Usage, now_micros};
use crate::llm::{Provider, ProviderChunk, ProviderError, ProviderRequest};

/// What an agent is asked to do.
#[derive(Debug, Clone)]
pub struct AgentTask {
    /// Task id (a stable path such as `fan[3]/collect`).
    pub id: Id,
    /// The agent's own id.
    pub agent: Id,
    /// The task's input (the upstream output, the map item, ...).
    pub input: Value,
    /// The rendered prompt of the node (its template applied to the input).
    pub prompt: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Visit of the node: loop iteration, revision or item index, from 0.
    pub visit: u32,
}

/// What an agent can reach while it works.
#[derive(Clone)]
pub struct AgentContext {
    agent: Id,
    bus: Arc<dyn MessageBus>,
    cancel: CancellationToken,
}

impl AgentContext {
    /// Cancelled when the task no longer needs this attempt (paused,
    /// rerouted, cancelled, or its node finished without it).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Publishes on the run's bus, as this agent.
    pub async fn publish(
        &self,
        topic: &str,
        kind: &'static str,
        payload: Value,
    ) -> Result<(), BusError> {
        self.bus
            .publish(BusMessage {
                id: 0,
                topic: Id::from(topic),
                from: self.agent.clone(),
                to: None,
                kind: std::borrow::Cow::Borrowed(kind),
                payload,
                correlation: None,
                ts: now_micros(),
            })
            .await
    }

    /// Subscribes to a topic pattern on the run's bus.
    pub async fn subscribe(&self, pattern: &str) -> Result<Subscription, BusError> {
        self.bus.subscribe(pattern).await
    }
}

/// What an agent produced.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentOutput {
    /// The task's output.
    pub value: Value,
    /// Tokens it spent, if it called a model itself (counts toward budgets).
    pub usage: Option<Usage>,
}

impl AgentOutput {
    /// An output that spent no tokens.
    pub fn new(value: Value) -> Self {
        AgentOutput { value, usage: None }
    }
}

/// Why an agent failed; `kind` decides whether a retry may help.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct AgentError {
    /// Class of failure.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
}

impl AgentError {
    /// A failure worth retrying (a flaky dependency, a timeout).
    pub fn retryable(message: impl Into<String>) -> Self {
        AgentError {
            kind: ErrorKind::Server,
            message: message.into(),
        }
    }

    /// A failure a retry will not fix (bad input, a bug).
    pub fn fatal(message: impl Into<String>) -> Self {
        AgentError {
            kind: ErrorKind::InvalidRequest,
            message: message.into(),
        }
    }
}

/// An agent written in Rust.
///
/// ```
/// use agentctl::agent::{Agent, AgentContext, AgentError, AgentOutput, AgentTask};
/// use serde_json::json;
///
/// struct Shout;
///
/// impl Agent for Shout {
///     async fn process(&self, task: AgentTask, _ctx: AgentContext) -> Result<AgentOutput, AgentError> {
///         let text = task.input.as_str().ok_or_else(|| AgentError::fatal("expected text"))?;
///         Ok(AgentOutput::new(json!(text.to_uppercase())))
///     }
/// }
/// ```
pub trait Agent: Send + Sync + 'static {
    /// Works on one task. Dropping the future abandons the attempt.
    fn process(
        &self,
        task: AgentTask,
        ctx: AgentContext,
    ) -> impl Future<Output = Result<AgentOutput, AgentError>> + Send;

    /// Works on several tasks in one go: a `map` node with `batch_size`
    /// hands an agent that declares `max_batch` its items this way. Returns
    /// one output per task, in order (a different count fails the batch as
    /// malformed). The default processes the tasks one by one; override it
    /// when a batch is cheaper together (one request for many items).
    fn process_batch(
        &self,
        tasks: Vec<AgentTask>,
        ctx: AgentContext,
    ) -> impl Future<Output = Result<Vec<AgentOutput>, AgentError>> + Send {
        async move {
            let mut out = Vec::with_capacity(tasks.len());
            for task in tasks {
                out.push(self.process(task, ctx.clone()).await?);
            }
            Ok(out)
        }
    }
}

/// Object-safe form of [`Agent`], for storing agents of different types.
trait DynAgent: Send + Sync + 'static {
    fn process_boxed(
        &self,
        task: AgentTask,
        ctx: AgentContext,
    ) -> futures::future::BoxFuture<'_, Result<AgentOutput, AgentError>>;
    fn process_batch_boxed(
        &self,
        tasks: Vec<AgentTask>,
        ctx: AgentContext,
    ) -> futures::future::BoxFuture<'_, Result<Vec<AgentOutput>, AgentError>>;
}

impl<A: Agent> DynAgent for A {
    fn process_boxed(
        &self,
        task: AgentTask,
        ctx: AgentContext,
    ) -> futures::future::BoxFuture<'_, Result<AgentOutput, AgentError>> {
        Box::pin(self.process(task, ctx))
    }
    fn process_batch_boxed(
        &self,
        tasks: Vec<AgentTask>,
        ctx: AgentContext,
    ) -> futures::future::BoxFuture<'_, Result<Vec<AgentOutput>, AgentError>> {
        Box::pin(self.process_batch(tasks, ctx))
    }
}

/// Presents an [`Agent`] to the engine as a [`Provider`].
pub struct AgentProvider {
    name: String,
    agent: Arc<dyn DynAgent>,
    bus: Arc<dyn MessageBus>,
}

impl AgentProvider {
    /// Wraps an agent; `name` shows as the provider in events.
    pub fn new(name: impl Into<String>, agent: impl Agent, bus: Arc<dyn MessageBus>) -> Self {
        AgentProvider {
            name: name.into(),
            agent: Arc::new(agent),
            bus,
        }
    }
}

impl Provider for AgentProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn stream(
        &self,
        req: ProviderRequest,
    ) -> BoxStream<'static, Result<ProviderChunk, ProviderError>> {
        let agent = self.agent.clone();
        let bus = self.bus.clone();
        let call = async move {
            let cancel = CancellationToken::new();
            // Dropping the stream (pause, reroute, cancel) cancels the token,
            // so agents that spawn work can stop it.
            let _on_drop = cancel.clone().drop_guard();
            if let Some(batch) = req.hints.batch {
                // A batch: one task per item (its own id, prompt, visit and
                // input), answered as a JSON array in item order.
                let inputs = match req.input {
                    Value::Array(v) => v,
                    _ => Vec::new(),
                };
                let mut inputs = inputs.into_iter();
                let tasks = batch
                    .items
                    .into_iter()
                    .map(|item| AgentTask {
                        id: item.task,
                        agent: req.agent.clone(),
                        input: inputs.next().unwrap_or(Value::Null),
                        prompt: item.prompt,
                        attempt: req.attempt,
                        visit: item.visit,
                    })
                    .collect();
                let ctx = AgentContext {
                    agent: req.agent,
                    bus,
                    cancel,
                };
                return match agent.process_batch_boxed(tasks, ctx).await {
                    Ok(outs) => {
                        let mut usage = Usage::default();
                        let values: Vec<Value> = outs
                            .into_iter()
                            .map(|o| {
                                if let Some(u) = &o.usage {
                                    usage.add(u);
                                }
                                o.value
                            })
                            .collect();
                        Ok((Value::Array(values).to_string(), usage))
                    }
                    Err(e) => Err(ProviderError::new(e.kind, e.message)),
                };
            }
            let task = AgentTask {
                prompt: req.prompt().to_string(),
                id: req.task,
                agent: req.agent.clone(),
                input: req.input,
                attempt: req.attempt,
                visit: req.visit,
            };
            let ctx = AgentContext {
                agent: req.agent,
                bus,
                cancel,
            };
            match agent.process_boxed(task, ctx).await {
                Ok(out) => {
                    let text = match out.value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    Ok((text, out.usage.unwrap_or_default()))
                }
                Err(e) => Err(ProviderError::new(e.kind, e.message)),
            }
        };
        Box::pin(futures::stream::once(call).flat_map(|r| {
            let chunks: Vec<Result<ProviderChunk, ProviderError>> = match r {
                Ok((text, usage)) => vec![
                    Ok(ProviderChunk::Delta(text)),
                    Ok(ProviderChunk::Done { usage }),
                ],
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(chunks)
        }))
    }
}
