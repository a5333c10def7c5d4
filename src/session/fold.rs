//! Folds a session's events into a summary: tasks with their states,
//! attempts, outputs and usage; agents; gates and their decisions; the
//! commands people sent; the run's status. `sessions list/show/export` show
//! it, and [`SessionState::restore`] turns it into what `resume` needs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Header;
use crate::event::{Command, Event, EventKind, RunStatus, TaskState, Usage};

/// The state of a session after some of its events.
#[derive(Debug, Clone, Serialize)]
pub struct SessionState {
    /// Session id.
    pub session: String,
    /// Workflow name.
    pub workflow: String,
    /// Seed.
    pub seed: u64,
    /// Header time (µs since the epoch).
    pub started_us: u64,
    /// Time of the last event.
    pub last_us: u64,
    /// `seq` of the last event.
    pub last_seq: u64,
    /// Events folded.
    pub events: u64,
    /// Runs: 1, plus one per resume.
    pub runs: u32,
    /// Set by `session_ended`; `None` while running or after a crash.
    pub status: Option<RunStatus>,
    /// The entry node's output on success.
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// Tokens spent by every call (all runs).
    pub usage: Usage,
    /// Tasks in creation order.
    pub tasks: Vec<TaskRecord>,
    #[serde(skip)]
    index: HashMap<String, usize>,
    /// Per agent.
    pub agents: BTreeMap<String, AgentRecord>,
    /// Gate openings, in order.
    pub gates: Vec<GateRecord>,
    /// Commands people sent, in order.
    pub commands: Vec<CommandRecord>,
    /// Debates, in the order they started.
    pub debates: Vec<DebateRecord>,
    /// Votes, in the order they started.
    pub votes: Vec<VoteRecord>,
    /// What changed since the last snapshot, when the recorder tracks it.
    #[serde(skip)]
    dirty: Option<Box<Dirty>>,
}

/// Records changed since the last snapshot (indices into the state's lists).
#[derive(Debug, Clone, Default)]
struct Dirty {
    tasks: BTreeSet<usize>,
    agents: BTreeSet<String>,
    gates: BTreeSet<usize>,
    commands: BTreeSet<usize>,
    debates: BTreeSet<usize>,
    votes: BTreeSet<usize>,
}

/// One task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Task id.
    pub id: String,
    /// Node.
    pub node: String,
    /// Parent task (plan subtasks).
    pub parent: Option<String>,
    /// Title.
    pub title: String,
    /// Input.
    pub input: Value,
    /// Last state.
    pub state: TaskState,
    /// Attempts made.
    pub attempts: u32,
    /// Last agent.
    pub agent: Option<String>,
    /// Output, once COMPLETED.
    pub output: Option<Value>,
    /// Last error.
    pub error: Option<String>,
    /// Tokens its calls spent.
    pub usage: Usage,
    /// Provider calls made for it.
    pub calls: u32,
    /// `task_completed` events seen (1 at most in a sound session).
    pub completions: u32,
}

/// One agent's totals.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AgentRecord {
    /// Calls started.
    pub calls: u64,
    /// Calls that failed.
    pub errors: u64,
    /// Tasks it completed.
    pub completed: u64,
    /// Tokens.
    pub usage: Usage,
    /// Summed call latency, ms.
    pub latency_ms: f64,
}

/// A debate's transcript and outcome.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DebateRecord {
    /// Debate node.
    pub node: String,
    /// Turns in order (failed turns included).
    pub turns: Vec<TurnRecord>,
    /// How it ended, once it did.
    pub outcome: Option<DebateOutcome>,
}

/// One debate turn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TurnRecord {
    /// Round, from 1.
    pub round: u32,
    /// Turn number in the debate, from 1.
    pub turn: u32,
    /// Speaker.
    pub speaker: String,
    /// Position taken (empty for a failed turn).
    pub position: String,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// The argument.
    pub argument: String,
    /// Critiques of earlier turns: (turn, its speaker, text).
    pub critiques: Vec<(u32, String, String)>,
    /// Why the turn failed, if it did.
    pub failed: Option<String>,
}

/// How a debate ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DebateOutcome {
    /// Rounds held.
    pub rounds: u32,
    /// Why it stopped.
    pub reason: String,
    /// The decision.
    pub decision: String,
    /// Its reasons.
    pub reasons: String,
    /// Who decided (judge, vote...).
    pub decided_by: String,
}

/// A vote's ballots and result.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VoteRecord {
    /// Vote node.
    pub node: String,
    /// Ballots in order.
    pub ballots: Vec<BallotRecord>,
    /// Agents flagged: (agent, round, reason, detail, excluded).
    pub flagged: Vec<(String, u32, String, String, bool)>,
    /// Each round's result, in order (a failed round may be followed by another).
    pub results: Vec<VoteResult>,
}

/// One ballot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BallotRecord {
    /// Round, from 1.
    pub round: u32,
    /// Voter.
    pub voter: String,
    /// Choice (empty for a failed ballot).
    pub choice: String,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// Rationale, or why the ballot failed.
    pub rationale: String,
    /// Phase (`cast`, `propose`, `commit`), or `failed`.
    pub phase: String,
}

/// A round's tally.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoteResult {
    /// Round.
    pub round: u32,
    /// Reached or failed.
    pub reached: bool,
    /// The winner, when reached.
    pub choice: Option<String>,
    /// Who decided, or why it failed and what happens next.
    pub note: String,
    /// The full tally.
    pub tally: crate::event::Tally,
}

/// One opening of a gate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateRecord {
    /// Gate task id.
    pub gate: String,
    /// Node.
    pub node: String,
    /// Revision (0 first).
    pub revision: u32,
    /// What was shown.
    pub artifact: Value,
    /// `Some((approved, comment))` once decided.
    pub decision: Option<(bool, Option<String>)>,
}

/// A command a person sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandRecord {
    /// When (µs since the epoch).
    pub ts: u64,
    /// The command.
    pub command: Command,
    /// Why it was rejected, if it was.
    pub rejected: Option<String>,
}

impl SessionState {
    /// The state before any event.
    pub fn new(h: &Header) -> SessionState {
        Self::empty(
            h.session.clone(),
            h.workflow.name.clone(),
            h.seed,
            h.started_at,
        )
    }

    /// A state with no event folded yet.
    fn empty(session: String, workflow: String, seed: u64, started_us: u64) -> SessionState {
        SessionState {
            session,
            workflow,
            seed,
            started_us,
            last_us: started_us,
            last_seq: 0,
            events: 0,
            runs: 0,
            status: None,
            output: None,
            error: None,
            usage: Usage::default(),
            tasks: Vec::new(),
            index: HashMap::new(),
            agents: BTreeMap::new(),
            gates: Vec::new(),
            commands: Vec::new(),
            debates: Vec::new(),
            votes: Vec::new(),
            dirty: None,
        }
    }

    /// A task by id.
    pub fn task(&self, id: &str) -> Option<&TaskRecord> {
        self.index.get(id).map(|&i| &self.tasks[i])
    }

    fn task_mut(&mut self, id: &str) -> Option<&mut TaskRecord> {
        let i = *self.index.get(id)?;
        if let Some(d) = &mut self.dirty {
            d.tasks.insert(i);
        }
        self.tasks.get_mut(i)
    }

    /// An agent's totals, created on first use. Looks the name up before
    /// allocating a key: almost every event names a known agent.
    fn agent_mut(&mut self, id: &str) -> Option<&mut AgentRecord> {
        if let Some(d) = &mut self.dirty
            && !d.agents.contains(id)
        {
            d.agents.insert(id.to_string());
        }
        if !self.agents.contains_key(id) {
            self.agents.insert(id.to_string(), AgentRecord::default());
        }
        self.agents.get_mut(id)
    }

    /// Whether the session ended (succeeded, failed or cancelled): there is
    /// nothing to resume. Interrupted and crashed sessions are not finished.
    pub fn finished(&self) -> bool {
        matches!(
            self.status,
            Some(RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled)
        )
    }

    /// `succeeded` … or `interrupted` for a session that stopped without
    /// ending (a crash).
    pub fn status_name(&self) -> &'static str {
        match self.status {
            Some(RunStatus::Succeeded) => "succeeded",
            Some(RunStatus::Failed) => "failed",
            Some(RunStatus::Cancelled) => "cancelled",
            Some(RunStatus::Interrupted) | None => "interrupted",
        }
    }

    /// Tasks COMPLETED.
    pub fn completed(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| t.state == TaskState::Completed)
            .count()
    }

    /// Wall time from the header to the last event, ms.
    pub fn duration_ms(&self) -> f64 {
        self.last_us.saturating_sub(self.started_us) as f64 / 1000.0
    }

    /// The record of a debate node, created on its first event.
    fn debate(&mut self, node: &str) -> &mut DebateRecord {
        let i = match self.debates.iter().position(|d| d.node == node) {
            Some(i) => i,
            None => {
                self.debates.push(DebateRecord {
                    node: node.to_string(),
                    ..Default::default()
                });
                self.debates.len() - 1
            }
        };
        if let Some(d) = &mut self.dirty {
            d.debates.insert(i);
        }
        &mut self.debates[i]
    }

    /// The record of a vote node, created on its first event.
    fn vote(&mut self, node: &str) -> &mut VoteRecord {
        let i = match self.votes.iter().position(|v| v.node == node) {
            Some(i) => i,
            None => {
                self.votes.push(VoteRecord {
                    node: node.to_string(),
                    ..Default::default()
                });
                self.votes.len() - 1
            }
        };
        if let Some(d) = &mut self.dirty {
            d.votes.insert(i);
        }
        &mut self.votes[i]
    }

    /// Folds one event in.
    pub fn apply(&mut self, ev: &Event) {
        self.events += 1;
        self.last_seq = self.last_seq.max(ev.seq);
        self.last_us = self.last_us.max(ev.ts);
        match &ev.kind {
            EventKind::SessionStarted { .. } => {
                self.runs += 1;
                self.status = None;
            }
            EventKind::SessionEnded {
                status,
                output,
                error,
                ..
            } => {
                self.status = Some(*status);
                self.output = output.clone();
                self.error = error.clone();
            }
            EventKind::TaskCreated {
                task,
                node,
                parent,
                title,
                input,
                ..
            } => {
                if self.index.contains_key(&**task) {
                    return;
                }
                if let Some(d) = &mut self.dirty {
                    d.tasks.insert(self.tasks.len());
                }
                self.index.insert(task.to_string(), self.tasks.len());
                self.tasks.push(TaskRecord {
                    id: task.to_string(),
                    node: node.to_string(),
                    parent: parent.as_ref().map(|p| p.to_string()),
                    title: title.clone(),
                    input: input.clone(),
                    state: TaskState::Pending,
                    attempts: 0,
                    agent: None,
                    output: None,
                    error: None,
                    usage: Usage::default(),
                    calls: 0,
                    completions: 0,
                });
            }
            EventKind::TaskAssigned {
                task,
                agent,
                attempt,
            } => {
                if let Some(t) = self.task_mut(task) {
                    t.attempts = t.attempts.max(*attempt);
                    t.agent = Some(agent.to_string());
                }
            }
            EventKind::TaskStateChanged { task, to, .. } => {
                if let Some(t) = self.task_mut(task) {
                    t.state = *to;
                }
            }
            EventKind::TaskCompleted {
                task,
                agent,
                output,
                attempt,
                ..
            } => {
                if let Some(a) = agent
                    && let Some(r) = self.agent_mut(a)
                {
                    r.completed += 1;
                }
                if let Some(t) = self.task_mut(task) {
                    t.state = TaskState::Completed;
                    t.output = Some(output.clone());
                    t.attempts = t.attempts.max(*attempt);
                    t.completions += 1;
                    if let Some(a) = agent {
                        t.agent = Some(a.to_string());
                    }
                }
            }
            EventKind::TaskFailed { task, error, .. } => {
                if let Some(t) = self.task_mut(task) {
                    t.state = TaskState::Failed;
                    t.error = Some(error.clone());
                }
            }
            EventKind::LlmRequest { task, agent, .. } => {
                if let Some(a) = self.agent_mut(agent) {
                    a.calls += 1;
                }
                if let Some(t) = self.task_mut(task) {
                    t.calls += 1;
                }
            }
            EventKind::LlmResponse {
                task,
                agent,
                usage,
                latency_ms,
                ..
            } => {
                self.usage.add(usage);
                if let Some(a) = self.agent_mut(agent) {
                    a.usage.add(usage);
                    a.latency_ms += latency_ms;
                }
                if let Some(t) = self.task_mut(task) {
                    t.usage.add(usage);
                }
            }
            EventKind::LlmError { agent, .. } => {
                if let Some(a) = self.agent_mut(agent) {
                    a.errors += 1;
                }
            }
            EventKind::GateOpened {
                gate,
                node,
                artifact,
                revision,
            } => {
                if let Some(d) = &mut self.dirty {
                    d.gates.insert(self.gates.len());
                }
                self.gates.push(GateRecord {
                    gate: gate.to_string(),
                    node: node.to_string(),
                    revision: *revision,
                    artifact: artifact.clone(),
                    decision: None,
                });
            }
            EventKind::GateDecided {
                gate,
                approved,
                comment,
            } => {
                if let Some(i) = self
                    .gates
                    .iter()
                    .rposition(|g| *g.gate == **gate && g.decision.is_none())
                {
                    self.gates[i].decision = Some((*approved, comment.clone()));
                    if let Some(d) = &mut self.dirty {
                        d.gates.insert(i);
                    }
                }
            }
            EventKind::DebateTurn {
                node,
                round,
                turn,
                speaker,
                position,
                confidence,
                argument,
                critiques,
                ..
            } => {
                self.debate(node).turns.push(TurnRecord {
                    round: *round,
                    turn: *turn,
                    speaker: speaker.to_string(),
                    position: position.clone(),
                    confidence: *confidence,
                    argument: argument.clone(),
                    critiques: critiques
                        .iter()
                        .map(|c| (c.turn, c.speaker.to_string(), c.text.clone()))
                        .collect(),
                    failed: None,
                });
            }
            EventKind::DebateTurnFailed {
                node,
                round,
                turn,
                speaker,
                error,
                ..
            } => {
                self.debate(node).turns.push(TurnRecord {
                    round: *round,
                    turn: *turn,
                    speaker: speaker.to_string(),
                    position: String::new(),
                    confidence: 0.0,
                    argument: String::new(),
                    critiques: Vec::new(),
                    failed: Some(error.clone()),
                });
            }
            EventKind::DebateEnded {
                node,
                rounds,
                reason,
                decision,
                reasons,
                decided_by,
            } => {
                self.debate(node).outcome = Some(DebateOutcome {
                    rounds: *rounds,
                    reason: reason.clone(),
                    decision: decision.clone(),
                    reasons: reasons.clone(),
                    decided_by: decided_by.clone(),
                });
            }
            EventKind::VoteCast {
                node,
                round,
                voter,
                choice,
                confidence,
                rationale,
                phase,
                ..
            } => {
                self.vote(node).ballots.push(BallotRecord {
                    round: *round,
                    voter: voter.to_string(),
                    choice: choice.clone(),
                    confidence: *confidence,
                    rationale: rationale.clone(),
                    phase: phase.clone(),
                });
            }
            EventKind::VoteFailed {
                node,
                round,
                voter,
                error,
            } => {
                self.vote(node).ballots.push(BallotRecord {
                    round: *round,
                    voter: voter.to_string(),
                    choice: String::new(),
                    confidence: 0.0,
                    rationale: error.clone(),
                    phase: "failed".into(),
                });
            }
            EventKind::AgentFlagged {
                node,
                agent,
                round,
                reason,
                detail,
                excluded,
            } => {
                self.vote(node).flagged.push((
                    agent.to_string(),
                    *round,
                    reason.clone(),
                    detail.clone(),
                    *excluded,
                ));
            }
            EventKind::ConsensusReached {
                node,
                round,
                choice,
                decided_by,
                tally,
            } => {
                self.vote(node).results.push(VoteResult {
                    round: *round,
                    reached: true,
                    choice: Some(choice.clone()),
                    note: format!("decided by {decided_by}"),
                    tally: (**tally).clone(),
                });
            }
            EventKind::ConsensusFailed {
                node,
                round,
                reason,
                next,
                tally,
            } => {
                self.vote(node).results.push(VoteResult {
                    round: *round,
                    reached: false,
                    choice: None,
                    note: format!("{reason}; then: {next}"),
                    tally: (**tally).clone(),
                });
            }
            EventKind::CommandReceived { command } => {
                if let Some(d) = &mut self.dirty {
                    d.commands.insert(self.commands.len());
                }
                self.commands.push(CommandRecord {
                    ts: ev.ts,
                    command: command.clone(),
                    rejected: None,
                });
            }
            EventKind::CommandRejected { command, reason } => {
                if let Some(i) = self
                    .commands
                    .iter()
                    .rposition(|c| c.command == *command && c.rejected.is_none())
                {
                    self.commands[i].rejected = Some(reason.clone());
                    if let Some(d) = &mut self.dirty {
                        d.commands.insert(i);
                    }
                }
            }
            _ => {}
        }
    }

    /// Starts remembering which records change, for [`Self::write_delta`]
    /// (the recorder's snapshots). Folding for reading leaves it off.
    pub(crate) fn track_changes(&mut self) {
        self.dirty = Some(Box::default());
    }

    /// Writes what changed since the last delta (everything when `full`)
    /// as JSON into `out`, and starts counting changes afresh.
    pub(crate) fn write_delta(&mut self, full: bool, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let dirty = self.dirty.take().unwrap_or_default();
        fn pick<'a, T>(all: &'a [T], which: &BTreeSet<usize>, full: bool) -> Vec<(usize, &'a T)> {
            if full {
                all.iter().enumerate().collect()
            } else {
                which
                    .iter()
                    .filter_map(|&i| all.get(i).map(|r| (i, r)))
                    .collect()
            }
        }
        let delta = DeltaRef {
            full,
            last_us: self.last_us,
            last_seq: self.last_seq,
            events: self.events,
            runs: self.runs,
            status: self.status,
            output: self.output.as_ref(),
            error: self.error.as_deref(),
            usage: self.usage,
            tasks: pick(&self.tasks, &dirty.tasks, full),
            agents: self
                .agents
                .iter()
                .filter(|(k, _)| full || dirty.agents.contains(*k))
                .collect(),
            gates: pick(&self.gates, &dirty.gates, full),
            commands: pick(&self.commands, &dirty.commands, full),
            debates: pick(&self.debates, &dirty.debates, full),
            votes: pick(&self.votes, &dirty.votes, full),
        };
        let r = serde_json::to_writer(out, &delta);
        self.dirty = Some(Box::default());
        r
    }

    /// Applies a delta written by [`Self::write_delta`] to the state it was
    /// taken after (any state, for a full one). A delta that does not fit
    /// (a record at an index that is neither there nor next, an id that
    /// differs) is refused before anything changes.
    pub(crate) fn apply_delta(&mut self, d: StateDelta) -> Result<(), String> {
        if !d.full {
            return self.apply_changes(d);
        }
        let mut fresh = Self::empty(
            self.session.clone(),
            self.workflow.clone(),
            self.seed,
            self.started_us,
        );
        fresh.apply_changes(d)?;
        fresh.dirty = self.dirty.take();
        *self = fresh;
        Ok(())
    }

    fn apply_changes(&mut self, d: StateDelta) -> Result<(), String> {
        fn fits<T>(
            what: &str,
            have: &[T],
            recs: &[(usize, T)],
            same: impl Fn(&T, &T) -> bool,
        ) -> Result<(), String> {
            let mut len = have.len();
            let mut last = None;
            for (i, r) in recs {
                if last.is_some_and(|l| l >= *i) {
                    return Err(format!("{what} {i} out of order"));
                }
                last = Some(*i);
                match have.get(*i) {
                    Some(old) if same(old, r) => {}
                    Some(_) => return Err(format!("{what} {i} is another record")),
                    None if *i == len => len += 1,
                    None => return Err(format!("{what} {i} skips records")),
                }
            }
            Ok(())
        }
        fits("task", &self.tasks, &d.tasks, |a, b| a.id == b.id)?;
        let mut new_ids = std::collections::HashSet::new();
        for (i, t) in &d.tasks {
            if *i >= self.tasks.len()
                && (self.index.contains_key(&t.id) || !new_ids.insert(t.id.as_str()))
            {
                return Err(format!("task {} appears twice", t.id));
            }
        }
        fits("gate", &self.gates, &d.gates, |a, b| a.gate == b.gate)?;
        fits("command", &self.commands, &d.commands, |_, _| true)?;
        fits("debate", &self.debates, &d.debates, |a, b| a.node == b.node)?;
        fits("vote", &self.votes, &d.votes, |a, b| a.node == b.node)?;
        fn put<T>(list: &mut Vec<T>, recs: Vec<(usize, T)>) {
            for (i, r) in recs {
                match list.get_mut(i) {
                    Some(old) => *old = r,
                    None => list.push(r),
                }
            }
        }
        for (i, t) in &d.tasks {
            if *i >= self.tasks.len() {
                self.index.insert(t.id.clone(), *i);
            }
        }
        put(&mut self.tasks, d.tasks);
        put(&mut self.gates, d.gates);
        put(&mut self.commands, d.commands);
        put(&mut self.debates, d.debates);
        put(&mut self.votes, d.votes);
        self.agents.extend(d.agents);
        self.last_us = d.last_us;
        self.last_seq = d.last_seq;
        self.events = d.events;
        self.runs = d.runs;
        self.status = d.status;
        self.output = d.output;
        self.error = d.error;
        self.usage = d.usage;
        Ok(())
    }
}

/// A snapshot's payload as written: the records that changed since the
/// previous snapshot (every record when `full`), each with its index, and
/// the state's scalars.
#[derive(Serialize)]
struct DeltaRef<'a> {
    full: bool,
    last_us: u64,
    last_seq: u64,
    events: u64,
    runs: u32,
    status: Option<RunStatus>,
    output: Option<&'a Value>,
    error: Option<&'a str>,
    usage: Usage,
    tasks: Vec<(usize, &'a TaskRecord)>,
    agents: Vec<(&'a String, &'a AgentRecord)>,
    gates: Vec<(usize, &'a GateRecord)>,
    commands: Vec<(usize, &'a CommandRecord)>,
    debates: Vec<(usize, &'a DebateRecord)>,
    votes: Vec<(usize, &'a VoteRecord)>,
}

/// A snapshot's payload as read back (see [`DeltaRef`]).
#[derive(Debug, Deserialize)]
pub(crate) struct StateDelta {
    pub(crate) full: bool,
    last_us: u64,
    last_seq: u64,
    events: u64,
    runs: u32,
    status: Option<RunStatus>,
    output: Option<Value>,
    error: Option<String>,
    usage: Usage,
    tasks: Vec<(usize, TaskRecord)>,
    agents: Vec<(String, AgentRecord)>,
    gates: Vec<(usize, GateRecord)>,
    commands: Vec<(usize, CommandRecord)>,
    debates: Vec<(usize, DebateRecord)>,
    votes: Vec<(usize, VoteRecord)>,
}
