//! The session reader: torn tails, damaged and hostile input, newer format
//! versions, seeking by index and time. Sessions are recorded from real runs
//! (paused clock) through the real recorder.

mod common;

use std::path::Path;

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::Event;
use agentctl::session::{FORMAT_VERSION, Header, Recorder, SessionError, SessionReader};
use common::builtin;
use proptest::prelude::*;

/// Records `builtin:NAME` into a temp dir and returns the file's bytes and
/// the events the run emitted.
async fn record(name: &str) -> (Vec<u8>, Vec<Event>) {
    record_with(name, None).await
}

/// [`record`], the recorder reading a bounded feed of `capacity` events
/// when given (else an unbounded subscription).
async fn record_with(name: &str, capacity: Option<usize>) -> (Vec<u8>, Vec<Event>) {
    let dir = tempfile::tempdir().unwrap();
    let w = builtin(name);
    let mut o = Orchestrator::new(
        w.clone(),
        RunOptions {
            seed: 1,
            session_id: Some("rec-1".into()),
            ..Default::default()
        },
    );
    let text = agentctl::workflow::builtins::get(name).unwrap().text;
    let header = Header::new("rec-1", &w, text, &format!("builtin:{name}"), 1, 1);
    let rec = match capacity {
        Some(c) => Recorder::create(dir.path(), &header, o.subscribe_bounded(c)),
        None => Recorder::create(dir.path(), &header, o.subscribe()),
    }
    .unwrap();
    let mut rx = o.subscribe();
    let h = o.start().unwrap();
    let events = common::events_until_end(&h, &mut rx, None).await;
    h.wait().await;
    let path = rec.path().to_path_buf();
    let stats = rec.finish().unwrap();
    assert_eq!(stats.events as usize, events.len());
    (std::fs::read(path).unwrap(), events)
}

/// A recorder far behind a tiny feed makes the run wait for it; nothing is
/// lost or reordered.
#[test]
fn a_tiny_bounded_feed_records_every_event_in_order() {
    // The recorder has a thread of its own, so even the runtime's only
    // thread waiting for it cannot deadlock.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let (bytes, events) = rt.block_on(record_with("chaos", Some(1)));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    std::fs::write(&path, &bytes).unwrap();
    let reader = SessionReader::open(&path).unwrap();
    let seqs: Vec<u64> = reader.events().map(|e| e.seq).collect();
    assert_eq!(seqs, events.iter().map(|e| e.seq).collect::<Vec<_>>());
    // The feed counts in steps of 64 events: a run this long fills it.
    assert!(events.len() > 300, "a run big enough to fill the feed");
}

fn pipeline_session() -> (Vec<u8>, Vec<Event>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(record("pipeline"))
}

#[test]
fn a_recorded_session_reads_back_event_for_event() {
    let (bytes, events) = pipeline_session();
    let r = SessionReader::from_bytes(Path::new("p.jsonl"), bytes).unwrap();
    assert!(r.torn.is_none() && r.skipped.is_empty());
    assert_eq!(r.header().workflow.name, "pipeline");
    assert_eq!(r.header().version, FORMAT_VERSION);
    let read: Vec<Event> = r.events().collect();
    assert_eq!(read, events);
    let s = r.fold();
    assert_eq!(s.status_name(), "succeeded");
    assert!(s.tasks.iter().all(|t| t.completions == 1));
}

#[test]
fn a_torn_last_line_is_reported_and_every_complete_line_kept() {
    let (bytes, events) = pipeline_session();
    let header_len = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    // Every cut inside the event lines (a sample of offsets, all lines).
    let mut cut = header_len;
    while cut < bytes.len() {
        let r = SessionReader::from_bytes(Path::new("t.jsonl"), bytes[..cut].to_vec()).unwrap();
        let complete = bytes[header_len..cut]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        assert_eq!(r.len(), complete, "cut at {cut}");
        let read: Vec<Event> = r.events().collect();
        assert_eq!(read, events[..complete], "cut at {cut}");
        let torn_expected = bytes[cut - 1] != b'\n';
        assert_eq!(r.torn.is_some(), torn_expected, "cut at {cut}");
        assert!(r.complete_len() as usize <= cut);
        cut += 37;
    }
    // A cut inside the header is a clear error, never a panic.
    for cut in [0, 1, header_len / 2, header_len - 1] {
        let e = SessionReader::from_bytes(Path::new("h.jsonl"), bytes[..cut].to_vec());
        assert!(
            matches!(e, Err(SessionError::Invalid { .. })),
            "cut at {cut}"
        );
    }
}

#[test]
fn a_newer_format_is_refused_with_a_clear_message() {
    let (bytes, _) = pipeline_session();
    let text = String::from_utf8(bytes).unwrap();
    let newer = text.replacen(
        &format!("\"version\":{FORMAT_VERSION}"),
        &format!("\"version\":{}", FORMAT_VERSION + 1),
        1,
    );
    let Err(e) = SessionReader::from_bytes(Path::new("n.jsonl"), newer.into_bytes()) else {
        panic!("a newer format was accepted");
    };
    let msg = e.to_string();
    assert!(
        msg.contains("newer agentctl") && msg.contains("upgrade"),
        "{msg}"
    );
    let Err(e) = SessionReader::from_bytes(Path::new("x.jsonl"), b"{\"hello\": 1}\n".to_vec())
    else {
        panic!("a non-session was accepted");
    };
    assert!(e.to_string().contains("not a session header"), "{e}");
}

#[test]
fn seeking_by_index_and_time_matches_folding() {
    let (bytes, events) = pipeline_session();
    let r = SessionReader::from_bytes(Path::new("s.jsonl"), bytes).unwrap();
    for i in [0, 1, events.len() / 2, events.len()] {
        let mut fold = agentctl::session::SessionState::new(r.header());
        for e in &events[..i] {
            fold.apply(e);
        }
        let at = r.state_at(i);
        assert_eq!(at.events, fold.events);
        assert_eq!(at.completed(), fold.completed());
        assert_eq!(at.last_seq, fold.last_seq);
    }
    let mid = &events[events.len() / 2];
    let i = r.index_at_time(mid.ts);
    assert!(r.ts(i).unwrap() >= mid.ts);
    assert!(i == 0 || r.ts(i - 1).unwrap() < mid.ts);
    assert_eq!(r.index_at_time(u64::MAX), r.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Damaged bytes anywhere: an error or a partial read, never a panic;
    /// every event it yields is one that was recorded.
    #[test]
    fn corrupted_files_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (bytes, events) = SAMPLE.with(|s| s.clone());
        let mut b = bytes.clone();
        for (at, v) in &flips {
            let i = at.index(b.len());
            b[i] = *v;
        }
        b.truncate(cut.index(b.len() + 1));
        if let Ok(r) = SessionReader::from_bytes(Path::new("c.jsonl"), b) {
            for i in 0..r.len() {
                let _ = r.event(i);
                let _ = r.ts(i);
            }
            let _ = r.fold();
            let _ = r.state_at(r.len() / 2);
            let _ = r.index_at_time(events[0].ts);
        }
    }

    /// A cut at a random offset after the header: every complete line
    /// before it is recovered, the rest is reported as torn.
    #[test]
    fn a_random_cut_recovers_every_complete_line(at in any::<prop::sample::Index>()) {
        let (bytes, events) = SAMPLE.with(|s| s.clone());
        let header_len = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        let cut = header_len + at.index(bytes.len() - header_len + 1);
        let r = SessionReader::from_bytes(Path::new("r.jsonl"), bytes[..cut].to_vec()).unwrap();
        let complete = bytes[header_len..cut].iter().filter(|b| **b == b'\n').count();
        let read: Vec<Event> = r.events().collect();
        prop_assert_eq!(&read[..], &events[..complete]);
        prop_assert_eq!(r.torn.is_some(), bytes[cut - 1] != b'\n');
    }

    /// Arbitrary bytes after a valid header.
    #[test]
    fn garbage_after_a_header_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (bytes, _) = SAMPLE.with(|s| s.clone());
        let header_len = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        let mut b = bytes[..header_len].to_vec();
        b.extend(tail);
        let r = SessionReader::from_bytes(Path::new("g.jsonl"), b).unwrap();
        let _ = r.fold();
    }
}

thread_local! {
    static SAMPLE: (Vec<u8>, Vec<Event>) = pipeline_session();
}
