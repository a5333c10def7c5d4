//! Snapshot lines: the recorder's periodic state deltas that make seeking in
//! a large session fast. The state they rebuild must be exactly the folded
//! state at every event; damaged, misplaced or forged snapshots must fall
//! back to folding (never a wrong state); torn files and resumed sessions
//! keep working. Sessions are recorded from real runs (paused clock).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::{Event, RunStatus};
use agentctl::session::recorder::RecordOptions;
use agentctl::session::{FORMAT_VERSION, Header, Recorder, SessionReader, SessionState};
use common::builtin;
use proptest::prelude::*;
use serde_json::Value;

const EVERY: usize = 7;

/// Runs `w`, approving every gate, recording into `dir` through `rec`.
async fn run_recorded(
    w: Arc<agentctl::workflow::model::Workflow>,
    opts: RunOptions,
    rec: impl FnOnce(&mut Orchestrator) -> Recorder,
) -> (PathBuf, Vec<Event>) {
    let mut o = Orchestrator::new(w, opts);
    let rec = rec(&mut o);
    let mut rx = o.subscribe();
    let h = o.start().unwrap();
    let events = common::events_until_end(&h, &mut rx, Some("ok")).await;
    assert_eq!(h.wait().await.status, RunStatus::Succeeded);
    let path = rec.path().to_path_buf();
    rec.finish().unwrap();
    (path, events)
}

/// The demo (debate, vote, plan, gate) recorded with a snapshot every
/// [`EVERY`] events: the file's bytes and the events.
fn demo_session() -> (Vec<u8>, Vec<Event>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let w = builtin("demo");
        let text = agentctl::workflow::builtins::get("demo").unwrap().text;
        let header = Header::new("snap-1", &w, text, "builtin:demo", 5, 1);
        let opts = RunOptions {
            seed: 5,
            session_id: Some("snap-1".into()),
            ..Default::default()
        };
        let (path, events) = run_recorded(w.clone(), opts, |o| {
            Recorder::create_with(
                dir.path(),
                &header,
                o.subscribe(),
                RecordOptions {
                    snapshot_every: EVERY,
                },
            )
            .unwrap()
        })
        .await;
        (std::fs::read(path).unwrap(), events)
    })
}

thread_local! {
    static SAMPLE: (Vec<u8>, Vec<Event>) = demo_session();
}

fn sample() -> (Vec<u8>, Vec<Event>) {
    SAMPLE.with(|s| s.clone())
}

/// The state folded from `events`, as JSON (every public field).
fn folded(r: &SessionReader, events: &[Event]) -> Value {
    let mut s = SessionState::new(r.header());
    for e in events {
        s.apply(e);
    }
    serde_json::to_value(&s).unwrap()
}

fn json(s: &SessionState) -> Value {
    serde_json::to_value(s).unwrap()
}

fn is_snapshot(line: &[u8]) -> bool {
    line.starts_with(b"{\"snapshot\":")
}

/// Byte ranges of the snapshot lines (without their newline).
fn snapshot_lines(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(len) = bytes[start..].iter().position(|b| *b == b'\n') {
        if is_snapshot(&bytes[start..start + len]) {
            out.push((start, start + len));
        }
        start += len + 1;
    }
    out
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[test]
fn snapshots_rebuild_exactly_the_folded_state_at_every_event() {
    let (bytes, events) = sample();
    let r = SessionReader::from_bytes(Path::new("s.jsonl"), bytes.clone()).unwrap();
    assert_eq!(r.header().version, FORMAT_VERSION);
    assert!(r.torn.is_none() && r.skipped.is_empty(), "{:?}", r.skipped);
    assert_eq!(r.len(), events.len(), "snapshot lines are not events");
    assert_eq!(r.snapshot_count(), events.len() / EVERY);
    assert_eq!(snapshot_lines(&bytes).len(), events.len() / EVERY);
    let read: Vec<Event> = r.events().collect();
    assert_eq!(read, events);
    // Every position, on a reader that caches what it rebuilt…
    for i in 0..=events.len() {
        assert_eq!(json(&r.state_at(i)), folded(&r, &events[..i]), "at {i}");
    }
    // …backwards (from the cache or from the start)…
    for i in (0..=events.len()).rev().step_by(3) {
        assert_eq!(json(&r.state_at(i)), folded(&r, &events[..i]), "at {i}");
    }
    // …and cold, on fresh readers.
    for i in (0..=events.len()).step_by(5) {
        let cold = SessionReader::from_bytes(Path::new("c.jsonl"), bytes.clone()).unwrap();
        assert_eq!(json(&cold.state_at(i)), folded(&r, &events[..i]), "at {i}");
    }
    assert_eq!(json(&r.fold()), json(&r.state_at(usize::MAX)));
    let s = r.fold();
    assert!(
        !s.debate_records.is_empty() && !s.vote_records.is_empty() && !s.gate_openings.is_empty()
    );
    assert!(!s.commands.is_empty(), "the gate approval is recorded");
}

#[test]
fn damaged_misplaced_or_forged_snapshots_fall_back_to_folding() {
    let (bytes, events) = sample();
    let lines = snapshot_lines(&bytes);
    let check = |b: Vec<u8>, what: &str| {
        let r = SessionReader::from_bytes(Path::new("d.jsonl"), b).unwrap();
        assert_eq!(r.len(), events.len(), "{what}: every event is still read");
        for i in (0..=events.len()).step_by(3).chain([events.len()]) {
            assert_eq!(
                json(&r.state_at(i)),
                folded(&r, &events[..i]),
                "{what}: at {i}"
            );
        }
    };
    for (k, &(a, b)) in lines.iter().enumerate().step_by(4) {
        // A changed byte in the delta: the check fails.
        let mut d = bytes.clone();
        let at = a + (b - a) * 2 / 3;
        d[at] = if d[at] == b'1' { b'2' } else { b'1' };
        check(d, &format!("snapshot {k} with a changed byte"));
        // A wrong position: the snapshot is not used.
        let text = String::from_utf8(bytes[a..b].to_vec()).unwrap();
        let pos: usize = text["{\"snapshot\":".len()..]
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let moved = text.replacen(
            &format!("{{\"snapshot\":{pos},"),
            &format!("{{\"snapshot\":{},", pos + 1),
            1,
        );
        let mut d = bytes[..a].to_vec();
        d.extend_from_slice(moved.as_bytes());
        d.extend_from_slice(&bytes[b..]);
        check(d, &format!("snapshot {k} moved"));
        // A forged delta with a valid check whose records do not fit.
        let delta_at = text.find("\"delta\":").unwrap() + "\"delta\":".len();
        let mut delta: Value = serde_json::from_str(&text[delta_at..text.len() - 1]).unwrap();
        if let Some(first) = delta["tasks"].get_mut(0) {
            first[0] = Value::from(first[0].as_u64().unwrap() + 50);
            let body = serde_json::to_string(&delta).unwrap();
            let forged = format!(
                "{}\"check\":\"{:016x}\",\"delta\":{body}}}",
                &text[..text.find("\"check\":").unwrap()],
                fnv1a64(body.as_bytes())
            );
            let mut d = bytes[..a].to_vec();
            d.extend_from_slice(forged.as_bytes());
            d.extend_from_slice(&bytes[b..]);
            check(d, &format!("snapshot {k} forged"));
        }
        // A snapshot line cut out entirely: the next one's base says where
        // it applies, so nothing is applied to the wrong state.
        let mut d = bytes[..a].to_vec();
        d.extend_from_slice(&bytes[b + 1..]);
        check(d, &format!("snapshot {k} removed"));
    }
}

#[test]
fn a_torn_file_with_snapshots_keeps_every_complete_event() {
    let (bytes, events) = sample();
    let header_len = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    let mut cut = header_len;
    while cut < bytes.len() {
        let r = SessionReader::from_bytes(Path::new("t.jsonl"), bytes[..cut].to_vec()).unwrap();
        let complete = bytes[header_len..cut]
            .split(|b| *b == b'\n')
            .take(
                bytes[header_len..cut]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count(),
            )
            .filter(|l| !is_snapshot(l))
            .count();
        assert_eq!(r.len(), complete, "cut at {cut}");
        let read: Vec<Event> = r.events().collect();
        assert_eq!(read, events[..complete], "cut at {cut}");
        assert_eq!(r.torn.is_some(), bytes[cut - 1] != b'\n', "cut at {cut}");
        assert_eq!(
            json(&r.state_at(r.len())),
            folded(&r, &events[..complete]),
            "cut at {cut}"
        );
        cut += 173;
    }
}

#[test]
fn a_resumed_recording_starts_with_a_full_snapshot_and_seeks_exactly() {
    let (bytes, _) = sample();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    // Cut as a crash would: after some snapshot, mid-line.
    let lines = snapshot_lines(&bytes);
    let (_, b) = lines[lines.len() / 2];
    let cut = b + 1 + 60;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap-1.jsonl");
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let reader = SessionReader::open(&path).unwrap();
    assert!(reader.torn.is_some());
    let before = reader.len();
    let restore = Arc::new(reader.state_at(before).restore(&reader));
    let w = builtin("demo");
    let opts = RunOptions {
        seed: 5,
        session_id: Some("snap-1".into()),
        resume: Some(restore),
        ..Default::default()
    };
    rt.block_on(run_recorded(w, opts, |o| {
        Recorder::append_with(
            &reader,
            o.subscribe(),
            RecordOptions {
                snapshot_every: EVERY,
            },
        )
        .unwrap()
    }));
    let all = std::fs::read(&path).unwrap();
    let r = SessionReader::open(&path).unwrap();
    assert!(r.torn.is_none() && r.skipped.is_empty(), "{:?}", r.skipped);
    let full_at = format!("{{\"snapshot\":{before},\"base\":{before},");
    assert!(
        String::from_utf8_lossy(&all).contains(&full_at),
        "no full snapshot where the resumed run starts"
    );
    let events: Vec<Event> = r.events().collect();
    for i in 0..=events.len() {
        assert_eq!(json(&r.state_at(i)), folded(&r, &events[..i]), "at {i}");
    }
    let end = r.state_at(r.len());
    assert_eq!(end.status_name(), "succeeded");
    assert!(end.tasks.iter().all(|t| t.completions == 1));
    assert_eq!(end.runs, 2);
    assert!(events.len() > before && events[..before] == read_prefix(&bytes, before));
}

/// The first `n` events of a recorded file.
fn read_prefix(bytes: &[u8], n: usize) -> Vec<Event> {
    let r = SessionReader::from_bytes(Path::new("p.jsonl"), bytes.to_vec()).unwrap();
    r.events().take(n).collect()
}

#[test]
fn format_1_samples_without_snapshots_still_seek() {
    // The samples as first recorded (format 1), kept when sessions/ was
    // re-recorded: old sessions must go on replaying.
    for name in ["demo_format1.jsonl", "debate_format1.jsonl"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sessions")
            .join(name);
        let r = SessionReader::open(&path).unwrap();
        assert_eq!(r.header().version, 1);
        assert_eq!(r.snapshot_count(), 0);
        let events: Vec<Event> = r.events().collect();
        for i in (0..=events.len()).step_by(11).chain([events.len()]) {
            assert_eq!(
                json(&r.state_at(i)),
                folded(&r, &events[..i]),
                "{name} at {i}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Damage inside snapshot lines never changes the state a seek gives.
    #[test]
    fn damaged_snapshot_bytes_never_give_a_wrong_state(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()), 1..6),
        at in any::<prop::sample::Index>(),
    ) {
        let (bytes, events) = sample();
        let lines = snapshot_lines(&bytes);
        let mut b = bytes.clone();
        for (which, pos, v) in &flips {
            let (s, e) = lines[which.index(lines.len())];
            let i = s + pos.index(e - s);
            // Keep the line a line: a newline would split it into two.
            b[i] = if *v == b'\n' { b' ' } else { *v };
        }
        let r = SessionReader::from_bytes(Path::new("p.jsonl"), b).unwrap();
        prop_assert_eq!(r.len(), events.len());
        let k = at.index(events.len() + 1);
        prop_assert_eq!(json(&r.state_at(k)), folded(&r, &events[..k]));
        prop_assert_eq!(json(&r.state_at(events.len())), folded(&r, &events));
    }

    /// Damage anywhere in a file with snapshots: an error or a partial
    /// read, never a panic.
    #[test]
    fn damaged_files_with_snapshots_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (bytes, _) = sample();
        let mut b = bytes.clone();
        for (at, v) in &flips {
            let i = at.index(b.len());
            b[i] = *v;
        }
        b.truncate(cut.index(b.len() + 1));
        if let Ok(r) = SessionReader::from_bytes(Path::new("c.jsonl"), b) {
            for i in [0, r.len() / 3, r.len() / 2, r.len()] {
                let _ = r.state_at(i);
            }
            let _ = r.fold();
        }
    }
}
