//! The event stream as OpenTelemetry metrics: per model call, the GenAI
//! conventions' token-usage and duration histograms; per task, a count by
//! outcome and a duration histogram; from the run's `metrics` snapshots,
//! each agent's cost so far; from breaker events, each breaker's state.
//! Recording only updates in-memory aggregates; the SDK's periodic reader
//! exports them from its own thread.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, ObservableCounter, ObservableGauge};

use super::semconv as sc;
use crate::event::{BreakerState, Event, EventKind, Id};

/// Bucket bounds the GenAI conventions advise for token counts.
const TOKEN_BOUNDS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// Bucket bounds (seconds) the GenAI conventions advise for durations.
const DURATION_BOUNDS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// What the observable instruments read when the SDK collects.
#[derive(Debug, Default)]
struct Observed {
    /// Cost so far per agent, US dollars (from the latest snapshot).
    cost: Vec<(Id, f64)>,
    /// Breaker state per scope (agents and `provider:` endpoints).
    breakers: BTreeMap<Id, BreakerState>,
}

/// The instruments of one run, fed from its events.
pub(crate) struct RunMetrics {
    token_usage: Histogram<u64>,
    duration: Histogram<f64>,
    task_duration: Histogram<f64>,
    tasks: Counter<u64>,
    breaker_transitions: Counter<u64>,
    observed: Arc<Mutex<Observed>>,
    /// Start time (µs) of each call in flight, by (task, agent), for the
    /// duration of calls that fail (a failure reports no latency).
    started: HashMap<(Id, Id), u64>,
    _cost: ObservableCounter<f64>,
    _breaker_state: ObservableGauge<i64>,
}

fn breaker_value(s: BreakerState) -> i64 {
    match s {
        BreakerState::Closed => 0,
        BreakerState::HalfOpen => 1,
        BreakerState::Open => 2,
    }
}

impl RunMetrics {
    pub(crate) fn new(meter: &Meter) -> Self {
        let observed = Arc::new(Mutex::new(Observed::default()));
        let for_cost = observed.clone();
        let cost = meter
            .f64_observable_counter(sc::METRIC_COST)
            .with_unit("USD")
            .with_description("Money spent on model calls so far, per agent")
            .with_callback(move |o| {
                let g = for_cost.lock().unwrap_or_else(|p| p.into_inner());
                for (agent, usd) in &g.cost {
                    o.observe(*usd, &[KeyValue::new(sc::AGENT_NAME, agent.to_string())]);
                }
            })
            .build();
        let for_breakers = observed.clone();
        let breaker_state = meter
            .i64_observable_gauge(sc::METRIC_BREAKER_STATE)
            .with_description("Circuit breaker state: 0 closed, 1 half open, 2 open")
            .with_callback(move |o| {
                let g = for_breakers.lock().unwrap_or_else(|p| p.into_inner());
                for (scope, state) in &g.breakers {
                    o.observe(
                        breaker_value(*state),
                        &[KeyValue::new(sc::BREAKER_SCOPE, scope.to_string())],
                    );
                }
            })
            .build();
        RunMetrics {
            token_usage: meter
                .u64_histogram(sc::METRIC_TOKEN_USAGE)
                .with_unit("{token}")
                .with_description("Tokens used per model call, by token type")
                .with_boundaries(TOKEN_BOUNDS.to_vec())
                .build(),
            duration: meter
                .f64_histogram(sc::METRIC_OPERATION_DURATION)
                .with_unit("s")
                .with_description("Duration of model calls")
                .with_boundaries(DURATION_BOUNDS.to_vec())
                .build(),
            task_duration: meter
                .f64_histogram(sc::METRIC_TASK_DURATION)
                .with_unit("s")
                .with_description("Time from a task's first assignment to its completion")
                .with_boundaries(DURATION_BOUNDS.to_vec())
                .build(),
            tasks: meter
                .u64_counter(sc::METRIC_TASKS)
                .with_unit("{task}")
                .with_description("Tasks that ended, by outcome")
                .build(),
            breaker_transitions: meter
                .u64_counter(sc::METRIC_BREAKER_TRANSITIONS)
                .with_unit("{transition}")
                .with_description("Circuit breaker state changes, by new state")
                .build(),
            observed,
            started: HashMap::new(),
            _cost: cost,
            _breaker_state: breaker_state,
        }
    }

    pub(crate) fn apply(&mut self, ev: &Event) {
        use EventKind as K;
        match &ev.kind {
            K::LlmRequest { task, agent, .. } => {
                self.started.insert((task.clone(), agent.clone()), ev.ts);
            }
            K::LlmResponse {
                task,
                agent,
                provider,
                model,
                usage,
                latency_ms,
            } => {
                self.started.remove(&(task.clone(), agent.clone()));
                let attrs = call_attrs(provider, model, agent);
                self.duration.record(latency_ms / 1000.0, &attrs);
                let typed = |t: &'static str| {
                    let mut a = attrs.clone();
                    a.push(KeyValue::new(sc::TOKEN_TYPE, t));
                    a
                };
                self.token_usage
                    .record(usage.prompt_tokens, &typed("input"));
                self.token_usage
                    .record(usage.completion_tokens, &typed("output"));
            }
            K::LlmError {
                task, agent, kind, ..
            } => {
                if let Some(start) = self.started.remove(&(task.clone(), agent.clone())) {
                    let secs = ev.ts.saturating_sub(start) as f64 / 1e6;
                    let attrs = [
                        KeyValue::new(sc::OPERATION_NAME, sc::OP_CHAT),
                        KeyValue::new(sc::AGENT_NAME, agent.to_string()),
                        KeyValue::new(sc::ERROR_TYPE, sc::enum_name(kind)),
                    ];
                    self.duration.record(secs, &attrs);
                }
            }
            K::TaskCompleted {
                agent, duration_ms, ..
            } => {
                let mut attrs = vec![KeyValue::new(sc::OUTCOME, "completed")];
                if let Some(a) = agent {
                    attrs.push(KeyValue::new(sc::AGENT_NAME, a.to_string()));
                }
                self.tasks.add(1, &attrs);
                self.task_duration.record(duration_ms / 1000.0, &attrs);
            }
            K::TaskFailed {
                agent, held: false, ..
            } => {
                let mut attrs = vec![KeyValue::new(sc::OUTCOME, "failed")];
                if let Some(a) = agent {
                    attrs.push(KeyValue::new(sc::AGENT_NAME, a.to_string()));
                }
                self.tasks.add(1, &attrs);
            }
            K::BreakerStateChanged { scope, to, .. } => {
                self.observed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .breakers
                    .insert(scope.clone(), *to);
                self.breaker_transitions.add(
                    1,
                    &[
                        KeyValue::new(sc::BREAKER_SCOPE, scope.to_string()),
                        KeyValue::new(sc::BREAKER_TO, sc::enum_name(to)),
                    ],
                );
            }
            K::Metrics { snapshot } => {
                let mut g = self.observed.lock().unwrap_or_else(|p| p.into_inner());
                g.cost = snapshot
                    .agents
                    .iter()
                    .map(|a| (a.agent.clone(), a.counters.cost_usd))
                    .collect();
                for e in &snapshot.endpoints {
                    g.breakers.insert(e.endpoint.clone(), e.state);
                }
                // Every agent has a breaker state, closed until an event says otherwise.
                for a in &snapshot.agents {
                    g.breakers
                        .entry(a.agent.clone())
                        .or_insert(BreakerState::Closed);
                }
            }
            _ => {}
        }
    }
}

fn call_attrs(provider: &Id, model: &Id, agent: &Id) -> Vec<KeyValue> {
    vec![
        KeyValue::new(sc::OPERATION_NAME, sc::OP_CHAT),
        KeyValue::new(sc::PROVIDER_NAME, provider.to_string()),
        KeyValue::new(sc::REQUEST_MODEL, model.to_string()),
        KeyValue::new(sc::AGENT_NAME, agent.to_string()),
    ]
}
