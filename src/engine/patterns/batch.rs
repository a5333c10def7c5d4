//! Batched `map` items: several items of a `map` whose body is an `agent`
//! node go to the agent in ONE task and ONE call when its agents accept
//! batches (`max_batch`). The prompt lists the items; the reply must be a
//! JSON array with one answer per item, in order. A reply that does not
//! split is malformed: it gets repair prompts (the body's
//! `repair_attempts`, default 1), then fails the batch task as a retryable
//! `malformed` error, like any malformed reply. With the body's
//! `validate`, each item's answer is judged on its own, and a rejected one
//! is asked again alone, as the body would be unbatched.
//!
//! Accounting is per batch: the batch task carries the call's usage, and
//! budgets, quotas, breakers, retries and fallbacks apply to it as to any
//! task, so run, agent and node totals stay exact. Item outputs are still
//! recorded per item (`outputs.<body>`, the body's `emit`).

use std::sync::Arc;

use serde_json::Value;

use futures::future::join_all;

use super::reply_check;
use crate::engine::agent_task::{AgentJob, reply_value, work};
use crate::engine::exec::{NodeExitGuard, NodeResult};
use crate::engine::run::{Run, Scope, TaskError, Vars, with_feedback};
use crate::event::{EventKind, Id};
use crate::llm::{BatchHint, BatchItem, RequestHints};
use crate::metrics::Sample;
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::{NodeKind, agent::AgentNode};

/// Runs `body` for the items `first..first + items.len()` of map `map` in
/// one agent task; returns one result per item, in order (an item fails
/// alone when its answer fails the body's `validate` every time), or the
/// batch's failure.
pub(crate) async fn run(
    run: &Arc<Run>,
    map: NodeIdx,
    body: NodeIdx,
    first: usize,
    items: Vec<Value>,
    scope: &Scope,
) -> Result<Vec<NodeResult>, TaskError> {
    let m = &run.wf.nodes[map];
    let n = &run.wf.nodes[body];
    let NodeKind::Agent(kind @ AgentNode { target, prompt, .. }) = &n.kind else {
        return Err(TaskError::workflow(format!(
            "{}: batches need an `agent` body, but `{}` is not one",
            m.id, n.id
        )));
    };
    let size = items.len();
    let last = first + size - 1;
    run.node_enter(body);
    let guard = NodeExitGuard::new(run, body);
    // Each item's prompt, rendered exactly as it would be on its own.
    let mut hint = BatchHint {
        items: Vec::with_capacity(size),
    };
    let mut scopes = Vec::with_capacity(size);
    for (k, item) in items.iter().enumerate() {
        let i = first + k;
        let mut s = scope.nested(format_args!("{}[{i}]", m.id));
        s.item = Some(item.clone());
        s.index = Some(i as u32);
        s.visit = i as u32;
        let mut text = run.render(
            prompt,
            &Vars {
                input: item,
                output: None,
                scope: &s,
                label: None,
                state: None,
            },
        );
        with_feedback(&mut text, prompt, &s);
        hint.items.push(BatchItem {
            task: Id::from(s.task_id(&n.id).as_str()),
            prompt: text,
            visit: i as u32,
        });
        scopes.push(s);
    }
    let asked: Vec<String> = hint.items.iter().map(|b| b.prompt.clone()).collect();
    let mut text = format!(
        "Answer each of these {size} tasks on its own. Reply with only a JSON array of exactly {size} answers, in task order.\n"
    );
    for (k, item) in hint.items.iter().enumerate() {
        text.push_str(&format!("\n### Task {}\n{}\n", k + 1, item.prompt));
    }
    let bscope = scope.nested(format_args!("{}[{first}-{last}]", m.id));
    let input = Value::Array(items);
    let mut h = run.new_task(
        bscope.task_id(&n.id),
        body,
        scope.parent.clone(),
        format!("{} ×{size} (items {first}–{last})", n.title),
        Some(target),
        n.priority,
        &input,
        false,
    );
    run.emit(EventKind::BatchDispatched {
        task: h.id.clone(),
        node: m.id.clone(),
        body: n.id.clone(),
        first: first as u32,
        size: size as u32,
    });
    let split = move |_: &Run, reply: &str| split_reply(reply, size);
    let format = format!(
        "You get {size} tasks at once. Reply with only a JSON array of exactly {size} elements: element i is your full answer to task i (a string, or a JSON value when the task asks for JSON). No text outside the array."
    );
    let hints = RequestHints {
        batch: Some(Box::new(hint)),
        ..Default::default()
    };
    let job = AgentJob::new(body, target.clone(), n.priority, text, &input, first as u32)
        .instructions(format)
        .hints(hints)
        .parse(&split, n.policy.repairs);
    let result = work(&mut h, job).await;
    let (value, agent) = match result {
        Ok(r) => r,
        Err(e) => {
            guard.finish(Err(e.kind));
            return Err(e);
        }
    };
    run.res.metrics.record(agent, Sample::Batch(size as u32));
    h.complete(value.clone());
    let Value::Array(answers) = value else {
        unreachable!("split_reply gives a list")
    };
    let Value::Array(items) = input else {
        unreachable!("the batch's input is its items")
    };
    // `validate` judges each item's answer on its own; a rejected one
    // leaves the batch and is asked again alone, with the reason (the next
    // capable agent, or the same one when the body names it).
    let outputs: Vec<NodeResult> = match &kind.validate {
        None => answers.into_iter().map(Ok).collect(),
        Some(check) => {
            let batch = h.id.clone();
            join_all(
                answers
                    .into_iter()
                    .zip(items)
                    .enumerate()
                    .map(|(k, (answer, item))| {
                        let (s, asked, batch) = (&scopes[k], &asked[k], &batch);
                        async move {
                            let verdict = reply_check::judge(
                                run,
                                body,
                                batch,
                                &check.rule,
                                asked,
                                &item,
                                &answer,
                                s,
                                1,
                            )
                            .await?;
                            let Some(reason) = verdict else {
                                return Ok(answer);
                            };
                            let rejected = reply_check::Rejected {
                                agent,
                                reason,
                                reply: answer,
                                attempt: 1,
                            };
                            super::agent::ask(run, body, kind, item, s, Some(rejected)).await
                        }
                    }),
            )
            .await
        }
    };
    match outputs.iter().find_map(|r| r.as_ref().err()) {
        Some(e) => guard.finish(Err(e.kind)),
        None => guard.finish(Ok(())),
    }
    for v in outputs.iter().filter_map(|r| r.as_ref().ok()) {
        run.record_output(body, v);
        if let Some(topic) = &n.emit {
            run.publish(
                Id::from(topic.as_str()),
                n.id.clone(),
                None,
                "event",
                v.clone(),
                None,
            )
            .await;
        }
    }
    Ok(outputs)
}

/// A batch reply as one value per item, or what is wrong with it.
fn split_reply(reply: &str, size: usize) -> Result<Value, String> {
    let v = reply_value(reply);
    let Value::Array(answers) = v else {
        return Err(format!(
            "expected a JSON array of {size} answers (one per task, in order), but the reply is not a JSON array"
        ));
    };
    if answers.len() != size {
        return Err(format!(
            "expected a JSON array of {size} answers (one per task, in order), got {}",
            answers.len()
        ));
    }
    // A string answer reads as an unbatched reply would: JSON when it is a
    // JSON object or array, else text.
    Ok(Value::Array(
        answers
            .into_iter()
            .map(|a| match a {
                Value::String(s) => reply_value(&s),
                other => other,
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_split_per_item_or_say_why_not() {
        assert_eq!(
            split_reply(r#"["a", {"b": 1}, "[2]"]"#, 3),
            Ok(json!(["a", {"b": 1}, [2]]))
        );
        assert_eq!(split_reply("```json\n[1, 2]\n```", 2), Ok(json!([1, 2])));
        let short = split_reply(r#"["a", "b"]"#, 3).unwrap_err();
        assert!(short.contains("got 2"), "{short}");
        let cut = split_reply(r#"["a", "b"#, 2).unwrap_err();
        assert!(cut.contains("not a JSON array"), "{cut}");
    }
}
