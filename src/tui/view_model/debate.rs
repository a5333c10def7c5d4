//! The debate/vote pane's structured state: rounds as tables of turns or
//! ballots, the latest tally (or stance share) as a chart, the decision and
//! what a node in step mode waits for.
//!
//! Folded from the issue #4 events by [`DebateState::apply`]; bounded (the
//! oldest rounds are dropped; the session file keeps everything).

use std::collections::VecDeque;

use crate::event::{Critique, EventKind, Id, Stance, Tally};

/// Most rounds kept (over every debate and vote node of the run).
const MAX_ROUNDS: usize = 200;
/// Most rows kept per round (a round has one turn or ballot per agent, a BFT
/// vote two).
const MAX_ROUND_ROWS: usize = 256;
/// Longest critique summary kept per turn, in characters.
const CRITIQUE_CHARS: usize = 120;

/// What one table row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// A debater's turn.
    Turn,
    /// A ballot.
    Ballot,
    /// A turn or ballot that failed (no valid reply).
    Failed,
}

/// One turn or ballot.
#[derive(Debug, Clone, PartialEq)]
pub struct DebateRow {
    /// Kind of row.
    pub kind: RowKind,
    /// Debate-wide turn number (0 for ballots).
    pub turn: u32,
    /// Speaker or voter.
    pub who: Id,
    /// Position or choice (empty when failed).
    pub position: String,
    /// Confidence, 0–1.
    pub confidence: f64,
    /// The speaker's position differs from its previous turn.
    pub changed: bool,
    /// Critique summary (turns), phase and rationale (ballots) or the error.
    pub note: String,
}

/// One round of one debate or vote node.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundView {
    /// Node id.
    pub node: Id,
    /// Round, from 1.
    pub round: u32,
    /// Planned speakers (debates; empty for votes or moderated debates).
    pub order: Vec<Id>,
    /// Turns or ballots, in order.
    pub rows: Vec<DebateRow>,
    /// Confidence-weighted agreement once the debate round ended.
    pub agreement: Option<f64>,
    /// Debaters whose position changed, once the round ended.
    pub changed: Option<u32>,
}

/// One bar of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartBar {
    /// Choice or position.
    pub label: String,
    /// Votes (or debaters holding it).
    pub votes: u32,
    /// Score: votes, or the confidence-weighted sum.
    pub score: f64,
}

/// The tally of the latest ballot count, or the latest round's stances.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Node it belongs to.
    pub node: Id,
    /// Round.
    pub round: u32,
    /// What the bars measure (`majority tally` or `stances`).
    pub title: String,
    /// Bars, best first.
    pub bars: Vec<ChartBar>,
    /// The bar the protocol set, if any.
    pub needed: Option<f64>,
    /// The winning (or leading) choice.
    pub leader: Option<String>,
    /// One line on how the result came about.
    pub summary: String,
}

/// Decisions kept: one per node, the newest nodes.
pub const MAX_DECISIONS: usize = 4;

/// How a debate or vote ended (or a round failed to decide).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Node id.
    pub node: Id,
    /// True for a decision; false for a round that decided nothing.
    pub decided: bool,
    /// The choice (or what happens next, when undecided).
    pub choice: String,
    /// Who decided (`judge:x`, `vote:majority`, `tally`, `gate`), or the reason.
    pub by: String,
    /// Reasons in words.
    pub reasons: String,
}

/// What a node in step mode waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct StepWait {
    /// Node id.
    pub node: Id,
    /// Round.
    pub round: u32,
    /// Agent about to act (absent when a moderator picks).
    pub next: Option<Id>,
    /// `turn` or `ballot`.
    pub what: String,
}

/// Everything the debate pane draws besides the transcript.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DebateState {
    /// Rounds, oldest first (capped).
    pub rounds: VecDeque<RoundView>,
    /// Table rows: one heading per round plus its turns/ballots.
    pub row_count: usize,
    /// Latest tally or stance share.
    pub chart: Option<Chart>,
    /// The latest decision (or failed round) of each debate or vote node,
    /// oldest first, at most [`MAX_DECISIONS`]: a vote after a debate
    /// shows under it instead of replacing it.
    pub decisions: Vec<Decision>,
    /// A node waiting for `n`.
    pub waiting: Option<StepWait>,
    /// Step mode as last reported by the engine.
    pub step_mode: bool,
    /// Bumped on every change.
    pub version: u64,
}

impl DebateState {
    /// True when nothing was folded yet.
    pub fn is_empty(&self) -> bool {
        self.rounds.is_empty() && self.decisions.is_empty() && self.waiting.is_none()
    }

    /// The round and row at table row `i` (`None` row: the round's heading).
    #[cfg(test)]
    pub(crate) fn row(&self, i: usize) -> Option<(&RoundView, Option<&DebateRow>)> {
        self.rows_from(i).next()
    }

    /// Table rows from row `i` on: the start is found once (per round, not
    /// per row), so drawing a screenful costs the rounds plus the rows shown.
    pub fn rows_from(
        &self,
        mut i: usize,
    ) -> impl Iterator<Item = (&RoundView, Option<&DebateRow>)> {
        let mut first = self.rounds.len();
        for (n, r) in self.rounds.iter().enumerate() {
            if i <= r.rows.len() {
                first = n;
                break;
            }
            i -= 1 + r.rows.len();
        }
        self.rounds
            .iter()
            .skip(first)
            .flat_map(|r| {
                std::iter::once((r, None)).chain(r.rows.iter().map(move |row| (r, Some(row))))
            })
            .skip(i)
    }

    /// Folds a debate/vote event; other events are ignored. Returns true if
    /// the event was one of them.
    pub fn apply(&mut self, kind: &EventKind) -> bool {
        match kind {
            EventKind::DebateRoundStarted { node, round, order } => {
                if *round <= 1 {
                    // A node (re)starting: its previous outcome is history.
                    self.clear_outcome(node);
                }
                let r = self.round_mut(node, *round);
                r.order = order.clone();
            }
            EventKind::DebateTurn {
                node,
                round,
                turn,
                speaker,
                position,
                confidence,
                critiques,
                changed,
                ..
            } => {
                self.release(node);
                let note = critique_summary(critiques);
                self.push_row(
                    node,
                    *round,
                    DebateRow {
                        kind: RowKind::Turn,
                        turn: *turn,
                        who: speaker.clone(),
                        position: position.clone(),
                        confidence: *confidence,
                        changed: *changed,
                        note,
                    },
                );
            }
            EventKind::DebateTurnFailed {
                node,
                round,
                turn,
                speaker,
                error,
                ..
            } => {
                self.release(node);
                self.push_row(
                    node,
                    *round,
                    DebateRow {
                        kind: RowKind::Failed,
                        turn: *turn,
                        who: speaker.clone(),
                        position: String::new(),
                        confidence: 0.0,
                        changed: false,
                        note: clip(error, CRITIQUE_CHARS),
                    },
                );
            }
            EventKind::DebateRoundEnded {
                node,
                round,
                positions,
                agreement,
                changed,
            } => {
                let r = self.round_mut(node, *round);
                r.agreement = Some(*agreement);
                r.changed = Some(*changed);
                self.chart = Some(stance_chart(node, *round, positions));
            }
            EventKind::DebateEnded {
                node,
                decision,
                reasons,
                decided_by,
                reason,
                ..
            } => {
                self.release(node);
                self.decide(Decision {
                    node: node.clone(),
                    decided: true,
                    choice: decision.clone(),
                    by: format!("{decided_by}, {reason}"),
                    reasons: reasons.clone(),
                });
            }
            EventKind::VoteCast {
                node,
                round,
                voter,
                choice,
                confidence,
                rationale,
                phase,
                ranking,
            } => {
                self.release(node);
                if *round <= 1 && !self.has_round(node, 1) {
                    self.clear_outcome(node);
                }
                let mut note = String::new();
                if phase != "cast" {
                    note.push_str(phase);
                    note.push_str(" · ");
                }
                if ranking.len() > 1 {
                    note.push_str(&ranking.join(" > "));
                    note.push_str(" · ");
                }
                note.push_str(rationale);
                self.push_row(
                    node,
                    *round,
                    DebateRow {
                        kind: RowKind::Ballot,
                        turn: 0,
                        who: voter.clone(),
                        position: choice.clone(),
                        confidence: *confidence,
                        changed: false,
                        note: clip(&note, CRITIQUE_CHARS),
                    },
                );
            }
            EventKind::VoteFailed {
                node,
                round,
                voter,
                error,
            } => {
                self.release(node);
                self.push_row(
                    node,
                    *round,
                    DebateRow {
                        kind: RowKind::Failed,
                        turn: 0,
                        who: voter.clone(),
                        position: String::new(),
                        confidence: 0.0,
                        changed: false,
                        note: clip(error, CRITIQUE_CHARS),
                    },
                );
            }
            EventKind::ConsensusReached {
                node,
                round,
                choice,
                decided_by,
                tally,
            } => {
                self.release(node);
                self.chart = Some(tally_chart(node, *round, tally));
                self.decide(Decision {
                    node: node.clone(),
                    decided: true,
                    choice: choice.clone(),
                    by: decided_by.clone(),
                    reasons: tally.summary.clone(),
                });
            }
            EventKind::ConsensusFailed {
                node,
                round,
                reason,
                next,
                tally,
            } => {
                self.chart = Some(tally_chart(node, *round, tally));
                self.decide(Decision {
                    node: node.clone(),
                    decided: false,
                    choice: format!("next: {next}"),
                    by: reason.clone(),
                    reasons: tally.summary.clone(),
                });
            }
            EventKind::AgentFlagged {
                node,
                agent,
                round,
                reason,
                excluded,
                ..
            } => {
                // Mark the agent's ballots of that round: the table shows why
                // the tally may leave them out.
                let tag = if *excluded {
                    format!("flagged {reason}, excluded")
                } else {
                    format!("flagged {reason}")
                };
                if let Some(r) = self
                    .rounds
                    .iter_mut()
                    .rev()
                    .find(|r| r.node == *node && r.round == *round)
                {
                    for row in r.rows.iter_mut().filter(|x| x.who == *agent) {
                        if !row.note.starts_with("flagged") {
                            row.note = clip(&format!("{tag} · {}", row.note), CRITIQUE_CHARS);
                        }
                    }
                }
            }
            EventKind::AwaitingStep {
                node,
                round,
                next,
                what,
            } => {
                // A node waits only in step mode (`--step` sets it without an event).
                self.step_mode = true;
                self.waiting = Some(StepWait {
                    node: node.clone(),
                    round: *round,
                    next: next.clone(),
                    what: what.clone(),
                });
            }
            EventKind::StepModeChanged { on } => {
                self.step_mode = *on;
                if !*on {
                    self.waiting = None;
                }
            }
            _ => return false,
        }
        self.version += 1;
        true
    }

    fn has_round(&self, node: &Id, round: u32) -> bool {
        self.rounds
            .iter()
            .rev()
            .any(|r| r.node == *node && r.round == round)
    }

    /// The node acted: it no longer waits for a step.
    fn release(&mut self, node: &Id) {
        if self.waiting.as_ref().is_some_and(|w| w.node == *node) {
            self.waiting = None;
        }
    }

    /// The newest decision of its node, replacing the node's earlier one.
    fn decide(&mut self, d: Decision) {
        self.decisions.retain(|x| x.node != d.node);
        if self.decisions.len() == MAX_DECISIONS {
            self.decisions.remove(0);
        }
        self.decisions.push(d);
    }

    /// The latest decision, if any.
    pub fn decision(&self) -> Option<&Decision> {
        self.decisions.last()
    }

    fn clear_outcome(&mut self, node: &Id) {
        self.decisions.retain(|d| d.node != *node);
        if self.chart.as_ref().is_some_and(|c| c.node == *node) {
            self.chart = None;
        }
    }

    fn round_mut(&mut self, node: &Id, round: u32) -> &mut RoundView {
        // Rounds of running nodes are at the back: search from there.
        let found = self
            .rounds
            .iter()
            .rposition(|r| r.node == *node && r.round == round);
        let i = match found {
            Some(i) => i,
            None => {
                if self.rounds.len() >= MAX_ROUNDS
                    && let Some(old) = self.rounds.pop_front()
                {
                    self.row_count -= 1 + old.rows.len();
                }
                self.rounds.push_back(RoundView {
                    node: node.clone(),
                    round,
                    order: Vec::new(),
                    rows: Vec::new(),
                    agreement: None,
                    changed: None,
                });
                self.row_count += 1;
                self.rounds.len() - 1
            }
        };
        &mut self.rounds[i]
    }

    fn push_row(&mut self, node: &Id, round: u32, row: DebateRow) {
        let r = self.round_mut(node, round);
        if r.rows.len() < MAX_ROUND_ROWS {
            r.rows.push(row);
            self.row_count += 1;
        }
    }
}

fn critique_summary(critiques: &[Critique]) -> String {
    let Some(first) = critiques.first() else {
        return String::new();
    };
    let mut s = format!("#{} {}: {}", first.turn, first.speaker, first.text);
    if critiques.len() > 1 {
        s = clip(&s, CRITIQUE_CHARS.saturating_sub(6));
        s.push_str(&format!(" (+{})", critiques.len() - 1));
        s
    } else {
        clip(&s, CRITIQUE_CHARS)
    }
}

/// The stance share after a debate round: debaters per position, scored by
/// summed confidence (what `agreement` is computed from).
fn stance_chart(node: &Id, round: u32, positions: &[Stance]) -> Chart {
    let mut bars: Vec<ChartBar> = Vec::new();
    for s in positions.iter().filter(|s| !s.position.is_empty()) {
        match bars.iter_mut().find(|b| b.label == s.position) {
            Some(b) => {
                b.votes += 1;
                b.score += s.confidence;
            }
            None => bars.push(ChartBar {
                label: s.position.clone(),
                votes: 1,
                score: s.confidence,
            }),
        }
    }
    bars.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.label.cmp(&b.label)));
    let total: f64 = bars.iter().map(|b| b.score).sum();
    let leader = bars.first().map(|b| b.label.clone());
    let summary = match bars.first() {
        Some(b) if total > 0.0 => format!(
            "{} leads with {:.0}% of the confidence",
            b.label,
            b.score * 100.0 / total
        ),
        _ => "no valid position yet".to_owned(),
    };
    Chart {
        node: node.clone(),
        round,
        title: "stances (confidence-weighted)".to_owned(),
        bars,
        needed: None,
        leader,
        summary,
    }
}

fn tally_chart(node: &Id, round: u32, tally: &Tally) -> Chart {
    Chart {
        node: node.clone(),
        round,
        title: format!(
            "{} tally · {}/{} cast",
            tally.protocol, tally.cast, tally.eligible
        ),
        bars: tally
            .counts
            .iter()
            .map(|c| ChartBar {
                label: c.choice.clone(),
                votes: c.votes,
                score: c.score,
            })
            .collect(),
        needed: tally.needed,
        leader: tally
            .winner
            .clone()
            .or_else(|| tally.counts.first().map(|c| c.choice.clone())),
        summary: tally.summary.clone(),
    }
}

/// `s` in at most `max` columns (an ellipsis marks a cut).
fn clip(s: &str, max: usize) -> String {
    crate::text::clip(s, max).into_owned()
}

#[cfg(test)]
mod decision_tests {
    use super::*;

    fn dec(node: &str, choice: &str) -> Decision {
        Decision {
            node: node.into(),
            decided: true,
            choice: choice.into(),
            by: "tally".into(),
            reasons: String::new(),
        }
    }

    #[test]
    fn one_decision_per_node_newest_last_and_at_most_a_few() {
        let mut d = DebateState::default();
        d.decide(dec("a", "x"));
        d.decide(dec("b", "y"));
        d.decide(dec("a", "z"));
        let seen: Vec<(&str, &str)> = d
            .decisions
            .iter()
            .map(|x| (&*x.node, x.choice.as_str()))
            .collect();
        assert_eq!(
            seen,
            [("b", "y"), ("a", "z")],
            "a's newer decision replaces it"
        );
        assert_eq!(d.decision().map(|x| x.choice.as_str()), Some("z"));
        for n in ["c", "d", "e"] {
            d.decide(dec(n, "w"));
        }
        let nodes: Vec<&str> = d.decisions.iter().map(|x| &*x.node).collect();
        assert_eq!(nodes.len(), MAX_DECISIONS);
        assert_eq!(nodes, ["a", "c", "d", "e"], "the oldest node's went");
        d.clear_outcome(&Id::from("d"));
        let nodes: Vec<&str> = d.decisions.iter().map(|x| &*x.node).collect();
        assert_eq!(nodes, ["a", "c", "e"], "a rerun node's decision is cleared");
    }
}
