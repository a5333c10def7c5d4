//! The debate/vote pane's structured state: rounds as tables of turns or
//! ballots, the latest tally (or stance share) as a chart, the decision and
//! what a node in step mode waits for.
//!
//! Read from the one fold's debate and vote records ([`RunState`]) by
//! [`DebateState::sync`] as each event lands; bounded (the oldest rounds
//! are dropped; the session file keeps everything).

use std::collections::VecDeque;

use crate::event::{EventKind, Id, Tally};
use crate::run_state::{Applied, RunState};

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

    /// Brings the pane's rows up to date with the one fold after it applied
    /// `kind`: the record `applied` names is read for what the event added
    /// (a turn, a ballot, a round's start or end, an outcome, a tally, a
    /// flag), and step mode is copied from the run. Nothing here folds an
    /// event's fields itself. Returns true if the event was a debate/vote one.
    pub fn sync<X>(&mut self, run: &RunState<X>, applied: Applied, kind: &EventKind) -> bool {
        let debate = applied.debate.and_then(|i| run.debate_records.get(i));
        let vote = applied.vote.and_then(|i| run.vote_records.get(i));
        match (kind, debate, vote) {
            (EventKind::DebateRoundStarted { .. }, Some(d), _) => {
                let Some(r) = d.rounds.last() else {
                    return false;
                };
                let node = Id::from(d.node.as_str());
                if r.round <= 1 {
                    // A node (re)starting: its previous outcome is history.
                    self.clear_outcome(&node);
                }
                let order = r.order.iter().map(|a| Id::from(a.as_str())).collect();
                self.round_mut(&node, r.round).order = order;
            }
            (EventKind::DebateTurn { .. } | EventKind::DebateTurnFailed { .. }, Some(d), _) => {
                let Some(t) = d.turns.iter().next_back() else {
                    return false;
                };
                let row = match &t.failed {
                    Some(error) => DebateRow {
                        kind: RowKind::Failed,
                        turn: t.turn,
                        who: Id::from(t.speaker.as_str()),
                        position: String::new(),
                        confidence: 0.0,
                        changed: false,
                        note: clip(error, CRITIQUE_CHARS),
                    },
                    None => DebateRow {
                        kind: RowKind::Turn,
                        turn: t.turn,
                        who: Id::from(t.speaker.as_str()),
                        position: t.position.clone(),
                        confidence: t.confidence,
                        changed: t.changed,
                        note: critique_summary(&t.critiques),
                    },
                };
                self.push_row(&Id::from(d.node.as_str()), t.round, row);
            }
            (EventKind::DebateRoundEnded { round, .. }, Some(d), _) => {
                let Some((r, end)) = d
                    .rounds
                    .iter()
                    .rev()
                    .find(|r| r.round == *round)
                    .and_then(|r| Some((r, r.ended.as_ref()?)))
                else {
                    return false;
                };
                let node = Id::from(d.node.as_str());
                let view = self.round_mut(&node, r.round);
                view.agreement = Some(end.agreement);
                // Round 1 changes nothing: every stance is a first one.
                view.changed = (r.round > 1).then_some(end.changed);
                self.chart = Some(stance_chart(&node, r.round, &end.positions));
            }
            (EventKind::DebateEnded { .. }, Some(d), _) => {
                let Some(o) = &d.outcome else {
                    return false;
                };
                self.decide(Decision {
                    node: Id::from(d.node.as_str()),
                    decided: true,
                    choice: o.decision.clone(),
                    by: format!("{}, {}", o.decided_by, o.reason),
                    reasons: o.reasons.clone(),
                });
            }
            (EventKind::VoteCast { .. } | EventKind::VoteFailed { .. }, _, Some(v)) => {
                let Some(b) = v.ballots.iter().next_back() else {
                    return false;
                };
                let node = Id::from(v.node.as_str());
                if b.phase != "failed" && b.round <= 1 && !self.has_round(&node, 1) {
                    self.clear_outcome(&node);
                }
                let row = if b.phase == "failed" {
                    DebateRow {
                        kind: RowKind::Failed,
                        turn: 0,
                        who: Id::from(b.voter.as_str()),
                        position: String::new(),
                        confidence: 0.0,
                        changed: false,
                        note: clip(&b.rationale, CRITIQUE_CHARS),
                    }
                } else {
                    let mut note = String::new();
                    if b.phase != "cast" {
                        note.push_str(&b.phase);
                        note.push_str(" · ");
                    }
                    if b.ranking.len() > 1 {
                        note.push_str(&b.ranking.join(" > "));
                        note.push_str(" · ");
                    }
                    note.push_str(&b.rationale);
                    DebateRow {
                        kind: RowKind::Ballot,
                        turn: 0,
                        who: Id::from(b.voter.as_str()),
                        position: b.choice.clone(),
                        confidence: b.confidence,
                        changed: false,
                        note: clip(&note, CRITIQUE_CHARS),
                    }
                };
                self.push_row(&node, b.round, row);
            }
            (
                EventKind::ConsensusReached { .. } | EventKind::ConsensusFailed { .. },
                _,
                Some(v),
            ) => {
                let Some(res) = v.results.iter().next_back() else {
                    return false;
                };
                let node = Id::from(v.node.as_str());
                self.chart = Some(tally_chart(&node, res.round, &res.tally));
                // The fold words a result as `decided by X` or `why; then: next`.
                let (choice, by) = match (&res.choice, res.note.split_once("; then: ")) {
                    (Some(c), _) if res.reached => (
                        c.clone(),
                        res.note.strip_prefix("decided by ").unwrap_or(&res.note),
                    ),
                    (_, Some((why, next))) => (format!("next: {next}"), why),
                    _ => (String::new(), res.note.as_str()),
                };
                self.decide(Decision {
                    node: node.clone(),
                    decided: res.reached,
                    choice,
                    by: by.to_owned(),
                    reasons: res.tally.summary.clone(),
                });
            }
            (EventKind::AgentFlagged { .. }, _, Some(v)) => {
                // Mark the agent's ballots of that round: the table shows why
                // the tally may leave them out.
                let Some((agent, round, reason, _, excluded)) = v.flagged.last() else {
                    return false;
                };
                let tag = if *excluded {
                    format!("flagged {reason}, excluded")
                } else {
                    format!("flagged {reason}")
                };
                let node = Id::from(v.node.as_str());
                if let Some(r) = self
                    .rounds
                    .iter_mut()
                    .rev()
                    .find(|r| r.node == node && r.round == *round)
                {
                    for row in r.rows.iter_mut().filter(|x| *x.who == **agent) {
                        if !row.note.starts_with("flagged") {
                            row.note = clip(&format!("{tag} · {}", row.note), CRITIQUE_CHARS);
                        }
                    }
                }
            }
            (EventKind::AwaitingStep { .. } | EventKind::StepModeChanged { .. }, _, _) => {}
            _ => return false,
        }
        // Step mode and what waits are the fold's; a turn or ballot of the
        // waiting node released it there.
        self.step_mode = run.step.on;
        self.waiting = run.step.waiting.as_ref().map(|w| StepWait {
            node: Id::from(w.node.as_str()),
            round: w.round,
            next: w.next.as_deref().map(Id::from),
            what: w.what.clone(),
        });
        self.version += 1;
        true
    }

    fn has_round(&self, node: &Id, round: u32) -> bool {
        self.rounds
            .iter()
            .rev()
            .any(|r| r.node == *node && r.round == round)
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

fn critique_summary(critiques: &[(u32, String, String)]) -> String {
    let Some((turn, speaker, text)) = critiques.first() else {
        return String::new();
    };
    let mut s = format!("#{turn} {speaker}: {text}");
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
fn stance_chart(node: &Id, round: u32, positions: &[(String, String, f64)]) -> Chart {
    let mut bars: Vec<ChartBar> = Vec::new();
    for (_, position, confidence) in positions.iter().filter(|s| !s.1.is_empty()) {
        match bars.iter_mut().find(|b| b.label == *position) {
            Some(b) => {
                b.votes += 1;
                b.score += confidence;
            }
            None => bars.push(ChartBar {
                label: position.clone(),
                votes: 1,
                score: *confidence,
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

#[cfg(test)]
mod sync_tests {
    use crate::event::{Event, EventKind, Stance};
    use crate::tui::test_support;
    use crate::tui::view_model::ViewModel;

    fn ended(round: u32, changed: u32) -> EventKind {
        EventKind::DebateRoundEnded {
            node: "choose_store".into(),
            round,
            positions: ["ana", "ben", "cleo", "dev"]
                .iter()
                .map(|a| Stance {
                    agent: (*a).into(),
                    position: "clickhouse".into(),
                    confidence: 0.8,
                })
                .collect(),
            agreement: 1.0,
            changed,
        }
    }

    #[test]
    fn round_one_reports_no_change_and_later_rounds_do() {
        let mut vm = ViewModel::new(test_support::debate_info());
        for (seq, kind) in [
            EventKind::DebateRoundStarted {
                node: "choose_store".into(),
                round: 1,
                order: vec!["ana".into(), "ben".into()],
            },
            ended(1, 4),
            EventKind::DebateRoundStarted {
                node: "choose_store".into(),
                round: 2,
                order: vec!["ana".into(), "ben".into()],
            },
            ended(2, 1),
        ]
        .into_iter()
        .enumerate()
        {
            vm.apply(&Event {
                seq: seq as u64 + 1,
                ts: test_support::T0 + seq as u64,
                session: "s".into(),
                kind,
            });
        }
        let d = &vm.debates;
        assert_eq!(d.rounds[0].changed, None, "nothing changed in round 1");
        assert_eq!(d.rounds[1].changed, Some(1));
        // Read from the fold: the run state holds the rounds the pane shows.
        let rec = &vm.debate_records[0];
        assert_eq!(rec.rounds.len(), 2);
        assert_eq!(rec.rounds[0].ended.as_ref().map(|e| e.changed), Some(4));
        assert!(
            vm.debate.iter().all(|l| !l.text.contains("4 changed")),
            "the transcript does not say it either"
        );
    }
}
