//! Budget settings: hard limits, what happens when one is reached, and
//! model prices (`budget` keeps the accounts). Money is counted in
//! nano-dollars, integers, so sums are exact.

use std::collections::HashMap;

/// Price of a model, US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Prompt tokens.
    pub input: f64,
    /// Completion tokens.
    pub output: f64,
}

/// Prices by model name.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable(HashMap<String, Price>);

/// Defaults for common models (USD per million tokens, list prices of
/// late 2026; override them in the workflow's `[prices]`). The `sim`
/// models are priced like a small model so cost budgets can be tried
/// offline.
const DEFAULT_PRICES: &[(&str, f64, f64)] = &[
    ("sim-1", 0.5, 1.5),
    ("sim-mini", 0.1, 0.3),
    ("gpt-4o", 2.5, 10.0),
    ("gpt-4o-mini", 0.15, 0.6),
    ("gpt-4.1", 2.0, 8.0),
    ("gpt-4.1-mini", 0.4, 1.6),
    ("gpt-4.1-nano", 0.1, 0.4),
    ("o3", 2.0, 8.0),
    ("o4-mini", 1.1, 4.4),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-haiku-3.5", 0.8, 4.0),
    ("llama3.1:8b", 0.0, 0.0),
];

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable(
            DEFAULT_PRICES
                .iter()
                .map(|&(m, i, o)| {
                    (
                        m.to_string(),
                        Price {
                            input: i,
                            output: o,
                        },
                    )
                })
                .collect(),
        )
    }
}

impl PriceTable {
    /// Sets (or overrides) a model's price.
    pub fn set(&mut self, model: &str, price: Price) {
        self.0.insert(model.to_string(), price);
    }

    /// A model's price (unknown models are free: no money is counted).
    pub fn get(&self, model: &str) -> Price {
        self.0.get(model).copied().unwrap_or(Price {
            input: 0.0,
            output: 0.0,
        })
    }
}

/// What happens when a call would exceed a hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum OnExhausted {
    /// The run pauses until a `set_budget` or `resume` command.
    Pause,
    /// The task fails (`budget_exhausted`, not retried).
    #[default]
    Fail,
    /// The task switches to its agent's `degrade_to` agent (fails if none).
    Degrade,
}

impl OnExhausted {
    /// Name as written in files.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Hard limits of one scope.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limit {
    /// Tokens (prompt + completion).
    pub tokens: Option<u64>,
    /// US dollars.
    pub usd: Option<f64>,
}

impl Limit {
    /// True when it limits anything.
    pub fn is_set(&self) -> bool {
        self.tokens.is_some() || self.usd.is_some()
    }
}

/// Nano-dollars to dollars.
pub(crate) fn usd(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// Dollars to nano-dollars (negative amounts count as none).
pub(crate) fn nanos(usd: f64) -> u64 {
    (usd.max(0.0) * 1e9).round() as u64
}
