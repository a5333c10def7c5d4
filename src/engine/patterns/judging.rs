//! What `debate` and `vote` share once positions are counted: the
//! question they put, the fallback when a count decides nothing (another
//! round, fail, a human gate, the judge), the judge's task and its reply.

use std::sync::Arc;

use serde_json::{Value, json};

use super::tally::{Ballot, Verdict};
use crate::engine::agent_task::{AgentJob, hints, strip_fences, work};
use crate::engine::run::{Run, Scope, TaskError, Vars, with_feedback};
use crate::event::{EventKind, Tally, TaskState};
use crate::llm::{Expect, StanceHint};
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::kinds::{agent::Target, vote::Fallback};

/// The question: the template, or the input as text.
pub(crate) fn question_text(
    run: &Run,
    t: &crate::workflow::template::Template,
    vars: &Vars<'_>,
    input: &Value,
) -> String {
    let mut q = run.render(t, vars);
    if q.is_empty() && t.root_names().is_empty() {
        q = match input {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            v => v.to_string(),
        };
    }
    // A gate's denial comment reaches the debaters and voters too.
    with_feedback(&mut q, t, vars.scope);
    q
}

/// A tally to settle, with what to do when it settles nothing.
pub(crate) struct Decide<'a> {
    pub(crate) node: NodeIdx,
    pub(crate) scope: &'a Scope,
    pub(crate) round: u32,
    pub(crate) last_round: bool,
    pub(crate) verdict: Verdict,
    pub(crate) tally: Tally,
    pub(crate) question: &'a str,
    pub(crate) options: &'a [String],
    pub(crate) on_tie: Fallback,
    pub(crate) on_no_quorum: Fallback,
    pub(crate) judge: Option<AgentIdx>,
    /// Ballots counted (shown to a judge).
    pub(crate) stances: &'a [Ballot],
}

/// Emits the round's result and applies the fallback. `Ok(None)`: run
/// another round.
pub(crate) async fn decide(
    run: &Arc<Run>,
    d: Decide<'_>,
) -> Result<Option<(String, String, Tally)>, TaskError> {
    let n = &run.wf.nodes[d.node];
    let (reason, fallback, finalists) = match &d.verdict {
        Verdict::Winner(w) => {
            run.emit(EventKind::ConsensusReached {
                node: n.id.clone(),
                round: d.round,
                choice: w.clone(),
                decided_by: "tally".into(),
                tally: Box::new(d.tally.clone()),
            });
            return Ok(Some((w.clone(), "tally".into(), d.tally)));
        }
        Verdict::Tie(t) => (
            format!("tie between {}", t.join(" and ")),
            d.on_tie,
            t.clone(),
        ),
        Verdict::NoQuorum(why) => (
            why.clone(),
            d.on_no_quorum,
            d.tally.counts.iter().map(|c| c.choice.clone()).collect(),
        ),
    };
    let next = match fallback {
        Fallback::AnotherRound if d.last_round => Fallback::Fail,
        f => f,
    };
    run.emit(EventKind::ConsensusFailed {
        node: n.id.clone(),
        round: d.round,
        reason: reason.clone(),
        next: next.name().into(),
        tally: Box::new(d.tally.clone()),
    });
    let decided = match next {
        Fallback::AnotherRound => return Ok(None),
        Fallback::Fail => {
            let more = if fallback == Fallback::AnotherRound {
                format!(" after {} round(s)", d.round)
            } else {
                String::new()
            };
            return Err(TaskError::workflow(format!(
                "{}: no consensus{more}: {}",
                n.id, d.tally.summary
            )));
        }
        Fallback::Gate => {
            let choice = escalate(
                run, d.node, d.scope, d.question, &d.tally, d.options, &finalists,
            )
            .await?;
            (choice, "gate".to_string())
        }
        Fallback::Judge => {
            let Some(j) = d.judge else {
                return Err(TaskError::workflow(format!(
                    "{}: no judge to break the {reason}",
                    n.id
                )));
            };
            let candidates = if finalists.is_empty() {
                d.options.to_vec()
            } else {
                finalists
            };
            let (choice, _) = judge_decides(
                run,
                d.node,
                d.scope,
                j,
                d.question,
                &candidates,
                d.stances,
                "tie-break",
            )
            .await?;
            (choice, format!("judge:{}", run.wf.agents[j].id))
        }
    };
    let mut tally = d.tally;
    tally.winner = Some(decided.0.clone());
    run.emit(EventKind::ConsensusReached {
        node: n.id.clone(),
        round: d.round,
        choice: decided.0.clone(),
        decided_by: decided.1.clone(),
        tally: Box::new(tally.clone()),
    });
    Ok(Some((decided.0, decided.1, tally)))
}

/// A human decides: approve = the leading candidate; deny with a comment =
/// the comment names the choice; deny without one fails the node.
async fn escalate(
    run: &Arc<Run>,
    node: NodeIdx,
    scope: &Scope,
    question: &str,
    tally: &Tally,
    options: &[String],
    finalists: &[String],
) -> Result<String, TaskError> {
    let n = &run.wf.nodes[node];
    let leader = finalists
        .first()
        .cloned()
        .or_else(|| tally.counts.first().map(|c| c.choice.clone()));
    let artifact = json!({
        "question": question,
        "tally": tally,
        "leader": leader,
        "how": "approve to accept the leader; deny with a comment naming the choice to take it instead",
    });
    let mut h = run.new_task(
        scope.task_id(&format!("{}/decide", n.id)),
        node,
        scope.parent.clone(),
        format!("decide: {}", n.title),
        None,
        n.priority,
        &artifact,
        true,
    );
    h.set_state(
        TaskState::Review,
        Some("waiting for a human decision".into()),
    );
    let Some((approve, comment)) = h.ask_human(&n.id, artifact).await else {
        return Err(TaskError::cancelled(format!("gate {} was cancelled", h.id)));
    };
    let choice = match (approve, leader, comment) {
        (true, Some(l), _) => Ok(l),
        (false, _, Some(c)) if !c.trim().is_empty() => canonical(c.trim(), options),
        (true, None, _) => Err("there is no leading candidate to approve".to_string()),
        (false, _, _) => Err("denied without naming a choice".to_string()),
    };
    match choice {
        Ok(c) => {
            h.complete(json!({"choice": c}));
            Ok(c)
        }
        Err(why) => {
            let err = TaskError::workflow(format!("{}: the human decision failed: {why}", n.id));
            h.fail(&err, false);
            Err(err)
        }
    }
}

/// The judge picks one of `candidates` (any answer when empty) and says
/// why. Returns (decision, reasons).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn judge_decides(
    run: &Arc<Run>,
    node: NodeIdx,
    scope: &Scope,
    judge: AgentIdx,
    question: &str,
    candidates: &[String],
    stances: &[Ballot],
    what: &str,
) -> Result<(String, String), TaskError> {
    judge_with_transcript(
        run, node, scope, judge, question, candidates, stances, what, None,
    )
    .await
}

/// As [`judge_decides`], with a debate transcript in the prompt.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn judge_with_transcript(
    run: &Arc<Run>,
    node: NodeIdx,
    scope: &Scope,
    judge: AgentIdx,
    question: &str,
    candidates: &[String],
    stances: &[Ballot],
    what: &str,
    transcript: Option<&str>,
) -> Result<(String, String), TaskError> {
    let n = &run.wf.nodes[node];
    let input = json!({"question": question, "candidates": candidates});
    let mut h = run.new_task(
        scope.task_id(&format!("{}/{what}", n.id)),
        node,
        scope.parent.clone(),
        format!("judge: {}", n.title),
        Some(&Target::Agent(judge)),
        n.priority,
        &input,
        false,
    );
    let mut prompt = format!("Question: {question}");
    if !candidates.is_empty() {
        prompt.push_str(&format!("\nDecide between: {}", candidates.join(" | ")));
    }
    if let Some(t) = transcript {
        prompt.push_str("\n\nTranscript:\n");
        prompt.push_str(t);
    }
    if !stances.is_empty() {
        prompt.push_str("\n\nFinal positions:");
        for s in stances {
            prompt.push_str(&format!(
                "\n- {}: {} (confidence {:.2})",
                s.voter, s.choice, s.confidence
            ));
        }
    }
    let mut hint = hints(Expect::Decision);
    hint.stance = Some(Box::new(StanceHint {
        round: 0,
        options: candidates.to_vec(),
        own: None,
        others: stances
            .iter()
            .map(|s| crate::llm::OtherStance {
                agent: s.voter.clone(),
                position: s.choice.clone(),
                confidence: s.confidence,
                turn: 0,
            })
            .collect(),
        criticised: false,
        phase: 0,
    }));
    let cands = candidates.to_vec();
    let parse = move |_: &Run, text: &str| parse_decision(text, &cands);
    // Debaters and voters read the question in the prompt.
    let job = AgentJob::new(
        node,
        Target::Agent(judge),
        n.priority,
        prompt,
        &Value::Null,
        scope.visit,
    )
    .instructions(
        "You are the judge. Reply with JSON only: {\"decision\": \"...\", \"reasons\": \"why\"}",
    )
    .hints(hint)
    .parse(&parse, 2);
    let (v, _) = work(&mut h, job).await?;
    h.complete(v.clone());
    Ok((
        v["decision"].as_str().unwrap_or("").to_string(),
        v["reasons"].as_str().unwrap_or("").to_string(),
    ))
}

/// A decision: `{"decision": "...", "reasons": "..."}`, the decision one of
/// the candidates when there are any.
pub(crate) fn parse_decision(text: &str, candidates: &[String]) -> Result<Value, String> {
    let v: Value =
        serde_json::from_str(strip_fences(text)).map_err(|e| format!("not JSON ({e})"))?;
    let d = v
        .get("decision")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .ok_or("expected an object with a non-empty string `decision`")?;
    let d = canonical(d, candidates)?;
    let reasons = v.get("reasons").and_then(Value::as_str).unwrap_or("");
    Ok(json!({"decision": d, "reasons": reasons}))
}

/// A confidence that must be present and in [0, 1].
pub(crate) fn confidence_in_range(c: Option<f64>) -> Result<f64, String> {
    let c = c.ok_or("expected a number `confidence` between 0 and 1")?;
    if !(0.0..=1.0).contains(&c) {
        return Err(format!("`confidence` must be between 0 and 1, got {c}"));
    }
    Ok(c)
}

/// The option `s` names (ignoring case), or `s` itself when options are free.
pub(crate) fn canonical(s: &str, options: &[String]) -> Result<String, String> {
    if options.is_empty() {
        return Ok(s.to_string());
    }
    options
        .iter()
        .find(|o| o.eq_ignore_ascii_case(s))
        .cloned()
        .ok_or_else(|| format!("`{s}` is not one of the options: {}", options.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_validated() {
        let opts = vec!["Rust".to_string(), "Go".to_string()];
        assert!(parse_decision(r#"{"decision":"go","reasons":"fast"}"#, &opts).is_ok());
        assert!(parse_decision(r#"{"reasons":"fast"}"#, &opts).is_err());
    }
}
