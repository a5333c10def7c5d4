//! Tool calling end to end: the engine's tool loop with the sim provider
//! (offline, paused clock) and with the real openai provider against a
//! loopback server.

mod common;
mod mock_openai;

use std::sync::Arc;

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::{Event, EventKind, RunStatus, Usage};
use agentctl::llm::openai::{OpenAiProvider, OpenAiSettings};
use agentctl::secret::Secret;
use agentctl::workflow::load::{Format, load_str};
use common::wf;
use mock_openai::*;
use serde_json::{Value, json};

const FLOW: &str = r#"
[workflow]
name = "tools"
input = "topic"

[[agents]]
id = "w"
provider = "PROVIDER"
tools = ["context_put", "context_get"]
sim = { template = "done with {{input}}", tool_calls = [
  { tool = "context_put", arguments = { key = "k", value = "v" } },
  { tool = "context_get", arguments = { key = "k" } },
] }

[[nodes]]
id = "a"
kind = "agent"
agent = "w"
prompt = "use your tools on {{input}}"
"#;

fn tool_events(events: &[Event]) -> Vec<(String, String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCall {
                tool, arguments, ..
            } => Some(("call".into(), tool.clone(), arguments.clone())),
            EventKind::ToolResult {
                tool, ok, output, ..
            } => Some((format!("result ok={ok}"), tool.clone(), output.clone())),
            _ => None,
        })
        .collect()
}

fn responses(events: &[Event]) -> Vec<Usage> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LlmResponse { usage, .. } => Some(*usage),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn sim_scripts_tool_calls_and_the_engine_runs_them() {
    let w = wf(&FLOW.replace("PROVIDER", "sim"));
    let (out, events) = common::run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        tool_events(&events),
        [
            (
                "call".into(),
                "context_put".into(),
                r#"{"key":"k","value":"v"}"#.into()
            ),
            (
                "result ok=true".into(),
                "context_put".into(),
                "stored".into()
            ),
            ("call".into(), "context_get".into(), r#"{"key":"k"}"#.into()),
            (
                "result ok=true".into(),
                "context_get".into(),
                r#""v""#.into()
            ),
        ]
    );
    // Two turns: the tool calls, then the answer; the run counts both.
    let usages = responses(&events);
    assert_eq!(usages.len(), 2);
    // The sim is not a live stream: no delta events.
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::LlmDelta { .. }))
    );
    let mut total = Usage::default();
    for u in &usages {
        total.add(u);
    }
    assert_eq!(out.usage, total);
    assert_eq!(out.output, Some(json!("done with use your tools on topic")));
}

#[tokio::test]
async fn openai_tool_loop_against_the_server() {
    const KEY: &str = "sk-tools-MARKER-0123456789abcdef";
    let server = MockServer::start(|r, _| {
        let has_results = r.body["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"));
        if !has_results {
            // Two calls in one turn, arguments streamed in pieces.
            let piece = |i: u64, id: Option<&str>, name: Option<&str>, a: &str| {
                let mut tc = json!({"index": i, "function": {"arguments": a}});
                if let Some(id) = id {
                    tc["id"] = json!(id);
                    tc["type"] = json!("function");
                }
                if let Some(n) = name {
                    tc["function"]["name"] = json!(n);
                }
                json!({"choices": [{"index": 0, "delta": {"tool_calls": [tc]}, "finish_reason": null}]})
                    .to_string()
            };
            Reply::Sse {
                events: vec![
                    piece(0, Some("p1"), Some("context_put"), "{\"key\":\"k\","),
                    piece(0, None, None, "\"value\":42}"),
                    piece(1, Some("g1"), Some("context_get"), "{\"key\":"),
                    piece(1, None, None, "\"k\"}"),
                    finish("tool_calls"),
                    usage_chunk(50, 20),
                ],
                done: true,
                cut: false,
            }
        } else {
            sse_reply(&["the answer is ", "42"], Some((90, 6)))
        }
    })
    .await;
    let text = FLOW.replace("PROVIDER", "openai");
    let w = Arc::new(load_str(&text, "t.toml", Format::Toml).unwrap().workflow);
    let mut s = OpenAiSettings::new("openai", server.base_url());
    s.api_key = Secret::new(KEY);
    let p = Arc::new(OpenAiProvider::new(s).unwrap());
    let mut o = Orchestrator::new(w, RunOptions::default()).with_provider("openai", p);
    let mut rx = o.subscribe();
    let out = o.start().unwrap().wait().await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(out.output, Some(json!("the answer is 42")));
    assert_eq!(
        tool_events(&events),
        [
            (
                "call".into(),
                "context_put".into(),
                r#"{"key":"k","value":42}"#.into()
            ),
            (
                "result ok=true".into(),
                "context_put".into(),
                "stored".into()
            ),
            ("call".into(), "context_get".into(), r#"{"key":"k"}"#.into()),
            ("result ok=true".into(), "context_get".into(), "42".into()),
        ]
    );
    // The streamed text went out as it arrived.
    let deltas: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LlmDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deltas, ["the answer is ", "42"]);
    // Exact accounting: each turn as the server reported it, summed.
    let usages = responses(&events);
    assert_eq!(
        usages,
        [
            Usage {
                prompt_tokens: 50,
                completion_tokens: 20,
                estimated: false
            },
            Usage {
                prompt_tokens: 90,
                completion_tokens: 6,
                estimated: false
            },
        ]
    );
    assert_eq!(out.usage.total(), 166);
    let calls = server.chat_requests();
    assert_eq!(calls.len(), 2);
    let second: &Value = &calls[1].body;
    let msgs = second["messages"].as_array().unwrap();
    assert_eq!(msgs[msgs.len() - 3]["tool_calls"][1]["id"], "g1");
    assert_eq!(
        msgs[msgs.len() - 2],
        json!({"role": "tool", "tool_call_id": "p1", "content": "stored"})
    );
    assert_eq!(
        msgs[msgs.len() - 1],
        json!({"role": "tool", "tool_call_id": "g1", "content": "42"})
    );
    // No secret in any event.
    for e in &events {
        let j = serde_json::to_string(e).unwrap();
        assert!(!j.contains("MARKER"), "{j}");
    }
}

#[test]
fn unknown_tool_is_a_located_error() {
    let text = FLOW
        .replace("PROVIDER", "sim")
        .replace("\"context_get\"]", "\"context_gte\"]");
    let d = match load_str(&text, "t.toml", Format::Toml) {
        Ok(_) => panic!("expected an error"),
        Err(d) => d,
    };
    let e = &d.0[0];
    assert!(e.message.contains("unknown tool `context_gte`"), "{d}");
    assert_eq!((e.line, e.column), (9, 25), "{d}");
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains("did you mean `context_get`"),
        "{d}"
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_still_counts_its_partial_usage() {
    let server = MockServer::start(|_, _| Reply::Sse {
        events: vec![delta("partial "), delta("answ")],
        done: false,
        cut: true,
    })
    .await;
    let text = FLOW
        .replace("PROVIDER", "openai")
        .replace("tools = [\"context_put\", \"context_get\"]\n", "");
    let w = Arc::new(load_str(&text, "t.toml", Format::Toml).unwrap().workflow);
    let p =
        Arc::new(OpenAiProvider::new(OpenAiSettings::new("openai", server.base_url())).unwrap());
    let mut o = Orchestrator::new(w, RunOptions::default()).with_provider("openai", p);
    let mut rx = o.subscribe();
    let out = o.start().unwrap().wait().await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(server.chat_requests().len(), 1);
    let prompt = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::LlmRequest { prompt_tokens, .. } => Some(*prompt_tokens),
            _ => None,
        })
        .unwrap();
    let err = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::LlmError { kind, error, .. } => Some((*kind, error.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(err.0, agentctl::event::ErrorKind::Server, "{}", err.1);
    assert_eq!(
        out.usage,
        Usage {
            prompt_tokens: prompt,
            completion_tokens: agentctl::llm::tokens::TokenCounter::global().count("partial answ"),
            estimated: true,
        }
    );
}
