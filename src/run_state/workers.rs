//! The workers a scale-out run used (`--nats`), as the stream tells it:
//! what each serves, whether it is heard from, what it is doing, and how
//! many of this run's calls it ran.

use serde::{Deserialize, Serialize};

use crate::event::{EventKind, WorkerState};

/// One worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerRow {
    /// Worker id.
    pub id: String,
    /// Its host.
    pub host: String,
    /// Capabilities served.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Agents served by id.
    #[serde(default)]
    pub agents: Vec<String>,
    /// Serves every model agent.
    #[serde(default)]
    pub any: bool,
    /// Calls at once.
    pub concurrency: u32,
    /// Live, lost or stopped.
    pub state: WorkerState,
    /// Calls running on it, as last reported.
    pub in_flight: u32,
    /// Calls it finished, as last reported (all runs it served).
    pub done: u64,
    /// Calls that failed on it, as last reported.
    pub failures: u64,
    /// This run's calls whose result it stored.
    pub ran: u64,
    /// Of those, calls it got by redelivery (another worker died or
    /// stalled holding them).
    pub redelivered: u64,
    /// Time of the last event about it (µs since the epoch).
    pub last_us: u64,
}

impl WorkerRow {
    fn new(id: &str, ts: u64) -> Self {
        WorkerRow {
            id: id.to_string(),
            host: String::new(),
            capabilities: Vec::new(),
            agents: Vec::new(),
            any: false,
            concurrency: 0,
            state: WorkerState::Live,
            in_flight: 0,
            done: 0,
            failures: 0,
            ran: 0,
            redelivered: 0,
            last_us: ts,
        }
    }

    /// What it serves, in a few words.
    pub fn serves(&self) -> String {
        let mut out: Vec<String> = self.agents.iter().map(|a| format!("@{a}")).collect();
        out.extend(self.capabilities.iter().cloned());
        if self.any {
            out.push("any".into());
        }
        out.join(",")
    }
}

/// The run's workers in the order first seen (a run has a handful: a scan
/// is cheaper than an index).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workers {
    /// Rows, in the order first seen.
    pub rows: Vec<WorkerRow>,
}

impl Workers {
    /// True when the run used no worker (an in-process run).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// A worker by id.
    pub fn get(&self, id: &str) -> Option<&WorkerRow> {
        self.rows.iter().find(|w| w.id == id)
    }

    /// Workers heard from now.
    pub fn live(&self) -> usize {
        self.rows
            .iter()
            .filter(|w| w.state == WorkerState::Live)
            .count()
    }

    fn row(&mut self, id: &str, ts: u64) -> &mut WorkerRow {
        let i = match self.rows.iter().position(|w| w.id == id) {
            Some(i) => i,
            None => {
                self.rows.push(WorkerRow::new(id, ts));
                self.rows.len() - 1
            }
        };
        let w = &mut self.rows[i];
        w.last_us = w.last_us.max(ts);
        w
    }

    /// Folds a worker event in; true when it was one.
    pub(super) fn apply(&mut self, kind: &EventKind, ts: u64) -> bool {
        match kind {
            EventKind::WorkerSeen {
                worker,
                host,
                capabilities,
                agents,
                any,
                concurrency,
            } => {
                let w = self.row(worker, ts);
                w.host.clone_from(host);
                w.capabilities.clone_from(capabilities);
                w.agents.clone_from(agents);
                w.any = *any;
                w.concurrency = *concurrency;
                w.state = WorkerState::Live;
            }
            EventKind::WorkerStatus {
                worker,
                state,
                in_flight,
                done,
                failures,
            } => {
                let w = self.row(worker, ts);
                w.state = *state;
                w.in_flight = *in_flight;
                w.done = *done;
                w.failures = *failures;
            }
            EventKind::WorkerResult {
                worker,
                deliveries,
                reused,
                ..
            } => {
                // A stored result reused by a resumed run was computed
                // while this run was down: still the worker's work.
                let w = self.row(worker, ts);
                w.ran += 1;
                if *deliveries > 1 && !reused {
                    w.redelivered += 1;
                }
            }
            _ => return false,
        }
        true
    }
}
