//! `agent`: one task for one agent, or for the least-loaded agent with a
//! capability.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::agent_task::{AgentJob, parse_json, parse_text, work};
use crate::engine::exec::NodeResult;
use crate::engine::reply_schema;
use crate::engine::run::{Run, Scope, Vars, with_feedback};
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::agent::AgentNode;

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &AgentNode,
    input: Value,
    scope: &Scope,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let AgentNode { target, prompt } = kind;
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
    let job = AgentJob::new(node, target.clone(), n.priority, text, &input, scope.visit);
    let schema = n.policy.schema.as_ref();
    let check = |run: &Run, text: &str| match schema {
        Some(s) => reply_schema::parse(s, run, text),
        None => parse_json(run, text),
    };
    let job = match schema {
        Some(s) => reply_schema::ask(job, s).parse(&check, n.policy.repairs),
        None if n.policy.expect_json => job.parse(&check, n.policy.repairs),
        None => job.parse(&parse_text, 0),
    };
    let (value, _) = work(&mut h, job).await?;
    h.complete(value.clone());
    Ok(value)
}
