//! `debate`: agents argue in rounds; a judge or a vote decides.

use super::Kind;
use super::diagram::{Diagram, Shape};
use super::vote::{Fallback, VoteRules};
use crate::workflow::index::AgentIdx;
use crate::workflow::span::Spanned;
use crate::workflow::template::Template;

/// A compiled `debate` node.
#[derive(Debug, Clone)]
pub struct DebateNode {
    /// Debaters.
    pub participants: Vec<AgentIdx>,
    /// The question (default: the input).
    pub question: Template,
    /// Positions to choose from; empty = free.
    pub options: Vec<String>,
    /// Most rounds.
    pub rounds: u32,
    /// Speaker order.
    pub order: TurnOrder,
    /// Decides the outcome; else a vote over final positions.
    pub judge: Option<AgentIdx>,
    /// Confidence-weighted agreement that stops the debate early.
    pub converge_at: f64,
    /// Transcript tokens each speaker sees.
    pub context_tokens: u32,
    /// The vote over final positions when there is no judge.
    pub rules: VoteRules,
    /// Repair prompts per malformed turn.
    pub repair_attempts: u32,
    /// Starts in step mode.
    pub step: bool,
}

impl Kind for DebateNode {
    fn may_ask_human(&self) -> bool {
        // A judged debate never counts a final vote.
        self.judge.is_none()
            && (self.rules.on_tie == Fallback::Gate || self.rules.on_no_quorum == Fallback::Gate)
    }

    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        let names: Vec<&str> = self.participants.iter().map(|a| d.agent(*a)).collect();
        d.line(names.join(", "));
        let order = match self.order {
            TurnOrder::RoundRobin => "round robin".to_string(),
            TurnOrder::Moderator(m) => format!("moderator {}", d.agent(m)),
            TurnOrder::Random => "random order".to_string(),
        };
        d.line(format_args!("≤{} rounds, {order}", self.rounds));
        match self.judge {
            Some(j) => d.line(format_args!("judge: {}", d.agent(j))),
            None => d.line(format_args!("vote: {}", self.rules.protocol.name())),
        }
        if self.step {
            d.line("step mode");
        }
        Shape::Stadium
    }
}

/// How a debate picks its speakers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnOrder {
    /// Participants in the order listed, every round.
    RoundRobin,
    /// A moderator agent names each next speaker among those yet to speak.
    Moderator(AgentIdx),
    /// A fresh shuffle per round, from the run's seed.
    Random,
}

// ── spec: what a `debate` node says in a workflow file ──

/// The fields of a `debate` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebateNodeSpec {
    /// Repair prompts for a malformed plan before failing (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_attempts: Option<Spanned<i64>>,
    /// The debaters (agent ids), in round-robin order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<Spanned<String>>>,
    /// The question, a template over `input` (default: the input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<Spanned<String>>,
    /// The positions or answers to choose from (default: free).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<Spanned<String>>>,
    /// Most rounds (default 3); vote: most ballot rounds (default 1,
    /// 3 for `bft`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<Spanned<i64>>,
    /// `round_robin` (default), `moderator` or `random`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_order: Option<Spanned<String>>,
    /// With turn_order = "moderator", the agent naming each speaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderator: Option<Spanned<String>>,
    /// The agent deciding the outcome (else a vote over final
    /// positions); debate/vote: breaks ties with on_tie = "judge".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<Spanned<String>>,
    /// Stop early when the confidence-weighted share of one position
    /// reaches this (0..=1, default 0.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converge_at: Option<Spanned<f64>>,
    /// Tokens of transcript each speaker sees (default 3000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<Spanned<i64>>,
    /// `majority`, `plurality`, `unanimity`, `quorum`,
    /// `weighted` (debate default), `ranked` or `bft` (vote default: majority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Spanned<String>>,
    /// Per-agent weight (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<std::collections::BTreeMap<String, f64>>,
    /// On a tie: `fail` (default), `another_round`, `gate`, `judge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_tie: Option<Spanned<String>>,
    /// Wait for a `step` command before each turn or ballot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<bool>,
}
