//! `agent`: one task for one agent, or for the least-loaded agent with a
//! capability. With `validate`, each reply is judged (`reply_check.rs`):
//! a rejected one goes, with the reason, to the next capable agent.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::agent_task::{AgentJob, parse_json, parse_text, work};
use crate::engine::exec::NodeResult;
use super::reply_check;
use crate::engine::reply_schema;
use crate::engine::run::{Run, Scope, Vars, with_feedback};
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::agent::{AgentNode, Target};

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &AgentNode,
    input: Value,
    scope: &Scope,
) -> NodeResult {
    ask(run, node, kind, input, scope, None).await
}

/// Runs the node; `rejected` is a reply to it that already failed its
/// `validate` (a batched item's answer): the check goes on from there.
pub(crate) async fn ask(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &AgentNode,
    input: Value,
    scope: &Scope,
    rejected: Option<reply_check::Rejected>,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let AgentNode {
        target,
        prompt,
        validate,
    } = kind;
    let mut text = run.render(
        prompt,
        &Vars {
            input: &input,
            output: None,
            scope,
            label: None,
            state: None,
        },
    );
    with_feedback(&mut text, prompt, scope);
    let mut h = run.new_task(
        scope.task_id(&n.id),
        node,
        scope.parent.clone(),
        n.title.clone(),
        Some(target),
        n.priority,
        &input,
        false,
    );
    let schema = n.policy.schema.as_ref();
    let parse = |run: &Run, text: &str| match schema {
        Some(s) => reply_schema::parse(s, run, text),
        None => parse_json(run, text),
    };
    let job_for = |target: Target, prompt: String| {
        let job = AgentJob::new(node, target, n.priority, prompt, &input, scope.visit);
        match schema {
            Some(s) => reply_schema::ask(job, s).parse(&parse, n.policy.repairs),
            None if n.policy.expect_json => job.parse(&parse, n.policy.repairs),
            None => job.parse(&parse_text, 0),
        }
    };
    let Some(check) = validate else {
        let (value, _) = work(&mut h, job_for(target.clone(), text)).await?;
        h.complete(value.clone());
        return Ok(value);
    };
    reply_check::until_valid(
        run, node, kind, check, &mut h, &text, &input, scope, job_for, rejected,
    )
    .await
}
