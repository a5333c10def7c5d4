//! The real `openai` provider against a loopback server speaking the
//! OpenAI wire format.

mod mock_openai;

use std::time::Duration;

use agentctl::event::{ErrorKind, Usage};
use agentctl::llm::openai::{OpenAiProvider, OpenAiSettings};
use agentctl::llm::tokens::TokenCounter;
use agentctl::llm::{
    Adaptation, Expect, Message, Provider, ProviderChunk, ProviderError, ProviderRequest,
    RequestHints, ToolCall, ToolSpec,
};
use agentctl::secret::Secret;
use futures::StreamExt;
use mock_openai::*;
use serde_json::json;

const KEY: &str = "sk-test-MARKER-0123456789abcdef";

fn provider(server: &MockServer, stream: bool) -> OpenAiProvider {
    let mut s = OpenAiSettings::new("openai", server.base_url() + "/");
    s.api_key = Secret::new(KEY);
    s.stream = stream;
    s.timeout = Duration::from_secs(10);
    OpenAiProvider::new(s).expect("provider")
}

fn req(expect: Expect) -> ProviderRequest {
    ProviderRequest {
        agent: "writer".into(),
        role: "writer".into(),
        model: "test".into(),
        task: "t1".into(),
        attempt: 1,
        visit: 0,
        messages: vec![Message::system("be brief"), Message::user("say hello")],
        max_tokens: Some(50),
        temperature: Some(0.2),
        hints: RequestHints {
            expect,
            ..Default::default()
        },
        input: serde_json::Value::Null,
    }
}

/// Runs one call: the deltas and the final result.
async fn call(
    p: &OpenAiProvider,
    r: ProviderRequest,
) -> (Vec<String>, Result<Usage, ProviderError>) {
    let (d, _, r) = call_tools(p, r).await;
    (d, r)
}

/// Runs one call: the deltas, the tool calls and the final result.
async fn call_tools(
    p: &OpenAiProvider,
    r: ProviderRequest,
) -> (Vec<String>, Vec<ToolCall>, Result<Usage, ProviderError>) {
    let (d, c, _, r) = call_all(p, r).await;
    (d, c, r)
}

/// Runs one call: the deltas, the tool calls, the adaptations and the
/// final result.
async fn call_all(
    p: &OpenAiProvider,
    r: ProviderRequest,
) -> (
    Vec<String>,
    Vec<ToolCall>,
    Vec<Adaptation>,
    Result<Usage, ProviderError>,
) {
    let mut s = p.stream(r);
    let mut deltas = Vec::new();
    let mut calls = Vec::new();
    let mut adapted = Vec::new();
    while let Some(c) = s.next().await {
        match c {
            Ok(ProviderChunk::Delta(d)) => deltas.push(d),
            Ok(ProviderChunk::ToolCalls(c)) => calls.extend(c),
            Ok(ProviderChunk::Adapted(a)) => adapted.push(a),
            Ok(ProviderChunk::Done { usage }) => {
                assert!(s.next().await.is_none(), "nothing after Done");
                return (deltas, calls, adapted, Ok(usage));
            }
            Err(e) => return (deltas, calls, adapted, Err(e)),
        }
    }
    panic!("stream ended without Done or error");
}

fn assert_no_key(text: &str) {
    assert!(!text.contains("MARKER"), "secret leaked: {text}");
}

#[tokio::test]
async fn streamed_reply_with_usage_in_final_chunk() {
    let server = MockServer::start(|_, _| sse_reply(&["Hel", "lo", " world"], Some((21, 3)))).await;
    let p = provider(&server, true);
    let (deltas, usage) = call(&p, req(Expect::Text)).await;
    assert_eq!(deltas, ["Hel", "lo", " world"]);
    assert_eq!(
        usage.unwrap(),
        Usage {
            prompt_tokens: 21,
            completion_tokens: 3,
            estimated: false
        }
    );
    let seen = server.chat_requests();
    assert_eq!(seen.len(), 1, "one call is one request");
    let r = &seen[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(r.body["stream"], json!(true));
    assert_eq!(r.body["stream_options"]["include_usage"], json!(true));
    assert_eq!(r.body["model"], json!("test"));
    assert_eq!(r.body["max_tokens"], json!(50));
    assert_eq!(
        r.body["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(
        r.body["messages"][1],
        json!({"role": "user", "content": "say hello"})
    );
    assert!(r.body.get("response_format").is_none());
}

#[tokio::test]
async fn streamed_reply_without_usage_is_estimated_with_the_tokenizer() {
    let server = MockServer::start(|_, _| sse_reply(&["Hello", " there"], None)).await;
    let p = provider(&server, true);
    let r = req(Expect::Text);
    let tc = TokenCounter::global();
    let want = Usage {
        prompt_tokens: tc.count_messages(&r.messages),
        completion_tokens: tc.count("Hello there"),
        estimated: true,
    };
    let (deltas, usage) = call(&p, r).await;
    assert_eq!(deltas.concat(), "Hello there");
    assert_eq!(usage.unwrap(), want);
}

#[tokio::test]
async fn non_streamed_reply_with_and_without_usage() {
    let server = MockServer::start(|_, n| {
        if n == 0 {
            whole_reply("whole answer", Some((11, 2)))
        } else {
            whole_reply("whole answer", None)
        }
    })
    .await;
    let p = provider(&server, false);
    let (deltas, usage) = call(&p, req(Expect::Text)).await;
    assert_eq!(deltas, ["whole answer"]);
    assert_eq!(
        usage.unwrap(),
        Usage {
            prompt_tokens: 11,
            completion_tokens: 2,
            estimated: false
        }
    );
    let (_, usage) = call(&p, req(Expect::Text)).await;
    let usage = usage.unwrap();
    assert!(usage.estimated);
    assert_eq!(
        usage.completion_tokens,
        TokenCounter::global().count("whole answer")
    );
    let seen = server.chat_requests();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|r| r.body["stream"] == json!(false)));
    assert!(seen.iter().all(|r| r.body.get("stream_options").is_none()));
}

#[tokio::test]
async fn server_that_rejects_streaming_gets_non_streamed_requests() {
    let server = MockServer::start(|r, _| {
        if r.streamed() {
            error(400, "streaming is not supported by this server")
        } else {
            whole_reply("fine", Some((5, 1)))
        }
    })
    .await;
    let p = provider(&server, true);
    let (_, usage) = call(&p, req(Expect::Text)).await;
    assert_eq!(usage.unwrap().completion_tokens, 1);
    // Learned: the second call goes straight to non-streaming.
    let (_, usage) = call(&p, req(Expect::Text)).await;
    assert_eq!(usage.unwrap().prompt_tokens, 5);
    let streamed: Vec<bool> = server.chat_requests().iter().map(Seen::streamed).collect();
    assert_eq!(streamed, [true, false, false]);
}

#[tokio::test]
async fn server_that_ignores_stream_true_and_answers_json_is_fine() {
    let server = MockServer::start(|_, _| whole_reply("one piece", Some((4, 2)))).await;
    let p = provider(&server, true);
    let (deltas, usage) = call(&p, req(Expect::Text)).await;
    assert_eq!(deltas, ["one piece"]);
    assert_eq!(usage.unwrap().total(), 6);
    assert_eq!(server.chat_requests().len(), 1);
}

#[tokio::test]
async fn structured_output_asks_for_a_schema_and_falls_back_to_prompt_only() {
    let server = MockServer::start(|r, _| {
        if r.body.get("response_format").is_some() {
            error(400, "response_format json_schema is not supported")
        } else {
            sse_reply(&[r#"{"approved": true, "feedback": "ok"}"#], Some((9, 8)))
        }
    })
    .await;
    let p = provider(&server, true);
    let (deltas, _, adapted, usage) = call_all(&p, req(Expect::Review)).await;
    assert_eq!(deltas.concat(), r#"{"approved": true, "feedback": "ok"}"#);
    assert_eq!(usage.unwrap().total(), 17);
    let seen = server.chat_requests();
    // json_schema, json_object with the schema, json_object, prompt only.
    assert_eq!(seen.len(), 4);
    assert_eq!(
        seen[0].body["response_format"]["type"],
        json!("json_schema")
    );
    assert_eq!(
        seen[0].body["response_format"]["json_schema"]["schema"]["required"],
        json!(["approved", "feedback"])
    );
    assert_eq!(
        seen[1].body["response_format"]["type"],
        json!("json_object")
    );
    assert_eq!(
        seen[1].body["response_format"]["schema"]["required"],
        json!(["approved", "feedback"])
    );
    assert_eq!(
        seen[2].body["response_format"],
        json!({"type": "json_object"})
    );
    assert!(seen[3].body.get("response_format").is_none());
    let steps: Vec<(&str, &str)> = adapted
        .iter()
        .map(|a| (a.from.as_str(), a.to.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("json_schema", "json_object+schema"),
            ("json_object+schema", "json_object"),
            ("json_object", "prompt_only")
        ]
    );
    assert!(adapted.iter().all(|a| a.setting == "structured_output"));
    assert!(adapted[0].reason.contains("HTTP 400"), "{:?}", adapted[0]);
    // Learned for the provider's lifetime.
    let (_, _, adapted, r) = call_all(&p, req(Expect::Review)).await;
    r.unwrap();
    assert!(adapted.is_empty());
    assert_eq!(server.chat_requests().len(), 5);
}

/// A server that takes `json_object` with a schema and refuses `json_schema`
/// with `status` (llama-cpp-python: 500; FastAPI servers: 422).
async fn refuses_json_schema_with(status: u16, message: &'static str) {
    let server = MockServer::start(move |r, _| {
        if r.body["response_format"]["type"] == json!("json_schema") {
            error(status, message)
        } else {
            sse_reply(
                &[r#"{"approved": false, "feedback": "shorter"}"#],
                Some((9, 8)),
            )
        }
    })
    .await;
    let p = provider(&server, true);
    let (deltas, _, adapted, usage) = call_all(&p, req(Expect::Review)).await;
    usage.unwrap_or_else(|e| panic!("HTTP {status}: {e:?}"));
    assert_eq!(
        deltas.concat(),
        r#"{"approved": false, "feedback": "shorter"}"#
    );
    let seen = server.chat_requests();
    assert_eq!(
        seen.len(),
        2,
        "HTTP {status}: refused once, then json_object"
    );
    assert_eq!(
        seen[1].body["response_format"]["type"],
        json!("json_object")
    );
    assert_eq!(adapted.len(), 1);
    assert_eq!(adapted[0].to, "json_object+schema");
    assert!(adapted[0].reason.contains(&format!("HTTP {status}")));
    // The next call starts where the endpoint is now.
    call_all(&p, req(Expect::Review)).await.3.unwrap();
    assert_eq!(server.chat_requests().len(), 3);
    assert_eq!(
        server.chat_requests()[2].body["response_format"]["type"],
        json!("json_object")
    );
}

#[tokio::test]
async fn a_500_naming_response_format_is_a_refusal_not_a_server_error() {
    refuses_json_schema_with(
        500,
        "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}",
    )
    .await;
}

#[tokio::test]
async fn a_422_refusal_steps_down_too() {
    refuses_json_schema_with(
        422,
        "body.response_format.type: Input should be 'text' or 'json_object'",
    )
    .await;
}

#[tokio::test]
async fn a_400_for_another_reason_stays_fatal_and_a_plain_500_stays_retryable() {
    let server =
        MockServer::start(|_, _| error(400, "This model's maximum context length is 4096 tokens"))
            .await;
    let p = provider(&server, true);
    let (_, _, adapted, r) = call_all(&p, req(Expect::Review)).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest, "{e:?}");
    assert!(adapted.is_empty());
    assert_eq!(server.chat_requests().len(), 1);

    let server = MockServer::start(|_, _| error(500, "CUDA out of memory")).await;
    let p = provider(&server, true);
    let (_, _, adapted, r) = call_all(&p, req(Expect::Review)).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server, "{e:?}");
    assert!(e.message.contains("HTTP 500"), "{}", e.message);
    assert!(adapted.is_empty());
    assert_eq!(server.chat_requests().len(), 1);
}

#[tokio::test]
async fn a_recorded_level_is_restored_without_probing() {
    let server = MockServer::start(|r, _| {
        if r.body.get("response_format").is_some() {
            error(400, "response_format is not supported")
        } else {
            sse_reply(&[r#"{"approved": true, "feedback": "ok"}"#], Some((9, 8)))
        }
    })
    .await;
    let p = provider(&server, true);
    p.restore(&Adaptation {
        setting: "structured_output".into(),
        from: "json_object".into(),
        to: "prompt_only".into(),
        reason: "recorded".into(),
    });
    call_all(&p, req(Expect::Review)).await.3.unwrap();
    let seen = server.chat_requests();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].body.get("response_format").is_none());
}

#[tokio::test]
async fn rate_limit_carries_retry_after_from_the_header_then_success() {
    let server = MockServer::start(|_, n| {
        if n == 0 {
            error(429, "Rate limit reached").with_header("retry-after", "2")
        } else {
            sse_reply(&["ok"], Some((3, 1)))
        }
    })
    .await;
    let p = provider(&server, true);
    let (_, r) = call(&p, req(Expect::Text)).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert!(e.kind.is_retryable());
    assert_eq!(e.retry_after, Some(Duration::from_secs(2)));
    assert!(
        e.message.contains("HTTP 429") && e.message.contains("Rate limit reached"),
        "{e}"
    );
    assert_eq!(
        server.chat_requests().len(),
        1,
        "no retry inside the client"
    );
    let (_, r) = call(&p, req(Expect::Text)).await;
    assert_eq!(r.unwrap().total(), 4);
    assert_eq!(server.chat_requests().len(), 2);
}

#[tokio::test]
async fn rate_limit_retry_after_from_the_body() {
    let server = MockServer::start(|_, _| {
        error(
            429,
            "Rate limit reached for gpt-4o. Please try again in 1.5s.",
        )
    })
    .await;
    let p = provider(&server, true);
    let e = call(&p, req(Expect::Text)).await.1.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.retry_after, Some(Duration::from_millis(1500)));
}

#[tokio::test]
async fn server_error_then_success() {
    let server = MockServer::start(|_, n| {
        if n == 0 {
            Reply::Body {
                status: 500,
                headers: vec![],
                content_type: "text/plain".into(),
                body: "upstream exploded".into(),
            }
        } else {
            sse_reply(&["fine"], Some((7, 1)))
        }
    })
    .await;
    let p = provider(&server, true);
    let e = call(&p, req(Expect::Text)).await.1.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server);
    assert!(
        e.message.contains("HTTP 500") && e.message.contains("upstream exploded"),
        "{e}"
    );
    assert_eq!(e.retry_after, None);
    let (_, r) = call(&p, req(Expect::Text)).await;
    assert_eq!(
        r.unwrap(),
        Usage {
            prompt_tokens: 7,
            completion_tokens: 1,
            estimated: false
        }
    );
    assert_eq!(server.chat_requests().len(), 2);
}

#[tokio::test]
async fn stream_cut_mid_way_is_retryable_then_success() {
    let server = MockServer::start(|_, n| {
        if n == 0 {
            Reply::Sse {
                events: vec![delta("partial "), delta("answ")],
                done: false,
                cut: true,
            }
        } else {
            sse_reply(&["complete answer"], Some((8, 2)))
        }
    })
    .await;
    let p = provider(&server, true);
    let (deltas, r) = call(&p, req(Expect::Text)).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server, "{e}");
    assert!(e.kind.is_retryable());
    assert!(e.message.contains("discarded"), "{e}");
    // The broken call still cost its prompt and the text received.
    let tc = TokenCounter::global();
    let r0 = req(Expect::Text);
    assert_eq!(
        e.usage,
        Some(Usage {
            prompt_tokens: tc.count_messages(&r0.messages),
            completion_tokens: tc.count("partial answ"),
            estimated: true
        })
    );
    // The partial text was streamed but the call failed: the engine's
    // `complete` drops it.
    assert_eq!(deltas.concat(), "partial answ");
    let (deltas, r) = call(&p, req(Expect::Text)).await;
    assert_eq!(deltas.concat(), "complete answer");
    assert_eq!(r.unwrap().total(), 10);
    assert_eq!(server.chat_requests().len(), 2);
}

#[tokio::test]
async fn stream_without_finish_reason_is_truncated() {
    let server = MockServer::start(|_, _| Reply::Sse {
        events: vec![delta("half")],
        done: false,
        cut: false,
    })
    .await;
    let p = provider(&server, true);
    let e = call(&p, req(Expect::Text)).await.1.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server);
    assert!(
        e.message.contains("ended before the reply was complete"),
        "{e}"
    );
}

#[tokio::test]
async fn body_that_is_not_json_is_a_fatal_error_naming_the_url() {
    let server = MockServer::start(|_, _| Reply::Body {
        status: 200,
        headers: vec![],
        content_type: "text/html".into(),
        body: "<html><body>Welcome to nginx!</body></html>".into(),
    })
    .await;
    for stream in [true, false] {
        let p = provider(&server, stream);
        let e = call(&p, req(Expect::Text)).await.1.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(!e.kind.is_retryable());
        let url = format!("{}/chat/completions", server.base_url());
        assert!(e.message.contains(&url), "{e}");
        assert!(
            e.message.contains("not JSON") && e.message.contains("nginx"),
            "{e}"
        );
        assert!(e.message.contains("hint"), "{e}");
    }
}

#[tokio::test]
async fn unauthorized_is_fatal_with_a_hint_and_no_key() {
    let server =
        MockServer::start(|_, _| error(401, &format!("Incorrect API key provided: {KEY}."))).await;
    let p = provider(&server, true);
    let e = call(&p, req(Expect::Text)).await.1.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert!(!e.kind.is_retryable());
    assert!(e.message.contains("HTTP 401"), "{e}");
    assert!(
        e.message.contains("hint") && e.message.contains("API key"),
        "{e}"
    );
    assert_no_key(&e.message);
    assert_no_key(&format!("{e:?} {p:?}"));
}

#[tokio::test]
async fn unknown_model_is_fatal_with_a_hint() {
    let server = MockServer::start(|_, _| error(404, "The model `nope` does not exist")).await;
    let p = provider(&server, true);
    let e = call(&p, req(Expect::Text)).await.1.unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(e.message.contains("does not exist"), "{e}");
    assert!(e.message.contains("model name is wrong"), "{e}");
}

#[tokio::test]
async fn connection_refused_is_retryable_with_a_hint() {
    let server = MockServer::start(|_, _| sse_reply(&["x"], None)).await;
    let port = server.port;
    drop(server);
    tokio::task::yield_now().await;
    let mut s = OpenAiSettings::new("openai", format!("http://127.0.0.1:{port}/v1"));
    s.connect_timeout = Duration::from_secs(2);
    let p = OpenAiProvider::new(s).unwrap();
    let e = call(&p, req(Expect::Text)).await.1.unwrap_err();
    assert!(e.kind.is_retryable(), "{e}");
    assert!(e.message.contains("127.0.0.1"), "{e}");
}

#[tokio::test]
async fn dropping_the_stream_aborts_the_request() {
    // The server never answers; the call must not outlive its stream.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        use tokio::io::AsyncReadExt;
        // Read until the client hangs up.
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = tx.send(());
    });
    let p = OpenAiProvider::new(OpenAiSettings::new(
        "openai",
        format!("http://127.0.0.1:{port}/v1"),
    ))
    .unwrap();
    let mut s = p.stream(req(Expect::Text));
    let pending = tokio::time::timeout(Duration::from_millis(200), s.next()).await;
    assert!(pending.is_err(), "no reply yet");
    drop(s);
    let closed = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    assert_eq!(closed, Ok(Some(())), "the connection was closed");
}

#[tokio::test]
async fn models_are_listed() {
    let server = MockServer::start(|_, _| models(&["test", "other"])).await;
    let p = provider(&server, true);
    assert_eq!(p.list_models().await.unwrap(), ["test", "other"]);
    assert_eq!(server.requests()[0].path, "/v1/models");
}

fn tool_piece(index: u64, id: Option<&str>, name: Option<&str>, args: &str) -> String {
    let mut f = json!({"arguments": args});
    if let Some(n) = name {
        f["name"] = json!(n);
    }
    let mut tc = json!({"index": index, "type": "function", "function": f});
    if let Some(id) = id {
        tc["id"] = json!(id);
    }
    json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "test",
           "choices": [{"index": 0, "delta": {"tool_calls": [tc]}, "finish_reason": null}]})
    .to_string()
}

fn with_tools(mut r: ProviderRequest) -> ProviderRequest {
    r.hints.tools = vec![ToolSpec {
        name: "context_get".into(),
        description: "read".into(),
        parameters: json!({"type": "object", "properties": {"key": {"type": "string"}}}),
    }];
    r
}

#[tokio::test]
async fn streamed_tool_calls_split_across_chunks_several_in_one_turn() {
    let server = MockServer::start(|_, _| Reply::Sse {
        events: vec![
            tool_piece(0, Some("call_a"), Some("context_get"), ""),
            tool_piece(0, None, None, "{\"ke"),
            tool_piece(1, Some("call_b"), Some("context_put"), "{\"key\": \"x\", "),
            tool_piece(0, None, None, "y\": \"topic\"}"),
            tool_piece(1, None, None, "\"value\": 3}"),
            finish("tool_calls"),
            usage_chunk(40, 25),
        ],
        done: true,
        cut: false,
    })
    .await;
    let p = provider(&server, true);
    let (deltas, calls, usage) = call_tools(&p, with_tools(req(Expect::Text))).await;
    assert!(deltas.is_empty());
    assert_eq!(
        calls,
        [
            ToolCall {
                id: "call_a".into(),
                name: "context_get".into(),
                arguments: r#"{"key": "topic"}"#.into()
            },
            ToolCall {
                id: "call_b".into(),
                name: "context_put".into(),
                arguments: r#"{"key": "x", "value": 3}"#.into()
            },
        ]
    );
    assert_eq!(usage.unwrap().total(), 65);
    let r = &server.chat_requests()[0];
    assert_eq!(r.body["tools"][0]["type"], json!("function"));
    assert_eq!(r.body["tools"][0]["function"]["name"], json!("context_get"));
}

#[tokio::test]
async fn non_streamed_tool_calls_and_the_follow_up_turn_format() {
    let server = MockServer::start(|_, _| {
        Reply::json(
            200,
            json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "test",
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": null, "tool_calls": [
                        {"id": "t1", "type": "function", "function": {"name": "context_get", "arguments": "{\"key\":\"k\"}"}}
                    ]}}],
                "usage": {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35}}),
        )
    })
    .await;
    let p = provider(&server, false);
    let mut r = with_tools(req(Expect::Text));
    let (_, calls, usage) = call_tools(&p, r.clone()).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].arguments, r#"{"key":"k"}"#);
    assert_eq!(usage.unwrap().total(), 35);
    // The next turn carries the assistant's calls and the tool's result.
    r.messages.push(Message::assistant_tool_calls("", calls));
    r.messages.push(Message::tool_result("t1", "\"v\""));
    let _ = call_tools(&p, r).await;
    let body = &server.chat_requests()[1].body;
    assert_eq!(body["messages"][2]["role"], json!("assistant"));
    // "" rather than null: llama-cpp-python refuses null.
    assert_eq!(body["messages"][2]["content"], json!(""));
    assert_eq!(body["messages"][2]["tool_calls"][0]["id"], json!("t1"));
    assert_eq!(
        body["messages"][2]["tool_calls"][0]["function"]["arguments"],
        json!(r#"{"key":"k"}"#)
    );
    assert_eq!(
        body["messages"][3],
        json!({"role": "tool", "tool_call_id": "t1", "content": "\"v\""})
    );
}

#[tokio::test]
async fn a_reply_far_past_max_tokens_is_cut_as_a_retryable_failure() {
    // max_tokens = 50: an endless stream of words stops at 50 × 32 + 4096
    // bytes, not at the call's time limit.
    let server = MockServer::start(|_, _| Reply::Sse {
        events: (0..4000).map(|_| delta("words ")).collect(),
        done: false,
        cut: false,
    })
    .await;
    let p = provider(&server, true);
    let (deltas, usage) = call(&p, req(Expect::Text)).await;
    let e = usage.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Server, "{e:?}");
    assert!(e.message.contains("ran past 5696 bytes"), "{}", e.message);
    assert!(e.message.contains("max_tokens = 50"), "{}", e.message);
    let sent: usize = deltas.iter().map(String::len).sum();
    assert!(sent <= 5696 + 6, "relayed {sent} bytes");
    assert!(e.usage.is_some(), "the partial reply still cost tokens");
}

#[tokio::test]
async fn an_endless_event_line_is_cut_at_the_body_limit() {
    // One event of 5 MiB with no line end in sight: the event parser would
    // buffer it whole (and rescan it at every chunk); the body limit (4 MiB)
    // ends it first.
    let server = MockServer::start(|_, _| Reply::Sse {
        events: vec!["x".repeat(5 << 20)],
        done: false,
        cut: false,
    })
    .await;
    let p = provider(&server, true);
    let (deltas, usage) = call(&p, req(Expect::Text)).await;
    let e = usage.unwrap_err();
    assert!(deltas.is_empty());
    assert_eq!(e.kind, ErrorKind::Server, "{e:?}");
    assert!(e.message.contains("passed the 4 MiB"), "{}", e.message);
}
