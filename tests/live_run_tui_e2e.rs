//! End to end in a real terminal (tmux), on a run that stays live (an `on`
//! node with `forever = true`, which waits on purpose: no deadlock, no idle
//! failure): `N` submits an ad-hoc task to it, and `q`, confirmed, ends it
//! as interrupted with exit code 3, the session closed cleanly and listed
//! as interrupted.

mod tmux;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tmux::Tmux;

const FOREVER: &str = r#"
[workflow]
name = "forever-loop"
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

fn status_line(screen: &str) -> &str {
    screen.lines().last().unwrap_or_default()
}

/// The cockpit on the forever loop, in tmux, with an empty home of its own.
struct LiveCockpit {
    home: tempfile::TempDir,
    t: Tmux,
}

impl LiveCockpit {
    fn start() -> LiveCockpit {
        let home = tempfile::tempdir().unwrap();
        let flow = home.path().join("forever.toml");
        std::fs::write(&flow, FOREVER).unwrap();
        let cmd = format!(
            "'{}' tui '{}' --no-mouse; echo \"AGENTCTL-EXIT=$?\"; sleep 60",
            env!("CARGO_BIN_EXE_agentctl"),
            flow.display()
        );
        let sessions = home.path().join("sessions");
        let t = Tmux::start(&cmd, &env_of(home.path(), &sessions), (140, 40))
            .patience(Duration::from_secs(30));
        t.wait_for("the live cockpit", |s| s.contains("forever-loop"));
        LiveCockpit { home, t }
    }

    fn sessions(&self) -> std::path::PathBuf {
        self.home.path().join("sessions")
    }

    /// The recorded session's text.
    fn session_text(&self) -> String {
        let file = std::fs::read_dir(self.sessions())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .expect("a recorded session");
        std::fs::read_to_string(&file).unwrap()
    }
}

fn env_of<'a>(home: &'a Path, sessions: &'a Path) -> [(&'static str, &'a Path); 5] {
    [
        ("HOME", home),
        ("XDG_CONFIG_HOME", home),
        ("XDG_DATA_HOME", home),
        ("XDG_STATE_HOME", home),
        ("AGENTCTL_SESSION_DIR", sessions),
    ]
}

#[test]
fn q_ends_a_forever_run_in_the_cockpit_as_interrupted() {
    let live = LiveCockpit::start();
    let t = &live.t;
    // Well past the deadlock bound (200 ms): still live, nothing failed.
    std::thread::sleep(Duration::from_millis(1500));
    let s = t.screen();
    assert!(
        !s.contains("AGENTCTL-EXIT="),
        "the run ended by itself:\n{s}"
    );
    assert!(!s.to_lowercase().contains("deadlock"), "{s}");
    t.keys(&["q"]);
    t.wait_for("the quit question", |s| {
        s.contains("Confirm") && status_line(s).contains("y yes")
    });
    t.keys(&["y"]);
    let s = t.wait_text("AGENTCTL-EXIT=");
    assert!(
        s.contains("AGENTCTL-EXIT=3"),
        "an interrupted run exits 3:\n{s}"
    );

    // The session was closed cleanly: its last event ends it as interrupted.
    let text = live.session_text();
    assert!(!text.contains("deadlock_detected"), "{text}");
    let last = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|v| v.get("seq").is_some())
        .expect("events");
    assert_eq!(last["type"], "session_ended", "{last}");
    assert_eq!(last["status"], "interrupted", "{last}");
    // And `sessions list` says so.
    let mut list = Command::new(env!("CARGO_BIN_EXE_agentctl"));
    list.args(["sessions", "list"]);
    let sessions = live.sessions();
    for (k, v) in env_of(live.home.path(), &sessions) {
        list.env(k, v);
    }
    let out = list.output().unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.contains("forever-loop") && l.contains("interrupted")),
        "{listed}"
    );
}

/// `N` in the live cockpit submits an ad-hoc task to the running loop: it
/// shows in Tasks, completes, and is recorded (`task_submitted`, then the
/// task's own events) in the session.
#[test]
fn capital_n_submits_a_task_to_the_running_loop() {
    let live = LiveCockpit::start();
    let t = &live.t;
    t.keys(&["N"]);
    t.wait_text("Submit a task");
    t.literal("tidy the notes");
    t.keys(&["Enter"]);
    t.wait_for("the submitted task done in Tasks", |s| {
        s.lines()
            .any(|l| l.contains("submitted#1") && l.contains("COMPLETED"))
    });
    t.keys(&["q"]);
    t.wait_for("the quit question", |s| status_line(s).contains("y yes"));
    t.keys(&["y"]);
    t.wait_text("AGENTCTL-EXIT=");
    let events: Vec<Value> = live
        .session_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("seq").is_some())
        .collect();
    let submitted = events
        .iter()
        .find(|e| e["type"] == "task_submitted")
        .expect("a task_submitted event");
    assert_eq!(submitted["task"], "submitted#1", "{submitted}");
    assert_eq!(submitted["agent"], "handler", "{submitted}");
    assert_eq!(submitted["prompt"], "tidy the notes", "{submitted}");
    let done = events
        .iter()
        .find(|e| e["type"] == "task_completed" && e["task"] == "submitted#1")
        .expect("the submitted task completed");
    assert_eq!(done["output"], "handled tidy the notes", "{done}");
}
