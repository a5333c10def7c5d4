//! `plan`: hierarchical work. A planner turns the input into subtasks (JSON,
//! validated, repaired when malformed); subtasks may name the subtasks they
//! depend on and estimate their cost. The estimates are checked against the
//! budget before anything starts; then each subtask goes to the least-loaded
//! executor with its capability as soon as its dependencies are done (the
//! plan runs as a DAG), fed their outputs; a reviewer approves the results
//! or sends them to REVISION with feedback, up to `max_revisions`.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::{Map, Value, json};

use crate::budget::Scope as BudgetScope;
use crate::engine::agent_task::{AgentJob, hints, strip_fences, work};
use crate::engine::exec::NodeResult;
use crate::engine::resilient::scope_name;
use crate::engine::run::{Run, Scope, TaskControl, TaskError, TaskHandle, Vars, with_feedback};
use crate::event::{ErrorKind, EventKind, Id, PlannedSubtask, TaskState, approx_tokens};
use crate::llm::Expect;
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::plan_dag::PlanDag;
use crate::workflow::kinds::{agent::Target, plan::PlanNode};
use crate::workflow::policy::budget::OnExhausted;

struct Subtask {
    /// Its id in the plan: the planner's, or its position from 1.
    id: String,
    /// Whether the planner named it.
    named: bool,
    title: String,
    capability: String,
    description: String,
    depends_on: Vec<String>,
    estimate_tokens: Option<u64>,
    estimate_minutes: Option<f64>,
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
         {{\"subtasks\": [{{\"id\": \"short-name\", \"title\": \"...\", \"capability\": \"one of: {}\", \"description\": \"...\", \
         \"depends_on\": [\"ids of subtasks whose results it needs\"], \"estimate\": {{\"tokens\": 500}}}}]}}. \
         `id`, `depends_on` and `estimate` are optional; subtasks that depend on nothing run at once.",
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
    let dag = dag_of(&subtasks).map_err(|e| TaskError::workflow(format!("{}: {e}", n.id)))?;
    let planner_id = planner_task.id.clone();
    let ids: Vec<Id> = (1..=subtasks.len())
        .map(|i| Id::from(format!("{planner_id}/{i}").as_str()))
        .collect();
    run.emit(EventKind::PlanCreated {
        task: planner_id.clone(),
        subtasks: subtasks
            .iter()
            .enumerate()
            .map(|(i, s)| PlannedSubtask {
                task: ids[i].clone(),
                title: s.title.clone(),
                capability: s.capability.clone(),
                step: s.named.then(|| s.id.clone()),
                depends_on: dag.deps(i).iter().map(|&d| ids[d].clone()).collect(),
                estimate_tokens: s.estimate_tokens,
                estimate_minutes: s.estimate_minutes,
            })
            .collect(),
    });
    let fit = fit_budget(run, node, &mut planner_task, &subtasks, &dag, &ids).await?;
    planner_task.complete(plan_value.clone());
    let kept = fit.kept;

    // 2. Execute (each step once its dependencies are done), review, revise.
    let mut slots: Vec<Option<TaskHandle>> = subtasks
        .iter()
        .enumerate()
        .map(|(i, s)| {
            kept[i].then(|| {
                let target = Target::Capability(s.capability.clone());
                run.new_task(
                    ids[i].to_string(),
                    node,
                    Some(planner_id.clone()),
                    s.title.clone(),
                    Some(&target),
                    n.priority,
                    &step_input(s, &goal, None),
                    false,
                )
            })
        })
        .collect();
    let order = dag.order();
    let mut feedback: Option<String> = None;
    let mut revision = 0u32;
    loop {
        let mut outputs: Vec<Option<Value>> = vec![None; subtasks.len()];
        let mut started = vec![false; subtasks.len()];
        let mut running = FuturesUnordered::new();
        loop {
            for &i in &order {
                if started[i] || !kept[i] || dag.deps(i).iter().any(|&d| outputs[d].is_none()) {
                    continue;
                }
                started[i] = true;
                let s = &subtasks[i];
                let inputs: Map<String, Value> = dag
                    .deps(i)
                    .iter()
                    .map(|&d| (subtasks[d].id.clone(), outputs[d].clone().unwrap_or_default()))
                    .collect();
                let sub_input = step_input(s, &goal, Some(inputs));
                run.emit(EventKind::PlanStepReady {
                    task: ids[i].clone(),
                    after: dag.deps(i).iter().map(|&d| ids[d].clone()).collect(),
                    input: sub_input.clone(),
                });
                let mut prompt = format!(
                    "Subtask: {}\n{}\n\nOverall goal: {goal}",
                    s.title, s.description
                );
                for &d in dag.deps(i) {
                    if d == dag.deps(i)[0] {
                        prompt.push_str("\n\nResults of the steps this one builds on:");
                    }
                    let out = match &outputs[d] {
                        Some(Value::String(t)) => t.clone(),
                        Some(v) => v.to_string(),
                        None => String::new(),
                    };
                    prompt.push_str(&format!("\n- {}: {out}", subtasks[d].title));
                }
                if let Some(f) = &feedback {
                    prompt.push_str(&format!("\n\nReviewer feedback to address: {f}"));
                }
                let mut h = slots[i].take().expect("a kept step has its task");
                let target = Target::Capability(s.capability.clone());
                let priority = n.priority;
                running.push(async move {
                    let job = AgentJob::new(node, target, priority, prompt, &sub_input, revision);
                    let r = work(&mut h, job).await.map(|(v, _)| v);
                    (i, h, r)
                });
            }
            let Some((i, h, r)) = running.next().await else {
                break;
            };
            slots[i] = Some(h);
            match r {
                Ok(v) => {
                    // Unreviewed, a step is done when it is: its dependants
                    // start now, and the graph says so.
                    if reviewer.is_none()
                        && let Some(h) = slots[i].as_mut()
                    {
                        h.complete(v.clone());
                    }
                    outputs[i] = Some(v);
                }
                Err(e) => {
                    return Err(TaskError::new(
                        e.kind,
                        format!("{}: a subtask failed: {}", n.id, e.message),
                    ));
                }
            }
        }
        let results: Vec<Value> = subtasks
            .iter()
            .zip(&outputs)
            .filter_map(|(s, o)| {
                let o = o.as_ref()?;
                let mut r = json!({"title": s.title, "capability": s.capability, "output": o});
                if s.named {
                    r["id"] = json!(s.id);
                }
                if !s.depends_on.is_empty() {
                    r["depends_on"] = json!(s.depends_on);
                }
                Some(r)
            })
            .collect();
        let with_estimate = |mut v: Value| {
            if let Some(e) = &fit.estimate {
                v["estimate"] = e.clone();
            }
            v
        };
        let Some(reviewer) = reviewer else {
            return Ok(with_estimate(
                json!({"plan": plan_value, "results": results}),
            ));
        };

        for h in slots.iter_mut().flatten() {
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
            for (h, o) in slots.iter_mut().zip(outputs) {
                if let (Some(h), Some(o)) = (h, o) {
                    h.complete(o);
                }
            }
            return Ok(with_estimate(
                json!({"plan": plan_value, "results": results, "review": verdict, "revisions": revision}),
            ));
        }
        if revision >= *max_revisions {
            let err = TaskError::workflow(format!(
                "{}: the reviewer rejected the work {} time(s), the revision limit (max_revisions = {max_revisions}); last feedback: {fb}",
                n.id,
                revision + 1
            ));
            for h in slots.iter_mut().flatten() {
                h.fail(&err, false);
            }
            return Err(err);
        }
        revision += 1;
        for h in slots.iter_mut().flatten() {
            h.set_state(TaskState::Revision, Some(fb.clone()));
        }
        feedback = Some(fb);
    }
}

/// A step's input: what it is, the goal, and (once it may start) the
/// outputs of the steps it depends on, by their plan ids.
fn step_input(s: &Subtask, goal: &str, inputs: Option<Map<String, Value>>) -> Value {
    let mut v = json!({"title": s.title, "description": s.description, "goal": goal});
    if !s.depends_on.is_empty() {
        v["depends_on"] = json!(s.depends_on);
    }
    if let Some(i) = inputs.filter(|i| !i.is_empty()) {
        v["inputs"] = Value::Object(i);
    }
    v
}

fn dag_of(subtasks: &[Subtask]) -> Result<PlanDag, String> {
    let ids: Vec<String> = subtasks.iter().map(|s| s.id.clone()).collect();
    let deps: Vec<Vec<String>> = subtasks.iter().map(|s| s.depends_on.clone()).collect();
    PlanDag::from_ids(&ids, &deps)
}

/// Which steps run, and what the plan's output says of its estimate.
struct BudgetFit {
    kept: Vec<bool>,
    estimate: Option<Value>,
}

/// Checks the plan's estimates against the tightest token budget (the
/// run's or the plan node's) before any step starts. A plan that does not
/// fit follows `on_exhausted`: `fail` fails the node, `pause` pauses the
/// run until the budget is raised (or the planner task is cancelled),
/// `degrade` runs the steps that fit, in dependency order, and leaves out
/// the rest and whatever depends on them.
async fn fit_budget(
    run: &Arc<Run>,
    node: NodeIdx,
    planner: &mut TaskHandle,
    subtasks: &[Subtask],
    dag: &PlanDag,
    ids: &[Id],
) -> Result<BudgetFit, TaskError> {
    let all = vec![true; subtasks.len()];
    if subtasks.iter().all(|s| s.estimate_tokens.is_none()) {
        return Ok(BudgetFit {
            kept: all,
            estimate: None,
        });
    }
    let needed: u64 = subtasks.iter().filter_map(|s| s.estimate_tokens).sum();
    let minutes: Option<f64> = subtasks
        .iter()
        .any(|s| s.estimate_minutes.is_some())
        .then(|| subtasks.iter().filter_map(|s| s.estimate_minutes).sum());
    let n = &run.wf.nodes[node];
    loop {
        let generation = run.res.ledger.as_ref().map_or(0, |l| l.generation());
        // The tightest scope with a token limit, and what is left in it.
        let room = run.res.ledger.as_ref().and_then(|l| {
            [BudgetScope::Run, BudgetScope::Node(node)]
                .into_iter()
                .filter_map(|s| {
                    let limit = l.limit(s).tokens?;
                    let spent = l.used(s).tokens.saturating_add(l.reserved(s).tokens);
                    Some((s, limit.saturating_sub(spent)))
                })
                .min_by_key(|&(_, left)| left)
        });
        let over = room.is_some_and(|(_, left)| needed > left);
        let policy = run.res.ledger.as_ref().map(|l| l.on_exhausted);
        let scope = room.map(|(s, _)| scope_name(&run.wf, s));
        let remaining = room.map(|(_, left)| left);
        let mut kept = all.clone();
        if over && policy == Some(OnExhausted::Degrade) {
            let mut total = 0u64;
            let left = remaining.unwrap_or(0);
            for i in dag.order() {
                let cost = subtasks[i].estimate_tokens.unwrap_or(0);
                kept[i] = dag.deps(i).iter().all(|&d| kept[d]) && total + cost <= left;
                if kept[i] {
                    total += cost;
                }
            }
        }
        let dropped: Vec<Id> = (0..kept.len())
            .filter(|&i| !kept[i])
            .map(|i| ids[i].clone())
            .collect();
        run.emit(EventKind::PlanBudgetChecked {
            task: planner.id.clone(),
            needed_tokens: needed,
            minutes,
            scope: scope.clone(),
            remaining_tokens: remaining,
            over,
            policy: over.then(|| policy.map(|p| p.as_str().to_string())).flatten(),
            dropped: dropped.clone(),
        });
        let estimate = json!({
            "tokens": needed,
            "minutes": minutes,
            "budget": remaining.map(|r| json!({"scope": scope, "tokens": r})),
            "dropped": dropped,
        });
        let (Some(ledger), Some((_, left)), true) = (run.res.ledger.as_ref(), room, over) else {
            return Ok(BudgetFit {
                kept,
                estimate: Some(estimate),
            });
        };
        let scope = scope.unwrap_or_default();
        let words = format!(
            "this plan needs ~{} tokens; the budget {scope} has {}",
            approx_tokens(needed),
            approx_tokens(left)
        );
        match ledger.on_exhausted {
            OnExhausted::Degrade if kept.iter().any(|&k| k) => {
                return Ok(BudgetFit {
                    kept,
                    estimate: Some(estimate),
                });
            }
            OnExhausted::Pause => {
                let agent = planner
                    .agent
                    .map(|a| run.wf.agents[a].id.clone())
                    .unwrap_or_default();
                run.emit(EventKind::BudgetExhausted {
                    scope: scope.clone(),
                    task: planner.id.clone(),
                    agent,
                    needed_tokens: needed,
                    remaining_tokens: Some(left),
                    policy: "pause".into(),
                });
                if !run.sched.is_paused() {
                    run.sched.set_paused(true);
                    run.res
                        .paused_by_budget
                        .store(true, std::sync::atomic::Ordering::Release);
                    run.emit(EventKind::RunPaused);
                }
                planner.set_state(
                    TaskState::Paused,
                    Some(format!("{words}; waiting for set_budget or resume")),
                );
                loop {
                    let changed = ledger.changed.notified();
                    tokio::pin!(changed);
                    changed.as_mut().enable();
                    if ledger.generation() != generation {
                        break;
                    }
                    tokio::select! {
                        _ = &mut changed => break,
                        c = planner.control.recv() => match c {
                            Some(TaskControl::Cancel) | None => {
                                planner.cancel("cancelled by the user");
                                return Err(TaskError::cancelled(format!(
                                    "cancelled by you: task {}",
                                    planner.id
                                )));
                            }
                            Some(TaskControl::Resume) => break,
                            Some(_) => {}
                        },
                    }
                }
                planner.set_state(TaskState::Planning, Some("budget changed".into()));
            }
            _ => {
                let err = TaskError::new(
                    ErrorKind::BudgetExhausted,
                    format!(
                        "{}: {words}, so the plan does not start (on_exhausted = \"{}\"; raise the budget or ask for a smaller plan)",
                        n.id,
                        ledger.on_exhausted.as_str()
                    ),
                );
                planner.fail(&err, false);
                return Err(err);
            }
        }
    }
}

fn subtasks_of(plan: &Value) -> Vec<Subtask> {
    let list = plan
        .get("subtasks")
        .and_then(Value::as_array)
        .or_else(|| plan.as_array());
    let text = |s: &Value, k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    list.map(|l| {
        l.iter()
            .enumerate()
            .map(|(i, s)| {
                let given = s.get("id").and_then(id_text);
                let (estimate_tokens, estimate_minutes) =
                    estimate_of(s.get("estimate")).unwrap_or_default();
                Subtask {
                    named: given.is_some(),
                    id: given.unwrap_or_else(|| (i + 1).to_string()),
                    title: text(s, "title"),
                    capability: text(s, "capability"),
                    description: text(s, "description"),
                    depends_on: depends_on_of(s.get("depends_on")).unwrap_or_default(),
                    estimate_tokens,
                    estimate_minutes,
                }
            })
            .collect()
    })
    .unwrap_or_default()
}

/// An id as a planner writes it: a string, or a number (small models do).
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `depends_on`: a list of ids, or one id; absent or `null` is none.
fn depends_on_of(v: Option<&Value>) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(l)) => l
            .iter()
            .map(|d| id_text(d).ok_or_else(|| format!("`{d}` is not a subtask id")))
            .collect(),
        Some(one) => id_text(one)
            .map(|d| vec![d])
            .ok_or_else(|| format!("`{one}` is not a list of subtask ids")),
    }
}

/// `estimate`: a number of tokens, or `{tokens, minutes}`.
fn estimate_of(v: Option<&Value>) -> Result<(Option<u64>, Option<f64>), String> {
    let count = |v: &Value, what: &str| -> Result<f64, String> {
        v.as_f64()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| format!("{what} `{v}` is not a number of at least 0"))
    };
    match v {
        None | Some(Value::Null) => Ok((None, None)),
        Some(Value::Object(o)) => {
            let tokens = o
                .get("tokens")
                .filter(|t| !t.is_null())
                .map(|t| count(t, "tokens").map(|x| x.round() as u64))
                .transpose()?;
            let minutes = o
                .get("minutes")
                .filter(|m| !m.is_null())
                .map(|m| count(m, "minutes"))
                .transpose()?;
            if tokens.is_none() && minutes.is_none() {
                return Err("an estimate needs `tokens` or `minutes`".into());
            }
            Ok((tokens, minutes))
        }
        Some(t) => Ok((Some(count(t, "tokens")?.round() as u64), None)),
    }
}

/// A plan is `{"subtasks": [...]}` (or a bare list) of 1..=max entries, each
/// with a title and a capability some agent offers; `depends_on` names other
/// subtasks by `id` (or position from 1) with no cycle, and an `estimate` is
/// a number of tokens or `{tokens, minutes}`.
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
        if let Some(id) = s.get("id").filter(|id| !id.is_null())
            && id_text(id).is_none()
        {
            return Err(format!("subtask {} has an `id` that is not a name", i + 1));
        }
        depends_on_of(s.get("depends_on"))
            .map_err(|e| format!("subtask {}: `depends_on`: {e}", i + 1))?;
        estimate_of(s.get("estimate")).map_err(|e| format!("subtask {}: `estimate`: {e}", i + 1))?;
    }
    dag_of(&subtasks_of(&v))?;
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
        let unknown = r#"{"subtasks":[{"id":"a","title":"a","capability":"code","depends_on":["z"]}]}"#;
        assert!(
            parse_plan(unknown, 4, &caps)
                .unwrap_err()
                .contains("`a` depends on `z`")
        );
        let by_position = r#"[{"title":"a","capability":"code"},{"title":"b","capability":"docs","depends_on":[1],"estimate":300}]"#;
        let v = parse_plan(by_position, 4, &caps).unwrap();
        let s = subtasks_of(&v);
        assert_eq!((s[1].depends_on.clone(), s[1].estimate_tokens), (vec!["1".to_string()], Some(300)));
        let bad_estimate = r#"[{"title":"a","capability":"code","estimate":{"tokens":-5}}]"#;
        assert!(
            parse_plan(bad_estimate, 4, &caps)
                .unwrap_err()
                .contains("subtask 1: `estimate`: tokens `-5`")
        );
        assert!(
            parse_plan(r#"{"subtasks":[{"ti"#, 4, &caps)
                .unwrap_err()
                .contains("not JSON")
        );
    }
}
