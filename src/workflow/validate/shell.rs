//! Validation of an agent's `shell` tool: off unless the agent both lists it
//! in `tools` and declares a `shell` table saying how it is confined.

use std::time::Duration;

use super::Ctx;
use crate::workflow::kinds::compile_context::Owner;
use crate::workflow::policy::shell::{DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT_MS, ShellConfig};
use crate::workflow::spec::{AgentKindName, AgentSpec};

const ENABLE_HINT: &str = "add `shell = { inherit_env = [\"PATH\"], timeout_ms = 10000 }` to this agent to enable it (every call still asks a human)";

impl Ctx<'_> {
    /// The agent's shell confinement, when it enables `shell` correctly.
    pub(super) fn agent_shell(&mut self, o: Owner, a: &AgentSpec) -> Option<ShellConfig> {
        let listed = a.tools.iter().find(|t| t.value == "shell");
        let Some(spec) = &a.shell else {
            if let Some(t) = listed {
                let span = self.cx.str_span(o, "tools", t);
                self.cx.error(
                    span,
                    format!(
                        "agent `{}` lists the `shell` tool, which is off by default",
                        a.id.value
                    ),
                    ENABLE_HINT,
                );
            }
            return None;
        };
        let kind = a
            .kind
            .as_ref()
            .map(|k| k.value)
            .unwrap_or(if a.command.is_some() {
                AgentKindName::Command
            } else {
                AgentKindName::Llm
            });
        if kind != AgentKindName::Llm {
            let span = self.cx.field_span(o, "shell", None);
            self.cx.error(
                span,
                format!(
                    "agent `{}` is not a model agent: only models call tools such as `shell`",
                    a.id.value
                ),
                "remove the shell table (a command or custom agent runs its own code)",
            );
        }
        if listed.is_none() {
            let span = self.cx.field_span(o, "shell", None);
            self.cx.error(
                span,
                format!(
                    "agent `{}` has a `shell` table but does not list `shell` in `tools`",
                    a.id.value
                ),
                "add \"shell\" to the agent's tools, or remove the shell table",
            );
        }
        let timeout_ms = self.at_least_one(
            o,
            "timeout_ms",
            spec.timeout_ms.as_ref(),
            DEFAULT_TIMEOUT_MS,
            "give commands time to finish, e.g. timeout_ms = 10000",
        );
        let max = self.at_least_one(
            o,
            "max_output_bytes",
            spec.max_output_bytes.as_ref(),
            DEFAULT_MAX_OUTPUT as u64,
            format!("the default is {DEFAULT_MAX_OUTPUT} bytes"),
        );
        for name in spec.env.keys().chain(&spec.inherit_env) {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                let key = if spec.env.contains_key(name) {
                    "env"
                } else {
                    "inherit_env"
                };
                let span = self.cx.field_span(o, key, None);
                self.cx.error(
                    span,
                    format!("`{name}` is not a valid environment variable name"),
                    "names are non-empty and contain no `=`",
                );
            }
        }
        Some(ShellConfig {
            cwd: super::agent_kind::resolve_cwd(self.cx.origin, None),
            env: spec
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            inherit_env: spec.inherit_env.clone(),
            timeout: Duration::from_millis(timeout_ms.max(1)),
            max_output_bytes: usize::try_from(max.max(1)).unwrap_or(usize::MAX),
        })
    }
}
