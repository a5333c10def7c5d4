//! `vote`: agents cast ballots (choice, confidence, rationale, optional
//! ranking) on a question or a set of candidate answers, and a protocol
//! decides: majority, plurality, unanimity, quorum k-of-n, confidence-
//! weighted, ranked choice (instant runoff) or Byzantine-tolerant agreement.
//!
//! The counting rules are pure functions ([`count`], [`equivocators`],
//! [`outliers`]) tested against hand-computed tallies; the node runner
//! around them collects ballots (in step mode one at a time), emits every
//! ballot and the full tally, and applies the node's fallback when a round
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

use crate::engine::agent_task::{AgentJob, hints, strip_fences, work};
use crate::engine::exec::NodeResult;
use crate::engine::run::{Run, Scope, TaskError, Vars, with_feedback};
use crate::event::{EventKind, Id, Tally, TallyCount, TaskState};
use crate::llm::{Expect, StanceHint};
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::kinds::{
    NodeKind,
    agent::Target,
    vote::{Candidates, Fallback, Protocol, QuorumMode, VoteNode},
};

/// Scores closer than this are equal (confidence sums are floats).
const EPS: f64 = 1e-9;

/// One ballot as the tally sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ballot {
    pub(crate) voter: Id,
    pub(crate) choice: String,
    /// Full preference order, best first (ranked choice); may be empty.
    pub(crate) ranking: Vec<String>,
    pub(crate) confidence: f64,
    /// Per-agent weight (1 unless the node sets `weights`).
    pub(crate) weight: f64,
    pub(crate) rationale: String,
}

/// What a count decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    Winner(String),
    /// Choices tied for first.
    Tie(Vec<String>),
    /// No quorum, no majority, not unanimous: why, in words.
    NoQuorum(String),
}

/// Counts `ballots` (from `eligible` voters) under `protocol`.
pub(crate) fn count(protocol: &Protocol, eligible: usize, ballots: &[Ballot]) -> (Verdict, Tally) {
    let cast = ballots.len();
    let weighted = matches!(protocol, Protocol::Weighted);
    let counts = first_choices(ballots, weighted);
    let mut tally = Tally {
        protocol: protocol.name().to_string(),
        eligible: eligible as u32,
        cast: cast as u32,
        counts: counts.clone(),
        needed: None,
        winner: None,
        tied: vec![],
        eliminated: vec![],
        excluded: vec![],
        summary: String::new(),
    };
    let top = counts.first();
    let leaders: Vec<String> = match top {
        Some(t) => counts
            .iter()
            .take_while(|c| (c.score - t.score).abs() < EPS)
            .map(|c| c.choice.clone())
            .collect(),
        None => vec![],
    };
    let plural = |tally: &mut Tally| -> Verdict {
        match leaders.len() {
            0 => Verdict::NoQuorum("no ballots were cast".into()),
            1 => Verdict::Winner(leaders[0].clone()),
            _ => {
                tally.tied = leaders.clone();
                Verdict::Tie(leaders.clone())
            }
        }
    };
    let verdict = match protocol {
        Protocol::Plurality | Protocol::Weighted => plural(&mut tally),
        Protocol::Majority => {
            let needed = eligible / 2 + 1;
            tally.needed = Some(needed as f64);
            match top {
                Some(t) if t.votes as usize >= needed => Verdict::Winner(t.choice.clone()),
                _ if leaders.len() > 1 => {
                    tally.tied = leaders.clone();
                    Verdict::Tie(leaders.clone())
                }
                Some(t) => Verdict::NoQuorum(format!(
                    "no majority: `{}` has {} of {eligible} ballots, {needed} needed",
                    t.choice, t.votes
                )),
                None => Verdict::NoQuorum("no ballots were cast".into()),
            }
        }
        Protocol::Unanimity => {
            tally.needed = Some(eligible as f64);
            match top {
                Some(t) if counts.len() == 1 && cast == eligible && eligible > 0 => {
                    Verdict::Winner(t.choice.clone())
                }
                _ => Verdict::NoQuorum(format!(
                    "not unanimous: {} choice(s) among {cast} ballot(s) of {eligible} voter(s)",
                    counts.len()
                )),
            }
        }
        Protocol::Quorum { k, mode } => {
            let k = *k as usize;
            tally.needed = Some(k as f64);
            match mode {
                QuorumMode::Participation if cast < k => {
                    Verdict::NoQuorum(format!("no quorum: {cast} ballot(s) cast, {k} needed"))
                }
                QuorumMode::Participation => plural(&mut tally),
                QuorumMode::Agreement => match top {
                    Some(t) if t.votes as usize >= k && leaders.len() == 1 => {
                        Verdict::Winner(t.choice.clone())
                    }
                    Some(t) if t.votes as usize >= k => {
                        tally.tied = leaders.clone();
                        Verdict::Tie(leaders.clone())
                    }
                    Some(t) => Verdict::NoQuorum(format!(
                        "no quorum: `{}` has {} matching ballot(s), {k} needed",
                        t.choice, t.votes
                    )),
                    None => Verdict::NoQuorum("no ballots were cast".into()),
                },
            }
        }
        Protocol::Bft { f } => {
            let needed = 2 * *f as usize + 1;
            tally.needed = Some(needed as f64);
            match top {
                // With n ≤ 3f+1 two values cannot both reach 2f+1.
                Some(t) if t.votes as usize >= needed && leaders.len() == 1 => {
                    Verdict::Winner(t.choice.clone())
                }
                Some(t) => Verdict::NoQuorum(format!(
                    "no value has {needed} (2f+1) matching ballots: best `{}` with {}",
                    t.choice, t.votes
                )),
                None => Verdict::NoQuorum("no ballots were cast".into()),
            }
        }
        Protocol::Ranked => instant_runoff(ballots, &mut tally),
    };
    if let Verdict::Winner(w) = &verdict {
        tally.winner = Some(w.clone());
    }
    tally.summary = summary(&verdict, &tally);
    (verdict, tally)
}

/// First-choice counts, best first (score, then name). Choices match
/// ignoring case; the first spelling seen names the group.
fn first_choices(ballots: &[Ballot], weighted: bool) -> Vec<TallyCount> {
    let mut counts: Vec<TallyCount> = Vec::new();
    for b in ballots {
        let add = if weighted {
            b.confidence * b.weight
        } else {
            1.0
        };
        match counts
            .iter_mut()
            .find(|c| c.choice.eq_ignore_ascii_case(&b.choice))
        {
            Some(c) => {
                c.votes += 1;
                c.score += add;
            }
            None => counts.push(TallyCount {
                choice: b.choice.clone(),
                votes: 1,
                score: add,
            }),
        }
    }
    sort_counts(&mut counts);
    counts
}

fn sort_counts(counts: &mut [TallyCount]) {
    counts.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.choice.cmp(&b.choice))
    });
}

/// Instant runoff: count each ballot for its best continuing candidate;
/// a candidate with more than half of the continuing ballots wins; else
/// the weakest is eliminated (ties for weakest: fewer first preferences
/// first, then the later name) and its ballots move on.
fn instant_runoff(ballots: &[Ballot], tally: &mut Tally) -> Verdict {
    let prefs: Vec<Vec<&str>> = ballots
        .iter()
        .map(|b| {
            if b.ranking.is_empty() {
                vec![b.choice.as_str()]
            } else {
                b.ranking.iter().map(String::as_str).collect()
            }
        })
        .collect();
    let mut continuing: Vec<String> = Vec::new();
    for p in &prefs {
        for c in p {
            if !continuing.iter().any(|x| x.eq_ignore_ascii_case(c)) {
                continuing.push((*c).to_string());
            }
        }
    }
    let first_round = first_choices(ballots, false);
    let firsts = |c: &str| {
        first_round
            .iter()
            .find(|x| x.choice.eq_ignore_ascii_case(c))
            .map_or(0, |x| x.votes)
    };
    loop {
        let mut counts: Vec<TallyCount> = continuing
            .iter()
            .map(|c| TallyCount {
                choice: c.clone(),
                votes: 0,
                score: 0.0,
            })
            .collect();
        let mut active = 0u32;
        for p in &prefs {
            let at = p
                .iter()
                .find_map(|c| counts.iter().position(|x| x.choice.eq_ignore_ascii_case(c)));
            if let Some(i) = at {
                let c = &mut counts[i];
                c.votes += 1;
                c.score += 1.0;
                active += 1;
            }
        }
        sort_counts(&mut counts);
        tally.counts = counts.clone();
        tally.needed = Some(f64::from(active / 2 + 1));
        let Some(top) = counts.first() else {
            return Verdict::NoQuorum("no ballots were cast".into());
        };
        if active == 0 {
            return Verdict::NoQuorum("every ballot is exhausted".into());
        }
        if top.votes * 2 > active {
            return Verdict::Winner(top.choice.clone());
        }
        let low = counts.iter().map(|c| c.votes).min().unwrap_or(0);
        if counts.iter().all(|c| c.votes == low) {
            let tied: Vec<String> = counts.iter().map(|c| c.choice.clone()).collect();
            tally.tied = tied.clone();
            return Verdict::Tie(tied);
        }
        let out = counts
            .iter()
            .filter(|c| c.votes == low)
            .min_by(|a, b| {
                firsts(&a.choice)
                    .cmp(&firsts(&b.choice))
                    .then_with(|| b.choice.cmp(&a.choice))
            })
            .map(|c| c.choice.clone())
            .unwrap_or_default();
        continuing.retain(|c| *c != out);
        tally.eliminated.push(out);
    }
}

fn summary(v: &Verdict, t: &Tally) -> String {
    let top: Vec<String> = t
        .counts
        .iter()
        .take(4)
        .map(|c| {
            if t.protocol == "weighted" {
                format!("{} {:.2}", c.choice, c.score)
            } else {
                format!("{} {}", c.choice, c.votes)
            }
        })
        .collect();
    let counts = if top.is_empty() {
        "no ballots".to_string()
    } else {
        top.join(", ")
    };
    match v {
        Verdict::Winner(w) => format!(
            "`{w}` wins by {} ({counts}; {} of {} voted)",
            t.protocol, t.cast, t.eligible
        ),
        Verdict::Tie(tied) => format!("tie between {} ({counts})", tied.join(" and ")),
        Verdict::NoQuorum(why) => format!("{why} ({counts})"),
    }
}

/// Voters whose commit differs from their proposal in the same round:
/// (voter, proposed, committed).
pub(crate) fn equivocators(propose: &[Ballot], commit: &[Ballot]) -> Vec<(Id, String, String)> {
    commit
        .iter()
        .filter_map(|c| {
            let p = propose.iter().find(|p| p.voter == c.voter)?;
            (!p.choice.eq_ignore_ascii_case(&c.choice))
                .then(|| (c.voter.clone(), p.choice.clone(), c.choice.clone()))
        })
        .collect()
}

/// Voters who, over at least two rounds with a clear leader, never agreed
/// with the leader of the round they voted in.
pub(crate) fn outliers(rounds: &[Vec<Ballot>]) -> Vec<Id> {
    let leaders: Vec<Option<String>> = rounds
        .iter()
        .map(|r| match first_choices(r, false).as_slice() {
            [a, b, ..] if a.votes == b.votes => None,
            [a, ..] => Some(a.choice.clone()),
            [] => None,
        })
        .collect();
    let mut voters: Vec<Id> = rounds.iter().flatten().map(|b| b.voter.clone()).collect();
    voters.sort();
    voters.dedup();
    voters
        .into_iter()
        .filter(|v| {
            let mut judged = 0;
            for (r, lead) in rounds.iter().zip(&leaders) {
                let (Some(lead), Some(b)) = (lead, r.iter().find(|b| b.voter == *v)) else {
                    continue;
                };
                if b.choice.eq_ignore_ascii_case(lead) {
                    return false;
                }
                judged += 1;
            }
            judged >= 2
        })
        .collect()
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

// ---------------------------------------------------------------- the node

pub(crate) async fn run(run: &Arc<Run>, node: NodeIdx, input: Value, scope: &Scope) -> NodeResult {
    let n = &run.wf.nodes[node];
    let NodeKind::Vote(v) = &n.kind else {
        unreachable!("dispatched by kind")
    };
    let v: &VoteNode = v;
    let vars = Vars {
        input: &input,
        output: None,
        scope,
        label: None,
        state: None,
    };
    let question = question_text(run, &v.question, &vars, &input);
    let options: Vec<String> = match &v.candidates {
        Candidates::Free => vec![],
        Candidates::Options(o) => o.clone(),
        Candidates::Expr(e) => {
            let list = run.with_vars(&vars, |x| e.eval(x)).map_err(|err| {
                TaskError::workflow(format!("{}: `candidates` failed: {}", n.id, err.message))
            })?;
            candidate_list(&list).map_err(|why| TaskError::workflow(format!("{}: {why}", n.id)))?
        }
    };
    let bft = matches!(v.rules.protocol, Protocol::Bft { .. });
    let mut excluded: HashSet<AgentIdx> = HashSet::new();
    let mut flagged: Vec<Value> = Vec::new();
    let mut history: Vec<Vec<Ballot>> = Vec::new();
    let mut all_ballots: Vec<Value> = Vec::new();
    let mut previous: Option<String> = None;
    // Failed ballots: their cause goes into the node's error.
    let mut failures = super::failures::CallFailures::default();
    for round in 1..=v.rounds {
        run.step.new_round(node);
        let voters: Vec<AgentIdx> = v
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
            repairs: v.repair_attempts,
            step: v.step,
            scope,
        };
        let mut ballots = collect(run, &ctx, &voters, &history, 0, &mut failures).await;
        if bft {
            let proposals = ballots;
            ballots = collect(run, &ctx, &voters, &history, 1, &mut failures).await;
            for (agent, p, c) in equivocators(&proposals, &ballots) {
                let exclude = v.rules.exclude_flagged;
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
        let eligible = v.voters.len() - excluded.len();
        let (mut verdict, mut tally) = count(&v.rules.protocol, eligible, &counted);
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
                let exclude = v.rules.exclude_flagged;
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
                last_round: round == v.rounds,
                verdict,
                tally,
                question: &question,
                options: &options,
                on_tie: v.rules.on_tie,
                on_no_quorum: v.rules.on_no_quorum,
                judge: v.judge,
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
                    "protocol": v.rules.protocol.name(),
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
            n.id, v.rounds, v.rounds
        )),
        "ballot",
    ))
}

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
    question: &'a str,
    options: &'a [String],
    round: u32,
    previous: Option<&'a str>,
    repairs: u32,
    step: bool,
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
    if run.step.active(cx.step) {
        let mut out = Vec::new();
        for &a in voters {
            let id = run.wf.agents[a].id.clone();
            run.step
                .wait(cx.node, cx.step, || {
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
    .parse(&parse, cx.repairs);
    match work(&mut h, job).await {
        Ok((value, _)) => {
            h.complete(value.clone());
            let weight = match &n.kind {
                NodeKind::Vote(v) => v.rules.weights.get(voter).copied().unwrap_or(1.0),
                _ => 1.0,
            };
            let b = ballot_of(agent.id.clone(), weight, &value);
            run.emit(EventKind::VoteCast {
                node: n.id.clone(),
                round: cx.round,
                voter: agent.id.clone(),
                choice: b.choice.clone(),
                ranking: b.ranking.clone(),
                confidence: b.confidence,
                rationale: b.rationale.clone(),
                phase: match (phase, &n.kind) {
                    (1, _) => "commit",
                    (_, NodeKind::Vote(v)) if matches!(v.rules.protocol, Protocol::Bft { .. }) => {
                        "propose"
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn b(voter: &str, choice: &str, confidence: f64) -> Ballot {
        Ballot {
            voter: voter.into(),
            choice: choice.into(),
            ranking: vec![],
            confidence,
            weight: 1.0,
            rationale: String::new(),
        }
    }

    fn ranked(voter: &str, ranking: &[&str]) -> Ballot {
        Ballot {
            ranking: ranking.iter().map(|s| s.to_string()).collect(),
            ..b(voter, ranking[0], 1.0)
        }
    }

    fn ballots(choices: &[&str]) -> Vec<Ballot> {
        choices
            .iter()
            .enumerate()
            .map(|(i, c)| b(&format!("v{i}"), c, 0.5))
            .collect()
    }

    #[test]
    fn majority_needs_more_than_half_of_the_voters() {
        // 7 voters: a 4, b 2, c 1 → 4 ≥ 7/2+1 = 4.
        let (v, t) = count(
            &Protocol::Majority,
            7,
            &ballots(&["a", "a", "b", "a", "c", "b", "a"]),
        );
        assert_eq!(v, Verdict::Winner("a".into()));
        assert_eq!(t.needed, Some(4.0));
        assert_eq!(
            t.counts
                .iter()
                .map(|c| (c.choice.as_str(), c.votes))
                .collect::<Vec<_>>(),
            [("a", 4), ("b", 2), ("c", 1)]
        );
        // 3 of 7 is not a majority even when it leads.
        let (v, _) = count(&Protocol::Majority, 7, &ballots(&["a", "a", "a", "b", "c"]));
        assert!(
            matches!(v, Verdict::NoQuorum(ref w) if w.contains("3 of 7")),
            "{v:?}"
        );
        // 2–2 of 4 is a tie.
        let (v, t) = count(&Protocol::Majority, 4, &ballots(&["a", "b", "b", "a"]));
        assert_eq!(v, Verdict::Tie(vec!["a".into(), "b".into()]));
        assert_eq!(t.tied, ["a", "b"]);
    }

    #[test]
    fn plurality_takes_the_most_votes_and_reports_ties() {
        let (v, t) = count(
            &Protocol::Plurality,
            5,
            &ballots(&["x", "y", "x", "z", "A"]),
        );
        assert_eq!(v, Verdict::Winner("x".into()));
        assert_eq!(t.winner.as_deref(), Some("x"));
        // Case-insensitive grouping: "A" and "a" are one choice.
        let (v, _) = count(&Protocol::Plurality, 4, &ballots(&["a", "A", "b", "b"]));
        assert_eq!(v, Verdict::Tie(vec!["a".into(), "b".into()]));
        let (v, _) = count(&Protocol::Plurality, 3, &[]);
        assert!(matches!(v, Verdict::NoQuorum(_)));
    }

    #[test]
    fn unanimity_needs_every_voter() {
        let (v, _) = count(&Protocol::Unanimity, 3, &ballots(&["a", "a", "a"]));
        assert_eq!(v, Verdict::Winner("a".into()));
        // One abstention breaks unanimity.
        let (v, _) = count(&Protocol::Unanimity, 3, &ballots(&["a", "a"]));
        assert!(matches!(v, Verdict::NoQuorum(_)));
        let (v, _) = count(&Protocol::Unanimity, 3, &ballots(&["a", "a", "b"]));
        assert!(matches!(v, Verdict::NoQuorum(_)));
    }

    #[test]
    fn quorum_counts_participation_or_agreement() {
        let part = Protocol::Quorum {
            k: 4,
            mode: QuorumMode::Participation,
        };
        let (v, t) = count(&part, 6, &ballots(&["a", "b", "a"]));
        assert!(
            matches!(v, Verdict::NoQuorum(ref w) if w.contains("3 ballot(s) cast, 4 needed")),
            "{v:?}"
        );
        assert_eq!(t.cast, 3);
        let (v, _) = count(&part, 6, &ballots(&["a", "b", "a", "c"]));
        assert_eq!(v, Verdict::Winner("a".into()));
        let agree = Protocol::Quorum {
            k: 3,
            mode: QuorumMode::Agreement,
        };
        let (v, _) = count(&agree, 6, &ballots(&["a", "b", "a", "c", "b"]));
        assert!(matches!(v, Verdict::NoQuorum(_)), "2 matching < 3");
        let (v, _) = count(&agree, 6, &ballots(&["a", "b", "a", "c", "a"]));
        assert_eq!(v, Verdict::Winner("a".into()));
        let (v, _) = count(&agree, 6, &ballots(&["a", "b", "a", "b", "a", "b"]));
        assert_eq!(v, Verdict::Tie(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn weighted_sums_confidence_times_weight() {
        // a: 0.9 + 0.2 = 1.1; b: 0.6 × 2 = 1.2 → b wins with fewer votes.
        let mut bs = vec![b("x", "a", 0.9), b("y", "a", 0.2), b("z", "b", 0.6)];
        bs[2].weight = 2.0;
        let (v, t) = count(&Protocol::Weighted, 3, &bs);
        assert_eq!(v, Verdict::Winner("b".into()));
        assert!((t.counts[0].score - 1.2).abs() < 1e-9);
        assert!((t.counts[1].score - 1.1).abs() < 1e-9);
        assert_eq!(t.counts[1].votes, 2);
        // Equal scores tie.
        let (v, _) = count(
            &Protocol::Weighted,
            2,
            &[b("x", "a", 0.5), b("y", "b", 0.5)],
        );
        assert_eq!(v, Verdict::Tie(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn instant_runoff_eliminates_the_weakest_in_order() {
        // 9 ballots. First preferences: a 4, b 3, c 2 (no majority of 9).
        // c is eliminated; its 2 ballots go to b → b 5, a 4: b wins.
        let bs = vec![
            ranked("1", &["a", "b", "c"]),
            ranked("2", &["a", "c", "b"]),
            ranked("3", &["a", "b", "c"]),
            ranked("4", &["a", "c", "b"]),
            ranked("5", &["b", "a", "c"]),
            ranked("6", &["b", "c", "a"]),
            ranked("7", &["b", "a", "c"]),
            ranked("8", &["c", "b", "a"]),
            ranked("9", &["c", "b", "a"]),
        ];
        let (v, t) = count(&Protocol::Ranked, 9, &bs);
        assert_eq!(v, Verdict::Winner("b".into()));
        assert_eq!(t.eliminated, ["c"]);
        assert_eq!(t.counts[0].votes, 5);
        // Four candidates, two eliminations: d (0 first prefs... absent) —
        // a 3, b 2, c 2, d 1 of 8: d out (→ c), then b (2 < c 3) out (→ a).
        let bs = vec![
            ranked("1", &["a"]),
            ranked("2", &["a"]),
            ranked("3", &["a"]),
            ranked("4", &["b", "a"]),
            ranked("5", &["b", "a"]),
            ranked("6", &["c"]),
            ranked("7", &["c"]),
            ranked("8", &["d", "c"]),
        ];
        let (v, t) = count(&Protocol::Ranked, 8, &bs);
        assert_eq!(t.eliminated, ["d", "b"]);
        assert_eq!(
            v,
            Verdict::Winner("a".into()),
            "a 5 of 8 after b's ballots move"
        );
        // A two-way dead heat is a tie.
        let (v, _) = count(
            &Protocol::Ranked,
            2,
            &[ranked("1", &["a", "b"]), ranked("2", &["b", "a"])],
        );
        assert_eq!(v, Verdict::Tie(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn bft_accepts_with_2f_plus_1_and_fails_safely_beyond_f_faults() {
        let bft = Protocol::Bft { f: 2 };
        // n = 7, f = 2 faulty voters answering anything: 5 honest ≥ 5.
        let (v, t) = count(
            &bft,
            7,
            &ballots(&["ok", "ok", "ok", "ok", "ok", "bad", "worse"]),
        );
        assert_eq!(v, Verdict::Winner("ok".into()));
        assert_eq!(t.needed, Some(5.0));
        // f+1 = 3 colluding faulty voters: 4 honest < 5 and the faulty value
        // (3) is not accepted either — no decision, never a wrong one.
        let (v, t) = count(
            &bft,
            7,
            &ballots(&["ok", "ok", "ok", "ok", "bad", "bad", "bad"]),
        );
        assert!(
            matches!(v, Verdict::NoQuorum(ref w) if w.contains("2f+1")),
            "{v:?}"
        );
        assert_eq!(t.winner, None);
    }

    #[test]
    fn equivocation_and_outliers_are_detected() {
        let propose = ballots(&["a", "a", "b"]);
        let mut commit = ballots(&["a", "a", "b"]);
        commit[1].choice = "b".into();
        assert_eq!(
            equivocators(&propose, &commit),
            vec![(Id::from("v1"), "a".into(), "b".into())]
        );
        // v2 disagrees with the leader (a) in both rounds; v1 only once.
        let r1 = ballots(&["a", "a", "b", "a"]);
        let r2 = ballots(&["a", "c", "c", "a", "a"]);
        assert_eq!(
            outliers(std::slice::from_ref(&r1)),
            Vec::<Id>::new(),
            "one round is not enough"
        );
        assert_eq!(outliers(&[r1, r2]), vec![Id::from("v2")]);
    }

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
        assert!(parse_decision(r#"{"decision":"go","reasons":"fast"}"#, &opts).is_ok());
        assert!(parse_decision(r#"{"reasons":"fast"}"#, &opts).is_err());
        assert_eq!(
            candidate_list(&json!(["x", {"output": "y"}, "X"])).unwrap(),
            ["x", "y"]
        );
        assert!(candidate_list(&json!("x")).is_err());
    }
}
