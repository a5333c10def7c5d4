//! Run and per-agent metrics: throughput, latency percentiles (HDR
//! histograms), success rate, retries, tokens, cost, efficiency and a
//! health state per agent. The engine records into `Metrics`; snapshots ([`MetricsSnapshot`])
//! go out as `metrics` events and in `agentctl run --json`.

use std::sync::Mutex;
use std::time::Duration;

pub use crate::event::metrics::{
    AgentMetrics, Counters, EndpointMetrics, Latency, MetricsSnapshot,
};
use crate::event::{BreakerState, HealthState, Id, Usage};
use hdrhistogram::Histogram;

/// What happened, for [`Metrics::record`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sample {
    /// A call returned: latency, usage, cost in nano-dollars.
    CallOk(Duration, Usage, u64),
    /// A call failed after this long.
    CallFailed(Duration),
    /// A retry was scheduled.
    Retry,
    /// The agent's breaker opened.
    BreakerOpened,
    /// The agent's breaker changed state.
    Breaker(BreakerState),
    /// A task left this agent for a fallback.
    Fallback,
    /// A cached reply was used.
    CacheHit,
    /// A task was degraded away from this agent.
    Degrade,
    /// A call waited for quota.
    QuotaWait,
    /// A call was refused by a budget.
    BudgetRefusal,
    /// A reply was rejected as malformed.
    Malformed,
    /// A repair prompt was sent.
    Repair,
    /// A batch call of this many items was made.
    Batch(u32),
}

struct Cell {
    c: Counters,
    nanos: u64,
    hist: Histogram<u64>,
    /// Last 16 call outcomes, 1 = failure (bit 0 newest).
    recent: u16,
    recent_n: u8,
    breaker: BreakerState,
}

impl Cell {
    fn new() -> Self {
        Cell {
            c: Counters::default(),
            nanos: 0,
            // 1 µs .. 1 h at 2 significant digits: ~40 KiB.
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 2)
                .unwrap_or_else(|_| Histogram::new(2).unwrap_or_else(|_| unreachable!())),
            recent: 0,
            recent_n: 0,
            breaker: BreakerState::Closed,
        }
    }

    fn outcome(&mut self, failed: bool) {
        self.recent = (self.recent << 1) | u16::from(failed);
        self.recent_n = (self.recent_n + 1).min(16);
    }

    fn apply(&mut self, s: Sample) {
        let c = &mut self.c;
        match s {
            Sample::CallOk(d, u, n) => {
                c.calls += 1;
                c.calls_ok += 1;
                c.prompt_tokens = c.prompt_tokens.saturating_add(u.prompt_tokens);
                c.completion_tokens = c.completion_tokens.saturating_add(u.completion_tokens);
                self.nanos = self.nanos.saturating_add(n);
                let _ = self.hist.record((d.as_micros() as u64).max(1));
                self.outcome(false);
            }
            Sample::CallFailed(d) => {
                c.calls += 1;
                c.calls_failed += 1;
                let _ = self.hist.record((d.as_micros() as u64).max(1));
                self.outcome(true);
            }
            Sample::Retry => c.retries += 1,
            Sample::BreakerOpened => c.breaker_openings += 1,
            Sample::Breaker(b) => self.breaker = b,
            Sample::Fallback => c.fallbacks += 1,
            Sample::CacheHit => c.cache_hits += 1,
            Sample::Degrade => c.degrades += 1,
            Sample::QuotaWait => c.quota_waits += 1,
            Sample::BudgetRefusal => c.budget_refusals += 1,
            Sample::Malformed => c.malformed += 1,
            Sample::Repair => c.repairs += 1,
            Sample::Batch(n) => {
                c.batches += 1;
                c.batch_items += u64::from(n);
            }
        }
    }

    fn counters(&self) -> Counters {
        let mut c = self.c.clone();
        c.success_rate = if c.calls == 0 {
            1.0
        } else {
            c.calls_ok as f64 / c.calls as f64
        };
        c.cost_usd = crate::workflow::policy::budget::usd(self.nanos);
        let total = c.prompt_tokens.saturating_add(c.completion_tokens);
        c.efficiency = if total == 0 {
            0.0
        } else {
            c.completion_tokens as f64 / total as f64
        };
        let h = &self.hist;
        let ms = |v: u64| v as f64 / 1000.0;
        c.latency_ms = if h.is_empty() {
            Latency::default()
        } else {
            Latency {
                count: h.len(),
                p50: ms(h.value_at_quantile(0.50)),
                p95: ms(h.value_at_quantile(0.95)),
                p99: ms(h.value_at_quantile(0.99)),
                max: ms(h.max()),
            }
        };
        c
    }

    fn health(&self, endpoint: BreakerState) -> HealthState {
        if self.breaker != BreakerState::Closed || endpoint != BreakerState::Closed {
            return HealthState::CircuitOpen;
        }
        let fails = (self.recent & (((1u32 << self.recent_n) - 1) as u16)).count_ones();
        if self.recent_n > 0 && fails * 2 >= u32::from(self.recent_n) && fails >= 2 {
            HealthState::Failing
        } else if fails > 0 || self.c.degrades > 0 {
            HealthState::Degraded
        } else {
            HealthState::Healthy
        }
    }
}

/// The recorder of one run.
pub(crate) struct Metrics {
    agents: Vec<Id>,
    /// Per agent; the run's figures (histogram included) are the sum,
    /// computed at snapshot time, so a call costs one lock.
    cells: Vec<Mutex<Cell>>,
    /// Endpoint breakers: names, and per agent the endpoint it calls.
    endpoint_names: Vec<Id>,
    agent_endpoint: Vec<Option<usize>>,
    /// Per endpoint: state and openings.
    endpoints: Mutex<Vec<(BreakerState, u64)>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("agents", &self.agents)
            .finish()
    }
}

impl Metrics {
    /// A recorder for these agents.
    pub fn new(agents: Vec<Id>) -> Self {
        Metrics {
            cells: agents.iter().map(|_| Mutex::new(Cell::new())).collect(),
            agents,
            endpoint_names: Vec::new(),
            agent_endpoint: Vec::new(),
            endpoints: Mutex::new(Vec::new()),
        }
    }

    /// Adds endpoint breakers: their names, and the endpoint each agent
    /// calls (an open endpoint makes its agents `circuit_open`).
    pub fn with_endpoints(mut self, names: Vec<Id>, agent_endpoint: Vec<Option<usize>>) -> Self {
        self.endpoints = Mutex::new(vec![(BreakerState::Closed, 0); names.len()]);
        self.endpoint_names = names;
        self.agent_endpoint = agent_endpoint;
        self
    }

    /// Records an endpoint breaker's state change.
    pub fn record_endpoint(&self, endpoint: usize, from: BreakerState, to: BreakerState) {
        let mut g = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = g.get_mut(endpoint) {
            e.0 = to;
            if from == BreakerState::Closed && to == BreakerState::Open {
                e.1 += 1;
            }
        }
    }

    /// Records a sample for an agent.
    pub fn record(&self, agent: usize, s: Sample) {
        if let Some(cell) = self.cells.get(agent) {
            cell.lock().unwrap_or_else(|p| p.into_inner()).apply(s);
        }
    }

    /// The figures now.
    pub fn snapshot(&self, elapsed: Duration, completed: u64, failed: u64) -> MetricsSnapshot {
        let mut agents = Vec::with_capacity(self.cells.len());
        let mut run = Cell::new();
        let endpoints = self
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (i, (id, cell)) in self.agents.iter().zip(&self.cells).enumerate() {
            let g = cell.lock().unwrap_or_else(|p| p.into_inner());
            let c = g.counters();
            let r = &mut run.c;
            r.calls += c.calls;
            r.calls_ok += c.calls_ok;
            r.calls_failed += c.calls_failed;
            r.retries += c.retries;
            r.breaker_openings += c.breaker_openings;
            r.fallbacks += c.fallbacks;
            r.cache_hits += c.cache_hits;
            r.degrades += c.degrades;
            r.quota_waits += c.quota_waits;
            r.budget_refusals += c.budget_refusals;
            r.malformed += c.malformed;
            r.repairs += c.repairs;
            r.batches += c.batches;
            r.batch_items += c.batch_items;
            r.prompt_tokens = r.prompt_tokens.saturating_add(c.prompt_tokens);
            r.completion_tokens = r.completion_tokens.saturating_add(c.completion_tokens);
            run.nanos = run.nanos.saturating_add(g.nanos);
            // Same bounds and precision: adding cannot fail.
            let _ = run.hist.add(&g.hist);
            agents.push(AgentMetrics {
                agent: id.clone(),
                health: g.health(
                    self.agent_endpoint
                        .get(i)
                        .copied()
                        .flatten()
                        .and_then(|e| endpoints.get(e))
                        .map_or(BreakerState::Closed, |e| e.0),
                ),
                counters: c,
            });
        }
        let secs = elapsed.as_secs_f64();
        MetricsSnapshot {
            elapsed_ms: secs * 1000.0,
            tasks_completed: completed,
            tasks_failed: failed,
            throughput_per_s: if secs > 0.0 {
                completed as f64 / secs
            } else {
                0.0
            },
            run: run.counters(),
            agents,
            endpoints: self
                .endpoint_names
                .iter()
                .zip(&endpoints)
                .map(|(name, &(state, openings))| EndpointMetrics {
                    endpoint: name.clone(),
                    state,
                    openings,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn counts_percentiles_and_health() {
        let m = Metrics::new(vec!["a".into(), "b".into()]);
        let u = Usage {
            prompt_tokens: 30,
            completion_tokens: 10,
            estimated: false,
        };
        for i in 1..=100 {
            m.record(0, Sample::CallOk(ms(i), u, 1000));
        }
        m.record(1, Sample::CallFailed(ms(500)));
        m.record(1, Sample::CallFailed(ms(500)));
        m.record(1, Sample::Retry);
        m.record(1, Sample::Breaker(BreakerState::Open));
        let s = m.snapshot(Duration::from_secs(2), 10, 1);
        let a = &s.agents[0];
        assert_eq!((a.counters.calls, a.counters.calls_ok), (100, 100));
        assert_eq!(a.health, HealthState::Healthy);
        assert!((a.counters.latency_ms.p50 - 50.0).abs() <= 1.0);
        assert!((a.counters.latency_ms.p99 - 99.0).abs() <= 1.0);
        assert_eq!(a.counters.efficiency, 0.25);
        assert_eq!(a.counters.cost_usd, 100_000.0 / 1e9);
        assert_eq!(s.agents[1].health, HealthState::CircuitOpen);
        assert_eq!(s.run.calls, 102);
        assert_eq!(s.run.retries, 1);
        assert_eq!(s.run.prompt_tokens, 3000);
        assert_eq!(s.throughput_per_s, 5.0);
        assert!((s.run.success_rate - 100.0 / 102.0).abs() < 1e-12);
        assert!(s.run.latency_ms.max >= 499.0);
        m.record(1, Sample::Breaker(BreakerState::Closed));
        assert_eq!(
            m.snapshot(ms(1), 0, 0).agents[1].health,
            HealthState::Failing
        );
    }

    #[test]
    fn an_open_endpoint_shows_on_its_agents_and_counts_openings() {
        let m = Metrics::new(vec!["a".into(), "b".into()])
            .with_endpoints(vec!["provider:x".into()], vec![Some(0), None]);
        m.record(0, Sample::Malformed);
        m.record(0, Sample::Repair);
        m.record(0, Sample::Batch(4));
        m.record_endpoint(0, BreakerState::Closed, BreakerState::Open);
        let s = m.snapshot(ms(1), 0, 0);
        assert_eq!(s.agents[0].health, HealthState::CircuitOpen);
        assert_eq!(s.agents[1].health, HealthState::Healthy);
        assert_eq!(s.endpoints[0].state, BreakerState::Open);
        assert_eq!(s.endpoints[0].openings, 1);
        assert_eq!((s.run.malformed, s.run.repairs), (1, 1));
        assert_eq!((s.run.batches, s.run.batch_items), (1, 4));
        m.record_endpoint(0, BreakerState::Open, BreakerState::HalfOpen);
        m.record_endpoint(0, BreakerState::HalfOpen, BreakerState::Open);
        let s = m.snapshot(ms(1), 0, 0);
        assert_eq!(
            s.endpoints[0].openings, 1,
            "a failed probe is not a new opening"
        );
    }
}
