//! The deterministic offline provider.
//!
//! Every call is a pure function of (run seed, agent, task, attempt, visit)
//! and the agent's [`SimScript`]: all random draws come from a ChaCha8 RNG
//! seeded by a stable hash of those inputs, never from a shared RNG, so the
//! scheduling order cannot change a run. The draw order is fixed (fault
//! draws, then a latency seed, then reply draws), so turning one knob (say
//! `error_rate`) does not reshuffle the others' outcomes.
//!
//! Latency uses `tokio::time`, so tests under a paused clock take no real
//! time. Token usage comes from the real tokenizer ([`TokenCounter`]).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::future;
use futures::stream::{self, BoxStream};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

pub use self::script::{SimLatency, SimScript, SimToolCall};
use super::tokens::TokenCounter;
use super::{Expect, Provider, ProviderChunk, ProviderError, ProviderRequest, Role, ToolCall};
use crate::event::{ErrorKind, Usage};

// Debaters, voters and judges (issue #4).
mod debate;
pub mod script;
// Replies to a user's reply schema.
mod schema;

/// Most `Delta`s a reply with latency is streamed in.
const MAX_PIECES: usize = 4;
/// Default number of subtasks in an invented plan.
const DEFAULT_PLAN_SIZE: u32 = 3;
/// Default length of an invented text reply, in words.
const DEFAULT_REPLY_WORDS: u32 = 12;

/// Words of invented replies: plain lowercase ASCII letters only, so that
/// " word" is always one pre-tokenizer piece and a reply's token count is
/// the sum of its words' counts (see [`vocab_tokens`]). 64 entries, so a
/// word is six random bits.
const VOCAB: [&str; 64] = [
    "the", "system", "should", "analysis", "result", "data", "model", "agent", "report", "review",
    "plan", "task", "value", "input", "output", "stream", "budget", "token", "latency", "error",
    "retry", "summary", "detail", "evidence", "example", "section", "draft", "final", "update",
    "change", "design", "module", "service", "request", "response", "cache", "memory", "thread",
    "queue", "event", "signal", "metric", "trace", "status", "check", "proof", "claim", "source",
    "context", "option", "feature", "release", "version", "schema", "field", "record", "index",
    "query", "filter", "batch", "window", "buffer", "channel", "worker",
];

/// What reviewers ask for when they reject.
const REVIEW_ASKS: [&str; 8] = [
    "concrete examples",
    "error handling",
    "a short summary",
    "the edge cases",
    "sources for the claims",
    "a test plan",
    "performance figures",
    "a clear conclusion",
];

/// One agent's script with its replies pre-rendered and its call counter.
struct AgentSim {
    script: SimScript,
    /// `script.replies` as text (strings verbatim, other values as JSON).
    replies: Vec<String>,
    calls: AtomicU64,
}

impl AgentSim {
    fn new(script: SimScript) -> Self {
        let replies = script
            .replies
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        AgentSim {
            script,
            replies,
            calls: AtomicU64::new(0),
        }
    }
}

/// The `sim` provider: scripted, templated or invented replies with
/// simulated latency, faults and real token counts, deterministic for a
/// seed.
pub struct SimProvider {
    seed: u64,
    agents: HashMap<String, AgentSim>,
    /// Script of agents without one (`SimScript::default()`).
    fallback: AgentSim,
    /// Calls of agents without a script, by agent.
    fallback_calls: Mutex<HashMap<String, u64>>,
    calls: AtomicU64,
    in_flight: Arc<AtomicU64>,
}

impl std::fmt::Debug for SimProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimProvider")
            .field("seed", &self.seed)
            .field("scripted_agents", &self.agents.len())
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl SimProvider {
    /// A provider for a run seed and per-agent scripts (agent id → script);
    /// agents without a script use `SimScript::default()`.
    pub fn new(seed: u64, scripts: HashMap<String, SimScript>) -> Self {
        SimProvider {
            seed,
            agents: scripts
                .into_iter()
                .map(|(id, s)| (id, AgentSim::new(s)))
                .collect(),
            fallback: AgentSim::new(SimScript::default()),
            fallback_calls: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
            in_flight: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Calls started so far (every `stream()`, whatever its outcome).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Calls started so far by one agent.
    pub fn calls_for(&self, agent: &str) -> u64 {
        match self.agents.get(agent) {
            Some(a) => a.calls.load(Ordering::Relaxed),
            None => self
                .fallback_calls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(agent)
                .copied()
                .unwrap_or(0),
        }
    }

    /// Calls whose stream is still alive (neither finished nor dropped):
    /// lets tests check that cancelling a task really stops its call.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    fn agent(&self, agent: &str) -> &AgentSim {
        match self.agents.get(agent) {
            Some(a) => {
                a.calls.fetch_add(1, Ordering::Relaxed);
                a
            }
            None => {
                let mut map = self
                    .fallback_calls
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                match map.get_mut(agent) {
                    Some(n) => *n += 1,
                    None => {
                        map.insert(agent.to_string(), 1);
                    }
                }
                &self.fallback
            }
        }
    }
}

impl Provider for SimProvider {
    fn name(&self) -> &str {
        "sim"
    }

    fn stream(
        &self,
        req: ProviderRequest,
    ) -> BoxStream<'static, Result<ProviderChunk, ProviderError>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let sim = self.agent(&req.agent);
        let guard = InFlight::new(&self.in_flight);
        if !sim.script.tool_calls.is_empty() && !req.messages.iter().any(|m| m.role == Role::Tool) {
            return scripted_tool_calls(&sim.script, &req, guard);
        }
        let (latency, outcome) = run_call(self.seed, sim, &req);
        into_stream(latency, outcome, guard)
    }
}

/// The first turn of an agent with scripted tool calls: the calls, at once.
/// The next turn (the conversation then holds the results) replies as usual.
fn scripted_tool_calls(
    script: &SimScript,
    req: &ProviderRequest,
    guard: InFlight,
) -> BoxStream<'static, Result<ProviderChunk, ProviderError>> {
    let counter = TokenCounter::global();
    let calls: Vec<ToolCall> = script
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, c)| ToolCall {
            id: format!("call_{i}"),
            name: c.tool.clone(),
            arguments: if c.arguments.is_null() {
                "{}".to_string()
            } else {
                c.arguments.to_string()
            },
        })
        .collect();
    let usage = Usage {
        prompt_tokens: counter.count_messages(&req.messages),
        completion_tokens: calls
            .iter()
            .map(|c| counter.count(&c.name) + counter.count(&c.arguments))
            .sum(),
        estimated: false,
    };
    stream::iter([
        Ok(ProviderChunk::ToolCalls(calls)),
        Ok(ProviderChunk::Done { usage }),
    ])
    .map(move |chunk| {
        let _alive = &guard;
        chunk
    })
    .boxed()
}

/// What a call ends with.
enum Outcome {
    /// Never answers (an injected hang; the caller's timeout cuts it).
    Hang,
    Reply {
        text: String,
        usage: Usage,
    },
    Fail(ProviderError),
}

/// Decides everything about a call up front (the stream only replays it
/// over time), so the result cannot depend on when or how it is polled.
fn run_call(seed: u64, sim: &AgentSim, req: &ProviderRequest) -> (Duration, Outcome) {
    let script = &sim.script;
    let mut rng = ChaCha8Rng::seed_from_u64(call_seed(
        seed,
        &req.agent,
        &req.task,
        req.attempt,
        req.visit,
    ));
    // Fixed draw order; see the module docs.
    let u_error: f64 = rng.random();
    let u_timeout: f64 = rng.random();
    let u_malformed: f64 = rng.random();
    let latency_seed = rng.next_u64();
    let mut latency = draw_latency(script.latency_ms.as_ref(), latency_seed);
    // Faults added later draw from their own RNG (derived from the latency
    // seed), so they do not reshuffle the reply draws of existing scripts.
    // Only scripts that use them pay for the draws.
    let (u_rate, u_hang, u_spike): (f64, f64, f64) =
        if script.rate_limit_rate > 0.0 || script.hang_rate > 0.0 || script.spike_rate > 0.0 {
            let mut fault_rng = ChaCha8Rng::seed_from_u64(latency_seed ^ 0x5eed_fa17_c0de_0001);
            (fault_rng.random(), fault_rng.random(), fault_rng.random())
        } else {
            (1.0, 1.0, 1.0)
        };
    if u_spike < script.spike_rate {
        latency += Duration::from_secs_f64(script.spike_ms.unwrap_or(2000.0).max(0.0) / 1000.0);
    }

    if req.attempt <= script.fail_first {
        return (
            latency,
            fail(ErrorKind::Server, "sim: injected server error"),
        );
    }
    if u_error < script.error_rate {
        return (
            latency,
            fail(ErrorKind::Server, "sim: injected random server error"),
        );
    }
    if u_timeout < script.timeout_rate {
        return (latency, fail(ErrorKind::Timeout, "sim: injected timeout"));
    }
    if u_rate < script.rate_limit_rate {
        let mut e = ProviderError::new(ErrorKind::RateLimited, "sim: injected rate limit (429)");
        e.retry_after = Some(Duration::from_millis(script.retry_after_ms.unwrap_or(1000)));
        return (latency, Outcome::Fail(e));
    }
    if u_hang < script.hang_rate {
        return (latency, Outcome::Hang);
    }

    let counter = TokenCounter::global();
    let (mut text, mut completion_tokens) = reply(sim, req, &mut rng, counter);
    if req.attempt <= script.malformed_first || u_malformed < script.malformed_rate {
        cut_in_half(&mut text);
        completion_tokens = None;
    }
    // Like a real model, stop at the request's completion limit.
    if let Some(max) = req.max_tokens {
        let n = completion_tokens.unwrap_or_else(|| counter.count(&text));
        if n > u64::from(max) {
            truncate_to_tokens(&mut text, u64::from(max), counter);
            completion_tokens = None;
        }
    }
    let completion_tokens = match completion_tokens {
        // Counted word by word (exact, tested): remember it, since the
        // next step of a pipeline will likely send this text as its prompt.
        Some(n) => {
            counter.remember(&text, n);
            n
        }
        None => counter.count(&text),
    };
    let usage = Usage {
        prompt_tokens: counter.count_messages(&req.messages),
        completion_tokens,
        estimated: false,
    };
    (latency, Outcome::Reply { text, usage })
}

fn fail(kind: ErrorKind, message: &str) -> Outcome {
    Outcome::Fail(ProviderError::new(kind, message))
}

/// The reply text, and its token count when it is known without encoding.
fn reply(
    sim: &AgentSim,
    req: &ProviderRequest,
    rng: &mut ChaCha8Rng,
    counter: &TokenCounter,
) -> (String, Option<u64>) {
    let script = &sim.script;
    if let Some(batch) = &req.hints.batch {
        return (batch_reply(sim, req, batch, rng, counter), None);
    }
    if let Some(last) = sim.replies.len().checked_sub(1) {
        return (sim.replies[(req.visit as usize).min(last)].clone(), None);
    }
    // A user's schema: a template that writes JSON stands (it is the
    // workflow's own example); otherwise the sim invents a matching value.
    if let Some(s) = &req.hints.schema {
        if let Some(template) = &script.template {
            let text = render_template(template, req);
            if serde_json::from_str::<Value>(text.trim())
                .is_ok_and(|v| v.is_object() || v.is_array())
            {
                return (text, None);
            }
        }
        return (schema::instance(s, &VOCAB, rng).to_string(), None);
    }
    // A template writes free text; debate turns, ballots and decisions need
    // structure, so for those only explicit `replies` override the invented one.
    let structured = matches!(
        req.hints.expect,
        Expect::Turn | Expect::Ballot | Expect::Decision
    );
    if let Some(template) = &script.template
        && !structured
    {
        return (render_template(template, req), None);
    }
    match req.hints.expect {
        Expect::Text => {
            let (text, tokens) = text_reply(
                &req.agent,
                script.reply_words.unwrap_or(DEFAULT_REPLY_WORDS),
                rng,
                counter,
            );
            (text, Some(tokens))
        }
        Expect::Plan => (
            plan_reply(req, script.plan_size.unwrap_or(DEFAULT_PLAN_SIZE)),
            None,
        ),
        Expect::Review => (review_reply(req.visit, script.reject_first, rng), None),
        Expect::Label => {
            let label = match (&script.label, req.hints.labels.len()) {
                (Some(label), _) => label.clone(),
                (None, 0) => "none".to_string(),
                (None, n) => req.hints.labels[rng.random_range(0..n)].clone(),
            };
            (label, None)
        }
        Expect::Turn | Expect::Ballot | Expect::Decision => (debate::reply(script, req, rng), None),
    }
}

/// A batch call's reply: a JSON array with, per item in order, what the
/// agent would have answered to that item alone (its scripted reply by the
/// item's visit, its template over the item's prompt, or invented words).
/// A reply that is a JSON object or array is embedded as a value, any other
/// as a string. Deterministic: the items' draws come in item order from
/// the call's RNG.
fn batch_reply(
    sim: &AgentSim,
    req: &ProviderRequest,
    batch: &super::BatchHint,
    rng: &mut ChaCha8Rng,
    counter: &TokenCounter,
) -> String {
    let script = &sim.script;
    let answers: Vec<Value> = batch
        .items
        .iter()
        .map(|item| {
            let text = if let Some(last) = sim.replies.len().checked_sub(1) {
                sim.replies[(item.visit as usize).min(last)].clone()
            } else if let Some(template) = &script.template {
                render_parts(
                    template,
                    &item.prompt,
                    &req.agent,
                    &item.task,
                    item.visit,
                    req.attempt,
                )
            } else {
                text_reply(
                    &req.agent,
                    script.reply_words.unwrap_or(DEFAULT_REPLY_WORDS),
                    rng,
                    counter,
                )
                .0
            };
            let t = text.trim();
            let bracketed = (t.starts_with('{') && t.ends_with('}'))
                || (t.starts_with('[') && t.ends_with(']'));
            match serde_json::from_str::<Value>(t) {
                Ok(v) if bracketed => v,
                _ => Value::String(text),
            }
        })
        .collect();
    Value::Array(answers).to_string()
}

/// `[agent] w1 w2 …`: its token count is the prefix's plus each word's,
/// because every " word" is its own pre-tokenizer piece; this keeps the
/// tokenizer off the hot path for invented replies.
fn text_reply(
    agent: &str,
    words: u32,
    rng: &mut ChaCha8Rng,
    counter: &TokenCounter,
) -> (String, u64) {
    let vocab_tokens = vocab_tokens();
    let mut text = String::with_capacity(agent.len() + 2 + words as usize * 8);
    text.push('[');
    text.push_str(agent);
    text.push(']');
    let mut tokens = counter.count(&text);
    for _ in 0..words {
        let w = (rng.next_u32() as usize) % VOCAB.len();
        text.push(' ');
        text.push_str(VOCAB[w]);
        tokens += u64::from(vocab_tokens[w]);
    }
    (text, tokens)
}

/// Token count of " word" for each vocabulary word, computed once.
fn vocab_tokens() -> &'static [u32; VOCAB.len()] {
    static COUNTS: std::sync::OnceLock<[u32; VOCAB.len()]> = std::sync::OnceLock::new();
    COUNTS.get_or_init(|| {
        let counter = TokenCounter::global();
        std::array::from_fn(|i| counter.count(&format!(" {}", VOCAB[i])) as u32)
    })
}

/// One subtask of an invented plan (serialised in this field order).
#[derive(Serialize)]
struct Subtask<'a> {
    title: String,
    capability: &'a str,
    description: String,
}

/// An invented plan.
#[derive(Serialize)]
struct Plan<'a> {
    subtasks: Vec<Subtask<'a>>,
}

/// A JSON plan of `size` subtasks, capabilities cycling through the hints.
/// Typed structs rather than `json!`: no maps to build, about 4x faster.
fn plan_reply(req: &ProviderRequest, size: u32) -> String {
    let prompt = req.prompt();
    let topic = first_words(prompt, 6);
    let topic = if topic.is_empty() { "the task" } else { topic };
    let excerpt = first_words(prompt, 24);
    let caps = &req.hints.capabilities;
    let subtasks = (0..size as usize)
        .map(|i| {
            let capability = if caps.is_empty() {
                "general"
            } else {
                caps[i % caps.len()].as_str()
            };
            Subtask {
                title: format!("Part {}: {topic}", i + 1),
                capability,
                description: format!(
                    "Handle part {} of {size} ({capability}) of: {excerpt}",
                    i + 1
                ),
            }
        })
        .collect();
    serde_json::to_string(&Plan { subtasks }).expect("a plan of strings serialises")
}

/// A JSON verdict: rejects the first `reject_first` visits, naming what to add.
fn review_reply(visit: u32, reject_first: u32, rng: &mut ChaCha8Rng) -> String {
    let approved = visit >= reject_first;
    let feedback = if approved {
        "Approved: the answer covers the task.".to_string()
    } else {
        let n = REVIEW_ASKS.len();
        let a = rng.random_range(0..n);
        let b = (a + 1 + rng.random_range(0..n - 1)) % n;
        format!(
            "Revision {} needed: add {} and {}.",
            visit + 1,
            REVIEW_ASKS[a],
            REVIEW_ASKS[b]
        )
    };
    json!({ "approved": approved, "feedback": feedback }).to_string()
}

/// Replaces `{{input}}`, `{{agent}}`, `{{task}}`, `{{visit}}` and
/// `{{attempt}}` in one pass, so placeholders inside the substituted input
/// are left alone. Unknown placeholders stay as written.
fn render_template(template: &str, req: &ProviderRequest) -> String {
    render_parts(
        template,
        req.prompt(),
        &req.agent,
        &req.task,
        req.visit,
        req.attempt,
    )
}

/// [`render_template`] over explicit values (a batch item's own prompt,
/// task and visit).
fn render_parts(
    template: &str,
    prompt: &str,
    agent: &str,
    task: &str,
    visit: u32,
    attempt: u32,
) -> String {
    let mut out = String::with_capacity(template.len() + prompt.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            rest = &rest[open..];
            break;
        };
        match after[..close].trim() {
            "input" => out.push_str(prompt),
            "agent" => out.push_str(agent),
            "task" => out.push_str(task),
            "visit" => write!(out, "{visit}").expect("writing to a String"),
            "attempt" => write!(out, "{attempt}").expect("writing to a String"),
            _ => out.push_str(&rest[open..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// Up to `n` words of `text`, as a slice of it.
fn first_words(text: &str, n: usize) -> &str {
    let text = text.trim_start();
    match text.split_whitespace().nth(n) {
        Some(next) => {
            // `next` is a subslice of `text`: cut just before it.
            let end = next.as_ptr() as usize - text.as_ptr() as usize;
            text[..end].trim_end()
        }
        None => text.trim_end(),
    }
}

/// Keeps the first half of a reply (at a char boundary): JSON becomes
/// invalid, text is cut off mid-way.
/// Drops words from the end until the text is at most `max` tokens.
fn truncate_to_tokens(text: &mut String, max: u64, counter: &TokenCounter) {
    while !text.is_empty() && counter.count(text) > max {
        let cut = text.trim_end().rfind(char::is_whitespace).unwrap_or(0);
        text.truncate(cut);
    }
}

fn cut_in_half(text: &mut String) {
    crate::text::cap_bytes(text, text.len() / 2);
}

/// FNV-1a 64 of the call's identity: stable across runs, versions and
/// machines (unlike `std`'s randomly keyed hasher). 0xff never occurs in
/// UTF-8, so it separates the strings unambiguously.
fn call_seed(seed: u64, agent: &str, task: &str, attempt: u32, visit: u32) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    };
    eat(&seed.to_le_bytes());
    eat(agent.as_bytes());
    eat(&[0xff]);
    eat(task.as_bytes());
    eat(&[0xff]);
    eat(&attempt.to_le_bytes());
    eat(&visit.to_le_bytes());
    h
}

/// Draws a call's latency from its own RNG, so distributions with a
/// variable number of draws (normal) do not shift the reply draws.
fn draw_latency(latency: Option<&SimLatency>, seed: u64) -> Duration {
    let ms = match latency {
        None => 0.0,
        Some(SimLatency::Fixed(ms)) => *ms,
        Some(&SimLatency::Uniform { min, max }) => {
            let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
            if lo < hi && lo.is_finite() && hi.is_finite() {
                ChaCha8Rng::seed_from_u64(seed).random_range(lo..=hi)
            } else {
                lo
            }
        }
        Some(&SimLatency::Normal { mean, stddev }) => match Normal::new(mean, stddev) {
            Ok(normal) if stddev > 0.0 => normal.sample(&mut ChaCha8Rng::seed_from_u64(seed)),
            _ => mean,
        },
    };
    ms_to_duration(ms)
}

/// Milliseconds to a `Duration`, clamped at 0 (NaN counts as 0). Goes
/// through whole nanoseconds so that e.g. 50 ms is exactly 50 ms.
fn ms_to_duration(ms: f64) -> Duration {
    if ms.is_nan() || ms <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_nanos((ms * 1e6).round().min(u64::MAX as f64) as u64)
}

/// Counts a call as in flight while its stream is alive.
struct InFlight(Arc<AtomicU64>);

impl InFlight {
    fn new(counter: &Arc<AtomicU64>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// State of a streamed reply with latency.
struct Replay {
    pieces: std::vec::IntoIter<String>,
    sent: u32,
    total: u32,
    start: Option<Instant>,
    latency: Duration,
    usage: Option<Usage>,
    _guard: InFlight,
}

/// Replays a decided call: without latency, at once; with latency, the
/// reply split into a few deltas whose deadlines divide the latency evenly
/// from the first poll (absolute deadlines, so the total is exact even
/// though tokio timers round each sleep up to a millisecond).
fn into_stream(
    latency: Duration,
    outcome: Outcome,
    guard: InFlight,
) -> BoxStream<'static, Result<ProviderChunk, ProviderError>> {
    match (latency.is_zero(), outcome) {
        (true, Outcome::Reply { text, usage }) => stream::iter([
            Ok(ProviderChunk::Delta(text)),
            Ok(ProviderChunk::Done { usage }),
        ])
        .map(move |chunk| {
            let _alive = &guard;
            chunk
        })
        .boxed(),
        (_, Outcome::Hang) => stream::pending()
            .map(move |chunk: Result<ProviderChunk, ProviderError>| {
                let _alive = &guard;
                chunk
            })
            .boxed(),
        (true, Outcome::Fail(err)) => stream::once(future::ready(Err(err)))
            .map(move |chunk| {
                let _alive = &guard;
                chunk
            })
            .boxed(),
        (false, Outcome::Fail(err)) => stream::once(async move {
            let _alive = guard;
            tokio::time::sleep(latency).await;
            Err(err)
        })
        .boxed(),
        (false, Outcome::Reply { text, usage }) => {
            let pieces = split_pieces(&text, MAX_PIECES);
            let state = Replay {
                total: pieces.len() as u32,
                pieces: pieces.into_iter(),
                sent: 0,
                start: None,
                latency,
                usage: Some(usage),
                _guard: guard,
            };
            stream::unfold(state, |mut s| async move {
                let start = *s.start.get_or_insert_with(Instant::now);
                if let Some(piece) = s.pieces.next() {
                    s.sent += 1;
                    tokio::time::sleep_until(start + s.latency * s.sent / s.total).await;
                    return Some((Ok(ProviderChunk::Delta(piece)), s));
                }
                let usage = s.usage.take()?;
                Some((Ok(ProviderChunk::Done { usage }), s))
            })
            .boxed()
        }
    }
}

/// Splits a text into at most `max` pieces of similar size, each cut just
/// after a space; the pieces concatenate back to the text. Never empty.
fn split_pieces(text: &str, max: usize) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::with_capacity(max);
    let mut from = 0;
    for k in 1..max {
        let target = (text.len() * k / max).max(from);
        // A space byte is never inside a multi-byte char, so cutting after
        // one is a char boundary.
        let Some(pos) = bytes[target..].iter().position(|&b| b == b' ') else {
            break;
        };
        let cut = target + pos + 1;
        if cut >= text.len() {
            break;
        }
        pieces.push(text[from..cut].to_string());
        from = cut;
    }
    pieces.push(text[from..].to_string());
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Completion, Message, RequestHints, complete};

    fn req(agent: &str, task: &str, attempt: u32, visit: u32) -> ProviderRequest {
        ProviderRequest {
            agent: agent.into(),
            role: "worker".into(),
            model: "sim".into(),
            task: task.into(),
            attempt,
            visit,
            messages: vec![
                Message::system("You are helpful."),
                Message::user("Write a short report on solar panels"),
            ],
            max_tokens: None,
            temperature: None,
            hints: RequestHints::default(),
            input: serde_json::Value::Null,
        }
    }

    fn with_expect(mut r: ProviderRequest, expect: Expect) -> ProviderRequest {
        r.hints.expect = expect;
        r
    }

    fn provider(seed: u64, agent: &str, script: SimScript) -> SimProvider {
        SimProvider::new(seed, HashMap::from([(agent.to_string(), script)]))
    }

    async fn run(p: &SimProvider, r: ProviderRequest) -> Result<Completion, ProviderError> {
        complete(p, r).await
    }

    #[tokio::test]
    async fn same_seed_same_results() {
        let script = SimScript {
            error_rate: 0.3,
            timeout_rate: 0.1,
            malformed_rate: 0.2,
            ..Default::default()
        };
        let a = provider(42, "w", script.clone());
        let b = provider(42, "w", script);
        for task in 0..50 {
            for attempt in 1..3 {
                let r = req("w", &format!("t{task}"), attempt, 0);
                assert_eq!(run(&a, r.clone()).await, run(&b, r).await);
            }
        }
        // Order does not matter: replay backwards on a fresh provider.
        let c = provider(
            42,
            "w",
            SimScript {
                error_rate: 0.3,
                timeout_rate: 0.1,
                malformed_rate: 0.2,
                ..Default::default()
            },
        );
        for task in (0..50).rev() {
            let r = req("w", &format!("t{task}"), 1, 0);
            assert_eq!(run(&c, r.clone()).await, run(&a, r).await);
        }
    }

    /// Pins one call's outcome: a change here changes every recorded run
    /// and every seed-based test of the engine, so it must be deliberate.
    #[tokio::test]
    async fn golden_reply() {
        let c = run(
            &provider(42, "writer", SimScript::default()),
            req("writer", "t1", 1, 0),
        )
        .await
        .unwrap();
        assert_eq!(
            c.text,
            "[writer] agent batch task request metric claim response change summary context memory token"
        );
        assert_eq!(
            c.usage,
            Usage {
                prompt_tokens: 22,
                completion_tokens: 15,
                estimated: false
            }
        );
    }

    #[tokio::test]
    async fn inputs_change_the_reply() {
        let p = provider(7, "w", SimScript::default());
        let base = run(&p, req("w", "t1", 1, 0)).await.unwrap().text;
        assert_ne!(
            base,
            run(&p, req("w", "t1", 2, 0)).await.unwrap().text,
            "attempt"
        );
        assert_ne!(
            base,
            run(&p, req("w", "t2", 1, 0)).await.unwrap().text,
            "task"
        );
        let other_seed = provider(8, "w", SimScript::default());
        assert_ne!(
            base,
            run(&other_seed, req("w", "t1", 1, 0)).await.unwrap().text,
            "seed"
        );
    }

    #[tokio::test]
    async fn invented_text_reply_and_exact_usage() {
        let p = provider(
            1,
            "writer",
            SimScript {
                reply_words: Some(20),
                ..Default::default()
            },
        );
        let r = req("writer", "t", 1, 0);
        let expected_prompt = TokenCounter::global().count_messages(&r.messages);
        let c = run(&p, r).await.unwrap();
        assert!(c.text.starts_with("[writer] "), "{}", c.text);
        assert_eq!(c.text.split(' ').count(), 21);
        assert_eq!(c.usage.prompt_tokens, expected_prompt);
        assert_eq!(
            c.usage.completion_tokens,
            TokenCounter::new().count(&c.text)
        );
        assert!(!c.usage.estimated);
        // The default length is 12 words.
        let d = run(&provider(1, "x", SimScript::default()), req("x", "t", 1, 0))
            .await
            .unwrap();
        assert_eq!(d.text.split(' ').count(), 13);
    }

    #[test]
    fn summed_word_counts_match_the_tokenizer() {
        let fresh = TokenCounter::new();
        for (i, agent) in [
            "writer", "agent-2", "a_b", "Critic", "x9", "résumé", "ops.bot",
        ]
        .iter()
        .enumerate()
        {
            for n in [0, 1, 5, 40] {
                let mut rng = ChaCha8Rng::seed_from_u64(i as u64 * 100 + n as u64);
                let (text, tokens) = text_reply(agent, n, &mut rng, TokenCounter::global());
                assert_eq!(tokens, fresh.count(&text), "{text:?}");
            }
        }
    }

    #[tokio::test]
    async fn replies_by_visit_with_sticky_last() {
        let script = SimScript {
            replies: vec![json!("first"), json!({"k": [1, 2]}), json!("last")],
            ..Default::default()
        };
        let p = provider(3, "w", script);
        let texts: Vec<String> =
            futures::future::join_all((0..5).map(|v| run(&p, req("w", "t", 1, v))))
                .await
                .into_iter()
                .map(|c| c.unwrap().text)
                .collect();
        assert_eq!(texts, ["first", r#"{"k":[1,2]}"#, "last", "last", "last"]);
        // Replies win over the expected shape.
        let plan = run(&p, with_expect(req("w", "t", 1, 0), Expect::Plan))
            .await
            .unwrap();
        assert_eq!(plan.text, "first");
    }

    #[tokio::test]
    async fn template_substitution() {
        let script = SimScript {
            template: Some(
                "{{agent}} on {{task}} (v{{visit}}, a{{ attempt }}): {{input}} {{unknown}} {{"
                    .into(),
            ),
            ..Default::default()
        };
        let p = provider(3, "w", script);
        let mut r = req("w", "task-9", 2, 4);
        r.messages.push(Message::user("echo {{agent}}"));
        let c = run(&p, r).await.unwrap();
        assert_eq!(
            c.text,
            "w on task-9 (v4, a2): echo {{agent}} {{unknown}} {{"
        );
    }

    #[tokio::test]
    async fn fail_first_is_exact() {
        let p = provider(
            5,
            "w",
            SimScript {
                fail_first: 2,
                ..Default::default()
            },
        );
        for attempt in 1..=2 {
            let err = run(&p, req("w", "t", attempt, 0)).await.unwrap_err();
            assert_eq!(err.kind, ErrorKind::Server);
            assert_eq!(err.message, "sim: injected server error");
        }
        assert!(run(&p, req("w", "t", 3, 0)).await.is_ok());
        assert!(run(&p, req("w", "other", 3, 0)).await.is_ok());
    }

    async fn error_count(seed: u64, calls: u32) -> (u32, u32, Vec<bool>) {
        let p = provider(
            seed,
            "w",
            SimScript {
                error_rate: 0.2,
                timeout_rate: 0.1,
                ..Default::default()
            },
        );
        let (mut server, mut timeout, mut pattern) = (0, 0, Vec::new());
        for i in 0..calls {
            let res = run(&p, req("w", &format!("t{i}"), 1, 0)).await;
            pattern.push(res.is_ok());
            match res {
                Err(e) if e.kind == ErrorKind::Server => server += 1,
                Err(e) if e.kind == ErrorKind::Timeout => timeout += 1,
                Err(e) => panic!("unexpected {e}"),
                Ok(_) => {}
            }
        }
        (server, timeout, pattern)
    }

    #[tokio::test]
    async fn error_rates_are_accurate_and_reproducible() {
        let (server, timeout, pattern) = error_count(11, 2000).await;
        // 2000 draws at p = 0.2: sd ≈ 18, so ±80 is over 4 sd. Timeouts are
        // drawn only when no server error was: p = 0.8 × 0.1 = 0.08, sd ≈ 12.
        assert!((320..=480).contains(&server), "server errors: {server}");
        assert!((110..=210).contains(&timeout), "timeouts: {timeout}");
        let again = error_count(11, 2000).await;
        assert_eq!((server, timeout, pattern.clone()), again);
        assert_ne!(
            pattern,
            error_count(12, 2000).await.2,
            "another seed gives other faults"
        );
    }

    #[tokio::test]
    async fn a_batch_call_answers_every_item_in_order_deterministically() {
        let items = |n: u32| crate::llm::BatchHint {
            items: (0..n)
                .map(|i| crate::llm::BatchItem {
                    task: format!("m[{i}]/w").into(),
                    prompt: format!("item {i}"),
                    visit: i,
                })
                .collect(),
        };
        let batch_req = |n: u32| {
            let mut r = req("w", "m[0-2]/w", 1, 0);
            r.hints.batch = Some(Box::new(items(n)));
            r
        };
        let templ = provider(
            3,
            "w",
            SimScript {
                template: Some("did {{input}} ({{task}}, visit {{visit}})".into()),
                ..Default::default()
            },
        );
        let out = run(&templ, batch_req(3)).await.unwrap().text;
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            json!([
                "did item 0 (m[0]/w, visit 0)",
                "did item 1 (m[1]/w, visit 1)",
                "did item 2 (m[2]/w, visit 2)"
            ])
        );
        // Scripted replies by visit (JSON ones embedded as values), and
        // invented ones: the same seed gives the same array.
        let scripted = provider(
            3,
            "w",
            SimScript {
                replies: vec![json!({"n": 0}), json!("second")],
                ..Default::default()
            },
        );
        let v: Value =
            serde_json::from_str(&run(&scripted, batch_req(3)).await.unwrap().text).unwrap();
        assert_eq!(v, json!([{"n": 0}, "second", "second"]));
        let a = run(&provider(3, "w", SimScript::default()), batch_req(4))
            .await
            .unwrap();
        let b = run(&provider(3, "w", SimScript::default()), batch_req(4))
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(
            serde_json::from_str::<Vec<String>>(&a.text).unwrap().len(),
            4
        );
        // Malformed output cuts the array: it no longer parses.
        let bad = provider(
            3,
            "w",
            SimScript {
                malformed_first: 1,
                ..Default::default()
            },
        );
        let cut = run(&bad, batch_req(4)).await.unwrap().text;
        assert!(serde_json::from_str::<Value>(&cut).is_err(), "{cut}");
    }

    #[tokio::test]
    async fn malformed_replies_are_cut_in_half() {
        let good = provider(9, "p", SimScript::default());
        let bad = provider(
            9,
            "p",
            SimScript {
                malformed_first: 1,
                ..Default::default()
            },
        );
        let r = with_expect(req("p", "t", 1, 0), Expect::Plan);
        let full = run(&good, r.clone()).await.unwrap().text;
        let cut = run(&bad, r).await.unwrap();
        assert!(serde_json::from_str::<Value>(&full).is_ok());
        assert_eq!(cut.text, full[..full.len() / 2]);
        assert!(serde_json::from_str::<Value>(&cut.text).is_err());
        assert_eq!(
            cut.usage.completion_tokens,
            TokenCounter::global().count(&cut.text)
        );
        // The second attempt is whole again.
        let ok = run(&bad, with_expect(req("p", "t", 2, 0), Expect::Plan))
            .await
            .unwrap();
        assert!(serde_json::from_str::<Value>(&ok.text).is_ok());
        // Rate-based: about half of 400 replies.
        let p = provider(
            9,
            "w",
            SimScript {
                malformed_rate: 0.5,
                reply_words: Some(10),
                ..Default::default()
            },
        );
        let mut short = 0;
        for i in 0..400 {
            if run(&p, req("w", &format!("t{i}"), 1, 0))
                .await
                .unwrap()
                .text
                .split(' ')
                .count()
                < 11
            {
                short += 1;
            }
        }
        assert!((150..=250).contains(&short), "{short}");
    }

    #[tokio::test]
    async fn plan_uses_capabilities_and_size() {
        let p = provider(
            1,
            "planner",
            SimScript {
                plan_size: Some(5),
                ..Default::default()
            },
        );
        let mut r = with_expect(req("planner", "t", 1, 0), Expect::Plan);
        r.hints.capabilities = vec!["research".into(), "code".into()];
        let c = run(&p, r).await.unwrap();
        let v: Value = serde_json::from_str(&c.text).unwrap();
        let subtasks = v["subtasks"].as_array().unwrap();
        assert_eq!(subtasks.len(), 5);
        let caps: Vec<&str> = subtasks
            .iter()
            .map(|s| s["capability"].as_str().unwrap())
            .collect();
        assert_eq!(caps, ["research", "code", "research", "code", "research"]);
        assert_eq!(
            subtasks[1]["title"],
            "Part 2: Write a short report on solar"
        );
        assert!(
            subtasks[0]["description"]
                .as_str()
                .unwrap()
                .contains("solar panels")
        );
        // Defaults: three subtasks, capability "general".
        let d = run(
            &provider(1, "x", SimScript::default()),
            with_expect(req("x", "t", 1, 0), Expect::Plan),
        )
        .await
        .unwrap();
        let v: Value = serde_json::from_str(&d.text).unwrap();
        let subtasks = v["subtasks"].as_array().unwrap();
        assert_eq!(subtasks.len(), 3);
        assert!(subtasks.iter().all(|s| s["capability"] == "general"));
    }

    #[tokio::test]
    async fn review_rejects_first_visits() {
        let p = provider(
            1,
            "rev",
            SimScript {
                reject_first: 2,
                ..Default::default()
            },
        );
        for visit in 0..4 {
            let c = run(&p, with_expect(req("rev", "t", 1, visit), Expect::Review))
                .await
                .unwrap();
            let v: Value = serde_json::from_str(&c.text).unwrap();
            assert_eq!(v["approved"], visit >= 2, "visit {visit}");
            let feedback = v["feedback"].as_str().unwrap();
            if visit < 2 {
                assert!(feedback.contains("add "), "{feedback}");
                assert!(
                    REVIEW_ASKS.iter().any(|a| feedback.contains(a)),
                    "{feedback}"
                );
            }
        }
    }

    #[tokio::test]
    async fn label_choice() {
        let labels: Vec<String> = ["bug", "feature", "question"].map(String::from).into();
        let mut r = with_expect(req("c", "t", 1, 0), Expect::Label);
        r.hints.labels = labels.clone();
        // Scripted label wins, even when not offered.
        let fixed = provider(
            1,
            "c",
            SimScript {
                label: Some("urgent".into()),
                ..Default::default()
            },
        );
        assert_eq!(run(&fixed, r.clone()).await.unwrap().text, "urgent");
        // Else one of the labels, all of them over enough tasks.
        let p = provider(1, "c", SimScript::default());
        let mut seen = std::collections::HashSet::new();
        for i in 0..60 {
            let mut ri = r.clone();
            ri.task = format!("t{i}").into();
            let text = run(&p, ri).await.unwrap().text;
            assert!(labels.contains(&text), "{text}");
            seen.insert(text);
        }
        assert_eq!(seen.len(), 3);
        // No labels: "none".
        let mut none = r;
        none.hints.labels.clear();
        assert_eq!(run(&p, none).await.unwrap().text, "none");
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_latency_is_exact_and_streamed() {
        let p = provider(
            1,
            "w",
            SimScript {
                latency_ms: Some(SimLatency::Fixed(50.0)),
                ..Default::default()
            },
        );
        let start = Instant::now();
        let mut s = p.stream(req("w", "t", 1, 0));
        let mut deltas = Vec::new();
        let mut done = None;
        while let Some(chunk) = s.next().await {
            match chunk.unwrap() {
                ProviderChunk::Delta(d) => {
                    assert!(done.is_none(), "delta after done");
                    deltas.push(d);
                }
                ProviderChunk::Done { usage } => done = Some(usage),
                ProviderChunk::ToolCalls(c) => panic!("unscripted tool calls {c:?}"),
                ProviderChunk::Adapted(a) => panic!("the sim never adapts: {a:?}"),
            }
        }
        assert_eq!(start.elapsed(), Duration::from_millis(50));
        assert_eq!(deltas.len(), MAX_PIECES);
        let text = deltas.concat();
        assert_eq!(
            done.unwrap().completion_tokens,
            TokenCounter::global().count(&text)
        );
        // The same call without latency gives the same text in one delta.
        let q = provider(1, "w", SimScript::default());
        let mut s = q.stream(req("w", "t", 1, 0));
        assert_eq!(s.next().await.unwrap().unwrap(), ProviderChunk::Delta(text));
        assert!(matches!(
            s.next().await.unwrap().unwrap(),
            ProviderChunk::Done { .. }
        ));
        assert!(s.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn errors_arrive_after_the_latency() {
        let p = provider(
            1,
            "w",
            SimScript {
                latency_ms: Some(SimLatency::Fixed(30.0)),
                fail_first: 1,
                ..Default::default()
            },
        );
        let start = Instant::now();
        assert!(run(&p, req("w", "t", 1, 0)).await.is_err());
        assert_eq!(start.elapsed(), Duration::from_millis(30));
    }

    #[tokio::test(start_paused = true)]
    async fn uniform_and_normal_latency_stay_in_bounds() {
        let p = SimProvider::new(
            4,
            HashMap::from([
                (
                    "u".to_string(),
                    SimScript {
                        latency_ms: Some(SimLatency::Uniform {
                            min: 10.0,
                            max: 40.0,
                        }),
                        ..Default::default()
                    },
                ),
                (
                    "n".to_string(),
                    SimScript {
                        latency_ms: Some(SimLatency::Normal {
                            mean: 5.0,
                            stddev: 20.0,
                        }),
                        ..Default::default()
                    },
                ),
            ]),
        );
        let mut uniform = Vec::new();
        for i in 0..200 {
            let start = Instant::now();
            run(&p, req("u", &format!("t{i}"), 1, 0)).await.unwrap();
            let ms = start.elapsed().as_secs_f64() * 1e3;
            // Tokio timers tick in whole milliseconds, so allow rounding up.
            assert!((10.0..=41.0).contains(&ms), "{ms}");
            uniform.push(ms);
        }
        let mean = uniform.iter().sum::<f64>() / uniform.len() as f64;
        assert!((20.0..=31.0).contains(&mean), "mean {mean}");
        // Normal(5, 20) is clamped at 0: many calls take no time at all.
        let mut zero = 0;
        for i in 0..200 {
            let start = Instant::now();
            run(&p, req("n", &format!("t{i}"), 1, 0)).await.unwrap();
            if start.elapsed().is_zero() {
                zero += 1;
            }
        }
        assert!((60..=140).contains(&zero), "{zero}");
    }

    #[tokio::test(start_paused = true)]
    async fn latency_does_not_change_replies_or_faults() {
        let fast = provider(
            21,
            "w",
            SimScript {
                error_rate: 0.3,
                ..Default::default()
            },
        );
        let slow = provider(
            21,
            "w",
            SimScript {
                error_rate: 0.3,
                latency_ms: Some(SimLatency::Normal {
                    mean: 20.0,
                    stddev: 5.0,
                }),
                ..Default::default()
            },
        );
        for i in 0..40 {
            let r = req("w", &format!("t{i}"), 1, 0);
            assert_eq!(run(&fast, r.clone()).await, run(&slow, r).await);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_stream_stops_the_call() {
        let p = provider(
            1,
            "w",
            SimScript {
                latency_ms: Some(SimLatency::Fixed(100.0)),
                ..Default::default()
            },
        );
        let start = Instant::now();
        let mut s = p.stream(req("w", "t", 1, 0));
        assert_eq!(p.in_flight(), 1);
        assert!(matches!(s.next().await, Some(Ok(ProviderChunk::Delta(_)))));
        assert_eq!(start.elapsed(), Duration::from_millis(25));
        drop(s);
        assert_eq!(p.in_flight(), 0);
        // A finished call is no longer in flight either, even before the
        // stream is dropped.
        let mut s = p.stream(req("w", "t", 1, 0));
        while s.next().await.is_some() {}
        assert_eq!(p.in_flight(), 0);
        // Nor a zero-latency one, once dropped.
        let q = provider(1, "w", SimScript::default());
        let s = q.stream(req("w", "t", 1, 0));
        assert_eq!(q.in_flight(), 1);
        drop(s);
        assert_eq!(q.in_flight(), 0);
    }

    #[tokio::test]
    async fn calls_are_counted() {
        let p = provider(
            1,
            "w",
            SimScript {
                fail_first: 1,
                ..Default::default()
            },
        );
        assert_eq!(p.calls(), 0);
        let _ = run(&p, req("w", "t", 1, 0)).await;
        let _ = run(&p, req("w", "t", 2, 0)).await;
        let _ = run(&p, req("stranger", "t", 1, 0)).await;
        drop(p.stream(req("stranger", "t", 1, 0))); // started, never polled
        assert_eq!(p.calls(), 4);
        assert_eq!(p.calls_for("w"), 2);
        assert_eq!(p.calls_for("stranger"), 2);
        assert_eq!(p.calls_for("nobody"), 0);
        assert_eq!(p.name(), "sim");
    }

    #[test]
    fn pieces_concatenate_back() {
        for text in [
            "",
            "one",
            "a b",
            "[w] alpha beta gamma delta epsilon zeta",
            "{\"k\": \"v w x\"}",
            "é è ê ë ü ö",
        ] {
            let pieces = split_pieces(text, MAX_PIECES);
            assert!(!pieces.is_empty() && pieces.len() <= MAX_PIECES);
            assert_eq!(pieces.concat(), text);
        }
        assert_eq!(
            split_pieces("[w] alpha beta gamma delta epsilon zeta", 4).len(),
            4
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(first_words("  one two  three four ", 2), "one two");
        assert_eq!(first_words("one two", 5), "one two");
        let mut s = "héé".to_string();
        cut_in_half(&mut s);
        assert_eq!(s, "h");
        assert_eq!(ms_to_duration(-3.0), Duration::ZERO);
        assert_eq!(ms_to_duration(f64::NAN), Duration::ZERO);
        assert_eq!(ms_to_duration(1.5), Duration::from_micros(1500));
        // The seed hash is pinned: changing it would change every recorded run.
        assert_eq!(
            call_seed(42, "writer", "t1", 1, 0),
            15_355_903_464_619_666_290
        );
        assert_ne!(call_seed(0, "ab", "c", 1, 0), call_seed(0, "a", "bc", 1, 0));
        assert_ne!(call_seed(0, "a", "b", 1, 0), call_seed(0, "a", "b", 1, 1));
    }
}
