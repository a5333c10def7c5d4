//! A debate's transcript and outcome, as the stream tells them.

use serde::{Deserialize, Serialize};

/// A debate node's turns and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Debate {
    /// Debate node.
    pub node: String,
    /// Turns in order (failed turns included).
    pub turns: Vec<Turn>,
    /// How it ended, once it did.
    pub outcome: Option<DebateOutcome>,
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
