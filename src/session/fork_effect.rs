//! Which `--set`s of a fork cannot change anything the fork will run: a
//! change to a node, or to an agent, whose work had all completed before
//! the fork point. That work keeps its recorded outputs (a fork never
//! redoes it), so such a change only matters if the work runs again — a
//! gate denied in the fork sends its subject back. The fork warns about
//! them instead of silently doing nothing with them.

use serde_json::Value;

use super::fold::SessionState;
use super::fork_edit::{SetArg, Touches};
use crate::event::NodeState;

/// One warning per change in `sets` that only touches work completed at
/// the fork point; `doc` is the changed workflow (see
/// [`super::fork_edit::document`]), `state` the parent's state at the point.
pub fn settled_changes(doc: &Value, state: &SessionState, sets: &[SetArg]) -> Vec<String> {
    let mut out = Vec::new();
    for s in sets {
        let users = match s.touches() {
            Touches::Node(id) => vec![id],
            Touches::Agent(id) => nodes_using(doc, &id),
            // The input and run-wide settings reach whatever runs next.
            Touches::Input | Touches::Run => continue,
        };
        let completed = |id: &String| {
            state
                .nodes
                .iter()
                .any(|n| *n.id == **id && n.state == NodeState::Completed)
        };
        if users.is_empty() || !users.iter().all(completed) {
            continue;
        }
        let names: Vec<String> = users.iter().map(|n| format!("`{n}`")).collect();
        out.push(format!(
            "--set {} only touches work that completed before the fork point (node{} {}): that work keeps its recorded outputs, so the change takes effect only if it runs again (a gate denied in the fork sends its work back)",
            s.path,
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        ));
    }
    out
}

/// The nodes that may give agent `agent` work: those that name it or one
/// of its capabilities, and plans when it has capabilities (a plan's
/// executors are picked by the capabilities its planner asks for).
fn nodes_using(doc: &Value, agent: &str) -> Vec<String> {
    let caps: Vec<&str> = doc["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["id"].as_str() == Some(agent))
        .and_then(|a| a["capabilities"].as_array())
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    doc["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| {
            (n["kind"].as_str() == Some("plan") && !caps.is_empty())
                || mentions(n, &|s| s == agent || caps.contains(&s))
        })
        .filter_map(|n| n["id"].as_str().map(str::to_string))
        .collect()
}

/// Whether any text value inside `v` satisfies `hit`.
fn mentions(v: &Value, hit: &dyn Fn(&str) -> bool) -> bool {
    match v {
        Value::String(s) => hit(s),
        Value::Array(items) => items.iter().any(|i| mentions(i, hit)),
        Value::Object(m) => m.values().any(|i| mentions(i, hit)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventKind, Id};
    use crate::session::Header;
    use crate::workflow::load::{Format, load_str};

    const DEMO: &str = include_str!("../../assets/workflows/demo.toml");

    fn state_with_completed(nodes: &[&str]) -> SessionState {
        let w = load_str(DEMO, "builtin:demo", Format::Toml)
            .unwrap()
            .workflow;
        let h = Header::new("s", &w, DEMO, "builtin:demo", 0, 0);
        let mut s = SessionState::new(&h);
        for (i, n) in nodes.iter().enumerate() {
            s.apply(&Event {
                seq: i as u64 + 1,
                ts: 1,
                session: Id::from("s"),
                kind: EventKind::NodeStateChanged {
                    node: Id::from(*n),
                    state: NodeState::Completed,
                    progress: None,
                },
            });
        }
        s
    }

    #[test]
    fn changes_to_finished_work_are_reported_and_others_are_not() {
        let doc = crate::session::fork_edit::document(DEMO, Format::Toml).unwrap();
        let sets: Vec<SetArg> = [
            "agents.reviewer.system=strict",
            "nodes.checks.concurrency=1",
            "agents.checker.system=terse",
            "input=other",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        // At the gate: the whole build completed, the gate has not.
        let at_gate =
            state_with_completed(&["design", "adopt", "work", "check", "checks", "build"]);
        let w = settled_changes(&doc, &at_gate, &sets);
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(
            w[0].starts_with("--set agents.reviewer.system only touches")
                && w[0].contains("`work`"),
            "{w:#?}"
        );
        assert!(w[1].contains("nodes.checks.concurrency"), "{w:#?}");
        assert!(
            w[2].contains("agents.checker.system") && w[2].contains("`check`"),
            "{w:#?}"
        );
        // Before the plan ran, the reviewer's change still reaches its work.
        let early = state_with_completed(&["design", "adopt"]);
        assert!(settled_changes(&doc, &early, &sets).is_empty());
    }

    #[test]
    fn executors_are_used_by_plans_through_their_capabilities() {
        let doc = crate::session::fork_edit::document(DEMO, Format::Toml).unwrap();
        assert_eq!(nodes_using(&doc, "writer"), vec!["work".to_string()]);
        assert_eq!(nodes_using(&doc, "lead"), vec!["design".to_string()]);
        let mut backend = nodes_using(&doc, "backend");
        backend.sort();
        assert_eq!(backend, vec!["adopt".to_string(), "work".to_string()]);
    }
}
