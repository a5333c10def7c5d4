//! One MCP server as a workflow or `config.toml` declares it
//! (`[mcp.NAME]`), and the checked form a run starts.
//!
//! ```toml
//! [mcp.fs]
//! command = ["node", "server-filesystem/dist/index.js", "."]
//! env = { LOG_LEVEL = "info" }          # set for the server (nothing else is inherited
//! inherit_env = ["PATH"]                # but these names; default ["PATH", "HOME"])
//! approve = ["write_file"]              # or true: every call waits at a gate
//!
//! [mcp.tracker]
//! url = "https://mcp.example.org/mcp"   # streamable HTTP
//! headers = { Authorization = "Bearer ${TRACKER_TOKEN}" }
//! ```
//!
//! Values of `env` and `headers` may name agentctl's environment as
//! `${VAR}`: the value is taken (and removed from agentctl's environment,
//! like an API key) when the server starts, so a workflow file, which
//! sessions record, holds only the name.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::workflow::span::Spanned;

/// Prefix of MCP tool names on agents: `mcp:SERVER/TOOL`, `mcp:SERVER/*`.
pub const TOOL_PREFIX: &str = "mcp:";

/// Time limit of one tool call when the server sets none.
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;

/// Longest time limit a server may set (one hour).
pub const MAX_TIMEOUT_MS: u64 = 3_600_000;

/// Variables a stdio server inherits when it names none.
pub const DEFAULT_INHERIT: &[&str] = &["PATH", "HOME"];

/// `[mcp.NAME]` as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerSpec {
    /// A stdio server: program and arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Spanned<Vec<String>>>,
    /// A streamable-HTTP server: its endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Spanned<String>>,
    /// Variables set for a stdio server (`${VAR}` reads agentctl's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, Spanned<String>>,
    /// Names passed through from agentctl's environment (default PATH,
    /// HOME). An API key agentctl read is never passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherit_env: Option<Vec<String>>,
    /// Working directory of a stdio server, relative to the declaring file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Headers of every HTTP request (`${VAR}` reads agentctl's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// `true`: every call of this server's tools waits for a human; a list:
    /// only calls of those tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve: Option<ApproveSpec>,
    /// Time limit of one tool call, ms (default 60000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<Spanned<u64>>,
}

/// `approve = true` or `approve = ["tool", ...]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ApproveSpec {
    /// Every tool, or none.
    All(bool),
    /// These tools (names as the server lists them).
    Tools(Vec<String>),
}

/// How to reach a server.
#[derive(Clone, PartialEq)]
pub enum McpTransport {
    /// A program speaking MCP on stdin/stdout.
    Stdio {
        /// Program then arguments (non-empty).
        command: Vec<String>,
        /// Working directory.
        cwd: PathBuf,
        /// Variables set (values may hold `${VAR}`).
        env: Vec<(String, String)>,
        /// Variables passed through.
        inherit_env: Vec<String>,
    },
    /// A streamable-HTTP endpoint.
    Http {
        /// The endpoint URL.
        url: String,
        /// Headers (values may hold `${VAR}`).
        headers: Vec<(String, String)>,
    },
}

impl fmt::Debug for McpTransport {
    // Values may be secrets: only names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            McpTransport::Stdio {
                command,
                cwd,
                env,
                inherit_env,
            } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("cwd", cwd)
                .field("env", &env.iter().map(|(k, _)| k).collect::<Vec<_>>())
                .field("inherit_env", inherit_env)
                .finish(),
            McpTransport::Http { url, headers } => f
                .debug_struct("Http")
                .field("url", &crate::secret::redact_url(url))
                .field(
                    "headers",
                    &headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                )
                .finish(),
        }
    }
}

/// Which calls wait for a human.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Approve {
    /// None.
    #[default]
    None,
    /// Every call.
    All,
    /// Calls of these tools.
    Tools(Vec<String>),
}

impl Approve {
    /// Whether a call of `tool` waits for a human.
    pub fn applies_to(&self, tool: &str) -> bool {
        match self {
            Approve::None => false,
            Approve::All => true,
            Approve::Tools(t) => t.iter().any(|n| n == tool),
        }
    }
}

/// A checked server declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServer {
    /// Its name (`mcp:NAME/...`).
    pub name: String,
    /// How to reach it.
    pub transport: McpTransport,
    /// Which calls wait for a human.
    pub approve: Approve,
    /// Time limit of one call.
    pub timeout: Duration,
}

impl McpServer {
    /// What the trust prompt says about it: the program it runs (or the URL
    /// it calls) and the variables it gets.
    pub fn describe(&self) -> String {
        match &self.transport {
            McpTransport::Stdio {
                command,
                cwd,
                env,
                inherit_env,
            } => {
                let mut names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
                names.extend(inherit_env.iter().map(String::as_str));
                format!(
                    "runs {} in {}{}",
                    command
                        .iter()
                        .map(|w| format!("{w:?}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    cwd.display(),
                    if names.is_empty() {
                        String::new()
                    } else {
                        format!(", with {}", names.join(" "))
                    }
                )
            }
            McpTransport::Http { url, .. } => {
                format!("calls {}", crate::secret::redact_url(url))
            }
        }
    }
}

/// One thing wrong with a declaration: the field, its location when known,
/// what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The field (`command`, `url`, ...), or `""` for the table.
    pub field: &'static str,
    /// Where it is in the file.
    pub span: Option<std::ops::Range<usize>>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl McpServerSpec {
    /// Checks the declaration of server `name`; relative paths are taken
    /// from `base` (the declaring file's folder). `recorded`: the file is a
    /// workflow, which sessions record, so secrets must not be written in
    /// it literally.
    pub fn check(
        &self,
        name: &str,
        base: &std::path::Path,
        recorded: bool,
    ) -> Result<McpServer, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut problem =
            |field, span: Option<std::ops::Range<usize>>, message: String, hint: &str| {
                problems.push(Problem {
                    field,
                    span,
                    message,
                    hint: hint.to_string(),
                })
            };
        if !valid_server_name(name) {
            problem(
                "",
                None,
                format!("MCP server name `{name}` is not valid"),
                "use letters, digits, `_` and `-` (tools are named `mcp:NAME/TOOL`)",
            );
        }
        let timeout_ms = self
            .timeout_ms
            .as_ref()
            .map_or(DEFAULT_TIMEOUT_MS, |t| t.value);
        if timeout_ms == 0 || timeout_ms > MAX_TIMEOUT_MS {
            problem(
                "timeout_ms",
                self.timeout_ms.as_ref().and_then(|t| t.span.clone()),
                format!("timeout_ms = {timeout_ms} is out of range"),
                "give 1 to 3600000 ms (default 60000)",
            );
        }
        let secret_literal =
            |k: &str, v: &Spanned<String>| recorded && looks_secret(k) && !v.value.contains("${");
        let transport = match (&self.command, &self.url) {
            (Some(c), None) => {
                if c.value.is_empty() || c.value[0].trim().is_empty() {
                    problem(
                        "command",
                        c.span.clone(),
                        format!("MCP server `{name}` has an empty `command`"),
                        "give the program and its arguments, e.g. command = [\"node\", \"server.js\"]",
                    );
                }
                if !self.headers.is_empty() {
                    problem(
                        "headers",
                        None,
                        format!(
                            "MCP server `{name}` runs a command: `headers` apply only to a `url`"
                        ),
                        "remove `headers`, or use `env` to give the program settings",
                    );
                }
                for (k, v) in &self.env {
                    if secret_literal(k, v) {
                        problem(
                            "env",
                            v.span.clone(),
                            format!(
                                "env {k} of MCP server `{name}` is written in the workflow file, which every session records"
                            ),
                            &format!(
                                "write {k} = \"${{{k}}}\" and export {k} before running, or declare the server in config.toml"
                            ),
                        );
                    }
                }
                let cwd = match &self.cwd {
                    Some(d) => base.join(d),
                    None => base.to_path_buf(),
                };
                McpTransport::Stdio {
                    command: c.value.clone(),
                    cwd,
                    env: self
                        .env
                        .iter()
                        .map(|(k, v)| (k.clone(), v.value.clone()))
                        .collect(),
                    inherit_env: self
                        .inherit_env
                        .clone()
                        .unwrap_or_else(|| DEFAULT_INHERIT.iter().map(|s| s.to_string()).collect()),
                }
            }
            (None, Some(u)) => {
                if !(u.value.starts_with("http://") || u.value.starts_with("https://")) {
                    problem(
                        "url",
                        u.span.clone(),
                        format!("the url of MCP server `{name}` is not an http(s) URL"),
                        "give the server's streamable-HTTP endpoint, e.g. url = \"http://127.0.0.1:3001/mcp\"",
                    );
                }
                if !self.env.is_empty() || self.inherit_env.is_some() || self.cwd.is_some() {
                    problem(
                        "env",
                        None,
                        format!(
                            "MCP server `{name}` is a url: `env`, `inherit_env` and `cwd` apply only to a `command`"
                        ),
                        "remove them, or use `headers` for the requests",
                    );
                }
                for (k, v) in &self.headers {
                    if secret_literal(k, v) {
                        problem(
                            "headers",
                            v.span.clone(),
                            format!(
                                "header {k} of MCP server `{name}` is written in the workflow file, which every session records"
                            ),
                            "write its value as \"${VAR}\" (e.g. \"Bearer ${TOKEN}\") and export VAR before running, or declare the server in config.toml",
                        );
                    }
                }
                McpTransport::Http {
                    url: u.value.clone(),
                    headers: self
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.value.clone()))
                        .collect(),
                }
            }
            (Some(_), Some(_)) => {
                problem(
                    "url",
                    self.url.as_ref().and_then(|u| u.span.clone()),
                    format!("MCP server `{name}` has both `command` and `url`"),
                    "a server is either a program (command) or an endpoint (url): keep one",
                );
                return Err(problems);
            }
            (None, None) => {
                problem(
                    "",
                    None,
                    format!("MCP server `{name}` has neither `command` nor `url`"),
                    "add command = [\"program\", \"arg\"] (stdio) or url = \"http://host/mcp\" (streamable HTTP)",
                );
                return Err(problems);
            }
        };
        let approve = match &self.approve {
            None | Some(ApproveSpec::All(false)) => Approve::None,
            Some(ApproveSpec::All(true)) => Approve::All,
            Some(ApproveSpec::Tools(t)) => Approve::Tools(t.clone()),
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(McpServer {
            name: name.to_string(),
            transport,
            approve,
            timeout: Duration::from_millis(timeout_ms),
        })
    }
}

/// An `mcp:` tool name split: the server and the tool (`*` for all).
pub fn parse_tool_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(TOOL_PREFIX)?;
    let (server, tool) = rest.split_once('/')?;
    (!server.is_empty() && !tool.is_empty()).then_some((server, tool))
}

/// Whether a server name is well formed (letters, digits, `_`, `-`).
pub fn valid_server_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Expands `${VAR}` in a declared value from agentctl's environment. A
/// variable read so is removed from the environment (see
/// [`crate::secret::from_env`]); an unset one is an error naming it.
pub fn expand(value: &str) -> Result<Secret, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("`${{` without a closing `}}` in {value:?}"));
        };
        let var = &after[..end];
        match crate::secret::from_env(var) {
            Some(v) => out.push_str(&v),
            None => return Err(format!("${{{var}}} is not set in agentctl's environment")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Secret::new(out))
}

/// Names whose values are credentials: a literal value for one of them in
/// a workflow file would be recorded with every session.
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "authorization",
        "key",
        "token",
        "secret",
        "password",
        "cookie",
    ]
    .iter()
    .any(|w| n.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_and_globs() {
        assert_eq!(
            parse_tool_name("mcp:fs/read_text_file"),
            Some(("fs", "read_text_file"))
        );
        assert_eq!(parse_tool_name("mcp:fs/*"), Some(("fs", "*")));
        assert_eq!(parse_tool_name("mcp:fs"), None);
        assert_eq!(parse_tool_name("read_file"), None);
        use crate::tools::covers;
        assert!(covers("mcp:fs/*", "mcp:fs/read"));
        assert!(!covers("mcp:fs/*", "mcp:fsx/read"));
        assert!(covers("mcp:fs/read", "mcp:fs/read"));
        assert!(!covers("mcp:fs/read", "mcp:fs/write"));
        assert!(valid_server_name("my-fs_2") && !valid_server_name("a/b"));
    }

    #[test]
    fn values_read_variables_and_say_which_is_missing() {
        // SAFETY: the name is unique to this test.
        unsafe { std::env::set_var("AGENTCTL_MCP_SPEC_TEST_TOKEN", "t0k") };
        let v = expand("Bearer ${AGENTCTL_MCP_SPEC_TEST_TOKEN}!").unwrap();
        assert_eq!(v.expose(), "Bearer t0k!");
        assert!(std::env::var_os("AGENTCTL_MCP_SPEC_TEST_TOKEN").is_none());
        let e = expand("${AGENTCTL_MCP_SPEC_TEST_UNSET}").unwrap_err();
        assert!(e.contains("AGENTCTL_MCP_SPEC_TEST_UNSET"), "{e}");
        assert_eq!(expand("plain").unwrap().expose(), "plain");
    }
}
