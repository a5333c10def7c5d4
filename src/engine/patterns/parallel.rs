//! `parallel`: fan-out / fan-in. Join all (fail fast), any (first success),
//! or k of n (first k successes, in branch order): branches still running
//! when the join is decided are cancelled. All settled (`settled.rs`) waits
//! for every branch and keeps each one's result or error.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::Value;

use crate::engine::exec::{NodeResult, exec_node};
use crate::engine::run::{Run, Scope, TaskError};
use crate::event::ErrorKind;
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::parallel::{Join, ParallelNode};

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &ParallelNode,
    input: Value,
    scope: &Scope,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let ParallelNode {
        branches,
        join,
        branch_timeout,
    } = kind;
    let total = branches.len();
    let mut pending: FuturesUnordered<_> = branches
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let fut = exec_node(run.clone(), b, input.clone(), scope.clone());
            let timeout = *branch_timeout;
            let name = run.wf.nodes[b].id.clone();
            async move {
                let r = match timeout {
                    Some(d) => match tokio::time::timeout(d, fut).await {
                        Ok(r) => r,
                        Err(_) => Err(TaskError::new(
                            ErrorKind::Timeout,
                            format!(
                                "branch {name} ran longer than its {} ms branch timeout",
                                d.as_millis()
                            ),
                        )),
                    },
                    None => fut.await,
                };
                (i, r)
            }
        })
        .collect();
    let need = match join {
        Join::All => total,
        Join::Any => 1,
        Join::KOfN(k) => *k as usize,
        Join::AllSettled { min_success } => {
            return super::settled::gather(run, node, pending, total, *min_success, "branches")
                .await;
        }
    };
    let mut results: Vec<Option<Value>> = vec![None; total];
    let (mut ok, mut failed, mut done) = (0usize, Vec::new(), 0usize);
    while let Some((i, r)) = pending.next().await {
        done += 1;
        run.progress(node, done, total);
        match r {
            Ok(v) => {
                ok += 1;
                if *join == Join::Any {
                    return Ok(v);
                }
                results[i] = Some(v);
                if ok >= need {
                    break;
                }
            }
            Err(e) => {
                if *join == Join::All && e.kind == ErrorKind::Cancelled {
                    // A cancel keeps its own words, and says why it ends the node.
                    return Err(TaskError::cancelled(format!(
                        "{} ({} joins all)",
                        e.message, n.id
                    )));
                }
                if *join == Join::All {
                    return Err(TaskError::new(
                        e.kind,
                        format!("{}: branch failed: {}", n.id, e.message),
                    ));
                }
                failed.push(e.message);
                if total - failed.len() < need {
                    return Err(TaskError::workflow(format!(
                        "{}: join needs {need} successful branch(es) but {} of {total} failed: {}",
                        n.id,
                        failed.len(),
                        failed.join("; ")
                    )));
                }
            }
        }
    }
    // Dropping `pending` cancels the branches the join no longer needs.
    drop(pending);
    let values: Vec<Value> = results.into_iter().flatten().collect();
    match n.policy.resolve {
        Some(how) => super::resolve::resolve(run, node, scope, how, values).await,
        None => Ok(Value::Array(values)),
    }
}
