//! Code agents under the engine's policies (issue #8): a Rust agent and a
//! command agent run in one workflow next to sim agents, and retries,
//! timeouts, budgets, pause and reroute apply to them as to models.
//!
//! The command agent is a real process, so these tests use the real clock
//! (a paused clock would fire the process's timers while it works); every
//! delay is a few hundred milliseconds at most.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentctl::agent::{Agent, AgentContext, AgentError, AgentOutput, AgentTask};
use agentctl::engine::{Orchestrator, RunOptions, RunOutcome};
use agentctl::event::{Command, ErrorKind, Event, EventKind, Id, RunStatus, TaskState, Usage};
use agentctl::workflow::load::{Format, load_str};
use agentctl::workflow::model::Workflow;
use serde_json::{Value, json};

/// The command agent: exits 75 (retryable) on attempt 1 when MODE=flaky,
/// hangs on attempt 1 when MODE=slow, takes a moment when MODE=pause;
/// reports 30 + 10 tokens.
const SHOUT_SH: &str = r#"#!/bin/sh
req=$(cat)
# The request's own "attempt" comes first (keys are sorted); the input may
# hold another.
attempt=$(printf '%s' "$req" | grep -o '"attempt":[0-9]*' | head -n 1 | cut -d: -f2)
echo "attempt $attempt in mode $MODE" >&2
case "$MODE" in
  flaky) if [ "$attempt" = 1 ]; then echo "upstream hiccup" >&2; exit 75; fi ;;
  slow) if [ "$attempt" = 1 ]; then sleep 10; fi ;;
  pause) sleep 0.4 ;;
esac
printf '{"output": {"shouted": true, "attempt": %s}, "usage": {"prompt_tokens": 30, "completion_tokens": 10}}\n' "$attempt"
"#;

/// writer (sim) → enrich (Rust) → shout (command) → summarise (sim).
fn workflow(
    dir: &Path,
    mode: &str,
    extra_enrich: &str,
    extra_shout: &str,
    head: &str,
    enrich_node: &str,
) -> Arc<Workflow> {
    std::fs::write(dir.join("shout.sh"), SHOUT_SH).unwrap();
    let text = format!(
        r#"
[workflow]
name = "policies"
input = "code agents obey policies"
{head}

[[agents]]
id = "writer"
max_tokens = 50
sim = {{ template = "draft of {{{{input}}}}", latency_ms = 1 }}

[[agents]]
id = "enricher"
kind = "custom"
max_tokens = 50
{extra_enrich}

[[agents]]
id = "backup"
kind = "custom"

[[agents]]
id = "shouter"
kind = "command"
max_tokens = 50
command = {{ run = ["sh", "shout.sh"], inherit_env = ["PATH"], env = {{ MODE = "{mode}" }}, timeout_ms = 20000 }}
{extra_shout}

[[agents]]
id = "summariser"
sim = {{ template = "summary", latency_ms = 1 }}

[[nodes]]
id = "main"
kind = "sequence"
steps = ["draft", "enrich", "shout", "summarise"]

[[nodes]]
id = "draft"
kind = "agent"
agent = "writer"

[[nodes]]
id = "enrich"
kind = "agent"
agent = "enricher"
{enrich_node}

[[nodes]]
id = "shout"
kind = "agent"
agent = "shouter"

[[nodes]]
id = "summarise"
kind = "agent"
agent = "summariser"
"#
    );
    let origin = dir.join("policies.toml");
    match load_str(&text, origin.to_str().unwrap(), Format::Toml) {
        Ok(l) => Arc::new(l.workflow),
        Err(d) => panic!("invalid test workflow:\n{d}"),
    }
}

/// Tokens of every provider reply, or of `task`'s replies.
fn reply_tokens(events: &[Event], task: Option<&str>) -> u64 {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LlmResponse { task: t, usage, .. } if task.is_none_or(|x| x == &**t) => {
                Some(usage.total())
            }
            _ => None,
        })
        .sum()
}

/// The last `used_tokens` the ledger reported for `scope`.
fn last_used(events: &[Event], scope: &str) -> Option<u64> {
    events.iter().rev().find_map(|e| match &e.kind {
        EventKind::BudgetUpdated {
            scope: s,
            used_tokens,
            ..
        } if s == scope => Some(*used_tokens),
        _ => None,
    })
}

/// How the Rust agent misbehaves.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Fails (retryably) on attempt 1.
    Flaky,
    /// Hangs on attempt 1 (until cancelled).
    Slow,
    /// Works for a while on every attempt (so commands can land mid-call).
    Busy,
    /// Answers at once.
    Quick,
}

/// A Rust agent that reads the draft from the shared context, reports the
/// tokens of a (pretend) model call it made, and records what it saw.
struct Enricher {
    mode: Mode,
    calls: Arc<AtomicU32>,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Enricher {
    fn new(mode: Mode) -> Self {
        Enricher {
            mode,
            calls: Arc::default(),
            seen: Arc::default(),
        }
    }
}

impl Agent for Enricher {
    async fn process(&self, task: AgentTask, ctx: AgentContext) -> Result<AgentOutput, AgentError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let budget = ctx.budget();
        self.seen.lock().unwrap().push(json!({
            "attempt": task.attempt,
            "draft": ctx.context().artifact("draft"),
            "run_used": budget.run.map(|b| b.used_tokens),
            "run_limit": budget.run.and_then(|b| b.limit_tokens),
            "remaining": budget.remaining_tokens(),
        }));
        // Spent even if this attempt then fails: it counts either way.
        ctx.report_usage(Usage {
            prompt_tokens: 100,
            completion_tokens: 20,
            estimated: false,
        });
        let wait = match (self.mode, task.attempt) {
            (Mode::Flaky, 1) => return Err(AgentError::retryable("the index is rebuilding")),
            (Mode::Slow, 1) => Duration::from_secs(10),
            (Mode::Busy, _) => Duration::from_millis(400),
            _ => Duration::ZERO,
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = ctx.cancellation().cancelled() => return Err(AgentError::retryable("cancelled")),
        }
        ctx.context()
            .put_artifact("enriched_by", json!(&*ctx.agent().clone()));
        Ok(AgentOutput {
            value: json!({"enriched": task.input, "attempt": task.attempt}),
            usage: Some(Usage {
                prompt_tokens: 0,
                completion_tokens: 5,
                estimated: false,
            }),
        })
    }
}

async fn run_with(
    w: Arc<Workflow>,
    enricher: Enricher,
    steer: impl AsyncFnOnce(
        &agentctl::engine::RunHandle,
        &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
        &mut Vec<Event>,
    ),
) -> (RunOutcome, Vec<Event>) {
    let mut orch = Orchestrator::new(w, RunOptions::default());
    orch.register("enricher", enricher);
    orch.register("backup", Enricher::new(Mode::Quick));
    let mut rx = orch.subscribe();
    let h = orch.start().expect("start");
    let mut seen = Vec::new();
    steer(&h, &mut rx, &mut seen).await;
    let out = tokio::time::timeout(Duration::from_secs(30), h.wait())
        .await
        .expect("the run ended");
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    (out, seen)
}

/// `(task, attempt)` of every assignment of `task`.
fn attempts(events: &[Event], task: &str) -> Vec<(String, u32)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskAssigned {
                task: t,
                agent,
                attempt,
            } if &**t == task => Some((agent.to_string(), *attempt)),
            _ => None,
        })
        .collect()
}

fn retries(events: &[Event], task: &str) -> Vec<(ErrorKind, u32)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::RetryScheduled {
                task: t,
                kind,
                attempt,
                ..
            } if &**t == task => Some((*kind, *attempt)),
            _ => None,
        })
        .collect()
}

fn responses(events: &[Event], agent: &str) -> Vec<Usage> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LlmResponse {
                agent: a, usage, ..
            } if &**a == agent => Some(*usage),
            _ => None,
        })
        .collect()
}

const RETRY: &str = "retry = { max_attempts = 3, base_ms = 20, jitter = false }";

#[tokio::test]
async fn a_retryable_failure_is_retried_for_rust_and_command_agents() {
    let dir = tempfile::tempdir().unwrap();
    let w = workflow(dir.path(), "flaky", RETRY, RETRY, "", "");
    let enricher = Enricher::new(Mode::Flaky);
    let seen = enricher.seen.clone();
    let (out, events) = run_with(w, enricher, async |_, _, _| {}).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    for (task, agent) in [("enrich", "enricher"), ("shout", "shouter")] {
        assert_eq!(
            attempts(&events, task),
            [(agent.to_string(), 1), (agent.to_string(), 2)],
            "{task}"
        );
        assert_eq!(retries(&events, task), [(ErrorKind::Server, 1)], "{task}");
    }
    // The command's stderr reached the bus; its failure said what it said.
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::Bus { message } if message.topic.contains("shouter.log"))));
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::LlmError { agent, error, .. } if &**agent == "shouter" && error.contains("upstream hiccup"))));
    // The Rust agent read the sim writer's output from the shared context.
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0]["draft"],
        json!("draft of code agents obey policies")
    );
    // The usage the failed attempt reported before failing counts too: the
    // run's total is every reply plus those 120 tokens.
    let replies = reply_tokens(&events, None);
    assert_eq!(out.usage.total(), replies + 120);
    assert_eq!(
        responses(&events, "enricher"),
        [Usage {
            prompt_tokens: 100,
            completion_tokens: 25,
            estimated: false
        }]
    );
    let out_text = out.output.unwrap();
    assert_eq!(out_text, json!("summary"));
}

#[tokio::test]
async fn a_call_timeout_cuts_the_attempt_and_the_retry_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let policy = format!("{RETRY}\ntimeout_ms = 300");
    let head = "\n[budget]\ntokens = 100000";
    let node_budget = "budget = { tokens = 50000 }";
    let w = workflow(dir.path(), "slow", &policy, &policy, head, node_budget);
    let enricher = Enricher::new(Mode::Slow);
    let calls = enricher.calls.clone();
    let started = std::time::Instant::now();
    let (out, events) = run_with(w, enricher, async |_, _, _| {}).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    for (task, agent) in [("enrich", "enricher"), ("shout", "shouter")] {
        assert_eq!(
            attempts(&events, task),
            [(agent.to_string(), 1), (agent.to_string(), 2)],
            "{task}"
        );
        assert_eq!(retries(&events, task), [(ErrorKind::Timeout, 1)], "{task}");
        assert!(events.iter().any(|e| matches!(&e.kind,
            EventKind::LlmError { task: t, kind: ErrorKind::Timeout, error, .. }
                if &**t == task && error.contains("300 ms"))));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The Rust agent reported 100+20 tokens before its first attempt was
    // cut: they are charged to the run and its budget, on top of every reply.
    let replies = reply_tokens(&events, None);
    assert_eq!(out.usage.total(), replies + 120);
    let last_run_used = last_used(&events, "run");
    assert_eq!(last_run_used, Some(out.usage.total()));
    // And to the budget of the task's node.
    let enrich_replies = reply_tokens(&events, Some("enrich"));
    let last_node_used = last_used(&events, "node:enrich");
    assert_eq!(last_node_used, Some(enrich_replies + 120));
    // Neither hung attempt was waited out (10 s each).
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn a_hard_budget_stops_code_agents_and_counts_what_they_report_exactly() {
    let dir = tempfile::tempdir().unwrap();
    // Enough for the writer, the Rust agent and the command agent, not for
    // the summariser's reservation on top.
    let head = "\n[budget]\ntokens = 700\non_exhausted = \"fail\"";
    let w = workflow(dir.path(), "steady", "", "", head, "");
    let w = {
        // The summariser books 600 tokens of reply: over what is left.
        let mut w = (*w).clone();
        let s = w.agent("summariser").unwrap();
        w.agents[s].max_tokens = Some(600);
        Arc::new(w)
    };
    let enricher = Enricher::new(Mode::Quick);
    let seen = enricher.seen.clone();
    let (out, events) = run_with(w, enricher, async |_, _, _| {}).await;
    assert_eq!(out.status, RunStatus::Failed, "{:?}", out.error);
    // Exactly what each code agent reported: 100+20 along the way plus 0+5
    // returned; 30+10 from the command's reply.
    assert_eq!(
        responses(&events, "enricher"),
        [Usage {
            prompt_tokens: 100,
            completion_tokens: 25,
            estimated: false
        }]
    );
    assert_eq!(
        responses(&events, "shouter"),
        [Usage {
            prompt_tokens: 30,
            completion_tokens: 10,
            estimated: false
        }]
    );
    let writer: u64 = responses(&events, "writer").iter().map(Usage::total).sum();
    // The ledger's last word equals the sum of every call, to the token.
    let last_run_used = last_used(&events, "run");
    assert_eq!(last_run_used, Some(writer + 125 + 40));
    assert_eq!(out.usage.total(), writer + 125 + 40);
    // The Rust agent saw the budget as it stood when it was called.
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0]["run_limit"], json!(700));
    assert_eq!(seen[0]["run_used"], json!(writer));
    let remaining = seen[0]["remaining"].as_u64().unwrap();
    assert!(
        remaining < 700 - writer,
        "its own booking counts: {remaining}"
    );
    // The hard limit refused the next call before it was made.
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::BudgetExhausted { task, scope, .. } if &**task == "summarise" && scope == "run")));
    assert!(responses(&events, "summariser").is_empty());
}

#[tokio::test]
async fn a_code_agent_refused_by_its_own_budget_is_never_called() {
    for (task, agent) in [("enrich", "enricher"), ("shout", "shouter")] {
        let dir = tempfile::tempdir().unwrap();
        // The agent's own budget is smaller than one call's booking.
        let tiny = "budget = { tokens = 20 }";
        let (e, c) = if agent == "enricher" {
            (tiny, "")
        } else {
            ("", tiny)
        };
        let w = workflow(
            dir.path(),
            "steady",
            e,
            c,
            "\n[budget]\ntokens = 100000\non_exhausted = \"fail\"",
            "",
        );
        let enricher = Enricher::new(Mode::Quick);
        let calls = enricher.calls.clone();
        let (out, events) = run_with(w, enricher, async |_, _, _| {}).await;
        assert_eq!(out.status, RunStatus::Failed, "{agent}");
        let scope = format!("agent:{agent}");
        assert!(
            events.iter().any(|e| matches!(&e.kind,
                EventKind::BudgetExhausted { task: t, scope: s, .. } if &**t == task && *s == scope)),
            "{agent}"
        );
        // Refused before the call: no request, and the code never ran (the
        // Rust agent counts its calls; the program would log on the bus).
        assert!(!events.iter().any(|e| matches!(&e.kind,
            EventKind::LlmRequest { agent: a, .. } if &**a == agent)));
        if agent == "enricher" {
            assert_eq!(calls.load(Ordering::SeqCst), 0);
        } else {
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            assert!(!events.iter().any(|e| matches!(&e.kind,
                EventKind::Bus { message } if message.topic.contains("shouter.log"))));
        }
    }
}

#[tokio::test]
async fn pause_and_reroute_apply_to_rust_and_command_agents() {
    let dir = tempfile::tempdir().unwrap();
    let w = workflow(dir.path(), "pause", "", "", "", "");
    let enricher = Enricher::new(Mode::Busy);
    let calls = enricher.calls.clone();
    let (out, events) = run_with(w, enricher, async |h, rx, seen| {
        // The Rust agent's task moves to `backup` while it works.
        common::wait_for(rx, seen, |k| {
            matches!(k, EventKind::TaskAssigned { task, .. } if &**task == "enrich")
        })
        .await;
        h.send(Command::Reroute {
            task: Id::from("enrich"),
            agent: Id::from("backup"),
        });
        // The command agent's task is paused mid-call, then resumed.
        common::wait_for(rx, seen, |k| {
            matches!(k, EventKind::TaskAssigned { task, .. } if &**task == "shout")
        })
        .await;
        h.send(Command::Pause {
            task: Some(Id::from("shout")),
        });
        common::wait_for(rx, seen, |k| {
            matches!(k, EventKind::TaskStateChanged { task, to: TaskState::Paused, .. } if &**task == "shout")
        })
        .await;
        h.send(Command::Resume {
            task: Some(Id::from("shout")),
        });
    })
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the rerouted call was abandoned"
    );
    assert_eq!(
        attempts(&events, "enrich"),
        [("enricher".to_string(), 1), ("backup".to_string(), 2)]
    );
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::TaskCompleted { task, agent: Some(a), .. } if &**task == "enrich" && &**a == "backup")));
    // The paused call was abandoned (its process killed) and ran again.
    assert_eq!(
        attempts(&events, "shout"),
        [("shouter".to_string(), 1), ("shouter".to_string(), 2)]
    );
    let shout = events.iter().find_map(|e| match &e.kind {
        EventKind::TaskCompleted { task, output, .. } if &**task == "shout" => Some(output.clone()),
        _ => None,
    });
    assert_eq!(shout, Some(json!({"shouted": true, "attempt": 2})));
}
