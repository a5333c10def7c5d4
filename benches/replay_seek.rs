//! Measures the replay controls on a large recorded session (the figures in
//! BENCHMARKS.md, "Replay controls"): records a real run of a map over ITEMS items (125 000
//! by default, about 1M events) with the real recorder, then times the
//! cockpit's replay player: the first pass to the end (it keeps view-model
//! checkpoints on the way), seeks anywhere, one step back, a jump that reads
//! the whole recording, the memory the checkpoints take, and the longest
//! slice of a long seek or jump as the cockpit runs them (between frames).
//!
//! `cargo bench --bench replay_seek -- [ITEMS | SESSION.jsonl]`

use std::sync::Arc;
use std::time::Instant;

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::session::{Header, Recorder, SessionReader};
use agentctl::tui::bench_support::{MarkKind, Player, SLICE, ViewModel, WorkflowInfo};
use agentctl::workflow::load::{Format, load_str};

fn main() {
    // `cargo bench` passes `--bench`; the first other argument is ours.
    let arg = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let (path, cleanup) = match arg.as_deref() {
        Some(p) if p.ends_with(".jsonl") => (std::path::PathBuf::from(p), None),
        other => {
            let items = other.and_then(|a| a.parse().ok()).unwrap_or(125_000u64);
            let (path, dir) = record(items);
            (path, Some(dir))
        }
    };
    let rss0 = rss_mib();
    let t = Instant::now();
    let reader = SessionReader::open(&path).expect("open");
    let n = reader.len();
    println!("open + index: {n} events in {:.0} ms", ms(t));
    let rec = &reader.header().workflow;
    let wf = load_str(&rec.text, &rec.origin, Format::from_path(&rec.origin))
        .expect("the recorded workflow loads")
        .workflow;
    let empty = ViewModel::new(WorkflowInfo::from_workflow(&wf));
    let mut player = Player::new(Box::new(reader), empty, 1.0);
    let mut vm = player.empty_view();
    let rss1 = rss_mib();

    let t = Instant::now();
    player.seek(&mut vm, n);
    println!(
        "first pass to the end (folds every event, keeps checkpoints): {:.0} ms, {} tasks, {} checkpoints",
        ms(t),
        vm.tasks.len(),
        player.checkpoints()
    );
    let rss2 = rss_mib();
    println!(
        "memory: reader {:.0} MiB, view model + checkpoints {:.0} MiB (RSS); checkpoints accounted {:.1} MiB beyond one view model, interval {} events",
        rss1 - rss0,
        rss2 - rss1,
        player.checkpoint_bytes() as f64 / 1048576.0,
        player.checkpoint_interval()
    );

    let t = Instant::now();
    let copy = vm.clone();
    println!("one copy of the final view model: {:.1} ms", ms(t));
    let t = Instant::now();
    drop(copy);
    println!("freeing it: {:.1} ms", ms(t));
    // The fold rate alone: parse + apply, into a fresh view model.
    let reader = SessionReader::open(&path).expect("open");
    let mut fresh = ViewModel::new(WorkflowInfo::from_workflow(&wf));
    let k = n.min(100_000);
    let t = Instant::now();
    for i in 0..k {
        if let Some(Ok(ev)) = reader.event(i) {
            fresh.apply(&ev);
        }
    }
    println!(
        "folding alone: {:.2} µs per event ({k} events)",
        ms(t) * 1000.0 / k as f64
    );
    drop((reader, fresh));

    let t = Instant::now();
    player.seek(&mut vm, n - 1);
    println!("step back one event from the end: {:.1} ms", ms(t));

    // Seeks to pseudo-random places, both ways.
    let mut times = Vec::new();
    let mut x: u64 = 12345;
    for _ in 0..100 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let target = (x >> 33) as usize % (n + 1);
        let t = Instant::now();
        player.seek(&mut vm, target);
        times.push(ms(t));
    }
    times.sort_by(f64::total_cmp);
    println!(
        "100 seeks anywhere: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        times[50], times[90], times[99]
    );
    let mut steps = Vec::new();
    for _ in 0..20 {
        let to = player.index().saturating_sub(1);
        let t = Instant::now();
        player.seek(&mut vm, to);
        steps.push(ms(t));
    }
    steps.sort_by(f64::total_cmp);
    println!(
        "20 steps back in a row: median {:.1} ms, max {:.1} ms",
        steps[10], steps[19]
    );

    // A fresh player seeking to the end as the cockpit does it: in slices
    // of SLICE events, the app loop drawing and reading keys in between.
    let reader = SessionReader::open(&path).expect("open");
    let mut p3 = Player::new(
        Box::new(reader),
        ViewModel::new(WorkflowInfo::from_workflow(&wf)),
        1.0,
    );
    let mut vm3 = p3.empty_view();
    let t = Instant::now();
    p3.request_seek(&mut vm3, n);
    let mut slices = vec![ms(t)];
    loop {
        let t = Instant::now();
        let more = p3.work(&mut vm3, SLICE);
        slices.push(ms(t));
        if !more {
            break;
        }
    }
    let total: f64 = slices.iter().sum();
    slices.sort_by(f64::total_cmp);
    println!(
        "first seek to the end in slices of {SLICE} events: {} slices, {:.0} ms in all, slice median {:.1} ms, max {:.1} ms",
        slices.len(),
        total,
        slices[slices.len() / 2],
        slices[slices.len() - 1]
    );
    drop((p3, vm3));

    // A fresh player: a jump with nothing to find reads the whole file.
    let reader = SessionReader::open(&path).expect("open");
    let mut p2 = Player::new(
        Box::new(reader),
        ViewModel::new(WorkflowInfo::from_workflow(&wf)),
        1.0,
    );
    let t = Instant::now();
    let found = p2.next_mark(MarkKind::Gate);
    println!(
        "next gate on a fresh player (scans all {n} events): {:.0} ms, found: {found:?}",
        ms(t)
    );
    // The same search as the cockpit runs it, in slices.
    let reader = SessionReader::open(&path).expect("open");
    let mut p4 = Player::new(
        Box::new(reader),
        ViewModel::new(WorkflowInfo::from_workflow(&wf)),
        1.0,
    );
    let mut vm4 = p4.empty_view();
    let t = Instant::now();
    p4.request_jump(&mut vm4, MarkKind::Gate);
    let mut longest = ms(t);
    let mut count = 1;
    loop {
        let t = Instant::now();
        let more = p4.work(&mut vm4, SLICE);
        longest = longest.max(ms(t));
        count += 1;
        if !more {
            break;
        }
    }
    println!("the same jump in slices: {count} slices, longest {longest:.1} ms");
    if let Some(dir) = cleanup {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Records a real run of a `count`-item map; returns the file and its directory.
fn record(items: u64) -> (std::path::PathBuf, std::path::PathBuf) {
    let text = format!(
        "[workflow]\nname = \"replay_{items}\"\ninput = \"go\"\n\n\
         [[agents]]\nid = \"worker\"\nconcurrency = 0\nsim = {{ reply_words = 4 }}\n\n\
         [[nodes]]\nid = \"fan\"\nkind = \"map\"\ncount = {items}\nconcurrency = 256\nbody = \"work\"\n\n\
         [[nodes]]\nid = \"work\"\nkind = \"agent\"\nagent = \"worker\"\nprompt = \"item {{{{item}}}}\"\n"
    );
    let wf = Arc::new(
        load_str(&text, "replay.toml", Format::Toml)
            .expect("valid")
            .workflow,
    );
    let dir = std::env::temp_dir().join(format!("agentctl-replay-{}", std::process::id()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t = Instant::now();
    let path = rt.block_on(async {
        let mut o = Orchestrator::new(wf.clone(), RunOptions::default());
        let header = Header::new("replay-1", &wf, &text, "replay.toml", 0, 0);
        let rec = Recorder::create(&dir, &header, o.subscribe()).expect("recorder");
        let out = o.start().expect("start").wait().await;
        assert_eq!(out.status, agentctl::event::RunStatus::Succeeded);
        let path = rec.path().to_path_buf();
        rec.finish().expect("recorded");
        path
    });
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "recorded {items} items in {:.2} s, {:.1} MiB: {}",
        t.elapsed().as_secs_f64(),
        size as f64 / 1048576.0,
        path.display()
    );
    (path, dir)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Resident memory of this process (Linux), in MiB; 0 elsewhere.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
