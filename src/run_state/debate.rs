//! A debate's transcript and outcome, as the stream tells them.

use serde::{Deserialize, Serialize};

use super::ChunkVec;

/// A debate node's turns and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Debate {
    /// Debate node.
    pub node: String,
    /// Turns in order (failed turns included), in shared chunks (a copy of
    /// the run state copies pointers).
    pub turns: ChunkVec<Turn, 16>,
    /// How it ended, once it did.
    pub outcome: Option<DebateOutcome>,
    /// Rounds as they started and ended (a rerun node starts at round 1
    /// again, after its earlier rounds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<Round>,
}

/// One debate round: who was to speak, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// Round, from 1.
    pub round: u32,
    /// Planned speakers (empty when a moderator picks each turn).
    pub order: Vec<String>,
    /// Set when the round ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<RoundEnd>,
}

/// How a debate round ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundEnd {
    /// Confidence-weighted share of the leading position, in [0, 1].
    pub agreement: f64,
    /// Speakers whose position changed this round, as the engine counts.
    pub changed: u32,
    /// Each speaker's latest stance: (agent, position, confidence).
    pub positions: Vec<(String, String, f64)>,
}

/// One debate turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Round, from 1.
    pub round: u32,
    /// Turn number in the debate, from 1.
    pub turn: u32,
    /// Speaker.
    pub speaker: String,
    /// Position taken (empty for a failed turn).
    pub position: String,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// The argument.
    pub argument: String,
    /// Critiques of earlier turns: (turn, its speaker, text).
    pub critiques: Vec<(u32, String, String)>,
    /// Why the turn failed, if it did.
    pub failed: Option<String>,
    /// The speaker's position differs from its previous turn.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
}

/// How a debate ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DebateOutcome {
    /// Rounds held.
    pub rounds: u32,
    /// Why it stopped.
    pub reason: String,
    /// The decision.
    pub decision: String,
    /// Its reasons.
    pub reasons: String,
    /// Who decided (judge, vote...).
    pub decided_by: String,
}
