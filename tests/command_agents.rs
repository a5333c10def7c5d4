//! Agents that are code: command agents (external programs) and custom Rust
//! agents, inside workflows next to sim agents, steered like any agent.
//! These start real processes, so they use real time, with short bounds.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use agentctl::agent::{Agent, AgentContext, AgentError, AgentOutput, AgentTask};
use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::{Command, ErrorKind, EventKind, Id, RunStatus};
use agentctl::workflow::load::{Format, load_str};
use common::*;
use serde_json::{Value, json};

/// A workflow whose command agents run scripts written into `dir`.
fn wf_in(dir: &Path, text: &str) -> Arc<agentctl::workflow::model::Workflow> {
    let path = dir.join("flow.toml");
    std::fs::write(&path, text).unwrap();
    match load_str(text, path.to_str().unwrap(), Format::Toml) {
        Ok(l) => Arc::new(l.workflow),
        Err(d) => panic!("{d}"),
    }
}

fn script(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

fn one_agent(command: &str, extra: &str) -> String {
    let timeout = if extra.contains("timeout_ms") {
        ""
    } else {
        ", timeout_ms = 3000"
    };
    format!(
        r#"
[workflow]
name = "cmd"
input = "hello world"
[[agents]]
id = "prog"
kind = "command"
command = {{ run = {command}, inherit_env = ["PATH"]{timeout}{extra} }}
[[nodes]]
id = "job"
kind = "agent"
agent = "prog"
"#
    )
}

#[tokio::test]
async fn the_example_pipeline_mixes_a_sim_agent_python_and_shell() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/agents/pipeline.toml");
    let w = Arc::new(
        agentctl::workflow::load::load_source(path)
            .unwrap_or_else(|d| panic!("{d}"))
            .workflow,
    );
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        out.output,
        Some(json!({"words": 6, "text": "DRAFT: AGENTS CAN BE PROGRAMS TOO"}))
    );
    // stderr lines reached the bus.
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::Bus { message }
        if &*message.topic == "agent.shouter.log" && message.payload == json!("upper-casing 33 characters"))));
    // Code agents spend no tokens: only the sim writer did.
    let writer_tokens: u64 = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LlmResponse { agent, usage, .. } if &**agent == "writer" => {
                Some(usage.total())
            }
            _ => None,
        })
        .sum();
    assert_eq!(out.usage.total(), writer_tokens);
}

#[tokio::test]
async fn exit_75_is_retryable_and_a_retry_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "flaky.py",
        "import json,sys\nr=json.load(sys.stdin)\nif r['attempt']==1:\n    print('db busy',file=sys.stderr); sys.exit(75)\nprint(json.dumps({'output':'ok on '+str(r['attempt'])}))\n",
    );
    let w = wf_in(dir.path(), &one_agent(r#"["python3", "flaky.py"]"#, ""));
    let (h, mut rx) = start(
        w,
        RunOptions {
            hold_failed: true,
            ..Default::default()
        },
    );
    let mut seen = Vec::new();
    let failed = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::TaskFailed { .. })
    })
    .await;
    let EventKind::TaskFailed {
        kind, error, held, ..
    } = failed.kind
    else {
        unreachable!()
    };
    assert!(kind.is_retryable() && held);
    assert!(
        error.contains("exit 75") && error.contains("db busy"),
        "{error}"
    );
    h.send(Command::Retry {
        task: Id::from("job"),
    });
    let out = h.wait().await;
    assert_eq!(out.output, Some(json!("ok on 2")));
}

#[tokio::test]
async fn other_exit_codes_are_fatal_and_say_what_the_program_said() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "bad.sh",
        "cat >/dev/null\necho 'no such table: users' >&2\nexit 2\n",
    );
    let (out, events) = run(wf_in(dir.path(), &one_agent(r#"["sh", "bad.sh"]"#, ""))).await;
    assert_eq!(out.status, RunStatus::Failed);
    let kind = events.iter().find_map(|e| match &e.kind {
        EventKind::TaskFailed { kind, .. } => Some(*kind),
        _ => None,
    });
    assert_eq!(kind, Some(ErrorKind::InvalidRequest));
    let err = out.error.unwrap_or_default();
    assert!(
        err.contains("exit code 2") && err.contains("no such table: users"),
        "{err}"
    );
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    script(
        dir.path(),
        "hang.sh",
        &format!(
            "cat >/dev/null\nsleep 30 &\necho $! > {}\nwait\n",
            pidfile.display()
        ),
    );
    let t0 = std::time::Instant::now();
    let (out, events) = run(wf_in(
        dir.path(),
        &one_agent(r#"["sh", "hang.sh"]"#, ", timeout_ms = 400"),
    ))
    .await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::TaskFailed {
            kind: ErrorKind::Timeout,
            ..
        }
    )));
    assert!(
        out.error
            .unwrap_or_default()
            .contains("did not answer within 400 ms")
    );
    // The grandchild (sleep 30) is gone too.
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Killed processes may linger as zombies until their new parent reaps
    // them (in a container PID 1 may never do it): a zombie is not running.
    let running = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    };
    let mut alive = true;
    for _ in 0..100 {
        alive = running();
        if !alive {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !alive,
        "the agent's child process {pid} survived the timeout"
    );
}

#[tokio::test]
async fn output_that_is_not_json_or_too_large_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    script(
        dir.path(),
        "chatty.sh",
        "cat >/dev/null\necho 'Sure! Here is the answer: 42'\n",
    );
    let (out, _) = run(wf_in(dir.path(), &one_agent(r#"["sh", "chatty.sh"]"#, ""))).await;
    let err = out.error.unwrap_or_default();
    assert!(
        err.contains("not one JSON object") && err.contains("Sure! Here is"),
        "{err}"
    );

    script(
        dir.path(),
        "flood.py",
        "import sys\nsys.stdin.read()\nsys.stdout.write('{\"output\": \"' + 'x' * 3000000 + '\"}')\n",
    );
    let (out, _) = run(wf_in(
        dir.path(),
        &one_agent(r#"["python3", "flood.py"]"#, ""),
    ))
    .await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.error.unwrap_or_default();
    assert!(
        err.contains("more than 1048576 bytes") && err.contains("max_output_bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn the_environment_is_explicit() {
    let dir = tempfile::tempdir().unwrap();
    // sh, not python3: a pyenv shim would add variables of its own.
    script(
        dir.path(),
        "env.sh",
        "cat >/dev/null\nnames=$(env | cut -d= -f1 | grep -v -x -e PWD -e SHLVL -e _ | sort | tr '\\n' ' ')\nprintf '{\"output\": \"%s\"}' \"$names\"\n",
    );
    // SAFETY: tests in this binary do not read this variable concurrently.
    unsafe { std::env::set_var("AGENTCTL_TEST_SECRET", "s3cr3t") };
    let (out, _) = run(wf_in(
        dir.path(),
        &one_agent(r#"["sh", "env.sh"]"#, r#", env = { MODE = "test" }"#),
    ))
    .await;
    assert_eq!(out.output, Some(json!("MODE PATH ")));
}

#[tokio::test]
async fn a_crashed_persistent_process_is_restarted_and_the_task_retried() {
    let agents = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/agents");
    let text = format!(
        r#"
[workflow]
name = "persistent"
[[agents]]
id = "counter"
kind = "command"
concurrency = 1
command = {{ run = ["python3", "counter_server.py"], cwd = "{agents}", inherit_env = ["PATH"], persistent = true, timeout_ms = 5000 }}
[[nodes]]
id = "each"
kind = "map"
items = ["a", "b", "crash", "c"]
concurrency = 1
body = "count"
[[nodes]]
id = "count"
kind = "agent"
agent = "counter"
"#
    );
    let w = Arc::new(
        load_str(&text, "inline.toml", Format::Toml)
            .unwrap_or_else(|d| panic!("{d}"))
            .workflow,
    );
    let (h, mut rx) = start(
        w,
        RunOptions {
            hold_failed: true,
            ..Default::default()
        },
    );
    let mut seen = Vec::new();
    let failed = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::TaskFailed { .. })
    })
    .await;
    let EventKind::TaskFailed {
        task, kind, error, ..
    } = failed.kind
    else {
        unreachable!()
    };
    assert_eq!(&*task, "each[2]/count");
    assert!(kind.is_retryable(), "{error}");
    assert!(error.contains("exited mid-task"), "{error}");
    h.send(Command::Retry { task });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let results = out.output.unwrap();
    let pid = |i: usize| results[i]["pid"].as_u64().unwrap();
    let seen_n = |i: usize| results[i]["seen"].as_u64().unwrap();
    // One process served a and b (state kept: seen 1, 2); a new one served
    // the retried task and c.
    assert_eq!(pid(0), pid(1));
    assert_ne!(pid(1), pid(2));
    assert_eq!(pid(2), pid(3));
    assert_eq!((seen_n(0), seen_n(1), seen_n(2), seen_n(3)), (1, 2, 1, 2));
}

/// A Rust agent standing in for a data source.
struct Collector {
    calls: Arc<AtomicU32>,
}

impl Agent for Collector {
    async fn process(&self, task: AgentTask, ctx: AgentContext) -> Result<AgentOutput, AgentError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let source = task
            .input
            .get("source")
            .and_then(Value::as_str)
            .ok_or_else(|| AgentError::fatal("input needs a `source`"))?;
        ctx.publish(
            "collector.progress",
            "log",
            json!(format!("reading {source}")),
        )
        .await
        .ok();
        // Slow enough for a pause to land mid-call; cancellation ends it early.
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            _ = ctx.cancellation().cancelled() => return Err(AgentError::retryable("cancelled")),
        }
        Ok(AgentOutput::new(
            json!({"rows": 3, "source": source, "attempt": task.attempt}),
        ))
    }
}

const CUSTOM: &str = r#"
[workflow]
name = "custom"
input = { source = "database" }
[[agents]]
id = "collector"
kind = "custom"
[[agents]]
id = "backup"
kind = "custom"
[[agents]]
id = "summariser"
sim = { template = "summary of {{input}}" }
[[nodes]]
id = "main"
kind = "sequence"
steps = ["collect", "summarise"]
[[nodes]]
id = "collect"
kind = "agent"
agent = "collector"
[[nodes]]
id = "summarise"
kind = "agent"
agent = "summariser"
"#;

#[tokio::test]
async fn a_custom_rust_agent_runs_next_to_sim_agents_and_obeys_pause() {
    let calls = Arc::new(AtomicU32::new(0));
    let mut orch = Orchestrator::new(wf(CUSTOM), RunOptions::default());
    orch.register(
        "collector",
        Collector {
            calls: calls.clone(),
        },
    );
    orch.register(
        "backup",
        Collector {
            calls: Arc::new(AtomicU32::new(0)),
        },
    );
    let mut rx = orch.subscribe();
    let h = orch.start().unwrap();
    let mut seen = Vec::new();
    wait_for(
        &mut rx,
        &mut seen,
        |k| matches!(k, EventKind::TaskAssigned { task, .. } if &**task == "collect"),
    )
    .await;
    h.send(Command::Pause {
        task: Some(Id::from("collect")),
    });
    wait_for(&mut rx, &mut seen, |k| {
        matches!(
            k,
            EventKind::TaskStateChanged {
                to: agentctl::event::TaskState::Paused,
                ..
            }
        )
    })
    .await;
    h.send(Command::Resume {
        task: Some(Id::from("collect")),
    });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the paused call was abandoned and made again"
    );
    let text = out.output.as_ref().and_then(Value::as_str).unwrap_or("");
    assert!(
        text.contains(r#""rows":3"#) && text.contains(r#""attempt":2"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_custom_agent_task_can_be_rerouted_and_unregistered_agents_are_refused() {
    let calls = Arc::new(AtomicU32::new(0));
    let backup_calls = Arc::new(AtomicU32::new(0));
    let mut orch = Orchestrator::new(wf(CUSTOM), RunOptions::default());
    orch.register(
        "collector",
        Collector {
            calls: calls.clone(),
        },
    );
    orch.register(
        "backup",
        Collector {
            calls: backup_calls.clone(),
        },
    );
    let mut rx = orch.subscribe();
    let h = orch.start().unwrap();
    let mut seen = Vec::new();
    wait_for(
        &mut rx,
        &mut seen,
        |k| matches!(k, EventKind::TaskAssigned { task, .. } if &**task == "collect"),
    )
    .await;
    h.send(Command::Reroute {
        task: Id::from("collect"),
        agent: Id::from("backup"),
    });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(backup_calls.load(Ordering::SeqCst), 1);

    let orch = Orchestrator::new(wf(CUSTOM), RunOptions::default());
    let err = orch
        .start()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("`backup` is a custom agent") || err.contains("`collector` is a custom agent"),
        "{err}"
    );
    let mut orch = Orchestrator::new(wf(CUSTOM), RunOptions::default());
    orch.register("collecter", Collector { calls });
    assert!(
        orch.start()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("no agent with that id")
    );
}
