//! UI state: focus, selection, scroll positions, overlays and render caches.
//!
//! Everything here is about *looking at* the run; nothing in it changes the
//! run. Panes read it; only the app loop writes it.

use std::collections::HashSet;

use ratatui::layout::Rect;
use ratatui_textarea::TextArea;

use super::detail_text::{self, Mark};
use super::graph_layout::{Fold, GraphLayout};
use super::keymap::Keymap;
use super::view_model::ViewModel;
use super::wrap::{WrapCache, WrapIndex};
use crate::event::Id;

/// The six panes, numbered as the `1`–`6` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum PaneId {
    /// Agent graph.
    Graph,
    /// Bus traffic.
    Bus,
    /// Task list.
    Tasks,
    /// Selected task's detail.
    Detail,
    /// Token usage.
    Budgets,
    /// Debate transcript.
    Debate,
}

impl PaneId {
    /// All panes in key order.
    pub const ALL: [PaneId; 6] = [
        PaneId::Graph,
        PaneId::Bus,
        PaneId::Tasks,
        PaneId::Detail,
        PaneId::Budgets,
        PaneId::Debate,
    ];

    /// The pane for key `n` (1-based).
    pub fn from_number(n: u8) -> Option<PaneId> {
        PaneId::ALL.get((n as usize).checked_sub(1)?).copied()
    }

    /// 1-based number.
    pub fn number(self) -> u8 {
        PaneId::ALL
            .iter()
            .position(|p| *p == self)
            .map_or(1, |i| i as u8 + 1)
    }

    /// Title.
    pub fn title(self) -> &'static str {
        self.into()
    }

    /// Next pane (wrapping); `back` goes the other way.
    pub fn cycle(self, back: bool) -> PaneId {
        let i = self.number() as usize - 1;
        let n = PaneId::ALL.len();
        PaneId::ALL[if back { (i + n - 1) % n } else { (i + 1) % n }]
    }
}

/// Which graph the Graph pane draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphView {
    /// The workflow's nodes and how control flows between them.
    #[default]
    Flow,
    /// Agents as nodes, their traffic as edges.
    Agents,
    /// The workers of a scale-out run (`--nats`).
    Workers,
}

/// What is selected in the Graph pane; it scopes the Tasks pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphSel {
    /// A workflow node (index in the workflow's nodes): its tasks and
    /// those of the nodes it contains.
    Node(usize),
    /// An agent: the tasks it has or had.
    Agent(Id),
}

/// What a filter applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterTarget {
    /// Bus messages.
    Bus,
    /// Tasks.
    Tasks,
    /// Not a filter: the replay's seek prompt (same one-line input).
    Seek,
}

/// What the editor's text is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditorPurpose {
    /// Comment for denying a gate.
    DenyGate(Id),
    /// A bus message: first line the topic, the rest the payload.
    Inject,
    /// New budget limits for the run (`agent` and `node` `None`), an agent
    /// or a node.
    RaiseBudget {
        /// Agent whose limit changes.
        agent: Option<Id>,
        /// Node whose limit changes.
        node: Option<Id>,
        /// What is raised and how much is used, for the editor's header.
        about: String,
    },
}

/// What a confirm dialog guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmKind {
    /// Quit while the run is live.
    Quit,
    /// Cancel one task.
    CancelTask(Id),
}

/// The overlay on top of the panes, if any.
pub enum Overlay {
    /// Key help.
    Help {
        /// Scroll offset.
        scroll: u16,
    },
    /// Command palette.
    Palette {
        /// Query typed so far.
        query: String,
        /// Highlighted match.
        sel: usize,
    },
    /// Filter input.
    Filter {
        /// Bus or tasks.
        target: FilterTarget,
        /// Text typed so far.
        input: String,
    },
    /// Reroute picker.
    Reroute {
        /// Task to move.
        task: Id,
        /// Candidate agents.
        agents: Vec<Id>,
        /// Highlighted agent.
        sel: usize,
    },
    /// Gate review.
    Gate {
        /// Gate under review.
        gate: Id,
        /// Artifact scroll.
        scroll: u16,
    },
    /// Text editor.
    Editor {
        /// What the text is for.
        purpose: EditorPurpose,
        /// The widget.
        textarea: Box<TextArea<'static>>,
    },
    /// Yes/no question.
    Confirm {
        /// What is being confirmed.
        kind: ConfirmKind,
    },
    /// One bus message in full.
    Message(Box<super::overlays::message::MessageView>),
    /// The form that submits a task to the running run.
    Submit(Box<super::overlays::submit::SubmitForm>),
}

/// Where things were drawn last frame (for the mouse and paging).
#[derive(Debug, Clone, Default)]
pub struct HitMap {
    /// Inner area of each visible pane (inside its border).
    pub panes: Vec<(PaneId, Rect)>,
    /// Tab bar, in single-pane mode.
    pub tabs: Option<Rect>,
    /// The last row the open overlay's text may scroll to (gate review,
    /// bus message).
    pub overlay_max_top: usize,
    /// The whole screen, as last drawn.
    pub screen: Option<Rect>,
}

impl HitMap {
    /// The pane at a screen cell.
    pub fn pane_at(&self, x: u16, y: u16) -> Option<(PaneId, Rect)> {
        self.panes.iter().copied().find(|(_, r)| {
            // The border belongs to the pane too.
            let outer = Rect::new(
                r.x.saturating_sub(1),
                r.y.saturating_sub(1),
                r.width + 2,
                r.height + 2,
            );
            x >= outer.x && x < outer.right() && y >= outer.y && y < outer.bottom()
        })
    }

    /// Inner height of a pane (page size for PgUp/PgDn).
    pub fn height(&self, p: PaneId) -> usize {
        self.panes
            .iter()
            .find(|(id, _)| *id == p)
            .map_or(10, |(_, r)| r.height.max(1) as usize)
    }
}

/// Cached detail text of the selected task.
#[derive(Debug, Clone, Default)]
pub struct DetailCache {
    /// Task id and version it was built from, and whether the run had
    /// ended (a held task's offers go when it ends).
    pub key: Option<(Id, u64, bool)>,
    /// Pre-built lines.
    pub lines: Vec<(Mark, String)>,
    /// The lines laid out for the pane's width (see [`DetailCache::layout`]).
    pub rows: WrapIndex,
    /// Width and wrap `rows` was built for; `None` after the lines changed.
    rows_key: Option<(usize, bool)>,
}

impl DetailCache {
    /// Lays the lines out for `width` columns, once per (lines, width, wrap).
    pub fn layout(&mut self, width: usize, wrap: bool) {
        if self.rows_key != Some((width, wrap)) {
            self.rows = WrapIndex::build(self.lines.iter().map(|(_, l)| l.as_str()), width, wrap);
            self.rows_key = Some((width, wrap));
        }
    }
}

/// Everything about how the run is being looked at.
pub struct UiState {
    /// Focused pane.
    pub focus: PaneId,
    /// Focused pane fills the screen.
    pub zoom: bool,
    /// Wall clock used for elapsed times this frame (µs since the epoch).
    pub now_us: u64,
    /// Selected row in [`UiState::task_rows`].
    pub task_sel: usize,
    /// First task row shown.
    pub task_offset: usize,
    /// Task filter (lower-case), empty for none.
    pub task_filter: String,
    /// Indices into `vm.tasks` passing the filter (rebuilt by [`UiState::prepare`]).
    pub task_rows: Vec<usize>,
    /// Keep the newest bus message and task in view.
    pub follow: bool,
    /// First bus row shown when not following.
    pub bus_top: usize,
    /// Selected bus row (a visible row) when not following; following, the
    /// newest row is selected.
    pub bus_sel: usize,
    /// Detail scroll.
    pub detail_scroll: u16,
    /// Soft wrap in the gate review, Detail and the transcript (`w`).
    pub wrap: bool,
    /// Columns the gate review's artifact is scrolled sideways (`h`/`l`).
    pub gate_left: usize,
    /// Columns Detail is scrolled sideways.
    pub detail_left: usize,
    /// Columns the debate transcript is scrolled sideways.
    pub transcript_left: usize,
    /// First transcript row shown; `None` follows the newest lines.
    pub transcript_top: Option<usize>,
    /// The zoomed debate pane's keys scroll the transcript, not the table
    /// (Tab moves between them).
    pub transcript_focus: bool,
    /// The transcript laid out for the pane's width.
    pub transcript: WrapCache,
    /// Graph scroll (rows).
    pub graph_scroll: usize,
    /// First debate table row shown; `None` follows the newest rows.
    pub debate_top: Option<usize>,
    /// First budgets row shown (gauges, then breaker and quota lines).
    pub budget_top: usize,
    /// The user's resizing of the wide layout (Alt-arrows).
    pub splits: super::splits::Splits,
    /// Graph rows, computed once per topology and width.
    pub graph: Option<GraphLayout>,
    /// Which graph the Graph pane draws.
    pub graph_view: GraphView,
    /// Selected node or agent; `None` when nothing is (Tasks shows all).
    pub graph_sel: Option<GraphSel>,
    /// The Graph pane's inner width last frame (the layout is built for it).
    pub graph_width: u16,
    /// Graph nodes drawn folded or expanded, sorted by node.
    pub graph_folded: Vec<(usize, Fold)>,
    /// Nodes (by slot in `vm.nodes`) whose tasks the selection keeps.
    graph_scope: Vec<bool>,
    /// Detail text cache.
    pub detail: DetailCache,
    /// Open overlay.
    pub overlay: Option<Overlay>,
    /// A short message shown in the status bar until `flash_until_us`.
    pub flash: Option<(String, u64)>,
    /// Debate step mode requested.
    pub step_mode: bool,
    /// Where things were drawn.
    pub hits: HitMap,
    /// Key bindings in use (defaults plus the user's overrides).
    pub keymap: Keymap,
    /// Commands are possible (false in replay).
    pub can_command: bool,
    /// Gates (and revisions) whose review has already come up by itself: it
    /// does so once per gate revision.
    pub gates_surfaced: HashSet<(Id, u32)>,
    /// The gate last looked at in the review (main-screen `a`/`d` act on it).
    pub gate_focus: Option<Id>,
    /// Replay position and playback, in `agentctl replay` (issue #6 replay).
    pub replay: Option<super::replay::ReplayStatus>,
    task_key: (u64, usize),
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            focus: PaneId::Tasks,
            zoom: false,
            now_us: 0,
            task_sel: 0,
            task_offset: 0,
            task_filter: String::new(),
            task_rows: Vec::new(),
            follow: true,
            bus_top: 0,
            bus_sel: 0,
            detail_scroll: 0,
            wrap: true,
            gate_left: 0,
            detail_left: 0,
            transcript_left: 0,
            transcript_top: None,
            transcript_focus: false,
            transcript: WrapCache::default(),
            graph_scroll: 0,
            debate_top: None,
            budget_top: 0,
            splits: super::splits::Splits::default(),
            graph: None,
            graph_view: GraphView::Flow,
            graph_sel: None,
            graph_width: 80,
            graph_folded: Vec::new(),
            graph_scope: Vec::new(),
            detail: DetailCache::default(),
            overlay: None,
            flash: None,
            step_mode: false,
            hits: HitMap::default(),
            keymap: Keymap::default(),
            can_command: true,
            gates_surfaced: HashSet::new(),
            gate_focus: None,
            replay: None,
            task_key: (u64::MAX, usize::MAX),
        }
    }
}

impl UiState {
    /// Brings caches up to date with the view model; call before drawing.
    pub fn prepare(&mut self, vm: &ViewModel) {
        self.fit_graph(vm, self.graph_width);
        let key = (vm.generation, self.task_filter.len());
        if key != self.task_key {
            self.task_key = key;
            self.scope_graph(vm);
            let f = self.task_filter.as_str();
            let (scope, sel) = (&self.graph_scope, &self.graph_sel);
            self.task_rows.clear();
            self.task_rows.extend(
                vm.tasks
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| task_matches(t, f) && in_scope(t, scope, sel))
                    .map(|(i, _)| i),
            );
            if self.follow && !self.task_rows.is_empty() {
                // Follow the newest live task (or the newest task when none is live).
                let live = self
                    .task_rows
                    .iter()
                    .rposition(|&i| vm.tasks[i].state == crate::event::TaskState::InProgress);
                self.task_sel = live.unwrap_or(self.task_rows.len() - 1);
            }
        }
        self.task_sel = self.task_sel.min(self.task_rows.len().saturating_sub(1));
        let ended = vm.ended.is_some();
        let sel = self
            .selected_task(vm)
            .map(|t| (t.id.clone(), t.version, ended));
        if sel != self.detail.key {
            self.detail.lines = match self.selected_task(vm) {
                Some(t) => detail_text::build_lines(t, vm),
                None => Vec::new(),
            };
            self.detail.rows_key = None;
            if sel.as_ref().map(|s| &s.0) != self.detail.key.as_ref().map(|k| &k.0) {
                self.detail_scroll = 0;
            }
            self.detail.key = sel;
        }
    }

    /// Builds the graph layout for `width` columns unless the cached one
    /// is for this topology and width already.
    pub fn fit_graph(&mut self, vm: &ViewModel, width: u16) {
        self.graph_width = width;
        let folded = &self.graph_folded;
        if self
            .graph
            .as_ref()
            .is_none_or(|g| !g.fits(&vm.info, width, folded))
        {
            self.graph = Some(GraphLayout::build(&vm.info, width, folded));
        }
    }

    /// Selects a node or agent in the graph (or nothing): the Tasks pane
    /// keeps its tasks and selects the one most worth a look (held, live,
    /// else the newest), so Detail follows.
    pub fn select_in_graph(&mut self, vm: &ViewModel, sel: Option<GraphSel>) {
        self.graph_sel = sel;
        self.invalidate_tasks();
        self.follow = false;
        self.prepare(vm);
        let pick = |want: &dyn Fn(&crate::tui::view_model::TaskView) -> bool| {
            self.task_rows.iter().rposition(|&i| want(&vm.tasks[i]))
        };
        use crate::event::TaskState as S;
        let best = pick(&|t| t.held)
            .or_else(|| pick(&|t| t.state == S::InProgress))
            .unwrap_or(self.task_rows.len().saturating_sub(1));
        self.task_sel = best;
        self.task_offset = best.saturating_sub(2);
        self.prepare(vm);
    }

    /// Folds the selected graph node, or unfolds it; a fan-out too wide to
    /// show whole first expands to every lane, then folds, then is as
    /// before. False when no node with anything inside is selected.
    pub fn toggle_fold(&mut self, vm: &ViewModel) -> bool {
        let Some(GraphSel::Node(n)) = self.graph_sel else {
            return false;
        };
        let Some(node) = vm.info.nodes.get(n).filter(|x| !x.children.is_empty()) else {
            return false;
        };
        let wide = node.children.len() > crate::tui::graph_layout::MAX_LANES;
        match self.graph_folded.binary_search_by_key(&n, |&(i, _)| i) {
            Ok(i) if self.graph_folded[i].1 == Fold::Expanded => {
                self.graph_folded[i].1 = Fold::Folded;
            }
            Ok(i) => {
                self.graph_folded.remove(i);
            }
            Err(i) => {
                let f = if wide { Fold::Expanded } else { Fold::Folded };
                self.graph_folded.insert(i, (n, f));
            }
        }
        self.fit_graph(vm, self.graph_width);
        true
    }

    /// Recomputes which node slots the graph selection keeps.
    fn scope_graph(&mut self, vm: &ViewModel) {
        self.graph_scope.clear();
        let Some(GraphSel::Node(root)) = self.graph_sel else {
            return;
        };
        let info = &vm.info;
        self.graph_scope
            .resize(vm.nodes.len().max(info.nodes.len()), false);
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            if n < self.graph_scope.len() && !std::mem::replace(&mut self.graph_scope[n], true) {
                stack.extend(
                    info.nodes
                        .get(n)
                        .into_iter()
                        .flat_map(|x| x.children.iter().copied()),
                );
            }
        }
    }

    /// Forces the task list to be rebuilt (after the filter changed).
    pub fn invalidate_tasks(&mut self) {
        self.task_key = (u64::MAX, usize::MAX);
    }

    /// The selected task.
    pub fn selected_task<'a>(
        &self,
        vm: &'a ViewModel,
    ) -> Option<&'a crate::tui::view_model::TaskView> {
        self.task_rows
            .get(self.task_sel)
            .and_then(|&i| vm.tasks.get(i))
    }

    /// The gate that main-screen `a`/`d` act on: the gate whose task is
    /// selected in the task list, else the one last reviewed, else the oldest.
    pub fn selected_gate<'a>(
        &self,
        vm: &'a ViewModel,
    ) -> Option<&'a crate::tui::view_model::GateView> {
        let by_task = self
            .selected_task(vm)
            .and_then(|t| vm.gates.iter().find(|g| g.gate == t.id));
        let by_focus = || {
            self.gate_focus
                .as_ref()
                .and_then(|f| vm.gates.iter().find(|g| g.gate == *f))
        };
        by_task.or_else(by_focus).or_else(|| vm.gates.first())
    }

    /// Shows a message in the status bar for a few seconds.
    pub fn flash(&mut self, msg: impl Into<String>) {
        self.flash = Some((msg.into(), self.now_us + 4_000_000));
    }

    /// The flash message, if still current.
    pub fn current_flash(&self) -> Option<&str> {
        self.flash
            .as_ref()
            .filter(|(_, until)| *until > self.now_us)
            .map(|(m, _)| m.as_str())
    }
}

/// True when the graph's selection keeps task `t`.
fn in_scope(t: &crate::tui::view_model::TaskView, scope: &[bool], sel: &Option<GraphSel>) -> bool {
    match sel {
        None => true,
        Some(GraphSel::Node(_)) => scope.get(t.node_slot()).copied().unwrap_or(false),
        Some(GraphSel::Agent(a)) => t.agent.as_deref() == Some(&**a),
    }
}

fn task_matches(t: &crate::tui::view_model::TaskView, needle: &str) -> bool {
    use crate::tui::view_model::contains_ci as c;
    needle.is_empty()
        || c(&t.id, needle)
        || c(&t.title, needle)
        || c(t.state.as_str(), needle)
        || t.agent.as_deref().is_some_and(|a| c(a, needle))
        || c(&t.node_id, needle)
}
