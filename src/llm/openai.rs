//! The `openai` provider: OpenAI's chat completions API and every server that
//! speaks it (Azure OpenAI, Ollama, vLLM, llama.cpp's server, LM Studio,
//! OpenRouter), on `async-openai`.
//!
//! Decisions:
//! - **One call is one HTTP request.** async-openai retries 429/5xx on its
//!   own by default; we install our own HTTP service (`OneShotService`) so
//!   the engine's retry policy is the only one and every attempt is an event.
//!   The service also keeps what async-openai's errors lose: the status, the
//!   `Retry-After` header, the raw body and the URL.
//! - **Tolerant parsing.** Replies are read as `serde_json::Value` (the
//!   `byot` calls), so llama.cpp's integer error codes, unknown
//!   `finish_reason`s and extra fields never turn a good reply into an error.
//! - **Streaming by default**, with `stream_options.include_usage`. A server
//!   that rejects `stream_options` is asked again without it, one that
//!   rejects streaming is asked without streaming; both are remembered for
//!   the provider's lifetime, so only the first call pays for the probe.
//! - **Truncation is an error.** A stream that ends without a
//!   `finish_reason` was cut: the partial text is discarded and the error is
//!   retryable.
//! - **Cancellation**: the request runs on a task owned by the returned
//!   stream; dropping the stream aborts it (and closes the connection).

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::{AzureConfig, Config, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use futures::stream::{BoxStream, Stream};
use futures::{FutureExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

mod body_cap;
pub mod reply_scrubber;
mod structured;

use self::body_cap::{MAX_BODY, capped, read_capped, read_error_body};
use self::reply_scrubber::Secrets;
use self::structured::{Level, Negotiated, refuses_structure};
use super::tokens::TokenCounter;
use super::{
    Adaptation, Expect, Message, Provider, ProviderChunk, ProviderError, ProviderRequest,
    RequestHints, Role, ToolCall, ToolChoice,
};
use crate::event::{ErrorKind, Usage};
use crate::secret::{Secret, redact, redact_url, url_credentials};

/// Azure OpenAI deployment settings: the model is chosen by the deployment
/// in the URL, not by the request's `model` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureDeployment {
    /// Deployment name (`/openai/deployments/<name>`).
    pub deployment: String,
    /// `api-version` query parameter, e.g. `2024-10-21`.
    pub api_version: String,
}

/// Everything needed to talk to one OpenAI-compatible endpoint.
#[derive(Clone)]
pub struct OpenAiSettings {
    /// Provider name agents refer to (`openai`, `local`, ...).
    pub name: String,
    /// Base URL including `/v1` (for Azure: the resource URL).
    pub base_url: String,
    /// API key (empty for servers that need none).
    pub api_key: Secret,
    /// `OpenAI-Organization` header.
    pub organization: Option<String>,
    /// `OpenAI-Project` header.
    pub project: Option<String>,
    /// Extra headers sent with every request.
    pub headers: BTreeMap<String, String>,
    /// Longest silence allowed while waiting for bytes (connect excluded).
    pub timeout: Duration,
    /// Longest wait for the TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Stream replies (default true).
    pub stream: bool,
    /// Azure deployment, when this is an Azure OpenAI endpoint.
    pub azure: Option<AzureDeployment>,
    /// Calls in flight at once (`max_in_flight`); none: the engine adapts.
    pub max_in_flight: Option<u32>,
}

impl fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may carry credentials too: show only their names.
        f.debug_struct("OpenAiSettings")
            .field("name", &self.name)
            .field("base_url", &redact_url(&self.base_url))
            .field("api_key", &self.api_key)
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field("stream", &self.stream)
            .field("azure", &self.azure)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

impl OpenAiSettings {
    /// Settings for `base_url` with defaults (streaming, 120 s read
    /// timeout, 10 s connect timeout, no key).
    pub fn new(name: impl Into<String>, base_url: impl Into<String>) -> Self {
        OpenAiSettings {
            name: name.into(),
            base_url: base_url.into(),
            api_key: Secret::default(),
            organization: None,
            project: None,
            headers: BTreeMap::new(),
            timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            stream: true,
            azure: None,
            max_in_flight: None,
        }
    }
}

/// Why a provider could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// The `openai` provider. Cheap to share (`Arc` inside).
#[derive(Clone)]
pub struct OpenAiProvider {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    /// The base URL without the credentials it may embed: the one shown
    /// in messages and events (requests use async-openai's config).
    shown_url: String,
    client: Client<Box<dyn Config>>,
    azure: bool,
    /// Secret values to scrub from any server text we repeat, replies
    /// included.
    secrets: Secrets,
    /// Cleared when the server rejects streaming.
    stream: AtomicBool,
    /// Cleared when the server rejects `stream_options`.
    stream_usage: AtomicBool,
    /// How much `response_format` the server accepts (steps down on each
    /// refusal; see `structured`).
    structured: Negotiated,
    max_in_flight: Option<u32>,
}

impl fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("name", &self.inner.name)
            .field("base_url", &self.inner.shown_url)
            .finish_non_exhaustive()
    }
}

/// Normalises a base URL: no trailing slash (async-openai appends
/// `/chat/completions`; `…/v1/` would give `//chat/completions`).
pub fn normalise_base_url(url: &str) -> Result<String, SetupError> {
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(SetupError(format!(
            "base URL `{url}` must start with http:// or https:// (e.g. http://localhost:11434/v1)"
        )));
    }
    Ok(url.to_string())
}

fn header_safe(what: &str, value: &str) -> Result<(), SetupError> {
    if value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Ok(())
    } else {
        Err(SetupError(format!(
            "{what} contains characters that cannot be sent in an HTTP header (a newline or non-ASCII?)"
        )))
    }
}

impl OpenAiProvider {
    /// Builds a provider. Fails on a malformed URL, key or header.
    pub fn new(settings: OpenAiSettings) -> Result<Self, SetupError> {
        let base = normalise_base_url(&settings.base_url)?;
        let key = settings.api_key.expose().trim().to_string();
        // async-openai unwraps header parsing: check first so a stray newline
        // in a key file is an error message, not a panic.
        header_safe("the API key", &key)?;
        let config: Box<dyn Config> = match &settings.azure {
            Some(az) => Box::new(
                AzureConfig::new()
                    .with_api_base(base.clone())
                    .with_api_key(key.clone())
                    .with_deployment_id(az.deployment.clone())
                    .with_api_version(az.api_version.clone()),
            ),
            None => {
                let mut c = OpenAIConfig::new()
                    .with_api_base(base.clone())
                    .with_api_key(key.clone())
                    .with_org_id(settings.organization.clone().unwrap_or_default())
                    .with_project_id(settings.project.clone().unwrap_or_default());
                for (what, v) in [
                    ("the organization", &settings.organization),
                    ("the project", &settings.project),
                ] {
                    if let Some(v) = v {
                        header_safe(what, v)?;
                    }
                }
                for (k, v) in &settings.headers {
                    header_safe(&format!("header `{k}`"), v)?;
                    let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                        .map_err(|_| SetupError(format!("`{k}` is not a valid header name")))?;
                    c = c
                        .with_header(name, v.as_str())
                        .map_err(|_| SetupError(format!("header `{k}` has an invalid value")))?;
                }
                Box::new(c)
            }
        };
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            // An idle timeout, not a total one: a total timeout would cut
            // long but healthy streams.
            .read_timeout(settings.timeout)
            .build()
            .map_err(|e| SetupError(format!("cannot build the HTTP client: {e}")))?;
        let client = Client::with_config(config).with_http_service(OneShotService { http });
        // The key, and custom header values long enough to be credentials
        // (`X-Api-Key`, a proxy token); not the organization or project,
        // which are ids, and scrubbing short values would garble replies.
        // Credentials in the base URL too: transport errors quote the URL.
        let in_url = url_credentials(&base).map(|u| {
            let password = u.split_once(':').map_or("", |(_, p)| p);
            [u.to_string(), password.to_string()]
        });
        let secrets = Secrets::new(
            std::iter::once(key)
                .chain(in_url.into_iter().flatten())
                .chain(
                    settings
                        .headers
                        .values()
                        .map(|v| v.trim().to_string())
                        .filter(|v| v.chars().count() >= MIN_HEADER_SECRET),
                ),
        );
        Ok(OpenAiProvider {
            inner: Arc::new(Inner {
                name: settings.name,
                shown_url: redact_url(&base),
                client,
                azure: settings.azure.is_some(),
                secrets,
                stream: AtomicBool::new(settings.stream),
                stream_usage: AtomicBool::new(true),
                structured: Negotiated::default(),
                max_in_flight: settings.max_in_flight,
            }),
        })
    }

    /// The base URL requests go to, without embedded credentials.
    pub fn base_url(&self) -> &str {
        &self.inner.shown_url
    }

    /// Lists the models the server offers (`GET /models`).
    pub async fn list_models(&self) -> Result<Vec<String>, ProviderError> {
        let inner = &self.inner;
        let url = format!("{}/models", inner.shown_url);
        let v: Value = inner
            .client
            .models()
            .list_byot()
            .await
            .map_err(|e| inner.map_error(e, &url))?;
        let ids = v
            .get("data")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.get("id").and_then(Value::as_str))
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        Ok(ids)
    }
}

impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn streams_live(&self) -> bool {
        true
    }

    fn endpoint(&self) -> Option<&str> {
        Some(self.base_url())
    }

    fn retries_by_default(&self) -> bool {
        true
    }

    fn max_in_flight(&self) -> Option<u32> {
        self.inner.max_in_flight
    }

    fn restore(&self, a: &Adaptation) {
        if a.setting == STRUCTURED_OUTPUT
            && let Some(level) = Level::parse(&a.to)
        {
            self.inner.structured.restore(level);
        }
    }

    fn stream(
        &self,
        req: ProviderRequest,
    ) -> BoxStream<'static, Result<ProviderChunk, ProviderError>> {
        let (tx, rx) = mpsc::channel(64);
        let inner = self.inner.clone();
        let task = tokio::spawn(async move {
            let out = Out { tx };
            if let Err(e) = inner.call(&req, &out).await {
                out.send(Err(e)).await;
            }
        });
        Box::pin(CallStream { rx, task })
    }
}

/// The stream handed to the engine: owns the request's task and aborts it
/// when dropped, which closes the connection.
struct CallStream {
    rx: mpsc::Receiver<Result<ProviderChunk, ProviderError>>,
    task: JoinHandle<()>,
}

impl Stream for CallStream {
    type Item = Result<ProviderChunk, ProviderError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for CallStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Out {
    tx: mpsc::Sender<Result<ProviderChunk, ProviderError>>,
}

impl Out {
    async fn send(&self, item: Result<ProviderChunk, ProviderError>) {
        // The receiver is gone only when the call was cancelled; the task is
        // being aborted then, so there is nobody to tell.
        let _ = self.tx.send(item).await;
    }
}

/// The reply body of one request, before it becomes chunks.
enum Reply {
    /// A streamed reply was fully relayed.
    Streamed,
    /// The server answered a non-streamed JSON completion.
    Whole(Value),
}

impl Inner {
    fn chat_url(&self) -> String {
        format!("{}/chat/completions", self.shown_url)
    }

    async fn call(&self, req: &ProviderRequest, out: &Out) -> Result<(), ProviderError> {
        // Capability probes: each rejection is learned once and the call is
        // asked again without the feature (the only case where one call
        // sends more than one request). At most three structured-output
        // steps and two streaming ones.
        for _ in 0..8 {
            let stream = self.stream.load(Ordering::Relaxed);
            let stream_usage = self.stream_usage.load(Ordering::Relaxed);
            let level = self.structured.get();
            let body = request_body(req, stream, stream_usage, level, self.azure);
            let result = if stream {
                self.streamed(req, body, out).await
            } else {
                self.whole(body).await.map(Reply::Whole)
            };
            match result {
                Ok(Reply::Streamed) => return Ok(()),
                Ok(Reply::Whole(v)) => return self.relay_whole(req, &v, out).await,
                Err(Failure::Rejected(status, msg)) => {
                    let m = msg.to_ascii_lowercase();
                    let sent_structure = wants_structure(&req.hints) && level < Level::PromptOnly;
                    // A refusal of the format is classified here, before the
                    // engine's retry policy sees any error: it is never
                    // retried as it was, it moves one level down.
                    if sent_structure && refuses_structure(status, &msg) {
                        if let Some(to) = self.structured.step_down(level) {
                            out.send(Ok(ProviderChunk::Adapted(Adaptation {
                                setting: STRUCTURED_OUTPUT.into(),
                                from: level.name().into(),
                                to: to.name().into(),
                                reason: format!(
                                    "{} answered HTTP {status}: {}",
                                    self.chat_url(),
                                    snippet(&self.scrub(&msg))
                                ),
                            })))
                            .await;
                        }
                    } else if status >= 500 {
                        return Err(self.status_error(status, &msg, None, &self.chat_url()));
                    } else if stream && stream_usage && m.contains("stream_options") {
                        self.stream_usage.store(false, Ordering::Relaxed);
                    } else if stream && m.contains("stream") {
                        self.stream.store(false, Ordering::Relaxed);
                    } else {
                        return Err(self.status_error(status, &msg, None, &self.chat_url()));
                    }
                }
                Err(Failure::Error(e)) => return Err(e),
            }
        }
        Err(ProviderError::new(
            ErrorKind::InvalidRequest,
            format!(
                "{} rejected the request even without streaming and structured output",
                self.chat_url()
            ),
        ))
    }

    /// Sends a non-streamed request.
    async fn whole(&self, body: Value) -> Result<Value, Failure> {
        let url = self.chat_url();
        self.client
            .chat()
            .create_byot::<Value, Value>(body)
            .await
            .map_err(|e| self.failure(e, &url))
    }

    async fn streamed(
        &self,
        req: &ProviderRequest,
        body: Value,
        out: &Out,
    ) -> Result<Reply, Failure> {
        let url = self.chat_url();
        let mut events = match self
            .client
            .chat()
            .create_stream_byot::<Value, Value>(body)
            .await
        {
            Ok(s) => s,
            Err(e) => {
                return match not_streamed(&e) {
                    // The server ignored `stream: true` and answered in one
                    // piece: that is a fine reply.
                    Some(v) => Ok(Reply::Whole(v)),
                    None => Err(self.failure(e, &url)),
                };
            }
        };
        let cap = reply_cap(req.max_tokens);
        let mut text = String::new();
        let mut finished = false;
        let mut usage: Option<Usage> = None;
        let mut calls = PendingCalls::default();
        let mut scrubber = self.secrets.stream();
        while let Some(ev) = events.next().await {
            let chunk = match ev {
                Ok(v) => v,
                Err(e) => {
                    let mut err = self.map_error(e, &url);
                    if matches!(err.kind, ErrorKind::InvalidRequest | ErrorKind::Malformed) {
                        // A garbled event mid-stream is a broken stream.
                        err.kind = ErrorKind::Server;
                    }
                    // One-at-a-time servers cut a running stream when the
                    // next request arrives.
                    err.congestion = true;
                    err.message = format!(
                        "{} (the stream broke after {} characters; the partial reply was discarded)",
                        err.message,
                        text.chars().count()
                    );
                    err.usage = Some(partial_usage(usage, req, &text));
                    return Err(Failure::Error(err));
                }
            };
            if let Some(err) = chunk.get("error") {
                // Some servers report failures as an event inside the stream.
                let msg = error_message(err);
                return Err(Failure::Error(ProviderError::new(
                    ErrorKind::Server,
                    format!("{url} reported an error mid-stream: {}", self.scrub(&msg)),
                )));
            }
            if let Some(u) = parse_usage(&chunk) {
                usage = Some(u);
            }
            let Some(choice) = chunk
                .get("choices")
                .and_then(Value::as_array)
                .and_then(|c| c.first())
            else {
                continue;
            };
            if let Some(d) = choice
                .get("delta")
                .and_then(|d| d.get("content"))
                .and_then(Value::as_str)
                && !d.is_empty()
            {
                text.push_str(d);
                let d = scrubber.push(d);
                if !d.is_empty() {
                    out.send(Ok(ProviderChunk::Delta(d))).await;
                }
            }
            if let Some(tc) = choice
                .get("delta")
                .and_then(|d| d.get("tool_calls"))
                .and_then(Value::as_array)
            {
                for piece in tc {
                    calls.add(piece);
                }
            }
            if text.len() + calls.bytes > cap {
                let mut err = ProviderError::new(
                    ErrorKind::Server,
                    format!(
                        "the reply from {url} ran past {cap} bytes ({}); the stream was cut and the partial reply discarded",
                        match req.max_tokens {
                            Some(m) => format!("far beyond max_tokens = {m}"),
                            None => "the most agentctl takes from one reply".to_string(),
                        }
                    ),
                );
                err.usage = Some(partial_usage(usage, req, &text));
                return Err(Failure::Error(err));
            }
            if choice.get("finish_reason").is_some_and(|f| !f.is_null()) {
                finished = true;
            }
        }
        if !finished {
            let mut err = ProviderError::new(
                ErrorKind::Server,
                format!(
                    "the stream from {url} ended before the reply was complete (no finish_reason after {} characters); the partial reply was discarded",
                    text.chars().count()
                ),
            );
            err.usage = Some(partial_usage(usage, req, &text));
            err.congestion = true;
            return Err(Failure::Error(err));
        }
        let rest = scrubber.finish();
        if !rest.is_empty() {
            out.send(Ok(ProviderChunk::Delta(rest))).await;
        }
        let calls = calls.finish();
        let usage = usage.unwrap_or_else(|| estimate(&req.messages, &text, &calls));
        let calls = self.scrub_calls(calls);
        if !calls.is_empty() {
            out.send(Ok(ProviderChunk::ToolCalls(calls))).await;
        }
        out.send(Ok(ProviderChunk::Done { usage })).await;
        Ok(Reply::Streamed)
    }

    async fn relay_whole(
        &self,
        req: &ProviderRequest,
        v: &Value,
        out: &Out,
    ) -> Result<(), ProviderError> {
        let url = self.chat_url();
        let Some(choice) = v
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            return Err(ProviderError::new(
                ErrorKind::Malformed,
                format!("the reply from {url} has no `choices`"),
            ));
        };
        let text = choice
            .get("message")
            .and_then(|m| m.get("content"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut calls = PendingCalls::default();
        if let Some(tc) = choice
            .get("message")
            .and_then(|m| m.get("tool_calls"))
            .and_then(Value::as_array)
        {
            for (i, c) in tc.iter().enumerate() {
                let mut c = c.clone();
                if c.get("index").is_none() {
                    c["index"] = json!(i);
                }
                calls.add(&c);
            }
        }
        let calls = calls.finish();
        let usage = parse_usage(v).unwrap_or_else(|| estimate(&req.messages, &text, &calls));
        let calls = self.scrub_calls(calls);
        if !text.is_empty() {
            out.send(Ok(ProviderChunk::Delta(self.secrets.scrub(&text))))
                .await;
        }
        if !calls.is_empty() {
            out.send(Ok(ProviderChunk::ToolCalls(calls))).await;
        }
        out.send(Ok(ProviderChunk::Done { usage })).await;
        Ok(())
    }

    fn scrub(&self, text: &str) -> String {
        self.secrets.scrub(&redact(text))
    }

    /// Tool calls with the provider's secrets masked in every field.
    fn scrub_calls(&self, calls: Vec<ToolCall>) -> Vec<ToolCall> {
        calls
            .into_iter()
            .map(|c| ToolCall {
                id: self.secrets.scrub(&c.id),
                name: self.secrets.scrub(&c.name),
                arguments: self.secrets.scrub(&c.arguments),
            })
            .collect()
    }

    fn failure(&self, e: OpenAIError, url: &str) -> Failure {
        if let Some(HttpFailure { status, body, .. }) = http_failure(&e)
            && (matches!(status, 400 | 422) || (*status >= 500 && refuses_structure(*status, body)))
        {
            return Failure::Rejected(*status, error_text(body));
        }
        Failure::Error(self.map_error(e, url))
    }

    /// Maps any async-openai error to our error kinds, with a message that
    /// names the URL and says what to do.
    fn map_error(&self, e: OpenAIError, url: &str) -> ProviderError {
        if let Some(f) = http_failure(&e) {
            return self.status_error(f.status, &error_text(&f.body), f.retry_after, &f.url);
        }
        if let Some(n) = not_json(&e) {
            return ProviderError::new(
                ErrorKind::InvalidRequest,
                format!(
                    "{} answered with a body that is not JSON ({}): {}\n  = hint: is the base URL right? It must be the API root including /v1, e.g. http://localhost:11434/v1",
                    n.url,
                    n.content_type,
                    self.scrub(&snippet(&n.body))
                ),
            );
        }
        match e {
            OpenAIError::Reqwest(r) => self.transport_error(&r, url),
            OpenAIError::Boxed(b) => match b.downcast::<reqwest::Error>() {
                Ok(r) => self.transport_error(&r, url),
                Err(b) => ProviderError::new(
                    ErrorKind::Server,
                    format!("{url}: {}", self.scrub(&b.to_string())),
                ),
            },
            OpenAIError::JSONDeserialize(_, content) => ProviderError::new(
                ErrorKind::InvalidRequest,
                format!(
                    "{url} answered with a body that is not valid JSON: {}\n  = hint: is the base URL right? It must be the API root including /v1",
                    self.scrub(&snippet(&content))
                ),
            ),
            OpenAIError::StreamError(s) => ProviderError::new(
                ErrorKind::Server,
                format!(
                    "the stream from {url} broke: {}{}",
                    self.scrub(&error_chain(&*s)),
                    // The body limit surfaces through the event parser as
                    // a decoding error, its cause dropped on the way.
                    if s.to_string().contains("decoding response body") {
                        format!(
                            " (the connection broke, or the reply passed the {} MiB agentctl takes from one reply)",
                            MAX_BODY >> 20
                        )
                    } else {
                        String::new()
                    }
                ),
            ),
            OpenAIError::ApiError(a) => {
                self.status_error(a.status_code.as_u16(), &a.api_error.message, None, url)
            }
            other => ProviderError::new(
                ErrorKind::InvalidRequest,
                format!("{url}: {}", self.scrub(&other.to_string())),
            ),
        }
    }

    fn transport_error(&self, r: &reqwest::Error, url: &str) -> ProviderError {
        let detail = self.scrub(&error_chain(r));
        if r.is_timeout() {
            ProviderError::new(
                ErrorKind::Timeout,
                format!("{url} did not answer in time: {detail}"),
            )
        } else if r.is_connect() {
            ProviderError::new(
                ErrorKind::Server,
                format!(
                    "cannot connect to {url}: {detail}\n  = hint: is the server running, and is the base URL right?"
                ),
            )
        } else {
            ProviderError::new(ErrorKind::Server, format!("{url}: {detail}"))
        }
    }

    fn status_error(
        &self,
        status: u16,
        server_msg: &str,
        retry_after: Option<Duration>,
        url: &str,
    ) -> ProviderError {
        let msg = self.scrub(server_msg);
        let (kind, hint) = match status {
            401 => (
                ErrorKind::Auth,
                "the API key is missing or wrong: set it with api_key_env in the provider's config (or OPENAI_API_KEY)",
            ),
            403 => (
                ErrorKind::Auth,
                "the key is valid but not allowed to do this (organisation/project, or the model is not enabled for it)",
            ),
            404 => (
                ErrorKind::InvalidRequest,
                "the model name is wrong or the base URL is wrong (it must include /v1, e.g. http://localhost:11434/v1): run `agentctl providers check`",
            ),
            408 => (ErrorKind::Timeout, ""),
            429 => (ErrorKind::RateLimited, ""),
            400 | 422 => (
                ErrorKind::InvalidRequest,
                "the server refused the request: check the model name and the agent's parameters",
            ),
            s if s >= 500 => (ErrorKind::Server, ""),
            _ => (ErrorKind::InvalidRequest, ""),
        };
        let mut text = format!("{url} answered HTTP {status}: {msg}");
        if !hint.is_empty() {
            text.push_str("\n  = hint: ");
            text.push_str(hint);
        }
        let mut e = ProviderError::new(kind, text);
        e.congestion = matches!(status, 429 | 503);
        if kind == ErrorKind::RateLimited {
            e.retry_after = retry_after.or_else(|| retry_after_in_body(server_msg));
        }
        e
    }
}

/// The most bytes of text and tool-call arguments taken from one reply: a
/// generous margin over `max_tokens` (no tokenizer writes 32 bytes a token),
/// and [`MAX_BODY`] at most.
fn reply_cap(max_tokens: Option<u32>) -> usize {
    max_tokens
        .map_or(MAX_BODY, |m| {
            (m as usize).saturating_mul(32).saturating_add(4096)
        })
        .min(MAX_BODY)
}

/// The `setting` of a structured-output adaptation.
const STRUCTURED_OUTPUT: &str = "structured_output";

/// The outcome of one request attempt, before capability fallbacks.
enum Failure {
    /// 400/422, or a 5xx naming `response_format`: maybe a feature the
    /// server lacks; the status and message.
    Rejected(u16, String),
    /// Anything else.
    Error(ProviderError),
}

fn wants_structure(h: &RequestHints) -> bool {
    h.schema.is_some()
        || matches!(
            h.expect,
            Expect::Plan | Expect::Review | Expect::Turn | Expect::Ballot | Expect::Decision
        )
}

/// The JSON schema of the answer the engine expects, if it is JSON: the
/// user's own schema first, else the one the engine's reply kind implies.
fn response_schema(h: &RequestHints) -> Option<(&'static str, Value)> {
    if let Some(s) = &h.schema {
        return Some(("reply", (**s).clone()));
    }
    match h.expect {
        Expect::Plan => Some((
            "plan",
            json!({
                "type": "object",
                "properties": {
                    "subtasks": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "title": {"type": "string"},
                                "capability": if h.capabilities.is_empty() {
                                    json!({"type": "string"})
                                } else {
                                    json!({"type": "string", "enum": h.capabilities})
                                },
                                "description": {"type": "string"}
                            },
                            "required": ["title", "capability", "description"]
                        }
                    }
                },
                "required": ["subtasks"]
            }),
        )),
        Expect::Review => Some((
            "review",
            json!({
                "type": "object",
                "properties": {
                    "approved": {"type": "boolean"},
                    "feedback": {"type": "string"}
                },
                "required": ["approved", "feedback"]
            }),
        )),
        Expect::Turn => Some(("debate_turn", turn_schema(h))),
        Expect::Ballot => Some((
            "ballot",
            json!({
                "type": "object",
                "properties": {
                    "choice": choice(h),
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "rationale": {"type": "string"},
                    "ranking": {"type": "array", "items": choice(h)}
                },
                "required": ["choice", "confidence", "rationale"]
            }),
        )),
        Expect::Decision => Some((
            "decision",
            json!({
                "type": "object",
                "properties": {"decision": choice(h), "reasons": {"type": "string"}},
                "required": ["decision", "reasons"]
            }),
        )),
        Expect::Text | Expect::Label => None,
    }
}

/// A debate turn. Critiques may name only other speakers' earlier turns:
/// the schema says which (an enum), and has no `critiques` at all when
/// there is none yet, so a server that constrains decoding with it cannot
/// produce a critique the engine would reject (a small model otherwise
/// critiques "turn 1" in the very first turn, every time).
fn turn_schema(h: &RequestHints) -> Value {
    let turns: Vec<u32> = h
        .stance
        .as_deref()
        .map(|s| s.others.iter().map(|o| o.turn).filter(|t| *t > 0).collect())
        .unwrap_or_default();
    let mut properties = json!({
        "position": choice(h),
        "argument": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1}
    });
    if !turns.is_empty() {
        properties["critiques"] = json!({
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "turn": {"type": "integer", "enum": turns},
                    "text": {"type": "string"}
                },
                "required": ["turn", "text"]
            }
        });
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": ["position", "argument", "confidence"],
        "additionalProperties": false
    })
}

/// A string, limited to the debate's or vote's options when it has some.
fn choice(h: &RequestHints) -> Value {
    match h.stance.as_deref() {
        Some(s) if !s.options.is_empty() => json!({"type": "string", "enum": s.options}),
        _ => json!({"type": "string"}),
    }
}

/// The chat completions request body.
fn request_body(
    req: &ProviderRequest,
    stream: bool,
    stream_usage: bool,
    structured: Level,
    azure: bool,
) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
                Role::Tool => "tool",
            };
            let mut v = json!({"role": role, "content": m.content});
            if let Some(id) = &m.tool_call_id {
                v["tool_call_id"] = json!(id);
            }
            if !m.tool_calls.is_empty() {
                // An empty string, not null: OpenAI takes either, and
                // llama-cpp-python refuses null (HTTP 500, "Input should be
                // a valid string").
                v["tool_calls"] = m
                    .tool_calls
                    .iter()
                    .map(|c| {
                        json!({"id": c.id, "type": "function",
                               "function": {"name": c.name, "arguments": c.arguments}})
                    })
                    .collect();
            }
            v
        })
        .collect();
    let mut body = json!({ "messages": messages, "stream": stream });
    if !azure {
        // Azure picks the model by deployment; others need it named.
        body["model"] = json!(req.model.as_ref());
    }
    if stream && stream_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    if !req.hints.tools.is_empty() {
        body["tools"] = req
            .hints
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters}})
            })
            .collect();
        match &req.hints.tool_choice {
            ToolChoice::Auto => {}
            ToolChoice::Required => body["tool_choice"] = json!("required"),
            ToolChoice::None => body["tool_choice"] = json!("none"),
            ToolChoice::Tool(name) => {
                body["tool_choice"] = json!({"type": "function", "function": {"name": name}});
            }
        }
    }
    if let Some(n) = req.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if let Some((name, schema)) = response_schema(&req.hints)
        && let Some(format) = structured.response_format(name, &schema)
    {
        body["response_format"] = format;
    }
    body
}

/// Usage as the server reports it (`usage` on the reply or final chunk).
fn parse_usage(v: &Value) -> Option<Usage> {
    let u = v.get("usage")?;
    if u.is_null() {
        return None;
    }
    Some(Usage {
        prompt_tokens: u.get("prompt_tokens")?.as_u64()?,
        completion_tokens: u
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        estimated: false,
    })
}

/// Usage counted by our tokenizer when the server reports none.
fn estimate(messages: &[Message], reply: &str, calls: &[ToolCall]) -> Usage {
    let tc = TokenCounter::global();
    Usage {
        prompt_tokens: tc.count_messages(messages),
        completion_tokens: tc.count(reply)
            + calls
                .iter()
                .map(|c| tc.count(&c.name) + tc.count(&c.arguments))
                .sum::<u64>(),
        estimated: true,
    }
}

/// What a stream that broke still cost: the server's figures if they came,
/// else an estimate of the prompt and the text received.
fn partial_usage(reported: Option<Usage>, req: &ProviderRequest, text: &str) -> Usage {
    reported.unwrap_or_else(|| estimate(&req.messages, text, &[]))
}

/// Tool calls being assembled from stream pieces, by `index`: the first
/// piece carries the id and name, later ones more of the arguments.
#[derive(Default)]
struct PendingCalls {
    calls: BTreeMap<u64, ToolCall>,
    /// Bytes of names and arguments so far (bounded with the reply).
    bytes: usize,
}

/// Custom header values this long (in characters) count as credentials
/// and are scrubbed from replies and errors.
const MIN_HEADER_SECRET: usize = 8;

/// The most tool calls one reply may ask for.
const MAX_TOOL_CALLS: usize = 128;

impl PendingCalls {
    fn add(&mut self, piece: &Value) {
        let index = piece.get("index").and_then(Value::as_u64).unwrap_or(0);
        if self.calls.len() >= MAX_TOOL_CALLS && !self.calls.contains_key(&index) {
            // Counted, so the reply's cap ends a server that keeps opening calls.
            self.bytes = self.bytes.saturating_add(1 << 16);
            return;
        }
        let call = self.calls.entry(index).or_insert_with(|| ToolCall {
            id: String::new(),
            name: String::new(),
            arguments: String::new(),
        });
        if let Some(id) = piece.get("id").and_then(Value::as_str) {
            call.id = id.to_string();
        }
        if let Some(f) = piece.get("function") {
            // OpenAI sends the name once; llama-cpp-python repeats it in
            // every chunk. A piece equal to the name so far is a repeat.
            if let Some(n) = f.get("name").and_then(Value::as_str)
                && call.name != n
            {
                call.name.push_str(n);
                self.bytes += n.len();
            }
            if let Some(a) = f.get("arguments").and_then(Value::as_str) {
                call.arguments.push_str(a);
                self.bytes += a.len();
            }
        }
    }

    fn finish(self) -> Vec<ToolCall> {
        self.calls
            .into_iter()
            .map(|(i, mut c)| {
                if c.id.is_empty() {
                    // Some local servers omit ids; the result must quote one.
                    c.id = format!("call_{i}");
                }
                c
            })
            .collect()
    }
}

/// The human-readable part of an error body: `error.message`, `message`,
/// `detail`, or the text itself.
fn error_text(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => v
            .get("error")
            .map(error_message)
            .or_else(|| v.get("message").and_then(Value::as_str).map(String::from))
            .or_else(|| v.get("detail").and_then(Value::as_str).map(String::from))
            .unwrap_or_else(|| snippet(body)),
        Err(_) => snippet(body),
    }
}

fn error_message(err: &Value) -> String {
    match err {
        Value::String(s) => s.clone(),
        v => v
            .get("message")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| snippet(&v.to_string())),
    }
}

fn snippet(s: &str) -> String {
    const MAX: usize = 300;
    let s = s.trim();
    match crate::text::prefix_chars(s, MAX) {
        whole if whole.len() == s.len() => s.to_string(),
        cut => format!("{cut}…"),
    }
}

/// A `Retry-After` hint inside an error body: a `retry_after` field (number
/// of seconds) or OpenAI's "Please try again in 1.5s" / "in 20ms".
fn retry_after_in_body(msg_or_body: &str) -> Option<Duration> {
    if let Ok(v) = serde_json::from_str::<Value>(msg_or_body) {
        let secs = v
            .get("retry_after")
            .or_else(|| v.get("error").and_then(|e| e.get("retry_after")));
        if let Some(s) = secs.and_then(Value::as_f64) {
            return Duration::try_from_secs_f64(s).ok();
        }
    }
    let lower = msg_or_body.to_ascii_lowercase();
    let at = lower.find("try again in ")? + "try again in ".len();
    let rest = &lower[at..];
    let num_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let n: f64 = rest[..num_end].parse().ok()?;
    let unit = rest[num_end..].trim_start();
    let secs = if unit.starts_with("ms") {
        n / 1000.0
    } else if unit.starts_with('m') && !unit.starts_with("ms") && !unit.starts_with("s") {
        n * 60.0
    } else {
        n
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// `Retry-After: <seconds>` (or `retry-after-ms`); HTTP dates are rare from
/// model APIs and are ignored (our own backoff applies then).
fn retry_after_header(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = h
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let s = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    Duration::try_from_secs_f64(s.trim().parse::<f64>().ok()?).ok()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

// ── the HTTP layer ────────────────────────────────────────────────────────

/// A non-2xx answer, with what async-openai's own errors drop.
#[derive(Debug)]
struct HttpFailure {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
    url: String,
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} from {}", self.status, self.url)
    }
}
impl std::error::Error for HttpFailure {}

/// A 2xx answer whose body is neither JSON nor an event stream (a web page,
/// a proxy's login form: usually a wrong base URL).
#[derive(Debug)]
struct NotJson {
    url: String,
    content_type: String,
    body: String,
}

impl fmt::Display for NotJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered {} instead of JSON",
            self.url, self.content_type
        )
    }
}
impl std::error::Error for NotJson {}

/// A streamed request answered with one JSON document.
#[derive(Debug)]
struct NotStreamed(Value);

impl fmt::Display for NotStreamed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the server answered without streaming")
    }
}
impl std::error::Error for NotStreamed {}

fn boxed<E: std::error::Error + Send + Sync + 'static>(e: E) -> OpenAIError {
    OpenAIError::Boxed(Box::new(e))
}

fn http_failure(e: &OpenAIError) -> Option<&HttpFailure> {
    match e {
        OpenAIError::Boxed(b) => b.downcast_ref(),
        _ => None,
    }
}

fn not_json(e: &OpenAIError) -> Option<&NotJson> {
    match e {
        OpenAIError::Boxed(b) => b.downcast_ref(),
        _ => None,
    }
}

fn not_streamed(e: &OpenAIError) -> Option<Value> {
    match e {
        OpenAIError::Boxed(b) => b.downcast_ref::<NotStreamed>().map(|n| n.0.clone()),
        _ => None,
    }
}

/// Sends each request exactly once (no retries: the engine owns retrying)
/// and turns non-2xx answers and non-JSON bodies into typed errors.
#[derive(Clone)]
struct OneShotService {
    http: reqwest::Client,
}

impl tower::Service<HttpRequestFactory> for OneShotService {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = futures::future::BoxFuture<'static, Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let http = self.http.clone();
        async move {
            let request = factory.build().await?;
            let url = request.url().clone();
            // Never repeat a query string: Azure puts only the API version
            // there, but proxies put keys in it.
            let shown = format!(
                "{}://{}{}",
                url.scheme(),
                url.host_str().unwrap_or(""),
                url.port().map(|p| format!(":{p}")).unwrap_or_default()
            ) + url.path();
            let wants_stream = request
                .headers()
                .get(reqwest::header::ACCEPT)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
                || request
                    .body()
                    .and_then(|b| b.as_bytes())
                    .is_some_and(|b| memfind(b, br#""stream":true"#));
            let response = http.execute(request).await.map_err(OpenAIError::Reqwest)?;
            let status = response.status();
            if !status.is_success() {
                let retry_after = retry_after_header(response.headers());
                let body = read_error_body(response).await;
                return Err(boxed(HttpFailure {
                    status: status.as_u16(),
                    retry_after,
                    body,
                    url: shown,
                }));
            }
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase();
            let is_json = content_type.contains("json");
            let is_sse = content_type.starts_with("text/event-stream");
            if is_sse || (is_json && !wants_stream) {
                return Ok(capped(response, MAX_BODY));
            }
            let body = read_capped(response, MAX_BODY).await.map_err(boxed)?;
            if let Ok(v) = serde_json::from_str::<Value>(&body) {
                if wants_stream {
                    return Err(boxed(NotStreamed(v)));
                }
            } else if !is_json && wants_stream && body.trim_start().starts_with("data:") {
                // An event stream with a missing content type: rebuild it.
                let rebuilt = http::Response::builder()
                    .status(status)
                    .header("content-type", "text/event-stream")
                    .body(body)
                    .map_err(|e| OpenAIError::InvalidArgument(e.to_string()))?;
                return Ok(reqwest::Response::from(rebuilt));
            }
            Err(boxed(NotJson {
                url: shown,
                content_type: if content_type.is_empty() {
                    "no content type".into()
                } else {
                    content_type
                },
                body,
            }))
        }
        .boxed()
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_the_key_credential_headers_and_url_credentials_not_ids() {
        let mut s = OpenAiSettings::new("p", "http://bob:url-pass-123@127.0.0.1:9/v1");
        s.api_key = Secret::new("sk-the-api-key-0123");
        s.organization = Some("org-1234567890".into());
        s.headers
            .insert("X-Proxy-Token".into(), "proxy-token-abc".into());
        s.headers.insert("X-Region".into(), "eu-1".into());
        let p = OpenAiProvider::new(s).unwrap();
        let said = "sk-the-api-key-0123 proxy-token-abc url-pass-123 org-1234567890 eu-1";
        assert_eq!(
            p.inner.secrets.scrub(said),
            "[REDACTED] [REDACTED] [REDACTED] org-1234567890 eu-1"
        );
        assert_eq!(p.base_url(), "http://[REDACTED]@127.0.0.1:9/v1");
        assert_eq!(p.endpoint(), Some("http://[REDACTED]@127.0.0.1:9/v1"));
        assert!(!format!("{p:?}").contains("url-pass"));
    }

    #[test]
    fn retry_after_from_body_text_and_field() {
        assert_eq!(
            retry_after_in_body("Rate limit reached. Please try again in 1.5s."),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after_in_body("Please try again in 20ms"),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            retry_after_in_body(r#"{"error":{"message":"slow down","retry_after":3}}"#),
            Some(Duration::from_secs(3))
        );
        assert_eq!(retry_after_in_body("slow down"), None);
    }

    #[test]
    fn base_url_is_normalised_and_checked() {
        assert_eq!(
            normalise_base_url("http://localhost:11434/v1/").unwrap(),
            "http://localhost:11434/v1"
        );
        assert!(normalise_base_url("localhost:11434").is_err());
    }

    #[test]
    fn error_text_reads_common_shapes() {
        assert_eq!(
            error_text(r#"{"error":{"message":"bad model","code":404}}"#),
            "bad model"
        );
        assert_eq!(
            error_text(r#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(error_text(r#"{"detail":"nope"}"#), "nope");
        assert_eq!(error_text("<html>oops</html>"), "<html>oops</html>");
    }

    #[test]
    fn structured_output_only_for_json_answers() {
        let mut req = ProviderRequest {
            agent: "a".into(),
            role: "r".into(),
            model: "m".into(),
            task: "t".into(),
            attempt: 1,
            visit: 0,
            messages: vec![Message::user("hi")],
            max_tokens: Some(5),
            temperature: None,
            hints: RequestHints::default(),
            input: serde_json::Value::Null,
        };
        let b = request_body(&req, true, true, Level::JsonSchema, false);
        assert!(b.get("response_format").is_none());
        assert_eq!(b["stream_options"]["include_usage"], json!(true));
        assert_eq!(b["max_tokens"], json!(5));
        req.hints.expect = Expect::Review;
        let b = request_body(&req, false, true, Level::JsonSchema, false);
        assert_eq!(b["response_format"]["type"], json!("json_schema"));
        assert!(b.get("stream_options").is_none());
        let b = request_body(&req, false, true, Level::JsonObjectSchema, false);
        assert_eq!(b["response_format"]["type"], json!("json_object"));
        assert_eq!(
            b["response_format"]["schema"]["required"],
            json!(["approved", "feedback"])
        );
        let b = request_body(&req, false, true, Level::PromptOnly, true);
        assert!(b.get("response_format").is_none());
        assert!(b.get("model").is_none());
        // A user's schema is sent as it is, named `reply`.
        req.hints.expect = Expect::Text;
        req.hints.schema = Some(std::sync::Arc::new(
            json!({"type": "object", "required": ["x"]}),
        ));
        let b = request_body(&req, false, true, Level::JsonSchema, false);
        assert_eq!(b["response_format"]["json_schema"]["name"], json!("reply"));
        assert_eq!(
            b["response_format"]["json_schema"]["schema"]["required"],
            json!(["x"])
        );
    }

    #[test]
    fn a_turn_may_critique_only_earlier_turns_of_others() {
        let mut h = RequestHints {
            expect: Expect::Turn,
            stance: Some(Box::new(super::super::StanceHint {
                round: 1,
                options: vec!["a".into(), "b".into()],
                ..Default::default()
            })),
            ..Default::default()
        };
        let (_, first) = response_schema(&h).unwrap();
        assert!(first["properties"].get("critiques").is_none(), "{first}");
        assert_eq!(first["additionalProperties"], json!(false));
        h.stance.as_mut().unwrap().others = vec![super::super::OtherStance {
            agent: "x".into(),
            position: "a".into(),
            confidence: 0.5,
            turn: 3,
        }];
        let (_, later) = response_schema(&h).unwrap();
        assert_eq!(
            later["properties"]["critiques"]["items"]["properties"]["turn"]["enum"],
            json!([3])
        );
    }

    #[test]
    fn tool_choice_is_sent_only_with_tools() {
        let mut req = ProviderRequest {
            agent: "a".into(),
            role: "r".into(),
            model: "m".into(),
            task: "t".into(),
            attempt: 1,
            visit: 0,
            messages: vec![Message::user("hi")],
            max_tokens: None,
            temperature: None,
            hints: RequestHints {
                tool_choice: ToolChoice::Required,
                ..Default::default()
            },
            input: serde_json::Value::Null,
        };
        let b = request_body(&req, true, true, Level::JsonSchema, false);
        assert!(b.get("tool_choice").is_none());
        req.hints.tools = vec![super::super::ToolSpec {
            name: "context_get".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
        }];
        let b = request_body(&req, true, true, Level::JsonSchema, false);
        assert_eq!(b["tool_choice"], json!("required"));
        req.hints.tool_choice = ToolChoice::Tool("context_get".into());
        let b = request_body(&req, true, true, Level::JsonSchema, false);
        assert_eq!(b["tool_choice"]["function"]["name"], json!("context_get"));
        req.hints.tool_choice = ToolChoice::None;
        let b = request_body(&req, true, true, Level::JsonSchema, false);
        assert_eq!(b["tool_choice"], json!("none"));
    }
}
