//! Workers announce themselves: every worker puts its heartbeat (what it
//! serves, what it is doing) in a KV bucket at a fixed interval. The
//! orchestrator routes by it; `agentctl worker list` prints it. A worker
//! whose heartbeat is older than [`LOST_AFTER`] is lost; the bucket
//! forgets it after [`FORGET_AFTER`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, kv};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::NatsError;
use super::work_item::McpOffer;
use super::work_queue::Lane;

/// The bucket.
pub const BUCKET: &str = "agentctl_workers";
/// How often a worker beats.
pub const INTERVAL: Duration = Duration::from_millis(500);
/// A worker silent this long is lost.
pub const LOST_AFTER: Duration = Duration::from_secs(3);
/// The bucket's entries expire after this.
pub const FORGET_AFTER: Duration = Duration::from_secs(120);

/// One worker's heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Worker id.
    pub id: String,
    /// Host name.
    pub host: String,
    /// Capabilities served (`--capability`).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Agents served by id (`--agent`).
    #[serde(default)]
    pub agents: Vec<String>,
    /// Serves every model agent (no `--capability`/`--agent`).
    #[serde(default)]
    pub any: bool,
    /// Calls it runs at once.
    pub concurrency: u32,
    /// Calls running now.
    pub in_flight: u32,
    /// Calls finished.
    pub done: u64,
    /// Calls that failed.
    pub failures: u64,
    /// When it beat, Unix ms.
    pub at_ms: u64,
    /// False in the last beat of a worker that stopped cleanly.
    #[serde(default = "yes")]
    pub alive: bool,
    /// MCP servers it runs (`--mcp NAME`), with their tools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp: Vec<McpOffer>,
}

fn yes() -> bool {
    true
}

impl Heartbeat {
    /// Whether it serves calls on `lane`.
    pub fn serves(&self, lane: &Lane) -> bool {
        match lane {
            Lane::Agent(a) => self.agents.iter().any(|x| x == a),
            Lane::Capability(c) => self.capabilities.iter().any(|x| x == c),
            Lane::Any => self.any,
            Lane::Mcp(s) => self.mcp.iter().any(|m| &m.server == s),
        }
    }

    /// Whether it beat recently (by the wall clock `now_ms`).
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.alive && now_ms.saturating_sub(self.at_ms) <= millis(LOST_AFTER)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Now, Unix ms.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

/// The heartbeat bucket, created when missing.
pub async fn bucket(js: &jetstream::Context) -> Result<kv::Store, NatsError> {
    super::connection::kv_bucket(
        js,
        BUCKET,
        FORGET_AFTER,
        jetstream::stream::StorageType::Memory,
    )
    .await
}

/// Writes one heartbeat.
pub async fn beat(store: &kv::Store, hb: &Heartbeat) -> Result<(), NatsError> {
    let body = serde_json::to_vec(hb).map_err(|e| NatsError::new("heartbeat", e))?;
    store
        .put(super::work_queue::token(&hb.id), body.into())
        .await
        .map(|_| ())
        .map_err(|e| NatsError::new("cannot send a heartbeat", e))
}

/// Every worker's last heartbeat, by id. Reads the bucket's subjects from
/// its stream's info (a KV `keys()` listing only ends once nothing new
/// arrives, which never holds while workers beat).
pub async fn list(js: &jetstream::Context, store: &kv::Store) -> Result<Vec<Heartbeat>, NatsError> {
    let stream = js
        .get_stream(format!("KV_{BUCKET}"))
        .await
        .map_err(|e| NatsError::new("cannot list workers", e))?;
    let prefix = format!("$KV.{BUCKET}.");
    let mut subjects = stream
        .info_with_subjects(format!("{prefix}>"))
        .await
        .map_err(|e| NatsError::new("cannot list workers", e))?;
    let mut out = Vec::new();
    while let Some(s) = subjects.next().await {
        let Ok((subject, _)) = s else { break };
        let Some(key) = subject.strip_prefix(&prefix) else {
            continue;
        };
        if let Ok(Some(v)) = store.get(key).await
            && let Ok(hb) = serde_json::from_slice::<Heartbeat>(&v)
        {
            out.push(hb);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The orchestrator's live view of the workers, kept by a watch on the
/// bucket.
#[derive(Clone)]
pub struct WorkerTable {
    workers: Arc<Mutex<BTreeMap<String, Heartbeat>>>,
    changed: watch::Receiver<u64>,
}

impl WorkerTable {
    /// Starts watching the bucket. The watch outlives nats-server
    /// restarts: the bucket is in the server's memory, so after a restart
    /// it is made again and watched afresh, and a table that hears nothing
    /// for [`LOST_AFTER`] re-reads the bucket rather than trust a stalled
    /// watch.
    pub async fn watch(
        js: &jetstream::Context,
        store: kv::Store,
    ) -> Result<WorkerTable, NatsError> {
        let workers = Arc::new(Mutex::new(BTreeMap::new()));
        // Watch first, so no beat falls between the listing and the watch.
        let updates = store
            .watch(">")
            .await
            .map_err(|e| NatsError::new("cannot watch the worker bucket", e))?;
        for hb in list(js, &store).await? {
            lock(&workers).insert(hb.id.clone(), hb);
        }
        let (tx, rx) = watch::channel(0u64);
        tokio::spawn(keep_watching(
            js.clone(),
            store,
            updates,
            workers.clone(),
            tx,
        ));
        Ok(WorkerTable {
            workers,
            changed: rx,
        })
    }

    /// The live workers now.
    pub fn live(&self) -> Vec<Heartbeat> {
        let now = now_ms();
        lock(&self.workers)
            .values()
            .filter(|h| h.is_live(now))
            .cloned()
            .collect()
    }

    /// Calls the live workers serving `lane` run at once, together.
    pub fn capacity(&self, lane: &Lane) -> u32 {
        let now = now_ms();
        lock(&self.workers)
            .values()
            .filter(|h| h.is_live(now) && h.serves(lane))
            .map(|h| h.concurrency.max(1))
            .fold(0u32, u32::saturating_add)
    }

    /// Waits for the next heartbeat (any worker).
    pub async fn changed(&mut self) {
        let _ = self.changed.changed().await;
    }
}

/// Folds heartbeats into `table` until the table is dropped, watching the
/// bucket again whenever the watch ends, fails or goes quiet.
async fn keep_watching(
    js: jetstream::Context,
    mut store: kv::Store,
    mut updates: kv::Watch,
    table: Arc<Mutex<BTreeMap<String, Heartbeat>>>,
    tx: watch::Sender<u64>,
) {
    let mut n = 0u64;
    loop {
        let quiet = tokio::time::sleep(LOST_AFTER);
        tokio::pin!(quiet);
        let went_quiet = loop {
            tokio::select! {
                entry = updates.next() => match entry {
                    Some(Ok(entry)) => {
                        if let Ok(hb) = serde_json::from_slice::<Heartbeat>(&entry.value) {
                            lock(&table).insert(hb.id.clone(), hb);
                            n += 1;
                            if tx.send(n).is_err() {
                                return;
                            }
                        }
                        quiet.as_mut().reset(tokio::time::Instant::now() + LOST_AFTER);
                    }
                    Some(Err(_)) | None => break false,
                },
                () = &mut quiet => break true,
            }
        };
        if tx.is_closed() {
            return;
        }
        // Quiet (no worker, or a stalled watch) or broken: read the bucket
        // afresh, making it again if a restarted server lost it.
        if !went_quiet {
            tokio::time::sleep(INTERVAL).await;
        }
        if let Ok(s) = bucket(&js).await {
            store = s;
        }
        if let Ok(all) = list(&js, &store).await {
            let mut t = lock(&table);
            for hb in all {
                t.insert(hb.id.clone(), hb);
            }
        }
        n += 1;
        if tx.send(n).is_err() {
            return;
        }
        // A new watch either way: a quiet one may have silently lost its
        // stream, and re-making it costs one consumer.
        match store.watch(">").await {
            Ok(u) => updates = u,
            Err(_) => tokio::time::sleep(INTERVAL).await,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
