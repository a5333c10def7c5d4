//! Validation of an agent's `tool_choice` and `reset_tool_choice`: a forced
//! tool must be one the agent may use.

use super::Ctx;
use crate::workflow::kinds::compile_context::Owner;
use crate::workflow::spec::AgentSpec;
use crate::workflow::tool_use::{ToolChoiceName, ToolUse};

impl Ctx<'_> {
    /// The agent's tool-use settings (defaults when it sets none).
    pub(super) fn agent_tool_use(&mut self, o: Owner, a: &AgentSpec) -> ToolUse {
        let reset = a.reset_tool_choice.unwrap_or(true);
        let Some(v) = &a.tool_choice else {
            return ToolUse {
                reset,
                ..ToolUse::default()
            };
        };
        let tools: Vec<&str> = a.tools.iter().map(|t| t.value.as_str()).collect();
        let listed = if tools.is_empty() {
            "it lists no `tools`".to_string()
        } else {
            format!("its tools: {}", tools.join(", "))
        };
        let choice = match v.value.as_str() {
            "auto" => ToolChoiceName::Auto,
            "none" => ToolChoiceName::None,
            "required" => ToolChoiceName::Required,
            name => ToolChoiceName::Tool(name.into()),
        };
        let forced = matches!(choice, ToolChoiceName::Required | ToolChoiceName::Tool(_));
        // `mcp:fs/*` covers every tool of server `fs` (its names are known
        // only once it runs).
        let covered = |name: &str| {
            tools.iter().any(|t| {
                *t == name
                    || t.strip_suffix('*')
                        .is_some_and(|p| p.ends_with('/') && name.starts_with(p))
            })
        };
        if let ToolChoiceName::Tool(name) = &choice
            && !covered(name)
        {
            let span = self.cx.str_span(o, "tool_choice", v);
            self.cx.error(
                span,
                format!(
                    "agent `{}` forces the tool `{name}`, which it may not use",
                    a.id.value
                ),
                format!(
                    "tool_choice is \"auto\", \"required\", \"none\" or one of the agent's tools ({listed})"
                ),
            );
        } else if forced && tools.is_empty() {
            let span = self.cx.str_span(o, "tool_choice", v);
            self.cx.error(
                span,
                format!(
                    "agent `{}` requires a tool call but has no tools",
                    a.id.value
                ),
                "list the tools it may call in `tools`, or remove tool_choice",
            );
        }
        ToolUse { choice, reset }
    }
}
