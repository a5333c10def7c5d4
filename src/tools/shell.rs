//! The `shell` tool: a command line run by `/bin/sh -c`, confined, and only
//! after a human approved that exact call.
//!
//! Off by default. An agent gets it by listing `shell` in its `tools` **and**
//! declaring a `shell` table (`shell = { timeout_ms = 10000, inherit_env =
//! ["PATH"] }`); validation rejects one without the other. Every call then
//! goes through a [`ShellGate`]: the engine's gate opens an ordinary human
//! gate (`gate_opened` whose artifact is a [`ShellRequest`]), so the cockpit's
//! gate list and `agentctl run`'s prompt show it. Approval runs the command;
//! a denial returns the refusal (with the comment) to the model as the tool
//! result. Without a gate (a [`crate::tools::ToolBox`] used outside a run) the
//! call is refused: nothing runs unapproved.
//!
//! Confinement: the working directory is the workflow file's folder; the
//! environment is exactly the table's `env` plus the variables named in
//! `inherit_env` (nothing else is inherited; never an API key agentctl
//! read); the command runs without capabilities or new privileges and dies
//! with agentctl (`agent::confine`); its whole process tree, descendants
//! that left its process group included, is killed on timeout, when the call
//! is abandoned (pause, cancel) and once the command exits
//! (`agent::process_tree`); stdout and stderr are each capped at `max_output_bytes`
//! (a command writing more is stopped and its output marked truncated).

use std::process::Stdio;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::agent::confine;
use crate::agent::process_tree::TreeGuard;
use crate::event::Id;
use crate::workflow::policy::shell::ShellConfig;

/// After the command exited and its tree was killed, how long the rest of
/// its output may take (it is in the pipes already).
const AFTER_EXIT: Duration = Duration::from_secs(2);

/// One shell call waiting for a decision: the artifact of its gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShellRequest {
    /// Always `"shell"`, so gate views can tell shell gates apart.
    pub kind: &'static str,
    /// The exact command line, run by `/bin/sh -c`.
    pub command: String,
    /// Where it runs.
    pub cwd: String,
    /// The agent that asks.
    pub agent: Id,
    /// The task it works on.
    pub task: Id,
    /// Names of the variables the command sees (values are not shown: they
    /// may be secrets).
    pub env: Vec<String>,
    /// Time limit, ms.
    pub timeout_ms: u64,
}

impl ShellRequest {
    /// The request for `command` under `cfg`.
    pub fn new(cfg: &ShellConfig, agent: Id, task: Id, command: String) -> Self {
        let mut env: Vec<String> = cfg
            .env
            .iter()
            .map(|(k, _)| k.clone())
            .chain(cfg.inherit_env.iter().cloned())
            .collect();
        env.sort();
        env.dedup();
        ShellRequest {
            kind: "shell",
            command,
            // Absolute, so the person approving sees exactly where.
            cwd: cfg
                .cwd
                .canonicalize()
                .unwrap_or_else(|_| cfg.cwd.clone())
                .display()
                .to_string(),
            agent,
            task,
            env,
            timeout_ms: u64::try_from(cfg.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The request as the gate's artifact.
    pub fn artifact(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A human's answer to a shell call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellDecision {
    /// Run it.
    Approved,
    /// Do not run it; the comment goes back to the model.
    Denied(Option<String>),
}

/// Who decides shell calls. The engine's implementation opens a human gate;
/// a library user may supply another (see [`crate::tools::ToolContext`]).
pub trait ShellGate: Send + Sync {
    /// Asks for a decision on `request`; dropping the future abandons the
    /// question.
    fn decide(&self, request: ShellRequest) -> BoxFuture<'static, ShellDecision>;
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShellOutput {
    /// Exit code (`null` when killed by a signal).
    pub exit_code: Option<i32>,
    /// Standard output (lossy UTF-8, capped).
    pub stdout: String,
    /// Standard error (lossy UTF-8, capped).
    pub stderr: String,
    /// True when output went over the cap and the command was stopped.
    pub truncated: bool,
}

/// Runs an approved command under `cfg`'s confinement.
pub async fn run(cfg: &ShellConfig, command: &str) -> Result<ShellOutput, String> {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(&cfg.cwd)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in &cfg.inherit_env {
        if let Some(v) = crate::secret::inheritable(name) {
            cmd.env(name, v);
        }
    }
    for (k, v) in &cfg.env {
        cmd.env(k, v);
    }
    // Its own process group, so a timeout kills what the command started too.
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = confine::spawn(cmd)
        .map_err(|e| format!("could not start /bin/sh in {}: {e}", cfg.cwd.display()))?;
    let group = TreeGuard::new(child.id());
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err("the command's pipes could not be opened".into());
    };
    let max = cfg.max_output_bytes;
    let work = async {
        // Over the cap: stop the command at once rather than wait for it to
        // finish writing (the other pipe would keep the read open).
        let stop = || group.kill();
        let reads = async {
            tokio::join!(
                read_capped(stdout, max, &stop),
                read_capped(stderr, max, &stop)
            )
        };
        tokio::pin!(reads);
        let mut got = None;
        let mut status = None;
        tokio::select! {
            r = &mut reads => got = Some(r),
            s = child.wait() => status = Some(s),
        }
        let status = match status {
            Some(s) => s,
            None => child.wait().await,
        };
        // The command exited: what it left running in the background is
        // killed, which ends the reads even when that kept the pipes open.
        group.kill();
        let (out, err) = match got {
            Some(r) => r,
            None => tokio::time::timeout(AFTER_EXIT, &mut reads)
                .await
                .unwrap_or_default(),
        };
        (out.0, err.0, out.1 || err.1, status)
    };
    match tokio::time::timeout(cfg.timeout, work).await {
        Ok((stdout, stderr, truncated, status)) => {
            let status = status.map_err(|e| format!("waiting for the command failed: {e}"))?;
            Ok(ShellOutput {
                exit_code: status.code(),
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
                truncated,
            })
        }
        Err(_) => Err(format!(
            "`{command}` did not finish within {} ms; its process group was killed",
            cfg.timeout.as_millis()
        )),
    }
}

/// The tool result text for a finished command.
pub(crate) fn result_text(out: &ShellOutput) -> String {
    json!(out).to_string()
}

/// Reads up to `max` bytes; true when there was more (then `on_over` ran).
async fn read_capped(
    r: impl AsyncRead + Unpin,
    max: usize,
    on_over: &(dyn Fn() + Sync),
) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let mut limited = r.take(max as u64 + 1);
    // A read error ends the output; what arrived is still shown.
    let _ = limited.read_to_end(&mut buf).await;
    let over = buf.len() > max;
    if over {
        on_over();
        buf.truncate(max);
    }
    (buf, over)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &std::path::Path) -> ShellConfig {
        ShellConfig {
            cwd: dir.to_path_buf(),
            env: vec![("GREETING".into(), "hi".into())],
            inherit_env: vec!["PATH".into()],
            timeout: Duration::from_secs(5),
            max_output_bytes: 1024,
        }
    }

    #[tokio::test]
    async fn runs_in_the_directory_with_only_the_named_environment() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: set before any thread of this test reads the environment;
        // the name is unique to this test.
        unsafe { std::env::set_var("AGENTCTL_SHELL_TEST_SECRET", "s3cret") };
        let out = run(
            &cfg(dir.path()),
            "pwd; echo $GREETING; echo \"[$AGENTCTL_SHELL_TEST_SECRET]\"; echo oops >&2; exit 3",
        )
        .await
        .unwrap();
        let pwd = dir.path().canonicalize().unwrap();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(std::path::Path::new(lines[0]).canonicalize().unwrap(), pwd);
        assert_eq!(&lines[1..], ["hi", "[]"]);
        assert_eq!(out.stderr, "oops\n");
        assert_eq!(out.exit_code, Some(3));
        assert!(!out.truncated);
    }

    #[tokio::test]
    async fn output_over_the_cap_is_cut_and_the_command_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let out = run(&cfg(dir.path()), "yes hello").await.unwrap();
        assert!(out.truncated);
        assert_eq!(out.stdout.len(), 1024);
    }

    #[tokio::test]
    async fn a_timeout_kills_the_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cfg(dir.path());
        c.timeout = Duration::from_millis(300);
        let err = run(&c, "sleep 30 & echo $! > child.pid; wait")
            .await
            .unwrap_err();
        assert!(err.contains("did not finish within 300 ms"), "{err}");
        let pid: i32 = std::fs::read_to_string(dir.path().join("child.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The background child was in the group: it is gone (or a zombie
        // being reaped) shortly after.
        let mut gone = false;
        for _ in 0..50 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.is_empty() || stat.contains(") Z ") {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone, "the command's child {pid} survived the timeout");
    }

    #[test]
    fn the_request_names_variables_but_not_their_values() {
        let c = cfg(std::path::Path::new("/tmp"));
        let r = ShellRequest::new(&c, "ops".into(), "t".into(), "ls".into());
        let a = r.artifact();
        assert_eq!(a["kind"], "shell");
        assert_eq!(a["env"], json!(["GREETING", "PATH"]));
        assert!(!a.to_string().contains("hi\""));
    }
}
