//! Debates and votes end to end on the sim provider, under the paused
//! clock: turn orders, transcript windowing, early stops, judge and vote
//! outcomes, malformed turns, Byzantine voters, fallbacks and step mode.

mod common;

use std::time::Duration;

use agentctl::engine::RunOptions;
use agentctl::event::{Command, Event, EventKind, RunStatus, StepUntil};
use common::*;

/// Agents with sim scripts (`id = "{ ... }"` pairs), then nodes.
fn workflow(agents: &[(&str, &str)], nodes: &str) -> String {
    let mut s =
        String::from("[workflow]\nname = \"t\"\ninput = \"Pick a language for the rewrite\"\n");
    for (id, sim) in agents {
        s.push_str(&format!("[[agents]]\nid = \"{id}\"\nsim = {{ {sim} }}\n"));
    }
    s.push_str(nodes);
    s
}

fn turns(events: &[Event]) -> Vec<(u32, String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::DebateTurn {
                round,
                speaker,
                position,
                ..
            } => Some((*round, speaker.to_string(), position.clone())),
            _ => None,
        })
        .collect()
}

fn speakers(events: &[Event], round: u32) -> Vec<String> {
    turns(events)
        .into_iter()
        .filter(|t| t.0 == round)
        .map(|t| t.1)
        .collect()
}

fn ended(events: &[Event]) -> (String, String, String) {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::DebateEnded {
                reason,
                decision,
                decided_by,
                ..
            } => Some((reason.clone(), decision.clone(), decided_by.clone())),
            _ => None,
        })
        .expect("debate_ended")
}

const FOUR: [(&str, &str); 4] = [
    ("ann", "positions = [\"rust\"], confidence = 0.9"),
    ("bob", "positions = [\"go\"], confidence = 0.6"),
    ("cy", "positions = [\"rust\"], confidence = 0.5"),
    ("dee", "positions = [\"go\"], confidence = 0.7"),
];

fn debate(extra: &str) -> String {
    format!(
        "[[nodes]]\nid = \"d\"\nkind = \"debate\"\nparticipants = [\"ann\", \"bob\", \"cy\", \"dee\"]\noptions = [\"rust\", \"go\"]\n{extra}\n"
    )
}

#[tokio::test(start_paused = true)]
async fn round_robin_follows_the_list_every_round() {
    let (out, ev) = run(wf(&workflow(
        &FOUR,
        &debate("rounds = 3\nconverge_at = 1.0"),
    )))
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    // Stable, split positions: round 2 changes nothing and stops the debate.
    assert_eq!(speakers(&ev, 1), ["ann", "bob", "cy", "dee"]);
    assert_eq!(speakers(&ev, 2), ["ann", "bob", "cy", "dee"]);
    assert!(speakers(&ev, 3).is_empty());
    assert_eq!(ended(&ev).0, "no_change");
    let starts: Vec<Vec<String>> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::DebateRoundStarted { order, .. } => {
                Some(order.iter().map(|a| a.to_string()).collect())
            }
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0], ["ann", "bob", "cy", "dee"]);
}

#[tokio::test(start_paused = true)]
async fn random_order_is_a_seeded_shuffle() {
    let text = workflow(
        &FOUR,
        &debate("rounds = 2\nturn_order = \"random\"\nconverge_at = 1.0"),
    );
    let orders = |seed| {
        let text = text.clone();
        async move {
            let (_, ev) = run_with(
                wf(&text),
                RunOptions {
                    seed,
                    ..Default::default()
                },
            )
            .await;
            (speakers(&ev, 1), speakers(&ev, 2))
        }
    };
    let a = orders(1).await;
    assert_eq!(a, orders(1).await, "same seed, same order");
    let mut sorted = a.0.clone();
    sorted.sort();
    assert_eq!(sorted, ["ann", "bob", "cy", "dee"], "a permutation");
    let mut differs = false;
    for seed in 2..12 {
        let o = orders(seed).await;
        differs |= o.0 != a.0 || o.1 != a.1;
    }
    assert!(differs, "ten other seeds all gave the same order");
}

#[tokio::test(start_paused = true)]
async fn a_moderator_names_each_next_speaker() {
    let mut agents = FOUR.to_vec();
    agents.push(("mod", "latency_ms = 1"));
    let (out, ev) = run(wf(&workflow(
        &agents,
        &debate("rounds = 2\nturn_order = \"moderator\"\nmoderator = \"mod\"\nconverge_at = 1.0"),
    )))
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    // Each turn's speaker is the moderator's last pick (the last speaker of a
    // round needs no pick).
    let mut picked: Option<String> = None;
    let mut checked = 0;
    for e in &ev {
        match &e.kind {
            EventKind::TaskCompleted { task, output, .. } if task.contains("/pick") => {
                picked = output.as_str().map(str::to_string);
            }
            EventKind::DebateTurn { speaker, .. } => {
                if let Some(p) = picked.take() {
                    assert_eq!(p, speaker.to_string());
                    checked += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!(checked, 6, "three picks per round of four");
    for r in 1..=2 {
        let mut s = speakers(&ev, r);
        s.sort();
        assert_eq!(
            s,
            ["ann", "bob", "cy", "dee"],
            "everyone speaks once in round {r}"
        );
    }
}

/// Prompt tokens of each turn's provider call, in order.
fn turn_prompt_tokens(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LlmRequest {
                task,
                prompt_tokens,
                ..
            } if task.starts_with("d/r") => Some(*prompt_tokens),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_transcript_is_windowed_to_the_context_budget() {
    // Positions flip every round, so the debate runs all 4 rounds.
    let agents = [
        (
            "ann",
            "positions = [\"rust\", \"go\", \"rust\", \"go\"], confidence = 0.5",
        ),
        (
            "bob",
            "positions = [\"go\", \"rust\", \"go\", \"rust\"], confidence = 0.5",
        ),
        (
            "cy",
            "positions = [\"rust\", \"go\", \"rust\", \"go\"], confidence = 0.5",
        ),
        (
            "dee",
            "positions = [\"go\", \"rust\", \"go\", \"rust\"], confidence = 0.5",
        ),
    ];
    let tokens = |budget: u32| {
        let text = workflow(
            &agents,
            &debate(&format!("rounds = 4\ncontext_tokens = {budget}")),
        );
        async move { turn_prompt_tokens(&run(wf(&text)).await.1) }
    };
    let wide = tokens(100_000).await;
    let narrow = tokens(100).await;
    assert_eq!(wide.len(), 16);
    assert_eq!(narrow.len(), 16);
    // The first turn sees no transcript either way.
    assert_eq!(wide[0], narrow[0]);
    // Unwindowed, the last prompt carries 15 turns; windowed, at most the
    // budget (plus the note saying what was left out) above the first.
    assert!(wide[15] - wide[0] > 400, "{wide:?}");
    let growth = narrow.iter().map(|t| t - narrow[0]).max().unwrap_or(0);
    assert!(
        growth <= 100 + 20,
        "windowed prompts grew by {growth}: {narrow:?}"
    );
    assert!(narrow[15] < wide[15]);
}

#[tokio::test(start_paused = true)]
async fn identical_positions_stop_the_debate_after_one_round() {
    let agents = [
        ("ann", "positions = [\"rust\"]"),
        ("bob", "positions = [\"rust\"]"),
        ("cy", "positions = [\"rust\"]"),
        ("dee", "positions = [\"rust\"]"),
    ];
    let (out, ev) = run(wf(&workflow(&agents, &debate("rounds = 3")))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(turns(&ev).len(), 4);
    let (reason, decision, by) = ended(&ev);
    assert_eq!(
        (reason.as_str(), decision.as_str(), by.as_str()),
        ("converged", "rust", "vote:weighted")
    );
}

#[tokio::test(start_paused = true)]
async fn weighted_agreement_above_the_threshold_stops_early() {
    // rust 0.9 + 0.9 + 0.9 = 2.7 of 2.7 + 0.3 = 3.0 → 0.9 ≥ 0.85.
    let agents = [
        ("ann", "positions = [\"rust\"], confidence = 0.9"),
        ("bob", "positions = [\"rust\"], confidence = 0.9"),
        ("cy", "positions = [\"rust\"], confidence = 0.9"),
        ("dee", "positions = [\"go\"], confidence = 0.3"),
    ];
    let (_, ev) = run(wf(&workflow(
        &agents,
        &debate("rounds = 3\nconverge_at = 0.85"),
    )))
    .await;
    assert_eq!(ended(&ev).0, "agreement");
    let agreement = ev
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::DebateRoundEnded { agreement, .. } => Some(*agreement),
            _ => None,
        })
        .unwrap_or(0.0);
    assert!((agreement - 0.9).abs() < 1e-9, "{agreement}");
}

#[tokio::test(start_paused = true)]
async fn a_criticised_debater_with_no_stubbornness_switches() {
    // bob is criticised in round 1 (by ann, whose position differs) and, with
    // stubbornness 0, adopts the leading position of the others in round 2.
    let agents = [
        ("ann", "positions = [\"rust\"], confidence = 0.9"),
        (
            "bob",
            "positions = [\"go\"], confidence = 0.6, stubbornness = 0.0",
        ),
    ];
    let nodes = "[[nodes]]\nid = \"d\"\nkind = \"debate\"\nparticipants = [\"bob\", \"ann\"]\noptions = [\"rust\", \"go\"]\nrounds = 3\n";
    let (_, ev) = run(wf(&workflow(&agents, nodes))).await;
    let t = turns(&ev);
    assert_eq!(t[0], (1, "bob".into(), "go".into()));
    assert_eq!(t[2], (2, "bob".into(), "rust".into()));
    assert!(ev.iter().any(|e| matches!(&e.kind, EventKind::DebateTurn { speaker, changed: true, .. } if &**speaker == "bob")));
    assert_eq!(ended(&ev).0, "converged");
}

#[tokio::test(start_paused = true)]
async fn a_judge_decides_with_reasons_and_the_decision_is_the_output() {
    let mut agents = FOUR.to_vec();
    agents.push(("boss", "latency_ms = 5"));
    let (out, ev) = run(wf(&workflow(
        &agents,
        &debate("rounds = 2\njudge = \"boss\""),
    )))
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let o = out.output.expect("output");
    // rust 0.9 + 0.5 = 1.4 against go 0.6 + 0.7 = 1.3.
    assert_eq!(o["decision"], "rust");
    assert_eq!(o["decided_by"], "judge:boss");
    assert!(
        o["reasons"].as_str().unwrap_or("").contains("ann, cy"),
        "{o}"
    );
    assert_eq!(o["transcript"].as_array().map(Vec::len), Some(8));
    assert_eq!(ended(&ev).2, "judge:boss");
}

#[tokio::test(start_paused = true)]
async fn without_a_judge_a_vote_over_final_positions_decides_and_ties_follow_on_tie() {
    // Majority of 4: rust 2, go 2 → a tie.
    let text = |extra: &str| {
        workflow(
            &FOUR,
            &debate(&format!("rounds = 1\nprotocol = \"majority\"\n{extra}")),
        )
    };
    let (out, ev) = run(wf(&text(""))).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        out.error.as_deref().unwrap_or("").contains("no consensus"),
        "{:?}",
        out.error
    );
    assert!(
        ev.iter()
            .any(|e| matches!(&e.kind, EventKind::ConsensusFailed { next, .. } if next == "fail"))
    );
    // The same tie, escalated to a human who names the choice.
    let (h, mut rx) = start(wf(&text("on_tie = \"gate\"")), RunOptions::default());
    let mut seen = Vec::new();
    let opened = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::GateOpened { .. })
    })
    .await;
    let EventKind::GateOpened { gate, artifact, .. } = opened.kind else {
        unreachable!()
    };
    assert_eq!(
        artifact["tally"]["tied"],
        serde_json::json!(["go", "rust"]),
        "{artifact}"
    );
    h.send(Command::GateDecision {
        gate,
        approve: false,
        comment: Some("Go".into()),
    });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let o = out.output.expect("output");
    assert_eq!(
        (o["decision"].as_str(), o["decided_by"].as_str()),
        (Some("go"), Some("gate"))
    );
}

#[tokio::test(start_paused = true)]
async fn malformed_turns_are_repaired_or_recorded_as_failed_without_stopping() {
    let agents = [
        ("ann", "positions = [\"rust\"], malformed_first = 1"),
        ("bob", "positions = [\"go\"], malformed_first = 99"),
        ("cy", "positions = [\"rust\"]"),
    ];
    let nodes = "[[nodes]]\nid = \"d\"\nkind = \"debate\"\nparticipants = [\"ann\", \"bob\", \"cy\"]\noptions = [\"rust\", \"go\"]\nrounds = 2\nrepair_attempts = 1\n";
    let (out, ev) = run(wf(&workflow(&agents, nodes))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    // ann's first reply is cut off; one repair prompt fixes it.
    assert!(
        ev.iter().any(
            |e| matches!(&e.kind, EventKind::OutputRepair { task, .. } if &**task == "d/r1/ann")
        )
    );
    // bob never answers validly: his turn fails, the debate goes on.
    let failed: Vec<u32> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::DebateTurnFailed { speaker, turn, .. } if &**speaker == "bob" => Some(*turn),
            _ => None,
        })
        .collect();
    assert_eq!(failed, [2]);
    assert_eq!(speakers(&ev, 1), ["ann", "cy"]);
    // ann and cy agree: converged after round 1, decided without bob.
    let o = out.output.expect("output");
    assert_eq!(o["decision"], "rust");
    assert_eq!(o["failed_turns"].as_array().map(Vec::len), Some(1));
}

fn flagged(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AgentFlagged { agent, reason, .. } => {
                Some((agent.to_string(), reason.clone()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn bft_excludes_an_equivocator_and_accepts_with_2f_plus_1() {
    let (out, ev) = run(builtin("consensus")).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        flagged(&ev),
        [("mallory".to_string(), "equivocation".to_string())]
    );
    let phases: Vec<String> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::VoteCast { phase, .. } => Some(phase.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(phases.iter().filter(|p| *p == "propose").count(), 7);
    assert_eq!(phases.iter().filter(|p| *p == "commit").count(), 7);
    let tally = ev
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ConsensusReached { tally, choice, .. } => {
                assert_eq!(choice, "config-change");
                Some(tally.clone())
            }
            _ => None,
        })
        .expect("consensus_reached");
    assert_eq!(
        (tally.eligible, tally.cast, tally.needed),
        (6, 6, Some(5.0))
    );
    assert_eq!(tally.excluded.len(), 1);
}

fn bft_voters(faulty: usize) -> String {
    let mut agents = String::new();
    for i in 0..7 {
        let pos = if i < 7 - faulty { "ok" } else { "bad" };
        agents.push_str(&format!(
            "[[agents]]\nid = \"v{i}\"\nsim = {{ positions = [\"{pos}\"] }}\n"
        ));
    }
    format!(
        "[workflow]\nname = \"t\"\ninput = \"q\"\n{agents}[[nodes]]\nid = \"v\"\nkind = \"vote\"\nvoters = [\"v0\", \"v1\", \"v2\", \"v3\", \"v4\", \"v5\", \"v6\"]\noptions = [\"ok\", \"bad\"]\nprotocol = \"bft\"\nfaults = 2\nrounds = 2\nbyzantine_policy = \"flag\"\n"
    )
}

#[tokio::test(start_paused = true)]
async fn bft_tolerates_f_colluders_and_fails_safely_with_f_plus_1() {
    let (out, _) = run(wf(&bft_voters(2))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(out.output.expect("output")["choice"], "ok");
    let (out, ev) = run(wf(&bft_voters(3))).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        !ev.iter()
            .any(|e| matches!(e.kind, EventKind::ConsensusReached { .. })),
        "no value may be accepted with 4 honest of 7"
    );
    let nexts: Vec<String> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ConsensusFailed { next, .. } => Some(next.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(nexts, ["another_round", "fail"]);
    // The 3 colluders disagree with the leader in both rounds: outliers,
    // flagged but (policy "flag") not excluded.
    let f = flagged(&ev);
    assert_eq!(f.len(), 3, "{f:?}");
    assert!(f.iter().all(|(_, r)| r == "outlier"));
}

#[tokio::test(start_paused = true)]
async fn ranked_ballots_run_an_instant_runoff() {
    let agents = [
        ("v1", "positions = [\"a>b>c\"]"),
        ("v2", "positions = [\"a>c>b\"]"),
        ("v3", "positions = [\"b>c>a\"]"),
        ("v4", "positions = [\"c>b>a\"]"),
        ("v5", "positions = [\"c>b>a\"]"),
    ];
    let nodes = "[[nodes]]\nid = \"v\"\nkind = \"vote\"\nvoters = [\"v1\", \"v2\", \"v3\", \"v4\", \"v5\"]\noptions = [\"a\", \"b\", \"c\"]\nprotocol = \"ranked\"\n";
    let (out, _) = run(wf(&workflow(&agents, nodes))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let o = out.output.expect("output");
    // First preferences a 2, b 1, c 2: b is out, its ballot goes to c: c 3 of 5.
    assert_eq!(o["choice"], "c");
    assert_eq!(o["tally"]["eliminated"], serde_json::json!(["b"]));
}

#[tokio::test(start_paused = true)]
async fn a_vote_over_candidates_from_a_parallel_node() {
    let text = "[workflow]\nname = \"t\"\ninput = \"Name the product\"\n\
        [[agents]]\nid = \"w1\"\nsim = { replies = [\"Nimbus\"] }\n\
        [[agents]]\nid = \"w2\"\nsim = { replies = [\"Vector\"] }\n\
        [[agents]]\nid = \"w3\"\nsim = { replies = [\"Nimbus\"] }\n\
        [[agents]]\nid = \"x\"\nsim = { positions = [\"Vector\"] }\n\
        [[agents]]\nid = \"y\"\nsim = { positions = [\"vector\"] }\n\
        [[agents]]\nid = \"z\"\nsim = { positions = [\"Nimbus\"] }\n\
        [[nodes]]\nid = \"main\"\nkind = \"sequence\"\nsteps = [\"ideas\", \"pick\"]\n\
        [[nodes]]\nid = \"ideas\"\nkind = \"parallel\"\nbranches = [\"a\", \"b\", \"c\"]\n\
        [[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"w1\"\n\
        [[nodes]]\nid = \"b\"\nkind = \"agent\"\nagent = \"w2\"\n\
        [[nodes]]\nid = \"c\"\nkind = \"agent\"\nagent = \"w3\"\n\
        [[nodes]]\nid = \"pick\"\nkind = \"vote\"\nvoters = [\"x\", \"y\", \"z\"]\ncandidates = \"input\"\n";
    let (out, ev) = run(wf(text)).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let o = out.output.expect("output");
    assert_eq!(
        o["choice"], "Vector",
        "2 of 3, spelled as the candidate: {o}"
    );
    assert_eq!(count(&ev, |k| matches!(k, EventKind::VoteCast { .. })), 3);
}

/// The debate events of a run, in order, as short tags.
fn debate_tags(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AwaitingStep { next, .. } => {
                Some(format!("wait:{}", next.as_deref().unwrap_or("?")))
            }
            EventKind::DebateTurn { speaker, .. } => Some(format!("turn:{speaker}")),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn step_mode_waits_for_a_step_before_each_turn() {
    let agents = [
        ("ann", "positions = [\"rust\", \"go\", \"rust\"]"),
        ("bob", "positions = [\"go\", \"rust\", \"go\"]"),
    ];
    let nodes = "[[nodes]]\nid = \"d\"\nkind = \"debate\"\nparticipants = [\"ann\", \"bob\"]\noptions = [\"rust\", \"go\"]\nrounds = 3\nstep = true\n";
    let (h, mut rx) = start(wf(&workflow(&agents, nodes)), RunOptions::default());
    let mut seen = Vec::new();
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::AwaitingStep { .. })
    })
    .await;
    // A minute later nothing has started.
    tokio::time::sleep(Duration::from_secs(60)).await;
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert!(
        !seen
            .iter()
            .any(|e| matches!(&e.kind, EventKind::TaskCreated { node, .. } if &**node == "d"))
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e.kind, EventKind::DebateTurn { .. }))
    );
    // One step: one turn, then it waits again.
    h.send(Command::Step {
        node: None,
        until: StepUntil::Turn,
    });
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::DebateTurn { .. })
    })
    .await;
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::AwaitingStep { .. })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert_eq!(debate_tags(&seen), ["wait:ann", "turn:ann", "wait:bob"]);
    // Step one more, then finish round 2 in one go, then leave step mode.
    h.send(Command::Step {
        node: Some("d".into()),
        until: StepUntil::Turn,
    });
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::DebateRoundStarted { round: 2, .. })
    })
    .await;
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::AwaitingStep { .. })
    })
    .await;
    h.send(Command::Step {
        node: None,
        until: StepUntil::Round,
    });
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::DebateRoundStarted { round: 3, .. })
    })
    .await;
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::AwaitingStep { .. })
    })
    .await;
    h.send(Command::SetStepMode { on: false });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert_eq!(
        debate_tags(&seen),
        [
            "wait:ann", "turn:ann", "wait:bob", "turn:bob", // round 1, turn by turn
            "wait:ann", "turn:ann", "turn:bob", // round 2: one step for the round
            "wait:ann", "turn:ann", "turn:bob", // round 3: step mode left
        ]
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e.kind, EventKind::StepModeChanged { on: false }))
    );
    // A step with nothing waiting is rejected, with a reason.
    let (h, mut rx) = start(
        wf(&workflow(&agents, nodes)),
        RunOptions {
            step: true,
            ..Default::default()
        },
    );
    h.send(Command::Step {
        node: Some("nope".into()),
        until: StepUntil::Turn,
    });
    let rejected = wait_for(&mut rx, &mut Vec::new(), |k| {
        matches!(k, EventKind::CommandRejected { .. })
    })
    .await;
    assert!(
        matches!(rejected.kind, EventKind::CommandRejected { reason, .. } if reason.contains("no node `nope`"))
    );
    h.send(Command::Cancel { task: None });
    assert_eq!(h.wait().await.status, RunStatus::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn votes_step_ballot_by_ballot() {
    let agents = [("x", "positions = [\"a\"]"), ("y", "positions = [\"a\"]")];
    let nodes = "[[nodes]]\nid = \"v\"\nkind = \"vote\"\nvoters = [\"x\", \"y\"]\noptions = [\"a\", \"b\"]\n";
    let (h, mut rx) = start(
        wf(&workflow(&agents, nodes)),
        RunOptions {
            step: true,
            ..Default::default()
        },
    );
    let mut seen = Vec::new();
    for voter in ["x", "y"] {
        let e = wait_for(&mut rx, &mut seen, |k| {
            matches!(k, EventKind::AwaitingStep { .. })
        })
        .await;
        assert!(
            matches!(&e.kind, EventKind::AwaitingStep { next: Some(n), what, .. } if &**n == voter && what == "ballot")
        );
        assert_eq!(
            count(&seen, |k| matches!(k, EventKind::VoteCast { .. })),
            usize::from(voter == "y")
        );
        h.send(Command::Step {
            node: None,
            until: StepUntil::Turn,
        });
    }
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
}

#[tokio::test(start_paused = true)]
async fn step_mode_can_be_switched_on_while_running() {
    let agents = [
        ("warm", "latency_ms = 100"),
        ("ann", "positions = [\"rust\"]"),
        ("bob", "positions = [\"rust\"]"),
    ];
    let nodes = "[[nodes]]\nid = \"main\"\nkind = \"sequence\"\nsteps = [\"first\", \"d\"]\n\
        [[nodes]]\nid = \"first\"\nkind = \"agent\"\nagent = \"warm\"\n\
        [[nodes]]\nid = \"d\"\nkind = \"debate\"\nparticipants = [\"ann\", \"bob\"]\noptions = [\"rust\", \"go\"]\n";
    let (h, mut rx) = start(wf(&workflow(&agents, nodes)), RunOptions::default());
    h.send(Command::SetStepMode { on: true });
    let mut seen = Vec::new();
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::StepModeChanged { on: true })
    })
    .await;
    let e = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::AwaitingStep { .. })
    })
    .await;
    assert!(
        matches!(&e.kind, EventKind::AwaitingStep { next: Some(n), round: 1, .. } if &**n == "ann")
    );
    assert_eq!(
        count(&seen, |k| matches!(k, EventKind::DebateTurn { .. })),
        0
    );
    h.send(Command::SetStepMode { on: false });
    assert_eq!(h.wait().await.status, RunStatus::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn a_vote_tie_can_go_to_the_judge() {
    let agents = [
        ("x", "positions = [\"a\"], confidence = 0.9"),
        ("y", "positions = [\"b\"], confidence = 0.4"),
        ("j", ""),
    ];
    let nodes = "[[nodes]]\nid = \"v\"\nkind = \"vote\"\nvoters = [\"x\", \"y\"]\noptions = [\"a\", \"b\", \"c\"]\nprotocol = \"plurality\"\non_tie = \"judge\"\njudge = \"j\"\n";
    let (out, ev) = run(wf(&workflow(&agents, nodes))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let o = out.output.expect("output");
    // Tied 1–1 between a and b; the sim judge takes the confidence-weighted leader.
    assert_eq!(
        (o["choice"].as_str(), o["decided_by"].as_str()),
        (Some("a"), Some("judge:j"))
    );
    let nexts: Vec<String> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ConsensusFailed { next, .. } => Some(next.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(nexts, ["judge"]);
}
