//! What running a workflow reaches beyond the sim: the programs it starts,
//! the tools its agents may call, the providers it sends prompts to. Shown
//! before running a workflow nobody vouched for (a foreign session's copy).

use std::fmt;

use super::model::{AgentKind, Workflow};

/// The parts of a workflow that run code or reach out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reach {
    /// Command agents: id, program and arguments, working directory,
    /// variables passed through from agentctl's environment.
    pub commands: Vec<(String, Vec<String>, String, Vec<String>)>,
    /// Agents with the `shell` tool: id, passed-through variables.
    pub shells: Vec<(String, Vec<String>)>,
    /// Agents with other tools (`read_file`, `http_get`, …): id, tools.
    pub tools: Vec<(String, Vec<String>)>,
    /// Model agents: id, provider, model.
    pub providers: Vec<(String, String, String)>,
    /// Agents written in Rust, registered by the program embedding agentctl.
    pub custom: Vec<String>,
    /// MCP servers the workflow declares: name, what it runs or calls,
    /// whether it is a program (stdio) agentctl starts.
    pub mcp: Vec<(String, String, bool)>,
}

impl Reach {
    /// What `wf` reaches.
    pub fn of(wf: &Workflow) -> Reach {
        let mut r = Reach::default();
        for s in &wf.mcp {
            let program = matches!(
                s.transport,
                crate::mcp::server_spec::McpTransport::Stdio { .. }
            );
            r.mcp.push((s.name.clone(), s.describe(), program));
        }
        for a in &wf.agents {
            let id = a.id.to_string();
            match &a.kind {
                AgentKind::Command(c) => r.commands.push((
                    id.clone(),
                    c.run.clone(),
                    c.cwd.display().to_string(),
                    c.inherit_env.clone(),
                )),
                AgentKind::Custom => r.custom.push(id.clone()),
                AgentKind::Llm => {
                    r.providers
                        .push((id.clone(), a.provider.clone(), a.model.to_string()));
                }
            }
            if let Some(s) = &a.shell {
                r.shells.push((id.clone(), s.inherit_env.clone()));
            }
            let other: Vec<String> = a
                .tools
                .iter()
                .filter(|t| &***t != "shell")
                .map(|t| t.to_string())
                .collect();
            if !other.is_empty() {
                r.tools.push((id, other));
            }
        }
        r
    }

    /// Whether it runs programs of its own (command agents, shell tools).
    pub fn runs_programs(&self) -> bool {
        !self.commands.is_empty() || !self.shells.is_empty() || self.mcp.iter().any(|m| m.2)
    }
}

/// Control characters would let a crafted file drive the terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn words(list: &[String]) -> String {
    let quoted: Vec<String> = list.iter().map(|w| format!("{:?}", clean(w))).collect();
    quoted.join(" ")
}

impl fmt::Display for Reach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.commands.is_empty() {
            writeln!(f, "  command agents: none")?;
        }
        for (id, run, cwd, env) in &self.commands {
            writeln!(f, "  command agent `{}` runs: {}", clean(id), words(run))?;
            writeln!(f, "      in {}", clean(cwd))?;
            if !env.is_empty() {
                writeln!(f, "      with your {}", words(env))?;
            }
        }
        if self.shells.is_empty() {
            writeln!(f, "  shell tools: none")?;
        }
        for (id, env) in &self.shells {
            write!(
                f,
                "  agent `{}` may run shell commands (each asks you first)",
                clean(id)
            )?;
            if !env.is_empty() {
                write!(f, ", with your {}", words(env))?;
            }
            writeln!(f)?;
        }
        for (id, tools) in &self.tools {
            writeln!(f, "  agent `{}` may call {}", clean(id), words(tools))?;
        }
        for id in &self.custom {
            writeln!(
                f,
                "  agent `{}` is Rust code registered by the program",
                clean(id)
            )?;
        }
        if self.mcp.is_empty() {
            writeln!(f, "  MCP servers: none (agentctl starts none)")?;
        }
        for (name, what, _) in &self.mcp {
            writeln!(f, "  MCP server `{}` {}", clean(name), clean(what))?;
        }
        if self.providers.is_empty() {
            writeln!(f, "  providers: none")?;
        }
        for (id, provider, model) in &self.providers {
            writeln!(
                f,
                "  agent `{}` sends prompts to provider `{}` (model {})",
                clean(id),
                clean(provider),
                clean(model)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::load::{Format, load_str};

    #[test]
    fn lists_programs_tools_and_providers() {
        let text = r#"
[workflow]
name = "r"

[[agents]]
id = "cmd"
kind = "command"
command = { run = ["sh", "-c", "id > FILE"], inherit_env = ["PATH"] }

[[agents]]
id = "m"
provider = "sim"
tools = ["shell", "read_file"]
shell = { inherit_env = ["HOME"] }

[[nodes]]
id = "main"
kind = "sequence"
steps = ["a", "b"]

[[nodes]]
id = "a"
kind = "agent"
agent = "cmd"

[[nodes]]
id = "b"
kind = "agent"
agent = "m"
"#;
        let wf = load_str(text, "/tmp/r.toml", Format::Toml)
            .expect("valid")
            .workflow;
        let r = Reach::of(&wf);
        assert!(r.runs_programs());
        let shown = r.to_string();
        assert!(
            shown.contains(r#"command agent `cmd` runs: "sh" "-c" "id > FILE""#),
            "{shown}"
        );
        assert!(shown.contains(r#"with your "PATH""#), "{shown}");
        assert!(
            shown.contains("agent `m` may run shell commands"),
            "{shown}"
        );
        assert!(
            shown.contains(r#"agent `m` may call "read_file""#),
            "{shown}"
        );
        assert!(
            shown.contains("agent `m` sends prompts to provider `sim`"),
            "{shown}"
        );
        let with_mcp = load_str(
            "[workflow]\nname = \"m\"\n[mcp.fs]\ncommand = [\"node\", \"fs.js\", \"/data\"]\nenv = { LOG = \"1\" }\n[mcp.web]\nurl = \"http://127.0.0.1:9/mcp\"\n[[agents]]\nid = \"a\"\ntools = [\"mcp:fs/*\", \"mcp:web/echo\"]\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n",
            "/tmp/m.toml",
            Format::Toml,
        )
        .expect("valid")
        .workflow;
        let r = Reach::of(&with_mcp);
        assert!(r.runs_programs(), "a stdio MCP server is a program");
        let shown = r.to_string();
        assert!(
            shown.contains(
                r#"MCP server `fs` runs "node" "fs.js" "/data" in /tmp, with LOG PATH HOME"#
            ),
            "{shown}"
        );
        assert!(
            shown.contains("MCP server `web` calls http://127.0.0.1:9/mcp"),
            "{shown}"
        );
        assert!(!shown.contains("MCP servers: none"), "{shown}");
        let sim_only = load_str(
            "[workflow]\nname = \"s\"\n[[agents]]\nid = \"a\"\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n",
            "s.toml",
            Format::Toml,
        )
        .unwrap()
        .workflow;
        assert!(!Reach::of(&sim_only).runs_programs());
    }
}
