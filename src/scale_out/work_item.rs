//! What travels with one call to a worker, and what comes back. Secrets and
//! programs do not travel: the worker takes provider endpoints and keys from
//! its own config, and a command agent's program from its own machine.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::llm::sim::SimScript;
use crate::llm::{Completion, ProviderError, ProviderRequest};
use crate::resilience::stable_hash;
use crate::workflow::model::{Agent, AgentKind, CommandConfig};

/// One call for a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkItem {
    /// The attempt's key: the JetStream message id (duplicate window) and
    /// the result's key. Derived from the session and the request, so the
    /// same call asked again (a resumed run) finds its stored result.
    pub key: String,
    /// Session id.
    pub session: String,
    /// The run's seed.
    pub seed: u64,
    /// The agent's spec.
    pub agent: AgentSpec,
    /// The rendered request (system prompt, prompt, tools allowed, limits).
    pub request: ProviderRequest,
    /// Publish the reply's text as it is written, on core NATS at
    /// [`delta_subject`] (the orchestrator listens there).
    #[serde(default)]
    pub deltas: bool,
}

/// Where a call's streamed text goes (core NATS: at most once, and only
/// for the cockpit's "typing"; the reply itself comes with the result).
pub fn delta_subject(key: &str) -> String {
    format!("agentctl.delta.{key}")
}

/// Streamed text forwarded per call at most; the rest comes with the
/// result only.
pub const MAX_DELTA_BYTES: usize = 64 * 1024;

/// An agent as a worker needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentSpec {
    /// Id.
    pub id: String,
    /// Provider name (`sim`, `openai`, a configured name); `command` for
    /// command agents.
    pub provider: String,
    /// Capabilities.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Sim script.
    #[serde(default)]
    pub sim: SimScript,
    /// A command agent's program and settings (the program must exist on
    /// the worker's machine).
    #[serde(default)]
    pub command: Option<CommandSpec>,
}

impl AgentSpec {
    /// The spec of a workflow agent.
    pub fn of(a: &Agent) -> Self {
        AgentSpec {
            id: a.id.to_string(),
            provider: match a.kind {
                AgentKind::Command(_) => "command".into(),
                _ => a.provider.clone(),
            },
            capabilities: a.capabilities.clone(),
            sim: a.sim.clone(),
            command: match &a.kind {
                AgentKind::Command(c) => Some(CommandSpec::of(c)),
                _ => None,
            },
        }
    }
}

/// A command agent's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandSpec {
    /// Program then arguments.
    pub run: Vec<String>,
    /// Variables to set.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Variables passed through from the worker's environment.
    #[serde(default)]
    pub inherit_env: Vec<String>,
    /// Working directory as the orchestrator resolved it (shown in errors).
    pub cwd: std::path::PathBuf,
    /// `cwd` as the workflow wrote it (`None`: the workflow's folder). The
    /// worker resolves it: absolute as is, relative (or none) against its
    /// `--workdir`.
    #[serde(default)]
    pub cwd_given: Option<String>,
    /// Kill after this long (ms).
    pub timeout_ms: u64,
    /// One long-lived process speaking JSON lines.
    #[serde(default)]
    pub persistent: bool,
    /// Largest reply accepted.
    pub max_output_bytes: usize,
}

impl CommandSpec {
    fn of(c: &CommandConfig) -> Self {
        CommandSpec {
            run: c.run.clone(),
            env: c.env.clone(),
            inherit_env: c.inherit_env.clone(),
            cwd: c.cwd.clone(),
            cwd_given: c.cwd_given.clone(),
            timeout_ms: u64::try_from(c.timeout.as_millis()).unwrap_or(u64::MAX),
            persistent: c.persistent,
            max_output_bytes: c.max_output_bytes,
        }
    }

    /// The working directory on a worker whose `--workdir` is `workdir`:
    /// an absolute `cwd` as written, a relative one (or none) under
    /// `workdir`. Not checked here (see [`CommandSpec::config_on`]).
    pub fn cwd_on(&self, workdir: &std::path::Path) -> std::path::PathBuf {
        match &self.cwd_given {
            Some(c) if std::path::Path::new(c).is_absolute() => c.into(),
            Some(c) => workdir.join(c),
            None => workdir.to_path_buf(),
        }
    }

    /// The command agent's config on a worker (see [`CommandSpec::cwd_on`]);
    /// an error saying which directory is missing on this machine.
    pub fn config_on(
        &self,
        worker: &str,
        workdir: &std::path::Path,
    ) -> Result<CommandConfig, String> {
        let cwd = self.cwd_on(workdir);
        if !cwd.is_dir() {
            let hint = if self
                .cwd_given
                .as_deref()
                .is_some_and(|c| std::path::Path::new(c).is_absolute())
            {
                "create it on that machine, or give the agent a relative `cwd` (taken from the worker's --workdir)".to_string()
            } else {
                format!(
                    "a relative `cwd` is taken from the worker's --workdir ({}): create it there, or start the worker with --workdir DIR",
                    workdir.display()
                )
            };
            return Err(format!(
                "worker {worker}: the working directory {} does not exist on its machine\n  = hint: {hint}",
                cwd.display()
            ));
        }
        Ok(CommandConfig {
            cwd,
            ..self.config()
        })
    }

    /// The command agent's config as the orchestrator resolved it.
    pub fn config(&self) -> CommandConfig {
        CommandConfig {
            run: self.run.clone(),
            env: self.env.clone(),
            inherit_env: self.inherit_env.clone(),
            cwd: self.cwd.clone(),
            cwd_given: self.cwd_given.clone(),
            timeout: Duration::from_millis(self.timeout_ms),
            persistent: self.persistent,
            max_output_bytes: self.max_output_bytes,
        }
    }
}

/// One MCP tool call for a worker that runs the server (lane
/// `agentctl.work.mcp.<server>`). The orchestrator keeps the tool loop, the
/// gate and the time limit; only the call itself travels.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolWorkItem {
    /// The call's key (message id and result key), like [`WorkItem::key`].
    pub key: String,
    /// Session id.
    pub session: String,
    /// The server's name (`mcp:SERVER/...`).
    pub server: String,
    /// The tool's name as the server lists it.
    pub tool: String,
    /// The arguments (a JSON object).
    pub arguments: serde_json::Value,
}

/// An MCP server a worker runs, as its heartbeat announces it: the tools
/// the orchestrator offers to models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpOffer {
    /// The server's name.
    pub server: String,
    /// Its tools.
    pub tools: Vec<OfferedTool>,
    /// Its process on the worker's machine (stdio servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

/// One tool of an [`McpOffer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferedTool {
    /// Name as the server lists it.
    pub name: String,
    /// Description for the model.
    #[serde(default)]
    pub description: String,
    /// JSON schema of its arguments.
    pub parameters: serde_json::Value,
    /// The worker's declaration asks a human before each call (the gate is
    /// the orchestrator's).
    #[serde(default)]
    pub approve: bool,
}

/// A worker's answer to one call. For a tool call, the completion's text
/// is the tool's output and an error is the tool's error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkResult {
    /// The worker's id.
    pub worker: String,
    /// Deliveries of the work message when this result was made.
    pub deliveries: u32,
    /// The reply, or why the call failed.
    pub outcome: Result<Completion, ProviderError>,
}

/// The key of a call: the session's hash, then the request's.
pub fn attempt_key(session: &str, request_json: &[u8]) -> String {
    let s = stable_hash(&[session.as_bytes()]);
    let a = stable_hash(&[b"a", session.as_bytes(), request_json]);
    let b = stable_hash(&[b"b", request_json, session.as_bytes()]);
    format!("{}.{a:016x}{b:016x}", session_token(s))
}

/// The session part of result keys (a KV key token).
pub fn session_prefix(session: &str) -> String {
    session_token(stable_hash(&[session.as_bytes()]))
}

fn session_token(h: u64) -> String {
    format!("s{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_agents_cwd_on_a_worker_is_its_workdir_or_the_absolute_path() {
        let work = tempfile::tempdir().unwrap();
        std::fs::create_dir(work.path().join("tools")).unwrap();
        let spec = |given: Option<&str>| CommandSpec {
            run: vec!["true".into()],
            env: vec![],
            inherit_env: vec![],
            cwd: "/orchestrator/only/path".into(),
            cwd_given: given.map(str::to_string),
            timeout_ms: 1000,
            persistent: false,
            max_output_bytes: 1024,
        };
        let w = work.path();
        assert_eq!(spec(None).config_on("w1", w).unwrap().cwd, w);
        assert_eq!(
            spec(Some("tools")).config_on("w1", w).unwrap().cwd,
            w.join("tools")
        );
        let abs = w.join("tools");
        assert_eq!(
            spec(Some(abs.to_str().unwrap()))
                .config_on("w1", w)
                .unwrap()
                .cwd,
            abs
        );
        let e = spec(Some("/no/such/dir/here"))
            .config_on("w1", w)
            .unwrap_err();
        assert!(
            e.contains("worker w1") && e.contains("/no/such/dir/here"),
            "{e}"
        );
        let e = spec(Some("missing")).config_on("w1", w).unwrap_err();
        assert!(e.contains("--workdir") && e.contains("missing"), "{e}");
    }

    #[test]
    fn keys_are_stable_per_session_and_request_and_valid_kv_keys() {
        let k = attempt_key("1763-abc", b"{\"task\":\"t\"}");
        assert_eq!(k, attempt_key("1763-abc", b"{\"task\":\"t\"}"));
        assert_ne!(k, attempt_key("1763-abd", b"{\"task\":\"t\"}"));
        assert_ne!(k, attempt_key("1763-abc", b"{\"task\":\"u\"}"));
        assert!(k.starts_with(&format!("{}.", session_prefix("1763-abc"))));
        assert!(
            k.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'),
            "{k}"
        );
    }
}
