//! The agentctl binary as a child process of a test: a command with a
//! private session folder, and waits that end (a hang fails the test
//! instead of hanging the suite).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `agentctl` recording into `sessions`, with no stdin, its output piped,
/// and none of the user's own log or config settings.
pub fn agentctl(sessions: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agentctl"));
    c.env("AGENTCTL_SESSION_DIR", sessions)
        .env_remove("AGENTCTL_LOG")
        .env_remove("AGENTCTL_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Waits for `child` at most `limit`, reading its output meanwhile (a
/// full pipe must not stall it); past the limit it is killed and the test
/// fails with the end of its stderr.
pub fn finish(child: Child, limit: Duration) -> Output {
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output().expect("output"));
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out,
        Err(_) => {
            // SAFETY: plain kill(2) of our own child's pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let out = rx.recv().expect("output");
            let err = String::from_utf8_lossy(&out.stderr);
            let start = err.len().saturating_sub(2000);
            let start = (start..err.len())
                .find(|&i| err.is_char_boundary(i))
                .unwrap_or(err.len());
            panic!(
                "still running after {limit:?}; the end of its stderr:\n{}",
                &err[start..]
            );
        }
    }
}

/// Runs `c` to its end (at most a minute).
pub fn run(mut c: Command) -> Output {
    finish(c.spawn().expect("spawn agentctl"), Duration::from_secs(60))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Stdout as JSON; the test fails showing both streams if it is not.
pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            stdout(o),
            stderr(o)
        )
    })
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}
