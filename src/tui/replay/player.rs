//! The replay driver: a cursor over a recording, the view-model checkpoints
//! that make going back cheap, the gate / debate / failure marks, and the
//! playback clock.

use std::time::Duration;

use tokio::time::Instant;

use crate::event::{Event, EventKind, RunStatus};
use crate::session::SessionReader;
use crate::tui::view_model::{Checkpoint, ViewModel};

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
/// more than [`MAX_CHECKPOINTS`] or they would take more than the memory
/// budget. A seek folds at most this many events after restoring a
/// checkpoint (measured in `BENCHMARKS.md, "Replay controls"`).
const FIRST_INTERVAL: usize = 4_096;
/// Most view-model checkpoints kept.
const MAX_CHECKPOINTS: usize = 256;
/// Default bound on the memory checkpoints take beyond one view model
/// (see [`Player::checkpoint_bytes`]). Checkpoints share the task and bus
/// chunks they have in common, so this is what their differences cost.
pub const CHECKPOINT_MEMORY: usize = 128 << 20;
/// Events folded (or scanned for marks) per slice of a long seek or jump:
/// a few milliseconds, so the app loop draws and reads keys in between.
pub const SLICE: usize = 4_096;
/// A replaced view model this big (tasks plus bus messages) is freed on
/// another thread: freeing it takes milliseconds the keyboard should not
/// wait for.
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

/// A checkpoint with its place and what it costs.
struct Kept {
    /// Events folded into it.
    at: usize,
    cp: Checkpoint,
    /// Bytes it holds that the next checkpoint does not share (for the
    /// newest: its own parts only).
    bytes: usize,
}

/// A long move the player carries out in slices ([`Player::work`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// Folding the shown view forward to `target`, from `from` (for the
    /// progress shown).
    Seek { from: usize, target: usize },
    /// Reading marks further to find the next mark of `kind` after `after`.
    Jump { kind: MarkKind, after: usize },
}

/// What a long move has done so far, for the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Folding towards a seek target: `percent` of the way.
    Seeking { percent: u8 },
    /// Reading ahead for a jump: `percent` of the recording read.
    Searching { percent: u8, kind: MarkKind },
}

/// A cursor over a recording with playback, stepping and seeking.
///
/// The cockpit's view model shows the run after the first [`Player::index`]
/// events. The player does not own that view model: every move takes it and
/// folds it forward, or replaces it with a copy of the nearest checkpoint
/// and folds from there.
///
/// Long moves (a seek that folds more than [`SLICE`] events, a jump that
/// reads ahead) can run in slices: [`Player::request_seek`] /
/// [`Player::request_jump`] start them and [`Player::work`] advances them,
/// so the app loop keeps drawing ("seeking… 40%") and reading keys in
/// between. [`Player::seek`] does the whole move at once.
pub struct Player {
    source: Box<dyn EventSource>,
    /// Events applied to the shown view model.
    cursor: usize,
    /// Ascending by position; the first is the empty model.
    checkpoints: Vec<Kept>,
    /// Bound on the checkpoints' bytes (sum of [`Kept::bytes`]).
    memory_budget: usize,
    /// The long move under way, if any.
    pending: Option<Pending>,
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
    /// A jump that read to the end without finding its mark.
    jump_missed: Option<MarkKind>,
}

impl Player {
    /// A player at the start of `source`; `empty` is the view model before
    /// any event (it is marked as a replay). Paused until [`Player::play`].
    pub fn new(source: Box<dyn EventSource>, mut empty: ViewModel, speed: f64) -> Player {
        empty.replay = true;
        let t0 = source.ts(0).unwrap_or(0);
        let cp = Checkpoint::of(&empty);
        let bytes = cp.unshared_bytes(&cp);
        Player {
            source,
            cursor: 0,
            checkpoints: vec![Kept { at: 0, cp, bytes }],
            memory_budget: CHECKPOINT_MEMORY,
            pending: None,
            interval: FIRST_INTERVAL,
            folded: 0,
            marks: Marks::default(),
            scanned: 0,
            playing: false,
            speed: clamp_speed(speed),
            due: None,
            t0,
            jump_missed: None,
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
    /// doubles as the recording is read to keep within the checkpoint count and memory bounds).
    pub fn with_checkpoint_interval(mut self, events: usize) -> Player {
        self.interval = events.max(1);
        self
    }

    /// Sets the bound on the memory checkpoints take (default
    /// [`CHECKPOINT_MEMORY`]); a smaller one gives fewer, farther checkpoints.
    pub fn with_memory_budget(mut self, bytes: usize) -> Player {
        self.memory_budget = bytes;
        self
    }

    /// The view model before any event (what the cockpit starts from).
    pub fn empty_view(&self) -> ViewModel {
        self.checkpoints[0].cp.restore()
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

    /// Events between checkpoints now.
    pub fn checkpoint_interval(&self) -> usize {
        self.interval
    }

    /// Memory the checkpoints take beyond one view model, as accounted:
    /// for each checkpoint, the bytes it holds that the next one does not
    /// share (plus the newest one's own parts). Bounded by the memory budget.
    pub fn checkpoint_bytes(&self) -> usize {
        self.checkpoints.iter().map(|k| k.bytes).sum()
    }

    /// The long move under way, if any (for the status bar).
    pub fn busy(&self) -> Option<Busy> {
        let pct =
            |done: usize, total: usize| (done.saturating_mul(100) / total.max(1)).min(99) as u8;
        self.pending.map(|p| match p {
            Pending::Seek { from, target } => Busy::Seeking {
                percent: pct(self.cursor.saturating_sub(from), target.abs_diff(from)),
            },
            Pending::Jump { kind, .. } => Busy::Searching {
                percent: pct(self.scanned, self.len()),
                kind,
            },
        })
    }

    /// Stops the long move under way where it is (the view stays at
    /// [`Player::index`], a consistent place).
    pub fn cancel(&mut self) -> bool {
        let was = self.pending.take().is_some();
        if was {
            self.arrived();
        }
        was
    }

    /// When the next event is due, while playing (the app loop sleeps until then).
    pub fn due(&self) -> Option<Instant> {
        if self.playing && self.pending.is_none() {
            self.due
        } else {
            None
        }
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
            busy: self.busy(),
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
        while self.playing && self.pending.is_none() && applied < MAX_BATCH {
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

    /// Shows the run after the first `target` events (clamped to the end),
    /// all at once. Playing goes on from there.
    pub fn seek(&mut self, vm: &mut ViewModel, target: usize) {
        self.request_seek(vm, target);
        while self.work(vm, usize::MAX) {}
    }

    /// Starts showing the run after the first `target` events (clamped to
    /// the end): restores the nearest checkpoint if that is cheaper than
    /// folding forward, and folds at once when at most [`SLICE`] events are
    /// left; otherwise the rest is left to [`Player::work`]. Replaces any
    /// move under way. Returns true when the move is complete.
    pub fn request_seek(&mut self, vm: &mut ViewModel, target: usize) -> bool {
        self.pending = None;
        let target = target.min(self.len());
        if target != self.cursor {
            // Nearest checkpoint at or before the target (the first is at 0).
            let k = self
                .checkpoints
                .partition_point(|c| c.at <= target)
                .saturating_sub(1);
            let at = self.checkpoints[k].at;
            let forward = self.cursor < target
                && (self.cursor >= at || target - self.cursor <= self.interval);
            if !forward {
                // Folding the shown view forward would cost more than
                // restoring the checkpoint (its copy takes milliseconds).
                let filter = vm.bus.filter().map(str::to_owned);
                let old = std::mem::replace(vm, self.checkpoints[k].cp.restore());
                if old.tasks.len() + old.bus.rows.len() >= DROP_ELSEWHERE {
                    std::thread::spawn(move || drop(old));
                }
                // The bus filter belongs to the viewer, not to the recording.
                vm.bus.set_filter(filter.as_deref().unwrap_or(""));
                self.cursor = at;
            }
            if target - self.cursor <= SLICE {
                let from = self.cursor;
                self.fold(vm, from, target);
                self.cursor = target;
            } else {
                self.pending = Some(Pending::Seek {
                    from: self.cursor,
                    target,
                });
            }
        }
        if self.pending.is_none() {
            self.arrived();
        }
        self.pending.is_none()
    }

    /// Starts a jump to the next mark of `kind` after the cursor: at once
    /// when the mark is known or within one slice, else reading ahead in slices
    /// ([`Player::work`]). Returns `Some(found)` when decided now (`false`:
    /// there is no later mark), `None` while it searches.
    pub fn request_jump(&mut self, vm: &mut ViewModel, kind: MarkKind) -> Option<bool> {
        self.pending = None;
        if self.known_mark(kind, self.cursor).is_none() {
            // One slice now: a short recording needs no more.
            self.scan(self.scanned.saturating_add(SLICE));
        }
        match self.known_mark(kind, self.cursor) {
            Some(to) => {
                self.request_seek(vm, to);
                Some(true)
            }
            None if self.scanned >= self.len() => Some(false),
            None => {
                self.pending = Some(Pending::Jump {
                    kind,
                    after: self.cursor,
                });
                None
            }
        }
    }

    /// Advances the move under way by at most `events` events (folded or
    /// scanned). Returns true while it is not finished. A jump that finds
    /// no mark ends where it was; [`Player::take_jump_miss`] tells.
    pub fn work(&mut self, vm: &mut ViewModel, events: usize) -> bool {
        let Some(p) = self.pending else { return false };
        let events = events.max(1);
        match p {
            Pending::Seek { target, .. } => {
                let to = self.cursor.saturating_add(events).min(target);
                let from = self.cursor;
                self.fold(vm, from, to);
                self.cursor = to;
                if to >= target {
                    self.pending = None;
                    self.arrived();
                }
            }
            Pending::Jump { kind, after } => {
                self.scan(self.scanned.saturating_add(events));
                if let Some(to) = self.known_mark(kind, after) {
                    self.request_seek(vm, to);
                } else if self.scanned >= self.len() {
                    self.pending = None;
                    self.jump_missed = Some(kind);
                }
            }
        }
        self.pending.is_some()
    }

    /// The kind of the last jump that read to the end without finding a
    /// mark, once (the app says so).
    pub fn take_jump_miss(&mut self) -> Option<MarkKind> {
        self.jump_missed.take()
    }

    /// A move ended at the cursor: playing goes on from there.
    fn arrived(&mut self) {
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
            if let Some(to) = self.known_mark(kind, self.cursor) {
                return Some(to);
            }
            if self.scanned >= self.len() {
                return None;
            }
            self.scan(self.scanned + self.interval);
        }
    }

    /// The index after the first recorded mark of `kind` at or after
    /// event `from`.
    fn known_mark(&self, kind: MarkKind, from: usize) -> Option<usize> {
        let list = self.marks.list(kind);
        list.get(list.partition_point(|&i| i < from))
            .map(|&i| i + 1)
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
        if !self.folded.is_multiple_of(self.interval) {
            return;
        }
        let cp = Checkpoint::of(vm);
        let own = cp.unshared_bytes(&cp);
        loop {
            // What the newest checkpoint would hold that the new one does
            // not share, and the new one's own parts.
            let Some(last) = self.checkpoints.last() else {
                return;
            };
            let last_now = last.cp.unshared_bytes(&cp);
            let total = self.checkpoint_bytes() - last.bytes + last_now + own;
            if self.checkpoints.len() < MAX_CHECKPOINTS && total <= self.memory_budget {
                if let Some(last) = self.checkpoints.last_mut() {
                    last.bytes = last_now;
                }
                break;
            }
            // Thin out: keep every other one and space new ones twice as far.
            self.interval *= 2;
            let every = self.interval;
            self.checkpoints.retain(|k| k.at.is_multiple_of(every));
            self.recount();
            if !self.folded.is_multiple_of(every) {
                return;
            }
        }
        self.checkpoints.push(Kept {
            at: self.folded,
            cp,
            bytes: own,
        });
    }

    /// Recomputes what each checkpoint holds that the next one does not share.
    fn recount(&mut self) {
        for j in 0..self.checkpoints.len() {
            let bytes = match self.checkpoints.get(j + 1) {
                Some(next) => self.checkpoints[j].cp.unshared_bytes(&next.cp),
                None => {
                    let cp = &self.checkpoints[j].cp;
                    cp.unshared_bytes(cp)
                }
            };
            self.checkpoints[j].bytes = bytes;
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
