//! A resumed debate, vote, swarm or chat must not write its transcript
//! twice: the turns, ballots, claims and findings that completed before
//! the interruption are restated by the re-run pattern, and the session
//! must hold each once (the cockpit, `sessions export` and the fold read
//! them as they are). Checked at many cut points of each built-in.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use agentctl::engine::RunOptions;
use agentctl::event::{Event, EventKind, RunStatus};
use agentctl::session::{Header, SessionReader};
use agentctl::workflow::model::Workflow;
use common::{builtin, start};

/// The transcript-level events whose count must survive a resume.
fn transcript_kind(kind: &EventKind) -> Option<String> {
    let v = serde_json::to_value(kind).unwrap();
    let name = v["type"].as_str()?.to_owned();
    let counted = ["debate_", "vote_", "consensus_", "swarm_", "chat_"]
        .iter()
        .any(|p| name.starts_with(p));
    counted.then_some(name)
}

fn tally(events: &[Event]) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for e in events {
        if let Some(n) = transcript_kind(&e.kind) {
            *t.entry(n).or_default() += 1;
        }
    }
    t
}

async fn run_to_end(w: Arc<Workflow>, opts: RunOptions) -> Vec<Event> {
    let (h, mut rx) = start(w, opts);
    let events = common::events_until_end(&h, &mut rx, Some("fine")).await;
    assert_eq!(h.wait().await.status, RunStatus::Succeeded);
    events
}

async fn check(name: &str) {
    let w = builtin(name);
    let seed = 5;
    let full = run_to_end(
        w.clone(),
        RunOptions {
            seed,
            ..Default::default()
        },
    )
    .await;
    let whole = tally(&full);
    assert!(!whole.is_empty(), "{name}: no transcript events at all");
    let step = (full.len() / 12).max(1);
    for cut in (1..full.len() - 1).step_by(step) {
        let prefix = &full[..cut];
        let h = Header::new("s-1", &w, "# text", "test.toml", seed, 1);
        let mut bytes = serde_json::to_vec(&h).unwrap();
        bytes.push(b'\n');
        for e in prefix {
            bytes.extend(serde_json::to_vec(e).unwrap());
            bytes.push(b'\n');
        }
        let reader = SessionReader::from_bytes(Path::new("cut.jsonl"), bytes).unwrap();
        let restore = Arc::new(reader.fold().restore(&reader));
        let after = run_to_end(
            w.clone(),
            RunOptions {
                seed,
                session_id: Some("s-1".into()),
                resume: Some(restore),
                ..Default::default()
            },
        )
        .await;
        let mut joined = prefix.to_vec();
        joined.extend(after);
        assert_eq!(
            tally(&joined),
            whole,
            "{name} cut at event {cut} of {}: the resumed session's transcript differs from an uninterrupted run's",
            full.len()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_resumed_debate_writes_each_turn_once() {
    check("debate").await;
}

#[tokio::test(start_paused = true)]
async fn a_resumed_vote_writes_each_ballot_once() {
    check("consensus").await;
}

#[tokio::test(start_paused = true)]
async fn a_resumed_swarm_writes_each_claim_once() {
    check("swarm").await;
}

#[tokio::test(start_paused = true)]
async fn a_resumed_chat_writes_each_turn_once() {
    check("chat").await;
}
