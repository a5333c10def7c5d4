//! `agentctl fork` through the real binary: the demo forked at its gate
//! with a changed reviewer prompt shares its parent's history, redoes no
//! completed work and stands on its own; a fork before the review runs the
//! changed agent live (and resumes as the fork it is); bad paths, foreign
//! sessions and missing providers are refused with exit code 2.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A private HOME (session key, config) and session directory per test.
struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    sessions: PathBuf,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let sessions = tmp.path().join("sessions");
        std::fs::create_dir_all(&home).unwrap();
        Env {
            home,
            sessions,
            _tmp: tmp,
        }
    }

    fn agentctl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_agentctl"))
            .args(args)
            .env("HOME", &self.home)
            .env("AGENTCTL_SESSION_DIR", &self.sessions)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("OPENAI_API_KEY")
            .output()
            .expect("run agentctl")
    }

    /// Runs the demo to its end; returns the session id.
    fn demo(&self) -> String {
        let out = self.agentctl(&["run", "builtin:demo", "--auto-approve", "--json"]);
        ok(&out);
        json(&out)["session"].as_str().unwrap().to_string()
    }

    fn path(&self, id: &str) -> PathBuf {
        self.sessions.join(format!("{id}.jsonl"))
    }
}

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The header and the events of a session file (snapshot lines are not events).
fn read(path: &Path) -> (Value, Vec<Value>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = serde_json::from_str(lines.next().unwrap()).unwrap();
    let events = lines
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("seq").is_some())
        .collect();
    (header, events)
}

/// An event without the session it belongs to.
fn unaddressed(e: &Value) -> Value {
    let mut e = e.clone();
    e.as_object_mut().unwrap().remove("session");
    e
}

fn of_type<'a>(events: &'a [Value], ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    events.iter().filter(move |e| e["type"] == ty)
}

fn completed_tasks(events: &[Value]) -> HashSet<String> {
    of_type(events, "task_completed")
        .map(|e| e["task"].as_str().unwrap().to_string())
        .collect()
}

/// Nothing about a task completed in `before` happens again in `after`:
/// no provider call, no new creation, no assignment, no second completion.
fn assert_not_redone(before: &[Value], after: &[Value]) {
    let done = completed_tasks(before);
    assert!(!done.is_empty());
    for e in after {
        let ty = e["type"].as_str().unwrap();
        if matches!(
            ty,
            "llm_request" | "llm_response" | "task_created" | "task_assigned" | "task_completed"
        ) && let Some(t) = e["task"].as_str()
        {
            assert!(!done.contains(t), "completed task {t} was redone: {e}");
        }
    }
}

#[test]
fn the_demo_forked_at_its_gate_with_a_new_reviewer_prompt_shares_its_history_and_redoes_nothing() {
    let env = Env::new();
    let parent = env.demo();
    let prompt = "Be strict: reject any work without tests.";
    let out = env.agentctl(&[
        "fork",
        &parent,
        "--at",
        "gate:ship",
        "--set",
        &format!("agents.reviewer.system={prompt}"),
        "--auto-approve",
        "--json",
    ]);
    ok(&out);
    let err = stderr(&out);
    // The reviewer's work all completed before the gate: the change is
    // said to reach nothing that runs unless the gate sends the work back.
    assert!(
        err.contains("warning: --set agents.reviewer.system only touches work that completed before the fork point (node `work`)"),
        "{err}"
    );
    let summary = json(&out);
    assert_eq!(summary["status"], "succeeded", "{summary}");
    let fork = summary["session"].as_str().unwrap().to_string();
    assert_ne!(fork, parent);

    let (ph, pe) = read(&env.path(&parent));
    let (fh, fe) = read(&env.path(&fork));
    // Linked to its parent, at the point asked for, with the change recorded.
    let point = pe
        .iter()
        .position(|e| e["type"] == "gate_opened" && e["gate"] == "ship")
        .unwrap();
    assert_eq!(fh["fork"]["parent"], parent.as_str());
    assert_eq!(fh["fork"]["at"], "gate:ship");
    assert_eq!(fh["fork"]["events"], point);
    assert_eq!(fh["fork"]["seq"], pe[point - 1]["seq"]);
    assert_eq!(
        fh["fork"]["changed"],
        serde_json::json!(["agents.reviewer.system"])
    );
    assert!(fh["workflow"]["text"].as_str().unwrap().contains(prompt));
    assert!(!ph["workflow"]["text"].as_str().unwrap().contains(prompt));
    assert_eq!(fh["seed"], ph["seed"]);
    assert_eq!(fh["input"], ph["input"]);
    assert!(fh["mac"].is_string(), "the user's own fork is signed");

    // The history up to the point is the parent's, event for event, in
    // the fork's name.
    assert!(fe.len() > point);
    for (p, f) in pe[..point].iter().zip(&fe[..point]) {
        assert_eq!(unaddressed(p), unaddressed(f));
        assert_eq!(f["session"], fork.as_str());
    }
    // After it: the fork continues the seq, and no completed task is redone.
    let after = &fe[point..];
    assert_eq!(after[0]["seq"], pe[point - 1]["seq"].as_u64().unwrap() + 1);
    assert_not_redone(&pe[..point], after);
    assert_eq!(
        of_type(after, "llm_request").count(),
        0,
        "no provider call at all"
    );
    // The gate opened again, live, and was decided in the fork.
    assert_eq!(of_type(after, "gate_opened").count(), 1);
    assert_eq!(of_type(after, "gate_decided").count(), 1);
    // Nothing billed twice: the fork spent what its parent had by then.
    let parent_summary = json(&env.agentctl(&["sessions", "export", &parent, "--format", "json"]));
    let fork_summary = json(&env.agentctl(&["sessions", "export", &fork, "--format", "json"]));
    assert_eq!(
        fork_summary["usage"], parent_summary["usage"],
        "fork {fork_summary:#}"
    );

    // Lineage in `sessions list`.
    let list = env.agentctl(&["sessions", "list", "--json"]);
    ok(&list);
    let rows = json(&list);
    let row = |id: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(row(&fork)["parent"], parent.as_str());
    assert_eq!(row(&fork)["fork_point"]["at"], "gate:ship");
    assert_eq!(row(&fork)["fork_point"]["events"], point);
    assert!(row(&parent)["parent"].is_null());
    let table = env.agentctl(&["sessions", "list"]);
    ok(&table);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.contains("FORKED FROM"), "{table}");
    assert!(table.contains(&format!("{parent} at gate:ship")), "{table}");

    // The fork stands on its own: without its parent it still shows,
    // exports and folds to the same end.
    std::fs::remove_file(env.path(&parent)).unwrap();
    let show = env.agentctl(&["sessions", "show", &fork]);
    ok(&show);
    let show = String::from_utf8_lossy(&show.stdout).into_owned();
    assert!(
        show.contains(&format!("forked    from {parent} at gate:ship")),
        "{show}"
    );
    assert!(show.contains("changed agents.reviewer.system"), "{show}");
    assert!(show.contains("status    succeeded"), "{show}");
    let reader = agentctl::session::SessionReader::open(&env.path(&fork)).unwrap();
    assert!(reader.inconsistent.is_empty(), "{:?}", reader.inconsistent);
    let state = reader.state();
    assert_eq!(state.status_name(), "succeeded");
    assert_eq!(state.completed(), completed_tasks(&pe).len());
}

#[test]
fn a_fork_before_the_review_runs_the_changed_reviewer_live_and_resumes_as_itself() {
    let env = Env::new();
    let parent = env.demo();
    let (_, pe) = read(&env.path(&parent));
    // Just before the reviewer's first call.
    let point = pe
        .iter()
        .position(|e| e["type"] == "llm_request" && e["agent"] == "reviewer")
        .unwrap();
    let out = env.agentctl(&[
        "fork",
        &parent,
        "--at",
        &format!("#{point}"),
        "--set",
        "agents.reviewer.model=sim-strict",
        "--auto-approve",
        "--json",
    ]);
    ok(&out);
    assert!(
        !stderr(&out).contains("only touches work"),
        "{}",
        stderr(&out)
    );
    let fork = json(&out)["session"].as_str().unwrap().to_string();
    let (fh, fe) = read(&env.path(&fork));
    assert_eq!(fh["fork"]["at"], format!("#{point}"));
    let after = &fe[point..];
    assert_not_redone(&pe[..point], after);
    let reviews: Vec<&Value> = of_type(after, "llm_request")
        .filter(|e| e["agent"] == "reviewer")
        .collect();
    assert!(!reviews.is_empty());
    assert!(
        reviews.iter().all(|e| e["model"] == "sim-strict"),
        "{reviews:?}"
    );
    // The parent's reviewer ran on the recorded model.
    assert!(
        of_type(&pe, "llm_request")
            .filter(|e| e["agent"] == "reviewer")
            .all(|e| e["model"] != "sim-strict")
    );

    // Cut the fork just after the point (a crash) and resume it: it goes
    // on with its own changed workflow, not the built-in it came from.
    let text = std::fs::read_to_string(env.path(&fork)).unwrap();
    let mut kept = Vec::new();
    let mut events = 0;
    for line in text.lines() {
        let is_event = line.starts_with("{\"seq\":");
        if is_event && events == point + 2 {
            break;
        }
        events += usize::from(is_event);
        kept.push(line);
    }
    std::fs::write(env.path(&fork), kept.join("\n") + "\n").unwrap();
    let out = env.agentctl(&["resume", &fork, "--auto-approve", "--json"]);
    ok(&out);
    assert!(!stderr(&out).contains("changed since"), "{}", stderr(&out));
    let (_, re) = read(&env.path(&fork));
    let resumed_reviews: Vec<&Value> = of_type(&re[point + 2..], "llm_request")
        .filter(|e| e["agent"] == "reviewer")
        .collect();
    assert!(!resumed_reviews.is_empty());
    assert!(
        resumed_reviews.iter().all(|e| e["model"] == "sim-strict"),
        "{resumed_reviews:?}"
    );
}

#[test]
fn unknown_paths_and_values_of_the_wrong_type_exit_2_naming_the_path() {
    let env = Env::new();
    let parent = env.demo();
    let before = std::fs::read_dir(&env.sessions).unwrap().count();
    let cases: [(&str, &[&str]); 5] = [
        (
            "agents.reviewer.sytem=x",
            &[
                "--set agents.reviewer.sytem",
                "no field `sytem`",
                "did you mean `system`",
                "max_tokens",
            ],
        ),
        (
            "agents.writer.max_tokens=lots",
            &["--set agents.writer.max_tokens", "is a number"],
        ),
        ("nodes.nope.prompt=x", &["no node `nope`", "ship", "work"]),
        ("prompt=x", &["unknown path `prompt`", "agents", "nodes"]),
        (
            "nodes.ship.max_revisions=-1",
            &["does not load", "max_revisions"],
        ),
    ];
    for (set, wanted) in cases {
        let out = env.agentctl(&[
            "fork",
            &parent,
            "--at",
            "gate:ship",
            "--set",
            set,
            "--auto-approve",
        ]);
        assert_eq!(out.status.code(), Some(2), "{set}: {}", stderr(&out));
        let err = stderr(&out);
        for w in wanted {
            assert!(err.contains(w), "{set}: `{w}` not in: {err}");
        }
    }
    for (at, wanted) in [
        ("gate:nope", "gate `nope` never opened"),
        ("#99999", "past its end"),
        ("soon", "gate:ID"),
    ] {
        let out = env.agentctl(&["fork", &parent, "--at", at, "--auto-approve"]);
        assert_eq!(out.status.code(), Some(2), "{at}");
        assert!(stderr(&out).contains(wanted), "{at}: {}", stderr(&out));
    }
    assert_eq!(
        std::fs::read_dir(&env.sessions).unwrap().count(),
        before,
        "a refused fork writes no session"
    );
}

/// A copy of `id`'s file as someone else would send it: not signed by
/// this user, its workflow text not this machine's built-in; `edit`
/// changes its header further.
fn foreign_copy(env: &Env, id: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let text = std::fs::read_to_string(env.path(id)).unwrap();
    let (head, rest) = text.split_once('\n').unwrap();
    let mut h: Value = serde_json::from_str(head).unwrap();
    h.as_object_mut().unwrap().remove("mac");
    let wf = h["workflow"]["text"].as_str().unwrap().to_string();
    h["workflow"]["text"] = Value::String(format!("# sent by someone\n{wf}"));
    edit(&mut h);
    let dir = env.sessions.parent().unwrap().join("inbox");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{id}.jsonl"));
    std::fs::write(&path, format!("{h}\n{rest}")).unwrap();
    path
}

#[test]
fn a_foreign_session_is_forked_only_with_consent_and_the_fork_stays_unsigned() {
    let env = Env::new();
    let parent = env.demo();
    let copy = foreign_copy(&env, &parent, |_| {});
    let copy = copy.to_str().unwrap();
    let before = std::fs::read_dir(&env.sessions).unwrap().count();
    let out = env.agentctl(&["fork", copy, "--at", "gate:ship", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("carries its own copy of the workflow"),
        "{err}"
    );
    assert!(err.contains("--trust"), "{err}");
    assert_eq!(std::fs::read_dir(&env.sessions).unwrap().count(), before);

    let out = env.agentctl(&[
        "fork",
        copy,
        "--at",
        "gate:ship",
        "--auto-approve",
        "--trust",
        "--json",
    ]);
    ok(&out);
    let fork = json(&out)["session"].as_str().unwrap().to_string();
    let (fh, _) = read(&env.path(&fork));
    // Consent was for this run: resuming the fork will ask again.
    assert!(fh.get("mac").is_none(), "{fh}");
}

#[test]
fn a_fork_on_a_provider_not_configured_here_says_what_is_missing() {
    let env = Env::new();
    let parent = env.demo();
    let copy = foreign_copy(&env, &parent, |h| {
        for p in h["providers"].as_array_mut().unwrap() {
            if p["agent"] == "reviewer" || p["agent"] == "writer" {
                p["provider"] = Value::String("local".into());
                p["model"] = Value::String("llama3.2".into());
            }
        }
    });
    let copy = copy.to_str().unwrap();
    let out = env.agentctl(&[
        "fork",
        copy,
        "--at",
        "gate:ship",
        "--auto-approve",
        "--trust",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the fork needs provider `local` (agents writer, reviewer), which is not configured here"),
        "{err}"
    );
    assert!(
        err.contains("[providers.local]") && err.contains("--provider sim"),
        "{err}"
    );
    // On the sim, which is always there, it runs.
    let out = env.agentctl(&[
        "fork",
        copy,
        "--at",
        "gate:ship",
        "--auto-approve",
        "--trust",
        "--provider",
        "sim",
        "--json",
    ]);
    ok(&out);
}

#[test]
fn a_fork_on_another_workflow_file_keeps_the_work_whose_ids_it_keeps() {
    let env = Env::new();
    let parent = env.demo();
    // The demo as a file of the user's, changed: the tasks that completed
    // before the point keep their outputs.
    let demo = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/workflows/demo.toml"
    ))
    .unwrap();
    let file = env.home.join("my_demo.toml");
    std::fs::write(
        &file,
        demo.replace("Implemented: {{input}}", "Shipped: {{input}}"),
    )
    .unwrap();
    let out = env.agentctl(&[
        "fork",
        &parent,
        "--at",
        "gate:ship",
        "--workflow",
        file.to_str().unwrap(),
        "--auto-approve",
        "--json",
    ]);
    ok(&out);
    let fork = json(&out)["session"].as_str().unwrap().to_string();
    let (_, pe) = read(&env.path(&parent));
    let (fh, fe) = read(&env.path(&fork));
    let point = fh["fork"]["events"].as_u64().unwrap() as usize;
    assert_eq!(fh["fork"]["edited"], true);
    assert_eq!(
        fh["workflow"]["origin"],
        std::fs::canonicalize(&file).unwrap().to_str().unwrap()
    );
    assert!(
        fh["workflow"]["text"]
            .as_str()
            .unwrap()
            .contains("Shipped: {{input}}")
    );
    assert_not_redone(&pe[..point], &fe[point..]);
    assert_eq!(of_type(&fe[point..], "llm_request").count(), 0);
}
