//! Validation of what backs an agent: a model, a command, or Rust code.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Ctx;
use crate::workflow::kinds::compile_context::Owner;
use crate::workflow::model::{AgentKind, CommandConfig};
use crate::workflow::span::Spanned;
use crate::workflow::spec::{AgentKindName, AgentSpec};

const DEFAULT_TIMEOUT_MS: u64 = 60_000;
const DEFAULT_MAX_OUTPUT: u64 = 1 << 20;

impl Ctx<'_> {
    /// A count or duration that must be at least 1 (`default` when
    /// absent); a 0 is reported on the field with `hint`.
    pub(super) fn at_least_one(
        &mut self,
        o: Owner,
        field: &str,
        value: Option<&Spanned<u64>>,
        default: u64,
        hint: impl Into<String>,
    ) -> u64 {
        let v = value.map_or(default, |v| v.value);
        if v == 0 {
            let span = self
                .cx
                .field_span(o, field, value.and_then(|v| v.span.clone()));
            self.cx
                .error(span, format!("`{field}` must be at least 1"), hint);
        }
        v
    }

    /// The agent's kind; reports fields that contradict it.
    pub(super) fn agent_kind(&mut self, o: Owner, a: &AgentSpec) -> AgentKind {
        let declared = a.kind.as_ref().map(|k| k.value);
        let kind = declared.unwrap_or(if a.command.is_some() {
            AgentKindName::Command
        } else {
            AgentKindName::Llm
        });
        let kind_span = a
            .kind
            .as_ref()
            .map(|k| self.cx.field_span(o, "kind", k.span.clone()));
        if kind != AgentKindName::Llm && a.provider.is_some() {
            let span = self.cx.field_span(
                o,
                "provider",
                a.provider.as_ref().and_then(|p| p.span.clone()),
            );
            self.cx.error(
                span,
                format!(
                    "agent `{}` is a {} agent and has no provider",
                    a.id.value,
                    name(kind)
                ),
                "remove `provider`, or make it an llm agent",
            );
        }
        match kind {
            AgentKindName::Llm => {
                if a.command.is_some() {
                    let span = kind_span.unwrap_or_else(|| self.cx.field_span(o, "command", None));
                    self.cx.error(
                        span,
                        "`command` is only used by command agents",
                        "set kind = \"command\", or remove the command table",
                    );
                }
                AgentKind::Llm
            }
            AgentKindName::Custom => {
                if a.command.is_some() {
                    let span = self.cx.field_span(o, "command", None);
                    self.cx.error(
                        span,
                        "`command` is only used by command agents",
                        "remove the command table, or set kind = \"command\"",
                    );
                }
                AgentKind::Custom
            }
            AgentKindName::Command => {
                let Some(c) = &a.command else {
                    let span =
                        kind_span.unwrap_or_else(|| self.cx.field_span(o, "id", a.id.span.clone()));
                    self.cx.error(
                        span,
                        format!(
                            "command agent `{}` has no `[agents.command]` table",
                            a.id.value
                        ),
                        "add: command = { run = [\"python3\", \"my_agent.py\"] }",
                    );
                    return AgentKind::Custom;
                };
                let run_span = self.cx.field_span(o, "run", c.run.span.clone());
                if c.run.value.is_empty() || c.run.value[0].trim().is_empty() {
                    self.cx.error(
                        run_span,
                        "`run` is empty",
                        "name the program and its arguments: run = [\"python3\", \"agent.py\"]",
                    );
                }
                let timeout_ms = self.at_least_one(
                    o,
                    "timeout_ms",
                    c.timeout_ms.as_ref(),
                    DEFAULT_TIMEOUT_MS,
                    "give the program time to answer, e.g. timeout_ms = 30000",
                );
                let max = self.at_least_one(
                    o,
                    "max_output_bytes",
                    c.max_output_bytes.as_ref(),
                    DEFAULT_MAX_OUTPUT,
                    "the default is 1048576 (1 MiB)",
                );
                AgentKind::Command(CommandConfig {
                    run: c.run.value.clone(),
                    env: c.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    inherit_env: c.inherit_env.clone(),
                    cwd: resolve_cwd(self.cx.origin, c.cwd.as_deref()),
                    cwd_given: c.cwd.clone(),
                    timeout: Duration::from_millis(timeout_ms.max(1)),
                    persistent: c.persistent,
                    max_output_bytes: usize::try_from(max.max(1)).unwrap_or(usize::MAX),
                })
            }
        }
    }
}

fn name(k: AgentKindName) -> &'static str {
    match k {
        AgentKindName::Llm => "llm",
        AgentKindName::Command => "command",
        AgentKindName::Custom => "custom",
    }
}

/// A command's working directory: relative to the workflow file's folder
/// (the current directory for built-ins and workflows built in code).
pub(super) fn resolve_cwd(origin: &str, cwd: Option<&str>) -> PathBuf {
    let base = if origin.starts_with("builtin:") || origin.is_empty() {
        PathBuf::from(".")
    } else {
        Path::new(origin)
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."))
    };
    match cwd {
        Some(c) if Path::new(c).is_absolute() => PathBuf::from(c),
        Some(c) => base.join(c),
        None => base,
    }
}
