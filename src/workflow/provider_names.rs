//! Which provider names workflows may use, and each one's default model.
//!
//! The built-in names (`sim`, `openai`) are always known. Names configured in
//! `config.toml` are registered here by the CLI before it loads a workflow,
//! so validation can accept them and keep its located `unknown provider`
//! errors (file:line:col + hint) for everything else. The registry is
//! process-wide because validation is reached from many entry points
//! (`run`, `tui`, `validate`, builtins) that should all agree.

use std::sync::RwLock;

use super::validate::PROVIDERS;

struct Registry {
    /// Configured providers: (name, default model).
    extra: Vec<(String, String)>,
    /// Provider for agents that name none (`sim` unless configured).
    default: Option<String>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    extra: Vec::new(),
    default: None,
});

/// Makes `name` a known provider whose agents default to `default_model`
/// (replacing an earlier registration of the same name).
pub fn register(name: &str, default_model: &str) {
    let mut r = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    r.extra.retain(|(n, _)| n != name);
    r.extra.push((name.to_string(), default_model.to_string()));
}

/// Sets the provider used by agents that name none.
pub fn set_default(name: Option<&str>) {
    let mut r = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    r.default = name.map(String::from);
}

/// The provider for agents that name none.
pub fn default_provider() -> String {
    let r = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    r.default.clone().unwrap_or_else(|| "sim".to_string())
}

/// The default model of a known provider, or `None` if the name is unknown.
pub fn default_model(name: &str) -> Option<String> {
    let r = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    r.extra
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, m)| m.clone())
        .or_else(|| {
            PROVIDERS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, m)| m.to_string())
        })
}

/// Every known provider name, built-ins first.
pub fn names() -> Vec<String> {
    let r = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let mut names: Vec<String> = PROVIDERS.iter().map(|(n, _)| n.to_string()).collect();
    for (n, _) in &r.extra {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    names
}
