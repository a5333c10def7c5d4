//! MCP tool servers end to end, against real servers no one here wrote:
//! `@modelcontextprotocol/server-filesystem` and `server-everything` (npm,
//! pinned by scripts/mcp/package-lock.json) and `mcp-server-time` (PyPI),
//! installed by `scripts/mcp-servers` into the cache and run with node and
//! the venv's script (no npx). The sim scripts the models' tool calls, so
//! every flow is offline and deterministic; only loopback is reached.
//!
//! server-everything's streamable-HTTP mode is started once for this test
//! binary on a free loopback port; stdio servers are started by each run,
//! as agentctl does.

mod common;
mod mock_openai;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command as Proc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use agentctl::engine::{Orchestrator, RunOptions, RunOutcome};
use agentctl::event::{Command, Event, EventKind, RunStatus, TaskState};
use agentctl::mcp::McpTools;
use agentctl::tools::{ToolBox, ToolSettings};
use agentctl::workflow::load::{Format, load_str, load_str_with};
use agentctl::workflow::model::Workflow;
use agentctl::workflow::provider_catalog::ProviderCatalog;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

/// Where `scripts/mcp-servers paths` put the servers (installing them if
/// needed: the script is idempotent).
fn servers() -> &'static HashMap<String, String> {
    static PATHS: OnceLock<HashMap<String, String>> = OnceLock::new();
    PATHS.get_or_init(|| {
        let out = Proc::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mcp-servers"))
            .arg("paths")
            .output()
            .expect("scripts/mcp-servers runs");
        assert!(
            out.status.success(),
            "scripts/mcp-servers paths failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

fn path(name: &str) -> &'static str {
    servers()
        .get(name)
        .unwrap_or_else(|| panic!("scripts/mcp-servers printed no {name}"))
}

/// server-everything over streamable HTTP on a free loopback port, once
/// per test binary. It is started from a thread that never exits, with
/// PDEATHSIG, so it dies with this test binary.
fn everything_http() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::os::unix::process::CommandExt;
            let mut cmd = Proc::new(path("NODE"));
            cmd.args([
                "--require",
                path("LOOPBACK"),
                path("EVERYTHING"),
                "streamableHttp",
            ])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
            // SAFETY: prctl is async-signal-safe and allocates nothing.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                    Ok(())
                });
            }
            let mut child = cmd.spawn().expect("node starts server-everything");
            tx.send(child.id()).unwrap();
            let _ = child.wait();
            // PDEATHSIG follows this thread: it must outlive every test.
            loop {
                std::thread::park();
            }
        });
        rx.recv().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "server-everything did not listen on 127.0.0.1:{port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        format!("http://127.0.0.1:{port}/mcp")
    })
}

/// A workflow file in `dir` (its servers' working directory).
fn workflow(text: &str, dir: &Path) -> Arc<Workflow> {
    let origin = dir.join("wf.toml");
    match load_str(text, origin.to_str().unwrap(), Format::Toml) {
        Ok(l) => Arc::new(l.workflow),
        Err(d) => panic!("test workflow is invalid:\n{d}"),
    }
}

/// An orchestrator wired as the CLI wires one: the built-ins and the
/// workflow's MCP servers.
fn orchestrator(wf: Arc<Workflow>) -> (Orchestrator, UnboundedReceiver<Event>) {
    let mut tools = ToolBox::builtin(ToolSettings::default());
    if let Some(mcp) = McpTools::for_run(&wf, &[]) {
        tools.add_source(Arc::new(mcp));
    }
    let mut o = Orchestrator::new(wf, RunOptions::default()).with_tools(Arc::new(tools));
    let rx = o.subscribe();
    (o, rx)
}

async fn run(wf: Arc<Workflow>) -> (RunOutcome, Vec<Event>) {
    let (o, mut rx) = orchestrator(wf);
    let out = o.start().expect("start").wait().await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (out, events)
}

/// (tool, ok, output) of every tool result, in order.
fn results(events: &[Event]) -> Vec<(String, bool, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolResult {
                tool, ok, output, ..
            } => Some((tool.clone(), *ok, output.clone())),
            _ => None,
        })
        .collect()
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[tokio::test]
async fn a_workflow_lists_a_directory_and_reads_a_file_through_server_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("notes.txt"), "the MCP notes\nline two\n").unwrap();
    std::fs::create_dir(data.join("sub")).unwrap();
    let data = data.canonicalize().unwrap();
    let d = data.to_str().unwrap();
    let text = format!(
        r#"
[workflow]
name = "fs"
input = "read the notes"

[mcp.fs]
command = [{node}, {fs}, {d}]

[[agents]]
id = "reader"
tools = ["mcp:fs/*"]
sim = {{ template = "done", tool_calls = [
  {{ tool = "mcp:fs/list_directory", arguments = {{ path = {d} }} }},
  {{ tool = "mcp:fs/read_text_file", arguments = {{ path = {notes} }} }},
  {{ tool = "mcp:fs/read_text_file", arguments = {{ path = "/etc/passwd" }} }},
] }}

[[nodes]]
id = "read"
kind = "agent"
agent = "reader"
"#,
        node = toml_str(path("NODE")),
        fs = toml_str(path("FILESYSTEM")),
        d = toml_str(d),
        notes = toml_str(data.join("notes.txt").to_str().unwrap()),
    );
    let (out, events) = run(workflow(&text, dir.path())).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let r = results(&events);
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(r[0].0, "mcp:fs/list_directory");
    assert!(r[0].1, "{r:?}");
    assert!(r[0].2.contains("[FILE] notes.txt"), "{}", r[0].2);
    assert!(r[0].2.contains("[DIR] sub"), "{}", r[0].2);
    assert!(
        r[1].1 && r[1].2.contains("the MCP notes\\nline two"),
        "{}",
        r[1].2
    );
    // Outside the server's allowed directory: the server's error result
    // reaches the model as an error.
    assert!(!r[2].1, "{r:?}");
    assert!(r[2].2.starts_with("error: "), "{}", r[2].2);
    assert!(
        r[2].2.to_lowercase().contains("denied") || r[2].2.contains("outside"),
        "{}",
        r[2].2
    );
    // The model was offered the server's tools with their JSON schemas.
    let offered = events.iter().any(
        |e| matches!(&e.kind, EventKind::ToolCall { tool, .. } if tool == "mcp:fs/list_directory"),
    );
    assert!(offered);
}

/// What a flow over server-everything checks, for stdio and HTTP alike.
async fn everything_flow(server: &str) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[workflow]
name = "everything"
input = "weather"

{server}

[[agents]]
id = "w"
tools = ["mcp:ev/get-structured-content", "mcp:ev/echo", "mcp:ev/get-env"]
sim = {{ template = "ok", tool_calls = [
  {{ tool = "mcp:ev/get-structured-content", arguments = {{ location = "Chicago" }} }},
  {{ tool = "mcp:ev/get-structured-content", arguments = {{ location = "Atlantis" }} }},
  {{ tool = "mcp:ev/echo", arguments = {{ message = "hello over MCP" }} }},
  {{ tool = "mcp:ev/get-env", arguments = {{}} }},
] }}

[[nodes]]
id = "a"
kind = "agent"
agent = "w"
"#
    );
    let (out, events) = run(workflow(&text, dir.path())).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let r = results(&events);
    assert_eq!(r.len(), 4, "{r:?}");
    // A structured result: the server's structuredContent, as JSON.
    assert!(r[0].1, "{r:?}");
    let v: Value = serde_json::from_str(&r[0].2).expect("structured content is JSON");
    assert!(
        v["temperature"].is_number() && v["conditions"].is_string(),
        "{v}"
    );
    // An error result (the argument is not in the tool's enum).
    assert!(!r[1].1, "{r:?}");
    assert!(r[1].2.starts_with("error: "), "{}", r[1].2);
    assert!(r[2].1 && r[2].2.contains("hello over MCP"), "{r:?}");
    // printEnv (`get-env`): the server's environment.
    assert!(r[3].1, "{r:?}");
    let env: HashMap<String, Value> = serde_json::from_str(&r[3].2).expect("get-env gives JSON");
    assert!(!env.is_empty());
    for (k, v) in &env {
        let v = v.as_str().unwrap_or_default();
        assert!(
            !k.contains("OPENAI") && !v.contains("sk-mcp-test-openai"),
            "{k} reached the server"
        );
    }
    assert!(
        env.contains_key("PORT") || env.contains_key("PATH"),
        "{env:?}"
    );
}

/// The OpenAI key of this process, so a leak would show.
fn set_openai_key() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // SAFETY: set once, before any server starts; no other code of this
        // binary writes the environment.
        unsafe { std::env::set_var("OPENAI_API_KEY", "sk-mcp-test-openai-0123456789abcdef") };
        // agentctl takes a key it reads out of the environment; a test
        // binary read it too, as agentctl's config loading does.
        let _ = agentctl::secret::from_env("OPENAI_API_KEY");
    });
}

#[tokio::test]
async fn server_everything_over_stdio() {
    set_openai_key();
    everything_flow(&format!(
        "[mcp.ev]\ncommand = [{}, {}, \"stdio\"]\n",
        toml_str(path("NODE")),
        toml_str(path("EVERYTHING"))
    ))
    .await;
}

#[tokio::test]
async fn server_everything_over_streamable_http() {
    set_openai_key();
    everything_flow(&format!(
        "[mcp.ev]\nurl = {}\n",
        toml_str(everything_http())
    ))
    .await;
}

/// The long-running tool, paused mid-call: the call is abandoned at once
/// (not after the tool's 30 s), the task is PAUSED, and a cancel ends the
/// run.
async fn slow_tool_paused(server: &str) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[workflow]
name = "slow"
input = "wait"

{server}

[[agents]]
id = "w"
tools = ["mcp:ev/trigger-long-running-operation"]
sim = {{ template = "ok", tool_calls = [
  {{ tool = "mcp:ev/trigger-long-running-operation", arguments = {{ duration = 30, steps = 30 }} }},
] }}

[[nodes]]
id = "a"
kind = "agent"
agent = "w"
"#
    );
    let (o, mut rx) = orchestrator(workflow(&text, dir.path()));
    let h = o.start().expect("start");
    let mut seen = Vec::new();
    common::wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::ToolCall { .. })
    })
    .await;
    // Let the request reach the server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = Instant::now();
    h.send(Command::Pause {
        task: Some("a".into()),
    });
    common::wait_for(&mut rx, &mut seen, |k| {
        matches!(
            k,
            EventKind::TaskStateChanged {
                to: TaskState::Paused,
                ..
            }
        )
    })
    .await;
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the pause waited for the tool: {:?}",
        asked.elapsed()
    );
    h.send(Command::Cancel { task: None });
    let out = tokio::time::timeout(Duration::from_secs(15), h.wait())
        .await
        .expect("the cancelled run ends");
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert_eq!(out.status, RunStatus::Cancelled, "{:?}", out.error);
    assert!(
        results(&seen).is_empty(),
        "the abandoned call produced a result: {:?}",
        results(&seen)
    );
}

#[tokio::test]
async fn a_slow_tool_is_abandoned_by_a_pause_over_stdio() {
    slow_tool_paused(&format!(
        "[mcp.ev]\ncommand = [{}, {}, \"stdio\"]\n",
        toml_str(path("NODE")),
        toml_str(path("EVERYTHING"))
    ))
    .await;
}

#[tokio::test]
async fn a_slow_tool_is_abandoned_by_a_pause_over_http() {
    slow_tool_paused(&format!(
        "[mcp.ev]\nurl = {}\n",
        toml_str(everything_http())
    ))
    .await;
}

#[tokio::test]
async fn mcp_server_time_tells_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[workflow]
name = "time"
input = "now"

[mcp.time]
command = [{time}, "--local-timezone", "UTC"]

[[agents]]
id = "clock"
tools = ["mcp:time/get_current_time", "mcp:time/convert_time"]
sim = {{ template = "ok", tool_calls = [
  {{ tool = "mcp:time/get_current_time", arguments = {{ timezone = "Europe/Paris" }} }},
  {{ tool = "mcp:time/convert_time", arguments = {{ source_timezone = "UTC", time = "12:00", target_timezone = "Asia/Tokyo" }} }},
] }}

[[nodes]]
id = "a"
kind = "agent"
agent = "clock"
"#,
        time = toml_str(path("TIME"))
    );
    let (out, events) = run(workflow(&text, dir.path())).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let r = results(&events);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r[0].1, "{r:?}");
    let now: Value = serde_json::from_str(&r[0].2).expect("JSON");
    assert_eq!(now["timezone"], "Europe/Paris", "{now}");
    assert!(
        now["datetime"].as_str().is_some_and(|d| d.contains('T')),
        "{now}"
    );
    assert!(r[1].1, "{r:?}");
    let conv: Value = serde_json::from_str(&r[1].2).expect("JSON");
    assert!(
        conv["target"]["datetime"]
            .as_str()
            .is_some_and(|d| d.contains("T21:00")),
        "{conv}"
    );
}

#[tokio::test]
async fn an_approve_server_waits_at_a_gate_for_every_call() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[workflow]
name = "approve"
input = "x"

[mcp.ev]
command = [{node}, {ev}, "stdio"]
approve = ["echo"]

[[agents]]
id = "w"
tools = ["mcp:ev/echo", "mcp:ev/get-sum"]
sim = {{ template = "ok", tool_calls = [
  {{ tool = "mcp:ev/echo", arguments = {{ message = "first" }} }},
  {{ tool = "mcp:ev/get-sum", arguments = {{ a = 2, b = 3 }} }},
  {{ tool = "mcp:ev/echo", arguments = {{ message = "second" }} }},
] }}

[[nodes]]
id = "a"
kind = "agent"
agent = "w"
"#,
        node = toml_str(path("NODE")),
        ev = toml_str(path("EVERYTHING"))
    );
    let (o, mut rx) = orchestrator(workflow(&text, dir.path()));
    let h = o.start().expect("start");
    let mut events = Vec::new();
    let mut gates = 0;
    while let Some(e) = rx.recv().await {
        if let EventKind::GateOpened { gate, artifact, .. } = &e.kind {
            gates += 1;
            assert_eq!(artifact["kind"], "mcp", "{artifact}");
            // The first echo is approved, the second denied with a comment.
            let first = gates == 1;
            assert!(
                artifact["command"]
                    .as_str()
                    .unwrap()
                    .starts_with("ev/echo {"),
                "{artifact}"
            );
            h.send(Command::GateDecision {
                gate: gate.clone(),
                approve: first,
                comment: (!first).then(|| "not twice".into()),
            });
        }
        let end = matches!(e.kind, EventKind::SessionEnded { .. });
        events.push(e);
        if end {
            break;
        }
    }
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(gates, 2, "only the echo calls ask");
    let r = results(&events);
    assert!(r[0].1 && r[0].2.contains("first"), "{r:?}");
    assert!(r[1].1 && r[1].2.contains('5'), "{r:?}");
    assert!(!r[2].1, "{r:?}");
    assert!(
        r[2].2
            .contains("a human denied calling `mcp:ev/echo`: not twice"),
        "{}",
        r[2].2
    );
}

#[tokio::test]
async fn a_server_that_dies_is_reported_with_its_stderr_tail() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
[workflow]
name = "dead"
input = "x"

[mcp.dead]
command = ["/bin/sh", "-c", "echo 'fatal: no database at /var/db' >&2; exit 3"]

[[agents]]
id = "w"
tools = ["mcp:dead/*"]
sim = { template = "ok" }

[[nodes]]
id = "a"
kind = "agent"
agent = "w"
"#;
    let (out, _) = run(workflow(text, dir.path())).await;
    assert_eq!(out.status, RunStatus::Failed);
    let e = out.error.unwrap_or_default();
    assert!(e.contains("MCP server `dead`"), "{e}");
    assert!(e.contains("exit status: 3"), "{e}");
    assert!(e.contains("fatal: no database at /var/db"), "{e}");
}

/// The server's process tree is gone once the run ended: a pid file from
/// the shell that execs node names it.
#[tokio::test]
async fn servers_stop_when_the_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("server.pid");
    let script = format!(
        "echo $$ > {}; exec {} {} stdio",
        pidfile.display(),
        path("NODE"),
        path("EVERYTHING")
    );
    let text = format!(
        r#"
[workflow]
name = "stop"
input = "x"

[mcp.ev]
command = ["/bin/sh", "-c", {script}]

[[agents]]
id = "w"
tools = ["mcp:ev/echo"]
sim = {{ template = "ok", tool_calls = [ {{ tool = "mcp:ev/echo", arguments = {{ message = "hi" }} }} ] }}

[[nodes]]
id = "a"
kind = "agent"
agent = "w"
"#,
        script = toml_str(&script)
    );
    let (out, events) = run(workflow(&text, dir.path())).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert!(results(&events)[0].1);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server {pid} outlived its run: {stat}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn validation_names_a_missing_server_and_hints() {
    let text = r#"
[workflow]
name = "v"

[mcp.fs]
command = ["node", "fs.js"]

[[agents]]
id = "a"
tools = ["mcp:fz/read_text_file", "mcp:nope/*", "mcp:bad"]

[[nodes]]
id = "n"
kind = "agent"
agent = "a"
"#;
    let catalog = ProviderCatalog::builtin().with_mcp_servers(vec!["github".into()]);
    let Err(e) = load_str_with(text, "v.toml", Format::Toml, &catalog) else {
        panic!("an undeclared server is accepted");
    };
    let e = e.to_string();
    assert!(
        e.contains("v.toml:10:")
            && e.contains(
                "agent `a` lists `mcp:fz/read_text_file`, but no MCP server `fz` is declared"
            ),
        "{e}"
    );
    assert!(e.contains("did you mean `mcp:fs/...`?"), "{e}");
    assert!(
        e.contains("no MCP server `nope`") && e.contains("[mcp.nope]"),
        "{e}"
    );
    assert!(e.contains("declared: fs, github"), "{e}");
    assert!(e.contains("`mcp:bad` is not an MCP tool name"), "{e}");
    // A forced choice may name a tool a server glob covers.
    let forced = "[workflow]\nname = \"f\"\n[mcp.fs]\ncommand = [\"x\"]\n[[agents]]\nid = \"a\"\ntools = [\"mcp:fs/*\"]\ntool_choice = \"mcp:fs/read_text_file\"\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n";
    assert!(load_str(forced, "f.toml", Format::Toml).is_ok());
    let Err(e) = load_str(
        &forced.replace("mcp:fs/read_text_file", "mcp:gh/x"),
        "f.toml",
        Format::Toml,
    ) else {
        panic!("a tool outside the agent's tools is forced");
    };
    assert!(e.to_string().contains("forces the tool `mcp:gh/x`"), "{e}");
    // Declared in config.toml: fine.
    let ok = text
        .replace("mcp:fz/read_text_file", "mcp:github/issues")
        .replace(", \"mcp:nope/*\", \"mcp:bad\"", "");
    assert!(load_str_with(&ok, "v.toml", Format::Toml, &catalog).is_ok());
}

#[test]
fn a_literal_secret_in_a_workflow_is_refused_with_where_and_how() {
    let text = r#"
[workflow]
name = "v"

[mcp.gh]
url = "https://mcp.example.org/mcp"
headers = { Authorization = "Bearer ghp_literal" }

[mcp.both]
command = ["x"]
url = "http://127.0.0.1:1/mcp"

[[agents]]
id = "a"
tools = ["mcp:gh/*", "mcp:both/*"]

[[nodes]]
id = "n"
kind = "agent"
agent = "a"
"#;
    let Err(e) = load_str(text, "v.toml", Format::Toml) else {
        panic!("a literal secret is accepted");
    };
    let e = e.to_string();
    assert!(e.contains("v.toml:7:"), "{e}");
    assert!(
        e.contains("header Authorization of MCP server `gh` is written in the workflow file"),
        "{e}"
    );
    assert!(e.contains("${VAR}"), "{e}");
    assert!(
        e.contains("v.toml:11:") && e.contains("has both `command` and `url`"),
        "{e}"
    );
    // A `${VAR}` reference is fine: only the name is in the file.
    let ok = text
        .replace("Bearer ghp_literal", "Bearer ${GH_TOKEN}")
        .replace("command = [\"x\"]\n", "");
    assert!(load_str(&ok, "v.toml", Format::Toml).is_ok());
}

/// The CLI: bad MCP config is exit 2 with file, line and field; a run's
/// session file and the server see no secret: neither the OpenAI key of
/// agentctl's environment, nor a provider's or another server's secret
/// from config.toml; the server's own `${VAR}` secret is redacted from what
/// its tool returns.
#[test]
fn cli_keeps_secrets_from_servers_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_agentctl");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[mcp.x]\ncommand = []\n").unwrap();
    let wf = dir.path().join("wf.toml");
    std::fs::write(
        &wf,
        format!(
            r#"
[workflow]
name = "env"
input = "x"

[mcp.ev]
command = [{node}, {ev}, "stdio"]
env = {{ EV_TOKEN = "${{AGENTCTL_MCP_TEST_EV_TOKEN}}", MODE = "test" }}

[[agents]]
id = "w"
tools = ["mcp:ev/get-env"]
sim = {{ template = "ok", tool_calls = [ {{ tool = "mcp:ev/get-env", arguments = {{}} }} ] }}

[[nodes]]
id = "a"
kind = "agent"
agent = "w"
"#,
            node = toml_str(path("NODE")),
            ev = toml_str(path("EVERYTHING"))
        ),
    )
    .unwrap();
    let out = Proc::new(bin)
        .args(["validate", "--config"])
        .arg(&bad)
        .arg(&wf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:1: [mcp.x] command: MCP server `x` has an empty `command`",
            bad.display()
        )),
        "{err}"
    );
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key = \"sk-config-provider-secret-0123456789\"\n\n[mcp.other]\ncommand = [\"true\"]\nenv = { OTHER_TOKEN = \"other-server-secret-value\" }\n",
    )
    .unwrap();
    let sessions = dir.path().join("sessions");
    let out = Proc::new(bin)
        .args(["run", "--json", "--config"])
        .arg(&config)
        .arg(&wf)
        .env("AGENTCTL_SESSION_DIR", &sessions)
        .env("OPENAI_API_KEY", "sk-cli-openai-key-0123456789abcdef")
        .env("AGENTCTL_MCP_TEST_EV_TOKEN", "ev-own-secret-value")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_str(&stdout).expect("--json summary");
    let file = summary["session_file"].as_str().expect("a session file");
    let session = std::fs::read_to_string(file).unwrap();
    let result = session
        .lines()
        .find(|l| l.contains("\"tool_result\""))
        .expect("a tool_result event");
    let event: Value = serde_json::from_str(result).unwrap();
    assert_eq!(event["ok"], true, "{event}");
    let env: HashMap<String, String> =
        serde_json::from_str(event["output"].as_str().unwrap()).expect("the server's env");
    assert_eq!(env.get("MODE").map(String::as_str), Some("test"), "{env:?}");
    assert_eq!(
        env.get("EV_TOKEN").map(String::as_str),
        Some("[REDACTED]"),
        "{env:?}"
    );
    assert!(env.contains_key("PATH"), "{env:?}");
    for k in env.keys() {
        assert!(
            ["PATH", "HOME", "EV_TOKEN", "MODE"].contains(&k.as_str())
                || k.starts_with("npm_")
                || k == "PWD"
                || k == "SHLVL"
                || k == "_",
            "the server saw {k}: {env:?}"
        );
    }
    for secret in [
        "sk-cli-openai-key-0123456789abcdef",
        "sk-config-provider-secret-0123456789",
        "other-server-secret-value",
        "ev-own-secret-value",
    ] {
        assert!(!session.contains(secret), "{secret} is in the session file");
        assert!(!stdout.contains(secret), "{secret} is in the output");
    }
}

/// A real provider (the openai client against a loopback server): MCP
/// tools go out under names OpenAI accepts (`[A-Za-z0-9_-]`), a forced
/// choice names the same, and the model's call comes back to the server's
/// tool under its `mcp:` name.
#[tokio::test]
async fn openai_gets_wire_safe_names_and_the_call_reaches_the_server() {
    use agentctl::llm::openai::{OpenAiProvider, OpenAiSettings};
    use mock_openai::*;
    use serde_json::json;
    let server = MockServer::start(|r, _| {
        let has_results = r.body["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"));
        if has_results {
            return sse_reply(&["echoed"], Some((20, 2)));
        }
        let call = json!({"choices": [{"index": 0, "delta": {"tool_calls": [{
            "index": 0, "id": "c1", "type": "function",
            "function": {"name": "mcp__ev__echo", "arguments": "{\"message\":\"via openai\"}"}
        }]}, "finish_reason": null}]})
        .to_string();
        Reply::Sse {
            events: vec![call, finish("tool_calls"), usage_chunk(30, 5)],
            done: true,
            cut: false,
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[workflow]
name = "wire"
input = "x"

[mcp.ev]
command = [{node}, {ev}, "stdio"]

[[agents]]
id = "w"
provider = "openai"
tools = ["mcp:ev/echo"]
tool_choice = "mcp:ev/echo"
retry = false

[[nodes]]
id = "a"
kind = "agent"
agent = "w"
"#,
        node = toml_str(path("NODE")),
        ev = toml_str(path("EVERYTHING"))
    );
    let wf = workflow(&text, dir.path());
    let mut tools = ToolBox::builtin(ToolSettings::default());
    tools.add_source(Arc::new(McpTools::for_run(&wf, &[]).expect("a server")));
    let p =
        Arc::new(OpenAiProvider::new(OpenAiSettings::new("openai", server.base_url())).unwrap());
    let mut o = Orchestrator::new(wf, RunOptions::default())
        .with_tools(Arc::new(tools))
        .with_provider("openai", p);
    let mut rx = o.subscribe();
    let out = o.start().unwrap().wait().await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let first = &server.chat_requests()[0].body;
    let names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mcp__ev__echo"]);
    assert_eq!(first["tool_choice"]["function"]["name"], "mcp__ev__echo");
    let r = results(&events);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, "mcp:ev/echo");
    assert!(r[0].1 && r[0].2.contains("via openai"), "{r:?}");
    // The second request carries the assistant's call as the model named it.
    let second = &server.chat_requests()[1].body;
    assert!(second.to_string().contains("mcp__ev__echo"), "{second}");
}
