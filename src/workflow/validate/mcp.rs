//! Validation of MCP servers (`[mcp.NAME]`) and of the `mcp:SERVER/TOOL`
//! names agents list (issue #19).

use std::ops::Range;

use super::Ctx;
use super::agent_kind::resolve_cwd;
use crate::mcp::server_spec::{McpServer, parse_tool_name};
use crate::workflow::kinds::compile_context::Owner;
use crate::workflow::span::Spanned;

impl Ctx<'_> {
    /// The workflow's servers, each checked.
    pub(super) fn mcp_servers(&mut self) -> Vec<McpServer> {
        let base = resolve_cwd(self.cx.origin, None);
        let mut out = Vec::new();
        for (name, spec) in &self.spec.mcp {
            match spec.check(name, &base, true) {
                Ok(s) => out.push(s),
                Err(problems) => {
                    for p in problems {
                        let span = p.span.unwrap_or_else(|| self.mcp_span(name, p.field));
                        self.cx.error(span, p.message, p.hint);
                    }
                }
            }
        }
        out
    }

    /// `[mcp.NAME]`'s field (or the table's key), else the `mcp` table.
    fn mcp_span(&self, name: &str, field: &str) -> Range<usize> {
        let o = Owner::Section("mcp");
        let Some(server) = self.cx.table(o).and_then(|t| t.get(name)) else {
            return self.cx.owner_start(o);
        };
        if !field.is_empty()
            && let Some(f) = server.value.get(field)
        {
            return f.key_span.clone();
        }
        server.key_span.clone()
    }

    /// Checks one `mcp:` entry of an agent's `tools`: well formed, and its
    /// server declared in the workflow or (when the catalog knows them) in
    /// config.toml.
    pub(super) fn mcp_tool(&mut self, o: Owner, agent: &str, t: &Spanned<String>) {
        let span = self.cx.str_span(o, "tools", t);
        let Some((server, _)) = parse_tool_name(&t.value) else {
            self.cx.error(
                span,
                format!("`{}` is not an MCP tool name", t.value),
                "write mcp:SERVER/TOOL, or mcp:SERVER/* for every tool of a server",
            );
            return;
        };
        if self.spec.mcp.contains_key(server) || self.providers.mcp_server_known(server) {
            return;
        }
        let mut declared: Vec<&str> = self.spec.mcp.keys().map(String::as_str).collect();
        declared.extend(self.providers.mcp_servers());
        declared.sort_unstable();
        declared.dedup();
        let hint = match crate::workflow::diagnostics::did_you_mean(
            server,
            declared.iter().copied(),
        ) {
            Some(s) => format!(
                "did you mean `mcp:{s}/...`? declared MCP servers: {}",
                declared.join(", ")
            ),
            None => format!(
                "declare it: [mcp.{server}] with command = [\"program\", ...] or url = \"http://...\", in the workflow or in config.toml{}",
                if declared.is_empty() {
                    String::new()
                } else {
                    format!(" (declared: {})", declared.join(", "))
                }
            ),
        };
        self.cx.error(
            span,
            format!(
                "agent `{agent}` lists `{}`, but no MCP server `{server}` is declared",
                t.value
            ),
            hint,
        );
    }
}
