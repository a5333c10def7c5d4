//! The run's view of the bus: every message published through it gets a
//! session-unique id and becomes a `bus` event, whoever publishes it (the
//! orchestrator, a node's `emit`, a Rust or command agent, a user command).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;

use super::emitter::Emitter;
use crate::bus::{BusError, MessageBus, SubscribeOptions, Subscription};
use crate::event::{BusMessage, EventKind};

pub(crate) struct TracedBus {
    inner: Arc<dyn MessageBus>,
    emitter: Arc<Emitter>,
    next_id: AtomicU64,
}

impl TracedBus {
    pub(crate) fn new(inner: Arc<dyn MessageBus>, emitter: Arc<Emitter>) -> Self {
        TracedBus {
            inner,
            emitter,
            next_id: AtomicU64::new(0),
        }
    }
}

impl MessageBus for TracedBus {
    fn publish(&self, mut msg: BusMessage) -> BoxFuture<'_, Result<(), BusError>> {
        msg.id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        Box::pin(async move {
            let copy = msg.clone();
            let r = self.inner.publish(msg).await;
            self.emitter.emit(EventKind::Bus { message: copy });
            r
        })
    }

    fn subscribe(&self, pattern: &str) -> BoxFuture<'_, Result<Subscription, BusError>> {
        self.inner.subscribe(pattern)
    }

    fn subscribe_with(
        &self,
        pattern: &str,
        options: SubscribeOptions,
    ) -> BoxFuture<'_, Result<Subscription, BusError>> {
        self.inner.subscribe_with(pattern, options)
    }
}
