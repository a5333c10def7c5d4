//! `vote`: agents cast ballots; a protocol decides. Its counting rules
//! also settle a judgeless debate's final positions.

use super::Kind;
use super::diagram::{Diagram, Shape};
use crate::workflow::expr::Expr;
use crate::workflow::index::AgentIdx;
use crate::workflow::span::Spanned;
use crate::workflow::template::Template;

/// A compiled `vote` node.
#[derive(Debug, Clone)]
pub struct VoteNode {
    /// Voters.
    pub voters: Vec<AgentIdx>,
    /// The question (default: the input).
    pub question: Template,
    /// Candidates.
    pub candidates: Candidates,
    /// Counting and fallbacks.
    pub rules: VoteRules,
    /// Most ballot rounds.
    pub rounds: u32,
    /// Breaks ties / no-quorum with `judge`.
    pub judge: Option<AgentIdx>,
    /// Repair prompts per malformed ballot.
    pub repair_attempts: u32,
    /// Starts in step mode.
    pub step: bool,
}

impl Kind for VoteNode {
    fn may_ask_human(&self) -> bool {
        self.rules.on_tie == Fallback::Gate || self.rules.on_no_quorum == Fallback::Gate
    }

    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        let names: Vec<&str> = self.voters.iter().map(|a| d.agent(*a)).collect();
        d.line(format_args!("voters: {}", names.join(", ")));
        let rule = match self.rules.protocol {
            Protocol::Quorum { k, .. } => format!("quorum {k} of {}", self.voters.len()),
            Protocol::Bft { f } => format!("bft f={f} (needs {})", 2 * f + 1),
            p => p.name().to_string(),
        };
        d.line(format_args!("{rule}, ≤{} rounds", self.rounds));
        if self.step {
            d.line("step mode");
        }
        Shape::Trapezoid
    }
}

/// Where a vote's candidates come from.
#[derive(Debug, Clone)]
pub enum Candidates {
    /// Free answers.
    Free,
    /// A fixed list.
    Options(Vec<String>),
    /// An expression over `input` / `outputs` giving a list.
    Expr(Expr),
}

/// What `quorum` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumMode {
    /// At least k ballots cast; then plurality among them.
    Participation,
    /// At least k ballots for one choice.
    Agreement,
}

/// A vote-counting rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Protocol {
    /// More than half of the eligible voters.
    Majority,
    /// The most ballots.
    Plurality,
    /// Every eligible voter, the same choice.
    Unanimity,
    /// k of n.
    Quorum {
        /// Ballots needed.
        k: u32,
        /// What they must do.
        mode: QuorumMode,
    },
    /// Highest sum of confidence × agent weight.
    Weighted,
    /// Instant runoff over ranked ballots.
    Ranked,
    /// Byzantine-tolerant: at least 2f+1 matching ballots.
    Bft {
        /// Faulty voters tolerated.
        f: u32,
    },
}

impl Protocol {
    /// Name as written in files.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Majority => "majority",
            Protocol::Plurality => "plurality",
            Protocol::Unanimity => "unanimity",
            Protocol::Quorum { .. } => "quorum",
            Protocol::Weighted => "weighted",
            Protocol::Ranked => "ranked",
            Protocol::Bft { .. } => "bft",
        }
    }
}

/// What a vote does when a round decides nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The node fails.
    Fail,
    /// Another ballot round (while rounds remain; then it fails).
    AnotherRound,
    /// A human gate decides.
    Gate,
    /// The judge agent decides.
    Judge,
}

impl Fallback {
    /// Name as written in files.
    pub fn name(self) -> &'static str {
        match self {
            Fallback::Fail => "fail",
            Fallback::AnotherRound => "another_round",
            Fallback::Gate => "gate",
            Fallback::Judge => "judge",
        }
    }
}

/// How ballots are counted and what happens when they decide nothing.
#[derive(Debug, Clone)]
pub struct VoteRules {
    /// Counting rule.
    pub protocol: Protocol,
    /// Weight per agent index (1 unless set).
    pub weights: Vec<f64>,
    /// On a tie.
    pub on_tie: Fallback,
    /// Without a quorum / majority.
    pub on_no_quorum: Fallback,
    /// Exclude flagged agents from later tallies (else only flag them).
    pub exclude_flagged: bool,
}

// ── spec: what a `vote` node says in a workflow file ──

/// The fields of a `vote` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteNodeSpec {
    /// Repair prompts for a malformed plan before failing (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_attempts: Option<Spanned<i64>>,
    /// The voters (agent ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voters: Option<Vec<Spanned<String>>>,
    /// The question, a template over `input` (default: the input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<Spanned<String>>,
    /// The positions or answers to choose from (default: free).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<Spanned<String>>>,
    /// Expression giving the candidate answers (e.g. `input`, the list
    /// a `parallel` node gathered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Spanned<String>>,
    /// Most rounds (default 3); vote: most ballot rounds (default 1,
    /// 3 for `bft`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<Spanned<i64>>,
    /// The agent deciding the outcome (else a vote over final
    /// positions); debate/vote: breaks ties with on_tie = "judge".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<Spanned<String>>,
    /// `majority`, `plurality`, `unanimity`, `quorum`,
    /// `weighted` (debate default), `ranked` or `bft` (vote default: majority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Spanned<String>>,
    /// Ballots needed (k of n).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<Spanned<i64>>,
    /// `participation` (k ballots, then
    /// plurality; default) or `agreement` (k ballots for one choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum_mode: Option<Spanned<String>>,
    /// Faulty voters tolerated (n ≥ 3f+1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Spanned<i64>>,
    /// Per-agent weight (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<std::collections::BTreeMap<String, f64>>,
    /// On a tie: `fail` (default), `another_round`, `gate`, `judge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_tie: Option<Spanned<String>>,
    /// Without a quorum/majority: `fail`, `another_round` (default),
    /// `gate`, `judge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_no_quorum: Option<Spanned<String>>,
    /// `exclude` (default) or `flag` agents that
    /// equivocate or are outliers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byzantine_policy: Option<Spanned<String>>,
    /// Wait for a `step` command before each turn or ballot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<bool>,
}
