//! `vote`: agents cast ballots (choice, confidence, rationale, optional
//! ranking) on a question or a set of candidate answers, and a protocol
//! decides: majority, plurality, unanimity, quorum k-of-n, confidence-
//! weighted, ranked choice (instant runoff) or Byzantine-tolerant agreement.
//!
//! The counting rules are in [`super::tally`]. This runner collects
//! ballots (in step mode one at a time), emits every ballot and the full
//! tally, and applies the node's fallback ([`super::judging`]) when a round
//! decides nothing: fail, another round, a human gate, or the judge.
//!
//! Byzantine rounds have two phases, like a broadcast then an echo: every
//! voter proposes, then commits. A voter whose commit differs from its
//! proposal equivocated; one whose choices disagree with every round's
//! leader over two or more rounds is an outlier. Both are flagged
//! (`agent_flagged`) and, with `byzantine_policy = "exclude"`, left out of
//! later tallies. A value is accepted only with 2f+1 matching commits.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use super::judging::{Decide, canonical, confidence_in_range, decide, question_text};
use super::tally::{Ballot, Verdict, count, equivocators, outliers};
use crate::engine::agent_task::{AgentJob, hints, strip_fences, work};
use crate::engine::exec::NodeResult;
use crate::engine::run::{Run, Scope, TaskError, Vars};
use crate::event::{EventKind, Id};
use crate::llm::{Expect, StanceHint};
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::kinds::{
    agent::Target,
    vote::{Candidates, Protocol, VoteNode},
};

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    vote: &VoteNode,
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
    let question = question_text(run, &vote.question, &vars, &input);
    let options: Vec<String> = match &vote.candidates {
        Candidates::Free => vec![],
        Candidates::Options(o) => o.clone(),
        Candidates::Expr(e) => {
            let list = run.with_vars(&vars, |x| e.eval(x)).map_err(|err| {
                TaskError::workflow(format!("{}: `candidates` failed: {}", n.id, err.message))
            })?;
            candidate_list(&list).map_err(|why| TaskError::workflow(format!("{}: {why}", n.id)))?
        }
    };
    let bft = matches!(vote.rules.protocol, Protocol::Bft { .. });
    let mut excluded: HashSet<AgentIdx> = HashSet::new();
    let mut flagged: Vec<Value> = Vec::new();
    let mut history: Vec<Vec<Ballot>> = Vec::new();
    let mut all_ballots: Vec<Value> = Vec::new();
    let mut previous: Option<String> = None;
    // Failed ballots: their cause goes into the node's error.
    let mut failures = super::failures::CallFailures::default();
    for round in 1..=vote.rounds {
        run.step.new_round(node);
        let voters: Vec<AgentIdx> = vote
            .voters
            .iter()
            .copied()
            .filter(|a| !excluded.contains(a))
            .collect();
        let ctx = BallotCtx {
            node,
            question: &question,
            options: &options,
            round,
            previous: previous.as_deref(),
            vote,
            scope,
        };
        let mut ballots = collect(run, &ctx, &voters, &history, 0, &mut failures).await;
        if bft {
            let proposals = ballots;
            ballots = collect(run, &ctx, &voters, &history, 1, &mut failures).await;
            for (agent, p, c) in equivocators(&proposals, &ballots) {
                let exclude = vote.rules.exclude_flagged;
                flag(
                    run,
                    n.id.clone(),
                    &agent,
                    round,
                    "equivocation",
                    format!("proposed `{p}` then committed `{c}` in round {round}"),
                    exclude,
                    &mut flagged,
                );
                if exclude && let Some(a) = run.wf.agent(&agent) {
                    excluded.insert(a);
                }
            }
        }
        let counted: Vec<Ballot> = ballots
            .iter()
            .filter(|b| {
                run.wf
                    .agent(&b.voter)
                    .is_none_or(|a| !excluded.contains(&a))
            })
            .cloned()
            .collect();
        all_ballots.extend(ballots.iter().map(|b| json!({"round": round, "voter": &*b.voter, "choice": b.choice, "confidence": b.confidence, "rationale": b.rationale})));
        history.push(ballots);
        let eligible = vote.voters.len() - excluded.len();
        let (mut verdict, mut tally) = count(&vote.rules.protocol, eligible, &counted);
        // The round's `consensus_failed` says why no ballot came.
        if counted.is_empty()
            && let (Verdict::NoQuorum(why), Some(cause)) = (&mut verdict, failures.cause())
        {
            *why = format!("every ballot failed: {cause}");
        }
        tally.excluded = excluded
            .iter()
            .map(|a| run.wf.agents[*a].id.clone())
            .collect();
        tally.excluded.sort();
        if bft && history.len() >= 2 {
            for agent in outliers(&history) {
                let Some(a) = run.wf.agent(&agent) else {
                    continue;
                };
                if excluded.contains(&a) {
                    continue;
                }
                let exclude = vote.rules.exclude_flagged;
                flag(
                    run,
                    n.id.clone(),
                    &agent,
                    round,
                    "outlier",
                    format!(
                        "disagreed with the leading value in every one of the last {} rounds",
                        history.len()
                    ),
                    exclude,
                    &mut flagged,
                );
                if exclude {
                    excluded.insert(a);
                }
            }
        }
        let decided = decide(
            run,
            Decide {
                node,
                scope,
                round,
                last_round: round == vote.rounds,
                verdict,
                tally,
                question: &question,
                options: &options,
                on_tie: vote.rules.on_tie,
                on_no_quorum: vote.rules.on_no_quorum,
                judge: vote.judge,
                stances: &counted,
            },
        )
        .await
        .map_err(|e| {
            // No ballot at all because every call failed: that is the
            // cause, not "no ballots were cast".
            if counted.is_empty()
                && let Some(every) = failures.every(&n.id, "ballot")
            {
                return every;
            }
            failures.explain(e, "ballot")
        })?;
        match decided {
            Some((choice, decided_by, tally)) => {
                return Ok(json!({
                    "question": question,
                    "choice": choice,
                    "decided_by": decided_by,
                    "protocol": vote.rules.protocol.name(),
                    "round": round,
                    "tally": tally,
                    "ballots": all_ballots,
                    "flagged": flagged,
                }));
            }
            None => previous = Some(format!("round {round} decided nothing")),
        }
    }
    Err(failures.explain(
        TaskError::workflow(format!(
            "{}: no decision after {} round(s) (rounds = {})",
            n.id, vote.rounds, vote.rounds
        )),
        "ballot",
    ))
}

/// Candidate answers from a list value: strings as they are; objects by
/// their `answer`, `output` or `choice` field; anything else as JSON.
fn candidate_list(v: &Value) -> Result<Vec<String>, String> {
    let list = v
        .as_array()
        .ok_or_else(|| format!("`candidates` must give a list, got {}", kind_of(v)))?;
    let mut out: Vec<String> = Vec::new();
    for x in list {
        let s = match x {
            Value::String(s) => s.clone(),
            Value::Object(o) => ["answer", "output", "choice"]
                .iter()
                .find_map(|k| o.get(*k))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .unwrap_or_else(|| x.to_string()),
            v => v.to_string(),
        };
        let s = s.trim().to_string();
        if !s.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&s)) {
            out.push(s);
        }
    }
    if out.len() < 2 {
        return Err(format!(
            "`candidates` gave {} distinct answer(s); a vote needs at least 2",
            out.len()
        ));
    }
    Ok(out)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[allow(clippy::too_many_arguments)]
fn flag(
    run: &Run,
    node: Id,
    agent: &Id,
    round: u32,
    reason: &str,
    detail: String,
    excluded: bool,
    flagged: &mut Vec<Value>,
) {
    flagged.push(json!({"agent": &**agent, "round": round, "reason": reason, "detail": detail, "excluded": excluded}));
    run.emit(EventKind::AgentFlagged {
        node,
        agent: agent.clone(),
        round,
        reason: reason.to_string(),
        detail,
        excluded,
    });
}

struct BallotCtx<'a> {
    node: NodeIdx,
    vote: &'a VoteNode,
    question: &'a str,
    options: &'a [String],
    round: u32,
    previous: Option<&'a str>,
    scope: &'a Scope,
}

/// Collects one ballot per voter for a phase (0 = cast / propose, 1 =
/// commit): one at a time in step mode, else all at once.
async fn collect(
    run: &Arc<Run>,
    cx: &BallotCtx<'_>,
    voters: &[AgentIdx],
    history: &[Vec<Ballot>],
    phase: u32,
    failures: &mut super::failures::CallFailures,
) -> Vec<Ballot> {
    let own = |a: AgentIdx| -> Option<String> {
        history
            .last()?
            .iter()
            .find(|b| b.voter == run.wf.agents[a].id)
            .map(|b| b.choice.clone())
    };
    if run.step.active(cx.vote.step) {
        let mut out = Vec::new();
        for &a in voters {
            let id = run.wf.agents[a].id.clone();
            run.step
                .wait(cx.node, cx.vote.step, || {
                    run.emit(EventKind::AwaitingStep {
                        node: run.wf.nodes[cx.node].id.clone(),
                        round: cx.round,
                        next: Some(id),
                        what: "ballot".into(),
                    })
                })
                .await;
            match cast(run, cx, a, own(a), phase).await {
                Ok(b) => out.push(b),
                Err(e) => failures.record(&e),
            }
        }
        return out;
    }
    let futs = voters.iter().map(|&a| cast(run, cx, a, own(a), phase));
    let mut out = Vec::with_capacity(voters.len());
    for r in futures::future::join_all(futs).await {
        match r {
            Ok(b) => out.push(b),
            Err(e) => failures.record(&e),
        }
    }
    out
}

/// What a voter is asked to reply (a system message after its own).
const BALLOT_FORMAT: &str = "Cast your ballot. Reply with JSON only: {\"choice\": \"...\", \
     \"confidence\": 0.0-1.0, \"rationale\": \"why\", \"ranking\": [\"best\", \"next\", ...] \
     (optional, best first)}";

/// Asks one voter for a ballot; its error (and a `vote_failed` event) when
/// it gives no valid one.
async fn cast(
    run: &Arc<Run>,
    cx: &BallotCtx<'_>,
    voter: AgentIdx,
    own: Option<String>,
    phase: u32,
) -> Result<Ballot, TaskError> {
    let n = &run.wf.nodes[cx.node];
    let agent = &run.wf.agents[voter];
    let suffix = if phase == 1 { "/commit" } else { "" };
    let input = json!({"question": cx.question, "options": cx.options, "round": cx.round});
    let mut h = run.new_task(
        cx.scope
            .task_id(&format!("{}/r{}/{}{suffix}", n.id, cx.round, agent.id)),
        cx.node,
        cx.scope.parent.clone(),
        format!("ballot: {}", agent.id),
        Some(&Target::Agent(voter)),
        n.priority,
        &input,
        false,
    );
    let mut prompt = format!("Question: {}", cx.question);
    if !cx.options.is_empty() {
        prompt.push_str(&format!("\nCandidates: {}", cx.options.join(" | ")));
    }
    if let Some(p) = cx.previous {
        prompt.push_str(&format!("\nNote: {p}; vote again."));
    }
    if phase == 1 {
        prompt.push_str("\nCommit phase: confirm the ballot you cast this round.");
    }
    let mut hint = hints(Expect::Ballot);
    hint.stance = Some(Box::new(StanceHint {
        round: cx.round,
        options: cx.options.to_vec(),
        own,
        others: vec![],
        criticised: false,
        phase,
    }));
    let options = cx.options.to_vec();
    let parse = move |_: &Run, text: &str| parse_ballot(text, &options);
    // Code agents voting get the question and options as a value.
    let job = AgentJob::new(
        cx.node,
        Target::Agent(voter),
        n.priority,
        prompt,
        &input,
        cx.round - 1,
    )
    .instructions(BALLOT_FORMAT)
    .hints(hint)
    .parse(&parse, cx.vote.repair_attempts);
    match work(&mut h, job).await {
        Ok((value, _)) => {
            h.complete(value.clone());
            let weight = cx.vote.rules.weights.get(voter).copied().unwrap_or(1.0);
            let b = ballot_of(agent.id.clone(), weight, &value);
            run.emit(EventKind::VoteCast {
                node: n.id.clone(),
                round: cx.round,
                voter: agent.id.clone(),
                choice: b.choice.clone(),
                ranking: b.ranking.clone(),
                confidence: b.confidence,
                rationale: b.rationale.clone(),
                phase: match phase {
                    1 => "commit",
                    _ if matches!(cx.vote.rules.protocol, Protocol::Bft { .. }) => "propose",
                    _ => "cast",
                }
                .into(),
            });
            Ok(b)
        }
        Err(e) => {
            run.emit(EventKind::VoteFailed {
                node: n.id.clone(),
                round: cx.round,
                voter: agent.id.clone(),
                error: e.message.clone(),
            });
            Err(e)
        }
    }
}

// ---------------------------------------------------------------- replies

/// A ballot reply: `{"choice", "confidence", "rationale"?, "ranking"?}`.
/// With `options`, the choice and ranking must name options (matched
/// ignoring case; returned in the options' spelling).
pub(crate) fn parse_ballot(text: &str, options: &[String]) -> Result<Value, String> {
    let v: Value =
        serde_json::from_str(strip_fences(text)).map_err(|e| format!("not JSON ({e})"))?;
    let choice = v
        .get("choice")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or("expected an object with a non-empty string `choice`")?;
    let choice = canonical(choice, options)?;
    let confidence = confidence_of(&v)?;
    let rationale = v
        .get("rationale")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut ranking = Vec::new();
    if let Some(r) = v.get("ranking") {
        let list = r.as_array().ok_or("`ranking` must be a list of choices")?;
        for x in list {
            let s = x.as_str().ok_or("`ranking` must be a list of strings")?;
            let c = canonical(s.trim(), options)?;
            if ranking.contains(&c) {
                return Err(format!("`{c}` appears twice in `ranking`"));
            }
            ranking.push(c);
        }
        if ranking.first().is_some_and(|f| *f != choice) {
            return Err("the first entry of `ranking` must be the `choice`".into());
        }
    }
    Ok(
        json!({"choice": choice, "confidence": confidence, "rationale": rationale, "ranking": ranking}),
    )
}

/// `confidence`: a number in [0, 1].
pub(crate) fn confidence_of(v: &Value) -> Result<f64, String> {
    confidence_in_range(v.get("confidence").and_then(Value::as_f64))
}

fn ballot_of(voter: Id, weight: f64, v: &Value) -> Ballot {
    Ballot {
        voter,
        choice: v["choice"].as_str().unwrap_or("").to_string(),
        ranking: v["ranking"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        confidence: v["confidence"].as_f64().unwrap_or(0.0),
        weight,
        rationale: v["rationale"].as_str().unwrap_or("").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ballots_are_validated() {
        let opts = vec!["Rust".to_string(), "Go".to_string()];
        let v = parse_ballot(r#"{"choice":"rust","confidence":0.7}"#, &opts).unwrap();
        assert_eq!(v["choice"], "Rust");
        assert!(
            parse_ballot(r#"{"choice":"C","confidence":0.7}"#, &opts)
                .unwrap_err()
                .contains("not one of")
        );
        assert!(
            parse_ballot(r#"{"choice":"Go","confidence":1.5}"#, &opts)
                .unwrap_err()
                .contains("between 0 and 1")
        );
        assert!(parse_ballot(r#"{"choice":"Go"}"#, &opts).is_err());
        assert!(
            parse_ballot(
                r#"{"choice":"Go","confidence":0.5,"ranking":["Rust","Go"]}"#,
                &opts
            )
            .unwrap_err()
            .contains("first entry")
        );
        assert!(
            parse_ballot(r#"{"choi"#, &opts)
                .unwrap_err()
                .contains("not JSON")
        );
        assert_eq!(
            candidate_list(&json!(["x", {"output": "y"}, "X"])).unwrap(),
            ["x", "y"]
        );
        assert!(candidate_list(&json!("x")).is_err());
    }
}
