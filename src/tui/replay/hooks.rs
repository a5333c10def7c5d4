//! The replay side of [`App`]: replay keys, the seek prompt and playback
//! ticks. The app loop calls these; everything else about the cockpit is
//! the same as for a live run.

use crossterm::event::KeyEvent;
use tokio::time::Instant;

use super::player::{MarkKind, Player, SEEK_STEP_US, SLICE};
use super::seek::{SeekTarget, parse_seek};
use super::{fmt_offset, fmt_speed};
use crate::tui::app::App;
use crate::tui::keymap::{Action, Context};
use crate::tui::theme::Theme;
use crate::tui::ui_state::{FilterTarget, Overlay};
use crate::tui::view_model::WorkflowInfo;

impl App {
    /// A read-only cockpit on a recording, driven by `player` (paused at
    /// its start; call [`App::replay_play`] to start playing).
    pub fn replaying(info: WorkflowInfo, theme: Theme, player: Player) -> App {
        let mut app = App::new(info, None, theme, true);
        app.vm = player.empty_view();
        app.replay = Some(player);
        app.sync_replay();
        app
    }

    /// True while a seek or jump runs in slices ([`App::replay_work`]).
    pub fn replay_busy(&self) -> bool {
        self.replay.as_ref().is_some_and(|p| p.busy().is_some())
    }

    /// Stops the seek or jump under way where it got (Esc), and says where.
    pub fn replay_stop(&mut self) {
        let Some(p) = &mut self.replay else { return };
        if p.cancel() {
            let msg = format!(
                "seek stopped at event {}/{} · {}",
                p.index(),
                p.len(),
                fmt_offset(p.time_us())
            );
            self.sync_replay();
            self.ui.flash(msg);
        }
    }

    /// Advances the seek or jump under way by one slice (a few
    /// milliseconds); the app loop calls it between frames and keys.
    pub fn replay_work(&mut self) {
        let Some(p) = &mut self.replay else { return };
        p.work(&mut self.vm, SLICE);
        let missed = p.take_jump_miss();
        let done = p.busy().is_none();
        self.sync_replay();
        if let Some(kind) = missed {
            self.ui.flash(format!("no later {}", kind.noun()));
        } else if done {
            let p = self.replay.as_ref().expect("checked above");
            let msg = format!(
                "at event {}/{} · {}",
                p.index(),
                p.len(),
                fmt_offset(p.time_us())
            );
            self.ui.flash(msg);
        }
    }

    /// When the next recorded event is due, while playing.
    pub fn replay_due(&self) -> Option<Instant> {
        self.replay.as_ref().and_then(Player::due)
    }

    /// Starts playing.
    pub fn replay_play(&mut self, now: Instant) {
        if let Some(p) = &mut self.replay {
            p.play(&mut self.vm, now);
        }
        self.sync_replay();
    }

    /// Applies the events due by `now` (the app loop calls it when
    /// [`App::replay_due`] passes).
    pub fn replay_tick(&mut self, now: Instant) {
        let Some(p) = &mut self.replay else { return };
        let was_playing = p.playing();
        p.tick(&mut self.vm, now);
        let ended = was_playing && !p.playing();
        self.sync_replay();
        if ended {
            self.ui
                .flash("end of the recording: Space plays it again, `,` steps back");
        }
    }

    /// The replay binding of a key, when this is a replay (replay keys come
    /// before the main screen's).
    pub(crate) fn replay_key(&self, key: &KeyEvent) -> Option<Action> {
        self.replay.as_ref()?;
        self.ui.keymap.resolve(Context::Replay, key)
    }

    /// Carries out a replay action.
    pub(crate) fn replay_action(&mut self, action: Action) {
        let now = Instant::now();
        let Some(p) = &mut self.replay else {
            self.ui
                .flash("only in a replay: agentctl replay SESSION plays a recorded run");
            return;
        };
        if action == Action::Fork {
            return self.replay_fork();
        }
        let vm = &mut self.vm;
        let mut note: Option<String> = None;
        match action {
            Action::PlayPause => {
                if p.playing() {
                    p.pause();
                } else {
                    p.play(vm, now);
                }
            }
            Action::StepForward => {
                p.pause();
                if p.index() >= p.len() {
                    note = Some("at the end of the recording".into());
                } else {
                    let to = p.index() + 1;
                    p.request_seek(vm, to);
                }
            }
            Action::StepBack => {
                p.pause();
                match p.index().checked_sub(1) {
                    Some(to) => {
                        p.request_seek(vm, to);
                    }
                    None => note = Some("at the start of the recording".into()),
                }
            }
            Action::Faster | Action::Slower => match p.next_speed(action == Action::Faster) {
                Some(s) => {
                    p.set_speed(s, now);
                    note = Some(format!("speed {}", fmt_speed(s)));
                }
                None => note = Some(format!("speed stays {}", fmt_speed(p.speed()))),
            },
            Action::SeekForward | Action::SeekBack => {
                let base = p.start_ts() + p.time_us();
                let ts = if action == Action::SeekForward {
                    base.saturating_add(SEEK_STEP_US)
                } else {
                    base.saturating_sub(SEEK_STEP_US)
                };
                let before = p.index();
                let to = p.index_at(ts);
                if to == before && action == Action::SeekForward && to < p.len() {
                    note = Some(format!(
                        "nothing happens in the next {} s; ] ) }} jump, T seeks",
                        SEEK_STEP_US / 1_000_000
                    ));
                } else {
                    p.request_seek(vm, to);
                }
            }
            Action::SeekTo => {
                self.ui.overlay = Some(Overlay::Filter {
                    target: FilterTarget::Seek,
                    input: String::new(),
                });
            }
            Action::NextGate | Action::NextTurn | Action::NextFailure => {
                let kind = mark_kind(action);
                p.pause();
                if p.request_jump(vm, kind) == Some(false) {
                    note = Some(format!("no later {}", kind.noun()));
                }
            }
            Action::PrevGate | Action::PrevTurn | Action::PrevFailure => {
                let kind = mark_kind(action);
                match p.prev_mark(kind) {
                    Some(to) => {
                        p.pause();
                        p.request_seek(vm, to);
                    }
                    None => note = Some(format!("no earlier {}", kind.noun())),
                }
            }
            _ => {}
        }
        self.sync_replay();
        if let Some(n) = note {
            self.ui.flash(n);
        }
    }

    /// Seeks to what was typed in the seek prompt.
    pub(crate) fn replay_seek_typed(&mut self, text: &str) {
        let Some(p) = &mut self.replay else { return };
        let target = match parse_seek(text) {
            Ok(t) => t,
            Err(e) => {
                self.ui.flash(e);
                return;
            }
        };
        let len = p.len();
        let to = match target {
            SeekTarget::At(us) => p.index_at(p.start_ts().saturating_add(us)),
            SeekTarget::By(d) => p.index_at((p.start_ts() + p.time_us()).saturating_add_signed(d)),
            SeekTarget::Event(n) => n.min(len),
            SeekTarget::Fraction(f) => ((len as f64) * f).round() as usize,
            SeekTarget::End => len,
        };
        if !p.request_seek(&mut self.vm, to) {
            // Long: the status bar shows the progress, the end flashes.
            self.sync_replay();
            return;
        }
        let msg = format!(
            "at event {}/{} · {}",
            p.index(),
            len,
            fmt_offset(p.time_us())
        );
        self.sync_replay();
        self.ui.flash(msg);
    }

    /// Copies the player's position to the status bar.
    pub(crate) fn sync_replay(&mut self) {
        self.ui.replay = self.replay.as_ref().map(Player::status);
    }
}

fn mark_kind(action: Action) -> MarkKind {
    match action {
        Action::NextGate | Action::PrevGate => MarkKind::Gate,
        Action::NextTurn | Action::PrevTurn => MarkKind::Turn,
        _ => MarkKind::Failure,
    }
}
