//! Moves the loader's diagnostics about a built workflow from the JSON the
//! builder wrote to the builder call that put the value there: the user
//! wrote `agent::llm("writer").retry(…)`, never line 12 of a document.

use crate::workflow::diagnostics::{Diagnostics, offset_of};
use crate::workflow::kinds::KindSpec;
use crate::workflow::source_tree::{SourceKind, SourceValue, parse_json};
use crate::workflow::spec::{AgentKindName, AgentSpec, NodeSpec, WorkflowSpec};

/// One step of a path into the spec's JSON.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Every diagnostic located in `text` now names the builder call instead.
pub(super) fn relocate(mut d: Diagnostics, text: &str, spec: &WorkflowSpec) -> Diagnostics {
    let Ok(tree) = parse_json(text) else {
        return d;
    };
    for diag in &mut d.0 {
        if diag.line == 0 {
            continue;
        }
        let at = offset_of(text, diag.line, diag.column);
        let mut path = Vec::new();
        path_at(&tree, at, &mut path);
        diag.file = call(&path, spec);
        diag.line = 0;
        diag.column = 0;
        diag.snippet = None;
    }
    d
}

/// The keys and indices from the root to the innermost value at `at`.
fn path_at<'a>(v: &'a SourceValue, at: usize, out: &mut Vec<Step<'a>>) {
    match &v.kind {
        SourceKind::Table(entries) => {
            if let Some(e) = entries
                .iter()
                .find(|e| e.key_span.contains(&at) || e.value.span.contains(&at))
            {
                out.push(Step::Key(&e.key));
                path_at(&e.value, at, out);
            }
        }
        SourceKind::Array(items) => {
            if let Some((i, item)) = items
                .iter()
                .enumerate()
                .find(|(_, it)| it.span.contains(&at))
            {
                out.push(Step::Index(i));
                path_at(item, at, out);
            }
        }
        _ => {}
    }
}

fn key<'a>(path: &[Step<'a>], i: usize) -> Option<&'a str> {
    match path.get(i) {
        Some(Step::Key(k)) => Some(k),
        _ => None,
    }
}

/// The builder call that wrote the value at `path`.
fn call(path: &[Step<'_>], spec: &WorkflowSpec) -> String {
    let index = match path.get(1) {
        Some(Step::Index(i)) => Some(*i),
        _ => None,
    };
    match (key(path, 0), index) {
        (Some("agents"), Some(i)) if i < spec.agents.len() => {
            agent_call(&spec.agents[i], key(path, 2), key(path, 3))
        }
        (Some("nodes"), Some(i)) if i < spec.nodes.len() => node_call(&spec.nodes[i], key(path, 2)),
        (Some("workflow"), _) => match key(path, 1) {
            None | Some("name") => format!("WorkflowBuilder::new({:?})", spec.workflow.name.value),
            Some(k) => format!("WorkflowBuilder.{k}(…)"),
        },
        (Some("prices"), _) => format!(
            "WorkflowBuilder.price({:?}, …)",
            key(path, 1).unwrap_or("…")
        ),
        (Some("quotas"), _) => format!(
            "WorkflowBuilder.quota({:?}, …)",
            key(path, 1).unwrap_or("…")
        ),
        (Some("breakers"), _) => {
            format!(
                "WorkflowBuilder.endpoint_breaker({:?}, …)",
                key(path, 1).unwrap_or("…")
            )
        }
        (Some(k @ ("defaults" | "budget")), _) => format!("WorkflowBuilder.{k}(…)"),
        _ => format!("WorkflowBuilder::new({:?})", spec.workflow.name.value),
    }
}

fn agent_call(a: &AgentSpec, field: Option<&str>, sub: Option<&str>) -> String {
    let base = match a.kind.as_ref().map(|k| k.value) {
        Some(AgentKindName::Command) => format!("agent::command({:?}, …)", a.id.value),
        Some(AgentKindName::Custom) => format!("agent::custom({:?})", a.id.value),
        _ => format!("agent::llm({:?})", a.id.value),
    };
    let is_command = matches!(
        a.kind.as_ref().map(|k| k.value),
        Some(AgentKindName::Command)
    );
    // A command setter on another kind of agent: whatever the loader
    // points at, that setter is the mistake.
    let field = if a.command.is_some() && !is_command {
        Some("command")
    } else {
        field
    };
    let sub = if field == Some("command") && !is_command {
        None
    } else {
        sub
    };
    let setter = match (field, sub) {
        (None | Some("id" | "kind"), _) => return base,
        (Some("command"), Some("run")) => return base,
        (Some("command"), Some("timeout_ms")) => "command_timeout_ms",
        (Some("command"), Some(k)) => k,
        (Some("command"), None) => match &a.command {
            // The table as a whole: name the first setter that made it.
            Some(c) if !c.env.is_empty() => "env",
            Some(c) if !c.inherit_env.is_empty() => "inherit_env",
            Some(c) if c.cwd.is_some() => "cwd",
            Some(c) if c.timeout_ms.is_some() => "command_timeout_ms",
            Some(c) if c.persistent => "persistent",
            Some(c) if c.max_output_bytes.is_some() => "max_output_bytes",
            _ => return base,
        },
        (Some("sim"), Some(k @ ("template" | "replies" | "latency_ms"))) => k,
        (Some("sim"), _) => "sim",
        (Some("provider" | "model"), _) => "model",
        (Some(k), _) => k,
    };
    format!("{base}.{setter}(…)")
}

fn node_call(n: &NodeSpec, field: Option<&str>) -> String {
    let id = &n.id.value;
    let ctor = match &n.fields {
        KindSpec::Agent(f) if f.agent.is_none() && f.capability.is_some() => "task",
        KindSpec::Map(f) if f.items.is_some() => "map_items",
        KindSpec::Map(f) if f.count.is_some() => "map_count",
        KindSpec::Map(_) => "map_over",
        KindSpec::Loop(_) => "state_machine",
        KindSpec::On(f) if f.every_ms.is_some() => "on_timer",
        KindSpec::On(_) => "on_topic",
        _ => n.kind.value.as_str(),
    };
    let base = if ctor == "router" {
        format!("node::router({id:?})")
    } else {
        format!("node::{ctor}({id:?}, …)")
    };
    let setter = match field {
        None
        | Some(
            "id" | "kind" | "agent" | "capability" | "steps" | "branches" | "over" | "items"
            | "count" | "body" | "planner" | "states" | "topic" | "every_ms" | "subject"
            | "participants" | "voters",
        ) => return base,
        Some("join" | "k") => "join_…",
        Some("routes") => "route_…",
        Some("transitions") => "transition",
        Some("default") => "default_route",
        Some("weights") => "weight",
        Some(k) => k,
    };
    format!("{base}.{setter}(…)")
}
