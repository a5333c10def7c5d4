//! The app loop: one task owns the terminal, the view model and the UI state.
//!
//! It selects over terminal input, the event receiver and a frame channel.
//! Events are drained in batches before a frame is requested; frames are
//! coalesced by a [`FrameRequester`] to at most 60 per second and drawn only
//! on request (a live run asks for one per second so the clock moves; an
//! idle or finished run draws nothing).

use std::io::{self, IsTerminal, Stdout};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event as TermEvent, EventStream, KeyCode, KeyEvent,
    KeyEventKind, MouseButton, MouseEvent, MouseEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use serde_json::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;

use super::keymap::{Action, Context, Keymap};
use super::overlays::{self, editor, palette, reroute};
use super::panes::graph::agents as graph_agents;
use super::render;
use super::replay::{self, Player};
use super::theme::{self, Theme};
use super::ui_state::{
    ConfirmKind, EditorPurpose, FilterTarget, GraphSel, GraphView, Overlay, PaneId, UiState,
};
use super::view_model::{ViewModel, WorkflowInfo};
use crate::event::{Command, Event, Id, RunStatus, TaskState, now_micros};
use crate::workflow::model::Workflow;

/// Shortest time between two frames (60 fps).
const FRAME_INTERVAL: Duration = Duration::from_micros(16_667);
/// Most events folded between two looks at the keyboard.
const MAX_EVENT_BATCH: usize = 20_000;
/// Rows scrolled per mouse-wheel notch.
const WHEEL_ROWS: usize = 3;

/// How the cockpit is started.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    /// Theme name or path to a theme file; `None` = dark (or monochrome under `NO_COLOR`).
    pub theme: Option<String>,
    /// Fed from a recorded session: shows REPLAY and sends no commands.
    pub replay: bool,
    /// Capture the mouse (click to focus/select, wheel to scroll).
    pub mouse: bool,
    /// Key bindings (the defaults, or with the config file's `[keys]` applied).
    pub keymap: Keymap,
}

impl Default for TuiOptions {
    fn default() -> Self {
        TuiOptions {
            theme: None,
            replay: false,
            mouse: true,
            keymap: Keymap::default(),
        }
    }
}

/// Why the cockpit closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuiExit {
    /// The user quit after the run had ended with this status.
    Finished(RunStatus),
    /// The user quit while the run was still live (or before it started).
    Quit,
}

/// Coalesces frame requests: many requests within a frame interval produce
/// one draw, and nothing is drawn unless someone asked.
#[derive(Clone, Debug)]
pub struct FrameRequester {
    tx: UnboundedSender<Instant>,
}

impl FrameRequester {
    /// Starts the scheduler task; draws are announced on the returned receiver.
    pub fn spawn() -> (FrameRequester, UnboundedReceiver<()>) {
        let (tx, rx) = unbounded_channel::<Instant>();
        let (draw_tx, draw_rx) = unbounded_channel();
        tokio::spawn(schedule_frames(rx, draw_tx));
        (FrameRequester { tx }, draw_rx)
    }

    /// Asks for a frame as soon as the rate limit allows.
    pub fn schedule_frame(&self) {
        let _ = self.tx.send(Instant::now());
    }

    /// Asks for a frame after `delay`.
    pub fn schedule_frame_in(&self, delay: Duration) {
        let _ = self.tx.send(Instant::now() + delay);
    }
}

async fn schedule_frames(mut rx: UnboundedReceiver<Instant>, draw: UnboundedSender<()>) {
    let mut next: Option<Instant> = None;
    let mut last_draw: Option<Instant> = None;
    loop {
        let deadline = next.map(|n| last_draw.map_or(n, |l| n.max(l + FRAME_INTERVAL)));
        tokio::select! {
            req = rx.recv() => match req {
                Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
                None => return,
            },
            _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)).await }, if deadline.is_some() => {
                next = None;
                last_draw = Some(Instant::now());
                if draw.send(()).is_err() {
                    return;
                }
            }
        }
    }
}

/// Runs the cockpit until the user quits.
///
/// `commands` is `None` for a read-only replay. Returns an error when stdout
/// is not a terminal, the theme cannot be loaded, or the terminal fails.
pub async fn run(
    workflow: Arc<Workflow>,
    events: UnboundedReceiver<Event>,
    commands: Option<UnboundedSender<Command>>,
    opts: TuiOptions,
) -> io::Result<TuiExit> {
    run_with(workflow, events, commands, opts, None).await
}

/// Runs the cockpit on a recording with playback controls until the user
/// quits; it starts playing unless `paused`.
pub async fn run_replay(
    workflow: Arc<Workflow>,
    session: crate::session::SessionReader,
    speed: f64,
    paused: bool,
    opts: TuiOptions,
) -> io::Result<TuiExit> {
    run_replay_with_fork(workflow, session, speed, paused, opts, None).await
}

/// [`run_replay`] where `F` forks the recording at the current position
/// into a live run in the same screen, through `forker` (see
/// [`super::replay::Forker`]).
pub async fn run_replay_with_fork(
    workflow: Arc<Workflow>,
    session: crate::session::SessionReader,
    speed: f64,
    paused: bool,
    opts: TuiOptions,
    forker: Option<super::replay::Forker>,
) -> io::Result<TuiExit> {
    let player = Player::for_workflow(Box::new(session), &workflow, speed);
    // No live events: the player feeds the view model. The sender stays
    // alive so the loop does not report a closed stream.
    let (_tx, rx) = unbounded_channel();
    run_with(workflow, rx, None, opts, Some((player, !paused, forker))).await
}

async fn run_with(
    workflow: Arc<Workflow>,
    mut events: UnboundedReceiver<Event>,
    commands: Option<UnboundedSender<Command>>,
    opts: TuiOptions,
    replay: Option<(Player, bool, Option<super::replay::Forker>)>,
) -> io::Result<TuiExit> {
    if !io::stdout().is_terminal() {
        return Err(io::Error::other(
            "the cockpit needs an interactive terminal; use `agentctl run WORKFLOW` for a headless run",
        ));
    }
    let theme = match &opts.theme {
        _ if theme::no_color() => Theme::monochrome(),
        Some(t) => Theme::load(t).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        None => Theme::from_env(),
    };
    let info = WorkflowInfo::from_workflow(&workflow);
    let mut app = match replay {
        Some((player, play, forker)) => {
            let mut app = App::replaying(info, theme, player);
            app.forker = forker;
            if play {
                app.replay_play(Instant::now());
            }
            app
        }
        None => App::new(info, commands, theme, opts.replay),
    };
    app.ui.keymap = opts.keymap.clone();
    app.remember_layout(super::splits::default_path());
    let mut guard = TerminalGuard::enter(opts.mouse)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    let (frames, mut draw_rx) = FrameRequester::spawn();
    let mut input = EventStream::new();
    let mut events_open = true;
    let stop = stop_signal();
    tokio::pin!(stop);
    tracing::info!(workflow = %workflow.name, replay = opts.replay, "cockpit open");
    frames.schedule_frame();
    loop {
        tokio::select! {
            name = &mut stop => {
                // SIGTERM/SIGHUP: leave like `q` so the guard restores the terminal.
                tracing::warn!(signal = name, "stopped by a signal");
                return Ok(app.exit_status());
            }
            ev = events.recv(), if events_open => {
                match ev {
                    Some(ev) => {
                        app.apply(&ev);
                        // Drain what is already queued so one frame shows it all,
                        // in bounded batches so a flood cannot starve the keyboard.
                        for _ in 0..MAX_EVENT_BATCH {
                            match events.try_recv() {
                                Ok(ev) => app.apply(&ev),
                                Err(_) => break,
                            }
                        }
                    }
                    None => {
                        events_open = false;
                        if app.vm.phase().is_live() {
                            app.ui.flash("the event stream closed");
                        }
                    }
                }
                app.surface_gate();
                frames.schedule_frame();
            }
            term = input.next() => {
                match term {
                    Some(Ok(TermEvent::Key(k))) => {
                        app.ui.now_us = now_micros();
                        app.handle_key(k);
                        // `F` forked the replay: its live run feeds the view now.
                        if let Some(live) = app.take_live_events() {
                            events = live;
                            events_open = true;
                        }
                    }
                    Some(Ok(TermEvent::Mouse(m))) => app.handle_mouse(m),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => return Ok(app.exit_status()),
                }
                if app.suspend {
                    app.suspend = false;
                    suspend(&mut guard, &mut terminal)?;
                }
                app.surface_gate();
                frames.schedule_frame();
            }
            // A long replay seek or jump: one slice per turn of the loop, so
            // keys and frames get their turn in between.
            _ = std::future::ready(()), if app.replay_busy() => {
                app.replay_work();
                frames.schedule_frame();
            }
            _ = tokio::time::sleep_until(app.replay_due().unwrap_or_else(far_future)), if app.replay_due().is_some() => {
                app.replay_tick(Instant::now());
                frames.schedule_frame();
            }
            Some(()) = draw_rx.recv() => {
                app.ui.now_us = now_micros();
                terminal.draw(|f| render::draw(f, &app.vm, &mut app.ui, &app.theme))?;
                if app.vm.phase().is_live() && !app.vm.replay {
                    // Keep the elapsed clock moving while the run is live.
                    frames.schedule_frame_in(Duration::from_secs(1));
                }
            }
        }
        if let Some(exit) = app.exit.take() {
            return Ok(exit);
        }
    }
}

/// A deadline that never comes (a disabled timer branch still needs one).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// Resolves when the process is asked to stop (SIGTERM, or SIGHUP when the
/// terminal goes away); never on platforms without those signals.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut term), Ok(mut hup)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        std::future::pending().await
    }
}

/// Puts the terminal in raw mode on the alternate screen and restores it on
/// drop and on panic.
struct TerminalGuard {
    mouse: bool,
    previous_hook: Option<Arc<PanicHook>>,
}

type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

impl TerminalGuard {
    fn enter(mouse: bool) -> io::Result<TerminalGuard> {
        let previous: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        let chained = previous.clone();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal(true);
            tracing::error!(panic = %info, "cockpit panicked");
            chained(info);
        }));
        let guard = TerminalGuard {
            mouse,
            previous_hook: Some(previous),
        };
        enter_terminal(mouse)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal(self.mouse);
        if let Some(prev) = self.previous_hook.take() {
            let _ = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| prev(info)));
        }
    }
}

fn enter_terminal(mouse: bool) -> io::Result<()> {
    enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(out, EnterAlternateScreen, crossterm::cursor::Hide)?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    Ok(())
}

/// Best effort: every step runs even if an earlier one fails.
fn restore_terminal(mouse: bool) {
    let mut out = io::stdout();
    if mouse {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(out, LeaveAlternateScreen, crossterm::cursor::Show);
    let _ = disable_raw_mode();
}

/// Ctrl-Z: give the terminal back, stop the process, take it again on `fg`.
fn suspend(
    guard: &mut TerminalGuard,
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
) -> io::Result<()> {
    #[cfg(unix)]
    {
        restore_terminal(guard.mouse);
        tracing::info!("suspended (Ctrl-Z)");
        // Raw mode turns Ctrl-Z into a key; stop ourselves as the shell would.
        // `kill` returns once we are continued (SIGCONT from `fg`).
        let _ = std::process::Command::new("kill")
            .arg("-TSTP")
            .arg(std::process::id().to_string())
            .status();
        enter_terminal(guard.mouse)?;
        terminal.clear()?;
        tracing::info!("resumed from suspend");
    }
    #[cfg(not(unix))]
    {
        let _ = (guard, terminal);
    }
    Ok(())
}

/// UI logic without the terminal: folds events, maps keys and mouse to
/// actions, and sends commands. Tested directly.
pub struct App {
    /// The view model.
    pub vm: ViewModel,
    /// UI state.
    pub ui: UiState,
    /// Active theme.
    pub theme: Theme,
    commands: Option<UnboundedSender<Command>>,
    /// Set when the loop should end.
    pub exit: Option<TuiExit>,
    /// Set when the user asked to suspend (Ctrl-Z).
    pub suspend: bool,
    /// The playback driver of `agentctl replay` (issue #6 replay).
    pub replay: Option<Player>,
    /// Where the layout sizes are remembered (`None`: not remembered).
    pub layout_file: Option<std::path::PathBuf>,
    /// Starts a live fork of the replayed run (`F`), when the replay can.
    pub forker: Option<super::replay::Forker>,
    /// A fork's event stream, until the app loop takes it over.
    pub(crate) live_events: Option<UnboundedReceiver<Event>>,
}

impl App {
    /// A new app for a workflow.
    pub fn new(
        info: WorkflowInfo,
        commands: Option<UnboundedSender<Command>>,
        theme: Theme,
        replay: bool,
    ) -> App {
        let mut vm = ViewModel::new(info);
        vm.replay = replay;
        let mut ui = UiState::default();
        ui.can_command = commands.is_some() && !replay;
        ui.now_us = now_micros();
        App {
            vm,
            ui,
            theme,
            commands: if replay { None } else { commands },
            exit: None,
            suspend: false,
            replay: None,
            layout_file: None,
            forker: None,
            live_events: None,
        }
    }

    /// Turns a replay into a live run (`F` forked it): the view stays where
    /// it is; from now on events come from the fork's engine and keys send
    /// it commands.
    pub(crate) fn go_live(&mut self, commands: UnboundedSender<Command>) {
        self.replay = None;
        self.vm.replay = false;
        self.ui.replay = None;
        self.ui.can_command = true;
        self.commands = Some(commands);
        // A gate open at the fork point waits in the fork only once its
        // engine opens it again (no decision after the point is kept):
        // until then there is nothing to decide.
        self.vm.gates.clear();
    }

    /// Takes the layout sizes from `path` and remembers later changes
    /// there; a file that cannot be read is ignored with a warning.
    pub fn remember_layout(&mut self, path: Option<std::path::PathBuf>) {
        if let Some(p) = &path {
            let (splits, warning) = super::splits::Splits::load(p);
            self.ui.splits = splits;
            if let Some(w) = warning {
                tracing::warn!(warning = %w, "layout state file ignored");
                self.ui.flash(w);
            }
        }
        self.layout_file = path;
    }

    /// Alt-arrows: moves a split of the six-pane layout and remembers it.
    fn resize(&mut self, action: Action) {
        if self.ui.hits.tabs.is_some() || self.ui.zoom {
            self.ui
                .flash("sizes change in the six-pane layout (100×20 and up, not zoomed)");
            return;
        }
        let s = &mut self.ui.splits;
        match action {
            Action::SplitRight => s.move_column(true),
            Action::SplitLeft => s.move_column(false),
            Action::Taller => s.grow(self.ui.focus, true),
            _ => s.grow(self.ui.focus, false),
        }
        if let Some(p) = &self.layout_file
            && let Err(e) = self.ui.splits.save(p)
        {
            tracing::warn!(error = %e, path = %p.display(), "layout sizes not saved");
            self.ui
                .flash(format!("layout sizes not saved to {}: {e}", p.display()));
        }
    }

    /// Folds one event.
    pub fn apply(&mut self, ev: &Event) {
        self.vm.apply(ev);
        // The engine's word on step mode wins over what was last asked for.
        self.ui.step_mode = self.vm.debates.step_mode;
    }

    fn exit_status(&self) -> TuiExit {
        self.vm.ended.map_or(TuiExit::Quit, TuiExit::Finished)
    }

    /// Handles a key press.
    pub fn handle_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        let ctx = render::context(&self.ui);
        // A replay's keys come before the main screen's.
        if ctx == Context::Global
            && let Some(a) = self.replay_key(&key)
        {
            self.act(Context::Replay, a);
            return;
        }
        let action = self.ui.keymap.resolve(ctx, &key);
        // Text inputs take every key their context does not bind.
        if action.is_none() && self.text_input(ctx, key) {
            return;
        }
        if let Some(a) = action {
            self.act(ctx, a);
        } else if ctx == Context::Gate
            && let Some(a) = self.replay_key(&key)
        {
            self.act(Context::Replay, a);
        } else if ctx == Context::Gate
            && let Some(a) = self.ui.keymap.resolve(Context::Global, &key)
        {
            // The gate review is a view, not a modal: the main screen's keys
            // (pause, focus, quit...) keep working under it.
            self.act(Context::Global, a);
        }
    }

    /// Brings up the review of a gate that opened while the main screen was
    /// showing, once per gate, so a single `a` approves it. It never replaces
    /// another overlay: it waits until that one closes. A gate re-opened
    /// after a denial (a new revision) comes up again. Called by the loop
    /// after events and keys.
    pub fn surface_gate(&mut self) {
        if self.ui.overlay.is_some() || !self.ui.can_command {
            return;
        }
        let Some(g) = self.vm.gates.iter().find(|g| {
            !self
                .ui
                .gates_surfaced
                .contains(&(g.gate.clone(), g.revision))
        }) else {
            return;
        };
        let gate = g.gate.clone();
        tracing::info!(gate = %gate, revision = g.revision, "gate review shown");
        self.ui.gates_surfaced.insert((gate.clone(), g.revision));
        self.open_gate(gate);
    }

    fn open_gate(&mut self, gate: Id) {
        self.ui.gate_focus = Some(gate.clone());
        self.ui.overlay = Some(Overlay::Gate { gate, scroll: 0 });
    }

    fn text_input(&mut self, ctx: Context, key: KeyEvent) -> bool {
        match (&mut self.ui.overlay, ctx) {
            (Some(Overlay::Editor { textarea, .. }), Context::Editor) => {
                textarea.input(key);
                true
            }
            (Some(Overlay::Palette { query, sel }), Context::Palette) => match key.code {
                KeyCode::Char(c)
                    if !key
                        .modifiers
                        .contains(crossterm::event::KeyModifiers::CONTROL) =>
                {
                    query.push(c);
                    *sel = 0;
                    true
                }
                KeyCode::Backspace => {
                    query.pop();
                    *sel = 0;
                    true
                }
                _ => false,
            },
            (Some(Overlay::Submit(f)), Context::Submit) => f.type_key(key),
            (Some(Overlay::Filter { target, input }), Context::Filter) => {
                match key.code {
                    KeyCode::Char(c) => input.push(c),
                    KeyCode::Backspace => {
                        input.pop();
                    }
                    _ => return false,
                }
                let (t, text) = (*target, input.clone());
                self.set_filter(t, &text);
                true
            }
            _ => false,
        }
    }

    fn set_filter(&mut self, target: FilterTarget, text: &str) {
        match target {
            FilterTarget::Bus => self.vm.bus.set_filter(text),
            FilterTarget::Tasks => {
                self.ui.task_filter = text.trim().to_lowercase();
                self.ui.invalidate_tasks();
            }
            // The seek prompt acts on Enter only.
            FilterTarget::Seek => {}
        }
    }

    /// Carries out an action in a context.
    pub fn act(&mut self, ctx: Context, action: Action) {
        if action == Action::ForceQuit {
            self.exit = Some(self.exit_status());
            return;
        }
        if self.vm.replay
            && let Some(msg) = replay::read_only_message(action)
        {
            self.ui.flash(msg);
            return;
        }
        // An action on a run that has ended is refused at once, not after
        // its dialog.
        if ctx == Context::Global
            && let Some(msg) = super::hints::ended_refusal(&self.vm, action)
        {
            self.ui.flash(msg);
            return;
        }
        match ctx {
            Context::Global => self.global(action),
            Context::Help => self.help(action),
            Context::Palette => self.palette(action),
            Context::Filter => self.filter(action),
            Context::Reroute => self.reroute(action),
            Context::Gate => self.gate(action),
            Context::Editor => self.editor(action),
            Context::Confirm => self.confirm(action),
            Context::Message => self.message(action),
            Context::Submit => self.submit_form(action),
            Context::Replay => self.replay_action(action),
        }
    }

    fn global(&mut self, action: Action) {
        if action == Action::Back && self.replay_busy() {
            // Esc first stops a replay seek under way, where it got.
            self.replay_stop();
            return;
        }
        let ui = &mut self.ui;
        match action {
            Action::Help => ui.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::Quit => {
                if self.vm.phase().is_live()
                    && self.commands.is_some()
                    && self.vm.started_us.is_some()
                {
                    ui.overlay = Some(Overlay::Confirm {
                        kind: ConfirmKind::Quit,
                    });
                } else {
                    self.exit = Some(self.exit_status());
                }
            }
            Action::Back if ui.focus == PaneId::Graph && ui.graph_sel.is_some() => {
                // Esc in the graph first drops its selection (Tasks shows all again).
                ui.select_in_graph(&self.vm, None);
            }
            Action::GraphView => {
                ui.graph_view = match ui.graph_view {
                    GraphView::Flow => GraphView::Agents,
                    GraphView::Agents | GraphView::Workers => GraphView::Flow,
                };
                ui.graph_scroll = 0;
                ui.select_in_graph(&self.vm, None);
            }
            Action::Workers => {
                if ui.graph_view == GraphView::Workers {
                    ui.graph_view = GraphView::Flow;
                } else if self.vm.workers.is_empty() {
                    ui.flash(
                        "no workers: this run keeps its agents in-process (--nats uses workers)",
                    );
                } else {
                    ui.graph_view = GraphView::Workers;
                    ui.focus = PaneId::Graph;
                    ui.select_in_graph(&self.vm, None);
                }
                ui.graph_scroll = 0;
            }
            Action::Fold => {
                if ui.toggle_fold(&self.vm) {
                    if let (Some(GraphSel::Node(n)), Some(layout)) = (&ui.graph_sel, &ui.graph)
                        && let Some(&(_, row)) = layout.nodes.iter().find(|(i, _)| i == n)
                    {
                        let h = ui.hits.height(PaneId::Graph);
                        ui.graph_scroll = crate::tui::panes::scroll_to_show(
                            row,
                            ui.graph_scroll,
                            h,
                            layout.rows.len(),
                        );
                    }
                } else {
                    ui.flash("select a graph node with something inside (1, then j/k)");
                }
            }
            Action::Back => {
                if ui.zoom {
                    ui.zoom = false;
                } else if !ui.task_filter.is_empty() || self.vm.bus.filter().is_some() {
                    self.set_filter(FilterTarget::Tasks, "");
                    self.set_filter(FilterTarget::Bus, "");
                }
            }
            // In the zoomed debate pane Tab first moves the keys from the
            // table to the transcript, then on to the next pane.
            Action::NextPane
                if !ui.transcript_focus
                    && crate::tui::panes::debate::shows_transcript(
                        &self.vm,
                        ui,
                        ui.hits.height(PaneId::Debate) as u16,
                    ) =>
            {
                ui.transcript_focus = true;
            }
            Action::PrevPane if ui.transcript_focus && ui.focus == PaneId::Debate => {
                ui.transcript_focus = false;
            }
            Action::NextPane => {
                ui.transcript_focus = false;
                ui.focus = ui.focus.cycle(false);
            }
            Action::PrevPane => {
                ui.transcript_focus = false;
                ui.focus = ui.focus.cycle(true);
            }
            Action::FocusPane(n) => {
                if let Some(p) = PaneId::from_number(n) {
                    ui.focus = p;
                }
            }
            Action::Down
            | Action::Up
            | Action::Top
            | Action::Bottom
            | Action::PageDown
            | Action::PageUp => {
                self.move_in(self.ui.focus, action, 1);
            }
            Action::Filter => {
                let target = if ui.focus == PaneId::Bus {
                    FilterTarget::Bus
                } else {
                    FilterTarget::Tasks
                };
                let input = match target {
                    FilterTarget::Bus => self.vm.bus.filter().unwrap_or_default().to_owned(),
                    FilterTarget::Tasks | FilterTarget::Seek => ui.task_filter.clone(),
                };
                ui.overlay = Some(Overlay::Filter { target, input });
            }
            Action::Palette => {
                ui.overlay = Some(Overlay::Palette {
                    query: String::new(),
                    sel: 0,
                })
            }
            Action::PauseResume => {
                let cmd = if self.vm.paused {
                    Command::Resume { task: None }
                } else {
                    Command::Pause { task: None }
                };
                self.send(cmd);
            }
            Action::Retry => match self.ui.selected_task(&self.vm) {
                Some(t) if t.state == TaskState::Failed => {
                    let task = t.id.clone();
                    self.send(Command::Retry { task });
                }
                Some(t) => self.ui.flash(format!(
                    "{} is {}: only failed tasks can be retried",
                    t.id,
                    t.state.as_str()
                )),
                None => self.ui.flash("select a task first (3 = Tasks)"),
            },
            Action::Reroute => match self.ui.selected_task(&self.vm) {
                Some(t) if t.state.is_terminal() && !t.held => self.ui.flash(format!(
                    "{} is {}: nothing to reroute",
                    t.id,
                    t.state.as_str()
                )),
                Some(t) => {
                    let task = t.id.clone();
                    let agents = reroute::candidates(&self.vm, &task);
                    self.ui.overlay = Some(Overlay::Reroute {
                        task,
                        agents,
                        sel: 0,
                    });
                }
                None => self.ui.flash("select a task first (3 = Tasks)"),
            },
            Action::Approve => match self.ui.selected_gate(&self.vm) {
                Some(g) => {
                    let gate = g.gate.clone();
                    self.send(Command::GateDecision {
                        gate,
                        approve: true,
                        comment: None,
                    });
                }
                None => self.ui.flash("no gate is waiting for a decision"),
            },
            Action::Deny => match self.ui.selected_gate(&self.vm) {
                Some(g) => {
                    let gate = g.gate.clone();
                    self.open_editor(EditorPurpose::DenyGate(gate));
                }
                None => self.ui.flash("no gate is waiting for a decision"),
            },
            Action::ReviewGate => match self.ui.selected_gate(&self.vm) {
                Some(g) => {
                    let gate = g.gate.clone();
                    self.open_gate(gate);
                }
                None => self.ui.flash("no gate is waiting for a decision"),
            },
            Action::StepDebate | Action::ToggleStep if !self.vm.info.has_debate() => {
                self.ui.flash("no debate in this workflow: nothing to step")
            }
            Action::StepDebate => match &self.vm.debates.waiting {
                Some(w) => {
                    let node = Some(w.node.clone());
                    self.send(Command::Step {
                        node,
                        until: crate::event::StepUntil::Turn,
                    });
                }
                None if !self.vm.debates.step_mode => self
                    .ui
                    .flash("step mode is off: s turns it on, then n steps one turn"),
                None => self.ui.flash("nothing waits for a step yet"),
            },
            Action::ToggleStep => {
                let on = !self.vm.debates.step_mode;
                self.ui.step_mode = on;
                self.send(Command::SetStepMode { on });
            }
            Action::RaiseBudget => match overlays::budget::target(&self.vm, &self.ui) {
                Ok(t) => {
                    self.open_editor(EditorPurpose::RaiseBudget {
                        agent: t.agent,
                        node: t.node,
                        about: t.about,
                    });
                    if let Some(Overlay::Editor { textarea, .. }) = &mut self.ui.overlay {
                        textarea.insert_str(&t.suggestion);
                    }
                }
                Err(why) => self.ui.flash(why),
            },
            Action::Follow => {
                ui.follow = !ui.follow;
                if !ui.follow {
                    // Freeze where the view is now instead of jumping to the top.
                    let h = ui.hits.height(PaneId::Bus);
                    ui.bus_top = self.vm.bus.visible_len().saturating_sub(h);
                    ui.bus_sel = self.vm.bus.visible_len().saturating_sub(1);
                }
                let msg = if ui.follow { "follow on" } else { "follow off" };
                self.ui.flash(msg);
            }
            Action::NextTheme => {
                if theme::no_color() {
                    self.ui.flash("NO_COLOR is set: colours stay off");
                } else {
                    let name = Theme::next_name(&self.theme.name);
                    if let Some(t) = Theme::builtin(name) {
                        self.theme = t;
                    }
                    self.ui.flash(format!("theme: {name}"));
                }
            }
            Action::Inject => self.open_editor(EditorPurpose::Inject),
            Action::SubmitTask => {
                // The selected task's agent comes first to hand.
                let current = self
                    .ui
                    .selected_task(&self.vm)
                    .and_then(|t| t.agent.clone());
                let form = overlays::submit::SubmitForm::open(&self.vm, current.as_deref());
                self.ui.overlay = Some(Overlay::Submit(Box::new(form)));
            }
            Action::Zoom => ui.zoom = !ui.zoom,
            Action::Cancel => match self.ui.selected_task(&self.vm) {
                Some(t) if !t.state.is_terminal() || t.held => {
                    let task = t.id.clone();
                    self.ui.overlay = Some(Overlay::Confirm {
                        kind: ConfirmKind::CancelTask(task),
                    });
                }
                Some(t) => self.ui.flash(format!(
                    "{} is {}: nothing to cancel",
                    t.id,
                    t.state.as_str()
                )),
                None => self.ui.flash("select a task first (3 = Tasks)"),
            },
            Action::Suspend => self.suspend = true,
            Action::SplitRight | Action::SplitLeft | Action::Taller | Action::Shorter => {
                self.resize(action)
            }
            Action::ToggleWrap => {
                ui.wrap = !ui.wrap;
                ui.detail_left = 0;
                ui.gate_left = 0;
                ui.transcript_left = 0;
                let msg = if ui.wrap {
                    "wrap on: long lines wrap"
                } else {
                    "wrap off: long lines are cut, h/l scroll sideways"
                };
                self.ui.flash(msg);
            }
            Action::ScrollLeft | Action::ScrollRight => {
                let right = action == Action::ScrollRight;
                let step = |x: usize| {
                    if right {
                        x.saturating_add(crate::tui::wrap::SIDE_STEP)
                    } else {
                        x.saturating_sub(crate::tui::wrap::SIDE_STEP)
                    }
                };
                if ui.wrap {
                    self.ui
                        .flash("wrap is on: nothing to scroll sideways (w turns it off)");
                } else if ui.focus == PaneId::Detail {
                    ui.detail_left = step(ui.detail_left);
                } else if ui.focus == PaneId::Debate {
                    ui.transcript_left = step(ui.transcript_left);
                } else {
                    self.ui
                        .flash("h/l scroll Detail (4) or the debate transcript (6) sideways");
                }
            }
            Action::OpenMessage => self.open_message(),
            Action::ForceQuit | Action::Confirm | Action::Decline | Action::Submit => {}
            Action::PlayPause
            | Action::StepForward
            | Action::StepBack
            | Action::Faster
            | Action::Slower
            | Action::SeekForward
            | Action::SeekBack
            | Action::SeekTo
            | Action::NextGate
            | Action::PrevGate
            | Action::NextTurn
            | Action::PrevTurn
            | Action::NextFailure
            | Action::PrevFailure
            | Action::Fork => self.replay_action(action),
        }
    }

    /// Moves the selection or scroll of a pane.
    fn move_in(&mut self, pane: PaneId, action: Action, times: usize) {
        let page = self.ui.hits.height(pane).saturating_sub(1).max(1);
        let step = |pos: usize, len: usize| -> usize {
            let last = len.saturating_sub(1);
            match action {
                Action::Down => (pos + times).min(last),
                Action::Up => pos.saturating_sub(times),
                Action::PageDown => (pos + page).min(last),
                Action::PageUp => pos.saturating_sub(page),
                Action::Top => 0,
                _ => last,
            }
        };
        let ui = &mut self.ui;
        match pane {
            PaneId::Tasks => {
                ui.prepare(&self.vm);
                ui.follow = action == Action::Bottom;
                ui.task_sel = step(ui.task_sel, ui.task_rows.len());
                let h = ui.hits.height(PaneId::Tasks).saturating_sub(1);
                ui.task_offset = crate::tui::panes::scroll_to_show(
                    ui.task_sel,
                    ui.task_offset,
                    h,
                    ui.task_rows.len(),
                );
            }
            PaneId::Bus => {
                // A selected row (Enter opens it) that the view keeps in sight;
                // following, the newest row is selected.
                let h = ui.hits.height(PaneId::Bus);
                let len = self.vm.bus.visible_len();
                let cur = crate::tui::panes::bus::selected(&self.vm, ui, h).unwrap_or(0);
                let top = crate::tui::panes::bus::top_row(&self.vm, ui, h);
                ui.bus_sel = step(cur, len);
                ui.bus_top = crate::tui::panes::scroll_to_show(ui.bus_sel, top, h, len);
                ui.follow =
                    ui.bus_sel + 1 >= len && action != Action::Up && action != Action::PageUp;
            }
            PaneId::Detail => {
                // In screen rows, as last laid out; `G` stops with the last
                // row at the bottom, not past it.
                let rows = if !ui.detail.rows.is_empty() {
                    ui.detail.rows.len()
                } else {
                    ui.detail.lines.len()
                };
                let max_top = rows.saturating_sub(ui.hits.height(PaneId::Detail));
                let top = (ui.detail_scroll as usize).min(max_top);
                ui.detail_scroll = step(top, max_top + 1).min(u16::MAX as usize) as u16;
            }
            PaneId::Graph => {
                // j/k move the selection from node to node (agent to agent in
                // the agent view); the first move selects the first (or last).
                let h = ui.hits.height(PaneId::Graph);
                let from_none = |n: usize| match action {
                    Action::Up | Action::PageUp | Action::Bottom => n - 1,
                    _ => 0,
                };
                match ui.graph_view {
                    GraphView::Flow => {
                        let Some(layout) = ui.graph.as_ref() else {
                            return;
                        };
                        let n = layout.nodes.len();
                        if n == 0 {
                            return;
                        }
                        let cur = match ui.graph_sel {
                            Some(GraphSel::Node(i)) => layout.position_of(i),
                            _ => None,
                        };
                        let pos = cur.map_or_else(|| from_none(n), |p| step(p, n));
                        let (node, row) = layout.nodes[pos];
                        let rows = layout.rows.len();
                        ui.graph_scroll =
                            crate::tui::panes::scroll_to_show(row, ui.graph_scroll, h, rows);
                        ui.select_in_graph(&self.vm, Some(GraphSel::Node(node)));
                    }
                    GraphView::Workers => {
                        let n = crate::tui::panes::workers::len(&self.vm);
                        ui.graph_scroll = step(ui.graph_scroll.min(n - 1), n);
                    }
                    GraphView::Agents => {
                        let order = graph_agents::order(&self.vm);
                        let n = order.len();
                        if n == 0 {
                            return;
                        }
                        let cur = match &ui.graph_sel {
                            Some(GraphSel::Agent(a)) => order.iter().position(|o| o == a),
                            _ => None,
                        };
                        let pos = cur.map_or_else(|| from_none(n), |p| step(p, n));
                        let id = order[pos].clone();
                        let row = graph_agents::row_of(&self.vm, &id).unwrap_or(0);
                        let rows = graph_agents::len(&self.vm);
                        ui.graph_scroll =
                            crate::tui::panes::scroll_to_show(row, ui.graph_scroll, h, rows);
                        ui.select_in_graph(&self.vm, Some(GraphSel::Agent(id)));
                    }
                }
            }
            PaneId::Debate
                if ui.transcript_focus
                    && crate::tui::panes::debate::shows_transcript(
                        &self.vm,
                        ui,
                        ui.hits.height(PaneId::Debate) as u16,
                    ) =>
            {
                // The transcript in wrapped rows, as last laid out; it follows
                // the newest lines until scrolled, and again after Bottom.
                let h = crate::tui::panes::debate::transcript_rows(
                    ui.hits.height(PaneId::Debate) as u16
                ) as usize;
                let len = ui.transcript.rows.len();
                let max_top = len.saturating_sub(h);
                let top = ui.transcript_top.unwrap_or(max_top).min(max_top);
                let page = h.saturating_sub(1).max(1);
                let next = match action {
                    Action::Down => (top + times).min(max_top),
                    Action::Up => top.saturating_sub(times),
                    Action::PageDown => (top + page).min(max_top),
                    Action::PageUp => top.saturating_sub(page),
                    Action::Top => 0,
                    _ => max_top,
                };
                ui.transcript_top = (action != Action::Bottom && next < max_top).then_some(next);
            }
            PaneId::Debate => {
                // Follow the newest rows until the user scrolls; Bottom follows again.
                let len = self.vm.debates.row_count;
                let h = ui.hits.height(PaneId::Debate);
                let max_top = len.saturating_sub(h);
                let top = ui.debate_top.unwrap_or(max_top).min(max_top);
                let next = step(top, max_top + 1);
                ui.debate_top = (action != Action::Bottom && next < max_top).then_some(next);
            }
            PaneId::Budgets => {
                // The header (and a budget pause line) stay; the rows scroll.
                let h = ui.hits.height(PaneId::Budgets);
                let max_top = crate::tui::panes::budgets::max_top(&self.vm, h);
                ui.budget_top = step(ui.budget_top.min(max_top), max_top + 1);
            }
        }
    }

    /// Enter on the Bus pane: the selected message in full.
    fn open_message(&mut self) {
        if self.ui.focus != PaneId::Bus {
            self.ui
                .flash("Enter opens a bus message: focus Bus (2) first");
            return;
        }
        let h = self.ui.hits.height(PaneId::Bus);
        let sel = crate::tui::panes::bus::selected(&self.vm, &self.ui, h);
        match sel
            .and_then(|n| self.vm.bus.visible_row(n))
            .and_then(|r| overlays::message::MessageView::open(&self.vm.bus, r))
        {
            Some(m) => self.ui.overlay = Some(Overlay::Message(Box::new(m))),
            None => self.ui.flash("no bus message to open"),
        }
    }

    fn message(&mut self, action: Action) {
        let max_top = self.ui.hits.overlay_max_top;
        let Some(Overlay::Message(m)) = &mut self.ui.overlay else {
            return;
        };
        // The area is the whole screen: the popup's page is derived from it.
        let page = self
            .ui
            .hits
            .screen
            .map_or(10, overlays::message::MessageView::page);
        if !m.handle(action, max_top, page) {
            self.ui.overlay = None;
        }
    }

    fn help(&mut self, action: Action) {
        let Some(Overlay::Help { scroll }) = &mut self.ui.overlay else {
            return;
        };
        // The last row, as last drawn (descriptions wrap to the popup's width).
        let max = u16::try_from(self.ui.hits.overlay_max_top).unwrap_or(u16::MAX);
        match action {
            Action::Back => self.ui.overlay = None,
            Action::Down => *scroll = (*scroll + 1).min(max),
            Action::Up => *scroll = scroll.saturating_sub(1),
            Action::PageDown => *scroll = (*scroll + 10).min(max),
            Action::PageUp => *scroll = scroll.saturating_sub(10),
            _ => {}
        }
    }

    fn palette(&mut self, action: Action) {
        let Some(Overlay::Palette { query, sel }) = &mut self.ui.overlay else {
            return;
        };
        let matches = palette::matches(&self.ui.keymap, query, self.vm.replay);
        match action {
            Action::Back => self.ui.overlay = None,
            Action::Down => *sel = (*sel + 1).min(matches.len().saturating_sub(1)),
            Action::Up => *sel = sel.saturating_sub(1),
            Action::Confirm => {
                let chosen = matches.get(*sel).map(|b| b.action);
                self.ui.overlay = None;
                if let Some(a) = chosen {
                    self.act(Context::Global, a);
                }
            }
            _ => {}
        }
    }

    fn filter(&mut self, action: Action) {
        let Some(Overlay::Filter { target, input }) = &self.ui.overlay else {
            return;
        };
        let target = *target;
        match action {
            Action::Back => {
                self.set_filter(target, "");
                self.ui.overlay = None;
            }
            Action::Confirm if target == FilterTarget::Seek => {
                let typed = input.clone();
                self.ui.overlay = None;
                self.replay_seek_typed(&typed);
            }
            Action::Confirm => self.ui.overlay = None,
            _ => {}
        }
    }

    fn submit_form(&mut self, action: Action) {
        let Some(Overlay::Submit(f)) = &mut self.ui.overlay else {
            return;
        };
        match f.handle(action) {
            overlays::submit::Outcome::Open => {}
            overlays::submit::Outcome::Closed => self.ui.overlay = None,
            overlays::submit::Outcome::Send(c) => {
                self.ui.overlay = None;
                self.send(c);
            }
        }
    }

    fn reroute(&mut self, action: Action) {
        let Some(Overlay::Reroute { task, agents, sel }) = &mut self.ui.overlay else {
            return;
        };
        match action {
            Action::Back => self.ui.overlay = None,
            Action::Down => *sel = (*sel + 1).min(agents.len().saturating_sub(1)),
            Action::Up => *sel = sel.saturating_sub(1),
            Action::Confirm => {
                let Some(agent) = agents.get(*sel).cloned() else {
                    return;
                };
                let task = task.clone();
                self.ui.overlay = None;
                self.send(Command::Reroute { task, agent });
            }
            _ => {}
        }
    }

    fn gate(&mut self, action: Action) {
        let Some(Overlay::Gate { gate, scroll }) = &mut self.ui.overlay else {
            return;
        };
        let gate = gate.clone();
        // Scrolling stops at the artifact's last row, as last drawn.
        let max = u16::try_from(self.ui.hits.overlay_max_top).unwrap_or(u16::MAX);
        *scroll = (*scroll).min(max);
        match action {
            Action::Back => self.ui.overlay = None,
            Action::Down => *scroll = scroll.saturating_add(1).min(max),
            Action::Up => *scroll = scroll.saturating_sub(1),
            Action::PageDown => *scroll = scroll.saturating_add(10).min(max),
            Action::PageUp => *scroll = scroll.saturating_sub(10),
            Action::ToggleWrap => {
                *scroll = 0;
                self.ui.wrap = !self.ui.wrap;
                self.ui.gate_left = 0;
            }
            Action::ScrollLeft | Action::ScrollRight if !self.ui.wrap => {
                let l = &mut self.ui.gate_left;
                *l = if action == Action::ScrollRight {
                    l.saturating_add(crate::tui::wrap::SIDE_STEP)
                } else {
                    l.saturating_sub(crate::tui::wrap::SIDE_STEP)
                };
            }
            Action::ScrollLeft | Action::ScrollRight => self
                .ui
                .flash("wrap is on: nothing to scroll sideways (w turns it off)"),
            Action::NextPane | Action::PrevPane => {
                let gates = &self.vm.gates;
                if let Some(i) = gates.iter().position(|g| g.gate == gate) {
                    let n = gates.len();
                    let j = if action == Action::NextPane {
                        (i + 1) % n
                    } else {
                        (i + n - 1) % n
                    };
                    let next = gates[j].gate.clone();
                    self.open_gate(next);
                } else if let Some(g) = gates.first() {
                    let first = g.gate.clone();
                    self.open_gate(first);
                }
            }
            Action::Approve => {
                self.ui.overlay = None;
                self.send(Command::GateDecision {
                    gate,
                    approve: true,
                    comment: None,
                });
            }
            Action::Deny => self.open_editor(EditorPurpose::DenyGate(gate)),
            _ => {}
        }
    }

    fn open_editor(&mut self, purpose: EditorPurpose) {
        if self.commands.is_none() {
            self.ui.flash("read-only replay: commands are off");
            return;
        }
        let textarea = Box::new(editor::new_textarea(&purpose, &self.theme));
        self.ui.overlay = Some(Overlay::Editor { purpose, textarea });
    }

    fn editor(&mut self, action: Action) {
        let Some(Overlay::Editor { purpose, textarea }) = &self.ui.overlay else {
            return;
        };
        match action {
            Action::Back => self.ui.overlay = None,
            Action::Submit => {
                let lines = textarea.lines();
                let text = lines.join("\n").trim().to_owned();
                let cmd = match purpose {
                    EditorPurpose::DenyGate(gate) => Command::GateDecision {
                        gate: gate.clone(),
                        approve: false,
                        comment: (!text.is_empty()).then_some(text),
                    },
                    EditorPurpose::Inject => {
                        let topic = lines
                            .first()
                            .map(|l| l.trim().to_owned())
                            .unwrap_or_default();
                        if topic.is_empty() {
                            self.ui.flash("write the topic on the first line");
                            return;
                        }
                        let body = lines[1..].join("\n").trim().to_owned();
                        let payload = serde_json::from_str(&body).unwrap_or(Value::String(body));
                        Command::Emit { topic, payload }
                    }
                    EditorPurpose::RaiseBudget { agent, node, .. } => {
                        match overlays::budget::parse(&text) {
                            Ok((tokens, usd)) => Command::SetBudget {
                                agent: agent.clone(),
                                node: node.clone(),
                                tokens,
                                usd,
                            },
                            Err(why) => {
                                self.ui.flash(why);
                                return;
                            }
                        }
                    }
                };
                self.ui.overlay = None;
                self.send(cmd);
            }
            _ => {}
        }
    }

    fn confirm(&mut self, action: Action) {
        let Some(Overlay::Confirm { kind }) = &self.ui.overlay else {
            return;
        };
        let kind = kind.clone();
        self.ui.overlay = None;
        if action != Action::Confirm {
            return;
        }
        match kind {
            ConfirmKind::Quit => self.exit = Some(self.exit_status()),
            ConfirmKind::CancelTask(task) => self.send(Command::Cancel { task: Some(task) }),
        }
    }

    /// Sends a command to the engine, saying so (or why not) in the status bar.
    fn send(&mut self, cmd: Command) {
        let name = cmd.name();
        let done = match &cmd {
            Command::GateDecision {
                gate,
                approve: true,
                ..
            } => format!("approved gate {gate}"),
            Command::GateDecision { gate, .. } => format!("denied gate {gate}: back to revision"),
            _ => format!("sent {name}"),
        };
        match &self.commands {
            None => self.ui.flash("read-only replay: commands are off"),
            Some(tx) => {
                tracing::info!(command = ?cmd, "command sent");
                match tx.send(cmd) {
                    Ok(()) => self.ui.flash(done),
                    Err(_) => {
                        tracing::warn!(command = name, "engine gone: command not sent");
                        self.ui.flash("the engine has stopped: command not sent")
                    }
                }
            }
        }
    }

    /// Handles a mouse event: click focuses a pane or tab and selects a task
    /// row; the wheel scrolls the pane under the pointer.
    pub fn handle_mouse(&mut self, m: MouseEvent) {
        if self.ui.overlay.is_some() {
            return;
        }
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(tabs) = self.ui.hits.tabs
                    && m.row == tabs.y
                {
                    if let Some(p) = render::tab_at(tabs, &self.vm, m.column) {
                        self.ui.focus = p;
                    }
                    return;
                }
                let Some((pane, inner)) = self.ui.hits.pane_at(m.column, m.row) else {
                    return;
                };
                self.ui.focus = pane;
                if pane == PaneId::Tasks && m.row > inner.y && m.row < inner.bottom() {
                    self.ui.prepare(&self.vm);
                    let h = inner.height.saturating_sub(1) as usize;
                    let top = crate::tui::panes::tasks::top_row(&self.ui, h);
                    let row = top + (m.row - inner.y - 1) as usize;
                    if row < self.ui.task_rows.len() {
                        self.ui.follow = false;
                        self.ui.task_sel = row;
                        self.ui.task_offset = top;
                    }
                }
                if pane == PaneId::Graph
                    && let Some(sel) =
                        crate::tui::panes::graph::hit(&self.vm, &self.ui, inner, m.column, m.row)
                {
                    self.ui.select_in_graph(&self.vm, Some(sel));
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let Some((pane, _)) = self.ui.hits.pane_at(m.column, m.row) else {
                    return;
                };
                let down = m.kind == MouseEventKind::ScrollDown;
                if pane == PaneId::Graph {
                    // The wheel scrolls the graph; the selection stays.
                    let len = crate::tui::panes::graph::rows(&self.vm, &self.ui);
                    let max = len.saturating_sub(self.ui.hits.height(PaneId::Graph));
                    let top = self.ui.graph_scroll.min(max);
                    self.ui.graph_scroll = if down {
                        (top + WHEEL_ROWS).min(max)
                    } else {
                        top.saturating_sub(WHEEL_ROWS)
                    };
                    return;
                }
                let a = if down { Action::Down } else { Action::Up };
                self.move_in(pane, a, WHEEL_ROWS);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod text_view_tests;
