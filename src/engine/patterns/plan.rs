//! `plan`: hierarchical work. A planner turns the input into subtasks (JSON,
//! validated, repaired when malformed); each subtask goes to the least-loaded
//! executor with its capability; a reviewer approves the results or sends
//! them to REVISION with feedback, up to `max_revisions`.

use std::sync::Arc;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::engine::agent_task::{AgentJob, hints, strip_fences, work};
use crate::engine::exec::NodeResult;
use crate::engine::run::{Run, Scope, TaskError, TaskHandle, Vars, with_feedback};
use crate::event::{EventKind, Id, PlannedSubtask, TaskState};
use crate::llm::Expect;
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::{agent::Target, plan::PlanNode};

struct Subtask {
    title: String,
    capability: String,
    description: String,
}

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &PlanNode,
    input: Value,
    scope: &Scope,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let PlanNode {
        planner,
        reviewer,
        max_revisions,
        max_subtasks,
        repair_attempts,
        prompt,
    } = kind;
    let capabilities: Vec<String> = {
        let mut c: Vec<String> = run
            .wf
            .agents
            .iter()
            .flat_map(|a| a.capabilities.iter().cloned())
            .collect();
        c.sort();
        c.dedup();
        c
    };
    let mut goal = run.render(
        prompt,
        &Vars {
            input: &input,
            output: None,
            scope,
            label: None,
            state: None,
        },
    );
    with_feedback(&mut goal, prompt, scope);

    // 1. Plan.
    let plan_id = scope.task_id(&n.id);
    let mut planner_task = run.new_task(
        plan_id,
        node,
        scope.parent.clone(),
        format!("plan: {}", n.title),
        Some(&Target::Agent(*planner)),
        n.priority,
        &input,
        false,
    );
    let max = *max_subtasks as usize;
    let caps = capabilities.clone();
    let parse = move |_: &Run, text: &str| parse_plan(text, max, &caps);
    let mut h = hints(Expect::Plan);
    h.capabilities = capabilities.clone();
    let instructions = format!(
        "Split the user's goal into at most {max} subtasks. Reply with JSON only: \
         {{\"subtasks\": [{{\"title\": \"...\", \"capability\": \"one of: {}\", \"description\": \"...\"}}]}}",
        capabilities.join(", ")
    );
    let job = AgentJob::new(
        node,
        Target::Agent(*planner),
        n.priority,
        goal.clone(),
        &input,
        scope.visit,
    )
    .instructions(instructions)
    .hints(h)
    .working(TaskState::Planning)
    .parse(&parse, *repair_attempts);
    let (plan_value, _) = work(&mut planner_task, job).await.map_err(|e| {
        TaskError::new(
            e.kind,
            format!("{}: the planner failed: {}", n.id, e.message),
        )
    })?;
    let subtasks = subtasks_of(&plan_value);
    let planner_id = planner_task.id.clone();
    let ids: Vec<String> = (1..=subtasks.len())
        .map(|i| format!("{planner_id}/{i}"))
        .collect();
    run.emit(EventKind::PlanCreated {
        task: planner_id.clone(),
        subtasks: subtasks
            .iter()
            .zip(&ids)
            .map(|(s, id)| PlannedSubtask {
                task: Id::from(id.as_str()),
                title: s.title.clone(),
                capability: s.capability.clone(),
            })
            .collect(),
    });
    planner_task.complete(plan_value.clone());

    // 2. Execute, review, revise.
    let sub_inputs: Vec<Value> = subtasks
        .iter()
        .map(|s| json!({"title": s.title, "description": s.description, "goal": goal}))
        .collect();
    let mut handles: Vec<TaskHandle> = subtasks
        .iter()
        .zip(&ids)
        .zip(&sub_inputs)
        .map(|((s, id), sub_input)| {
            let target = Target::Capability(s.capability.clone());
            run.new_task(
                id.clone(),
                node,
                Some(planner_id.clone()),
                s.title.clone(),
                Some(&target),
                n.priority,
                sub_input,
                false,
            )
        })
        .collect();
    let mut feedback: Option<String> = None;
    let mut revision = 0u32;
    loop {
        let outputs: Vec<Value> =
            {
                let futs = handles.iter_mut().zip(&subtasks).zip(&sub_inputs).map(
                    |((h, s), sub_input)| {
                        let mut prompt = format!(
                            "Subtask: {}\n{}\n\nOverall goal: {goal}",
                            s.title, s.description
                        );
                        if let Some(f) = &feedback {
                            prompt.push_str(&format!("\n\nReviewer feedback to address: {f}"));
                        }
                        let job = AgentJob::new(
                            node,
                            Target::Capability(s.capability.clone()),
                            n.priority,
                            prompt,
                            sub_input,
                            revision,
                        );
                        async move { work(h, job).await.map(|(v, _)| v) }
                    },
                );
                join_all(futs)
                    .await
                    .into_iter()
                    .collect::<Result<Vec<_>, TaskError>>()
                    .map_err(|e| {
                        TaskError::new(e.kind, format!("{}: a subtask failed: {}", n.id, e.message))
                    })?
            };
        let results: Vec<Value> = subtasks
            .iter()
            .zip(&outputs)
            .map(|(s, o)| json!({"title": s.title, "capability": s.capability, "output": o}))
            .collect();
        let Some(reviewer) = reviewer else {
            for (h, o) in handles.iter_mut().zip(outputs) {
                h.complete(o);
            }
            return Ok(json!({"plan": plan_value, "results": results}));
        };

        for h in handles.iter_mut() {
            h.set_state(TaskState::Review, None);
        }
        let review_id = format!("{planner_id}/review#{revision}");
        let review_input = Value::Array(results.clone());
        let mut review_task = run.new_task(
            review_id,
            node,
            Some(planner_id.clone()),
            format!("review: {}", n.title),
            Some(&Target::Agent(*reviewer)),
            n.priority,
            &review_input,
            false,
        );
        let prompt = format!(
            "Goal: {goal}\nResults: {}",
            serde_json::to_string(&results).unwrap_or_default()
        );
        let job = AgentJob::new(
            node,
            Target::Agent(*reviewer),
            n.priority,
            prompt,
            &review_input,
            revision,
        )
        .instructions(
            "Review the results against the goal. Reply with JSON only: \
                 {\"approved\": true|false, \"feedback\": \"what to change\"}",
        )
        .hints(hints(Expect::Review))
        .parse(&parse_review, *repair_attempts);
        let (verdict, _) = work(&mut review_task, job).await.map_err(|e| {
            TaskError::new(
                e.kind,
                format!("{}: the review failed: {}", n.id, e.message),
            )
        })?;
        let approved = verdict
            .get("approved")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let fb = verdict
            .get("feedback")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        run.emit(EventKind::ReviewVerdict {
            node: n.id.clone(),
            task: review_task.id.clone(),
            approved,
            feedback: fb.clone(),
            revision,
        });
        review_task.complete(verdict.clone());
        if approved {
            for (h, o) in handles.iter_mut().zip(outputs) {
                h.complete(o);
            }
            return Ok(
                json!({"plan": plan_value, "results": results, "review": verdict, "revisions": revision}),
            );
        }
        if revision >= *max_revisions {
            let err = TaskError::workflow(format!(
                "{}: the reviewer rejected the work {} time(s), the revision limit (max_revisions = {max_revisions}); last feedback: {fb}",
                n.id,
                revision + 1
            ));
            for h in handles.iter_mut() {
                h.fail(&err, false);
            }
            return Err(err);
        }
        revision += 1;
        for h in handles.iter_mut() {
            h.set_state(TaskState::Revision, Some(fb.clone()));
        }
        feedback = Some(fb);
    }
}

fn subtasks_of(plan: &Value) -> Vec<Subtask> {
    let list = plan
        .get("subtasks")
        .and_then(Value::as_array)
        .or_else(|| plan.as_array());
    list.map(|l| {
        l.iter()
            .map(|s| Subtask {
                title: s
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                capability: s
                    .get("capability")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                description: s
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            })
            .collect()
    })
    .unwrap_or_default()
}

/// A plan is `{"subtasks": [...]}` (or a bare list) of 1..=max entries, each
/// with a title and a capability some agent offers.
pub(crate) fn parse_plan(text: &str, max: usize, capabilities: &[String]) -> Result<Value, String> {
    let body = strip_fences(text);
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    let list = v
        .get("subtasks")
        .and_then(Value::as_array)
        .or_else(|| v.as_array())
        .ok_or("expected an object with a `subtasks` list")?;
    if list.is_empty() {
        return Err("the `subtasks` list is empty".into());
    }
    if list.len() > max {
        return Err(format!(
            "{} subtasks, but at most {max} are allowed",
            list.len()
        ));
    }
    for (i, s) in list.iter().enumerate() {
        let title = s.get("title").and_then(Value::as_str).unwrap_or("");
        if title.trim().is_empty() {
            return Err(format!("subtask {} has no `title`", i + 1));
        }
        let cap = s
            .get("capability")
            .and_then(Value::as_str)
            .ok_or(format!("subtask {} has no `capability`", i + 1))?;
        if !capabilities.iter().any(|c| c == cap) {
            return Err(format!(
                "subtask {} asks for capability `{cap}`, which no agent offers (choose from: {})",
                i + 1,
                capabilities.join(", ")
            ));
        }
    }
    Ok(v)
}

/// A verdict is `{"approved": bool, "feedback": "..."}`.
pub(crate) fn parse_review(_: &Run, text: &str) -> Result<Value, String> {
    let v: Value =
        serde_json::from_str(strip_fences(text)).map_err(|e| format!("not JSON ({e})"))?;
    if v.get("approved").and_then(Value::as_bool).is_none() {
        return Err("expected an object with a boolean `approved`".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_validated() {
        let caps = vec!["code".to_string(), "docs".to_string()];
        assert!(
            parse_plan(
                r#"{"subtasks":[{"title":"a","capability":"code"}]}"#,
                4,
                &caps
            )
            .is_ok()
        );
        assert!(parse_plan(r#"[{"title":"a","capability":"docs"}]"#, 4, &caps).is_ok());
        assert!(
            parse_plan(
                r#"{"subtasks":[{"title":"a","capability":"law"}]}"#,
                4,
                &caps
            )
            .unwrap_err()
            .contains("law")
        );
        assert!(
            parse_plan(r#"{"subtasks":[]}"#, 4, &caps)
                .unwrap_err()
                .contains("empty")
        );
        assert!(parse_plan(r#"{"subtasks":[{"title":"a","capability":"code"},{"title":"b","capability":"code"}]}"#, 1, &caps)
            .unwrap_err()
            .contains("at most 1"));
        assert!(
            parse_plan(r#"{"subtasks":[{"ti"#, 4, &caps)
                .unwrap_err()
                .contains("not JSON")
        );
    }
}
