//! Connecting to nats-server: the URL and the credentials.

use std::time::Duration;

use async_nats::jetstream;

use super::NatsError;

/// Where nats-server is and how to log in.
#[derive(Debug, Clone, Default)]
pub struct NatsSettings {
    /// `nats://host:port` (or several, comma-separated).
    pub url: String,
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
        let options = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None);
        let client = options.connect(settings.url.as_str()).await.map_err(|e| {
            NatsError(format!(
                "cannot connect to NATS at {}: {e}\n  = hint: start a server with JetStream: nats-server -js -a 127.0.0.1 -p 4222 -sd DIR",
                crate::secret::redact_url(&settings.url)
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
