//! OpenTelemetry export of a run (`--otlp URL`, `[telemetry]` in
//! config.toml): the event stream as traces (see `span_tree` for the
//! span tree) and metrics, over OTLP/HTTP with protobuf bodies, named after
//! the GenAI semantic conventions ([`semconv::VERSION`]).
//!
//! Like the session recorder, this is a consumer of the event stream and
//! nothing else: [`Telemetry::start`] takes a receiver of the run's events
//! and folds them on a thread of its own. The engine only hands events to
//! that receiver; the fold never waits on the network (the SDK's batch
//! processor queues ended spans, bounded, dropping — and counting — what
//! does not fit, and exports from its own thread). [`Telemetry::finish`]
//! (or dropping the handle, on any other exit path) flushes both signals
//! within a bounded wait.
//!
//! Prompts, replies, task inputs and outputs and tool arguments and results
//! are exported only with [`ExportSettings::include_content`]; every string
//! that is exported passes the secret scrubber first.

mod content;
mod delivery;
mod exporter;
mod metrics;
mod run_shape;
pub mod semconv;
mod span_tree;

use std::sync::mpsc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::oneshot;

pub use delivery::Delivery;
pub use run_shape::RunShape;

use crate::event::{Event, EventKind};
use crate::secret::Secret;

/// The longest the final flush may hold up the end of a run.
pub const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// Where and what to export.
#[derive(Debug, Clone, Default)]
pub struct ExportSettings {
    /// Full URL that takes OTLP traces (`…/v1/traces`); `None`: no traces.
    pub traces: Option<String>,
    /// Full URL that takes OTLP metrics (`…/v1/metrics`); `None`: no metrics.
    pub metrics: Option<String>,
    /// Headers sent with every export (e.g. `authorization`).
    pub headers: Vec<(String, Secret)>,
    /// Export prompts, replies and tool data too.
    pub include_content: bool,
    /// `service.name` (default `agentctl`, or `OTEL_SERVICE_NAME`).
    pub service_name: Option<String>,
}

impl ExportSettings {
    /// Both signals to an OTLP/HTTP base URL (`http://host:4318`): traces
    /// to `/v1/traces`, metrics to `/v1/metrics` under it.
    pub fn to_base(base: &str) -> Self {
        ExportSettings {
            traces: Some(signal_url(base, "traces")),
            metrics: Some(signal_url(base, "metrics")),
            ..Default::default()
        }
    }
}

/// `base` + `/v1/<signal>`, as OTLP/HTTP names a signal's path.
pub fn signal_url(base: &str, signal: &str) -> String {
    format!("{}/v1/{signal}", base.trim_end_matches('/'))
}

/// A running export. [`Telemetry::finish`] flushes it; so does dropping it.
#[derive(Debug)]
pub struct Telemetry {
    stop: Option<oneshot::Sender<()>>,
    done: mpsc::Receiver<Delivery>,
    finished: bool,
}

/// The export could not start (a setting the SDK refused).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot start the OpenTelemetry export: {0}")]
pub struct TelemetryError(pub String);

impl Telemetry {
    /// Starts exporting the events `events` delivers (subscribe before the
    /// run starts, so it sees `session_started`). `session` is the run's
    /// session id: it names the trace.
    pub fn start(
        settings: ExportSettings,
        shape: RunShape,
        session: &str,
        events: UnboundedReceiver<Event>,
    ) -> Result<Telemetry, TelemetryError> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let (done_tx, done_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let session = session.to_string();
        // The SDK's blocking HTTP client must be built and dropped outside
        // an async runtime: the whole export lives on this thread.
        std::thread::Builder::new()
            .name("otel-export".into())
            .spawn(move || {
                let pipelines = match exporter::build(&settings, &session) {
                    Ok(p) => {
                        let _ = ready_tx.send(Ok(()));
                        p
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let delivery = fold(
                    pipelines,
                    content::Content::new(settings.include_content),
                    shape,
                    events,
                    stop_rx,
                );
                let _ = done_tx.send(delivery);
            })
            .map_err(|e| TelemetryError(format!("cannot start its thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Telemetry {
                stop: Some(stop_tx),
                done: done_rx,
                finished: false,
            }),
            Ok(Err(e)) => Err(TelemetryError(e)),
            Err(_) => Err(TelemetryError("its thread ended while starting".into())),
        }
    }

    /// Waits (at most `wait`) until everything the run produced was
    /// exported, and says what got through. Blocks the calling thread: from
    /// async code, call it through `spawn_blocking`.
    pub fn finish(mut self, wait: Duration) -> Delivery {
        self.finish_within(wait)
    }

    fn finish_within(&mut self, wait: Duration) -> Delivery {
        self.finished = true;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.done.recv_timeout(wait).unwrap_or(Delivery {
            timed_out: true,
            ..Delivery::default()
        })
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.finish_within(FLUSH_WAIT);
        }
    }
}

/// The export thread's work: fold events into spans and metrics until the
/// run ends (or `stop`), then end what is open and flush both signals.
fn fold(
    pipelines: exporter::Pipelines,
    content: content::Content,
    shape: RunShape,
    mut events: UnboundedReceiver<Event>,
    mut stop: oneshot::Receiver<()>,
) -> Delivery {
    use opentelemetry::trace::TracerProvider as _;
    let mut tree = pipelines
        .traces
        .as_ref()
        .map(|p| span_tree::SpanTree::new(p.tracer_with_scope(exporter::scope()), content, shape));
    let mut instruments = pipelines
        .metrics
        .as_ref()
        .map(|p| metrics::RunMetrics::new(&p.meter_with_scope(exporter::scope())));
    let mut apply = |ev: &Event| {
        if let Some(t) = tree.as_mut() {
            t.apply(ev);
        }
        if let Some(m) = instruments.as_mut() {
            m.apply(ev);
        }
        matches!(ev.kind, EventKind::SessionEnded { .. })
    };
    futures::executor::block_on(async {
        loop {
            tokio::select! {
                biased;
                ev = events.recv() => match ev {
                    Some(ev) => {
                        if apply(&ev) {
                            break;
                        }
                    }
                    None => break,
                },
                _ = &mut stop => {
                    // Whatever was emitted before the stop still counts.
                    while let Ok(ev) = events.try_recv() {
                        if apply(&ev) {
                            break;
                        }
                    }
                    break;
                }
            }
        }
    });
    let ended = tree.as_mut().map_or(0, |t| {
        t.close_all();
        t.ended()
    });
    drop(tree);
    drop(instruments);
    // Both flushes at once: the bound on the whole is one export timeout.
    std::thread::scope(|s| {
        if let Some(p) = &pipelines.traces {
            s.spawn(|| p.shutdown_with_timeout(exporter::EXPORT_TIMEOUT));
        }
        if let Some(p) = &pipelines.metrics {
            s.spawn(|| p.shutdown_with_timeout(exporter::EXPORT_TIMEOUT));
        }
    });
    pipelines.tally.report(ended)
}
