//! One agent working on one task: waiting for a slot, calling the provider,
//! validating structured replies (with repair prompts), hand-offs between
//! agents, and obeying pause / reroute / cancel / retry while it does.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::resilient::{Effective, breaker_event, budget_updated, endpoint_event, scope_name};
use super::run::{Run, TaskControl, TaskError, TaskHandle};
use crate::budget::{BudgetNote, Refusal};
use crate::event::{ErrorKind, EventKind, Id, TaskState};
use crate::llm::task_assignment::{AssignmentContext, Constraints};
use crate::llm::{
    self, Completion, Expect, Message, ProviderError, ProviderRequest, RequestHints,
    TaskAssignment, tokens,
};
use crate::metrics::Sample;
use crate::resilience::{Admission, FallbackChain, cache, stable_hash};
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::kinds::agent::Target;
use crate::workflow::policy::budget::OnExhausted;

/// Completion tokens reserved for a call whose agent sets no `max_tokens`
/// when a budget applies (the provider is then told to stop there).
const DEFAULT_COMPLETION_RESERVE: u64 = 1024;

/// Turns a reply into the node's value, or says what is wrong with it.
pub(crate) type ReplyParser<'a> = &'a (dyn Fn(&Run, &str) -> Result<Value, String> + Sync);

/// What to ask of an agent.
pub(crate) struct AgentJob<'a> {
    /// Node the task belongs to (its policies and budget apply).
    pub(crate) node: NodeIdx,
    pub(crate) target: Target,
    pub(crate) priority: u8,
    pub(crate) prompt: String,
    /// The task's input, handed as a value to agents that are code.
    pub(crate) input: &'a Value,
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

impl<'a> AgentJob<'a> {
    /// A job with what most nodes ask: no output-format instructions,
    /// default hints, IN_PROGRESS while the agent works, the reply taken as
    /// text (JSON when it is an object or array), no repair prompts. The
    /// builder methods below change one of those each.
    pub(crate) fn new(
        node: NodeIdx,
        target: Target,
        priority: u8,
        prompt: String,
        input: &'a Value,
        visit: u32,
    ) -> Self {
        AgentJob {
            node,
            target,
            priority,
            prompt,
            input,
            instructions: None,
            hints: RequestHints::default(),
            visit,
            working: TaskState::InProgress,
            parse: &parse_text,
            repairs: 0,
        }
    }

    /// Output-format instructions (a system message after the agent's own).
    pub(crate) fn instructions(mut self, text: impl Into<String>) -> Self {
        self.instructions = Some(text.into());
        self
    }

    pub(crate) fn hints(mut self, hints: RequestHints) -> Self {
        self.hints = hints;
        self
    }

    /// The task's state while the agent works (PLANNING for planners).
    pub(crate) fn working(mut self, state: TaskState) -> Self {
        self.working = state;
        self
    }

    /// How the reply becomes the node's value, and how many repair prompts
    /// a rejected reply gets.
    pub(crate) fn parse(mut self, parse: ReplyParser<'a>, repairs: u32) -> Self {
        self.parse = parse;
        self.repairs = repairs;
        self
    }
}

/// Free text; JSON when the reply is a JSON object or array.
pub(crate) fn parse_text(_: &Run, text: &str) -> Result<Value, String> {
    Ok(reply_value(text))
}

/// `expect = "json"`: the reply must be a JSON object or array (code
/// fences allowed); anything else is malformed.
pub(crate) fn parse_json(_: &Run, text: &str) -> Result<Value, String> {
    let body = strip_fences(text);
    match serde_json::from_str::<Value>(body) {
        Ok(v @ (Value::Object(_) | Value::Array(_))) => Ok(v),
        Ok(_) => Err("expected a JSON object or array, got a bare JSON value".into()),
        Err(e) => Err(format!("expected a JSON object or array: {e}")),
    }
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
    if h.restored
        && let Some(v) = run.restored_output(&h.id)
    {
        let agent = h.agent.or(match &job.target {
            Target::Agent(a) => Some(*a),
            Target::Capability(_) => None,
        });
        return Ok((v, agent.unwrap_or_default()));
    }
    let mut repairs_used = 0;
    let mut hops = 0u32;
    // Resilience state: the fallback chain, attempts on the current agent,
    // the task's deadline.
    let mut chain: Option<FallbackChain> = None;
    let mut tries = 0u32;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        // Patterns that call agents in rounds pass no `exec_node`.
        run.pace().await;
        run.check_limit()?;
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
                            let t0 = tokio::time::Instant::now();
                            interrupted(h, &mut job, i).await?;
                            extend(&mut deadline, t0);
                            break None;
                        }
                        None => continue,
                    },
                }
            }
        };
        let Some(lease) = lease else { continue };
        let agent = lease.agent();

        // 1b. Under pressure, switch to the declared cheaper agent.
        if !run.res.plain
            && let Some((to, reason)) = degrade_pressure(&run, job.node, agent)
        {
            drop(lease);
            degrade(h, &mut job, agent, to, reason);
            continue;
        }
        let eff = Effective::of(&run.wf, job.node, agent);
        // The plain path (no policy anywhere) keeps no resilience state.
        if !run.res.plain && chain.as_ref().is_none_or(|c| c.current() != agent) {
            // First assignment, or moved by a reroute / hand-off / degrade:
            // the chain and the retry count start from this agent.
            chain = Some(FallbackChain::new(agent, &eff.agent.fallbacks));
            tries = 0;
        }
        // The task's deadline is fixed lazily (no clock read for calls that
        // answer at once): by the first call that has to wait, or below at
        // the first failure.
        let call_limit = eff.timeouts;

        // 2. Call the agent.
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
        // The structured assignment: recorded on the bus (its description
        // bounded), handed whole to agents that are code.
        let assignment = assignment(&run, h, &job, agent, call_limit, deadline);
        run.publish_at(
            run.agent_topics[agent].clone(),
            run.orchestrator_id.clone(),
            Some(agent_id.clone()),
            "task",
            assignment.recorded(),
            Some(h.id.clone()),
            job.priority,
        )
        .await;
        job.hints.assignment = run
            .code_agents
            .get(agent)
            .copied()
            .unwrap_or(false)
            .then(|| Box::new(assignment));
        let outcome = {
            let call = call_agent(
                &run,
                h.id.clone(),
                h.attempt,
                agent,
                &job,
                call_limit,
                &mut deadline,
            );
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
                let t0 = tokio::time::Instant::now();
                interrupted(h, &mut job, i).await?;
                extend(&mut deadline, t0);
                continue;
            }
        };

        // 3. Judge the reply.
        let mut retry_after = None;
        let mut breaker_open = false;
        let err = match result {
            CallEnd::Done(Ok(c), cache_key) => {
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
                            if let (Some(k), Some(cache)) = (cache_key, run.res.cache(agent)) {
                                cache.put(k, c.text.clone());
                            }
                            if let Some(ctx) = &run.res.context {
                                let line = format!("{}: {}", h.id, summary(&c.text));
                                ctx.push_history(&agent_id, line.clone());
                                ctx.set_summary(&agent_id, line);
                            }
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
                        run.res.metrics.record(agent, Sample::Malformed);
                        run.res.metrics.record(agent, Sample::Repair);
                        repairs_used += 1;
                        run.emit(EventKind::OutputRepair {
                            task: h.id.clone(),
                            attempt: repairs_used,
                            error: why.clone(),
                        });
                        job.prompt = repair_prompt(&job.prompt, &why);
                        continue;
                    }
                    Err(why) => {
                        run.res.metrics.record(agent, Sample::Malformed);
                        TaskError::new(
                            ErrorKind::Malformed,
                            format!(
                                "{agent_id} gave an invalid reply for task {} after {repairs_used} repair prompt(s): {why}",
                                h.id
                            ),
                        )
                    }
                }
            }
            CallEnd::Done(Err(e), _) => {
                retry_after = e.retry_after;
                TaskError::new(e.kind, format!("{agent_id}: {}", e.message))
            }
            CallEnd::BreakerOpen(retry_in, scope) => {
                breaker_open = true;
                let whose = if scope == agent_id {
                    String::new()
                } else {
                    format!(" ({scope})")
                };
                TaskError::new(
                    ErrorKind::Server,
                    format!(
                        "{agent_id}: circuit breaker open{whose} (next probe in {} ms)",
                        retry_in.as_millis()
                    ),
                )
            }
            CallEnd::Refused(refusal, needed, generation) => {
                let t0 = tokio::time::Instant::now();
                let next = on_refusal(h, &mut job, agent, refusal, needed, generation).await?;
                extend(&mut deadline, t0);
                match next {
                    Some(e) => e,
                    None => continue,
                }
            }
        };

        // 3b. Retry on the same agent, else move down the fallback chain.
        let mut out_of_time = false;
        if !run.res.plain {
            tries += 1;
            let now = tokio::time::Instant::now();
            if deadline.is_none() {
                deadline = eff.timeouts.task.map(|t| now + t);
            }
            let expired = deadline.is_some_and(|d| now >= d);
            let seed = stable_hash(&[
                &run.seed.to_le_bytes(),
                h.id.as_bytes(),
                &h.attempt.to_le_bytes(),
            ]);
            let wanted = (!breaker_open && !expired)
                .then(|| eff.retry.next_delay(err.kind, tries, retry_after, seed))
                .flatten();
            let delay = wanted.filter(|d| deadline.is_none_or(|dl| now + *d < dl));
            // A retry the deadline does not leave room for: out of time.
            let expired = expired || (wanted.is_some() && delay.is_none());
            out_of_time = expired;
            if let Some(delay) = delay {
                run.res.metrics.record(agent, Sample::Retry);
                run.emit(EventKind::RetryScheduled {
                    task: h.id.clone(),
                    agent: agent_id.clone(),
                    attempt: h.attempt,
                    retry: tries,
                    kind: err.kind,
                    delay_ms: delay.as_secs_f64() * 1000.0,
                    retry_after_ms: retry_after.map(|d| d.as_secs_f64() * 1000.0),
                });
                h.set_state(
                    TaskState::Pending,
                    Some(format!("retry {tries} in {} ms", delay.as_millis())),
                );
                backoff(h, &mut job, delay).await?;
                continue;
            }
            let falls_back = !matches!(
                err.kind,
                ErrorKind::Cancelled | ErrorKind::Workflow | ErrorKind::BudgetExhausted
            );
            if falls_back
                && !expired
                && let Some(c) = chain.as_mut()
                && let Some(next) = c.advance()
            {
                let to = run.wf.agents[next].id.clone();
                run.res.metrics.record(agent, Sample::Fallback);
                run.emit(EventKind::FallbackUsed {
                    task: h.id.clone(),
                    from_agent: agent_id.clone(),
                    to_agent: to.clone(),
                    position: c.position(),
                    reason: err.message.clone(),
                });
                job.target = Target::Agent(next);
                tries = 0;
                h.set_state(TaskState::Pending, Some(format!("fallback to {to}")));
                continue;
            }
        }
        let err = if out_of_time {
            TaskError::new(
                ErrorKind::Timeout,
                format!(
                    "task {} ran out of its time limit; last error: {}",
                    h.id, err.message
                ),
            )
        } else {
            err
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
                    tries = 0;
                    deadline = None;
                    break;
                }
                Some(TaskControl::Reroute(a)) => {
                    reroute(h, &mut job, a);
                    h.set_state(TaskState::Pending, Some("rerouted after failure".into()));
                    break;
                }
                // The user gave up on it: the task is cancelled, not failed,
                // and the error says who decided.
                Some(TaskControl::Cancel) => {
                    h.cancel_held();
                    return Err(TaskError::cancelled(format!(
                        "cancelled by you: task {}",
                        h.id
                    )));
                }
                None => {
                    h.release_held();
                    return Err(err);
                }
                Some(_) => continue,
            }
        }
    }
}

/// Time spent waiting for a person (a pause, an exhausted budget) does not
/// count against the task's time limit: its deadline moves by that long.
fn extend(deadline: &mut Option<tokio::time::Instant>, since: tokio::time::Instant) {
    if let Some(d) = deadline.as_mut() {
        *d += since.elapsed();
    }
}

/// Only the user cancels through a task's control channel.
fn cancel(h: &mut TaskHandle, reason: &str) -> TaskError {
    h.cancel(reason);
    TaskError::cancelled(format!("cancelled by you: task {}", h.id))
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

/// How one call attempt ended.
enum CallEnd {
    /// The provider (or the cache) answered, or the call failed. The cache
    /// key is set when the reply should be cached once it is accepted.
    Done(Result<Completion, ProviderError>, Option<String>),
    /// The agent's (or its endpoint's) circuit breaker is open: no call
    /// was made. Time to the next probe, and the breaker's scope.
    BreakerOpen(std::time::Duration, Id),
    /// A budget refused the call: no call was made. Tokens it needed, and
    /// the ledger generation the refusal saw.
    Refused(Refusal, u64, u64),
}

async fn call_agent(
    run: &Arc<Run>,
    task: Id,
    attempt: u32,
    agent: AgentIdx,
    job: &AgentJob<'_>,
    limits: crate::workflow::policy::timeouts::Timeouts,
    deadline: &mut Option<tokio::time::Instant>,
) -> CallEnd {
    let a = &run.wf.agents[agent];
    let res = &run.res;
    let mut messages = Vec::with_capacity(3);
    if let Some(sys) = &a.system {
        messages.push(Message::system(sys.clone()));
    }
    if let (Some(limit), Some(ctx)) = (a.policy.context_tokens, &res.context) {
        let w = ctx.window(&a.id, u64::from(limit), tokens::TokenCounter::global());
        if !w.text.is_empty() {
            messages.push(Message::system(format!("Shared context:\n{}", w.text)));
        }
    }
    if let Some(ins) = &job.instructions {
        messages.push(Message::system(ins.clone()));
    }
    messages.push(Message::user(job.prompt.clone()));

    // Cache: a hit costs no tokens and no call.
    let cache_key = res
        .cache(agent)
        .map(|_| cache::key(&a.id, &a.model, &messages));
    if let (Some(c), Some(k)) = (res.cache(agent), &cache_key)
        && let Some((text, age)) = c.get(k)
    {
        res.metrics.record(agent, Sample::CacheHit);
        run.emit(EventKind::CacheHit {
            task,
            agent: a.id.clone(),
            age_ms: age.as_secs_f64() * 1000.0,
        });
        return CallEnd::Done(
            Ok(Completion {
                text,
                usage: Default::default(),
                tool_calls: Vec::new(),
            }),
            None,
        );
    }

    // Breaker: fail fast while open.
    let admission = match res.breaker(agent) {
        None => None,
        Some(b) => {
            let (adm, change) = b.admit();
            if let Some(t) = change {
                run.emit(breaker_event(&res.metrics, agent, &a.id, t));
            }
            if let Admission::Rejected { retry_in } = adm {
                return CallEnd::BreakerOpen(retry_in, a.id.clone());
            }
            Some(adm)
        }
    };
    // The endpoint's breaker (shared by every agent calling it): an open
    // endpoint fails all of them fast, to their fallbacks.
    let endpoint = match res.endpoint(agent) {
        None => None,
        Some(e) => {
            let (adm, change) = e.breaker.admit();
            if let Some(t) = change {
                run.emit(endpoint_event(&res.metrics, e, t));
            }
            if let Admission::Rejected { retry_in } = adm {
                if let (Some(b), Some(adm)) = (res.breaker(agent), admission) {
                    b.release(adm);
                }
                return CallEnd::BreakerOpen(retry_in, e.scope.clone());
            }
            Some((e, adm))
        }
    };

    let mut req = ProviderRequest {
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
        // Only code agents read the input as a value; a model gets it in the
        // prompt, and cloning it for every call would cost the hot path.
        input: if run.code_agents.get(agent).copied().unwrap_or(false) {
            job.input.clone()
        } else {
            Value::Null
        },
    };
    req.hints.priority = job.priority;
    let prompt_tokens = tokens::TokenCounter::global().count_messages(&req.messages);

    // Budget: reserve the most the call could cost, or do not call.
    let reservation = match &res.ledger {
        None => None,
        Some(l) => {
            let max = a.max_tokens.map_or(DEFAULT_COMPLETION_RESERVE, u64::from);
            req.max_tokens = Some(u32::try_from(max).unwrap_or(u32::MAX));
            let need = l.estimate(&a.model, prompt_tokens, max);
            let generation = l.generation();
            match l.reserve(agent, Some(job.node), need) {
                Ok(r) => Some(r),
                Err(refusal) => {
                    // A probe slot taken for a call never made is given back
                    // as a success would be misleading; count it as nothing.
                    if let (Some(b), Some(adm)) = (res.breaker(agent), admission) {
                        b.release(adm);
                    }
                    if let Some((e, adm)) = endpoint {
                        e.breaker.release(adm);
                    }
                    res.metrics.record(agent, Sample::BudgetRefusal);
                    return CallEnd::Refused(refusal, need.tokens, generation);
                }
            }
        }
    };

    // Quota: wait for capacity, never refuse.
    if let Some(q) = res.quota(agent)
        && let Some((wait, which)) =
            q.book(prompt_tokens.saturating_add(req.max_tokens.map_or(0, u64::from)))
    {
        res.metrics.record(agent, Sample::QuotaWait);
        run.emit(EventKind::QuotaWait {
            provider: run.provider_names[agent].clone(),
            task: task.clone(),
            limit: which.as_str().into(),
            wait_ms: wait.as_secs_f64() * 1000.0,
        });
        tokio::time::sleep(wait).await;
    }
    // Calls in flight to the endpoint: wait in line for a slot.
    let slot = match res.in_flight(agent) {
        None => None,
        Some(e) => Some(match e.limit.try_acquire() {
            Ok(s) => s,
            Err(queued) => {
                res.metrics.record(agent, Sample::QuotaWait);
                run.emit(EventKind::QuotaWait {
                    provider: run.provider_names[agent].clone(),
                    task: task.clone(),
                    limit: "in_flight".into(),
                    wait_ms: 0.0,
                });
                queued.slot().await
            }
        }),
    };

    let clock = tokio::time::Instant::now();
    // Each turn reports its own request/response events and usage; only a
    // call cut by the time limit reports nothing, so that is said here.
    let call = provider_call(run, &task, attempt, agent, job.node, req);
    let (result, reported) =
        match crate::resilience::timeout::bounded(limits.call, deadline, limits.task, call).await {
            Ok(r) => (r, true),
            Err(d) => (
                Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!("no reply within {} ms", d.as_millis()),
                )),
                false,
            ),
        };
    let elapsed = clock.elapsed();
    if let (Some(slot), Some(e)) = (slot, res.in_flight(agent)) {
        let outcome = match &result {
            Ok(_) => crate::resilience::CallOutcome::Ok,
            Err(err) if err.congestion => crate::resilience::CallOutcome::Congested,
            Err(_) => crate::resilience::CallOutcome::Other,
        };
        if let Some(c) = slot.finish(outcome) {
            run.emit(EventKind::EndpointAdapted {
                endpoint: e.endpoint.to_string(),
                setting: "max_in_flight".into(),
                from: c.from.to_string(),
                to: c.to.to_string(),
                reason: c.reason,
            });
        }
    }
    match &result {
        Ok(c) => {
            let cost = res.prices[agent].cost(c.usage.prompt_tokens, c.usage.completion_tokens);
            res.metrics
                .record(agent, Sample::CallOk(elapsed, c.usage, cost));
            if let (Some(b), Some(adm)) = (res.breaker(agent), admission)
                && let Some(t) = b.on_success(adm)
            {
                run.emit(breaker_event(&res.metrics, agent, &a.id, t));
            }
            if let Some((e, adm)) = endpoint
                && let Some(t) = e.breaker.on_success(adm)
            {
                run.emit(endpoint_event(&res.metrics, e, t));
            }
        }
        Err(e) => {
            res.metrics.record(agent, Sample::CallFailed(elapsed));
            if !reported {
                run.emit(EventKind::LlmError {
                    task: task.clone(),
                    agent: a.id.clone(),
                    kind: e.kind,
                    error: e.message.clone(),
                });
            }
            // Only failures that say something about the callee's health
            // count against its breaker.
            let health = matches!(
                e.kind,
                ErrorKind::Timeout | ErrorKind::RateLimited | ErrorKind::Server
            );
            if let (Some(b), Some(adm)) = (res.breaker(agent), admission) {
                let change = if health {
                    b.on_failure(adm)
                } else {
                    b.release(adm);
                    None
                };
                if let Some(t) = change {
                    run.emit(breaker_event(&res.metrics, agent, &a.id, t));
                }
            }
            if let Some((e, adm)) = endpoint {
                let change = if health {
                    e.breaker.on_failure(adm)
                } else {
                    e.breaker.release(adm);
                    None
                };
                if let Some(t) = change {
                    run.emit(endpoint_event(&res.metrics, e, t));
                }
            }
        }
    }
    if let (Some(l), Some(r)) = (&res.ledger, reservation) {
        // A broken stream's partial usage was spent too.
        let usage = match &result {
            Ok(c) => c.usage,
            Err(e) => e.usage.unwrap_or_default(),
        };
        let spent = crate::budget::spend(&l.prices, &a.model, &usage);
        for note in l.settle(r, spent) {
            run.emit(match note {
                BudgetNote::Updated { scope, used, limit } => {
                    budget_updated(&run.wf, scope, used, limit)
                }
                BudgetNote::Warning { scope, fraction } => EventKind::BudgetWarning {
                    scope: scope_name(&run.wf, scope),
                    fraction,
                    threshold: l.warn_at,
                },
            });
        }
    }
    CallEnd::Done(result, cache_key)
}

/// The provider call behind one attempt: one turn, or the tool loop when
/// the agent has tools.
async fn provider_call(
    run: &Arc<Run>,
    task: &Id,
    attempt: u32,
    agent: AgentIdx,
    node: NodeIdx,
    req: ProviderRequest,
) -> Result<Completion, ProviderError> {
    match (&run.tools, run.wf.agents[agent].tools.is_empty()) {
        (Some(tools), false) => {
            let scope = super::tool_gate::ToolScope::new(run, task, attempt, agent, node);
            call_with_tools(run, task.clone(), attempt, agent, req, tools, &scope).await
        }
        _ => call_turn(run, task.clone(), attempt, agent, req).await,
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
    scope: &super::tool_gate::ToolScope,
) -> Result<Completion, ProviderError> {
    let a = &run.wf.agents[agent];
    // MCP servers start here, for the run's first agent with tools.
    let mut specs = tools
        .specs_with_sources(&a.tools)
        .await
        .map_err(|e| ProviderError::new(ErrorKind::Workflow, e))?;
    // `mcp:s/t` is no valid function name for OpenAI: sent encoded, calls
    // mapped back below.
    let names = crate::mcp::wire_names::WireNames::assign(&mut specs);
    req.hints.tools = specs;
    let mut usage = crate::event::Usage::default();
    for round in 1..=tools.max_turns {
        // A forced choice holds for the first round only (unless the agent
        // keeps it): forcing every round would never let the loop end.
        req.hints.tool_choice = match tool_choice(a.tool_use.for_round(round)) {
            llm::ToolChoice::Tool(n) => llm::ToolChoice::Tool(names.wire(&n).to_string()),
            other => other,
        };
        let c = call_turn(run, task.clone(), attempt, agent, req.clone()).await?;
        usage.add(&c.usage);
        if c.tool_calls.is_empty() {
            return Ok(Completion { usage, ..c });
        }
        req.messages
            .push(Message::assistant_tool_calls(c.text, c.tool_calls.clone()));
        for mut call in c.tool_calls {
            call.name = names.original(&call.name);
            run.emit(EventKind::ToolCall {
                task: task.clone(),
                agent: a.id.clone(),
                call_id: call.id.clone(),
                tool: call.name.clone(),
                arguments: call.arguments.clone(),
            });
            let result = tools.call(&call, &a.tools, scope.context()).await;
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
                output: crate::text::prefix_chars(&output, 2000).to_owned(),
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

/// The provider's form of an agent's `tool_choice`.
fn tool_choice(c: &crate::workflow::tool_use::ToolChoiceName) -> llm::ToolChoice {
    use crate::workflow::tool_use::ToolChoiceName as N;
    match c {
        N::Auto => llm::ToolChoice::Auto,
        N::Required => llm::ToolChoice::Required,
        N::None => llm::ToolChoice::None,
        N::Tool(name) => llm::ToolChoice::Tool(name.to_string()),
    }
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
    let result = screen_usage(&a.id, result);
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

/// The most tokens one reply may report, per field. No model reads or
/// writes a billion tokens in one call; a report past that is broken (or
/// hostile: a command agent can print anything) and must not reach the
/// run's usage or budgets.
pub(crate) const MAX_REPORTED_TOKENS: u64 = 1_000_000_000;

/// What is impossible about a usage report, if anything.
pub(crate) fn absurd_usage(u: &crate::event::Usage) -> Option<String> {
    let bad: Vec<String> = [
        ("prompt_tokens", u.prompt_tokens),
        ("completion_tokens", u.completion_tokens),
    ]
    .into_iter()
    .filter(|(_, n)| *n > MAX_REPORTED_TOKENS)
    .map(|(k, n)| format!("{k} = {n}"))
    .collect();
    (!bad.is_empty()).then(|| {
        format!(
            "{} (at most {MAX_REPORTED_TOKENS} per reply)",
            bad.join(", ")
        )
    })
}

/// Rejects a reply whose usage report is impossible as malformed; an error's
/// impossible report is dropped (it says nothing about what was spent).
fn screen_usage(
    agent: &str,
    result: Result<Completion, ProviderError>,
) -> Result<Completion, ProviderError> {
    match result {
        Ok(c) => match absurd_usage(&c.usage) {
            None => Ok(c),
            Some(why) => Err(ProviderError::new(
                ErrorKind::Malformed,
                format!(
                    "agent `{agent}` reported an impossible usage: {why}; the reply is rejected"
                ),
            )),
        },
        Err(mut e) => {
            if let Some(why) = e.usage.as_ref().and_then(absurd_usage) {
                e.usage = None;
                e.message.push_str(&format!(
                    " (its impossible usage report, {why}, is ignored)"
                ));
            }
            Err(e)
        }
    }
}

/// The cheaper agent to switch to now, if the node's (else the agent's)
/// degrade policy sees pressure.
fn degrade_pressure(run: &Run, node: NodeIdx, agent: AgentIdx) -> Option<(AgentIdx, String)> {
    let p = run.wf.nodes[node]
        .policy
        .degrade
        .or(run.wf.agents[agent].policy.degrade)?;
    if p.to == agent {
        return None;
    }
    let budget = run.res.ledger.as_ref().map_or(0.0, |l| l.pressure(agent));
    let queued = if p.queue_depth.is_some() {
        run.sched.queued()
    } else {
        0
    };
    p.pressure(queued, budget).map(|r| (p.to, r))
}

fn degrade(
    h: &mut TaskHandle,
    job: &mut AgentJob<'_>,
    from: AgentIdx,
    to: AgentIdx,
    reason: String,
) {
    let run = h.run.clone();
    run.res.metrics.record(from, Sample::Degrade);
    let to_id = run.wf.agents[to].id.clone();
    run.emit(EventKind::DegradeSwitch {
        task: h.id.clone(),
        from_agent: run.wf.agents[from].id.clone(),
        to_agent: to_id.clone(),
        reason,
    });
    job.target = Target::Agent(to);
    h.set_state(TaskState::Pending, Some(format!("degraded to {to_id}")));
}

/// A budget refused the call: apply the run's exhaustion policy. `Ok(None)`
/// means dispatch again; `Ok(Some(e))` fail with `e`.
async fn on_refusal(
    h: &mut TaskHandle,
    job: &mut AgentJob<'_>,
    agent: AgentIdx,
    refusal: Refusal,
    needed: u64,
    generation: u64,
) -> Result<Option<TaskError>, TaskError> {
    let run = h.run.clone();
    let Some(ledger) = run.res.ledger.as_ref() else {
        return Ok(None);
    };
    let scope = scope_name(&run.wf, refusal.scope);
    let degrade_to = run.wf.nodes[job.node]
        .policy
        .degrade
        .or(run.wf.agents[agent].policy.degrade)
        .map(|d| d.to)
        .filter(|&to| to != agent);
    let policy = match ledger.on_exhausted {
        OnExhausted::Degrade if degrade_to.is_none() => OnExhausted::Fail,
        p => p,
    };
    run.emit(EventKind::BudgetExhausted {
        scope: scope.clone(),
        task: h.id.clone(),
        agent: run.wf.agents[agent].id.clone(),
        needed_tokens: needed,
        remaining_tokens: refusal.remaining_tokens,
        policy: policy.as_str().into(),
    });
    match (policy, degrade_to) {
        (OnExhausted::Pause, _) => {
            if !run.sched.is_paused() {
                run.sched.set_paused(true);
                run.res
                    .paused_by_budget
                    .store(true, std::sync::atomic::Ordering::Release);
                run.emit(EventKind::RunPaused);
            }
            h.set_state(
                TaskState::Paused,
                Some(format!(
                    "budget {scope} exhausted; waiting for set_budget or resume"
                )),
            );
            loop {
                let changed = ledger.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if ledger.generation() != generation {
                    break;
                }
                tokio::select! {
                    _ = &mut changed => break,
                    c = h.control.recv() => match c {
                        Some(TaskControl::Cancel) | None => {
                            return Err(cancel(h, "cancelled by the user"));
                        }
                        Some(TaskControl::Resume) => break,
                        Some(TaskControl::Reroute(a)) => {
                            reroute(h, job, a);
                            break;
                        }
                        Some(_) => {}
                    },
                }
            }
            h.set_state(TaskState::Pending, Some("budget changed".into()));
            Ok(None)
        }
        (OnExhausted::Degrade, Some(to)) => {
            degrade(h, job, agent, to, format!("budget {scope} exhausted"));
            Ok(None)
        }
        _ => Ok(Some(TaskError::new(
            ErrorKind::BudgetExhausted,
            format!(
                "task {}: a call of up to {needed} tokens would exceed budget {scope} ({} tokens left)",
                h.id,
                refusal
                    .remaining_tokens
                    .map_or_else(|| "no token limit; money".to_string(), |t| t.to_string())
            ),
        ))),
    }
}

/// Waits out a retry delay, obeying pause / reroute / cancel meanwhile.
async fn backoff(
    h: &mut TaskHandle,
    job: &mut AgentJob<'_>,
    delay: std::time::Duration,
) -> Result<(), TaskError> {
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return Ok(()),
            c = h.control.recv() => if let Some(i) = c.and_then(classify) {
                return interrupted(h, job, i).await;
            },
        }
    }
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
            llm::ProviderChunk::Adapted(a) => run.emit(EventKind::EndpointAdapted {
                endpoint: provider.endpoint().unwrap_or(provider.name()).to_string(),
                setting: a.setting,
                from: a.from,
                to: a.to,
                reason: a.reason,
            }),
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

/// The task assignment for this attempt.
fn assignment(
    run: &Run,
    h: &TaskHandle,
    job: &AgentJob<'_>,
    agent: AgentIdx,
    limits: crate::workflow::policy::timeouts::Timeouts,
    deadline: Option<tokio::time::Instant>,
) -> TaskAssignment {
    // What the attempt has: the call's limit, or what is left of the
    // task's (all of it while the deadline is not fixed yet).
    let left = deadline
        .map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
        .or(limits.task);
    let limit = match (limits.call, left) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut a = TaskAssignment::new(
        h.id.clone(),
        job.prompt.clone(),
        AssignmentContext {
            node: run.wf.nodes[job.node].id.clone(),
            agent: run.wf.agents[agent].id.clone(),
            attempt: h.attempt,
            visit: job.visit,
        },
    );
    a.payload.constraints = Constraints {
        time_limit_ms: limit.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        priority: job.priority,
    };
    a
}

fn summary(text: &str) -> String {
    match crate::text::floor_char_boundary(text, 160) {
        end if end == text.len() => text.to_string(),
        end => format!("{}…", &text[..end]),
    }
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
    fn impossible_usage_reports_are_rejected_as_malformed() {
        use crate::event::Usage;
        let reply = |prompt_tokens| {
            Ok(Completion {
                text: "ok".into(),
                usage: Usage {
                    prompt_tokens,
                    completion_tokens: 1,
                    estimated: false,
                },
                tool_calls: Vec::new(),
            })
        };
        let e = screen_usage("a", reply(u64::MAX)).expect_err("rejected");
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(
            e.message.contains("prompt_tokens = 18446744073709551615"),
            "{}",
            e.message
        );
        assert!(screen_usage("a", reply(MAX_REPORTED_TOKENS)).is_ok());
        let mut failed = ProviderError::new(ErrorKind::Server, "boom");
        failed.usage = Some(Usage {
            prompt_tokens: 1,
            completion_tokens: u64::MAX,
            estimated: false,
        });
        let e = screen_usage("a", Err(failed)).expect_err("still an error");
        assert_eq!((e.kind, e.usage), (ErrorKind::Server, None));
    }

    #[test]
    fn repair_prompts_do_not_pile_up() {
        let once = repair_prompt("Plan it", "missing subtasks");
        let twice = repair_prompt(&once, "empty list");
        assert!(twice.starts_with("Plan it\n\n[repair]"));
        assert_eq!(twice.matches("[repair]").count(), 1);
    }
}
