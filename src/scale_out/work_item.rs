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
    /// Working directory.
    pub cwd: std::path::PathBuf,
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
            timeout_ms: u64::try_from(c.timeout.as_millis()).unwrap_or(u64::MAX),
            persistent: c.persistent,
            max_output_bytes: c.max_output_bytes,
        }
    }

    /// The command agent's config.
    pub fn config(&self) -> CommandConfig {
        CommandConfig {
            run: self.run.clone(),
            env: self.env.clone(),
            inherit_env: self.inherit_env.clone(),
            cwd: self.cwd.clone(),
            timeout: Duration::from_millis(self.timeout_ms),
            persistent: self.persistent,
            max_output_bytes: self.max_output_bytes,
        }
    }
}

/// A worker's answer to one call.
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
