//! Engine defects of the hardening issue (runaway loops, usage overflow)
//! and of the real-models issue (errors that name their cause), driven
//! through the real binary with real processes, signals and files.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn agentctl(sessions: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agentctl"));
    c.env("AGENTCTL_SESSION_DIR", sessions)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Waits for a child with a bound: a hang fails the test instead of
/// hanging the suite.
fn finish(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "still running after {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            stderr(o)
        )
    })
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

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
/// assertion). Returns the output.
fn interrupt_runaway(extra: &[&str], stderr_to: Option<&Path>) -> Output {
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
    let mut peak = 0;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        peak = peak.max(rss_kb(pid).expect("the run is still going"));
    }
    assert!(
        peak < 500 * 1024,
        "RSS reached {peak} kB within 3 s of a runaway loop"
    );
    // SAFETY: signalling our own child by its pid.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGINT) }, 0);
    let out = finish(child, Duration::from_secs(10));
    assert_eq!(
        out.status.code(),
        Some(3),
        "SIGINT ends the run as interrupted; stderr: {}",
        stderr(&out)
    );
    out
}

#[test]
fn ctrl_c_stops_a_zero_latency_runaway_loop_with_bounded_memory() {
    // Recorded, no subscriber on the engine's thread.
    let out = interrupt_runaway(&["--json"], None);
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
    interrupt_runaway(&["--no-record"], Some(&log));
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
