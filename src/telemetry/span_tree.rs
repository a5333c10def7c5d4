//! The event stream as a tree of spans:
//!
//! ```text
//! run {workflow}                        session_started … session_ended
//! └─ node {id}                          node_state_changed running … completed/failed/cancelled
//!    └─ node {child}                    (nodes nest as the workflow nests them)
//!       └─ task {id}                    task_created … task_completed/failed/cancelled
//!          └─ invoke_agent {agent}      task_assigned … the agent's reply (or failure, hand-off)
//!             ├─ chat {model}           llm_request … llm_response/llm_error
//!             └─ execute_tool {tool}    tool_call … tool_result
//! ```
//!
//! Spans start and end at their events' timestamps, not when this fold sees
//! them, so a backend shows the run's own timing whatever the export lag.
//! Everything else that happens to a task, node or run (retries, fallbacks,
//! gates, verdicts, breakers) becomes a span event on the closest span.
//!
//! A model call's finish reason is not in its `llm_response`: the engine
//! runs tool calls exactly when the reply asked for them, and emits their
//! `tool_call` events next for that task. So a call's span is ended when
//! the task's next event arrives: `tool_calls` if it is a tool call, `stop`
//! otherwise.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SdkTracer;

use super::content::{Content, scrub, value_text};
use super::run_shape::RunShape;
use super::semconv as sc;
use crate::event::{Event, EventKind, Id, NodeState, RunStatus, TaskState, Usage};

/// A model call whose reply arrived and whose finish reason is not known yet.
struct Finishing {
    cx: Context,
    end: SystemTime,
    /// Streamed reply text (content only).
    text: String,
}

/// A model call in flight.
struct Call {
    cx: Context,
    text: String,
}

/// A task's span; kept after it ends, as the parent of later attempts (a
/// held task retried by a command).
struct TaskSpan {
    cx: Context,
    open: bool,
    /// The task's input as text (content only), for its attempts' messages.
    input: Option<String>,
}

/// The fold from events to spans. Feed it every event in order with
/// [`SpanTree::apply`]; [`SpanTree::close_all`] ends whatever is still open.
pub(crate) struct SpanTree {
    tracer: SdkTracer,
    content: Content,
    shape: RunShape,
    run: Option<Context>,
    nodes: HashMap<Id, Context>,
    tasks: HashMap<Id, TaskSpan>,
    /// Open attempt per task.
    attempts: HashMap<Id, Context>,
    /// Model calls in flight, by (task, agent).
    calls: HashMap<(Id, Id), Call>,
    /// Replied model calls awaiting their finish reason, by task.
    finishing: HashMap<Id, Finishing>,
    /// Tool calls in flight, by (task, call id).
    tools: HashMap<(Id, String), Context>,
    last: SystemTime,
    ended: u64,
}

fn at(ts: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(ts)
}

fn kv(key: &'static str, value: impl Into<Value>) -> KeyValue {
    KeyValue::new(key, value)
}

fn i(n: impl TryInto<i64>) -> Value {
    Value::I64(n.try_into().unwrap_or(i64::MAX))
}

impl SpanTree {
    pub(crate) fn new(tracer: SdkTracer, content: Content, shape: RunShape) -> Self {
        SpanTree {
            tracer,
            content,
            shape,
            run: None,
            nodes: HashMap::new(),
            tasks: HashMap::new(),
            attempts: HashMap::new(),
            calls: HashMap::new(),
            finishing: HashMap::new(),
            tools: HashMap::new(),
            last: UNIX_EPOCH,
            ended: 0,
        }
    }

    /// Spans ended so far (handed to the exporter's queue).
    pub(crate) fn ended(&self) -> u64 {
        self.ended
    }

    fn start(
        &self,
        name: String,
        kind: SpanKind,
        parent: &Context,
        t: SystemTime,
        attrs: Vec<KeyValue>,
    ) -> Context {
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_start_time(t)
            .with_attributes(attrs)
            .start_with_context(&self.tracer, parent);
        parent.with_span(span)
    }

    fn end(&mut self, cx: &Context, t: SystemTime) {
        cx.span().end_with_timestamp(t);
        self.ended += 1;
    }

    fn run_cx(&self) -> Context {
        self.run.clone().unwrap_or_default()
    }

    /// The open span of `node`, else of its nearest open ancestor, else the run's.
    fn node_cx(&self, node: &str) -> Context {
        let mut at = Some(node);
        // Validation bounds nesting at 100 levels; the bound only guards
        // against a cycle in a hand-built shape.
        for _ in 0..256 {
            let Some(n) = at else { break };
            if let Some(cx) = self.nodes.get(n) {
                return cx.clone();
            }
            at = self.shape.parent_of(n).map(|p| &**p);
        }
        self.run_cx()
    }

    /// The open attempt of `task`, else its span, else the run's.
    fn attempt_cx(&self, task: &str) -> Context {
        if let Some(cx) = self.attempts.get(task) {
            return cx.clone();
        }
        self.task_cx(task)
    }

    fn task_cx(&self, task: &str) -> Context {
        match self.tasks.get(task) {
            Some(t) => t.cx.clone(),
            None => self.run_cx(),
        }
    }

    /// The span an event about `task` is noted on.
    fn note(&self, task: &str, name: &'static str, t: SystemTime, attrs: Vec<KeyValue>) {
        self.attempt_cx(task)
            .span()
            .add_event_with_timestamp(name, t, attrs);
    }

    /// Applies one event.
    pub(crate) fn apply(&mut self, ev: &Event) {
        use EventKind as K;
        let t = at(ev.ts);
        self.last = self.last.max(t);
        if let Some(task) = ev.kind.subject() {
            let asked_for_tools = matches!(ev.kind, K::ToolCall { .. });
            self.settle_finish(
                task,
                if asked_for_tools {
                    "tool_calls"
                } else {
                    "stop"
                },
            );
        }
        match &ev.kind {
            K::SessionStarted { workflow, seed, .. } => {
                let attrs = vec![
                    kv(sc::SESSION_ID, ev.session.to_string()),
                    kv(sc::CONVERSATION_ID, ev.session.to_string()),
                    kv(sc::WORKFLOW, workflow.clone()),
                    kv("agentctl.seed", i(*seed)),
                ];
                let cx = self.start(
                    format!("run {workflow}"),
                    SpanKind::Internal,
                    &Context::new(),
                    t,
                    attrs,
                );
                self.run = Some(cx);
            }
            K::SessionEnded {
                status,
                error,
                usage,
                wall_ms,
                ..
            } => {
                self.close_all_but_run(t);
                if let Some(run) = self.run.take() {
                    let span = run.span();
                    span.set_attributes([
                        kv(sc::RUN_STATUS, sc::enum_name(status)),
                        kv("agentctl.usage.input_tokens", i(usage.prompt_tokens)),
                        kv("agentctl.usage.output_tokens", i(usage.completion_tokens)),
                        kv("agentctl.wall_ms", *wall_ms),
                    ]);
                    match status {
                        RunStatus::Succeeded => span.set_status(Status::Ok),
                        RunStatus::Failed => span.set_status(Status::error(scrub(
                            error.as_deref().unwrap_or("the run failed"),
                        ))),
                        RunStatus::Cancelled | RunStatus::Interrupted => {}
                    }
                    self.end(&run, t);
                }
            }
            K::NodeStateChanged { node, state, .. } => match state {
                NodeState::Running => {
                    if !self.nodes.contains_key(node) {
                        let parent = match self.shape.parent_of(node) {
                            Some(p) => self.node_cx(p),
                            None => self.run_cx(),
                        };
                        let cx = self.start(
                            format!("node {node}"),
                            SpanKind::Internal,
                            &parent,
                            t,
                            vec![kv(sc::NODE_ID, node.to_string())],
                        );
                        self.nodes.insert(node.clone(), cx);
                    }
                }
                NodeState::Pending => {}
                done => {
                    if let Some(cx) = self.nodes.remove(node) {
                        let span = cx.span();
                        span.set_attribute(kv(sc::NODE_STATE, sc::enum_name(done)));
                        match done {
                            NodeState::Completed => span.set_status(Status::Ok),
                            NodeState::Failed => span.set_status(Status::error("the node failed")),
                            _ => {}
                        }
                        self.end(&cx, t);
                    }
                }
            },
            K::TaskCreated {
                task,
                node,
                parent,
                title,
                agent,
                capability,
                input,
                ..
            } => {
                let parent_cx = parent
                    .as_ref()
                    .and_then(|p| self.tasks.get(p).filter(|s| s.open))
                    .map(|s| s.cx.clone())
                    .unwrap_or_else(|| self.node_cx(node));
                let mut attrs = vec![
                    kv(sc::TASK_ID, task.to_string()),
                    kv(sc::NODE_ID, node.to_string()),
                    kv(sc::TASK_TITLE, scrub(title)),
                ];
                if let Some(p) = parent {
                    attrs.push(kv(sc::TASK_PARENT, p.to_string()));
                }
                if let Some(a) = agent {
                    attrs.push(kv(sc::AGENT_ID, a.to_string()));
                }
                if let Some(c) = capability {
                    attrs.push(kv(sc::TASK_CAPABILITY, c.clone()));
                }
                let input_text = self.content.included().then(|| value_text(input));
                if let Some(v) = self.content.value(input) {
                    attrs.push(kv(sc::TASK_INPUT, v));
                }
                let cx = self.start(
                    format!("task {task}"),
                    SpanKind::Internal,
                    &parent_cx,
                    t,
                    attrs,
                );
                // A task id is reused only by a new run; a stale entry is replaced.
                if let Some(old) = self.tasks.insert(
                    task.clone(),
                    TaskSpan {
                        cx,
                        open: true,
                        input: input_text,
                    },
                ) && old.open
                {
                    self.end(&old.cx, t);
                }
            }
            K::TaskAssigned {
                task,
                agent,
                attempt,
            } => {
                self.end_attempt(task, t, Some("reassigned"));
                let mut attrs = vec![
                    kv(sc::OPERATION_NAME, sc::OP_INVOKE_AGENT),
                    kv(sc::AGENT_ID, agent.to_string()),
                    kv(sc::AGENT_NAME, agent.to_string()),
                    kv(sc::TASK_ID, task.to_string()),
                    kv(sc::ATTEMPT, i(*attempt)),
                ];
                let input = self.tasks.get(task).and_then(|s| s.input.clone());
                if let Some(m) = input.and_then(|text| self.content.user_message(&text)) {
                    attrs.push(kv(sc::INPUT_MESSAGES, m));
                }
                if let Some(m) = self
                    .shape
                    .agent(agent)
                    .and_then(|a| a.system.as_deref())
                    .and_then(|s| self.content.instructions(s))
                {
                    attrs.push(kv(sc::SYSTEM_INSTRUCTIONS, m));
                }
                let parent = self.task_cx(task);
                let cx = self.start(
                    format!("{} {agent}", sc::OP_INVOKE_AGENT),
                    SpanKind::Internal,
                    &parent,
                    t,
                    attrs,
                );
                self.attempts.insert(task.clone(), cx);
            }
            K::TaskStateChanged {
                task, to, reason, ..
            } => match to {
                // The agent's part is over: its reply is under review or
                // sent back, or the task went back to the queue.
                TaskState::Review => self.end_attempt_ok(task, t),
                TaskState::Revision | TaskState::Pending => self.end_attempt(task, t, None),
                TaskState::Cancelled => {
                    self.end_attempt(task, t, Some("cancelled"));
                    self.end_task(task, t, TaskState::Cancelled, None, reason.as_deref());
                }
                TaskState::Paused => self.note(task, "paused", t, Vec::new()),
                _ => {}
            },
            K::TaskCompleted {
                task,
                output,
                attempt,
                usage,
                duration_ms,
                ..
            } => {
                if let Some(cx) = self.attempts.get(task)
                    && let Some(m) = self.content.assistant_message(&value_text(output), "stop")
                {
                    cx.span().set_attribute(kv(sc::OUTPUT_MESSAGES, m));
                }
                self.end_attempt_ok(task, t);
                if let Some(s) = self.tasks.get(task) {
                    let span = s.cx.span();
                    span.set_attributes([
                        kv("agentctl.attempts", i(*attempt)),
                        kv("agentctl.usage.input_tokens", i(usage.prompt_tokens)),
                        kv("agentctl.usage.output_tokens", i(usage.completion_tokens)),
                        kv("agentctl.duration_ms", *duration_ms),
                    ]);
                    if let Some(v) = self.content.value(output) {
                        span.set_attribute(kv(sc::TASK_OUTPUT, v));
                    }
                }
                self.end_task(task, t, TaskState::Completed, None, None);
            }
            K::TaskFailed {
                task,
                kind,
                error,
                held,
                ..
            } => {
                if let Some(cx) = self.attempts.remove(task) {
                    let span = cx.span();
                    span.set_attribute(kv(sc::ERROR_TYPE, sc::enum_name(kind)));
                    span.set_status(Status::error(scrub(error)));
                    self.end(&cx, t);
                }
                if *held {
                    // It waits for retry/reroute/cancel: its span stays open.
                    self.note(
                        task,
                        "held",
                        t,
                        vec![kv(sc::ERROR_TYPE, sc::enum_name(kind))],
                    );
                } else {
                    self.end_task(
                        task,
                        t,
                        TaskState::Failed,
                        Some(sc::enum_name(kind)),
                        Some(error),
                    );
                }
            }
            K::TaskHandoff {
                task,
                from_agent,
                to_agent,
                reason,
                ..
            } => {
                self.note(
                    task,
                    "handoff",
                    t,
                    vec![
                        kv("agentctl.from_agent", from_agent.to_string()),
                        kv("agentctl.to_agent", to_agent.to_string()),
                        kv("agentctl.reason", scrub(reason)),
                    ],
                );
                self.end_attempt(task, t, Some("handoff"));
            }
            K::TaskRerouted { task, to_agent, .. } => {
                self.end_attempt(task, t, Some("rerouted"));
                self.note(
                    task,
                    "rerouted",
                    t,
                    vec![kv("agentctl.to_agent", to_agent.to_string())],
                );
            }
            K::LlmRequest {
                task,
                agent,
                provider,
                model,
                attempt,
                prompt_tokens,
            } => {
                let mut attrs = vec![
                    kv(sc::OPERATION_NAME, sc::OP_CHAT),
                    kv(sc::PROVIDER_NAME, provider.to_string()),
                    kv(sc::SYSTEM, provider.to_string()),
                    kv(sc::REQUEST_MODEL, model.to_string()),
                    kv(sc::AGENT_ID, agent.to_string()),
                    kv(sc::AGENT_NAME, agent.to_string()),
                    kv(sc::TASK_ID, task.to_string()),
                    kv(sc::ATTEMPT, i(*attempt)),
                    kv(sc::PROMPT_TOKENS_COUNTED, i(*prompt_tokens)),
                ];
                if let Some(a) = self.shape.agent(agent) {
                    if let Some(m) = a.max_tokens {
                        attrs.push(kv(sc::REQUEST_MAX_TOKENS, i(m)));
                    }
                    if let Some(temp) = a.temperature {
                        attrs.push(kv(sc::REQUEST_TEMPERATURE, f64::from(temp)));
                    }
                }
                let parent = self.attempt_cx(task);
                let cx = self.start(
                    format!("{} {model}", sc::OP_CHAT),
                    SpanKind::Client,
                    &parent,
                    t,
                    attrs,
                );
                let key = (task.clone(), agent.clone());
                if let Some(old) = self.calls.insert(
                    key,
                    Call {
                        cx,
                        text: String::new(),
                    },
                ) {
                    self.end(&old.cx, t);
                }
            }
            K::LlmDelta { task, agent, text } => {
                if self.content.included()
                    && let Some(c) = self.calls.get_mut(&(task.clone(), agent.clone()))
                    && c.text.len() < super::content::MAX_CHARS * 4
                {
                    c.text.push_str(text);
                }
            }
            K::LlmResponse {
                task,
                agent,
                model,
                usage,
                ..
            } => {
                if let Some(call) = self.calls.remove(&(task.clone(), agent.clone())) {
                    set_usage(&call.cx, usage);
                    call.cx
                        .span()
                        .set_attribute(kv(sc::RESPONSE_MODEL, model.to_string()));
                    self.finishing.insert(
                        task.clone(),
                        Finishing {
                            cx: call.cx,
                            end: t,
                            text: call.text,
                        },
                    );
                }
            }
            K::LlmError {
                task,
                agent,
                kind,
                error,
            } => {
                if let Some(call) = self.calls.remove(&(task.clone(), agent.clone())) {
                    let span = call.cx.span();
                    span.set_attribute(kv(sc::ERROR_TYPE, sc::enum_name(kind)));
                    span.set_status(Status::error(scrub(error)));
                    self.end(&call.cx, t);
                }
            }
            K::ToolCall {
                task,
                agent,
                call_id,
                tool,
                arguments,
            } => {
                let mut attrs = vec![
                    kv(sc::OPERATION_NAME, sc::OP_EXECUTE_TOOL),
                    kv(sc::TOOL_NAME, tool.clone()),
                    kv(sc::TOOL_CALL_ID, call_id.clone()),
                    kv(sc::TOOL_TYPE, "function"),
                    kv(sc::AGENT_ID, agent.to_string()),
                    kv(sc::TASK_ID, task.to_string()),
                ];
                if let Some(a) = self.content.text(arguments) {
                    attrs.push(kv(sc::TOOL_CALL_ARGUMENTS, a));
                }
                let parent = self.attempt_cx(task);
                let cx = self.start(
                    format!("{} {tool}", sc::OP_EXECUTE_TOOL),
                    SpanKind::Internal,
                    &parent,
                    t,
                    attrs,
                );
                if let Some(old) = self.tools.insert((task.clone(), call_id.clone()), cx) {
                    self.end(&old, t);
                }
            }
            K::ToolResult {
                task,
                call_id,
                ok,
                output,
                ..
            } => {
                if let Some(cx) = self.tools.remove(&(task.clone(), call_id.clone())) {
                    let span = cx.span();
                    if let Some(r) = self.content.text(output) {
                        span.set_attribute(kv(sc::TOOL_CALL_RESULT, r));
                    }
                    if *ok {
                        span.set_status(Status::Ok);
                    } else {
                        span.set_attribute(kv(sc::ERROR_TYPE, "tool_error"));
                        span.set_status(Status::error("the tool failed"));
                    }
                    self.end(&cx, t);
                }
            }
            K::RetryScheduled {
                task,
                attempt,
                retry,
                kind,
                delay_ms,
                ..
            } => self.note(
                task,
                "retry_scheduled",
                t,
                vec![
                    kv(sc::ATTEMPT, i(*attempt)),
                    kv("agentctl.retry", i(*retry)),
                    kv(sc::ERROR_TYPE, sc::enum_name(kind)),
                    kv("agentctl.delay_ms", *delay_ms),
                ],
            ),
            K::FallbackUsed {
                task,
                from_agent,
                to_agent,
                reason,
                ..
            } => self.note(
                task,
                "fallback_used",
                t,
                vec![
                    kv("agentctl.from_agent", from_agent.to_string()),
                    kv("agentctl.to_agent", to_agent.to_string()),
                    kv("agentctl.reason", scrub(reason)),
                ],
            ),
            K::CacheHit { task, agent, .. } => self.note(
                task,
                "cache_hit",
                t,
                vec![kv(sc::AGENT_ID, agent.to_string())],
            ),
            K::ReplyRejected {
                task,
                reason,
                attempt,
                ..
            } => self.note(
                task,
                "reply_rejected",
                t,
                vec![
                    kv(sc::ATTEMPT, i(*attempt)),
                    kv("agentctl.reason", scrub(reason)),
                ],
            ),
            K::OutputRepair { task, error, .. } => self.note(
                task,
                "output_repair",
                t,
                vec![kv("agentctl.reason", scrub(error))],
            ),
            K::BudgetExhausted {
                scope,
                task,
                policy,
                ..
            } => self.note(
                task,
                "budget_exhausted",
                t,
                vec![
                    kv("agentctl.budget.scope", scope.clone()),
                    kv("agentctl.budget.policy", policy.clone()),
                ],
            ),
            K::QuotaWait {
                task,
                limit,
                wait_ms,
                ..
            } => self.note(
                task,
                "quota_wait",
                t,
                vec![
                    kv("agentctl.quota.limit", limit.clone()),
                    kv("agentctl.wait_ms", *wait_ms),
                ],
            ),
            K::GateOpened { gate, revision, .. } => self.note(
                gate,
                "gate_opened",
                t,
                vec![kv("agentctl.gate.revision", i(*revision))],
            ),
            K::GateDecided { gate, approved, .. } => self.note(
                gate,
                "gate_decided",
                t,
                vec![kv("agentctl.gate.approved", *approved)],
            ),
            K::ReviewVerdict {
                node,
                approved,
                revision,
                ..
            } => self.node_cx(node).span().add_event_with_timestamp(
                "review_verdict",
                t,
                vec![
                    kv("agentctl.review.approved", *approved),
                    kv("agentctl.review.revision", i(*revision)),
                ],
            ),
            K::RouteChosen { node, to, .. } => self.node_cx(node).span().add_event_with_timestamp(
                "route_chosen",
                t,
                vec![kv("agentctl.route.to", to.to_string())],
            ),
            K::ConsensusReached {
                node,
                round,
                decided_by,
                ..
            } => self.node_cx(node).span().add_event_with_timestamp(
                "consensus_reached",
                t,
                vec![
                    kv("agentctl.round", i(*round)),
                    kv("agentctl.decided_by", decided_by.clone()),
                ],
            ),
            K::DebateEnded {
                node,
                rounds,
                reason,
                ..
            } => self.node_cx(node).span().add_event_with_timestamp(
                "debate_ended",
                t,
                vec![
                    kv("agentctl.rounds", i(*rounds)),
                    kv("agentctl.reason", reason.clone()),
                ],
            ),
            K::BreakerStateChanged {
                scope, from, to, ..
            } => self.run_cx().span().add_event_with_timestamp(
                "breaker_state_changed",
                t,
                vec![
                    kv(sc::BREAKER_SCOPE, scope.to_string()),
                    kv("agentctl.breaker.from", sc::enum_name(from)),
                    kv(sc::BREAKER_TO, sc::enum_name(to)),
                ],
            ),
            K::Notice { level, message } if level != "info" => {
                self.run_cx().span().add_event_with_timestamp(
                    "notice",
                    t,
                    vec![
                        kv("agentctl.level", level.clone()),
                        kv("agentctl.message", scrub(message)),
                    ],
                )
            }
            _ => {}
        }
    }

    /// Ends the model call of `task` that awaits its finish reason.
    fn settle_finish(&mut self, task: &Id, reason: &'static str) {
        if let Some(f) = self.finishing.remove(task) {
            let span = f.cx.span();
            span.set_attribute(KeyValue::new(
                sc::RESPONSE_FINISH_REASONS,
                Value::Array(Array::String(vec![StringValue::from(reason)])),
            ));
            if !f.text.is_empty()
                && let Some(m) = self.content.assistant_message(&f.text, reason)
            {
                span.set_attribute(kv(sc::OUTPUT_MESSAGES, m));
            }
            span.set_status(Status::Ok);
            self.end(&f.cx, f.end);
        }
    }

    fn end_attempt(&mut self, task: &Id, t: SystemTime, closed_by: Option<&'static str>) {
        if let Some(cx) = self.attempts.remove(task) {
            if let Some(why) = closed_by {
                cx.span().set_attribute(kv(sc::CLOSED_BY, why));
            }
            self.end(&cx, t);
        }
    }

    /// Ends the attempt of `task` that produced its reply.
    fn end_attempt_ok(&mut self, task: &Id, t: SystemTime) {
        if let Some(cx) = self.attempts.get(task) {
            cx.span().set_status(Status::Ok);
        }
        self.end_attempt(task, t, None);
    }

    fn end_task(
        &mut self,
        task: &Id,
        t: SystemTime,
        state: TaskState,
        error_type: Option<String>,
        message: Option<&str>,
    ) {
        let Some(s) = self.tasks.get_mut(task).filter(|s| s.open) else {
            return;
        };
        s.open = false;
        let cx = s.cx.clone();
        let span = cx.span();
        span.set_attribute(kv(sc::TASK_STATE, state.as_str()));
        match state {
            TaskState::Completed => span.set_status(Status::Ok),
            TaskState::Failed => {
                if let Some(e) = error_type {
                    span.set_attribute(kv(sc::ERROR_TYPE, e));
                }
                span.set_status(Status::error(scrub(message.unwrap_or("the task failed"))));
            }
            _ => {
                if let Some(m) = message {
                    span.set_attribute(kv("agentctl.reason", scrub(m)));
                }
            }
        }
        self.end(&cx, t);
    }

    /// Ends every open span but the run's, innermost first, at `t`.
    fn close_all_but_run(&mut self, t: SystemTime) {
        let finishing: Vec<Id> = self.finishing.keys().cloned().collect();
        for task in finishing {
            self.settle_finish(&task, "stop");
        }
        let open: Vec<Context> = self
            .tools
            .drain()
            .map(|(_, cx)| cx)
            .chain(self.calls.drain().map(|(_, c)| c.cx))
            .chain(self.attempts.drain().map(|(_, cx)| cx))
            .collect();
        for cx in open {
            cx.span().set_attribute(kv(sc::CLOSED_BY, "run_ended"));
            self.end(&cx, t);
        }
        let tasks: Vec<Context> = self
            .tasks
            .values_mut()
            .filter(|s| s.open)
            .map(|s| {
                s.open = false;
                s.cx.clone()
            })
            .collect();
        for cx in tasks {
            cx.span().set_attribute(kv(sc::CLOSED_BY, "run_ended"));
            self.end(&cx, t);
        }
        // Innermost nodes first is not needed: each span has its own end time.
        let nodes: Vec<Context> = self.nodes.drain().map(|(_, cx)| cx).collect();
        for cx in nodes {
            cx.span().set_attribute(kv(sc::CLOSED_BY, "run_ended"));
            self.end(&cx, t);
        }
    }

    /// Ends everything still open (the stream stopped before
    /// `session_ended`), at the last event's time.
    pub(crate) fn close_all(&mut self) {
        let t = self.last;
        self.close_all_but_run(t);
        if let Some(run) = self.run.take() {
            run.span().set_attribute(kv(sc::CLOSED_BY, "stream_ended"));
            self.end(&run, t);
        }
    }
}

fn set_usage(cx: &Context, usage: &Usage) {
    let span = cx.span();
    span.set_attributes([
        kv(sc::USAGE_INPUT_TOKENS, i(usage.prompt_tokens)),
        kv(sc::USAGE_OUTPUT_TOKENS, i(usage.completion_tokens)),
    ]);
    if usage.estimated {
        span.set_attribute(kv(sc::USAGE_ESTIMATED, true));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use opentelemetry::trace::{SpanId, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
    use serde_json::json;

    use super::*;
    use crate::engine::{Orchestrator, RunOptions};
    use crate::event::ErrorKind;

    /// The spans `events` make, in the order they ended.
    fn spans_of(events: &[Event], include_content: bool, shape: RunShape) -> Vec<SpanData> {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let mut tree = SpanTree::new(
            provider.tracer("test"),
            Content::new(include_content),
            shape,
        );
        for ev in events {
            tree.apply(ev);
        }
        tree.close_all();
        let ended = tree.ended();
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len() as u64, ended, "every ended span is counted");
        spans
    }

    fn attr<'a>(s: &'a SpanData, key: &str) -> Option<&'a Value> {
        s.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    fn real_run(builtin: &str) -> (Vec<Event>, RunShape) {
        let wf = crate::workflow::load::load_source(builtin)
            .unwrap()
            .workflow;
        let shape = RunShape::of(&wf);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let events = rt.block_on(async {
            let input = wf.input.clone();
            let mut orch = Orchestrator::new(Arc::new(wf), RunOptions::default());
            let mut rx = orch.subscribe();
            orch.execute(input).await.unwrap();
            let mut v = Vec::new();
            while let Ok(ev) = rx.try_recv() {
                v.push(ev);
            }
            v
        });
        (events, shape)
    }

    #[test]
    fn a_real_run_nests_run_node_task_attempt_and_model_call() {
        let (events, shape) = real_run("builtin:hierarchical");
        let calls = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::LlmRequest { .. }))
            .count();
        let spans = spans_of(&events, false, shape);
        let by_id: HashMap<SpanId, &SpanData> = spans
            .iter()
            .map(|s| (s.span_context.span_id(), s))
            .collect();
        let parent = |s: &SpanData| by_id.get(&s.parent_span_id).copied();
        let roots: Vec<&SpanData> = spans
            .iter()
            .filter(|s| s.parent_span_id == SpanId::INVALID)
            .collect();
        assert_eq!(roots.len(), 1, "one run span");
        assert_eq!(roots[0].name, "run hierarchical");
        let trace = roots[0].span_context.trace_id();
        assert!(spans.iter().all(|s| s.span_context.trace_id() == trace));
        let chats: Vec<&SpanData> = spans
            .iter()
            .filter(|s| s.name.starts_with("chat "))
            .collect();
        assert_eq!(chats.len(), calls, "a span per model call");
        for c in &chats {
            assert_eq!(c.span_kind, SpanKind::Client);
            assert_eq!(attr(c, sc::OPERATION_NAME), Some(&Value::from("chat")));
            assert_eq!(attr(c, sc::PROVIDER_NAME), Some(&Value::from("sim")));
            assert!(matches!(attr(c, sc::USAGE_INPUT_TOKENS), Some(Value::I64(n)) if *n > 0));
            assert!(matches!(attr(c, sc::USAGE_OUTPUT_TOKENS), Some(Value::I64(n)) if *n > 0));
            assert_eq!(
                attr(c, sc::RESPONSE_FINISH_REASONS),
                Some(&Value::Array(Array::String(vec!["stop".into()])))
            );
            // chat → invoke_agent → task → node … → run
            let attempt = parent(c).unwrap();
            assert!(
                attempt.name.starts_with("invoke_agent "),
                "{}",
                attempt.name
            );
            let task = parent(attempt).unwrap();
            assert!(task.name.starts_with("task "), "{}", task.name);
            let mut up = parent(task).unwrap();
            while up.name.starts_with("task ") {
                up = parent(up).unwrap();
            }
            assert!(up.name.starts_with("node "), "{}", up.name);
            while up.name.starts_with("node ") {
                up = parent(up).unwrap();
            }
            assert_eq!(up.name, "run hierarchical");
            assert!(c.start_time >= attempt.start_time && c.end_time <= attempt.end_time);
        }
        // A revision means a second attempt of the same task.
        assert!(
            spans
                .iter()
                .any(|s| attr(s, sc::ATTEMPT) == Some(&Value::I64(2)))
        );
        assert!(
            spans.iter().all(|s| attr(s, sc::CLOSED_BY).is_none()),
            "a finished run ends every span by its own event"
        );
        assert!(
            spans
                .iter()
                .all(|s| attr(s, sc::TASK_INPUT).is_none() && attr(s, sc::INPUT_MESSAGES).is_none()),
            "no content by default"
        );
    }

    fn ev(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            ts: 1_700_000_000_000_000 + seq * 1000,
            session: "s1".into(),
            kind,
        }
    }

    fn tool_run(secret: &str) -> Vec<Event> {
        use EventKind as K;
        let (t, a): (Id, Id) = ("work".into(), "writer".into());
        let usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
            estimated: false,
        };
        let req = |n| K::LlmRequest {
            task: t.clone(),
            agent: a.clone(),
            provider: "openai".into(),
            model: "gpt-x".into(),
            attempt: n,
            prompt_tokens: 10,
        };
        let kinds = vec![
            K::SessionStarted {
                workflow: "tools".into(),
                seed: 0,
                entry: "work".into(),
                agents: vec![a.clone()],
            },
            K::NodeStateChanged {
                node: "work".into(),
                state: NodeState::Running,
                progress: None,
            },
            K::TaskCreated {
                task: t.clone(),
                node: "work".into(),
                parent: None,
                title: "work".into(),
                agent: Some(a.clone()),
                capability: None,
                priority: 3,
                input: json!(format!("prompt with {secret}")),
            },
            K::TaskAssigned {
                task: t.clone(),
                agent: a.clone(),
                attempt: 1,
            },
            req(1),
            K::LlmResponse {
                task: t.clone(),
                agent: a.clone(),
                provider: "openai".into(),
                model: "gpt-x".into(),
                usage,
                latency_ms: 1.0,
            },
            K::ToolCall {
                task: t.clone(),
                agent: a.clone(),
                call_id: "c1".into(),
                tool: "read_file".into(),
                arguments: format!("{{\"path\": \"{secret}\"}}"),
            },
            K::ToolResult {
                task: t.clone(),
                agent: a.clone(),
                call_id: "c1".into(),
                tool: "read_file".into(),
                ok: false,
                output: "error: no such file".into(),
            },
            req(1),
            K::LlmError {
                task: t.clone(),
                agent: a.clone(),
                kind: ErrorKind::RateLimited,
                error: format!("429 for key {secret}"),
            },
            K::TaskFailed {
                task: t.clone(),
                agent: Some(a.clone()),
                from: TaskState::InProgress,
                kind: ErrorKind::RateLimited,
                error: "gave up".into(),
                attempt: 1,
                held: false,
            },
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(n, k)| ev(n as u64 + 1, k))
            .collect()
    }

    #[test]
    fn tool_calls_set_the_finish_reason_and_errors_their_status() {
        let secret = "sk-proj-abcdefghijklmnop1234";
        let spans = spans_of(&tool_run(secret), false, RunShape::default());
        let named = |n: &str| spans.iter().find(|s| s.name == n).unwrap();
        let chats: Vec<&SpanData> = spans.iter().filter(|s| s.name == "chat gpt-x").collect();
        assert_eq!(chats.len(), 2);
        let first = chats
            .iter()
            .find(|s| attr(s, sc::RESPONSE_FINISH_REASONS).is_some())
            .unwrap();
        assert_eq!(
            attr(first, sc::RESPONSE_FINISH_REASONS),
            Some(&Value::Array(Array::String(vec!["tool_calls".into()])))
        );
        // It ends when its reply arrived, not when the tool call showed why.
        assert_eq!(first.end_time, at(ev(6, EventKind::RunPaused).ts));
        let failed = chats
            .iter()
            .find(|s| s.span_context != first.span_context)
            .unwrap();
        assert_eq!(
            attr(failed, sc::ERROR_TYPE),
            Some(&Value::from("rate_limited"))
        );
        assert!(
            matches!(&failed.status, Status::Error { description } if description.contains("[REDACTED]") && !description.contains(secret))
        );
        let tool = named("execute_tool read_file");
        assert_eq!(
            tool.parent_span_id,
            named("invoke_agent writer").span_context.span_id()
        );
        assert_eq!(attr(tool, sc::TOOL_CALL_ID), Some(&Value::from("c1")));
        assert!(matches!(tool.status, Status::Error { .. }));
        assert_eq!(attr(tool, sc::TOOL_CALL_ARGUMENTS), None, "content is off");
        let task = named("task work");
        assert_eq!(attr(task, sc::TASK_STATE), Some(&Value::from("FAILED")));
        assert_eq!(attr(task, sc::TASK_INPUT), None);
        for s in &spans {
            for kv in &s.attributes {
                assert!(
                    !kv.value.as_str().contains(secret),
                    "{} = {}",
                    kv.key,
                    kv.value
                );
            }
        }
    }

    #[test]
    fn content_is_exported_when_asked_for_and_still_scrubbed() {
        let secret = "sk-proj-abcdefghijklmnop1234";
        let spans = spans_of(&tool_run(secret), true, RunShape::default());
        let named = |n: &str| spans.iter().find(|s| s.name == n).unwrap();
        let tool = named("execute_tool read_file");
        let args = attr(tool, sc::TOOL_CALL_ARGUMENTS).unwrap().as_str();
        assert!(
            args.contains("[REDACTED]") && !args.contains(secret),
            "{args}"
        );
        assert_eq!(
            attr(tool, sc::TOOL_CALL_RESULT),
            Some(&Value::from("error: no such file"))
        );
        let attempt = named("invoke_agent writer");
        let messages: serde_json::Value =
            serde_json::from_str(&attr(attempt, sc::INPUT_MESSAGES).unwrap().as_str()).unwrap();
        assert_eq!(messages[0]["role"], "user");
        assert_eq!(messages[0]["parts"][0]["content"], "prompt with [REDACTED]");
        assert!(attr(named("task work"), sc::TASK_INPUT).is_some());
    }

    #[test]
    fn a_stream_that_stops_early_still_ends_every_span() {
        let mut events = tool_run("x");
        events.truncate(5); // up to the first llm_request
        let spans = spans_of(&events, false, RunShape::default());
        assert_eq!(spans.len(), 5, "run, node, task, attempt, call");
        let run = spans.iter().find(|s| s.name == "run tools").unwrap();
        assert_eq!(attr(run, sc::CLOSED_BY), Some(&Value::from("stream_ended")));
        assert!(
            spans
                .iter()
                .filter(|s| s.name != "run tools")
                .all(|s| attr(s, sc::CLOSED_BY) == Some(&Value::from("run_ended")))
        );
    }
}
