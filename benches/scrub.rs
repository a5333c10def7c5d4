//! Cost of scrubbing the provider's secrets from a streamed reply, delta by
//! delta (every openai delta goes through it before it becomes an event).
//! A 4 KiB reply in 4-byte deltas (about one token each), with no secret,
//! the API key, or the key and two header values; and the same reply with
//! the key quoted in it.
//!
//! Run with `cargo bench --bench scrub` (add `-- --quick` for a short run).

use std::hint::black_box;

use agentctl::llm::openai::reply_scrubber::Secrets;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const KEY: &str = "sk-proj-Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7sU9wY1aC3eG5iK7mO9qS";

fn reply(with_key: bool) -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 4096 {
        text.push_str(&format!("word{i} and some prose, "));
        if with_key && i == 60 {
            text.push_str(KEY);
        }
        i += 1;
    }
    text
}

fn deltas(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let end = (at + 4).min(text.len());
        out.push(&text[at..end]);
        at = end;
    }
    out
}

fn bench(c: &mut Criterion) {
    let sets = [
        ("no secret", Secrets::new(Vec::new())),
        ("key", Secrets::new([KEY.to_string()])),
        (
            "key + 2 headers",
            Secrets::new([
                KEY.to_string(),
                "proxy-token-9f8e7d6c5b4a".to_string(),
                "tenant-secret-0a1b2c3d".to_string(),
            ]),
        ),
    ];
    let mut g = c.benchmark_group("scrub_4KiB_reply_in_4B_deltas");
    for with_key in [false, true] {
        let text = reply(with_key);
        let ds = deltas(&text);
        g.throughput(Throughput::Bytes(text.len() as u64));
        for (name, secrets) in &sets {
            let label = format!("{name}{}", if with_key { ", key quoted" } else { "" });
            g.bench_function(label, |b| {
                b.iter(|| {
                    let mut s = secrets.stream();
                    let mut n = 0;
                    for d in &ds {
                        n += black_box(s.push(black_box(d))).len();
                    }
                    n + s.finish().len()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
