//! Results in a JetStream KV bucket, keyed by attempt. A worker creates its
//! result's key (the first result per attempt wins: a second `create`
//! fails) and only then acks the call; the orchestrator watches the
//! session's keys. Results stored while the orchestrator is down stay in
//! the bucket for [`KEEP`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use futures::StreamExt;
use tokio::sync::oneshot;

use super::NatsError;
use super::work_item::WorkResult;
use crate::event::ErrorKind;
use crate::llm::ProviderError;

/// The bucket.
pub const BUCKET: &str = "agentctl_results";
/// How long results are kept.
pub const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// The result bucket, created when missing.
pub async fn bucket(js: &jetstream::Context) -> Result<kv::Store, NatsError> {
    super::connection::kv_bucket(js, BUCKET, KEEP, jetstream::stream::StorageType::File).await
}

/// Stores a worker's result unless the attempt has one already. True when
/// this one was stored.
pub async fn store(store: &kv::Store, key: &str, result: &WorkResult) -> Result<bool, NatsError> {
    let body = serde_json::to_vec(result).map_err(|e| NatsError::new("result", e))?;
    match store.create(key, body.into()).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(NatsError::new("cannot store a result", e)),
    }
}

/// How an awaited call ended.
pub type Arrival = Result<WorkResult, ProviderError>;

/// The orchestrator's side: one watch on the session's keys hands each
/// result to the call waiting for it.
pub struct ResultWaiters {
    store: kv::Store,
    waiting: Mutex<HashMap<String, oneshot::Sender<Arrival>>>,
    /// Work stream sequence → attempt key, to fail a call whose message
    /// reached `max_deliver`.
    sequences: Mutex<HashMap<u64, String>>,
}

impl ResultWaiters {
    /// Starts watching the keys under `prefix` (the session's).
    pub async fn start(store: kv::Store, prefix: &str) -> Result<Arc<Self>, NatsError> {
        let mut updates = store
            .watch(format!("{prefix}.>"))
            .await
            .map_err(|e| NatsError::new("cannot watch the result bucket", e))?;
        let me = Arc::new(ResultWaiters {
            store,
            waiting: Mutex::new(HashMap::new()),
            sequences: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&me);
        tokio::spawn(async move {
            while let Some(entry) = updates.next().await {
                let Some(me) = weak.upgrade() else { break };
                let Ok(entry) = entry else { continue };
                if entry.operation != kv::Operation::Put {
                    continue;
                }
                let arrival = serde_json::from_slice::<WorkResult>(&entry.value).map_err(|e| {
                    ProviderError::new(
                        ErrorKind::Server,
                        format!("a worker's result could not be read: {e}"),
                    )
                });
                me.deliver(&entry.key, arrival);
            }
        });
        Ok(me)
    }

    /// Registers a waiter for `key`, before its call is published.
    pub fn wait(&self, key: &str) -> oneshot::Receiver<Arrival> {
        let (tx, rx) = oneshot::channel();
        lock(&self.waiting).insert(key.to_string(), tx);
        rx
    }

    /// Forgets a waiter (its call was dropped).
    pub fn forget(&self, key: &str) {
        lock(&self.waiting).remove(key);
    }

    /// The result stored for `key` before anyone waited (a resumed run).
    pub async fn stored(&self, key: &str) -> Option<WorkResult> {
        let v = self.store.get(key).await.ok()??;
        serde_json::from_slice(&v).ok()
    }

    /// Notes which stream message carries `key`'s call.
    pub fn published(&self, key: &str, sequence: u64) {
        lock(&self.sequences).insert(sequence, key.to_string());
    }

    /// The call in stream message `sequence` has its result (or was
    /// dropped): forget the message, so the map holds only calls in flight.
    pub fn settled(&self, sequence: u64) {
        lock(&self.sequences).remove(&sequence);
    }

    /// The call in stream message `sequence` will not be delivered again.
    pub fn gave_up(&self, sequence: u64, deliveries: u64) {
        let Some(key) = lock(&self.sequences).remove(&sequence) else {
            return;
        };
        self.deliver(
            &key,
            Err(ProviderError::new(
                ErrorKind::Workflow,
                format!(
                    "the call was delivered to workers {deliveries} times and none of them returned a result (each died or stalled while running it); max_deliver was reached\n  = hint: check the workers' logs; a call that kills its worker will not succeed on another"
                ),
            )),
        );
    }

    fn deliver(&self, key: &str, arrival: Arrival) {
        // The first result per attempt wins; later ones find no waiter.
        if let Some(tx) = lock(&self.waiting).remove(key) {
            let _ = tx.send(arrival);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
