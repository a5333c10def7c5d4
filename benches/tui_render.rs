//! Cockpit render cost: one full frame at 200×60 of a run with 100k bus
//! messages, 200 tasks, a 50-node graph, a debate waiting for a step and a
//! reply streaming (target ≤ 2 ms per frame), for each focused pane and with
//! the help overlay and a bus filter. Also the cost of folding one bus event
//! and one streamed chunk into the view model.
//!
//! Run with `cargo bench --bench tui_render`; figures in `BENCHMARKS.md, "Cockpit rendering"`.

use std::hint::black_box;

use agentctl::tui::bench_support::{BenchScreen, pane_names};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// Puts the screen in the state a case measures.
type Setup = fn(&mut BenchScreen);

fn frames(c: &mut Criterion) {
    let mut screen = BenchScreen::big_run(200, 60);
    let mut g = c.benchmark_group("frame_200x60_100k_msgs");
    let cases: [(&str, Setup); 9] = [
        ("tasks_focused", |s| s.focus(3, false)),
        ("bus_focused", |s| s.focus(2, false)),
        ("graph_zoomed", |s| s.focus(1, true)),
        // A node selected in the 50-node graph: Tasks keeps its tasks.
        ("graph_node_selected", |s| s.select_graph_node(3)),
        ("graph_agents_zoomed", |s| s.agents_view()),
        ("bus_scrolled_back", |s| s.scroll_bus_to(50_000)),
        ("help_overlay", |s| s.open_help()),
        ("detail_streaming", |s| s.detail_of_streaming_task()),
        // A filter matching one agent in eight: rows are found incrementally.
        ("bus_filtered", |s| s.filter_bus("w3")),
    ];
    for (name, setup) in cases {
        screen.reset_view();
        // The first frame builds the graph layout and caches, as in the app.
        setup(&mut screen);
        g.bench_function(name, |b| b.iter(|| black_box(screen.draw().area)));
    }
    g.finish();
}

/// Each pane alone, zoomed to the whole 200×60 screen: where a frame's time goes.
fn panes(c: &mut Criterion) {
    let mut screen = BenchScreen::big_run(200, 60);
    let mut g = c.benchmark_group("pane_zoomed_200x60");
    for (i, name) in pane_names().into_iter().enumerate() {
        screen.reset_view();
        screen.focus(i as u8 + 1, true);
        g.bench_function(name.to_lowercase(), |b| {
            b.iter(|| black_box(screen.draw().area))
        });
    }
    g.finish();
}

fn fold(c: &mut Criterion) {
    let mut screen = BenchScreen::big_run(200, 60);
    // The event is built in the untimed setup and dropped after timing:
    // only the fold is measured.
    let mut seq = screen.next_seq();
    c.bench_function("fold_one_bus_event_into_100k", |b| {
        b.iter_batched(
            || {
                seq += 1;
                BenchScreen::bus_event(seq)
            },
            |ev| {
                screen.fold(&ev);
                ev // dropped after timing
            },
            BatchSize::SmallInput,
        )
    });
    c.bench_function("fold_one_llm_delta", |b| b.iter(|| screen.fold_llm_delta()));
}

criterion_group!(benches, frames, panes, fold);
criterion_main!(benches);
