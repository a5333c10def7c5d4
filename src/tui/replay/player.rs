//! The replay driver: a cursor over a recording, the view-model checkpoints
//! that make going back cheap, the gate / debate / failure marks, and the
//! playback clock.

use std::time::Duration;

use tokio::time::Instant;

use crate::event::{Event, EventKind, RunStatus};
use crate::session::SessionReader;
use crate::tui::view_model::ViewModel;

/// The speeds Faster/Slower step through.
pub const SPEEDS: [f64; 6] = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
/// How far ←/→ seek, in recorded time (µs).
pub const SEEK_STEP_US: u64 = 5_000_000;
/// Longest pause between two events while playing: idle stretches (a gate
/// waiting an hour) are shortened so a replay keeps moving.
const MAX_GAP: Duration = Duration::from_secs(3);
/// Most events applied by one tick, so a dense stretch at 16× cannot starve
/// the keyboard; the rest follow on the next tick at once.
const MAX_BATCH: usize = 20_000;
/// Events between two checkpoints at first; doubled whenever there would be
/// more than [`MAX_CHECKPOINTS`]. A seek folds at most this many events
/// after restoring a checkpoint (measured in `docs/bench/replay.md`).
const FIRST_INTERVAL: usize = 4_096;
/// Most view-model checkpoints kept.
const MAX_CHECKPOINTS: usize = 32;
/// Most events summed over the checkpoints' positions. Each checkpoint is a
/// full copy of the view model, whose size grows with the events folded into
/// it (about 150 bytes per event on the 1M-event benchmark), so this bounds
/// the memory they take (about 2.4 GB at that rate) however long the
/// recording: longer ones get fewer, farther checkpoints.
const CHECKPOINT_BUDGET: usize = 16_000_000;
/// A replaced view model this big (tasks plus bus messages) is freed on
/// another thread: freeing it takes tens of milliseconds the keyboard
/// should not wait for.
const DROP_ELSEWHERE: usize = 20_000;

/// A recording the player reads events from by index.
pub trait EventSource {
    /// Number of events.
    fn len(&self) -> usize;
    /// True when there are no events.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Timestamp of event `i` (µs since the epoch).
    fn ts(&self, i: usize) -> Option<u64>;
    /// Event `i`; `None` past the end or when the line is damaged (a
    /// damaged event is skipped, as `agentctl sessions show` does).
    fn event(&self, i: usize) -> Option<Event>;
    /// Index of the first event at or after `ts` (`len()` when none).
    fn index_at_time(&self, ts: u64) -> usize;
}

impl EventSource for SessionReader {
    fn len(&self) -> usize {
        SessionReader::len(self)
    }
    fn ts(&self, i: usize) -> Option<u64> {
        SessionReader::ts(self, i)
    }
    fn event(&self, i: usize) -> Option<Event> {
        match SessionReader::event(self, i)? {
            Ok(ev) => Some(ev),
            Err(e) => {
                tracing::warn!(error = %e, "damaged event skipped in replay");
                None
            }
        }
    }
    fn index_at_time(&self, ts: u64) -> usize {
        SessionReader::index_at_time(self, ts)
    }
}

/// Events in memory (scripted recordings in tests).
impl EventSource for Vec<Event> {
    fn len(&self) -> usize {
        <[Event]>::len(self)
    }
    fn ts(&self, i: usize) -> Option<u64> {
        self.get(i).map(|e| e.ts)
    }
    fn event(&self, i: usize) -> Option<Event> {
        self.get(i).cloned()
    }
    fn index_at_time(&self, ts: u64) -> usize {
        self.partition_point(|e| e.ts < ts)
    }
}

/// What a jump looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// A gate opened or decided.
    Gate,
    /// A debate turn or a ballot (failed ones too).
    Turn,
    /// A task, debate turn or ballot failed, or the run ended failed.
    Failure,
}

impl MarkKind {
    /// The kinds an event is a mark of (a failed turn is a turn and a failure).
    fn of(kind: &EventKind) -> [Option<MarkKind>; 2] {
        match kind {
            EventKind::GateOpened { .. } | EventKind::GateDecided { .. } => {
                [Some(MarkKind::Gate), None]
            }
            EventKind::DebateTurn { .. } | EventKind::VoteCast { .. } => {
                [Some(MarkKind::Turn), None]
            }
            EventKind::DebateTurnFailed { .. } | EventKind::VoteFailed { .. } => {
                [Some(MarkKind::Turn), Some(MarkKind::Failure)]
            }
            EventKind::TaskFailed { .. }
            | EventKind::SessionEnded {
                status: RunStatus::Failed,
                ..
            } => [Some(MarkKind::Failure), None],
            _ => [None, None],
        }
    }

    /// In words, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            MarkKind::Gate => "gate event",
            MarkKind::Turn => "debate turn",
            MarkKind::Failure => "failure",
        }
    }
}

/// Indices of the events jumps stop at, per kind, in order. Known for the
/// events read so far ([`Player`] reads further when a jump needs it).
#[derive(Debug, Clone, Default)]
pub struct Marks {
    gates: Vec<usize>,
    turns: Vec<usize>,
    failures: Vec<usize>,
}

impl Marks {
    fn list(&self, kind: MarkKind) -> &[usize] {
        match kind {
            MarkKind::Gate => &self.gates,
            MarkKind::Turn => &self.turns,
            MarkKind::Failure => &self.failures,
        }
    }

    fn record(&mut self, i: usize, ev: &Event) {
        for kind in MarkKind::of(&ev.kind).into_iter().flatten() {
            match kind {
                MarkKind::Gate => self.gates.push(i),
                MarkKind::Turn => self.turns.push(i),
                MarkKind::Failure => self.failures.push(i),
            }
        }
    }
}

/// A cursor over a recording with playback, stepping and seeking.
///
/// The cockpit's view model shows the run after the first [`Player::index`]
/// events. The player does not own that view model: every move takes it and
/// folds it forward, or replaces it with a copy of the nearest checkpoint
/// and folds from there.
pub struct Player {
    source: Box<dyn EventSource>,
    /// Events applied to the shown view model.
    cursor: usize,
    /// `(events applied, view model)`, ascending; the first is the empty model.
    checkpoints: Vec<(usize, ViewModel)>,
    /// Checkpoint spacing in events.
    interval: usize,
    /// Events folded at least once: checkpoints are complete below this.
    folded: usize,
    marks: Marks,
    /// Events whose marks are recorded.
    scanned: usize,
    playing: bool,
    speed: f64,
    /// When the next event is due while playing.
    due: Option<Instant>,
    /// Time of the first event.
    t0: u64,
}

impl Player {
    /// A player at the start of `source`; `empty` is the view model before
    /// any event (it is marked as a replay). Paused until [`Player::play`].
    pub fn new(source: Box<dyn EventSource>, mut empty: ViewModel, speed: f64) -> Player {
        empty.replay = true;
        let t0 = source.ts(0).unwrap_or(0);
        Player {
            source,
            cursor: 0,
            checkpoints: vec![(0, empty)],
            interval: FIRST_INTERVAL,
            folded: 0,
            marks: Marks::default(),
            scanned: 0,
            playing: false,
            speed: clamp_speed(speed),
            due: None,
            t0,
        }
    }

    /// A player for a recording of `workflow`, paused at its start.
    pub fn for_workflow(
        source: Box<dyn EventSource>,
        workflow: &crate::workflow::model::Workflow,
        speed: f64,
    ) -> Player {
        let info = crate::tui::view_model::WorkflowInfo::from_workflow(workflow);
        Player::new(source, ViewModel::new(info), speed)
    }

    /// Sets the checkpoint interval to start from (default 4096 events; it
    /// doubles as the recording is read so at most 32 checkpoints are kept).
    pub fn with_checkpoint_interval(mut self, events: usize) -> Player {
        self.interval = events.max(1);
        self
    }

    /// The view model before any event (what the cockpit starts from).
    pub fn empty_view(&self) -> ViewModel {
        self.checkpoints[0].1.clone()
    }

    /// Events applied so far.
    pub fn index(&self) -> usize {
        self.cursor
    }

    /// Events in the recording.
    pub fn len(&self) -> usize {
        self.source.len()
    }

    /// True when the recording has no events.
    pub fn is_empty(&self) -> bool {
        self.source.len() == 0
    }

    /// True while playing.
    pub fn playing(&self) -> bool {
        self.playing
    }

    /// Playback speed.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Checkpoints held now (for tests and the benchmark).
    pub fn checkpoints(&self) -> usize {
        self.checkpoints.len()
    }

    /// When the next event is due, while playing (the app loop sleeps until then).
    pub fn due(&self) -> Option<Instant> {
        if self.playing { self.due } else { None }
    }

    /// Recorded time of the last applied event, from the first event (µs).
    pub fn time_us(&self) -> u64 {
        self.cursor
            .checked_sub(1)
            .and_then(|i| self.source.ts(i))
            .map_or(0, |t| t.saturating_sub(self.t0))
    }

    /// Recorded duration, first to last event (µs).
    pub fn total_us(&self) -> u64 {
        self.len()
            .checked_sub(1)
            .and_then(|i| self.source.ts(i))
            .map_or(0, |t| t.saturating_sub(self.t0))
    }

    /// Where the replay is, for the status bar.
    pub fn status(&self) -> super::ReplayStatus {
        super::ReplayStatus {
            index: self.cursor,
            len: self.len(),
            time_us: self.time_us(),
            total_us: self.total_us(),
            speed: self.speed,
            playing: self.playing,
        }
    }

    /// Starts playing at the recorded pace times the speed; at the end it
    /// starts over from the first event.
    pub fn play(&mut self, vm: &mut ViewModel, now: Instant) {
        if self.cursor >= self.len() {
            self.seek(vm, 0);
        }
        self.playing = true;
        self.due = Some(now + self.wait_before(self.cursor));
    }

    /// Stops playing where it is.
    pub fn pause(&mut self) {
        self.playing = false;
        self.due = None;
    }

    /// Sets the speed (clamped to 0.5–16); the wait for the next event is
    /// rescaled so the change shows at once.
    pub fn set_speed(&mut self, speed: f64, now: Instant) {
        let speed = clamp_speed(speed);
        if let Some(due) = self.due {
            let left = due.saturating_duration_since(now);
            self.due = Some(now + left.mul_f64(self.speed / speed));
        }
        self.speed = speed;
    }

    /// The next speed up (`up`) or down from [`SPEEDS`]; `None` at the end.
    pub fn next_speed(&self, up: bool) -> Option<f64> {
        if up {
            SPEEDS.iter().copied().find(|s| *s > self.speed)
        } else {
            SPEEDS.iter().rev().copied().find(|s| *s < self.speed)
        }
    }

    /// Applies every event due by `now`, in batches of at most [`MAX_BATCH`].
    /// Returns how many were applied; playing stops at the end.
    pub fn tick(&mut self, vm: &mut ViewModel, now: Instant) -> usize {
        let mut applied = 0;
        while self.playing && applied < MAX_BATCH {
            let Some(due) = self.due else { break };
            if due > now {
                break;
            }
            if self.cursor >= self.len() {
                self.pause();
                break;
            }
            let next = self.cursor + 1;
            self.fold(vm, self.cursor, next);
            self.cursor = next;
            applied += 1;
            if self.cursor >= self.len() {
                self.pause();
                break;
            }
            self.due = Some(due + self.wait_before(self.cursor));
        }
        applied
    }

    /// Shows the run after the first `target` events (clamped to the end).
    /// Playing goes on from there.
    pub fn seek(&mut self, vm: &mut ViewModel, target: usize) {
        let target = target.min(self.len());
        if target == self.cursor {
            return;
        }
        // Nearest checkpoint at or before the target (the first is at 0).
        let k = self
            .checkpoints
            .partition_point(|(i, _)| *i <= target)
            .saturating_sub(1);
        let at = self.checkpoints[k].0;
        if self.cursor < target && (self.cursor >= at || target - self.cursor <= self.interval) {
            // Folding the shown view forward is cheaper than copying a checkpoint.
            self.fold(vm, self.cursor, target);
        } else {
            let filter = vm.bus.filter().map(str::to_owned);
            let old = std::mem::replace(vm, self.checkpoints[k].1.clone());
            if old.tasks.len() + old.bus.rows.len() >= DROP_ELSEWHERE {
                std::thread::spawn(move || drop(old));
            }
            // The bus filter belongs to the viewer, not to the recording.
            vm.bus.set_filter(filter.as_deref().unwrap_or(""));
            self.fold(vm, at, target);
        }
        self.cursor = target;
        if self.playing {
            self.due = Some(Instant::now() + self.wait_before(self.cursor));
        }
    }

    /// Index (events applied) that shows the run up to recorded time `ts`
    /// (µs since the epoch): every event at or before it applied.
    pub fn index_at(&self, ts: u64) -> usize {
        self.source.index_at_time(ts.saturating_add(1))
    }

    /// Time of the first event (µs since the epoch).
    pub fn start_ts(&self) -> u64 {
        self.t0
    }

    /// The event index after the next mark of `kind` at or after the
    /// cursor (so the marked event shows), reading further into the
    /// recording if needed.
    pub fn next_mark(&mut self, kind: MarkKind) -> Option<usize> {
        loop {
            let list = self.marks.list(kind);
            let at = list.partition_point(|&i| i < self.cursor);
            if let Some(&i) = list.get(at) {
                return Some(i + 1);
            }
            if self.scanned >= self.len() {
                return None;
            }
            self.scan(self.scanned + self.interval);
        }
    }

    /// The event index after the last mark of `kind` before the one shown
    /// last (so a second press keeps going back).
    pub fn prev_mark(&self, kind: MarkKind) -> Option<usize> {
        let list = self.marks.list(kind);
        let last = self.cursor.checked_sub(1)?;
        let at = list.partition_point(|&i| i < last);
        at.checked_sub(1).map(|j| list[j] + 1)
    }

    /// Records the marks of events up to `to` without folding them.
    fn scan(&mut self, to: usize) {
        let to = to.min(self.len());
        while self.scanned < to {
            if let Some(ev) = self.source.event(self.scanned) {
                self.marks.record(self.scanned, &ev);
            }
            self.scanned += 1;
        }
    }

    /// Folds events `from..to` into `vm`, which shows the run after `from`
    /// events; records checkpoints and marks on first passes.
    fn fold(&mut self, vm: &mut ViewModel, from: usize, to: usize) {
        for i in from..to {
            let Some(ev) = self.source.event(i) else {
                // A damaged event: nothing to record or apply.
                if i == self.scanned {
                    self.scanned += 1;
                }
                self.passed(vm, i);
                continue;
            };
            if i == self.scanned {
                self.marks.record(i, &ev);
                self.scanned += 1;
            }
            vm.apply(&ev);
            self.passed(vm, i);
        }
    }

    /// Event `i` is now folded into `vm`: checkpoint it on the first pass.
    fn passed(&mut self, vm: &ViewModel, i: usize) {
        if i != self.folded {
            return;
        }
        self.folded = i + 1;
        if self.folded.is_multiple_of(self.interval) {
            // Thin out first (the new copy might not survive it): keep every
            // other one and space new ones twice as far.
            let over = |cps: &[(usize, ViewModel)], next: usize| {
                cps.len() + 1 > MAX_CHECKPOINTS
                    || cps.iter().map(|(i, _)| i).sum::<usize>() + next > CHECKPOINT_BUDGET
            };
            while self.folded > 0 && over(&self.checkpoints, self.folded) {
                self.interval *= 2;
                let every = self.interval;
                self.checkpoints.retain(|(i, _)| i.is_multiple_of(every));
                if !self.folded.is_multiple_of(every) {
                    return;
                }
            }
            self.checkpoints.push((self.folded, vm.clone()));
        }
    }

    /// Wait before event `i` at the current speed: its recorded gap to the
    /// previous event, idle stretches capped.
    fn wait_before(&self, i: usize) -> Duration {
        let (Some(prev), Some(this)) = (
            i.checked_sub(1).and_then(|p| self.source.ts(p)),
            self.source.ts(i),
        ) else {
            return Duration::ZERO;
        };
        Duration::from_micros(this.saturating_sub(prev))
            .min(MAX_GAP)
            .div_f64(self.speed)
    }
}

fn clamp_speed(speed: f64) -> f64 {
    if speed.is_finite() {
        speed.clamp(SPEEDS[0], SPEEDS[SPEEDS.len() - 1])
    } else {
        1.0
    }
}
