//! End to end in a real terminal (tmux): an MCP server declared with
//! `approve = true` makes its tool call wait at a gate in the cockpit; the
//! gate review shows the call, a single `a` approves it, the real
//! server-everything (stdio, installed by `scripts/mcp-servers`) answers,
//! and the run ends DONE with the tool's result recorded in the session.

mod tmux;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tmux::Tmux;

fn servers() -> HashMap<String, String> {
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mcp-servers"))
        .arg("paths")
        .output()
        .expect("scripts/mcp-servers runs");
    assert!(
        out.status.success(),
        "scripts/mcp-servers paths failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn an_approve_mcp_tool_call_waits_at_a_gate_in_the_cockpit_and_a_approves_it() {
    let paths = servers();
    let home = tempfile::tempdir().unwrap();
    let wf = home.path().join("approve.toml");
    std::fs::write(
        &wf,
        format!(
            r#"
[workflow]
name = "mcp-approve"
input = "say it"

[mcp.ev]
command = [{node}, {ev}, "stdio"]
approve = true

[[agents]]
id = "speaker"
tools = ["mcp:ev/echo"]
sim = {{ template = "said it", tool_calls = [
  {{ tool = "mcp:ev/echo", arguments = {{ message = "approved with a key" }} }},
] }}

[[nodes]]
id = "speak"
kind = "agent"
agent = "speaker"
title = "Speak through MCP"
"#,
            node = q(&paths["NODE"]),
            ev = q(&paths["EVERYTHING"]),
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_agentctl");
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
    // Node starting the server takes a few seconds on a loaded machine.
    let t = Tmux::start(&cmd, &env, (140, 40)).patience(Duration::from_secs(30));

    let s = t.wait_for("the MCP call's gate", |s| {
        s.contains("WAITING FOR YOU") && s.contains("ev/echo")
    });
    assert!(s.contains("Gate review"), "{s}");
    assert!(
        s.contains("approved with a key"),
        "the call's arguments are shown:\n{s}"
    );
    assert!(
        s.contains("\"mcp\""),
        "the artifact says it is an MCP call:\n{s}"
    );

    t.keys(&["a"]);
    t.wait_for("DONE", |s| {
        s.lines().last().unwrap_or_default().contains("DONE")
    });
    t.keys(&["q"]);
    t.wait_text("AGENTCTL-EXIT=0");

    // The approved call reached the real server and its answer is recorded.
    let dir = home.path().join("agentctl/sessions");
    let file = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no session dir {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("a session file");
    let text = std::fs::read_to_string(file).unwrap();
    let result: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["type"] == "tool_result")
        .expect("a tool_result event");
    assert_eq!(result["ok"], true, "{result}");
    assert!(
        result["output"]
            .as_str()
            .unwrap()
            .contains("approved with a key"),
        "{result}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("\"gate_decided\"") && l.contains("\"approved\":true")),
        "the gate was decided by the key"
    );
}
