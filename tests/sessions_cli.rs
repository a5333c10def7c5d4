//! Sessions through the real binary: the crash test (kill -9, resume),
//! secrets, permissions, and `sessions list/show/export/rm/prune`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const CRASH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/crash_600.toml");
const DEMO_SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sessions/demo.jsonl");
const DEBATE_SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sessions/debate.jsonl");

fn agentctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args(args)
        .env("AGENTCTL_SESSION_DIR", dir)
        .env_remove("OPENAI_API_KEY")
        .output()
        .expect("run agentctl")
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

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn session_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The events of a session file (snapshot lines are not events).
fn events_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("seq").is_some())
        .collect()
}

#[test]
fn a_killed_run_resumes_without_redoing_work_and_ends_like_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (clean, crashed) = (tmp.path().join("clean"), tmp.path().join("crashed"));

    let full = agentctl(&clean, &["run", CRASH, "--seed", "7", "--json"]);
    ok(&full);
    let full = json(&full);
    assert_eq!(full["tasks_completed"], 602);

    // Start the same run and kill -9 it once a good part is done.
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args(["run", CRASH, "--seed", "7", "--json"])
        .env("AGENTCTL_SESSION_DIR", &crashed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let file = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never got going"
        );
        if let Some(f) = session_files(&crashed).into_iter().next() {
            let done = std::fs::read_to_string(&f)
                .unwrap_or_default()
                .matches("\"type\":\"task_completed\"")
                .count();
            if done >= 150 {
                break f;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Frozen where it is (SIGSTOP), so it cannot finish while this test,
    // slow on a loaded machine, checks the lock; then killed as it stands.
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGSTOP) };
    // While it runs, resuming it is refused: one writer per session file.
    let id = file.file_stem().unwrap().to_str().unwrap().to_string();
    let live = agentctl(&crashed, &["resume", &id, "--json"]);
    assert_eq!(live.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&live.stderr).contains("another agentctl process"),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = events_of(&file);
    assert!(
        before.iter().all(|e| e["type"] != "session_ended"),
        "the run finished before it was killed; nothing was tested"
    );
    let done_before: HashSet<String> = before
        .iter()
        .filter(|e| e["type"] == "task_completed")
        .map(|e| e["task"].as_str().unwrap().to_string())
        .collect();
    assert!(done_before.len() < 602);

    let resumed = agentctl(&crashed, &["resume", &id[..12], "--json"]);
    ok(&resumed);
    let resumed = json(&resumed);
    assert_eq!(resumed["status"], "succeeded");
    assert_eq!(resumed["session"], id.as_str());
    assert_eq!(resumed["outputs"], full["outputs"], "the output differs");
    assert_eq!(resumed["tasks_completed"], 602);

    // One file, one session: no task completed twice, no completed task
    // called again, seq continuous.
    assert_eq!(session_files(&crashed).len(), 1);
    let all = events_of(&file);
    let mut completions: HashMap<&str, u32> = HashMap::new();
    for e in all.iter().filter(|e| e["type"] == "task_completed") {
        *completions.entry(e["task"].as_str().unwrap()).or_default() += 1;
    }
    assert_eq!(completions.len(), 602);
    assert!(
        completions.values().all(|&n| n == 1),
        "a task completed twice"
    );
    let after = &all[before.len()..];
    let recalled: Vec<&str> = after
        .iter()
        .filter(|e| e["type"] == "llm_request")
        .map(|e| e["task"].as_str().unwrap())
        .filter(|t| done_before.contains(*t))
        .collect();
    assert!(
        recalled.is_empty(),
        "completed tasks ran again: {recalled:?}"
    );
    let calls = all.iter().filter(|e| e["type"] == "llm_request").count();
    assert!((602..602 + 16).contains(&calls), "{calls} provider calls");
    for w in all.windows(2) {
        assert_eq!(
            w[0]["seq"].as_u64().unwrap() + 1,
            w[1]["seq"].as_u64().unwrap()
        );
    }

    // Resuming a finished session says so and succeeds.
    let again = agentctl(&crashed, &["resume", &id]);
    ok(&again);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already finished"));
}

#[test]
fn resume_refuses_a_changed_workflow_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let flow = tmp.path().join("flow.toml");
    let text = std::fs::read_to_string(CRASH).unwrap();
    std::fs::write(&flow, &text).unwrap();
    let dir = tmp.path().join("s");
    // Record, then cut the file back as if the run had crashed early.
    ok(&agentctl(&dir, &["run", flow.to_str().unwrap(), "--json"]));
    let file = session_files(&dir).pop().unwrap();
    let lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .take(40)
        .map(str::to_string)
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n{\"seq\":40,\"ts\":1").unwrap();
    std::fs::write(&flow, text.replace("count = 600", "count = 601")).unwrap();
    let out = agentctl(&dir, &["resume", file.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("changed since") && err.contains("--force"),
        "{err}"
    );
    assert!(
        err.contains("cut off mid-write"),
        "the torn line is reported: {err}"
    );
    let out = agentctl(
        &dir,
        &["resume", file.to_str().unwrap(), "--json", "--force"],
    );
    ok(&out);
    assert_eq!(json(&out)["tasks_completed"], 603);
}

#[test]
fn no_session_file_or_export_contains_an_api_key() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = "sk-MARKER-5b1f0c9e";
    let out = Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args(["run", "builtin:demo", "--auto-approve", "--json"])
        .env("AGENTCTL_SESSION_DIR", tmp.path())
        .env("OPENAI_API_KEY", marker)
        .output()
        .unwrap();
    ok(&out);
    let file = session_files(tmp.path()).pop().unwrap();
    let id = file.file_stem().unwrap().to_str().unwrap();
    let mut everything = std::fs::read_to_string(&file).unwrap();
    for format in ["md", "json"] {
        let e = agentctl(tmp.path(), &["sessions", "export", id, "--format", format]);
        ok(&e);
        everything.push_str(&String::from_utf8_lossy(&e.stdout));
    }
    everything.push_str(&String::from_utf8_lossy(&out.stdout));
    everything.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(everything.len() > 10_000);
    assert!(!everything.contains(marker), "the API key leaked");
}

#[cfg(unix)]
#[test]
fn sessions_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/sessions");
    ok(&agentctl(&dir, &["run", "builtin:pipeline", "--json"]));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let file = session_files(&dir).pop().unwrap();
    assert_eq!(mode(&file), 0o600);
}

#[test]
fn sessions_list_show_export_rm_and_prune() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(&agentctl(d, &["run", "builtin:pipeline", "--json"]));
    std::thread::sleep(Duration::from_millis(1100)); // ids sort by second
    ok(&agentctl(
        d,
        &["run", "builtin:demo", "--auto-approve", "--json"],
    ));
    let ids: Vec<String> = session_files(d)
        .iter()
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);

    // list: newest first, with the columns.
    let list = agentctl(d, &["sessions", "list", "--json"]);
    ok(&list);
    let rows = json(&list);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows[0]["workflow"], "demo");
    assert_eq!(rows[1]["workflow"], "pipeline");
    assert_eq!(rows[0]["status"], "succeeded");
    assert_eq!(rows[0]["tasks"], 22);
    assert!(rows[0]["tokens"].as_u64().unwrap() > 0);
    let table = agentctl(d, &["sessions", "list"]);
    ok(&table);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("ID ") && table.contains("pipeline") && table.contains("22/22"));

    // show: summary, agents, task tree, gates.
    let show = agentctl(d, &["sessions", "show", &ids[1]]);
    ok(&show);
    let show = String::from_utf8_lossy(&show.stdout);
    for needle in [
        "workflow  demo",
        "AGENT",
        "planner",
        "work/review#0",
        "ship (revision 0) approved",
    ] {
        assert!(show.contains(needle), "`{needle}` missing from:\n{show}");
    }

    // export: Markdown and JSON.
    let md = agentctl(d, &["sessions", "export", &ids[1], "--format", "md"]);
    ok(&md);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("## Gate decisions") && md.contains("Input:") && md.contains("## Workflow")
    );
    let js = agentctl(d, &["sessions", "export", &ids[0], "--format", "json"]);
    ok(&js);
    let js = json(&js);
    assert_eq!(js["workflow"]["name"], "pipeline");
    assert_eq!(js["tasks"].as_array().unwrap().len(), 3);
    assert!(js["tasks"][0]["output"].is_string());

    // Unknown and ambiguous ids are clear errors.
    let bad = agentctl(d, &["sessions", "show", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no session `nope`"));

    // prune: nothing is 30 days old; everything is older than 0 seconds.
    ok(&agentctl(d, &["sessions", "prune", "--older-than", "30d"]));
    assert_eq!(session_files(d).len(), 2);
    let bad = agentctl(d, &["sessions", "prune", "--older-than", "3w"]);
    assert_eq!(bad.status.code(), Some(2));

    // rm by id.
    ok(&agentctl(d, &["sessions", "rm", &ids[0]]));
    assert_eq!(session_files(d).len(), 1);
    ok(&agentctl(d, &["sessions", "prune", "--older-than", "0s"]));
    assert!(session_files(d).is_empty());
}

#[test]
fn the_recorded_demo_sample_still_loads_and_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let show = agentctl(tmp.path(), &["sessions", "show", DEMO_SAMPLE]);
    ok(&show);
    let md = agentctl(
        tmp.path(),
        &["sessions", "export", DEMO_SAMPLE, "--format", "md"],
    );
    ok(&md);
    insta::assert_snapshot!("demo_session_markdown", String::from_utf8_lossy(&md.stdout));
}

#[test]
fn the_recorded_debate_sample_exports_its_transcript_and_tally() {
    let tmp = tempfile::tempdir().unwrap();
    let md = agentctl(
        tmp.path(),
        &["sessions", "export", DEBATE_SAMPLE, "--format", "md"],
    );
    ok(&md);
    let text = String::from_utf8_lossy(&md.stdout).to_string();
    assert!(text.contains("## Debate `choose_store`"), "{text}");
    assert!(
        text.contains("### Round 3") && text.contains("**Decision: clickhouse**"),
        "{text}"
    );
    insta::assert_snapshot!("debate_session_markdown", text);
    // The demo sample holds a debate and a vote: their sections export too.
    let demo = agentctl(
        tmp.path(),
        &["sessions", "export", DEMO_SAMPLE, "--format", "json"],
    );
    ok(&demo);
    let v = json(&demo);
    assert!(!v["debates"][0]["turns"].as_array().unwrap().is_empty());
    assert!(v["votes"][0]["results"][0]["reached"].as_bool().unwrap());
}

#[test]
fn run_without_recording_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    ok(&agentctl(
        tmp.path(),
        &["run", "builtin:pipeline", "--json", "--no-record"],
    ));
    assert!(session_files(tmp.path()).is_empty());
}

/// A run long enough to write snapshot lines: `show`, `export` and
/// `resume` read through them; a resumed cut file continues correctly.
#[test]
fn snapshot_lines_are_skipped_by_show_export_and_resume() {
    const FANOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/bench/fanout_5000.toml");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(&agentctl(d, &["run", FANOUT, "--json"]));
    let file = session_files(d).pop().unwrap();
    let id = file.file_stem().unwrap().to_str().unwrap().to_string();
    let text = std::fs::read_to_string(&file).unwrap();
    let snapshots = text
        .lines()
        .filter(|l| l.starts_with("{\"snapshot\":"))
        .count();
    let events = events_of(&file).len();
    assert!(
        snapshots >= 2,
        "{snapshots} snapshot lines in {events} events"
    );
    assert_eq!(snapshots, events / 16_384);

    let show = agentctl(d, &["sessions", "show", &id]);
    ok(&show);
    let show_text = String::from_utf8_lossy(&show.stdout);
    assert!(show_text.contains("5002 completed of 5002"), "{show_text}");
    assert!(
        !String::from_utf8_lossy(&show.stderr).contains("skipped"),
        "snapshot lines are not damaged lines"
    );
    let js = agentctl(d, &["sessions", "export", &id, "--format", "json"]);
    ok(&js);
    assert_eq!(json(&js)["tasks"].as_array().unwrap().len(), 5002);

    // Cut after the second snapshot, mid-line, as a crash would; resume.
    let lines: Vec<&str> = text.lines().collect();
    let second = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("{\"snapshot\":"))
        .nth(1)
        .unwrap()
        .0;
    let keep = second + 500;
    let mut cut = lines[..keep].join("\n");
    cut.push('\n');
    cut.push_str(&lines[keep][..20]);
    std::fs::write(&file, cut).unwrap();
    let before = events_of(&file);
    let resumed = agentctl(d, &["resume", &id, "--json"]);
    ok(&resumed);
    assert_eq!(json(&resumed)["tasks_completed"], 5002);
    let all = events_of(&file);
    assert_eq!(all[..before.len()], before[..]);
    let mut completions: HashMap<&str, u32> = HashMap::new();
    for e in all.iter().filter(|e| e["type"] == "task_completed") {
        *completions.entry(e["task"].as_str().unwrap()).or_default() += 1;
    }
    assert_eq!(completions.len(), 5002);
    assert!(
        completions.values().all(|&n| n == 1),
        "a task completed twice"
    );
    for w in all.windows(2) {
        assert_eq!(
            w[0]["seq"].as_u64().unwrap() + 1,
            w[1]["seq"].as_u64().unwrap()
        );
    }
    let list = agentctl(d, &["sessions", "list", "--json"]);
    ok(&list);
    assert_eq!(json(&list)[0]["status"], "succeeded");
}
