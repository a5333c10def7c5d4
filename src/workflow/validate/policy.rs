//! Validation of resilience policies, budgets, prices and quotas
//! (issue #3). Same rules as the rest of `compile`: every error located at
//! the offending value with a one-line hint.

use std::collections::HashMap;
use std::time::Duration;

use super::Ctx;
use super::suggest_hint;
use crate::workflow::index::AgentIdx;
use crate::workflow::kinds::compile_context::Owner;
use crate::workflow::kinds::{KindSpec, map::MapNodeSpec};
use crate::workflow::policy::{AgentPolicy, NodePolicy, Resolve, RunPolicy};
use crate::workflow::policy::{
    breaker::BreakerPolicy,
    budget::{Limit, OnExhausted, Price, PriceTable},
    cache::CachePolicy,
    degrade::DegradePolicy,
    quota::QuotaPolicy,
    retry::{KindSet, RetryPolicy},
    timeouts::Timeouts,
};
use crate::workflow::policy_spec::{
    BreakerSpec, BudgetSpec, CacheSpec, DegradeSpec, OnExhaustedName, RetrySpec,
};
use crate::workflow::provider_catalog::BUILTIN as PROVIDERS;
use crate::workflow::span::Spanned;

/// Policies every agent starts from: `[defaults]` over the built-in ones.
pub(super) struct Base {
    retry: RetryPolicy,
    timeouts: Timeouts,
    breaker: Option<BreakerPolicy>,
    cache: Option<CachePolicy>,
}

impl Ctx<'_> {
    fn positive(&mut self, o: Owner, key: &str, v: &Spanned<u64>, unit: &str) -> u64 {
        if v.value == 0 {
            let at = self.cx.value_span(o, key, &v.span, "0");
            self.cx.error(
                at,
                format!("`{key}` must be at least 1"),
                format!("set `{key}` to a positive number of {unit}"),
            );
        }
        v.value
    }

    fn millis_in(&mut self, o: Owner, key: &str, v: &Option<Spanned<u64>>) -> Option<Duration> {
        v.as_ref()
            .map(|v| Duration::from_millis(self.positive(o, key, v, "milliseconds")))
    }

    fn count(&mut self, o: Owner, key: &str, v: &Option<Spanned<u32>>, default: u32) -> u32 {
        match v {
            None => default,
            Some(v) => self.positive(
                o,
                key,
                &Spanned {
                    value: u64::from(v.value),
                    span: v.span.clone(),
                },
                "calls",
            ) as u32,
        }
    }

    fn fraction(&mut self, o: Owner, key: &str, v: &Spanned<f64>, hint: &str) -> f64 {
        if !(v.value > 0.0 && v.value <= 1.0) {
            let at = self.cx.value_span(o, key, &v.span, &v.value.to_string());
            self.cx.error(
                at,
                format!("`{key}` must be a fraction in (0, 1], got {}", v.value),
                hint.to_string(),
            );
        }
        v.value
    }

    fn non_negative(&mut self, o: Owner, key: &str, v: &Spanned<f64>) -> f64 {
        if !(v.value >= 0.0 && v.value.is_finite()) {
            let at = self.cx.value_span(o, key, &v.span, &v.value.to_string());
            self.cx.error(
                at,
                format!("`{key}` must be a non-negative number, got {}", v.value),
                "prices and limits are in US dollars, e.g. 2.5",
            );
        }
        v.value
    }

    fn retry_policy(&mut self, o: Owner, base: &RetryPolicy, r: &RetrySpec) -> RetryPolicy {
        let mut p = base.clone();
        if r.off {
            p.max_attempts = 1;
            return p;
        }
        let r = &r.table;
        // A `retry` table without `max_attempts` means "retry": 3 attempts.
        p.max_attempts = if base.max_attempts > 1 {
            base.max_attempts
        } else {
            3
        };
        if let Some(m) = &r.max_attempts {
            p.max_attempts = self.count(o, "max_attempts", &Some(m.clone()), 3);
        }
        if let Some(b) = r.base_ms {
            p.base = Duration::from_millis(b);
        }
        if let Some(f) = &r.factor {
            if !(f.value >= 1.0 && f.value.is_finite()) {
                let at = self
                    .cx
                    .value_span(o, "factor", &f.span, &f.value.to_string());
                self.cx.error(
                    at,
                    format!("`factor` must be at least 1, got {}", f.value),
                    "delays grow by this factor per retry; 2.0 doubles them",
                );
            } else {
                p.factor = f.value;
            }
        }
        if let Some(m) = r.max_delay_ms {
            p.max_delay = Duration::from_millis(m);
        }
        if p.max_delay < p.base {
            let at = self.cx.field_span(o, "max_delay_ms", None);
            self.cx.error(
                at,
                format!(
                    "`max_delay_ms` ({}) is below `base_ms` ({})",
                    p.max_delay.as_millis(),
                    p.base.as_millis()
                ),
                "raise `max_delay_ms` or lower `base_ms`",
            );
        }
        if let Some(j) = r.jitter {
            p.jitter = j;
        }
        if let Some(kinds) = &r.retry_on {
            p.retry_on = KindSet::EMPTY;
            for k in kinds {
                if !k.value.is_retryable() {
                    let name = serde_json::to_string(&k.value).unwrap_or_default();
                    let at = self.cx.value_span(o, "retry_on", &k.span, &name);
                    self.cx.error(
                        at,
                        format!("{name} errors are fatal and cannot be retried"),
                        "retryable kinds: \"timeout\", \"rate_limited\", \"server\", \"malformed\"",
                    );
                }
                p.retry_on.insert(k.value);
            }
        }
        p
    }

    fn breaker_policy(
        &mut self,
        o: Owner,
        base: Option<BreakerPolicy>,
        b: &BreakerSpec,
    ) -> BreakerPolicy {
        let mut p = base.unwrap_or_default();
        p.failures = self.count(o, "failures", &b.failures, p.failures);
        p.half_open_probes = self.count(
            o,
            "half_open_probes",
            &b.half_open_probes,
            p.half_open_probes,
        );
        if let Some(d) = self.millis_in(o, "window_ms", &b.window_ms) {
            p.window = d;
        }
        if let Some(d) = self.millis_in(o, "open_ms", &b.open_ms) {
            p.open_for = d;
        }
        p
    }

    fn cache_policy(&mut self, o: Owner, base: Option<CachePolicy>, c: &CacheSpec) -> CachePolicy {
        let mut p = base.unwrap_or(CachePolicy {
            ttl: Duration::from_secs(300),
            max_entries: 1000,
            persist: false,
        });
        if let Some(d) = self.millis_in(o, "ttl_ms", &c.ttl_ms) {
            p.ttl = d;
        }
        p.max_entries = self.count(o, "max_entries", &c.max_entries, p.max_entries as u32) as usize;
        if let Some(b) = c.persist {
            p.persist = b;
        }
        p
    }

    fn limit(&mut self, o: Owner, b: &BudgetSpec, run: bool) -> Limit {
        if !run {
            for (key, set) in [
                ("warn_at", b.warn_at.is_some()),
                ("on_exhausted", b.on_exhausted.is_some()),
            ] {
                if set {
                    let at = self.cx.field_span(o, key, None);
                    self.cx.error(
                        at,
                        format!("`{key}` is a run-wide setting"),
                        format!("move `{key}` to the `[budget]` table"),
                    );
                }
            }
        }
        Limit {
            tokens: b
                .tokens
                .as_ref()
                .map(|t| self.positive(o, "tokens", t, "tokens")),
            usd: b.usd.as_ref().map(|u| self.non_negative(o, "usd", u)),
        }
    }

    /// An agent named in a policy field of `o`.
    fn policy_agent(&mut self, o: Owner, key: &str, r: &Spanned<String>) -> Option<AgentIdx> {
        if let Some(&i) = self.cx.agent_ids.get(r.value.as_str()) {
            self.cx.used_agents.insert(i);
            return Some(i);
        }
        let at = self.cx.str_span(o, key, r);
        let names: Vec<&str> = self
            .spec
            .agents
            .iter()
            .map(|a| a.id.value.as_str())
            .collect();
        let hint = suggest_hint(&r.value, &names, "declared agents");
        self.cx
            .error(at, format!("unknown agent `{}` in `{key}`", r.value), hint);
        None
    }

    fn degrade_policy(&mut self, o: Owner, d: &DegradeSpec) -> Option<DegradePolicy> {
        let to = self.policy_agent(o, "to", &d.to)?;
        let budget_fraction = d.budget_fraction.as_ref().map(|f| {
            self.fraction(
                o,
                "budget_fraction",
                f,
                "e.g. 0.9 switches at 90% of the budget",
            )
        });
        let queue_depth = d
            .queue_depth
            .as_ref()
            .map(|q| self.count(o, "queue_depth", &Some(q.clone()), 1));
        Some(DegradePolicy {
            to,
            queue_depth,
            budget_fraction,
        })
    }

    /// `[defaults]`.
    pub(super) fn policy_base(&mut self) -> Base {
        let mut base = Base {
            retry: RetryPolicy::default(),
            timeouts: Timeouts::BUILT_IN,
            breaker: None,
            cache: None,
        };
        let Some(d) = &self.spec.defaults else {
            return base;
        };
        let o = Owner::Section("defaults");
        if let Some(r) = &d.retry {
            base.retry = self.retry_policy(o, &base.retry, r);
        }
        if let Some(c) = self.millis_in(o, "timeout_ms", &d.timeout_ms) {
            base.timeouts.call = Some(c);
        }
        if let Some(t) = self.millis_in(o, "task_timeout_ms", &d.task_timeout_ms) {
            base.timeouts.task = Some(t);
        }
        if let Some(b) = &d.breaker {
            base.breaker = Some(self.breaker_policy(o, None, b));
        }
        if let Some(c) = &d.cache {
            base.cache = Some(self.cache_policy(o, None, c));
        }
        base
    }

    /// An agent's policies (after every agent id is known).
    pub(super) fn agent_policy(&mut self, i: usize, base: &Base) -> AgentPolicy {
        let spec = self.spec;
        let a = &spec.agents[i];
        let o = Owner::Agent(i);
        let retry = match &a.retry {
            Some(r) => self.retry_policy(o, &base.retry, r),
            None => base.retry.clone(),
        };
        let timeouts = Timeouts {
            call: self
                .millis_in(o, "timeout_ms", &a.timeout_ms)
                .or(base.timeouts.call),
            task: self
                .millis_in(o, "task_timeout_ms", &a.task_timeout_ms)
                .or(base.timeouts.task),
        };
        let defaults_limit = spec
            .defaults
            .as_ref()
            .is_some_and(|d| d.timeout_ms.is_some() || d.task_timeout_ms.is_some());
        if a.sim.as_ref().is_some_and(|s| s.hang_rate > 0.0)
            && a.timeout_ms.is_none()
            && a.task_timeout_ms.is_none()
            && !defaults_limit
        {
            let at = self.cx.field_span(o, "hang_rate", None);
            self.cx.error(
                at,
                format!("agent `{}` injects hangs but has no time limit", a.id.value),
                "set `timeout_ms` on the agent or in `[defaults]`, or every hung call waits the built-in 300000 ms",
            );
        }
        let breaker = match &a.breaker {
            Some(b) => Some(self.breaker_policy(o, base.breaker, b)),
            None => base.breaker,
        };
        let cache = match &a.cache {
            Some(c) => Some(self.cache_policy(o, base.cache, c)),
            None => base.cache,
        };
        let mut fallbacks = Vec::new();
        for f in &a.fallbacks {
            if f.value == a.id.value {
                let at = self.cx.str_span(o, "fallbacks", f);
                self.cx.error(
                    at,
                    format!("agent `{}` is its own fallback", f.value),
                    "list other agents in `fallbacks`",
                );
                continue;
            }
            if let Some(x) = self.policy_agent(o, "fallbacks", f) {
                fallbacks.push(x);
            }
        }
        let budget = a
            .budget
            .as_ref()
            .map_or_else(Limit::default, |b| self.limit(o, b, false));
        let degrade = a.degrade.as_ref().and_then(|d| self.degrade_policy(o, d));
        if let Some(d) = &degrade
            && d.to == i
        {
            let at = self.cx.field_span(o, "degrade", None);
            self.cx.error(
                at,
                "an agent cannot degrade to itself",
                "name a cheaper agent in `degrade.to`",
            );
        }
        let max_batch = a.max_batch.as_ref().map(|m| {
            let v = Spanned {
                value: u64::from(m.value),
                span: m.span.clone(),
            };
            self.positive(o, "max_batch", &v, "items") as u32
        });
        AgentPolicy {
            retry,
            retry_explicit: a.retry.is_some()
                || spec.defaults.as_ref().is_some_and(|d| d.retry.is_some()),
            timeouts,
            breaker,
            cache,
            fallbacks,
            budget,
            degrade,
            context_tokens: a.context_tokens,
            max_batch,
        }
    }

    /// A node's overrides.
    pub(super) fn node_policy(&mut self, i: usize, base: &Base) -> NodePolicy {
        let spec = self.spec;
        let n = &spec.nodes[i];
        let o = Owner::Node(i);
        let (mut retry, mut timeouts, mut budget, mut degrade) =
            (None, None, Limit::default(), None);
        if let Some(c) = n.fields.call_policy() {
            retry = c
                .retry
                .as_ref()
                .map(|r| self.retry_policy(o, &base.retry, r));
            let call = self.millis_in(o, "timeout_ms", c.timeout_ms);
            let task = self.millis_in(o, "task_timeout_ms", c.task_timeout_ms);
            timeouts = (call.is_some() || task.is_some()).then_some(Timeouts { call, task });
            if let Some(b) = c.budget {
                budget = self.limit(o, b, false);
            }
            degrade = c.degrade.as_ref().and_then(|d| self.degrade_policy(o, d));
        }
        let resolve = match &n.fields {
            KindSpec::Parallel(p) => p.resolve.as_ref(),
            _ => None,
        };
        let resolve = resolve.and_then(|r| match r.value.as_str() {
            "confidence" => Some(Resolve::Confidence),
            "gate" => Some(Resolve::Gate),
            _ if self.cx.agent_ids.contains_key(r.value.as_str()) => {
                self.policy_agent(o, "resolve", r).map(Resolve::Agent)
            }
            other => {
                let at = self.cx.str_span(o, "resolve", r);
                let mut names: Vec<&str> = vec!["confidence", "gate"];
                names.extend(self.spec.agents.iter().map(|a| a.id.value.as_str()));
                let hint =
                    suggest_hint(other, &names, "use \"confidence\", \"gate\" or an agent id");
                self.cx
                    .error(at, format!("unknown conflict resolution `{other}`"), hint);
                None
            }
        });
        let agent = match &n.fields {
            KindSpec::Agent(a) => Some(a),
            _ => None,
        };
        let is_agent = agent.is_some();
        let expect_json = match agent.and_then(|a| a.expect.as_ref()) {
            None => false,
            Some(e) => match e.value.as_str() {
                "json" => true,
                "text" => false,
                other => {
                    let at = self.cx.str_span(o, "expect", e);
                    self.cx.error(
                        at,
                        format!("unknown reply format `{other}` in `expect`"),
                        "use \"json\" (the reply must be a JSON object or array) or \"text\"",
                    );
                    false
                }
            },
        };
        let schema = if is_agent { self.reply_schema(i) } else { None };
        let expect_json = expect_json || schema.is_some();
        // Plan, debate and vote nodes read `repair_attempts` themselves.
        let repairs = match agent {
            Some(a) => self.cx.int(i, "repair_attempts", &a.repair_attempts, 0, 1),
            None => 0,
        };
        let batch = match &n.fields {
            KindSpec::Map(m) => self.map_batch(i, m),
            _ => None,
        };
        NodePolicy {
            retry,
            timeouts,
            budget,
            degrade,
            resolve,
            expect_json,
            schema,
            repairs,
            batch,
        }
    }

    /// Items per call of a `map` whose body is an `agent` node and whose
    /// `batch_size` its agents accept (`max_batch`); none when they do not
    /// declare batches (the map then only starts items in waves of
    /// `batch_size`). Agents that only partly accept are an error.
    fn map_batch(&mut self, i: usize, n: &MapNodeSpec) -> Option<u32> {
        let spec = self.spec;
        let b = n.batch_size.as_ref()?;
        let size = u32::try_from(b.value).ok().filter(|&s| s >= 2)?;
        let body = &spec.nodes[*self.cx.node_ids.get(n.body.as_ref()?.value.as_str())?];
        let KindSpec::Agent(body) = &body.fields else {
            return None;
        };
        let agents: Vec<usize> = match (&body.agent, &body.capability) {
            (Some(a), None) => vec![*self.cx.agent_ids.get(a.value.as_str())?],
            (None, Some(c)) => (0..spec.agents.len())
                .filter(|&a| spec.agents[a].capabilities.contains(&c.value))
                .collect(),
            _ => return None,
        };
        let (accept, refuse): (Vec<usize>, Vec<usize>) = agents
            .into_iter()
            .partition(|&a| spec.agents[a].max_batch.is_some());
        if accept.is_empty() {
            return None;
        }
        let o = Owner::Node(i);
        let at = self
            .cx
            .value_span(o, "batch_size", &b.span, &b.value.to_string());
        if !refuse.is_empty() {
            let names: Vec<String> = refuse
                .iter()
                .map(|&a| format!("`{}`", spec.agents[a].id.value))
                .collect();
            self.cx.error(
                at,
                format!(
                    "`{}` hands batches of {size} to its body, but not every agent it can run on accepts batches: no `max_batch` on {}",
                    spec.nodes[i].id.value,
                    names.join(", ")
                ),
                "set `max_batch` on every agent the body can run on, or remove it from all",
            );
            return None;
        }
        let (least, who) = accept
            .iter()
            .map(|&a| {
                let m = spec.agents[a].max_batch.as_ref().map_or(0, |m| m.value);
                (m, a)
            })
            .min()?;
        if least < size {
            self.cx.error(
                at,
                format!(
                    "`batch_size` = {size} but agent `{}` accepts at most {least} items per call (`max_batch`)",
                    spec.agents[who].id.value
                ),
                format!("lower `batch_size` to {least}, or raise the agent's `max_batch`"),
            );
            return None;
        }
        Some(size)
    }

    /// `[budget]`, `[prices]`, `[quotas]`, metrics period.
    pub(super) fn run_policy(&mut self) -> RunPolicy {
        let spec = self.spec;
        let mut p = RunPolicy::default();
        if let Some(b) = &spec.budget {
            let o = Owner::Section("budget");
            p.budget = self.limit(o, b, true);
            if let Some(w) = &b.warn_at {
                p.warn_at = self.fraction(o, "warn_at", w, "e.g. 0.8 warns at 80% of a limit");
            }
            if let Some(e) = &b.on_exhausted {
                p.on_exhausted = match e.value {
                    OnExhaustedName::Pause => OnExhausted::Pause,
                    OnExhaustedName::Fail => OnExhausted::Fail,
                    OnExhaustedName::Degrade => OnExhausted::Degrade,
                };
            }
        }
        let mut prices = PriceTable::default();
        for (model, price) in &spec.prices {
            let o = Owner::Section("prices");
            let input = self.non_negative(o, "input", &price.input);
            let output = self.non_negative(o, "output", &price.output);
            prices.set(model, Price { input, output });
        }
        p.prices = prices;
        let mut quotas = HashMap::new();
        for (provider, q) in &spec.quotas {
            let o = Owner::Section("quotas");
            if !PROVIDERS.iter().any(|(name, _)| name == provider) {
                let at = self.cx.field_span(o, provider, None);
                let names: Vec<&str> = PROVIDERS.iter().map(|(n, _)| *n).collect();
                self.cx.error(
                    at,
                    format!("quota for unknown provider `{provider}`"),
                    suggest_hint(provider, &names, "known providers"),
                );
            }
            let rpm = q
                .rpm
                .as_ref()
                .map(|v| self.count(o, "rpm", &Some(v.clone()), 1));
            let tpm = q.tpm.as_ref().map(|v| self.positive(o, "tpm", v, "tokens"));
            let max_in_flight = q
                .max_in_flight
                .as_ref()
                .map(|v| self.count(o, "max_in_flight", &Some(v.clone()), 1));
            quotas.insert(
                provider.clone(),
                QuotaPolicy {
                    rpm,
                    tpm,
                    max_in_flight,
                },
            );
        }
        p.quotas = quotas;
        let catalog = self.providers;
        let known = catalog.names();
        for (provider, b) in &spec.breakers {
            let o = Owner::Section("breakers");
            if !known.iter().any(|n| n == provider) {
                let at = self.cx.field_span(o, provider, None);
                self.cx.error(
                    at,
                    format!("circuit breaker for unknown provider `{provider}`"),
                    suggest_hint(provider, &known, "known providers"),
                );
            }
            let policy = self.breaker_policy(o, None, b);
            p.breakers.insert(provider.clone(), policy);
        }
        if let Some(d) = &spec.defaults
            && let Some(ms) = &d.deadlock_ms
        {
            let o = Owner::Section("defaults");
            p.deadlock = Duration::from_millis(self.positive(o, "deadlock_ms", ms, "milliseconds"));
        }
        if let Some(d) = &spec.defaults
            && let Some(n) = &d.max_tasks
        {
            p.max_tasks = self.positive(Owner::Section("defaults"), "max_tasks", n, "tasks");
        }
        if let Some(d) = &spec.defaults
            && let Some(ms) = d.metrics_every_ms
        {
            p.metrics_every = (ms > 0).then(|| Duration::from_millis(ms));
        }
        p
    }
}
