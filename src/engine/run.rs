//! The live state of one run, shared by every pattern: the task table, the
//! emitter, the scheduler, providers and the bus.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::emitter::Emitter;
use super::resume::Restore;
use super::scheduler::Scheduler;
use crate::bus::{MessageBus, Subscription};
use crate::event::{BusMessage, ErrorKind, EventKind, Id, NodeState, TaskState, Usage, now_micros};
use crate::llm::Provider;
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::kinds::agent::Target;
use crate::workflow::model::Workflow;
use crate::workflow::template::Template;

/// What a task's owner is told by the command handler.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TaskControl {
    Pause,
    Resume,
    Retry,
    Reroute(AgentIdx),
    Cancel,
    Decide {
        approve: bool,
        comment: Option<String>,
    },
}

/// A task's command inbox. Lighter than a channel (5000 tasks in flight
/// would each carry a channel block) and never closed: a task outlives
/// nothing it listens to.
#[derive(Default)]
pub(crate) struct ControlInbox {
    queue: Mutex<std::collections::VecDeque<TaskControl>>,
    notify: tokio::sync::Notify,
}

impl ControlInbox {
    fn push(&self, c: TaskControl) {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(c);
        // Stores a permit when nobody waits, so the wake-up is not lost.
        self.notify.notify_one();
    }

    /// The next command. Cancel-safe: a command is only taken from the
    /// queue when it is returned.
    pub(crate) async fn recv(&self) -> Option<TaskControl> {
        loop {
            if let Some(c) = self
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front()
            {
                return Some(c);
            }
            self.notify.notified().await;
        }
    }
}

/// The command handler's view of a task.
pub(crate) struct TaskEntry {
    /// Node the task belongs to (its budget applies).
    pub(crate) node: NodeIdx,
    pub(crate) state: TaskState,
    pub(crate) agent: Option<AgentIdx>,
    /// FAILED and waiting for retry / reroute / cancel.
    pub(crate) held: bool,
    pub(crate) gate: bool,
    pub(crate) capability: Option<String>,
    control: Arc<ControlInbox>,
}

impl TaskEntry {
    pub(crate) fn send(&self, c: TaskControl) {
        self.control.push(c);
    }
}

/// Why a node or task did not produce an output.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct TaskError {
    /// Class.
    pub kind: ErrorKind,
    /// Message naming the task or node.
    pub message: String,
}

impl TaskError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        TaskError {
            kind,
            message: message.into(),
        }
    }
    pub(crate) fn workflow(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Workflow, message)
    }
    pub(crate) fn cancelled(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Cancelled, message)
    }
}

/// The task ids handed out, to keep them unique, and the loop activations
/// that own their iterations' ids (see [`Run::claim_ids`]).
#[derive(Default)]
struct IdSpace {
    used: BTreeSet<Id>,
    claims: BTreeSet<String>,
}

/// Per-invocation context: where in the workflow we are.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    /// Task-id prefix from enclosing multiplicity (map items, loop iterations...).
    pub(crate) prefix: String,
    /// Visit number given to providers (item index, iteration, revision).
    pub(crate) visit: u32,
    pub(crate) item: Option<Value>,
    pub(crate) index: Option<u32>,
    pub(crate) iteration: Option<u32>,
    pub(crate) feedback: Option<String>,
    pub(crate) message: Option<Value>,
    pub(crate) parent: Option<Id>,
    /// Collects the outputs completed inside the nearest enclosing node
    /// that has an `on_error` handler (its `partial`).
    pub(crate) partial: Option<Arc<PartialOutputs>>,
}

/// The outputs that completed inside a node, in completion order, for its
/// error handler. Only nodes with `on_error` keep one.
#[derive(Debug, Default)]
pub(crate) struct PartialOutputs(Mutex<Vec<(Id, Value)>>);

impl PartialOutputs {
    pub(crate) fn push(&self, node: Id, output: Value) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((node, output));
    }

    /// `{node: output}`; a node that completed more than once (a map's body,
    /// a loop's state) holds the list of its outputs in completion order.
    pub(crate) fn take(&self) -> (usize, Value) {
        let done = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        let count = done.len();
        let mut by_node: Vec<(Id, Vec<Value>)> = Vec::new();
        for (node, v) in done {
            match by_node.iter_mut().find(|(n, _)| *n == node) {
                Some((_, list)) => list.push(v),
                None => by_node.push((node, vec![v])),
            }
        }
        let out = by_node
            .into_iter()
            .map(|(node, mut list)| {
                let v = if list.len() == 1 {
                    list.pop().unwrap_or_default()
                } else {
                    Value::Array(list)
                };
                (node.to_string(), v)
            })
            .collect();
        (count, Value::Object(out))
    }
}

impl Scope {
    pub(crate) fn task_id(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}{}", self.prefix, name)
        }
    }

    pub(crate) fn nested(&self, segment: std::fmt::Arguments<'_>) -> Scope {
        let mut s = self.clone();
        s.prefix = format!("{}{}/", self.prefix, segment);
        s
    }
}

/// Adds review feedback to a prompt whose template does not place it
/// itself, so a denied gate's comment always reaches the agents redoing work.
/// A prompt that already carries it (work from upstream that quotes it, or a
/// plan's goal) does not get it twice.
pub(crate) fn with_feedback(prompt: &mut String, template: &Template, scope: &Scope) {
    if let Some(f) = &scope.feedback
        && !template.root_names().contains(&"feedback")
        && !prompt.contains(f.as_str())
    {
        prompt.push_str("\n\nFeedback from review to address: ");
        prompt.push_str(f);
    }
}

/// One cooperative yield every this many `Run::pace` calls.
const PACES_PER_YIELD: u64 = 128;

pub(crate) struct Run {
    pub(crate) wf: Arc<Workflow>,
    pub(crate) session: Id,
    pub(crate) seed: u64,
    pub(crate) emitter: Arc<Emitter>,
    pub(crate) sched: Arc<Scheduler>,
    /// Provider of each agent, by agent index.
    pub(crate) providers: Vec<Arc<dyn Provider>>,
    pub(crate) bus: Arc<dyn MessageBus>,
    pub(crate) hold_failed: bool,
    pub(crate) cancel: CancellationToken,
    /// Tasks whose owner still holds them: what commands can address. A
    /// task leaves it when its handle is dropped (as soon as its pattern is
    /// done with it), so a long run's table holds what runs now, not
    /// everything that ran.
    tasks: Mutex<HashMap<Id, TaskEntry>>,
    ids: Mutex<IdSpace>,
    /// Tasks created so far, against `RunPolicy::max_tasks`.
    created: AtomicU64,
    /// `pace` calls so far (see [`PACES_PER_YIELD`]).
    paces: AtomicU64,
    /// Set once the run has created `max_tasks` tasks: why it must stop.
    pub(crate) over_limit: std::sync::OnceLock<TaskError>,
    /// Cancelled with `over_limit`, so the driver ends the run at once.
    pub(crate) limit_hit: CancellationToken,
    /// Latest output of each node, for `outputs.<node>` in expressions; kept
    /// only when some expression or template reads `outputs`.
    outputs: Option<Mutex<Value>>,
    usage: Mutex<Usage>,
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
    node_running: Vec<AtomicU32>,
    pub(crate) triggers: HashMap<NodeIdx, tokio::sync::Mutex<Option<Subscription>>>,
    /// `agent.<id>` per agent, built once: every task hand-out uses one.
    pub(crate) agent_topics: Vec<Id>,
    /// Provider name per agent.
    pub(crate) provider_names: Vec<Id>,
    pub(crate) orchestrator_id: Id,
    /// Agents that are code (Rust or command agents): they get the task's
    /// input as a value.
    pub(crate) code_agents: Vec<bool>,
    /// The recorded state a resumed run continues from.
    pub(crate) restore: Option<Arc<Restore>>,
    /// Breakers, caches, budgets, quotas and metrics (issue #3).
    pub(crate) res: super::resilient::Resilience,
    /// Tools, when some agent lists any (issue #7).
    pub(crate) tools: Option<Arc<crate::tools::ToolBox>>,
    /// Step mode of debates and votes (issue #4).
    pub(crate) step: super::step::StepControl,
    /// Waits that only another part of the run can end (deadlock watchdog).
    pub(crate) waits: super::waits::Waits,
}

/// Variables every template and expression may read.
pub(crate) struct Vars<'a> {
    pub(crate) input: &'a Value,
    pub(crate) output: Option<&'a Value>,
    pub(crate) scope: &'a Scope,
    pub(crate) label: Option<&'a Value>,
    pub(crate) state: Option<&'a Value>,
}

static NULL: Value = Value::Null;

impl Run {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        wf: Arc<Workflow>,
        session: Id,
        seed: u64,
        emitter: Arc<Emitter>,
        sched: Arc<Scheduler>,
        providers: Vec<Arc<dyn Provider>>,
        bus: Arc<dyn MessageBus>,
        hold_failed: bool,
        reads_outputs: bool,
    ) -> Self {
        let n = wf.nodes.len();
        let provider_names: Vec<Id> = providers.iter().map(|p| Id::from(p.name())).collect();
        Run {
            res: super::resilient::Resilience::new(&wf, &provider_names, &providers),
            provider_names,
            session,
            seed,
            emitter,
            sched,
            providers,
            bus,
            hold_failed,
            cancel: CancellationToken::new(),
            tasks: Mutex::new(HashMap::new()),
            ids: Mutex::new(IdSpace::default()),
            created: AtomicU64::new(0),
            paces: AtomicU64::new(0),
            over_limit: std::sync::OnceLock::new(),
            limit_hit: CancellationToken::new(),
            outputs: reads_outputs.then(|| Mutex::new(Value::Object(Default::default()))),
            usage: Mutex::new(Usage::default()),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            node_running: (0..n).map(|_| AtomicU32::new(0)).collect(),
            triggers: HashMap::new(),
            agent_topics: wf
                .agents
                .iter()
                .map(|a| Id::from(format!("agent.{}", a.id).as_str()))
                .collect(),
            orchestrator_id: Id::from("orchestrator"),
            code_agents: Vec::new(),
            restore: None,
            tools: None,
            step: super::step::StepControl::new(false),
            waits: Default::default(),
            wf,
        }
    }

    pub(crate) fn emit(&self, kind: EventKind) {
        self.emitter.emit(kind);
    }

    pub(crate) fn tasks(&self) -> MutexGuard<'_, HashMap<Id, TaskEntry>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn usage(&self) -> Usage {
        *self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add_usage(&self, u: &Usage) {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).add(u);
    }

    /// The recorded output of a task a resumed run does not run again.
    pub(crate) fn restored_output(&self, task: &str) -> Option<Value> {
        self.restore.as_ref()?.tasks.get(task)?.output.clone()
    }

    /// Renders a template against the current variables.
    pub(crate) fn render(&self, t: &Template, v: &Vars<'_>) -> String {
        self.with_vars(v, |vars| t.render(vars))
    }

    /// Calls `f` with the variable table of expressions and templates.
    pub(crate) fn with_vars<R>(&self, v: &Vars<'_>, f: impl FnOnce(&[(&str, &Value)]) -> R) -> R {
        let item = v.scope.item.as_ref().unwrap_or(&NULL);
        let index = v.scope.index.map(Value::from).unwrap_or(Value::Null);
        let iteration = v.scope.iteration.map(Value::from).unwrap_or(Value::Null);
        let feedback = v
            .scope
            .feedback
            .as_ref()
            .map(|f| Value::String(f.clone()))
            .unwrap_or(Value::Null);
        let message = v.scope.message.as_ref().unwrap_or(&NULL);
        let guard = self
            .outputs
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()));
        let outputs: &Value = guard.as_deref().unwrap_or(&NULL);
        let vars: [(&str, &Value); 10] = [
            ("input", v.input),
            ("output", v.output.unwrap_or(&NULL)),
            ("outputs", outputs),
            ("item", item),
            ("index", &index),
            ("iteration", &iteration),
            ("feedback", &feedback),
            ("message", message),
            ("label", v.label.unwrap_or(&NULL)),
            ("state", v.state.unwrap_or(&NULL)),
        ];
        f(&vars)
    }

    pub(crate) fn record_output(&self, node: NodeIdx, value: &Value) {
        // Node outputs become named artifacts of the shared context.
        if let Some(c) = &self.res.context {
            c.put_artifact(&self.wf.nodes[node].id, value.clone());
        }
        if let Some(m) = &self.outputs {
            let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
            if let Value::Object(map) = &mut *g {
                map.insert(self.wf.nodes[node].id.to_string(), value.clone());
            }
        }
    }

    pub(crate) fn node_enter(&self, node: NodeIdx) {
        if self.node_running[node].fetch_add(1, Ordering::AcqRel) == 0 {
            self.emit(EventKind::NodeStateChanged {
                node: self.wf.nodes[node].id.clone(),
                state: NodeState::Running,
                progress: None,
            });
        }
    }

    pub(crate) fn node_exit(&self, node: NodeIdx, ok: Result<(), ErrorKind>) {
        if self.node_running[node].fetch_sub(1, Ordering::AcqRel) == 1 {
            let state = match ok {
                Ok(()) => NodeState::Completed,
                Err(ErrorKind::Cancelled) => NodeState::Cancelled,
                Err(_) => NodeState::Failed,
            };
            self.emit(EventKind::NodeStateChanged {
                node: self.wf.nodes[node].id.clone(),
                state,
                progress: None,
            });
        }
    }

    pub(crate) fn progress(&self, node: NodeIdx, done: usize, total: usize) {
        // Every step for small fan-outs, every 1% for big ones: the graph
        // needs the trend, not 5000 events.
        let step = (total / 100).max(1);
        if done.is_multiple_of(step) || done == total {
            self.emit(EventKind::NodeStateChanged {
                node: self.wf.nodes[node].id.clone(),
                state: NodeState::Running,
                progress: Some([done as u32, total as u32]),
            });
        }
    }

    pub(crate) async fn publish(
        &self,
        topic: Id,
        from: Id,
        to: Option<Id>,
        kind: &'static str,
        payload: Value,
        correlation: Option<Id>,
    ) {
        self.publish_at(
            topic,
            from,
            to,
            kind,
            payload,
            correlation,
            BusMessage::DEFAULT_PRIORITY,
        )
        .await;
    }

    /// [`Run::publish`] at a priority (a task's message takes the task's,
    /// a node's `emit` the node's).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn publish_at(
        &self,
        topic: Id,
        from: Id,
        to: Option<Id>,
        kind: &'static str,
        payload: Value,
        correlation: Option<Id>,
        priority: u8,
    ) {
        // The run's bus (a TracedBus) numbers the message and records it.
        let message = BusMessage {
            id: 0,
            topic,
            from,
            to,
            kind: std::borrow::Cow::Borrowed(kind),
            payload,
            correlation,
            ts: now_micros(),
            priority,
        };
        if let Err(e) = self.bus.publish(message).await {
            self.emit(EventKind::Notice {
                level: "warn".into(),
                message: e.to_string(),
            });
        }
    }

    /// A cooperative yield point, passed before each node and each call.
    /// The whole work tree is one tokio task: without yields, a run whose
    /// calls all answer at once (a zero-latency loop) would never let the
    /// runtime serve signals, commands or the event readers on its thread.
    /// A plain counter, not tokio's coop budget: the budget's bookkeeping
    /// on every node cost a 5,000-branch fan-out a third of its speed, and
    /// one yield in 128 passes serves signals just as well.
    pub(crate) async fn pace(&self) {
        let n = self.paces.fetch_add(1, Ordering::Relaxed);
        if n % PACES_PER_YIELD == PACES_PER_YIELD - 1 || self.emitter.due_yield() {
            tokio::task::yield_now().await;
        }
    }

    /// Counts a new task against `max_tasks`; the first one past the bound
    /// stops the run (`exec_node` and every call check [`Run::check_limit`],
    /// and the driver ends the run on `limit_hit`).
    fn count_task(&self) {
        let n = self.created.fetch_add(1, Ordering::Relaxed) + 1;
        let max = self.wf.policy.max_tasks;
        if n > max && self.over_limit.get().is_none() {
            let _ = self.over_limit.set(TaskError::workflow(format!(
                "the run reached its bound of {max} tasks (`max_tasks` in [defaults]) and stopped; \
                 a loop whose guard never ends it looks like this: check its `when`, \
                 or raise `max_tasks` if the run really needs more"
            )));
            self.limit_hit.cancel();
        }
    }

    /// Task ids, loop claims and live tasks held now.
    #[cfg(test)]
    pub(crate) fn held_ids(&self) -> (usize, usize, usize) {
        let ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        (ids.used.len(), ids.claims.len(), self.tasks().len())
    }

    /// Fails once the run is past its task bound, so no new work starts.
    pub(crate) fn check_limit(&self) -> Result<(), TaskError> {
        match self.over_limit.get() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Claims the ids under `<prefix><loop>#` for one activation of a loop
    /// (false: another activation has them). The owner may forget each
    /// finished iteration's ids ([`Run::forget_ids_under`]): nothing else
    /// creates ids there, and its iterations never repeat.
    pub(crate) fn claim_ids(&self, namespace: &str) -> bool {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .claims
            .insert(namespace.to_string())
    }

    /// Forgets the ids under `prefix` (a claimed, finished iteration), so a
    /// loop's bookkeeping does not grow with its iteration count.
    pub(crate) fn forget_ids_under(&self, prefix: &str) {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        let doomed: Vec<Id> = ids
            .used
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|id| id.starts_with(prefix))
            .cloned()
            .collect();
        for id in doomed {
            ids.used.remove(&id);
        }
        // Loops nested in the iteration claimed their ids under it.
        let claims: Vec<String> = ids
            .claims
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|c| c.starts_with(prefix))
            .cloned()
            .collect();
        for c in claims {
            ids.claims.remove(&c);
        }
    }

    /// The node a task belongs to.
    pub(crate) fn task_node(&self, id: &str) -> Option<NodeIdx> {
        self.tasks().get(id).map(|t| t.node)
    }

    /// Registers a task and emits `task_created`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_task(
        self: &Arc<Self>,
        id: String,
        node: NodeIdx,
        parent: Option<Id>,
        title: String,
        target: Option<&Target>,
        priority: u8,
        input: &Value,
        gate: bool,
    ) -> TaskHandle {
        let inbox = Arc::new(ControlInbox::default());
        let (agent, capability) = match target {
            Some(Target::Agent(a)) => (Some(*a), None),
            Some(Target::Capability(c)) => (None, Some(c.clone())),
            None => (None, None),
        };
        self.count_task();
        let id: Id = {
            let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
            // A node referenced from two places runs twice at the same path:
            // keep ids unique (and deterministic: the order is the workflow's).
            let mut id: Id = Id::from(id.as_str());
            let mut n = 2;
            while ids.used.contains(&id) {
                id = Id::from(format!("{id}~{n}").as_str());
                n += 1;
            }
            ids.used.insert(id.clone());
            drop(ids);
            self.tasks().insert(
                id.clone(),
                TaskEntry {
                    node,
                    state: if self.restored_output(&id).is_some() {
                        TaskState::Completed
                    } else {
                        TaskState::Pending
                    },
                    agent,
                    held: false,
                    gate,
                    capability: capability.clone(),
                    control: inbox.clone(),
                },
            );
            id
        };
        let prior = self.restore.as_ref().and_then(|r| r.tasks.get(&*id));
        if let Some(p) = prior {
            // Recorded already: a completed task keeps its output and stays
            // silent; an unfinished one is dispatched again from PENDING.
            let restored = p.output.is_some();
            if !restored && p.state != TaskState::Pending {
                self.emit(EventKind::TaskStateChanged {
                    task: id.clone(),
                    from: p.state,
                    to: TaskState::Pending,
                    reason: Some("interrupted; runs again after resume".into()),
                });
            }
            return TaskHandle {
                id,
                run: self.clone(),
                control: inbox,
                attempt: p.attempts,
                usage: p.usage,
                started: None,
                agent: p.agent.as_deref().and_then(|a| self.wf.agent(a)),
                state: if restored {
                    TaskState::Completed
                } else {
                    TaskState::Pending
                },
                restored,
            };
        }
        self.emit(EventKind::TaskCreated {
            task: id.clone(),
            node: self.wf.nodes[node].id.clone(),
            parent,
            title,
            agent: agent.map(|a| self.wf.agents[a].id.clone()),
            capability,
            priority,
            input: input.clone(),
        });
        TaskHandle {
            id,
            run: self.clone(),
            control: inbox,
            attempt: 0,
            usage: Usage::default(),
            started: None,
            agent: None,
            state: TaskState::Pending,
            restored: false,
        }
    }
}

/// The owner's side of a task. Dropping it before the task reached a final
/// state records the task as cancelled (its parent no longer needs it).
pub(crate) struct TaskHandle {
    pub(crate) id: Id,
    pub(crate) run: Arc<Run>,
    pub(crate) control: Arc<ControlInbox>,
    pub(crate) attempt: u32,
    pub(crate) usage: Usage,
    pub(crate) started: Option<Instant>,
    pub(crate) agent: Option<AgentIdx>,
    pub(crate) state: TaskState,
    /// Completed in the recorded session this run resumes: its output is
    /// [`Run::restored_output`] and nothing about it is emitted again.
    pub(crate) restored: bool,
}

impl TaskHandle {
    /// Moves the task to a non-final state.
    pub(crate) fn set_state(&mut self, to: TaskState, reason: Option<String>) {
        if self.state == to || self.restored {
            return;
        }
        let from = self.state;
        self.state = to;
        if let Some(e) = self.run.tasks().get_mut(&self.id) {
            e.state = to;
            e.held = false;
        }
        self.run.emit(EventKind::TaskStateChanged {
            task: self.id.clone(),
            from,
            to,
            reason,
        });
    }

    pub(crate) fn set_agent(&mut self, agent: AgentIdx) {
        self.agent = Some(agent);
        if let Some(e) = self.run.tasks().get_mut(&self.id) {
            e.agent = Some(agent);
        }
    }

    fn agent_id(&self) -> Option<Id> {
        self.agent.map(|a| self.run.wf.agents[a].id.clone())
    }

    /// Records the final output.
    pub(crate) fn complete(&mut self, output: Value) {
        if self.restored {
            self.run.completed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let from = self.state;
        self.state = TaskState::Completed;
        if let Some(e) = self.run.tasks().get_mut(&self.id) {
            e.state = TaskState::Completed;
            e.held = false;
        }
        self.run.completed.fetch_add(1, Ordering::Relaxed);
        let duration_ms = self
            .started
            .map_or(0.0, |s| s.elapsed().as_secs_f64() * 1000.0);
        self.run.emit(EventKind::TaskCompleted {
            task: self.id.clone(),
            agent: self.agent_id(),
            from,
            output,
            attempt: self.attempt,
            usage: self.usage,
            duration_ms,
        });
    }

    /// Records a failure; `held` keeps it open for a retry decision.
    pub(crate) fn fail(&mut self, err: &TaskError, held: bool) {
        if self.restored {
            return;
        }
        let from = self.state;
        self.state = TaskState::Failed;
        if let Some(e) = self.run.tasks().get_mut(&self.id) {
            e.state = TaskState::Failed;
            e.held = held;
        }
        if !held {
            self.run.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.run.emit(EventKind::TaskFailed {
            task: self.id.clone(),
            agent: self.agent_id(),
            from,
            kind: err.kind,
            error: err.message.clone(),
            attempt: self.attempt,
            held,
        });
    }

    /// A held failure that the user gave up on becomes final.
    pub(crate) fn release_held(&mut self) {
        if let Some(e) = self.run.tasks().get_mut(&self.id) {
            e.held = false;
        }
        self.run.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// A held failure that the user cancelled: it ends CANCELLED, so the
    /// record says the user decided, not the provider's error.
    pub(crate) fn cancel_held(&mut self) {
        let from = self.state;
        self.state = TaskState::Cancelled;
        if let Some(e) = self.run.tasks().get_mut(&self.id) {
            e.state = TaskState::Cancelled;
            e.held = false;
        }
        self.run.emit(EventKind::TaskStateChanged {
            task: self.id.clone(),
            from,
            to: TaskState::Cancelled,
            reason: Some("cancelled by the user".into()),
        });
    }

    pub(crate) fn cancel(&mut self, reason: &str) {
        if self.state.is_terminal() {
            return;
        }
        self.set_state(TaskState::Cancelled, Some(reason.to_string()));
    }
}

impl Drop for TaskHandle {
    fn drop(&mut self) {
        if !self.state.is_terminal() {
            self.cancel("no longer needed");
        }
        // Its owner is done with it: no command can reach it any more.
        self.run.tasks().remove(&self.id);
    }
}
