//! Shared helpers for integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use agentctl::engine::{Orchestrator, RunHandle, RunOptions, RunOutcome};
use agentctl::event::{Command, Event, EventKind};
use agentctl::workflow::load::{Format, load_str, load_str_with};
use agentctl::workflow::model::Workflow;
use agentctl::workflow::provider_catalog::ProviderCatalog;
use tokio::sync::mpsc::UnboundedReceiver;

pub fn wf(text: &str) -> Arc<Workflow> {
    match load_str(text, "test.toml", Format::Toml) {
        Ok(l) => Arc::new(l.workflow),
        Err(d) => panic!("test workflow is invalid:\n{d}"),
    }
}

/// A test workflow whose agents may also name the providers of `providers`.
pub fn wf_with(text: &str, providers: &ProviderCatalog) -> Arc<Workflow> {
    match load_str_with(text, "test.toml", Format::Toml, providers) {
        Ok(l) => Arc::new(l.workflow),
        Err(d) => panic!("test workflow is invalid:\n{d}"),
    }
}

pub fn builtin(name: &str) -> Arc<Workflow> {
    match agentctl::workflow::load::load_source(&format!("builtin:{name}")) {
        Ok(l) => Arc::new(l.workflow),
        Err(d) => panic!("builtin {name} is invalid:\n{d}"),
    }
}

pub fn start(w: Arc<Workflow>, opts: RunOptions) -> (RunHandle, UnboundedReceiver<Event>) {
    // The workflow's own input, null included, as `agentctl run` does.
    let input = w.input.clone();
    let mut o = Orchestrator::new(w, opts).input(input);
    let rx = o.subscribe();
    (o.start().expect("start"), rx)
}

pub async fn run(w: Arc<Workflow>) -> (RunOutcome, Vec<Event>) {
    run_with(w, RunOptions::default()).await
}

pub async fn run_with(w: Arc<Workflow>, opts: RunOptions) -> (RunOutcome, Vec<Event>) {
    let (h, mut rx) = start(w, opts);
    let out = h.wait().await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (out, events)
}

/// Waits for the first event matching `f`, returning it.
pub async fn wait_for(
    rx: &mut UnboundedReceiver<Event>,
    seen: &mut Vec<Event>,
    f: impl Fn(&EventKind) -> bool,
) -> Event {
    loop {
        let e = rx
            .recv()
            .await
            .expect("the run ended before the expected event");
        seen.push(e.clone());
        if f(&e.kind) {
            return e;
        }
    }
}

pub fn completed_tasks(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskCompleted { task, .. } => Some(task.to_string()),
            _ => None,
        })
        .collect()
}

pub fn count(events: &[Event], f: impl Fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| f(&e.kind)).count()
}

/// Reads `rx` until `session_ended`, answering every gate that opens with
/// an approval carrying `comment` (none asked: `None`); returns the events.
pub async fn events_until_end(
    h: &RunHandle,
    rx: &mut UnboundedReceiver<Event>,
    approve_with: Option<&str>,
) -> Vec<Event> {
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        if let (Some(c), EventKind::GateOpened { gate, .. }) = (approve_with, &e.kind) {
            h.send(Command::GateDecision {
                gate: gate.clone(),
                approve: true,
                comment: Some(c.into()),
            });
        }
        let end = matches!(e.kind, EventKind::SessionEnded { .. });
        events.push(e);
        if end {
            break;
        }
    }
    events
}
