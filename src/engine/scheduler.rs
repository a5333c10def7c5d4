//! Assigns tasks to agents: a priority queue with aging, least-loaded
//! dispatch by capability, per-agent concurrency limits and a run-wide pause.
//!
//! Aging without re-keying: a task's key is `tick + (priority - 1) * step`,
//! where `tick` counts acquisitions. A priority-5 task queued at tick `t`
//! therefore beats every priority-1 task queued after `t + 4 * step`, so low
//! priorities never starve, and the heap never needs re-sorting.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::workflow::index::AgentIdx;
use crate::workflow::kinds::agent::Target;
use crate::workflow::model::Workflow;

struct Waiter {
    key: u64,
    /// FIFO among equal keys.
    tick: u64,
    tx: oneshot::Sender<AgentIdx>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.key, self.tick) == (other.key, other.tick)
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.key, self.tick).cmp(&(other.key, other.tick))
    }
}

struct AgentSlots {
    limit: u32,
    active: u32,
    caps: Vec<usize>,
}

impl AgentSlots {
    fn has_capacity(&self) -> bool {
        self.limit == 0 || self.active < self.limit
    }
}

struct Inner {
    paused: bool,
    tick: u64,
    aging_step: u64,
    agents: Vec<AgentSlots>,
    cap_agents: Vec<Vec<AgentIdx>>,
    agent_queues: Vec<BinaryHeap<Reverse<Waiter>>>,
    cap_queues: Vec<BinaryHeap<Reverse<Waiter>>>,
}

/// The scheduler of one run.
pub(crate) struct Scheduler {
    inner: Mutex<Inner>,
    cap_index: HashMap<String, usize>,
}

/// A slot on an agent; dropping it frees the slot and dispatches the next
/// waiting task.
pub(crate) struct Lease {
    sched: Arc<Scheduler>,
    agent: AgentIdx,
}

impl Lease {
    pub(crate) fn agent(&self) -> AgentIdx {
        self.agent
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.sched.release(self.agent);
    }
}

/// Frees a slot that was granted to a waiter who went away meanwhile.
struct PendingGrant {
    sched: Arc<Scheduler>,
    rx: Option<oneshot::Receiver<AgentIdx>>,
}

impl Drop for PendingGrant {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(agent) = rx.try_recv() {
                self.sched.release(agent);
            }
        }
    }
}

/// Why `acquire` returned without a slot.
#[derive(Debug)]
pub(crate) struct SchedulerGone;

impl Scheduler {
    pub(crate) fn new(wf: &Workflow, start_paused: bool) -> Arc<Self> {
        let mut cap_index = HashMap::new();
        let mut cap_agents: Vec<Vec<AgentIdx>> = Vec::new();
        let mut agents = Vec::with_capacity(wf.agents.len());
        for (i, a) in wf.agents.iter().enumerate() {
            let mut caps = Vec::new();
            for c in &a.capabilities {
                let next = cap_index.len();
                let ci = *cap_index.entry(c.clone()).or_insert(next);
                if ci == cap_agents.len() {
                    cap_agents.push(Vec::new());
                }
                if !cap_agents[ci].contains(&i) {
                    cap_agents[ci].push(i);
                }
                caps.push(ci);
            }
            agents.push(AgentSlots {
                limit: a.concurrency,
                active: 0,
                caps,
            });
        }
        let n_caps = cap_agents.len();
        Arc::new(Scheduler {
            inner: Mutex::new(Inner {
                paused: start_paused,
                tick: 0,
                aging_step: u64::from(wf.aging_step.max(1)),
                agent_queues: (0..agents.len()).map(|_| BinaryHeap::new()).collect(),
                cap_queues: (0..n_caps).map(|_| BinaryHeap::new()).collect(),
                agents,
                cap_agents,
            }),
            cap_index,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a slot for `target`. Dropping the future gives up the place
    /// in the queue (and any slot granted meanwhile).
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        target: &Target,
        priority: u8,
    ) -> Result<Lease, SchedulerGone> {
        let rx = {
            let mut inner = self.lock();
            inner.tick += 1;
            let tick = inner.tick;
            let key = tick + u64::from(priority.clamp(1, 5) - 1) * inner.aging_step;
            match target {
                Target::Agent(a) => {
                    let a = *a;
                    if a >= inner.agents.len() {
                        return Err(SchedulerGone);
                    }
                    if !inner.paused && inner.agents[a].has_capacity() {
                        inner.agents[a].active += 1;
                        return Ok(Lease {
                            sched: self.clone(),
                            agent: a,
                        });
                    }
                    let (tx, rx) = oneshot::channel();
                    inner.agent_queues[a].push(Reverse(Waiter { key, tick, tx }));
                    rx
                }
                Target::Capability(c) => {
                    let Some(&ci) = self.cap_index.get(c) else {
                        return Err(SchedulerGone);
                    };
                    if !inner.paused
                        && let Some(a) = least_loaded(&inner, ci, None, true)
                    {
                        inner.agents[a].active += 1;
                        return Ok(Lease {
                            sched: self.clone(),
                            agent: a,
                        });
                    }
                    let (tx, rx) = oneshot::channel();
                    inner.cap_queues[ci].push(Reverse(Waiter { key, tick, tx }));
                    rx
                }
            }
        };
        let mut pending = PendingGrant {
            sched: self.clone(),
            rx: Some(rx),
        };
        let granted = match pending.rx.as_mut() {
            Some(rx) => rx.await,
            None => return Err(SchedulerGone),
        };
        pending.rx = None;
        match granted {
            Ok(agent) => Ok(Lease {
                sched: self.clone(),
                agent,
            }),
            Err(_) => Err(SchedulerGone),
        }
    }

    fn release(&self, agent: AgentIdx) {
        let mut inner = self.lock();
        if let Some(slot) = inner.agents.get_mut(agent) {
            slot.active = slot.active.saturating_sub(1);
        }
        dispatch_for(&mut inner, agent);
    }

    /// Stops (or restarts) dispatching new work. In-flight work continues.
    pub(crate) fn set_paused(&self, paused: bool) {
        let mut inner = self.lock();
        inner.paused = paused;
        if !paused {
            for a in 0..inner.agents.len() {
                dispatch_for(&mut inner, a);
            }
        }
    }

    /// Tasks waiting for a slot (for degradation under queue pressure).
    pub(crate) fn queued(&self) -> usize {
        let inner = self.lock();
        inner.agent_queues.iter().map(|q| q.len()).sum::<usize>()
            + inner.cap_queues.iter().map(|q| q.len()).sum::<usize>()
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.lock().paused
    }

    /// The least-loaded agent offering `capability`, other than `exclude`
    /// (capacity not required: used to pick a hand-off peer).
    pub(crate) fn least_loaded(
        &self,
        capability: &str,
        exclude: Option<AgentIdx>,
    ) -> Option<AgentIdx> {
        let ci = *self.cap_index.get(capability)?;
        least_loaded(&self.lock(), ci, exclude, false)
    }

    /// Tasks currently running on an agent.
    #[cfg(test)]
    pub(crate) fn active(&self, agent: AgentIdx) -> u32 {
        self.lock().agents.get(agent).map_or(0, |a| a.active)
    }

    /// Whether an agent offers a capability.
    pub(crate) fn offers(&self, agent: AgentIdx, capability: &str) -> bool {
        let Some(&ci) = self.cap_index.get(capability) else {
            return false;
        };
        self.lock()
            .agents
            .get(agent)
            .is_some_and(|a| a.caps.contains(&ci))
    }
}

fn least_loaded(
    inner: &Inner,
    ci: usize,
    exclude: Option<AgentIdx>,
    need_capacity: bool,
) -> Option<AgentIdx> {
    inner.cap_agents[ci]
        .iter()
        .copied()
        .filter(|&a| Some(a) != exclude)
        .filter(|&a| !need_capacity || inner.agents[a].has_capacity())
        // Load as a fraction of the limit, so a 4-slot agent with 1 task is
        // less loaded than a 1-slot agent with 1 task; ties go to the first
        // declared agent (min_by_key keeps the first minimum).
        .min_by_key(|&a| {
            let s = &inner.agents[a];
            let limit = if s.limit == 0 {
                1_000_000
            } else {
                u64::from(s.limit)
            };
            (u64::from(s.active) * 1_000_000) / limit
        })
}

/// Grants free slots of `agent` to the most urgent waiters it can serve.
fn dispatch_for(inner: &mut Inner, agent: AgentIdx) {
    if inner.paused || agent >= inner.agents.len() {
        return;
    }
    while inner.agents[agent].has_capacity() {
        // The best head among the agent's own queue and its capability queues.
        let mut best: Option<(u64, Option<usize>)> =
            inner.agent_queues[agent].peek().map(|w| (w.0.key, None));
        for &ci in &inner.agents[agent].caps {
            if let Some(w) = inner.cap_queues[ci].peek()
                && best.is_none_or(|(k, _)| w.0.key < k)
            {
                best = Some((w.0.key, Some(ci)));
            }
        }
        let Some((_, from)) = best else { return };
        let waiter = match from {
            None => inner.agent_queues[agent].pop(),
            Some(ci) => inner.cap_queues[ci].pop(),
        };
        let Some(Reverse(waiter)) = waiter else {
            return;
        };
        if waiter.tx.is_closed() {
            continue;
        }
        inner.agents[agent].active += 1;
        if waiter.tx.send(agent).is_err() {
            inner.agents[agent].active -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::load::Format;
    use crate::workflow::load::load_str;

    fn wf(concurrency: u32, aging: u32) -> Workflow {
        let text = format!(
            r#"
[workflow]
name = "t"
aging_step = {aging}
[[agents]]
id = "a"
capabilities = ["x"]
concurrency = {concurrency}
[[agents]]
id = "b"
capabilities = ["x"]
concurrency = {concurrency}
[[nodes]]
id = "n"
kind = "agent"
agent = "a"
"#
        );
        load_str(&text, "t.toml", Format::Toml)
            .expect("valid")
            .workflow
    }

    #[tokio::test]
    async fn priorities_order_waiting_tasks_and_aging_prevents_starvation() {
        let w = wf(1, 2);
        let s = Scheduler::new(&w, false);
        let busy = s.acquire(&Target::Agent(0), 3).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        // One priority-5 task, then priority-1 tasks keep arriving.
        for (name, prio) in [
            ("low", 5u8),
            ("h1", 1),
            ("h2", 1),
            ("h3", 1),
            ("h4", 1),
            ("h5", 1),
            ("h6", 1),
            ("h7", 1),
            ("h8", 1),
            ("h9", 1),
            ("h10", 1),
        ] {
            let s2 = s.clone();
            let order = order.clone();
            let (ready_tx, ready_rx) = oneshot::channel::<()>();
            handles.push(tokio::spawn(async move {
                let fut = s2.acquire(&Target::Agent(0), prio);
                tokio::pin!(fut);
                // Make sure the task is queued before the next one is created.
                let lease = tokio::select! {
                    biased;
                    l = &mut fut => l,
                    _ = async { let _ = ready_tx.send(()); std::future::pending::<()>().await } => unreachable!(),
                };
                order.lock().unwrap().push(name);
                drop(lease);
            }));
            ready_rx.await.unwrap();
        }
        drop(busy);
        for h in handles {
            h.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        // key(low) = 2 + 4*2 = 10; key(h_i) = 2+i: the low task runs after
        // h1..h7 (keys 3..9), before h8 (same key, queued later) and h9, h10.
        let low_pos = order.iter().position(|n| *n == "low").unwrap();
        assert_eq!(order[0], "h1");
        assert_eq!(low_pos, 7, "{order:?}");
        assert_eq!(order.last().copied(), Some("h10"));
    }

    #[tokio::test]
    async fn capability_dispatch_picks_the_least_loaded_agent_and_respects_limits() {
        let w = wf(1, 32);
        let s = Scheduler::new(&w, false);
        let cap = Target::Capability("x".into());
        let l1 = s.acquire(&cap, 3).await.unwrap();
        let l2 = s.acquire(&cap, 3).await.unwrap();
        assert_eq!((l1.agent(), l2.agent()), (0, 1));
        // Both full: the third waits until one frees.
        let s2 = s.clone();
        let third = tokio::spawn(async move {
            s2.acquire(&Target::Capability("x".into()), 3)
                .await
                .map(|l| l.agent())
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        drop(l2);
        assert_eq!(third.await.unwrap().unwrap(), 1);
        assert_eq!(s.active(0), 1);
        drop(l1);
        assert_eq!(s.active(0), 0);
    }

    #[tokio::test]
    async fn pause_holds_new_work_and_resume_releases_it() {
        let w = wf(2, 32);
        let s = Scheduler::new(&w, false);
        s.set_paused(true);
        let s2 = s.clone();
        let waiting =
            tokio::spawn(async move { s2.acquire(&Target::Agent(1), 3).await.map(|l| l.agent()) });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        s.set_paused(false);
        assert_eq!(waiting.await.unwrap().unwrap(), 1);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_no_slot_taken() {
        let w = wf(1, 32);
        let s = Scheduler::new(&w, false);
        let busy = s.acquire(&Target::Agent(0), 3).await.unwrap();
        {
            let fut = s.acquire(&Target::Agent(0), 3);
            tokio::pin!(fut);
            assert!(futures::poll!(&mut fut).is_pending());
        }
        drop(busy);
        assert_eq!(s.active(0), 0);
        let again = s.acquire(&Target::Agent(0), 3).await.unwrap();
        assert_eq!(again.agent(), 0);
    }
}
