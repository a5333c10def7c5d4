//! Resilience, budgets, quotas and metrics through the engine (issue #3),
//! on tokio's paused clock: sim latencies and backoff delays cost no real
//! time, and the schedule they produce is exact.

mod common;

use std::time::Duration;

use agentctl::engine::RunOptions;
use agentctl::event::{BreakerState, Command, ErrorKind, EventKind, RunStatus};
use agentctl::workflow::load::{Format, load_str};
use common::*;

fn delays(events: &[agentctl::event::Event]) -> Vec<(u32, f64)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::RetryScheduled {
                retry, delay_ms, ..
            } => Some((*retry, *delay_ms)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn retries_follow_the_exact_backoff_schedule() {
    let w = wf(r#"
[workflow]
name = "r"
[[agents]]
id = "a"
retry = { max_attempts = 4, base_ms = 100, factor = 3.0, max_delay_ms = 500, jitter = false }
sim = { fail_first = 3, latency_ms = 10 }
[[nodes]]
id = "n"
kind = "agent"
agent = "a"
"#);
    let start = tokio::time::Instant::now();
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    // 100, 300, then capped at 500.
    assert_eq!(delays(&events), [(1, 100.0), (2, 300.0), (3, 500.0)]);
    // Four calls of 10 ms plus the three delays.
    assert_eq!(start.elapsed(), Duration::from_millis(40 + 900));
    let m = out.metrics.expect("metrics");
    assert_eq!((m.run.calls, m.run.calls_failed, m.run.retries), (4, 3, 3));
    let done = events.iter().find_map(|e| match &e.kind {
        EventKind::TaskCompleted { attempt, .. } => Some(*attempt),
        _ => None,
    });
    assert_eq!(done, Some(4));
}

#[tokio::test(start_paused = true)]
async fn jittered_delays_stay_within_their_ceilings_and_repeat_per_seed() {
    let text = r#"
[workflow]
name = "j"
[defaults]
retry = { max_attempts = 5, base_ms = 200, factor = 2.0, max_delay_ms = 10000 }
[[agents]]
id = "a"
sim = { fail_first = 4 }
[[nodes]]
id = "n"
kind = "agent"
agent = "a"
"#;
    let (_, e1) = run_with(
        wf(text),
        RunOptions {
            seed: 7,
            ..Default::default()
        },
    )
    .await;
    let (_, e2) = run_with(
        wf(text),
        RunOptions {
            seed: 7,
            ..Default::default()
        },
    )
    .await;
    let (_, e3) = run_with(
        wf(text),
        RunOptions {
            seed: 8,
            ..Default::default()
        },
    )
    .await;
    let d1 = delays(&e1);
    assert_eq!(d1.len(), 4);
    for (retry, ms) in &d1 {
        let ceiling = 200.0 * 2f64.powi(*retry as i32 - 1);
        assert!(
            (0.0..=ceiling).contains(ms),
            "retry {retry}: {ms} > {ceiling}"
        );
    }
    assert_eq!(d1, delays(&e2), "same seed, same schedule");
    assert_ne!(d1, delays(&e3), "another seed, other jitter");
}

#[tokio::test(start_paused = true)]
async fn fatal_errors_are_not_retried_and_retry_after_is_honoured() {
    let w = wf(r#"
[workflow]
name = "ra"
[[agents]]
id = "a"
retry = { max_attempts = 2, base_ms = 10, jitter = false }
sim = { rate_limit_rate = 1.0, retry_after_ms = 750 }
[[nodes]]
id = "n"
kind = "agent"
agent = "a"
"#);
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Failed);
    // Retry-After (750 ms) beats the 10 ms backoff.
    assert_eq!(delays(&events), [(1, 750.0)]);
    let ra = events.iter().find_map(|e| match &e.kind {
        EventKind::RetryScheduled {
            retry_after_ms,
            kind,
            ..
        } => Some((*retry_after_ms, *kind)),
        _ => None,
    });
    assert_eq!(ra, Some((Some(750.0), ErrorKind::RateLimited)));
}

#[tokio::test(start_paused = true)]
async fn the_fallback_chain_is_tried_in_order_and_says_who_answered() {
    let w = wf(r#"
[workflow]
name = "f"
[[agents]]
id = "primary"
fallbacks = ["second", "third"]
sim = { error_rate = 1.0 }
[[agents]]
id = "second"
sim = { error_rate = 1.0 }
[[agents]]
id = "third"
sim = { template = "third answers" }
[[nodes]]
id = "n"
kind = "agent"
agent = "primary"
"#);
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let hops: Vec<(String, String, u32)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::FallbackUsed {
                from_agent,
                to_agent,
                position,
                ..
            } => Some((from_agent.to_string(), to_agent.to_string(), *position)),
            _ => None,
        })
        .collect();
    assert_eq!(
        hops,
        [
            ("primary".into(), "second".into(), 1),
            ("second".into(), "third".into(), 2)
        ]
    );
    let answered = events.iter().find_map(|e| match &e.kind {
        EventKind::TaskCompleted { agent, .. } => agent.clone(),
        _ => None,
    });
    assert_eq!(answered.as_deref(), Some("third"));
    assert_eq!(out.output, Some(serde_json::json!("third answers")));
}

#[tokio::test(start_paused = true)]
async fn a_hanging_call_is_cut_by_the_timeout_and_retried() {
    let w = wf(r#"
[workflow]
name = "t"
[[agents]]
id = "a"
timeout_ms = 250
retry = { max_attempts = 2, base_ms = 50, jitter = false }
fallbacks = ["b"]
sim = { hang_rate = 1.0 }
[[agents]]
id = "b"
sim = { template = "ok", latency_ms = 5 }
[[nodes]]
id = "n"
kind = "agent"
agent = "a"
"#);
    let start = tokio::time::Instant::now();
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    let timeouts = count(&events, |k| {
        matches!(
            k,
            EventKind::LlmError {
                kind: ErrorKind::Timeout,
                ..
            }
        )
    });
    assert_eq!(timeouts, 2);
    // 250 + 50 + 250, then the fallback's 5 ms.
    assert_eq!(start.elapsed(), Duration::from_millis(555));
}

#[tokio::test(start_paused = true)]
async fn a_task_time_limit_bounds_every_attempt_together() {
    let w = wf(r#"
[workflow]
name = "tt"
[[agents]]
id = "a"
task_timeout_ms = 1000
timeout_ms = 400
retry = { max_attempts = 10, base_ms = 100, jitter = false, factor = 1.0 }
sim = { hang_rate = 1.0 }
[[nodes]]
id = "n"
kind = "agent"
agent = "a"
"#);
    let start = tokio::time::Instant::now();
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(out.error.unwrap_or_default().contains("time limit"));
    // 400 (cut) + 100 backoff + 400 (cut); a third attempt would start at
    // the deadline, so it is not made.
    assert_eq!(start.elapsed(), Duration::from_millis(900));
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::RetryScheduled { .. })),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_fails_fast_to_the_fallback() {
    // Four sequential tasks; each one's first call on `flaky` fails.
    let w = wf(r#"
[workflow]
name = "b"
[[agents]]
id = "flaky"
concurrency = 1
breaker = { failures = 2, window_ms = 10000, open_ms = 1000, half_open_probes = 1 }
fallbacks = ["steady"]
sim = { fail_first = 1, latency_ms = 10 }
[[agents]]
id = "steady"
sim = { latency_ms = 10 }
[[nodes]]
id = "m"
kind = "map"
count = 4
concurrency = 1
body = "n"
[[nodes]]
id = "n"
kind = "agent"
agent = "flaky"
"#);
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let changes: Vec<(BreakerState, BreakerState)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::BreakerStateChanged { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    // Items 0 and 1 fail on flaky (attempt 1 of each): open. Items 2 and 3
    // find it open and go straight to the fallback without a call.
    assert_eq!(changes, [(BreakerState::Closed, BreakerState::Open)]);
    let m = out.metrics.unwrap();
    let flaky = &m.agents[0];
    assert_eq!(flaky.counters.calls, 2, "no call while open");
    assert_eq!(flaky.counters.breaker_openings, 1);
    assert_eq!(flaky.health, agentctl::event::HealthState::CircuitOpen);
    assert_eq!(m.run.fallbacks, 4);
}

#[tokio::test(start_paused = true)]
async fn cache_hits_cost_no_tokens() {
    let w = wf(r#"
[workflow]
name = "c"
[[agents]]
id = "a"
cache = { ttl_ms = 60000 }
sim = { latency_ms = 10 }
[[nodes]]
id = "m"
kind = "map"
count = 3
concurrency = 1
body = "n"
[[nodes]]
id = "n"
kind = "agent"
agent = "a"
prompt = "the same question"
"#);
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::CacheHit { .. })),
        2
    );
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::LlmRequest { .. })),
        1
    );
    let m = out.metrics.unwrap();
    assert_eq!(m.run.cache_hits, 2);
    assert_eq!(
        m.run.prompt_tokens + m.run.completion_tokens,
        out.usage.total()
    );
}

const BUDGET: &str = r#"
[workflow]
name = "budget"
[budget]
tokens = 400
on_exhausted = "POLICY"
[[agents]]
id = "pricey"
max_tokens = 20
concurrency = 8
degrade = { to = "cheap" }
sim = { latency_ms = { min = 10, max = 50 } }
[[agents]]
id = "cheap"
max_tokens = 20
sim = { template = "cheap answer", latency_ms = 5 }
[[nodes]]
id = "m"
kind = "map"
count = 24
body = "n"
[[nodes]]
id = "n"
kind = "agent"
agent = "pricey"
prompt = "item {{item}}"
"#;

fn budget_wf(policy: &str) -> std::sync::Arc<agentctl::workflow::model::Workflow> {
    wf(&BUDGET.replace("POLICY", policy))
}

#[tokio::test(start_paused = true)]
async fn a_hard_limit_is_never_exceeded_even_with_calls_in_flight() {
    let (out, events) = run(budget_wf("fail")).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(out.error.unwrap_or_default().contains("budget"));
    assert!(out.usage.total() <= 400, "{}", out.usage.total());
    assert!(count(&events, |k| matches!(k, EventKind::BudgetExhausted { .. })) >= 1);
    // Several calls were in flight at once (8 slots), yet the total holds.
    let mut in_flight = 0i32;
    let mut most = 0;
    for e in &events {
        match e.kind {
            EventKind::LlmRequest { .. } => in_flight += 1,
            EventKind::LlmResponse { .. } | EventKind::LlmError { .. } => in_flight -= 1,
            _ => {}
        }
        most = most.max(in_flight);
    }
    assert!(most >= 4, "{most}");
    // Exact accounting: per-agent sums equal the run total.
    let m = out.metrics.unwrap();
    let per_agent: u64 = m
        .agents
        .iter()
        .map(|a| a.counters.prompt_tokens + a.counters.completion_tokens)
        .sum();
    assert_eq!(per_agent, out.usage.total());
    let last_update = events.iter().rev().find_map(|e| match &e.kind {
        EventKind::BudgetUpdated {
            scope, used_tokens, ..
        } if scope == "run" => Some(*used_tokens),
        _ => None,
    });
    assert_eq!(last_update, Some(out.usage.total()));
}

#[tokio::test(start_paused = true)]
async fn pause_waits_for_set_budget_then_completes() {
    let (h, mut rx) = start(budget_wf("pause"), RunOptions::default());
    let mut seen = Vec::new();
    wait_for(
        &mut rx,
        &mut seen,
        |k| matches!(k, EventKind::BudgetExhausted { policy, .. } if policy == "pause"),
    )
    .await;
    wait_for(&mut rx, &mut seen, |k| matches!(k, EventKind::RunPaused)).await;
    // Nothing moves while paused: an hour later it is still waiting.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    while let Ok(e) = rx.try_recv() {
        assert!(
            !matches!(
                e.kind,
                EventKind::LlmRequest { .. } | EventKind::SessionEnded { .. }
            ),
            "{e:?}"
        );
        seen.push(e);
    }
    h.send(Command::SetBudget {
        agent: None,
        node: None,
        tokens: Some(100_000),
        usd: None,
    });
    let out = h.wait().await;
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert!(count(&seen, |k| matches!(k, EventKind::RunResumed)) >= 1);
    assert!(
        count(&seen, |k| matches!(
            k,
            EventKind::BudgetUpdated {
                limit_tokens: Some(100_000),
                ..
            }
        )) >= 1
    );
}

#[tokio::test(start_paused = true)]
async fn degrade_moves_work_to_the_cheaper_agent() {
    let text = BUDGET
        .replace("POLICY", "degrade")
        .replace("tokens = 400\n", "tokens = 100000\n")
        .replace(
            "max_tokens = 20\nconcurrency = 8",
            "max_tokens = 20\nconcurrency = 8\nbudget = { tokens = 300 }",
        );
    let (out, events) = run(wf(&text)).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let switches = count(
        &events,
        |k| matches!(k, EventKind::DegradeSwitch { to_agent, .. } if &**to_agent == "cheap"),
    );
    assert!(switches >= 1);
    let m = out.metrics.unwrap();
    let pricey = &m.agents[0].counters;
    assert!(pricey.prompt_tokens + pricey.completion_tokens <= 300);
    assert_eq!(m.agents[1].counters.calls as usize, switches);
}

#[tokio::test(start_paused = true)]
async fn sixty_rpm_spreads_a_hundred_calls_and_refuses_none() {
    let w = wf(r#"
[workflow]
name = "q"
[quotas.sim]
rpm = 60
[[agents]]
id = "a"
concurrency = 0
[[nodes]]
id = "m"
kind = "map"
count = 100
body = "n"
[[nodes]]
id = "n"
kind = "agent"
agent = "a"
"#);
    let start = tokio::time::Instant::now();
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(out.tasks_failed, 0);
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::LlmResponse { .. })),
        100
    );
    // 60 at once, then one per second.
    let waits = count(&events, |k| matches!(k, EventKind::QuotaWait { .. }));
    assert_eq!(waits, 40);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(40) && elapsed < Duration::from_secs(41),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn chaos_completes_and_its_metrics_match_its_events() {
    let (out, events) = run(builtin("chaos")).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let m = out.metrics.expect("metrics");
    let retries = count(&events, |k| matches!(k, EventKind::RetryScheduled { .. }));
    let openings = count(&events, |k| {
        matches!(
            k,
            EventKind::BreakerStateChanged {
                from: BreakerState::Closed,
                to: BreakerState::Open,
                ..
            }
        )
    });
    let fallbacks = count(&events, |k| matches!(k, EventKind::FallbackUsed { .. }));
    let ok = count(&events, |k| matches!(k, EventKind::LlmResponse { .. }));
    let failed = count(&events, |k| matches!(k, EventKind::LlmError { .. }));
    assert!(
        retries > 0 && openings > 0 && fallbacks > 0,
        "{retries} {openings} {fallbacks}"
    );
    assert_eq!(m.run.retries as usize, retries);
    assert_eq!(m.run.breaker_openings as usize, openings);
    assert_eq!(m.run.fallbacks as usize, fallbacks);
    assert_eq!(m.run.calls_ok as usize, ok);
    assert_eq!(m.run.calls_failed as usize, failed);
    assert_eq!(m.tasks_completed, out.tasks_completed);
    assert_eq!(
        m.run.prompt_tokens + m.run.completion_tokens,
        out.usage.total()
    );
    // Mixed faults: at least three kinds happened.
    // A malformed reply is a response the engine rejects (`output_repair`,
    // or a `malformed` retry), not an `llm_error`.
    let kinds: std::collections::HashSet<ErrorKind> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LlmError { kind, .. } => Some(*kind),
            EventKind::OutputRepair { .. } => Some(ErrorKind::Malformed),
            _ => None,
        })
        .collect();
    assert!(kinds.len() >= 3, "{kinds:?}");
    // Malformed replies are in the mix: each was repaired (output_repair)
    // or, when the repair was malformed too, retried as `malformed`.
    let repairs = count(&events, |k| matches!(k, EventKind::OutputRepair { .. }));
    let malformed_retries = count(&events, |k| {
        matches!(
            k,
            EventKind::RetryScheduled {
                kind: ErrorKind::Malformed,
                ..
            }
        )
    });
    assert!(repairs >= 1, "no malformed reply was repaired");
    assert_eq!(m.run.repairs as usize, repairs);
    assert_eq!(
        m.run.malformed as usize,
        repairs
            + malformed_retries
            + {
                // Malformed failures that went to the fallback instead of a retry.
                events
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::FallbackUsed { reason, .. } if reason.contains("invalid reply")))
            .count()
            }
    );
    // Every item's output is whole JSON: no cut-off reply got through.
    for e in &events {
        if let EventKind::TaskCompleted { task, output, .. } = &e.kind
            && task.starts_with("work[")
        {
            assert!(output.get("done").is_some(), "{task}: {output}");
        }
    }
    let l = m.run.latency_ms;
    assert_eq!(l.count as usize, ok + failed);
    assert!(0.0 < l.p50 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max);
    // Hung calls are cut at the 400 ms limit (the histogram keeps 2
    // significant digits: values are within 1%).
    assert!(l.max <= 404.0, "{}", l.max);
    assert!(out.usage.total() <= 60_000);
    assert!(count(&events, |k| matches!(k, EventKind::Metrics { .. })) >= 2);
}

#[test]
fn policy_mistakes_are_located_with_hints() {
    let bad = r#"[workflow]
name = "v"
[defaults]
retry = { factor = 0.5 }
[budget]
warn_at = 1.5
[[agents]]
id = "a"
fallbacks = ["nobody"]
budget = { tokens = 10, on_exhausted = "pause" }
sim = { hang_rate = 0.5 }
[[nodes]]
id = "n"
kind = "sequence"
steps = ["m"]
retry = { max_attempts = 2 }
[[nodes]]
id = "m"
kind = "agent"
agent = "a"
"#;
    let err = load_str(bad, "v.toml", Format::Toml)
        .unwrap_err()
        .to_string();
    for needle in [
        "v.toml:4:",
        "`factor` must be at least 1",
        "v.toml:6:",
        "`warn_at` must be a fraction",
        "v.toml:9:",
        "unknown agent `nobody` in `fallbacks`",
        "`on_exhausted` is a run-wide setting",
        "injects hangs but has no time limit",
        "`retry` is not a field of a `sequence` node",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

#[tokio::test(start_paused = true)]
async fn set_budget_without_a_budget_is_rejected() {
    let (h, mut rx) = start(
        wf(
            "[workflow]\nname = \"x\"\n[[agents]]\nid = \"a\"\nsim = { latency_ms = 100 }\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n",
        ),
        RunOptions::default(),
    );
    h.send(Command::SetBudget {
        agent: None,
        node: None,
        tokens: Some(5),
        usd: None,
    });
    let mut seen = Vec::new();
    let e = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::CommandRejected { .. })
    })
    .await;
    assert!(format!("{e:?}").contains("no budget"));
    assert_eq!(h.wait().await.status, RunStatus::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn agents_with_context_tokens_see_earlier_results_in_their_prompt() {
    let text = r#"
[workflow]
name = "ctx"
input = "write about caching"
[[agents]]
id = "researcher"
sim = { template = "caching keeps replies by prompt hash with a ttl" }
[[agents]]
id = "writer"
CONTEXT
[[nodes]]
id = "p"
kind = "sequence"
steps = ["research", "write"]
[[nodes]]
id = "research"
kind = "agent"
agent = "researcher"
[[nodes]]
id = "write"
kind = "agent"
agent = "writer"
prompt = "write it"
"#;
    let writer_prompt = |events: &[agentctl::event::Event]| {
        events.iter().find_map(|e| match &e.kind {
            EventKind::LlmRequest {
                agent,
                prompt_tokens,
                ..
            } if &**agent == "writer" => Some(*prompt_tokens),
            _ => None,
        })
    };
    let (plain, e1) = run(wf(&text.replace("CONTEXT", ""))).await;
    let (with, e2) = run(wf(&text.replace("CONTEXT", "context_tokens = 200"))).await;
    assert_eq!(plain.status, RunStatus::Succeeded);
    assert_eq!(with.status, RunStatus::Succeeded);
    let (a, b) = (writer_prompt(&e1).unwrap(), writer_prompt(&e2).unwrap());
    // The research output (an artifact) and the input (a fact) were added.
    assert!(b > a + 15, "{a} vs {b}");
    assert!(b <= a + 200 + 10, "window bound: {a} vs {b}");
    let (tight, e3) = run(wf(&text.replace("CONTEXT", "context_tokens = 12"))).await;
    assert_eq!(tight.status, RunStatus::Succeeded);
    assert!(writer_prompt(&e3).unwrap() <= a + 12 + 10);
}

const CONFLICT: &str = r#"
[workflow]
name = "conflict"
[[agents]]
id = "a"
sim = { replies = [{ answer = "Paris", confidence = 0.4 }] }
[[agents]]
id = "b"
sim = { replies = [{ answer = "Lyon", confidence = 0.9 }] }
[[agents]]
id = "c"
sim = { replies = [{ answer = "paris", confidence = 0.6 }] }
[[agents]]
id = "judge"
sim = { template = "Marseille" }
[[nodes]]
id = "ask"
kind = "parallel"
branches = ["qa", "qb", "qc"]
resolve = "HOW"
[[nodes]]
id = "qa"
kind = "agent"
agent = "a"
[[nodes]]
id = "qb"
kind = "agent"
agent = "b"
[[nodes]]
id = "qc"
kind = "agent"
agent = "c"
"#;

fn resolved(events: &[agentctl::event::Event]) -> Option<(String, bool)> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::ConflictResolved {
            method, conflict, ..
        } => Some((method.clone(), *conflict)),
        _ => None,
    })
}

#[tokio::test(start_paused = true)]
async fn disagreeing_branches_are_resolved_by_confidence_a_meta_agent_or_a_gate() {
    let (out, events) = run(wf(&CONFLICT.replace("HOW", "confidence"))).await;
    assert_eq!(
        out.output,
        Some(serde_json::json!("Paris")),
        "0.4 + 0.6 beats 0.9"
    );
    assert_eq!(resolved(&events), Some(("confidence".into(), true)));

    let (out, events) = run(wf(&CONFLICT.replace("HOW", "judge"))).await;
    assert_eq!(out.output, Some(serde_json::json!("Marseille")));
    assert_eq!(resolved(&events), Some(("agent:judge".into(), true)));

    let (h, mut rx) = start(wf(&CONFLICT.replace("HOW", "gate")), RunOptions::default());
    let mut seen = Vec::new();
    let opened = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::GateOpened { .. })
    })
    .await;
    let EventKind::GateOpened { gate, artifact, .. } = opened.kind else {
        unreachable!()
    };
    assert_eq!(artifact["proposed"], "Paris");
    // The reviewer picks candidate 2 by number.
    h.send(Command::GateDecision {
        gate,
        approve: true,
        comment: Some("2".into()),
    });
    let out = h.wait().await;
    assert_eq!(out.output, Some(serde_json::json!("Lyon")));
}

#[tokio::test(start_paused = true)]
async fn a_deep_queue_degrades_tasks_to_the_faster_agent() {
    let w = wf(r#"
[workflow]
name = "dq"
[[agents]]
id = "main"
concurrency = 1
degrade = { to = "fast", queue_depth = 3 }
sim = { latency_ms = 100 }
[[agents]]
id = "fast"
concurrency = 0
sim = { latency_ms = 10 }
[[nodes]]
id = "m"
kind = "map"
count = 10
body = "n"
[[nodes]]
id = "n"
kind = "agent"
agent = "main"
"#);
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let switches = count(
        &events,
        |k| matches!(k, EventKind::DegradeSwitch { reason, .. } if reason.contains("tasks queued")),
    );
    let m = out.metrics.unwrap();
    assert!(switches >= 1);
    assert_eq!(m.agents[1].counters.calls as usize, switches);
    assert_eq!(m.agents[0].counters.calls as usize + switches, 10);
    assert!(
        m.agents[0].counters.calls >= 1,
        "main still works when the queue is short"
    );
    assert_eq!(m.run.degrades as usize, switches);
}
