//! `http_get`: GET from an allow-listed host, no redirects, with the body
//! streamed and the read stopped at the cap (a huge or endless body costs
//! at most the cap in memory).

use std::time::Duration;

/// Fetches `url` if its host is allowed; the body text, cut at `cap` bytes
/// (then marked `[truncated]`). A non-2xx status is an error quoting the
/// (equally capped) body.
pub async fn get(allow: &[String], url: &str, cap: usize) -> Result<String, String> {
    if allow.is_empty() {
        return Err("http_get is off: allow hosts with [tools] http_allow in config.toml".into());
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("bad URL `{url}`: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs, not `{}`",
            parsed.scheme()
        ));
    }
    let host = parsed.host_str().unwrap_or("");
    if !allow.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Err(format!(
            "host `{host}` is not in the allow-list ({})",
            allow.join(", ")
        ));
    }
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let mut resp = client.get(parsed).send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let mut body: Vec<u8> = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the body failed: {e}"))?
    {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            // Dropping the response closes the connection: the rest is
            // never read.
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let mut text = String::from_utf8_lossy(&body).into_owned();
    if truncated {
        // A cut may split a character; lossy decoding shows it as U+FFFD.
        text.push_str("\n[truncated]");
    }
    if !status.is_success() {
        return Err(format!("HTTP {status}: {text}"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback server answering one request with `head` then an endless
    /// chunked body; returns its port and a counter of bytes it got out.
    async fn endless_server(status: &'static str) -> (u16, tokio::task::JoinHandle<u64>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req).await;
            let head = format!("HTTP/1.1 {status}\r\ntransfer-encoding: chunked\r\n\r\n");
            s.write_all(head.as_bytes()).await.unwrap();
            let piece = vec![b'z'; 64 * 1024];
            let chunk = [
                format!("{:x}\r\n", piece.len()).into_bytes(),
                piece,
                b"\r\n".to_vec(),
            ]
            .concat();
            let mut sent = 0u64;
            // Bounded so a broken client cannot keep the test alive: 64 MiB.
            while sent < 64 * 1024 * 1024 {
                if s.write_all(&chunk).await.is_err() {
                    break;
                }
                sent += chunk.len() as u64;
            }
            sent
        });
        (port, task)
    }

    #[tokio::test]
    async fn an_endless_body_is_cut_at_the_cap_and_not_read_on() {
        let (port, server) = endless_server("200 OK").await;
        let url = format!("http://127.0.0.1:{port}/big");
        let text = get(&["127.0.0.1".into()], &url, 1000).await.unwrap();
        assert_eq!(text, format!("{}\n[truncated]", "z".repeat(1000)));
        // The server's writes fail once the client hung up, long before its
        // own 64 MiB bound (reading the whole body would reach it).
        let sent = server.await.unwrap();
        assert!(sent < 64 * 1024 * 1024, "the client read {sent} bytes");
    }

    #[tokio::test]
    async fn an_error_status_quotes_the_capped_body() {
        let (port, _server) = endless_server("500 Internal Server Error").await;
        let url = format!("http://127.0.0.1:{port}/");
        let e = get(&["127.0.0.1".into()], &url, 100).await.unwrap_err();
        assert!(e.starts_with("HTTP 500"), "{e}");
        assert!(e.len() < 200, "{}", e.len());
    }
}
