//! Every built-in workflow on a real model server: llama-cpp-python serving
//! SmolLM2-135M-Instruct (`scripts/local-model`, which installs it into a
//! cache when missing). The server starts once per test binary, with its
//! default flags, on a free loopback port; the tests take turns with it (it
//! serves one request at a time and interrupts a running stream when
//! another arrives, so two runs at once would cut each other).
//!
//! Between agentctl and the server sits a small proxy written here: an
//! independent observer that records every response's `usage`, content and
//! duration. Each test checks the run succeeded with the model's real
//! content, and that the usage agentctl recorded (session file and
//! `--json` tokens) is what the server reported.
//!
//! Never skipped: a server that cannot be installed or started fails every
//! test with the reason.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tmux::Tmux;

mod tmux;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Longest a server may take to load the model and answer `/v1/models`.
const SERVER_START: Duration = Duration::from_secs(180);
/// Longest one `agentctl run` may take (a hang check, not a timing test).
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// Largest request or response the proxy relays (a bound, not a feature).
const MAX_RELAY_BYTES: usize = 16 << 20;

// ------------------------------------------------------------ the server

/// The one model server of this test binary.
struct Server {
    /// `127.0.0.1:PORT`.
    addr: String,
    alias: String,
}

/// The server, started on first use. Its process gets SIGKILL when this
/// test binary exits: it is spawned with PR_SET_PDEATHSIG from a thread that
/// lives as long as the process (the signal follows the spawning *thread*,
/// so a test's own thread, which ends with the test, would kill it early).
/// No destructor or atexit hook is needed, and a test binary killed with
/// SIGKILL still takes the server with it.
fn server() -> &'static Server {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    match SERVER.get_or_init(start_server) {
        Ok(s) => s,
        Err(e) => panic!("the real model server is not available: {e}"),
    }
}

/// Tests take turns with the server (see the module docs).
fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

fn start_server() -> Result<Server, String> {
    let script = Path::new(ROOT).join("scripts/local-model");
    let out = Command::new(&script)
        .arg("paths")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`scripts/local-model paths` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let path = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).map(str::to_string))
            .ok_or_else(|| format!("`scripts/local-model paths` printed no {key} line:\n{text}"))
    };
    let (python, model, alias) = (path("PYTHON=")?, path("MODEL=")?, path("ALIAS=")?);
    let port = free_port();
    let log = std::env::temp_dir().join(format!("agentctl-real-model-{}.log", std::process::id()));
    let (tx, rx) = mpsc::channel::<Result<u32, String>>();
    let log_for_thread = log.clone();
    let alias_for_thread = alias.clone();
    std::thread::Builder::new()
        .name("model-server".into())
        .spawn(move || {
            let spawned = std::fs::File::create(&log_for_thread)
                .and_then(|f| Ok((f.try_clone()?, f)))
                .and_then(|(out, err)| {
                    let mut cmd = Command::new(&python);
                    // The same command line as `scripts/local-model serve`:
                    // the server's default flags, as a user runs it.
                    cmd.args([
                        "-m",
                        "llama_cpp.server",
                        "--model",
                        &model,
                        "--host",
                        "127.0.0.1",
                    ])
                    .args(["--port", &port.to_string(), "--n_ctx", "4096"])
                    .args(["--model_alias", &alias_for_thread])
                    .stdin(Stdio::null())
                    .stdout(out)
                    .stderr(err);
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
                    // Keep this thread (the server's parent) alive for good.
                    loop {
                        std::thread::park();
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("cannot start the model server: {e}")));
                }
            }
        })
        .map_err(|e| format!("cannot spawn the server thread: {e}"))?;
    let pid = rx
        .recv()
        .map_err(|_| "the server thread ended".to_string())??;
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + SERVER_START;
    loop {
        if get(&addr, "/v1/models").is_some_and(|(status, _)| status == 200) {
            return Ok(Server { addr, alias });
        }
        // SAFETY: kill with signal 0 only asks whether the process exists.
        let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
        let tail = || std::fs::read_to_string(&log).unwrap_or_default();
        if !alive {
            return Err(format!(
                "the server exited while starting; its log:\n{}",
                tail()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the server did not answer within {SERVER_START:?}; its log:\n{}",
                tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().unwrap().port()
}

/// A plain GET: status and body, or none when the server is not up.
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n")?.1.to_string()))
}

// ------------------------------------------------------------- the proxy

/// One call the proxy relayed.
#[derive(Debug, Clone)]
struct Call {
    path: String,
    status: u16,
    /// `(prompt_tokens, completion_tokens)` as the server reported them.
    usage: Option<(u64, u64)>,
    /// The reply's text (streamed deltas joined).
    content: String,
    /// Tool calls the reply asked for: `(name, arguments)`.
    tool_calls: Vec<(String, String)>,
    /// The request body.
    request: Value,
    started: Instant,
    ended: Instant,
    /// The whole response reached agentctl (false: it hung up first).
    delivered: bool,
    /// The reply ended with a `finish_reason` (a stream the server cut,
    /// e.g. to serve another request, has none).
    finished: bool,
}

/// A loopback proxy to the server that records every call.
struct Proxy {
    port: u16,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (record, upstream) = (calls.clone(), upstream.to_string());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (record, upstream) = (record.clone(), upstream.clone());
                std::thread::spawn(move || relay(conn, &upstream, &record));
            }
        });
        Proxy { port, calls }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Chat completions answered 200 and delivered whole.
    fn completions(&self) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| {
                c.path.ends_with("/chat/completions")
                    && c.status == 200
                    && c.delivered
                    && c.finished
            })
            .cloned()
            .collect()
    }

    /// Time with at least one call in flight: the model's time on the
    /// critical path (the server answers one call at a time).
    fn busy(&self) -> Duration {
        let mut spans: Vec<(Instant, Instant)> = self
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| (c.started, c.ended))
            .collect();
        spans.sort();
        let mut total = Duration::ZERO;
        let mut cur: Option<(Instant, Instant)> = None;
        for (s, e) in spans {
            cur = match cur {
                Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
                Some((cs, ce)) => {
                    total += ce - cs;
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        total + cur.map_or(Duration::ZERO, |(s, e)| e - s)
    }
}

/// Relays one connection's request (asking the server to close after it,
/// so one connection is one call) and records what came back.
fn relay(mut client: TcpStream, upstream: &str, record: &Mutex<Vec<Call>>) {
    let Some((head, req_body)) = read_request(&mut client) else {
        return;
    };
    let started = Instant::now();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_string();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut out = format!("{request_line}\r\nHost: {upstream}\r\nConnection: close\r\n");
    for l in lines.filter(|l| !l.is_empty()) {
        let name = l.split(':').next().unwrap_or_default().to_ascii_lowercase();
        if !matches!(name.as_str(), "host" | "connection" | "keep-alive") {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    let Ok(mut server) = TcpStream::connect(upstream) else {
        let _ = client.write_all(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    };
    if server
        .write_all(out.as_bytes())
        .and_then(|_| server.write_all(&req_body))
        .is_err()
    {
        return;
    }
    // The response: headers rewritten to close the connection after it,
    // then the body passed on as it comes (streams stay live).
    let mut reader = BufReader::new(server);
    let mut response_head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || response_head.len() > MAX_RELAY_BYTES {
            return;
        }
        if line == "\r\n" {
            break;
        }
        response_head.push_str(&line);
    }
    let status: u16 = response_head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = response_head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let mut head_out = String::new();
    for l in response_head.lines() {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            head_out.push_str(l);
            head_out.push_str("\r\n");
        }
    }
    head_out.push_str("Connection: close\r\n\r\n");
    let mut delivered = client.write_all(head_out.as_bytes()).is_ok();
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while delivered && raw.len() < MAX_RELAY_BYTES {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                delivered = client.write_all(&buf[..n]).is_ok();
            }
        }
    }
    let _ = client.shutdown(Shutdown::Write);
    let ended = Instant::now();
    let body = if chunked { dechunk(&raw) } else { raw };
    let Reply {
        usage,
        content,
        tool_calls,
        finished,
    } = read_reply(&String::from_utf8_lossy(&body));
    record.lock().unwrap().push(Call {
        path,
        status,
        usage,
        content,
        tool_calls,
        request: serde_json::from_slice(&req_body).unwrap_or(Value::Null),
        started,
        ended,
        delivered,
        finished,
    });
}

/// A request's head and its `Content-Length` body.
fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut reader = BufReader::new(client.try_clone().ok()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || head.len() > MAX_RELAY_BYTES {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0)
        .min(MAX_RELAY_BYTES);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..i]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        rest = &rest[i + 2..];
        if size == 0 || rest.len() < size {
            out.extend_from_slice(&rest[..size.min(rest.len())]);
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    out
}

/// What the proxy read in a reply.
#[derive(Default)]
struct Reply {
    usage: Option<(u64, u64)>,
    content: String,
    tool_calls: Vec<(String, String)>,
    finished: bool,
}

/// Usage, text and tool calls of a reply, streamed (SSE) or whole (JSON).
fn read_reply(body: &str) -> Reply {
    let usage_of = |v: &Value| {
        let u = v.get("usage").filter(|u| !u.is_null())?;
        Some((
            u["prompt_tokens"].as_u64()?,
            u["completion_tokens"].as_u64().unwrap_or(0),
        ))
    };
    let finish = |v: &Value| v["choices"][0]["finish_reason"].is_string();
    let mut r = Reply::default();
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        r.usage = usage_of(&v);
        r.finished = finish(&v);
        let m = &v["choices"][0]["message"];
        r.content = m["content"].as_str().unwrap_or_default().to_string();
        for c in m["tool_calls"].as_array().into_iter().flatten() {
            r.tool_calls.push((
                c["function"]["name"].as_str().unwrap_or_default().into(),
                c["function"]["arguments"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
            ));
        }
        return r;
    }
    let mut by_index: HashMap<u64, (String, String)> = HashMap::new();
    for line in body.lines() {
        let Some(data) = line.strip_prefix("data:").map(str::trim) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        r.usage = usage_of(&v).or(r.usage);
        r.finished |= finish(&v);
        let d = &v["choices"][0]["delta"];
        r.content
            .push_str(d["content"].as_str().unwrap_or_default());
        for c in d["tool_calls"].as_array().into_iter().flatten() {
            let e = by_index
                .entry(c["index"].as_u64().unwrap_or(0))
                .or_default();
            // llama-cpp-python repeats the whole name in every chunk.
            let name = c["function"]["name"].as_str().unwrap_or_default();
            if e.0 != name {
                e.0.push_str(name);
            }
            e.1.push_str(c["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    let mut idx: Vec<_> = by_index.into_iter().collect();
    idx.sort_by_key(|(i, _)| *i);
    r.tool_calls.extend(idx.into_iter().map(|(_, c)| c));
    r
}

// ---------------------------------------------------------- agentctl runs

/// One finished `agentctl run --json`.
struct Run {
    json: Value,
    events: Vec<Value>,
    header: Value,
    wall: Duration,
    stderr: String,
    code: Option<i32>,
}

fn agentctl(args: &[&str], session_dir: &Path) -> (Output, Duration) {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args(args)
        .env("AGENTCTL_SESSION_DIR", session_dir)
        .env("HOME", session_dir)
        .env("XDG_CONFIG_HOME", session_dir)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run agentctl");
    // Read both pipes while waiting, so a full pipe never stalls the run.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for agentctl") {
            break s;
        }
        if t0.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!("agentctl {args:?} did not finish within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = t0.elapsed();
    let out = Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    };
    (out, wall)
}

fn run_builtin(name: &str, proxy: &Proxy) -> Run {
    run_workflow(&format!("builtin:{name}"), proxy)
}

fn run_workflow(workflow: &str, proxy: &Proxy) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let url = proxy.base_url();
    let model = &server().alias;
    let args = [
        "run",
        workflow,
        "--provider",
        "openai",
        "--base-url",
        &url,
        "--model",
        model,
        "--json",
        "--auto-approve",
    ];
    let (out, wall) = agentctl(&args, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{workflow}: --json output is not JSON ({e}); stdout:\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let file = json["session_file"]
        .as_str()
        .map(PathBuf::from)
        .expect("a session file");
    let text = std::fs::read_to_string(&file).expect("read the session");
    let mut lines = text.lines();
    let header: Value = serde_json::from_str(lines.next().expect("a header")).unwrap();
    let events = lines.filter_map(|l| serde_json::from_str(l).ok()).collect();
    Run {
        json,
        events,
        header,
        wall,
        stderr,
        code: out.status.code(),
    }
}

impl Run {
    fn of_type<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["type"] == ty)
    }
}

/// The run succeeded, on the real server, and the usage it recorded is the
/// server's as the proxy saw it.
fn check_run(name: &str, run: &Run, proxy: &Proxy) {
    check_run_with_down(name, run, proxy, &[]);
}

/// [`check_run`] for a variant of a builtin in which the agents `down` are
/// command agents that fail for real (the sim's outage, made real); every
/// other agent is on the real server.
fn check_run_with_down(name: &str, run: &Run, proxy: &Proxy, down: &[&str]) {
    assert!(
        run.json["status"] == "succeeded" && run.code == Some(0),
        "{name} on the real model: status {} (exit {:?}), error {}\nstderr:\n{}",
        run.json["status"],
        run.code,
        run.json["error"],
        run.stderr
    );
    for p in run.header["providers"]
        .as_array()
        .expect("providers in the header")
    {
        if down.contains(&p["agent"].as_str().unwrap_or_default()) {
            assert_eq!(p["provider"], "command", "{name}: {p}");
            continue;
        }
        assert_eq!(p["provider"], "openai", "{name}: {p}");
        assert_eq!(
            p["model"].as_str(),
            Some(server().alias.as_str()),
            "{name}: {p}"
        );
    }
    check_usage(name, run, proxy);
    report_timing(name, run, proxy);
}

fn check_usage(name: &str, run: &Run, proxy: &Proxy) {
    let calls = proxy.completions();
    let responses: Vec<&Value> = run.of_type("llm_response").collect();
    assert!(!responses.is_empty(), "{name}: no model call was recorded");
    assert_eq!(
        responses.len(),
        calls.len(),
        "{name}: the session has {} replies, the proxy relayed {} whole ones",
        responses.len(),
        calls.len()
    );
    // Every figure the server reported is recorded as it came, unmarked;
    // where it reported none, the session says its figure is an estimate.
    let mut reported: Vec<(u64, u64)> = calls.iter().filter_map(|c| c.usage).collect();
    let mut recorded = Vec::new();
    let mut estimated = 0;
    for r in &responses {
        let u = &r["usage"];
        let pair = (
            u["prompt_tokens"].as_u64().unwrap(),
            u["completion_tokens"].as_u64().unwrap(),
        );
        if u["estimated"] == true {
            estimated += 1;
        } else {
            recorded.push(pair);
        }
    }
    reported.sort();
    recorded.sort();
    assert_eq!(
        recorded, reported,
        "{name}: recorded usage differs from the server's"
    );
    assert_eq!(
        estimated,
        calls.iter().filter(|c| c.usage.is_none()).count(),
        "{name}: estimates"
    );
    // The run's total (session end, `--json`) is what its calls cost: the
    // replies' usage, plus any partial cost of calls that failed.
    let end = run
        .of_type("session_ended")
        .next()
        .expect("the session ended");
    let total = |k: &str| end["usage"][k].as_u64().unwrap_or(0);
    assert_eq!(
        run.json["tokens"]["prompt"],
        json!(total("prompt_tokens")),
        "{name}: --json prompt tokens"
    );
    assert_eq!(
        run.json["tokens"]["completion"],
        json!(total("completion_tokens")),
        "{name}: --json completion tokens"
    );
    let summed = |k: &str| {
        responses
            .iter()
            .map(|r| r["usage"][k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    if run.of_type("llm_error").next().is_none() {
        assert_eq!(
            summed("prompt_tokens"),
            total("prompt_tokens"),
            "{name}: prompt tokens of the replies"
        );
        assert_eq!(
            summed("completion_tokens"),
            total("completion_tokens"),
            "{name}: completion tokens"
        );
    } else {
        assert!(
            summed("prompt_tokens") <= total("prompt_tokens"),
            "{name}: prompt tokens"
        );
    }
}

/// agentctl's wall time next to the model's (for BENCHMARKS.md; printed,
/// never asserted: timing assertions flake on a shared machine).
fn report_timing(name: &str, run: &Run, proxy: &Proxy) {
    let model = proxy.busy();
    let wall_ms = run.json["wall_ms"].as_f64().unwrap_or(0.0);
    let over = wall_ms / 1000.0 - model.as_secs_f64();
    eprintln!(
        "TIMING {name}: process {:.2} s, run {:.2} s, model busy {:.2} s over {} calls, overhead {:.2} s ({:.1} %)",
        run.wall.as_secs_f64(),
        wall_ms / 1000.0,
        model.as_secs_f64(),
        proxy.calls.lock().unwrap().len(),
        over,
        100.0 * over / model.as_secs_f64().max(1e-9)
    );
}

/// The model's own words: the text of some reply the proxy relayed.
fn is_model_text(proxy: &Proxy, text: &str) -> bool {
    let t = text.trim();
    !t.is_empty() && proxy.completions().iter().any(|c| c.content.trim() == t)
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn builtin_test(name: &str) -> (Run, Proxy) {
    let _turn = turn();
    let proxy = Proxy::start(&server().addr);
    let run = run_builtin(name, &proxy);
    check_run(name, &run, &proxy);
    (run, proxy)
}

// ---------------------------------------------------------------- tests

#[test]
fn pipeline_writes_a_draft_from_the_models_outline() {
    let (run, proxy) = builtin_test("pipeline");
    let out = run.json["outputs"].as_str().expect("a text draft");
    assert!(
        is_model_text(&proxy, out),
        "the draft is the model's reply: {out:?}"
    );
    assert_eq!(proxy.completions().len(), 3);
}

#[test]
fn research_report_chains_three_real_replies() {
    let (run, proxy) = builtin_test("research_report");
    let out = run.json["outputs"].as_str().expect("a text report");
    assert!(is_model_text(&proxy, out), "{out:?}");
    // Each step's prompt carries the previous step's real reply.
    let calls = proxy.completions();
    let writer_request = calls.last().unwrap().request.to_string();
    let analysis = serde_json::to_string(calls[calls.len() - 2].content.trim()).unwrap();
    let start: String = analysis.trim_matches('"').chars().take(40).collect();
    assert!(
        writer_request.contains(&start),
        "the writer saw the analysis {start:?}"
    );
}

#[test]
fn parallel_merges_the_first_two_real_views() {
    let (run, proxy) = builtin_test("parallel");
    let out = run.json["outputs"]
        .as_str()
        .expect("a merged recommendation");
    assert!(is_model_text(&proxy, out), "{out:?}");
}

#[test]
fn scatter_gather_summarises_every_document() {
    let (run, proxy) = builtin_test("scatter_gather");
    let out = run.json["outputs"].as_str().expect("a digest");
    assert!(is_model_text(&proxy, out), "{out:?}");
    // Told apart by their system prompts: the combiner's request quotes
    // the summaries, and a small model's summary may echo its question.
    let summaries = proxy
        .completions()
        .iter()
        .filter(|c| {
            let r = c.request.to_string();
            r.contains("You summarise the documents") && !r.contains("You combine summaries")
        })
        .count();
    assert_eq!(summaries, 8, "one real call per document");
}

#[test]
fn hierarchical_dispatches_the_planners_real_plan() {
    let (run, proxy) = builtin_test("hierarchical");
    // The server refuses `json_schema` (HTTP 500 naming response_format):
    // the endpoint steps down once, to `json_object` with the schema, which
    // it honours with a grammar, and stays there.
    let steps: Vec<(String, String)> = run
        .of_type("endpoint_adapted")
        .filter(|e| e["setting"] == "structured_output")
        .map(|e| {
            (
                e["from"].as_str().unwrap_or("").to_string(),
                e["to"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [("json_schema".to_string(), "json_object+schema".to_string())],
        "{:?}",
        run.of_type("endpoint_adapted").collect::<Vec<_>>()
    );
    let planned = proxy
        .completions()
        .into_iter()
        .find(|c| c.request["response_format"]["schema"]["required"] == json!(["subtasks"]))
        .expect("the plan was asked for with its schema");
    assert_eq!(planned.request["response_format"]["type"], "json_object");
    let plan = run.of_type("plan_created").next().expect("a plan event");
    let subtasks = plan["subtasks"].as_array().expect("subtasks");
    assert!(!subtasks.is_empty(), "the plan has subtasks: {plan}");
    let out_plan = &run.json["outputs"]["plan"]["subtasks"];
    assert!(
        out_plan.as_array().is_some_and(|s| !s.is_empty()),
        "{}",
        run.json["outputs"]
    );
    // The sim's plans read "Part 1 of 3"; a real planner's do not.
    assert!(!plan.to_string().contains("Part 1 of"), "{plan}");
}

#[test]
fn router_routes_on_the_classifiers_real_label() {
    let (run, proxy) = builtin_test("router");
    let chosen = run
        .of_type("route_chosen")
        .next()
        .expect("a route was chosen");
    let to = chosen["to"].as_str().unwrap();
    assert!(["billing", "tech", "general"].contains(&to), "{chosen}");
    let out = run.json["outputs"].as_str().expect("the team's answer");
    assert!(is_model_text(&proxy, out), "{out:?}");
}

#[test]
fn state_machine_loops_on_the_analysts_schema_field() {
    let (run, proxy) = builtin_test("state_machine");
    let out = run.json["outputs"].as_str().expect("a report");
    assert!(is_model_text(&proxy, out), "{out:?}");
    // Every analysis is schema-valid JSON (the guard read its confidence).
    let analyses: Vec<&Value> = run
        .of_type("task_completed")
        .filter(|e| e["task"].as_str().is_some_and(|t| t.contains("analyse")))
        .collect();
    assert!(!analyses.is_empty());
    for a in analyses {
        let c = a["output"]["confidence"].as_str().unwrap_or_default();
        assert!(["low", "medium", "high"].contains(&c), "{a}");
        assert!(a["output"]["finding"].is_string(), "{a}");
    }
    // The analyst's calls carried the schema.
    let schema_calls = proxy
        .completions()
        .iter()
        .filter(|c| c.request.to_string().contains("confidence"))
        .count();
    assert!(schema_calls > 0);
}

#[test]
fn event_driven_reacts_to_the_models_alert() {
    let (run, proxy) = builtin_test("event_driven");
    let alert = run
        .of_type("bus")
        .find(|e| e["message"]["topic"] == "alerts.disk")
        .expect("the alert was published");
    let payload = &alert["message"]["payload"];
    assert!(
        payload["host"].is_string() && payload["issue"].is_string(),
        "{alert}"
    );
    assert!(["low", "medium", "high"].contains(&payload["severity"].as_str().unwrap_or_default()));
    let out = run.json["outputs"].as_str().expect("a report");
    assert!(is_model_text(&proxy, out), "{out:?}");
}

#[test]
fn debate_decides_on_one_of_its_options_from_real_turns() {
    let (run, _proxy) = builtin_test("debate");
    let options = ["postgres", "clickhouse", "duckdb"];
    let decision = run.json["outputs"]["decision"].as_str().unwrap_or_default();
    assert!(options.contains(&decision), "{}", run.json["outputs"]);
    let turns: Vec<&Value> = run.of_type("debate_turn").collect();
    assert!(!turns.is_empty(), "real turns were taken");
    for t in &turns {
        assert!(
            options.contains(&t["position"].as_str().unwrap_or_default()),
            "{t}"
        );
        // The sim's arguments read "[ana] In round 1 I hold …".
        assert!(
            !t["argument"].as_str().unwrap_or_default().starts_with('['),
            "{t}"
        );
    }
}

#[test]
fn consensus_decides_from_real_ballots() {
    let (run, _proxy) = builtin_test("consensus");
    let options = ["config-change", "disk-failure", "network-partition"];
    let reached = run.of_type("consensus_reached").next().expect("consensus");
    assert!(
        options.contains(&reached["choice"].as_str().unwrap_or_default()),
        "{reached}"
    );
}

#[test]
fn demo_builds_from_a_real_plan_and_gates_the_models_text() {
    let (run, proxy) = builtin_test("demo");
    let decision = run
        .of_type("consensus_reached")
        .chain(run.of_type("debate_decided"))
        .next()
        .expect("a decision");
    let choice = decision["choice"]
        .as_str()
        .or(decision["decision"].as_str())
        .unwrap_or_default();
    assert!(
        ["streaming", "background-job", "client-side"].contains(&choice),
        "{decision}"
    );
    let plan = run.of_type("plan_created").next().expect("a plan");
    assert!(
        plan["subtasks"].as_array().is_some_and(|s| !s.is_empty()),
        "{plan}"
    );
    let gate = run.of_type("gate_opened").next().expect("the gate opened");
    let mut texts = Vec::new();
    strings(&gate["artifact"], &mut texts);
    assert!(
        texts.iter().any(|t| is_model_text(&proxy, t)),
        "the gate shows the model's text: {}",
        gate["artifact"]
    );
}

#[test]
fn providers_check_passes_against_the_real_server() {
    let _turn = turn();
    let proxy = Proxy::start(&server().addr);
    let dir = tempfile::tempdir().unwrap();
    let url = proxy.base_url();
    let (out, _) = agentctl(
        &[
            "providers",
            "check",
            "openai",
            "--base-url",
            &url,
            "--model",
            &server().alias,
        ],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("✓ list models") && text.contains("✓ completion"),
        "{text}"
    );
    assert_eq!(proxy.completions().len(), 1, "one cheap completion");
}

#[test]
fn the_tool_loop_puts_then_gets_on_a_real_model() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("tools.toml");
    // Two agents, each forced to call its tool on the first round (then the
    // choice reverts to auto, so each loop ends with a reply).
    std::fs::write(
        &wf,
        r#"
[workflow]
name = "tools"
input = "blue"

[[agents]]
id = "keeper"
system = "You store facts with the context_put tool."
tools = ["context_put"]
tool_choice = "context_put"
max_tokens = 96

[[agents]]
id = "reader"
system = "You read facts with the context_get tool."
tools = ["context_get"]
tool_choice = "context_get"
max_tokens = 96

[[nodes]]
id = "main"
kind = "sequence"
steps = ["put", "read"]

[[nodes]]
id = "put"
kind = "agent"
agent = "keeper"
prompt = "Store the value \"{{input}}\" under the key \"color\"."

[[nodes]]
id = "read"
kind = "agent"
agent = "reader"
prompt = "Read the key \"color\" and say its value."
"#,
    )
    .unwrap();
    let proxy = Proxy::start(&server().addr);
    let run = run_workflow(wf.to_str().unwrap(), &proxy);
    check_run("tools", &run, &proxy);
    let tools: Vec<(&str, &Value)> = run
        .of_type("tool_call")
        .map(|e| (e["tool"].as_str().unwrap_or_default(), e))
        .collect();
    let put = tools
        .iter()
        .position(|(t, _)| *t == "context_put")
        .expect("context_put called");
    let get = tools
        .iter()
        .position(|(t, _)| *t == "context_get")
        .expect("context_get called");
    assert!(put < get, "put, then get: {tools:?}");
    let results: Vec<&Value> = run.of_type("tool_result").collect();
    assert!(
        results
            .iter()
            .any(|r| r["tool"] == "context_put" && r["ok"] == true),
        "{results:?}"
    );
    // The forced round asked the server for that tool by name; the next
    // round of the same agent did not force it.
    let calls = proxy.completions();
    let forced: Vec<&Call> = calls
        .iter()
        .filter(|c| c.request["tool_choice"]["function"]["name"] == "context_put")
        .collect();
    assert_eq!(forced.len(), 1, "one forced round for the keeper");
    assert!(
        forced[0].tool_calls.iter().any(|(n, _)| n == "context_put"),
        "{:?}",
        forced[0]
    );
    // What `context_get` read back is what the last `context_put` of that
    // key before it stored (the arguments are the model's own: it may use
    // other keys, put twice, or put a number or an object).
    let get_args: Value =
        serde_json::from_str(tools[get].1["arguments"].as_str().unwrap()).unwrap_or_default();
    let last_put = tools[..get]
        .iter()
        .filter(|(t, _)| *t == "context_put")
        .filter_map(|(_, e)| serde_json::from_str::<Value>(e["arguments"].as_str()?).ok())
        .rfind(|a| a["key"] == get_args["key"]);
    if let Some(put_args) = last_put.filter(|a| a["append"] != true && a["key"].is_string()) {
        let got = results
            .iter()
            .find(|r| r["tool"] == "context_get")
            .expect("get result");
        let read: Value = serde_json::from_str(got["output"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("context_get's output is not JSON ({e}): {got}"));
        assert_eq!(read, put_args["value"], "{got}");
    }
}

// ------------------------------------------- the patterns of issue #18

/// A builtin's text with `from` replaced by `to` (a variant that makes the
/// outage the sim scripts real), written to a file in `dir`.
fn builtin_variant(dir: &Path, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let path = Path::new(ROOT).join(format!("assets/workflows/{name}.toml"));
    let mut text = std::fs::read_to_string(&path).expect("read the builtin");
    for (from, to) in edits {
        assert!(text.contains(from), "{name}.toml has no {from:?}");
        text = text.replace(from, to);
    }
    let out = dir.join(format!("{name}-variant.toml"));
    std::fs::write(&out, text).unwrap();
    out
}

/// A command agent that is down: every call fails.
const DOWN: &str = r#"kind = "command"
command = { run = ["sh", "-c", "echo service down >&2; exit 1"] }"#;

fn variant_test(name: &str, edits: &[(&str, &str)], down: &[&str]) -> (Run, Proxy) {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let wf = builtin_variant(dir.path(), name, edits);
    let proxy = Proxy::start(&server().addr);
    let run = run_workflow(wf.to_str().unwrap(), &proxy);
    check_run_with_down(name, &run, &proxy, down);
    (run, proxy)
}

fn seq(e: &Value) -> u64 {
    e["seq"].as_u64().unwrap_or(0)
}

/// Claims are exclusive, work follows a claim, and a lease that was not
/// renewed by a finding expires the round after it ends. Returns the
/// expiries seen.
fn check_swarm_pool(run: &Run) -> Vec<Value> {
    // item -> (agent, claimed in round, until)
    let mut held: HashMap<String, (String, u64, u64)> = HashMap::new();
    let mut expired = Vec::new();
    let mut last_round = 0;
    for e in &run.events {
        let item = e["item"].as_str().unwrap_or_default().to_string();
        let agent = e["agent"].as_str().unwrap_or_default().to_string();
        let round = e["round"].as_u64().unwrap_or(0);
        match e["type"].as_str().unwrap_or_default() {
            "swarm_claimed" => {
                assert!(
                    !held.contains_key(&item),
                    "{item} claimed while {:?} holds it: {e}",
                    held[&item]
                );
                held.insert(item, (agent, round, e["until"].as_u64().unwrap()));
            }
            "swarm_finding" | "swarm_work_failed" => {
                let (by, from, until) = held
                    .get(&item)
                    .cloned()
                    .unwrap_or_else(|| panic!("work on {item} with no claim: {e}"));
                assert_eq!(by, agent, "{e}");
                assert!(
                    from <= round && round <= until,
                    "work outside the lease: {e}"
                );
                if e["type"] == "swarm_finding" {
                    held.remove(&item);
                }
            }
            "swarm_lease_expired" => {
                let (by, _, until) = held.remove(&item).expect("an expired lease was held");
                assert_eq!(by, agent, "{e}");
                assert_eq!(round, until + 1, "expires the round after its last: {e}");
                expired.push(e.clone());
            }
            "swarm_round_ended" => {
                last_round = round;
                // A lease that ended this round without a finding must
                // expire at the start of the next, if there is one.
            }
            _ => {}
        }
    }
    let converged = run
        .of_type("swarm_converged")
        .next()
        .expect("the swarm ended");
    let rounds = converged["rounds"].as_u64().unwrap();
    assert_eq!(rounds, last_round, "{converged}");
    // Leases still held at the end ran past no round start.
    for (item, (_, _, until)) in &held {
        assert!(
            *until >= rounds,
            "{item}'s lease ended at {until} but never expired"
        );
    }
    expired
}

#[test]
fn swarm_claims_items_and_converges_on_a_real_model() {
    let (run, proxy) = builtin_test("swarm");
    let c = run.of_type("swarm_converged").next().expect("converged");
    let reason = c["reason"].as_str().unwrap_or_default();
    assert!(
        ["covered", "quiet", "quality", "max_steps"].contains(&reason),
        "{c}"
    );
    let rounds = c["rounds"].as_u64().unwrap();
    assert!(rounds <= 8, "{c}");
    if reason == "max_steps" {
        assert_eq!(rounds, 8, "{c}");
    }
    let expired = check_swarm_pool(&run);
    assert!(
        run.of_type("swarm_claimed").count() >= 3,
        "every first item was claimed"
    );
    let findings = run.of_type("swarm_finding").count();
    assert!(findings > 0 && c["findings"] == json!(findings), "{c}");
    let agg = run.json["outputs"]["aggregate"]
        .as_str()
        .expect("an aggregate");
    assert!(is_model_text(&proxy, agg), "{agg:?}");
    eprintln!(
        "SWARM builtin: {reason} after {rounds} rounds, {findings} findings, {} items, {} work failures, {} lease expiries",
        c["items"],
        run.of_type("swarm_work_failed").count(),
        expired.len()
    );
}

/// scout_d is a command agent that kills itself with SIGKILL on every call:
/// its claim is never renewed, the lease expires, and a live scout on the
/// real model takes the item; the swarm still covers every item.
#[test]
fn a_swarm_scout_killed_mid_run_loses_its_lease_to_a_real_peer() {
    let (run, _proxy) = variant_test(
        "swarm",
        &[
            (
                "sim = { template = \"FINDING: scout_d checked {{task}}\", error_rate = 1.0 }",
                "kind = \"command\"\ncommand = { run = [\"sh\", \"-c\", \"kill -KILL $$\"] }",
            ),
            // The real scouts write no `NEW:` items, so `quiet_rounds = 3`
            // stops the swarm at round 3, before a 2-round lease taken in
            // round 2 expires: a 1-round lease shows the hand-over.
            ("lease_rounds = 2", "lease_rounds = 1"),
        ],
        &["scout_d"],
    );
    let failed: Vec<&Value> = run.of_type("swarm_work_failed").collect();
    assert!(
        !failed.is_empty() && failed.iter().all(|f| f["agent"] == "scout_d"),
        "only the killed scout fails: {failed:?}"
    );
    let expired = check_swarm_pool(&run);
    assert!(
        expired.iter().any(|e| e["agent"] == "scout_d"),
        "scout_d's lease expired: {:?}",
        run.of_type("swarm_claimed").collect::<Vec<_>>()
    );
    // Each item scout_d lost was then claimed by another scout.
    for e in &expired {
        let retaken = run
            .of_type("swarm_claimed")
            .any(|c| c["item"] == e["item"] && c["agent"] != "scout_d" && seq(c) > seq(e));
        let c = run.of_type("swarm_converged").next().unwrap();
        assert!(
            retaken || c["rounds"] == e["round"],
            "{e} was not taken over"
        );
    }
    let c = run.of_type("swarm_converged").next().unwrap();
    eprintln!("SWARM with scout_d killed: {c}");
    assert_eq!(c["reason"], "covered", "{c}");
}

#[test]
fn dependent_plan_runs_the_real_plan_as_a_dag() {
    let (run, proxy) = builtin_test("dependent_plan");
    let plan = run.of_type("plan_created").next().expect("a plan");
    let subtasks = plan["subtasks"].as_array().expect("subtasks");
    assert!(!subtasks.is_empty(), "{plan}");
    let completed = |task: &str| {
        run.of_type("task_completed")
            .find(|e| e["task"] == task)
            .map(seq)
    };
    let mut with_deps = 0;
    for s in subtasks {
        let task = s["task"].as_str().unwrap();
        let ready = run
            .of_type("plan_step_ready")
            .find(|e| e["task"] == task)
            .unwrap_or_else(|| panic!("{task} never started: {plan}"));
        let deps: Vec<&str> = s["depends_on"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            ready["after"].as_array().map_or(0, Vec::len),
            deps.len(),
            "{ready}"
        );
        // A step starts only after each of its inputs completed, and is fed them.
        for d in &deps {
            let done = completed(d).unwrap_or_else(|| panic!("{d} never completed"));
            assert!(done < seq(ready), "{task} started before its input {d}");
        }
        with_deps += usize::from(!deps.is_empty());
        let assigned = run
            .of_type("task_assigned")
            .find(|e| e["task"] == task)
            .expect("assigned");
        assert!(seq(assigned) > seq(ready), "{task}");
    }
    // The planner was asked with the plan's schema.
    assert!(
        proxy
            .completions()
            .iter()
            .any(|c| c.request["response_format"]["schema"]["required"] == json!(["subtasks"])),
        "the plan was asked with its schema"
    );
    eprintln!(
        "PLAN: {} steps, {with_deps} with dependencies, estimates checked: {}",
        subtasks.len(),
        run.of_type("plan_budget_checked").count()
    );
}

/// Checks a settled join's entries against its branches' tasks.
fn settled_entries(run: &Run) -> Vec<Value> {
    let merge = run
        .of_type("task_created")
        .find(|e| e["task"] == "merge")
        .expect("the merge ran");
    let entries = merge["input"]
        .as_array()
        .expect("a list of entries")
        .clone();
    assert_eq!(entries.len(), 3, "one entry per branch: {merge}");
    for (e, task) in entries.iter().zip(["clarity", "claims", "links_ok"]) {
        match e["ok"].as_bool() {
            Some(true) => {
                let done = run
                    .of_type("task_completed")
                    .find(|c| c["task"] == task)
                    .expect("a good branch completed");
                assert_eq!(e["output"], done["output"], "in branch order: {e}");
            }
            Some(false) => assert!(e["error"].is_string(), "{e}"),
            None => panic!("an entry is {{ok, output}} or {{ok, error}}: {e}"),
        }
    }
    entries
}

#[test]
fn all_settled_keeps_every_real_review() {
    let (run, proxy) = builtin_test("all_settled");
    let entries = settled_entries(&run);
    let ok = entries.iter().filter(|e| e["ok"] == true).count();
    assert!(ok >= 2, "min_success = 2: {entries:?}");
    let out = run.json["outputs"].as_str().expect("a merge");
    assert!(is_model_text(&proxy, out), "{out:?}");
    eprintln!("ALL_SETTLED builtin: {ok} of 3 ok");
}

#[test]
fn all_settled_keeps_the_real_reviews_when_one_checker_is_down() {
    let (run, proxy) = variant_test(
        "all_settled",
        &[("sim = { fail_first = 1000, latency_ms = 20 }", DOWN)],
        &["links"],
    );
    let entries = settled_entries(&run);
    let ok: Vec<bool> = entries.iter().map(|e| e["ok"] == true).collect();
    assert_eq!(ok, [true, true, false], "{entries:?}");
    assert!(
        entries[2]["error"]
            .as_str()
            .unwrap()
            .contains("service down"),
        "{}",
        entries[2]
    );
    let out = run.json["outputs"].as_str().expect("a merge");
    assert!(is_model_text(&proxy, out), "{out:?}");
}

#[test]
fn on_error_is_not_called_when_the_real_pipeline_succeeds() {
    let (run, proxy) = builtin_test("on_error");
    assert_eq!(run.of_type("error_handled").count(), 0);
    assert!(
        !run.of_type("task_created")
            .any(|e| e["task"] == "save_draft")
    );
    let out = run.json["outputs"].as_str().expect("the publisher's reply");
    assert!(is_model_text(&proxy, out), "{out:?}");
}

#[test]
fn on_error_hands_the_real_partial_results_to_the_handler() {
    let (run, proxy) = variant_test(
        "on_error",
        &[("sim = { fail_first = 1000, latency_ms = 20 }", DOWN)],
        &["publisher"],
    );
    let handed = run
        .of_type("error_handled")
        .next()
        .expect("the handler ran");
    assert_eq!(
        (&handed["node"], &handed["handler"], &handed["partial"]),
        (&json!("main"), &json!("save_draft"), &json!(2)),
        "{handed}"
    );
    let input = &run
        .of_type("task_created")
        .find(|e| e["task"] == "save_draft")
        .expect("the handler's task")["input"];
    assert!(
        input["error"].as_str().unwrap().contains("service down"),
        "{input}"
    );
    let output_of = |task: &str| {
        run.of_type("task_completed")
            .find(|e| e["task"] == task)
            .map(|e| e["output"].clone())
            .expect("completed")
    };
    assert_eq!(
        input["partial"]["research"],
        output_of("research"),
        "{input}"
    );
    assert_eq!(input["partial"]["draft"], output_of("draft"), "{input}");
    // The handler's real reply is the run's output.
    let out = run.json["outputs"].as_str().expect("the handler's reply");
    assert!(is_model_text(&proxy, out), "{out:?}");
    assert_eq!(json!(out), output_of("save_draft"));
}

#[test]
fn validate_judges_real_replies_and_reroutes_rejections() {
    let _turn = turn();
    let proxy = Proxy::start(&server().addr);
    let run = run_builtin("validate", &proxy);
    // The documented end either way: an approved reply, or three rejected.
    let rejected: Vec<&Value> = run.of_type("reply_rejected").collect();
    if run.json["status"] == "succeeded" {
        check_run("validate", &run, &proxy);
    } else {
        assert_eq!(rejected.len(), 3, "{}", run.json["error"]);
        assert!(
            run.json["error"]
                .as_str()
                .unwrap()
                .contains("3 replies failed validation"),
            "{}",
            run.json["error"]
        );
    }
    // Every reply was judged by the checker.
    let checks = run
        .of_type("task_completed")
        .filter(|e| e["task"].as_str().unwrap().starts_with("announce~check"))
        .count();
    assert_eq!(
        checks,
        rejected.len() + usize::from(run.json["status"] == "succeeded")
    );
    // A rejected reply goes to the next writer, told why.
    let calls = proxy.completions();
    for (k, r) in rejected.iter().enumerate() {
        assert_eq!(r["attempt"], json!(k + 1), "{r}");
        let reason = r["reason"].as_str().unwrap();
        let again = calls.iter().any(|c| {
            let text = c.request.to_string();
            text.contains("A previous reply was rejected")
                && text.contains(
                    &serde_json::to_string(reason)
                        .unwrap()
                        .trim_matches('"')
                        .chars()
                        .take(30)
                        .collect::<String>(),
                )
        });
        if k + 1 < 3 {
            assert!(again, "the reason reached the next writer: {reason}");
        }
    }
    if let Some(first) = rejected.first() {
        assert_eq!(first["agent"], "junior", "{first}");
        let rerouted = run.of_type("task_rerouted").next().expect("rerouted");
        assert_eq!(
            (&rerouted["from_agent"], &rerouted["to_agent"]),
            (&json!("junior"), &json!("senior"))
        );
    }
    eprintln!(
        "VALIDATE builtin: {} after {} rejection(s)",
        run.json["status"],
        rejected.len()
    );
}

#[test]
fn chat_takes_real_turns_until_its_termination_rule() {
    let (run, proxy) = builtin_test("chat");
    let ids = ["pm", "engineer", "designer"];
    let turns: Vec<&Value> = run.of_type("chat_turn").collect();
    let failed: Vec<&Value> = run.of_type("chat_turn_failed").collect();
    assert!(!turns.is_empty());
    // Turn order: addressed first, else the next after the last speaker.
    let mut all: Vec<&Value> = turns.iter().chain(&failed).copied().collect();
    all.sort_by_key(|e| e["turn"].as_u64());
    let mut expected = 0usize;
    for (k, t) in all.iter().enumerate() {
        assert_eq!(t["turn"], json!(k + 1), "{t}");
        let speaker = ids
            .iter()
            .position(|i| t["speaker"] == *i)
            .expect("a participant");
        if t["type"] == "chat_turn_failed" {
            // A failed turn names its speaker but not how it was chosen.
        } else if t["via"] == "addressed" {
            assert_eq!(all[k - 1]["addressed"], t["speaker"], "{t}");
        } else {
            assert_eq!(speaker, expected, "in order: {t}");
        }
        expected = (speaker + 1) % 3;
        if t["type"] == "chat_turn" {
            assert!(is_model_text(&proxy, t["text"].as_str().unwrap()), "{t}");
        }
    }
    let end = run.of_type("chat_ended").next().expect("ended");
    let n = end["turns"].as_u64().unwrap();
    assert_eq!(n, all.len() as u64, "{end}");
    match end["reason"].as_str().unwrap() {
        "phrase" => assert!(
            turns.last().unwrap()["text"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("done"),
            "{end}"
        ),
        "judge" => {
            assert_eq!(n % 3, 0, "the judge is asked every 3 turns: {end}");
            assert_eq!(end["by"], "lead", "{end}");
        }
        "max_turns" => assert_eq!(n, 9, "{end}"),
        other => panic!("unknown end {other}: {end}"),
    }
    eprintln!(
        "CHAT builtin: {} after {n} turns ({} addressed, {} failed)",
        end["reason"],
        turns.iter().filter(|t| t["via"] == "addressed").count(),
        failed.len()
    );
}

// ------------------------------------------------------ the cockpit (tmux)

fn has_turn(screen: &str, n: u32, speaker: &str) -> bool {
    let tag = format!("#{n}");
    screen.lines().any(|l| {
        let mut words = l.trim_start_matches(['┃', '│', ' ']).split_whitespace();
        words.next() == Some(tag.as_str()) && words.next() == Some(speaker)
    })
}

#[test]
fn the_cockpit_steps_a_real_models_debate() {
    let _turn = turn();
    let proxy = Proxy::start(&server().addr);
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_agentctl");
    let cmd = format!(
        "'{bin}' tui builtin:debate --step --no-mouse --provider openai --base-url '{}' --model '{}'; echo \"AGENTCTL-EXIT=$?\"; sleep 60",
        proxy.base_url(),
        server().alias
    );
    let env = [
        ("HOME", home.path()),
        ("XDG_CONFIG_HOME", home.path()),
        ("XDG_DATA_HOME", home.path()),
        ("XDG_STATE_HOME", home.path()),
        ("AGENTCTL_SESSION_DIR", home.path()),
    ];
    let t = Tmux::start(&cmd, &env, (140, 40));
    let short = Duration::from_secs(20);
    t.wait_within("the cockpit", short, |s| s.contains("Tasks"));
    t.keys(&["6", "z"]);
    t.wait_within("ana waiting for n", short, |s| {
        s.contains("▶ next: turn by ana")
    });
    assert!(
        proxy.completions().is_empty(),
        "nothing is asked before the first step"
    );
    // One `n`: ana's real turn arrives, and ben waits.
    t.keys(&["n"]);
    let s = t.wait_within(
        "ana's turn, then ben waiting",
        Duration::from_secs(120),
        |s| has_turn(s, 1, "ana") && s.contains("▶ next: turn by ben"),
    );
    // One step is one turn: its real call (and, when the small model's
    // reply is malformed, the retries of that call), then nothing more is
    // asked while ben waits for the next `n`.
    let calls = proxy.completions();
    assert!(!calls.is_empty(), "the step made a real call:\n{s}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        proxy.completions().len(),
        calls.len(),
        "nothing is asked before the next step:\n{s}"
    );
    // The turn shown is the model's: its position is one of the options and
    // the call went to the server.
    assert!(
        ["postgres", "clickhouse", "duckdb"]
            .iter()
            .any(|o| s.contains(o)),
        "{s}"
    );
    t.keys(&["q"]);
    t.wait_within("the cockpit to ask or leave", short, |s| {
        s.contains("AGENTCTL-EXIT=") || s.to_lowercase().contains("quit")
    });
}
