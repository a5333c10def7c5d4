//! `--otlp URL` (run, tui, resume) with `[telemetry]` from the config:
//! starting a run's OpenTelemetry export and saying, at the end, what got
//! through.

use clap::Args;

use agentctl::config::{Config, OtlpUrl};
use agentctl::event::Event;
use agentctl::telemetry::{ExportSettings, FLUSH_WAIT, RunShape, Telemetry};
use agentctl::workflow::model::Workflow;

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct TelemetryArgs {
    /// Export the run as OpenTelemetry traces and metrics (OTLP over HTTP) to
    /// this base URL, e.g. http://127.0.0.1:4318 (/v1/traces and /v1/metrics
    /// are appended). More settings: [telemetry] in the config.
    #[arg(long, value_name = "URL", value_parser = OtlpUrl::parse)]
    pub(crate) otlp: Option<OtlpUrl>,
}

impl TelemetryArgs {
    /// What to export, from the flag and the config (`None`: nothing).
    pub(crate) fn settings(&self, config: &Config) -> Option<ExportSettings> {
        config.telemetry.export_settings(self.otlp.as_ref())
    }
}

/// Starts the export of the run whose events `events` delivers, or says
/// why it cannot (a bad setting: exit code 2).
pub(crate) fn start(
    settings: Option<ExportSettings>,
    wf: &Workflow,
    session: &str,
    events: impl FnOnce() -> tokio::sync::mpsc::UnboundedReceiver<Event>,
) -> Result<Option<Telemetry>, i32> {
    let Some(settings) = settings else {
        return Ok(None);
    };
    match Telemetry::start(settings, RunShape::of(wf), session, events()) {
        Ok(t) => Ok(Some(t)),
        Err(e) => {
            eprintln!(
                "error: {e}\n  = hint: check --otlp and [telemetry] in the config (an http:// or https:// URL such as http://127.0.0.1:4318)"
            );
            Err(super::exit::BAD_INPUT)
        }
    }
}

/// Flushes the export (at most [`FLUSH_WAIT`]) off the async runtime and
/// reports: a warning when something did not get through, else one line
/// when `verbose`.
pub(crate) async fn finish(telemetry: Option<Telemetry>, verbose: bool) {
    let Some(t) = telemetry else { return };
    let delivery = match tokio::task::spawn_blocking(move || t.finish(FLUSH_WAIT)).await {
        Ok(d) => d,
        Err(_) => return,
    };
    if !delivery.complete() {
        eprintln!("warning: telemetry: {delivery}");
    } else if verbose {
        eprintln!("telemetry: {delivery}");
    }
}
