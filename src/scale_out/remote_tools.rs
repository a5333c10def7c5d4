//! A run's MCP servers under `--nats`: their tools are offered to models as
//! the workers that run the servers announce them (heartbeats), and each
//! call travels as a [`ToolWorkItem`] on the server's lane
//! (`agentctl.work.mcp.<server>`) to one of those workers. The tool loop,
//! the `tool_call`/`tool_result` events, the `approve` gate (a human at
//! the orchestrator), the time limit, the output cap and cancellation stay
//! here; a call's result is kept in the result bucket under a key of the
//! session, task, attempt and call, so a resumed run reuses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::remote_agent::{Asker, Call, Shared, mcp_hint};
use super::work_item::{McpOffer, ToolWorkItem, attempt_key};
use super::work_queue::Lane;
use crate::event::{EventKind, Id};
use crate::llm::ToolSpec;
use crate::mcp::McpServer;
use crate::mcp::server_spec::TOOL_PREFIX;
use crate::tools::{Tool, ToolContext, ToolSource};

/// The run's MCP servers, served by workers.
pub struct RemoteMcpTools {
    shared: Arc<Shared>,
    servers: Vec<McpServer>,
    found: tokio::sync::OnceCell<Result<Arc<Vec<Tool>>, String>>,
    /// Calls made so far per (task, attempt): the n-th call's key differs
    /// from an identical earlier one's, and is the same again on resume.
    calls: Arc<Mutex<HashMap<(String, u32), u32>>>,
}

impl RemoteMcpTools {
    pub(super) fn new(shared: Arc<Shared>, servers: Vec<McpServer>) -> Self {
        RemoteMcpTools {
            shared,
            servers,
            found: tokio::sync::OnceCell::new(),
            calls: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Waits (a bounded time) until live workers announce every server,
    /// then makes their tools.
    async fn find(&self) -> Result<Arc<Vec<Tool>>, String> {
        let mut table = self.shared.workers.clone();
        let wait = self.shared.settings.worker_wait;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let live = table.live();
            let offer = |name: &str| -> Option<McpOffer> {
                live.iter()
                    .flat_map(|h| h.mcp.iter())
                    .find(|m| m.server == name)
                    .cloned()
            };
            let missing: Vec<&str> = self
                .servers
                .iter()
                .map(|s| s.name.as_str())
                .filter(|n| offer(n).is_none())
                .collect();
            if missing.is_empty() {
                let mut tools = Vec::new();
                for s in &self.servers {
                    if let Some(o) = offer(&s.name) {
                        tools.extend(o.tools.iter().map(|t| self.tool(s, t)));
                    }
                }
                return Ok(Arc::new(tools));
            }
            if tokio::time::Instant::now() >= deadline {
                let first = missing[0];
                return Err(format!(
                    "no live worker runs MCP server{} {} after waiting {} s (under --nats, MCP servers run on workers)\n  = hint: {}",
                    if missing.len() > 1 { "s" } else { "" },
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    wait.as_secs(),
                    mcp_hint(first)
                ));
            }
            tokio::select! {
                _ = table.changed() => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// One announced tool as a registry tool whose handler sends the call.
    fn tool(&self, server: &McpServer, t: &super::work_item::OfferedTool) -> Tool {
        let mut parameters = t.parameters.clone();
        // Providers want an object schema; a server may leave `type` out.
        if parameters.get("type").is_none() {
            parameters["type"] = json!("object");
        }
        let spec = ToolSpec {
            name: format!("{TOOL_PREFIX}{}/{}", server.name, t.name),
            description: t.description.clone(),
            parameters,
        };
        // Either side's declaration may ask for a human; the gate is here.
        let approve = server.approve.applies_to(&t.name) || t.approve;
        let sender = Sender {
            shared: self.shared.clone(),
            server: server.clone(),
            tool: t.name.clone(),
            calls: self.calls.clone(),
        };
        let sender = Arc::new(sender);
        let handler = move |args: Value, cx: ToolContext| {
            let sender = sender.clone();
            async move {
                if approve {
                    crate::mcp::tool_adapter::ask(&sender.server, &sender.tool, &args, &cx).await?;
                }
                sender.send(args, &cx).await
            }
            .boxed()
        };
        Tool {
            spec,
            handler: Arc::new(handler),
        }
    }
}

/// Sends one tool's calls.
struct Sender {
    shared: Arc<Shared>,
    server: McpServer,
    tool: String,
    calls: Arc<Mutex<HashMap<(String, u32), u32>>>,
}

impl Sender {
    async fn send(&self, arguments: Value, cx: &ToolContext) -> Result<String, String> {
        let task = cx.task().to_string();
        let attempt = self.shared.keyed_attempt(&task, cx.attempt());
        let n = {
            let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
            let n = calls.entry((task.clone(), attempt)).or_insert(0);
            *n += 1;
            *n
        };
        let session = self.shared.session.clone();
        let identity = json!({
            "mcp": self.server.name,
            "tool": self.tool,
            "task": task,
            "attempt": attempt,
            "call": n,
            "arguments": arguments,
        });
        let key = attempt_key(&session, identity.to_string().as_bytes());
        let item = ToolWorkItem {
            key: key.clone(),
            session,
            server: self.server.name.clone(),
            tool: self.tool.clone(),
            arguments,
        };
        let payload = serde_json::to_vec(&item).map_err(|e| e.to_string())?;
        let events = self
            .shared
            .events
            .get()
            .cloned()
            .unwrap_or_else(|| Arc::new(|_: EventKind| {}));
        let log = self.shared.log_of(&self.shared.session, &events);
        let call = Call {
            shared: self.shared.clone(),
            events,
            key,
            payload,
            lanes: vec![Lane::Mcp(self.server.name.clone())],
            task: Id::from(task.as_str()),
            attempt,
            agent: cx.agent().clone(),
            asks: Asker::Mcp(self.server.name.clone()),
            // A call mid tool loop holds its task's slot: it goes first.
            priority: 1,
            log,
            deltas: false,
        };
        // The run's own time limit; dropping the call (timeout, pause,
        // cancel) tells the worker to drop it too.
        match tokio::time::timeout(self.server.timeout, call.run()).await {
            Ok(Ok(c)) => Ok(c.text),
            Ok(Err(e)) => Err(e.message),
            Err(_) => Err(format!(
                "MCP server `{}`: `{}` did not finish within {} ms (the call was cancelled)",
                self.server.name,
                self.tool,
                self.server.timeout.as_millis()
            )),
        }
    }
}

impl ToolSource for RemoteMcpTools {
    fn offers(&self, name: &str) -> bool {
        name.strip_prefix(TOOL_PREFIX)
            .and_then(|r| r.split_once('/'))
            .is_some_and(|(s, _)| self.servers.iter().any(|d| d.name == s))
    }

    fn tools(&self) -> BoxFuture<'_, Result<Arc<Vec<Tool>>, String>> {
        async move { self.found.get_or_init(|| self.find()).await.clone() }.boxed()
    }
}
