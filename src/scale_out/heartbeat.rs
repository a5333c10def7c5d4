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
use crate::engine::dispatch::EventSink;
use crate::event::{EventKind, WorkerState};

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

    /// Every worker's last heartbeat, live or not.
    pub fn all(&self) -> Vec<Heartbeat> {
        lock(&self.workers).values().cloned().collect()
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

/// Tells one run about the workers it uses: `worker_seen` once per worker
/// (before any `worker_result` naming it), then `worker_status` when one
/// is lost, comes back or stops, or (at most once per [`STATUS_EVERY`])
/// when what it runs changed: never an event per heartbeat. Swept by the
/// run's calls while they wait, so it says nothing once the run is over.
pub struct WorkerLog {
    events: EventSink,
    table: WorkerTable,
    reported: Mutex<BTreeMap<String, Reported>>,
    /// When it last swept (ms since `epoch`), so many waiting calls sweep
    /// once.
    last_sweep_ms: std::sync::atomic::AtomicU64,
    epoch: std::time::Instant,
}

/// Rate of `worker_status` events about changed counts, per worker.
pub const STATUS_EVERY: Duration = Duration::from_secs(1);
/// Sweeps closer together than this are skipped.
const SWEEP_EVERY: Duration = Duration::from_millis(200);

/// What the run was last told about a worker.
struct Reported {
    state: WorkerState,
    counts: (u32, u64, u64),
    at: std::time::Instant,
}

impl WorkerLog {
    /// A log writing into a run's `events`.
    pub fn new(events: EventSink, table: WorkerTable) -> Self {
        WorkerLog {
            events,
            table,
            reported: Mutex::new(BTreeMap::new()),
            last_sweep_ms: std::sync::atomic::AtomicU64::new(0),
            epoch: std::time::Instant::now(),
        }
    }

    /// Makes sure the run was told about worker `id` (a result names it).
    pub fn note(&self, id: &str) {
        if lock(&self.reported).contains_key(id) {
            return;
        }
        self.sweep_now(Some(id));
    }

    /// Compares the workers with what the run was told, unless another
    /// caller just did.
    pub fn sweep(&self) {
        use std::sync::atomic::Ordering;
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < millis(SWEEP_EVERY) {
            return;
        }
        if self
            .last_sweep_ms
            .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.sweep_now(None);
        }
    }

    /// `named`: a worker to tell about even if it is no longer live.
    fn sweep_now(&self, named: Option<&str>) {
        let now = now_ms();
        let mut reported = lock(&self.reported);
        for hb in self.table.all() {
            let state = if !hb.alive {
                WorkerState::Stopped
            } else if hb.is_live(now) {
                WorkerState::Live
            } else {
                WorkerState::Lost
            };
            let counts = (hb.in_flight, hb.done, hb.failures);
            let r = match reported.get_mut(&hb.id) {
                Some(r) => r,
                // Old entries of workers gone before this run are no news.
                None if state != WorkerState::Live && named != Some(hb.id.as_str()) => continue,
                None => {
                    (self.events)(EventKind::WorkerSeen {
                        worker: hb.id.clone(),
                        host: hb.host.clone(),
                        capabilities: hb.capabilities.clone(),
                        agents: hb.agents.clone(),
                        any: hb.any,
                        concurrency: hb.concurrency,
                    });
                    // What `worker_seen` says; anything else follows.
                    reported.entry(hb.id.clone()).or_insert(Reported {
                        state: WorkerState::Live,
                        counts: (0, 0, 0),
                        at: std::time::Instant::now() - STATUS_EVERY,
                    })
                }
            };
            let news = r.state != state || (r.counts != counts && r.at.elapsed() >= STATUS_EVERY);
            if !news {
                continue;
            }
            *r = Reported {
                state,
                counts,
                at: std::time::Instant::now(),
            };
            (self.events)(EventKind::WorkerStatus {
                worker: hb.id.clone(),
                state,
                in_flight: counts.0,
                done: counts.1,
                failures: counts.2,
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn table(beats: &[Heartbeat]) -> WorkerTable {
        let (_tx, rx) = watch::channel(0u64);
        WorkerTable {
            workers: Arc::new(Mutex::new(
                beats.iter().map(|h| (h.id.clone(), h.clone())).collect(),
            )),
            changed: rx,
        }
    }

    fn beat(id: &str, in_flight: u32, ago_ms: u64) -> Heartbeat {
        Heartbeat {
            id: id.into(),
            host: "box".into(),
            capabilities: vec![],
            agents: vec![],
            any: true,
            concurrency: 4,
            in_flight,
            done: 0,
            failures: 0,
            at_ms: now_ms() - ago_ms,
            alive: true,
            mcp: vec![],
        }
    }

    fn logged() -> (EventSink, Arc<Mutex<Vec<EventKind>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        (Arc::new(move |k| lock(&g).push(k)), got)
    }

    fn put(t: &WorkerTable, hb: Heartbeat) {
        lock(&t.workers).insert(hb.id.clone(), hb);
    }

    #[test]
    fn workers_are_told_once_then_on_changes_at_a_bounded_rate_and_when_lost() {
        let t = table(&[beat("w1", 0, 0), beat("gone", 0, 60_000)]);
        let (sink, got) = logged();
        let log = WorkerLog::new(sink, t.clone());
        log.sweep_now(None);
        // The worker gone before this run is no news.
        assert!(
            matches!(&lock(&got)[..], [EventKind::WorkerSeen { worker, any: true, concurrency: 4, .. }] if worker == "w1"),
            "{:?}",
            lock(&got)
        );
        // Many beats with changing counts inside one second: one status.
        for n in 1..=20 {
            put(&t, beat("w1", n % 3 + 1, 0));
            log.sweep_now(None);
        }
        let statuses = |g: &[EventKind]| {
            g.iter()
                .filter(|k| matches!(k, EventKind::WorkerStatus { .. }))
                .count()
        };
        assert_eq!(statuses(&lock(&got)), 1, "{:?}", lock(&got));
        // Silent past the grace: lost, at once, whatever the rate.
        put(&t, beat("w1", 2, millis(LOST_AFTER) + 500));
        log.sweep_now(None);
        assert!(
            matches!(
                lock(&got).last(),
                Some(EventKind::WorkerStatus {
                    state: WorkerState::Lost,
                    ..
                })
            ),
            "{:?}",
            lock(&got)
        );
        let n = lock(&got).len();
        log.sweep_now(None);
        assert_eq!(lock(&got).len(), n, "lost is told once");
        // Beating again: back.
        put(&t, beat("w1", 0, 0));
        log.sweep_now(None);
        assert!(matches!(
            lock(&got).last(),
            Some(EventKind::WorkerStatus {
                state: WorkerState::Live,
                ..
            })
        ));
    }

    #[test]
    fn a_result_names_a_worker_that_died_since_and_it_is_still_told() {
        let t = table(&[beat("late", 0, 60_000)]);
        let (sink, got) = logged();
        let log = WorkerLog::new(sink, t);
        log.note("late");
        let g = lock(&got);
        assert!(
            matches!(
                &g[..],
                [
                    EventKind::WorkerSeen { .. },
                    EventKind::WorkerStatus {
                        state: WorkerState::Lost,
                        ..
                    }
                ]
            ),
            "{g:?}"
        );
    }
}
