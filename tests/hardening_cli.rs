//! The CLI items of the hardening issue, driven through the real binary
//! with real processes, pipes, signals, terminals (tmux) and files:
//! closed pipes (5), budget pauses headless and on a terminal (7), control
//! characters (18), the tui log's mode (19), `sessions rm` of a live
//! session (20), SIGTERM/SIGHUP (22), `--config` for `[keys]` (25), and
//! diagnostics floods (26).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use tmux::Tmux;

mod child;
mod tmux;

use child::{agentctl, finish, run, stderr, write};

/// Polls `pred` until it holds or `what` times out.
fn wait_until(what: &str, limit: Duration, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The only session file in `dir`.
fn session_file(dir: &Path) -> Option<PathBuf> {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert!(files.len() <= 1, "more than one session in {dir:?}");
    files.into_iter().next()
}

/// The event lines of a session file (the header and snapshots skipped).
fn events(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("seq").is_some())
        .collect()
}

fn has_event(file: &Path, kind: &str) -> bool {
    events(file).iter().any(|e| e["type"] == kind)
}

fn id_of(file: &Path) -> String {
    file.file_stem().unwrap().to_string_lossy().into_owned()
}

/// One agent whose only call takes 30 s: the run is live while the test
/// acts on it.
const SLOW: &str = r#"
[workflow]
name = "slow"
input = "x"

[[agents]]
id = "a"
role = "executor"
sim = { template = "ok", latency_ms = 30000 }

[[nodes]]
id = "main"
kind = "agent"
agent = "a"
prompt = "{{input}}"
"#;

/// Two calls; the second would pass the run's 1,100-token budget (a call
/// reserves its prompt plus `max_tokens`), and the workflow pauses then.
fn budget_workflow() -> String {
    let reply: Vec<String> = (0..100).map(|i| format!("word{i}")).collect();
    format!(
        r#"
[workflow]
name = "budget-pause"
input = "topic"

[budget]
tokens = 1100
on_exhausted = "pause"

[[agents]]
id = "a"
role = "executor"
max_tokens = 1000
sim = {{ template = "{}", latency_ms = 10 }}

[[nodes]]
id = "main"
kind = "sequence"
steps = ["one", "two"]

[[nodes]]
id = "one"
kind = "agent"
agent = "a"
prompt = "first {{{{input}}}}"

[[nodes]]
id = "two"
kind = "agent"
agent = "a"
prompt = "second {{{{input}}}}"
"#,
        reply.join(" ")
    )
}

// ── tmux: a real terminal ──

/// A shell command line for tmux: `env` set, then `agentctl ARGS`, its exit
/// code written to `rc` (and its pid to `pid`) when given.
fn shell_line(env: &[(&str, &Path)], args: &[&str], pid: Option<&Path>, rc: &Path) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = String::new();
    for (k, v) in env {
        line.push_str(&format!("{k}={} ", quote(&v.display().to_string())));
    }
    let bin = quote(env!("CARGO_BIN_EXE_agentctl"));
    let args: Vec<String> = args.iter().map(|a| quote(a)).collect();
    let inner = format!("{bin} {}", args.join(" "));
    let inner = match pid {
        // `exec` keeps the shell's pid, so the pid written is agentctl's.
        Some(p) => format!(
            "sh -c {}",
            quote(&format!(
                "echo $$ > {}; exec {inner}",
                quote(&p.display().to_string())
            ))
        ),
        None => inner,
    };
    line.push_str(&format!(
        "{inner}; echo $? > {}; sleep 60",
        quote(&rc.display().to_string())
    ));
    line
}

fn read_rc(rc: &Path) -> Option<i32> {
    std::fs::read_to_string(rc).ok()?.trim().parse().ok()
}

fn wait_rc(rc: &Path) -> i32 {
    wait_until("the exit code", Duration::from_secs(30), || {
        read_rc(rc).is_some()
    });
    read_rc(rc).unwrap()
}

// ── 5. a closed stdout or stderr ends a command quietly ──

/// Which stream gets a pipe whose read end is already closed.
#[derive(Clone, Copy, Debug)]
enum Closed {
    Stdout,
    Stderr,
}

fn with_closed(mut c: Command, closed: Closed) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    match closed {
        Closed::Stdout => c.stdout(writer),
        Closed::Stderr => c.stderr(writer),
    };
    // `finish` reads the stream left open.
    finish(c.spawn().expect("spawn"), Duration::from_secs(60))
}

#[test]
fn every_subcommand_ends_quietly_on_a_closed_stdout_or_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let sessions = tmp.path().join("sessions");
    // A recorded session for show, export, replay, resume and rm.
    let recorded = run({
        let mut c = agentctl(&sessions);
        c.args(["run", "builtin:pipeline"]);
        c
    });
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let file = session_file(&sessions).expect("a session was recorded");
    let id = id_of(&file);
    let copy = |n: &str| {
        let p = tmp.path().join(format!("{n}.jsonl"));
        std::fs::copy(&file, &p).unwrap();
        p.display().to_string()
    };
    let commands: Vec<Vec<String>> = [
        vec!["tui", "builtin:pipeline", "--no-record"],
        vec!["run", "builtin:pipeline", "--no-record"],
        vec!["run", "builtin:pipeline", "--no-record", "--json"],
        vec!["run", "--list"],
        vec!["validate", "builtin:demo", "/no/such/file.toml"],
        vec!["graph", "builtin:demo"],
        vec!["resume", &id, "--json"],
        vec!["resume", &id],
        vec!["replay", &id],
        vec!["sessions", "list"],
        vec!["sessions", "list", "--json"],
        vec!["sessions", "show", &id],
        vec!["sessions", "export", &id, "--format", "md"],
        vec!["sessions", "export", &id, "--format", "json"],
        vec!["sessions", "prune", "--older-than", "0s", "--dry-run"],
        vec!["sessions", "show", "no-such-session"],
        vec!["providers", "list"],
        vec!["providers", "check", "sim"],
        vec!["--help"],
        vec!["run", "--no-such-flag"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    let mut n = 0;
    for closed in [Closed::Stdout, Closed::Stderr] {
        for args in &commands {
            let mut c = agentctl(&sessions);
            c.args(args);
            let out = with_closed(c, closed);
            let seen = String::from_utf8_lossy(match closed {
                Closed::Stdout => &out.stderr,
                Closed::Stderr => &out.stdout,
            })
            .into_owned();
            assert_ne!(
                out.status.code(),
                Some(101),
                "agentctl {args:?} with a closed {closed:?} panicked:\n{seen}"
            );
            assert!(out.status.code().is_some(), "{args:?}: killed by a signal");
            assert!(!seen.contains("panicked"), "{args:?} ({closed:?}):\n{seen}");
            n += 1;
        }
        // rm deletes: one copy per stream.
        let target = copy(&format!("rm-{closed:?}"));
        let mut c = agentctl(&sessions);
        c.args(["sessions", "rm", &target]);
        let out = with_closed(c, closed);
        assert_ne!(out.status.code(), Some(101), "sessions rm ({closed:?})");
        assert_eq!(out.status.code(), Some(0), "sessions rm ({closed:?})");
        assert!(
            !Path::new(&target).exists(),
            "the session was still removed"
        );
    }
    assert!(n >= 40);

    // The same through a real shell pipeline that stops reading after one
    // line, as a user types it: the pipeline's status is agentctl's.
    for args in [
        format!("sessions show {id}"),
        "sessions list".to_string(),
        format!("sessions export {id} --format md"),
    ] {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; '{}' {args} | head -1",
                env!("CARGO_BIN_EXE_agentctl")
            ))
            .env("AGENTCTL_SESSION_DIR", &sessions)
            .env_remove("AGENTCTL_LOG")
            .env_remove("AGENTCTL_CONFIG")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("bash runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "agentctl {args} | head -1: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    }
}

// ── 7. `on_exhausted = "pause"`: asked on a terminal, refused without ──

#[test]
fn a_budget_pause_asks_on_a_terminal_and_the_answer_raises_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let sessions = tmp.path().join("sessions");
    let wf = write(tmp.path(), "budget.toml", &budget_workflow());
    let rc = tmp.path().join("rc");
    let t = Tmux::start(
        &shell_line(
            &[("AGENTCTL_SESSION_DIR", &sessions)],
            &["run", wf.to_str().unwrap()],
            None,
            &rc,
        ),
        &[],
        (160, 40),
    );
    let screen = t.wait_text("new limit for run");
    assert!(screen.contains("budget run ran out"), "{screen}");
    assert!(screen.contains("of 1100 tokens"), "{screen}");
    // Still paused while nobody answered.
    assert!(read_rc(&rc).is_none());
    // A wrong answer asks again; a count raises the run's limit.
    t.line("lots");
    t.wait_text("is not a token count");
    t.line("5k");
    assert_eq!(wait_rc(&rc), 0, "{}", t.screen());
    let file = session_file(&sessions).unwrap();
    let evs = events(&file);
    assert!(
        evs.iter()
            .any(|e| e["type"] == "budget_updated" && e["limit_tokens"] == 5000),
        "no budget_updated to 5000"
    );
    let end = evs.iter().find(|e| e["type"] == "session_ended").unwrap();
    assert_eq!(end["status"], "succeeded");
    assert_eq!(
        evs.iter().filter(|e| e["type"] == "task_completed").count(),
        2
    );
}

#[test]
fn a_budget_pause_without_a_terminal_is_refused_at_start_in_run_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let sessions = tmp.path().join("sessions");
    let wf = write(tmp.path(), "budget.toml", &budget_workflow());
    for json in [false, true] {
        let mut c = agentctl(&sessions);
        c.args(["run", wf.to_str().unwrap()]);
        if json {
            c.arg("--json");
        }
        let out = finish(c.spawn().unwrap(), Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("on_exhausted = \"pause\""), "{err}");
        assert!(err.contains("no terminal"), "{err}");
        assert!(
            session_file(&sessions).is_none(),
            "refused before recording"
        );
    }
    // A session interrupted at the question (on a terminal) cannot be
    // resumed headless either.
    let rc = tmp.path().join("rc");
    let pid = tmp.path().join("pid");
    let t = Tmux::start(
        &shell_line(
            &[("AGENTCTL_SESSION_DIR", &sessions)],
            &["run", wf.to_str().unwrap()],
            Some(&pid),
            &rc,
        ),
        &[],
        (160, 40),
    );
    t.wait_text("new limit for run");
    let pid: i32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert_eq!(wait_rc(&rc), 3, "{}", t.screen());
    let file = session_file(&sessions).unwrap();
    assert!(has_event(&file, "session_ended"));
    let mut c = agentctl(&sessions);
    c.args(["resume", &id_of(&file)]);
    let out = finish(c.spawn().unwrap(), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("on_exhausted = \"pause\""),
        "{}",
        stderr(&out)
    );
}

// ── 18. control characters from files never reach the terminal raw ──

#[test]
fn control_characters_in_a_workflow_name_are_not_printed_raw() {
    let tmp = tempfile::tempdir().unwrap();
    let sessions = tmp.path().join("sessions");
    let evil = SLOW
        .replace(
            r#"name = "slow""#,
            r#"name = "evil\u001b]0;owned\u0007\u001b[2J\r""#,
        )
        .replace("latency_ms = 30000", "latency_ms = 5");
    let wf = write(tmp.path(), "evil.toml", &evil);
    let mut c = agentctl(&sessions);
    c.args(["run", wf.to_str().unwrap()]);
    let ran = run(c);
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    let file = session_file(&sessions).expect("recorded");
    // The recording keeps the name as written; only output filters it.
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains(r"evil\u001b")
    );
    let id = id_of(&file);
    let mut outputs = vec![("run", ran)];
    for args in [
        vec!["sessions", "list"],
        vec!["sessions", "show", &id],
        vec!["sessions", "export", &id],
        vec!["resume", &id],
    ] {
        let mut c = agentctl(&sessions);
        c.args(&args);
        outputs.push((args[1], run(c)));
    }
    for (what, out) in &outputs {
        for bytes in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !bytes.iter().any(|&b| b == 0x1b || b == 0x07 || b == b'\r'),
                "{what} printed a control character: {text:?}"
            );
        }
    }
    let list = String::from_utf8_lossy(&outputs[1].1.stdout).into_owned();
    assert!(list.contains("evil\u{FFFD}]0;owned"), "{list}");
    let show = String::from_utf8_lossy(&outputs[2].1.stdout).into_owned();
    assert!(show.contains("workflow  evil\u{FFFD}"), "{show}");
}

// ── 20. `sessions rm` honours the recorder's lock ──

#[test]
fn sessions_rm_refuses_a_session_that_is_being_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let sessions = tmp.path().join("sessions");
    let wf = write(tmp.path(), "slow.toml", SLOW);
    let mut c = agentctl(&sessions);
    c.args(["run", wf.to_str().unwrap()]);
    let child = c.spawn().unwrap();
    let mut file = None;
    wait_until("the run to record", Duration::from_secs(30), || {
        file = session_file(&sessions);
        file.as_deref()
            .is_some_and(|f| has_event(f, "task_state_changed"))
    });
    let file = file.unwrap();
    let id = id_of(&file);
    let mut rm = agentctl(&sessions);
    rm.args(["sessions", "rm", &id]);
    let out = run(rm);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("being recorded"), "{}", stderr(&out));
    assert!(file.exists(), "a live session was deleted");
    let mut prune = agentctl(&sessions);
    prune.args(["sessions", "prune", "--older-than", "0s"]);
    let out = run(prune);
    assert!(stderr(&out).contains("being recorded"), "{}", stderr(&out));
    assert!(file.exists(), "prune deleted a live session");
    // Once the recorder is done, the same command deletes it.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let ended = finish(child, Duration::from_secs(30));
    assert_eq!(ended.status.code(), Some(3), "{}", stderr(&ended));
    let mut rm = agentctl(&sessions);
    rm.args(["sessions", "rm", &id]);
    let out = run(rm);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!file.exists());
}

// ── 22. SIGTERM and SIGHUP end run, resume and tui like SIGINT ──

/// Starts `args` on the slow workflow, waits until it has recorded its
/// first task, sends `signal`, and returns the output and session file.
fn signalled(sessions: &Path, args: &[&str], signal: i32) -> (Output, PathBuf) {
    let mut c = agentctl(sessions);
    c.args(args);
    let before: usize = session_file(sessions).map_or(0, |f| events(&f).len());
    let child = c.spawn().unwrap();
    let mut file = None;
    wait_until("the run to start", Duration::from_secs(30), || {
        file = session_file(sessions);
        file.as_deref().is_some_and(|f| {
            events(f)
                .iter()
                .skip(before)
                .any(|e| e["type"] == "task_state_changed")
        })
    });
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    (finish(child, Duration::from_secs(20)), file.unwrap())
}

fn assert_ended_interrupted(file: &Path, runs: usize) {
    let evs = events(file);
    let ends: Vec<&Value> = evs
        .iter()
        .filter(|e| e["type"] == "session_ended")
        .collect();
    assert_eq!(ends.len(), runs, "session_ended per run");
    assert_eq!(ends[runs - 1]["status"], "interrupted");
    assert_eq!(evs.last().unwrap()["type"], "session_ended");
}

#[test]
fn sigterm_and_sighup_end_run_and_resume_with_a_summary_and_session_ended() {
    for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")] {
        let tmp = tempfile::tempdir().unwrap();
        let sessions = tmp.path().join("sessions");
        let wf = write(tmp.path(), "slow.toml", SLOW);
        // Plain progress lines.
        let (out, file) = signalled(&sessions, &["run", wf.to_str().unwrap()], signal);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{name}: {err}");
        assert!(
            err.contains(&format!("{name}: interrupting the run")),
            "{err}"
        );
        assert!(
            err.contains("interrupted in"),
            "no summary after {name}: {err}"
        );
        assert!(err.contains("recorded in"), "{err}");
        assert_ended_interrupted(&file, 1);
        // resume, with the JSON summary.
        let id = id_of(&file);
        let (out, same) = signalled(&sessions, &["resume", &id, "--json"], signal);
        assert_eq!(same, file);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        let summary: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: no JSON summary ({e}): {}", stderr(&out)));
        assert_eq!(summary["status"], "interrupted");
        assert_eq!(summary["session"], id.as_str());
        assert_ended_interrupted(&file, 2);
    }
}

#[test]
fn sigterm_ends_the_cockpit_cleanly_and_its_log_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let sessions = tmp.path().join("sessions");
    let state = tmp.path().join("state");
    let wf = write(tmp.path(), "slow.toml", SLOW);
    let (rc, pid) = (tmp.path().join("rc"), tmp.path().join("pid"));
    let t = Tmux::start(
        &shell_line(
            &[
                ("AGENTCTL_SESSION_DIR", &sessions),
                ("XDG_STATE_HOME", &state),
                ("XDG_CONFIG_HOME", tmp.path()),
            ],
            &["tui", wf.to_str().unwrap()],
            Some(&pid),
            &rc,
        ),
        &[],
        (160, 40),
    );
    let mut file = None;
    wait_until("the cockpit's run", Duration::from_secs(30), || {
        file = session_file(&sessions);
        file.as_deref()
            .is_some_and(|f| has_event(f, "task_state_changed"))
    });
    t.wait_text("slow");
    let pid: i32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert_eq!(wait_rc(&rc), 3, "{}", t.screen());
    assert_ended_interrupted(&file.unwrap(), 1);
    let screen = t.screen();
    assert!(
        screen.contains("left the cockpit while the run was live"),
        "{screen}"
    );
    let log = state.join("agentctl/tui.log");
    let mode = std::fs::metadata(&log)
        .expect("tui.log")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "tui.log is {:o}", mode & 0o777);
}

// ── 25. the cockpit reads `[keys]` from --config ──

#[test]
fn the_cockpit_takes_its_keys_from_the_config_given() {
    let tmp = tempfile::tempdir().unwrap();
    let sessions = tmp.path().join("sessions");
    let config = write(tmp.path(), "mine.toml", "[keys]\nquit = \"not-a-key\"\n");
    let rc = tmp.path().join("rc");
    let t = Tmux::start(
        &shell_line(
            &[
                ("AGENTCTL_SESSION_DIR", &sessions),
                // The default config dir holds nothing: only --config can fail.
                ("XDG_CONFIG_HOME", &tmp.path().join("empty")),
                ("XDG_STATE_HOME", &tmp.path().join("state")),
            ],
            &[
                "tui",
                "builtin:pipeline",
                "--no-record",
                "--config",
                config.to_str().unwrap(),
            ],
            None,
            &rc,
        ),
        &[],
        (160, 40),
    );
    assert_eq!(wait_rc(&rc), 2, "{}", t.screen());
    let screen = t.screen();
    assert!(screen.contains("mine.toml:2:"), "{screen}");
    assert!(screen.contains("not-a-key"), "{screen}");
}

// ── 26. a flood of diagnostics, a huge value ──

#[test]
fn fifty_thousand_errors_show_fifty_and_a_count_in_linear_time() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "[workflow]\nname = \"big\"\n\n[[agents]]\nid = \"a\"\nrole = \"executor\"\n\n\
         [[nodes]]\nid = \"main\"\nkind = \"sequence\"\nsteps = [\"n0\"]\n",
    );
    for i in 0..50_000 {
        text.push_str(&format!(
            "\n[[nodes]]\nid = \"n{i}\"\nkind = \"agent\"\nagent = \"zz{i}\"\n"
        ));
    }
    let wf = write(tmp.path(), "big.toml", &text);
    let mut c = agentctl(tmp.path());
    c.args(["validate", wf.to_str().unwrap()]);
    // A liveness bound, not a speed test: the quadratic version ran for
    // minutes on this file.
    let out = finish(c.spawn().unwrap(), Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(
        err.matches("error: unknown agent").count(),
        50,
        "{}",
        &err[..500]
    );
    assert!(err.contains("big.toml:16:9"), "{}", &err[..500]);
    assert!(
        err.trim_end()
            .ends_with("…and 49,950 more (50,000 errors in all)"),
        "{}",
        &err[err.len().saturating_sub(300)..]
    );
    assert!(err.len() < 50_000, "{} bytes", err.len());
}

#[test]
fn a_ten_megabyte_value_is_quoted_in_part() {
    let tmp = tempfile::tempdir().unwrap();
    let value = "q".repeat(10_000_000);
    let text = format!(
        "[workflow]\nname = \"x\"\n\n[[agents]]\nid = \"a\"\nrole = \"executor\"\n\n\
         [[nodes]]\nid = \"main\"\nkind = \"agent\"\nagent = \"{value}\"\n"
    );
    let wf = write(tmp.path(), "long.toml", &text);
    let mut c = agentctl(tmp.path());
    c.args(["validate", wf.to_str().unwrap()]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.len() < 4_000, "{} bytes echoed", err.len());
    assert!(err.contains("long.toml:11:9"), "{err}");
    assert!(
        err.contains(&format!("unknown agent `{}…`", "q".repeat(200))),
        "{err}"
    );
}
