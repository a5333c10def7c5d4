use std::path::Path;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::time::Instant;

use super::*;
use crate::event::{Event, EventKind};
use crate::session::SessionReader;
use crate::tui::app::App;
use crate::tui::render;
use crate::tui::test_support::{self, Script};
use crate::tui::theme::Theme;
use crate::tui::ui_state::{FilterTarget, Overlay};
use crate::tui::view_model::{ViewModel, WorkflowInfo};
use crate::workflow::load::{Format, load_str};

/// The recorded demo session (debate, vote, plan, review, gate) and its workflow.
fn demo() -> (WorkflowInfo, SessionReader) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sessions/demo.jsonl");
    let reader = SessionReader::open(&path).expect("sessions/demo.jsonl reads");
    let rec = &reader.header().workflow;
    let wf = load_str(&rec.text, &rec.origin, Format::from_path(&rec.origin))
        .expect("the recorded workflow loads")
        .workflow;
    (WorkflowInfo::from_workflow(&wf), reader)
}

fn demo_player(interval: usize) -> (Player, WorkflowInfo) {
    let (info, reader) = demo();
    let player = Player::new(Box::new(reader), ViewModel::new(info.clone()), 1.0)
        .with_checkpoint_interval(interval);
    (player, info)
}

fn demo_app() -> App {
    let (player, info) = demo_player(32);
    App::replaying(info, Theme::builtin("dark").expect("dark"), player)
}

/// Everything a pane can show, as text (the view model has no `PartialEq`).
fn fingerprint(vm: &ViewModel) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{} {} {} {:?} {:?} {} {} {} {:?} {}",
        vm.tasks,
        vm.nodes,
        vm.agents,
        vm.bus.rows,
        vm.gates,
        vm.debate,
        vm.notices,
        vm.total_usage,
        vm.completed,
        vm.failed,
        vm.in_progress,
        vm.ended,
        vm.started_us,
        vm.last_us,
        vm.last_seq,
        vm.generation,
        vm.token_rate,
        vm.paused,
    )
}

/// The view after the first `n` events, folded from scratch.
fn fresh(info: &WorkflowInfo, events: &[Event], n: usize) -> ViewModel {
    let mut vm = ViewModel::new(info.clone());
    vm.replay = true;
    for e in &events[..n] {
        vm.apply(e);
    }
    vm
}

fn key(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn keys(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn index(app: &App) -> usize {
    app.replay.as_ref().expect("a replay").index()
}

fn event_at(reader_events: &[Event], app: &App) -> EventKind {
    reader_events[index(app) - 1].kind.clone()
}

fn demo_events() -> Vec<Event> {
    demo().1.events().collect()
}

#[test]
fn a_seek_anywhere_shows_what_folding_from_the_start_shows() {
    let events = demo_events();
    let n = events.len();
    // A small interval so checkpoints (and their thinning) are exercised.
    let (mut p, info) = demo_player(4);
    let mut vm = p.empty_view();
    let mut targets = vec![
        n,
        0,
        100,
        37,
        n - 1,
        3,
        128,
        128,
        64,
        65,
        63,
        200,
        1,
        n,
        250,
    ];
    // And a deterministic walk of long and short moves both ways.
    let mut x: usize = 7;
    for _ in 0..60 {
        x = (x * 1103515245 + 12345) % 2_147_483_648;
        targets.push(x % (n + 1));
    }
    for t in targets {
        p.seek(&mut vm, t);
        assert_eq!(p.index(), t);
        assert_eq!(
            fingerprint(&vm),
            fingerprint(&fresh(&info, &events, t)),
            "view after seeking to {t}"
        );
    }
    assert!(p.checkpoints() <= 256, "{} checkpoints", p.checkpoints());
    assert!(p.checkpoints() > 4, "checkpoints were kept");
}

#[test]
fn checkpoints_stay_bounded_on_a_long_recording() {
    // 6 000 events, interval 16: without thinning that would be 375 copies.
    let mut s = Script::default();
    for i in 0..6_000u64 {
        s.wait(1).push(EventKind::Notice {
            level: "info".into(),
            message: format!("n{i}"),
        });
    }
    let info = test_support::info();
    let events = s.events.clone();
    let mut p = Player::new(Box::new(s.events), ViewModel::new(info.clone()), 1.0)
        .with_checkpoint_interval(16);
    let mut vm = p.empty_view();
    p.seek(&mut vm, 6_000);
    assert!(p.checkpoints() <= 256, "{} checkpoints", p.checkpoints());
    for t in [5_999, 17, 3_001, 4_096] {
        p.seek(&mut vm, t);
        assert_eq!(fingerprint(&vm), fingerprint(&fresh(&info, &events, t)));
    }
}

#[test]
fn step_forward_and_back_one_event_and_pause() {
    let events = demo_events();
    let mut app = demo_app();
    app.replay_play(Instant::now());
    assert!(app.ui.replay.expect("status").playing);
    keys(&mut app, ".");
    assert_eq!(index(&app), 1);
    assert!(!app.ui.replay.expect("status").playing, "stepping pauses");
    keys(&mut app, "...");
    assert_eq!(index(&app), 4);
    keys(&mut app, ",");
    assert_eq!(index(&app), 3);
    assert_eq!(
        fingerprint(&app.vm),
        fingerprint(&fresh(&app.vm.info, &events, 3))
    );
    keys(&mut app, ",,,");
    assert_eq!(index(&app), 0);
    keys(&mut app, ",");
    assert_eq!(index(&app), 0);
    assert_eq!(
        app.ui.current_flash(),
        Some("at the start of the recording")
    );
    assert_eq!(app.ui.replay.expect("status").index, 0);
}

#[test]
fn jumps_land_on_gates_debate_turns_and_back() {
    let events = demo_events();
    let mut app = demo_app();
    keys(&mut app, "]");
    assert!(
        matches!(event_at(&events, &app), EventKind::GateOpened { .. }),
        "{:?}",
        event_at(&events, &app)
    );
    assert_eq!(app.vm.gates.len(), 1, "the gate shows as waiting");
    let gate_opened = index(&app);
    keys(&mut app, "]");
    assert!(matches!(
        event_at(&events, &app),
        EventKind::GateDecided { .. }
    ));
    assert!(app.vm.gates.is_empty());
    keys(&mut app, "]");
    assert_eq!(app.ui.current_flash(), Some("no later gate event"));
    keys(&mut app, "[");
    assert_eq!(index(&app), gate_opened);
    keys(&mut app, "[");
    assert_eq!(app.ui.current_flash(), Some("no earlier gate event"));

    // Debate turns from the start: the first is a turn, `{` comes back.
    keys(&mut app, "T");
    keys(&mut app, "start");
    key(&mut app, KeyCode::Enter);
    assert_eq!(index(&app), 0);
    keys(&mut app, "}");
    let first = index(&app);
    assert!(matches!(
        event_at(&events, &app),
        EventKind::DebateTurn { .. }
    ));
    keys(&mut app, "}}");
    assert!(index(&app) > first);
    assert!(matches!(
        event_at(&events, &app),
        EventKind::DebateTurn { .. } | EventKind::VoteCast { .. }
    ));
    keys(&mut app, "{{");
    assert_eq!(index(&app), first);
    // The demo has no failure.
    keys(&mut app, ")");
    assert_eq!(app.ui.current_flash(), Some("no later failure"));
}

#[test]
fn failures_are_found_in_a_scripted_recording() {
    let s = test_support::script();
    let events = s.events.clone();
    let info = test_support::info();
    let p = Player::new(Box::new(s.events), ViewModel::new(info.clone()), 1.0);
    let mut app = App::replaying(info, Theme::builtin("light").expect("light"), p);
    keys(&mut app, ")");
    assert!(matches!(
        events[index(&app) - 1].kind,
        EventKind::TaskFailed { .. }
    ));
    assert_eq!(app.vm.failed, 1);
    keys(&mut app, "(");
    assert_eq!(app.ui.current_flash(), Some("no earlier failure"));
}

#[test]
fn seek_by_time_keys_and_prompt() {
    let events = demo_events();
    let t0 = events[0].ts;
    let mut app = demo_app();
    // → moves 5 s of recorded time: the demo lasts 5.1 s.
    key(&mut app, KeyCode::Right);
    let at = index(&app);
    assert!(events[at - 1].ts <= t0 + SEEK_STEP_US);
    assert!(at == events.len() || events[at].ts > t0 + SEEK_STEP_US);
    key(&mut app, KeyCode::Left);
    assert!(index(&app) < at);

    let seek = |app: &mut App, text: &str| {
        keys(app, "T");
        assert!(matches!(
            app.ui.overlay,
            Some(Overlay::Filter {
                target: FilterTarget::Seek,
                ..
            })
        ));
        keys(app, text);
        key(app, KeyCode::Enter);
        assert!(app.ui.overlay.is_none());
        index(app)
    };
    let i = seek(&mut app, "1.5");
    assert!(events[i - 1].ts <= t0 + 1_500_000 && events[i].ts > t0 + 1_500_000);
    assert_eq!(
        app.ui.replay.expect("status").time_us,
        events[i - 1].ts - t0
    );
    let j = seek(&mut app, "+1s");
    assert!(events[j - 1].ts <= events[i - 1].ts + 1_000_000);
    assert!(events[j].ts > events[i - 1].ts + 1_000_000);
    assert_eq!(seek(&mut app, "#100"), 100);
    assert_eq!(
        seek(&mut app, "50%"),
        (events.len() as f64 / 2.0).round() as usize
    );
    assert_eq!(seek(&mut app, "end"), events.len());
    let at_zero = events.iter().take_while(|e| e.ts == t0).count();
    assert_eq!(
        seek(&mut app, "0:00"),
        at_zero,
        "time 0 shows the events at time 0"
    );
    assert_eq!(seek(&mut app, "start"), 0);
    assert_eq!(seek(&mut app, "1:xx"), 0, "bad input does not move");
    assert!(
        app.ui
            .current_flash()
            .is_some_and(|f| f.starts_with("cannot read `1:xx`")),
        "{:?}",
        app.ui.current_flash()
    );
    assert_eq!(
        fingerprint(&app.vm),
        fingerprint(&fresh(&app.vm.info, &events, 0))
    );
}

#[test]
fn seek_prompt_escape_keeps_the_position() {
    let mut app = demo_app();
    keys(&mut app, "..");
    keys(&mut app, "T#9");
    key(&mut app, KeyCode::Esc);
    assert!(app.ui.overlay.is_none());
    assert_eq!(index(&app), 2);
}

#[test]
fn seek_text_parses() {
    use SeekTarget::*;
    assert_eq!(parse_seek("1:05"), Ok(At(65_000_000)));
    assert_eq!(parse_seek("1:02:03.5"), Ok(At(3_723_500_000)));
    assert_eq!(parse_seek(" 90s "), Ok(At(90_000_000)));
    assert_eq!(parse_seek("1.5"), Ok(At(1_500_000)));
    assert_eq!(parse_seek("250ms"), Ok(At(250_000)));
    assert_eq!(parse_seek("2m"), Ok(At(120_000_000)));
    assert_eq!(parse_seek("1h"), Ok(At(3_600_000_000)));
    assert_eq!(parse_seek("+10s"), Ok(By(10_000_000)));
    assert_eq!(parse_seek("-0:05"), Ok(By(-5_000_000)));
    assert_eq!(parse_seek("#120"), Ok(Event(120)));
    assert_eq!(parse_seek("50%"), Ok(Fraction(0.5)));
    assert_eq!(parse_seek("END"), Ok(End));
    assert_eq!(parse_seek("start"), Ok(Event(0)));
    for bad in [
        "", "abc", "1:", "::", "#x", "-", "1e9", "120%", "1:2:3:4", "5 s s",
    ] {
        assert!(parse_seek(bad).is_err(), "{bad:?} should not parse");
    }
}

/// Five events: two at the start, then gaps of 1 s, 0.5 s and 8.5 s.
fn paced() -> (Player, WorkflowInfo) {
    let mut s = Script::default();
    let note = |m: &str| EventKind::Notice {
        level: "info".into(),
        message: m.into(),
    };
    s.push(note("a")).push(note("b"));
    s.wait(1_000).push(note("c"));
    s.wait(500).push(note("d"));
    s.wait(8_500).push(note("e"));
    let info = test_support::info();
    (
        Player::new(Box::new(s.events), ViewModel::new(info.clone()), 1.0),
        info,
    )
}

#[tokio::test(start_paused = true)]
async fn playing_follows_the_recorded_pace_times_the_speed() {
    let (p, info) = paced();
    let mut app = App::replaying(info, Theme::builtin("dark").expect("dark"), p);
    assert_eq!(app.replay_due(), None, "opens paused");
    app.replay_play(Instant::now());
    app.replay_tick(Instant::now());
    assert_eq!(index(&app), 2, "events at the same time come together");
    tokio::time::advance(Duration::from_millis(999)).await;
    app.replay_tick(Instant::now());
    assert_eq!(index(&app), 2);
    assert_eq!(
        app.replay_due(),
        Some(Instant::now() + Duration::from_millis(1))
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    app.replay_tick(Instant::now());
    assert_eq!(index(&app), 3);
    // 2×: the 0.5 s gap takes 0.25 s.
    keys(&mut app, ">");
    assert_eq!(app.ui.replay.expect("status").speed, 2.0);
    assert_eq!(app.ui.current_flash(), Some("speed 2×"));
    tokio::time::advance(Duration::from_millis(250)).await;
    app.replay_tick(Instant::now());
    assert_eq!(index(&app), 4);
    // The 8.5 s idle gap is capped at 3 s: 1.5 s at 2×.
    tokio::time::advance(Duration::from_millis(1_499)).await;
    app.replay_tick(Instant::now());
    assert_eq!(index(&app), 4);
    tokio::time::advance(Duration::from_millis(1)).await;
    app.replay_tick(Instant::now());
    assert_eq!(index(&app), 5);
    let status = app.ui.replay.expect("status");
    assert!(!status.playing, "stops at the end");
    assert_eq!(status.time_us, 10_000_000);
    assert_eq!(app.replay_due(), None);
    assert!(
        app.ui
            .current_flash()
            .is_some_and(|f| f.starts_with("end of the recording"))
    );
    // Play at the end starts over.
    keys(&mut app, " ");
    app.replay_tick(Instant::now());
    assert_eq!(index(&app), 2);
    assert!(app.ui.replay.expect("status").playing);
}

#[tokio::test(start_paused = true)]
async fn pause_holds_the_position_and_p_means_play_pause() {
    let (p, info) = paced();
    let mut app = App::replaying(info, Theme::builtin("dark").expect("dark"), p);
    keys(&mut app, "p");
    app.replay_tick(Instant::now());
    assert_eq!(index(&app), 2);
    keys(&mut app, "p");
    assert_eq!(app.replay_due(), None);
    tokio::time::advance(Duration::from_secs(60)).await;
    app.replay_tick(Instant::now());
    assert_eq!(index(&app), 2, "paused: nothing moves");
    keys(&mut app, " ");
    tokio::time::advance(Duration::from_secs(1)).await;
    app.replay_tick(Instant::now());
    assert_eq!(index(&app), 3);
}

#[test]
fn speed_steps_stop_at_the_ends() {
    let (p, info) = paced();
    let mut app = App::replaying(info, Theme::builtin("dark").expect("dark"), p);
    let speed = |app: &App| app.ui.replay.expect("status").speed;
    for want in [2.0, 4.0, 8.0, 16.0, 16.0] {
        keys(&mut app, ">");
        assert_eq!(speed(&app), want);
    }
    assert_eq!(app.ui.current_flash(), Some("speed stays 16×"));
    for want in [8.0, 4.0, 2.0, 1.0, 0.5, 0.5] {
        keys(&mut app, "<");
        assert_eq!(speed(&app), want);
    }
    keys(&mut app, "+");
    assert_eq!(speed(&app), 1.0);
    // A speed between the steps goes to the next step.
    let info = test_support::info();
    let p = Player::new(Box::new(Vec::<Event>::new()), ViewModel::new(info), 3.0);
    assert_eq!(p.next_speed(true), Some(4.0));
    assert_eq!(p.next_speed(false), Some(2.0));
}

#[test]
fn commands_that_change_the_run_are_refused_with_a_message() {
    let mut app = demo_app();
    keys(&mut app, "]");
    // r R a d n s i c: each says why, and nothing opens.
    for c in ['r', 'R', 'a', 'd', 'n', 's', 'i', 'c'] {
        app.ui.flash = None;
        keys(&mut app, &c.to_string());
        let msg = app.ui.current_flash().unwrap_or_default().to_owned();
        assert!(msg.starts_with("replay is read-only"), "{c}: {msg:?}");
        assert!(app.ui.overlay.is_none(), "{c} opened an overlay");
    }
    // The gate review can be looked at; deciding in it is refused too.
    keys(&mut app, "v");
    assert!(matches!(app.ui.overlay, Some(Overlay::Gate { .. })));
    keys(&mut app, "a");
    assert!(
        app.ui
            .current_flash()
            .is_some_and(|m| m.starts_with("replay is read-only"))
    );
    // Replay keys still work under the gate review.
    let before = index(&app);
    keys(&mut app, ".");
    assert_eq!(index(&app), before + 1);
}

#[test]
fn the_palette_offers_replay_actions_only_in_a_replay() {
    let mut app = demo_app();
    keys(&mut app, ":");
    keys(&mut app, "next gate");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(
        demo_events()[index(&app) - 1].kind,
        EventKind::GateOpened { .. }
    ));
    let live = crate::tui::keymap::Keymap::default();
    let names: Vec<_> = crate::tui::overlays::palette::matches(&live, "gate", false)
        .iter()
        .map(|b| b.name)
        .collect();
    assert!(!names.contains(&"next gate"), "{names:?}");
}

#[test]
fn a_bus_filter_survives_seeking_back() {
    let events = demo_events();
    let mut app = demo_app();
    keys(&mut app, "T");
    keys(&mut app, "end");
    key(&mut app, KeyCode::Enter);
    app.vm.bus.set_filter("judge");
    let all = app.vm.bus.visible_len();
    keys(&mut app, "T");
    keys(&mut app, "#120");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.vm.bus.filter(), Some("judge"));
    let mut want = fresh(&app.vm.info, &events, 120);
    want.bus.set_filter("judge");
    assert_eq!(app.vm.bus.visible_len(), want.bus.visible_len());
    assert!(app.vm.bus.visible_len() <= all);
}

#[test]
fn live_runs_say_replay_keys_are_for_replays() {
    let mut app = App::new(
        test_support::info(),
        None,
        Theme::builtin("dark").expect("dark"),
        false,
    );
    app.act(
        crate::tui::keymap::Context::Global,
        crate::tui::keymap::Action::NextGate,
    );
    assert!(
        app.ui
            .current_flash()
            .is_some_and(|m| m.starts_with("only in a replay"))
    );
    // And `p` is still the run's pause key there.
    let p = KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE);
    assert!(app.replay_key(&p).is_none());
}

// ── status bar snapshots ──

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];

/// The bottom `rows` rows of the screen (the status bar, and the prompt above it).
fn bottom(app: &mut App, theme: &Theme, w: u16, h: u16, rows: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    term.draw(|f| render::draw(f, &app.vm, &mut app.ui, theme))
        .expect("draw");
    let buf = term.backend().buffer();
    (h - rows..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Snapshots at both sizes; a second theme must draw the same text.
fn check(name: &str, app: &mut App, rows: u16) {
    let dark = Theme::builtin("dark").expect("dark");
    let hc = Theme::builtin("high-contrast").expect("high-contrast");
    for (w, h) in SIZES {
        let a = bottom(app, &dark, w, h, rows);
        let b = bottom(app, &hc, w, h, rows);
        assert_eq!(a, b, "{name} {w}x{h}: themes change colours, never content");
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), a);
    }
}

fn at(app: &mut App, text: &str) {
    keys(app, "T");
    keys(app, text);
    key(app, KeyCode::Enter);
    app.ui.flash = None;
}

#[test]
fn status_bar_paused_mid_way() {
    let mut app = demo_app();
    at(&mut app, "#120");
    check("replay_status_paused", &mut app, 1);
}

#[test]
fn status_bar_playing_fast_with_a_gate_waiting() {
    let mut app = demo_app();
    keys(&mut app, "]>>");
    app.replay
        .as_mut()
        .expect("replay")
        .play(&mut app.vm, Instant::now());
    app.sync_replay();
    app.ui.flash = None;
    check("replay_status_playing", &mut app, 1);
}

#[test]
fn status_bar_with_the_seek_prompt() {
    let mut app = demo_app();
    at(&mut app, "end");
    keys(&mut app, "T1:0");
    check("replay_status_seek_prompt", &mut app, 2);
}

#[test]
fn tiny_screens_draw_the_replay_without_panicking() {
    let mut app = demo_app();
    at(&mut app, "50%");
    let theme = Theme::builtin("dark").expect("dark");
    for (w, h) in [(20, 5), (40, 10), (99, 30), (1, 1)] {
        let line = bottom(&mut app, &theme, w, h, 1);
        if w >= 20 {
            assert!(line.contains("REPLAY"), "{w}x{h}: {line:?}");
        }
    }
}

// ── large recordings: sliced seeks and jumps, checkpoint memory (replay2) ──

/// A scripted recording of `tasks` tasks run four at a time (each: created,
/// assigned, a bus message, a call, a result and completion), with one
/// failure near the end.
fn many_tasks(tasks: usize) -> (WorkflowInfo, Vec<Event>) {
    let mut s = Script::default();
    s.push(EventKind::SessionStarted {
        workflow: "w".into(),
        seed: 1,
        entry: "research".into(),
        agents: vec![],
    });
    for t in 0..tasks {
        let id = format!("t{t}");
        s.start_task(&id, "summarize", "summarizer_a", 100);
        if t == tasks - 3 {
            s.push(EventKind::TaskFailed {
                task: id.as_str().into(),
                agent: Some("summarizer_a".into()),
                kind: crate::event::ErrorKind::Timeout,
                error: "slow".into(),
                attempt: 1,
                held: false,
                from: crate::event::TaskState::InProgress,
            });
        } else {
            s.complete(&id, "summarizer_a", 100, "a summary of the item");
        }
    }
    (test_support::info(), s.events)
}

#[test]
fn a_long_seek_runs_in_slices_and_ends_equal_to_a_fresh_fold() {
    let (info, events) = many_tasks(3_000);
    let n = events.len();
    assert!(n > 4 * player::SLICE, "{n} events");
    let mut p = Player::new(Box::new(events.clone()), ViewModel::new(info.clone()), 1.0);
    let mut vm = p.empty_view();
    // A short move happens at once.
    assert!(p.request_seek(&mut vm, 10));
    assert_eq!(p.index(), 10);
    // A long one leaves work for the app loop, a slice at a time.
    assert!(!p.request_seek(&mut vm, n - 5));
    let mut last = 0;
    let mut slices = 0;
    while let Some(busy) = p.busy() {
        let Busy::Seeking { percent } = busy else {
            panic!("a seek, not {busy:?}")
        };
        assert!(percent >= last && percent < 100, "{last} → {percent}");
        last = percent;
        let before = p.index();
        let more = p.work(&mut vm, 1_000);
        assert!(p.index() - before <= 1_000);
        // Between slices the view is a consistent place of the recording.
        if slices == 3 {
            assert_eq!(
                fingerprint(&vm),
                fingerprint(&fresh(&info, &events, p.index()))
            );
        }
        slices += 1;
        assert_eq!(more, p.busy().is_some());
    }
    assert!(slices >= (n - 15) / 1_000, "{slices} slices");
    assert_eq!(p.index(), n - 5);
    assert_eq!(fingerprint(&vm), fingerprint(&fresh(&info, &events, n - 5)));
    assert_eq!(p.status().busy, None);

    // Back to a checkpoint and far forward again, then a new seek replaces
    // the one under way and a cancelled one stays where it got.
    assert!(!p.request_seek(&mut vm, n / 2 + 3) || p.index() == n / 2 + 3);
    while p.work(&mut vm, 700) {}
    assert_eq!(
        fingerprint(&vm),
        fingerprint(&fresh(&info, &events, n / 2 + 3))
    );
    // Once checkpoints exist, a far seek restores the nearest one and
    // folds at most one interval; a fresh player still has the way to go.
    p.seek(&mut vm, 0);
    assert!(p.request_seek(&mut vm, n));
    let mut p = Player::new(Box::new(events.clone()), ViewModel::new(info.clone()), 1.0);
    let mut vm = p.empty_view();
    assert!(!p.request_seek(&mut vm, n));
    p.work(&mut vm, 500);
    assert!(p.cancel());
    let at = p.index();
    assert!(at > 0 && at < n);
    assert_eq!(fingerprint(&vm), fingerprint(&fresh(&info, &events, at)));
}

#[test]
fn a_jump_reads_ahead_in_slices() {
    let (info, events) = many_tasks(1_500);
    let failure = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::TaskFailed { .. }))
        .expect("a failure");
    let mut p = Player::new(Box::new(events.clone()), ViewModel::new(info.clone()), 1.0);
    let mut vm = p.empty_view();
    assert_eq!(p.request_jump(&mut vm, MarkKind::Failure), None);
    let mut slices = 0;
    while p.work(&mut vm, 2_000) {
        slices += 1;
        assert!(slices < 1_000, "the jump ends");
    }
    assert!(slices > 1, "{slices} slices");
    assert_eq!(p.index(), failure + 1);
    assert_eq!(
        fingerprint(&vm),
        fingerprint(&fresh(&info, &events, failure + 1))
    );
    assert_eq!(p.take_jump_miss(), None);
    // Every event is read now: a jump with nothing later answers at once.
    assert_eq!(p.request_jump(&mut vm, MarkKind::Gate), Some(false));
    // On a fresh player the search reads to the end in slices and says so.
    let mut p = Player::new(Box::new(events.clone()), ViewModel::new(info.clone()), 1.0);
    let mut vm = p.empty_view();
    p.seek(&mut vm, 7);
    assert_eq!(p.request_jump(&mut vm, MarkKind::Gate), None);
    assert!(matches!(
        p.busy(),
        Some(Busy::Searching {
            kind: MarkKind::Gate,
            ..
        })
    ));
    while p.work(&mut vm, 2_000) {}
    assert_eq!(p.take_jump_miss(), Some(MarkKind::Gate));
    assert_eq!(p.index(), 7, "a missed jump stays");
    assert_eq!(fingerprint(&vm), fingerprint(&fresh(&info, &events, 7)));
}

#[test]
fn checkpoint_memory_respects_the_budget() {
    let (info, events) = many_tasks(3_000);
    let n = events.len();
    let budget = 1 << 20;
    let mut p = Player::new(Box::new(events.clone()), ViewModel::new(info.clone()), 1.0)
        .with_checkpoint_interval(64)
        .with_memory_budget(budget);
    let mut vm = p.empty_view();
    p.seek(&mut vm, n);
    assert!(
        p.checkpoint_bytes() <= budget,
        "{} bytes in {} checkpoints",
        p.checkpoint_bytes(),
        p.checkpoints()
    );
    assert!(p.checkpoints() > 4, "{} checkpoints", p.checkpoints());
    assert!(p.checkpoint_interval() > 64, "the budget thinned them");
    // A roomier budget keeps more, closer checkpoints.
    let mut roomy = Player::new(Box::new(events.clone()), ViewModel::new(info.clone()), 1.0)
        .with_checkpoint_interval(64)
        .with_memory_budget(64 << 20);
    let mut vm2 = roomy.empty_view();
    roomy.seek(&mut vm2, n);
    assert!(roomy.checkpoint_interval() < p.checkpoint_interval());
    assert!(roomy.checkpoint_bytes() > p.checkpoint_bytes());
    // Whatever the budget, seeks show what a fresh fold shows.
    for t in [n - 1, 5, n / 3, 2 * n / 3 + 1, n] {
        p.seek(&mut vm, t);
        assert_eq!(
            fingerprint(&vm),
            fingerprint(&fresh(&info, &events, t)),
            "{t}"
        );
    }
}

#[test]
fn keys_stay_live_during_a_long_seek() {
    let (info, events) = many_tasks(2_000);
    let n = events.len();
    let p = Player::new(Box::new(events.clone()), ViewModel::new(info.clone()), 1.0);
    let mut app = App::replaying(info.clone(), Theme::builtin("dark").expect("dark"), p);
    key(&mut app, KeyCode::Char('T'));
    keys(&mut app, "end");
    key(&mut app, KeyCode::Enter);
    assert!(app.replay_busy(), "the seek to the end runs in slices");
    app.replay_work();
    let label = app.ui.replay.expect("status").label(false);
    assert!(label.contains("seeking… "), "{label}");
    // Another replay key takes over at once: back to the start.
    keys(&mut app, ",");
    assert!(!app.replay_busy());
    assert!(index(&app) < n);
    // Esc stops a long seek where it got, with the view a fresh fold gives.
    key(&mut app, KeyCode::Char('T'));
    keys(&mut app, "end");
    key(&mut app, KeyCode::Enter);
    assert!(app.replay_busy());
    app.replay_work();
    key(&mut app, KeyCode::Esc);
    assert!(!app.replay_busy(), "Esc stops the seek");
    let at = index(&app);
    assert!(at > 0 && at < n, "stopped midway, at {at}");
    assert_eq!(
        fingerprint(&app.vm),
        fingerprint(&fresh(&info, &events, at))
    );
    let flash = app.ui.current_flash().unwrap_or_default();
    assert!(flash.starts_with("seek stopped at event"), "{flash}");
    // A long seek again, then q quits without waiting for it.
    key(&mut app, KeyCode::Char('T'));
    keys(&mut app, "end");
    key(&mut app, KeyCode::Enter);
    assert!(app.replay_busy());
    keys(&mut app, "q");
    assert!(app.exit.is_some(), "q quits during a seek");
    // Left alone, the seek ends at the end with the view a fresh fold gives.
    while app.replay_busy() {
        app.replay_work();
    }
    assert_eq!(index(&app), n);
    assert_eq!(fingerprint(&app.vm), fingerprint(&fresh(&info, &events, n)));
}

#[test]
fn playing_waits_for_a_long_seek_to_finish() {
    let (info, events) = many_tasks(3_000);
    let n = events.len();
    let mut p = Player::new(Box::new(events.clone()), ViewModel::new(info.clone()), 1.0);
    let mut vm = p.empty_view();
    assert!(!p.request_seek(&mut vm, n / 2));
    p.play(&mut vm, Instant::now());
    assert!(p.playing());
    assert_eq!(p.due(), None, "no playback tick while seeking");
    assert_eq!(p.tick(&mut vm, Instant::now() + Duration::from_secs(60)), 0);
    while p.work(&mut vm, SLICE) {}
    assert_eq!(p.index(), n / 2);
    assert!(p.due().is_some(), "playing goes on from the target");
    assert_eq!(fingerprint(&vm), fingerprint(&fresh(&info, &events, n / 2)));
}

#[test]
fn the_status_says_where_a_long_seek_landed() {
    let mut app = demo_app();
    let len = index_len(&app);
    assert!(len > 250, "the demo has {len} events");
    at(&mut app, "#250");
    while app.replay_busy() {
        app.replay_work();
    }
    app.ui.flash = None;
    let dark = Theme::builtin("dark").expect("dark");
    let status = bottom(&mut app, &dark, 160, 40, 1);
    assert!(
        status.contains(&format!("event 250/{len}")),
        "after a jump to event 250:\n{status}"
    );
}

fn index_len(app: &App) -> usize {
    app.replay.as_ref().expect("a replay").len()
}

#[test]
fn a_refusal_is_shown_whole_even_when_the_status_bar_is_full() {
    let mut app = demo_app();
    at(&mut app, "#120");
    keys(&mut app, "B");
    let msg = app.ui.current_flash().expect("a refusal").to_owned();
    assert!(msg.starts_with("replay is read-only"), "{msg}");
    let dark = Theme::builtin("dark").expect("dark");
    for (w, h) in [(160, 40), (80, 24)] {
        let rows = bottom(&mut app, &dark, w, h, 4);
        let joined: String = rows.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        assert!(joined.contains(&msg), "{w}x{h}: {msg}\n{rows}");
    }
}
