//! Connecting to nats-server: the URL and the credentials.

use std::time::Duration;

use async_nats::jetstream;

use super::NatsError;

/// Where nats-server is and how to log in.
#[derive(Debug, Clone, Default)]
pub struct NatsSettings {
    /// `nats://host:port` (or several, comma-separated).
    pub url: String,
    /// Credentials and TLS (`[nats]` of the config).
    pub auth: crate::config::NatsConfig,
}

/// A connection and its JetStream context.
#[derive(Clone)]
pub struct Nats {
    /// Core NATS (pub/sub).
    pub client: async_nats::Client,
    /// JetStream on it.
    pub js: jetstream::Context,
}

impl Nats {
    /// Connects as `name` (shown in the server's connection list). Retries
    /// after a lost connection by itself, without end: a short outage makes
    /// calls wait, not fail.
    pub async fn connect(settings: &NatsSettings, name: &str) -> Result<Nats, NatsError> {
        let mut options = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None);
        let auth = &settings.auth;
        if let Some(path) = &auth.creds_file {
            options = options.credentials_file(path).await.map_err(|e| {
                NatsError(format!(
                    "[nats] creds_file {}: {e}\n  = hint: point creds_file at the .creds file nsc or your NATS operator gave you",
                    path.display()
                ))
            })?;
        }
        if let Some(path) = &auth.nkey_file {
            let seed = std::fs::read_to_string(path)
                .map_err(|e| NatsError(format!("[nats] nkey_file {}: {e}", path.display())))?;
            options = options.nkey(seed.trim().to_string());
        }
        match (&auth.user, auth.password()) {
            (Some(user), Some(pass)) => {
                options = options.user_and_password(user.clone(), pass.expose().to_string());
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(NatsError(
                    "[nats] needs both `user` and `password` (or `password_env`)".into(),
                ));
            }
            (None, None) => {}
        }
        if let Some(token) = auth.token() {
            options = options.token(token.expose().to_string());
        }
        if let Some(ca) = &auth.tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        let client = options.connect(settings.url.as_str()).await.map_err(|e| {
            NatsError(format!(
                "cannot connect to NATS at {}: {}\n  = hint: start a server with JetStream (nats-server -js -a 127.0.0.1 -p 4222 -sd DIR), and check [nats] in the config for its credentials",
                crate::secret::redact_url(&settings.url),
                crate::secret::redact(&e.to_string())
            ))
        })?;
        let js = jetstream::new(client.clone());
        Ok(Nats { client, js })
    }
}

/// A KV bucket with one value per key, created when missing. Creates the
/// bucket's stream itself with the KV layout: async-nats 0.51's
/// `create_key_value` first reads the account info, whose nats-server 2.9
/// form it cannot parse.
pub async fn kv_bucket(
    js: &jetstream::Context,
    bucket: &str,
    max_age: Duration,
    storage: jetstream::stream::StorageType,
) -> Result<jetstream::kv::Store, NatsError> {
    if let Ok(s) = js.get_key_value(bucket).await {
        return Ok(s);
    }
    let created = js
        .create_stream(jetstream::stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            max_age,
            storage,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: jetstream::stream::DiscardPolicy::New,
            num_replicas: 1,
            ..Default::default()
        })
        .await;
    // Another process may have created it meanwhile: open it either way.
    match js.get_key_value(bucket).await {
        Ok(s) => Ok(s),
        Err(e) => Err(match created {
            Err(c) => NatsError::new(&format!("cannot create the bucket {bucket}"), c),
            Ok(_) => NatsError::new(&format!("cannot open the bucket {bucket}"), e),
        }),
    }
}
