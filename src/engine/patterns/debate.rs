//! `debate`: participants argue over a question in rounds. Each turn the
//! speaker sees the question and the transcript so far, windowed to the
//! node's context budget by the real tokenizer, and replies with a
//! position, an argument, a confidence and optional critiques of earlier
//! turns. Malformed turns get repair prompts, then are recorded as failed
//! without stopping the debate. The debate stops early when positions
//! converge (all the same, or a confidence-weighted share at or above
//! `converge_at`) or when a round changes nothing; a judge agent, or a vote
//! over the final positions, decides. Every turn, round boundary and the
//! stop reason are events; in step mode each turn waits for a `step`.
//!
//! Transcript windowing is [`window_start`], a small pure function over
//! per-turn token counts (each turn is counted once, when recorded), so the
//! shared context store (issue #3) can replace or reuse it.

use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::judging::{
    Decide, canonical, confidence_in_range, decide, judge_with_transcript, question_text,
};
use super::router::match_label;
use super::tally::{Ballot, count};
use crate::engine::agent_task::{AgentJob, hints, strip_fences, work};
use crate::engine::exec::NodeResult;
use crate::engine::run::{Run, Scope, TaskError, Vars};
use crate::event::{Critique, EventKind, Id, Stance};
use crate::llm::tokens::TokenCounter;
use crate::llm::{Expect, OtherStance, StanceHint};
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::kinds::{
    agent::Target,
    debate::{DebateNode, TurnOrder},
};

/// One recorded turn.
#[derive(Debug, Clone)]
struct Turn {
    number: u32,
    round: u32,
    speaker: AgentIdx,
    position: String,
    confidence: f64,
    argument: String,
    critiques: Vec<Critique>,
    /// The turn as the transcript shows it.
    line: String,
    /// Tokens of `line`.
    tokens: u64,
}

/// Index of the first entry to keep so that the newest entries fit in
/// `budget` tokens (oldest dropped first). Returns `len` when not even the
/// newest entry fits.
pub(crate) fn window_start(tokens: &[u64], budget: u64) -> usize {
    let mut used = 0u64;
    for (i, t) in tokens.iter().enumerate().rev() {
        if used + t > budget {
            return i + 1;
        }
        used += t;
    }
    0
}

/// The transcript text that fits in `budget` tokens, newest turns kept,
/// with a note saying how many earlier turns were left out.
fn windowed(turns: &[Turn], budget: u64) -> (String, usize) {
    let tokens: Vec<u64> = turns.iter().map(|t| t.tokens).collect();
    let start = window_start(&tokens, budget);
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!("({start} earlier turn(s) left out)\n"));
    }
    for t in &turns[start..] {
        out.push_str(&t.line);
        out.push('\n');
    }
    (out, start)
}

/// A turn reply as sent: typed, so a well-formed reply is read without
/// building a generic JSON tree first (turns are the debate's hot path).
#[derive(serde::Deserialize)]
struct TurnReply {
    position: Option<String>,
    argument: Option<String>,
    confidence: Option<f64>,
    #[serde(default)]
    critiques: Option<Vec<CritiqueReply>>,
}

#[derive(serde::Deserialize)]
struct CritiqueReply {
    turn: Option<u64>,
    text: Option<String>,
}

/// A turn reply: `{"position", "argument", "confidence", "critiques"?:
/// [{"turn", "text"}]}`. Critiques must name earlier turns of others.
fn parse_turn(
    text: &str,
    options: &[String],
    earlier: &[(u32, Id)],
    me: &str,
) -> Result<Value, String> {
    let body = strip_fences(text);
    let v: TurnReply = match serde_json::from_str(body) {
        Ok(v) => v,
        // Valid JSON of the wrong shape: say which field is wrong.
        Err(e) => {
            let generic: Value =
                serde_json::from_str(body).map_err(|_| format!("not JSON ({e})"))?;
            return Err(match generic {
                Value::Object(_) => format!("wrong field type ({e})"),
                _ => "expected a JSON object with `position`, `argument` and `confidence`".into(),
            });
        }
    };
    let position = v
        .position
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or("expected an object with a non-empty string `position`")?;
    let position = canonical(position, options)?;
    let argument = v
        .argument
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or("expected a non-empty string `argument`")?;
    let confidence = confidence_in_range(v.confidence)?;
    let mut critiques = Vec::new();
    if let Some(list) = &v.critiques {
        for c in list {
            let turn = c.turn.ok_or("each critique needs a numeric `turn`")?;
            let Some((_, speaker)) = earlier.iter().find(|(n, _)| u64::from(*n) == turn) else {
                return Err(format!(
                    "critique of turn {turn}, which is not an earlier turn"
                ));
            };
            if &**speaker == me {
                return Err(format!("turn {turn} is your own; critique other speakers"));
            }
            let text = c.text.as_deref().unwrap_or("").trim();
            if text.is_empty() {
                return Err(format!("the critique of turn {turn} has no `text`"));
            }
            critiques.push(json!({"turn": turn, "speaker": &**speaker, "text": text}));
        }
    }
    Ok(
        json!({"position": position, "argument": argument, "confidence": confidence, "critiques": critiques}),
    )
}

/// Stable hash for the random turn order: the run's seed, the node's task
/// path and the round.
fn order_seed(seed: u64, path: &str, round: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in path.bytes().chain(round.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The confidence-weighted share of the leading position among stances
/// (by count when every confidence is 0), and that position.
fn agreement(stances: &[(String, f64)]) -> (f64, Option<String>) {
    let mut sums: Vec<(String, f64, u32)> = Vec::new();
    for (p, c) in stances {
        match sums.iter_mut().find(|(x, _, _)| x.eq_ignore_ascii_case(p)) {
            Some(s) => {
                s.1 += c;
                s.2 += 1;
            }
            None => sums.push((p.clone(), *c, 1)),
        }
    }
    let total: f64 = sums.iter().map(|s| s.1).sum();
    let n: u32 = sums.iter().map(|s| s.2).sum();
    sums.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    match sums.first() {
        None => (0.0, None),
        Some(s) if total > 0.0 => (s.1 / total, Some(s.0.clone())),
        Some(s) => (f64::from(s.2) / f64::from(n.max(1)), Some(s.0.clone())),
    }
}

/// What a debater is asked to reply (a system message after its own).
const TURN_FORMAT: &str = "You are in a debate. Reply with JSON only: {\"position\": \"your stance\", \
     \"argument\": \"why\", \"confidence\": 0.0-1.0, \"critiques\": [{\"turn\": N, \
     \"text\": \"what is wrong with turn N\"}]} (critiques optional, of earlier turns by others)";

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    debate: &DebateNode,
    input: Value,
    scope: &Scope,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let vars = Vars {
        input: &input,
        output: None,
        scope,
        label: None,
        state: None,
    };
    let question = question_text(run, &debate.question, &vars, &input);
    let counter = TokenCounter::global();
    let k = debate.participants.len();
    let mut turns: Vec<Turn> = Vec::new();
    let mut failed_turns: Vec<Value> = Vec::new();
    let mut failures = super::failures::CallFailures::default();
    // Latest (position, confidence, turn) per participant slot.
    let mut latest: Vec<Option<(String, f64, u32)>> = vec![None; k];
    let mut criticised = vec![false; k];
    let mut next_turn = 1u32;
    let mut reason = "max_rounds";
    let mut held = 0u32;
    let path = scope.task_id(&n.id);
    for round in 1..=debate.rounds {
        held = round;
        run.step.new_round(node);
        let mut order: Vec<usize> = (0..k).collect();
        if debate.order == TurnOrder::Random {
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(order_seed(
                run.seed, &path, round,
            )));
        }
        let planned: Vec<Id> = match debate.order {
            TurnOrder::Moderator(_) => vec![],
            _ => order
                .iter()
                .map(|&s| run.wf.agents[debate.participants[s]].id.clone())
                .collect(),
        };
        run.emit(EventKind::DebateRoundStarted {
            node: n.id.clone(),
            round,
            order: planned,
        });
        let before: Vec<Option<String>> = latest
            .iter()
            .map(|l| l.as_ref().map(|(p, _, _)| p.clone()))
            .collect();
        let mut criticised_now = vec![false; k];
        let mut remaining: Vec<usize> = order.clone();
        for (slot_no, &listed) in order.iter().enumerate() {
            let known_next = match debate.order {
                TurnOrder::Moderator(_) => None,
                _ => Some(run.wf.agents[debate.participants[listed]].id.clone()),
            };
            run.step
                .wait(node, debate.step, || {
                    run.emit(EventKind::AwaitingStep {
                        node: n.id.clone(),
                        round,
                        next: known_next.clone(),
                        what: "turn".into(),
                    })
                })
                .await;
            let slot = match debate.order {
                TurnOrder::Moderator(m) => {
                    moderator_pick(
                        run, node, scope, m, debate, &question, round, slot_no, &remaining,
                    )
                    .await
                }
                _ => listed,
            };
            remaining.retain(|s| *s != slot);
            let speaker = debate.participants[slot];
            let speaker_id = run.wf.agents[speaker].id.clone();
            let number = next_turn;
            next_turn += 1;
            let (transcript, _) = windowed(&turns, u64::from(debate.context_tokens));
            let mut prompt = format!("Question: {question}");
            if !debate.options.is_empty() {
                prompt.push_str(&format!(
                    "\nPositions to choose from: {}",
                    debate.options.join(" | ")
                ));
            }
            prompt.push_str(&format!(
                "\nRound {round} of at most {}. You are {speaker_id}; this is turn {number}.",
                debate.rounds
            ));
            if transcript.is_empty() {
                prompt.push_str("\nYou speak first.");
            } else {
                prompt.push_str("\n\nTranscript so far:\n");
                prompt.push_str(&transcript);
            }
            let others: Vec<OtherStance> = (0..k)
                .filter(|s| *s != slot)
                .filter_map(|s| {
                    latest[s].as_ref().map(|(p, c, t)| OtherStance {
                        agent: run.wf.agents[debate.participants[s]].id.clone(),
                        position: p.clone(),
                        confidence: *c,
                        turn: *t,
                    })
                })
                .collect();
            let mut hint = hints(Expect::Turn);
            hint.stance = Some(Box::new(StanceHint {
                round,
                options: debate.options.clone(),
                own: latest[slot].as_ref().map(|(p, _, _)| p.clone()),
                others,
                criticised: criticised[slot],
                phase: 0,
            }));
            let earlier: Vec<(u32, Id)> = turns
                .iter()
                .map(|t| (t.number, run.wf.agents[t.speaker].id.clone()))
                .collect();
            let options = debate.options.clone();
            let me = speaker_id.clone();
            let parse = move |_: &Run, text: &str| parse_turn(text, &options, &earlier, &me);
            let mut h = run.new_task(
                scope.task_id(&format!("{}/r{round}/{speaker_id}", n.id)),
                node,
                scope.parent.clone(),
                format!("turn {number}: {speaker_id}"),
                Some(&Target::Agent(speaker)),
                n.priority,
                &json!({"round": round, "turn": number}),
                false,
            );
            // Debaters and voters read the question in the prompt.
            let job = AgentJob::new(
                node,
                Target::Agent(speaker),
                n.priority,
                prompt,
                &Value::Null,
                round - 1,
            )
            .instructions(TURN_FORMAT)
            .hints(hint)
            .parse(&parse, debate.repair_attempts);
            match work(&mut h, job).await {
                Ok((v, _)) => {
                    h.complete(v.clone());
                    let position = v["position"].as_str().unwrap_or("").to_string();
                    let confidence = v["confidence"].as_f64().unwrap_or(0.0);
                    let argument = v["argument"].as_str().unwrap_or("").to_string();
                    let critiques: Vec<Critique> = v["critiques"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| Critique {
                            turn: c["turn"].as_u64().unwrap_or(0) as u32,
                            speaker: Id::from(c["speaker"].as_str().unwrap_or("")),
                            text: c["text"].as_str().unwrap_or("").to_string(),
                        })
                        .collect();
                    for c in &critiques {
                        if let Some(s) = debate
                            .participants
                            .iter()
                            .position(|a| run.wf.agents[*a].id == c.speaker)
                        {
                            criticised_now[s] = true;
                        }
                    }
                    let changed = latest[slot]
                        .as_ref()
                        .is_some_and(|(p, _, _)| !p.eq_ignore_ascii_case(&position));
                    let mut line = format!(
                        "[{number}] r{round} {speaker_id} — {position} ({confidence:.2}): {argument}"
                    );
                    for c in &critiques {
                        line.push_str(&format!(" | re [{}] {}: {}", c.turn, c.speaker, c.text));
                    }
                    let tokens = counter.count(&line) + 1;
                    latest[slot] = Some((position.clone(), confidence, number));
                    run.emit(EventKind::DebateTurn {
                        node: n.id.clone(),
                        task: h.id.clone(),
                        round,
                        turn: number,
                        speaker: speaker_id.clone(),
                        position: position.clone(),
                        confidence,
                        argument: argument.clone(),
                        critiques: critiques.clone(),
                        changed,
                    });
                    turns.push(Turn {
                        number,
                        round,
                        speaker,
                        position,
                        confidence,
                        argument,
                        critiques,
                        line,
                        tokens,
                    });
                }
                Err(e) => {
                    failures.record(&e);
                    failed_turns.push(json!({"turn": number, "round": round, "speaker": &*speaker_id, "error": e.message}));
                    run.emit(EventKind::DebateTurnFailed {
                        node: n.id.clone(),
                        task: h.id.clone(),
                        round,
                        turn: number,
                        speaker: speaker_id,
                        error: e.message,
                    });
                }
            }
        }
        criticised = criticised_now;
        let stances: Vec<(String, f64)> = latest
            .iter()
            .flatten()
            .map(|(p, c, _)| (p.clone(), *c))
            .collect();
        let changed = latest
            .iter()
            .zip(&before)
            .filter(|(now, was)| now.as_ref().map(|(p, _, _)| p) != was.as_ref())
            .count() as u32;
        let (share, _) = agreement(&stances);
        run.emit(EventKind::DebateRoundEnded {
            node: n.id.clone(),
            round,
            positions: stance_list(run, debate, &latest),
            agreement: share,
            changed,
        });
        let all_same = stances.len() >= 2
            && stances
                .iter()
                .all(|(p, _)| p.eq_ignore_ascii_case(&stances[0].0));
        if all_same {
            reason = "converged";
            break;
        }
        if stances.len() >= 2 && share >= debate.converge_at {
            reason = "agreement";
            break;
        }
        if round > 1 && changed == 0 && !stances.is_empty() {
            reason = "no_change";
            break;
        }
    }

    // Decide.
    let finals: Vec<Ballot> = latest
        .iter()
        .enumerate()
        .filter_map(|(s, l)| {
            let (p, c, _) = l.as_ref()?;
            let a = debate.participants[s];
            Some(Ballot {
                voter: run.wf.agents[a].id.clone(),
                choice: p.clone(),
                ranking: vec![],
                confidence: *c,
                weight: debate.rules.weights.get(a).copied().unwrap_or(1.0),
                rationale: String::new(),
            })
        })
        .collect();
    if finals.is_empty() {
        // Say why: the calls' own errors (an HTTP status, a timeout), not
        // only that no turn came.
        return Err(failures.every(&n.id, "turn").unwrap_or_else(|| {
            TaskError::workflow(format!(
                "{}: no debater gave a valid turn in {held} round(s)",
                n.id
            ))
        }));
    }
    let mut distinct: Vec<String> = Vec::new();
    for b in &finals {
        if !distinct.iter().any(|x| x.eq_ignore_ascii_case(&b.choice)) {
            distinct.push(b.choice.clone());
        }
    }
    let candidates = if debate.options.is_empty() {
        distinct
    } else {
        debate.options.clone()
    };
    let (decision, reasons, decided_by, tally) = match debate.judge {
        Some(j) => {
            let (t, _) = windowed(&turns, u64::from(debate.context_tokens));
            let (decision, reasons) = judge_with_transcript(
                run,
                node,
                scope,
                j,
                &question,
                &candidates,
                &finals,
                "judge",
                Some(&t),
            )
            .await?;
            (
                decision,
                reasons,
                format!("judge:{}", run.wf.agents[j].id),
                None,
            )
        }
        None => {
            let (verdict, tally) = count(&debate.rules.protocol, k, &finals);
            let summary = tally.summary.clone();
            let decided = decide(
                run,
                Decide {
                    node,
                    scope,
                    round: held,
                    last_round: true,
                    verdict,
                    tally,
                    question: &question,
                    options: &candidates,
                    on_tie: debate.rules.on_tie,
                    on_no_quorum: debate.rules.on_no_quorum,
                    judge: debate.judge,
                    stances: &finals,
                },
            )
            .await?;
            let Some((choice, by, tally)) = decided else {
                return Err(TaskError::workflow(format!(
                    "{}: the final vote decided nothing",
                    n.id
                )));
            };
            let by = if by == "tally" {
                format!("vote:{}", debate.rules.protocol.name())
            } else {
                by
            };
            let reasons = if by.starts_with("vote:") {
                summary
            } else {
                tally.summary.clone()
            };
            (choice, reasons, by, Some(tally))
        }
    };
    run.emit(EventKind::DebateEnded {
        node: n.id.clone(),
        rounds: held,
        reason: reason.into(),
        decision: decision.clone(),
        reasons: reasons.clone(),
        decided_by: decided_by.clone(),
    });
    let transcript: Vec<Value> = turns
        .iter()
        .map(|t| {
            json!({
                "turn": t.number,
                "round": t.round,
                "speaker": &*run.wf.agents[t.speaker].id,
                "position": t.position,
                "confidence": t.confidence,
                "argument": t.argument,
                "critiques": t.critiques,
            })
        })
        .collect();
    let positions: Vec<Value> = finals
        .iter()
        .map(|b| json!({"agent": &*b.voter, "position": b.choice, "confidence": b.confidence}))
        .collect();
    let mut out = json!({
        "question": question,
        "decision": decision,
        "reasons": reasons,
        "decided_by": decided_by,
        "stop_reason": reason,
        "rounds": held,
        "positions": positions,
        "candidates": candidates,
        "transcript": transcript,
        "failed_turns": failed_turns,
    });
    if let Some(t) = tally {
        out["tally"] = json!(t);
    }
    Ok(out)
}

fn stance_list(run: &Run, d: &DebateNode, latest: &[Option<(String, f64, u32)>]) -> Vec<Stance> {
    latest
        .iter()
        .enumerate()
        .map(|(s, l)| Stance {
            agent: run.wf.agents[d.participants[s]].id.clone(),
            position: l.as_ref().map(|(p, _, _)| p.clone()).unwrap_or_default(),
            confidence: l.as_ref().map_or(0.0, |(_, c, _)| *c),
        })
        .collect()
}

/// The moderator names the next speaker among those yet to speak this
/// round; a reply naming nobody valid falls back to the first of them (with
/// a notice), so a confused moderator cannot stall the debate.
#[allow(clippy::too_many_arguments)]
async fn moderator_pick(
    run: &Arc<Run>,
    node: NodeIdx,
    scope: &Scope,
    moderator: AgentIdx,
    d: &DebateNode,
    question: &str,
    round: u32,
    slot_no: usize,
    remaining: &[usize],
) -> usize {
    let n = &run.wf.nodes[node];
    if remaining.len() == 1 {
        return remaining[0];
    }
    let labels: Vec<String> = remaining
        .iter()
        .map(|s| run.wf.agents[d.participants[*s]].id.to_string())
        .collect();
    let mut h = run.new_task(
        scope.task_id(&format!("{}/r{round}/pick{}", n.id, slot_no + 1)),
        node,
        scope.parent.clone(),
        format!("moderate: round {round}"),
        Some(&Target::Agent(moderator)),
        n.priority,
        &json!({"round": round, "candidates": labels}),
        false,
    );
    let mut hint = hints(Expect::Label);
    hint.labels = labels.clone();
    let names = labels.clone();
    let parse = move |_: &Run, text: &str| match match_label(text, &names) {
        Some(l) => Ok(Value::String(l)),
        None => Err(format!("name exactly one of: {}", names.join(", "))),
    };
    // Debaters and voters read the question in the prompt.
    let job = AgentJob::new(
        node,
        Target::Agent(moderator),
        n.priority,
        format!(
            "You moderate a debate on: {question}\nRound {round}. Who speaks next? Candidates: {}",
            labels.join(", ")
        ),
        &Value::Null,
        round - 1,
    )
    .instructions("Answer with exactly one candidate's name and nothing else.")
    .hints(hint)
    .parse(&parse, 1);
    match work(&mut h, job).await {
        Ok((v, _)) => {
            h.complete(v.clone());
            let name = v.as_str().unwrap_or("");
            remaining
                .iter()
                .copied()
                .find(|s| &*run.wf.agents[d.participants[*s]].id == name)
                .unwrap_or(remaining[0])
        }
        Err(e) => {
            run.emit(EventKind::Notice {
                level: "warn".into(),
                message: format!(
                    "{}: the moderator gave no valid speaker ({}); {} speaks next",
                    n.id, e.message, labels[0]
                ),
            });
            remaining[0]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_keeps_the_newest_turns_that_fit() {
        assert_eq!(window_start(&[10, 10, 10], 100), 0);
        assert_eq!(window_start(&[10, 10, 10], 25), 1);
        assert_eq!(window_start(&[10, 10, 10], 20), 1);
        assert_eq!(
            window_start(&[10, 10, 30], 25),
            3,
            "not even the newest fits"
        );
        assert_eq!(window_start(&[], 5), 0);
    }

    #[test]
    fn agreement_is_confidence_weighted() {
        let s = |p: &str, c: f64| (p.to_string(), c);
        let (share, lead) = agreement(&[s("a", 0.9), s("b", 0.3), s("a", 0.6)]);
        assert_eq!(lead.as_deref(), Some("a"));
        assert!((share - 1.5 / 1.8).abs() < 1e-9);
        let (share, _) = agreement(&[s("a", 0.0), s("b", 0.0), s("a", 0.0)]);
        assert!((share - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn turns_are_validated() {
        let opts = vec!["yes".to_string(), "no".to_string()];
        let earlier = vec![(1, Id::from("ann")), (2, Id::from("bob"))];
        let ok = parse_turn(
            r#"{"position":"YES","argument":"because","confidence":0.8,"critiques":[{"turn":1,"text":"wrong"}]}"#,
            &opts,
            &earlier,
            "bob",
        )
        .unwrap();
        assert_eq!(ok["position"], "yes");
        assert_eq!(ok["critiques"][0]["speaker"], "ann");
        let bad = |t: &str| parse_turn(t, &opts, &earlier, "bob").unwrap_err();
        assert!(
            bad(r#"{"position":"maybe","argument":"a","confidence":0.5}"#).contains("not one of")
        );
        assert!(bad(r#"{"position":"yes","argument":"","confidence":0.5}"#).contains("argument"));
        assert!(
            bad(r#"{"position":"yes","argument":"a","confidence":2}"#).contains("between 0 and 1")
        );
        assert!(bad(r#"{"position":"yes","argument":"a","confidence":0.5,"critiques":[{"turn":7,"text":"x"}]}"#).contains("not an earlier turn"));
        assert!(bad(r#"{"position":"yes","argument":"a","confidence":0.5,"critiques":[{"turn":2,"text":"x"}]}"#).contains("your own"));
        assert!(bad(r#"{"position":"ye"#).contains("not JSON"));
    }
}
