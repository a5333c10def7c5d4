//! `debate`: agents argue in rounds; a judge or a vote decides.

use super::Kind;
use super::NodeKindName;
use super::compile_context::{CompileContext, Owner};
use super::ballot_checks::*;
use super::diagram::{Diagram, Shape};
use super::vote::{Fallback, Protocol, VoteRules};
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

impl DebateNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> DebateNode {
        let n = self;
        let o = Owner::Node(i);
        let participants = cx.agent_list(i, "participants", &n.participants, NodeKindName::Debate, 2);
        let question = cx.template(i, "question", &n.question);
        let options = cx.options(i, &n.options);
        let rounds = cx.int(i, "rounds", &n.rounds, 1, 3);
        let moderator = n
            .moderator
            .as_ref()
            .and_then(|m| cx.agent_ref(i, "moderator", m));
        let order = match n.turn_order.as_ref() {
            None => {
                if let Some(m) = &n.moderator {
                    let at = cx.field_span(o, "moderator", m.span.clone());
                    cx.error(
                        at,
                        "`moderator` only applies to turn_order = \"moderator\"",
                        "add turn_order = \"moderator\", or remove `moderator`",
                    );
                }
                TurnOrder::RoundRobin
            }
            Some(t) => match cx.choice(i, "turn_order", t, TURN_ORDERS) {
                Some("moderator") => match (&n.moderator, moderator) {
                    (_, Some(m)) => TurnOrder::Moderator(m),
                    (None, _) => {
                        cx.require(
                            i,
                            NodeKindName::Debate,
                            "a `moderator` with turn_order = \"moderator\"",
                            "add moderator = \"<agent id>\"",
                        );
                        TurnOrder::RoundRobin
                    }
                    (Some(_), None) => TurnOrder::RoundRobin,
                },
                Some("random") => TurnOrder::Random,
                _ => TurnOrder::RoundRobin,
            },
        };
        if n.moderator.is_some()
            && !matches!(order, TurnOrder::Moderator(_))
            && n.turn_order.is_some()
        {
            let at = cx.field_span(o, "moderator", None);
            cx.error(
                at,
                "`moderator` only applies to turn_order = \"moderator\"",
                "set turn_order = \"moderator\", or remove `moderator`",
            );
        }
        let judge = cx.judge(i, &n.judge, &participants, "participants");
        let converge_at = match &n.converge_at {
            None => 0.8,
            Some(c) if c.value > 0.0 && c.value <= 1.0 => c.value,
            Some(c) => {
                let at = cx.value_span(o, "converge_at", &c.span, &c.value.to_string());
                cx.error(
                    at,
                    format!("`converge_at` must be in (0, 1], got {}", c.value),
                    "it is the confidence-weighted share of one position that stops the debate (e.g. 0.8)",
                );
                0.8
            }
        };
        let context_tokens = cx.int(i, "context_tokens", &n.context_tokens, 64, 3000);
        if let (Some(_), Some(p)) = (&n.judge, &n.protocol) {
            let at = cx.field_span(o, "protocol", p.span.clone());
            cx.error(
                at,
                "a debate with a `judge` is decided by the judge, so `protocol` is unused",
                "remove `protocol`, or remove `judge` to decide by a vote over the final positions",
            );
        }
        let protocol = match &n.protocol {
            None => Protocol::Weighted,
            Some(p) => match cx.choice(i, "protocol", p, PROTOCOLS) {
                Some(name) if !DEBATE_PROTOCOLS.contains(&name) => {
                    let at = cx.str_span(o, "protocol", p);
                    cx.error(
                        at,
                        format!("a debate cannot be decided by protocol `{name}`"),
                        format!(
                            "use one of {} (or a `vote` node after the debate)",
                            DEBATE_PROTOCOLS.join(", ")
                        ),
                    );
                    Protocol::Weighted
                }
                Some(name) => simple_protocol(name),
                None => Protocol::Weighted,
            },
        };
        let on_tie = cx.fallback(i, "on_tie", &n.on_tie, Fallback::Fail, &n.judge, false);
        let rules = VoteRules {
            protocol,
            weights: cx.weights(i, &n.weights, &participants),
            on_tie,
            // A debate's vote has one fallback: on_tie also covers "no majority".
            on_no_quorum: on_tie,
            exclude_flagged: true,
        };
        let repair_attempts = cx.int(i, "repair_attempts", &n.repair_attempts, 0, 2);
        DebateNode {
            participants,
            question,
            options,
            rounds,
            order,
            judge,
            converge_at,
            context_tokens,
            rules,
            repair_attempts,
            step: n.step.unwrap_or(false),
        }
    }
}
