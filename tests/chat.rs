//! The `chat` node kind: turn order, `@id` addressing, a windowed shared
//! transcript and the termination rules (a phrase, a judge, `max_turns`).

mod common;

use agentctl::event::{Event, EventKind, RunStatus};
use agentctl::run_state::RunState;
use agentctl::workflow::load::{Format, load_str};
use common::*;

/// The turns, as (speaker, via, addressed).
fn turns(events: &[Event]) -> Vec<(String, String, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ChatTurn {
                speaker,
                via,
                addressed,
                ..
            } => Some((
                speaker.to_string(),
                via.clone(),
                addressed.as_ref().map(|a| a.to_string()),
            )),
            _ => None,
        })
        .collect()
}

fn ended(events: &[Event]) -> (u32, String, Option<String>) {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ChatEnded {
                turns, reason, by, ..
            } => Some((*turns, reason.clone(), by.as_ref().map(|b| b.to_string()))),
            _ => None,
        })
        .expect("a chat_ended event")
}

fn t(s: &str, via: &str, to: Option<&str>) -> (String, String, Option<String>) {
    (s.into(), via.into(), to.map(String::from))
}

#[tokio::test]
async fn the_builtin_chat_follows_the_order_hands_the_turn_to_whoever_is_addressed_and_ends_on_done()
 {
    let (out, events) = run(builtin("chat")).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        turns(&events),
        vec![
            t("pm", "order", Some("designer")),
            // Addressed: the designer speaks before the engineer.
            t("designer", "addressed", None),
            // The order goes on after whoever spoke: back to the pm.
            t("pm", "order", Some("engineer")),
            t("engineer", "addressed", None),
            t("designer", "order", None),
            t("pm", "order", None),
        ]
    );
    assert_eq!(ended(&events), (6, "phrase".into(), Some("pm".into())));
    // The judge was asked after turn 3 and let the chat go on.
    assert!(completed_tasks(&events).contains(&"discuss/t3/judge".to_string()));
    let output = out.output.unwrap();
    assert_eq!(output["stop_reason"], "phrase");
    assert_eq!(output["last"]["speaker"], "pm");
    assert!(output["last"]["text"].as_str().unwrap().ends_with("DONE"));
    assert_eq!(output["transcript"].as_array().unwrap().len(), 6);
    // The one fold keeps the same transcript.
    let mut state: RunState = RunState::default();
    for e in &events {
        state.apply(e);
    }
    let chat = &state.chat_records[0];
    assert_eq!(chat.turns.len(), 6);
    assert!(chat.turns[1].addressed_in && !chat.turns[2].addressed_in);
    assert_eq!(chat.turns[0].to.as_deref(), Some("designer"));
    assert_eq!(chat.ended.as_ref().unwrap().reason, "phrase");
}

fn three(extra: &str, judge: &str) -> String {
    format!(
        r#"
[workflow]
name = "c"
input = "lunch"
[[agents]]
id = "a"
sim = {{ template = "a says: {{{{input}}}}" }}
[[agents]]
id = "b"
sim = {{ template = "b agrees" }}
[[agents]]
id = "c"
sim = {{ replies = ["c here", "c again"], error_rate = 0.0 }}
{judge}
[[nodes]]
id = "talk"
kind = "chat"
participants = ["a", "b", "c"]
{extra}
"#
    )
}

#[tokio::test]
async fn a_judge_ends_the_chat_when_it_approves() {
    let judge = "[[agents]]\nid = \"j\"\nsim = { reject_first = 1 }";
    let (out, events) = run(wf(&three(
        "max_turns = 12\njudge = \"j\"\njudge_every = 2",
        judge,
    )))
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    // Asked after turns 2 (rejects) and 4 (approves).
    assert_eq!(ended(&events), (4, "judge".into(), Some("j".into())));
    let done = completed_tasks(&events);
    assert!(
        done.contains(&"talk/t2/judge".to_string()) && done.contains(&"talk/t4/judge".to_string())
    );
}

#[tokio::test]
async fn without_a_phrase_or_judge_the_chat_ends_at_max_turns_in_round_robin() {
    let (out, events) = run(wf(&three("max_turns = 5", ""))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let who: Vec<String> = turns(&events).into_iter().map(|t| t.0).collect();
    assert_eq!(who, ["a", "b", "c", "a", "b"]);
    assert_eq!(ended(&events), (5, "max_turns".into(), None));
    // Each speaker's scripted replies go by its own turn count.
    let said: Vec<String> = out.output.unwrap()["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(said[2], "c here");
}

#[tokio::test]
async fn speakers_see_the_shared_transcript_windowed_to_their_context() {
    // `a` echoes its prompt: turn 4's prompt holds the transcript, and
    // with a small window the oldest turns are left out, with a note.
    let (out, _) = run(wf(&three("max_turns = 7", ""))).await;
    let t = out.output.unwrap()["transcript"].clone();
    let fourth = t[3]["text"].as_str().unwrap();
    assert!(
        fourth.contains("Transcript so far:\n[1] a: a says: Topic: lunch"),
        "{fourth}"
    );
    assert!(fourth.contains("[3] c: c here"), "{fourth}");
    let (out, _) = run(wf(&three("max_turns = 7\ncontext_tokens = 64", ""))).await;
    let seventh = out.output.unwrap()["transcript"][6]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(seventh.contains("earlier turn(s) left out"), "{seventh}");
    assert!(seventh.contains("[6] c: c again"), "{seventh}");
}

#[tokio::test]
async fn a_failing_speaker_is_skipped_and_the_chat_goes_on() {
    let text = three("max_turns = 4", "").replace(
        "sim = { template = \"b agrees\" }",
        "sim = { error_rate = 1.0 }\nretry = { max_attempts = 1 }",
    );
    let (out, events) = run(wf(&text)).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let failed = events
        .iter()
        .filter(
            |e| matches!(&e.kind, EventKind::ChatTurnFailed { speaker, .. } if &**speaker == "b"),
        )
        .count();
    assert_eq!(failed, 1);
    let who: Vec<String> = turns(&events).into_iter().map(|t| t.0).collect();
    assert_eq!(who, ["a", "c", "a"]);
}

#[test]
fn broken_chats_are_rejected_with_where_and_how_to_fix() {
    let judge = "[[agents]]\nid = \"j\"";
    let cases: [(String, &str, &str); 4] = [
        (
            three("judge = \"a\"", ""),
            "c.toml:19:",
            "the judge `a` is also one of the participants",
        ),
        (
            three("judge_every = 2", judge),
            "c.toml:20:",
            "`judge_every` only applies with a `judge`",
        ),
        (
            three("until = \"  \"", ""),
            "c.toml:19:",
            "`until` is empty",
        ),
        (
            three("max_turns = 0", ""),
            "c.toml:19:",
            "`max_turns` must be at least 1",
        ),
    ];
    for (text, at, what) in cases {
        let Err(e) = load_str(&text, "c.toml", Format::Toml) else {
            panic!("accepted: {what}")
        };
        let e = e.to_string();
        assert!(e.contains(at) && e.contains(what), "{what}:\n{e}");
    }
    let one = three("", "").replace("[\"a\", \"b\", \"c\"]", "[\"a\"]");
    let e = load_str(&one, "c.toml", Format::Toml)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("c.toml:18:") && e.contains("participants"),
        "{e}"
    );
}

#[test]
fn the_graph_draws_a_chat_with_its_participants_and_rules() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args(["graph", "builtin:chat", "--format", "mermaid"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "chat: pm ↔ engineer ↔ designer",
        "≤9 turns, until",
        "judge: lead every 3 turns",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
}

#[tokio::test]
async fn a_chat_in_step_mode_waits_for_a_step_before_each_turn() {
    use agentctl::event::{Command, StepUntil};
    let (h, mut rx) = start(
        wf(&three("max_turns = 3\nstep = true", "")),
        agentctl::engine::RunOptions::default(),
    );
    let mut seen = Vec::new();
    for turn in 1..=2u32 {
        let e = wait_for(&mut rx, &mut seen, |k| {
            matches!(k, EventKind::AwaitingStep { .. })
        })
        .await;
        match &e.kind {
            EventKind::AwaitingStep {
                what, round, next, ..
            } => {
                assert_eq!((what.as_str(), *round), ("turn", turn));
                let want = ["a", "b"][turn as usize - 1];
                assert_eq!(next.as_deref(), Some(want), "turn {turn} names its speaker");
            }
            _ => unreachable!(),
        }
        // Nothing was said for this turn before the step.
        assert_eq!(turns(&seen).len(), turn as usize - 1, "turn {turn}");
        h.send(Command::Step {
            node: Some("talk".into()),
            until: StepUntil::Turn,
        });
        wait_for(
            &mut rx,
            &mut seen,
            |k| matches!(k, EventKind::ChatTurn { turn: t, .. } if *t == turn),
        )
        .await;
    }
    h.send(Command::SetStepMode { on: false });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
}
