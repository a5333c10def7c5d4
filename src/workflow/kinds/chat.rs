//! `chat`: participants talk over a shared transcript, in turn or when
//! addressed (`@id`), until a phrase, `max_turns` or a judge ends it. No
//! positions and no votes: the output is the conversation and its last word.

use super::Kind;
use super::NodeKindName;
use super::compile_context::{CompileContext, Owner};
use super::diagram::{Diagram, Shape};
use crate::workflow::index::AgentIdx;
use crate::workflow::span::Spanned;
use crate::workflow::template::Template;

/// A compiled `chat` node.
#[derive(Debug, Clone)]
pub struct ChatNode {
    /// Speakers, in turn order.
    pub participants: Vec<AgentIdx>,
    /// What the chat is about (a template; default: the input).
    pub topic: Template,
    /// Most turns.
    pub max_turns: u32,
    /// A turn containing this phrase (ignoring case) ends the chat.
    pub until: Option<String>,
    /// Asked after every `judge_every` turns whether the chat is done.
    pub judge: Option<AgentIdx>,
    /// Turns between the judge's checks.
    pub judge_every: u32,
    /// Transcript tokens each speaker sees.
    pub context_tokens: u32,
    /// Starts in step mode (one step per turn).
    pub step: bool,
}

impl Kind for ChatNode {
    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        let names: Vec<&str> = self.participants.iter().map(|a| d.agent(*a)).collect();
        d.line(format_args!("chat: {}", names.join(" ↔ ")));
        let mut end = format!("≤{} turns", self.max_turns);
        if let Some(p) = &self.until {
            end.push_str(&format!(", until \"{p}\""));
        }
        d.line(end);
        if let Some(j) = self.judge {
            d.line(format_args!(
                "judge: {} every {} turns",
                d.agent(j),
                self.judge_every
            ));
        }
        if self.step {
            d.line("step mode");
        }
        Shape::Stadium
    }
}

// ── spec: what a `chat` node says in a workflow file ──

/// The fields of a `chat` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`, `on_error`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatNodeSpec {
    /// The speakers (agent ids), in turn order, at least 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<Spanned<String>>>,
    /// What the chat is about, a template (default: the input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Spanned<String>>,
    /// Most turns (default 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_turns: Option<Spanned<i64>>,
    /// A turn containing this phrase ends the chat (ignoring case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Spanned<String>>,
    /// An agent asked whether the chat is done (answers `{approved, feedback}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<Spanned<String>>,
    /// Turns between the judge's checks (default: one per participant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_every: Option<Spanned<i64>>,
    /// Tokens of transcript each speaker sees (default 2000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<Spanned<i64>>,
    /// Wait for a `step` command before each turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<bool>,
}

impl ChatNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> ChatNode {
        let n = self;
        let o = Owner::Node(i);
        let participants =
            cx.agent_list(i, "participants", &n.participants, NodeKindName::Chat, 2);
        let topic = cx.template(i, "topic", &n.topic);
        let max_turns = cx.int(i, "max_turns", &n.max_turns, 1, 12);
        let until = match &n.until {
            Some(p) if p.value.trim().is_empty() => {
                let at = cx.str_span(o, "until", p);
                cx.error(
                    at,
                    "`until` is empty: every turn would end the chat",
                    "set until to a phrase a speaker writes when done (e.g. \"DONE\")",
                );
                None
            }
            Some(p) => Some(p.value.trim().to_string()),
            None => None,
        };
        let judge = cx.judge(i, &n.judge, &participants, "participants");
        if let (Some(e), None) = (&n.judge_every, &n.judge) {
            let at = cx.field_span(o, "judge_every", e.span.clone());
            cx.error(
                at,
                "`judge_every` only applies with a `judge`",
                "add judge = \"<agent id>\", or remove `judge_every`",
            );
        }
        let judge_every = cx.int(
            i,
            "judge_every",
            &n.judge_every,
            1,
            participants.len().max(1) as u32,
        );
        let context_tokens = cx.int(i, "context_tokens", &n.context_tokens, 64, 2000);
        ChatNode {
            participants,
            topic,
            max_turns,
            until,
            judge,
            judge_every,
            context_tokens,
            step: n.step.unwrap_or(false),
        }
    }
}
