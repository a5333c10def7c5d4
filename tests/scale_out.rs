//! Scale-out on NATS JetStream, end to end: a real nats-server (started here
//! on a free loopback port, once for this test binary), real `agentctl
//! worker` processes and the real `agentctl run --nats`.
//!
//! The tests share the server, so they run one at a time (`SERIAL`) and
//! each stops its own workers.

use std::io::BufRead;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_agentctl");
/// Short, so a killed worker's call comes back fast; every worker here
/// passes the same, since the lanes' consumers keep the first settings.
const DELIVERY: [&str; 4] = ["--ack-wait-ms", "1000", "--max-deliver", "3"];

static SERIAL: Mutex<()> = Mutex::new(());

struct Server {
    url: String,
    _dir: tempfile::TempDir,
    _child: Child,
}

/// Children die with the test process, whatever ends it.
fn die_with_parent(cmd: &mut Command) -> &mut Command {
    // SAFETY: prctl is async-signal-safe; nothing else runs in the child
    // between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    }
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().to_path_buf();
        // PR_SET_PDEATHSIG fires when the forking *thread* ends: spawn the
        // server from a thread that lives as long as the test process.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let child = die_with_parent(
                Command::new("nats-server")
                    .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
                    .arg(&store)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            )
            .spawn();
            let ok = child.is_ok();
            tx.send(child).unwrap();
            if ok {
                loop {
                    std::thread::park();
                }
            }
        });
        let child = rx
            .recv()
            .unwrap()
            .expect("nats-server is installed (scripts/test installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            url: format!("nats://127.0.0.1:{port}"),
            _dir: dir,
            _child: child,
        }
    })
}

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running `agentctl worker`, killed on drop.
struct Worker {
    id: String,
    child: Child,
}

impl Worker {
    fn start(id: &str, args: &[&str], env: &[(&str, &str)]) -> Worker {
        let w = Worker::spawn(id, args, env);
        w.wait_live();
        w
    }

    /// Starts it without waiting for its first heartbeat.
    fn spawn(id: &str, args: &[&str], env: &[(&str, &str)]) -> Worker {
        let mut cmd = Command::new(BIN);
        cmd.args(["worker", "--nats", &server().url, "--id", id])
            .args(DELIVERY)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = die_with_parent(&mut cmd).spawn().unwrap();
        Worker {
            id: id.to_string(),
            child,
        }
    }

    /// Until `worker list` shows it live.
    fn wait_live(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if worker_line(&self.id).is_some_and(|l| l.contains(" live ")) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "worker {} never came up",
                self.id
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The worker's row of `agentctl worker list`.
fn worker_line(id: &str) -> Option<String> {
    let out = Command::new(BIN)
        .args(["worker", "list", "--nats", &server().url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .map(str::to_string)
}

fn run_cmd(workflow: &str, session_dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", workflow, "--seed", "5", "--json", "--auto-approve"])
        .arg("--session-dir")
        .arg(session_dir)
        .args(extra);
    cmd
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The events of the one session file in `dir`.
fn events(dir: &Path) -> Vec<Value> {
    let file: PathBuf = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("a session file");
    std::io::BufReader::new(std::fs::File::open(file).unwrap())
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

#[test]
fn built_in_workflows_on_sim_give_the_same_outputs_on_two_workers_as_in_process() {
    let _g = serial();
    let _a = Worker::start("same-a", &[], &[]);
    let _b = Worker::start("same-b", &[], &[]);
    // Every built-in whose outcome does not depend on timing (not
    // `parallel`'s 2-of-3 race, not `chaos`).
    for name in [
        "pipeline",
        "scatter_gather",
        "hierarchical",
        "router",
        "state_machine",
        "event_driven",
        "research_report",
        "debate",
        "consensus",
        "demo",
    ] {
        let wf = format!("builtin:{name}");
        let local_dir = tempfile::tempdir().unwrap();
        let remote_dir = tempfile::tempdir().unwrap();
        let local = json_of(&run_cmd(&wf, local_dir.path(), &[]).output().unwrap());
        let remote = json_of(
            &run_cmd(&wf, remote_dir.path(), &["--nats", &server().url])
                .output()
                .unwrap(),
        );
        assert_eq!(remote["status"], "succeeded", "{name}: {remote}");
        assert_eq!(remote["outputs"], local["outputs"], "{name}");
        assert_eq!(
            remote["tasks_completed"], local["tasks_completed"],
            "{name}"
        );
        // The calls really ran on the workers, and on nothing else.
        let events = events(remote_dir.path());
        let ran = of_type(&events, "worker_result");
        assert_eq!(
            ran.len(),
            of_type(&events, "llm_response").len(),
            "{name}: one worker result per call"
        );
        assert!(
            ran.iter()
                .all(|e| e["worker"] == "same-a" || e["worker"] == "same-b"),
            "{name}"
        );
    }
}

const SLOW_FLOW: &str = r#"
[workflow]
name = "slow"
input = "the report"
[[agents]]
id = "slow"
role = "executor"
sim = { template = "slow reply about {{input}}", latency_ms = 2500 }
[[agents]]
id = "quick"
role = "executor"
sim = { template = "quick reply about {{input}}", latency_ms = 10 }
[[nodes]]
id = "main"
kind = "sequence"
steps = ["first", "second"]
[[nodes]]
id = "first"
kind = "agent"
agent = "slow"
prompt = "Work on {{input}}."
[[nodes]]
id = "second"
kind = "agent"
agent = "quick"
prompt = "Finish {{input}}."
"#;

#[test]
fn a_worker_killed_mid_task_has_its_call_redelivered_and_each_task_completes_once() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("slow.toml");
    // The slow call outlasts the heartbeat's grace (3 s) on the rescuer,
    // so the run sees the killed worker marked lost.
    let slow = SLOW_FLOW.replace("latency_ms = 2500", "latency_ms = 5000");
    std::fs::write(&flow, slow).unwrap();
    let flow = flow.to_str().unwrap();
    let local_dir = tempfile::tempdir().unwrap();
    let local = json_of(&run_cmd(flow, local_dir.path(), &[]).output().unwrap());

    let mut doomed = Worker::start("kill-a", &[], &[]);
    let remote_dir = tempfile::tempdir().unwrap();
    let run = run_cmd(flow, remote_dir.path(), &["--nats", &server().url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill it while it holds the slow call.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !worker_line("kill-a").is_some_and(|l| l.contains(" 1/8 ")) {
        assert!(Instant::now() < deadline, "the call never reached kill-a");
        std::thread::sleep(Duration::from_millis(50));
    }
    doomed.kill9();
    let _rescuer = Worker::start("kill-b", &[], &[]);
    let out = run.wait_with_output().unwrap();
    let remote = json_of(&out);
    assert_eq!(remote["status"], "succeeded", "{remote}");
    assert_eq!(remote["outputs"], local["outputs"]);

    let events = events(remote_dir.path());
    let done = of_type(&events, "task_completed");
    let mut tasks: Vec<&str> = done.iter().map(|e| e["task"].as_str().unwrap()).collect();
    tasks.sort_unstable();
    assert_eq!(
        tasks,
        ["first", "second"],
        "each task completes exactly once"
    );
    let first: Vec<_> = of_type(&events, "worker_result")
        .into_iter()
        .filter(|e| e["task"] == "first")
        .collect();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["worker"], "kill-b");
    assert!(
        first[0]["deliveries"].as_u64().unwrap() >= 2,
        "the redelivery shows: {first:?}"
    );
    // The run recorded both workers, each before its first result, and the
    // killed one as lost.
    workers_told_before_their_results(&events, &["kill-a", "kill-b"]);
    let lost: Vec<_> = of_type(&events, "worker_status")
        .into_iter()
        .filter(|e| e["worker"] == "kill-a" && e["state"] == "lost")
        .collect();
    assert_eq!(lost.len(), 1, "kill-a marked lost once: {lost:?}");
    assert!(
        !of_type(&events, "worker_status")
            .iter()
            .any(|e| e["worker"] == "kill-b" && e["state"] != "live"),
        "the rescuer stays live"
    );
    // Never an event per heartbeat: a handful per worker over the run.
    let statuses = of_type(&events, "worker_status").len();
    assert!(statuses <= 20, "{statuses} worker_status events");
    // Replay folds them (the cockpit's Workers view reads the same fold).
    let shown = Command::new(BIN)
        .args(["sessions", "export", "--format", "json"])
        .arg(session_file(remote_dir.path()))
        .output()
        .unwrap();
    let shown = json_of(&shown);
    let rows = shown["workers"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let state = |id: &str| {
        rows.iter()
            .find(|r| r["id"] == id)
            .map(|r| r["state"].clone())
    };
    assert_eq!(state("kill-a"), Some("lost".into()), "{shown}");
    assert_eq!(state("kill-b"), Some("live".into()), "{shown}");
    let task_worker = |t: &str| {
        shown["tasks"]
            .as_array()
            .and_then(|ts| ts.iter().find(|x| x["id"] == t))
            .map(|x| x["worker"].clone())
    };
    assert_eq!(task_worker("first"), Some("kill-b".into()), "{shown}");
}

/// Every worker in `ids` has one `worker_seen`, before any `worker_result`
/// naming it, and every result names a worker seen.
fn workers_told_before_their_results(events: &[Value], ids: &[&str]) {
    for id in ids {
        let seen: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e["type"] == "worker_seen" && e["worker"] == *id)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(seen.len(), 1, "{id}: one worker_seen");
        let first_result = events
            .iter()
            .position(|e| e["type"] == "worker_result" && e["worker"] == *id);
        assert!(
            first_result.is_none_or(|r| r > seen[0]),
            "{id}: seen before its results"
        );
        let seen_event = &events[seen[0]];
        assert!(
            seen_event["host"].as_str().is_some_and(|h| !h.is_empty())
                && seen_event["concurrency"] == 8,
            "{seen_event}"
        );
    }
}

fn session_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("a session file")
}

fn routed_flow(agent: &str) -> String {
    format!(
        r#"
[workflow]
name = "routed"
input = "src/main.rs"
[[agents]]
id = "{agent}"
kind = "command"
command = {{ run = ["sh", "-c", "cat >/dev/null; echo '{{\"output\": \"linted on '$WORKER_MARK'\"}}'"], inherit_env = ["PATH", "WORKER_MARK"], timeout_ms = 5000 }}
[[agents]]
id = "summariser"
role = "executor"
sim = {{ template = "summary of {{{{input}}}}" }}
[[nodes]]
id = "main"
kind = "sequence"
steps = ["lint", "sum"]
[[nodes]]
id = "lint"
kind = "agent"
agent = "{agent}"
prompt = "Lint {{{{input}}}}."
[[nodes]]
id = "sum"
kind = "agent"
agent = "summariser"
prompt = "Summarise {{{{input}}}}."
"#
    )
}

#[test]
fn a_command_agent_only_one_worker_has_is_routed_to_that_worker() {
    let _g = serial();
    let _tools = Worker::start(
        "route-a",
        &["--agent", "linter"],
        &[("WORKER_MARK", "alpha")],
    );
    let _models = Worker::start("route-b", &[], &[("WORKER_MARK", "beta")]);
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("routed.toml");
    std::fs::write(&flow, routed_flow("linter")).unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let out = run_cmd(
        flow.to_str().unwrap(),
        sessions.path(),
        &["--nats", &server().url],
    )
    .output()
    .unwrap();
    let summary = json_of(&out);
    assert_eq!(summary["status"], "succeeded", "{summary}");
    let events = events(sessions.path());
    let lint = of_type(&events, "task_completed")
        .into_iter()
        .find(|e| e["task"] == "lint")
        .map(|e| e["output"].clone());
    // The program ran with the environment of route-a's machine.
    assert_eq!(lint, Some("linted on alpha".into()));
    let by_task = |t: &str| {
        of_type(&events, "worker_result")
            .into_iter()
            .find(|e| e["task"] == t)
            .map(|e| e["worker"].clone())
    };
    assert_eq!(by_task("lint"), Some("route-a".into()));
    assert_eq!(by_task("sum"), Some("route-b".into()));
}

#[test]
fn a_call_no_worker_serves_fails_after_the_bounded_wait_naming_the_agent() {
    let _g = serial();
    let _models = Worker::start("nobody-b", &[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("ghost.toml");
    std::fs::write(&flow, routed_flow("ghost")).unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = run_cmd(
        flow.to_str().unwrap(),
        sessions.path(),
        &["--nats", &server().url, "--worker-wait", "1"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let summary = json_of(&out);
    let error = summary["error"].to_string();
    assert!(
        error.contains("no live worker serves agent `ghost`"),
        "{summary}"
    );
    assert!(error.contains("--agent ghost"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_call_that_kills_every_worker_ends_after_max_deliver_with_a_clear_error() {
    let _g = serial();
    // The program kills the worker that runs it (its parent), every time.
    let mut workers: Vec<Worker> = (1..=2)
        .map(|i| Worker::start(&format!("doomed-{i}"), &["--agent", "killer"], &[]))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("killer.toml");
    std::fs::write(
        &flow,
        r#"
[workflow]
name = "killer"
input = "x"
[[agents]]
id = "killer"
kind = "command"
command = { run = ["sh", "-c", "kill -9 $PPID; sleep 5"], inherit_env = ["PATH"], timeout_ms = 10000 }
[[nodes]]
id = "job"
kind = "agent"
agent = "killer"
"#,
    )
    .unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let mut run = run_cmd(
        flow.to_str().unwrap(),
        sessions.path(),
        &["--nats", &server().url],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // A supervisor brings dead workers back (as systemd would): without
    // max_deliver the call would take them down for ever.
    let mut restarts = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while run.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the run never ended");
        for (i, w) in workers.iter_mut().enumerate() {
            if w.child.try_wait().unwrap().is_some() {
                restarts += 1;
                *w = Worker::spawn(
                    &format!("doomed-{i}-{restarts}"),
                    &["--agent", "killer"],
                    &[],
                );
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let summary = json_of(&out);
    let error = summary["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("delivered to workers 3 times") && error.contains("max_deliver"),
        "{summary}"
    );
    // Each of the 3 deliveries took a worker down with it.
    assert!(restarts >= 3, "{restarts} restarts");
}

#[test]
fn an_orchestrator_killed_mid_call_resumes_with_the_result_a_worker_stored_meanwhile() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("slow.toml");
    std::fs::write(&flow, SLOW_FLOW).unwrap();
    let flow = flow.to_str().unwrap();
    let local_dir = tempfile::tempdir().unwrap();
    let local = json_of(&run_cmd(flow, local_dir.path(), &[]).output().unwrap());

    let _worker = Worker::start("resume-a", &[], &[]);
    let sessions = tempfile::tempdir().unwrap();
    let mut run = run_cmd(flow, sessions.path(), &["--nats", &server().url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !worker_line("resume-a").is_some_and(|l| l.contains(" 1/8 ")) {
        if Instant::now() > deadline {
            let _ = run.kill();
            let out = run.wait_with_output().unwrap();
            panic!(
                "the call never reached the worker: {:?} {} {}",
                worker_line("resume-a"),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    run.kill().unwrap(); // SIGKILL, mid-call
    run.wait().unwrap();
    // The worker finishes and stores the result while nobody listens.
    let done =
        |n: &str| worker_line("resume-a").is_some_and(|l| l.split_whitespace().nth(4) == Some(n));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done("1") {
        assert!(
            Instant::now() < deadline,
            "the worker never finished the call"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let session = std::fs::read_dir(sessions.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .unwrap();
    let out = Command::new(BIN)
        .arg("resume")
        .arg(&session)
        .args(["--json", "--nats", &server().url])
        .output()
        .unwrap();
    let resumed = json_of(&out);
    assert_eq!(resumed["status"], "succeeded", "{resumed}");
    assert_eq!(
        resumed["outputs"], local["outputs"],
        "same as an uninterrupted run"
    );

    let events = events(sessions.path());
    let first: Vec<_> = of_type(&events, "task_completed")
        .into_iter()
        .filter(|e| e["task"] == "first")
        .collect();
    assert_eq!(first.len(), 1, "no double completion");
    let reused: Vec<_> = of_type(&events, "worker_result")
        .into_iter()
        .filter(|e| e["task"] == "first")
        .collect();
    assert_eq!(reused.len(), 1, "{reused:?}");
    assert_eq!(reused[0]["reused"], true);
    // Not recomputed: the worker ran the slow call once, then `second`
    // (its heartbeat says so within a beat or two).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done("2") {
        assert!(Instant::now() < deadline, "{:?}", worker_line("resume-a"));
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(done("2"), "{:?}", worker_line("resume-a"));
}

#[test]
fn credentials_come_from_the_config_and_never_show_in_errors() {
    let _g = serial();
    // A second server that wants a user and password.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = tempfile::tempdir().unwrap();
    let mut locked = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
        .args(["--user", "agentctl", "--pass", "s3cret-nats-password"])
        .arg("-sd")
        .arg(store.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("nats://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[nats]\nuser = \"agentctl\"\npassword_env = \"TEST_NATS_PASSWORD\"\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[nats]\nuser = \"agentctl\"\npassword = \"wrong-password-value\"\n",
    )
    .unwrap();

    let mut worker = die_with_parent(
        Command::new(BIN)
            .args(["worker", "--nats", &url, "--id", "cred-a"])
            .args(DELIVERY)
            .arg("--config")
            .arg(&good)
            .env("TEST_NATS_PASSWORD", "s3cret-nats-password")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .spawn()
    .unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let ok = run_cmd("builtin:pipeline", sessions.path(), &["--nats", &url])
        .arg("--config")
        .arg(&good)
        .env("TEST_NATS_PASSWORD", "s3cret-nats-password")
        .output()
        .unwrap();
    let summary = json_of(&ok);
    assert_eq!(summary["status"], "succeeded", "{summary}");
    assert!(
        of_type(&events(sessions.path()), "worker_result")
            .iter()
            .all(|e| e["worker"] == "cred-a")
    );

    // Without credentials, or with wrong ones: a clear error, exit 2, and
    // no password in it.
    for config in [None, Some(&bad)] {
        let mut cmd = run_cmd("builtin:pipeline", sessions.path(), &["--nats", &url]);
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("cannot connect to NATS"), "{err}");
        assert!(
            !err.contains("wrong-password-value") && !err.contains("s3cret"),
            "{err}"
        );
    }
    let _ = worker.kill();
    let _ = worker.wait();
    let _ = locked.kill();
    let _ = locked.wait();
}

/// A nats-server of this test's own on `port` storing in `store`.
fn own_server(port: u16, store: &Path) -> Child {
    let child = die_with_parent(
        Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .spawn()
    .expect("nats-server is installed (scripts/test installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// `worker list` against `url`: the row of worker `id`.
fn worker_line_at(url: &str, id: &str) -> Option<String> {
    let out = Command::new(BIN)
        .args(["worker", "list", "--nats", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .map(str::to_string)
}

/// Stops the run's nats-server while a worker holds the slow call (with
/// `signal`), starts it again on the same port and store a little later,
/// and checks the run goes on and loses nothing.
fn server_stopped_mid_call_loses_nothing(signal: libc::c_int, id: &str) {
    let _g = serial();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = tempfile::tempdir().unwrap();
    let url = format!("nats://127.0.0.1:{port}");
    let mut nats = own_server(port, store.path());

    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("slow.toml");
    std::fs::write(&flow, SLOW_FLOW).unwrap();
    let flow = flow.to_str().unwrap();
    let local_dir = tempfile::tempdir().unwrap();
    let local = json_of(&run_cmd(flow, local_dir.path(), &[]).output().unwrap());

    let mut worker = die_with_parent(
        Command::new(BIN)
            .args(["worker", "--nats", &url, "--id", id])
            .args(DELIVERY)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .spawn()
    .unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let run = run_cmd(flow, sessions.path(), &["--nats", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !worker_line_at(&url, id).is_some_and(|l| l.contains(" 1/8 ")) {
        assert!(Instant::now() < deadline, "the call never reached {id}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(nats.id() as libc::pid_t, signal) };
    nats.wait().unwrap();
    // An outage of a couple of seconds, longer than the slow call.
    std::thread::sleep(Duration::from_secs(3));
    let mut nats = own_server(port, store.path());

    let out = run.wait_with_output().unwrap();
    let remote = json_of(&out);
    assert_eq!(
        remote["status"],
        "succeeded",
        "{remote}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(remote["outputs"], local["outputs"], "nothing lost");
    let events = events(sessions.path());
    let mut tasks: Vec<&str> = of_type(&events, "task_completed")
        .iter()
        .map(|e| e["task"].as_str().unwrap())
        .collect();
    tasks.sort_unstable();
    assert_eq!(tasks, ["first", "second"], "each task completes once");
    for task in ["first", "second"] {
        let results: Vec<_> = of_type(&events, "worker_result")
            .into_iter()
            .filter(|e| e["task"] == task)
            .collect();
        assert_eq!(results.len(), 1, "one result taken for {task}: {results:?}");
        assert_eq!(results[0]["worker"], id);
    }
    let _ = worker.kill();
    let _ = worker.wait();
    let _ = nats.kill();
    let _ = nats.wait();
}

#[test]
fn nats_server_restarted_gracefully_mid_run_loses_nothing() {
    server_stopped_mid_call_loses_nothing(libc::SIGTERM, "restart-term");
}

/// JetStream's file store writes every message to the file before it
/// acknowledges it (fsync comes later, on `sync_interval`), so a killed
/// server process, unlike a lost machine, keeps what it acknowledged.
#[test]
fn nats_server_killed_mid_run_loses_nothing() {
    server_stopped_mid_call_loses_nothing(libc::SIGKILL, "restart-kill");
}

/// A k-of-n race with one worker of concurrency 1: the winner runs, the
/// loser's call is still queued when the race ends.
const RACE_FLOW: &str = r#"
[workflow]
name = "race"
input = "the report"
[[agents]]
id = "racer"
role = "executor"
capabilities = ["race-lane"]
sim = { template = "done with {{input}}", latency_ms = 1500 }
[[nodes]]
id = "race"
kind = "parallel"
branches = ["a", "b"]
join = "k_of_n"
k = 1
[[nodes]]
id = "a"
kind = "agent"
agent = "racer"
prompt = "Branch a on {{input}}."
[[nodes]]
id = "b"
kind = "agent"
agent = "racer"
prompt = "Branch b on {{input}}."
"#;

#[test]
fn a_call_dropped_before_any_worker_took_it_leaves_the_queue() {
    let _g = serial();
    let w = Worker::start(
        "race-a",
        &["--capability", "race-lane", "--concurrency", "1"],
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("race.toml");
    std::fs::write(&flow, RACE_FLOW).unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let out = run_cmd(
        flow.to_str().unwrap(),
        sessions.path(),
        &["--nats", &server().url],
    )
    .output()
    .unwrap();
    let summary = json_of(&out);
    assert_eq!(summary["status"], "succeeded", "{summary}");
    let results = of_type(&events(sessions.path()), "worker_result").len();
    assert_eq!(results, 1, "one branch won");
    // The loser was still queued behind the winner when the race ended.
    // Had it stayed in the queue, the worker would run it now, for a run
    // that has ended: give it time to, and check it never did.
    let done = || {
        worker_line(&w.id)
            .and_then(|l| l.split_whitespace().nth(4).map(str::to_string))
            .unwrap_or_default()
    };
    std::thread::sleep(Duration::from_millis(1500 * 2 + 1000));
    assert_eq!(done(), "1", "{:?}", worker_line(&w.id));
    assert!(
        worker_line(&w.id).is_some_and(|l| l.contains(" 0/1 ")),
        "{:?}",
        worker_line(&w.id)
    );
}

const TYPING_FLOW: &str = r#"
[workflow]
name = "typing"
input = "the report"
[[agents]]
id = "writer"
role = "executor"
sim = { template = "a long and careful reply about {{input}} written piece by piece", latency_ms = 1500 }
[[nodes]]
id = "main"
kind = "agent"
agent = "writer"
prompt = "Write {{input}}."
"#;

#[test]
fn a_streaming_agent_on_a_worker_types_at_the_orchestrator_and_counts_once() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("typing.toml");
    std::fs::write(&flow, TYPING_FLOW).unwrap();
    let flow = flow.to_str().unwrap();
    let local_dir = tempfile::tempdir().unwrap();
    let local = json_of(&run_cmd(flow, local_dir.path(), &[]).output().unwrap());
    let _w = Worker::start("typing-a", &[], &[]);
    let remote_dir = tempfile::tempdir().unwrap();
    let remote = json_of(
        &run_cmd(flow, remote_dir.path(), &["--nats", &server().url])
            .output()
            .unwrap(),
    );
    assert_eq!(remote["status"], "succeeded", "{remote}");
    assert_eq!(remote["outputs"], local["outputs"]);
    // The reply's usage is counted once, as in-process.
    assert_eq!(remote["tokens"], local["tokens"], "{remote}");
    let events = events(remote_dir.path());
    let pos = |t: &str| events.iter().position(|e| e["type"] == t).unwrap();
    let (asked, answered) = (pos("llm_request"), pos("llm_response"));
    let deltas: Vec<(usize, &Value)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["type"] == "llm_delta")
        .collect();
    assert!(
        deltas.len() >= 2,
        "the reply arrives in pieces while it is written: {deltas:?}"
    );
    assert!(
        deltas.iter().all(|(i, e)| *i > asked
            && *i < answered
            && e["task"] == "main"
            && e["agent"] == "writer"),
        "{deltas:?}"
    );
    let typed: String = deltas
        .iter()
        .map(|(_, e)| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        typed, "a long and careful reply about Write the report. written piece by piece",
        "the pieces make the reply, each once"
    );
    // In-process, the sim's deltas are a replay and stay off the stream.
    assert!(of_type(&self::events(local_dir.path()), "llm_delta").is_empty());
}

#[test]
fn a_call_the_orchestrator_drops_is_dropped_by_the_worker_and_its_program_killed() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("finished");
    // Sleeps 6 s, then leaves a mark: the mark shows the program was not
    // stopped. The node's call limit (1 s) drops the call at the
    // orchestrator, as a pause, cancel or reroute does.
    let flow = dir.path().join("sleeper.toml");
    std::fs::write(
        &flow,
        r#"
[workflow]
name = "sleeper"
input = "x"
[[agents]]
id = "sleeper"
kind = "command"
command = { run = ["sh", "-c", "cat >/dev/null; sleep 6; touch \"$MARK\"; echo '{\"output\": \"late\"}'"], inherit_env = ["PATH", "MARK"], timeout_ms = 20000 }
[[nodes]]
id = "main"
kind = "agent"
agent = "sleeper"
prompt = "Sleep."
timeout_ms = 1000
"#,
    )
    .unwrap();
    let _w = Worker::start(
        "drop-a",
        &["--agent", "sleeper"],
        &[("MARK", marker.to_str().unwrap())],
    );
    let sessions = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let run = run_cmd(
        flow.to_str().unwrap(),
        sessions.path(),
        &["--nats", &server().url],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let in_flight = || {
        worker_line("drop-a").and_then(|l| {
            l.split_whitespace()
                .find(|f| f.ends_with("/8"))
                .map(str::to_string)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while in_flight().as_deref() != Some("1/8") {
        assert!(Instant::now() < deadline, "the call never reached drop-a");
        std::thread::sleep(Duration::from_millis(50));
    }
    let taken = started.elapsed();
    // Dropped at the orchestrator after 1 s: the worker lets go of it
    // within a beat or two, long before the program's 6 s.
    while in_flight().as_deref() != Some("0/8") {
        assert!(
            started.elapsed() < taken + Duration::from_secs(4),
            "drop-a still runs the dropped call: {:?}",
            worker_line("drop-a")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = run.wait_with_output().unwrap();
    let summary = json_of(&out);
    assert_eq!(summary["status"], "failed", "{summary}");
    // Past the program's 6 s: it was killed, never finished.
    let wait = Duration::from_secs(8).saturating_sub(started.elapsed());
    std::thread::sleep(wait);
    assert!(
        !marker.exists(),
        "the dropped call's program ran to its end"
    );
    let line = worker_line("drop-a").unwrap();
    assert!(line.contains(" 0/8 "), "{line}");
    // Nor did a result come back for it.
    assert!(of_type(&events(sessions.path()), "worker_result").is_empty());
}
