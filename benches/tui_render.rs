//! Cockpit render cost: one full frame at 200×60 of a run with 100k bus
//! messages, 200 tasks and a 50-node graph (target ≤ 2 ms per frame), for
//! each focused pane and with the help overlay and a bus filter. Also the
//! cost of folding one bus event into the view model.
//!
//! Run with `cargo bench --bench tui_render`; figures in `docs/bench/cockpit.md`.

use std::hint::black_box;

use agentctl::event::{BusMessage, Event, EventKind};
use agentctl::tui::render;
use agentctl::tui::test_support::{self, T0};
use agentctl::tui::theme::Theme;
use agentctl::tui::ui_state::{Overlay, PaneId, UiState};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use serde_json::json;

/// Puts the UI in the state a case measures.
type Setup = fn(&mut UiState);

fn frames(c: &mut Criterion) {
    let mut vm = test_support::big_vm();
    let theme = Theme::builtin("dark").expect("the dark theme is built in");
    let area = Rect::new(0, 0, 200, 60);
    let mut g = c.benchmark_group("frame_200x60_100k_msgs");
    let cases: [(&str, Setup); 5] = [
        ("tasks_focused", |ui| ui.focus = PaneId::Tasks),
        ("bus_focused", |ui| ui.focus = PaneId::Bus),
        ("graph_zoomed", |ui| {
            ui.focus = PaneId::Graph;
            ui.zoom = true;
        }),
        ("bus_scrolled_back", |ui| {
            ui.focus = PaneId::Bus;
            ui.follow = false;
            ui.bus_top = 50_000;
        }),
        ("help_overlay", |ui| {
            ui.overlay = Some(Overlay::Help { scroll: 0 })
        }),
    ];
    for (name, setup) in cases {
        let mut ui = UiState::default();
        ui.now_us = T0 + 100_000_000;
        setup(&mut ui);
        let mut buf = Buffer::empty(area);
        // The first frame builds the graph layout and caches, as in the app.
        render::draw_buffer(area, &mut buf, &vm, &mut ui, &theme);
        g.bench_function(name, |b| {
            b.iter(|| {
                buf.reset();
                render::draw_buffer(area, &mut buf, &vm, &mut ui, &theme);
                black_box(&buf);
            })
        });
    }
    // A filter matching one agent in eight: rows are found incrementally.
    vm.bus.set_filter("w3");
    let mut ui = UiState::default();
    ui.now_us = T0 + 100_000_000;
    ui.focus = PaneId::Bus;
    let mut buf = Buffer::empty(area);
    render::draw_buffer(area, &mut buf, &vm, &mut ui, &theme);
    g.bench_function("bus_filtered", |b| {
        b.iter(|| {
            buf.reset();
            render::draw_buffer(area, &mut buf, &vm, &mut ui, &theme);
            black_box(&buf);
        })
    });
    g.finish();
}

/// Each pane alone, zoomed to the whole 200×60 screen: where a frame's time goes.
fn panes(c: &mut Criterion) {
    let vm = test_support::big_vm();
    let theme = Theme::builtin("dark").expect("the dark theme is built in");
    let area = Rect::new(0, 0, 200, 60);
    let mut g = c.benchmark_group("pane_zoomed_200x60");
    for pane in PaneId::ALL {
        let mut ui = UiState::default();
        ui.now_us = T0 + 100_000_000;
        ui.focus = pane;
        ui.zoom = true;
        let mut buf = Buffer::empty(area);
        render::draw_buffer(area, &mut buf, &vm, &mut ui, &theme);
        g.bench_function(pane.title().to_lowercase(), |b| {
            b.iter(|| {
                buf.reset();
                render::draw_buffer(area, &mut buf, &vm, &mut ui, &theme);
                black_box(&buf);
            })
        });
    }
    g.finish();
}

fn fold(c: &mut Criterion) {
    let mut vm = test_support::big_vm();
    let mut seq = 10_000_000u64;
    c.bench_function("fold_one_bus_event_into_100k", |b| {
        b.iter_batched(
            || {
                seq += 1;
                Event {
                    seq,
                    ts: T0 + seq,
                    session: "big".into(),
                    kind: EventKind::Bus {
                        message: BusMessage {
                            id: seq,
                            topic: "agent.w1".into(),
                            from: "orchestrator".into(),
                            to: Some("w1".into()),
                            kind: "task".into(),
                            payload: json!({"summary": "one more message on a busy bus"}),
                            correlation: None,
                            ts: T0 + seq,
                        },
                    },
                }
            },
            |ev| vm.apply(&ev),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, frames, panes, fold);
criterion_main!(benches);
