//! Policy values for the builder's setters: retry, circuit breaker, cache,
//! budget, degrade, shell, quotas, prices and run-wide defaults, each
//! started by a function named after its file key and refined by setters
//! named after the table's keys.
//!
//! ```
//! use agentctl::event::ErrorKind;
//! use agentctl::workflow::builder::{WorkflowBuilder, agent, node, policy};
//!
//! let wf = WorkflowBuilder::new("policies")
//!     .input("go")
//!     .defaults(policy::defaults().timeout_ms(20_000).retry(policy::retry(2)))
//!     .budget(policy::budget().tokens(50_000).usd(1.5).on_exhausted_pause())
//!     .quota("sim", policy::quota().rpm(600).tpm(100_000))
//!     .price("gpt-4o-mini", 0.15, 0.60)
//!     .agent(
//!         agent::llm("writer")
//!             .retry(policy::retry(4).base_ms(100).factor(3.0).jitter(false).retry_on([ErrorKind::Timeout]))
//!             .timeout_ms(5_000)
//!             .task_timeout_ms(30_000)
//!             .breaker(policy::breaker(3).window_ms(10_000).open_ms(2_000))
//!             .cache(policy::cache().ttl_ms(60_000).max_entries(100))
//!             .budget(policy::budget().tokens(10_000))
//!             .fallbacks(["backup"])
//!             .degrade(policy::degrade("backup").queue_depth(20)),
//!     )
//!     .agent(agent::llm("backup"))
//!     .node(node::agent("write", "writer"))
//!     .build()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! assert_eq!(wf.agents[0].policy.retry.max_attempts, 4);
//! assert_eq!(wf.agents[0].policy.fallbacks.len(), 1);
//! ```

use crate::event::ErrorKind;
use crate::workflow::span::Spanned;
use crate::workflow::spec::{
    BreakerSpec, BudgetSpec, CacheSpec, DefaultsSpec, DegradeSpec, OnExhaustedName, PriceSpec,
    QuotaSpec, RetrySpec, ShellSpec,
};

/// `retry = { max_attempts = N }`: `max_attempts` attempts in all, the
/// first included.
pub fn retry(max_attempts: u32) -> RetrySpec {
    let mut r = RetrySpec::default();
    r.table.max_attempts = Some(Spanned::new(max_attempts));
    r
}

/// `retry = false`: one attempt, whatever the provider's default.
pub fn no_retry() -> RetrySpec {
    RetrySpec {
        off: true,
        ..Default::default()
    }
}

impl RetrySpec {
    /// Delay ceiling of the first retry, ms (default 200).
    pub fn base_ms(mut self, ms: u64) -> Self {
        self.table.base_ms = Some(ms);
        self
    }
    /// Growth per retry (default 2.0; at least 1).
    pub fn factor(mut self, factor: f64) -> Self {
        self.table.factor = Some(Spanned::new(factor));
        self
    }
    /// Largest delay, ms (default 30000).
    pub fn max_delay_ms(mut self, ms: u64) -> Self {
        self.table.max_delay_ms = Some(ms);
        self
    }
    /// Full jitter on the delays (default true).
    pub fn jitter(mut self, on: bool) -> Self {
        self.table.jitter = Some(on);
        self
    }
    /// The error kinds retried (default timeout, rate_limited, server,
    /// malformed).
    pub fn retry_on(mut self, kinds: impl IntoIterator<Item = ErrorKind>) -> Self {
        self.table.retry_on = Some(kinds.into_iter().map(Spanned::new).collect());
        self
    }
}

/// `breaker = { failures = N }`: opens after `failures` failures within
/// the window.
pub fn breaker(failures: u32) -> BreakerSpec {
    BreakerSpec {
        failures: Some(Spanned::new(failures)),
        ..Default::default()
    }
}

impl BreakerSpec {
    /// Window the failures are counted in, ms (default 30000).
    pub fn window_ms(mut self, ms: u64) -> Self {
        self.window_ms = Some(Spanned::new(ms));
        self
    }
    /// How long it stays open, ms (default 10000).
    pub fn open_ms(mut self, ms: u64) -> Self {
        self.open_ms = Some(Spanned::new(ms));
        self
    }
    /// Probes let through while half-open (default 1).
    pub fn half_open_probes(mut self, n: u32) -> Self {
        self.half_open_probes = Some(Spanned::new(n));
        self
    }
}

/// `cache = {}`: a response cache with the default settings.
pub fn cache() -> CacheSpec {
    CacheSpec::default()
}

impl CacheSpec {
    /// Time to live, ms (default 300000).
    pub fn ttl_ms(mut self, ms: u64) -> Self {
        self.ttl_ms = Some(Spanned::new(ms));
        self
    }
    /// Most entries (default 1000).
    pub fn max_entries(mut self, n: u32) -> Self {
        self.max_entries = Some(Spanned::new(n));
        self
    }
    /// Keep entries across runs in the user cache dir (default false).
    pub fn persist(mut self, on: bool) -> Self {
        self.persist = Some(on);
        self
    }
}

/// `budget = {}`: no limit until `tokens` or `usd` sets one.
pub fn budget() -> BudgetSpec {
    BudgetSpec::default()
}

impl BudgetSpec {
    /// Token limit (prompt + completion).
    pub fn tokens(mut self, n: u64) -> Self {
        self.tokens = Some(Spanned::new(n));
        self
    }
    /// Money limit, US dollars.
    pub fn usd(mut self, usd: f64) -> Self {
        self.usd = Some(Spanned::new(usd));
        self
    }
    /// The run's budget only: soft warning threshold, fraction (default 0.8).
    pub fn warn_at(mut self, fraction: f64) -> Self {
        self.warn_at = Some(Spanned::new(fraction));
        self
    }
    /// The run's budget only: what happens when a call would exceed it.
    pub fn on_exhausted(mut self, what: OnExhaustedName) -> Self {
        self.on_exhausted = Some(Spanned::new(what));
        self
    }
    /// `on_exhausted = "pause"`: the run pauses until the budget is raised.
    pub fn on_exhausted_pause(self) -> Self {
        self.on_exhausted(OnExhaustedName::Pause)
    }
}

/// `degrade = { to = AGENT }`: switch to a cheaper agent under pressure.
pub fn degrade(to: impl Into<String>) -> DegradeSpec {
    DegradeSpec {
        to: Spanned::new(to.into()),
        queue_depth: None,
        budget_fraction: None,
    }
}

impl DegradeSpec {
    /// Switch when this many tasks wait in the queue.
    pub fn queue_depth(mut self, n: u32) -> Self {
        self.queue_depth = Some(Spanned::new(n));
        self
    }
    /// Switch when this fraction of the budget is used.
    pub fn budget_fraction(mut self, fraction: f64) -> Self {
        self.budget_fraction = Some(Spanned::new(fraction));
        self
    }
}

/// `shell = {}`: how an agent's `shell` tool calls are confined.
pub fn shell() -> ShellSpec {
    ShellSpec::default()
}

impl ShellSpec {
    /// Sets an environment variable of the commands.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }
    /// Passes variables through from this process's environment.
    pub fn inherit_env(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.inherit_env.extend(names.into_iter().map(Into::into));
        self
    }
    /// Kills a command's process group after this long, ms (default 30000).
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(Spanned::new(ms));
        self
    }
    /// Cap of stdout and of stderr, each, bytes (default 65536).
    pub fn max_output_bytes(mut self, n: u64) -> Self {
        self.max_output_bytes = Some(Spanned::new(n));
        self
    }
}

/// `[quotas.PROVIDER]`: nothing limited until a setter says.
pub fn quota() -> QuotaSpec {
    QuotaSpec::default()
}

impl QuotaSpec {
    /// Requests per minute.
    pub fn rpm(mut self, n: u32) -> Self {
        self.rpm = Some(Spanned::new(n));
        self
    }
    /// Tokens per minute.
    pub fn tpm(mut self, n: u64) -> Self {
        self.tpm = Some(Spanned::new(n));
        self
    }
    /// Calls in flight at once to the endpoint.
    pub fn max_in_flight(mut self, n: u32) -> Self {
        self.max_in_flight = Some(Spanned::new(n));
        self
    }
}

/// `[prices.MODEL]`: US dollars per million prompt and completion tokens.
pub fn price(input: f64, output: f64) -> PriceSpec {
    PriceSpec {
        input: Spanned::new(input),
        output: Spanned::new(output),
    }
}

/// `[defaults]`: policies every agent gets unless it sets its own.
pub fn defaults() -> DefaultsSpec {
    DefaultsSpec::default()
}

impl DefaultsSpec {
    /// Retry policy.
    pub fn retry(mut self, retry: RetrySpec) -> Self {
        self.retry = Some(retry);
        self
    }
    /// Time limit of one provider call, ms.
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(Spanned::new(ms));
        self
    }
    /// Time limit of a whole task (all attempts), ms.
    pub fn task_timeout_ms(mut self, ms: u64) -> Self {
        self.task_timeout_ms = Some(Spanned::new(ms));
        self
    }
    /// Circuit breaker per agent.
    pub fn breaker(mut self, breaker: BreakerSpec) -> Self {
        self.breaker = Some(breaker);
        self
    }
    /// Response cache.
    pub fn cache(mut self, cache: CacheSpec) -> Self {
        self.cache = Some(cache);
        self
    }
    /// Emit a `metrics` event this often, ms (0: only at the end).
    pub fn metrics_every_ms(mut self, ms: u64) -> Self {
        self.metrics_every_ms = Some(ms);
        self
    }
    /// Deadlock bound, ms (default 10000).
    pub fn deadlock_ms(mut self, ms: u64) -> Self {
        self.deadlock_ms = Some(Spanned::new(ms));
        self
    }
    /// Bound on the tasks one run creates (default 1,000,000).
    pub fn max_tasks(mut self, n: u64) -> Self {
        self.max_tasks = Some(Spanned::new(n));
        self
    }
}
