//! Tools from Model Context Protocol servers (issue #19).
//!
//! A workflow (or `config.toml`) declares servers as `[mcp.NAME]`: a
//! program speaking MCP on stdio (`command = [...]`) or a streamable-HTTP
//! endpoint (`url = "..."`) ([`server_spec`]). Agents list their tools as
//! `mcp:NAME/TOOL` or `mcp:NAME/*`. A run's servers start together when
//! the first agent with tools calls its model, once per run ([`tool_adapter`]);
//! their tools, with the servers' JSON schemas, are offered to the model,
//! and calls go through the engine's ordinary tool loop. A running server
//! is a [`client::McpClient`]; dropping the run's registry stops them all.

pub mod client;
pub mod server_spec;
pub mod tool_adapter;
pub mod wire_names;

pub use client::McpClient;
pub use server_spec::{McpServer, McpServerSpec};
pub use tool_adapter::McpTools;
