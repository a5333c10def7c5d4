//! The workflow file schema of resilience policies, budgets, prices and
//! provider quotas (issue #3): `[defaults]`, `[budget]`, `[prices.MODEL]`,
//! `[quotas.PROVIDER]`, and the policy fields of `[[agents]]` and
//! `[[nodes]]`.

use serde::{Deserialize, Serialize};

use super::span::Spanned;
use crate::event::ErrorKind;

/// `[defaults]`: policies every agent gets unless it sets its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultsSpec {
    /// Retry policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    /// Time limit of one provider call, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// Time limit of a whole task (all attempts), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_timeout_ms: Option<Spanned<u64>>,
    /// Circuit breaker per agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerSpec>,
    /// Response cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSpec>,
    /// Emit a `metrics` event this often, ms (default 1000; 0 = only at the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_every_ms: Option<u64>,
    /// Deadlock bound, ms (default 10000): when nodes wait (e.g. an `on`
    /// trigger for a topic) and nothing is running, queued or timed for
    /// this long, the waiting nodes fail instead of hanging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadlock_ms: Option<Spanned<u64>>,
    /// Bound on the tasks one run creates (default 1,000,000): a runaway
    /// loop stops with an error instead of growing without end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tasks: Option<Spanned<u64>>,
}

/// `retry = { ... }`, `retry = true` (the same as `{}`: 3 attempts) or
/// `retry = false` (one attempt, whatever the provider's default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetrySpec {
    /// `retry = false`.
    pub off: bool,
    /// The table's settings (all unset for `true` and `false`).
    pub table: RetryTable,
}

impl<'de> Deserialize<'de> for RetrySpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = RetrySpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a retry table (e.g. { max_attempts = 4 }), true or false")
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<RetrySpec, E> {
                Ok(RetrySpec {
                    off: !b,
                    table: RetryTable::default(),
                })
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, m: M) -> Result<RetrySpec, M::Error> {
                let table =
                    RetryTable::deserialize(serde::de::value::MapAccessDeserializer::new(m))?;
                Ok(RetrySpec { off: false, table })
            }
        }
        d.deserialize_any(Either)
    }
}

impl Serialize for RetrySpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.off {
            s.serialize_bool(false)
        } else {
            self.table.serialize(s)
        }
    }
}

/// The settings of a `retry` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryTable {
    /// Attempts in all, the first included (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<Spanned<u32>>,
    /// Delay ceiling of the first retry, ms (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ms: Option<u64>,
    /// Growth per retry (default 2.0; at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<Spanned<f64>>,
    /// Largest delay, ms (default 30000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay_ms: Option<u64>,
    /// Full jitter (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<bool>,
    /// Error kinds to retry (default timeout, rate_limited, server, malformed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<Vec<Spanned<ErrorKind>>>,
}

/// `breaker = { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Failures within the window that open it (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<Spanned<u32>>,
    /// Window, ms (default 30000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_ms: Option<Spanned<u64>>,
    /// How long it stays open, ms (default 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_ms: Option<Spanned<u64>>,
    /// Probes let through while half-open (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_probes: Option<Spanned<u32>>,
}

/// `cache = { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// Time to live, ms (default 300000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<Spanned<u64>>,
    /// Most entries (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<Spanned<u32>>,
    /// Keep entries across runs in the user cache dir (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persist: Option<bool>,
}

/// What to do when a call would exceed a hard budget limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExhaustedName {
    /// Pause the run until `set_budget` or `resume`.
    Pause,
    /// Fail the task.
    Fail,
    /// Switch to the agent's or node's `degrade` agent.
    Degrade,
}

/// `[budget]` (the run), or `budget = { ... }` on an agent or a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    /// Token limit (prompt + completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Spanned<u64>>,
    /// Money limit, US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd: Option<Spanned<f64>>,
    /// `[budget]` only: soft warning threshold, fraction (default 0.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<Spanned<f64>>,
    /// `[budget]` only: `pause`, `fail` (default) or `degrade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exhausted: Option<Spanned<OnExhaustedName>>,
}

/// `[prices.MODEL]`: US dollars per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    /// Prompt tokens.
    pub input: Spanned<f64>,
    /// Completion tokens.
    pub output: Spanned<f64>,
}

/// `[quotas.PROVIDER]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSpec {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<Spanned<u32>>,
    /// Tokens per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<Spanned<u64>>,
    /// Calls in flight at once to the provider's endpoint (default: adapts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<Spanned<u32>>,
}

/// `degrade = { to = "cheap", queue_depth = 20, budget_fraction = 0.9 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DegradeSpec {
    /// The cheaper agent.
    pub to: Spanned<String>,
    /// Switch when this many tasks wait in the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<Spanned<u32>>,
    /// Switch when this fraction of the run's or agent's budget is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_fraction: Option<Spanned<f64>>,
}
