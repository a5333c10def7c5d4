//! The figures a run reports in `metrics` events (and `agentctl run
//! --json`): the wire types only. The engine's recorder that measures them
//! is `crate::metrics`; they live here so the event stream needs nothing
//! above it.

use serde::{Deserialize, Serialize};

use super::{BreakerState, HealthState, Id};

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
    /// Replies rejected as malformed (invalid structure, a batch reply
    /// that does not split); each is repaired or retried.
    #[serde(default)]
    pub malformed: u64,
    /// Repair prompts sent for malformed replies.
    #[serde(default)]
    pub repairs: u64,
    /// Batch calls (several `map` items in one call).
    #[serde(default)]
    pub batches: u64,
    /// Items handed over in batch calls.
    #[serde(default)]
    pub batch_items: u64,
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

/// Figures of a run at one moment. Read in Rust by the paths of its JSON:
/// `snapshot.calls`, `snapshot.cost_usd`, `snapshot.agents[0].latency_ms.p95`
/// (the run's [`Counters`] are flattened into it, as an agent's are into
/// [`AgentMetrics`]).
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
    /// Circuit breakers per provider endpoint (`[breakers.PROVIDER]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointMetrics>,
}

// The run's and each agent's counters are flattened into their JSON
// (`metrics.calls`, `metrics.agents[0].calls` in `agentctl run --json` and
// in `metrics` events); these make the same paths work in Rust.
impl std::ops::Deref for MetricsSnapshot {
    type Target = Counters;
    fn deref(&self) -> &Counters {
        &self.run
    }
}

impl std::ops::Deref for AgentMetrics {
    type Target = Counters;
    fn deref(&self) -> &Counters {
        &self.counters
    }
}

/// One provider endpoint's circuit breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointMetrics {
    /// `provider:<name>` or `provider:<name>@<base url>`.
    pub endpoint: Id,
    /// Breaker state now.
    pub state: BreakerState,
    /// Times it opened.
    pub openings: u64,
}
