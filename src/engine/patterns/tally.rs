//! Counting ballots: the protocols a `vote` node decides by, and a
//! judgeless debate's final vote too. Pure functions ([`count`],
//! [`equivocators`], [`outliers`]) tested against hand-computed tallies.

use crate::event::{Id, Tally, TallyCount};
use crate::workflow::kinds::vote::{Protocol, QuorumMode};

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
}
