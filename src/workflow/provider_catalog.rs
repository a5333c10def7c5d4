//! Which provider names a workflow may use, and each one's default model:
//! a value the caller builds and passes to `compile`, never global state.
//!
//! `sim` and `openai` are always there. The CLI adds the providers of
//! `config.toml` (`Config::provider_catalog`); read-only paths (replay)
//! build one from what the session recorded, so they need no config.

/// Built-in providers and the model each uses when an agent names none.
pub const BUILTIN: &[(&str, &str)] = &[("sim", "sim-1"), ("openai", "gpt-4o-mini")];

/// Known providers, the default one, and whether any name is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCatalog {
    /// (name, default model), built-ins first; a later entry of the same
    /// name replaces the earlier one.
    providers: Vec<(String, String)>,
    /// Provider of agents that name none.
    default: String,
    /// MCP servers declared outside the workflow (config.toml); `None`:
    /// not known here (library, replay), so any server name is accepted.
    mcp: Option<Vec<String>>,
}

impl Default for ProviderCatalog {
    fn default() -> Self {
        ProviderCatalog {
            providers: BUILTIN
                .iter()
                .map(|(n, m)| (n.to_string(), m.to_string()))
                .collect(),
            default: "sim".to_string(),
            mcp: None,
        }
    }
}

impl ProviderCatalog {
    /// Only the built-in providers, `sim` the default.
    pub fn builtin() -> Self {
        Self::default()
    }

    /// Adds (or replaces) provider `name` whose agents default to `model`.
    pub fn with(mut self, name: &str, model: &str) -> Self {
        match self.providers.iter_mut().find(|(n, _)| n == name) {
            Some(p) => p.1 = model.to_string(),
            None => self.providers.push((name.to_string(), model.to_string())),
        }
        self
    }

    /// Makes `name` the provider of agents that name none.
    pub fn with_default(mut self, name: &str) -> Self {
        self.default = name.to_string();
        self
    }

    /// Says which MCP servers exist outside the workflow (config.toml):
    /// agents may then list only those and the workflow's own.
    pub fn with_mcp_servers(mut self, names: Vec<String>) -> Self {
        self.mcp = Some(names);
        self
    }

    /// Whether an MCP server of that name may be used: declared outside the
    /// workflow, or any name when those are not known.
    pub fn mcp_server_known(&self, name: &str) -> bool {
        self.mcp
            .as_ref()
            .is_none_or(|m| m.iter().any(|n| n == name))
    }

    /// The MCP servers declared outside the workflow, when known.
    pub fn mcp_servers(&self) -> Vec<&str> {
        self.mcp.iter().flatten().map(String::as_str).collect()
    }

    /// The provider of agents that name none.
    pub fn default_provider(&self) -> &str {
        &self.default
    }

    /// The default model of a known provider; `None` if it is unknown.
    pub fn default_model(&self, name: &str) -> Option<&str> {
        self.providers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.as_str())
    }

    /// Every known name, built-ins first.
    pub fn names(&self) -> Vec<&str> {
        self.providers.iter().map(|(n, _)| n.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_configured_and_default() {
        let c = ProviderCatalog::builtin();
        assert_eq!(c.names(), ["sim", "openai"]);
        assert_eq!(c.default_model("sim"), Some("sim-1"));
        assert_eq!(c.default_model("local"), None);
        assert_eq!(c.default_provider(), "sim");
        let c = c
            .with("local", "tiny")
            .with("openai", "gpt-x")
            .with_default("local");
        assert_eq!(c.names(), ["sim", "openai", "local"]);
        assert_eq!(c.default_model("openai"), Some("gpt-x"));
        assert_eq!(
            (c.default_provider(), c.default_model("local")),
            ("local", Some("tiny"))
        );
    }
}
