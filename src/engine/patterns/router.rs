//! `router`: a conditional edge. Routes are tried in order: an expression
//! over the input and earlier outputs, or the label a classifier agent
//! answers. No match goes to `default`, or fails.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::agent_task::{AgentJob, hints, work};
use crate::engine::exec::{NodeResult, exec_node};
use crate::engine::run::{Run, Scope, TaskError, Vars};
use crate::event::EventKind;
use crate::llm::Expect;
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::{
    agent::Target,
    router::{RouteCond, RouterNode},
};

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &RouterNode,
    input: Value,
    scope: &Scope,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let RouterNode {
        routes,
        default,
        classifier,
        prompt,
    } = kind;

    let label: Option<String> = match classifier {
        Some(c) => {
            let labels: Vec<String> = routes
                .iter()
                .filter_map(|r| match &r.cond {
                    RouteCond::Label(l) => Some(l.clone()),
                    RouteCond::Expr(_) => None,
                })
                .collect();
            let text = run.render(
                prompt,
                &Vars {
                    input: &input,
                    output: None,
                    scope,
                    label: None,
                    state: None,
                },
            );
            let mut h = run.new_task(
                scope.task_id(&format!("{}/classify", n.id)),
                node,
                scope.parent.clone(),
                format!("classify: {}", n.title),
                Some(&Target::Agent(*c)),
                n.priority,
                &input,
                false,
            );
            let mut hint = hints(Expect::Label);
            hint.labels = labels.clone();
            let job = AgentJob::new(
                node,
                Target::Agent(*c),
                n.priority,
                text,
                &input,
                scope.visit,
            )
            .instructions(format!(
                "Answer with exactly one of these labels and nothing else: {}",
                labels.join(", ")
            ))
            .hints(hint);
            let (answer, _) = work(&mut h, job).await?;
            let answer_text = match &answer {
                Value::String(s) => s.clone(),
                other => other
                    .get("label")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| other.to_string()),
            };
            h.complete(answer.clone());
            Some(match_label(&answer_text, &labels).unwrap_or(answer_text))
        }
        None => None,
    };

    let label_value = label.clone().map(Value::String);
    let vars = Vars {
        input: &input,
        output: None,
        scope,
        label: label_value.as_ref(),
        state: None,
    };
    let mut chosen: Option<(NodeIdx, String)> = None;
    for r in routes {
        let hit = match &r.cond {
            RouteCond::Label(l) => label
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(l))
                .then(|| format!("label {l}")),
            RouteCond::Expr(e) => match run.with_vars(&vars, |v| e.eval_bool(v)) {
                Ok(true) => Some(e.source().to_string()),
                Ok(false) => None,
                Err(err) => {
                    return Err(TaskError::workflow(format!(
                        "{}: route `{}` failed: {}",
                        n.id,
                        e.source(),
                        err.message
                    )));
                }
            },
        };
        if let Some(reason) = hit {
            chosen = Some((r.to, reason));
            break;
        }
    }
    let (to, reason) = match (chosen, default) {
        (Some(c), _) => c,
        (None, Some(d)) => (*d, "default".to_string()),
        (None, None) => {
            return Err(TaskError::workflow(match label {
                Some(l) => format!(
                    "{}: the classifier answered `{l}`, which matches no route, and there is no default",
                    n.id
                ),
                None => format!("{}: no route matched and there is no default", n.id),
            }));
        }
    };
    run.emit(EventKind::RouteChosen {
        node: n.id.clone(),
        to: run.wf.nodes[to].id.clone(),
        reason,
    });
    exec_node(run.clone(), to, input, scope.clone()).await
}

/// Matches a free-text answer to a label: exact (case-insensitive, trimmed
/// of quotes and punctuation) or the only label the answer contains.
pub(crate) fn match_label(answer: &str, labels: &[String]) -> Option<String> {
    let cleaned = answer
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric() && c != '_' && c != '-')
        .to_lowercase();
    if let Some(l) = labels.iter().find(|l| l.to_lowercase() == cleaned) {
        return Some(l.clone());
    }
    let mut found = labels
        .iter()
        .filter(|l| cleaned.contains(&l.to_lowercase()));
    match (found.next(), found.next()) {
        (Some(l), None) => Some(l.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::match_label;

    #[test]
    fn labels_match_loosely_but_not_ambiguously() {
        let labels = vec!["billing".to_string(), "tech".to_string()];
        assert_eq!(
            match_label(" \"Billing\". ", &labels).as_deref(),
            Some("billing")
        );
        assert_eq!(
            match_label("It is a tech question", &labels).as_deref(),
            Some("tech")
        );
        assert_eq!(match_label("billing or tech", &labels), None);
        assert_eq!(match_label("legal", &labels), None);
    }
}
