//! Where tool calls meet the run: each call's [`ToolContext`] (the run's
//! shared context store, the calling agent and task) and the human gate every
//! `shell` call waits at.
//!
//! A shell call opens an ordinary gate task, `<task>/shell#<attempt>.<n>`
//! (the n-th shell call of that attempt), child of the calling task: the
//! usual `task_created` + `gate_opened` (artifact: the
//! [`ShellRequest`](crate::tools::shell::ShellRequest)) + `gate_decided`
//! events, decided with the usual `gate_decision` command. So the cockpit's
//! gate list, `agentctl run`'s prompt and any library client see and answer
//! it like any other gate. Approved, the gate task completes; denied or
//! cancelled, it ends CANCELLED and the model is told why. Abandoning the
//! call (pause, reroute, timeout) drops the gate task, which is then
//! recorded as cancelled.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::json;

use super::run::Run;
use crate::event::{Id, TaskState};
use crate::tools::ToolContext;
use crate::tools::shell::{ShellDecision, ShellGate, ShellRequest};
use crate::workflow::index::{AgentIdx, NodeIdx};

/// The gate of one attempt's shell calls.
struct EngineShellGate {
    run: Arc<Run>,
    task: Id,
    node: NodeIdx,
    attempt: u32,
    calls: AtomicU32,
}

impl ShellGate for EngineShellGate {
    fn decide(&self, request: ShellRequest) -> BoxFuture<'static, ShellDecision> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let run = self.run.clone();
        let id = format!("{}/shell#{}.{n}", self.task, self.attempt);
        let parent = self.task.clone();
        let node = self.node;
        async move { ask(run, id, parent, node, request).await }.boxed()
    }
}

async fn ask(
    run: Arc<Run>,
    id: String,
    parent: Id,
    node: NodeIdx,
    request: ShellRequest,
) -> ShellDecision {
    let artifact = request.artifact();
    let n = &run.wf.nodes[node];
    let mut h = run.new_task(
        id,
        node,
        Some(parent),
        format!("{}: {}", request.kind, request.command),
        None,
        n.priority,
        &artifact,
        true,
    );
    if h.restored {
        // Approved in the recorded session; a new attempt asks again rather
        // than run a command nobody approved in this run.
        return ShellDecision::Denied(Some(
            "this call was decided in the recorded session; ask again".into(),
        ));
    }
    h.set_state(
        TaskState::Review,
        Some(format!(
            "waiting for a human to approve `{}`",
            request.command
        )),
    );
    let Some((approve, comment)) = h.ask_human(&n.id, artifact).await else {
        return ShellDecision::Denied(Some("the gate was cancelled".into()));
    };
    if approve {
        h.complete(json!({"approved": true, "command": request.command}));
        ShellDecision::Approved
    } else {
        h.cancel(&format!(
            "denied: {}",
            comment.as_deref().unwrap_or("no comment")
        ));
        ShellDecision::Denied(comment)
    }
}

/// Makes the tool contexts of one attempt: each shares the run's context
/// store; agents with a `shell` table get the attempt's gate.
pub(crate) struct ToolScope {
    run: Arc<Run>,
    task: Id,
    attempt: u32,
    agent: AgentIdx,
    gate: Option<Arc<dyn ShellGate>>,
}

impl ToolScope {
    pub(crate) fn new(
        run: &Arc<Run>,
        task: &Id,
        attempt: u32,
        agent: AgentIdx,
        node: NodeIdx,
    ) -> Self {
        let a = &run.wf.agents[agent];
        // MCP tools may need approval too (their server's `approve`).
        let asks = a.shell.is_some()
            || a.tools
                .iter()
                .any(|t| t.starts_with(crate::mcp::server_spec::TOOL_PREFIX));
        let gate = asks.then(|| {
            Arc::new(EngineShellGate {
                run: run.clone(),
                task: task.clone(),
                node,
                attempt,
                calls: AtomicU32::new(0),
            }) as Arc<dyn ShellGate>
        });
        ToolScope {
            run: run.clone(),
            task: task.clone(),
            attempt,
            agent,
            gate,
        }
    }

    /// The context of one call.
    pub(crate) fn context(&self) -> ToolContext {
        let a = &self.run.wf.agents[self.agent];
        // `Orchestrator::start` gives every run whose agents use tools a
        // store; an empty one only stands in if that ever changes.
        let store = self.run.res.context.clone().unwrap_or_default();
        let cx =
            ToolContext::new(a.id.clone(), self.task.clone(), store).with_attempt(self.attempt);
        match (&a.shell, &self.gate) {
            (Some(cfg), Some(gate)) => cx.with_shell(cfg.clone(), gate.clone()),
            (None, Some(gate)) => cx.with_gate(gate.clone()),
            _ => cx,
        }
    }
}
