//! Cost of the sim provider and token counting on the orchestration hot path
//! (the 5000-task benchmark budgets 5 µs of engine overhead per task).
//!
//! Run with `cargo bench --bench sim`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use agentctl::llm::sim::SimProvider;
use agentctl::llm::tokens::TokenCounter;
use agentctl::llm::{Expect, Message, Provider, ProviderRequest, RequestHints, complete};
use agentctl::workflow::spec::SimScript;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures::StreamExt;

fn request(task: Arc<str>, expect: Expect) -> ProviderRequest {
    ProviderRequest {
        agent: "writer".into(),
        role: "writer".into(),
        model: "sim".into(),
        task,
        attempt: 1,
        visit: 0,
        messages: vec![
            Message::system("You are a concise technical writer."),
            Message::user("Summarise the incident report for the weekly review."),
        ],
        max_tokens: None,
        temperature: None,
        hints: RequestHints {
            expect,
            capabilities: vec!["research".into(), "code".into()],
            labels: Vec::new(),
            ..Default::default()
        },
        input: serde_json::Value::Null,
    }
}

fn bench_calls(c: &mut Criterion) {
    agentctl::llm::tokens::warm_up();
    let tasks: Vec<Arc<str>> = (0..4096).map(|i| Arc::from(format!("task-{i}"))).collect();
    let cases = [
        ("sim_call_text", SimScript::default(), Expect::Text),
        (
            "sim_call_scripted",
            SimScript {
                replies: vec!["done".into()],
                ..Default::default()
            },
            Expect::Text,
        ),
        ("sim_call_plan", SimScript::default(), Expect::Plan),
    ];
    for (name, script, expect) in cases {
        let p = SimProvider::new(1, HashMap::from([("writer".to_string(), script)]));
        let mut i = 0;
        // Requests are built in the untimed setup: the engine builds them
        // whatever the provider.
        c.bench_function(name, |b| {
            b.iter_batched(
                || {
                    i = (i + 1) % tasks.len();
                    request(tasks[i].clone(), expect)
                },
                |req| futures::executor::block_on(complete(&p, req)).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    // The stream alone, drained by hand (no `complete` string building).
    let p = SimProvider::new(1, HashMap::new());
    let mut i = 0;
    c.bench_function("sim_stream_drain", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % tasks.len();
                request(tasks[i].clone(), Expect::Text)
            },
            |req| {
                futures::executor::block_on(async {
                    let mut s = p.stream(req);
                    while let Some(chunk) = s.next().await {
                        black_box(chunk.unwrap());
                    }
                })
            },
            BatchSize::SmallInput,
        )
    });
}

fn bench_tokens(c: &mut Criterion) {
    let counter = TokenCounter::global();
    let text =
        "Summarise the incident report for the weekly review and list the follow-up actions.";
    counter.count(text);
    c.bench_function("tokens_count_cached", |b| {
        b.iter(|| counter.count(black_box(text)))
    });
    let fresh: Vec<String> = (0..100_000).map(|i| format!("{text} Item {i}.")).collect();
    let mut i = 0;
    c.bench_function("tokens_count_uncached", |b| {
        b.iter(|| {
            i = (i + 1) % fresh.len();
            // A fresh counter per text would measure the cache's set-up; this
            // walks texts it has not seen (the cache holds 32 Ki of 100 Ki).
            counter.count(black_box(&fresh[i]))
        })
    });
}

criterion_group!(benches, bench_calls, bench_tokens);
criterion_main!(benches);
