//! Compiled resilience policies, budgets and quotas (issue #3): what
//! `compile` makes of `[defaults]`, `[budget]`, `[prices]`, `[quotas]` and
//! the policy fields of agents and nodes. The settings themselves live in
//! the files below, one per concept; `budget`, `resilience` and `tools`
//! implement behaviour over them, so workflow imports none of those.

pub mod breaker;
pub mod budget;
pub mod cache;
pub mod degrade;
pub mod quota;
pub mod retry;
pub mod shell;
pub mod timeouts;

use std::collections::HashMap;
use std::time::Duration;

use self::breaker::BreakerPolicy;
use self::budget::{Limit, OnExhausted, PriceTable};
use self::cache::CachePolicy;
use self::degrade::DegradePolicy;
use self::quota::QuotaPolicy;
use self::retry::RetryPolicy;
use self::timeouts::Timeouts;
use super::index::AgentIdx;
use super::reply_schema::ReplySchema;

/// An agent's policies, with `[defaults]` applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentPolicy {
    /// Retry (default: one attempt, or the provider's default for providers
    /// that have one, unless `retry_explicit`).
    pub retry: RetryPolicy,
    /// The workflow set `retry` for this agent (its own table or `false`,
    /// or `[defaults]`): a provider's default retry does not apply.
    pub retry_explicit: bool,
    /// Time limits (the built-in ones unless set).
    pub timeouts: Timeouts,
    /// Circuit breaker, if any.
    pub breaker: Option<BreakerPolicy>,
    /// Response cache, if any.
    pub cache: Option<CachePolicy>,
    /// Fallback agents, in order.
    pub fallbacks: Vec<AgentIdx>,
    /// The agent's own limits.
    pub budget: Limit,
    /// Cheaper agent under pressure.
    pub degrade: Option<DegradePolicy>,
    /// Token window of shared context added to its prompts.
    pub context_tokens: Option<u32>,
    /// Most `map` items it accepts in one call (none: no batches).
    pub max_batch: Option<u32>,
}

impl AgentPolicy {
    /// True when nothing beyond a single plain call is configured: the
    /// engine then takes its fast path.
    pub fn is_plain(&self) -> bool {
        // Time limits apply on the plain path too (every agent has them).
        self.retry.max_attempts <= 1
            && self.breaker.is_none()
            && self.cache.is_none()
            && self.fallbacks.is_empty()
            && !self.budget.is_set()
            && self.degrade.is_none()
            && self.context_tokens.is_none()
    }
}

/// How a `parallel` node settles branches that disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// The answer with the most total confidence.
    Confidence,
    /// A meta-agent chooses.
    Agent(AgentIdx),
    /// A human decides at a gate.
    Gate,
}

/// A node's overrides of its agents' policies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodePolicy {
    /// Retry for this node's tasks.
    pub retry: Option<RetryPolicy>,
    /// Time limits for this node's tasks (each part unset falls back to
    /// the agent's).
    pub timeouts: Option<Timeouts>,
    /// The node's limits.
    pub budget: Limit,
    /// Cheaper agent under pressure.
    pub degrade: Option<DegradePolicy>,
    /// `parallel`: conflict resolution.
    pub resolve: Option<Resolve>,
    /// `agent`: the reply must be JSON (`expect = "json"`).
    pub expect_json: bool,
    /// `agent`: the user's reply schema (`schema` / `schema_file`); implies
    /// `expect_json`.
    pub schema: Option<ReplySchema>,
    /// `agent`: repair prompts for a malformed reply (`repair_attempts`).
    pub repairs: u32,
    /// `map`: items per call, when its body's agents accept batches
    /// (`batch_size` with `max_batch`); none: one call per item.
    pub batch: Option<u32>,
}

impl NodePolicy {
    /// True when the node overrides none of its agents' call policies
    /// (reply checks and batching need no per-call resilience state).
    pub fn is_empty(&self) -> bool {
        self.retry.is_none()
            && self.timeouts.is_none()
            && !self.budget.is_set()
            && self.degrade.is_none()
            && self.resolve.is_none()
    }
}

/// Built-in deadlock bound (`[defaults] deadlock_ms`): 10 seconds with
/// nothing running, queued or timed while a node waits.
pub const DEFAULT_DEADLOCK: Duration = Duration::from_secs(10);

/// Run-wide budget, prices, quotas and metrics settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPolicy {
    /// The run's limits.
    pub budget: Limit,
    /// Soft warning threshold, fraction of a limit.
    pub warn_at: f64,
    /// What happens when a call would exceed a limit.
    pub on_exhausted: OnExhausted,
    /// Prices (defaults plus overrides).
    pub prices: PriceTable,
    /// Quotas by provider name.
    pub quotas: HashMap<String, QuotaPolicy>,
    /// Circuit breakers per provider endpoint, by provider name.
    pub breakers: HashMap<String, BreakerPolicy>,
    /// Deadlock bound: the run fails the nodes waiting on each other when
    /// nothing could make progress for this long.
    pub deadlock: Duration,
    /// Period of `metrics` events (none: only at the end).
    pub metrics_every: Option<Duration>,
    /// Tasks one run may create (`[defaults] max_tasks`).
    pub max_tasks: u64,
}

/// Built-in bound on the tasks of one run (`[defaults] max_tasks`): far
/// above any real workflow (a 200,000-item map fits five times), low
/// enough that a runaway loop stops before it exhausts memory or disk.
pub const DEFAULT_MAX_TASKS: u64 = 1_000_000;

impl Default for RunPolicy {
    fn default() -> Self {
        RunPolicy {
            budget: Limit::default(),
            warn_at: 0.8,
            on_exhausted: OnExhausted::Fail,
            prices: PriceTable::default(),
            quotas: HashMap::new(),
            breakers: HashMap::new(),
            deadlock: DEFAULT_DEADLOCK,
            metrics_every: Some(Duration::from_secs(1)),
            max_tasks: DEFAULT_MAX_TASKS,
        }
    }
}
