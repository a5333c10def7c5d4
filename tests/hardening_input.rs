//! Input hardening (issue 14, items 3, 4, 10, 14, 24, 27): deep nesting,
//! sim parameter ranges, non-regular and huge files, foreign sessions that
//! would run code, damaged sessions and replay without provider settings,
//! each driven through the real binary with real files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use tmux::Tmux;

mod child;
mod tmux;

use child::{agentctl, finish, stderr, stdout, write};

fn run(sessions: &Path, args: &[&str]) -> Output {
    let mut c = agentctl(sessions);
    c.args(args);
    child::run(c)
}

// ── 3. nesting depth ──

/// `depth` nodes, each a sequence holding the next, then one agent.
fn chain(depth: usize) -> String {
    let mut t = String::from("[workflow]\nname = \"deep\"\n\n[[agents]]\nid = \"a\"\n\n");
    for i in 0..depth - 1 {
        t.push_str(&format!(
            "[[nodes]]\nid = \"s{i}\"\nkind = \"sequence\"\nsteps = [\"s{}\"]\n\n",
            i + 1
        ));
    }
    t.push_str(&format!(
        "[[nodes]]\nid = \"s{}\"\nkind = \"agent\"\nagent = \"a\"\n",
        depth - 1
    ));
    t
}

#[test]
fn deep_nesting_is_refused_by_validate_graph_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let wf = write(dir.path(), "deep.toml", &chain(800));
    let wf = wf.to_str().unwrap();
    for cmd in ["validate", "graph", "run"] {
        let out = run(dir.path(), &[cmd, wf]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(err.contains("nested 800 deep"), "{cmd}: {err}");
        assert!(err.contains("deep.toml:"), "{cmd}: {err}");
        assert!(err.contains("hint"), "{cmd}: {err}");
    }
}

#[test]
fn the_deepest_allowed_nesting_runs() {
    let dir = tempfile::tempdir().unwrap();
    let wf = write(dir.path(), "deep.toml", &chain(100));
    let out = run(dir.path(), &["run", wf.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"succeeded\""), "{}", stdout(&out));
}

// ── 4. sim parameters ──

#[test]
fn out_of_range_sim_parameters_are_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    for (i, sim) in [
        "spike_rate = 1\nspike_ms = inf",
        "spike_rate = 1\nspike_ms = 1e300",
        "plan_size = 100000000",
        "reply_words = 4294967295",
        "latency_ms = inf",
    ]
    .iter()
    .enumerate()
    {
        let text = format!(
            "[workflow]\nname = \"s\"\n\n[[agents]]\nid = \"a\"\nrole = \"planner\"\n[agents.sim]\n{sim}\n\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n"
        );
        let wf = write(dir.path(), &format!("sim{i}.toml"), &text);
        let out = run(dir.path(), &["run", wf.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{sim}: {err}");
        let key = sim.lines().last().unwrap().split(' ').next().unwrap();
        assert!(err.contains(&format!("`{key}`")), "{sim}: {err}");
        let line = 7 + sim.lines().count();
        assert!(
            err.contains(&format!("sim{i}.toml:{line}:")),
            "{sim}: {err}"
        );
    }
    let timer = "[workflow]\nname = \"t\"\n\n[[agents]]\nid = \"a\"\n\n[[nodes]]\nid = \"tick\"\nkind = \"on\"\nevery_ms = 9223372036854775807\nbody = \"n\"\n\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n";
    let wf = write(dir.path(), "timer.toml", timer);
    let out = run(dir.path(), &["run", wf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("timer.toml:10:"), "{}", stderr(&out));
}

/// Starts `agentctl ARGS` in a private tmux server, with HOME and the
/// config dirs in `dir` (no user config) and sessions in `sessions`. The
/// pane prints `cockpit exit=CODE` when it ends.
fn cockpit(dir: &Path, sessions: &Path, args: &[&str]) -> Tmux {
    start_in_tmux(dir, sessions, args, true)
}

/// As [`cockpit`]; `stderr_to_file` false leaves stderr on the terminal
/// (for prompts).
fn start_in_tmux(dir: &Path, sessions: &Path, args: &[&str], stderr_to_file: bool) -> Tmux {
    let redirect = if stderr_to_file {
        format!("2>{}", dir.join("stderr").display())
    } else {
        String::new()
    };
    let cmd = format!(
        "{} {} {redirect}; echo \"cockpit exit=$?\"; sleep 60",
        env!("CARGO_BIN_EXE_agentctl"),
        args.join(" "),
    );
    let (config, data) = (dir.join("config"), dir.join("data"));
    let env = [
        ("HOME", dir),
        ("XDG_CONFIG_HOME", config.as_path()),
        ("XDG_DATA_HOME", data.as_path()),
        ("AGENTCTL_SESSION_DIR", sessions),
    ];
    Tmux::start(&cmd, &env, (120, 40)).patience(Duration::from_secs(30))
}

/// Presses `q` and returns the screen once the cockpit ended.
fn quit(t: &Tmux, dir: &Path) -> String {
    t.keys(&["q"]);
    let screen = t.wait_text("cockpit exit=");
    let err = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    format!("{screen}\n--- stderr:\n{err}")
}

#[test]
fn the_cockpit_runs_the_deepest_allowed_nesting_and_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let wf = write(dir.path(), "deep.toml", &chain(100));
    // The cockpit's engine runs on tokio workers, whose stacks were too
    // small for this depth: it aborted with the terminal left raw.
    let t = cockpit(dir.path(), dir.path(), &["tui", wf.to_str().unwrap()]);
    t.wait_text("COMPLETED");
    let screen = quit(&t, dir.path());
    assert!(screen.contains("cockpit exit=0"), "{screen}");
    // Back on the normal screen: none of the cockpit's panes remain.
    assert!(!screen.contains("Graph"), "{screen}");
}

// ── 10. non-regular and huge files ──

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn workflow_loaders_refuse_fifos_devices_and_huge_files() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("flow.toml");
    mkfifo(&fifo);
    let huge = dir.path().join("huge.toml");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len((16 << 20) + 1).unwrap();
    for (path, words) in [
        (
            fifo.to_str().unwrap(),
            "a FIFO (named pipe), not a regular file",
        ),
        ("/dev/zero", "a character device, not a regular file"),
        (huge.to_str().unwrap(), "larger than 16 MiB"),
    ] {
        for cmd in ["validate", "run", "graph"] {
            // Each must answer at once: a FIFO used to block, /dev/zero to
            // grow until the kernel killed it.
            let out = run(dir.path(), &[cmd, path]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {path}: {err}");
            assert!(err.contains(words), "{cmd} {path}: {err}");
            assert!(err.contains("hint"), "{cmd} {path}: {err}");
        }
    }
}

#[test]
fn a_fifo_as_config_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("config.toml");
    mkfifo(&fifo);
    let out = run(
        dir.path(),
        &[
            "run",
            "builtin:pipeline",
            "--config",
            fifo.to_str().unwrap(),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("FIFO"), "{err}");
}

#[test]
fn sessions_list_skips_a_fifo_in_the_session_directory() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    let out = run(&sessions, &["run", "builtin:pipeline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    mkfifo(&sessions.join("0-trap.jsonl"));
    let out = run(&sessions, &["sessions", "list", "--json"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("0-trap.jsonl") && err.contains("FIFO"),
        "{err}"
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
}

// ── 27. replay needs no provider settings ──

#[test]
fn replay_of_a_session_recorded_with_a_configured_provider_needs_no_config() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    // A provider from config.toml (nothing listens on port 9: the run
    // fails fast, and is recorded all the same).
    let cfg = write(
        dir.path(),
        "cfg.toml",
        "default_provider = \"local\"\n[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"tiny\"\n",
    );
    let wf = write(
        dir.path(),
        "wf.toml",
        "[workflow]\nname = \"recorded-with-local\"\n\n[[agents]]\nid = \"writer\"\n\n[[agents]]\nid = \"named\"\nprovider = \"local\"\n\n[[nodes]]\nid = \"main\"\nkind = \"sequence\"\nsteps = [\"a\", \"b\"]\n\n[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\n\n[[nodes]]\nid = \"b\"\nkind = \"agent\"\nagent = \"named\"\n",
    );
    let out = run(
        &sessions,
        &[
            "run",
            wf.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let file = std::fs::read_dir(&sessions)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // The workflow file is gone too: replay uses the recorded text.
    std::fs::remove_file(&wf).unwrap();
    let t = cockpit(
        dir.path(),
        &sessions,
        &["replay", "--paused", file.to_str().unwrap()],
    );
    t.wait_text("recorded-with-local");
    let screen = quit(&t, dir.path());
    assert!(screen.contains("cockpit exit=0"), "{screen}");
    assert!(!screen.contains("unknown provider"), "{screen}");
}

// ── 14. resume of a foreign session ──

/// `agentctl` whose user data directory (the session key's home) is `data`.
fn as_user(sessions: &Path, data: &Path) -> Command {
    let mut c = agentctl(sessions);
    c.env("XDG_DATA_HOME", data)
        .env("HOME", data)
        .env("XDG_CONFIG_HOME", data.join("config"));
    c
}

fn output(mut c: Command, args: &[&str]) -> Output {
    let child = c.args(args).spawn().expect("spawn");
    finish(child, Duration::from_secs(60))
}

/// A session file as someone could send it: the header's workflow names a
/// file that does not exist here and embeds a command agent running `cmd`.
fn crafted_session(dir: &Path, cmd: &str) -> PathBuf {
    let text = format!(
        "[workflow]\nname = \"innocent\"\n\n[[agents]]\nid = \"helper\"\nkind = \"command\"\ncommand = {{ run = [\"sh\", \"-c\", {cmd:?}] }}\n\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"helper\"\n"
    );
    let header = serde_json::json!({
        "format": "agentctl-session",
        "version": 2,
        "agentctl": "0.1.0",
        "session": "1700000000-evil0",
        "started_at": 1_700_000_000_000_000u64,
        "workflow": {
            "name": "innocent",
            "origin": dir.join("innocent.toml").display().to_string(),
            "hash": "fnv1a64:0000000000000000",
            "text": text,
        },
        "seed": 0,
        "input": null,
        "providers": [],
        // A MAC someone else made proves nothing here.
        "mac": "hmac-sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    });
    let path = dir.join("1700000000-evil0.jsonl");
    std::fs::write(&path, format!("{header}\n")).unwrap();
    path
}

#[test]
fn a_crafted_session_does_not_run_its_code_without_trust() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let marker = dir.path().join("ran");
    let cmd = format!("id > {}", marker.display());
    let session = crafted_session(dir.path(), &cmd);
    let out = output(
        as_user(dir.path(), &data),
        &["resume", session.to_str().unwrap()],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        !marker.exists(),
        "the embedded command ran without --trust: {err}"
    );
    // The user is shown what would run, and how to allow it.
    assert!(err.contains("not recorded by your agentctl"), "{err}");
    assert!(
        err.contains(&format!(
            "command agent `helper` runs: \"sh\" \"-c\" {cmd:?}"
        )),
        "{err}"
    );
    assert!(err.contains("--trust"), "{err}");
    // With --trust it runs: the refusal above is what kept it from running.
    let out = output(
        as_user(dir.path(), &data),
        &["resume", session.to_str().unwrap(), "--trust"],
    );
    assert!(marker.exists(), "--trust did not run it: {}", stderr(&out));
    assert!(stderr(&out).contains("(--trust)"), "{}", stderr(&out));
}

#[test]
fn a_crafted_session_asks_on_a_terminal_and_a_no_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let session = crafted_session(dir.path(), &format!("id > {}", marker.display()));
    let t = start_in_tmux(
        dir.path(),
        dir.path(),
        &["resume", session.to_str().unwrap()],
        false,
    );
    let asked = t.wait_text("Run it? [y/N]");
    assert!(asked.contains("id > "), "{asked}");
    assert!(
        t.tmux(&["send-keys", "-t", "0", "n", "Enter"])
            .status
            .success()
    );
    let screen = t.wait_text("cockpit exit=");
    assert!(screen.contains("cockpit exit=2"), "{screen}");
    assert!(!marker.exists(), "{screen}");
}

/// Records `builtin:pipeline`-like work from a file, then cuts the session
/// back to its header (an interrupted run) and removes the file.
fn own_interrupted_session(dir: &Path, data: &Path) -> PathBuf {
    let sessions = dir.join("sessions");
    let wf = write(
        dir,
        "mine.toml",
        "[workflow]\nname = \"mine\"\n\n[[agents]]\nid = \"a\"\n\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n",
    );
    let out = output(as_user(&sessions, data), &["run", wf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = std::fs::read_dir(&sessions)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&file).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.contains("\"mac\":\"hmac-sha256:"), "{header}");
    std::fs::write(&file, format!("{header}\n")).unwrap();
    std::fs::remove_file(&wf).unwrap();
    file
}

#[test]
fn own_sessions_resume_without_asking_and_another_users_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let me = dir.path().join("me");
    let file = own_interrupted_session(dir.path(), &me);
    let sessions = dir.path().join("sessions");
    // Someone else (another key) gets the same file: it asks (refused here).
    let other = dir.path().join("other");
    let out = output(
        as_user(&sessions, &other),
        &["resume", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not recorded by your agentctl"),
        "{}",
        stderr(&out)
    );
    // The user who recorded it resumes it as is.
    let out = output(
        as_user(&sessions, &me),
        &["resume", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("--trust"), "{}", stderr(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = me.join("agentctl/session.key");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", key.display());
    }
}

// ── 24. damaged sessions ──

#[test]
fn an_inconsistent_session_reads_with_located_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["run", "builtin:pipeline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .unwrap();
    // The clean file has nothing to warn about.
    let out = run(dir.path(), &["sessions", "show", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));

    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let id: String = serde_json::from_str::<serde_json::Value>(&lines[0]).unwrap()["session"]
        .as_str()
        .unwrap()
        .to_string();
    let events: Vec<usize> = (1..lines.len())
        .filter(|&i| lines[i].starts_with("{\"seq\":"))
        .collect();
    let seq_of = |l: &str| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
            .as_u64()
            .unwrap()
    };
    // An event twice (a duplicate seq), seq = u64::MAX on the
    // event after, another session's id on the next, and a completion of
    // a task nobody created before the end. A torn tail stays tolerated.
    let (b, c) = (events[2], events[3]);
    let dup = lines[b].clone();
    lines.insert(b + 1, dup);
    let max = lines[c + 1].replacen(
        &format!("{{\"seq\":{},", seq_of(&lines[c + 1])),
        "{\"seq\":18446744073709551615,",
        1,
    );
    lines[c + 1] = max;
    let other = lines[c + 2].replacen(
        &format!("\"session\":\"{id}\""),
        "\"session\":\"someone-else\"",
        1,
    );
    lines[c + 2] = other;
    let last = seq_of(&lines[*events.last().unwrap() + 1]);
    lines.push(format!(
        "{{\"seq\":{},\"ts\":1,\"session\":\"{id}\",\"type\":\"task_completed\",\"task\":\"ghost\",\"from\":\"in_progress\",\"output\":\"x\",\"attempt\":1,\"usage\":{{\"prompt_tokens\":0,\"completion_tokens\":0}},\"duration_ms\":1.0}}",
        last + 1
    ));
    let damaged = dir.path().join("damaged.jsonl");
    std::fs::write(&damaged, format!("{}\n{{\"seq\":", lines.join("\n"))).unwrap();
    let out = run(dir.path(), &["sessions", "show", damaged.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let at = |line: usize| format!("damaged.jsonl:{line}: ");
    assert!(
        err.contains(&format!("{}duplicate `seq`", at(b + 2))),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}`seq` is 18446744073709551615", at(c + 2))),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}the event names another session, `someone-else`",
            at(c + 3)
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}completion of task `ghost`", at(lines.len()))),
        "{err}"
    );
    assert!(err.contains("the session is inconsistent"), "{err}");
    assert!(err.contains("cut off mid-write"), "{err}");
}
