//! Attribute, span and metric names. `gen_ai.*` follow the OpenTelemetry
//! semantic conventions for generative AI as of [`VERSION`] (the version
//! Arize Phoenix maps to its own model); `agentctl.*` are ours, for what
//! those conventions have no name for (nodes, tasks, attempts).
//!
//! Kept here, not taken from `opentelemetry-semantic-conventions`: that
//! crate marks every `gen_ai.*` constant deprecated (they moved to a
//! separate conventions repository), and the names are the contract, so
//! they are spelled out once, where a reader can check them.

/// The semantic-conventions release the `gen_ai.*` names follow.
pub const VERSION: &str = "1.41.1";
/// Its schema URL, sent with every span and metric.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.41.1";

// ── GenAI spans ──
/// `chat`, `execute_tool` or `invoke_agent`.
pub const OPERATION_NAME: &str = "gen_ai.operation.name";
/// Provider name (`sim`, `openai`, a configured name).
pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
/// The same, under its name before 1.37 (still read by many backends).
pub const SYSTEM: &str = "gen_ai.system";
/// Model asked for.
pub const REQUEST_MODEL: &str = "gen_ai.request.model";
/// Model that answered (the same: providers here do not report another).
pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
/// Reply length limit.
pub const REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
/// Sampling temperature.
pub const REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
/// Prompt tokens.
pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Completion tokens.
pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// Why the model stopped, one per choice.
pub const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// Agent id.
pub const AGENT_ID: &str = "gen_ai.agent.id";
/// Agent name (its id: agents have no other name).
pub const AGENT_NAME: &str = "gen_ai.agent.name";
/// The run, as a conversation (the session id).
pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// Tool name.
pub const TOOL_NAME: &str = "gen_ai.tool.name";
/// The model's id for a tool call.
pub const TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// `function` for every tool here.
pub const TOOL_TYPE: &str = "gen_ai.tool.type";
/// Tool arguments (content: only with `include_content`).
pub const TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// Tool result (content: only with `include_content`).
pub const TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
/// Messages sent (content: only with `include_content`).
pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// Messages received (content: only with `include_content`).
pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// The agent's system prompt (content: only with `include_content`).
pub const SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
/// Error class of a failed operation.
pub const ERROR_TYPE: &str = "error.type";

/// `gen_ai.operation.name` of a model call.
pub const OP_CHAT: &str = "chat";
/// `gen_ai.operation.name` of a tool call.
pub const OP_EXECUTE_TOOL: &str = "execute_tool";
/// `gen_ai.operation.name` of an agent working on a task.
pub const OP_INVOKE_AGENT: &str = "invoke_agent";

// ── GenAI metrics ──
/// Tokens per call, by `gen_ai.token.type`.
pub const METRIC_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// Seconds per call.
pub const METRIC_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// `input` or `output`.
pub const TOKEN_TYPE: &str = "gen_ai.token.type";

// ── agentctl ──
/// Session id.
pub const SESSION_ID: &str = "agentctl.session.id";
/// Workflow name.
pub const WORKFLOW: &str = "agentctl.workflow";
/// Run status at the end.
pub const RUN_STATUS: &str = "agentctl.run.status";
/// Node id.
pub const NODE_ID: &str = "agentctl.node.id";
/// Node state at the end of its span.
pub const NODE_STATE: &str = "agentctl.node.state";
/// Task id.
pub const TASK_ID: &str = "agentctl.task.id";
/// Task title.
pub const TASK_TITLE: &str = "agentctl.task.title";
/// Parent task of a plan's subtask.
pub const TASK_PARENT: &str = "agentctl.task.parent";
/// Task state at the end of its span.
pub const TASK_STATE: &str = "agentctl.task.state";
/// Capability a task was dispatched by.
pub const TASK_CAPABILITY: &str = "agentctl.task.capability";
/// Task input (content: only with `include_content`).
pub const TASK_INPUT: &str = "agentctl.task.input";
/// Task output (content: only with `include_content`).
pub const TASK_OUTPUT: &str = "agentctl.task.output";
/// Attempt number, from 1.
pub const ATTEMPT: &str = "agentctl.attempt";
/// Why a span was closed without its own end event (`run_ended`).
pub const CLOSED_BY: &str = "agentctl.closed_by";
/// Tokens, counted by agentctl's tokenizer, of a prompt.
pub const PROMPT_TOKENS_COUNTED: &str = "agentctl.prompt_tokens_counted";
/// True when token usage was estimated rather than reported by the server.
pub const USAGE_ESTIMATED: &str = "agentctl.usage.estimated";
/// What a breaker guards (an agent id or `provider:<name>`).
pub const BREAKER_SCOPE: &str = "agentctl.breaker.scope";
/// Breaker state a transition went to.
pub const BREAKER_TO: &str = "agentctl.breaker.to";
/// `completed` or `failed`.
pub const OUTCOME: &str = "agentctl.outcome";

/// Cost so far per agent, US dollars.
pub const METRIC_COST: &str = "agentctl.cost";
/// Breaker state now: 0 closed, 1 half open, 2 open.
pub const METRIC_BREAKER_STATE: &str = "agentctl.breaker.state";
/// Breaker transitions.
pub const METRIC_BREAKER_TRANSITIONS: &str = "agentctl.breaker.transitions";
/// Tasks that ended, by outcome.
pub const METRIC_TASKS: &str = "agentctl.tasks";
/// Seconds from a task's first assignment to its end.
pub const METRIC_TASK_DURATION: &str = "agentctl.task.duration";

/// A small enum's name as the event stream spells it, in snake case
/// (`HalfOpen` → `half_open`, `RateLimited` → `rate_limited`).
pub(crate) fn enum_name<T: std::fmt::Debug>(v: &T) -> String {
    let s = format!("{v:?}");
    let mut out = String::with_capacity(s.len() + 2);
    for (n, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if n > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn enum_names_are_snake_case() {
        use crate::event::{BreakerState, ErrorKind};
        assert_eq!(super::enum_name(&BreakerState::HalfOpen), "half_open");
        assert_eq!(super::enum_name(&ErrorKind::RateLimited), "rate_limited");
        assert_eq!(super::enum_name(&ErrorKind::Timeout), "timeout");
    }
}
