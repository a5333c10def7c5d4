//! Connects code agents (Rust and command agents) to the run: the shared
//! context store and a live view of the budgets, read through the
//! [`AgentContext`](crate::agent::AgentContext).

use std::sync::{Arc, Weak};

use super::run::Run;
use crate::agent::{AgentBudget, AgentLink, BudgetSource, BudgetState};
use crate::budget::BudgetNote;
use crate::budget::{Ledger, Scope};
use crate::event::{EventKind, Id, Usage};
use crate::workflow::policy::budget::usd;

/// Reads the run's ledger; holds the run weakly so an agent keeping its
/// context does not keep a finished run alive.
struct RunBudget(Weak<Run>);

impl BudgetSource for RunBudget {
    fn budget(&self, agent: &Id) -> AgentBudget {
        let Some(run) = self.0.upgrade() else {
            return AgentBudget::default();
        };
        let Some(ledger) = run.res.ledger.as_ref() else {
            return AgentBudget::default();
        };
        AgentBudget {
            run: Some(state(ledger, Scope::Run)),
            agent: run.wf.agent(agent).map(|a| state(ledger, Scope::Agent(a))),
        }
    }

    fn charge_abandoned(&self, agent: &Id, task: &Id, usage: Usage) {
        let Some(run) = self.0.upgrade() else {
            return;
        };
        if let Some(why) = super::agent_task::absurd_usage(&usage) {
            run.emit(EventKind::Notice {
                level: "warn".into(),
                message: format!(
                    "agent `{agent}` reported an impossible usage for task `{task}`: {why}; ignored"
                ),
            });
            return;
        }
        run.add_usage(&usage);
        let (Some(a), Some(ledger)) = (run.wf.agent(agent), run.res.ledger.as_ref()) else {
            return;
        };
        let spent = crate::budget::spend(&ledger.prices, &run.wf.agents[a].model, &usage);
        for note in ledger.charge(a, run.task_node(task), spent) {
            run.emit(match note {
                BudgetNote::Updated { scope, used, limit } => {
                    super::resilient::budget_updated(&run.wf, scope, used, limit)
                }
                BudgetNote::Warning { scope, fraction } => EventKind::BudgetWarning {
                    scope: super::resilient::scope_name(&run.wf, scope),
                    fraction,
                    threshold: ledger.warn_at,
                },
            });
        }
    }
}

fn state(ledger: &Ledger, scope: Scope) -> BudgetState {
    let limit = ledger.limit(scope);
    let used = ledger.used(scope);
    let reserved = ledger.reserved(scope);
    BudgetState {
        limit_tokens: limit.tokens,
        limit_usd: limit.usd,
        used_tokens: used.tokens,
        used_usd: usd(used.nanos),
        reserved_tokens: reserved.tokens,
        reserved_usd: usd(reserved.nanos),
    }
}

/// Gives the code agents of `run` its context store and budgets.
pub(crate) fn connect(link: &AgentLink, run: &Arc<Run>) {
    let context = run.res.context.clone().unwrap_or_default();
    link.connect(context, Arc::new(RunBudget(Arc::downgrade(run))));
}
