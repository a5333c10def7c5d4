//! `gate`: a human decision. The gate shows an artifact (its input, or the
//! output of its `subject` node) and waits for a `gate_decision` command. A
//! denial with a subject sends the subject back with the comment as
//! feedback, up to `max_revisions`; without a subject it fails the gate.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::exec::{NodeResult, exec_node};
use crate::engine::run::{Run, Scope, TaskControl, TaskError};
use crate::event::{EventKind, TaskState};
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::gate::GateNode;

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &GateNode,
    input: Value,
    scope: &Scope,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let GateNode {
        subject,
        max_revisions,
    } = kind;
    let mut h = run.new_task(
        scope.task_id(&n.id),
        node,
        scope.parent.clone(),
        n.title.clone(),
        None,
        n.priority,
        &input,
        true,
    );
    let mut revision = 0u32;
    let mut feedback: Option<String> = None;
    loop {
        let artifact = match subject {
            Some(sub) => {
                let mut s = if revision == 0 {
                    scope.clone()
                } else {
                    scope.nested(format_args!("{}~r{revision}", n.id))
                };
                s.feedback = feedback.clone();
                s.visit = revision;
                exec_node(run.clone(), *sub, input.clone(), s).await?
            }
            None => input.clone(),
        };
        // A resumed run takes decisions already recorded instead of asking
        // again; a gate that was still waiting opens again.
        let recorded = run
            .restore
            .as_ref()
            .and_then(|r| r.gate_decision(&h.id, revision).cloned());
        let (approve, comment) = if let Some(d) = recorded {
            d
        } else {
            h.set_state(
                TaskState::Review,
                Some("waiting for a human decision".into()),
            );
            run.emit(EventKind::GateOpened {
                gate: h.id.clone(),
                node: n.id.clone(),
                artifact: artifact.clone(),
                revision,
            });
            let (approve, comment) = loop {
                match h.control.recv().await {
                    Some(TaskControl::Decide { approve, comment }) => break (approve, comment),
                    Some(TaskControl::Cancel) | None => {
                        h.cancel("cancelled by the user");
                        return Err(TaskError::cancelled(format!("gate {} was cancelled", h.id)));
                    }
                    Some(_) => continue,
                }
            };
            run.emit(EventKind::GateDecided {
                gate: h.id.clone(),
                approved: approve,
                comment: comment.clone(),
            });
            (approve, comment)
        };
        if approve {
            h.complete(artifact.clone());
            return Ok(artifact);
        }
        let why = comment
            .clone()
            .unwrap_or_else(|| "denied without a comment".into());
        if subject.is_none() || revision >= *max_revisions {
            let err = TaskError::workflow(if subject.is_none() {
                format!("gate {} was denied: {why}", h.id)
            } else {
                format!(
                    "gate {} was denied {} time(s), the revision limit (max_revisions = {max_revisions}): {why}",
                    h.id,
                    revision + 1
                )
            });
            h.fail(&err, false);
            return Err(err);
        }
        revision += 1;
        h.set_state(TaskState::Revision, Some(why.clone()));
        feedback = Some(why);
    }
}
