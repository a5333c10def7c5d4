//! `debate`: agents argue in rounds; a judge or a vote decides.

use super::Kind;
use super::vote::{Fallback, VoteRules};
use crate::workflow::index::AgentIdx;
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
