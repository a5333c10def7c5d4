//! Budgets, quota waits and circuit breakers as the budgets pane shows them.
//!
//! Limits come from the workflow (so gauges show before the first call) and
//! then from `budget_updated` events (spending, and limits raised by
//! `set_budget`). Colour levels are computed from the limits: warn at the
//! workflow's soft threshold (`warn_at`), critical at [`CRITICAL_AT`] or when
//! a call was refused.

use crate::event::{BreakerState, EventKind, Id};

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

/// One limited scope: `run`, `agent:<id>` or `node:<id>`.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetGauge {
    /// Scope name, as in the events.
    pub scope: String,
    /// Tokens used.
    pub used_tokens: u64,
    /// Money used, US dollars.
    pub used_usd: f64,
    /// Token limit.
    pub limit_tokens: Option<u64>,
    /// Money limit, US dollars.
    pub limit_usd: Option<f64>,
    /// A call was refused since the limit was last set.
    pub exhausted: bool,
}

impl BudgetGauge {
    /// A scope with limits and nothing spent.
    pub fn new(
        scope: impl Into<String>,
        limit_tokens: Option<u64>,
        limit_usd: Option<f64>,
    ) -> Self {
        BudgetGauge {
            scope: scope.into(),
            used_tokens: 0,
            used_usd: 0.0,
            limit_tokens,
            limit_usd,
            exhausted: false,
        }
    }

    /// Share of the token limit used.
    pub fn token_fraction(&self) -> Option<f64> {
        self.limit_tokens
            .map(|l| fraction(self.used_tokens as f64, l as f64))
    }

    /// Share of the money limit used.
    pub fn usd_fraction(&self) -> Option<f64> {
        self.limit_usd.map(|l| fraction(self.used_usd, l))
    }

    /// Level of one fraction under this scope's state.
    pub fn level_of(&self, fraction: Option<f64>, warn_at: f64) -> BudgetLevel {
        level(fraction, warn_at, self.exhausted)
    }

    /// The worse of the token and money levels.
    pub fn level(&self, warn_at: f64) -> BudgetLevel {
        self.level_of(self.token_fraction(), warn_at)
            .max(self.level_of(self.usd_fraction(), warn_at))
    }

    /// The agent id, for `agent:<id>` scopes.
    pub fn agent(&self) -> Option<&str> {
        self.scope.strip_prefix("agent:")
    }
}

fn fraction(used: f64, limit: f64) -> f64 {
    if limit <= 0.0 {
        1.0
    } else {
        (used / limit).max(0.0)
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

/// One circuit breaker's last known state.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerView {
    /// Agent id or `provider:<name>`.
    pub scope: Id,
    /// State.
    pub state: BreakerState,
    /// Why it changed.
    pub reason: String,
}

/// Budget, quota and breaker state of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetState {
    /// Soft warning threshold (fraction of a limit).
    pub warn_at: f64,
    /// Limited scopes: the run first when limited, then agents and nodes.
    pub scopes: Vec<BudgetGauge>,
    /// The scope whose exhaustion paused the run, until the run resumes.
    pub paused_by: Option<String>,
    /// Calls that waited for provider quota.
    pub quota_waits: u32,
    /// Total time waited for quota, ms.
    pub quota_wait_ms: f64,
    /// The latest wait: provider, limit (`requests`/`tokens`), ms.
    pub last_quota: Option<(Id, String, f64)>,
    /// Breakers that changed state at least once.
    pub breakers: Vec<BreakerView>,
}

impl Default for BudgetState {
    fn default() -> Self {
        BudgetState {
            warn_at: 0.8,
            scopes: Vec::new(),
            paused_by: None,
            quota_waits: 0,
            quota_wait_ms: 0.0,
            last_quota: None,
            breakers: Vec::new(),
        }
    }
}

impl BudgetState {
    /// A scope by name.
    pub fn scope(&self, name: &str) -> Option<&BudgetGauge> {
        self.scopes.iter().find(|s| s.scope == name)
    }

    /// The run's gauge, when the run is limited.
    pub fn run(&self) -> Option<&BudgetGauge> {
        self.scope("run")
    }

    /// An agent's gauge, when it is limited.
    pub fn agent(&self, id: &str) -> Option<&BudgetGauge> {
        self.scopes.iter().find(|s| s.agent() == Some(id))
    }

    fn slot(&mut self, scope: &str) -> &mut BudgetGauge {
        let i = match self.scopes.iter().position(|s| s.scope == scope) {
            Some(i) => i,
            None => {
                self.scopes.push(BudgetGauge::new(scope, None, None));
                self.scopes.len() - 1
            }
        };
        &mut self.scopes[i]
    }

    /// Folds a budget, quota or breaker event; returns true if it was one.
    pub fn apply(&mut self, kind: &EventKind) -> bool {
        match kind {
            EventKind::BudgetUpdated {
                scope,
                used_tokens,
                used_usd,
                limit_tokens,
                limit_usd,
            } => {
                let g = self.slot(scope);
                if g.limit_tokens != *limit_tokens || g.limit_usd != *limit_usd {
                    // A new limit (set_budget): earlier refusals no longer apply.
                    g.exhausted = false;
                }
                g.used_tokens = *used_tokens;
                g.used_usd = *used_usd;
                g.limit_tokens = *limit_tokens;
                g.limit_usd = *limit_usd;
            }
            EventKind::BudgetExhausted { scope, policy, .. } => {
                self.slot(scope).exhausted = true;
                if policy == "pause" {
                    self.paused_by = Some(scope.clone());
                }
            }
            EventKind::RunResumed => self.paused_by = None,
            EventKind::QuotaWait {
                provider,
                limit,
                wait_ms,
                ..
            } => {
                self.quota_waits += 1;
                self.quota_wait_ms += wait_ms;
                self.last_quota = Some((provider.clone(), limit.clone(), *wait_ms));
            }
            EventKind::BreakerStateChanged {
                scope, to, reason, ..
            } => match self.breakers.iter_mut().find(|b| b.scope == *scope) {
                Some(b) => {
                    b.state = *to;
                    b.reason = reason.clone();
                }
                None => self.breakers.push(BreakerView {
                    scope: scope.clone(),
                    state: *to,
                    reason: reason.clone(),
                }),
            },
            _ => return false,
        }
        true
    }
}
