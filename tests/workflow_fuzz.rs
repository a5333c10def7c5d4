//! Fuzzing every input parser: the workflow loader and validator (random
//! text, and valid fixtures mutated byte- and line-wise, in both formats),
//! the session reader (recorded sessions mutated), the expression and
//! template parsers, and the sim's parameters (validated, then run). No
//! input may panic, abort, hang or take unbounded memory.
//!
//! Each target runs in a child process (this test binary again, running
//! only that test, told by an environment variable to run the body) under
//! `RLIMIT_AS`, so an allocation past the limit
//! or a stack overflow is an abort the parent sees, not a machine brought
//! down. `AGENTCTL_FUZZ_CASES` scales the case counts: the default is sized
//! for about five minutes in all on CI's two cores; `AGENTCTL_FUZZ_CASES=20`
//! is a quick check.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::session::SessionReader;
use agentctl::workflow::expr::Expr;
use agentctl::workflow::graph_export::{to_dot, to_mermaid};
use agentctl::workflow::load::{Format, load_str};
use agentctl::workflow::template::Template;
use proptest::prelude::*;
use serde_json::json;

const FIXTURES: &[(&str, Format)] = &[
    (
        include_str!("fixtures/workflows/research_pipeline.toml"),
        Format::Toml,
    ),
    (
        include_str!("fixtures/workflows/research_pipeline.json"),
        Format::Json,
    ),
    (
        include_str!("fixtures/workflows/triage_fanout.toml"),
        Format::Toml,
    ),
    (
        include_str!("fixtures/workflows/triage_fanout.json"),
        Format::Json,
    ),
];

/// Loads `text` both ways and exercises whatever comes back.
fn exercise(text: &str) {
    for format in [Format::Toml, Format::Json] {
        match load_str(text, "fuzz", format) {
            Ok(l) => {
                assert!(!to_dot(&l.workflow).is_empty());
                assert!(!to_mermaid(&l.workflow).is_empty());
                let _ = l.warnings.to_string();
            }
            Err(d) => {
                assert!(d.has_errors(), "an Err must hold an error");
                for e in &d {
                    assert!(e.line >= 1 && e.column >= 1, "unlocated: {e}");
                }
                let _ = d.to_string();
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Truncate(usize),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::FlipBit(p, b)),
        (
            any::<usize>(),
            prop::sample::select(b"\"'[]{}=,.\n#$\\ 0-".to_vec())
        )
            .prop_map(|(p, c)| Mutation::SetByte(p, c)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(text: &str, muts: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for m in muts {
        let n = bytes.len().max(1);
        match *m {
            Mutation::FlipBit(p, b) => {
                if let Some(x) = bytes.get_mut(p % n) {
                    *x ^= 1 << b;
                }
            }
            Mutation::SetByte(p, c) => {
                if let Some(x) = bytes.get_mut(p % n) {
                    *x = c;
                }
            }
            Mutation::Truncate(p) => bytes.truncate(p % n),
            Mutation::DeleteLine(_) | Mutation::DuplicateLine(_) | Mutation::SwapLines(..) => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                let l = lines.len();
                match *m {
                    Mutation::DeleteLine(i) => {
                        lines.remove(i % l);
                    }
                    Mutation::DuplicateLine(i) => {
                        let line = lines[i % l].clone();
                        lines.insert(i % l, line);
                    }
                    Mutation::SwapLines(a, b) => lines.swap(a % l, b % l),
                    _ => {}
                }
                bytes = lines.join(&b'\n');
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Address space each fuzz child may use: far above what any target needs
/// (the binary and its libraries included), far below the machine.
const CHILD_MEMORY: u64 = 3 << 30;

/// Set in the children, so a child never spawns children of its own.
const CHILD_ENV: &str = "AGENTCTL_FUZZ_CHILD";

/// Cases of the workflow loader target; the others keep their proportion
/// (set so that each takes a similar time). `AGENTCTL_FUZZ_CASES` replaces
/// it. Measured: 50,000 took 247 s of wall time on a 2-core machine shared
/// with other builds (load 7); the default should take three to five
/// minutes on CI's two cores of its own.
const DEFAULT_CASES: u32 = 120_000;

fn cases(share: f64) -> u32 {
    let base = std::env::var("AGENTCTL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(DEFAULT_CASES);
    ((f64::from(base) * share) as u32).max(1)
}

/// Runs `body` in a child under `RLIMIT_AS`: the child is this test
/// binary running only the test `name`, with `CHILD_ENV` naming it, which
/// calls this function again and so runs `body`. Fails unless the child
/// ran and passed.
fn in_bounded_child(name: &str, body: fn()) {
    if let Some(child) = std::env::var_os(CHILD_ENV) {
        assert_eq!(child, name, "a fuzz child runs only its own test");
        body();
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .env("RUST_BACKTRACE", "0");
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between
        // fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: CHILD_MEMORY as libc::rlim_t,
                    rlim_max: CHILD_MEMORY as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = cmd.output().expect("run the fuzz child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = out.status.signal() {
            panic!(
                "fuzz child `{name}` was killed by signal {sig} (an abort: stack overflow, or memory past {} GiB)\n{stdout}\n{stderr}",
                CHILD_MEMORY >> 30
            );
        }
    }
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "fuzz child `{name}` failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

/// Runs `test` on `cases` inputs drawn from `strategy`; a failure is
/// shrunk to a minimal input and reported.
fn fuzz<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value))
where
    S::Value: std::fmt::Debug,
{
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, |v| {
        test(v);
        Ok(())
    }) {
        panic!("{e}");
    }
}

// ── the workflow loader and validator ──

#[test]
fn workflow_loader_fuzz() {
    in_bounded_child("workflow_loader_fuzz", child_workflow_loader);
}

/// The body of `workflow_loader_fuzz`, run in its bounded child.
fn child_workflow_loader() {
    let n = cases(1.0);
    fuzz(n / 4, "\\PC{0,300}", |s: String| exercise(&s));
    fuzz(
        n / 4,
        "[\\[\\]a-z_ =\"{}.,0-9\n'$>*#-]{0,300}",
        |s: String| {
            exercise(&s);
            exercise(&format!("[workflow]\nname = \"f\"\n[[nodes]]\n{s}"));
        },
    );
    fuzz(
        n / 2,
        (0..FIXTURES.len(), prop::collection::vec(mutation(), 1..6)),
        |(which, muts)| {
            let (text, format) = FIXTURES[which];
            let mutated = apply(text, &muts);
            exercise(&mutated);
            // The original format as well, with the same origin extension.
            let _ = load_str(&mutated, "fuzz.json", format);
        },
    );
}

// ── the expression and template parsers ──

#[test]
fn expression_parser_fuzz() {
    in_bounded_child("expression_parser_fuzz", child_expression_parser);
}

/// The body of `expression_parser_fuzz`, run in its bounded child.
fn child_expression_parser() {
    let vars = json!({"a": [1, {"b": "c"}], "s": "text", "n": 0});
    let check = |s: &str| {
        if let Ok(e) = Expr::parse(s) {
            let _ = e.eval(&[("input", &vars), ("a", &vars)]);
            let _ = e.root_names();
        }
        let t = format!("x {{{{ {s} }}}} y");
        if let Ok(t) = Template::parse(&t) {
            let _ = t.render(&[("input", &vars)]);
        }
    };
    fuzz(
        cases(1.0),
        "[a-z_.\\[\\]()0-9 '\"+*/%<>=!&|,-]{0,80}",
        |s: String| check(&s),
    );
    // Deep nesting and long operator chains, past the parser's depth cap.
    fuzz(
        cases(0.05),
        (
            prop::sample::select(vec!["(", "[", "not ", "-", "len(", "a["]),
            1usize..5000,
            prop::sample::select(vec!["1", "a", "'x'", "input.a[0]"]),
        ),
        |(open, depth, atom)| {
            check(&format!("{}{atom}", open.repeat(depth)));
            check(&vec![atom; depth.min(2000)].join(" + "));
            check(&vec![atom; depth.min(2000)].join(" and "));
        },
    );
}

// ── the session reader ──

const SESSIONS: &[&[u8]] = &[
    include_bytes!("../sessions/demo.jsonl"),
    include_bytes!("../sessions/debate.jsonl"),
];

#[test]
fn session_reader_fuzz() {
    in_bounded_child("session_reader_fuzz", child_session_reader);
}

/// Reads `bytes` as a session every way the CLI does.
fn exercise_session(bytes: Vec<u8>) {
    let Ok(r) = SessionReader::from_bytes(Path::new("fuzz.jsonl"), bytes) else {
        return;
    };
    let n = r.len();
    let state = r.fold();
    let _ = state.completed();
    let _ = r.state_at(n / 2);
    let _ = r.state_at(n);
    let _ = r.index_at_time(r.ts(n / 3).unwrap_or(0));
    let _ = r.events().count();
    let _ = (r.inconsistent.len(), r.skipped.len(), r.torn.is_some());
    let _ = agentctl::session::export::to_markdown(r.header(), &state);
    let _ = agentctl::session::export::to_json(r.header(), &state);
}

/// Session-shaped damage: besides byte and line edits, numbers that
/// overflow, seq set to extremes, and another session's id.
fn session_mutation() -> impl Strategy<Value = (Mutation, Option<u8>)> {
    (mutation(), prop::option::of(0u8..4))
}

fn damage_session(text: &[u8], muts: &[(Mutation, Option<u8>)]) -> Vec<u8> {
    let mut s = String::from_utf8_lossy(text).into_owned();
    for (m, extra) in muts {
        s = apply(&s, std::slice::from_ref(m));
        match extra {
            Some(0) => s = s.replacen("\"seq\":", "\"seq\":18446744073709551615", 1),
            Some(1) => s = s.replacen("\"ts\":", "\"ts\":99999999999999999999999", 1),
            Some(2) => s = s.replacen("\"session\":\"", "\"session\":\"x", 3),
            Some(_) => {
                s = s.replacen(
                    "\"usage\":{",
                    "\"usage\":{\"prompt_tokens\":18446744073709551615,",
                    1,
                )
            }
            None => {}
        }
    }
    s.into_bytes()
}

/// The body of `session_reader_fuzz`, run in its bounded child.
fn child_session_reader() {
    fuzz(
        cases(0.1),
        (
            0..SESSIONS.len(),
            prop::collection::vec(session_mutation(), 1..8),
        ),
        |(which, muts)| exercise_session(damage_session(SESSIONS[which], &muts)),
    );
    // Random bytes after a real header.
    let header = SESSIONS[0]
        .split(|b| *b == b'\n')
        .next()
        .unwrap_or_default();
    fuzz(
        cases(0.1),
        prop::collection::vec(any::<u8>(), 0..2000),
        |tail| {
            let mut bytes = header.to_vec();
            bytes.push(b'\n');
            bytes.extend(tail);
            exercise_session(bytes);
        },
    );
    // The file path too: streamed line by line, regular files only.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.jsonl");
    fuzz(
        cases(0.005),
        prop::collection::vec(session_mutation(), 1..4),
        |muts| {
            std::fs::write(&path, damage_session(SESSIONS[0], &muts)).expect("write");
            if let Ok(r) = SessionReader::open(&path) {
                let _ = r.fold();
            }
        },
    );
}

// ── the sim's parameters ──

/// A value at or past a documented bound, or not a number at all.
fn edge_number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "0", "1", "-1", "1.0001", "3600000", "3600001", "1e300", "-1e300", "inf", "-inf",
            "nan", "1e-300", "86400000", "86400001",
        ])
        .prop_map(String::from),
        1 => any::<i64>().prop_map(|x| x.to_string()),
        1 => any::<f64>().prop_map(|x| format!("{x:?}")),
    ]
}

/// Mostly `sensible`, sometimes an edge.
fn number_or_edge(sensible: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop_oneof![9 => sensible, 1 => edge_number()]
}

fn millis() -> impl Strategy<Value = String> {
    number_or_edge((0.0f64..200.0).prop_map(|x| format!("{x:.3}")))
}

fn sim_field() -> impl Strategy<Value = String> {
    let unit = || number_or_edge((0.0f64..=1.0).prop_map(|x| format!("{:.3}", x * 0.3)));
    let count = |max: u32| {
        prop_oneof![
            9 => (0u32..max).prop_map(|x| x.to_string()),
            1 => prop::sample::select(vec!["1000", "1001", "100000", "100001", "4294967295", "-1"])
                .prop_map(String::from),
        ]
    };
    prop_oneof![
        (
            prop::sample::select(vec![
                "error_rate",
                "timeout_rate",
                "malformed_rate",
                "rate_limit_rate",
                "hang_rate",
                "spike_rate",
                "confidence",
                "stubbornness",
            ]),
            unit(),
        )
            .prop_map(|(k, v)| format!("{k} = {v}")),
        millis().prop_map(|v| format!("latency_ms = {v}")),
        millis().prop_map(|v| format!("spike_ms = {v}")),
        (millis(), millis()).prop_map(|(a, b)| format!("latency_ms = {{ min = {a}, max = {b} }}")),
        (millis(), millis())
            .prop_map(|(a, b)| format!("latency_ms = {{ mean = {a}, stddev = {b} }}")),
        (
            prop::sample::select(vec![
                "plan_size",
                "reply_words",
                "fail_first",
                "malformed_first",
                "reject_first"
            ]),
            count(8),
        )
            .prop_map(|(k, v)| format!("{k} = {v}")),
        count(3000).prop_map(|v| format!("retry_after_ms = {v}")),
    ]
}

/// A plan (a planner, two executors, a reviewer) then an `on` timer, every
/// agent with random sim fields.
fn sim_workflow(fields: &[Vec<String>; 4], every_ms: &str) -> String {
    let sim = |i: usize| {
        let mut seen = std::collections::HashSet::new();
        let f: Vec<&str> = fields[i]
            .iter()
            .filter(|f| seen.insert(f.split(' ').next().unwrap_or_default().to_string()))
            .map(String::as_str)
            .collect();
        format!("sim = {{ {} }}", f.join(", "))
    };
    format!(
        r#"[workflow]
name = "sim-fuzz"
input = "go"

[[agents]]
id = "planner"
role = "planner"
timeout_ms = 5000
{}

[[agents]]
id = "x1"
capabilities = ["code"]
timeout_ms = 5000
{}

[[agents]]
id = "x2"
capabilities = ["test", "docs", "code"]
timeout_ms = 5000
{}

[[agents]]
id = "reviewer"
role = "reviewer"
timeout_ms = 5000
{}

[[nodes]]
id = "main"
kind = "sequence"
steps = ["build", "tick"]

[[nodes]]
id = "build"
kind = "plan"
planner = "planner"
reviewer = "reviewer"
max_subtasks = 1000

[[nodes]]
id = "tick"
kind = "on"
every_ms = {every_ms}
max_events = 2
body = "once"

[[nodes]]
id = "once"
kind = "agent"
agent = "x1"
"#,
        sim(0),
        sim(1),
        sim(2),
        sim(3)
    )
}

#[test]
fn sim_parameters_fuzz() {
    in_bounded_child("sim_parameters_fuzz", child_sim_parameters);
}

/// The body of `sim_parameters_fuzz`, run in its bounded child.
fn child_sim_parameters() {
    // Simulated time: an hour of latency passes at once, so a valid
    // workflow runs to its end whatever its numbers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let field_lists = || prop::collection::vec(sim_field(), 0..5);
    let ran = std::sync::atomic::AtomicUsize::new(0);
    fuzz(
        cases(0.05),
        (
            [field_lists(), field_lists(), field_lists(), field_lists()],
            prop_oneof![9 => Just("1000".to_string()), 1 => edge_number()],
            any::<u64>(),
        ),
        |(fields, every, seed)| {
            let text = sim_workflow(&fields, &every);
            match load_str(&text, "sim.toml", Format::Toml) {
                Err(d) => {
                    for e in &d {
                        assert!(e.line >= 1 && e.column >= 1, "unlocated: {e}");
                    }
                }
                Ok(l) => {
                    let opts = RunOptions {
                        seed,
                        ..Default::default()
                    };
                    ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let orch = Orchestrator::new(Arc::new(l.workflow), opts);
                    runtime.block_on(async {
                        let handle = orch.start().expect("start");
                        let _ = handle.wait().await;
                    });
                }
            }
        },
    );
    // Most cases must get past validation, or the runs test nothing (a
    // share too small to judge on a quick check's handful of cases).
    let ran = ran.into_inner();
    let drawn = cases(0.05) as usize;
    eprintln!("sim fuzz: {ran} of {drawn} drawn workflows were valid and ran");
    assert!(
        drawn < 40 || ran * 4 >= drawn,
        "only {ran} cases were valid"
    );
}

// ── the harness itself ──

#[test]
fn the_harness_catches_an_allocation_past_the_limit() {
    const NAME: &str = "the_harness_catches_an_allocation_past_the_limit";
    let caught = std::panic::catch_unwind(|| in_bounded_child(NAME, child_allocates_without_bound));
    let message = caught
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .expect("the child must fail");
    assert!(message.contains("killed by signal"), "{message}");
}

/// The body of the harness test's child.
fn child_allocates_without_bound() {
    // What a runaway buffer does: grows until the allocator fails. Zeroed
    // pages are mapped, not touched, so this costs address space, not RAM.
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![0u8; 256 << 20]);
        std::hint::black_box(&hoard);
    }
}

#[test]
fn fixtures_survive_every_single_line_deletion() {
    // Exhaustive where cheap: each line of each fixture removed in turn.
    for (text, _) in FIXTURES {
        let lines = text.lines().count();
        for i in 0..lines {
            exercise(&apply(text, &[Mutation::DeleteLine(i)]));
        }
    }
}

#[test]
fn pathological_inputs_terminate() {
    let deep = "[".repeat(5000);
    exercise(&format!("a = {deep}"));
    exercise(&deep);
    exercise(&"{\"a\":".repeat(5000));
    // A long chain of sequences: the cycle check must not recurse.
    let mut chain = String::from("[workflow]\nname = \"chain\"\n");
    for i in 0..3000 {
        chain.push_str(&format!(
            "[[nodes]]\nid = \"n{i}\"\nkind = \"sequence\"\nsteps = [\"n{}\"]\n",
            (i + 1) % 3000
        ));
    }
    let e = load_str(&chain, "chain.toml", Format::Toml).unwrap_err();
    assert_eq!(e.error_count(), 1, "one cycle through 3000 nodes");
    assert!(e.0[0].message.starts_with("cycle: n0 → n1 → n2"));
}
#[test]
fn sim_workflow_template_is_valid() {
    let empty: [Vec<String>; 4] = Default::default();
    let text = sim_workflow(&empty, "1000");
    if let Err(d) = load_str(&text, "sim.toml", Format::Toml) {
        panic!("{d}");
    }
}
