//! The public face of the engine: build an [`Orchestrator`] for a workflow,
//! subscribe to its events, start it, steer it with [`Command`]s.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::emitter::Emitter;
use super::exec::exec_node;
use super::feed::{EventFeed, Subscriber};
use super::resume::Restore;
use super::run::{Run, Scope, TaskControl};
use super::scheduler::Scheduler;
use super::traced_bus::TracedBus;
use crate::agent::command::CommandAgent;
use crate::agent::{Agent, AgentLink, AgentProvider};
use crate::bus::{InProcessBus, MessageBus};
use crate::event::{Command, ErrorKind, Event, EventKind, Id, RunStatus, TaskState, Usage};
use crate::llm::Provider;
use crate::llm::sim::SimProvider;
use crate::workflow::kinds::{
    NodeKind, agent::AgentNode, loop_node::LoopNode, map::MapNode, on::OnNode, plan::PlanNode,
    router::RouterNode,
};
use crate::workflow::model::{AgentKind, Workflow};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Seed for every random choice (sim replies, latencies, faults).
    pub seed: u64,
    /// Session id; generated when absent.
    pub session_id: Option<String>,
    /// Keep failed tasks open for `retry` / `reroute` / `cancel` commands
    /// (interactive use) instead of failing their node at once.
    pub hold_failed: bool,
    /// Start with dispatching paused.
    pub start_paused: bool,
    /// Continue a recorded session (`agentctl resume`): completed tasks keep
    /// their recorded outputs and are not run again.
    pub resume: Option<Arc<Restore>>,
    /// Run every debate and vote in step mode (`run --step`).
    pub step: bool,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// Session id.
    pub session: String,
    /// Final status.
    pub status: RunStatus,
    /// Output of the entry node.
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// Tokens spent.
    pub usage: Usage,
    /// Tasks completed.
    pub tasks_completed: u64,
    /// Tasks failed.
    pub tasks_failed: u64,
    /// Engine wall time, ms (start-up excluded).
    pub wall_ms: f64,
    /// Events emitted.
    pub events: u64,
    /// Run and per-agent metrics at the end (issue #3).
    pub metrics: Option<crate::metrics::MetricsSnapshot>,
    /// Tasks submitted while it ran ([`RunHandle::submit`], the cockpit's
    /// `+`), in order, with how each ended.
    pub submitted: Vec<super::submit::SubmittedOutcome>,
}

/// Error starting a run.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An agent names a provider nobody registered.
    #[error("agent `{agent}` uses provider `{provider}`, which is not available (known: {known})")]
    UnknownProvider {
        /// Agent id.
        agent: String,
        /// Provider name.
        provider: String,
        /// Registered names.
        known: String,
    },
    /// A `kind = "custom"` agent has no Rust implementation registered.
    #[error(
        "agent `{0}` is a custom agent but nothing was registered for it; call Orchestrator::register(\"{0}\", ...) before start"
    )]
    UnregisteredAgent(String),
    /// An implementation was registered for an id the workflow does not have.
    #[error("an agent was registered as `{0}`, but the workflow has no agent with that id")]
    UnknownAgent(String),
    /// Nothing gave the run an input.
    #[error(
        "workflow `{0}` has no input; give it one with WorkflowBuilder::input, `input = ...` in [workflow], Orchestrator::input or execute(input) (Orchestrator::input(Value::Null) runs it on null)"
    )]
    NoInput(String),
}

/// Runs one workflow.
pub struct Orchestrator {
    wf: Arc<Workflow>,
    opts: RunOptions,
    providers: HashMap<String, Arc<dyn Provider>>,
    bus: Arc<dyn MessageBus>,
    sim: Arc<SimProvider>,
    subscribers: Vec<Subscriber>,
    custom: HashMap<String, ProviderFactory>,
    tools: Option<Arc<crate::tools::ToolBox>>,
    dispatch: Option<Arc<dyn super::dispatch::Dispatch>>,
    /// Whether the input was given (by the workflow or a call), so that a
    /// run never starts on a null nobody chose.
    input_given: bool,
    /// The workflow's file text and origin, when it was loaded from one.
    source: Option<(String, String)>,
}

type ProviderFactory =
    Box<dyn FnOnce(Arc<dyn MessageBus>, Arc<AgentLink>) -> Arc<dyn Provider> + Send>;

impl Orchestrator {
    /// An orchestrator with the `sim` provider (seeded from `opts.seed`) and
    /// the in-process bus, for a workflow (built, or loaded from a file).
    pub fn new(wf: impl Into<Arc<Workflow>>, opts: RunOptions) -> Self {
        let wf: Arc<Workflow> = wf.into();
        let scripts = wf
            .agents
            .iter()
            .map(|a| (a.id.to_string(), a.sim.clone()))
            .collect();
        let sim = Arc::new(SimProvider::new(opts.seed, scripts));
        let mut providers: HashMap<String, Arc<dyn Provider>> = HashMap::new();
        providers.insert("sim".into(), sim.clone());
        Orchestrator {
            opts,
            providers,
            bus: Arc::new(InProcessBus::new()),
            sim,
            subscribers: Vec::new(),
            custom: HashMap::new(),
            tools: None,
            dispatch: None,
            input_given: !wf.input.is_null(),
            source: None,
            wf,
        }
    }

    /// An orchestrator for a workflow file (`.toml`, `.json`) or `builtin:NAME`.
    pub fn from_file(
        path: &str,
        opts: RunOptions,
    ) -> Result<Self, crate::workflow::diagnostics::Diagnostics> {
        let loaded = crate::workflow::load::load_source(path)?;
        let mut orch = Self::new(loaded.workflow, opts);
        orch.source = Some((loaded.text, loaded.origin));
        Ok(orch)
    }

    /// The text and origin of the workflow's file, when it came from one
    /// (what a session records so that `agentctl resume` can load it).
    pub fn source(&self) -> Option<(&str, &str)> {
        self.source.as_ref().map(|(t, o)| (t.as_str(), o.as_str()))
    }

    /// Starts the run with `input` as the entry node's input and waits for
    /// its end.
    pub async fn execute(self, input: Value) -> Result<RunOutcome, StartError> {
        Ok(self.input(input).start()?.wait().await)
    }

    /// Sets the entry node's input (replacing the workflow's own).
    pub fn input(mut self, input: impl Into<Value>) -> Self {
        let input = input.into();
        // A workflow shared with the caller is copied only for a new input.
        if self.wf.input != input {
            Arc::make_mut(&mut self.wf).input = input;
        }
        self.input_given = true;
        self
    }

    /// The workflow this orchestrator runs, with its input as set so far.
    pub fn workflow(&self) -> &Arc<Workflow> {
        &self.wf
    }

    /// The options it runs with.
    pub fn options(&self) -> &RunOptions {
        &self.opts
    }

    /// The session id of the run: the one in [`RunOptions::session_id`],
    /// else one generated now and kept for the run (so that a recorder can
    /// name its file before the run starts).
    pub fn session_id(&mut self) -> &str {
        self.opts.session_id.get_or_insert_with(new_session_id)
    }

    /// Uses this tool registry for agents that list tools (default: the
    /// built-ins with `read_file` and `http_get` off).
    pub fn with_tools(mut self, tools: Arc<crate::tools::ToolBox>) -> Self {
        self.tools = Some(tools);
        self
    }

    /// Registers (or replaces) a provider by name.
    pub fn with_provider(mut self, name: &str, provider: Arc<dyn Provider>) -> Self {
        self.providers.insert(name.to_string(), provider);
        self
    }

    /// Runs model and command agents' calls through `dispatch` (e.g. on
    /// remote workers) instead of in this process.
    pub fn with_dispatch(mut self, dispatch: Arc<dyn super::dispatch::Dispatch>) -> Self {
        self.dispatch = Some(dispatch);
        self
    }

    /// Uses another bus backend.
    pub fn with_bus(mut self, bus: Arc<dyn MessageBus>) -> Self {
        self.bus = bus;
        self
    }

    /// The built-in sim provider (to count calls in tests).
    pub fn sim(&self) -> Arc<SimProvider> {
        self.sim.clone()
    }

    /// Runs the workflow agent `id` with Rust code instead of its provider
    /// (required for `kind = "custom"` agents; allowed for any agent, e.g. to
    /// replace a model by a deterministic stand-in in tests).
    pub fn register(&mut self, id: &str, agent: impl Agent) -> &mut Self {
        // Built at start, with whatever bus the run ends up using.
        let make: ProviderFactory =
            Box::new(move |bus, link| Arc::new(AgentProvider::new("custom", agent, bus, link)));
        self.custom.insert(id.to_string(), make);
        self
    }

    /// [`register`](Self::register), chained: runs agent `id` with `agent`.
    pub fn with_agent(mut self, id: &str, agent: impl Agent) -> Self {
        self.register(id, agent);
        self
    }

    /// A receiver of every event of the run. Subscribe before `start`.
    pub fn subscribe(&mut self) -> UnboundedReceiver<Event> {
        let (tx, rx) = unbounded_channel();
        self.subscribers.push(Subscriber::Unbounded(tx));
        rx
    }

    /// Every event of the run through a queue of at most `capacity`
    /// events: when its reader falls that far behind, the run waits for it
    /// instead of buffering without bound. For the session recorder.
    pub fn subscribe_bounded(&mut self, capacity: usize) -> EventFeed {
        let (tx, rx) = EventFeed::bounded(capacity);
        self.subscribers.push(tx);
        rx
    }

    /// Starts the run on the current tokio runtime.
    pub fn start(mut self) -> Result<RunHandle, StartError> {
        if !self.input_given {
            return Err(StartError::NoInput(self.wf.name.clone()));
        }
        for id in self.custom.keys() {
            if self.wf.agent(id).is_none() {
                return Err(StartError::UnknownAgent(id.clone()));
            }
        }
        let session: Id = Id::from(
            self.opts
                .session_id
                .clone()
                .unwrap_or_else(new_session_id)
                .as_str(),
        );
        let emitter = Arc::new(Emitter::new(
            session.clone(),
            std::mem::take(&mut self.subscribers),
        ));
        // Everything published on the run's bus becomes a `bus` event.
        let bus: Arc<dyn MessageBus> = Arc::new(TracedBus::new(self.bus.clone(), emitter.clone()));
        let mut providers = Vec::with_capacity(self.wf.agents.len());
        let mut code_agents = Vec::with_capacity(self.wf.agents.len());
        // Code agents reach the run's context store and budgets through
        // this, connected once the run exists.
        let link = Arc::new(AgentLink::default());
        let dispatch_run = self.dispatch.as_ref().map(|_| {
            let emitter = emitter.clone();
            let interrupted = self
                .opts
                .resume
                .iter()
                .flat_map(|r| r.tasks.iter())
                .filter(|(_, t)| t.output.is_none() && t.attempts > 0)
                .filter_map(|(id, t)| Some((id.clone(), (t.agent.clone()?, t.attempts))))
                .collect();
            super::dispatch::DispatchRun {
                session: &session,
                seed: self.opts.seed,
                events: Arc::new(move |kind| emitter.emit(kind)),
                interrupted,
                aging_step: self.wf.aging_step,
            }
        });
        for a in &self.wf.agents {
            // Code agents (registered Rust agents, command agents) are
            // reached through the same Provider interface as models, so
            // every engine policy applies to them unchanged.
            if let Some(make) = self.custom.remove(&*a.id) {
                providers.push(make(bus.clone(), link.clone()));
                code_agents.push(true);
                continue;
            }
            if let (Some(d), Some(r), false) = (
                &self.dispatch,
                &dispatch_run,
                matches!(a.kind, AgentKind::Custom),
            ) {
                providers.push(d.provider(r, a));
                code_agents.push(matches!(a.kind, AgentKind::Command(_)));
                continue;
            }
            match &a.kind {
                AgentKind::Custom => return Err(StartError::UnregisteredAgent(a.id.to_string())),
                AgentKind::Command(cfg) => {
                    let agent = CommandAgent::new(a.id.clone(), cfg.clone());
                    providers.push(Arc::new(AgentProvider::new(
                        "command",
                        agent,
                        bus.clone(),
                        link.clone(),
                    )));
                    code_agents.push(true);
                    continue;
                }
                AgentKind::Llm => code_agents.push(false),
            }
            match self.providers.get(&a.provider) {
                Some(p) => providers.push(p.clone()),
                None => {
                    let mut known: Vec<&str> = self.providers.keys().map(String::as_str).collect();
                    known.sort();
                    return Err(StartError::UnknownProvider {
                        agent: a.id.to_string(),
                        provider: a.provider.clone(),
                        known: known.join(", "),
                    });
                }
            }
        }
        // Agents on providers that retry by default get that policy unless
        // the workflow chose their retry itself.
        if self.wf.agents.iter().zip(&providers).any(|(a, p)| {
            a.kind == AgentKind::Llm && !a.policy.retry_explicit && p.retries_by_default()
        }) {
            let wf = Arc::make_mut(&mut self.wf);
            for (a, p) in wf.agents.iter_mut().zip(&providers) {
                if a.kind == AgentKind::Llm && !a.policy.retry_explicit && p.retries_by_default() {
                    a.policy.retry = crate::workflow::policy::retry::RetryPolicy::network_default();
                }
            }
        }
        if let Some(r) = &self.opts.resume {
            emitter.resume_from(r.last_seq, &r.replayed);
            // What the recorded run learned about its endpoints holds now.
            for (endpoint, a) in &r.adaptations {
                for p in &providers {
                    if p.endpoint() == Some(endpoint.as_str()) {
                        p.restore(a);
                    }
                }
            }
        }
        // Submitted tasks belong to a node of their own, added last.
        let submitted_node = super::submit::add_node(Arc::make_mut(&mut self.wf));
        let taken = self
            .opts
            .resume
            .as_ref()
            .map_or(0, |r| u32::try_from(r.submitted.len()).unwrap_or(u32::MAX));
        let desk = Arc::new(super::submit::SubmitDesk::new(
            self.wf.clone(),
            submitted_node,
            taken,
        ));
        let sched = Scheduler::new(&self.wf, self.opts.start_paused);
        let reads_outputs = reads_outputs(&self.wf);
        let mut run = Run::new(
            self.wf.clone(),
            session.clone(),
            self.opts.seed,
            emitter,
            sched,
            providers,
            bus,
            self.opts.hold_failed,
            reads_outputs,
        );
        run.code_agents = code_agents;
        // Tools and code agents read and write the shared context store.
        if run.res.context.is_none()
            && (self.wf.agents.iter().any(|a| !a.tools.is_empty())
                || run.code_agents.contains(&true))
        {
            run.res.context = Some(crate::context::ContextStore::seeded(&self.wf.input));
        }
        run.restore = self.opts.resume.clone();
        if let Some(r) = &run.restore {
            run.add_usage(&r.usage);
        }
        if self.wf.agents.iter().any(|a| !a.tools.is_empty()) {
            run.tools = Some(self.tools.clone().unwrap_or_default());
        }
        if self.opts.step {
            run.step = super::step::StepControl::new(true);
        }
        let (cmd_tx, cmd_rx) = unbounded_channel();
        let interrupt = CancellationToken::new();
        let interrupt2 = interrupt.clone();
        let start_paused = self.opts.start_paused;
        let queue = super::submit::Queue::new(desk.clone());
        let task = tokio::spawn(async move {
            // Subscribe every `on` node before anything runs, so no message
            // published early is lost.
            for (i, n) in run.wf.nodes.iter().enumerate() {
                if let NodeKind::On(OnNode { topic: Some(t), .. }) = &n.kind
                    && let Ok(sub) = run.bus.subscribe(t).await
                {
                    run.triggers.insert(i, tokio::sync::Mutex::new(Some(sub)));
                }
            }
            let run = Arc::new(run);
            super::agent_link::connect(&link, &run);
            let _notify = super::context_notify::forward(&run);
            drive(run, cmd_rx, interrupt2, start_paused, queue).await
        });
        Ok(RunHandle {
            session,
            commands: cmd_tx,
            task,
            interrupt,
            desk,
        })
    }
}

/// A running workflow.
pub struct RunHandle {
    session: Id,
    commands: UnboundedSender<Command>,
    task: JoinHandle<RunOutcome>,
    interrupt: CancellationToken,
    desk: Arc<super::submit::SubmitDesk>,
}

impl RunHandle {
    /// Session id.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// A sender for commands.
    pub fn commands(&self) -> UnboundedSender<Command> {
        self.commands.clone()
    }

    /// Sends one command.
    pub fn send(&self, c: Command) {
        let _ = self.commands.send(c);
    }

    /// Adds an ad-hoc agent task to the running run and returns its id
    /// (`submitted#N`). It is scheduled, recorded and resumed like any
    /// other task; its output is in [`RunOutcome::submitted`], and the run
    /// waits for it before it ends.
    pub fn submit(&self, s: super::submit::Submission) -> Result<Id, super::submit::SubmitError> {
        super::submit::check(&self.desk.wf, &s.agent, &s.prompt, s.priority)?;
        let task = self.desk.reserve();
        self.commands
            .send(Command::Submit {
                agent: Id::from(s.agent.as_str()),
                prompt: s.prompt,
                priority: s.priority,
                task: Some(task.clone()),
            })
            .map_err(|_| super::submit::SubmitError::Ended)?;
        Ok(task)
    }

    /// Stops the run from outside (Ctrl-C): status `interrupted`.
    pub fn interrupt(&self) {
        self.interrupt.cancel();
    }

    /// A token that interrupts the run when cancelled.
    pub fn interrupt_token(&self) -> CancellationToken {
        self.interrupt.clone()
    }

    /// Waits for the end of the run.
    pub async fn wait(self) -> RunOutcome {
        match self.task.await {
            Ok(o) => o,
            Err(e) => RunOutcome {
                session: self.session.to_string(),
                status: RunStatus::Failed,
                output: None,
                error: Some(format!("the engine stopped unexpectedly: {e}")),
                usage: Usage::default(),
                tasks_completed: 0,
                tasks_failed: 0,
                wall_ms: 0.0,
                events: 0,
                metrics: None,
                submitted: Vec::new(),
            },
        }
    }
}

async fn drive(
    run: Arc<Run>,
    mut cmd_rx: UnboundedReceiver<Command>,
    interrupt: CancellationToken,
    start_paused: bool,
    mut queue: super::submit::Queue,
) -> RunOutcome {
    let wf = run.wf.clone();
    run.emit(EventKind::SessionStarted {
        workflow: wf.name.clone(),
        seed: run.seed,
        entry: wf.nodes[wf.entry].id.clone(),
        agents: wf.agents.iter().map(|a| a.id.clone()).collect(),
    });
    if let Some(r) = &run.restore {
        let done = r.tasks.values().filter(|t| t.output.is_some()).count();
        run.emit(EventKind::Notice {
            level: "info".into(),
            message: format!(
                "resumed after seq {}: {done} completed task(s) keep their recorded outputs",
                r.last_seq
            ),
        });
    }
    if start_paused {
        run.emit(EventKind::RunPaused);
    }
    queue.restore(&run);
    let started = Instant::now();
    // Boxed (so Unpin): dropping it below really drops the work tree.
    let mut root = exec_node(run.clone(), wf.entry, wf.input.clone(), Scope::default());
    let mut commands_open = true;
    // Periodic metrics events; the first tick (at once) is skipped.
    let every = wf.policy.metrics_every;
    let mut metrics_tick =
        tokio::time::interval(every.unwrap_or(std::time::Duration::from_secs(3600)));
    metrics_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    metrics_tick.reset();
    // The deadlock watchdog checks a few times per bound; it costs nothing
    // per task (it reads the event count, and scans only when idle).
    let bound = wf.policy.deadlock;
    let mut watchdog_tick =
        tokio::time::interval((bound / 4).max(std::time::Duration::from_millis(10)));
    watchdog_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    watchdog_tick.reset();
    let mut watchdog = super::watchdog::Watchdog::new();
    let mut own_events = 0u64;
    // The work tree's result, kept while submitted tasks still run: the run
    // ends when both are done.
    let mut root_done = None;
    let (status, output, error) = loop {
        if let Some(r) = root_done.take_if(|_| !queue.busy()) {
            break r;
        }
        tokio::select! {
            _ = metrics_tick.tick(), if every.is_some() => {
                run.emit(EventKind::Metrics { snapshot: metrics_snapshot(&run) });
                own_events += 1;
                continue;
            }
            _ = watchdog_tick.tick() => {
                let progress = run.emitter.count().saturating_sub(own_events);
                if let super::watchdog::Verdict::Stuck(idle_ms) = watchdog.check(&run, progress) {
                    run.emit(EventKind::DeadlockDetected { idle_ms, waiting: Vec::new() });
                    break (
                        RunStatus::Failed,
                        None,
                        Some(format!(
                            "deadlock: for {idle_ms:.0} ms (deadlock_ms) nothing ran, was queued or waited for a person, yet the run did not finish"
                        )),
                    );
                }
                continue;
            }
            r = &mut root, if root_done.is_none() => root_done = Some(match r {
                Ok(v) => (RunStatus::Succeeded, Some(v), None),
                Err(e) if e.kind == ErrorKind::Cancelled => (RunStatus::Cancelled, None, Some(e.message)),
                Err(e) => (RunStatus::Failed, None, Some(e.message)),
            }),
            () = queue.next(), if queue.busy() => {}
            c = cmd_rx.recv(), if commands_open => match c {
                Some(c @ Command::Submit { .. }) => {
                    run.emit(EventKind::CommandReceived { command: c.clone() });
                    queue.submit(&run, &c);
                }
                Some(c) => handle_command(&run, c).await,
                None => commands_open = false,
            },
            _ = run.limit_hit.cancelled() => break (
                RunStatus::Failed,
                None,
                run.over_limit.get().map(|e| e.message.clone()),
            ),
            _ = run.cancel.cancelled() => break (RunStatus::Cancelled, None, Some("the run was cancelled".into())),
            _ = interrupt.cancelled() => break (RunStatus::Interrupted, None, Some("the run was interrupted".into())),
        }
    };
    // Dropping the root cancels whatever still runs (each task records it).
    drop(root);
    let submitted = queue.finish();
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let usage = run.usage();
    let metrics = metrics_snapshot(&run);
    run.emit(EventKind::Metrics {
        snapshot: metrics.clone(),
    });
    run.res.save_caches(&wf);
    run.emit(EventKind::SessionEnded {
        status,
        output: output.clone(),
        error: error.clone(),
        usage,
        wall_ms,
    });
    RunOutcome {
        session: run.session.to_string(),
        status,
        output,
        error,
        usage,
        tasks_completed: run.completed.load(std::sync::atomic::Ordering::Relaxed),
        tasks_failed: run.failed.load(std::sync::atomic::Ordering::Relaxed),
        wall_ms,
        events: run.emitter.count(),
        metrics: Some(metrics),
        submitted,
    }
}

fn metrics_snapshot(run: &Run) -> crate::metrics::MetricsSnapshot {
    use std::sync::atomic::Ordering::Relaxed;
    run.res.metrics.snapshot(
        run.res.started.elapsed(),
        run.completed.load(Relaxed),
        run.failed.load(Relaxed),
    )
}

/// Validates a command against the task table and carries it out. Every
/// command is answered by events: `command_received`, then its effects or
/// `command_rejected`.
async fn handle_command(run: &Arc<Run>, c: Command) {
    run.emit(EventKind::CommandReceived { command: c.clone() });
    let reject = |reason: String| {
        run.emit(EventKind::CommandRejected {
            command: c.clone(),
            reason,
        })
    };
    match &c {
        Command::Pause { task: None } => {
            if run.sched.is_paused() {
                return reject("the run is already paused".into());
            }
            run.sched.set_paused(true);
            run.emit(EventKind::RunPaused);
        }
        Command::Resume { task: None } => {
            if !run.sched.is_paused() {
                return reject("the run is not paused".into());
            }
            run.sched.set_paused(false);
            run.res
                .paused_by_budget
                .store(false, std::sync::atomic::Ordering::Release);
            run.emit(EventKind::RunResumed);
            // Tasks paused by an exhausted budget try again.
            if let Some(l) = &run.res.ledger {
                l.wake();
            }
        }
        Command::SetBudget {
            agent,
            node,
            tokens,
            usd,
        } => {
            let Some(ledger) = &run.res.ledger else {
                return reject(
                    "this workflow has no budget; declare `[budget]` or an agent's `budget`".into(),
                );
            };
            if tokens.is_none() && usd.is_none() {
                return reject("give `tokens` or `usd`".into());
            }
            if usd.is_some_and(|u| !(u >= 0.0 && u.is_finite())) {
                return reject("`usd` must be a non-negative number".into());
            }
            let scope = match (agent, node) {
                (Some(_), Some(_)) => {
                    return reject("give `agent` or `node`, not both".into());
                }
                (None, None) => crate::budget::Scope::Run,
                (Some(a), None) => match run.wf.agent(a) {
                    Some(i) => crate::budget::Scope::Agent(i),
                    None => return reject(format!("there is no agent `{a}`")),
                },
                (None, Some(n)) => match run.wf.node(n) {
                    Some(i) => crate::budget::Scope::Node(i),
                    None => return reject(format!("there is no node `{n}`")),
                },
            };
            let (used, limit) = ledger.set_limit(scope, *tokens, *usd);
            run.emit(super::resilient::budget_updated(
                &run.wf, scope, used, limit,
            ));
            if run
                .res
                .paused_by_budget
                .swap(false, std::sync::atomic::Ordering::AcqRel)
                && run.sched.is_paused()
            {
                run.sched.set_paused(false);
                run.emit(EventKind::RunResumed);
            }
        }
        Command::Cancel { task: None } => run.cancel.cancel(),
        Command::Emit { topic, payload } => {
            if topic.is_empty()
                || topic
                    .split('.')
                    .any(|t| t.is_empty() || t == "*" || t == ">")
            {
                return reject(format!("`{topic}` is not a valid topic to publish on"));
            }
            run.publish(
                Id::from(topic.as_str()),
                Id::from("user"),
                None,
                "event",
                payload.clone(),
                None,
            )
            .await;
        }
        Command::Step { node, until } => {
            let idx = match node {
                None => None,
                Some(id) => match run.wf.node(id) {
                    Some(i)
                        if matches!(
                            run.wf.nodes[i].kind,
                            NodeKind::Debate(_)
                                | NodeKind::Vote(_)
                                | NodeKind::Swarm(_)
                                | NodeKind::Chat(_)
                        ) =>
                    {
                        Some(i)
                    }
                    Some(_) => {
                        return reject(format!("node `{id}` is not a debate, vote, swarm or chat"));
                    }
                    None => return reject(format!("there is no node `{id}`")),
                },
            };
            if let Err(reason) = run.step.step(idx, *until) {
                reject(reason);
            }
        }
        Command::SetStepMode { on } => {
            run.step.set_mode(*on);
            run.emit(EventKind::StepModeChanged { on: *on });
        }
        // The driver hands these to its submission queue.
        Command::Submit { .. } => reject("submit is handled by the run's driver".into()),
        Command::Pause { task: Some(t) }
        | Command::Resume { task: Some(t) }
        | Command::Retry { task: t }
        | Command::Reroute { task: t, .. }
        | Command::Cancel { task: Some(t) }
        | Command::GateDecision { gate: t, .. } => {
            let verdict = {
                let tasks = run.tasks();
                match tasks.get(t) {
                    None => Err(format!("there is no task `{t}`")),
                    Some(e) => check(run, e, &c).map(|ctl| e.send(ctl)),
                }
            };
            if let Err(reason) = verdict {
                reject(reason);
            }
        }
    }
}

fn check(run: &Run, e: &super::run::TaskEntry, c: &Command) -> Result<TaskControl, String> {
    use TaskState::*;
    let s = e.state;
    match c {
        Command::GateDecision {
            approve, comment, ..
        } => {
            if !e.gate {
                Err("that task is not a gate".into())
            } else if s != Review {
                Err(format!(
                    "the gate is not waiting for a decision (it is {})",
                    s.as_str()
                ))
            } else {
                Ok(TaskControl::Decide {
                    approve: *approve,
                    comment: comment.clone(),
                })
            }
        }
        _ if e.gate => match c {
            Command::Cancel { .. } if !s.is_terminal() => Ok(TaskControl::Cancel),
            _ => Err(format!(
                "`{}` does not apply to a gate; decide it instead",
                c.name()
            )),
        },
        Command::Pause { .. } => match s {
            Pending | InProgress | Planning => Ok(TaskControl::Pause),
            _ => Err(format!(
                "only pending or running tasks can be paused (it is {})",
                s.as_str()
            )),
        },
        Command::Resume { .. } => {
            if s == Paused {
                Ok(TaskControl::Resume)
            } else {
                Err(format!("the task is not paused (it is {})", s.as_str()))
            }
        }
        Command::Retry { .. } => {
            if s == Failed && e.held {
                Ok(TaskControl::Retry)
            } else if s == Failed {
                Err("the task failed and its node has moved on; retry works on failures held for a decision (the TUI holds them)".into())
            } else {
                Err(format!(
                    "only failed tasks can be retried (it is {})",
                    s.as_str()
                ))
            }
        }
        Command::Reroute { agent, .. } => {
            let Some(a) = run.wf.agent(agent) else {
                return Err(format!("there is no agent `{agent}`"));
            };
            if let Some(cap) = &e.capability
                && !run.sched.offers(a, cap)
            {
                return Err(format!("agent `{agent}` does not offer capability `{cap}`"));
            }
            if e.agent == Some(a) && matches!(s, InProgress | Planning) {
                return Err(format!("the task is already running on `{agent}`"));
            }
            match s {
                Pending | InProgress | Planning | Paused => Ok(TaskControl::Reroute(a)),
                Failed if e.held => Ok(TaskControl::Reroute(a)),
                _ => Err(format!("a {} task cannot be rerouted", s.as_str())),
            }
        }
        Command::Cancel { .. } => {
            if !s.is_terminal() || (s == Failed && e.held) {
                Ok(TaskControl::Cancel)
            } else {
                Err(format!("the task has already finished ({})", s.as_str()))
            }
        }
        Command::Emit { .. } => Err("emit is not addressed to a task".into()),
        Command::SetBudget { .. } => Err("set_budget is not addressed to a task".into()),
        Command::Step { .. } | Command::SetStepMode { .. } | Command::Submit { .. } => {
            Err(format!("`{}` is not addressed to a task", c.name()))
        }
    }
}

/// Whether any expression or template reads `outputs` (else node outputs
/// need not be kept).
fn reads_outputs(wf: &Workflow) -> bool {
    use crate::workflow::kinds::{map::MapSource, router::RouteCond};
    let mut names: Vec<&str> = Vec::new();
    for n in &wf.nodes {
        match &n.kind {
            NodeKind::Agent(AgentNode { prompt, .. }) | NodeKind::Plan(PlanNode { prompt, .. }) => {
                names.extend(prompt.root_names())
            }
            NodeKind::Router(RouterNode { routes, prompt, .. }) => {
                names.extend(prompt.root_names());
                for r in routes {
                    if let RouteCond::Expr(e) = &r.cond {
                        names.extend(e.root_names());
                    }
                }
            }
            NodeKind::Map(MapNode {
                source: MapSource::Over(e),
                ..
            }) => names.extend(e.root_names()),
            NodeKind::Loop(LoopNode { transitions, .. }) => {
                for t in transitions {
                    if let Some(e) = &t.when {
                        names.extend(e.root_names());
                    }
                }
            }
            _ => {}
        }
    }
    names.contains(&"outputs")
}

/// A new session id: start time in seconds and a random-ish suffix.
pub fn new_session_id() -> String {
    let micros = crate::event::now_micros();
    let secs = micros / 1_000_000;
    // Sortable by start time, unique enough for one user's machine.
    format!(
        "{}-{:05x}",
        secs,
        (micros ^ u64::from(std::process::id()).rotate_left(20)) & 0xfffff
    )
}

/// Finds the targets a task could be rerouted to.
pub fn reroute_candidates(wf: &Workflow, capability: Option<&str>) -> Vec<String> {
    match capability {
        Some(c) => wf
            .capable_agents(c)
            .map(|a| wf.agents[a].id.to_string())
            .collect(),
        None => wf.agents.iter().map(|a| a.id.to_string()).collect(),
    }
}
