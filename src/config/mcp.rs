//! `[mcp.NAME]` tables of `config.toml`: MCP servers every workflow may
//! use (agents list their tools as `mcp:NAME/...`). The same fields as in a
//! workflow (`crate::mcp::server_spec`); since the config file is never
//! recorded, secrets may be written here literally. Relative paths are
//! taken from the config file's folder.

use std::collections::BTreeMap;
use std::path::Path;

use super::ConfigError;
use crate::mcp::{McpServer, McpServerSpec};

/// Checks every declared server; the first problem is the error, with the
/// file, the table's line and the field.
pub(super) fn servers(
    specs: &BTreeMap<String, McpServerSpec>,
    text: &str,
    origin: &str,
) -> Result<Vec<McpServer>, ConfigError> {
    let base = Path::new(origin)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (name, spec) in specs {
        match spec.check(name, base, false) {
            Ok(s) => out.push(s),
            Err(problems) => {
                let p = &problems[0];
                let line = table_line(text, name)
                    .map(|l| format!(":{l}"))
                    .unwrap_or_default();
                let field = if p.field.is_empty() {
                    String::new()
                } else {
                    format!(" {}:", p.field)
                };
                return Err(ConfigError(format!(
                    "{origin}{line}: [mcp.{name}]{field} {}\n  = hint: {}",
                    p.message, p.hint
                )));
            }
        }
    }
    Ok(out)
}

/// The 1-based line of `[mcp.NAME]` (or of `mcp.NAME` in a dotted key).
fn table_line(text: &str, name: &str) -> Option<usize> {
    let header = format!("[mcp.{name}]");
    let quoted = format!("[mcp.\"{name}\"]");
    let dotted = format!("mcp.{name}.");
    text.lines()
        .position(|l| {
            let l = l.trim();
            l.starts_with(&header) || l.starts_with(&quoted) || l.starts_with(&dotted)
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn servers_are_checked_with_file_line_and_field() {
        let c = Config::parse(
            "[mcp.fs]\ncommand = [\"node\", \"fs.js\"]\nenv = { TOKEN = \"literal-ok-here\" }\n",
            "/etc/agentctl/config.toml",
        )
        .expect("valid");
        assert_eq!(c.mcp_servers.len(), 1);
        assert_eq!(c.provider_catalog().mcp_servers(), ["fs"]);
        let e = Config::parse(
            "default_provider = \"sim\"\n\n[mcp.web]\ncommand = [\"x\"]\nurl = \"http://127.0.0.1:1/mcp\"\n",
            "/etc/agentctl/config.toml",
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("/etc/agentctl/config.toml:3: [mcp.web] url: MCP server `web` has both `command` and `url`"),
            "{e}"
        );
        let e = Config::parse("[mcp.web]\nurl = \"ftp://x\"\n", "c.toml").unwrap_err();
        assert!(e.0.contains("c.toml:1: [mcp.web] url:"), "{e}");
        assert!(e.0.contains("hint:"), "{e}");
    }
}
