//! In-app replay controls for `agentctl replay`: play/pause, speed, step
//! one event forward or back, jump to the next gate / debate turn / failure,
//! and seek by time.
//!
//! The cockpit's [`ViewModel`](super::view_model::ViewModel) is a fold of the
//! event stream, so going back means folding again from an earlier state.
//! The [`Player`] keeps in-memory view-model checkpoints while it moves
//! forward and restores the nearest one on a backward seek, so a seek
//! anywhere in a large session folds at most one checkpoint interval.
//! Checkpoints share the view model's task and bus chunks, so they cost
//! little memory (bounded by [`player::CHECKPOINT_MEMORY`]) and restore in
//! milliseconds. A seek or jump that has more to do than one slice
//! ([`player::SLICE`] events) runs in slices between frames, with
//! "seeking… n%" in the status bar, so the cockpit never freezes and `q`,
//! Ctrl-C or any other replay key take effect at once.
//! Everything here only looks at a recording: no command reaches an engine.

mod fork;
mod hooks;
mod player;
mod seek;

pub use fork::{Forker, LiveFork};
#[cfg(test)]
use player::SEEK_STEP_US;
pub use player::{Busy, EventSource, MarkKind, Player, SLICE};
#[cfg(test)]
use seek::{SeekTarget, parse_seek};

use super::keymap::Action;

/// Where a replay is, for the status bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayStatus {
    /// Events applied so far (the view shows the run after event `index`).
    pub index: usize,
    /// Events in the recording.
    pub len: usize,
    /// Recorded time of the last applied event, from the first event (µs).
    pub time_us: u64,
    /// Recorded duration, first to last event (µs).
    pub total_us: u64,
    /// Playback speed (1 = as recorded).
    pub speed: f64,
    /// Playing (else paused).
    pub playing: bool,
    /// A seek or jump under way.
    pub busy: Option<Busy>,
}

/// What the read-only replay says when a key would change the run, or
/// `None` when the action only looks.
pub fn read_only_message(action: Action) -> Option<&'static str> {
    Some(match action {
        Action::PauseResume => "replay is read-only: Space/p plays and pauses the recording",
        Action::Retry => "replay is read-only: retry would change the recorded run",
        Action::Reroute => "replay is read-only: reroute would change the recorded run",
        Action::Approve | Action::Deny => {
            "replay is read-only: ] jumps to the recorded gate decision"
        }
        Action::StepDebate | Action::ToggleStep => {
            "replay is read-only: } jumps to the next debate turn"
        }
        Action::Inject => "replay is read-only: inject would change the recorded run",
        Action::Cancel => "replay is read-only: cancel would change the recorded run",
        Action::RaiseBudget => "replay is read-only: a budget cannot be raised in a recording",
        _ => return None,
    })
}

/// Formats a recorded time offset as `mm:ss.t` (or `h:mm:ss.t`).
pub fn fmt_offset(us: u64) -> String {
    let tenths = us / 100_000;
    let (t, s) = (tenths % 10, tenths / 10);
    if s >= 3600 {
        format!("{}:{:02}:{:02}.{t}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{:02}:{:02}.{t}", s / 60, s % 60)
    }
}

/// Formats a speed as `0.5×`, `2×`.
pub fn fmt_speed(speed: f64) -> String {
    if speed.fract() == 0.0 {
        format!("{speed:.0}×")
    } else {
        format!("{speed}×")
    }
}

impl ReplayStatus {
    /// The indicator next to the REPLAY badge: `▶ 2× · 12/255 · 00:01.2/00:05.0`;
    /// `compact` drops the total duration for narrow screens.
    pub fn label(&self, compact: bool) -> String {
        let icon = if self.playing { "▶" } else { "⏸" };
        let speed = fmt_speed(self.speed);
        if let Some(b) = self.busy {
            let what = match b {
                Busy::Seeking { percent } => format!("seeking… {percent}%"),
                Busy::Searching { percent, kind } => {
                    format!("finding next {}… {percent}%", kind.noun())
                }
            };
            return if compact {
                format!(" {what} ")
            } else {
                format!(
                    " {icon} {speed} · event {}/{} · {what} ",
                    self.index, self.len
                )
            };
        }
        if compact {
            format!(
                " {icon} {speed} {}/{} {} ",
                self.index,
                self.len,
                fmt_offset(self.time_us)
            )
        } else {
            format!(
                " {icon} {speed} · event {}/{} · {}/{} ",
                self.index,
                self.len,
                fmt_offset(self.time_us),
                fmt_offset(self.total_us)
            )
        }
    }
}

#[cfg(test)]
mod tests;
