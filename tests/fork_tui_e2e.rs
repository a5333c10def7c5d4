//! End to end in a real terminal (tmux): `F` in the replay cockpit forks
//! the recorded demo at its gate into a live run in the same screen. The
//! replay badge goes, the fork's engine opens the gate again, `a` approves
//! it, the run ends, and `q` leaves. The new session is linked to its
//! parent at the replay's position, shares its history, and redid no
//! completed task.

mod tmux;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tmux::Tmux;

const STEP_TIMEOUT: Duration = Duration::from_secs(20);

fn status_line(screen: &str) -> &str {
    screen.lines().last().unwrap_or_default()
}

fn replay_index(screen: &str) -> usize {
    let line = status_line(screen);
    let at = line.find("event ").map(|i| i + "event ".len());
    at.and_then(|i| line[i..].split('/').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no replay position in the status bar:\n{screen}"))
}

fn events(path: &Path) -> (Value, Vec<Value>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = serde_json::from_str(lines.next().unwrap()).unwrap();
    let events = lines
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("seq").is_some())
        .collect();
    (header, events)
}

#[test]
fn f_in_the_replay_forks_the_demo_at_its_gate_into_a_live_run() {
    let home = tempfile::tempdir().unwrap();
    let sessions = home.path().join("sessions");
    let bin = env!("CARGO_BIN_EXE_agentctl");
    let env = [
        ("HOME", home.path()),
        ("XDG_CONFIG_HOME", home.path()),
        ("XDG_DATA_HOME", home.path()),
        ("XDG_STATE_HOME", home.path()),
        ("AGENTCTL_SESSION_DIR", sessions.as_path()),
    ];
    // The parent: a demo run recorded (and signed) by this user.
    let mut run = Command::new(bin);
    run.args(["run", "builtin:demo", "--auto-approve", "--json"]);
    for (k, v) in env {
        run.env(k, v);
    }
    let out = run.env_remove("OPENAI_API_KEY").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let parent = summary["session"].as_str().unwrap().to_string();

    let cmd =
        format!("'{bin}' replay {parent} --paused --no-mouse; echo \"AGENTCTL-EXIT=$?\"; sleep 60");
    let t = Tmux::start(&cmd, &env, (140, 40)).patience(STEP_TIMEOUT);
    t.wait_for("the paused replay", |s| {
        let l = status_line(s);
        l.contains("REPLAY") && l.contains("⏸")
    });
    // To the gate's opening, then fork there.
    t.keys(&["]"]);
    let s = t.wait_for("the gate", |s| status_line(s).contains("⚑ 1 gate"));
    let at = replay_index(&s);
    t.keys(&["F"]);
    // Live in the same screen: no replay badge; the fork's engine opens the
    // gate again and its review comes up.
    let s = t.wait_text("forked at event");
    assert!(
        s.contains(&format!("forked at event {at} as session")),
        "{s}"
    );
    let s = t.wait_for("the fork's gate review", |s| {
        !status_line(s).contains("REPLAY")
            && s.contains("Ship it?")
            && status_line(s).contains("⚑ 1 gate")
    });
    assert!(!status_line(&s).contains("replay is read-only"), "{s}");
    t.keys(&["a"]);
    t.wait_for("the fork's end", |s| status_line(s).contains("DONE"));
    t.keys(&["q"]);
    let s = t.wait_text("AGENTCTL-EXIT=0");
    assert!(s.contains("forked session"), "{s}");
    assert_eq!(t.display("#{alternate_on}"), "0", "alternate screen left");

    // The fork on disk: linked at the replay's position, sharing the
    // history, with nothing completed redone and the gate decided anew.
    let mut files: Vec<_> = std::fs::read_dir(&sessions)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let fork_path = files
        .iter()
        .find(|p| !p.to_string_lossy().contains(&parent))
        .unwrap();
    let (_, pe) = events(&sessions.join(format!("{parent}.jsonl")));
    let (fh, fe) = events(fork_path);
    assert_eq!(fh["fork"]["parent"], parent.as_str());
    assert_eq!(fh["fork"]["at"], format!("#{at}"));
    assert_eq!(fh["fork"]["events"], at);
    for (p, f) in pe[..at].iter().zip(&fe[..at]) {
        let strip = |v: &Value| {
            let mut v = v.clone();
            v.as_object_mut().unwrap().remove("session");
            v
        };
        assert_eq!(strip(p), strip(f));
    }
    let done: HashSet<&str> = pe[..at]
        .iter()
        .filter(|e| e["type"] == "task_completed")
        .filter_map(|e| e["task"].as_str())
        .collect();
    assert!(!done.is_empty());
    for e in &fe[at..] {
        if matches!(
            e["type"].as_str(),
            Some("llm_request" | "task_created" | "task_assigned" | "task_completed")
        ) && let Some(task) = e["task"].as_str()
        {
            assert!(!done.contains(task), "completed task {task} redone: {e}");
        }
    }
    assert!(
        fe[at..]
            .iter()
            .any(|e| e["type"] == "gate_decided" && e["approved"] == true)
    );
    assert_eq!(fe.last().unwrap()["type"], "session_ended");
    assert_eq!(fe.last().unwrap()["status"], "succeeded");
}
