//! Budgets, quota waits and circuit breakers as the stream tells them.
//!
//! Limits come from the workflow (given to [`Budgets::with_limits`], so a
//! gauge exists before the first call) and then from `budget_updated`
//! events (spending, and limits raised by `set_budget`).

use crate::event::{BreakerState, EventKind, Id};

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

/// The refusal that paused the run for budget (`budget_exhausted` with
/// policy `pause`).
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetPause {
    /// Scope that ran out.
    pub scope: String,
    /// Task whose call was refused.
    pub task: Id,
    /// Tokens the refused call could use.
    pub needed_tokens: u64,
    /// Tokens left in the scope: its limit minus what is used and what
    /// calls in flight have reserved.
    pub remaining_tokens: Option<u64>,
}

/// Budget, quota and breaker state of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Budgets {
    /// Soft warning threshold (fraction of a limit).
    pub warn_at: f64,
    /// Limited scopes: the run first when limited, then agents and nodes.
    pub scopes: Vec<BudgetGauge>,
    /// The scope whose exhaustion paused the run, until the run resumes.
    pub paused_by: Option<String>,
    /// The refusal behind that pause.
    pub pause: Option<BudgetPause>,
    /// Calls that waited for provider quota.
    pub quota_waits: u32,
    /// Total time waited for quota, ms.
    pub quota_wait_ms: f64,
    /// The latest wait: provider, limit (`requests`/`tokens`), ms.
    pub last_quota: Option<(Id, String, f64)>,
    /// Breakers that changed state at least once.
    pub breakers: Vec<BreakerView>,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            warn_at: 0.8,
            scopes: Vec::new(),
            paused_by: None,
            pause: None,
            quota_waits: 0,
            quota_wait_ms: 0.0,
            last_quota: None,
            breakers: Vec::new(),
        }
    }
}

impl Budgets {
    /// Gauges for declared limits (scope, tokens, usd) before any event.
    pub fn with_limits<'a>(
        warn_at: f64,
        limits: impl IntoIterator<Item = &'a (String, Option<u64>, Option<f64>)>,
    ) -> Self {
        Budgets {
            warn_at,
            scopes: limits
                .into_iter()
                .map(|(scope, tokens, usd)| BudgetGauge::new(scope.clone(), *tokens, *usd))
                .collect(),
            ..Budgets::default()
        }
    }

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

    /// Tokens reserved by calls in flight in the scope that paused the
    /// run, as the refusal reported them (limit − used − remaining).
    pub fn reserved_at_pause(&self) -> Option<u64> {
        let p = self.pause.as_ref()?;
        let g = self.scope(&p.scope)?;
        let limit = g.limit_tokens?;
        let remaining = p.remaining_tokens?;
        Some(
            limit
                .saturating_sub(g.used_tokens)
                .saturating_sub(remaining),
        )
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

    /// Folds a budget, quota or breaker event (others are ignored).
    pub(crate) fn apply(&mut self, kind: &EventKind) {
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
            EventKind::BudgetExhausted {
                scope,
                task,
                needed_tokens,
                remaining_tokens,
                policy,
                ..
            } => {
                self.slot(scope).exhausted = true;
                if policy == "pause" {
                    self.paused_by = Some(scope.clone());
                    self.pause = Some(BudgetPause {
                        scope: scope.clone(),
                        task: task.clone(),
                        needed_tokens: *needed_tokens,
                        remaining_tokens: *remaining_tokens,
                    });
                }
            }
            EventKind::RunResumed => {
                self.paused_by = None;
                self.pause = None;
            }
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
            _ => {}
        }
    }
}
