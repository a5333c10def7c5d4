//! What reached the receiver: the exporters are wrapped to count what they
//! sent and what failed, and to keep the first error, so a run can say "12
//! spans not delivered: connection refused" instead of failing silently.
//! Spans the span processor's bounded queue dropped (it never blocks the
//! fold that feeds it) are the spans ended but never handed to an export.

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::secret::redact;

/// Counts shared by an export's wrappers and its handle.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Spans in export calls.
    spans_sent: AtomicU64,
    /// Spans in export calls that failed.
    spans_failed: AtomicU64,
    /// Metric export calls.
    metric_exports: AtomicU64,
    /// Metric export calls that failed.
    metric_failures: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Tally {
    fn failed(&self, what: &str, e: &dyn fmt::Display) {
        let mut g = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            *g = Some(format!("{what}: {}", redact(&e.to_string())));
        }
    }

    /// The figures now, given the spans the fold ended.
    pub(crate) fn report(&self, spans_ended: u64) -> Delivery {
        let sent = self.spans_sent.load(Ordering::Relaxed);
        Delivery {
            spans_ended,
            spans_dropped: spans_ended.saturating_sub(sent),
            spans_failed: self.spans_failed.load(Ordering::Relaxed),
            metric_exports: self.metric_exports.load(Ordering::Relaxed),
            metric_failures: self.metric_failures.load(Ordering::Relaxed),
            first_error: self
                .first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            timed_out: false,
        }
    }
}

/// What an export delivered, known when it finished.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delivery {
    /// Spans the run produced.
    pub spans_ended: u64,
    /// Spans dropped before an export (queue full, or not flushed in time).
    pub spans_dropped: u64,
    /// Spans in exports the receiver did not accept.
    pub spans_failed: u64,
    /// Metric exports made.
    pub metric_exports: u64,
    /// Metric exports that failed.
    pub metric_failures: u64,
    /// The first export error, scrubbed of credentials.
    pub first_error: Option<String>,
    /// The final flush did not finish within its bound.
    pub timed_out: bool,
}

impl Delivery {
    /// True when everything produced was accepted.
    pub fn complete(&self) -> bool {
        self.spans_dropped == 0
            && self.spans_failed == 0
            && self.metric_failures == 0
            && !self.timed_out
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lost = self.spans_dropped + self.spans_failed;
        write!(
            f,
            "{} of {} spans delivered",
            self.spans_ended.saturating_sub(lost),
            self.spans_ended
        )?;
        if self.spans_dropped > 0 {
            write!(f, ", {} dropped (queue full)", self.spans_dropped)?;
        }
        if self.metric_failures > 0 {
            write!(
                f,
                ", {} of {} metric exports failed",
                self.metric_failures, self.metric_exports
            )?;
        }
        if self.timed_out {
            write!(f, ", the final flush timed out")?;
        }
        if let Some(e) = &self.first_error {
            write!(f, " ({e})")?;
        }
        Ok(())
    }
}

/// A span exporter that counts what it sends.
#[derive(Debug)]
pub(crate) struct CountedSpans<E> {
    pub(crate) inner: E,
    pub(crate) tally: Arc<Tally>,
}

impl<E: SpanExporter> SpanExporter for CountedSpans<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        self.tally.spans_sent.fetch_add(n, Ordering::Relaxed);
        let r = self.inner.export(batch).await;
        if let Err(e) = &r {
            self.tally.spans_failed.fetch_add(n, Ordering::Relaxed);
            self.tally.failed("traces", e);
        }
        r
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A metric exporter that counts its exports.
pub(crate) struct CountedMetrics<E> {
    pub(crate) inner: E,
    pub(crate) tally: Arc<Tally>,
}

impl<E: PushMetricExporter> PushMetricExporter for CountedMetrics<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.tally.metric_exports.fetch_add(1, Ordering::Relaxed);
        let r = self.inner.export(metrics).await;
        if let Err(e) = &r {
            self.tally.metric_failures.fetch_add(1, Ordering::Relaxed);
            self.tally.failed("metrics", e);
        }
        r
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_counts_what_was_lost_and_says_why() {
        let t = Tally::default();
        t.spans_sent.store(8, Ordering::Relaxed);
        t.spans_failed.store(3, Ordering::Relaxed);
        t.failed(
            "traces",
            &"401 Unauthorized: Bearer sk-abcdefghijklmnopqrstu",
        );
        let d = t.report(10);
        assert_eq!((d.spans_dropped, d.spans_failed), (2, 3));
        assert!(!d.complete());
        let shown = d.to_string();
        assert!(
            shown.starts_with("5 of 10 spans delivered, 2 dropped"),
            "{shown}"
        );
        assert!(!shown.contains("sk-abcdef"), "{shown}");
        assert!(Tally::default().report(0).complete());
    }
}
