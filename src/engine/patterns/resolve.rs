//! Conflict resolution for `parallel` nodes with `resolve` (issue #3): when
//! branches return different answers, choose one by confidence-weighted
//! vote, ask a meta-agent, or escalate to a human gate.
//!
//! A branch's answer is its output, or the output's `answer` field when it
//! is an object; its weight is the object's `confidence` (default 1).
//! Answers are compared as trimmed, case-folded text.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::agent_task::{AgentJob, work};
use crate::engine::exec::NodeResult;
use crate::engine::run::{Run, Scope, TaskError};
use crate::event::{EventKind, TaskState};
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::agent::Target;
use crate::workflow::policy::Resolve;

/// One candidate: the answer and its weight.
fn candidate(v: &Value) -> (Value, f64) {
    match v {
        Value::Object(o) if o.contains_key("answer") => (
            o["answer"].clone(),
            o.get("confidence")
                .and_then(Value::as_f64)
                .filter(|c| c.is_finite() && *c >= 0.0)
                .unwrap_or(1.0),
        ),
        Value::Object(o) => (
            v.clone(),
            o.get("confidence")
                .and_then(Value::as_f64)
                .filter(|c| c.is_finite() && *c >= 0.0)
                .unwrap_or(1.0),
        ),
        _ => (v.clone(), 1.0),
    }
}

fn norm(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_lowercase(),
        v => v.to_string(),
    }
}

/// Groups equal answers, summing weights, in first-seen order; the winner
/// is the heaviest group (ties: the earliest branch).
pub(crate) fn weighted_choice(values: &[Value]) -> (Value, Vec<(Value, f64)>) {
    let mut groups: Vec<(String, Value, f64)> = Vec::new();
    for v in values {
        let (answer, w) = candidate(v);
        let key = norm(&answer);
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.2 += w,
            None => groups.push((key, answer, w)),
        }
    }
    let mut best = 0;
    for (i, g) in groups.iter().enumerate() {
        if g.2 > groups[best].2 {
            best = i;
        }
    }
    let chosen = groups.get(best).map_or(Value::Null, |g| g.1.clone());
    (chosen, groups.into_iter().map(|g| (g.1, g.2)).collect())
}

/// Resolves the branch outputs of a parallel node into one answer.
pub(crate) async fn resolve(
    run: &Arc<Run>,
    node: NodeIdx,
    scope: &Scope,
    how: Resolve,
    values: Vec<Value>,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let (proposed, groups) = weighted_choice(&values);
    let conflict = groups.len() > 1;
    let scores: Vec<Value> = groups
        .iter()
        .map(|(a, w)| serde_json::json!({"answer": a, "weight": w}))
        .collect();
    let (method, chosen) = if !conflict {
        ("unanimous".to_string(), proposed)
    } else {
        match how {
            Resolve::Confidence => ("confidence".to_string(), proposed),
            Resolve::Agent(meta) => {
                let list: Vec<String> = groups
                    .iter()
                    .enumerate()
                    .map(|(i, (a, w))| format!("{}. {} (weight {w})", i + 1, norm_text(a)))
                    .collect();
                let prompt = format!(
                    "Parallel branches of `{}` gave conflicting answers:\n{}\nReply with the single best answer.",
                    n.id,
                    list.join("\n")
                );
                let target = Target::Agent(meta);
                let candidates = Value::Array(values.clone());
                let mut h = run.new_task(
                    scope.task_id(&format!("{}/resolve", n.id)),
                    node,
                    scope.parent.clone(),
                    format!("resolve {}", n.title),
                    Some(&target),
                    n.priority,
                    &candidates,
                    false,
                );
                let job = AgentJob::new(node, target, n.priority, prompt, &candidates, scope.visit);
                let (value, _) = work(&mut h, job).await?;
                h.complete(value.clone());
                (format!("agent:{}", run.wf.agents[meta].id), value)
            }
            Resolve::Gate => {
                let chosen = gate(run, node, scope, &proposed, &scores).await?;
                ("gate".to_string(), chosen)
            }
        }
    };
    run.emit(EventKind::ConflictResolved {
        node: n.id.clone(),
        method,
        conflict,
        candidates: scores,
        chosen: chosen.clone(),
    });
    Ok(chosen)
}

fn norm_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// A human decides: approve takes the weighted choice, or the candidate
/// whose number (from 1) is the comment; deny fails the node.
async fn gate(
    run: &Arc<Run>,
    node: NodeIdx,
    scope: &Scope,
    proposed: &Value,
    scores: &[Value],
) -> Result<Value, TaskError> {
    let n = &run.wf.nodes[node];
    let artifact = serde_json::json!({"conflict": scores, "proposed": proposed});
    let mut h = run.new_task(
        scope.task_id(&format!("{}/resolve", n.id)),
        node,
        scope.parent.clone(),
        format!("resolve {}", n.title),
        None,
        n.priority,
        &artifact,
        true,
    );
    h.set_state(
        TaskState::Review,
        Some("branches disagree: waiting for a human decision".into()),
    );
    let Some((approve, comment)) = h.ask_human(&n.id, artifact).await else {
        return Err(TaskError::cancelled(format!("gate {} was cancelled", h.id)));
    };
    if !approve {
        let err = TaskError::workflow(format!(
            "{}: the conflict between branches was escalated and denied: {}",
            n.id,
            comment.unwrap_or_else(|| "no comment".into())
        ));
        h.fail(&err, false);
        return Err(err);
    }
    let picked = comment
        .as_deref()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| scores.get(i))
        .map(|s| s["answer"].clone());
    let chosen = picked.unwrap_or_else(|| proposed.clone());
    h.complete(chosen.clone());
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn confidence_weights_decide_and_equal_answers_group() {
        let vals = [
            json!({"answer": "Paris", "confidence": 0.4}),
            json!({"answer": "Lyon", "confidence": 0.9}),
            json!({"answer": " paris ", "confidence": 0.6}),
        ];
        let (chosen, groups) = weighted_choice(&vals);
        assert_eq!(chosen, json!("Paris"));
        assert_eq!(groups.len(), 2);
        assert!((groups[0].1 - 1.0).abs() < 1e-12);
        // Plain answers weigh 1 each; ties go to the earliest branch.
        let (c, _) = weighted_choice(&[json!("a"), json!("b")]);
        assert_eq!(c, json!("a"));
        let (c, g) = weighted_choice(&[json!("x"), json!("y"), json!("Y")]);
        assert_eq!((c, g.len()), (json!("y"), 2));
    }
}
