//! A run's MCP servers as a [`ToolSource`]: started together on first use
//! (once per registry, so once per run), their tools offered to models as
//! `mcp:SERVER/TOOL` with the server's JSON schemas, each call sent to its
//! server, after a human's approval where the server says `approve`.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::client::McpClient;
use super::server_spec::{McpServer, McpTransport, TOOL_PREFIX, parse_tool_name};
use crate::llm::ToolSpec;
use crate::tools::shell::{ShellDecision, ShellRequest};
use crate::tools::{Tool, ToolContext, ToolSource};
use crate::workflow::model::Workflow;

/// The servers of one run.
pub struct McpTools {
    servers: Vec<McpServer>,
    started: tokio::sync::OnceCell<Result<Started, String>>,
}

/// What starting gave: the clients (dropping them stops the servers) and
/// their tools.
struct Started {
    _clients: Vec<Arc<McpClient>>,
    tools: Arc<Vec<Tool>>,
}

impl McpTools {
    /// A source for `servers` (nothing starts yet).
    pub fn new(servers: Vec<McpServer>) -> Self {
        McpTools {
            servers,
            started: tokio::sync::OnceCell::new(),
        }
    }

    /// The servers a run of `wf` uses: those its agents list tools of,
    /// declared in the workflow or else in `config` (config.toml's).
    /// `None` when no agent lists an MCP tool.
    pub fn for_run(wf: &Workflow, config: &[McpServer]) -> Option<McpTools> {
        let mut used: Vec<&str> = wf
            .agents
            .iter()
            .flat_map(|a| a.tools.iter())
            .filter_map(|t| parse_tool_name(t).map(|(s, _)| s))
            .collect();
        used.sort_unstable();
        used.dedup();
        let servers: Vec<McpServer> = used
            .into_iter()
            .filter_map(|name| {
                wf.mcp
                    .iter()
                    .chain(config)
                    .find(|s| s.name == name)
                    .cloned()
            })
            .collect();
        (!servers.is_empty()).then(|| McpTools::new(servers))
    }

    /// The declared servers.
    pub fn servers(&self) -> &[McpServer] {
        &self.servers
    }

    async fn start(&self) -> Result<Started, String> {
        let clients = futures::future::join_all(self.servers.iter().map(McpClient::start)).await;
        let mut ok = Vec::new();
        let mut errors = Vec::new();
        for c in clients {
            match c {
                Ok(c) => ok.push(Arc::new(c)),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            // The ones that did start stop as `ok` drops.
            return Err(errors.join("\n"));
        }
        let mut tools = Vec::new();
        for c in &ok {
            for t in c.tools().await? {
                tools.push(adapt(c.clone(), t));
            }
        }
        tracing::info!(
            servers = ok.len(),
            tools = tools.len(),
            "MCP servers started"
        );
        Ok(Started {
            _clients: ok,
            tools: Arc::new(tools),
        })
    }
}

impl ToolSource for McpTools {
    fn offers(&self, name: &str) -> bool {
        name.strip_prefix(TOOL_PREFIX)
            .and_then(|r| r.split_once('/'))
            .is_some_and(|(s, _)| self.servers.iter().any(|d| d.name == s))
    }

    fn tools(&self) -> BoxFuture<'_, Result<Arc<Vec<Tool>>, String>> {
        async move {
            match self.started.get_or_init(|| self.start()).await {
                Ok(s) => Ok(s.tools.clone()),
                Err(e) => Err(e.clone()),
            }
        }
        .boxed()
    }
}

/// One server tool as a registry tool.
fn adapt(client: Arc<McpClient>, t: rmcp::model::Tool) -> Tool {
    let server = client.server().name.clone();
    let tool = t.name.to_string();
    let mut parameters = Value::Object((*t.input_schema).clone());
    // Providers want an object schema; a server may leave `type` out.
    if parameters.get("type").is_none() {
        parameters["type"] = json!("object");
    }
    let description = t
        .description
        .as_deref()
        .map(str::to_string)
        .or(t.title.clone())
        .unwrap_or_default();
    let approve = client.server().approve.applies_to(&tool);
    let spec = ToolSpec {
        name: format!("{TOOL_PREFIX}{server}/{tool}"),
        description,
        parameters,
    };
    let handler = move |args: Value, cx: ToolContext| {
        let client = client.clone();
        let tool = tool.clone();
        async move {
            if approve {
                ask(client.server(), &tool, &args, &cx).await?;
            }
            client.call(&tool, args).await
        }
        .boxed()
    };
    Tool {
        spec,
        handler: Arc::new(handler),
    }
}

/// Waits for a human to approve a call of `s`'s `tool`, at the same gate
/// as `shell` (also for calls that then run on a worker).
pub async fn ask(s: &McpServer, tool: &str, args: &Value, cx: &ToolContext) -> Result<(), String> {
    let name = format!("{TOOL_PREFIX}{}/{tool}", s.name);
    let Some(gate) = cx.gate() else {
        return Err(format!(
            "`{name}` needs a human's approval for every call, and this call has no gate to ask at"
        ));
    };
    let (cwd, env) = match &s.transport {
        McpTransport::Stdio {
            cwd,
            env,
            inherit_env,
            ..
        } => (
            cwd.display().to_string(),
            env.iter()
                .map(|(k, _)| k.clone())
                .chain(inherit_env.iter().cloned())
                .collect(),
        ),
        McpTransport::Http { url, .. } => (crate::secret::redact_url(url), Vec::new()),
    };
    let request = ShellRequest {
        kind: "mcp",
        command: format!("{}/{tool} {args}", s.name),
        cwd,
        agent: cx.agent().clone(),
        task: cx.task().clone(),
        env,
        timeout_ms: u64::try_from(s.timeout.as_millis()).unwrap_or(u64::MAX),
    };
    match gate.decide(request).await {
        ShellDecision::Approved => Ok(()),
        ShellDecision::Denied(c) => Err(match c {
            Some(c) => format!("a human denied calling `{name}`: {c}"),
            None => format!("a human denied calling `{name}` (no comment)"),
        }),
    }
}
