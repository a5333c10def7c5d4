//! `[nats]` in config.toml: how `--nats` logs in to nats-server. Secrets
//! are read once (from the file or the environment, which is then
//! scrubbed) and never printed: `Debug` shows only whether each is set.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::secret::Secret;

/// NATS credentials and TLS. Loopback needs none of them.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// User name (with `password` or `password_env`).
    #[serde(default)]
    pub user: Option<String>,
    /// Password (prefer `password_env`).
    #[serde(default)]
    pub password: Option<String>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Token (prefer `token_env`).
    #[serde(default)]
    pub token: Option<String>,
    /// Environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding an nkey seed (`SU…`).
    #[serde(default)]
    pub nkey_file: Option<PathBuf>,
    /// A `.creds` file (JWT and nkey seed).
    #[serde(default)]
    pub creds_file: Option<PathBuf>,
    /// CA certificate (PEM) the server's TLS certificate must chain to;
    /// setting it requires TLS.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
}

impl NatsConfig {
    /// The password: `password_env`'s variable, else `password`.
    pub fn password(&self) -> Option<Secret> {
        secret(self.password_env.as_deref(), self.password.as_deref())
    }

    /// The token: `token_env`'s variable, else `token`.
    pub fn token(&self) -> Option<Secret> {
        secret(self.token_env.as_deref(), self.token.as_deref())
    }
}

fn secret(env: Option<&str>, inline: Option<&str>) -> Option<Secret> {
    env.and_then(crate::secret::from_env)
        .or_else(|| inline.map(str::to_string))
        .filter(|s| !s.is_empty())
        .map(Secret::new)
}

impl fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |b: bool| if b { "[REDACTED]" } else { "none" };
        f.debug_struct("NatsConfig")
            .field("user", &self.user)
            .field("password", &set(self.password.is_some()))
            .field("password_env", &self.password_env)
            .field("token", &set(self.token.is_some()))
            .field("token_env", &self.token_env)
            .field("nkey_file", &self.nkey_file)
            .field("creds_file", &self.creds_file)
            .field("tls_ca", &self.tls_ca)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c: NatsConfig = toml::from_str(
            "user = \"orch\"\npassword = \"hunter2-very-secret\"\ntoken = \"tok-123456789\"",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            shown.contains("orch") && shown.contains("[REDACTED]"),
            "{shown}"
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-123"),
            "{shown}"
        );
        assert_eq!(c.password().unwrap().expose(), "hunter2-very-secret");
    }
}
