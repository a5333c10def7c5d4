//! `agent`: one task for one agent, or for the least-loaded agent with a
//! capability. With `validate`, each reply is judged (`reply_check.rs`):
//! a rejected one goes, with the reason, to the next capable agent.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::agent_task::{AgentJob, parse_json, parse_text, work};
use crate::engine::exec::NodeResult;
use super::reply_check;
use crate::engine::reply_schema;
use crate::engine::run::{Run, Scope, TaskError, Vars, with_feedback};
use crate::event::{ErrorKind, EventKind};
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::agent::{AgentNode, Target};

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &AgentNode,
    input: Value,
    scope: &Scope,
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
    // Validated: ask, judge, and on a rejection ask the next capable agent
    // (the same one when the node names it) with the reason.
    let mut tried = Vec::new();
    let mut target = target.clone();
    let mut ask = text.clone();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (value, agent) = work(&mut h, job_for(target.clone(), ask.clone())).await?;
        let verdict =
            reply_check::judge(run, node, &h.id, &check.rule, &text, &input, &value, scope, attempt);
        let Some(reason) = verdict.await? else {
            h.complete(value.clone());
            return Ok(value);
        };
        run.emit(EventKind::ReplyRejected {
            task: h.id.clone(),
            agent: run.wf.agents[agent].id.clone(),
            reason: reason.clone(),
            attempt,
        });
        if attempt >= check.max_attempts {
            let err = TaskError::new(
                ErrorKind::Malformed,
                format!(
                    "{}: {attempt} replies failed validation; the last: {reason}",
                    n.id
                ),
            );
            h.fail(&err, false);
            return Err(err);
        }
        tried.push(agent);
        let next = reply_check::next_agent(run, kind, &tried).unwrap_or(agent);
        if next != agent {
            run.emit(EventKind::TaskRerouted {
                task: h.id.clone(),
                from_agent: Some(run.wf.agents[agent].id.clone()),
                to_agent: run.wf.agents[next].id.clone(),
            });
        }
        target = Target::Agent(next);
        ask = format!(
            "{text}\n\nA previous reply was rejected: {reason}\nRejected reply: {}",
            reply_check::excerpt(&value)
        );
    }
}
