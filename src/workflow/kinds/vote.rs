//! `vote`: agents cast ballots; a protocol decides. Its counting rules
//! also settle a judgeless debate's final positions.

use super::Kind;
use super::NodeKindName;
use super::compile_context::{CompileContext, Owner};
use super::ballot_checks::*;
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
#[derive(Debug, Clone, Copy, PartialEq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
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
        self.into()
    }
}

/// What a vote does when a round decides nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
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
        self.into()
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

impl VoteNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> VoteNode {
        let n = self;
        let o = Owner::Node(i);
        let voters = cx.agent_list(i, "voters", &n.voters, NodeKindName::Vote, 1);
        let count = n.voters.as_ref().map_or(0, Vec::len) as i64;
        let question = cx.template(i, "question", &n.question);
        let options = cx.options(i, &n.options);
        let candidates = match (&n.candidates, options.is_empty()) {
            (Some(c), true) => cx
                .expr(i, "candidates", c)
                .map_or(Candidates::Free, Candidates::Expr),
            (Some(c), false) => {
                let at = cx.field_span(o, "candidates", c.span.clone());
                cx.error(
                    at,
                    "a `vote` takes `options` or `candidates`, not both",
                    "`options` is a fixed list; `candidates` an expression giving the list",
                );
                Candidates::Options(options)
            }
            (None, false) => Candidates::Options(options),
            (None, true) => Candidates::Free,
        };
        let name = match &n.protocol {
            None => Some("majority"),
            Some(p) => cx.choice(i, "protocol", p, PROTOCOLS),
        };
        let protocol = match name {
            Some("quorum") => {
                let mode = match &n.quorum_mode {
                    None => QuorumMode::Participation,
                    Some(m) => {
                        match cx.choice(i, "quorum_mode", m, &["participation", "agreement"]) {
                            Some("agreement") => QuorumMode::Agreement,
                            _ => QuorumMode::Participation,
                        }
                    }
                };
                let k = match &n.quorum {
                    None => {
                        cx.require(
                            i,
                            NodeKindName::Vote,
                            "`quorum` with protocol = \"quorum\"",
                            "add quorum = <how many of the voters> (k of n)",
                        );
                        1
                    }
                    Some(q) => {
                        let at = cx.value_span(o, "quorum", &q.span, &q.value.to_string());
                        if q.value < 1 {
                            cx.error(
                                at,
                                format!(
                                    "bad quorum: k = {} but at least 1 ballot is needed",
                                    q.value
                                ),
                                "set quorum between 1 and the number of voters",
                            );
                        } else if q.value > count && count > 0 {
                            cx.error(
                                at,
                                format!("bad quorum: k = {} but only {count} voter(s)", q.value),
                                format!("set quorum to at most {count}, or add voters"),
                            );
                        }
                        u32::try_from(q.value).unwrap_or(1).max(1)
                    }
                };
                Protocol::Quorum { k, mode }
            }
            Some("bft") => {
                let f = match &n.faults {
                    None => {
                        cx.require(
                            i,
                            NodeKindName::Vote,
                            "`faults` with protocol = \"bft\"",
                            "add faults = <faulty voters to tolerate> (needs voters ≥ 3·faults + 1)",
                        );
                        0
                    }
                    Some(fv) => {
                        let at = cx.value_span(o, "faults", &fv.span, &fv.value.to_string());
                        if fv.value < 0 {
                            cx.error(
                                at,
                                format!("`faults` cannot be negative, got {}", fv.value),
                                "set faults to 0 or more",
                            );
                            0
                        } else {
                            let need = 3 * fv.value + 1;
                            if count > 0 && count < need {
                                cx.error(
                                    at,
                                    format!(
                                        "BFT with {count} voter(s) cannot tolerate faults = {}: it needs n ≥ 3f+1 = {need}",
                                        fv.value
                                    ),
                                    format!(
                                        "add {} voter(s), or lower faults to at most {}",
                                        need - count,
                                        (count - 1) / 3
                                    ),
                                );
                            }
                            u32::try_from(fv.value).unwrap_or(0)
                        }
                    }
                };
                Protocol::Bft { f }
            }
            Some(other) => simple_protocol(other),
            None => Protocol::Majority,
        };
        let is = |p: &str| name == Some(p);
        for (key, set, applies, needs) in [
            (
                "quorum",
                n.quorum.is_some(),
                is("quorum"),
                "protocol = \"quorum\"",
            ),
            (
                "quorum_mode",
                n.quorum_mode.is_some(),
                is("quorum"),
                "protocol = \"quorum\"",
            ),
            (
                "faults",
                n.faults.is_some(),
                is("bft"),
                "protocol = \"bft\"",
            ),
            (
                "byzantine_policy",
                n.byzantine_policy.is_some(),
                is("bft"),
                "protocol = \"bft\"",
            ),
        ] {
            if set && !applies && name.is_some() {
                let at = cx.field_span(o, key, None);
                cx.error(
                    at,
                    format!("`{key}` only applies to {needs}"),
                    format!("set {needs}, or remove `{key}`"),
                );
            }
        }
        let exclude_flagged = match &n.byzantine_policy {
            None => true,
            Some(p) => cx.choice(i, "byzantine_policy", p, &["exclude", "flag"]) != Some("flag"),
        };
        let judge = cx.judge(i, &n.judge, &voters, "voters");
        let on_tie = cx.fallback(i, "on_tie", &n.on_tie, Fallback::Fail, &n.judge, true);
        let on_no_quorum = cx.fallback(
            i,
            "on_no_quorum",
            &n.on_no_quorum,
            Fallback::AnotherRound,
            &n.judge,
            true,
        );
        let default_rounds = if is("bft")
            || on_tie == Fallback::AnotherRound
            || (n.on_no_quorum.is_some() && on_no_quorum == Fallback::AnotherRound)
        {
            3
        } else {
            1
        };
        let rounds = cx.int(i, "rounds", &n.rounds, 1, default_rounds);
        let weights = cx.weights(i, &n.weights, &voters);
        let repair_attempts = cx.int(i, "repair_attempts", &n.repair_attempts, 0, 2);
        VoteNode {
            voters,
            question,
            candidates,
            rules: VoteRules {
                protocol,
                weights,
                on_tie,
                on_no_quorum,
                exclude_flagged,
            },
            rounds,
            judge,
            repair_attempts,
            step: n.step.unwrap_or(false),
        }
    }
}
