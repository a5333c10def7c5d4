//! A tiny OpenAI-compatible HTTP/1.1 server on 127.0.0.1 for tests: it
//! speaks the real wire format (JSON bodies, SSE streams with chunked
//! transfer encoding) and can misbehave on purpose (status codes, headers,
//! bodies that are not JSON, streams cut mid-way).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Lower-cased header names with their values.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn streamed(&self) -> bool {
        self.body.get("stream") == Some(&Value::Bool(true))
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A whole body with a status and extra headers.
    Body {
        status: u16,
        headers: Vec<(String, String)>,
        content_type: String,
        body: String,
    },
    /// An SSE stream: each string is one `data:` event; `done` adds the
    /// `[DONE]` event; `cut` drops the connection in the middle of the
    /// chunked body after the events (a broken transfer).
    Sse {
        events: Vec<String>,
        done: bool,
        cut: bool,
    },
}

impl Reply {
    pub fn json(status: u16, v: Value) -> Reply {
        Reply::Body {
            status,
            headers: vec![],
            content_type: "application/json".into(),
            body: v.to_string(),
        }
    }
    pub fn with_header(mut self, k: &str, v: &str) -> Reply {
        if let Reply::Body { headers, .. } = &mut self {
            headers.push((k.into(), v.into()));
        }
        self
    }
}

pub type Handler = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

/// A running server. Dropping it stops accepting.
pub struct MockServer {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockServer {
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    pub fn chat_requests(&self) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|s| s.path.ends_with("/chat/completions"))
            .collect()
    }

    /// Starts a server; `handler(request, n)` answers the n-th request (from 0).
    pub async fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let handler: Handler = Arc::new(handler);
        let s2 = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let seen = s2.clone();
                let handler = handler.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, seen, handler).await;
                });
            }
        });
        MockServer { port, seen, task }
    }
}

async fn serve(
    mut sock: TcpStream,
    seen: Arc<Mutex<Vec<Seen>>>,
    handler: Handler,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    // One request per connection (we answer with `Connection: close`).
    let head_end = loop {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body: Value = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
    let req = Seen {
        method,
        path,
        headers,
        body,
    };
    let n = {
        let mut s = seen.lock().unwrap();
        s.push(req.clone());
        s.len() - 1
    };
    match handler(&req, n) {
        Reply::Body {
            status,
            headers,
            content_type,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&body);
            sock.write_all(out.as_bytes()).await?;
        }
        Reply::Sse { events, done, cut } => {
            sock.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
            )
            .await?;
            let mut all: Vec<String> = events.iter().map(|e| format!("data: {e}\n\n")).collect();
            if done {
                all.push("data: [DONE]\n\n".into());
            }
            for e in all {
                sock.write_all(format!("{:x}\r\n{e}\r\n", e.len()).as_bytes())
                    .await?;
                sock.flush().await?;
            }
            if cut {
                // Promise more bytes than we send, then hang up.
                sock.write_all(b"40\r\ndata: {\"choi").await?;
                sock.flush().await?;
                return Ok(());
            }
            sock.write_all(b"0\r\n\r\n").await?;
        }
    }
    sock.flush().await?;
    let _ = sock.shutdown().await;
    Ok(())
}

// ── wire-format builders ────────────────────────────────────────────────

/// A streamed content chunk.
pub fn delta(text: &str) -> String {
    json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "test",
           "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
    .to_string()
}

/// The chunk carrying `finish_reason`.
pub fn finish(reason: &str) -> String {
    json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "test",
           "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
    .to_string()
}

/// The final usage chunk (`stream_options.include_usage`).
pub fn usage_chunk(prompt: u64, completion: u64) -> String {
    json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "test",
           "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
           "total_tokens": prompt + completion}})
    .to_string()
}

/// A full streamed reply of `parts` with usage.
pub fn sse_reply(parts: &[&str], usage: Option<(u64, u64)>) -> Reply {
    let mut events: Vec<String> = parts.iter().map(|p| delta(p)).collect();
    events.push(finish("stop"));
    if let Some((p, c)) = usage {
        events.push(usage_chunk(p, c));
    }
    Reply::Sse {
        events,
        done: true,
        cut: false,
    }
}

/// A non-streamed completion.
pub fn whole_reply(text: &str, usage: Option<(u64, u64)>) -> Reply {
    let mut v = json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
        "finish_reason": "stop"}]});
    if let Some((p, c)) = usage {
        v["usage"] = json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c});
    }
    Reply::json(200, v)
}

/// `GET /v1/models` listing these ids.
pub fn models(ids: &[&str]) -> Reply {
    Reply::json(
        200,
        json!({"object": "list", "data": ids.iter().map(|i| json!({"id": i, "object": "model", "created": 1, "owned_by": "test"})).collect::<Vec<_>>()}),
    )
}

/// An OpenAI-style error body.
pub fn error(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {"message": message, "type": "invalid_request_error", "code": status}}),
    )
}
