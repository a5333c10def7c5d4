//! Providers: the `Provider` trait, the offline `sim` provider and token
//! counting.

#[cfg(feature = "openai")]
pub mod openai;
pub mod sim;
pub mod task_assignment;
pub mod tokens;

pub use task_assignment::TaskAssignment;

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::event::{ErrorKind, Id, Usage};

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// System prompt.
    System,
    /// The orchestrator speaking for the user.
    User,
    /// The model.
    Assistant,
    /// A tool's result, answering one of the model's tool calls.
    Tool,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Speaker.
    pub role: Role,
    /// Text.
    pub content: String,
    /// Assistant turns: the tools the model asked to call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Tool turns: the call this result answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A model's request to run a tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Id the result must quote.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments: JSON text as the model wrote it (may be invalid).
    pub arguments: String,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON schema of its arguments.
    pub parameters: serde_json::Value,
}

impl Message {
    fn plain(role: Role, content: String) -> Self {
        Message {
            role,
            content,
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
    /// An assistant turn that asked for tool calls.
    pub fn assistant_tool_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Message {
            tool_calls: calls,
            ..Message::plain(Role::Assistant, content.into())
        }
    }
    /// A tool's result for call `id`.
    pub fn tool_result(id: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            tool_call_id: Some(id.into()),
            ..Message::plain(Role::Tool, content.into())
        }
    }
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Message::plain(Role::System, content.into())
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Message::plain(Role::User, content.into())
    }
}

/// The shape of answer the engine needs; providers may use it to ask for
/// structured output, and the sim provider to invent a fitting reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expect {
    /// Free text.
    #[default]
    Text,
    /// A JSON plan: `{"subtasks": [{"title", "capability", "description"}]}`.
    Plan,
    /// A JSON verdict: `{"approved": bool, "feedback": "..."}`.
    Review,
    /// One of `RequestHints::labels`.
    Label,
    /// A debate turn: `{"position", "argument", "confidence", "critiques":
    /// [{"turn", "text"}]}`; context in `RequestHints::stance`.
    Turn,
    /// A ballot: `{"choice", "confidence", "rationale", "ranking"?}`;
    /// context in `RequestHints::stance`.
    Ballot,
    /// A judge's decision: `{"decision", "reasons"}`; the stances to judge
    /// in `RequestHints::stance`.
    Decision,
}

/// What a debater, voter or judge knows, so a provider that invents replies
/// (the sim) can answer in character.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StanceHint {
    /// Round, from 1.
    pub round: u32,
    /// Positions / candidates to choose from (empty = free).
    pub options: Vec<String>,
    /// The agent's own latest position.
    pub own: Option<String>,
    /// Other agents' latest stances (for a judge: every final stance).
    pub others: Vec<OtherStance>,
    /// Someone criticised the agent's latest turn.
    pub criticised: bool,
    /// Ballot phase: 0 = cast / propose, 1 = commit (Byzantine rounds).
    pub phase: u32,
}

/// Another agent's latest stance, in a [`StanceHint`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OtherStance {
    /// Agent id.
    pub agent: Id,
    /// Position.
    pub position: String,
    /// Confidence.
    pub confidence: f64,
    /// Turn number it was stated in (for critiques), 0 if none.
    pub turn: u32,
}

/// Context the engine gives a provider beyond the messages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestHints {
    /// Expected answer shape.
    pub expect: Expect,
    /// Capabilities executors offer (for planners).
    pub capabilities: Vec<String>,
    /// Labels to choose from (for classifiers).
    pub labels: Vec<String>,
    /// Tools the model may call (empty: none).
    pub tools: Vec<ToolSpec>,
    /// Debate / vote context (boxed: most calls have none).
    pub stance: Option<Box<StanceHint>>,
    /// Several `map` items in one call (boxed: most calls have none). The
    /// reply must be a JSON array with one answer per item, in order.
    pub batch: Option<Box<BatchHint>>,
    /// Whether the model must call a tool this round (`tool_choice`).
    pub tool_choice: ToolChoice,
    /// A user's JSON schema for the reply (an agent node's `schema` or
    /// `schema_file`): providers that constrain output send it, and the
    /// engine validates the reply against it.
    pub schema: Option<std::sync::Arc<serde_json::Value>>,
    /// The structured task, for agents that are code (boxed, and `None`
    /// for models, which get the prompt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Box<TaskAssignment>>,
    /// The task's priority (1 most urgent … 5; 0: not given), for
    /// dispatchers that queue calls outside the engine's scheduler.
    #[serde(default)]
    pub priority: u8,
}

/// Whether a round of the tool loop lets the model choose, forces a call,
/// or forbids one (OpenAI's `tool_choice`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToolChoice {
    /// The model decides (the default).
    #[default]
    Auto,
    /// The model must call some tool.
    Required,
    /// The model must not call a tool.
    None,
    /// The model must call this tool.
    Tool(String),
}

/// The items of a batch call, so a provider that invents replies (the sim)
/// or an agent that is code can answer each one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchHint {
    /// The items, in order.
    pub items: Vec<BatchItem>,
}

/// One item of a batch call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchItem {
    /// The task id the item would have had on its own (`fan[3]/work`).
    pub task: Id,
    /// The item's rendered prompt.
    pub prompt: String,
    /// The item's visit (its index in the `map`).
    pub visit: u32,
}

/// One call to a model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderRequest {
    /// Calling agent.
    pub agent: Id,
    /// The agent's role.
    pub role: Id,
    /// Model name.
    pub model: Id,
    /// Task the call serves.
    pub task: Id,
    /// Attempt number of the task, from 1.
    pub attempt: u32,
    /// Visit of the node: loop iteration, revision or item index, from 0.
    pub visit: u32,
    /// Conversation.
    pub messages: Vec<Message>,
    /// Reply length limit.
    pub max_tokens: Option<u32>,
    /// Temperature.
    pub temperature: Option<f32>,
    /// Hints.
    pub hints: RequestHints,
    /// The task's input as a value, for agents that are code rather than a
    /// model (`Null` for model providers, which get it in the prompt).
    pub input: serde_json::Value,
}

impl ProviderRequest {
    /// The last user message (the task prompt).
    pub fn prompt(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .unwrap_or("")
    }
}

/// A piece of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderChunk {
    /// More text.
    Delta(String),
    /// The model asks for these tool calls (complete, arguments assembled);
    /// sent once, just before `Done`.
    ToolCalls(Vec<ToolCall>),
    /// End of the reply, with its usage.
    Done {
        /// Usage of the call.
        usage: Usage,
    },
    /// The provider changed how it talks to its endpoint for the rest of
    /// the run (it may come before any delta). The engine records it as an
    /// `endpoint_adapted` event.
    Adapted(Adaptation),
}

/// A lasting change in how calls go to an endpoint: the server refused a
/// feature, or the calls in flight were limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adaptation {
    /// What changed: `structured_output` or `max_in_flight`.
    pub setting: String,
    /// The value before.
    pub from: String,
    /// The value now.
    pub to: String,
    /// Why, in the server's words where it gave some.
    pub reason: String,
}

/// A failed call.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error("{kind:?}: {message}")]
pub struct ProviderError {
    /// Class, which decides retrying.
    pub kind: ErrorKind,
    /// The failure looks like too many calls at once (a stream cut short,
    /// 429, 503): the endpoint's adaptive in-flight limit reacts to it.
    pub congestion: bool,
    /// Message.
    pub message: String,
    /// Server's Retry-After, if any.
    pub retry_after: Option<Duration>,
    /// Tokens the failed call still cost (a stream cut mid-way: the prompt
    /// was processed and part of the reply written), when known or
    /// estimable. The engine adds it to the run's usage.
    pub usage: Option<Usage>,
}

impl ProviderError {
    /// Builds an error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            congestion: false,
            message: message.into(),
            retry_after: None,
            usage: None,
        }
    }
}

/// A source of model replies.
pub trait Provider: Send + Sync + 'static {
    /// Name, for events.
    fn name(&self) -> &str;
    /// True when deltas arrive as a real model writes them, so the engine
    /// forwards each as an `llm_delta` event (the cockpit's "typing"). The
    /// sim provider says false: its deltas are a replay, and an event per
    /// delta would cost the engine's hot path for nothing.
    fn streams_live(&self) -> bool {
        false
    }
    /// The endpoint calls go to (a base URL), when there is one: circuit
    /// breakers per endpoint are keyed by the name plus this.
    fn endpoint(&self) -> Option<&str> {
        None
    }
    /// Calls in flight at once that the provider's settings allow (none:
    /// the engine adapts the limit per endpoint).
    fn max_in_flight(&self) -> Option<u32> {
        None
    }
    /// Whether calls are retried by default (`RetryPolicy::network_default`)
    /// when the workflow sets no `retry` for the agent: true for network
    /// endpoints, whose rate limits and restarts are routine.
    fn retries_by_default(&self) -> bool {
        false
    }
    /// Takes over an adaptation recorded by an earlier run on the same
    /// endpoint (resume), so the refused feature is not probed again.
    fn restore(&self, _adaptation: &Adaptation) {}
    /// Starts a call. The stream yields deltas then exactly one `Done`, or an
    /// error. Dropping the stream cancels the call.
    fn stream(
        &self,
        req: ProviderRequest,
    ) -> BoxStream<'static, Result<ProviderChunk, ProviderError>>;
}

/// A whole reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// Text.
    pub text: String,
    /// Usage.
    pub usage: Usage,
    /// Tool calls the model asked for (empty for a final answer).
    pub tool_calls: Vec<ToolCall>,
}

/// Runs a call to the end and gathers the reply.
pub async fn complete(
    provider: &dyn Provider,
    req: ProviderRequest,
) -> Result<Completion, ProviderError> {
    let mut stream = provider.stream(req);
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk? {
            ProviderChunk::Delta(d) => text.push_str(&d),
            ProviderChunk::ToolCalls(c) => tool_calls.extend(c),
            // Callers outside the engine keep no event log to record it in.
            ProviderChunk::Adapted(_) => {}
            ProviderChunk::Done { usage } => {
                return Ok(Completion {
                    text,
                    usage,
                    tool_calls,
                });
            }
        }
    }
    Err(ProviderError::new(
        ErrorKind::Server,
        "the reply ended before it was complete",
    ))
}
