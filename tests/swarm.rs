//! The `swarm` node kind: claims by a local rule, leases counted in rounds,
//! findings, new items, convergence, and agents that die mid-run (a sim
//! agent whose every call fails, a command agent killed with SIGKILL).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use agentctl::engine::RunOptions;
use agentctl::event::{Command, Event, EventKind, RunStatus, StepUntil};
use agentctl::run_state::RunState;
use agentctl::workflow::load::{Format, load_str};
use common::*;

/// What happened to the pool, in order, as (round, what, item, agent).
fn pool_story(events: &[Event]) -> Vec<(u32, &'static str, String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SwarmClaimed {
                item, agent, round, ..
            } => Some((*round, "claim", item.to_string(), agent.to_string())),
            EventKind::SwarmLeaseExpired {
                item, agent, round, ..
            } => Some((*round, "expired", item.to_string(), agent.to_string())),
            EventKind::SwarmFinding {
                item, agent, round, ..
            } => Some((*round, "finding", item.to_string(), agent.to_string())),
            EventKind::SwarmWorkFailed {
                item, agent, round, ..
            } => Some((*round, "failed", item.to_string(), agent.to_string())),
            _ => None,
        })
        .collect()
}

fn converged(events: &[Event]) -> (String, u32, u32, u32) {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::SwarmConverged {
                reason,
                rounds,
                items,
                done,
                ..
            } => Some((reason.clone(), *rounds, *items, *done)),
            _ => None,
        })
        .expect("a swarm_converged event")
}

/// Replays the claims and checks the pool's invariants: an item has at most
/// one holder, an agent holds at most one item, a claim ends with a finding
/// or an expiry, and a lease expires exactly after `lease` rounds.
fn check_leases(events: &[Event], lease: u32) {
    let mut holder: HashMap<String, (String, u32)> = HashMap::new();
    for (round, what, item, agent) in pool_story(events) {
        match what {
            "claim" => {
                assert!(
                    !holder.contains_key(&item),
                    "r{round}: {item} claimed by {agent} while {:?} holds it",
                    holder[&item]
                );
                assert!(
                    !holder.values().any(|(a, _)| *a == agent),
                    "r{round}: {agent} claims {item} while holding another item"
                );
                holder.insert(item, (agent, round));
            }
            "finding" => {
                let (a, _) = holder.remove(&item).expect("a finding on a claimed item");
                assert_eq!(a, agent, "r{round}: {agent} posted on {item} held by {a}");
            }
            "failed" => {
                assert_eq!(
                    holder.get(&item).map(|h| h.0.as_str()),
                    Some(agent.as_str())
                );
            }
            "expired" => {
                let (a, since) = holder.remove(&item).expect("an expired lease was held");
                assert_eq!(a, agent);
                assert_eq!(
                    round,
                    since + lease,
                    "{item}: lease of {lease} rounds from r{since}"
                );
            }
            _ => unreachable!(),
        }
    }
}

#[tokio::test]
async fn the_builtin_swarm_moves_a_dead_scouts_item_to_the_others_and_converges() {
    let (out, events) = run(builtin("swarm")).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    check_leases(&events, 2);
    let story = pool_story(&events);
    // Every live scout claimed something: no coordinator handed out work.
    for a in ["scout_a", "scout_b", "scout_c", "scout_d"] {
        assert!(
            story.iter().any(|(_, w, _, who)| *w == "claim" && who == a),
            "{a} never claimed: {story:?}"
        );
    }
    // scout_d is down: its claim fails until the lease runs out, then
    // another scout takes the item and posts on it.
    let (expired_round, item) = story
        .iter()
        .find(|(_, w, _, a)| *w == "expired" && a == "scout_d")
        .map(|(r, _, i, _)| (*r, i.clone()))
        .expect("scout_d's lease expired");
    assert!(
        story.iter().any(|(r, w, i, a)| *w == "failed"
            && *i == item
            && a == "scout_d"
            && *r < expired_round)
    );
    let taken = story
        .iter()
        .find(|(r, w, i, _)| *w == "claim" && *i == item && *r >= expired_round)
        .expect("another scout takes the expired item");
    assert_ne!(taken.3, "scout_d");
    assert!(
        story
            .iter()
            .any(|(_, w, i, a)| *w == "finding" && *i == item && *a == taken.3)
    );
    assert!(
        !story
            .iter()
            .any(|(_, w, _, a)| *w == "finding" && a == "scout_d"),
        "a dead scout posts nothing"
    );
    // Scouts added items, and the swarm converged with every item covered.
    let added_by: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SwarmItemAdded { by: Some(b), .. } => Some(b.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(added_by, vec!["scout_a", "scout_b"]);
    let (reason, rounds, items, done) = converged(&events);
    assert_eq!(reason, "covered");
    assert_eq!((items, done), (5, 5));
    assert!(rounds > expired_round - 1 && rounds <= 8);
    let output = out.output.expect("output");
    assert!(
        output["aggregate"]
            .as_str()
            .unwrap()
            .starts_with("Login review")
    );
    assert_eq!(output["stop_reason"], "covered");
    for it in output["items"].as_array().unwrap() {
        assert_eq!(it["done"], true, "{it}");
        assert!(it["findings"].as_array().unwrap().len() >= 2, "{it}");
    }

    // The one fold tells the same story.
    let mut state: RunState = RunState::default();
    for e in &events {
        state.apply(e);
    }
    let pool = &state.swarm_records[0];
    assert_eq!(pool.node, "review");
    assert_eq!((pool.items.len(), pool.done(), pool.claimed()), (5, 5, 0));
    assert_eq!(pool.expired, 1);
    assert_eq!(
        pool.items.iter().find(|i| i.id == item).unwrap().expired,
        ["scout_d"]
    );
    assert_eq!(pool.outcome.as_ref().unwrap().reason, "covered");
    assert_eq!(
        pool.findings as usize,
        story.iter().filter(|s| s.1 == "finding").count()
    );
}

#[tokio::test]
async fn a_swarm_is_the_same_for_the_same_seed() {
    let (a, ea) = run(builtin("swarm")).await;
    let (b, eb) = run(builtin("swarm")).await;
    assert_eq!(a.output, b.output);
    assert_eq!(pool_story(&ea), pool_story(&eb));
}

/// A workflow file in `dir` (command agents run in the file's folder).
fn wf_in(dir: &Path, text: &str) -> Arc<agentctl::workflow::model::Workflow> {
    let path = dir.join("flow.toml");
    std::fs::write(&path, text).unwrap();
    match load_str(text, path.to_str().unwrap(), Format::Toml) {
        Ok(l) => Arc::new(l.workflow),
        Err(d) => panic!("{d}"),
    }
}

#[tokio::test]
async fn a_command_agent_killed_with_sigkill_mid_swarm_loses_its_lease_and_the_swarm_converges() {
    let dir = tempfile::tempdir().unwrap();
    // Answers in round 1; from round 2 on the process SIGKILLs itself
    // before it answers, every time it is started again.
    std::fs::write(
        dir.path().join("scout.sh"),
        r#"req=$(cat)
case "$req" in
  *'"task":"hunt/r1/'*) printf '{"output": "FINDING: the command scout saw it first\\nNEW: a follow-up the command scout found"}\n' ;;
  *) kill -9 $$ ;;
esac
"#,
    )
    .unwrap();
    let text = r#"
[workflow]
name = "kill"
input = "the payment service"
[defaults]
retry = { max_attempts = 1 }
[[agents]]
id = "cmd"
kind = "command"
command = { run = ["sh", "scout.sh"], inherit_env = ["PATH"], timeout_ms = 5000 }
[[agents]]
id = "sim_a"
sim = { template = "FINDING: sim_a looked at {{task}}" }
[[agents]]
id = "sim_b"
sim = { template = "FINDING: sim_b looked at {{task}}" }
[[nodes]]
id = "hunt"
kind = "swarm"
agents = ["cmd", "sim_a", "sim_b"]
items = ["input validation", "secrets in logs", "retries that double charge"]
lease_rounds = 2
coverage = 2
max_steps = 10
"#;
    let (out, events) = run(wf_in(dir.path(), text)).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    check_leases(&events, 2);
    let story = pool_story(&events);
    // Alive in round 1: a finding and a new item.
    assert!(
        story
            .iter()
            .any(|s| s.0 == 1 && s.1 == "finding" && s.3 == "cmd"),
        "{story:?}"
    );
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::SwarmItemAdded { by: Some(b), .. } if &**b == "cmd")));
    // Killed from round 2 on: the failure names the signal, its lease expires.
    let failed = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::SwarmWorkFailed {
                agent,
                error,
                round,
                item,
                ..
            } if &**agent == "cmd" => Some((*round, item.to_string(), error.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the killed agent's work failed: {story:?}"));
    assert_eq!(failed.0, 2);
    assert!(failed.2.contains("killed by a signal"), "{}", failed.2);
    assert!(
        story
            .iter()
            .any(|s| s.1 == "expired" && s.2 == failed.1 && s.3 == "cmd" && s.0 == 4),
        "{story:?}"
    );
    assert!(
        story
            .iter()
            .any(|s| s.0 >= 4 && s.1 == "finding" && s.2 == failed.1 && s.3 != "cmd")
    );
    assert!(
        !story
            .iter()
            .any(|s| s.0 >= 2 && s.1 == "finding" && s.3 == "cmd")
    );
    let (reason, _, items, done) = converged(&events);
    assert_eq!(reason, "covered");
    assert_eq!((items, done), (4, 4));
}

fn small(extra: &str) -> String {
    format!(
        r#"
[workflow]
name = "s"
input = "x"
[[agents]]
id = "a"
sim = {{ replies = ["FINDING: a1\nNEW: more from a", "FINDING: a2"] }}
[[agents]]
id = "b"
sim = {{ template = "FINDING: b on {{{{task}}}}" }}
[[nodes]]
id = "sw"
kind = "swarm"
agents = ["a", "b"]
{extra}
"#
    )
}

#[tokio::test]
async fn the_swarm_stops_on_quality_on_quiet_rounds_or_at_max_steps() {
    // 4 items and one added in round 1; 2 agents, coverage 1: 4 of 5 done
    // after round 2.
    let (out, ev) = run(wf(&small(
        "items = [\"p\", \"q\", \"r\", \"s\"]\nconverge_at = 0.5",
    )))
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(converged(&ev).0, "quality");
    assert_eq!(converged(&ev).1, 2);
    // Coverage 5 is never reached; no new item after round 1: quiet.
    let (_, ev) = run(wf(&small("coverage = 5\nquiet_rounds = 2\nmax_steps = 9"))).await;
    let (reason, rounds, ..) = converged(&ev);
    assert_eq!((reason.as_str(), rounds), ("quiet", 3));
    let (out, ev) = run(wf(&small("coverage = 5\nmax_steps = 3"))).await;
    assert_eq!(converged(&ev).0, "max_steps");
    assert_eq!(converged(&ev).1, 3);
    // Not every item was done, and the output says so.
    assert_eq!(out.output.unwrap()["stop_reason"], "max_steps");
}

#[tokio::test]
async fn a_swarm_whose_agents_all_fail_fails_with_their_error() {
    let text = r#"
[workflow]
name = "s"
input = "x"
[defaults]
retry = { max_attempts = 1 }
[[agents]]
id = "a"
sim = { error_rate = 1.0 }
[[agents]]
id = "b"
sim = { error_rate = 1.0 }
[[nodes]]
id = "sw"
kind = "swarm"
agents = ["a", "b"]
max_steps = 3
"#;
    let (out, ev) = run(wf(text)).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        out.error.unwrap_or_default().contains("injected"),
        "the calls' own error"
    );
    assert_eq!(converged(&ev).0, "max_steps");
}

#[tokio::test]
async fn a_swarm_in_step_mode_waits_for_a_step_before_each_round() {
    let (h, mut rx) = start(
        wf(&small("step = true\nmax_steps = 2\ncoverage = 3")),
        RunOptions::default(),
    );
    let mut seen = Vec::new();
    let e = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::AwaitingStep { .. })
    })
    .await;
    match &e.kind {
        EventKind::AwaitingStep { what, round, .. } => {
            assert_eq!((what.as_str(), *round), ("round", 1));
        }
        _ => unreachable!(),
    }
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e.kind, EventKind::SwarmClaimed { .. }))
    );
    h.send(Command::Step {
        node: Some("sw".into()),
        until: StepUntil::Turn,
    });
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::SwarmRoundEnded { round: 1, .. })
    })
    .await;
    let e = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::AwaitingStep { .. })
    })
    .await;
    assert!(matches!(e.kind, EventKind::AwaitingStep { round: 2, .. }));
    h.send(Command::SetStepMode { on: false });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
}

/// The first diagnostic of a broken swarm, as `file:line:col: message`.
fn error_of(extra: &str) -> String {
    match load_str(&small(extra), "bad.toml", Format::Toml) {
        Ok(_) => panic!("accepted: {extra}"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn broken_swarms_are_rejected_with_where_and_how_to_fix() {
    let cases: [(&str, &str, &str); 7] = [
        (
            "lease_rounds = 5\nmax_steps = 3",
            "bad.toml:15:",
            "outlasts the swarm",
        ),
        (
            "quiet_rounds = 4\nmax_steps = 4",
            "bad.toml:15:",
            "can never stop the swarm",
        ),
        (
            "items = [\"a\"]\nover = \"input\"",
            "bad.toml:16:",
            "`items` or `over`, not both",
        ),
        (
            "converge_at = 1.5",
            "bad.toml:15:",
            "`converge_at` must be in (0, 1]",
        ),
        (
            "aggregate = \"nobody\"",
            "bad.toml:15:",
            "unknown agent `nobody`",
        ),
        ("rounds = 3", "bad.toml:15:", "rounds"),
        ("items = []", "bad.toml:15:", "`items` is empty"),
    ];
    for (extra, at, what) in cases {
        let e = error_of(extra);
        assert!(e.contains(at) && e.contains(what), "{extra}:\n{e}");
    }
    let one = small("").replace("agents = [\"a\", \"b\"]", "agents = [\"a\"]");
    let e = load_str(&one, "bad.toml", Format::Toml)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("bad.toml:14:"), "{e}");
}

#[test]
fn agentctl_validate_exits_2_on_a_broken_swarm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, small("lease_rounds = 0")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args(["validate", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:15:") && err.contains("lease_rounds"),
        "{err}"
    );
}

#[test]
fn the_graph_draws_a_swarm_with_its_agents_and_rules() {
    for format in ["mermaid", "dot"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_agentctl"))
            .args(["graph", "builtin:swarm", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        for want in [
            "swarm: scout_a, scout_b, scout_c, scout_d",
            "lease 2 rounds, coverage 2",
            "aggregate: editor",
        ] {
            assert!(text.contains(want), "{format}: {want}\n{text}");
        }
    }
}

/// A recorded swarm cut at many points, as a crash would leave it, resumes
/// to the same pool and output: leases count rounds, so the replayed
/// rounds claim and expire exactly as before, and completed work is not
/// called again.
#[tokio::test(start_paused = true)]
async fn a_swarm_cut_anywhere_resumes_to_the_same_pool() {
    use agentctl::session::{Header, SessionReader};
    let w = builtin("swarm");
    let opts = || RunOptions {
        seed: 5,
        session_id: Some("s-1".into()),
        ..Default::default()
    };
    let (full_out, full) = run_with(w.clone(), opts()).await;
    assert_eq!(full_out.status, RunStatus::Succeeded);
    for cut in (3..full.len() - 1).step_by(9) {
        let mut bytes =
            serde_json::to_vec(&Header::new("s-1", &w, "# text", "swarm.toml", 5, 1)).unwrap();
        bytes.push(b'\n');
        for e in &full[..cut] {
            bytes.extend(serde_json::to_vec(e).unwrap());
            bytes.push(b'\n');
        }
        let reader = SessionReader::from_bytes(Path::new("cut.jsonl"), bytes).unwrap();
        let restore = Arc::new(reader.fold().restore(&reader));
        let done: Vec<String> = completed_tasks(&full[..cut]);
        let (out, after) = run_with(
            w.clone(),
            RunOptions {
                resume: Some(restore),
                ..opts()
            },
        )
        .await;
        assert_eq!(
            out.status,
            RunStatus::Succeeded,
            "cut at {cut}: {:?}",
            out.error
        );
        assert_eq!(out.output, full_out.output, "cut at {cut}");
        // The file holds the story once: the resumed run restates the
        // claims before the cut without writing them again.
        let whole: Vec<Event> = full[..cut].iter().chain(&after).cloned().collect();
        assert_eq!(pool_story(&whole), pool_story(&full), "cut at {cut}");
        for e in &after {
            if let EventKind::LlmRequest { task, .. } = &e.kind {
                assert!(
                    !done.contains(&task.to_string()),
                    "cut at {cut}: {task} called again"
                );
            }
        }
        // The fold of the whole file (before and after the cut) shows one pool.
        let mut state: RunState = RunState::default();
        for e in full[..cut].iter().chain(&after) {
            state.apply(e);
        }
        assert_eq!(state.swarm_records[0].items.len(), 5, "cut at {cut}");
        assert_eq!(state.swarm_records[0].done(), 5, "cut at {cut}");
    }
}
