//! A long-running event loop: an `on` node with `forever = true` waits
//! until the run is stopped instead of failing when nothing fires; the
//! deadlock watchdog leaves it alone; the run's limits still end it; and
//! SIGINT ends the real binary's run as interrupted (exit 3), the session
//! closed cleanly.

mod child;
mod common;

use std::time::{Duration, Instant};

use agentctl::engine::RunOptions;
use agentctl::event::{EventKind, RunStatus};
use agentctl::workflow::load::{Format, load_str};
use common::*;

const FOREVER: &str = r#"
[workflow]
name = "forever"
input = "x"

[defaults]
deadlock_ms = 200

[[agents]]
id = "handler"
sim = { template = "handled {{input}}", latency_ms = 5 }

[[nodes]]
id = "loop"
kind = "on"
topic = "jobs.*"
forever = true
body = "handle"

[[nodes]]
id = "handle"
kind = "agent"
agent = "handler"
"#;

#[tokio::test(start_paused = true)]
async fn forever_waits_past_the_idle_timeout_and_the_deadlock_watchdog_until_stopped() {
    let (h, mut rx) = start(wf(FOREVER), RunOptions::default());
    // Ten minutes of virtual time: far past the 30 s idle timeout and the
    // 200 ms deadlock bound.
    tokio::time::sleep(Duration::from_secs(600)).await;
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert!(
        !seen.iter().any(|e| matches!(
            e.kind,
            EventKind::SessionEnded { .. } | EventKind::DeadlockDetected { .. }
        )),
        "the loop must still be waiting: {:?}",
        seen.last().map(|e| &e.kind)
    );
    h.interrupt();
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Interrupted, "{:?}", out.error);
}

#[tokio::test(start_paused = true)]
async fn the_run_limit_still_ends_a_forever_loop() {
    let text = FOREVER
        .replace("topic = \"jobs.*\"", "every_ms = 10")
        .replace("deadlock_ms = 200", "deadlock_ms = 200\nmax_tasks = 5");
    let (out, events) = run(wf(&text)).await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.error.unwrap_or_default();
    assert!(err.contains("max_tasks"), "{err}");
    assert!(count(&events, |k| matches!(k, EventKind::TriggerFired { .. })) >= 5);
}

fn refusal(text: &str, name: &str, f: Format) -> String {
    match load_str(text, name, f) {
        Ok(_) => panic!("{name} loaded"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn forever_rejects_an_idle_timeout_and_zero_stays_rejected() {
    let both = FOREVER.replace("forever = true", "forever = true\nidle_timeout_ms = 500");
    let err = refusal(&both, "f.toml", Format::Toml);
    assert!(
        err.contains("`idle_timeout_ms` does not apply with `forever = true`")
            && err.contains("f.toml:"),
        "{err}"
    );
    let zero = FOREVER.replace("forever = true", "idle_timeout_ms = 0");
    let err = refusal(&zero, "f.toml", Format::Toml);
    assert!(
        err.contains("`idle_timeout_ms` must be at least 1"),
        "{err}"
    );
}

#[test]
fn sigint_ends_a_forever_run_as_interrupted_with_the_session_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let sessions = tmp.path().join("sessions");
    let file = child::write(tmp.path(), "forever.toml", FOREVER);
    let mut c = child::agentctl(&sessions);
    c.args(["run", file.to_str().unwrap()]);
    let proc = c.spawn().unwrap();
    // Past the deadlock bound and still alive: wait until it records, then more.
    let deadline = Instant::now() + Duration::from_secs(30);
    let session = loop {
        let f = std::fs::read_dir(&sessions).ok().and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        });
        if let Some(f) = f
            && std::fs::read_to_string(&f)
                .unwrap_or_default()
                .contains("node_state_changed")
        {
            break f;
        }
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(25));
    };
    std::thread::sleep(Duration::from_millis(800));
    // SAFETY: plain kill(2) of our own child's pid.
    assert_eq!(unsafe { libc::kill(proc.id() as i32, libc::SIGINT) }, 0);
    let out = child::finish(proc, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(3), "{}", child::stderr(&out));
    let text = std::fs::read_to_string(&session).unwrap();
    assert!(!text.contains("deadlock_detected"), "{text}");
    let last = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v.get("seq").is_some())
        .expect("events");
    assert_eq!(last["type"], "session_ended", "{last}");
    assert_eq!(last["status"], "interrupted", "{last}");
}
