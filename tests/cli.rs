//! The real binary: run, validate, graph, exit codes, --json.

use std::process::{Command, Output};

use serde_json::Value;

fn agentctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args(args)
        // Runs are recorded: keep test sessions out of the user's data dir.
        .env(
            "AGENTCTL_SESSION_DIR",
            std::env::temp_dir().join("agentctl-cli-test-sessions"),
        )
        .output()
        .expect("run agentctl")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

const BUILTINS: &[&str] = &[
    "demo",
    "pipeline",
    "parallel",
    "all_settled",
    "on_error",
    "validate",
    "swarm",
    "chat",
    "scatter_gather",
    "hierarchical",
    "dependent_plan",
    "router",
    "state_machine",
    "event_driven",
    "research_report",
    "chaos",
    "debate",
    "consensus",
];

#[test]
fn every_builtin_runs_headless_with_a_json_summary() {
    for name in BUILTINS {
        let w = format!("builtin:{name}");
        let out = agentctl(&["run", &w, "--json", "--auto-approve"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json(&out);
        assert_eq!(v["status"], "succeeded", "{name}");
        assert_eq!(v["workflow"], *name);
        assert!(
            v["tasks_completed"].as_u64().unwrap_or(0) >= 2,
            "{name}: {v}"
        );
        // all_settled keeps its one failed branch; on_error's handler takes
        // over from the step that failed.
        let failed = if ["all_settled", "on_error"].contains(name) {
            1
        } else if *name == "swarm" {
            // The scout that is down fails its two rounds on one item.
            2
        } else {
            0
        };
        assert_eq!(v["tasks_failed"], failed, "{name}");
        assert!(v["tokens"]["total"].as_u64().unwrap_or(0) > 0);
        assert!(v["wall_ms"].as_f64().unwrap_or(0.0) > 0.0);
        assert!(!v["outputs"].is_null(), "{name}");
    }
}

#[test]
fn the_same_seed_gives_the_same_output() {
    let a = json(&agentctl(&[
        "run",
        "builtin:demo",
        "--json",
        "--auto-approve",
        "--seed",
        "7",
    ]));
    let b = json(&agentctl(&[
        "run",
        "builtin:demo",
        "--json",
        "--auto-approve",
        "--seed",
        "7",
    ]));
    assert_eq!(a["outputs"], b["outputs"]);
    assert_eq!(a["tokens"], b["tokens"]);
}

#[test]
fn plain_lines_when_not_on_a_terminal() {
    let out = agentctl(&["run", "builtin:pipeline"]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("done    research by researcher"), "{err}");
    assert!(err.contains("succeeded in"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Draft:"));
}

#[test]
fn a_gate_without_a_terminal_or_auto_approve_is_refused_up_front() {
    let out = agentctl(&["run", "builtin:demo"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--auto-approve") && err.contains("agentctl tui"),
        "{err}"
    );
}

#[test]
fn a_failing_workflow_exits_1_with_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fail.toml");
    std::fs::write(
        &path,
        "[workflow]\nname = \"fail\"\n[[agents]]\nid = \"a\"\nsim = { fail_first = 1 }\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n",
    )
    .unwrap();
    let out = agentctl(&["run", path.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["status"], "failed");
    assert_eq!(v["tasks_failed"], 1);
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("injected server error")
    );
}

#[test]
fn bad_input_exits_2_and_says_where() {
    let out = agentctl(&["run", "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/file.toml"));

    let out = agentctl(&["run", "builtin:nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("scatter_gather"),
        "lists the built-ins"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[workflow]\nname = \"b\"\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"ghost\"\n",
    )
    .unwrap();
    let out = agentctl(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:6:9"), "{err}");
    assert!(err.contains("unknown agent `ghost`"), "{err}");

    let out = agentctl(&["run"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing argument is a usage error"
    );
    let out = agentctl(&["graph", "builtin:demo", "--format", "png"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn validate_and_graph_accept_every_example() {
    let mut args = vec!["validate".to_string()];
    for entry in
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/workflows")).unwrap()
    {
        args.push(entry.unwrap().path().to_string_lossy().into_owned());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).matches("ok: ").count(),
        BUILTINS.len()
    );
    for name in BUILTINS {
        let w = format!("builtin:{name}");
        let dot = agentctl(&["graph", &w, "--format", "dot"]);
        assert_eq!(dot.status.code(), Some(0));
        let text = String::from_utf8_lossy(&dot.stdout);
        assert!(
            text.starts_with("digraph") && text.trim_end().ends_with('}'),
            "{name}: {text}"
        );
        let mermaid = agentctl(&["graph", &w, "--format", "mermaid"]);
        assert!(
            String::from_utf8_lossy(&mermaid.stdout).starts_with("flowchart"),
            "{name}"
        );
    }
}

#[test]
fn list_and_help_and_version() {
    let out = agentctl(&["run", "--list"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        BUILTINS.len()
    );
    for sub in ["run", "validate", "graph", "tui"] {
        let out = agentctl(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Examples:"),
            "{sub} --help has examples"
        );
    }
    let out = agentctl(&["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("agentctl "));
}

#[test]
fn the_tui_without_a_terminal_points_to_run() {
    let out = agentctl(&["tui"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("agentctl run"));
}
