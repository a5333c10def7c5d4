//! `F` in a replay: the recorded run forks at the current position into a
//! live run, in the same screen. The view already shows the run after the
//! events the fork keeps, so it stays as it is; from then on events come
//! from the fork's engine and keys send it commands. The cockpit knows no
//! engine: whoever opens the replay passes a [`Forker`] that writes the
//! fork's session, starts its run, and hands back both ends.

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::event::{Command, Event};
use crate::tui::app::App;

/// A forked run, started.
pub struct LiveFork {
    /// The new session's id.
    pub session: String,
    /// Its events, from the first after the shared history.
    pub events: UnboundedReceiver<Event>,
    /// Where the cockpit's commands go.
    pub commands: UnboundedSender<Command>,
}

/// Starts a live run forked from the replayed session after its first `n`
/// events; an error says why not (shown in the status bar).
pub type Forker = Box<dyn FnMut(usize) -> Result<LiveFork, String> + Send>;

impl App {
    /// `F`: forks at the current position, if this replay can fork.
    pub(crate) fn replay_fork(&mut self) {
        let Some(p) = &mut self.replay else { return };
        if p.busy().is_some() {
            self.ui
                .flash("a seek is under way: wait for it (Esc stops it), then F forks there");
            return;
        }
        if self.vm.ended.is_some() {
            self.ui.flash(
                "the run has ended here: step back (,) or seek (T) to an earlier point to fork",
            );
            return;
        }
        let Some(forker) = &mut self.forker else {
            self.ui.flash(
                "this cockpit cannot fork: agentctl fork SESSION --at #N does it from the shell",
            );
            return;
        };
        p.pause();
        let at = p.index();
        match forker(at) {
            Ok(live) => {
                tracing::info!(session = %live.session, at, "replay forked into a live run");
                self.go_live(live.commands);
                self.live_events = Some(live.events);
                self.ui.flash(format!(
                    "forked at event {at} as session {}: live now (q asks before leaving)",
                    live.session
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, at, "fork refused");
                self.sync_replay();
                // One line in the status bar: the first line says what.
                let first = e.lines().next().unwrap_or_default().to_string();
                self.ui.flash(format!("not forked: {first}"));
            }
        }
    }

    /// The event stream to switch to, once, after a fork went live (the
    /// app loop reads from it from then on).
    pub fn take_live_events(&mut self) -> Option<UnboundedReceiver<Event>> {
        self.live_events.take()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use tokio::sync::mpsc::unbounded_channel;

    use super::*;
    use crate::session::SessionReader;
    use crate::tui::replay::Player;
    use crate::tui::theme::Theme;
    use crate::tui::view_model::{ViewModel, WorkflowInfo};
    use crate::workflow::load::{Format, load_str};

    /// The recorded demo in a replaying cockpit.
    fn demo_app() -> App {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sessions/demo.jsonl");
        let reader = SessionReader::open(&path).expect("sessions/demo.jsonl reads");
        let rec = &reader.header().workflow;
        let wf = load_str(&rec.text, &rec.origin, Format::from_path(&rec.origin))
            .expect("the recorded workflow loads")
            .workflow;
        let info = WorkflowInfo::from_workflow(&wf);
        let player = Player::new(Box::new(reader), ViewModel::new(info.clone()), 1.0);
        App::replaying(info, Theme::builtin("dark").expect("dark"), player)
    }

    fn press(app: &mut App, c: char) {
        let mods = if c.is_ascii_uppercase() {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        app.handle_key(KeyEvent::new(KeyCode::Char(c), mods));
        while app.replay_busy() {
            app.replay_work();
        }
    }

    fn flash(app: &App) -> String {
        app.ui
            .flash
            .as_ref()
            .map(|f| f.0.clone())
            .unwrap_or_default()
    }

    #[test]
    fn f_forks_at_the_current_event_and_the_same_screen_goes_live() {
        let mut app = demo_app();
        // To the gate's opening: the review is what the fork decides anew.
        press(&mut app, ']');
        let at = app.replay.as_ref().unwrap().index();
        assert!(at > 0);
        let asked = Arc::new(Mutex::new(None));
        let (ev_tx, ev_rx) = unbounded_channel();
        let (cmd_tx, mut cmd_rx) = unbounded_channel();
        let mut once = Some((ev_rx, cmd_tx));
        let seen = asked.clone();
        app.forker = Some(Box::new(move |n| {
            *seen.lock().unwrap() = Some(n);
            let (events, commands) = once.take().ok_or("twice")?;
            Ok(LiveFork {
                session: "f-1".into(),
                events,
                commands,
            })
        }));
        let shown = app.vm.tasks.len();
        assert_eq!(app.vm.gates.len(), 1, "the gate is open at this point");
        press(&mut app, 'F');
        assert_eq!(
            *asked.lock().unwrap(),
            Some(at),
            "forked where the replay was"
        );
        assert!(app.replay.is_none() && !app.vm.replay && app.ui.replay.is_none());
        assert!(app.ui.can_command);
        assert!(flash(&app).contains("forked at event") && flash(&app).contains("f-1"));
        // The view is the shared history, untouched; the loop takes the stream.
        assert_eq!(app.vm.tasks.len(), shown);
        // The gate waits again once the fork's engine opens it, not before.
        assert!(app.vm.gates.is_empty());
        let mut live = app.take_live_events().expect("the fork's stream");
        assert!(app.take_live_events().is_none(), "handed over once");
        drop(ev_tx);
        assert!(live.try_recv().is_err());
        // Keys now steer the fork: `p` pauses it instead of the playback.
        press(&mut app, 'p');
        assert!(cmd_rx.try_recv().is_ok(), "a command went to the fork");
    }

    #[test]
    fn a_refused_fork_keeps_the_replay_and_says_why() {
        let mut app = demo_app();
        press(&mut app, ']');
        app.forker = Some(Box::new(|_| {
            Err("provider `local` is missing\nmore detail".into())
        }));
        press(&mut app, 'F');
        assert!(app.replay.is_some() && app.vm.replay);
        assert_eq!(flash(&app), "not forked: provider `local` is missing");
        assert!(app.take_live_events().is_none());

        let mut app = demo_app();
        press(&mut app, 'F');
        assert!(
            flash(&app).contains("agentctl fork SESSION"),
            "{}",
            flash(&app)
        );
        // At the end of the recording the run has ended: nothing to go on with.
        let mut app = demo_app();
        app.forker = Some(Box::new(|_| panic!("not called at the end")));
        app.replay_seek_typed("end");
        while app.replay_busy() {
            app.replay_work();
        }
        press(&mut app, 'F');
        assert!(
            flash(&app).contains("the run has ended here"),
            "{}",
            flash(&app)
        );
    }
}
