//! The one door the benchmarks (`benches/tui_render.rs`, `benches/replay_seek.rs`)
//! and `tests/fold_agreement.rs` have into the cockpit's internals: a big
//! scripted run and a screen to draw it on, the replay player over the view
//! model, and the view model with its checkpoints.
//! Not a supported API; it changes with the benchmark.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use serde_json::json;

use super::render;
use super::test_support::{self, T0};
use super::theme::Theme;
use super::ui_state::{Overlay, PaneId, UiState};
use crate::event::{BusMessage, Event, EventKind};

pub use super::replay::{EventSource, MarkKind, Player, SLICE};
pub use super::view_model::{Checkpoint, ViewModel, WorkflowInfo};

/// Names of the six panes, in key order (`1`–`6`).
pub fn pane_names() -> [&'static str; 6] {
    PaneId::ALL.map(PaneId::title)
}

/// A run of 200 tasks on a 50-node graph with 100k bus messages, a debate
/// waiting for a step and a reply streaming into task `t1`, drawn in the
/// dark theme on a `width`×`height` buffer.
pub struct BenchScreen {
    vm: ViewModel,
    ui: UiState,
    theme: Theme,
    area: Rect,
    buf: Buffer,
    seq: u64,
}

impl BenchScreen {
    /// Builds the run (about a second: 100k messages are folded).
    pub fn big_run(width: u16, height: u16) -> BenchScreen {
        let mut vm = test_support::big_vm();
        for e in &test_support::debate_script(true).events {
            vm.apply(e);
        }
        let mut screen = BenchScreen {
            vm,
            ui: UiState::default(),
            theme: Theme::builtin("dark").expect("the dark theme is built in"),
            area: Rect::new(0, 0, width, height),
            buf: Buffer::empty(Rect::new(0, 0, width, height)),
            seq: 10_000_000,
        };
        for _ in 0..40 {
            screen.fold_llm_delta();
        }
        screen.reset_view();
        screen
    }

    /// Back to the default view (tasks focused, following), caches rebuilt.
    pub fn reset_view(&mut self) {
        self.ui = UiState::default();
        self.ui.now_us = T0 + 100_000_000;
        self.draw();
    }

    /// Focuses pane `n` (1–6), zoomed or not.
    pub fn focus(&mut self, n: u8, zoom: bool) {
        self.ui.focus = PaneId::from_number(n).unwrap_or(PaneId::Tasks);
        self.ui.zoom = zoom;
        self.draw();
    }

    /// Selects task `t1` (whose reply streams) and focuses its detail.
    pub fn detail_of_streaming_task(&mut self) {
        self.ui.prepare(&self.vm);
        self.ui.follow = false;
        if let Some(pos) = self.vm.task_position("t1") {
            self.ui.task_sel = self
                .ui
                .task_rows
                .iter()
                .position(|&i| i == pos)
                .unwrap_or(0);
        }
        self.ui.focus = PaneId::Detail;
        self.draw();
    }

    /// Scrolls the bus back to message `top` (follow off).
    pub fn scroll_bus_to(&mut self, top: usize) {
        self.ui.focus = PaneId::Bus;
        self.ui.follow = false;
        self.ui.bus_top = top;
        self.draw();
    }

    /// Selects workflow node `node` in the graph (Tasks keeps its tasks),
    /// the graph focused and not zoomed: every pane drawn.
    pub fn select_graph_node(&mut self, node: usize) {
        self.ui.focus = PaneId::Graph;
        self.ui
            .select_in_graph(&self.vm, Some(super::ui_state::GraphSel::Node(node)));
        self.draw();
    }

    /// The graph pane zoomed on the agents and their traffic.
    pub fn agents_view(&mut self) {
        self.ui.focus = PaneId::Graph;
        self.ui.zoom = true;
        self.ui.graph_view = super::ui_state::GraphView::Agents;
        self.draw();
    }

    /// Opens the help overlay.
    pub fn open_help(&mut self) {
        self.ui.overlay = Some(Overlay::Help { scroll: 0 });
        self.draw();
    }

    /// Filters the bus (incrementally, as typing does).
    pub fn filter_bus(&mut self, text: &str) {
        self.vm.bus.set_filter(text);
        self.ui.focus = PaneId::Bus;
        self.draw();
    }

    /// Draws one full frame from scratch (the app redraws the whole buffer).
    pub fn draw(&mut self) -> &Buffer {
        self.buf.reset();
        render::draw_buffer(
            self.area,
            &mut self.buf,
            &self.vm,
            &mut self.ui,
            &self.theme,
        );
        &self.buf
    }

    /// The next bus message of the big run (number `seq`, after the 100k),
    /// built outside the timed part of a bench.
    pub fn bus_event(seq: u64) -> Event {
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
                    priority: 3,
                },
            },
        }
    }

    /// The `seq` the next [`BenchScreen::bus_event`] should carry.
    pub fn next_seq(&self) -> u64 {
        self.seq + 1
    }

    /// Folds one event into the view model (what the app does per event).
    pub fn fold(&mut self, ev: &Event) {
        self.seq = self.seq.max(ev.seq);
        self.vm.apply(ev);
    }

    /// Folds one streamed chunk of `t1`'s reply.
    pub fn fold_llm_delta(&mut self) {
        self.seq += 1;
        let ev = Event {
            seq: self.seq,
            ts: T0 + self.seq,
            session: "big".into(),
            kind: EventKind::LlmDelta {
                task: "t1".into(),
                agent: "w1".into(),
                text: "streamed words of a reply, ".into(),
            },
        };
        self.vm.apply(&ev);
    }
}
