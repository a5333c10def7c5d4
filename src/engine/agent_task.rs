//! One agent working on one task: waiting for a slot, calling the provider,
//! validating structured replies (with repair prompts), hand-offs between
//! agents, and obeying pause / reroute / cancel / retry while it does.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::run::{Run, TaskControl, TaskError, TaskHandle};
use crate::event::{ErrorKind, EventKind, Id, TaskState};
use crate::llm::{
    self, Completion, Expect, Message, ProviderError, ProviderRequest, RequestHints, tokens,
};
use crate::workflow::model::{AgentIdx, Target};

/// Turns a reply into the node's value, or says what is wrong with it.
pub(crate) type ReplyParser<'a> = &'a (dyn Fn(&Run, &str) -> Result<Value, String> + Sync);

/// What to ask of an agent.
pub(crate) struct AgentJob<'a> {
    pub(crate) target: Target,
    pub(crate) priority: u8,
    pub(crate) prompt: String,
    /// Output-format instructions, sent as a system message after the
    /// agent's own system prompt so the user message stays the task itself.
    pub(crate) instructions: Option<String>,
    pub(crate) hints: RequestHints,
    pub(crate) visit: u32,
    /// State while the agent works (IN_PROGRESS, PLANNING).
    pub(crate) working: TaskState,
    pub(crate) parse: ReplyParser<'a>,
    /// Repair prompts allowed for replies `parse` rejects.
    pub(crate) repairs: u32,
}

/// Free text; JSON when the reply is a JSON object or array.
pub(crate) fn parse_text(_: &Run, text: &str) -> Result<Value, String> {
    Ok(reply_value(text))
}

/// The reply as a value: JSON when it is an object or array (code fences
/// allowed), else the text.
pub(crate) fn reply_value(text: &str) -> Value {
    let body = strip_fences(text);
    let bracketed = (body.starts_with('{') && body.ends_with('}'))
        || (body.starts_with('[') && body.ends_with(']'));
    if bracketed && let Ok(v) = serde_json::from_str::<Value>(body) {
        return v;
    }
    Value::String(text.to_string())
}

/// Strips a Markdown code fence that models like to wrap JSON in.
pub(crate) fn strip_fences(text: &str) -> &str {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("```") {
        let rest = rest.split_once('\n').map_or("", |(_, r)| r);
        return rest.trim_end().strip_suffix("```").unwrap_or(rest).trim();
    }
    t
}

enum Interrupt {
    Pause,
    Reroute(AgentIdx),
    Cancel,
}

fn classify(c: TaskControl) -> Option<Interrupt> {
    match c {
        TaskControl::Pause => Some(Interrupt::Pause),
        TaskControl::Reroute(a) => Some(Interrupt::Reroute(a)),
        TaskControl::Cancel => Some(Interrupt::Cancel),
        _ => None,
    }
}

/// Runs the job until the agent produced an acceptable reply. On success the
/// task is left in `job.working` state: the caller completes it (or sends it
/// to review). On error the task is FAILED or CANCELLED.
pub(crate) async fn work(
    h: &mut TaskHandle,
    mut job: AgentJob<'_>,
) -> Result<(Value, AgentIdx), TaskError> {
    let run = h.run.clone();
    let mut repairs_used = 0;
    let mut hops = 0u32;
    loop {
        // 1. Wait for a slot, obeying commands meanwhile.
        let lease = {
            let target = job.target.clone();
            let acquire = run.sched.acquire(&target, job.priority);
            tokio::pin!(acquire);
            loop {
                tokio::select! {
                    lease = &mut acquire => match lease {
                        Ok(l) => break Some(l),
                        Err(_) => return Err(cancel(h, "the scheduler stopped")),
                    },
                    c = h.control.recv() => match c.and_then(classify) {
                        Some(i) => {
                            interrupted(h, &mut job, i).await?;
                            break None;
                        }
                        None => continue,
                    },
                }
            }
        };
        let Some(lease) = lease else { continue };

        // 2. Call the agent.
        let agent = lease.agent();
        h.attempt += 1;
        h.set_agent(agent);
        let agent_id = run.wf.agents[agent].id.clone();
        run.emit(EventKind::TaskAssigned {
            task: h.id.clone(),
            agent: agent_id.clone(),
            attempt: h.attempt,
        });
        h.set_state(job.working, None);
        if h.started.is_none() {
            h.started = Some(Instant::now());
        }
        run.publish(
            run.agent_topics[agent].clone(),
            run.orchestrator_id.clone(),
            Some(agent_id.clone()),
            "task",
            Value::String(summary(&job.prompt)),
            Some(h.id.clone()),
        )
        .await;
        let outcome = {
            let call = call_agent(&run, h.id.clone(), h.attempt, agent, &job);
            tokio::pin!(call);
            loop {
                tokio::select! {
                    r = &mut call => break Ok(r),
                    c = h.control.recv() => match c.and_then(classify) {
                        Some(i) => break Err(i),
                        None => continue,
                    },
                }
            }
        };
        drop(lease);
        let result = match outcome {
            Ok(r) => r,
            Err(i) => {
                interrupted(h, &mut job, i).await?;
                continue;
            }
        };

        // 3. Judge the reply.
        let err = match result {
            Ok(c) => {
                h.usage.add(&c.usage);
                match (job.parse)(&run, &c.text) {
                    Ok(value) => {
                        if let Some((capability, reason)) = handoff_request(&value) {
                            hops += 1;
                            if hops > run.wf.max_handoffs {
                                TaskError::workflow(format!(
                                    "task {} was handed off more than {} times (max_handoffs)",
                                    h.id, run.wf.max_handoffs
                                ))
                            } else if let Some(peer) =
                                run.sched.least_loaded(&capability, Some(agent))
                            {
                                let to = run.wf.agents[peer].id.clone();
                                run.emit(EventKind::TaskHandoff {
                                    task: h.id.clone(),
                                    from_agent: agent_id.clone(),
                                    to_agent: to.clone(),
                                    capability: capability.clone(),
                                    reason: reason.clone(),
                                    hop: hops,
                                });
                                run.publish(
                                    run.agent_topics[peer].clone(),
                                    agent_id.clone(),
                                    Some(to.clone()),
                                    "handoff",
                                    json!({"task": &*h.id, "capability": capability, "reason": reason}),
                                    Some(h.id.clone()),
                                )
                                .await;
                                job.target = Target::Agent(peer);
                                h.set_state(
                                    TaskState::Pending,
                                    Some(format!("handed off to {to}")),
                                );
                                continue;
                            } else {
                                TaskError::workflow(format!(
                                    "{agent_id} handed task {} off to capability `{capability}`, which no other agent offers",
                                    h.id
                                ))
                            }
                        } else {
                            run.publish(
                                run.orchestrator_id.clone(),
                                agent_id.clone(),
                                None,
                                "result",
                                Value::String(summary(&c.text)),
                                Some(h.id.clone()),
                            )
                            .await;
                            return Ok((value, agent));
                        }
                    }
                    Err(why) if repairs_used < job.repairs => {
                        repairs_used += 1;
                        run.emit(EventKind::OutputRepair {
                            task: h.id.clone(),
                            attempt: repairs_used,
                            error: why.clone(),
                        });
                        job.prompt = repair_prompt(&job.prompt, &why);
                        continue;
                    }
                    Err(why) => TaskError::new(
                        ErrorKind::Malformed,
                        format!(
                            "{agent_id} gave an invalid reply for task {} after {repairs_used} repair prompt(s): {why}",
                            h.id
                        ),
                    ),
                }
            }
            Err(e) => TaskError::new(e.kind, format!("{agent_id}: {}", e.message)),
        };

        // 4. Failed: fail the node, or hold for a human decision.
        if !run.hold_failed {
            h.fail(&err, false);
            return Err(err);
        }
        h.fail(&err, true);
        loop {
            match h.control.recv().await {
                Some(TaskControl::Retry) => {
                    h.set_state(TaskState::Pending, Some("retry".into()));
                    break;
                }
                Some(TaskControl::Reroute(a)) => {
                    reroute(h, &mut job, a);
                    h.set_state(TaskState::Pending, Some("rerouted after failure".into()));
                    break;
                }
                Some(TaskControl::Cancel) | None => {
                    h.release_held();
                    return Err(err);
                }
                Some(_) => continue,
            }
        }
    }
}

fn cancel(h: &mut TaskHandle, reason: &str) -> TaskError {
    h.cancel(reason);
    TaskError::cancelled(format!("task {} was cancelled: {reason}", h.id))
}

fn reroute(h: &mut TaskHandle, job: &mut AgentJob<'_>, to: AgentIdx) {
    let run = h.run.clone();
    run.emit(EventKind::TaskRerouted {
        task: h.id.clone(),
        from_agent: h.agent.map(|a| run.wf.agents[a].id.clone()),
        to_agent: run.wf.agents[to].id.clone(),
    });
    job.target = Target::Agent(to);
}

/// Handles pause / reroute / cancel while waiting or working. Returns when
/// the task should be dispatched again.
async fn interrupted(
    h: &mut TaskHandle,
    job: &mut AgentJob<'_>,
    i: Interrupt,
) -> Result<(), TaskError> {
    match i {
        Interrupt::Cancel => Err(cancel(h, "cancelled by the user")),
        Interrupt::Reroute(a) => {
            reroute(h, job, a);
            h.set_state(TaskState::Pending, Some("rerouted".into()));
            Ok(())
        }
        Interrupt::Pause => {
            h.set_state(TaskState::Paused, Some("paused by the user".into()));
            loop {
                match h.control.recv().await {
                    Some(TaskControl::Resume) => {
                        h.set_state(TaskState::Pending, Some("resumed".into()));
                        return Ok(());
                    }
                    Some(TaskControl::Reroute(a)) => reroute(h, job, a),
                    Some(TaskControl::Cancel) | None => {
                        return Err(cancel(h, "cancelled by the user"));
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

async fn call_agent(
    run: &Arc<Run>,
    task: Id,
    attempt: u32,
    agent: AgentIdx,
    job: &AgentJob<'_>,
) -> Result<Completion, ProviderError> {
    let a = &run.wf.agents[agent];
    let mut messages = Vec::with_capacity(3);
    if let Some(sys) = &a.system {
        messages.push(Message::system(sys.clone()));
    }
    if let Some(ins) = &job.instructions {
        messages.push(Message::system(ins.clone()));
    }
    messages.push(Message::user(job.prompt.clone()));
    let req = ProviderRequest {
        agent: a.id.clone(),
        role: a.role.clone(),
        model: a.model.clone(),
        task: task.clone(),
        attempt,
        visit: job.visit,
        messages,
        max_tokens: a.max_tokens,
        temperature: a.temperature,
        hints: job.hints.clone(),
    };
    match (&run.tools, a.tools.is_empty()) {
        (Some(tools), false) => call_with_tools(run, task, attempt, agent, req, tools).await,
        _ => call_turn(run, task, attempt, agent, req).await,
    }
}

/// The tool loop (shared by every provider): call, run the tools the model
/// asked for, append their results, call again, until a reply without tool
/// calls or the turn limit. Usage is the sum of all turns.
async fn call_with_tools(
    run: &Arc<Run>,
    task: Id,
    attempt: u32,
    agent: AgentIdx,
    mut req: ProviderRequest,
    tools: &crate::tools::ToolBox,
) -> Result<Completion, ProviderError> {
    let a = &run.wf.agents[agent];
    req.hints.tools = tools.specs(&a.tools);
    let mut usage = crate::event::Usage::default();
    for _ in 0..tools.max_turns {
        let c = call_turn(run, task.clone(), attempt, agent, req.clone()).await?;
        usage.add(&c.usage);
        if c.tool_calls.is_empty() {
            return Ok(Completion { usage, ..c });
        }
        req.messages
            .push(Message::assistant_tool_calls(c.text, c.tool_calls.clone()));
        for call in c.tool_calls {
            run.emit(EventKind::ToolCall {
                task: task.clone(),
                agent: a.id.clone(),
                call_id: call.id.clone(),
                tool: call.name.clone(),
                arguments: call.arguments.clone(),
            });
            let result = tools.call(&call, &a.tools).await;
            let (ok, output) = match result {
                Ok(o) => (true, o),
                Err(e) => (false, format!("error: {e}")),
            };
            run.emit(EventKind::ToolResult {
                task: task.clone(),
                agent: a.id.clone(),
                call_id: call.id.clone(),
                tool: call.name.clone(),
                ok,
                output: output.chars().take(2000).collect(),
            });
            req.messages.push(Message::tool_result(call.id, output));
        }
    }
    Err(ProviderError::new(
        ErrorKind::Workflow,
        format!(
            "agent `{}` was still calling tools after {} turns",
            a.id, tools.max_turns
        ),
    ))
}

/// One provider call, with its request/response/error events.
async fn call_turn(
    run: &Arc<Run>,
    task: Id,
    attempt: u32,
    agent: AgentIdx,
    req: ProviderRequest,
) -> Result<Completion, ProviderError> {
    let a = &run.wf.agents[agent];
    let provider = &run.providers[agent];
    let prompt_tokens = tokens::TokenCounter::global().count_messages(&req.messages);
    run.emit(EventKind::LlmRequest {
        task: task.clone(),
        agent: a.id.clone(),
        provider: run.provider_names[agent].clone(),
        model: a.model.clone(),
        attempt,
        prompt_tokens,
    });
    let started = Instant::now();
    let result = if provider.streams_live() {
        complete_live(run, &task, &a.id, provider.as_ref(), req).await
    } else {
        llm::complete(provider.as_ref(), req).await
    };
    match &result {
        Ok(c) => {
            run.add_usage(&c.usage);
            run.emit(EventKind::LlmResponse {
                task: task.clone(),
                agent: a.id.clone(),
                provider: run.provider_names[agent].clone(),
                model: a.model.clone(),
                usage: c.usage,
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            });
        }
        Err(e) => {
            if let Some(u) = &e.usage {
                run.add_usage(u);
            }
            run.emit(EventKind::LlmError {
                task,
                agent: a.id.clone(),
                kind: e.kind,
                error: e.message.clone(),
            })
        }
    }
    result
}

/// Like `llm::complete`, also forwarding each delta as an `llm_delta` event.
async fn complete_live(
    run: &Arc<Run>,
    task: &Id,
    agent: &Id,
    provider: &dyn llm::Provider,
    req: ProviderRequest,
) -> Result<Completion, ProviderError> {
    use futures::StreamExt;
    let mut stream = provider.stream(req);
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk? {
            llm::ProviderChunk::Delta(d) => {
                text.push_str(&d);
                run.emit(EventKind::LlmDelta {
                    task: task.clone(),
                    agent: agent.clone(),
                    text: d,
                });
            }
            llm::ProviderChunk::ToolCalls(c) => tool_calls.extend(c),
            llm::ProviderChunk::Done { usage } => {
                return Ok(Completion {
                    text,
                    usage,
                    tool_calls,
                });
            }
        }
    }
    Err(ProviderError::new(
        ErrorKind::Server,
        "the reply ended before it was complete",
    ))
}

/// `{"handoff": {"capability": "x", "reason": "..."}}` or `{"handoff": "x"}`.
fn handoff_request(v: &Value) -> Option<(String, String)> {
    match v.get("handoff")? {
        Value::String(c) => Some((c.clone(), String::new())),
        Value::Object(o) => {
            let cap = o.get("capability")?.as_str()?.to_string();
            let reason = o
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            Some((cap, reason))
        }
        _ => None,
    }
}

fn repair_prompt(original: &str, why: &str) -> String {
    // Keep the original request and say exactly what was wrong: models fix
    // a named error far more reliably than a vague "try again".
    let base = original.split("\n\n[repair]").next().unwrap_or(original);
    format!(
        "{base}\n\n[repair] Your previous reply was not valid: {why}. Reply again with only the corrected JSON."
    )
}

fn summary(text: &str) -> String {
    const MAX: usize = 160;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The expected shape for a kind of structured reply.
pub(crate) fn hints(expect: Expect) -> RequestHints {
    RequestHints {
        expect,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_as_json_only_when_they_are_json() {
        assert_eq!(reply_value("{\"a\": 1}"), json!({"a": 1}));
        assert_eq!(reply_value("```json\n[1,2]\n```"), json!([1, 2]));
        assert_eq!(reply_value("plain words"), json!("plain words"));
        assert_eq!(reply_value("{\"cut"), json!("{\"cut"));
    }

    #[test]
    fn handoff_requests_are_recognised() {
        assert_eq!(
            handoff_request(&json!({"handoff": "law"})),
            Some(("law".into(), String::new()))
        );
        assert_eq!(
            handoff_request(&json!({"handoff": {"capability": "math", "reason": "needs sums"}})),
            Some(("math".into(), "needs sums".into()))
        );
        assert_eq!(handoff_request(&json!({"answer": 1})), None);
    }

    #[test]
    fn repair_prompts_do_not_pile_up() {
        let once = repair_prompt("Plan it", "missing subtasks");
        let twice = repair_prompt(&once, "empty list");
        assert!(twice.starts_with("Plan it\n\n[repair]"));
        assert_eq!(twice.matches("[repair]").count(), 1);
    }
}
