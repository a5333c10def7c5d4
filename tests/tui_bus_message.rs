//! End to end, in a real terminal (tmux): a bus message is found by the
//! filter past character 200 (the rows the filter keeps are the matches),
//! and Enter opens it in full, with its fields and its whole payload.
//!
//! Two messages are published from the cockpit itself (`i`, a topic line,
//! a payload, Ctrl-S) on the two-gates fixture, started paused so nothing
//! else reaches the bus.

mod tmux;

use std::path::Path;
use std::time::Duration;

use tmux::Tmux;

const STEP_TIMEOUT: Duration = Duration::from_secs(8);

/// Publishes `payload` on `topic` through the inject editor.
fn inject(t: &Tmux, topic: &str, payload: &str) {
    t.keys(&["i"]);
    t.wait_text("topic");
    t.literal(topic);
    t.keys(&["Enter"]);
    t.literal(payload);
    t.keys(&["C-s"]);
    t.wait_text("sent emit");
}

#[test]
fn the_filter_finds_a_match_past_character_200_and_enter_opens_the_message() {
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_agentctl");
    let wf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workflows/tui_two_gates.toml");
    let cmd = format!(
        "'{bin}' tui '{}' --paused --no-mouse; echo \"AGENTCTL-EXIT=$?\"; sleep 60",
        wf.display()
    );
    let env = [
        ("HOME", home.path()),
        ("XDG_CONFIG_HOME", home.path()),
        ("XDG_DATA_HOME", home.path()),
        ("XDG_STATE_HOME", home.path()),
    ];
    let t = Tmux::start(&cmd, &env, (140, 40)).patience(STEP_TIMEOUT);
    t.wait_text("PAUSED");

    // A short message, then one whose marker sits at character 221.
    inject(&t, "notes.short", "nothing to see");
    let far = format!("{} FARMARK-221 end", "x".repeat(220));
    assert_eq!(far.find("FARMARK").map(|i| i + 1), Some(222));
    inject(&t, "notes.long", &far);
    t.keys(&["2"]);
    t.wait_text("2 Bus 2");

    // `/` keeps the rows that match, anywhere in the message.
    t.keys(&["/"]);
    t.wait_text("filter bus /");
    t.literal("farmark-221");
    t.keys(&["Enter"]);
    let s = t.wait_text("Bus 1/2 /farmark-221");
    assert!(
        !s.contains("nothing to see"),
        "only the match is kept:\n{s}"
    );

    // Enter opens the kept row in full: fields and the whole payload.
    t.keys(&["Enter"]);
    let s = t.wait_text("Bus message");
    for want in [
        "topic notes.long",
        "from user",
        "correlation",
        "FARMARK-221 end",
    ] {
        assert!(s.contains(want), "{want} missing:\n{s}");
    }
    // Esc closes it; the filter is still on.
    t.keys(&["Escape"]);
    let s = t.wait_for("the message closed", |s| !s.contains("Bus message"));
    assert!(s.contains("Bus 1/2 /farmark-221"), "{s}");

    t.keys(&["C-c"]);
    t.wait_text("AGENTCTL-EXIT=");
}
