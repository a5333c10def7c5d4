//! Bounds on what a server may send. A reply is read as it streams, and a
//! server that never stops (or sends one endless line, which the event
//! stream parser would buffer whole) must not take the process's memory
//! with it: every body is cut at a byte limit, and the cut is a retryable
//! failure naming the limit.

use futures::StreamExt;

/// The most a successful response body may hold (a whole reply or a whole
/// event stream, tool-call arguments included).
pub(crate) const MAX_BODY: usize = 4 << 20;
/// The most of an error body read (it is only quoted, in part).
pub(crate) const MAX_ERROR_BODY: usize = 64 << 10;

/// The error a body over its limit ends with.
#[derive(Debug, thiserror::Error)]
#[error("the response body exceeded {limit} bytes and was cut")]
pub(crate) struct BodyTooLarge {
    pub(crate) limit: usize,
}

/// The same response, its body cut with [`BodyTooLarge`] after `limit`
/// bytes.
pub(crate) fn capped(response: reqwest::Response, limit: usize) -> reqwest::Response {
    let status = response.status();
    let headers = response.headers().clone();
    let mut seen = 0usize;
    let body = response.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            return Err(
                Box::new(BodyTooLarge { limit }) as Box<dyn std::error::Error + Send + Sync>
            );
        }
        Ok(chunk)
    });
    let mut out = http::Response::new(reqwest::Body::wrap_stream(body));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    reqwest::Response::from(out)
}

/// Reads at most `limit` bytes of a body as text; `Err` when there was more.
pub(crate) async fn read_capped(
    response: reqwest::Response,
    limit: usize,
) -> Result<String, BodyTooLarge> {
    let mut buf: Vec<u8> = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        if buf.len() + chunk.len() > limit {
            let room = limit - buf.len();
            buf.extend_from_slice(&chunk[..room]);
            return Err(BodyTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Reads at most `limit` bytes of an error body; the part that fits when
/// there was more (it is only quoted).
pub(crate) async fn read_error_body(response: reqwest::Response) -> String {
    let mut buf: Vec<u8> = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(Ok(chunk)) = body.next().await {
        let room = MAX_ERROR_BODY - buf.len();
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}
