//! The sim provider's debaters, voters and judges (a child module of
//! `sim`). Replies are pure functions of the agent's script, the request's
//! [`StanceHint`] and the call's RNG, so a debate is deterministic per seed.
//!
//! A script gives a position per round (`positions`, the last repeats; a
//! ballot written `"b>a>c"` ranks candidates), a `confidence`, a
//! `stubbornness` (the chance of keeping a position when criticised in the
//! previous round; otherwise the agent adopts the leading position of the
//! others) and optional Byzantine behaviour: `random` answers, or
//! `equivocate` (a different answer in the commit phase of a ballot round,
//! and a flip-flopping position in a debate).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value, json};

use super::super::{Expect, OtherStance, ProviderRequest, StanceHint};
use super::SimScript;

/// The structured reply for a `Turn`, `Ballot` or `Decision` request.
pub(super) fn reply(script: &SimScript, req: &ProviderRequest, rng: &mut ChaCha8Rng) -> String {
    let none = StanceHint::default();
    let h = req.hints.stance.as_deref().unwrap_or(&none);
    // Typed replies serialise without building a JSON tree: debate turns
    // are the hot path of the debate benchmark.
    let text = match req.hints.expect {
        Expect::Turn => serde_json::to_string(&turn(script, req, h, rng)),
        Expect::Ballot => return ballot(script, h, rng).to_string(),
        _ => return decision(h).to_string(),
    };
    text.unwrap_or_default()
}

/// Fields in name order: the same text a JSON object would give.
#[derive(Serialize)]
struct TurnOut {
    argument: String,
    confidence: f64,
    critiques: Vec<CritiqueOut>,
    position: String,
}

#[derive(Serialize)]
struct CritiqueOut {
    text: String,
    turn: u32,
}

fn turn(
    script: &SimScript,
    req: &ProviderRequest,
    h: &StanceHint,
    rng: &mut ChaCha8Rng,
) -> TurnOut {
    let mut position = match script.byzantine.as_deref() {
        Some("random") => random_option(h, rng),
        Some("equivocate") => {
            let base = base_position(script, h, rng);
            if h.round.is_multiple_of(2) {
                other_than(&base, &h.options)
            } else {
                base
            }
        }
        _ => base_position(script, h, rng),
    };
    // Criticised last round: keep the position with probability `stubbornness`.
    let u: f64 = rng.random();
    if h.criticised
        && script.byzantine.is_none()
        && u >= script.stubbornness.unwrap_or(1.0)
        && let Some(lead) = leader(&h.others)
    {
        position = lead;
    }
    let confidence = confidence(script, rng);
    let critiques: Vec<CritiqueOut> = h
        .others
        .iter()
        .filter(|o| o.turn > 0 && !o.position.eq_ignore_ascii_case(&position))
        .max_by(|a, b| {
            a.confidence
                .total_cmp(&b.confidence)
                .then(b.turn.cmp(&a.turn))
        })
        .map(|o| CritiqueOut {
            turn: o.turn,
            text: format!(
                "{} overlooks why {position} holds up better than {}.",
                o.agent, o.position
            ),
        })
        .into_iter()
        .collect();
    TurnOut {
        argument: format!(
            "[{}] In round {} I hold {position}: it best answers the question on cost, risk and evidence.",
            req.agent, h.round
        ),
        position,
        confidence,
        critiques,
    }
}

fn ballot(script: &SimScript, h: &StanceHint, rng: &mut ChaCha8Rng) -> Value {
    let base = match script.byzantine.as_deref() {
        Some("random") => random_option(h, rng),
        _ => base_position(script, h, rng),
    };
    let (choice, mut ranking) = split_ranking(&base);
    let choice = if script.byzantine.as_deref() == Some("equivocate") && h.phase == 1 {
        other_than(&choice, &h.options)
    } else {
        choice
    };
    if ranking.first() != Some(&choice) {
        ranking.retain(|c| *c != choice);
        ranking.insert(0, choice.clone());
    }
    for o in &h.options {
        if !ranking.iter().any(|r| r.eq_ignore_ascii_case(o)) {
            ranking.push(o.clone());
        }
    }
    json!({
        "choice": choice,
        "confidence": confidence(script, rng),
        "rationale": format!("{choice} is the best supported answer."),
        "ranking": ranking,
    })
}

fn decision(h: &StanceHint) -> Value {
    let lead = leader(&h.others)
        .or_else(|| h.options.first().cloned())
        .unwrap_or_else(|| "no decision".into());
    let support: Vec<String> = h
        .others
        .iter()
        .filter(|o| o.position.eq_ignore_ascii_case(&lead))
        .map(|o| o.agent.to_string())
        .collect();
    json!({
        "decision": lead,
        "reasons": format!(
            "{lead} has the strongest confidence-weighted support ({}).",
            if support.is_empty() { "no debater".to_string() } else { support.join(", ") }
        ),
    })
}

/// Scripted position for the round, else the agent's own, else a pick.
fn base_position(script: &SimScript, h: &StanceHint, rng: &mut ChaCha8Rng) -> String {
    if let Some(last) = script.positions.len().checked_sub(1) {
        let i = (h.round.max(1) as usize - 1).min(last);
        return script.positions[i].clone();
    }
    if let Some(own) = &h.own {
        return own.clone();
    }
    random_option(h, rng)
}

fn random_option(h: &StanceHint, rng: &mut ChaCha8Rng) -> String {
    if h.options.is_empty() {
        format!("answer-{}", rng.random_range(1..=3))
    } else {
        h.options[rng.random_range(0..h.options.len())].clone()
    }
}

/// The option after `x` in the list (wrapping), or `x` marked as changed.
fn other_than(x: &str, options: &[String]) -> String {
    match options.iter().position(|o| o.eq_ignore_ascii_case(x)) {
        Some(i) if options.len() > 1 => options[(i + 1) % options.len()].clone(),
        _ if !options.is_empty() && !options[0].eq_ignore_ascii_case(x) => options[0].clone(),
        _ => format!("not {x}"),
    }
}

fn confidence(script: &SimScript, rng: &mut ChaCha8Rng) -> f64 {
    match script.confidence {
        Some(c) => c,
        None => (rng.random_range(0.5..0.9_f64) * 100.0).round() / 100.0,
    }
}

/// `"b>a>c"` → ("b", [b, a, c]); a plain choice has an empty ranking.
fn split_ranking(s: &str) -> (String, Vec<String>) {
    if s.contains('>') {
        let r: Vec<String> = s
            .split('>')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect();
        (r.first().cloned().unwrap_or_default(), r)
    } else {
        (s.to_string(), Vec::new())
    }
}

/// The confidence-weighted leading position (ties: first in name order).
pub(super) fn leader(others: &[OtherStance]) -> Option<String> {
    let mut sums: Vec<(String, f64)> = Vec::new();
    for o in others.iter().filter(|o| !o.position.is_empty()) {
        match sums
            .iter_mut()
            .find(|(p, _)| p.eq_ignore_ascii_case(&o.position))
        {
            Some((_, s)) => *s += o.confidence,
            None => sums.push((o.position.clone(), o.confidence)),
        }
    }
    sums.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    sums.into_iter().next().map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn stance(agent: &str, position: &str, confidence: f64, turn: u32) -> OtherStance {
        OtherStance {
            agent: agent.into(),
            position: position.into(),
            confidence,
            turn,
        }
    }

    #[test]
    fn the_leader_is_confidence_weighted() {
        let o = [
            stance("a", "x", 0.9, 1),
            stance("b", "y", 0.5, 2),
            stance("c", "y", 0.5, 3),
        ];
        assert_eq!(leader(&o).as_deref(), Some("y"));
        assert_eq!(leader(&o[..1]).as_deref(), Some("x"));
        assert_eq!(leader(&[]), None);
    }

    #[test]
    fn equivocators_change_their_ballot_in_the_commit_phase() {
        let script = SimScript {
            positions: vec!["a".into()],
            byzantine: Some("equivocate".into()),
            ..Default::default()
        };
        let mut h = StanceHint {
            round: 1,
            options: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(ballot(&script, &h, &mut rng)["choice"], "a");
        h.phase = 1;
        assert_eq!(ballot(&script, &h, &mut rng)["choice"], "b");
    }

    #[test]
    fn ranked_positions_become_rankings() {
        let script = SimScript {
            positions: vec!["c>a".into()],
            ..Default::default()
        };
        let h = StanceHint {
            round: 1,
            options: vec!["a".into(), "b".into(), "c".into()],
            ..Default::default()
        };
        let v = ballot(&script, &h, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(v["choice"], "c");
        assert_eq!(v["ranking"], json!(["c", "a", "b"]));
    }
}
