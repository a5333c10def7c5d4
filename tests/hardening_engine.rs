//! Engine defects of the hardening issue (runaway loops, usage overflow)
//! and of the real-models issue (errors that name their cause), driven
//! through the real binary with real processes, signals and files.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Resident memory of a running process, in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

// ── 6. Ctrl-C during a zero-latency runaway loop ──

const RUNAWAY: &str = r#"
[workflow]
name = "runaway"
input = "go"

[[agents]]
id = "worker"
concurrency = 0
sim = { reply_words = 4 }

[[nodes]]
id = "spin"
kind = "loop"
states = ["step"]
max_iterations = 4294967295
transitions = [{ from = "step", to = "step", when = "true" }]

[[nodes]]
id = "step"
kind = "agent"
agent = "worker"
"#;

/// Runs the runaway loop for a few seconds, checks memory stays bounded
/// meanwhile, sends SIGINT and expects exit 3 (a hang bound, not a speed
/// assertion). Returns the output, how much RSS grew in 2 s once the loop
/// ran (kB), and how many progress lines were printed meanwhile (with
/// `stderr_to`).
fn interrupt_runaway(extra: &[&str], stderr_to: Option<&Path>) -> (Output, u64, u64) {
    let tmp = tempfile::tempdir().unwrap();
    let wf = write(tmp.path(), "runaway.toml", RUNAWAY);
    let mut cmd = agentctl(&tmp.path().join("sessions"));
    cmd.arg("run").arg(&wf).args(extra);
    if let Some(path) = stderr_to {
        // Lines mode prints a line per event: to a file, so nothing
        // blocks on an unread pipe.
        cmd.stderr(std::fs::File::create(path).unwrap());
    }
    let child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let lines = || {
        stderr_to.map_or(0, |p| {
            std::fs::read(p).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count() as u64)
        })
    };
    // The window starts once the loop runs (start-up allocates too): at
    // the 200th progress line, or after 1 s without a printer.
    let start = Instant::now();
    let mut peak = 0;
    let mut sample = || {
        std::thread::sleep(Duration::from_millis(100));
        let now = rss_kb(pid).expect("the run is still going");
        peak = peak.max(now);
        now
    };
    let mut at_start = sample();
    while start.elapsed() < Duration::from_secs(10)
        && (stderr_to.is_some() && lines() < 200 || start.elapsed() < Duration::from_secs(1))
    {
        at_start = sample();
    }
    let lines_start = lines();
    let mut now = at_start;
    for _ in 0..20 {
        now = sample();
    }
    let grown = now.saturating_sub(at_start);
    let printed = lines().saturating_sub(lines_start);
    assert!(peak < 500 * 1024, "RSS reached {peak} kB in a runaway loop");
    // SAFETY: signalling our own child by its pid.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGINT) }, 0);
    let out = finish(child, Duration::from_secs(10));
    assert_eq!(
        out.status.code(),
        Some(3),
        "SIGINT ends the run as interrupted; stderr: {}",
        stderr(&out)
    );
    (out, grown, printed)
}

#[test]
fn ctrl_c_stops_a_zero_latency_runaway_loop_with_bounded_memory() {
    // Recorded, no subscriber on the engine's thread.
    let (out, _, _) = interrupt_runaway(&["--json"], None);
    let v = json(&out);
    assert_eq!(v["status"], "interrupted", "{v}");
    assert!(
        v["tasks_completed"].as_u64().unwrap() > 100,
        "the loop really ran: {v}"
    );
    assert!(v["session_file"].is_string(), "{v}");
}

#[test]
fn ctrl_c_stops_a_runaway_loop_whose_progress_is_printed_on_the_same_thread() {
    // Lines mode: the printer reads an unbounded event queue on the
    // engine's own (single) runtime thread.
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("stderr.txt");
    let (_, grown, printed) = interrupt_runaway(&["--no-record"], Some(&log));
    // The printer keeps up (its queue stays short), and without a session
    // fold nothing else keeps history: memory stays flat however fast the
    // loop runs. Per line printed, so the bound does not depend on speed: a
    // printer falling behind leaves kilobytes queued per line.
    assert!(printed > 100, "{printed} lines printed in 2 s");
    assert!(
        grown * 1024 / printed < 256,
        "RSS grew {grown} kB while {printed} progress lines were printed"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("interrupted in"),
        "{}",
        &text[text.len().saturating_sub(500)..]
    );
    assert!(text.contains("spin#"), "progress lines were printed");
}

#[test]
fn max_tasks_stops_a_runaway_loop_with_an_error_naming_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let text = RUNAWAY.replace("[[agents]]", "[defaults]\nmax_tasks = 500\n\n[[agents]]");
    let wf = write(tmp.path(), "bounded.toml", &text);
    let child = agentctl(&tmp.path().join("sessions"))
        .arg("run")
        .arg(&wf)
        .arg("--json")
        .spawn()
        .expect("spawn");
    let out = finish(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["status"], "failed", "{v}");
    let err = v["error"].as_str().unwrap();
    assert!(
        err.contains("500 tasks") && err.contains("max_tasks"),
        "{err}"
    );
    assert_eq!(v["tasks_completed"], 500, "{v}");
}

#[test]
fn max_tasks_must_be_positive() {
    let tmp = tempfile::tempdir().unwrap();
    let text = RUNAWAY.replace("[[agents]]", "[defaults]\nmax_tasks = 0\n\n[[agents]]");
    let wf = write(tmp.path(), "zero.toml", &text);
    let out = agentctl(&tmp.path().join("sessions"))
        .arg("validate")
        .arg(&wf)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("max_tasks") && e.contains("zero.toml:"), "{e}");
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/engine").join(name)
}

// ── 21. usage is summed without wrapping; impossible reports are malformed ──

#[test]
fn a_command_agent_reporting_u64_max_tokens_cannot_pass_a_hard_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let child = agentctl(&tmp.path().join("sessions"))
        .arg("run")
        .arg(fixture("huge_usage.toml"))
        .arg("--json")
        .spawn()
        .expect("spawn");
    let out = finish(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["status"], "failed", "{v}");
    let err = v["error"].as_str().unwrap();
    assert!(
        err.contains("impossible usage") && err.contains("prompt_tokens = 18446744073709551615"),
        "{err}"
    );
    // Wrapping sums reported 0 tokens here and all four steps passed.
    assert_eq!(v["tasks_completed"], 0, "{v}");
    let total = v["tokens"]["total"].as_u64().unwrap();
    assert!(
        total <= 3000,
        "{total} tokens counted under a 3000-token budget"
    );
}

// ── real models: errors that name their cause ──

mod mock_openai;

mod child;

use child::{agentctl, finish, json, root, stderr, write};

/// Runs a built-in against a loopback server that answers every chat
/// call with HTTP 500; returns (exit code, run --json's error, stderr).
async fn builtin_against_failing_server(
    name: &str,
    json_mode: bool,
) -> (Option<i32>, Value, String) {
    let server = mock_openai::MockServer::start(|_, _| {
        mock_openai::error(500, "the model crashed: CUDA out of memory")
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let base = server.base_url();
    let wf = format!("builtin:{name}");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentctl"));
    cmd.args([
        "run",
        &wf,
        "--provider",
        "openai",
        "--base-url",
        &base,
        "--model",
        "m",
    ])
    .env("HOME", home.path())
    .env("XDG_CONFIG_HOME", home.path().join("config"))
    .env("AGENTCTL_SESSION_DIR", home.path().join("sessions"))
    .env("OPENAI_API_KEY", "sk-test-0123456789")
    .env_remove("OPENAI_BASE_URL")
    .stdin(Stdio::null())
    .kill_on_drop(true);
    if json_mode {
        cmd.arg("--json");
    }
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("the run ends")
        .expect("run agentctl");
    let v = if json_mode { json(&out) } else { Value::Null };
    (out.status.code(), v, stderr(&out))
}

#[tokio::test]
async fn a_debate_whose_calls_all_fail_says_why() {
    let (code, v, err) = builtin_against_failing_server("debate", true).await;
    assert_eq!(code, Some(1), "{err}");
    let e = v["error"].as_str().unwrap();
    assert!(
        e.starts_with("choose_store: every turn failed: ")
            && e.contains("answered HTTP 500")
            && e.contains("CUDA out of memory"),
        "{e}"
    );
    assert!(!e.contains("no debater gave a valid turn"), "{e}");
}

#[tokio::test]
async fn a_vote_whose_ballots_all_fail_says_why_on_stderr_too() {
    let (code, _, err) = builtin_against_failing_server("consensus", false).await;
    assert_eq!(code, Some(1), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(
        line.contains("root_cause: every ballot failed: ")
            && line.contains("answered HTTP 500")
            && line.contains("CUDA out of memory"),
        "{line}"
    );
    assert!(!line.contains("no ballots were cast"), "{line}");
}

#[test]
fn sim_faults_name_their_cause_in_debates_votes_and_plans() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "debate",
            r#"
[[agents]]
id = "a"
sim = { error_rate = 1.0 }
[[agents]]
id = "b"
sim = { error_rate = 1.0 }
[[nodes]]
id = "pick"
kind = "debate"
participants = ["a", "b"]
options = ["x", "y"]
rounds = 2
"#,
            "pick: every turn failed: a: sim: injected random server error",
        ),
        (
            "vote",
            r#"
[[agents]]
id = "a"
sim = { timeout_rate = 1.0 }
[[agents]]
id = "b"
sim = { timeout_rate = 1.0 }
[[nodes]]
id = "poll"
kind = "vote"
voters = ["a", "b"]
options = ["x", "y"]
"#,
            "poll: every ballot failed: ",
        ),
        (
            "plan",
            r#"
[[agents]]
id = "boss"
capabilities = ["plan"]
sim = { error_rate = 1.0 }
[[agents]]
id = "w"
capabilities = ["work"]
[[nodes]]
id = "project"
kind = "plan"
planner = "boss"
"#,
            "project: the planner failed: boss: sim: injected random server error",
        ),
    ];
    for (name, body, want) in cases {
        let text = format!("[workflow]\nname = \"{name}\"\ninput = \"q\"\n{body}");
        let wf = write(tmp.path(), &format!("{name}.toml"), &text);
        let child = agentctl(&tmp.path().join("sessions"))
            .arg("run")
            .arg(&wf)
            .arg("--json")
            .spawn()
            .expect("spawn");
        let out = finish(child, Duration::from_secs(60));
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        let v = json(&out);
        let e = v["error"].as_str().unwrap();
        assert!(e.contains(want), "{name}: {e}");
        if name == "vote" {
            assert!(e.contains("sim: injected timeout"), "{e}");
        }
    }
}

// ── real models: tool_choice forces the first round, then auto ──

/// One tool call, streamed or whole as the request asks.
fn tool_call_reply(r: &mock_openai::Seen, id: &str, name: &str, args: Value) -> mock_openai::Reply {
    let args = args.to_string();
    if r.streamed() {
        let piece = serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": args}}
            ]}, "finish_reason": null}]});
        mock_openai::Reply::Sse {
            events: vec![
                piece.to_string(),
                mock_openai::finish("tool_calls"),
                mock_openai::usage_chunk(20, 5),
            ],
            done: true,
            cut: false,
        }
    } else {
        mock_openai::Reply::json(
            200,
            serde_json::json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": null, "tool_calls": [
                        {"id": id, "type": "function", "function": {"name": name, "arguments": args}}
                    ]}}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}}),
        )
    }
}

/// Runs a one-agent tool loop (`context_put`, then `context_get`, then a
/// reply) against the loopback server; returns each round's `tool_choice`.
async fn tool_rounds(agent_settings: &str) -> Vec<Value> {
    let server = mock_openai::MockServer::start(|r, _| {
        let results = r.body["messages"]
            .as_array()
            .map_or(0, |m| m.iter().filter(|m| m["role"] == "tool").count());
        match results {
            0 => tool_call_reply(
                r,
                "t1",
                "context_put",
                serde_json::json!({"key": "colour", "value": "blue"}),
            ),
            1 => tool_call_reply(r, "t2", "context_get", serde_json::json!({"key": "colour"})),
            _ => mock_openai::sse_reply(&["the colour is blue"], Some((30, 6))),
        }
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let wf = write(
        home.path(),
        "tools.toml",
        &format!(
            r#"
[workflow]
name = "tools"
input = "remember the colour blue, then read it back"

[[agents]]
id = "keeper"
tools = ["context_put", "context_get"]
{agent_settings}

[[nodes]]
id = "keep"
kind = "agent"
agent = "keeper"
"#
        ),
    );
    let base = server.base_url();
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_agentctl"))
            .arg("run")
            .arg(&wf)
            .args([
                "--provider",
                "openai",
                "--base-url",
                &base,
                "--model",
                "m",
                "--json",
            ])
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("AGENTCTL_SESSION_DIR", home.path().join("sessions"))
            .env("OPENAI_API_KEY", "sk-test-0123456789")
            .env_remove("OPENAI_BASE_URL")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the run ends")
    .expect("run agentctl");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["outputs"], "the colour is blue", "{v}");
    let rounds: Vec<Value> = server
        .chat_requests()
        .iter()
        .map(|r| r.body.get("tool_choice").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(rounds.len(), 3, "put, get, reply: {rounds:?}");
    // The tools really ran: the value put in round 1 came back in round 2.
    let last = server.chat_requests()[2].body["messages"]
        .as_array()
        .and_then(|m| m.last().cloned())
        .unwrap();
    assert_eq!(last["role"], "tool", "{last}");
    assert!(last["content"].to_string().contains("blue"), "{last}");
    rounds
}

#[tokio::test]
async fn a_forced_tool_applies_to_the_first_round_then_the_model_chooses() {
    let rounds = tool_rounds(r#"tool_choice = "context_put""#).await;
    assert_eq!(
        rounds[0],
        serde_json::json!({"type": "function", "function": {"name": "context_put"}})
    );
    // Auto is the provider's default: not sent.
    assert_eq!(rounds[1..], [Value::Null, Value::Null], "{rounds:?}");
}

#[tokio::test]
async fn reset_tool_choice_false_keeps_the_forced_choice_every_round() {
    let rounds = tool_rounds("tool_choice = \"required\"\nreset_tool_choice = false").await;
    assert_eq!(rounds, vec![serde_json::json!("required"); 3]);
}

#[test]
fn tool_choice_must_name_a_tool_the_agent_may_use() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"tools = ["context_get"]
tool_choice = "context_put""#,
            "forces the tool `context_put`, which it may not use",
        ),
        (
            r#"tool_choice = "required""#,
            "requires a tool call but has no tools",
        ),
    ];
    for (settings, want) in cases {
        let wf = write(
            tmp.path(),
            "bad.toml",
            &format!(
                "[workflow]\nname = \"t\"\n[[agents]]\nid = \"a\"\n{settings}\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n"
            ),
        );
        let out = agentctl(&tmp.path().join("sessions"))
            .arg("validate")
            .arg(&wf)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let e = stderr(&out);
        assert!(e.contains(want) && e.contains("bad.toml:"), "{e}");
    }
}
