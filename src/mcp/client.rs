//! A running connection to one MCP server: the child process of a stdio
//! server (or the HTTP session of a URL), the rmcp client over it, and the
//! tail of the server's stderr for when it dies.
//!
//! A stdio server is started like a command agent (`agent::confine`): its
//! own process group, no capabilities, dead with agentctl even on SIGKILL,
//! and an environment of exactly its `env` plus the `inherit_env` names
//! (never an API key agentctl read). Dropping the client kills its whole
//! process tree (`agent::process_tree`), so a run's servers stop on every
//! exit path.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, Tool};
use rmcp::service::{RoleClient, RunningService, ServiceError, ServiceExt};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::server_spec::{McpServer, McpTransport, expand};
use crate::agent::confine;
use crate::agent::process_tree::TreeGuard;
use crate::secret::Secret;

/// How long a server may take to start and answer `initialize`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of a server's stderr kept for error reports.
const STDERR_TAIL: usize = 2048;

/// A started server.
pub struct McpClient {
    server: McpServer,
    service: RunningService<RoleClient, ()>,
    process: Option<Process>,
    /// Values of its env and headers, scrubbed from what it says.
    secrets: Vec<Secret>,
}

/// A stdio server's process.
struct Process {
    child: tokio::sync::Mutex<tokio::process::Child>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    // Last: dropping it kills the tree after the client let go.
    _tree: TreeGuard,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient")
            .field("server", &self.server.name)
            .finish_non_exhaustive()
    }
}

impl McpClient {
    /// Starts (or connects to) `server` and completes the MCP handshake.
    pub async fn start(server: &McpServer) -> Result<McpClient, String> {
        let name = &server.name;
        match &server.transport {
            McpTransport::Stdio {
                command,
                cwd,
                env,
                inherit_env,
            } => {
                let mut secrets = Vec::new();
                let mut cmd = tokio::process::Command::new(&command[0]);
                cmd.args(&command[1..])
                    .current_dir(cwd)
                    .env_clear()
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true);
                for var in inherit_env {
                    if let Some(v) = crate::secret::inheritable(var) {
                        cmd.env(var, v);
                    }
                }
                for (k, raw) in env {
                    let v =
                        expand(raw).map_err(|e| format!("MCP server `{name}`: env {k}: {e}"))?;
                    cmd.env(k, v.expose());
                    secrets.push(v);
                }
                #[cfg(unix)]
                cmd.process_group(0);
                let mut child = confine::spawn(cmd).map_err(|e| {
                    format!(
                        "MCP server `{name}`: cannot start {:?} in {}: {e}",
                        command[0],
                        cwd.display()
                    )
                })?;
                let tree = TreeGuard::new(child.id());
                let (Some(stdin), Some(stdout), Some(stderr)) =
                    (child.stdin.take(), child.stdout.take(), child.stderr.take())
                else {
                    return Err(format!(
                        "MCP server `{name}`: its pipes could not be opened"
                    ));
                };
                let tail = Arc::new(Mutex::new(VecDeque::new()));
                tokio::spawn(keep_tail(stderr, tail.clone()));
                let process = Process {
                    child: tokio::sync::Mutex::new(child),
                    stderr: tail,
                    _tree: tree,
                };
                let handshake =
                    tokio::time::timeout(START_TIMEOUT, ().serve((stdout, stdin))).await;
                let client = |service| McpClient {
                    server: server.clone(),
                    service,
                    process: None,
                    secrets: secrets.clone(),
                };
                match handshake {
                    Ok(Ok(service)) => {
                        let mut c = client(service);
                        c.process = Some(process);
                        Ok(c)
                    }
                    Ok(Err(e)) => {
                        let why = format!("did not complete the MCP handshake: {e}");
                        Err(died(name, &why, Some(&process), &secrets).await)
                    }
                    Err(_) => Err(died(
                        name,
                        &format!(
                            "did not answer `initialize` within {} s",
                            START_TIMEOUT.as_secs()
                        ),
                        Some(&process),
                        &secrets,
                    )
                    .await),
                }
            }
            McpTransport::Http { url, headers } => {
                use rmcp::transport::StreamableHttpClientTransport;
                use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
                let mut map = std::collections::HashMap::new();
                let mut secrets = Vec::new();
                for (k, raw) in headers {
                    let v =
                        expand(raw).map_err(|e| format!("MCP server `{name}`: header {k}: {e}"))?;
                    let hn = http::HeaderName::from_bytes(k.as_bytes()).map_err(|e| {
                        format!("MCP server `{name}`: header name {k:?} is not valid: {e}")
                    })?;
                    let hv = http::HeaderValue::from_str(v.expose()).map_err(|_| {
                        format!("MCP server `{name}`: the value of header {k} is not valid in HTTP")
                    })?;
                    map.insert(hn, hv);
                    secrets.push(v);
                }
                let config =
                    StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(map);
                let transport = StreamableHttpClientTransport::from_config(config);
                let shown = crate::secret::redact_url(url);
                match tokio::time::timeout(START_TIMEOUT, ().serve(transport)).await {
                    Ok(Ok(service)) => Ok(McpClient {
                        server: server.clone(),
                        service,
                        process: None,
                        secrets,
                    }),
                    Ok(Err(e)) => Err(scrub(
                        &format!("MCP server `{name}` at {shown}: cannot connect: {e}"),
                        &secrets,
                    )),
                    Err(_) => Err(format!(
                        "MCP server `{name}` at {shown}: no answer to `initialize` within {} s",
                        START_TIMEOUT.as_secs()
                    )),
                }
            }
        }
    }

    /// The server's declaration.
    pub fn server(&self) -> &McpServer {
        &self.server
    }

    /// Every tool the server offers.
    pub async fn tools(&self) -> Result<Vec<Tool>, String> {
        match self.service.peer().list_all_tools().await {
            Ok(t) => Ok(t),
            Err(e) => Err(self.failed("listing its tools", e).await),
        }
    }

    /// Calls `tool` with `arguments` (a JSON object), within the server's
    /// time limit. The result's text for the model; an error result, a
    /// protocol error or a dead server is an `Err` the model sees.
    /// Dropping the future cancels the call (rmcp sends
    /// `notifications/cancelled`).
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<String, String> {
        let mut params = CallToolRequestParams::new(tool.to_string());
        match arguments {
            Value::Object(o) => params = params.with_arguments(o),
            Value::Null => {}
            other => {
                return Err(format!(
                    "the arguments of `{tool}` must be a JSON object, got {other}"
                ));
            }
        }
        let call = self.service.peer().call_tool(params);
        match tokio::time::timeout(self.server.timeout, call).await {
            Ok(Ok(r)) => {
                // Only the server's own secrets are taken out: what else a
                // tool returns is recorded as it came (README, "Known limits").
                let text = scrub_own(&result_text(&r), &self.secrets);
                if r.is_error == Some(true) {
                    Err(text)
                } else {
                    Ok(text)
                }
            }
            Ok(Err(e)) => Err(self.failed(&format!("calling `{tool}`"), e).await),
            Err(_) => Err(format!(
                "MCP server `{}`: `{tool}` did not finish within {} ms (the call was cancelled)",
                self.server.name,
                self.server.timeout.as_millis()
            )),
        }
    }

    /// The pid of a stdio server's process.
    pub async fn pid(&self) -> Option<u32> {
        match &self.process {
            Some(p) => p.child.lock().await.id(),
            None => None,
        }
    }

    /// Why a request failed: the server's error, or that it stopped, with
    /// its exit status and stderr tail.
    async fn failed(&self, doing: &str, e: ServiceError) -> String {
        match e {
            ServiceError::McpError(m) => scrub(
                &format!(
                    "MCP server `{}` answered {doing} with an error: {}",
                    self.server.name, m.message
                ),
                &self.secrets,
            ),
            e @ (ServiceError::TransportClosed | ServiceError::TransportSend(_)) => {
                died(
                    &self.server.name,
                    &format!("stopped while {doing} ({e})"),
                    self.process.as_ref(),
                    &self.secrets,
                )
                .await
            }
            other => scrub(
                &format!("MCP server `{}`: {doing} failed: {other}", self.server.name),
                &self.secrets,
            ),
        }
    }
}

/// The report for a server that is gone: what happened, its exit status
/// and the end of what it wrote on stderr.
async fn died(name: &str, what: &str, process: Option<&Process>, secrets: &[Secret]) -> String {
    let mut out = format!("MCP server `{name}` {what}");
    if let Some(p) = process {
        // Give it a moment to exit and flush its last words.
        let status = {
            let mut child = p.child.lock().await;
            tokio::time::timeout(Duration::from_millis(500), child.wait())
                .await
                .ok()
                .and_then(Result::ok)
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Some(s) = status {
            out.push_str(&format!("; it exited with {s}"));
        }
        let tail = {
            let t = p.stderr.lock().unwrap_or_else(|e| e.into_inner());
            String::from_utf8_lossy(&t.iter().copied().collect::<Vec<u8>>()).into_owned()
        };
        let tail = tail.trim();
        if tail.is_empty() {
            out.push_str("; its stderr was empty");
        } else {
            out.push_str(&format!("; the end of its stderr:\n{tail}"));
        }
    }
    scrub(&out, secrets)
}

/// Keeps the last [`STDERR_TAIL`] bytes of a server's stderr.
async fn keep_tail(mut stderr: tokio::process::ChildStderr, tail: Arc<Mutex<VecDeque<u8>>>) {
    let mut buf = [0u8; 1024];
    loop {
        match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                t.extend(&buf[..n]);
                let over = t.len().saturating_sub(STDERR_TAIL);
                t.drain(..over);
            }
        }
    }
}

/// The text a model gets for a result: the structured content as JSON when
/// the tool gave one, else its content blocks (text as is, images and audio
/// by type and size, resources as JSON).
pub fn result_text(r: &CallToolResult) -> String {
    if let Some(s) = &r.structured_content
        && !s.is_null()
    {
        return s.to_string();
    }
    let parts: Vec<String> = r
        .content
        .iter()
        .map(|c| match c {
            ContentBlock::Text(t) => t.text.clone(),
            ContentBlock::Image(i) => {
                format!("[image {}, {} bytes base64]", i.mime_type, i.data.len())
            }
            ContentBlock::Audio(a) => {
                format!("[audio {}, {} bytes base64]", a.mime_type, a.data.len())
            }
            other => serde_json::to_string(other).unwrap_or_default(),
        })
        .collect();
    parts.join("\n")
}

/// An error text with credential-looking words and the server's own
/// secret values replaced.
fn scrub(text: &str, secrets: &[Secret]) -> String {
    scrub_own(&crate::secret::redact(text), secrets)
}

/// `text` with the server's secret values replaced (values too short to be
/// a secret are left, or every `a` would go).
fn scrub_own(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.expose().len() >= 6 {
            out = out.replace(s.expose(), "[REDACTED]");
        }
    }
    out
}
