//! Scale-out, the parts that run on workers besides model calls: MCP tool
//! servers on the worker that runs them (`agentctl worker --mcp NAME`), a
//! command agent's working directory on the worker's machine, and the
//! orchestrator publishing no more calls than the workers can run, so the
//! scheduler's priorities still decide the order.
//!
//! A real nats-server (started here on a free loopback port with
//! `-js -sd TMPDIR`, once for this test binary), real `agentctl worker`
//! processes, the real `agentctl run --nats`, and the real
//! `@modelcontextprotocol/server-filesystem` from `scripts/mcp-servers`.
//! The tests share the server, so they run one at a time.

use std::collections::HashMap;
use std::io::BufRead;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_agentctl");
const DELIVERY: [&str; 4] = ["--ack-wait-ms", "1000", "--max-deliver", "3"];

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
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

struct Server {
    url: String,
    _dir: tempfile::TempDir,
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
        // PR_SET_PDEATHSIG follows the forking thread: fork from one that
        // lives as long as the test process.
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
            tx.send(child.map(|_| ())).unwrap();
            if ok {
                loop {
                    std::thread::park();
                }
            }
        });
        rx.recv()
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
        }
    })
}

/// Where `scripts/mcp-servers paths` put the servers.
fn mcp_path(name: &str) -> &'static str {
    static PATHS: OnceLock<HashMap<String, String>> = OnceLock::new();
    let paths = PATHS.get_or_init(|| {
        let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mcp-servers"))
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
    });
    paths
        .get(name)
        .unwrap_or_else(|| panic!("scripts/mcp-servers printed no {name}"))
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A running `agentctl worker` whose stderr is kept; killed on drop.
struct Worker {
    id: String,
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    fn start(id: &str, args: &[&str]) -> Worker {
        let mut cmd = Command::new(BIN);
        cmd.args(["worker", "--nats", &server().url, "--id", id])
            .args(DELIVERY)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = die_with_parent(&mut cmd).spawn().unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().unwrap();
        let lines = stderr.clone();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(pipe).lines() {
                let Ok(l) = l else { break };
                lines.lock().unwrap().push(l);
            }
        });
        let w = Worker {
            id: id.to_string(),
            child,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !worker_line(&w.id).is_some_and(|l| l.contains(" live ")) {
            assert!(
                Instant::now() < deadline,
                "worker {} never came up; its stderr:\n{}",
                w.id,
                w.stderr.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        w
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it as an operator would (SIGTERM) and waits for it.
    fn stop(&mut self) {
        // SAFETY: a plain kill(2) of our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "worker {} did not stop", self.id);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

fn run_cmd(workflow: &Path, session_dir: &Path, worker_wait: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["run"])
        .arg(workflow)
        .args(["--seed", "5", "--json", "--auto-approve", "--nats"])
        .arg(&server().url)
        .args(["--worker-wait", worker_wait])
        .arg("--session-dir")
        .arg(session_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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

/// Every process below `pid` (children, their children, ...).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                out.push(c);
                todo.push(c);
            }
        }
    }
    out
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn an_mcp_call_under_nats_runs_on_the_worker_that_runs_the_server() {
    let _g = serial();
    // The worker's machine: its own folder, and its own declaration of
    // the server (rooted there).
    let worker_root = tempfile::tempdir().unwrap();
    let wroot = worker_root.path().canonicalize().unwrap();
    std::fs::write(wroot.join("notes.txt"), "the notes on the worker\n").unwrap();
    let config = wroot.join("worker.toml");
    std::fs::write(
        &config,
        format!(
            "[mcp.fs]\ncommand = [{}, {}, {}]\n",
            toml_str(mcp_path("NODE")),
            toml_str(mcp_path("FILESYSTEM")),
            toml_str(wroot.to_str().unwrap())
        ),
    )
    .unwrap();
    let mut worker = Worker::start(
        "mcp-w1",
        &["--mcp", "fs", "--config", config.to_str().unwrap()],
    );
    // The server is the worker's child, and the worker says so.
    let line = worker
        .stderr
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.contains("MCP server `fs` runs as pid"))
        .cloned()
        .expect("the worker reports its MCP server");
    let server_pid: u32 = line
        .split("as pid ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"));
    assert_eq!(parent_of(server_pid), Some(worker.pid()), "{line}");
    assert_eq!(comm(server_pid), "node");
    let listed = worker_line("mcp-w1").unwrap();
    assert!(
        listed.contains("mcp:fs"),
        "worker list shows the server: {listed}"
    );

    // The orchestrator's folder: its own declaration roots the server at
    // a folder that does not hold the worker's files, so only the
    // worker's server can read them.
    let orch = tempfile::tempdir().unwrap();
    let oroot = orch.path().canonicalize().unwrap();
    let notes = wroot.join("notes.txt");
    let flow = oroot.join("fs.toml");
    std::fs::write(
        &flow,
        format!(
            r#"
[workflow]
name = "fs-on-a-worker"
input = "read the notes"

[mcp.fs]
command = [{node}, {fs}, {oroot}]

[[agents]]
id = "reader"
tools = ["mcp:fs/*"]
sim = {{ template = "done", tool_calls = [
  {{ tool = "mcp:fs/list_directory", arguments = {{ path = {wroot} }} }},
  {{ tool = "mcp:fs/read_text_file", arguments = {{ path = {notes} }} }},
] }}

[[nodes]]
id = "read"
kind = "agent"
agent = "reader"
"#,
            node = toml_str(mcp_path("NODE")),
            fs = toml_str(mcp_path("FILESYSTEM")),
            oroot = toml_str(oroot.to_str().unwrap()),
            wroot = toml_str(wroot.to_str().unwrap()),
            notes = toml_str(notes.to_str().unwrap()),
        ),
    )
    .unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let mut run = die_with_parent(&mut run_cmd(&flow, sessions.path(), "10"))
        .spawn()
        .unwrap();
    // While it runs, no node process ever appears below the orchestrator.
    let mut below = Vec::new();
    while run.try_wait().unwrap().is_none() {
        below.extend(descendants(run.id()).into_iter().map(comm));
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = run.wait_with_output().unwrap();
    assert!(
        !below.iter().any(|c| c == "node"),
        "the orchestrator started a node process: {below:?}"
    );
    let summary = json_of(&out);
    assert_eq!(summary["status"], "succeeded", "{summary}");
    let events = events(sessions.path());
    let results: Vec<(String, bool, String)> = of_type(&events, "tool_result")
        .into_iter()
        .map(|e| {
            (
                e["tool"].as_str().unwrap().to_string(),
                e["ok"].as_bool().unwrap(),
                e["output"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0].0, "mcp:fs/list_directory");
    assert!(
        results[0].1 && results[0].2.contains("notes.txt"),
        "{results:?}"
    );
    assert_eq!(results[1].0, "mcp:fs/read_text_file");
    assert!(
        results[1].1 && results[1].2.contains("the notes on the worker"),
        "{results:?}"
    );
    // Each tool call's result names the worker that ran it.
    let by_worker: Vec<&Value> = of_type(&events, "worker_result")
        .into_iter()
        .filter(|e| e["task"] == "read")
        .collect();
    // Two model turns and two tool calls.
    assert_eq!(by_worker.len(), 4, "{by_worker:?}");
    assert!(by_worker.iter().all(|e| e["worker"] == "mcp-w1"));

    // Stopped, the worker stops its server: no orphan.
    worker.stop();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(server_pid) {
        assert!(
            Instant::now() < deadline,
            "the MCP server (pid {server_pid}) outlived its worker"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_mcp_server_no_worker_runs_fails_the_call_naming_the_server() {
    let _g = serial();
    let _models = Worker::start("mcp-none", &[]);
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("ghost.toml");
    std::fs::write(
        &flow,
        r#"
[workflow]
name = "ghost-mcp"
input = "x"
[mcp.ghost]
command = ["/nonexistent/ghost-server"]
[[agents]]
id = "reader"
tools = ["mcp:ghost/*"]
sim = { template = "done", tool_calls = [ { tool = "mcp:ghost/anything", arguments = {} } ] }
[[nodes]]
id = "read"
kind = "agent"
agent = "reader"
"#,
    )
    .unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let out = run_cmd(&flow, sessions.path(), "1").output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("no live worker runs MCP server `ghost`") && text.contains("--mcp ghost"),
        "{text}"
    );
}

#[test]
fn a_worker_refuses_an_mcp_server_its_config_does_not_declare() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("w.toml");
    std::fs::write(&config, "").unwrap();
    let out = Command::new(BIN)
        .args([
            "worker",
            "--nats",
            "nats://127.0.0.1:1",
            "--mcp",
            "fs",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--mcp fs") && err.contains("[mcp.fs]"),
        "{err}"
    );
    let out = Command::new(BIN)
        .args([
            "worker",
            "--nats",
            "nats://127.0.0.1:1",
            "--workdir",
            "/nonexistent/agentctl-wd",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/agentctl-wd"));
}

fn cwd_flow(cwd: &str) -> String {
    format!(
        r#"
[workflow]
name = "cwd"
input = "x"
[[agents]]
id = "reader"
kind = "command"
command = {{ run = ["sh", "-c", 'cat >/dev/null; m=$(cat marker.txt); echo "{{\"output\": \"$m\"}}"'], cwd = {cwd}, inherit_env = ["PATH"], timeout_ms = 5000 }}
[[nodes]]
id = "read"
kind = "agent"
agent = "reader"
"#,
        cwd = toml_str(cwd)
    )
}

#[test]
fn a_command_agents_relative_cwd_is_taken_from_the_workers_workdir() {
    let _g = serial();
    let workdir = tempfile::tempdir().unwrap();
    std::fs::create_dir(workdir.path().join("sub")).unwrap();
    std::fs::write(
        workdir.path().join("sub/marker.txt"),
        "in the worker's workdir",
    )
    .unwrap();
    let _w = Worker::start(
        "cwd-w",
        &[
            "--agent",
            "reader",
            "--workdir",
            workdir.path().to_str().unwrap(),
        ],
    );
    // The orchestrator's folder has no `sub`.
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("cwd.toml");
    std::fs::write(&flow, cwd_flow("sub")).unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let out = run_cmd(&flow, sessions.path(), "10").output().unwrap();
    let summary = json_of(&out);
    assert_eq!(summary["status"], "succeeded", "{summary}");
    let evs = events(sessions.path());
    let read = of_type(&evs, "task_completed")
        .into_iter()
        .find(|e| e["task"] == "read")
        .map(|e| e["output"].clone());
    assert_eq!(read, Some("in the worker's workdir".into()));

    // An absolute cwd that this machine lacks: a clear error naming the
    // worker and the path.
    let flow = dir.path().join("abs.toml");
    std::fs::write(&flow, cwd_flow("/nonexistent/agentctl-cwd")).unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let out = run_cmd(&flow, sessions.path(), "10").output().unwrap();
    let summary = json_of(&out);
    assert_eq!(summary["status"], "failed", "{summary}");
    let text = format!("{summary} {:?}", events(sessions.path()));
    assert!(
        text.contains("worker cwd-w") && text.contains("/nonexistent/agentctl-cwd"),
        "{text}"
    );
}

#[test]
fn a_busy_worker_gets_the_waiting_calls_in_priority_order_not_publish_order() {
    let _g = serial();
    let _w = Worker::start("prio-w", &["--concurrency", "1"]);
    // Six branches start at once; the agent may run eight at once, so the
    // engine's scheduler lets them all through, and only the one worker's
    // one slot holds them back.
    let mut text = String::from(
        r#"
[workflow]
name = "prio"
input = "x"
[[agents]]
id = "a"
concurrency = 8
sim = { template = "done with {{input}}", latency_ms = 300 }
[[nodes]]
id = "fan"
kind = "parallel"
branches = ["first", "p5", "p4", "p3", "p2", "p1"]
[[nodes]]
id = "first"
kind = "agent"
agent = "a"
priority = 3
"#,
    );
    for p in (1..=5).rev() {
        text.push_str(&format!(
            "[[nodes]]\nid = \"p{p}\"\nkind = \"agent\"\nagent = \"a\"\npriority = {p}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("prio.toml");
    std::fs::write(&flow, text).unwrap();
    let sessions = tempfile::tempdir().unwrap();
    let out = run_cmd(&flow, sessions.path(), "10").output().unwrap();
    let summary = json_of(&out);
    assert_eq!(summary["status"], "succeeded", "{summary}");
    let events = events(sessions.path());
    let order: Vec<String> = of_type(&events, "worker_result")
        .into_iter()
        .map(|e| e["task"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(order.len(), 6, "{order:?}");
    // One call goes out at once; the others wait at the orchestrator and
    // reach the worker most urgent first (priority 1 first).
    let rest: Vec<&str> = order.iter().skip(1).map(String::as_str).collect();
    let mut by_priority: Vec<&str> = rest.clone();
    by_priority.sort_by_key(|t| match *t {
        "first" => 3,
        t => t[1..].parse::<u32>().unwrap(),
    });
    assert_eq!(rest, by_priority, "the worker ran {order:?}");
}
