//! Budgets as the budgets pane colours them. The gauges themselves are
//! the run state's ([`crate::run_state::Budgets`], read through `vm.budget`):
//! the one fold of the stream. Colour levels are computed from the limits:
//! warn at the workflow's soft threshold (`warn_at`), critical at
//! [`CRITICAL_AT`] or when a call was refused.

pub use crate::run_state::{BudgetGauge, Budgets as BudgetState};

/// Fraction of a limit from which a gauge is critical.
pub const CRITICAL_AT: f64 = 0.95;

/// How close a scope is to its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BudgetLevel {
    /// Below the warning threshold (or no limit).
    Ok,
    /// At or above the workflow's `warn_at`.
    Warn,
    /// At or above [`CRITICAL_AT`], or a call was refused.
    Critical,
}

/// Colour levels of a gauge, from its fractions and its refusal.
pub trait GaugeLevel {
    /// Level of one fraction under this scope's state.
    fn level_of(&self, fraction: Option<f64>, warn_at: f64) -> BudgetLevel;

    /// The worse of the token and money levels.
    fn level(&self, warn_at: f64) -> BudgetLevel;
}

impl GaugeLevel for BudgetGauge {
    fn level_of(&self, fraction: Option<f64>, warn_at: f64) -> BudgetLevel {
        level(fraction, warn_at, self.exhausted)
    }

    fn level(&self, warn_at: f64) -> BudgetLevel {
        self.level_of(self.token_fraction(), warn_at)
            .max(self.level_of(self.usd_fraction(), warn_at))
    }
}

/// The level of `fraction` of a limit: critical when a call was refused
/// (`exhausted`) or at [`CRITICAL_AT`], warn from `warn_at`.
pub fn level(fraction: Option<f64>, warn_at: f64, exhausted: bool) -> BudgetLevel {
    match fraction {
        None => BudgetLevel::Ok,
        Some(_) if exhausted => BudgetLevel::Critical,
        Some(f) if f >= CRITICAL_AT => BudgetLevel::Critical,
        Some(f) if f >= warn_at => BudgetLevel::Warn,
        Some(_) => BudgetLevel::Ok,
    }
}
