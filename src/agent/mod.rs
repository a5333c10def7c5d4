//! Agents that are not (only) a model and a prompt: the [`Agent`] trait for
//! agents written in Rust, and command agents backed by an external program.
//!
//! The engine treats every agent the same way: an agent is reached through
//! the [`crate::llm::Provider`] interface, so scheduling, pause,
//! reroute, retry, budgets and events apply to a Rust agent or a command
//! agent exactly as to an LLM agent (an internal adapter presents each
//! agent as a provider).
//!
//! While it works, an agent reaches the run through its [`AgentContext`]:
//! the bus (publish/subscribe), the shared context store
//! ([`crate::context::ContextStore`]), its budgets ([`AgentBudget`]) plus
//! [`AgentContext::report_usage`] to count tokens it spends itself, and a
//! cancellation token.

pub mod command;
pub mod confine;
mod from_fn;
pub mod process_tree;
pub mod stderr_log;

use std::borrow::Cow;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::bus::{self, BusError, MessageBus, PublishOptions, SubscribeOptions, Subscription};
use crate::context::ContextStore;
use crate::event::{ErrorKind, Id, Usage};
use crate::llm::task_assignment::AssignmentContext;
use crate::llm::{Provider, ProviderChunk, ProviderError, ProviderRequest, TaskAssignment};

pub use from_fn::{FnAgent, from_fn};

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
    /// The same task as the structured message that assigned it
    /// (`message_type = task_assignment`: task id, description = the
    /// prompt, context, constraints with the time limit and priority).
    pub assignment: TaskAssignment,
}

/// What an agent can reach while it works: the run's bus, its shared
/// context store, the budgets that apply to it, and a cancellation token.
///
/// ```
/// use agentctl::agent::{Agent, AgentContext, AgentError, AgentOutput, AgentTask};
/// use agentctl::event::Usage;
/// use serde_json::json;
///
/// struct Summariser;
///
/// impl Agent for Summariser {
///     async fn process(&self, task: AgentTask, ctx: AgentContext) -> Result<AgentOutput, AgentError> {
///         // Stop early when the run would not allow another model call.
///         if ctx.budget().remaining_tokens().is_some_and(|left| left < 500) {
///             return Err(AgentError::fatal("not enough budget left"));
///         }
///         let facts = ctx.context().facts();
///         // ... call a model of your own here, then say what it cost:
///         ctx.report_usage(Usage { prompt_tokens: 120, completion_tokens: 30, estimated: false });
///         ctx.context().put_artifact("summary", json!(facts.len()));
///         Ok(AgentOutput::new(json!({"facts": facts.len(), "task": &*task.id})))
///     }
/// }
/// ```
#[derive(Clone)]
pub struct AgentContext {
    agent: Id,
    bus: Arc<dyn MessageBus>,
    cancel: CancellationToken,
    context: ContextStore,
    budget: Option<Arc<dyn BudgetSource>>,
    reported: Arc<Mutex<Usage>>,
}

impl AgentContext {
    /// A context outside any run (for unit-testing an agent): a bus of its
    /// own, an empty context store, no budget limits.
    pub fn detached(agent: impl Into<Id>) -> Self {
        AgentContext {
            agent: agent.into(),
            bus: Arc::new(crate::bus::InProcessBus::new()),
            cancel: CancellationToken::new(),
            context: ContextStore::new(),
            budget: None,
            reported: Arc::default(),
        }
    }

    /// The agent's own id.
    pub fn agent(&self) -> &Id {
        &self.agent
    }

    /// Cancelled when the task no longer needs this attempt (paused,
    /// rerouted, cancelled, timed out, or its node finished without it).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Publishes on the run's bus, as this agent (a broadcast at priority 3).
    pub async fn publish(
        &self,
        topic: &str,
        kind: &'static str,
        payload: Value,
    ) -> Result<(), BusError> {
        self.publish_with(topic, kind, payload, PublishOptions::new())
            .await
    }

    /// Publishes on the run's bus, as this agent, addressed, prioritised or
    /// correlated as `options` say. A message addressed `to` an agent also
    /// reaches that agent's inbox, `agent.<to>`, whatever its topic.
    pub async fn publish_with(
        &self,
        topic: &str,
        kind: impl Into<Cow<'static, str>>,
        payload: Value,
        options: PublishOptions,
    ) -> Result<(), BusError> {
        let msg = options.message(topic, self.agent.clone(), kind, payload)?;
        self.bus.publish(msg).await
    }

    /// Sends a message to one agent: published on its inbox `agent.<to>`,
    /// addressed to it.
    pub async fn send_to(
        &self,
        to: &str,
        kind: impl Into<Cow<'static, str>>,
        payload: Value,
    ) -> Result<(), BusError> {
        self.publish_with(&bus::inbox(to), kind, payload, PublishOptions::new().to(to))
            .await
    }

    /// Subscribes to a topic pattern on the run's bus.
    pub async fn subscribe(&self, pattern: &str) -> Result<Subscription, BusError> {
        self.bus.subscribe(pattern).await
    }

    /// Subscribes with options: [`bus::Order::Priority`] hands out the most
    /// urgent message first; a [`bus::Replay`] first delivers the matching
    /// messages published before this call (from the bus's bounded
    /// history), so an agent that starts late misses nothing.
    pub async fn subscribe_with(
        &self,
        pattern: &str,
        options: SubscribeOptions,
    ) -> Result<Subscription, BusError> {
        self.bus.subscribe_with(pattern, options).await
    }

    /// This agent's inbox: the messages addressed to it (and anything else
    /// published on `agent.<id>`, such as the engine's task assignments).
    pub async fn inbox(&self, options: SubscribeOptions) -> Result<Subscription, BusError> {
        self.subscribe_with(&bus::inbox(&self.agent), options).await
    }

    /// The run's shared context store: global facts, agents' summaries and
    /// named artifacts (node outputs among them). It is the store prompts
    /// are windowed from (`context_tokens`) and the `context_get` /
    /// `context_put` tools use; every update is atomic.
    pub fn context(&self) -> &ContextStore {
        &self.context
    }

    /// The budgets that apply to this agent now: the run's and its own,
    /// each with its limit, what is spent and what calls in flight have
    /// booked (this one included: the engine books the prompt plus
    /// `max_tokens` before calling an agent).
    pub fn budget(&self) -> AgentBudget {
        self.budget
            .as_ref()
            .map(|b| b.budget(&self.agent))
            .unwrap_or_default()
    }

    /// Reports tokens this agent spent (e.g. on a model it calls itself).
    /// They count toward the run's usage and budgets when the attempt ends,
    /// together with [`AgentOutput::usage`] — also when it fails with an
    /// [`AgentError`], and when the engine abandons it (a timeout, pause or
    /// reroute drops the attempt: what was reported until then is charged).
    pub fn report_usage(&self, usage: Usage) {
        self.reported
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(&usage);
    }

    /// Tokens reported so far in this attempt.
    pub fn reported_usage(&self) -> Usage {
        *self.reported.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Limits and spending of one budget scope.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BudgetState {
    /// Token limit, if any.
    pub limit_tokens: Option<u64>,
    /// Money limit in US dollars, if any.
    pub limit_usd: Option<f64>,
    /// Tokens spent by settled calls.
    pub used_tokens: u64,
    /// Dollars spent by settled calls.
    pub used_usd: f64,
    /// Tokens booked by calls in flight.
    pub reserved_tokens: u64,
    /// Dollars booked by calls in flight.
    pub reserved_usd: f64,
}

impl BudgetState {
    /// Tokens not yet spent or booked (`None`: no token limit).
    pub fn remaining_tokens(&self) -> Option<u64> {
        self.limit_tokens
            .map(|l| l.saturating_sub(self.used_tokens + self.reserved_tokens))
    }

    /// Dollars not yet spent or booked (`None`: no money limit).
    pub fn remaining_usd(&self) -> Option<f64> {
        self.limit_usd
            .map(|l| (l - self.used_usd - self.reserved_usd).max(0.0))
    }
}

/// The budgets that apply to an agent. A scope is `None` when the workflow
/// declares no budget at all.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AgentBudget {
    /// The whole run's.
    pub run: Option<BudgetState>,
    /// The agent's own.
    pub agent: Option<BudgetState>,
}

impl AgentBudget {
    /// The fewest tokens left in any limited scope (`None`: no token limit).
    pub fn remaining_tokens(&self) -> Option<u64> {
        [self.run, self.agent]
            .iter()
            .flatten()
            .filter_map(BudgetState::remaining_tokens)
            .min()
    }

    /// The fewest dollars left in any limited scope (`None`: no money limit).
    pub fn remaining_usd(&self) -> Option<f64> {
        [self.run, self.agent]
            .iter()
            .flatten()
            .filter_map(BudgetState::remaining_usd)
            .reduce(f64::min)
    }
}

/// Where an [`AgentContext`] reads budgets from (the engine's ledger).
pub(crate) trait BudgetSource: Send + Sync {
    fn budget(&self, agent: &Id) -> AgentBudget;
    /// Counts usage reported in an attempt of `task` that never ended (the
    /// engine dropped it: timeout, pause, reroute), so budgets stay exact.
    fn charge_abandoned(&self, agent: &Id, task: &Id, usage: Usage);
}

/// Charges an attempt's reported usage if the attempt is dropped before it
/// ends; an attempt that ends hands its usage to the engine itself.
struct Unsettled {
    reported: Arc<Mutex<Usage>>,
    budget: Option<Arc<dyn BudgetSource>>,
    agent: Id,
    task: Id,
    ended: bool,
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let usage = *self.reported.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = &self.budget
            && usage.total() > 0
        {
            b.charge_abandoned(&self.agent, &self.task, usage);
        }
    }
}

/// The run's services for code agents. Providers are built before the run
/// exists, so the engine connects this once the run is set up, before any
/// task is dispatched.
#[derive(Default)]
pub(crate) struct AgentLink {
    run: std::sync::OnceLock<(ContextStore, Arc<dyn BudgetSource>)>,
}

impl AgentLink {
    /// Connects the run's context store and budgets (first call wins).
    pub(crate) fn connect(&self, context: ContextStore, budget: Arc<dyn BudgetSource>) {
        let _ = self.run.set((context, budget));
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

impl From<Value> for AgentOutput {
    fn from(value: Value) -> Self {
        AgentOutput::new(value)
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
pub(crate) struct AgentProvider {
    name: String,
    agent: Arc<dyn DynAgent>,
    bus: Arc<dyn MessageBus>,
    link: Arc<AgentLink>,
}

impl AgentProvider {
    /// Wraps an agent; `name` shows as the provider in events.
    pub(crate) fn new(
        name: impl Into<String>,
        agent: impl Agent,
        bus: Arc<dyn MessageBus>,
        link: Arc<AgentLink>,
    ) -> Self {
        AgentProvider {
            name: name.into(),
            agent: Arc::new(agent),
            bus,
            link,
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
        let link = self.link.clone();
        let mut req = req;
        let call = async move {
            let cancel = CancellationToken::new();
            // Dropping the stream (pause, reroute, cancel) cancels the token,
            // so agents that spawn work can stop it.
            let _on_drop = cancel.clone().drop_guard();
            let (context, budget) = match link.run.get() {
                Some((c, b)) => (c.clone(), Some(b.clone())),
                None => (ContextStore::new(), None),
            };
            let ctx = AgentContext {
                agent: req.agent.clone(),
                bus,
                cancel,
                context,
                budget,
                reported: Arc::default(),
            };
            let reported = ctx.reported.clone();
            let mut unsettled = Unsettled {
                reported: reported.clone(),
                budget: ctx.budget.clone(),
                agent: ctx.agent.clone(),
                task: req.task.clone(),
                ended: false,
            };
            if let Some(batch) = req.hints.batch {
                // A batch: one task per item (its own id, prompt, visit and
                // input), answered as a JSON array in item order.
                let inputs = match req.input {
                    Value::Array(v) => v,
                    _ => Vec::new(),
                };
                let mut inputs = inputs.into_iter();
                let shared = req.hints.assignment.as_deref();
                let tasks = batch
                    .items
                    .into_iter()
                    .map(|item| AgentTask {
                        assignment: assignment_of(
                            shared,
                            &item.task,
                            &item.prompt,
                            &req.agent,
                            req.attempt,
                            item.visit,
                        ),
                        id: item.task,
                        agent: req.agent.clone(),
                        input: inputs.next().unwrap_or(Value::Null),
                        prompt: item.prompt,
                        attempt: req.attempt,
                        visit: item.visit,
                    })
                    .collect();
                let result = agent.process_batch_boxed(tasks, ctx).await;
                unsettled.ended = true;
                // Usage reported along the way counts whatever the outcome.
                let mut usage = *reported.lock().unwrap_or_else(|p| p.into_inner());
                return match result {
                    Ok(outs) => {
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
                    Err(e) => {
                        let mut err = ProviderError::new(e.kind, e.message);
                        if usage.total() > 0 {
                            err.usage = Some(usage);
                        }
                        Err(err)
                    }
                };
            }
            let assignment = match req.hints.assignment.take() {
                Some(a) => *a,
                None => assignment_of(
                    None,
                    &req.task,
                    req.prompt(),
                    &req.agent,
                    req.attempt,
                    req.visit,
                ),
            };
            let task = AgentTask {
                assignment,
                prompt: req.prompt().to_string(),
                id: req.task,
                agent: req.agent.clone(),
                input: req.input,
                attempt: req.attempt,
                visit: req.visit,
            };
            let result = agent.process_boxed(task, ctx).await;
            unsettled.ended = true;
            // Usage reported along the way counts whatever the outcome.
            let mut usage = *reported.lock().unwrap_or_else(|p| p.into_inner());
            match result {
                Ok(out) => {
                    let text = match out.value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    if let Some(u) = out.usage {
                        usage.add(&u);
                    }
                    Ok((text, usage))
                }
                Err(e) => {
                    let mut err = ProviderError::new(e.kind, e.message);
                    if usage.total() > 0 {
                        err.usage = Some(usage);
                    }
                    Err(err)
                }
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

/// One item's assignment: the engine's (whose constraints and node apply to
/// every item of a batch) with the item's own id, prompt and visit, or, for
/// a request that carries none, one made from the request.
fn assignment_of(
    shared: Option<&TaskAssignment>,
    task: &Id,
    prompt: &str,
    agent: &Id,
    attempt: u32,
    visit: u32,
) -> TaskAssignment {
    let mut a = TaskAssignment::new(
        task.clone(),
        prompt.to_string(),
        AssignmentContext {
            node: Id::from(""),
            agent: agent.clone(),
            attempt,
            visit,
        },
    );
    if let Some(s) = shared {
        a.payload.context.node = s.payload.context.node.clone();
        a.payload.constraints = s.payload.constraints.clone();
    }
    a
}
