//! A vote's ballots and results, as the stream tells them.

use serde::{Deserialize, Serialize};

use super::ChunkVec;
use crate::event::Tally;

/// A vote node's ballots, flagged agents and round results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    /// Vote node.
    pub node: String,
    /// Ballots in order, in shared chunks (a copy copies pointers).
    pub ballots: ChunkVec<Ballot, 16>,
    /// Agents flagged: (agent, round, reason, detail, excluded).
    pub flagged: Vec<(String, u32, String, String, bool)>,
    /// Each round's result, in order (a failed round may be followed by another).
    pub results: ChunkVec<VoteResult, 16>,
}

/// One ballot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ballot {
    /// Round, from 1.
    pub round: u32,
    /// Voter.
    pub voter: String,
    /// Choice (empty for a failed ballot).
    pub choice: String,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// Rationale, or why the ballot failed.
    pub rationale: String,
    /// Phase (`cast`, `propose`, `commit`), or `failed`.
    pub phase: String,
    /// Full ranking, for ranked-choice ballots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranking: Vec<String>,
}

/// A round's tally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoteResult {
    /// Round.
    pub round: u32,
    /// Reached or failed.
    pub reached: bool,
    /// The winner, when reached.
    pub choice: Option<String>,
    /// Who decided, or why it failed and what happens next.
    pub note: String,
    /// The full tally.
    pub tally: Tally,
}
