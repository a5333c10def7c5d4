//! Defects an outside attack found (the hardening issue), each driven
//! through the real binary with real processes, files and signals.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod child;

use child::{agentctl, finish, json, root, stderr};

fn sessions() -> PathBuf {
    std::env::temp_dir().join("agentctl-hardening-sessions")
}

// ── 1. command agents run from the CLI ──

#[test]
fn the_readme_command_agent_pipeline_runs_headless() {
    let wf = root().join("assets/agents/pipeline.toml");
    let child = agentctl(&sessions())
        .args(["run", wf.to_str().unwrap(), "--json"])
        .spawn()
        .expect("spawn");
    let out = finish(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["status"], "succeeded", "{v}");
    assert_eq!(v["tasks_completed"], 3, "{v}");
    // The Python program upper-cased the sim's draft, then the shell
    // script counted its words: real programs ran.
    let text = v["outputs"].to_string();
    assert!(
        text.contains("AGENTS CAN BE PROGRAMS TOO") || text.contains('6'),
        "{v}"
    );
}

#[test]
fn a_command_agent_ignores_a_forced_provider() {
    // `--provider sim` points every model agent at the sim; the programs stay
    // programs, and no provider named `command` is looked up.
    let wf = root().join("assets/agents/pipeline.toml");
    let child = agentctl(&sessions())
        .args(["run", wf.to_str().unwrap(), "--json", "--provider", "sim"])
        .spawn()
        .expect("spawn");
    let out = finish(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["status"], "succeeded");
}

// ── 2. no gate is approved without a human or an explicit flag ──

fn conflict_gate() -> String {
    root()
        .join("tests/fixtures/hardening/conflict_gate.toml")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_parallel_resolved_by_a_gate_is_refused_without_a_terminal() {
    for extra in [&["--json"][..], &[][..]] {
        let mut args = vec!["run".to_string(), conflict_gate()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = agentctl(&sessions()).args(&args).spawn().expect("spawn");
        let out = finish(child, Duration::from_secs(30));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("human gate (node `ask`)"), "{err}");
        assert!(err.contains("--auto-approve"), "{err}");
        assert!(out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains("Lyon"));
    }
}

#[test]
fn a_parallel_resolved_by_a_gate_finishes_with_auto_approve() {
    let child = agentctl(&sessions())
        .args(["run", &conflict_gate(), "--json", "--auto-approve"])
        .spawn()
        .expect("spawn");
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["status"], "succeeded", "{v}");
    // Approved as proposed: the weighted choice.
    assert_eq!(v["outputs"], "Lyon", "{v}");
}

#[test]
fn end_of_input_at_a_gate_prompt_is_not_a_yes() {
    // A terminal on stderr, stdin a pipe that closes at once: the binary
    // must not take the silence for approval. `script` gives the child a
    // pty for stdin and stderr; we close its input straight away.
    if Command::new("script").arg("--version").output().is_err() {
        panic!("`script` (util-linux) is needed for this test: scripts/test installs it");
    }
    let cmd = format!(
        "{} run {} --no-record",
        env!("CARGO_BIN_EXE_agentctl"),
        conflict_gate()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn script");
    // Ctrl-D on the pty: end of input for the prompt.
    std::thread::sleep(Duration::from_millis(1500));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(b"\x04");
    }
    let mut out = String::new();
    let start = Instant::now();
    let mut stdout = child.stdout.take().unwrap();
    let t = std::thread::spawn(move || {
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still waiting at the gate"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = t.join().unwrap();
    assert_ne!(status.code(), Some(0), "approved with nobody there: {out}");
    assert!(out.contains("waiting for you"), "{out}");
    assert!(out.contains("end of input"), "{out}");
}
