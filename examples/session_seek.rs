//! Measures reading and seeking in a large recorded session (the figures in
//! docs/bench/sessions.md). Records a real run of a 125 000-item map (about
//! 1M events) with the real recorder, then times opening the file, seeking
//! by time and by index, and folding.
//!
//! `cargo run --release --example session_seek [ITEMS]`

use std::sync::Arc;
use std::time::Instant;

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::EventKind;
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t = Instant::now();
    let path = rt.block_on(async {
        let mut o = Orchestrator::new(wf.clone(), RunOptions::default());
        let header = Header::new("seek-1", &wf, &text, "seek.toml", 0, 0);
        let rec = Recorder::create(&dir, &header, o.subscribe()).expect("recorder");
        let out = o.start().expect("start").wait().await;
        assert_eq!(out.status, agentctl::event::RunStatus::Succeeded);
        let path = rec.path().to_path_buf();
        rec.finish().expect("recorded");
        path
    });
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "recorded in {:.2} s, {:.1} MiB",
        t.elapsed().as_secs_f64(),
        size as f64 / 1048576.0
    );

    let t = Instant::now();
    let r = SessionReader::open(&path).expect("open");
    println!("open + index: {} events in {:.0} ms", r.len(), ms(t));

    let n = r.len();
    let target_ts = r.ts(n * 9 / 10).unwrap_or(0);
    let t = Instant::now();
    let i = r.index_at_time(target_ts);
    println!("seek by time -> index {i}: {:.3} ms", ms(t));

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

    let t = Instant::now();
    let s = r.state_at(n * 9 / 10);
    println!(
        "first state_at(90%) (builds checkpoints): {:.0} ms, {} events",
        ms(t),
        s.events
    );
    for frac in [0.1, 0.5, 0.9, 0.999] {
        let k = (n as f64 * frac) as usize;
        let t = Instant::now();
        let s = r.state_at(k);
        println!(
            "state_at({k}) from a checkpoint: {:.0} ms ({} events)",
            ms(t),
            s.events
        );
    }
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

fn tempfile_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("agentctl-seek-{}", std::process::id()))
}
