//! End to end: the Graph pane in the real `agentctl tui` binary in a real
//! terminal (tmux). `builtin:state_machine` runs to the end on the sim
//! provider; then, with the Graph pane focused, `j` selects node after node
//! and the Detail pane follows (it shows a task of the selected node), `e`
//! switches to the agents' traffic and back, and `q` leaves with exit 0.
//!
//! Every wait polls `capture-pane` against a deadline (no fixed sleeps), and
//! a drop guard kills the private tmux server even when an assertion fails.

mod tmux;

use std::time::Duration;

use tmux::Tmux;

/// Longest wait for one screen state (generous for a loaded 2-core CI).
const STEP_TIMEOUT: Duration = Duration::from_secs(8);

fn status_line(screen: &str) -> &str {
    screen.lines().last().unwrap_or_default()
}

/// The Detail pane's "node X · agent Y" line names node `node`.
fn detail_shows_node(screen: &str, node: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains(&format!("node {node} · agent")))
}

#[test]
fn selecting_a_node_in_the_graph_moves_detail_to_its_task() {
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_agentctl");
    let cmd = format!(
        "'{bin}' tui builtin:state_machine --no-mouse; echo \"AGENTCTL-EXIT=$?\"; sleep 60"
    );
    let env = [
        ("HOME", home.path()),
        ("XDG_CONFIG_HOME", home.path()),
        ("XDG_DATA_HOME", home.path()),
        ("XDG_STATE_HOME", home.path()),
    ];
    let t = Tmux::start(&cmd, &env, (140, 40)).patience(STEP_TIMEOUT);
    // Starting and finishing the run gets a longer wait than one key: a
    // loaded machine can take seconds to bring up the first screen.
    let s = t.wait_within("the run to finish", Duration::from_secs(30), |s| {
        status_line(s).contains("DONE")
    });
    assert!(s.contains("investigate loop"), "the layered graph:\n{s}");
    assert!(s.contains('↺'), "the loop's back edge:\n{s}");

    // Focus the graph; the first j selects the loop, the next its states.
    t.keys(&["1", "j"]);
    t.wait_text("Graph · state_machine · ▸ investigate");
    t.keys(&["j"]);
    let s = t.wait_text("Graph · state_machine · ▸ research");
    let s = if detail_shows_node(&s, "research") {
        s
    } else {
        t.wait_for("Detail on a research task", |s| {
            detail_shows_node(s, "research")
        })
    };
    assert!(!detail_shows_node(&s, "write"), "{s}");
    t.keys(&["j"]);
    t.wait_text("Graph · state_machine · ▸ analyse");
    t.wait_for("Detail on an analyse task", |s| {
        detail_shows_node(s, "analyse")
    });
    t.keys(&["j"]);
    t.wait_text("Graph · state_machine · ▸ write");
    t.wait_for("Detail on the write task", |s| {
        detail_shows_node(s, "write")
    });

    // e: the agents and their traffic; e again: the workflow.
    t.keys(&["e"]);
    let s = t.wait_text("Agents · state_machine");
    assert!(s.contains("orchestrator") && s.contains("msg"), "{s}");
    t.keys(&["e"]);
    t.wait_text("Graph · state_machine");

    t.keys(&["q"]);
    t.wait_text("AGENTCTL-EXIT=0");
}
