//! `[telemetry]` in config.toml: where a run's OpenTelemetry traces and
//! metrics go (OTLP over HTTP), and what they may hold. Header values are
//! treated as secrets, like API keys: `Debug` shows only their names.
//!
//! ```toml
//! [telemetry]
//! otlp = "http://127.0.0.1:4318"   # base URL: /v1/traces and /v1/metrics are appended
//! # traces_url = "http://127.0.0.1:6006/v1/traces"   # a signal's own URL wins over `otlp`
//! # metrics_url = "http://127.0.0.1:4318/v1/metrics"
//! # metrics = false                 # traces only (Phoenix, Jaeger)
//! include_content = false           # prompts, replies, tool data
//! # service_name = "agentctl"
//! # [telemetry.headers]
//! # authorization = "Bearer …"
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::secret::Secret;
use crate::telemetry::{ExportSettings, signal_url};

/// An `http://` or `https://` URL with a host, checked when read.
#[derive(Clone, PartialEq, Eq)]
pub struct OtlpUrl(String);

impl OtlpUrl {
    /// Checks `text`; the error says what is wrong and shows an example.
    pub fn parse(text: &str) -> Result<OtlpUrl, String> {
        let t = text.trim();
        let bad = |why: &str| {
            Err(format!(
                "`{}` {why}: give an http:// or https:// URL such as http://127.0.0.1:4318",
                crate::secret::redact_url(t)
            ))
        };
        let uri = match t.parse::<http::Uri>() {
            Ok(u) => u,
            Err(_) => return bad("is not a URL"),
        };
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return bad("is not an http(s) URL");
        }
        if uri.host().is_none_or(str::is_empty) {
            return bad("has no host");
        }
        Ok(OtlpUrl(t.to_string()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtlpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", crate::secret::redact_url(&self.0))
    }
}

impl<'de> Deserialize<'de> for OtlpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        OtlpUrl::parse(&s).map_err(serde::de::Error::custom)
    }
}

fn yes() -> bool {
    true
}

/// The `[telemetry]` table.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/HTTP base URL (what `--otlp` sets): traces go to
    /// `/v1/traces` and metrics to `/v1/metrics` under it.
    #[serde(default)]
    pub otlp: Option<OtlpUrl>,
    /// Full URL for traces, instead of `otlp` + `/v1/traces`.
    #[serde(default)]
    pub traces_url: Option<OtlpUrl>,
    /// Full URL for metrics, instead of `otlp` + `/v1/metrics`.
    #[serde(default)]
    pub metrics_url: Option<OtlpUrl>,
    /// Export traces (default true).
    #[serde(default = "yes")]
    pub traces: bool,
    /// Export metrics (default true; Phoenix and Jaeger take traces only).
    #[serde(default = "yes")]
    pub metrics: bool,
    /// Export prompts, replies, task inputs and outputs and tool arguments
    /// and results too (default false). Secrets are scrubbed either way.
    #[serde(default)]
    pub include_content: bool,
    /// `service.name` of the exported resource (default `agentctl`).
    #[serde(default)]
    pub service_name: Option<String>,
    /// Headers sent with every export, e.g. `authorization`; values are secrets.
    #[serde(default, deserialize_with = "headers")]
    pub headers: BTreeMap<String, Secret>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp: None,
            traces_url: None,
            metrics_url: None,
            traces: true,
            metrics: true,
            include_content: false,
            service_name: None,
            headers: BTreeMap::new(),
        }
    }
}

/// Header names and values as HTTP allows them; values kept as secrets.
fn headers<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Secret>, D::Error> {
    let raw = BTreeMap::<String, String>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (name, value) in raw {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(serde::de::Error::custom(format!(
                "header name `{name}` is not a valid HTTP header name"
            )));
        }
        if http::HeaderValue::from_str(&value).is_err() {
            return Err(serde::de::Error::custom(format!(
                "the value of header `{name}` has characters HTTP does not allow (control characters or non-ASCII)"
            )));
        }
        out.insert(name, Secret::new(value));
    }
    Ok(out)
}

impl fmt::Debug for TelemetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryConfig")
            .field("otlp", &self.otlp)
            .field("traces_url", &self.traces_url)
            .field("metrics_url", &self.metrics_url)
            .field("traces", &self.traces)
            .field("metrics", &self.metrics)
            .field("include_content", &self.include_content)
            .field("service_name", &self.service_name)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TelemetryConfig {
    /// What to export, with `otlp_flag` (`--otlp`) replacing `otlp`; `None`
    /// when nothing is to be exported. A signal's own URL (`traces_url`,
    /// `metrics_url`) wins over the base, as OTel's per-signal endpoint
    /// variables do.
    pub fn export_settings(&self, otlp_flag: Option<&OtlpUrl>) -> Option<ExportSettings> {
        let base = otlp_flag.or(self.otlp.as_ref()).map(OtlpUrl::as_str);
        let signal = |on: bool, own: &Option<OtlpUrl>, name: &str| {
            on.then(|| {
                own.as_ref()
                    .map(|u| u.as_str().to_string())
                    .or_else(|| base.map(|b| signal_url(b, name)))
            })
            .flatten()
        };
        let traces = signal(self.traces, &self.traces_url, "traces");
        let metrics = signal(self.metrics, &self.metrics_url, "metrics");
        if traces.is_none() && metrics.is_none() {
            return None;
        }
        Some(ExportSettings {
            traces,
            metrics,
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            include_content: self.include_content,
            service_name: self.service_name.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TelemetryConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn nothing_is_exported_without_a_url() {
        let c = parse("include_content = true").unwrap();
        assert!(c.export_settings(None).is_none());
        assert!(TelemetryConfig::default().export_settings(None).is_none());
    }

    #[test]
    fn the_flag_sets_the_base_and_a_signal_url_wins() {
        let c = parse("metrics_url = \"http://127.0.0.1:9/v1/metrics\"").unwrap();
        let flag = OtlpUrl::parse("http://127.0.0.1:6006/").unwrap();
        let s = c.export_settings(Some(&flag)).unwrap();
        assert_eq!(s.traces.as_deref(), Some("http://127.0.0.1:6006/v1/traces"));
        assert_eq!(s.metrics.as_deref(), Some("http://127.0.0.1:9/v1/metrics"));
        assert!(!s.include_content, "content is off by default");
        let c = parse("otlp = \"http://h:4318\"\nmetrics = false").unwrap();
        let s = c.export_settings(None).unwrap();
        assert_eq!(s.traces.as_deref(), Some("http://h:4318/v1/traces"));
        assert_eq!(s.metrics, None);
    }

    #[test]
    fn bad_urls_and_headers_are_errors_with_a_position() {
        let e = parse("otlp = \"localhost:4318\"").unwrap_err();
        assert!(
            e.contains("line 1") && e.contains("http://127.0.0.1:4318"),
            "{e}"
        );
        let e = parse("otlp = \"ftp://h\"").unwrap_err();
        assert!(e.contains("not an http(s) URL"), "{e}");
        let e = parse("[headers]\n\"bad name\" = \"x\"").unwrap_err();
        assert!(e.contains("bad name") && e.contains("[headers]"), "{e}");
        let e = parse("otlp = \"http://h\"\nbogus = 1").unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn header_values_never_show() {
        let c = parse(
            "otlp = \"http://u:pw-MARKER@h:4318\"\n[headers]\nauthorization = \"Bearer tok-MARKER\"",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            shown.contains("authorization") && !shown.contains("MARKER"),
            "{shown}"
        );
        let s = c.export_settings(None).unwrap();
        assert_eq!(s.headers[0].1.expose(), "Bearer tok-MARKER");
        assert!(!format!("{s:?}").contains("tok-MARKER"));
    }
}
