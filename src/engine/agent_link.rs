//! Connects code agents (Rust and command agents) to the run: the shared
//! context store and a live view of the budgets, read through the
//! [`AgentContext`](crate::agent::AgentContext).

use std::sync::{Arc, Weak};

use super::run::Run;
use crate::agent::{AgentBudget, AgentLink, BudgetSource, BudgetState};
use crate::budget::{Ledger, Scope, usd};
use crate::event::Id;

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
