//! Work submitted to a running run (`submit / get_next / complete` of a
//! task queue): `Command::Submit`, sent by the library's
//! [`RunHandle::submit`](super::RunHandle::submit) or the cockpit's `+` key,
//! adds an ad-hoc agent task. It is a task like any other (same scheduler,
//! policies, budgets, events) owned by a node the engine adds to its copy of
//! the workflow, `submitted`; its id is `submitted#N`. A `task_submitted`
//! event records the submission, so a resumed run runs it again (a completed
//! one keeps its recorded output), and its end is in
//! [`RunOutcome::submitted`](super::RunOutcome::submitted).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use serde_json::Value;

use super::agent_task::{AgentJob, work};
use super::run::Run;
use crate::event::{Command, EventKind, Id, TaskState};
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::kinds::NodeKind;
use crate::workflow::kinds::agent::{AgentNode, Target};
use crate::workflow::model::{Node, Workflow};

/// The id of the node that owns submitted tasks (`submitted~2` and so on
/// when the workflow has a node of that name).
pub const NODE: &str = "submitted";

/// Priority of a submission that names none (a node's default).
const DEFAULT_PRIORITY: u8 = 3;

/// An ad-hoc agent task for a running run.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The agent that works on it (a workflow agent id).
    pub agent: String,
    /// What it is asked.
    pub prompt: String,
    /// Priority 1 (most urgent) to 5; 3 when absent.
    pub priority: Option<u8>,
}

impl Submission {
    /// `prompt` for `agent`, at the default priority.
    pub fn new(agent: impl Into<String>, prompt: impl Into<String>) -> Self {
        Submission {
            agent: agent.into(),
            prompt: prompt.into(),
            priority: None,
        }
    }

    /// Priority 1 (most urgent) to 5.
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = Some(priority);
        self
    }
}

/// Why a submission was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubmitError {
    /// No such agent in the workflow.
    #[error("there is no agent `{agent}` (known: {known})")]
    UnknownAgent {
        /// The agent asked for.
        agent: String,
        /// The workflow's agents.
        known: String,
    },
    /// The prompt is empty.
    #[error("the prompt is empty; say what the agent should do")]
    EmptyPrompt,
    /// The priority is out of range.
    #[error("priority must be between 1 and 5, got {0}")]
    BadPriority(u8),
    /// The run has ended: nothing takes submissions any more.
    #[error("the run has ended")]
    Ended,
}

/// What became of a submitted task, in [`RunOutcome::submitted`](super::RunOutcome::submitted)
/// (`submitted` in `--json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubmittedOutcome {
    /// Task id (`submitted#1`, …).
    pub task: String,
    /// The agent it was given to.
    pub agent: String,
    /// What it was asked.
    pub prompt: String,
    /// Its last state: COMPLETED, FAILED, or CANCELLED when the run ended
    /// before it did.
    pub state: TaskState,
    /// Its output, when it completed.
    pub output: Option<Value>,
    /// Why it did not complete.
    pub error: Option<String>,
}

/// Adds the node that owns submitted tasks to the run's copy of the
/// workflow (after every other node: no index moves). It is never entered:
/// it only gives its tasks a node's default policies and a budget scope.
pub(crate) fn add_node(wf: &mut Workflow) -> NodeIdx {
    let mut id = NODE.to_string();
    let mut n = 2;
    while wf.node_index.contains_key(&id) {
        id = format!("{NODE}~{n}");
        n += 1;
    }
    let idx = wf.nodes.len();
    wf.nodes.push(Node {
        id: Id::from(id.as_str()),
        title: "submitted tasks".into(),
        priority: DEFAULT_PRIORITY,
        emit: None,
        on_error: None,
        kind: NodeKind::Agent(AgentNode {
            target: Target::Capability(String::new()),
            prompt: Default::default(),
            validate: None,
        }),
        policy: Default::default(),
    });
    wf.node_index.insert(id, idx);
    idx
}

/// Checks a submission against the workflow: its agent and priority.
pub(crate) fn check(
    wf: &Workflow,
    agent: &str,
    prompt: &str,
    priority: Option<u8>,
) -> Result<(AgentIdx, u8), SubmitError> {
    let Some(a) = wf.agent(agent) else {
        return Err(SubmitError::UnknownAgent {
            agent: agent.to_string(),
            known: wf
                .agents
                .iter()
                .map(|a| a.id.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    if prompt.trim().is_empty() {
        return Err(SubmitError::EmptyPrompt);
    }
    let p = priority.unwrap_or(DEFAULT_PRIORITY);
    if !(1..=5).contains(&p) {
        return Err(SubmitError::BadPriority(p));
    }
    Ok((a, p))
}

/// Hands out `submitted#N` ids, shared by the run handle (which reserves
/// one before it sends the command, so that `submit` can return it) and the
/// engine (for commands that come without one, e.g. from the cockpit).
#[derive(Debug)]
pub(crate) struct SubmitDesk {
    pub(crate) wf: Arc<Workflow>,
    pub(crate) node: NodeIdx,
    next: AtomicU32,
}

impl SubmitDesk {
    /// A desk for the run's workflow; `taken` ids were used by the recorded
    /// session a resumed run continues.
    pub(crate) fn new(wf: Arc<Workflow>, node: NodeIdx, taken: u32) -> Self {
        SubmitDesk {
            wf,
            node,
            next: AtomicU32::new(taken + 1),
        }
    }

    /// The next free id.
    pub(crate) fn reserve(&self) -> Id {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Id::from(format!("{}#{n}", self.wf.nodes[self.node].id).as_str())
    }

    /// Whether `id` is one this desk handed out.
    fn handed_out(&self, id: &str) -> bool {
        let prefix = &*self.wf.nodes[self.node].id;
        id.strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n >= 1 && n < self.next.load(Ordering::Relaxed))
    }
}

/// One submitted task's end, by its place in [`Queue::outcomes`].
type Ending = (usize, TaskState, Option<Value>, Option<String>);

/// The submitted tasks of one run, driven by the run's driver next to the
/// work tree.
pub(crate) struct Queue {
    desk: Arc<SubmitDesk>,
    running: FuturesUnordered<BoxFuture<'static, Ending>>,
    outcomes: Vec<SubmittedOutcome>,
    accepted: HashSet<Id>,
}

impl Queue {
    pub(crate) fn new(desk: Arc<SubmitDesk>) -> Self {
        Queue {
            desk,
            running: FuturesUnordered::new(),
            outcomes: Vec::new(),
            accepted: HashSet::new(),
        }
    }

    /// Runs again the submissions a resumed run's recorded session holds
    /// (their `task_submitted` events are recorded already).
    pub(crate) fn restore(&mut self, run: &Arc<Run>) {
        let Some(r) = run.restore.clone() else {
            return;
        };
        for s in &r.submitted {
            match check(&run.wf, &s.agent, &s.prompt, Some(s.priority)) {
                Ok((agent, priority)) => {
                    self.start(run, Id::from(s.task.as_str()), agent, &s.prompt, priority)
                }
                Err(e) => {
                    self.accepted.insert(Id::from(s.task.as_str()));
                    self.outcomes.push(SubmittedOutcome {
                        task: s.task.clone(),
                        agent: s.agent.clone(),
                        prompt: s.prompt.clone(),
                        state: TaskState::Failed,
                        output: None,
                        error: Some(format!("not resumed: {e}")),
                    })
                }
            }
        }
    }

    /// Carries out a `submit` command (already recorded as received):
    /// rejects it, or records the submission and starts its task.
    pub(crate) fn submit(&mut self, run: &Arc<Run>, c: &Command) {
        let Command::Submit {
            agent,
            prompt,
            priority,
            task,
        } = c
        else {
            return;
        };
        let reject = |reason: String| {
            run.emit(EventKind::CommandRejected {
                command: c.clone(),
                reason,
            })
        };
        let (a, p) = match check(&run.wf, agent, prompt, *priority) {
            Ok(v) => v,
            Err(e) => return reject(e.to_string()),
        };
        let id = match task {
            None => self.desk.reserve(),
            Some(t) if self.desk.handed_out(t) && !self.accepted.contains(t) => t.clone(),
            Some(t) => {
                return reject(format!(
                    "`{t}` is not an id this run reserved for a submission; leave `task` out"
                ));
            }
        };
        run.emit(EventKind::TaskSubmitted {
            task: id.clone(),
            agent: run.wf.agents[a].id.clone(),
            prompt: prompt.clone(),
            priority: p,
        });
        self.start(run, id, a, prompt, p);
    }

    fn start(&mut self, run: &Arc<Run>, id: Id, agent: AgentIdx, prompt: &str, priority: u8) {
        let slot = self.outcomes.len();
        self.accepted.insert(id.clone());
        self.outcomes.push(SubmittedOutcome {
            task: id.to_string(),
            agent: run.wf.agents[agent].id.to_string(),
            prompt: prompt.to_string(),
            state: TaskState::Cancelled,
            output: None,
            error: Some("the run ended before the task did".into()),
        });
        let run = run.clone();
        let node = self.desk.node;
        let prompt = prompt.to_string();
        self.running.push(Box::pin(async move {
            let input = Value::String(prompt.clone());
            let target = Target::Agent(agent);
            let title = crate::text::clip(&prompt, 48).into_owned();
            let mut h = run.new_task(
                id.to_string(),
                node,
                None,
                title,
                Some(&target),
                priority,
                &input,
                false,
            );
            let job = AgentJob::new(node, target, priority, prompt, &input, 0);
            match work(&mut h, job).await {
                Ok((v, _)) => {
                    h.complete(v.clone());
                    (slot, TaskState::Completed, Some(v), None)
                }
                Err(e) => (slot, h.state, None, Some(e.message)),
            }
        }));
    }

    /// Whether submitted tasks still run.
    pub(crate) fn busy(&self) -> bool {
        !self.running.is_empty()
    }

    /// The next submitted task to end (pending forever when none runs).
    pub(crate) async fn next(&mut self) {
        use futures::StreamExt;
        match self.running.next().await {
            Some((slot, state, output, error)) => {
                let o = &mut self.outcomes[slot];
                o.state = state;
                o.output = output;
                o.error = error;
            }
            None => std::future::pending().await,
        }
    }

    /// Every submission, in order, with how it ended. Drops what still runs
    /// (its tasks record that they were cancelled).
    pub(crate) fn finish(mut self) -> Vec<SubmittedOutcome> {
        self.running.clear();
        self.outcomes
    }
}
