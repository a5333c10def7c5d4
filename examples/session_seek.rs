//! Measures reading and seeking in a large recorded session (the figures in
//! BENCHMARKS.md, "Sessions"). Records a real run of a 125 000-item map (about
//! 1M events) with the real recorder (with and without snapshot lines),
//! then times opening the file, the first seek on a fresh reader (by index
//! and by time), later seeks, and folding everything.
//!
//! `cargo run --release --example session_seek [ITEMS]`

use std::sync::Arc;
use std::time::Instant;

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::EventKind;
use agentctl::session::recorder::RecordOptions;
use agentctl::session::snapshot::SNAPSHOT_EVERY;
use agentctl::session::{Header, Recorder, SessionReader};
use agentctl::workflow::load::{Format, load_str};

fn main() {
    let items: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(125_000);
    let text = format!(
        "[workflow]\nname = \"seek_{items}\"\ninput = \"go\"\n\n\
         [[agents]]\nid = \"worker\"\nconcurrency = 0\nsim = {{ reply_words = 4 }}\n\n\
         [[nodes]]\nid = \"fan\"\nkind = \"map\"\ncount = {items}\nconcurrency = 256\nbody = \"work\"\n\n\
         [[nodes]]\nid = \"work\"\nkind = \"agent\"\nagent = \"worker\"\nprompt = \"item {{{{item}}}}\"\n"
    );
    let wf = Arc::new(
        load_str(&text, "seek.toml", Format::Toml)
            .expect("valid")
            .workflow,
    );
    let dir = tempfile_dir();
    let _cleanup = RemoveOnDrop(dir.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let record = |id: &str, opts: RecordOptions| {
        let t = Instant::now();
        let path = rt.block_on(async {
            let mut o = Orchestrator::new(wf.clone(), RunOptions::default());
            let header = Header::new(id, &wf, &text, "seek.toml", 0, 0);
            let rec = Recorder::create_with(&dir, &header, o.subscribe(), opts).expect("recorder");
            let out = o.start().expect("start").wait().await;
            assert_eq!(out.status, agentctl::event::RunStatus::Succeeded);
            let path = rec.path().to_path_buf();
            rec.finish().expect("recorded");
            path
        });
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        (path, t.elapsed().as_secs_f64(), size as f64 / 1048576.0)
    };
    let (plain, secs, mib) = record("seek-0", RecordOptions { snapshot_every: 0 });
    println!("recorded without snapshots in {secs:.2} s, {mib:.1} MiB");
    // The same session without snapshots (format 1 files read this way).
    let t0 = Instant::now();
    let p = SessionReader::open(&plain).expect("open");
    let t = Instant::now();
    let s = p.state_at(p.len() * 9 / 10);
    println!(
        "without snapshots: first state_at(90%) {:.0} ms (open {:.0} ms), {} events",
        ms(t),
        t.duration_since(t0).as_secs_f64() * 1000.0,
        s.events
    );
    drop(p);
    // Two 250 MB files at once is more disk than needed.
    let _ = std::fs::remove_file(&plain);
    let (path, secs, mib) = record("seek-1", RecordOptions::default());
    println!("recorded with snapshots every {SNAPSHOT_EVERY} events in {secs:.2} s, {mib:.1} MiB");

    // Cold: open, then the first seek, on a fresh reader each time.
    let t0 = Instant::now();
    let r = SessionReader::open(&path).expect("open");
    let open_ms = ms(t0);
    let n = r.len();
    println!(
        "open + index: {n} events, {} snapshots, in {open_ms:.0} ms",
        r.snapshot_count()
    );
    let t = Instant::now();
    let s = r.state_at(n * 9 / 10);
    let first = ms(t);
    println!(
        "first state_at(90%) (cold): {first:.0} ms ({} events); open + first seek {:.0} ms",
        s.events,
        ms(t0)
    );
    let target_ts = r.ts(n * 3 / 10).unwrap_or(0);
    let t0 = Instant::now();
    let r2 = SessionReader::open(&path).expect("open");
    let t = Instant::now();
    let i = r2.index_at_time(target_ts);
    let s2 = r2.state_at(i);
    println!(
        "first seek to a time (30%) on a fresh reader: index {i} in {:.0} ms; open + seek {:.0} ms ({} events)",
        ms(t),
        ms(t0),
        s2.events
    );
    drop(r2);
    for frac in [0.1, 0.5, 0.9, 0.999, 1.0] {
        let k = (n as f64 * frac) as usize;
        let t = Instant::now();
        let s = r.state_at(k);
        println!("later state_at({k}): {:.0} ms ({} events)", ms(t), s.events);
    }
    let t = Instant::now();
    let ev = r.event(n / 2).expect("in range").expect("parses");
    println!("event #{} by index: {:.3} ms", ev.seq, ms(t));

    let t = Instant::now();
    let full = r.fold();
    println!(
        "full fold (rebuild by folding every event): {:.0} ms, {} tasks",
        ms(t),
        full.tasks.len()
    );
    // Snapshots give exactly what folding gives.
    let end = r.state_at(n);
    assert_eq!(
        serde_json::to_value(&end).expect("json"),
        serde_json::to_value(&full).expect("json"),
        "the state from snapshots differs from folding"
    );
    let done = r
        .events()
        .filter(|e| matches!(e.kind, EventKind::TaskCompleted { .. }))
        .count();
    println!("check: {done} task_completed");
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Removes the scratch directory even when a check fails.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("agentctl-seek-{}", std::process::id()))
}
