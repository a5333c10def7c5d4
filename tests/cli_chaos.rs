//! `agentctl run builtin:chaos --json`: the summary shows the retries,
//! breaker openings and fallbacks that carried the run, and the metrics
//! agree with each other.

use std::process::Command;

use serde_json::Value;

#[test]
fn chaos_json_summary_shows_retries_breaker_openings_and_fallbacks() {
    let out = Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args([
            "run",
            "builtin:chaos",
            "--json",
            "--seed",
            "0",
            "--no-record",
        ])
        .output()
        .expect("run agentctl");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["status"], "succeeded");
    let m = &v["metrics"];
    let n = |k: &str| m[k].as_u64().unwrap_or_else(|| panic!("metrics.{k}: {m}"));
    assert!(n("retries") >= 1, "{m}");
    assert!(n("breaker_openings") >= 1, "{m}");
    assert!(n("fallbacks") >= 1, "{m}");
    // Malformed replies (cut-off JSON) were caught and repaired or retried.
    assert!(n("malformed") >= 1, "{m}");
    assert!(n("repairs") >= 1, "{m}");
    assert!(n("repairs") <= n("malformed"), "{m}");
    assert_eq!(n("calls"), n("calls_ok") + n("calls_failed"));
    assert_eq!(
        n("prompt_tokens") + n("completion_tokens"),
        v["tokens"]["total"].as_u64().unwrap()
    );
    assert!(
        v["tokens"]["total"].as_u64().unwrap() <= 60_000,
        "within budget"
    );
    // Per-agent figures add up to the run's.
    let agents = m["agents"].as_array().expect("agents");
    let sum = |k: &str| agents.iter().map(|a| a[k].as_u64().unwrap()).sum::<u64>();
    for k in [
        "calls",
        "retries",
        "fallbacks",
        "breaker_openings",
        "prompt_tokens",
        "malformed",
        "repairs",
    ] {
        assert_eq!(sum(k), n(k), "{k}");
    }
    let executor = agents.iter().find(|a| a["agent"] == "executor").unwrap();
    assert_ne!(executor["health"], "healthy", "it failed a lot: {executor}");
    let l = &m["latency_ms"];
    let f = |k: &str| l[k].as_f64().unwrap();
    assert!(0.0 < f("p50") && f("p50") <= f("p95") && f("p95") <= f("p99"));
}
