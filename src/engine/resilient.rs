//! The run's resilience state (issue #3): circuit breakers, response
//! caches, the budget ledger, provider quotas and metrics, built once per
//! run from the compiled policies. `agent_task.rs` asks it for decisions.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::budget::{Ledger, Scope};
use crate::event::{EventKind, Id};
use crate::metrics::{Metrics, Sample};
use crate::resilience::{CircuitBreaker, InFlightLimit, ProviderQuota, ResponseCache, Transition};
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::model::Workflow;
use crate::workflow::policy::AgentPolicy;
use crate::workflow::policy::budget::{Limit, Price, usd};
use crate::workflow::policy::retry::RetryPolicy;
use crate::workflow::policy::timeouts::Timeouts;

/// A circuit breaker shared by every agent calling one provider endpoint.
pub(crate) struct EndpointBreaker {
    /// Index in the metrics' endpoint list.
    pub(crate) index: usize,
    /// `provider:<name>` or `provider:<name>@<base url>`.
    pub(crate) scope: Id,
    pub(crate) breaker: CircuitBreaker,
}

/// The in-flight limit of one endpoint.
#[derive(Clone)]
pub(crate) struct EndpointSlots {
    /// The endpoint (base URL), for events.
    pub(crate) endpoint: Arc<str>,
    pub(crate) limit: Arc<InFlightLimit>,
}

pub(crate) struct Resilience {
    pub(crate) metrics: Metrics,
    pub(crate) started: tokio::time::Instant,
    breakers: Vec<Option<CircuitBreaker>>,
    /// Per agent: the breaker of the endpoint it calls, if configured.
    endpoints: Vec<Option<Arc<EndpointBreaker>>>,
    caches: Vec<Option<ResponseCache>>,
    pub(crate) ledger: Option<Ledger>,
    quotas: Vec<Option<Arc<ProviderQuota>>>,
    /// Per agent: the in-flight limit of the endpoint it calls (agents on
    /// one endpoint share it); none for the sim and code agents.
    in_flight: Vec<Option<EndpointSlots>>,
    /// The run is paused because a budget ran out (a `set_budget` resumes it).
    pub(crate) paused_by_budget: AtomicBool,
    /// No policy, budget or quota anywhere: every call takes the plain path.
    pub(crate) plain: bool,
    /// Each agent's model price, looked up once.
    pub(crate) prices: Vec<Price>,
    /// Shared context, when some agent reads it (`context_tokens`).
    pub(crate) context: Option<crate::context::ContextStore>,
}

impl Resilience {
    pub(crate) fn new(
        wf: &Workflow,
        provider_names: &[Id],
        providers: &[Arc<dyn crate::llm::Provider>],
    ) -> Self {
        let p = &wf.policy;
        // One breaker per (provider name, endpoint): agents calling the
        // same endpoint share it. Code agents (provider `custom` or
        // `command`) cannot be configured, so they get none.
        let mut by_endpoint: Vec<Arc<EndpointBreaker>> = Vec::new();
        let endpoints: Vec<Option<Arc<EndpointBreaker>>> = wf
            .agents
            .iter()
            .zip(provider_names.iter().zip(providers))
            .map(|(a, (actual, provider))| {
                // Keyed by the name the workflow uses (several names may
                // share one provider type); agents run by code are not
                // calls to an endpoint.
                if matches!(&**actual, "custom" | "command") {
                    return None;
                }
                let name = &a.provider;
                let policy = p.breakers.get(name)?;
                let scope: Id = match provider.endpoint() {
                    Some(url) => format!("provider:{name}@{url}").into(),
                    None => format!("provider:{name}").into(),
                };
                if let Some(e) = by_endpoint.iter().find(|e| e.scope == scope) {
                    return Some(e.clone());
                }
                let e = Arc::new(EndpointBreaker {
                    index: by_endpoint.len(),
                    scope,
                    breaker: CircuitBreaker::new(*policy),
                });
                by_endpoint.push(e.clone());
                Some(e)
            })
            .collect();
        let metrics = Metrics::new(wf.agents.iter().map(|a| a.id.clone()).collect())
            .with_endpoints(
                by_endpoint.iter().map(|e| e.scope.clone()).collect(),
                endpoints
                    .iter()
                    .map(|e| e.as_ref().map(|e| e.index))
                    .collect(),
            );
        let any_limit = p.budget.is_set()
            || wf.agents.iter().any(|a| a.policy.budget.is_set())
            || wf.nodes.iter().any(|n| n.policy.budget.is_set());
        let ledger = any_limit.then(|| {
            Ledger::new(
                p.budget,
                wf.agents.iter().map(|a| a.policy.budget).collect(),
                wf.nodes.iter().map(|n| n.policy.budget).collect(),
                p.warn_at,
                p.on_exhausted,
                p.prices.clone(),
            )
        });
        let mut by_provider: std::collections::HashMap<&str, Arc<ProviderQuota>> =
            Default::default();
        let quotas = provider_names
            .iter()
            .zip(&wf.agents)
            .map(|(name, a)| {
                let q = p.quotas.get(&a.provider)?;
                Some(
                    by_provider
                        .entry(name)
                        .or_insert_with(|| Arc::new(ProviderQuota::new(*q)))
                        .clone(),
                )
            })
            .collect();
        // One in-flight limit per endpoint: fixed where the workflow's
        // `[quotas.NAME]` or the provider's settings say, else adaptive.
        let mut by_url: Vec<EndpointSlots> = Vec::new();
        let in_flight = wf
            .agents
            .iter()
            .zip(provider_names.iter().zip(providers))
            .map(|(a, (actual, provider))| {
                if matches!(&**actual, "custom" | "command") {
                    return None;
                }
                let url = provider.endpoint()?;
                if let Some(e) = by_url.iter().find(|e| &*e.endpoint == url) {
                    return Some(e.clone());
                }
                let fixed = p
                    .quotas
                    .get(&a.provider)
                    .and_then(|q| q.max_in_flight)
                    .or_else(|| provider.max_in_flight());
                let e = EndpointSlots {
                    endpoint: url.into(),
                    limit: fixed.map_or_else(InFlightLimit::adaptive, InFlightLimit::fixed),
                };
                by_url.push(e.clone());
                Some(e)
            })
            .collect();
        let caches = wf
            .agents
            .iter()
            .map(|a| {
                a.policy.cache.map(|c| {
                    let cache = ResponseCache::new(c);
                    if c.persist
                        && let Some(path) = ResponseCache::default_path(&a.id)
                    {
                        cache.load(&path);
                    }
                    cache
                })
            })
            .collect();
        Resilience {
            metrics,
            started: tokio::time::Instant::now(),
            breakers: wf
                .agents
                .iter()
                .map(|a| a.policy.breaker.map(CircuitBreaker::new))
                .collect(),
            caches,
            endpoints: endpoints.clone(),
            plain: ledger.is_none()
                && p.quotas.is_empty()
                && endpoints.iter().all(Option::is_none)
                && wf.agents.iter().all(|a| a.policy.is_plain())
                && wf.nodes.iter().all(|n| n.policy.is_empty()),
            ledger,
            quotas,
            in_flight,
            paused_by_budget: AtomicBool::new(false),
            prices: wf.agents.iter().map(|a| p.prices.get(&a.model)).collect(),
            context: wf
                .agents
                .iter()
                .any(|a| a.policy.context_tokens.is_some())
                .then(|| crate::context::ContextStore::seeded(&wf.input)),
        }
    }

    pub(crate) fn breaker(&self, agent: AgentIdx) -> Option<&CircuitBreaker> {
        self.breakers.get(agent)?.as_ref()
    }

    /// The breaker of the endpoint `agent` calls, if configured.
    pub(crate) fn endpoint(&self, agent: AgentIdx) -> Option<&EndpointBreaker> {
        self.endpoints.get(agent)?.as_deref()
    }

    pub(crate) fn cache(&self, agent: AgentIdx) -> Option<&ResponseCache> {
        self.caches.get(agent)?.as_ref()
    }

    pub(crate) fn quota(&self, agent: AgentIdx) -> Option<&ProviderQuota> {
        self.quotas.get(agent)?.as_deref()
    }

    /// The in-flight limit of the endpoint `agent` calls, if it has one.
    pub(crate) fn in_flight(&self, agent: AgentIdx) -> Option<&EndpointSlots> {
        self.in_flight.get(agent)?.as_ref()
    }

    /// Writes persisted caches back (end of run).
    pub(crate) fn save_caches(&self, wf: &Workflow) {
        for (a, c) in wf.agents.iter().zip(&self.caches) {
            if let Some(c) = c
                && c.policy().persist
                && let Some(path) = ResponseCache::default_path(&a.id)
            {
                // Best effort: a cache that cannot be written costs only
                // speed next time.
                let _ = c.save(&path);
            }
        }
    }
}

/// The policies that apply to one call: the node's overrides over the
/// agent's.
pub(crate) struct Effective<'a> {
    pub(crate) retry: &'a RetryPolicy,
    pub(crate) timeouts: Timeouts,
    pub(crate) agent: &'a AgentPolicy,
}

impl<'a> Effective<'a> {
    pub(crate) fn of(wf: &'a Workflow, node: NodeIdx, agent: AgentIdx) -> Self {
        let np = &wf.nodes[node].policy;
        let ap = &wf.agents[agent].policy;
        Effective {
            retry: np.retry.as_ref().unwrap_or(&ap.retry),
            timeouts: match np.timeouts {
                None => ap.timeouts,
                Some(t) => Timeouts {
                    call: t.call.or(ap.timeouts.call),
                    task: t.task.or(ap.timeouts.task),
                },
            },
            agent: ap,
        }
    }
}

/// The event of a breaker state change (and the metrics it implies).
pub(crate) fn breaker_event(
    metrics: &Metrics,
    agent: AgentIdx,
    scope: &Id,
    t: Transition,
) -> EventKind {
    if t.to == crate::event::BreakerState::Open && t.from == crate::event::BreakerState::Closed {
        metrics.record(agent, Sample::BreakerOpened);
    }
    metrics.record(agent, Sample::Breaker(t.to));
    EventKind::BreakerStateChanged {
        scope: scope.clone(),
        from: t.from,
        to: t.to,
        reason: t.reason,
    }
}

/// The event of an endpoint breaker's state change (and its metrics).
pub(crate) fn endpoint_event(metrics: &Metrics, e: &EndpointBreaker, t: Transition) -> EventKind {
    metrics.record_endpoint(e.index, t.from, t.to);
    EventKind::BreakerStateChanged {
        scope: e.scope.clone(),
        from: t.from,
        to: t.to,
        reason: t.reason,
    }
}

/// `run`, `agent:<id>` or `node:<id>`.
pub(crate) fn scope_name(wf: &Workflow, s: Scope) -> String {
    match s {
        Scope::Run => "run".into(),
        Scope::Agent(a) => format!("agent:{}", wf.agents[a].id),
        Scope::Node(n) => format!("node:{}", wf.nodes[n].id),
    }
}

/// The `budget_updated` event of a scope.
pub(crate) fn budget_updated(
    wf: &Workflow,
    s: Scope,
    used: crate::budget::Spend,
    limit: Limit,
) -> EventKind {
    EventKind::BudgetUpdated {
        scope: scope_name(wf, s),
        used_tokens: used.tokens,
        used_usd: usd(used.nanos),
        limit_tokens: limit.tokens,
        limit_usd: limit.usd,
    }
}
