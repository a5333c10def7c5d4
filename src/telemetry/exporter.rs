//! The OpenTelemetry SDK pipelines of one export: OTLP over HTTP/protobuf,
//! spans through a batch processor with a bounded queue (it drops rather
//! than blocks when the receiver is slow; [`super::delivery`] counts the
//! drops), metrics through a periodic reader. Both export on threads of
//! their own, with the SDK's blocking HTTP client, so nothing here waits
//! on the network on the thread that feeds them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, IdGenerator, RandomIdGenerator, SdkTracerProvider,
};
use sha2::{Digest, Sha256};

use super::ExportSettings;
use super::delivery::{CountedMetrics, CountedSpans, Tally};
use super::semconv as sc;

/// Spans the batch processor holds before it drops new ones.
pub(crate) const SPAN_QUEUE: usize = 8192;
/// How long the batch processor waits to fill a batch.
const SPAN_DELAY: Duration = Duration::from_millis(500);
/// How often metrics are exported during a run (and once at the end).
const METRICS_INTERVAL: Duration = Duration::from_secs(15);
/// Longest wait for one export request.
pub(crate) const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// The built pipelines; each is `None` when its signal is off.
pub(crate) struct Pipelines {
    pub(crate) traces: Option<SdkTracerProvider>,
    pub(crate) metrics: Option<SdkMeterProvider>,
    pub(crate) tally: Arc<Tally>,
}

/// One trace per session: its id is derived from the session id, so a
/// resumed run's spans join the trace of the run it continues.
#[derive(Debug)]
struct SessionTraceId {
    trace: TraceId,
    spans: RandomIdGenerator,
}

impl IdGenerator for SessionTraceId {
    fn new_trace_id(&self) -> TraceId {
        self.trace
    }

    fn new_span_id(&self) -> SpanId {
        self.spans.new_span_id()
    }
}

/// The trace id of a session: the first 16 bytes of its SHA-256.
pub(crate) fn trace_id_of(session: &str) -> TraceId {
    let digest = Sha256::digest(session.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    TraceId::from_bytes(bytes)
}

/// The instrumentation scope of everything agentctl exports.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("agentctl")
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(sc::SCHEMA_URL)
        .build()
}

fn resource(settings: &ExportSettings, session: &str) -> Resource {
    let mut b = Resource::builder().with_attributes([
        opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        opentelemetry::KeyValue::new(sc::SESSION_ID, session.to_string()),
    ]);
    // OTEL_SERVICE_NAME (read by the default detectors) wins over our default.
    let name = settings.service_name.clone().or_else(|| {
        std::env::var_os("OTEL_SERVICE_NAME")
            .is_none()
            .then(|| "agentctl".to_string())
    });
    if let Some(n) = name {
        b = b.with_service_name(n);
    }
    b.build()
}

/// Builds the pipelines. Nothing is sent yet; an error is a bad setting.
pub(crate) fn build(settings: &ExportSettings, session: &str) -> Result<Pipelines, String> {
    let tally = Arc::new(Tally::default());
    let resource = resource(settings, session);
    let headers: HashMap<String, String> = settings
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().to_string()))
        .collect();
    let traces = match &settings.traces {
        None => None,
        Some(url) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(url.clone())
                .with_timeout(EXPORT_TIMEOUT)
                .with_headers(headers.clone())
                .build()
                .map_err(|e| {
                    format!(
                        "traces exporter for {}: {e}",
                        crate::secret::redact_url(url)
                    )
                })?;
            let processor = BatchSpanProcessor::builder(CountedSpans {
                inner: exporter,
                tally: tally.clone(),
            })
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(SPAN_QUEUE)
                    .with_scheduled_delay(SPAN_DELAY)
                    .build(),
            )
            .build();
            Some(
                SdkTracerProvider::builder()
                    .with_span_processor(processor)
                    .with_resource(resource.clone())
                    .with_id_generator(SessionTraceId {
                        trace: trace_id_of(session),
                        spans: RandomIdGenerator::default(),
                    })
                    .build(),
            )
        }
    };
    let metrics = match &settings.metrics {
        None => None,
        Some(url) => {
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(url.clone())
                .with_timeout(EXPORT_TIMEOUT)
                .with_headers(headers)
                .build()
                .map_err(|e| {
                    format!(
                        "metrics exporter for {}: {e}",
                        crate::secret::redact_url(url)
                    )
                })?;
            let reader = PeriodicReader::builder(CountedMetrics {
                inner: exporter,
                tally: tally.clone(),
            })
            .with_interval(METRICS_INTERVAL)
            .build();
            Some(
                SdkMeterProvider::builder()
                    .with_reader(reader)
                    .with_resource(resource)
                    .build(),
            )
        }
    };
    Ok(Pipelines {
        traces,
        metrics,
        tally,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_always_maps_to_the_same_trace() {
        let a = trace_id_of("1763677200-3fa2c");
        assert_eq!(a, trace_id_of("1763677200-3fa2c"));
        assert_ne!(a, trace_id_of("1763677200-3fa2d"));
        assert_ne!(a, TraceId::INVALID);
    }
}
