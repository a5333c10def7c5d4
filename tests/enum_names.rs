//! The names enums print are part of session files, events and messages:
//! each must stay exactly what it was, and agree with its serde name where
//! it has one (a renamed variant would break old sessions).

use agentctl::event::{Command, StepUntil, TaskState};
use agentctl::workflow::diagnostics::Severity;
use agentctl::workflow::policy::budget::OnExhausted;
use serde_json::{Value, json};

fn serde_name(v: impl serde::Serialize) -> String {
    match serde_json::to_value(v).expect("serialises") {
        Value::String(s) => s,
        other => panic!("not a string: {other}"),
    }
}

#[test]
fn task_states_print_their_session_names() {
    let all = [
        (TaskState::Pending, "PENDING"),
        (TaskState::Planning, "PLANNING"),
        (TaskState::InProgress, "IN_PROGRESS"),
        (TaskState::Review, "REVIEW"),
        (TaskState::Revision, "REVISION"),
        (TaskState::Completed, "COMPLETED"),
        (TaskState::Failed, "FAILED"),
        (TaskState::Paused, "PAUSED"),
        (TaskState::Cancelled, "CANCELLED"),
    ];
    for (state, name) in all {
        assert_eq!(state.as_str(), name);
        assert_eq!(serde_name(state), name);
    }
}

#[test]
fn command_names_are_their_wire_tags() {
    let all = [
        Command::Pause { task: None },
        Command::Resume { task: None },
        Command::Retry { task: "t".into() },
        Command::Reroute {
            task: "t".into(),
            agent: "a".into(),
        },
        Command::Cancel { task: None },
        Command::GateDecision {
            gate: "g".into(),
            approve: true,
            comment: None,
        },
        Command::Emit {
            topic: "x".into(),
            payload: json!(null),
        },
        Command::SetBudget {
            agent: None,
            node: None,
            tokens: Some(1),
            usd: None,
        },
        Command::Step {
            node: None,
            until: StepUntil::Round,
        },
        Command::SetStepMode { on: true },
    ];
    let names: Vec<&str> = all.iter().map(Command::name).collect();
    assert_eq!(
        names,
        [
            "pause",
            "resume",
            "retry",
            "reroute",
            "cancel",
            "gate_decision",
            "emit",
            "set_budget",
            "step",
            "set_step_mode"
        ]
    );
    for c in &all {
        let wire = serde_json::to_value(c).expect("serialises");
        assert_eq!(wire["command"], c.name(), "{c:?}");
    }
}

#[test]
fn budget_and_severity_names_are_as_written_in_files() {
    assert_eq!(OnExhausted::Pause.as_str(), "pause");
    assert_eq!(OnExhausted::Fail.as_str(), "fail");
    assert_eq!(OnExhausted::Degrade.as_str(), "degrade");
    for (s, name) in [(Severity::Error, "error"), (Severity::Warning, "warning")] {
        assert_eq!(s.as_str(), name);
        assert_eq!(serde_name(s), name);
    }
}

#[test]
fn vote_protocols_and_fallbacks_print_the_names_files_write() {
    use agentctl::workflow::kinds::vote::{Fallback, Protocol, QuorumMode};
    let protocols = [
        (Protocol::Majority, "majority"),
        (Protocol::Plurality, "plurality"),
        (Protocol::Unanimity, "unanimity"),
        (
            Protocol::Quorum {
                k: 2,
                mode: QuorumMode::Agreement,
            },
            "quorum",
        ),
        (Protocol::Weighted, "weighted"),
        (Protocol::Ranked, "ranked"),
        (Protocol::Bft { f: 1 }, "bft"),
    ];
    for (p, name) in protocols {
        assert_eq!(p.name(), name);
    }
    let fallbacks = [
        (Fallback::Fail, "fail"),
        (Fallback::AnotherRound, "another_round"),
        (Fallback::Gate, "gate"),
        (Fallback::Judge, "judge"),
    ];
    for (f, name) in fallbacks {
        assert_eq!(f.name(), name);
    }
}
