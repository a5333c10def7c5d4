//! `validate` on an agent node: judging a reply that arrived (by an
//! expression, or by a checker agent), and choosing who is asked next.
//! Fallbacks fire on errors; this fires on replies that fail a check.

use std::sync::Arc;

use serde_json::Value;

use super::plan::parse_review;
use crate::engine::agent_task::{AgentJob, hints, work};
use crate::engine::exec::NodeResult;
use crate::engine::run::{Run, Scope, TaskError, TaskHandle, Vars};
use crate::event::{ErrorKind, EventKind, Id};
use crate::llm::Expect;
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::kinds::agent::{AgentNode, CheckRule, ReplyCheck, Target};

/// A reply that failed the check: by whom, why, and which reply it was.
pub(crate) struct Rejected {
    pub(crate) agent: AgentIdx,
    pub(crate) reason: String,
    pub(crate) reply: Value,
    /// Replies asked for so far, this one included.
    pub(crate) attempt: u32,
}

/// Asks, judges, and on a rejection asks the next capable agent (the same
/// one when the node names it) with the reason, up to `check.max_attempts`
/// replies. `from` is a reply already judged and rejected (a batched
/// item's answer): the loop goes on after it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn until_valid<'j>(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &AgentNode,
    check: &ReplyCheck,
    h: &mut TaskHandle,
    text: &str,
    input: &Value,
    scope: &Scope,
    job_for: impl Fn(Target, String) -> AgentJob<'j>,
    from: Option<Rejected>,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let mut tried = Vec::new();
    let mut target = kind.target.clone();
    let mut ask = text.to_string();
    let mut rejected = from;
    let mut attempt = 0;
    loop {
        if let Some(r) = rejected.take() {
            attempt = r.attempt;
            run.emit(EventKind::ReplyRejected {
                task: h.id.clone(),
                agent: run.wf.agents[r.agent].id.clone(),
                reason: r.reason.clone(),
                attempt,
            });
            if attempt >= check.max_attempts {
                let err = TaskError::new(
                    ErrorKind::Malformed,
                    format!(
                        "{}: {attempt} replies failed validation; the last: {}",
                        n.id, r.reason
                    ),
                );
                h.fail(&err, false);
                return Err(err);
            }
            tried.push(r.agent);
            let next = next_agent(run, kind, &tried).unwrap_or(r.agent);
            if next != r.agent {
                run.emit(EventKind::TaskRerouted {
                    task: h.id.clone(),
                    from_agent: Some(run.wf.agents[r.agent].id.clone()),
                    to_agent: run.wf.agents[next].id.clone(),
                });
            }
            target = Target::Agent(next);
            ask = format!(
                "{text}\n\nA previous reply was rejected: {}\nRejected reply: {}",
                r.reason,
                excerpt(&r.reply)
            );
        }
        attempt += 1;
        let (reply, agent) = work(h, job_for(target.clone(), ask.clone())).await?;
        let verdict = judge(
            run,
            node,
            &h.id,
            &check.rule,
            text,
            input,
            &reply,
            scope,
            attempt,
        );
        match verdict.await? {
            None => {
                h.complete(reply.clone());
                return Ok(reply);
            }
            Some(reason) => {
                rejected = Some(Rejected {
                    agent,
                    reason,
                    reply,
                    attempt,
                })
            }
        }
    }
}

/// Judges `reply` to `prompt` (the node's `input` and the reply are what an
/// expression reads): `None` when it passes, else the reason.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn judge(
    run: &Arc<Run>,
    node: NodeIdx,
    task: &Id,
    rule: &CheckRule,
    prompt: &str,
    input: &Value,
    reply: &Value,
    scope: &Scope,
    attempt: u32,
) -> Result<Option<String>, TaskError> {
    let n = &run.wf.nodes[node];
    match rule {
        CheckRule::When(e) => {
            let vars = Vars {
                input,
                output: Some(reply),
                scope,
                label: None,
                state: None,
            };
            match run.with_vars(&vars, |v| e.eval_bool(v)) {
                Ok(true) => Ok(None),
                Ok(false) => Ok(Some(format!("the reply does not pass `{}`", e.source()))),
                Err(err) => Ok(Some(format!(
                    "the check `{}` could not be evaluated on the reply: {}",
                    e.source(),
                    err.message
                ))),
            }
        }
        CheckRule::Agent(checker) => {
            let id = scope.task_id(&format!("{}~check{attempt}", n.id));
            let mut h = run.new_task(
                id,
                node,
                Some(task.clone()),
                format!("check: {}", n.title),
                Some(&Target::Agent(*checker)),
                n.priority,
                reply,
                false,
            );
            let ask = format!(
                "Check this reply to the task below.\nTask: {prompt}\nReply: {}",
                excerpt(reply)
            );
            let job = AgentJob::new(
                node,
                Target::Agent(*checker),
                n.priority,
                ask,
                reply,
                attempt - 1,
            )
            .instructions(
                "Reply with JSON only: {\"approved\": true|false, \"feedback\": \"why, in one sentence\"}",
            )
            .hints(hints(Expect::Review))
            .parse(&parse_review, n.policy.repairs.max(1));
            let (verdict, _) = work(&mut h, job).await?;
            h.complete(verdict.clone());
            let approved = verdict.get("approved").and_then(Value::as_bool) == Some(true);
            let why = verdict
                .get("feedback")
                .and_then(Value::as_str)
                .filter(|f| !f.trim().is_empty())
                .unwrap_or("the checker rejected it")
                .to_string();
            Ok((!approved).then_some(why))
        }
    }
}

/// Who answers after a rejection: the next agent with the node's
/// capability that has not been tried (declaration order), else none (the
/// caller asks the same agent again). A node pinned to an agent keeps it.
pub(crate) fn next_agent(run: &Run, kind: &AgentNode, tried: &[AgentIdx]) -> Option<AgentIdx> {
    let Target::Capability(c) = &kind.target else {
        return None;
    };
    run.wf
        .agents
        .iter()
        .enumerate()
        .find(|(i, a)| a.capabilities.iter().any(|x| x == c) && !tried.contains(i))
        .map(|(i, _)| i)
}

/// The start of a reply, for a prompt.
pub(crate) fn excerpt(reply: &Value) -> String {
    let text = match reply {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    crate::text::clip(&text, 600).into_owned()
}
