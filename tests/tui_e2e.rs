//! End to end: the real `agentctl tui` binary in a real terminal (tmux).
//!
//! Drives `tests/fixtures/workflows/tui_two_gates.toml` (two gates in a row,
//! 150 ms sim latencies): the panes show, the run starts paused and `p`
//! resumes it, a single `a` approves the first gate, `p` pauses while nothing
//! waits, `d` + a typed comment + Ctrl-S denies the second gate (the comment
//! reaches the revised prompt), `a` approves the revision, and `q` leaves
//! with the terminal restored (normal screen, shell output visible).
//!
//! A second run steps the built-in debate with `n` (`agentctl tui
//! builtin:debate --step`): the debate pane shows what waits, each `n` adds
//! exactly one turn to the round table, `s` switches step mode off and the
//! judge's decision appears; `q` then leaves with exit code 0.
//!
//! A third cancels a held failure in a `parallel` that joins all
//! (`tests/fixtures/workflows/tui_cancel_held.toml`): the badge says what
//! waits, the confirm dialog says the run will end cancelled, and after `y`
//! the task row and the badge show CANCELLED and the exit code is 3.
//!
//! Every wait polls `capture-pane` against a deadline (no fixed sleeps), and
//! a drop guard kills the private tmux server even when an assertion fails.

mod tmux;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tmux::Tmux;

/// Longest wait for one screen state (generous for a loaded 2-core CI).
const STEP_TIMEOUT: Duration = Duration::from_secs(8);
const WIDTH: u16 = 140;
const HEIGHT: u16 = 40;

fn status_line(screen: &str) -> &str {
    screen.lines().last().unwrap_or_default()
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workflows/tui_two_gates.toml")
}

#[test]
fn cockpit_drives_a_run_with_two_gates_and_restores_the_terminal() {
    let started = Instant::now();
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_agentctl");
    let cmd = format!(
        "'{bin}' tui '{}' --paused --no-mouse; echo \"AGENTCTL-EXIT=$?\"; sleep 60",
        fixture().display()
    );
    // Config, data and state dirs in a temp home: no user files read or written.
    let env = [
        ("HOME", home.path()),
        ("XDG_CONFIG_HOME", home.path()),
        ("XDG_DATA_HOME", home.path()),
        ("XDG_STATE_HOME", home.path()),
    ];
    let t = Tmux::start(&cmd, &env, (WIDTH, HEIGHT)).patience(STEP_TIMEOUT);

    // Panes show; the run waits, paused, for `p`.
    let s = t.wait_for("the panes and the PAUSED badge", |s| {
        s.contains("PAUSED") && s.contains("Graph") && s.contains("Tasks")
    });
    for pane in [
        "1 Graph",
        "2 Bus",
        "3 Tasks",
        "4 Detail",
        "5 Budgets",
        "6 Debate",
    ] {
        assert!(s.contains(pane), "pane {pane} missing:\n{s}");
    }
    assert_eq!(
        t.display("#{alternate_on}"),
        "1",
        "the cockpit uses the alternate screen"
    );

    // Resume: the first gate's review comes up by itself.
    t.keys(&["p"]);
    let s = t.wait_text("first_gate · Approve the outline? · revision");
    assert!(
        s.contains("Gate review") && s.contains("WAITING FOR YOU"),
        "{s}"
    );
    assert!(
        s.contains("Draft of Outline the release notes"),
        "artifact shown:\n{s}"
    );

    // `p` works under the review: pause, then one `a` approves. Paused, the
    // second step is not dispatched, so the badge settles on PAUSED.
    t.keys(&["p"]);
    t.wait_text("sent pause");
    t.keys(&["a"]);
    let s = t.wait_for("PAUSED after the approval", |s| {
        status_line(s).contains("PAUSED") && !s.contains("Gate review")
    });
    assert!(s.contains("first_gate") && !s.contains("⚑"), "{s}");

    // Resume: the second gate comes up; deny it with a comment.
    t.keys(&["p"]);
    t.wait_text("second_gate · Approve the text? · revision 0");
    t.keys(&["d"]);
    t.wait_text("Deny with a comment");
    t.literal("add the migration steps");
    t.keys(&["C-s"]);
    // The text is written again with the comment as feedback, and the gate
    // re-opens for the revision.
    let s = t.wait_text("second_gate · Approve the text? · revision 1");
    assert!(
        s.contains("visit 1"),
        "the revised draft is under review:\n{s}"
    );
    t.keys(&["Escape", "2"]);
    t.wait_text("Feedback so far: add the migration steps");
    t.keys(&["a"]);
    t.wait_for("DONE", |s| status_line(s).contains("DONE"));

    // The run is over: `q` leaves at once and the shell sees exit code 0.
    t.keys(&["q"]);
    let s = t.wait_text("AGENTCTL-EXIT=0");
    assert!(s.contains("the run succeeded"), "{s}");
    assert!(
        !s.contains("Gate review"),
        "the cockpit's screen is gone:\n{s}"
    );
    assert_eq!(t.display("#{alternate_on}"), "0", "alternate screen left");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

/// The debate pane's table row of turn `n` (`#2  ben ...`).
#[test]
fn cockpit_runs_the_readme_command_agent_pipeline() {
    // Programs as agents (a Python script and a shell script) behind a sim
    // writer: the cockpit must start them, not refuse a provider `command`.
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_agentctl");
    let wf = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/agents/pipeline.toml");
    let cmd = format!(
        "'{bin}' tui '{}' --no-mouse; echo \"AGENTCTL-EXIT=$?\"; sleep 60",
        wf.display()
    );
    let env = [
        ("HOME", home.path()),
        ("XDG_CONFIG_HOME", home.path()),
        ("XDG_DATA_HOME", home.path()),
        ("XDG_STATE_HOME", home.path()),
    ];
    let t = Tmux::start(&cmd, &env, (WIDTH, HEIGHT)).patience(STEP_TIMEOUT);
    let s = t.wait_for("the pipeline to finish", |s| {
        status_line(s).contains("DONE")
    });
    assert!(!s.contains("not configured"), "{s}");
    for task in ["draft", "shout", "count"] {
        assert!(s.contains(task), "task {task} missing:\n{s}");
    }
    t.keys(&["q"]);
    let s = t.wait_text("AGENTCTL-EXIT=0");
    assert!(s.contains("the run succeeded"), "{s}");
    assert_eq!(t.display("#{alternate_on}"), "0", "alternate screen left");
}

#[test]
fn cancelling_a_held_task_shows_cancelled() {
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_agentctl");
    let wf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workflows/tui_cancel_held.toml");
    let cmd = format!(
        "'{bin}' tui '{}' --no-mouse; echo \"AGENTCTL-EXIT=$?\"; sleep 60",
        wf.display()
    );
    let env = [
        ("HOME", home.path()),
        ("XDG_CONFIG_HOME", home.path()),
        ("XDG_DATA_HOME", home.path()),
        ("XDG_STATE_HOME", home.path()),
    ];
    let t = Tmux::start(&cmd, &env, (WIDTH, HEIGHT)).patience(STEP_TIMEOUT);
    // The failure is held: the badge says so, never RUNNING.
    let s = t.wait_for("the held failure", |s| {
        status_line(s).contains("WAITING FOR YOU · held failure: b")
    });
    assert!(status_line(&s).contains("c cancel"), "{s}");
    // Select b in the task list (the live task a is followed): the Detail
    // pane follows the selection.
    t.keys(&["3"]);
    let selected = |s: &str| s.contains("✗ b  FAILED");
    for key in ["j", "k", "j"] {
        if selected(&t.screen()) {
            break;
        }
        t.keys(&[key]);
        std::thread::sleep(Duration::from_millis(200));
    }
    t.wait_for("task b selected", selected);
    let s = t.screen();
    assert!(s.contains("held"), "{s}");
    t.keys(&["c"]);
    let s = t.wait_text("Confirm");
    assert!(
        s.replace("║\n", " ").contains("joins all"),
        "the dialog says what the cancel does:\n{s}"
    );
    assert!(s.contains("run ends") && s.contains("cancelled"), "{s}");
    t.keys(&["y"]);
    let s = t.wait_for("the run to end cancelled", |s| {
        status_line(s).contains("CANCELLED")
    });
    assert!(
        s.lines()
            .any(|l| l.contains(" b ") && l.contains("CANCELLED")),
        "the task row shows CANCELLED:\n{s}"
    );
    assert!(!status_line(&s).contains("r retry"), "{s}");
    t.keys(&["q"]);
    let s = t.wait_text("AGENTCTL-EXIT=");
    assert!(s.contains("AGENTCTL-EXIT=3"), "cancelled runs exit 3:\n{s}");
}

fn has_turn(screen: &str, n: u32, speaker: &str) -> bool {
    let tag = format!("#{n}");
    screen.lines().any(|l| {
        let mut words = l.trim_start_matches(['┃', '│', ' ']).split_whitespace();
        words.next() == Some(tag.as_str()) && words.next() == Some(speaker)
    })
}

#[test]
fn cockpit_steps_a_debate_turn_by_turn_with_n() {
    let started = Instant::now();
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_agentctl");
    let cmd = format!(
        "'{bin}' tui builtin:debate --step --no-mouse; echo \"AGENTCTL-EXIT=$?\"; sleep 60"
    );
    let env = [
        ("HOME", home.path()),
        ("XDG_CONFIG_HOME", home.path()),
        ("XDG_DATA_HOME", home.path()),
        ("XDG_STATE_HOME", home.path()),
    ];
    let t = Tmux::start(&cmd, &env, (WIDTH, HEIGHT)).patience(STEP_TIMEOUT);
    t.wait_text("3 Tasks");
    // Focus and zoom the debate pane: the table, and what waits for `n`.
    t.keys(&["6", "z"]);
    let s = t.wait_text("▶ next: turn by ana · choose_store round 1 · waits for n");
    assert!(!has_turn(&s, 1, "ana"), "nothing spoke yet:\n{s}");
    assert!(status_line(&s).contains("step mode"), "{s}");

    // Each `n` lets exactly one debater speak, then the next one waits.
    for (turn, speaker, next) in [(1, "ana", "ben"), (2, "ben", "cleo"), (3, "cleo", "dev")] {
        t.keys(&["n"]);
        let s = t.wait_for(
            &format!("turn {turn} by {speaker}, then {next} waiting"),
            |s| has_turn(s, turn, speaker) && s.contains(&format!("▶ next: turn by {next}")),
        );
        assert!(
            !has_turn(&s, turn + 1, next),
            "one step is one turn, the next waits:\n{s}"
        );
    }

    // `s` switches step mode off: the debate runs out and the judge decides.
    t.keys(&["s"]);
    let s = t.wait_for("the decision and DONE", |s| {
        s.contains("✔ decision") && status_line(s).contains("DONE")
    });
    assert!(has_turn(&s, 12, "dev"), "three rounds of four turns:\n{s}");
    assert!(s.contains("judge:judge"), "{s}");
    assert!(!s.contains("▶ next:"), "nothing waits any more:\n{s}");

    t.keys(&["q"]);
    let s = t.wait_text("AGENTCTL-EXIT=0");
    assert!(s.contains("the run succeeded"), "{s}");
    assert_eq!(t.display("#{alternate_on}"), "0", "alternate screen left");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn ctrl_z_suspends_to_the_shell_quit_asks_and_ctrl_c_always_works() {
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_agentctl");
    let env = [
        ("HOME", home.path()),
        ("XDG_CONFIG_HOME", home.path()),
        ("XDG_DATA_HOME", home.path()),
        ("XDG_STATE_HOME", home.path()),
    ];
    // A key override from the user's config file: quit moves to `Q`.
    let config = home.path().join("agentctl");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.toml"), "[keys]\nquit = \"Q\"\n").unwrap();
    // An interactive shell, for job control (Ctrl-Z, fg).
    let t = Tmux::start(
        "env PS1='e2e$ ' bash --norc --noprofile -i",
        &env,
        (WIDTH, HEIGHT),
    )
    .patience(STEP_TIMEOUT);
    t.wait_text("e2e$");
    t.literal(&format!("'{bin}' tui '{}' --paused", fixture().display()));
    t.keys(&["Enter"]);
    let s = t.wait_for("PAUSED", |s| status_line(s).contains("PAUSED"));
    assert!(
        status_line(&s).contains("Q quit"),
        "override shown in the hints:\n{s}"
    );

    // Ctrl-Z hands the terminal back to the shell, restored...
    t.keys(&["C-z"]);
    t.wait_text("Stopped");
    assert_eq!(
        t.display("#{alternate_on}"),
        "0",
        "suspended on the normal screen"
    );
    // ...and `fg` brings the cockpit back, redrawn.
    t.literal("fg");
    t.keys(&["Enter"]);
    t.wait_for("the cockpit back", |s| {
        status_line(s).contains("PAUSED") && s.contains("3 Tasks")
    });
    assert_eq!(t.display("#{alternate_on}"), "1");

    t.keys(&["Q"]);
    t.wait_for("the quit question", |s| {
        s.contains("Confirm") && status_line(s).contains("y yes")
    });
    t.keys(&["n"]);
    t.wait_for("the dialog to close", |s| !s.contains("Confirm"));
    t.keys(&["C-c"]);
    t.wait_text("left the cockpit while the run was live");
    // Leaving a live run is an interruption: exit code 3.
    t.literal("echo \"AGENTCTL-EXIT=$?\"");
    t.keys(&["Enter"]);
    t.wait_text("AGENTCTL-EXIT=3");
    assert_eq!(t.display("#{alternate_on}"), "0");
    // The log went to the state dir, never to the screen.
    let log = std::fs::read_to_string(home.path().join("agentctl/tui.log")).unwrap_or_default();
    assert!(log.contains("cockpit starting"), "log: {log}");
    assert!(log.contains("suspended"), "log: {log}");
}

/// The event index in a replay's status bar (`event 12/255`).
fn replay_index(screen: &str) -> usize {
    let line = status_line(screen);
    let at = line.find("event ").map(|i| i + "event ".len());
    at.and_then(|i| line[i..].split('/').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no replay position in the status bar:\n{screen}"))
}

#[test]
fn replay_plays_pauses_steps_jumps_seeks_and_quits() {
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_agentctl");
    let session = Path::new(env!("CARGO_MANIFEST_DIR")).join("sessions/demo.jsonl");
    // Half speed: the 5 s demo plays for 10 s, so the pause lands mid-way.
    let cmd = format!(
        "'{bin}' replay '{}' --speed 0.5 --no-mouse; echo \"AGENTCTL-EXIT=$?\"; sleep 60",
        session.display()
    );
    let env = [
        ("HOME", home.path()),
        ("XDG_CONFIG_HOME", home.path()),
        ("XDG_DATA_HOME", home.path()),
        ("XDG_STATE_HOME", home.path()),
    ];
    let t = Tmux::start(&cmd, &env, (WIDTH, HEIGHT)).patience(STEP_TIMEOUT);

    // It plays: the badge, the ▶ indicator and the speed.
    let s = t.wait_for("the replay playing", |s| {
        let l = status_line(s);
        l.contains("REPLAY") && l.contains("▶ 0.5×") && l.contains("/255")
    });
    assert!(s.contains("3 Tasks"), "{s}");

    // Space pauses where it is; the position then holds.
    t.keys(&["Space"]);
    let s = t.wait_for("paused", |s| status_line(s).contains("⏸"));
    let at = replay_index(&s);
    assert!(at < 255, "paused before the end:\n{s}");
    // Step forward and back one event.
    t.keys(&["."]);
    t.wait_text(&format!("event {}/255", at + 1));
    t.keys(&[","]);
    t.wait_text(&format!("event {at}/255"));

    // Jump to the gate: it shows as waiting; deciding it is refused.
    t.keys(&["]"]);
    let s = t.wait_for("the gate", |s| {
        status_line(s).contains("WAITING FOR YOU") && status_line(s).contains("⚑ 1 gate")
    });
    let gate = replay_index(&s);
    t.keys(&["a"]);
    t.wait_text("replay is read-only");
    // Step back past the gate and jump to it again.
    t.keys(&[","]);
    t.wait_for("before the gate", |s| {
        !status_line(s).contains("WAITING FOR YOU")
    });
    t.keys(&["]"]);
    t.wait_text(&format!("event {gate}/255"));

    // Seek by typing an event number, then to the end.
    t.keys(&["T"]);
    t.wait_text("seek to");
    t.literal("#10");
    t.keys(&["Enter"]);
    t.wait_text("event 10/255");
    t.keys(&["T"]);
    t.literal("end");
    t.keys(&["Enter"]);
    t.wait_for("the end", |s| {
        status_line(s).contains("event 255/255") && status_line(s).contains("DONE")
    });

    // `q` leaves at once (a replay changes nothing) with the terminal restored.
    t.keys(&["q"]);
    t.wait_text("AGENTCTL-EXIT=0");
    assert_eq!(t.display("#{alternate_on}"), "0", "alternate screen left");
}
