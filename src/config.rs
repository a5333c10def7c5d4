//! The user's configuration: `config.toml` in the platform config directory
//! (`~/.config/agentctl/config.toml` on Linux) or the file given with
//! `--config PATH`. See `assets/config.example.toml` for every key.
//!
//! This module owns the file format and the provider settings built from it;
//! the tables other parts of agentctl consume (prices, quotas, theme, keys)
//! are carried as TOML values for them to read.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
#[cfg(feature = "openai")]
use std::time::Duration;

use serde::Deserialize;

mod mcp;
mod nats;
mod telemetry;
pub use nats::NatsConfig;
pub use telemetry::{OtlpUrl, TelemetryConfig};

use crate::llm::Provider;
#[cfg(feature = "openai")]
use crate::llm::openai::{AzureDeployment, OpenAiProvider, OpenAiSettings};
#[cfg(feature = "openai")]
use crate::secret::Secret;
use crate::secret::redact;
use crate::workflow::provider_catalog::ProviderCatalog;

/// OpenAI's API root, used when nothing else is configured.
pub const OPENAI_DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// Default model of a configured provider that names none.
pub const OPENAI_DEFAULT_MODEL: &str = "gpt-4o-mini";

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Provider for agents that name none (default `sim`).
    #[serde(default)]
    pub default_provider: Option<String>,
    /// Model for agents that name none (default: the provider's `model`).
    #[serde(default)]
    pub default_model: Option<String>,
    /// Where sessions are written.
    #[serde(default)]
    pub session_dir: Option<PathBuf>,
    /// Named providers.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Price table overrides (`[prices."model"] input = .., output = ..`),
    /// per million tokens; read by the cost accounting.
    #[serde(default)]
    pub prices: toml::Table,
    /// Quotas (tokens/cost per run, per day...); read by the budget layer.
    #[serde(default)]
    pub quotas: toml::Table,
    /// Cockpit theme name or table.
    #[serde(default)]
    pub theme: Option<toml::Value>,
    /// Cockpit key overrides (`action = "key"`), read by the cockpit's keymap.
    #[serde(default)]
    pub keys: toml::Table,
    /// What the built-in tools may touch.
    #[serde(default)]
    pub tools: ToolsConfig,
    /// How `--nats` logs in to nats-server (scale-out).
    #[serde(default)]
    pub nats: NatsConfig,
    /// Where OpenTelemetry traces and metrics go (`--otlp`).
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// `[mcp.NAME]`: MCP servers any workflow's agents may use.
    #[serde(default)]
    pub mcp: BTreeMap<String, crate::mcp::McpServerSpec>,
    /// The `[mcp]` servers, checked (filled by [`Config::parse`]).
    #[serde(skip)]
    pub mcp_servers: Vec<crate::mcp::McpServer>,
}

/// The `[tools]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsConfig {
    /// Hosts `http_get` may fetch from (empty: `http_get` is off).
    #[serde(default)]
    pub http_allow: Vec<String>,
    /// Most model turns per agent call (default 8).
    #[serde(default)]
    pub max_turns: Option<u32>,
}

/// What kind of server a provider is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI's API or any server that speaks it.
    Openai,
    /// Azure OpenAI (deployment in the URL, `api-key` header).
    Azure,
}

/// One `[providers.NAME]` table.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Server kind.
    pub kind: ProviderKind,
    /// API root including `/v1` (Azure: the resource URL).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Environment variable holding the key (preferred over `api_key`).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The key itself (discouraged: keep the file private).
    #[serde(default)]
    pub api_key: Option<String>,
    /// `OpenAI-Organization`.
    #[serde(default)]
    pub organization: Option<String>,
    /// `OpenAI-Project`.
    #[serde(default)]
    pub project: Option<String>,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Longest silence while waiting for the server, in seconds (default 120).
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    /// Stream replies (default true).
    #[serde(default)]
    pub stream: Option<bool>,
    /// Calls in flight at once (default: adapts to what the server takes).
    #[serde(default)]
    pub max_in_flight: Option<u32>,
    /// Model for agents using this provider that name none.
    #[serde(default)]
    pub model: Option<String>,
    /// Azure: deployment name.
    #[serde(default)]
    pub deployment: Option<String>,
    /// Azure: `api-version`.
    #[serde(default)]
    pub api_version: Option<String>,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key_env", &self.api_key_env)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// A configuration problem: names the file and what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A loaded configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    /// The settings (empty when there is no file).
    pub config: Config,
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// Things the user should know (e.g. a file others can read).
    pub warnings: Vec<String>,
}

/// The default config file path for this platform.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "agentctl").map(|d| d.config_dir().join("config.toml"))
}

impl Config {
    /// Parses a config file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let mut c: Config = toml::from_str(text).map_err(|e| {
            // toml's message quotes the offending line, which may hold a key.
            ConfigError(format!(
                "{origin}: invalid config: {}",
                redact(&e.to_string())
            ))
        })?;
        c.mcp_servers = mcp::servers(&c.mcp, text, origin)?;
        Ok(c)
    }

    /// Reads `explicit` (must exist) or the default file (may be missing).
    pub fn load(explicit: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => match default_path() {
                Some(p) => (p, false),
                None => return Ok(LoadedConfig::default()),
            },
        };
        use crate::workflow::source_file::{self, SourceError};
        let text = match source_file::read_text(&path, source_file::MAX_TEXT_BYTES) {
            Ok(t) => t,
            Err(SourceError::Io(e)) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(LoadedConfig::default());
            }
            Err(e) => {
                return Err(ConfigError(format!(
                    "cannot read config file {}: {e}",
                    path.display()
                )));
            }
        };
        let config = Config::parse(&text, &path.display().to_string())?;
        let mut warnings = Vec::new();
        if let Some(w) = permission_warning(&path) {
            warnings.push(w);
        }
        config.check(&path.display().to_string())?;
        Ok(LoadedConfig {
            config,
            path: Some(path),
            warnings,
        })
    }

    fn check(&self, origin: &str) -> Result<(), ConfigError> {
        for (name, p) in &self.providers {
            if name == "sim" {
                return Err(ConfigError(format!(
                    "{origin}: [providers.sim]: `sim` is the built-in simulator and cannot be configured; pick another name"
                )));
            }
            if p.kind == ProviderKind::Azure && (p.deployment.is_none() || p.base_url.is_none()) {
                return Err(ConfigError(format!(
                    "{origin}: [providers.{name}]: kind = \"azure\" needs `base_url` (https://RESOURCE.openai.azure.com) and `deployment`"
                )));
            }
            if let Some(t) = p.timeout_secs
                && !(t.is_finite() && t > 0.0)
            {
                return Err(ConfigError(format!(
                    "{origin}: [providers.{name}]: `timeout_secs` must be a positive number of seconds, got {t}"
                )));
            }
        }
        if let Some(d) = &self.default_provider
            && d != "sim"
            && d != "openai"
            && !self.providers.contains_key(d)
        {
            return Err(ConfigError(format!(
                "{origin}: default_provider = \"{d}\" is not a configured provider; add [providers.{d}] or use sim/openai"
            )));
        }
        Ok(())
    }

    #[cfg(feature = "openai")]
    /// The settings of provider `name` (`openai` works without a table:
    /// `OPENAI_BASE_URL`/`OPENAI_API_KEY`), with `base_url_override` (from
    /// `--base-url`) replacing the configured URL. `None` if unknown.
    pub fn provider_settings(
        &self,
        name: &str,
        base_url_override: Option<&str>,
    ) -> Result<Option<OpenAiSettings>, ConfigError> {
        let table = self.providers.get(name);
        if table.is_none() && name != "openai" {
            return Ok(None);
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        // Keys leave the environment once read (secret::from_env).
        let key_env = crate::secret::from_env;
        let is_openai_default = name == "openai";
        let base_url = base_url_override
            .map(String::from)
            .or_else(|| table.and_then(|t| t.base_url.clone()))
            .or_else(|| is_openai_default.then(|| env("OPENAI_BASE_URL")).flatten())
            .unwrap_or_else(|| OPENAI_DEFAULT_BASE_URL.to_string());
        let key = match table {
            Some(t) => match (&t.api_key_env, &t.api_key) {
                (Some(var), _) => match key_env(var) {
                    Some(v) => Some(v),
                    None => {
                        return Err(ConfigError(format!(
                            "provider `{name}`: api_key_env = \"{var}\" but ${var} is not set; export it or remove api_key_env for a server that needs no key"
                        )));
                    }
                },
                (None, Some(k)) => Some(k.clone()),
                (None, None) => is_openai_default
                    .then(|| key_env("OPENAI_API_KEY"))
                    .flatten(),
            },
            None => key_env("OPENAI_API_KEY"),
        };
        let mut s = OpenAiSettings::new(name, base_url);
        s.api_key = Secret::new(key.unwrap_or_default());
        if let Some(t) = table {
            s.organization = t.organization.clone();
            s.project = t.project.clone();
            s.headers = t.headers.clone();
            if let Some(secs) = t.timeout_secs {
                s.timeout = Duration::from_secs_f64(secs);
            }
            if let Some(st) = t.stream {
                s.stream = st;
            }
            s.max_in_flight = t.max_in_flight.map(|n| n.max(1));
            if t.kind == ProviderKind::Azure {
                s.azure = Some(AzureDeployment {
                    deployment: t.deployment.clone().unwrap_or_default(),
                    api_version: t
                        .api_version
                        .clone()
                        .unwrap_or_else(|| "2024-10-21".to_string()),
                });
            }
        } else if let Some(org) = env("OPENAI_ORG_ID") {
            s.organization = Some(org);
        }
        Ok(Some(s))
    }

    /// The default model of provider `name`.
    pub fn provider_model(&self, name: &str) -> String {
        self.providers
            .get(name)
            .and_then(|p| p.model.clone())
            .or_else(|| self.default_model.clone())
            .unwrap_or_else(|| OPENAI_DEFAULT_MODEL.to_string())
    }

    /// The provider names workflows may use with this config: the
    /// built-ins, every `[providers.NAME]`, and `default_provider`.
    pub fn provider_catalog(&self) -> ProviderCatalog {
        let mut c = ProviderCatalog::builtin().with("openai", &self.provider_model("openai"));
        for name in self.providers.keys() {
            c = c.with(name, &self.provider_model(name));
        }
        let c = c.with_mcp_servers(self.mcp.keys().cloned().collect());
        match &self.default_provider {
            Some(d) => c.with_default(d),
            None => c,
        }
    }

    /// Builds provider `name`; `max_in_flight` (`--max-in-flight`)
    /// overrides the config's.
    #[cfg(feature = "openai")]
    pub fn build_provider(
        &self,
        name: &str,
        base_url_override: Option<&str>,
        max_in_flight: Option<u32>,
    ) -> Result<Option<Arc<dyn Provider>>, ConfigError> {
        let Some(mut settings) = self.provider_settings(name, base_url_override)? else {
            return Ok(None);
        };
        if let Some(n) = max_in_flight {
            settings.max_in_flight = Some(n.max(1));
        }
        let p = OpenAiProvider::new(settings)
            .map_err(|e| ConfigError(format!("provider `{name}`: {}", redact(&e.0))))?;
        Ok(Some(Arc::new(p)))
    }

    /// Without the `openai` feature no configured provider can be built:
    /// naming one is an error that says so.
    #[cfg(not(feature = "openai"))]
    pub fn build_provider(
        &self,
        name: &str,
        _base_url_override: Option<&str>,
        _max_in_flight: Option<u32>,
    ) -> Result<Option<Arc<dyn Provider>>, ConfigError> {
        if !self.providers.contains_key(name) && name != "openai" {
            return Ok(None);
        }
        Err(ConfigError(format!(
            "provider `{name}` is OpenAI-compatible, and this agentctl was built without the `openai` feature; enable it in Cargo.toml"
        )))
    }
}

#[cfg(unix)]
fn permission_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o044 != 0).then(|| {
        format!(
            "warning: config file {} is readable by other users (mode {:o}); it may hold API keys: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn permission_warning(_: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../assets/config.example.toml");

    #[test]
    fn the_example_parses() {
        let c = Config::parse(EXAMPLE, "config.example.toml").unwrap();
        assert!(c.providers.contains_key("local"));
        c.check("example").unwrap();
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::parse(
            "[providers.x]\nkind = \"openai\"\nbase_ulr = \"u\"\n",
            "c.toml",
        )
        .unwrap_err();
        assert!(e.0.contains("c.toml") && e.0.contains("base_ulr"), "{e}");
    }

    #[test]
    fn inline_key_and_overrides() {
        let c = Config::parse(
            "[providers.local]\nkind = \"openai\"\nbase_url = \"http://localhost:11434/v1\"\napi_key = \"sk-inline-MARKER\"\nmodel = \"llama3.2\"\ntimeout_secs = 5\n",
            "c.toml",
        )
        .unwrap();
        let s = c.provider_settings("local", None).unwrap().unwrap();
        assert_eq!(s.base_url, "http://localhost:11434/v1");
        assert_eq!(s.api_key.expose(), "sk-inline-MARKER");
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert!(!format!("{s:?} {c:?}").contains("MARKER"));
        let s = c
            .provider_settings("local", Some("http://127.0.0.1:9/v1"))
            .unwrap()
            .unwrap();
        assert_eq!(s.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(c.provider_model("local"), "llama3.2");
        assert!(c.provider_settings("nope", None).unwrap().is_none());
    }

    #[test]
    fn missing_key_env_is_an_error_naming_the_variable() {
        let c = Config::parse(
            "[providers.p]\nkind = \"openai\"\napi_key_env = \"AGENTCTL_TEST_UNSET_VAR_7\"\n",
            "c.toml",
        )
        .unwrap();
        let e = c.provider_settings("p", None).unwrap_err();
        assert!(e.0.contains("AGENTCTL_TEST_UNSET_VAR_7"), "{e}");
    }

    #[test]
    fn default_provider_must_exist() {
        let c = Config::parse("default_provider = \"ghost\"\n", "c.toml").unwrap();
        assert!(c.check("c.toml").unwrap_err().0.contains("ghost"));
    }
}
