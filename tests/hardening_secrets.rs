//! A server that echoes a secret in a successful reply: the real binary
//! against the loopback mock, with the secret split across two streamed
//! deltas and across two pieces of a tool call's arguments (or whole, in a
//! non-streamed reply). The secret must reach none of the session files,
//! their exports, `run --json` or stderr; `providers list` must not print
//! credentials embedded in a base URL.

mod mock_openai;

use std::path::Path;
use std::process::Output;

use mock_openai::*;
use serde_json::{Value, json};

/// How the secret reaches agentctl.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// `api_key_env` naming an environment variable.
    Env,
    /// `api_key` in the config file.
    Inline,
    /// A custom header value.
    Header,
}

const ENV_VAR: &str = "AGENTCTL_SECRETS_E2E_KEY";

fn secret_for(source: Source) -> String {
    format!("sk-{source:?}-SECRETVALUE-0123456789abcdef").to_lowercase()
}

/// One tool-call piece of a streamed reply.
fn tool_piece(id: Option<&str>, name: Option<&str>, args: &str) -> String {
    let mut f = json!({"arguments": args});
    if let Some(n) = name {
        f["name"] = json!(n);
    }
    let mut tc = json!({"index": 0, "type": "function", "function": f});
    if let Some(id) = id {
        tc["id"] = json!(id);
    }
    json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "test",
           "choices": [{"index": 0, "delta": {"tool_calls": [tc]}, "finish_reason": null}]})
    .to_string()
}

/// First call: a `context_put` whose value is the secret. Second call: a
/// text reply quoting it. Streamed, each is split in the secret's middle.
fn echoing_reply(r: &Seen, n: usize, secret: &str) -> Reply {
    let (a, b) = secret.split_at(secret.len() / 2);
    let args = format!(r#"{{"key": "k", "value": "{secret}"}}"#);
    match (n, r.streamed()) {
        (0, true) => {
            let (x, y) = args.split_at(args.find(b).unwrap());
            Reply::Sse {
                events: vec![
                    tool_piece(Some("call_1"), Some("context_put"), x),
                    tool_piece(None, None, y),
                    finish("tool_calls"),
                    usage_chunk(10, 5),
                ],
                done: true,
                cut: false,
            }
        }
        (_, true) => sse_reply(&["the key is ", a, b, " ok"], Some((20, 6))),
        (0, false) => Reply::json(
            200,
            json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "test",
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": null,
                    "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "context_put", "arguments": args}}]}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}),
        ),
        (_, false) => whole_reply(&format!("the key is {secret} ok"), Some((20, 6))),
    }
}

const FLOW: &str = "[workflow]\nname = \"t\"\ninput = \"x\"\n\
[[agents]]\nid = \"w\"\nprovider = \"local\"\ntools = [\"context_put\"]\n\
[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"w\"\nprompt = \"hi\"\n";

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

async fn agentctl(args: &[&str], home: &Path, env_key: Option<&str>) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentctl"));
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("AGENTCTL_SESSION_DIR", home.join("sessions"))
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove(ENV_VAR)
        .kill_on_drop(true);
    if let Some(k) = env_key {
        cmd.env(ENV_VAR, k);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
        .await
        .expect("agentctl exits within 60 s");
    out.expect("run agentctl")
}

/// Every file under `dir`, read as text.
fn all_files(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            let bytes = std::fs::read(&p).unwrap();
            out.push((
                p.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

/// Asserts `text` holds no part of the secret that could identify it.
fn assert_clean(what: &str, text: &str, secret: &str) {
    let (a, b) = secret.split_at(secret.len() / 2);
    assert!(
        !text.contains(secret) && !text.contains(a) && !text.contains(b),
        "the secret reached {what}:\n{text}"
    );
}

async fn echoed_secret_is_scrubbed(source: Source, stream: bool) {
    let secret = secret_for(source);
    let s2 = secret.clone();
    let server = MockServer::start(move |r, n| echoing_reply(r, n, &s2)).await;
    let home = tempfile::tempdir().unwrap();
    let auth = match source {
        Source::Env => format!("api_key_env = \"{ENV_VAR}\"\n"),
        Source::Inline => format!("api_key = \"{secret}\"\n"),
        Source::Header => "api_key = \"sk-unrelated\"\n".to_string(),
    };
    let headers = match source {
        Source::Header => format!("[providers.local.headers]\nX-Proxy-Token = \"{secret}\"\n"),
        _ => String::new(),
    };
    let cfg = home.path().join("agentctl.toml");
    write_private(
        &cfg,
        &format!(
            "[providers.local]\nkind = \"openai\"\nbase_url = \"{}\"\n{auth}model = \"test\"\nstream = {stream}\n{headers}",
            server.base_url()
        ),
    );
    let wf = home.path().join("flow.toml");
    std::fs::write(&wf, FLOW).unwrap();
    let env_key = matches!(source, Source::Env).then_some(secret.as_str());
    let out = agentctl(
        &[
            "run",
            wf.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--json",
        ],
        home.path(),
        env_key,
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // The server really was sent the secret, so it echoed a live value.
    let calls = server.chat_requests();
    assert_eq!(calls.len(), 2, "a tool turn, then the answer");
    let sent = match source {
        Source::Header => calls[0].header("x-proxy-token").map(str::to_string),
        _ => calls[0].header("authorization").map(str::to_string),
    };
    assert!(sent.is_some_and(|v| v.ends_with(&secret)), "{source:?}");
    assert_eq!(calls[0].streamed(), stream);
    // The follow-up turn quotes the tool call as recorded: scrubbed.
    assert_clean("the follow-up request", &calls[1].body.to_string(), &secret);
    assert_clean("run --json", &stdout, &secret);
    assert_clean("stderr", &stderr, &secret);
    let summary: Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(summary["status"], "succeeded");
    let file = summary["session_file"]
        .as_str()
        .expect("recorded")
        .to_string();
    let mut files = Vec::new();
    all_files(&home.path().join("sessions"), &mut files);
    assert!(files.iter().any(|(p, _)| *p == file), "{file} in {files:?}");
    for (path, text) in &files {
        assert_clean(path, text, &secret);
    }
    let log = std::fs::read_to_string(&file).unwrap();
    // The reply and the tool call arrived, the secret masked in place.
    assert!(log.contains("the key is [REDACTED] ok"), "{log}");
    assert!(
        log.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|e| e["type"] == "tool_call"
                && e["arguments"]
                    .as_str()
                    .is_some_and(|a| a.contains(r#""value": "[REDACTED]""#))),
        "{log}"
    );
    for format in ["md", "json"] {
        let out = agentctl(
            &["sessions", "export", &file, "--format", format],
            home.path(),
            None,
        )
        .await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stdout.contains("[REDACTED]"), "{format}: {stdout}");
        assert_clean(&format!("the {format} export"), &stdout, &secret);
        assert_clean(&format!("the {format} export's stderr"), &stderr, &secret);
    }
}

#[tokio::test]
async fn an_env_key_echoed_in_a_streamed_reply_is_scrubbed() {
    echoed_secret_is_scrubbed(Source::Env, true).await;
}

#[tokio::test]
async fn an_inline_key_echoed_in_a_streamed_reply_is_scrubbed() {
    echoed_secret_is_scrubbed(Source::Inline, true).await;
}

#[tokio::test]
async fn a_header_value_echoed_in_a_streamed_reply_is_scrubbed() {
    echoed_secret_is_scrubbed(Source::Header, true).await;
}

#[tokio::test]
async fn a_key_echoed_in_a_whole_reply_is_scrubbed() {
    echoed_secret_is_scrubbed(Source::Inline, false).await;
}

#[tokio::test]
async fn providers_list_hides_credentials_in_a_base_url() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("agentctl.toml");
    write_private(
        &cfg,
        "[providers.proxy]\nkind = \"openai\"\nbase_url = \"http://alice:pw-SECRETVALUE-42@127.0.0.1:9/v1\"\nmodel = \"m\"\n",
    );
    let out = agentctl(
        &["providers", "list", "--config", cfg.to_str().unwrap()],
        home.path(),
        None,
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("http://[REDACTED]@127.0.0.1:9/v1"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("SECRETVALUE") && !stdout.contains("alice"),
        "{stdout}"
    );
    assert!(!stderr.contains("SECRETVALUE"), "{stderr}");
}
