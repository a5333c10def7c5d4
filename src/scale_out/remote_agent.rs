//! The orchestrator's side: a [`Dispatch`] whose providers publish each
//! call on the work queue and wait for its result in the result bucket.
//! The engine above sees a provider like any other, so budgets, retries,
//! breakers, gates and the session file stay where they are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::{self, BoxStream};

use super::NatsError;
use super::capacity::Capacity;
use super::connection::Nats;
use super::heartbeat::{self, WorkerLog, WorkerTable};
use super::remote_tools::RemoteMcpTools;
use super::result_store::{self, ResultWaiters};
use super::work_item::{
    AgentSpec, MAX_DELTA_BYTES, WorkItem, WorkResult, attempt_key, delta_subject, session_prefix,
};
use super::work_queue::{self, Lane};
use crate::engine::dispatch::{Dispatch, DispatchRun, EventSink};
use crate::event::{ErrorKind, EventKind, Id};
use crate::llm::{Completion, Provider, ProviderChunk, ProviderError, ProviderRequest};
use crate::mcp::McpServer;
use crate::tools::ToolSource;
use crate::workflow::model::{Agent, AgentKind};

/// How long publishing may keep failing (NATS down) before the call fails.
const PUBLISH_PATIENCE: Duration = Duration::from_secs(60);

/// Settings of the orchestrator's side.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// How long a call waits for a worker that serves its agent.
    pub worker_wait: Duration,
}

impl Default for RemoteSettings {
    fn default() -> Self {
        RemoteSettings {
            worker_wait: Duration::from_secs(30),
        }
    }
}

/// Sends a run's model and command agents to `agentctl worker`s.
pub struct NatsDispatch {
    shared: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) nats: Nats,
    /// The work queue's stream: a dropped call's message is deleted from it.
    work: async_nats::jetstream::stream::Stream,
    results: Arc<ResultWaiters>,
    pub(super) workers: WorkerTable,
    pub(super) settings: RemoteSettings,
    /// The session's id.
    pub(super) session: String,
    /// The run's event stream, once the run has started.
    pub(super) events: std::sync::OnceLock<EventSink>,
    /// The scheduler's aging step, once the run has started.
    aging_step: std::sync::OnceLock<u32>,
    /// Calls published per lane, and those waiting for room.
    capacity: Arc<Capacity>,
    /// Resumed: task → (the attempt the engine runs, the interrupted
    /// attempt it stands for), for every call of that attempt (its tool
    /// loop's turns and tool calls too).
    remaps: Mutex<HashMap<String, (u32, u32)>>,
    /// Each live run's log of its workers, by session.
    logs: Mutex<HashMap<String, Weak<WorkerLog>>>,
}

impl Shared {
    /// The run's log of its workers, made on its first call.
    pub(super) fn log_of(&self, session: &str, events: &EventSink) -> Arc<WorkerLog> {
        let mut logs = lock(&self.logs);
        logs.retain(|_, l| l.strong_count() > 0);
        match logs.get(session).and_then(Weak::upgrade) {
            Some(l) => l,
            None => {
                let l = Arc::new(WorkerLog::new(events.clone(), self.workers.clone()));
                logs.insert(session.to_string(), Arc::downgrade(&l));
                l
            }
        }
    }

    /// The attempt a call of `task`'s `attempt` is keyed by.
    pub(super) fn keyed_attempt(&self, task: &str, attempt: u32) -> u32 {
        match lock(&self.remaps).get(task) {
            Some(&(from, to)) if from == attempt => to,
            _ => attempt,
        }
    }
}

impl NatsDispatch {
    /// Connects the session `session` to the work queue, the result bucket
    /// and the workers' heartbeats.
    pub async fn start(
        nats: Nats,
        session: &str,
        settings: RemoteSettings,
    ) -> Result<NatsDispatch, NatsError> {
        let work = work_queue::ensure_stream(&nats.js).await?;
        let results = result_store::bucket(&nats.js).await?;
        let results = ResultWaiters::start(results, &session_prefix(session)).await?;
        let workers = WorkerTable::watch(&nats.js, heartbeat::bucket(&nats.js).await?).await?;
        // A call whose every delivery died is failed, not awaited forever.
        let mut advisories = nats
            .client
            .subscribe(work_queue::max_deliveries_advisory())
            .await
            .map_err(|e| NatsError::new("cannot watch the work queue's advisories", e))?;
        let weak = Arc::downgrade(&results);
        let queue = work.clone();
        tokio::spawn(async move {
            while let Some(m) = advisories.next().await {
                let Some(results) = weak.upgrade() else { break };
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&m.payload) else {
                    continue;
                };
                if let Some(seq) = v["stream_seq"].as_u64() {
                    results.gave_up(seq, v["deliveries"].as_u64().unwrap_or(0));
                    // Nobody will take it: out of the queue.
                    let _ = queue.delete_message(seq).await;
                }
            }
        });
        Ok(NatsDispatch {
            shared: Arc::new(Shared {
                nats,
                work,
                results,
                workers,
                settings,
                session: session.to_string(),
                events: std::sync::OnceLock::new(),
                aging_step: std::sync::OnceLock::new(),
                capacity: Arc::new(Capacity::default()),
                remaps: Mutex::new(HashMap::new()),
                logs: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl NatsDispatch {
    /// The run's MCP servers as tools whose calls run on workers that run
    /// those servers (`agentctl worker --mcp NAME`). `servers` are the
    /// run's own declarations: their `approve` and `timeout_ms` apply
    /// here; the program and its settings are each worker's.
    pub fn mcp_tools(&self, servers: Vec<McpServer>) -> Arc<dyn ToolSource> {
        Arc::new(RemoteMcpTools::new(self.shared.clone(), servers))
    }
}

impl Dispatch for NatsDispatch {
    fn provider(&self, run: &DispatchRun<'_>, agent: &Agent) -> Arc<dyn Provider> {
        let _ = self.shared.events.set(run.events.clone());
        let _ = self.shared.aging_step.set(run.aging_step);
        let spec = AgentSpec::of(agent);
        let command = matches!(agent.kind, AgentKind::Command(_));
        // A named agent's own lane first, then its capabilities', then (for
        // models, which any worker can run) the shared one.
        let mut lanes = vec![Lane::Agent(spec.id.clone())];
        lanes.extend(spec.capabilities.iter().cloned().map(Lane::Capability));
        if !command {
            lanes.push(Lane::Any);
        }
        let networked = !command && spec.provider != "sim";
        // Streamed like a model writes: network models, and sims with a
        // latency (their reply comes in paced pieces). Others answer at
        // once, and a subscription per call would only cost the hop.
        let deltas = networked || (spec.provider == "sim" && spec.sim.latency_ms.is_some());
        let log = self.shared.log_of(run.session, &run.events);
        let interrupted = run
            .interrupted
            .iter()
            .filter(|(_, (a, _))| *a == spec.id)
            .map(|(t, (_, n))| (t.clone(), *n))
            .collect();
        Arc::new(RemoteProvider {
            interrupted: Mutex::new(interrupted),
            shared: self.shared.clone(),
            session: run.session.to_string(),
            seed: run.seed,
            events: run.events.clone(),
            spec,
            lanes,
            networked,
            log,
            deltas,
        })
    }
}

/// One agent's calls, run by workers.
struct RemoteProvider {
    shared: Arc<Shared>,
    session: String,
    seed: u64,
    events: EventSink,
    spec: AgentSpec,
    lanes: Vec<Lane>,
    /// A network model (its retries default like the in-process provider's).
    networked: bool,
    /// Resumed: task → the attempt that was running when the run stopped.
    interrupted: Mutex<HashMap<String, u32>>,
    /// The run's workers, told as events.
    log: Arc<WorkerLog>,
    /// Its calls' text is forwarded as `llm_delta` while it is written.
    deltas: bool,
}

impl RemoteProvider {
    fn interrupted_is_empty(&self) -> bool {
        self.interrupted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

impl Provider for RemoteProvider {
    fn name(&self) -> &str {
        &self.spec.provider
    }

    fn retries_by_default(&self) -> bool {
        self.networked
    }

    fn stream(
        &self,
        req: ProviderRequest,
    ) -> BoxStream<'static, Result<ProviderChunk, ProviderError>> {
        let mut req = req;
        // The interrupted attempt's calls are that attempt again: their
        // results, stored meanwhile or still being computed, are the ones
        // an uninterrupted run would have used.
        if !self.interrupted_is_empty()
            && let Some(n) = self
                .interrupted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&*req.task)
            && req.attempt == n + 1
        {
            lock(&self.shared.remaps).insert(req.task.to_string(), (n + 1, n));
        }
        req.attempt = self.shared.keyed_attempt(&req.task, req.attempt);
        let task = req.task.clone();
        let attempt = req.attempt;
        let priority = req.hints.priority;
        let mut item = WorkItem {
            key: String::new(),
            session: self.session.clone(),
            seed: self.seed,
            agent: self.spec.clone(),
            request: req,
            deltas: self.deltas,
        };
        let prepared = serde_json::to_vec(&item.request)
            .map_err(internal)
            .and_then(|request| {
                item.key = attempt_key(&item.session, &request);
                serde_json::to_vec(&item)
                    .map(|p| (item.key.clone(), p))
                    .map_err(internal)
            });
        let (key, payload) = match prepared {
            Ok(p) => p,
            Err(e) => return stream::once(async move { Err(e) }).boxed(),
        };
        let call = Call {
            shared: self.shared.clone(),
            events: self.events.clone(),
            key,
            payload,
            lanes: self.lanes.clone(),
            task,
            attempt,
            agent: Id::from(self.spec.id.as_str()),
            asks: Asker::Agent(Box::new(self.spec.clone())),
            priority,
            log: self.log.clone(),
            deltas: self.deltas,
        };
        stream::once(call.run())
            .flat_map(|r| stream::iter(chunks(r)))
            .boxed()
    }
}

/// A reply as the chunks the engine reads.
fn chunks(r: Result<Completion, ProviderError>) -> Vec<Result<ProviderChunk, ProviderError>> {
    match r {
        Err(e) => vec![Err(e)],
        Ok(c) => {
            let mut out = Vec::with_capacity(3);
            if !c.text.is_empty() {
                out.push(Ok(ProviderChunk::Delta(c.text)));
            }
            if !c.tool_calls.is_empty() {
                out.push(Ok(ProviderChunk::ToolCalls(c.tool_calls)));
            }
            out.push(Ok(ProviderChunk::Done { usage: c.usage }));
            out
        }
    }
}

/// Who a call is for, to say who serves it.
pub(super) enum Asker {
    /// A model or command agent.
    Agent(Box<AgentSpec>),
    /// A tool of an MCP server.
    Mcp(String),
}

/// One call's trip through the queue: its stored result reused, or
/// published and awaited.
pub(super) struct Call {
    pub(super) shared: Arc<Shared>,
    pub(super) events: EventSink,
    /// The attempt's key.
    pub(super) key: String,
    /// The work item, serialized.
    pub(super) payload: Vec<u8>,
    /// Lanes in order of preference.
    pub(super) lanes: Vec<Lane>,
    pub(super) task: Id,
    pub(super) attempt: u32,
    pub(super) agent: Id,
    pub(super) asks: Asker,
    /// The task's priority (1 most urgent), for its place in the lane's
    /// line while workers are busy.
    pub(super) priority: u8,
    /// The run's workers, told as events.
    pub(super) log: Arc<WorkerLog>,
    /// Forward the text a worker streams as `llm_delta`.
    pub(super) deltas: bool,
}

impl Call {
    pub(super) async fn run(mut self) -> Result<Completion, ProviderError> {
        let key = self.key.clone();
        let task = self.task.clone();
        let attempt = self.attempt;
        let results = self.shared.results.clone();
        // Stored by a worker while this orchestrator was down: reuse it.
        if let Some(r) = results.stored(&key).await {
            self.report(&task, attempt, &r, true);
            return r.outcome;
        }
        let arrival = results.wait(&key);
        let mut guard = CancelOnDrop {
            shared: self.shared.clone(),
            key: key.clone(),
            sequence: None,
            armed: true,
        };
        let lane = self.route().await?;
        self.log.sweep();
        // No more in the queue than the workers can run: the rest wait
        // here, most urgent first.
        let aging = self.shared.aging_step.get().copied().unwrap_or(1);
        let _slot = tokio::select! {
            s = self.shared.capacity.acquire(&lane, self.priority, aging, &self.shared.workers) => s,
            () = self.deserted(&lane) => return Err(self.nobody_serves()),
        };
        // Listening before the call is published (one connection keeps
        // its order), so the first piece of text is not missed.
        let mut deltas = if self.deltas {
            let client = &self.shared.nats.client;
            client.subscribe(delta_subject(&key)).await.ok()
        } else {
            None
        };
        let payload = std::mem::take(&mut self.payload);
        let sequence = self.publish(&lane, &key, payload).await?;
        results.published(&key, sequence);
        guard.sequence = Some(sequence);
        let deserted = self.deserted(&lane);
        tokio::pin!(arrival, deserted);
        let mut forwarded = 0usize;
        let r = loop {
            tokio::select! {
                a = &mut arrival => match a {
                    Ok(Ok(r)) => break r,
                    Ok(Err(e)) => {
                        guard.armed = false;
                        results.settled(sequence);
                        return Err(e);
                    }
                    Err(_) => return Err(internal("the result watch stopped")),
                },
                () = &mut deserted => {
                    return Err(self.nobody_serves());
                }
                Some(m) = next_delta(&mut deltas) => {
                    self.forward(&m.payload, &mut forwarded);
                    if forwarded >= MAX_DELTA_BYTES {
                        deltas = None;
                    }
                }
            }
        };
        // Text still on its way after the result is dropped with the
        // subscription: the reply itself is in the result.
        drop(deltas);
        guard.armed = false;
        results.settled(sequence);
        self.report(&task, attempt, &r, false);
        r.outcome
    }

    /// One piece of the reply being written, as the task's `llm_delta`
    /// (only for the cockpit: the reply and its usage come with the result,
    /// and the provider does not stream to the engine, so nothing counts
    /// twice).
    fn forward(&self, payload: &[u8], forwarded: &mut usize) {
        let room = MAX_DELTA_BYTES.saturating_sub(*forwarded);
        let Ok(text) = std::str::from_utf8(payload) else {
            return;
        };
        if text.is_empty() || room == 0 {
            return;
        }
        let text = &text[..crate::text::floor_char_boundary(text, room)];
        if text.is_empty() {
            *forwarded = MAX_DELTA_BYTES;
            return;
        }
        *forwarded += text.len();
        (self.events)(EventKind::LlmDelta {
            task: self.task.clone(),
            agent: self.agent.clone(),
            text: text.to_string(),
        });
    }

    fn report(&self, task: &Id, attempt: u32, r: &WorkResult, reused: bool) {
        self.log.note(&r.worker);
        (self.events)(EventKind::WorkerResult {
            task: task.clone(),
            agent: self.agent.clone(),
            attempt,
            worker: r.worker.clone(),
            deliveries: r.deliveries,
            reused,
        });
    }

    /// The first lane a live worker serves; waits a bounded time for one.
    async fn route(&self) -> Result<Lane, ProviderError> {
        let mut table = self.shared.workers.clone();
        let deadline = tokio::time::Instant::now() + self.shared.settings.worker_wait;
        loop {
            let live = table.live();
            if let Some(l) = self.lanes.iter().find(|l| live.iter().any(|h| h.serves(l))) {
                return Ok(l.clone());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.nobody_serves());
            }
            tokio::select! {
                _ = table.changed() => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Resolves once no live worker has served `lane` for the bounded
    /// wait: every worker that could run the call died and none came back.
    async fn deserted(&self, lane: &Lane) {
        let wait = self.shared.settings.worker_wait;
        let mut since: Option<tokio::time::Instant> = None;
        loop {
            // Each beat: a worker that went silent is told as lost soon.
            tokio::time::sleep(heartbeat::INTERVAL).await;
            self.log.sweep();
            if self.shared.workers.live().iter().any(|h| h.serves(lane)) {
                since = None;
            } else if since
                .get_or_insert_with(tokio::time::Instant::now)
                .elapsed()
                >= wait
            {
                return;
            }
        }
    }

    fn nobody_serves(&self) -> ProviderError {
        let a = match &self.asks {
            Asker::Agent(a) => a,
            Asker::Mcp(server) => {
                return ProviderError::new(
                    ErrorKind::Workflow,
                    format!(
                        "no live worker runs MCP server `{server}` after waiting {} s\n  = hint: {}",
                        self.shared.settings.worker_wait.as_secs(),
                        mcp_hint(server)
                    ),
                );
            }
        };
        let mut hint = format!("agentctl worker --nats URL --agent {}", a.id);
        if let Some(c) = a.capabilities.first() {
            hint.push_str(&format!(" (or --capability {c})"));
        }
        let caps = if a.capabilities.is_empty() {
            String::new()
        } else {
            format!(" nor its capabilities ({})", a.capabilities.join(", "))
        };
        ProviderError::new(
            ErrorKind::Workflow,
            format!(
                "no live worker serves agent `{}`{caps}{} after waiting {} s\n  = hint: start one: {hint}",
                a.id,
                if a.command.is_some() {
                    " (a command agent runs only on workers started with --agent for it)"
                } else {
                    ""
                },
                self.shared.settings.worker_wait.as_secs()
            ),
        )
    }

    /// Publishes the call with its key as message id (a second publish of
    /// the same attempt is dropped by the server); retries while NATS is
    /// away. The stream sequence it got.
    async fn publish(
        &self,
        lane: &Lane,
        key: &str,
        payload: Vec<u8>,
    ) -> Result<u64, ProviderError> {
        let deadline = tokio::time::Instant::now() + PUBLISH_PATIENCE;
        let payload = bytes::Bytes::from(payload);
        loop {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", key);
            let sent = match self
                .shared
                .nats
                .js
                .publish_with_headers(lane.subject(), headers, payload.clone())
                .await
            {
                Ok(ack) => ack.await.map(|a| a.sequence).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match sent {
                Ok(seq) => return Ok(seq),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(ProviderError::new(
                        ErrorKind::Server,
                        format!("cannot publish the call on {}: {e}", lane.subject()),
                    ));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}

/// The next piece of streamed text, or never without a subscription.
async fn next_delta(sub: &mut Option<async_nats::Subscriber>) -> Option<async_nats::Message> {
    match sub {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// How to start a worker that runs MCP server `server`.
pub(super) fn mcp_hint(server: &str) -> String {
    format!(
        "start one on the machine that has its program: agentctl worker --nats URL --mcp {server} --config FILE, with [mcp.{server}] in FILE"
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn internal(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(ErrorKind::Server, format!("scale-out: {e}"))
}

/// A call dropped before its result (pause, cancel, reroute, timeout):
/// the worker holding it is told to drop it too, and a call no worker has
/// taken yet leaves the queue, so no worker runs it for a run that no
/// longer wants it.
struct CancelOnDrop {
    shared: Arc<Shared>,
    key: String,
    /// Its message in the work queue, once published.
    sequence: Option<u64>,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.shared.results.forget(&self.key);
        let client = self.shared.nats.client.clone();
        let subject = cancel_subject(&self.key);
        let sequence = self.sequence;
        if let Some(seq) = sequence {
            self.shared.results.settled(seq);
        }
        let queue = self.shared.work.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = client.publish(subject, bytes::Bytes::new()).await;
                if let Some(seq) = sequence {
                    let _ = queue.delete_message(seq).await;
                }
            });
        }
    }
}

/// Where a call's cancel is announced (core NATS).
pub fn cancel_subject(key: &str) -> String {
    format!("agentctl.cancel.{key}")
}
