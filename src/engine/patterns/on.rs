//! `on`: event-driven. The body runs once per message on a bus topic (sent
//! by another node's `emit`, an `emit` command, or anyone on the bus), or per
//! timer tick. The subscription is made when the run starts, so messages
//! published before this node is reached are not lost.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::engine::exec::{NodeResult, exec_node};
use crate::engine::run::{Run, Scope, TaskError};
use crate::event::EventKind;
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::on::OnNode;

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &OnNode,
    _input: Value,
    scope: &Scope,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let OnNode {
        topic,
        every,
        body,
        max_events,
        idle_timeout,
        forever,
    } = kind;
    let slot = run.triggers.get(&node);
    let mut guard = match slot {
        Some(m) => Some(m.lock().await),
        None => None,
    };
    let mut sub = guard.as_mut().and_then(|g| g.take());
    if sub.is_none()
        && let Some(t) = topic
    {
        sub = Some(
            run.bus
                .subscribe(t)
                .await
                .map_err(|e| TaskError::workflow(format!("{}: {e}", n.id)))?,
        );
    }
    let mut ticker = every.map(|d| {
        let mut i = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });

    // A node with its own timer always makes progress; one that waits
    // forever waits on purpose (the watchdog leaves the run alone).
    let _timer = (ticker.is_some() || *forever).then(|| run.waits.timer());
    let mut outputs = Vec::new();
    let mut fired = 0u32;
    let result = loop {
        if fired >= *max_events {
            break Ok(());
        }
        // The run's limits still end a node that waits forever.
        run.check_limit()?;
        let idle = async {
            if *forever {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(*idle_timeout).await;
        };
        // A wait for a message (no timer of its own) is a possible
        // deadlock: the watchdog ends it when nothing else could publish.
        let wait = match (topic, ticker.is_none() && !*forever) {
            (Some(t), true) => Some(
                run.waits
                    .enter(n.id.clone(), format!("a message on topic `{t}`")),
            ),
            _ => None,
        };
        let next: Option<(String, u64, Value)> = tokio::select! {
            _ = async { match &wait { Some(w) => w.deadlock.cancelled().await, None => std::future::pending().await } } => {
                break Err(TaskError::new(
                    crate::event::ErrorKind::Timeout,
                    format!(
                        "{}: deadlock: waited for a message on topic `{}`, but for {} ms (deadlock_ms) nothing was running, queued or timed that could publish one",
                        n.id,
                        topic.as_deref().unwrap_or(""),
                        run.wf.policy.deadlock.as_millis()
                    ),
                ));
            }
            m = async { match sub.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => {
                m.map(|m| (m.topic.to_string(), m.id, m.payload))
            }
            _ = async { match ticker.as_mut() { Some(t) => { t.tick().await; } None => std::future::pending::<()>().await } } => {
                Some(("timer".to_string(), 0, json!({"tick": fired + 1})))
            }
            _ = idle => None,
        };
        drop(wait);
        let Some((t, id, payload)) = next else {
            break Ok(());
        };
        fired += 1;
        run.emit(EventKind::TriggerFired {
            node: n.id.clone(),
            topic: t,
            message: id,
            count: fired,
        });
        let mut s = scope.nested(format_args!("{}@{fired}", n.id));
        s.message = Some(payload.clone());
        s.visit = fired - 1;
        match exec_node(run.clone(), *body, payload, s).await {
            Ok(v) => outputs.push(v),
            Err(e) => break Err(e),
        }
    };
    // Keep the subscription for a later visit of this node (inside a loop).
    if let Some(g) = guard.as_mut() {
        **g = sub;
    }
    result?;
    if outputs.is_empty() {
        return Err(TaskError::new(
            crate::event::ErrorKind::Timeout,
            format!(
                "{}: nothing fired within idle_timeout_ms = {}",
                n.id,
                idle_timeout.as_millis()
            ),
        ));
    }
    Ok(if *max_events == 1 {
        outputs.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(outputs)
    })
}
