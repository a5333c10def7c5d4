//! `validate` on an agent node: judging a reply that arrived (by an
//! expression, or by a checker agent), and choosing who is asked next.
//! Fallbacks fire on errors; this fires on replies that fail a check.

use std::sync::Arc;

use serde_json::Value;

use super::plan::parse_review;
use crate::engine::agent_task::{AgentJob, hints, work};
use crate::engine::run::{Run, Scope, TaskError, Vars};
use crate::event::Id;
use crate::llm::Expect;
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::kinds::agent::{AgentNode, CheckRule, Target};

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
