//! Token and money budgets for the run, per agent and per node.
//!
//! A call first *reserves* what it could cost at most (its prompt tokens
//! plus its completion limit); a reservation that would take any scope
//! over a hard limit is refused and the call is not made. When the call
//! returns, the reservation is *settled* against the real usage. Because
//! the check and the booking happen under one lock, calls in flight can
//! never together exceed a limit. Money is kept in nano-dollars (integers),
//! so sums are exact.

use std::sync::Mutex;

use crate::event::Usage;
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::policy::budget::{Limit, OnExhausted, Price, PriceTable, nanos};

impl Price {
    /// Cost of tokens, nano-dollars.
    pub fn cost(&self, prompt: u64, completion: u64) -> u64 {
        // $/Mtok × tokens × 1e9 n$/$ / 1e6 = tokens × price × 1000 n$.
        (prompt as f64 * self.input * 1000.0 + completion as f64 * self.output * 1000.0).round()
            as u64
    }
}

impl PriceTable {
    /// Cost of tokens, nano-dollars.
    pub fn cost(&self, model: &str, prompt: u64, completion: u64) -> u64 {
        self.get(model).cost(prompt, completion)
    }
}

/// Tokens and money.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Spend {
    /// Tokens.
    pub tokens: u64,
    /// Nano-dollars.
    pub nanos: u64,
}

impl Spend {
    fn add(&mut self, o: Spend) {
        // Saturating: a code agent's report is not to be trusted to fit.
        self.tokens = self.tokens.saturating_add(o.tokens);
        self.nanos = self.nanos.saturating_add(o.nanos);
    }
    fn sub(&mut self, o: Spend) {
        self.tokens = self.tokens.saturating_sub(o.tokens);
        self.nanos = self.nanos.saturating_sub(o.nanos);
    }
}

/// A budget scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// The whole run.
    Run,
    /// One agent.
    Agent(AgentIdx),
    /// One node.
    Node(NodeIdx),
}

#[derive(Debug, Clone, Default)]
struct Account {
    limit: Limit,
    used: Spend,
    reserved: Spend,
    warned: bool,
}

impl Account {
    /// Whether `need` more fits under the limit with what is used and
    /// reserved; else the tokens left.
    fn fits(&self, need: Spend) -> Result<(), Option<u64>> {
        let committed = Spend {
            tokens: self.used.tokens.saturating_add(self.reserved.tokens),
            nanos: self.used.nanos.saturating_add(self.reserved.nanos),
        };
        let tokens_ok = self
            .limit
            .tokens
            .is_none_or(|l| committed.tokens.saturating_add(need.tokens) <= l);
        let money_ok = self
            .limit
            .usd
            .is_none_or(|l| committed.nanos.saturating_add(need.nanos) <= nanos(l));
        if tokens_ok && money_ok {
            Ok(())
        } else {
            Err(self
                .limit
                .tokens
                .map(|l| l.saturating_sub(committed.tokens)))
        }
    }

    fn fraction(&self) -> f64 {
        let t = self
            .limit
            .tokens
            .map_or(0.0, |l| self.used.tokens as f64 / l.max(1) as f64);
        let m = self
            .limit
            .usd
            .map_or(0.0, |l| self.used.nanos as f64 / nanos(l).max(1) as f64);
        t.max(m)
    }
}

/// Booked spending of one call in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "settle the reservation when the call ends"]
pub(crate) struct Reservation {
    agent: AgentIdx,
    node: Option<NodeIdx>,
    need: Spend,
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The scope whose limit it would break.
    pub scope: Scope,
    /// Tokens left in it.
    pub remaining_tokens: Option<u64>,
}

/// A change worth an event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BudgetNote {
    /// Spending of a limited scope.
    Updated {
        /// Scope.
        scope: Scope,
        /// Used.
        used: Spend,
        /// Limit.
        limit: Limit,
    },
    /// A limited scope crossed the warning threshold.
    Warning {
        /// Scope.
        scope: Scope,
        /// Fraction used.
        fraction: f64,
    },
}

#[derive(Debug)]
struct Accounts {
    run: Account,
    agents: Vec<Account>,
    nodes: Vec<Account>,
}

impl Accounts {
    fn get(&mut self, s: Scope) -> &mut Account {
        match s {
            Scope::Run => &mut self.run,
            Scope::Agent(a) => &mut self.agents[a],
            Scope::Node(n) => &mut self.nodes[n],
        }
    }
}

/// The budgets of one run.
#[derive(Debug)]
pub(crate) struct Ledger {
    accounts: Mutex<Accounts>,
    /// Soft warning threshold (fraction of a limit).
    pub warn_at: f64,
    /// Policy on exhaustion.
    pub on_exhausted: OnExhausted,
    /// Prices.
    pub prices: PriceTable,
    /// Woken when a limit changes (a paused call may fit now).
    pub changed: tokio::sync::Notify,
    /// Counts limit changes and resumes, so a waiter can tell whether one
    /// happened since it was refused (no lost wake-up).
    generation: std::sync::atomic::AtomicU64,
}

impl Ledger {
    /// A ledger with limits for the run, each agent and each node.
    pub fn new(
        run: Limit,
        agents: Vec<Limit>,
        nodes: Vec<Limit>,
        warn_at: f64,
        on_exhausted: OnExhausted,
        prices: PriceTable,
    ) -> Self {
        let acct = |limit| Account {
            limit,
            ..Default::default()
        };
        Ledger {
            accounts: Mutex::new(Accounts {
                run: acct(run),
                agents: agents.into_iter().map(acct).collect(),
                nodes: nodes.into_iter().map(acct).collect(),
            }),
            warn_at,
            on_exhausted,
            prices,
            changed: tokio::sync::Notify::new(),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Accounts> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn scopes(agent: AgentIdx, node: Option<NodeIdx>) -> impl Iterator<Item = Scope> {
        [
            Some(Scope::Run),
            Some(Scope::Agent(agent)),
            node.map(Scope::Node),
        ]
        .into_iter()
        .flatten()
    }

    /// The most a call could cost: its prompt plus its completion limit.
    pub fn estimate(&self, model: &str, prompt_tokens: u64, max_tokens: u64) -> Spend {
        Spend {
            tokens: prompt_tokens.saturating_add(max_tokens),
            nanos: self.prices.cost(model, prompt_tokens, max_tokens),
        }
    }

    /// Books `need` in the run, agent and node scopes, or refuses.
    pub fn reserve(
        &self,
        agent: AgentIdx,
        node: Option<NodeIdx>,
        need: Spend,
    ) -> Result<Reservation, Refusal> {
        let mut g = self.lock();
        for s in Self::scopes(agent, node) {
            if let Err(remaining_tokens) = g.get(s).fits(need) {
                return Err(Refusal {
                    scope: s,
                    remaining_tokens,
                });
            }
        }
        for s in Self::scopes(agent, node) {
            g.get(s).reserved.add(need);
        }
        Ok(Reservation { agent, node, need })
    }

    /// Replaces a reservation by the real spending of the call.
    pub fn settle(&self, r: Reservation, actual: Spend) -> Vec<BudgetNote> {
        let mut notes = Vec::new();
        let mut g = self.lock();
        for s in Self::scopes(r.agent, r.node) {
            let a = g.get(s);
            a.reserved.sub(r.need);
            a.used.add(actual);
            if a.limit.is_set() {
                notes.push(BudgetNote::Updated {
                    scope: s,
                    used: a.used,
                    limit: a.limit,
                });
                let f = a.fraction();
                if !a.warned && f >= self.warn_at {
                    a.warned = true;
                    notes.push(BudgetNote::Warning {
                        scope: s,
                        fraction: f,
                    });
                }
            }
        }
        notes
    }

    /// Changes a scope's limit (absent parts unchanged) and wakes calls
    /// waiting for room.
    pub fn set_limit(&self, scope: Scope, tokens: Option<u64>, usd: Option<f64>) -> (Spend, Limit) {
        let out = {
            let mut g = self.lock();
            let a = g.get(scope);
            if tokens.is_some() {
                a.limit.tokens = tokens;
            }
            if usd.is_some() {
                a.limit.usd = usd;
            }
            a.warned = a.fraction() >= self.warn_at;
            (a.used, a.limit)
        };
        self.wake();
        out
    }

    /// Wakes calls waiting for room (after a limit change or a resume).
    pub fn wake(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    /// Number of wake-ups so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Spending of a scope so far.
    pub fn used(&self, scope: Scope) -> Spend {
        self.lock().get(scope).used
    }

    /// Tokens reserved by calls in flight, in a scope.
    pub fn reserved(&self, scope: Scope) -> Spend {
        self.lock().get(scope).reserved
    }

    /// A scope's current limit.
    pub fn limit(&self, scope: Scope) -> Limit {
        self.lock().get(scope).limit
    }

    /// Books spending no reservation covers: tokens a code agent reported
    /// in an attempt that was then abandoned (timed out, paused, rerouted),
    /// to the run, the agent and the task's node.
    pub fn charge(&self, agent: AgentIdx, node: Option<NodeIdx>, spent: Spend) -> Vec<BudgetNote> {
        let r = Reservation {
            agent,
            node,
            need: Spend::default(),
        };
        self.settle(r, spent)
    }

    /// The largest fraction used among the run and the agent's limits.
    pub fn pressure(&self, agent: AgentIdx) -> f64 {
        let mut g = self.lock();
        g.run.fraction().max(g.get(Scope::Agent(agent)).fraction())
    }
}

/// Spending of a completed call.
pub(crate) fn spend(prices: &PriceTable, model: &str, u: &Usage) -> Spend {
    Spend {
        tokens: u.total(),
        nanos: prices.cost(model, u.prompt_tokens, u.completion_tokens),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::policy::budget::usd;

    fn ledger(run: Option<u64>) -> Ledger {
        Ledger::new(
            Limit {
                tokens: run,
                usd: None,
            },
            vec![Limit::default(); 2],
            vec![],
            0.8,
            OnExhausted::Fail,
            PriceTable::default(),
        )
    }

    #[test]
    fn huge_spends_saturate_instead_of_wrapping_under_the_limit() {
        let l = ledger(Some(3000));
        let huge = Spend {
            tokens: u64::MAX,
            nanos: u64::MAX,
        };
        l.charge(0, None, huge);
        l.charge(
            0,
            None,
            Spend {
                tokens: 11,
                nanos: 1,
            },
        );
        assert_eq!(l.used(Scope::Run).tokens, u64::MAX);
        // A wrapped sum (10 tokens) would have let this through.
        let small = Spend {
            tokens: 1,
            nanos: 0,
        };
        assert!(l.reserve(1, None, small).is_err());
    }

    #[test]
    fn reservations_in_flight_count_against_the_limit() {
        let l = ledger(Some(100));
        let need = Spend {
            tokens: 40,
            nanos: 0,
        };
        let a = l.reserve(0, None, need).unwrap();
        let b = l.reserve(1, None, need).unwrap();
        // 80 booked: a third 40-token call could reach 120, so it is refused.
        let r = l.reserve(0, None, need).unwrap_err();
        assert_eq!(r.scope, Scope::Run);
        assert_eq!(r.remaining_tokens, Some(20));
        // Settling for less frees the difference.
        l.settle(
            a,
            Spend {
                tokens: 10,
                nanos: 0,
            },
        );
        let c = l.reserve(0, None, need).unwrap();
        l.settle(
            b,
            Spend {
                tokens: 40,
                nanos: 0,
            },
        );
        let notes = l.settle(
            c,
            Spend {
                tokens: 35,
                nanos: 0,
            },
        );
        assert_eq!(l.used(Scope::Run).tokens, 85);
        assert!(notes.iter().any(|n| matches!(
            n,
            BudgetNote::Warning {
                scope: Scope::Run,
                ..
            }
        )));
        // Per-agent sums equal the run total.
        assert_eq!(
            l.used(Scope::Agent(0)).tokens + l.used(Scope::Agent(1)).tokens,
            l.used(Scope::Run).tokens
        );
        assert_eq!(l.reserved(Scope::Run), Spend::default());
    }

    #[test]
    fn money_limits_and_prices() {
        let p = PriceTable::default();
        // gpt-4o: 1M prompt tokens cost $2.50.
        assert_eq!(usd(p.cost("gpt-4o", 1_000_000, 0)), 2.5);
        assert_eq!(p.cost("unknown-model", 1000, 1000), 0);
        let l = Ledger::new(
            Limit {
                tokens: None,
                usd: Some(0.001),
            },
            vec![Limit::default()],
            vec![],
            0.8,
            OnExhausted::Fail,
            p,
        );
        // sim-1: 1000 prompt + 500 completion = 500 + 750 µ$ = $0.00125.
        let need = l.estimate("sim-1", 1000, 500);
        assert_eq!(need.nanos, 1_250_000);
        assert!(l.reserve(0, None, need).is_err());
        let small = l.estimate("sim-1", 400, 200);
        assert!(l.reserve(0, None, small).is_ok());
    }

    #[test]
    fn raising_a_limit_lets_refused_calls_through() {
        let l = ledger(Some(10));
        let need = Spend {
            tokens: 20,
            nanos: 0,
        };
        assert!(l.reserve(0, None, need).is_err());
        l.set_limit(Scope::Run, Some(50), None);
        assert!(l.reserve(0, None, need).is_ok());
    }
}
