//! Step mode for debates and votes: before each turn or ballot a node in
//! step mode announces `awaiting_step` and waits until a `step` command
//! lets it go (one turn, or the rest of the round), or step mode is left.
//!
//! One [`StepControl`] per run. Whether a node steps is the run-wide switch
//! (`run --step`, `set_step_mode`) when it was set, else the node's own
//! `step` field.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use tokio::sync::watch;

use crate::event::StepUntil;
use crate::workflow::index::NodeIdx;

#[derive(Default)]
struct State {
    /// Run-wide switch; `None` = each node's own setting.
    forced: Option<bool>,
    /// Steps granted: for one node, or (`None`) for whichever waits first.
    permits: HashMap<Option<NodeIdx>, u32>,
    /// Nodes told to finish their current round without stopping.
    round_pass: HashSet<NodeIdx>,
    /// Nodes waiting now, with how many waiters.
    waiting: HashMap<NodeIdx, u32>,
}

/// The run's step-mode state.
pub(crate) struct StepControl {
    state: Mutex<State>,
    /// Bumped on every change, to wake waiters.
    changed: watch::Sender<u64>,
}

impl StepControl {
    /// `forced_on`: every debate and vote steps (`run --step`).
    pub(crate) fn new(forced_on: bool) -> Self {
        StepControl {
            state: Mutex::new(State {
                forced: forced_on.then_some(true),
                ..State::default()
            }),
            changed: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// True while some debate or vote waits for a `step` command (a
    /// person): the deadlock watchdog leaves such a run alone.
    pub(crate) fn anyone_waiting(&self) -> bool {
        self.lock().waiting.values().any(|&c| c > 0)
    }

    /// Whether a node with this own setting is in step mode now.
    pub(crate) fn active(&self, node_step: bool) -> bool {
        self.lock().forced.unwrap_or(node_step)
    }

    /// Switches step mode for every node (off releases waiting nodes).
    pub(crate) fn set_mode(&self, on: bool) {
        let mut s = self.lock();
        s.forced = Some(on);
        if !on {
            s.permits.clear();
        }
        drop(s);
        self.bump();
    }

    /// A node starts a new round: a "finish the round" pass ends.
    pub(crate) fn new_round(&self, node: NodeIdx) {
        self.lock().round_pass.remove(&node);
    }

    /// Grants a step. Fails when nothing (or not that node) is waiting.
    pub(crate) fn step(&self, node: Option<NodeIdx>, until: StepUntil) -> Result<(), String> {
        let mut s = self.lock();
        let waiting: Vec<NodeIdx> = match node {
            Some(n) if s.waiting.get(&n).is_some_and(|c| *c > 0) => vec![n],
            Some(_) => return Err("that node is not waiting for a step".into()),
            None => s
                .waiting
                .iter()
                .filter(|(_, c)| **c > 0)
                .map(|(n, _)| *n)
                .collect(),
        };
        if waiting.is_empty() {
            return Err("no debate or vote is waiting for a step".into());
        }
        match until {
            StepUntil::Turn => *s.permits.entry(node).or_default() += 1,
            StepUntil::Round => s.round_pass.extend(waiting),
        }
        drop(s);
        self.bump();
        Ok(())
    }

    /// Waits, if `node` is in step mode, until it may take its next turn.
    /// `announce` runs once, after the node is registered as waiting (so a
    /// `step` sent in answer to it is accepted).
    pub(crate) async fn wait(&self, node: NodeIdx, node_step: bool, announce: impl FnOnce()) {
        let mut rx = self.changed.subscribe();
        {
            let mut s = self.lock();
            if !s.forced.unwrap_or(node_step) || s.round_pass.contains(&node) {
                return;
            }
            *s.waiting.entry(node).or_default() += 1;
        }
        let _guard = Waiting { ctl: self, node };
        announce();
        loop {
            {
                let mut s = self.lock();
                if !s.forced.unwrap_or(node_step)
                    || s.round_pass.contains(&node)
                    || take(&mut s.permits, Some(node))
                    || take(&mut s.permits, None)
                {
                    return;
                }
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

fn take(permits: &mut HashMap<Option<NodeIdx>, u32>, key: Option<NodeIdx>) -> bool {
    match permits.get_mut(&key) {
        Some(n) if *n > 0 => {
            *n -= 1;
            true
        }
        _ => false,
    }
}

/// Unregisters a waiter, also when its future is dropped (cancelled run).
struct Waiting<'a> {
    ctl: &'a StepControl,
    node: NodeIdx,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut s = self.ctl.lock();
        if let Some(c) = s.waiting.get_mut(&self.node) {
            *c = c.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_waiting_node_goes_on_one_step_at_a_time() {
        let ctl = Arc::new(StepControl::new(true));
        assert!(ctl.step(None, StepUntil::Turn).is_err(), "nobody waits yet");
        let c = ctl.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let waiter = tokio::spawn(async move {
            for turn in 0..2 {
                c.wait(3, false, || tx.send(turn).unwrap()).await;
            }
        });
        assert_eq!(rx.recv().await, Some(0));
        assert!(ctl.step(Some(4), StepUntil::Turn).is_err(), "wrong node");
        ctl.step(Some(3), StepUntil::Turn).unwrap();
        assert_eq!(rx.recv().await, Some(1));
        assert!(!waiter.is_finished());
        ctl.set_mode(false);
        waiter.await.unwrap();
    }

    #[tokio::test]
    async fn a_round_pass_lasts_until_the_next_round() {
        let ctl = StepControl::new(false);
        // Not in step mode: no wait, no announcement.
        ctl.wait(0, false, || panic!("announced")).await;
        ctl.lock().round_pass.insert(1);
        ctl.wait(1, true, || panic!("announced")).await;
        ctl.new_round(1);
        assert!(!ctl.lock().round_pass.contains(&1));
    }
}
