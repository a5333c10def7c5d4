//! What an agent's `sim` table says: the script the `sim` provider plays.
//! It belongs to the provider; a workflow file's `[agents.sim]` is read
//! into it (`workflow::spec` re-exports these types).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How the `sim` provider behaves for one agent. Every random draw is seeded
/// by (run seed, agent, task, attempt), so a run is deterministic whatever
/// the scheduling order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimScript {
    /// Replies by visit (iteration / revision / item index); the last one
    /// repeats. A string is sent as is; any other value as JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<Value>,
    /// Reply template: `{{input}}`, `{{agent}}`, `{{task}}`, `{{visit}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Latency of one call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<SimLatency>,
    /// Probability a call fails with a server error.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_rate: f64,
    /// Probability a call times out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout_rate: f64,
    /// Probability a reply is malformed (cut-off JSON).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub malformed_rate: f64,
    /// The first N attempts of every task fail with a server error.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub fail_first: u32,
    /// The first N replies of every task are malformed.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub malformed_first: u32,
    /// Planners: how many subtasks an unscripted plan has (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_size: Option<u32>,
    /// Reviewers: reject the first N reviews of a node.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub reject_first: u32,
    /// Classifiers: the label to answer (else chosen by seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Length of an unscripted reply, in words (default 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_words: Option<u32>,
    /// Probability a call is refused with a rate limit (and a Retry-After).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rate_limit_rate: f64,
    /// Retry-After sent with injected rate limits, ms (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// Probability a call hangs (never answers) until a timeout cuts it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hang_rate: f64,
    /// Probability of a latency spike.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spike_rate: f64,
    /// Extra latency of a spike, ms (default 2000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spike_ms: Option<f64>,
    /// Tool calls the first turn of every call asks for (the reply comes
    /// on the turn after the results), so tool flows run offline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<SimToolCall>,
    /// Debaters and voters: the position (or ballot choice) per round; the
    /// last one repeats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub positions: Vec<String>,
    /// Debaters and voters: confidence in [0, 1] (default: drawn in 0.5..0.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Debaters: probability of keeping the position when criticised in the
    /// previous round (default 1: never switches); otherwise it adopts the
    /// leading position of the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stubbornness: Option<f64>,
    /// Faulty behaviour for tests: `random` (answers at random) or
    /// `equivocate` (a different answer in each phase of a round).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byzantine: Option<String>,
}

/// A tool call the sim provider makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimToolCall {
    /// Tool name.
    pub tool: String,
    /// Arguments (a JSON object).
    #[serde(default)]
    pub arguments: Value,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}
fn is_zero_u32(x: &u32) -> bool {
    *x == 0
}

/// Simulated latency: a fixed number of milliseconds or a distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SimLatency {
    /// Exactly this many milliseconds.
    Fixed(f64),
    /// Uniform in `[min, max]`.
    Uniform {
        /// Lower bound, ms.
        min: f64,
        /// Upper bound, ms.
        max: f64,
    },
    /// Normal, clamped at 0.
    Normal {
        /// Mean, ms.
        mean: f64,
        /// Standard deviation, ms.
        stddev: f64,
    },
}
