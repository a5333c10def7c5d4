//! Tools agents may call: a registry (name, description, JSON-schema
//! parameters, handler) and the built-ins.
//!
//! The tool loop lives in the engine (`engine::agent_task::call_agent`), not
//! in providers: a provider only reports the calls a model asked for
//! ([`crate::llm::ProviderChunk::ToolCalls`]); the engine runs them, emits
//! `tool_call`/`tool_result` events, appends the results to the
//! conversation and calls the provider again. So the sim and openai
//! providers share one loop, one turn limit and one event stream, and every
//! turn is an ordinary provider call (retried, counted, cancellable).
//!
//! Each call runs in a [`ToolContext`]: the calling agent and task, and the
//! run's shared [`ContextStore`] — the store prompts are windowed from, so
//! what `context_put` writes is what other agents' `context_get` and
//! shared-context prompts see. `shell` additionally needs the agent's shell
//! settings and a [`shell::ShellGate`] in the context; the engine provides
//! one that asks a human at an ordinary gate.
//!
//! Tools from elsewhere (MCP servers, `crate::mcp`) come from a
//! [`ToolSource`]: started on first use, once per registry, and offered
//! under their own names (`mcp:SERVER/TOOL`). An agent lists them one by one
//! or by server (`mcp:SERVER/*`, see [`covers`]).

pub mod arguments;
pub mod http_get;
pub mod read_file;
pub mod shell;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::context::ContextStore;
use crate::event::Id;
use crate::llm::{ToolCall, ToolSpec};
use crate::workflow::policy::shell::ShellConfig;
use shell::{ShellDecision, ShellGate, ShellRequest};

pub use crate::workflow::tool_use::BUILTIN_TOOLS;

/// Most model turns one agent call may take (each tool round is a turn).
pub const DEFAULT_MAX_TURNS: u32 = 8;

/// Longest tool result handed back to the model, in bytes.
const MAX_RESULT: usize = 64 * 1024;

/// A tool's handler: arguments and the call's context in, text for the
/// model out (an `Err` is also shown to the model, which may correct
/// itself).
pub type Handler =
    Arc<dyn Fn(Value, ToolContext) -> BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// One registered tool.
#[derive(Clone)]
pub struct Tool {
    /// Name, description and parameters, as sent to the model.
    pub spec: ToolSpec,
    /// What it does.
    pub handler: Handler,
}

/// What the built-ins may touch.
#[derive(Debug, Clone, Default)]
pub struct ToolSettings {
    /// `read_file` root: the workflow's directory (none: `read_file` fails).
    pub root: Option<PathBuf>,
    /// Hosts `http_get` may fetch from (empty: `http_get` is off).
    pub http_allow: Vec<String>,
}

/// Where a tool call happens: the calling agent and task, the run's shared
/// context store, and (for `shell`) the agent's shell settings and the gate
/// that decides each call. The engine builds one per call.
#[derive(Clone)]
pub struct ToolContext {
    agent: Id,
    task: Id,
    /// The task's attempt (0 outside a run).
    attempt: u32,
    context: ContextStore,
    shell: Option<(ShellConfig, Arc<dyn ShellGate>)>,
    /// The human gate of tools that ask before each call (MCP `approve`),
    /// for agents without a `shell` table.
    gate: Option<Arc<dyn ShellGate>>,
}

impl ToolContext {
    /// A context for `agent` working on `task`, reading and writing `context`.
    pub fn new(agent: Id, task: Id, context: ContextStore) -> Self {
        ToolContext {
            agent,
            task,
            attempt: 0,
            context,
            shell: None,
            gate: None,
        }
    }

    /// The attempt of the task this call belongs to.
    pub fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// The attempt of the task this call belongs to (0 outside a run).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Gives this call a human gate for tools that ask before each call.
    pub fn with_gate(mut self, gate: Arc<dyn ShellGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The human gate of this call (the shell's, else the one of
    /// [`with_gate`](Self::with_gate)); `None` outside a run.
    pub fn gate(&self) -> Option<&Arc<dyn ShellGate>> {
        self.shell.as_ref().map(|(_, g)| g).or(self.gate.as_ref())
    }

    /// Enables `shell` for this call: `cfg` confines it, `gate` approves or
    /// denies every command before it runs.
    pub fn with_shell(mut self, cfg: ShellConfig, gate: Arc<dyn ShellGate>) -> Self {
        self.shell = Some((cfg, gate));
        self
    }

    /// The calling agent.
    pub fn agent(&self) -> &Id {
        &self.agent
    }

    /// The task it works on.
    pub fn task(&self) -> &Id {
        &self.task
    }

    /// The run's shared context store.
    pub fn context(&self) -> &ContextStore {
        &self.context
    }
}

/// Tools that live elsewhere (an MCP server) and are started on first use.
pub trait ToolSource: Send + Sync {
    /// Whether a tool named `name` (or an agent's pattern such as
    /// `mcp:fs/*`) would come from this source.
    fn offers(&self, name: &str) -> bool;
    /// Its tools; the first call starts what they need, later calls return
    /// the same list (or the same error).
    fn tools(&self) -> BoxFuture<'_, Result<Arc<Vec<Tool>>, String>>;
}

/// Whether an agent's `tools` entry `pattern` covers the tool `name`: the
/// same name, or `PREFIX/*` and a name under `PREFIX/`.
pub fn covers(pattern: &str, name: &str) -> bool {
    if pattern == name {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => prefix.ends_with('/') && name.starts_with(prefix),
        None => false,
    }
}

/// The registry a run uses.
#[derive(Clone)]
pub struct ToolBox {
    tools: HashMap<String, Tool>,
    sources: Vec<Arc<dyn ToolSource>>,
    /// Turn limit per agent call.
    pub max_turns: u32,
}

impl std::fmt::Debug for ToolBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.tools.keys().collect();
        names.sort();
        f.debug_struct("ToolBox")
            .field("tools", &names)
            .field("sources", &self.sources.len())
            .field("max_turns", &self.max_turns)
            .finish()
    }
}

impl Default for ToolBox {
    fn default() -> Self {
        ToolBox::builtin(ToolSettings::default())
    }
}

impl ToolBox {
    /// The built-in tools with these settings.
    pub fn builtin(settings: ToolSettings) -> Self {
        let mut b = ToolBox {
            tools: HashMap::new(),
            sources: Vec::new(),
            max_turns: DEFAULT_MAX_TURNS,
        };
        b.register(
            "context_get",
            "Read the run's shared context. With `key`: the named artifact (a node's output, or what an agent stored), null if unset. Without: the global facts, each agent's summary, and the artifact names.",
            json!({"type": "object", "properties": {"key": {"type": "string"}}}),
            |args, cx| async move { context_get(&args, cx.context()) }.boxed(),
        );
        b.register(
            "context_put",
            "Write to the run's shared context, for other agents: `key` + `value` stores a named artifact (`append: true` adds the value to the list under `key` instead, atomically; `notify: true` announces the new value on the bus, topic `context.<key>`); an optional `fact` also adds a global fact.",
            // `key` and `value` required: servers that constrain tool
            // arguments with the schema (llama.cpp) then make even a small
            // model name both. A `{fact}` alone is still accepted.
            json!({"type": "object", "properties": {
                "key": {"type": "string"},
                "value": {},
                "append": {"type": "boolean"},
                "notify": {"type": "boolean"},
                "fact": {"type": "string"}
            }, "required": ["key", "value"]}),
            |args, cx| async move { context_put(&args, &cx) }.boxed(),
        );
        let root = settings.root.clone();
        b.register(
            "read_file",
            "Read a regular text file from the workflow's directory (relative path; no `..`, no symbolic links).",
            json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
            move |args, _| {
                let root = root.clone();
                async move {
                    let path = str_arg(&args, "path")?;
                    let root = root.ok_or("read_file is off: the workflow has no directory")?;
                    tokio::task::spawn_blocking(move || read_file::read_confined(&root, &path))
                        .await
                        .map_err(|e| e.to_string())?
                }
                .boxed()
            },
        );
        let allow = settings.http_allow;
        b.register(
            "http_get",
            "Fetch a URL with HTTP GET (only allowed hosts) and return the body text.",
            json!({"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}),
            move |args, _| {
                let allow = allow.clone();
                async move {
                    let url = str_arg(&args, "url")?;
                    http_get::get(&allow, &url, MAX_RESULT).await
                }
                .boxed()
            },
        );
        b.register(
            "shell",
            "Run a command line with /bin/sh in the workflow's directory. A human approves or denies every call; the result is JSON with exit_code, stdout, stderr.",
            json!({"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}),
            |args, cx| async move { shell_call(&args, cx).await }.boxed(),
        );
        b
    }

    /// Adds (or replaces) a tool.
    pub fn register<F>(&mut self, name: &str, description: &str, parameters: Value, handler: F)
    where
        F: Fn(Value, ToolContext) -> BoxFuture<'static, Result<String, String>>
            + Send
            + Sync
            + 'static,
    {
        self.tools.insert(
            name.to_string(),
            Tool {
                spec: ToolSpec {
                    name: name.to_string(),
                    description: description.to_string(),
                    parameters,
                },
                handler: Arc::new(handler),
            },
        );
    }

    /// Adds a source of tools started on first use (see [`ToolSource`]).
    pub fn add_source(&mut self, source: Arc<dyn ToolSource>) {
        self.sources.push(source);
    }

    /// The specs of the named tools that exist, in the given order.
    pub fn specs<S: AsRef<str>>(&self, names: &[S]) -> Vec<ToolSpec> {
        names
            .iter()
            .filter_map(|n| self.tools.get(n.as_ref()).map(|t| t.spec.clone()))
            .collect()
    }

    /// Like [`specs`](Self::specs), also with the tools of sources that the
    /// names (or patterns) cover, starting those sources if they have not
    /// started. A source that cannot start is an error.
    pub async fn specs_with_sources<S: AsRef<str>>(
        &self,
        names: &[S],
    ) -> Result<Vec<ToolSpec>, String> {
        let mut out = Vec::new();
        for n in names {
            let n = n.as_ref();
            if let Some(t) = self.tools.get(n) {
                out.push(t.spec.clone());
                continue;
            }
            for s in self.sources.iter().filter(|s| s.offers(n)) {
                let tools = s.tools().await?;
                out.extend(
                    tools
                        .iter()
                        .filter(|t| covers(n, &t.spec.name))
                        .filter(|t| !out.iter().any(|o: &ToolSpec| o.name == t.spec.name))
                        .map(|t| t.spec.clone())
                        .collect::<Vec<_>>(),
                );
            }
        }
        Ok(out)
    }

    /// A tool by name: a built-in, else one of a source's.
    async fn find(&self, name: &str) -> Result<Tool, String> {
        if let Some(t) = self.tools.get(name) {
            return Ok(t.clone());
        }
        for s in self.sources.iter().filter(|s| s.offers(name)) {
            if let Some(t) = s.tools().await?.iter().find(|t| t.spec.name == name) {
                return Ok(t.clone());
            }
        }
        Err(format!("unknown tool `{name}`"))
    }

    /// Runs one call in `cx`. `allowed` are the agent's tools: a model
    /// asking for anything else gets an error result, not the tool.
    pub async fn call<S: AsRef<str>>(
        &self,
        call: &ToolCall,
        allowed: &[S],
        cx: ToolContext,
    ) -> Result<String, String> {
        if !allowed.iter().any(|a| covers(a.as_ref(), &call.name)) {
            return Err(format!(
                "tool `{}` is not available to this agent",
                call.name
            ));
        }
        let tool = self.find(&call.name).await?;
        let args = arguments::parse(&call.arguments)?;
        let out = (tool.handler)(args, cx).await?;
        Ok(truncate(out))
    }
}

fn context_get(args: &Value, store: &ContextStore) -> Result<String, String> {
    match args.get("key") {
        None | Some(Value::Null) => Ok(json!(store.snapshot()).to_string()),
        Some(Value::String(k)) => Ok(store.artifact(k).unwrap_or(Value::Null).to_string()),
        Some(_) => Err("`key` must be a string".into()),
    }
}

fn context_put(args: &Value, cx: &ToolContext) -> Result<String, String> {
    let store = cx.context();
    let notify = match args.get("notify") {
        None | Some(Value::Null) => false,
        Some(n) => n.as_bool().ok_or("`notify` must be true or false")?,
    };
    let fact = match args.get("fact") {
        Some(f) => Some(f.as_str().ok_or("`fact` must be a string")?),
        None => None,
    };
    if args.get("key").is_none() {
        let Some(fact) = fact else {
            return Err(str_arg(args, "key")
                .map(|_| String::new())
                .unwrap_or_else(|e| format!("{e} (or give a `fact`)")));
        };
        store.add_fact(fact);
        return Ok("fact stored".into());
    }
    let key = str_arg(args, "key")?;
    let value = args.get("value").cloned().unwrap_or(Value::Null);
    let mut stored = if args.get("append").and_then(Value::as_bool).unwrap_or(false) {
        let n = store.append_artifact(&key, value);
        format!("appended; `{key}` has {n} item(s)")
    } else {
        store.put_artifact(&key, value);
        "stored".to_string()
    };
    if notify {
        let change = crate::context::ContextChange {
            value: store.artifact(&key).unwrap_or(Value::Null),
            key: key.clone(),
            by: cx.agent().clone(),
            task: cx.task().clone(),
        };
        stored.push_str(&if store.announce(change) {
            format!("; announced on context.{key}")
        } else {
            "; not announced (nothing listens to this run's context)".to_string()
        });
    }
    match fact {
        Some(f) => {
            store.add_fact(f);
            Ok(format!("{stored}; fact stored"))
        }
        None => Ok(stored),
    }
}

/// `shell`: asks the gate, then runs the command confined.
async fn shell_call(args: &Value, cx: ToolContext) -> Result<String, String> {
    let command = str_arg(args, "command")?;
    if command.trim().is_empty() {
        return Err("`command` is empty".into());
    }
    let Some((cfg, gate)) = cx.shell else {
        return Err(format!(
            "shell is off for agent `{}`: the workflow must declare a `shell` table on it, and calls need a human gate",
            cx.agent
        ));
    };
    let request = ShellRequest::new(&cfg, cx.agent.clone(), cx.task.clone(), command.clone());
    match gate.decide(request).await {
        ShellDecision::Approved => {
            let out = shell::run(&cfg, &command).await?;
            Ok(shell::result_text(&out))
        }
        ShellDecision::Denied(comment) => Err(match comment {
            Some(c) => format!("a human denied running `{command}`: {c}"),
            None => format!("a human denied running `{command}` (no comment)"),
        }),
    }
}

fn str_arg(args: &Value, key: &str) -> Result<String, String> {
    args.get(key)
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| format!("missing string argument `{key}`"))
}

fn truncate(mut s: String) -> String {
    if crate::text::cap_bytes(&mut s, MAX_RESULT) {
        s.push_str("\n[truncated]");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> ToolContext {
        ToolContext::new("w".into(), "t".into(), ContextStore::new())
    }

    fn call(name: &str, args: Value) -> ToolCall {
        ToolCall {
            id: "c1".into(),
            name: name.into(),
            arguments: args.to_string(),
        }
    }

    #[tokio::test]
    async fn context_tools_use_the_shared_store() {
        let b = ToolBox::default();
        let all = BUILTIN_TOOLS;
        let store = ContextStore::seeded(&json!("topic"));
        let cx = || ToolContext::new("w".into(), "t".into(), store.clone());
        let r = b
            .call(
                &call("context_put", json!({"key": "k", "value": [1, 2]})),
                all,
                cx(),
            )
            .await;
        assert_eq!(r.as_deref(), Ok("stored"));
        assert_eq!(store.artifact("k"), Some(json!([1, 2])));
        let r = b
            .call(&call("context_get", json!({"key": "k"})), all, cx())
            .await;
        assert_eq!(r.as_deref(), Ok("[1,2]"));
        let r = b
            .call(&call("context_get", json!({"key": "nope"})), all, cx())
            .await;
        assert_eq!(r.as_deref(), Ok("null"));
        let r = b
            .call(
                &call(
                    "context_put",
                    json!({"key": "k", "value": 3, "append": true}),
                ),
                all,
                cx(),
            )
            .await;
        assert_eq!(r.as_deref(), Ok("appended; `k` has 3 item(s)"));
        let r = b
            .call(
                &call("context_put", json!({"fact": "sky is blue"})),
                all,
                cx(),
            )
            .await;
        assert_eq!(r.as_deref(), Ok("fact stored"));
        // Without a key: the overview of the store.
        let r = b
            .call(&call("context_get", json!({})), all, cx())
            .await
            .unwrap();
        let v: Value = serde_json::from_str(&r).unwrap();
        assert_eq!(v["facts"], json!(["the run's input: topic", "sky is blue"]));
        assert_eq!(v["artifacts"], json!(["k"]));
        // Not listed on the agent: refused.
        let r = b
            .call(
                &call("context_get", json!({"key": "k"})),
                &["read_file"],
                cx(),
            )
            .await;
        assert!(r.unwrap_err().contains("not available"));
        let bad = ToolCall {
            arguments: "{\"key\": ".into(),
            ..call("context_get", json!({}))
        };
        assert!(
            b.call(&bad, all, cx())
                .await
                .unwrap_err()
                .contains("not valid JSON")
        );
    }

    #[tokio::test]
    async fn shell_without_a_gate_is_refused() {
        let b = ToolBox::default();
        let r = b
            .call(
                &call("shell", json!({"command": "echo hi"})),
                BUILTIN_TOOLS,
                cx(),
            )
            .await;
        assert!(r.unwrap_err().contains("shell is off"));
    }

    #[tokio::test]
    async fn read_file_is_confined_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
        let b = ToolBox::builtin(ToolSettings {
            root: Some(dir.path().to_path_buf()),
            ..Default::default()
        });
        let all = BUILTIN_TOOLS;
        let r = b
            .call(&call("read_file", json!({"path": "notes.txt"})), all, cx())
            .await;
        assert_eq!(r.as_deref(), Ok("hello"));
        let r = b
            .call(
                &call("read_file", json!({"path": "../../../etc/passwd"})),
                all,
                cx(),
            )
            .await;
        assert!(r.is_err());
        let r = b
            .call(
                &call("read_file", json!({"path": "/etc/passwd"})),
                all,
                cx(),
            )
            .await;
        assert!(r.unwrap_err().contains("outside"));
    }

    #[tokio::test]
    async fn http_get_is_off_unless_allowed() {
        let b = ToolBox::default();
        let r = b
            .call(
                &call("http_get", json!({"url": "http://127.0.0.1:9/"})),
                BUILTIN_TOOLS,
                cx(),
            )
            .await;
        assert!(r.unwrap_err().contains("off"));
        let b = ToolBox::builtin(ToolSettings {
            http_allow: vec!["example.org".into()],
            ..Default::default()
        });
        let r = b
            .call(
                &call("http_get", json!({"url": "http://127.0.0.1:9/"})),
                BUILTIN_TOOLS,
                cx(),
            )
            .await;
        assert!(r.unwrap_err().contains("allow-list"));
    }
}
