//! The worker's side (`agentctl worker`): pulls calls from the lanes it
//! serves, runs each with its own providers, keys and command agents,
//! stores the result, and only then acks. While a call runs it sends
//! in-progress acks, so the queue's `ack_wait` can stay short and a worker
//! killed mid-call has its call redelivered to another soon.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, kv};
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::NatsError;
use super::connection::Nats;
use super::heartbeat::{self, Heartbeat};
use super::remote_agent::cancel_subject;
use super::result_store;
use super::work_item::{
    MAX_DELTA_BYTES, McpOffer, OfferedTool, ToolWorkItem, WorkItem, WorkResult, delta_subject,
};
use super::work_queue::{self, Delivery, Lane};
use crate::agent::command::CommandAgent;
use crate::agent::{AgentLink, AgentProvider};
use crate::bus::InProcessBus;
use crate::config::Config;
use crate::event::{ErrorKind, Id};
use crate::llm::sim::SimProvider;
use crate::llm::{self, Completion, Provider, ProviderError};
use crate::mcp::{McpClient, McpServer};

/// Calls pulled in one request at most.
const MAX_BATCH: usize = 16;
/// Providers kept per worker before the cache starts over.
const MAX_CACHED: usize = 512;
/// Longest tool output a worker sends back (the orchestrator caps what the
/// model sees further); keeps results well under NATS's payload limit.
const MAX_TOOL_OUTPUT: usize = 256 * 1024;

/// What a worker serves and how.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Its id (shown in events and `worker list`).
    pub id: String,
    /// Host name.
    pub host: String,
    /// Capabilities served (`--capability`).
    pub capabilities: Vec<String>,
    /// Agents served by id (`--agent`); command agents run only here.
    pub agents: Vec<String>,
    /// Calls at once.
    pub concurrency: u32,
    /// The lanes' delivery settings.
    pub delivery: Delivery,
    /// MCP servers it runs for orchestrators (`--mcp NAME`, declared in
    /// its own config): started with the worker, stopped with it.
    pub mcp: Vec<McpServer>,
    /// Where command agents run: a relative (or no) `cwd` is taken from
    /// here (`--workdir`, default the worker's current directory).
    pub workdir: std::path::PathBuf,
}

impl WorkerOptions {
    /// The lanes: its agents and capabilities, or every model agent when it
    /// names neither; and the tool calls of its MCP servers.
    pub fn lanes(&self) -> Vec<Lane> {
        let mut lanes: Vec<Lane> = self.agents.iter().cloned().map(Lane::Agent).collect();
        lanes.extend(self.capabilities.iter().cloned().map(Lane::Capability));
        if lanes.is_empty() {
            lanes.push(Lane::Any);
        }
        lanes.extend(self.mcp.iter().map(|m| Lane::Mcp(m.name.clone())));
        lanes
    }
}

#[derive(Default)]
struct Counters {
    in_flight: AtomicU32,
    done: AtomicU64,
    failures: AtomicU64,
}

struct Worker {
    opts: WorkerOptions,
    config: Config,
    results: kv::Store,
    counters: Counters,
    cancels: Mutex<HashMap<String, CancellationToken>>,
    providers: Mutex<HashMap<(String, String), Arc<dyn Provider>>>,
    /// The worker's own secrets, scrubbed from what it sends back.
    secrets: Arc<Vec<String>>,
    /// For streamed text (core NATS).
    client: async_nats::Client,
    /// Its running MCP servers, by name (emptied when it stops, which
    /// stops them).
    mcp: Mutex<HashMap<String, Arc<McpClient>>>,
    /// What its heartbeat says about them.
    offers: Vec<McpOffer>,
}

/// Runs a worker until `stop` resolves.
pub async fn run(
    nats: Nats,
    opts: WorkerOptions,
    config: Config,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), NatsError> {
    // The tokenizer's first use is slow (most in debug builds): pay it
    // before taking calls, not inside the first one's ack window.
    tokio::task::spawn_blocking(crate::llm::tokens::warm_up)
        .await
        .map_err(|e| NatsError::new("tokenizer", e))?;
    let stream = work_queue::ensure_stream(&nats.js).await?;
    let mut consumers = Vec::new();
    for lane in opts.lanes() {
        consumers.push(work_queue::ensure_consumer(&stream, &lane, opts.delivery).await?);
    }
    let results = result_store::bucket(&nats.js).await?;
    let beats = heartbeat::bucket(&nats.js).await?;
    let mut cancel_sub = nats
        .client
        .subscribe(cancel_subject("*.*"))
        .await
        .map_err(|e| NatsError::new("cannot subscribe to cancels", e))?;
    let secrets = own_secrets(&config);
    let (mcp, offers) = start_mcp(&opts).await?;
    let worker = Arc::new(Worker {
        opts: opts.clone(),
        config,
        results,
        counters: Counters::default(),
        cancels: Mutex::new(HashMap::new()),
        providers: Mutex::new(HashMap::new()),
        secrets: Arc::new(secrets),
        client: nats.client.clone(),
        mcp: Mutex::new(mcp),
        offers,
    });
    let mut tasks = tokio::task::JoinSet::new();
    {
        let w = worker.clone();
        tasks.spawn(async move {
            while let Some(m) = cancel_sub.next().await {
                let key = m.subject.as_str().trim_start_matches("agentctl.cancel.");
                if let Some(t) = lock(&w.cancels).get(key) {
                    t.cancel();
                }
            }
        });
    }
    {
        let w = worker.clone();
        let mut beats = beats.clone();
        let js = nats.js.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(heartbeat::INTERVAL);
            loop {
                tick.tick().await;
                if heartbeat::beat(&beats, &w.heartbeat(true)).await.is_err() {
                    // The bucket lives in the server's memory: a restarted
                    // nats-server has none until someone makes it again.
                    if let Ok(b) = heartbeat::bucket(&js).await {
                        beats = b;
                    }
                }
            }
        });
    }
    let permits = Arc::new(Semaphore::new(opts.concurrency.max(1) as usize));
    for (c, lane) in consumers.into_iter().zip(opts.lanes()) {
        tasks.spawn(pull(worker.clone(), c, lane, permits.clone()));
    }
    stop.await;
    tasks.abort_all();
    // Its MCP servers stop with it (a call still running holds its server
    // until the call's task is dropped at exit).
    lock(&worker.mcp).clear();
    let _ = heartbeat::beat(&beats, &worker.heartbeat(false)).await;
    Ok(())
}

/// Pulls calls from one lane while permits are free.
async fn pull(
    w: Arc<Worker>,
    consumer: consumer::Consumer<consumer::pull::Config>,
    lane: Lane,
    permits: Arc<Semaphore>,
) {
    let tools = matches!(lane, Lane::Mcp(_));
    loop {
        let Ok(first) = permits.clone().acquire_owned().await else {
            return;
        };
        let mut held = vec![first];
        while held.len() < MAX_BATCH {
            match permits.clone().try_acquire_owned() {
                Ok(p) => held.push(p),
                Err(_) => break,
            }
        }
        let batch = consumer
            .batch()
            .max_messages(held.len())
            .expires(Duration::from_secs(1))
            .messages()
            .await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(_) => {
                // NATS away: try again shortly.
                drop(held);
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        while let Some(m) = batch.next().await {
            let Ok(m) = m else { break };
            let Some(permit) = held.pop() else { break };
            let w = w.clone();
            tokio::spawn(async move {
                w.handle(m, tools).await;
                drop(permit);
            });
        }
    }
}

impl Worker {
    fn heartbeat(&self, alive: bool) -> Heartbeat {
        Heartbeat {
            id: self.opts.id.clone(),
            host: self.opts.host.clone(),
            capabilities: self.opts.capabilities.clone(),
            agents: self.opts.agents.clone(),
            any: self.opts.capabilities.is_empty() && self.opts.agents.is_empty(),
            concurrency: self.opts.concurrency,
            in_flight: self.counters.in_flight.load(Ordering::Relaxed),
            done: self.counters.done.load(Ordering::Relaxed),
            failures: self.counters.failures.load(Ordering::Relaxed),
            at_ms: heartbeat::now_ms(),
            alive,
            mcp: self.offers.clone(),
        }
    }

    /// A model or command agent's call, as its key and its running task
    /// (on its own task, so a call that holds its thread (a first tokenizer
    /// use, a blocking provider) cannot starve the progress acks into a
    /// redelivery).
    fn model_call(&self, payload: &[u8]) -> Result<(String, Running), String> {
        let item: WorkItem = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        let key = item.key.clone();
        let provider = self.provider(&item);
        let stream_to = item.deltas.then(|| DeltaSink {
            client: self.client.clone(),
            subject: delta_subject(&item.key),
            secrets: self.secrets.clone(),
            sent: 0,
        });
        let call = tokio::spawn(async move {
            match (provider, stream_to) {
                (Ok(p), None) => llm::complete(p.as_ref(), item.request).await,
                (Ok(p), Some(sink)) => complete_streaming(p.as_ref(), item.request, sink).await,
                (Err(e), _) => Err(e),
            }
        });
        Ok((key, call))
    }

    /// An MCP tool call, run by this worker's server: the tool's output as
    /// the completion's text, its error as the error.
    fn tool_call(&self, payload: &[u8]) -> Result<(String, Running), String> {
        let item: ToolWorkItem = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        let client = lock(&self.mcp).get(&item.server).cloned();
        let id = self.opts.id.clone();
        let call = tokio::spawn(async move {
            let Some(client) = client else {
                return Err(ProviderError::new(
                    ErrorKind::Workflow,
                    format!("worker {id} does not run MCP server `{}`", item.server),
                ));
            };
            match client.call(&item.tool, item.arguments).await {
                Ok(mut text) => {
                    if crate::text::cap_bytes(&mut text, MAX_TOOL_OUTPUT) {
                        text.push_str("\n[truncated on the worker]");
                    }
                    Ok(Completion {
                        text,
                        usage: Default::default(),
                        tool_calls: Vec::new(),
                    })
                }
                Err(e) => Err(ProviderError::new(ErrorKind::Workflow, e)),
            }
        });
        Ok((item.key, call))
    }

    async fn handle(&self, msg: jetstream::Message, tool: bool) {
        let deliveries = msg
            .info()
            .map(|i| u32::try_from(i.delivered).unwrap_or(u32::MAX))
            .unwrap_or(1);
        let started = if tool {
            self.tool_call(&msg.payload)
        } else {
            self.model_call(&msg.payload)
        };
        let (key, mut call) = match started {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("dropping an unreadable call: {e}");
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                let _ = msg.ack_with(AckKind::Term).await;
                return;
            }
        };
        let token = CancellationToken::new();
        lock(&self.cancels).insert(key.clone(), token.clone());
        self.counters.in_flight.fetch_add(1, Ordering::Relaxed);
        let outcome = {
            let _abort = AbortOnDrop(call.abort_handle());
            let every = (self.opts.delivery.ack_wait / 3).max(Duration::from_millis(50));
            let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tokio::select! {
                    r = &mut call => break Some(r.unwrap_or_else(|e| Err(ProviderError::new(
                        ErrorKind::Server,
                        format!("the call stopped on worker {}: {e}", self.opts.id),
                    )))),
                    _ = progress.tick() => {
                        let _ = msg.ack_with(AckKind::Progress).await;
                    }
                    _ = token.cancelled() => break None,
                }
            }
        };
        self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        lock(&self.cancels).remove(&key);
        let Some(outcome) = outcome else {
            // The orchestrator dropped the call: so does the queue.
            let _ = msg.ack_with(AckKind::Term).await;
            return;
        };
        let failed = outcome.is_err();
        let result = WorkResult {
            worker: self.opts.id.clone(),
            deliveries,
            outcome: self.scrub(outcome),
        };
        match result_store::store(&self.results, &key, &result).await {
            Ok(_) => {
                // Stored (or another delivery's result was first): done.
                let _ = msg.double_ack().await;
                let c = if failed {
                    &self.counters.failures
                } else {
                    &self.counters.done
                };
                c.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!("{e}; the call will be delivered again");
                let _ = msg
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await;
            }
        }
    }

    /// The provider for an item's agent: the sim seeded with the run's
    /// seed, a command agent this worker serves, or one of its configured
    /// providers.
    fn provider(&self, item: &WorkItem) -> Result<Arc<dyn Provider>, ProviderError> {
        let a = &item.agent;
        let cache_key = match a.provider.as_str() {
            "sim" | "command" => (item.session.clone(), a.id.clone()),
            name => (String::new(), name.to_string()),
        };
        if let Some(p) = lock(&self.providers).get(&cache_key) {
            return Ok(p.clone());
        }
        let p: Arc<dyn Provider> = match (a.provider.as_str(), &a.command) {
            ("sim", _) => Arc::new(SimProvider::new(
                item.seed,
                HashMap::from([(a.id.clone(), a.sim.clone())]),
            )),
            ("command", Some(cmd)) => {
                if !self.opts.agents.contains(&a.id) {
                    return Err(ProviderError::new(
                        ErrorKind::InvalidRequest,
                        format!(
                            "worker {} does not run command agent `{}`; start a worker with --agent {} on the machine that has its program",
                            self.opts.id, a.id, a.id
                        ),
                    ));
                }
                let config = cmd
                    .config_on(&self.opts.id, &self.opts.workdir)
                    .map_err(|e| ProviderError::new(ErrorKind::InvalidRequest, e))?;
                Arc::new(AgentProvider::new(
                    "command",
                    CommandAgent::new(Id::from(a.id.as_str()), config),
                    Arc::new(InProcessBus::new()),
                    Arc::new(AgentLink::default()),
                ))
            }
            (name, _) => match self.config.build_provider(name, None, None) {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return Err(ProviderError::new(
                        ErrorKind::InvalidRequest,
                        format!(
                            "provider `{name}` is not configured on worker {}\n  = hint: add [providers.{name}] to the worker's --config file",
                            self.opts.id
                        ),
                    ));
                }
                Err(e) => {
                    return Err(ProviderError::new(
                        ErrorKind::InvalidRequest,
                        format!("worker {}: {e}", self.opts.id),
                    ));
                }
            },
        };
        let mut cache = lock(&self.providers);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(cache_key, p.clone());
        Ok(p)
    }

    /// Takes the worker's own keys out of what it sends back.
    fn scrub(
        &self,
        outcome: Result<Completion, ProviderError>,
    ) -> Result<Completion, ProviderError> {
        let clean = |s: &str| scrubbed(&self.secrets, s);
        match outcome {
            Ok(mut c) => {
                if !self.secrets.is_empty() {
                    c.text = clean(&c.text);
                }
                Ok(c)
            }
            Err(mut e) => {
                e.message = crate::secret::redact(&clean(&e.message));
                Err(e)
            }
        }
    }
}

/// `s` without any of `secrets`.
fn scrubbed(secrets: &[String], s: &str) -> String {
    let mut s = s.to_string();
    for k in secrets {
        if s.contains(k.as_str()) {
            s = s.replace(k.as_str(), "[REDACTED]");
        }
    }
    s
}

/// Where a call's text goes while it is written: each piece published as
/// it comes (scrubbed of the worker's keys), up to [`MAX_DELTA_BYTES`].
struct DeltaSink {
    client: async_nats::Client,
    subject: String,
    secrets: Arc<Vec<String>>,
    sent: usize,
}

impl DeltaSink {
    async fn send(&mut self, text: &str) {
        if self.sent >= MAX_DELTA_BYTES || text.is_empty() {
            return;
        }
        let text = scrubbed(&self.secrets, text);
        self.sent += text.len();
        // At most once: a lost piece only thins the cockpit's typing.
        let _ = self.client.publish(self.subject.clone(), text.into()).await;
    }
}

/// Like [`llm::complete`], publishing the text as it is written.
async fn complete_streaming(
    provider: &dyn Provider,
    req: llm::ProviderRequest,
    mut sink: DeltaSink,
) -> Result<Completion, ProviderError> {
    use llm::ProviderChunk;
    let mut stream = provider.stream(req);
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk? {
            ProviderChunk::Delta(d) => {
                sink.send(&d).await;
                text.push_str(&d);
            }
            ProviderChunk::ToolCalls(c) => tool_calls.extend(c),
            ProviderChunk::Adapted(_) => {}
            ProviderChunk::Done { usage } => {
                return Ok(Completion {
                    text,
                    usage,
                    tool_calls,
                });
            }
        }
    }
    Err(ProviderError::new(
        ErrorKind::Server,
        "the reply ended before it was complete",
    ))
}

/// The API keys of the worker's configured providers (from its config or
/// environment).
fn own_secrets(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    // Without the `openai` feature no configured provider runs, so no key
    // of theirs is read.
    #[cfg(feature = "openai")]
    {
        let mut names: Vec<String> = config.providers.keys().cloned().collect();
        names.push("openai".into());
        for n in names {
            if let Ok(Some(s)) = config.provider_settings(&n, None) {
                let k = s.api_key.expose();
                // Very short values would scrub ordinary words.
                if k.len() >= 8 {
                    out.push(k.to_string());
                }
            }
        }
    }
    for s in [config.nats.password(), config.nats.token()]
        .into_iter()
        .flatten()
    {
        if s.expose().len() >= 8 {
            out.push(s.expose().to_string());
        }
    }
    out
}

/// A call running on its own task.
type Running = tokio::task::JoinHandle<Result<Completion, ProviderError>>;

/// Starts the worker's MCP servers and lists their tools; a server that
/// cannot start stops the worker with its report.
async fn start_mcp(
    opts: &WorkerOptions,
) -> Result<(HashMap<String, Arc<McpClient>>, Vec<McpOffer>), NatsError> {
    let mut clients = HashMap::new();
    let mut offers = Vec::new();
    for server in &opts.mcp {
        let client = McpClient::start(server).await.map_err(NatsError)?;
        let tools = client.tools().await.map_err(NatsError)?;
        let pid = client.pid().await;
        let tools: Vec<OfferedTool> = tools
            .into_iter()
            .map(|t| OfferedTool {
                approve: server.approve.applies_to(&t.name),
                name: t.name.to_string(),
                description: t
                    .description
                    .as_deref()
                    .map(str::to_string)
                    .or(t.title.clone())
                    .unwrap_or_default(),
                parameters: serde_json::Value::Object((*t.input_schema).clone()),
            })
            .collect();
        eprintln!(
            "worker {}: MCP server `{}` runs{} with {} tools",
            opts.id,
            server.name,
            pid.map(|p| format!(" as pid {p}")).unwrap_or_default(),
            tools.len()
        );
        offers.push(McpOffer {
            server: server.name.clone(),
            tools,
            pid,
        });
        clients.insert(server.name.clone(), Arc::new(client));
    }
    Ok((clients, offers))
}

/// Stops a call's task when its handler is dropped (cancel, shutdown).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
