//! Run and per-agent metrics: throughput, latency percentiles (HDR
//! histograms), success rate, retries, tokens, cost, efficiency and a
//! health state per agent. The engine records into `Metrics`; snapshots ([`MetricsSnapshot`])
//! go out as `metrics` events and in `agentctl run --json`.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::event::{BreakerState, HealthState, Id, Usage};

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Counters shared by the run and each agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Provider calls made (cache hits excluded).
    pub calls: u64,
    /// Calls that returned a reply.
    pub calls_ok: u64,
    /// Calls that failed (errors and timeouts).
    pub calls_failed: u64,
    /// `calls_ok / calls` (1 when no call was made).
    pub success_rate: f64,
    /// Retries scheduled.
    pub retries: u64,
    /// Circuit breaker openings.
    pub breaker_openings: u64,
    /// Times a task moved to a fallback agent (for an agent: away from it).
    pub fallbacks: u64,
    /// Replies served from the cache.
    pub cache_hits: u64,
    /// Switches to a cheaper agent.
    pub degrades: u64,
    /// Calls that waited for provider quota.
    pub quota_waits: u64,
    /// Calls refused by a budget.
    pub budget_refusals: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost, US dollars.
    pub cost_usd: f64,
    /// Completion tokens per total token (0 when none).
    pub efficiency: f64,
    /// Latency of provider calls.
    pub latency_ms: Latency,
}

/// One agent's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentMetrics {
    /// Agent id.
    pub agent: Id,
    /// Health.
    pub health: HealthState,
    /// Figures.
    #[serde(flatten)]
    pub counters: Counters,
}

/// Figures of a run at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// Time since the run started, ms.
    pub elapsed_ms: f64,
    /// Tasks completed.
    pub tasks_completed: u64,
    /// Tasks failed.
    pub tasks_failed: u64,
    /// Completed tasks per second.
    pub throughput_per_s: f64,
    /// Whole-run figures.
    #[serde(flatten)]
    pub run: Counters,
    /// Per agent, in declaration order.
    pub agents: Vec<AgentMetrics>,
}

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
                c.prompt_tokens += u.prompt_tokens;
                c.completion_tokens += u.completion_tokens;
                self.nanos += n;
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
        }
    }

    fn counters(&self) -> Counters {
        let mut c = self.c.clone();
        c.success_rate = if c.calls == 0 {
            1.0
        } else {
            c.calls_ok as f64 / c.calls as f64
        };
        c.cost_usd = crate::budget::usd(self.nanos);
        let total = c.prompt_tokens + c.completion_tokens;
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

    fn health(&self) -> HealthState {
        if self.breaker != BreakerState::Closed {
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
        for (id, cell) in self.agents.iter().zip(&self.cells) {
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
            r.prompt_tokens += c.prompt_tokens;
            r.completion_tokens += c.completion_tokens;
            run.nanos += g.nanos;
            // Same bounds and precision: adding cannot fail.
            let _ = run.hist.add(&g.hist);
            agents.push(AgentMetrics {
                agent: id.clone(),
                health: g.health(),
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
}
