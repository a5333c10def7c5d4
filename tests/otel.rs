//! The OpenTelemetry export end to end, against real receivers that no one
//! here wrote (`scripts/otel-receivers` installs them into a cache): a live
//! `agentctl run builtin:demo --otlp …` on the sim, its span tree checked in
//! Arize Phoenix (through Phoenix's REST API) and its metrics in oteltap
//! (from the NDJSON it prints). Each server starts once per test binary on
//! a free loopback port with a temporary working directory; Phoenix's own
//! telemetry and outbound requests are off. What the receivers got is
//! compared with the run's own session file, an independent record.
//!
//! Never skipped: a receiver that cannot be installed or started fails the
//! tests that need it, with the reason.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Phoenix imports a large Python stack and migrates its database at start.
const SERVER_START: Duration = Duration::from_secs(600);
/// How long spans may take to show in Phoenix's API after the run.
const INGEST: Duration = Duration::from_secs(60);

/// The one Phoenix of this test binary: `127.0.0.1:PORT` (UI, REST API
/// and OTLP/HTTP). `AGENTCTL_TEST_PHOENIX=HOST:PORT` uses one already
/// running instead (for development: it takes minutes to start on a busy
/// machine).
fn phoenix() -> &'static str {
    static P: OnceLock<Result<String, String>> = OnceLock::new();
    match P.get_or_init(|| match std::env::var("AGENTCTL_TEST_PHOENIX") {
        Ok(addr) => Ok(addr),
        Err(_) => start_phoenix(),
    }) {
        Ok(r) => r,
        Err(e) => panic!("Arize Phoenix is not available: {e}"),
    }
}

/// The one oteltap of this test binary: its address and where it prints.
fn oteltap() -> &'static (String, PathBuf) {
    static T: OnceLock<Result<(String, PathBuf), String>> = OnceLock::new();
    match T.get_or_init(start_oteltap) {
        Ok(r) => r,
        Err(e) => panic!("oteltap is not available: {e}"),
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().unwrap().port()
}

/// The temporary directory of this test binary's servers (removed with it:
/// kept in a static that lives until the process ends).
fn work_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temp dir"))
        .path()
}

/// Spawns `cmd` from a thread that lives as long as the process, with
/// PR_SET_PDEATHSIG: the server dies with this test binary, however it ends.
fn spawn_for_life(mut cmd: Command, log: PathBuf) -> Result<u32, String> {
    let (tx, rx) = mpsc::channel::<Result<u32, String>>();
    let program = cmd.get_program().to_string_lossy().to_string();
    std::thread::spawn(move || {
        let spawned = std::fs::File::create(&log)
            .and_then(|f| Ok((f.try_clone()?, f)))
            .and_then(|(out, err)| {
                cmd.stdin(Stdio::null()).stdout(out).stderr(err);
                // SAFETY: only async-signal-safe calls between fork and exec.
                unsafe {
                    cmd.pre_exec(|| {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                cmd.spawn()
            });
        match spawned {
            Ok(mut child) => {
                let _ = tx.send(Ok(child.id()));
                let _ = child.wait();
                loop {
                    std::thread::park();
                }
            }
            Err(e) => {
                let _ = tx.send(Err(format!("cannot start {program}: {e}")));
            }
        }
    });
    rx.recv()
        .map_err(|_| "the spawning thread ended".to_string())?
}

/// `PYTHON` and `PHOENIX` from `scripts/otel-receivers paths` (which
/// installs them when missing).
fn receiver_paths() -> Result<(String, String), String> {
    static PATHS: OnceLock<Result<(String, String), String>> = OnceLock::new();
    PATHS
        .get_or_init(|| {
            let script = Path::new(ROOT).join("scripts/otel-receivers");
            let out = Command::new(&script)
                .arg("paths")
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "`scripts/otel-receivers paths` failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let path = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key).map(str::to_string))
                    .ok_or_else(|| {
                        format!("`scripts/otel-receivers paths` printed no {key} line:\n{text}")
                    })
            };
            Ok((path("PYTHON=")?, path("PHOENIX=")?))
        })
        .clone()
}

fn alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only asks whether the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

fn tail(p: &Path) -> String {
    let t = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = t.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn start_oteltap() -> Result<(String, PathBuf), String> {
    let (python, _) = receiver_paths()?;
    // Its CLI prints every span, log record and metric as NDJSON.
    let port = free_port();
    let out = work_dir().join("oteltap.ndjson");
    let mut tap = Command::new(&python);
    tap.args(["-m", "oteltap", "--port", &port.to_string()])
        .env("PYTHONUNBUFFERED", "1")
        .current_dir(work_dir());
    let pid = spawn_for_life(tap, out.clone())?;
    let deadline = Instant::now() + SERVER_START;
    loop {
        if std::fs::read_to_string(&out).is_ok_and(|t| t.contains("Listening")) {
            return Ok((format!("127.0.0.1:{port}"), out));
        }
        if !alive(pid) {
            return Err(format!("oteltap exited while starting:\n{}", tail(&out)));
        }
        if Instant::now() > deadline {
            return Err(format!("oteltap did not start within {SERVER_START:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_phoenix() -> Result<String, String> {
    let (_, phoenix_bin) = receiver_paths()?;
    let port = free_port();
    let dir = work_dir().join("phoenix");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut phoenix = Command::new(&phoenix_bin);
    // Nothing that reaches beyond this machine: no telemetry of its own,
    // no external resources, no assistant or agent tools.
    phoenix
        .arg("serve")
        .current_dir(work_dir())
        .env("PYTHONUNBUFFERED", "1")
        .env("PHOENIX_WORKING_DIR", &dir)
        .env("PHOENIX_HOST", "127.0.0.1")
        .env("PHOENIX_PORT", port.to_string())
        .env("PHOENIX_GRPC_PORT", free_port().to_string())
        .env("PHOENIX_TELEMETRY_ENABLED", "false")
        .env("PHOENIX_ALLOW_EXTERNAL_RESOURCES", "false")
        .env("PHOENIX_DISABLE_AGENT_ASSISTANT", "true")
        .env("PHOENIX_AGENTS_DISABLE_WEB_ACCESS", "true")
        .env("PHOENIX_AGENTS_DISABLE_BASH", "true")
        .env("PHOENIX_AGENTS_DISABLE_GITHUB", "true")
        .env("PHOENIX_ENABLE_MCP_SERVER", "false");
    let log = work_dir().join("phoenix.log");
    let pid = spawn_for_life(phoenix, log.clone())?;
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + SERVER_START;
    loop {
        if get(&addr, "/healthz").is_some_and(|(s, _)| s == 200) {
            return Ok(addr);
        }
        if !alive(pid) {
            return Err(format!("Phoenix exited while starting:\n{}", tail(&log)));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "Phoenix did not answer within {SERVER_START:?}; its log:\n{}",
                tail(&log)
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A plain HTTP/1.1 GET: status and body (chunked bodies decoded).
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let n = usize::from_str_radix(size.trim(), 16).ok()?;
        if n == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..n)?);
        body = rest.get(n + 2..)?;
    }
}

/// A finished `agentctl run builtin:demo` and its session file's events.
struct DemoRun {
    out: Output,
    summary: Value,
    events: Vec<Value>,
}

fn run_demo(args: &[&str], config: Option<&str>) -> DemoRun {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentctl"));
    cmd.args(["run", "builtin:demo", "--auto-approve", "--json"])
        .arg("--session-dir")
        .arg(dir.path())
        .args(args)
        .stdin(Stdio::null())
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_EXPORTER_OTLP_HEADERS");
    if let Some(text) = config {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        cmd.arg("--config").arg(path);
    }
    let out = cmd.output().unwrap();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let file = summary["session_file"]
        .as_str()
        .expect("a session file")
        .to_string();
    let events = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("type").is_some())
        .collect();
    DemoRun {
        out,
        summary,
        events,
    }
}

impl DemoRun {
    fn of_type<'a>(&'a self, t: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["type"] == t)
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).to_string()
    }
}

/// Every span of the trace of `session` in Phoenix, once its model calls
/// and tasks are all there (Phoenix ingests in the background).
fn phoenix_trace(session: &str, want_chats: usize, want_tasks: usize) -> Vec<Value> {
    let deadline = Instant::now() + INGEST;
    loop {
        let spans = phoenix_spans(phoenix(), "name=run%20demo");
        let trace = spans
            .iter()
            .find(|s| s["attributes"]["agentctl.session.id"] == session)
            .and_then(|s| s["context"]["trace_id"].as_str().map(str::to_string));
        if let Some(trace) = trace {
            let all = phoenix_spans(phoenix(), &format!("trace_id={trace}"));
            let count = |p: &str| {
                all.iter()
                    .filter(|s| s["name"].as_str().is_some_and(|n| n.starts_with(p)))
                    .count()
            };
            if count("chat ") == want_chats && count("task ") == want_tasks {
                return all;
            }
            if Instant::now() > deadline {
                panic!(
                    "Phoenix holds {} chat and {} task spans of session {session}; the run made {want_chats} and {want_tasks}",
                    count("chat "),
                    count("task ")
                );
            }
        } else if Instant::now() > deadline {
            panic!("Phoenix has no run span of session {session}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn phoenix_spans(addr: &str, filter: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/v1/projects/default/spans?limit=1000&{filter}{cursor}");
        let Some((200, body)) = get(addr, &path) else {
            return out;
        };
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        out.extend(v["data"].as_array().cloned().unwrap_or_default());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

#[test]
fn the_demo_span_tree_and_its_genai_attributes_land_in_phoenix() {
    let url = format!("http://{}", phoenix());
    // Phoenix takes traces only.
    let run = run_demo(&["--otlp", &url], Some("[telemetry]\nmetrics = false\n"));
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(
        !run.stderr().contains("telemetry"),
        "every span delivered: {}",
        run.stderr()
    );
    let session = run.summary["session"].as_str().unwrap();
    let requests: Vec<&Value> = run.of_type("llm_request").collect();
    let responses: Vec<&Value> = run.of_type("llm_response").collect();
    let tasks = run.of_type("task_created").count();
    let spans = phoenix_trace(session, requests.len(), tasks);
    let by_id: HashMap<&str, &Value> = spans
        .iter()
        .map(|s| (s["context"]["span_id"].as_str().unwrap(), s))
        .collect();
    let parent = |s: &Value| s["parent_id"].as_str().and_then(|p| by_id.get(p).copied());
    let name = |s: &Value| s["name"].as_str().unwrap().to_string();
    let roots: Vec<&Value> = spans.iter().filter(|s| s["parent_id"].is_null()).collect();
    assert_eq!(roots.len(), 1, "one root");
    assert_eq!(name(roots[0]), "run demo");
    assert_eq!(roots[0]["status_code"], "OK");
    assert_eq!(roots[0]["attributes"]["agentctl.run.status"], "succeeded");
    // Every model call: chat → invoke_agent → task → node (nested as the
    // workflow nests: design inside build inside ship) → run.
    let mut input_tokens = 0;
    let mut output_tokens = 0;
    for c in spans.iter().filter(|s| name(s).starts_with("chat ")) {
        let a = &c["attributes"];
        assert_eq!(
            c["span_kind"], "LLM",
            "Phoenix reads gen_ai.operation.name = chat"
        );
        assert_eq!(a["gen_ai.operation.name"], "chat");
        assert_eq!(a["gen_ai.provider.name"], "sim");
        assert_eq!(a["gen_ai.request.model"], "sim-1");
        assert_eq!(
            a["gen_ai.response.finish_reasons"],
            serde_json::json!(["stop"])
        );
        assert_eq!(
            a["llm.token_count.prompt"], a["gen_ai.usage.input_tokens"],
            "Phoenix's own token count"
        );
        input_tokens += int(&a["gen_ai.usage.input_tokens"]);
        output_tokens += int(&a["gen_ai.usage.output_tokens"]);
        let attempt = parent(c).expect("a parent");
        assert!(
            name(attempt).starts_with("invoke_agent "),
            "{}",
            name(attempt)
        );
        assert_eq!(attempt["span_kind"], "AGENT");
        assert_eq!(
            attempt["attributes"]["gen_ai.agent.name"],
            a["gen_ai.agent.name"]
        );
        let task = parent(attempt).expect("a task");
        assert!(name(task).starts_with("task "), "{}", name(task));
        assert_eq!(
            task["attributes"]["agentctl.task.id"],
            a["agentctl.task.id"]
        );
        let mut up = parent(task).expect("a node");
        assert!(name(up).starts_with("node "), "{}", name(up));
        while name(up).starts_with("node ") {
            up = parent(up).expect("a parent of a node");
        }
        assert_eq!(name(up), "run demo");
    }
    let sum = |key: &str| responses.iter().map(|e| int(&e["usage"][key])).sum::<i64>();
    assert_eq!(
        (input_tokens, output_tokens),
        (sum("prompt_tokens"), sum("completion_tokens")),
        "the spans carry the usage the session recorded"
    );
    let node = |id: &str| {
        spans
            .iter()
            .find(|s| name(s) == format!("node {id}"))
            .unwrap_or_else(|| panic!("no span of node {id}"))
    };
    assert_eq!(name(parent(node("design")).unwrap()), "node build");
    assert_eq!(name(parent(node("build")).unwrap()), "node ship");
    assert_eq!(name(parent(node("check")).unwrap()), "node checks");
    // The gate's decision is on its task.
    let gate = spans.iter().find(|s| name(s) == "task ship").unwrap();
    let events: Vec<&str> = gate["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(events, ["gate_opened", "gate_decided"]);
    // The reviewer sent the work back once: second attempts exist.
    assert!(
        spans
            .iter()
            .any(|s| s["attributes"]["agentctl.attempt"] == 2)
    );
    // No content without include_content.
    for s in &spans {
        for key in [
            "agentctl.task.input",
            "agentctl.task.output",
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.system_instructions",
        ] {
            assert!(s["attributes"].get(key).is_none(), "{key} on {}", name(s));
        }
    }
}

#[test]
fn include_content_exports_prompts_and_replies_scrubbed() {
    let key = "sk-proj-ABCDEFGHIJKLMNOP123456";
    let config = format!(
        "[telemetry]\notlp = \"http://{}\"\nmetrics = false\ninclude_content = true\n",
        phoenix()
    );
    let run = run_demo(
        &["--input", &format!("Ship a CSV export; our key is {key}")],
        Some(&config),
    );
    assert!(run.out.status.success(), "{}", run.stderr());
    let session = run.summary["session"].as_str().unwrap();
    let spans = phoenix_trace(
        session,
        run.of_type("llm_request").count(),
        run.of_type("task_created").count(),
    );
    let inputs: Vec<Value> = spans
        .iter()
        .filter_map(|s| s["attributes"]["gen_ai.input.messages"].as_str())
        .map(|m| serde_json::from_str(m).unwrap())
        .collect();
    assert!(!inputs.is_empty(), "attempts carry their input messages");
    assert!(inputs.iter().all(|m| m[0]["role"] == "user"));
    assert!(
        inputs.iter().any(|m| m[0]["parts"][0]["content"]
            .as_str()
            .is_some_and(|t| t.contains("our key is [REDACTED]"))),
        "the run's input reaches its tasks' messages, scrubbed"
    );
    assert!(
        spans
            .iter()
            .any(|s| s["attributes"].get("gen_ai.output.messages").is_some())
    );
    assert!(
        spans
            .iter()
            .any(|s| s["attributes"].get("agentctl.task.output").is_some())
    );
    let all = serde_json::to_string(&spans).unwrap();
    assert!(
        !all.contains(key),
        "a key-shaped word never leaves the process"
    );
    assert!(all.contains("[REDACTED]"));
}

/// The last export of each metric oteltap printed, by name.
fn tap_metrics() -> HashMap<String, Value> {
    let text = std::fs::read_to_string(&oteltap().1).unwrap_or_default();
    let mut out = HashMap::new();
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line)
            && v.get("traceId").is_none()
            && let Some(n) = v["name"].as_str()
        {
            out.insert(n.to_string(), v);
        }
    }
    out
}

fn points(m: &Value, kind: &str) -> Vec<Value> {
    m[kind]["dataPoints"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn attr_of(p: &Value, key: &str) -> Option<String> {
    p["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .and_then(|a| a["value"]["stringValue"].as_str().map(str::to_string))
}

fn num(v: &Value) -> f64 {
    // OTLP JSON writes 64-bit integers as strings.
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn the_demo_metrics_land_in_oteltap() {
    let run = run_demo(&["--otlp", &format!("http://{}", oteltap().0)], None);
    assert!(run.out.status.success(), "{}", run.stderr());
    assert!(!run.stderr().contains("telemetry"), "{}", run.stderr());
    let responses: Vec<&Value> = run.of_type("llm_response").collect();
    let deadline = Instant::now() + INGEST;
    let metrics = loop {
        let m = tap_metrics();
        if m.contains_key("agentctl.tasks") || Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let m = |n: &str| {
        metrics
            .get(n)
            .unwrap_or_else(|| panic!("no {n} in oteltap; got {:?}", metrics.keys()))
    };
    // Token usage: a histogram per token type whose sums are the session's.
    let usage = points(m("gen_ai.client.token.usage"), "histogram");
    let sum_of = |t: &str| {
        usage
            .iter()
            .filter(|p| attr_of(p, "gen_ai.token.type").as_deref() == Some(t))
            .map(|p| num(&p["sum"]))
            .sum::<f64>()
    };
    let recorded = |k: &str| responses.iter().map(|e| int(&e["usage"][k])).sum::<i64>() as f64;
    assert_eq!(sum_of("input"), recorded("prompt_tokens"));
    assert_eq!(sum_of("output"), recorded("completion_tokens"));
    assert!(
        usage
            .iter()
            .all(|p| attr_of(p, "gen_ai.provider.name").as_deref() == Some("sim"))
    );
    // One duration sample per model call.
    let durations = points(m("gen_ai.client.operation.duration"), "histogram");
    let calls: f64 = durations.iter().map(|p| num(&p["count"])).sum();
    assert_eq!(calls, responses.len() as f64);
    // Cost per agent: the run's cost in its final metrics.
    let cost: f64 = points(m("agentctl.cost"), "sum")
        .iter()
        .map(|p| num(&p["asDouble"]))
        .sum();
    let run_cost = run.summary["metrics"]["cost_usd"].as_f64().unwrap();
    assert!(
        run_cost > 0.0 && (cost - run_cost).abs() < 1e-9,
        "{cost} vs {run_cost}"
    );
    // Breakers: every agent's state, closed in this run.
    let breakers = points(m("agentctl.breaker.state"), "gauge");
    assert!(breakers.len() >= 11, "{breakers:?}");
    assert!(breakers.iter().all(|p| num(&p["asInt"]) == 0.0));
    // Tasks by outcome.
    let done: f64 = points(m("agentctl.tasks"), "sum")
        .iter()
        .filter(|p| attr_of(p, "agentctl.outcome").as_deref() == Some("completed"))
        .map(|p| num(&p["asInt"]))
        .sum();
    assert_eq!(done, run.summary["tasks_completed"].as_f64().unwrap());
}

/// A receiver that accepts connections and never answers: the run must not
/// wait for it, and its end waits a bounded time for the flush.
#[test]
fn a_receiver_that_never_answers_does_not_hold_up_the_run() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let baseline = Instant::now();
    let plain = run_demo(&[], None);
    let plain_wall = baseline.elapsed();
    assert!(plain.out.status.success());
    let started = Instant::now();
    let run = run_demo(&["--otlp", &format!("http://{addr}")], None);
    let wall = started.elapsed();
    assert!(run.out.status.success(), "{}", run.stderr());
    assert_eq!(run.summary["status"], "succeeded");
    // The engine's own clock: the same demo, whatever the receiver does.
    let engine = |r: &DemoRun| r.summary["wall_ms"].as_f64().unwrap();
    assert!(
        engine(&run) < engine(&plain) * 1.5 + 500.0,
        "the run took {} ms with a silent receiver, {} ms without",
        engine(&run),
        engine(&plain)
    );
    assert!(
        wall < plain_wall + Duration::from_secs(8),
        "the flush is bounded: {wall:?} vs {plain_wall:?}"
    );
    let err = run.stderr();
    assert!(
        err.contains("warning: telemetry:"),
        "the loss is reported: {err}"
    );
}

#[test]
fn a_bad_otlp_url_is_bad_input() {
    let out = Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args([
            "run",
            "builtin:pipeline",
            "--no-record",
            "--otlp",
            "localhost:4318",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--otlp") && err.contains("http://127.0.0.1:4318"),
        "{err}"
    );
}
