//! `map`: scatter-gather. The body runs once per item (from an inline list, a
//! count, or an expression over upstream output), at most `concurrency` at a
//! time, batch after batch; results are gathered in item order and handed to
//! the optional `aggregate` node.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::Value;

use crate::engine::exec::{NodeResult, exec_node};
use crate::engine::run::{Run, Scope, TaskError, Vars};
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::map::{MapNode, MapSource};

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &MapNode,
    input: Value,
    scope: &Scope,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let MapNode {
        source,
        body,
        concurrency,
        batch_size,
        aggregate,
        settle,
    } = kind;
    let items: Vec<Value> = match source {
        MapSource::Items(v) => v.clone(),
        MapSource::Count(c) => (0..*c).map(Value::from).collect(),
        MapSource::Over(expr) => {
            let v = run
                .with_vars(
                    &Vars {
                        input: &input,
                        output: None,
                        scope,
                        label: None,
                        state: None,
                    },
                    |vars| expr.eval(vars),
                )
                .map_err(|e| {
                    TaskError::workflow(format!(
                        "{}: `over = {}` failed: {}",
                        n.id,
                        expr.source(),
                        e.message
                    ))
                })?;
            match v {
                Value::Array(a) => a,
                other => {
                    return Err(TaskError::workflow(format!(
                        "{}: `over = {}` must give a list, but gave {}",
                        n.id,
                        expr.source(),
                        kind_of(&other)
                    )));
                }
            }
        }
    };
    let total = items.len();
    let limit = if *concurrency == 0 {
        usize::MAX
    } else {
        *concurrency as usize
    };
    let batch = if *batch_size == 0 {
        total.max(1)
    } else {
        *batch_size as usize
    };
    let mut results: Vec<Value> = vec![Value::Null; total];
    let mut done = 0usize;
    run.progress(node, 0, total);
    if let Some(per_call) = n.policy.batch {
        batched(
            run,
            node,
            *body,
            items,
            per_call as usize,
            limit,
            scope,
            &mut results,
            settle.is_some(),
        )
        .await?;
        let gathered = match settle {
            Some(floor) => super::settled::floor(run, node, results, *floor, "items")?,
            None => Value::Array(results),
        };
        return match aggregate {
            Some(agg) => exec_node(run.clone(), *agg, gathered, scope.clone()).await,
            None => Ok(gathered),
        };
    }
    let mut items = items.into_iter().enumerate().peekable();
    while items.peek().is_some() {
        let mut in_batch = 0usize;
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < limit && in_batch < batch {
                let Some((i, item)) = items.next() else { break };
                in_batch += 1;
                let mut s = scope.nested(format_args!("{}[{i}]", n.id));
                s.item = Some(item.clone());
                s.index = Some(i as u32);
                s.visit = i as u32;
                let fut = exec_node(run.clone(), *body, item, s);
                running.push(async move { (i, fut.await) });
            }
            let Some((i, r)) = running.next().await else {
                break;
            };
            match r {
                // A settled map keeps every item's end, success or not.
                r if settle.is_some() => results[i] = super::settled::entry(r),
                Ok(v) => results[i] = v,
                Err(e) => {
                    return Err(TaskError::new(
                        e.kind,
                        format!("{}: item {i} failed: {}", n.id, e.message),
                    ));
                }
            }
            done += 1;
            run.progress(node, done, total);
        }
    }
    let gathered = match settle {
        Some(floor) => super::settled::floor(run, node, results, *floor, "items")?,
        None => Value::Array(results),
    };
    match aggregate {
        Some(agg) => exec_node(run.clone(), *agg, gathered, scope.clone()).await,
        None => Ok(gathered),
    }
}

/// Items handed to the body's agent `per_call` at a time, one task and one
/// call per batch; batches run side by side while the items in flight stay
/// within `limit`.
#[allow(clippy::too_many_arguments)]
async fn batched(
    run: &Arc<Run>,
    node: NodeIdx,
    body: NodeIdx,
    items: Vec<Value>,
    per_call: usize,
    limit: usize,
    scope: &Scope,
    results: &mut [Value],
    settle: bool,
) -> Result<(), TaskError> {
    let n = &run.wf.nodes[node];
    let total = items.len();
    let in_flight = (limit / per_call).max(1);
    let mut items = items.into_iter();
    let mut first = 0usize;
    let mut done = 0usize;
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < in_flight && first < total {
            let chunk: Vec<Value> = items.by_ref().take(per_call).collect();
            let at = first;
            let len = chunk.len();
            first += len;
            let run = run.clone();
            let scope = scope.clone();
            running.push(async move {
                let r = super::batch::run(&run, node, body, at, chunk, &scope).await;
                (at, len, r)
            });
        }
        let Some((at, len, r)) = running.next().await else {
            return Ok(());
        };
        match r {
            Ok(values) => {
                done += values.len();
                for (k, v) in values.into_iter().enumerate() {
                    results[at + k] = match v {
                        v if settle => super::settled::entry(v),
                        Ok(v) => v,
                        Err(e) => {
                            return Err(TaskError::new(
                                e.kind,
                                format!("{}: item {} failed: {}", n.id, at + k, e.message),
                            ));
                        }
                    };
                }
                run.progress(node, done, total);
            }
            // A settled map marks every item of a failed batch as failed.
            Err(e) if settle => {
                done += len;
                for slot in &mut results[at..at + len] {
                    *slot = super::settled::entry(Err(e.clone()));
                }
                run.progress(node, done, total);
            }
            Err(e) => {
                return Err(TaskError::new(
                    e.kind,
                    format!("{}: the batch from item {at} failed: {}", n.id, e.message),
                ));
            }
        }
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
