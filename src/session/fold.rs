//! The session summary: the run folded by [`RunState`] (tasks with their
//! states, attempts, outputs and usage; agents; gates and their decisions;
//! debates and votes; the run's status) plus what only a session keeps:
//! its header facts and the commands people sent. `sessions list/show/
//! export` show it, resume restores from it, and the recorder writes what
//! changed in it as snapshot lines so a reader can seek.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Header;
use crate::event::{Command, Event, EventKind, RunStatus, Usage};
use crate::run_state::{
    AgentRun, Chat, ChunkVec, Debate, GateOpening, NodeRun, RunState, StepState, Swarm, Task, Vote,
    Workers,
};

/// The state of a session after some of its events. The run is its
/// [`RunState`], read through (`state.tasks`, `state.runs`…).
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
    #[serde(flatten)]
    run: RunState,
    /// Commands people sent, in order.
    pub commands: Vec<CommandRecord>,
    /// What changed since the last snapshot, when the recorder tracks it.
    #[serde(skip)]
    dirty: Option<Box<Dirty>>,
}

/// Records changed since the last snapshot (indices into the state's lists).
#[derive(Debug, Clone, Default)]
struct Dirty {
    tasks: BTreeSet<usize>,
    agents: BTreeSet<usize>,
    gates: BTreeSet<usize>,
    commands: BTreeSet<usize>,
    debates: BTreeSet<usize>,
    votes: BTreeSet<usize>,
    swarms: BTreeSet<usize>,
    chats: BTreeSet<usize>,
}

/// One task, as sessions have always called it.
pub type TaskRecord = Task;
/// One agent's totals.
pub type AgentRecord = AgentRun;
/// One opening of a gate.
pub type GateRecord = GateOpening;

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

impl std::ops::Deref for SessionState {
    type Target = RunState;
    /// The run as folded (written by [`SessionState::apply`] alone).
    fn deref(&self) -> &RunState {
        &self.run
    }
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
        let mut run = RunState::default();
        run.last_us = started_us;
        SessionState {
            session,
            workflow,
            seed,
            started_us,
            run,
            commands: Vec::new(),
            dirty: None,
        }
    }

    /// `succeeded` … or `interrupted` for a session that stopped without
    /// ending (a crash).
    pub fn status_name(&self) -> &'static str {
        match self.ended {
            Some(RunStatus::Succeeded) => "succeeded",
            Some(RunStatus::Failed) => "failed",
            Some(RunStatus::Cancelled) => "cancelled",
            Some(RunStatus::Interrupted) | None => "interrupted",
        }
    }

    /// Final status (`None` while running or after a crash).
    pub fn status(&self) -> Option<RunStatus> {
        self.ended
    }

    /// Tasks COMPLETED.
    pub fn completed(&self) -> usize {
        self.run.completed as usize
    }

    /// Wall time from the header to the last event, ms.
    pub fn duration_ms(&self) -> f64 {
        self.last_us.saturating_sub(self.started_us) as f64 / 1000.0
    }

    /// Agents by id (the order exports list them in).
    pub fn agents_by_id(&self) -> Vec<&AgentRun> {
        let mut v: Vec<&AgentRun> = self.agents.iter().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Folds one event in.
    pub fn apply(&mut self, ev: &Event) {
        let applied = self.run.apply(ev);
        if let Some(d) = &mut self.dirty {
            let marks = [
                (applied.task, &mut d.tasks),
                (applied.agent, &mut d.agents),
                (applied.gate, &mut d.gates),
                (applied.debate, &mut d.debates),
                (applied.vote, &mut d.votes),
                (applied.swarm, &mut d.swarms),
                (applied.chat, &mut d.chats),
            ];
            for (i, set) in marks {
                if let Some(i) = i {
                    set.insert(i);
                }
            }
        }
        match &ev.kind {
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
        fn pick_chunks<'a, T, const N: usize>(
            all: &'a ChunkVec<T, N>,
            which: &BTreeSet<usize>,
            full: bool,
        ) -> Vec<(usize, &'a T)> {
            if full {
                all.iter().enumerate().collect()
            } else {
                which
                    .iter()
                    .filter_map(|&i| all.get(i).map(|r| (i, r)))
                    .collect()
            }
        }
        let run = &self.run;
        let tasks = pick_chunks(&run.tasks, &dirty.tasks, full);
        let delta = DeltaRef {
            full,
            last_us: run.last_us,
            last_seq: run.last_seq,
            events: run.events,
            runs: run.runs,
            status: run.ended,
            output: run.output.as_ref(),
            error: run.end_error.as_deref(),
            usage: run.total_usage,
            paused: run.paused,
            step: &run.step,
            tasks,
            agents: pick(&run.agents, &dirty.agents, full)
                .into_iter()
                .map(|(_, a)| (&*a.id, a))
                .collect(),
            nodes: &run.nodes,
            gates: pick_chunks(&run.gate_openings, &dirty.gates, full),
            commands: pick(&self.commands, &dirty.commands, full),
            debates: pick(&run.debate_records, &dirty.debates, full),
            votes: pick(&run.vote_records, &dirty.votes, full),
            swarms: pick(&run.swarm_records, &dirty.swarms, full),
            chats: pick(&run.chat_records, &dirty.chats, full),
            workers: &run.workers,
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
        fn fits<T, R>(
            what: &str,
            len: usize,
            have: impl Fn(usize) -> Option<T>,
            recs: &[(usize, R)],
            same: impl Fn(&T, &R) -> bool,
        ) -> Result<(), String> {
            let mut len = len;
            let mut last = None;
            for (i, r) in recs {
                if last.is_some_and(|l| l >= *i) {
                    return Err(format!("{what} {i} out of order"));
                }
                last = Some(*i);
                match have(*i) {
                    Some(old) if same(&old, r) => {}
                    Some(_) => return Err(format!("{what} {i} is another record")),
                    None if *i == len => len += 1,
                    None => return Err(format!("{what} {i} skips records")),
                }
            }
            Ok(())
        }
        let run = &self.run;
        fits(
            "task",
            run.tasks.len(),
            |i| run.tasks.get(i),
            &d.tasks,
            |a, b| a.id == b.id,
        )?;
        let mut new_ids = std::collections::HashSet::new();
        for (i, t) in &d.tasks {
            if *i >= run.tasks.len() && (run.task(&t.id).is_some() || !new_ids.insert(&*t.id)) {
                return Err(format!("task {} appears twice", t.id));
            }
        }
        let g = &run.gate_openings;
        fits(
            "gate",
            g.len(),
            |i| g.get(i),
            &d.gates,
            |a, b| a.gate == b.gate,
        )?;
        let c = &self.commands;
        fits("command", c.len(), |i| c.get(i), &d.commands, |_, _| true)?;
        let db = &run.debate_records;
        fits(
            "debate",
            db.len(),
            |i| db.get(i),
            &d.debates,
            |a, b| a.node == b.node,
        )?;
        let v = &run.vote_records;
        fits(
            "vote",
            v.len(),
            |i| v.get(i),
            &d.votes,
            |a, b| a.node == b.node,
        )?;
        let sw = &run.swarm_records;
        fits(
            "swarm",
            sw.len(),
            |i| sw.get(i),
            &d.swarms,
            |a, b| a.node == b.node,
        )?;
        let ch = &run.chat_records;
        fits(
            "chat",
            ch.len(),
            |i| ch.get(i),
            &d.chats,
            |a, b| a.node == b.node,
        )?;
        fn put<T>(list: &mut Vec<T>, recs: Vec<(usize, T)>) {
            for (i, r) in recs {
                match list.get_mut(i) {
                    Some(old) => *old = r,
                    None => list.push(r),
                }
            }
        }
        let run = &mut self.run;
        for (i, t) in d.tasks {
            run.put_task(i, t);
        }
        for (id, a) in d.agents {
            run.put_agent(&id, a);
        }
        for n in d.nodes {
            run.put_node(n);
        }
        for (i, g) in d.gates {
            match run.gate_openings.get_mut(i) {
                Some(old) => *old = g,
                None => run.gate_openings.push(g),
            }
        }
        put(&mut self.commands, d.commands);
        put(&mut run.debate_records, d.debates);
        put(&mut run.vote_records, d.votes);
        put(&mut run.swarm_records, d.swarms);
        put(&mut run.chat_records, d.chats);
        run.last_us = d.last_us;
        run.last_seq = d.last_seq;
        run.events = d.events;
        run.runs = d.runs;
        run.ended = d.status;
        run.output = d.output;
        run.end_error = d.error;
        run.total_usage = d.usage;
        run.paused = d.paused;
        run.step = d.step;
        run.workers = d.workers;
        run.recount();
        Ok(())
    }
}

/// A snapshot's payload as written: the records that changed since the
/// previous snapshot (every record when `full`), each with its index, and
/// the state's scalars. Every node is written each time (a workflow has
/// few); `nodes` and `paused` are absent from snapshots written before
/// they were added, and read as empty; `step` is left out while step mode
/// is off with nothing waiting.
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
    paused: bool,
    #[serde(skip_serializing_if = "StepState::is_off")]
    step: &'a StepState,
    tasks: Vec<(usize, &'a Task)>,
    agents: Vec<(&'a str, &'a AgentRun)>,
    nodes: &'a [NodeRun],
    gates: Vec<(usize, &'a GateOpening)>,
    commands: Vec<(usize, &'a CommandRecord)>,
    debates: Vec<(usize, &'a Debate)>,
    votes: Vec<(usize, &'a Vote)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    swarms: Vec<(usize, &'a Swarm)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    chats: Vec<(usize, &'a Chat)>,
    /// Whole each time, like `nodes` (a run has a handful).
    #[serde(skip_serializing_if = "Workers::is_empty")]
    workers: &'a Workers,
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
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    step: StepState,
    tasks: Vec<(usize, Task)>,
    agents: Vec<(String, AgentRun)>,
    #[serde(default)]
    nodes: Vec<NodeRun>,
    gates: Vec<(usize, GateOpening)>,
    commands: Vec<(usize, CommandRecord)>,
    debates: Vec<(usize, Debate)>,
    votes: Vec<(usize, Vote)>,
    #[serde(default)]
    swarms: Vec<(usize, Swarm)>,
    #[serde(default)]
    chats: Vec<(usize, Chat)>,
    #[serde(default)]
    workers: Workers,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Id, TaskState};

    fn ev(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            ts: seq * 1000,
            session: Id::from("s"),
            kind,
        }
    }

    fn created(task: &str) -> EventKind {
        EventKind::TaskCreated {
            task: task.into(),
            node: "n".into(),
            parent: None,
            title: task.into(),
            agent: None,
            capability: None,
            priority: 3,
            input: Value::Null,
        }
    }

    #[test]
    fn a_delta_rebuilds_the_state_it_was_written_from() {
        let mut live = SessionState::empty("s".into(), "w".into(), 1, 0);
        live.track_changes();
        let events = [
            ev(1, created("a")),
            ev(
                2,
                EventKind::TaskAssigned {
                    task: "a".into(),
                    agent: "w".into(),
                    attempt: 1,
                },
            ),
            ev(3, EventKind::RunPaused),
        ];
        for e in &events {
            live.apply(e);
        }
        let mut bytes = Vec::new();
        live.write_delta(false, &mut bytes).unwrap();
        let delta: StateDelta = serde_json::from_slice(&bytes).unwrap();
        let mut seek = SessionState::empty("s".into(), "w".into(), 1, 0);
        seek.apply_delta(delta).unwrap();
        let t = seek.task("a").unwrap();
        assert_eq!((t.state, t.attempts), (TaskState::InProgress, 1));
        assert_eq!(seek.in_progress, 1);
        assert_eq!(seek.agent("w").map(|a| a.active), Some(1));
        assert_eq!(seek.nodes[0].last_agent.as_deref(), Some("w"));
        assert!(seek.paused);
        assert_eq!(
            serde_json::to_value(&seek).unwrap(),
            serde_json::to_value(&live).unwrap()
        );
    }
}
