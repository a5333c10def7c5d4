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
async fn openai_agents_retry_by_default_and_a_retry_table_or_false_changes_it() {
    for (setting, ok, requests) in [
        ("", true, 3),
        ("retry = false\n", false, 1),
        ("retry = { max_attempts = 2, base_ms = 1 }\n", false, 2),
    ] {
        let server = MockServer::start(|_, n| {
            if n < 2 {
                error(503, "overloaded")
            } else {
                sse_reply(&["fine"], Some((3, 1)))
            }
        })
        .await;
        let text = FLOW
            .replace("PROVIDER", "openai")
            .replace("tools = [\"context_put\", \"context_get\"]\n", setting);
        let w = Arc::new(load_str(&text, "t.toml", Format::Toml).unwrap().workflow);
        let p = Arc::new(
            OpenAiProvider::new(OpenAiSettings::new("openai", server.base_url())).unwrap(),
        );
        let o = Orchestrator::new(w, RunOptions::default()).with_provider("openai", p);
        let out = o.start().unwrap().wait().await;
        assert_eq!(
            out.status == RunStatus::Succeeded,
            ok,
            "{setting:?}: {out:?}"
        );
        assert_eq!(server.chat_requests().len(), requests, "{setting:?}");
    }
}

#[tokio::test]
async fn a_stream_cut_mid_way_still_counts_its_partial_usage() {
    let server = MockServer::start(|_, _| Reply::Sse {
        events: vec![delta("partial "), delta("answ")],
        done: false,
        cut: true,
    })
    .await;
    // `retry = false`: one attempt, not the provider's default four.
    let text = FLOW.replace("PROVIDER", "openai").replace(
        "tools = [\"context_put\", \"context_get\"]\n",
        "retry = false\n",
    );
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

// ── shell: every call waits at a human gate (issue #7) ──

/// A workflow file in its own directory (the shell's working directory):
/// agent `ops` scripts one shell call of `command`.
fn shell_flow(
    dir: &std::path::Path,
    command: &str,
    shell_table: &str,
    tools: &str,
) -> Arc<agentctl::workflow::model::Workflow> {
    let text = format!(
        r#"
[workflow]
name = "shell"
input = "check the tree"

[[agents]]
id = "ops"
tools = {tools}
{shell_table}
sim = {{ template = "finished", latency_ms = 1, tool_calls = [
  {{ tool = "shell", arguments = {{ command = {command} }} }},
] }}

[[nodes]]
id = "look"
kind = "agent"
agent = "ops"
"#,
        command = toml_str(command),
    );
    let path = dir.join("shell.toml");
    std::fs::write(&path, text).unwrap();
    match agentctl::workflow::load::load_source(path.to_str().unwrap()) {
        Ok(l) => Arc::new(l.workflow),
        Err(d) => panic!("invalid test workflow:\n{d}"),
    }
}

fn toml_str(s: &str) -> String {
    Value::String(s.into()).to_string()
}

/// Runs `w`, answering its first gate with `decide(artifact)`; returns the
/// outcome and every event.
async fn run_deciding(
    w: Arc<agentctl::workflow::model::Workflow>,
    decide: impl Fn(&Value) -> (bool, Option<String>),
) -> (agentctl::engine::RunOutcome, Vec<Event>) {
    let (h, mut rx) = common::start(w, RunOptions::default());
    let mut seen = Vec::new();
    let opened = common::wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::GateOpened { .. })
    })
    .await;
    let EventKind::GateOpened { gate, artifact, .. } = &opened.kind else {
        unreachable!()
    };
    let (approve, comment) = decide(artifact);
    h.send(agentctl::event::Command::GateDecision {
        gate: gate.clone(),
        approve,
        comment,
    });
    let out = h.wait().await;
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    (out, seen)
}

fn shell_result(events: &[Event]) -> (bool, String) {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ToolResult {
                tool, ok, output, ..
            } if tool == "shell" => Some((*ok, output.clone())),
            _ => None,
        })
        .expect("a shell tool_result")
}

const SHELL_ON: &str =
    r#"shell = { inherit_env = ["PATH"], env = { GREETING = "hello" }, timeout_ms = 5000 }"#;

#[tokio::test]
async fn an_approved_shell_call_runs_confined_and_its_output_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let w = shell_flow(
        dir.path(),
        "pwd; echo $GREETING; echo \"[$HOME]\"",
        SHELL_ON,
        r#"["shell"]"#,
    );
    let cwd = dir.path().canonicalize().unwrap();
    let (out, events) = run_deciding(w, |artifact| {
        // The gate shows the exact command, where it runs and who asks.
        assert_eq!(artifact["kind"], "shell");
        assert_eq!(artifact["command"], "pwd; echo $GREETING; echo \"[$HOME]\"");
        assert_eq!(artifact["agent"], "ops");
        assert_eq!(artifact["task"], "look");
        assert_eq!(artifact["env"], json!(["GREETING", "PATH"]));
        assert_eq!(artifact["timeout_ms"], 5000);
        assert_eq!(
            std::path::PathBuf::from(artifact["cwd"].as_str().unwrap()),
            cwd
        );
        (true, None)
    })
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let (ok, output) = shell_result(&events);
    assert!(ok, "{output}");
    let result: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(result["exit_code"], 0);
    let lines: Vec<&str> = result["stdout"].as_str().unwrap().lines().collect();
    assert_eq!(
        std::path::Path::new(lines[0]).canonicalize().unwrap(),
        dir.path().canonicalize().unwrap()
    );
    // Only the named variables: HOME is not inherited.
    assert_eq!(&lines[1..], ["hello", "[]"]);
    // The gate is an ordinary task and gate: created as a child of the
    // calling task, opened, decided, completed — between the call and its
    // result.
    let order: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCall { tool, .. } => Some(format!("call {tool}")),
            EventKind::TaskCreated { task, parent, .. } if task.contains("shell") => Some(format!(
                "created {task} under {}",
                parent.as_deref().unwrap_or("-")
            )),
            EventKind::GateOpened { gate, node, .. } => Some(format!("opened {gate} in {node}")),
            EventKind::GateDecided { gate, approved, .. } => {
                Some(format!("decided {gate} {approved}"))
            }
            EventKind::TaskCompleted { task, .. } if task.contains("shell") => {
                Some(format!("completed {task}"))
            }
            EventKind::ToolResult { tool, .. } => Some(format!("result {tool}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            "call shell",
            "created look/shell#1.1 under look",
            "opened look/shell#1.1 in look",
            "decided look/shell#1.1 true",
            "completed look/shell#1.1",
            "result shell",
        ]
    );
}

#[tokio::test]
async fn a_denied_shell_call_returns_the_refusal_to_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let w = shell_flow(dir.path(), "touch created.txt", SHELL_ON, r#"["shell"]"#);
    let (out, events) = run_deciding(w, |_| (false, Some("not on my machine".into()))).await;
    // The model was told and finished its task anyway.
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let (ok, output) = shell_result(&events);
    assert!(!ok);
    assert_eq!(
        output,
        "error: a human denied running `touch created.txt`: not on my machine"
    );
    assert!(
        !dir.path().join("created.txt").exists(),
        "a denied command ran"
    );
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::TaskStateChanged { task, to: agentctl::event::TaskState::Cancelled, reason: Some(r), .. }
            if &**task == "look/shell#1.1" && r.contains("not on my machine")
    )));
}

#[tokio::test]
async fn shell_is_off_unless_the_agent_enables_it() {
    let dir = tempfile::tempdir().unwrap();
    // Not listed in tools: the model asking for it gets an error result and
    // no gate opens.
    let w = shell_flow(dir.path(), "touch x", "", r#"["context_get"]"#);
    let (out, events) = common::run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let (ok, output) = shell_result(&events);
    assert!(!ok);
    assert!(output.contains("tool `shell` is not available"), "{output}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::GateOpened { .. }))
    );
    assert!(!dir.path().join("x").exists());

    // Listed without its table, or the table without the listing: located
    // validation errors with a hint.
    let listed_only = "[workflow]\nname = \"s\"\n\n[[agents]]\nid = \"ops\"\ntools = [\"shell\"]\n\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"ops\"\n";
    let err = load_str(listed_only, "s.toml", Format::Toml)
        .unwrap_err()
        .to_string();
    assert!(err.contains("s.toml:6:"), "{err}");
    assert!(
        err.contains("lists the `shell` tool, which is off by default"),
        "{err}"
    );
    assert!(err.contains("shell = {"), "{err}");
    let table_only = listed_only.replace("tools = [\"shell\"]", "shell = { timeout_ms = 0 }");
    let err = load_str(&table_only, "s.toml", Format::Toml)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not list `shell` in `tools`"), "{err}");
    assert!(err.contains("`timeout_ms` must be at least 1"), "{err}");
    assert!(err.contains("s.toml:6:"), "{err}");
    let on_command = listed_only.replace(
        "tools = [\"shell\"]",
        "kind = \"command\"\ncommand = { run = [\"true\"] }\ntools = [\"shell\"]\nshell = {}",
    );
    let err = load_str(&on_command, "s.toml", Format::Toml)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a model agent"), "{err}");
    assert!(err.contains("s.toml:9:"), "{err}");
}

#[tokio::test]
async fn a_shell_call_past_its_timeout_is_killed_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let w = shell_flow(
        dir.path(),
        "sleep 30 & echo $! > child.pid; wait",
        r#"shell = { inherit_env = ["PATH"], timeout_ms = 300 }"#,
        r#"["shell"]"#,
    );
    let (out, events) = run_deciding(w, |_| (true, None)).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let (ok, output) = shell_result(&events);
    assert!(!ok);
    assert!(
        output.contains("did not finish within 300 ms; its process group was killed"),
        "{output}"
    );
    let pid = std::fs::read_to_string(dir.path().join("child.pid")).unwrap();
    let pid = pid.trim();
    let mut gone = false;
    for _ in 0..50 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        gone,
        "the command's background child {pid} survived the timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn parallel_agents_append_to_the_shared_context_without_losing_one() {
    // Eight map items, each an agent call that appends to one list artifact
    // through `context_put`; a later agent reads it with `context_get`.
    let w = wf(r#"
[workflow]
name = "ctx"
input = [1, 2, 3, 4, 5, 6, 7, 8]

[[agents]]
id = "w"
concurrency = 8
tools = ["context_put"]
sim = { template = "ok", latency_ms = 5, tool_calls = [
  { tool = "context_put", arguments = { key = "seen", value = "x", append = true } },
] }

[[agents]]
id = "r"
tools = ["context_get"]
sim = { template = "read", tool_calls = [ { tool = "context_get", arguments = { key = "seen" } } ] }

[[nodes]]
id = "main"
kind = "sequence"
steps = ["fan", "read"]

[[nodes]]
id = "fan"
kind = "map"
over = "input"
concurrency = 8
body = "work"

[[nodes]]
id = "work"
kind = "agent"
agent = "w"

[[nodes]]
id = "read"
kind = "agent"
agent = "r"
"#);
    let (out, events) = common::run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let read = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ToolResult { tool, output, .. } if tool == "context_get" => {
                Some(output.clone())
            }
            _ => None,
        })
        .expect("context_get ran");
    // Eight writers overlapped (one tick of latency each, all in flight
    // at once); every append landed.
    let seen: Vec<String> = serde_json::from_str(&read).unwrap();
    assert_eq!(seen.len(), 8, "{seen:?}");
    let appended: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolResult { tool, output, .. } if tool == "context_put" => {
                Some(output.clone())
            }
            _ => None,
        })
        .collect();
    let mut counts: Vec<String> = appended;
    counts.sort();
    let want: Vec<String> = (1..=8)
        .map(|n| format!("appended; `seen` has {n} item(s)"))
        .collect();
    assert_eq!(counts, want);
}

#[test]
fn agentctl_run_never_runs_a_command_unasked_without_its_own_flag() {
    let dir = tempfile::tempdir().unwrap();
    let _ = shell_flow(dir.path(), "echo ran > proof.txt", SHELL_ON, r#"["shell"]"#);
    let path = dir.path().join("shell.toml");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", path.to_str().unwrap(), "--no-record", "--json"];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_agentctl"))
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run agentctl")
    };
    // No terminal to ask on: refused before anything runs, even with
    // --auto-approve (which covers ordinary gates, not commands).
    for extra in [&[][..], &["--auto-approve"][..]] {
        let out = run(extra);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("agent `ops`"), "{err}");
        assert!(err.contains("--auto-approve-shell"), "{err}");
        assert!(!dir.path().join("proof.txt").exists());
    }
    let out = run(&["--auto-approve-shell"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("proof.txt")).unwrap(),
        "ran\n"
    );
}

/// `agentctl run` on a real terminal (a private tmux server): each shell call
/// is asked about, `--auto-approve` does not answer for it, a "no" with a
/// comment denies it and a "y" runs it.
#[test]
fn agentctl_run_asks_on_the_terminal_for_every_shell_call() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
[workflow]
name = "shell_tty"

[[agents]]
id = "ops"
tools = ["shell"]
shell = { inherit_env = ["PATH"] }
sim = { template = "done", latency_ms = 1, tool_calls = [
  { tool = "shell", arguments = { command = "touch one.txt" } },
  { tool = "shell", arguments = { command = "touch two.txt" } },
] }

[[nodes]]
id = "work"
kind = "agent"
agent = "ops"
"#;
    let path = dir.path().join("shell.toml");
    std::fs::write(&path, text).unwrap();
    let socket = format!("agentctl-shell-{}", std::process::id());
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux is required for this test (apt-get install tmux)")
    };
    struct Kill<F: Fn(&[&str]) -> std::process::Output>(F);
    impl<F: Fn(&[&str]) -> std::process::Output> Drop for Kill<F> {
        fn drop(&mut self) {
            let _ = (self.0)(&["kill-server"]);
        }
    }
    let command = format!(
        "{} run {} --no-record --auto-approve; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_agentctl"),
        path.display()
    );
    let out = tmux(&["new-session", "-d", "-x", "120", "-y", "40", &command]);
    assert!(out.status.success(), "{out:?}");
    let guard = Kill(&tmux);
    let screen = || {
        String::from_utf8_lossy(&(guard.0)(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
    };
    let wait = |what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let s = screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what:?}; the screen was:\n{s}"
            );
            std::thread::sleep(std::time::Duration::from_millis(40));
        }
    };
    let s = wait("$ touch one.txt");
    assert!(
        s.contains("agent `ops` wants to run a shell command"),
        "{s}"
    );
    assert!(s.contains("run it? [y]es / [N]o"), "{s}");
    let send = |keys: &[&str]| {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        assert!((guard.0)(&args).status.success());
    };
    send(&["-l", "n not in my home"]);
    send(&["Enter"]);
    wait("$ touch two.txt");
    send(&["-l", "y"]);
    send(&["Enter"]);
    let s = wait("EXIT=");
    assert!(s.contains("EXIT=0"), "{s}");
    assert!(
        !dir.path().join("one.txt").exists(),
        "the denied command ran"
    );
    assert!(
        dir.path().join("two.txt").exists(),
        "the approved command did not run"
    );
}

#[test]
fn the_shell_tool_example_runs_with_its_commands_shown() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/agents/shell_tool.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args(["run", path, "--no-record", "--auto-approve-shell"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run agentctl");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    // Each call, its gate and its result are on the progress lines.
    assert!(
        err.contains("ops calls shell {\"command\":\"ls -1 | head -n 20\"}"),
        "{err}"
    );
    assert!(err.contains("inspect/shell#1.1: approved"), "{err}");
    assert!(err.contains("shell → {\"exit_code\":0"), "{err}");
    assert!(
        err.contains("shell_tool.toml"),
        "the listing ran in the file's folder: {err}"
    );
    assert!(err.contains("context_put → fact stored"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Report:"));
}

const THREE_AT_ONCE: &str = r#"
[workflow]
name = "three"
input = "x"
QUOTA
[[agents]]
id = "w"
provider = "openai"
retry = { max_attempts = 3, base_ms = 1 }

[[nodes]]
id = "fan"
kind = "parallel"
branches = ["a", "b", "c"]

[[nodes]]
id = "a"
kind = "agent"
agent = "w"

[[nodes]]
id = "b"
kind = "agent"
agent = "w"

[[nodes]]
id = "c"
kind = "agent"
agent = "w"
"#;

async fn run_three(quota: &str, server: &MockServer) -> (RunStatus, Vec<Event>) {
    let text = THREE_AT_ONCE.replace("QUOTA", quota);
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
    (out.status, events)
}

#[tokio::test]
async fn max_in_flight_makes_calls_wait_in_line() {
    let server = MockServer::start(|_, _| sse_reply(&["ok"], Some((3, 1)))).await;
    let (status, events) = run_three("[quotas.openai]\nmax_in_flight = 1\n", &server).await;
    assert_eq!(status, RunStatus::Succeeded);
    let waits = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::QuotaWait { limit, .. } if limit == "in_flight"))
        .count();
    assert_eq!(waits, 2, "two of the three calls waited for the first");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::EndpointAdapted { .. })),
        "a fixed limit never adapts"
    );
}

#[tokio::test]
async fn cut_streams_under_concurrency_halve_the_adaptive_limit_and_the_run_succeeds() {
    // A server that serves one call at a time by cutting the others (as
    // llama-cpp-python does by default): the first two calls are cut at
    // their start.
    let server = MockServer::start(|_, n| {
        if n < 2 {
            Reply::Sse {
                events: vec![],
                done: false,
                cut: true,
            }
        } else {
            sse_reply(&["ok"], Some((3, 1)))
        }
    })
    .await;
    let (status, events) = run_three("", &server).await;
    assert_eq!(status, RunStatus::Succeeded);
    let changes: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::EndpointAdapted {
                setting, from, to, ..
            } if setting == "max_in_flight" => Some((from.clone(), to.clone())),
            _ => None,
        })
        .collect();
    assert!(!changes.is_empty(), "no adaptation: {events:?}");
    assert_eq!(changes[0].0, "8");
    let to: u32 = changes.last().unwrap().1.parse().unwrap();
    assert!(to <= 2, "{changes:?}");
}

const TWO_SCHEMA_STEPS: &str = r#"
[workflow]
name = "two"
input = "x"

[[agents]]
id = "w"
provider = "openai"
retry = false

[[nodes]]
id = "main"
kind = "sequence"
steps = ["a", "b"]

[[nodes]]
id = "a"
kind = "agent"
agent = "w"
schema = { type = "object", required = ["ok"], properties = { ok = { type = "boolean" } } }

[[nodes]]
id = "b"
kind = "agent"
agent = "w"
schema = { type = "object", required = ["ok"], properties = { ok = { type = "boolean" } } }
"#;

/// A server that refuses every `response_format`.
async fn refusing_server() -> MockServer {
    MockServer::start(|r, _| {
        if r.body.get("response_format").is_some() {
            error(400, "response_format is not supported")
        } else {
            sse_reply(&[r#"{"ok": true}"#], Some((3, 3)))
        }
    })
    .await
}

#[tokio::test]
async fn a_resumed_run_keeps_the_structured_output_level_its_session_recorded() {
    use agentctl::session::{Header, SessionReader};
    let w = Arc::new(
        load_str(TWO_SCHEMA_STEPS, "t.toml", Format::Toml)
            .unwrap()
            .workflow,
    );
    let server = refusing_server().await;
    let p =
        Arc::new(OpenAiProvider::new(OpenAiSettings::new("openai", server.base_url())).unwrap());
    let mut o = Orchestrator::new(w.clone(), RunOptions::default()).with_provider("openai", p);
    let mut rx = o.subscribe();
    assert_eq!(o.start().unwrap().wait().await.status, RunStatus::Succeeded);
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    let steps = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::EndpointAdapted { .. }))
        .count();
    assert_eq!(
        steps, 3,
        "json_schema → json_object+schema → json_object → prompt_only"
    );
    // Cut the session as a crash would: after `a` completed.
    let cut = events
        .iter()
        .position(|e| matches!(&e.kind, EventKind::TaskCompleted { task, .. } if &**task == "a"))
        .unwrap()
        + 1;
    let h = Header::new("s-1", &w, "# text", "t.toml", 0, 1);
    let mut bytes = serde_json::to_vec(&h).unwrap();
    bytes.push(b'\n');
    for e in &events[..cut] {
        bytes.extend(serde_json::to_vec(e).unwrap());
        bytes.push(b'\n');
    }
    let reader = SessionReader::from_bytes(std::path::Path::new("cut.jsonl"), bytes).unwrap();
    let restore = Arc::new(reader.fold().restore(&reader));
    assert_eq!(restore.adaptations.len(), 3);
    // A new process, a new provider for the same endpoint: `b` goes
    // straight to prompt-only.
    let before = server.chat_requests().len();
    let p =
        Arc::new(OpenAiProvider::new(OpenAiSettings::new("openai", server.base_url())).unwrap());
    let opts = RunOptions {
        session_id: Some("s-1".into()),
        resume: Some(restore),
        ..Default::default()
    };
    let o = Orchestrator::new(w, opts).with_provider("openai", p);
    assert_eq!(o.start().unwrap().wait().await.status, RunStatus::Succeeded);
    let seen = &server.chat_requests()[before..];
    assert_eq!(seen.len(), 1, "no probing again: {seen:?}");
    assert!(seen[0].body.get("response_format").is_none());
}
