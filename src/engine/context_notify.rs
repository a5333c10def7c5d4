//! Context-change notifications: what a `context_put` with `notify = true`
//! writes is published on the run's bus, topic `context.<key>`, from the
//! agent that wrote it, so `on` nodes (and any other subscriber) react to
//! new information.

use std::sync::{Arc, Weak};

use serde_json::json;
use tokio::sync::mpsc::unbounded_channel;

use super::run::Run;
use crate::event::Id;

/// Stops the forwarding when the run ends.
pub(crate) struct Forwarding(tokio::task::JoinHandle<()>);

impl Drop for Forwarding {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Forwards the announced changes of `run`'s context store (if it has one)
/// to its bus, in the order they were written.
pub(crate) fn forward(run: &Arc<Run>) -> Option<Forwarding> {
    let store = run.res.context.as_ref()?;
    let (tx, mut rx) = unbounded_channel();
    store.notify_to(tx);
    // Weak: the forwarder must not keep a finished run alive.
    let weak: Weak<Run> = Arc::downgrade(run);
    Some(Forwarding(tokio::spawn(async move {
        while let Some(c) = rx.recv().await {
            let Some(run) = weak.upgrade() else { break };
            let topic: Id = Id::from(format!("context.{}", c.key).as_str());
            run.publish(
                topic,
                c.by,
                None,
                "context",
                json!({"key": c.key, "value": c.value}),
                Some(c.task),
            )
            .await;
        }
    })))
}
