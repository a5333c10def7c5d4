//! How an agent's tool loop asks the model to use its tools: the agent
//! settings `tool_choice` and `reset_tool_choice`.

use crate::event::Id;

/// Tools workflows may list on agents. `shell` also needs the agent's
/// `shell` table (the tools themselves live in `crate::tools`).
pub const BUILTIN_TOOLS: &[&str] = &[
    "context_get",
    "context_put",
    "read_file",
    "http_get",
    "shell",
];

/// What a round of the tool loop asks of the model (OpenAI's `tool_choice`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ToolChoiceName {
    /// The model decides (the default).
    #[default]
    Auto,
    /// The model must call some tool.
    Required,
    /// The model must not call a tool.
    None,
    /// The model must call this tool (one the agent lists).
    Tool(Id),
}

/// An agent's tool-use settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolUse {
    /// What the first round asks.
    pub choice: ToolChoiceName,
    /// After the first round, ask `auto` again (default), so a forced
    /// choice cannot keep the loop calling tools until its turn limit
    /// (the Agents SDK's `reset_tool_choice`). False keeps `choice` for
    /// every round.
    pub reset: bool,
}

impl Default for ToolUse {
    fn default() -> Self {
        ToolUse {
            choice: ToolChoiceName::Auto,
            reset: true,
        }
    }
}

impl ToolUse {
    /// What round `round` (from 1) of the tool loop asks.
    pub fn for_round(&self, round: u32) -> &ToolChoiceName {
        if round > 1 && self.reset {
            &ToolChoiceName::Auto
        } else {
            &self.choice
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forced_choice_holds_for_the_first_round_unless_kept() {
        let forced = ToolUse {
            choice: ToolChoiceName::Required,
            reset: true,
        };
        assert_eq!(forced.for_round(1), &ToolChoiceName::Required);
        assert_eq!(forced.for_round(2), &ToolChoiceName::Auto);
        let kept = ToolUse {
            reset: false,
            ..forced
        };
        assert_eq!(kept.for_round(3), &ToolChoiceName::Required);
    }
}
