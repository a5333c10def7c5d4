//! Writes a session file from the event stream.
//!
//! The recorder reads events on a dedicated thread (at a lower CPU
//! priority) from a bounded feed ([`RECORD_QUEUE`] events, from
//! `Orchestrator::subscribe_bounded`): the engine hands events over without
//! waiting until the recorder is a whole queue behind, and then waits for
//! it — a slow disk slows the run, it never grows memory without bound nor
//! drops an event. While events flow the recorder wakes every [`POLL`], writes
//! everything queued and, if the batch holds an event that acknowledges a
//! result (see [`is_durable`]), syncs (`fsync`) once — a group commit;
//! after `IDLE_POLLS` empty polls it waits for the next event instead.
//! The file is therefore always a prefix of the event stream, and a durable
//! event reaches the disk at most one poll, one write and one sync after it
//! was emitted. Every [`SNAPSHOT_EVERY`] events it also writes a snapshot
//! line (see [`snapshot`]) from its own fold of the session.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use super::snapshot::{self, SNAPSHOT_EVERY};
use super::{Header, SessionError, SessionReader, SessionState, ensure_dir, session_path};
use crate::engine::cpu_placement::{self, CpuAvoider};
use crate::engine::feed::{EventBatch, FeedEmpty};
use crate::engine::{EventFeed, Orchestrator};
use crate::event::{Event, EventKind};

/// Events the recorder's feed holds before the run waits for it: big
/// enough that the engine never waits on a healthy disk (the recorder
/// drains every 0.5 ms), small enough to bound memory (~15 MiB of events).
pub const RECORD_QUEUE: usize = 1 << 16;

/// How a recorder writes.
#[derive(Debug, Clone, Copy)]
pub struct RecordOptions {
    /// Write a snapshot line every this many events (0: none).
    pub snapshot_every: usize,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            snapshot_every: SNAPSHOT_EVERY,
        }
    }
}

/// A running recorder. [`Recorder::finish`] waits until everything is on disk.
pub struct Recorder {
    path: PathBuf,
    thread: JoinHandle<Result<RecordStats, std::io::Error>>,
}

/// What a recorder wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordStats {
    /// Events written.
    pub events: u64,
    /// `fsync` calls.
    pub syncs: u64,
}

/// How long the recorder sleeps between batches while events flow. A
/// durable event waits at most this long (plus the write and the sync)
/// before it is on disk.
pub const POLL: std::time::Duration = std::time::Duration::from_micros(500);

/// Empty polls in a row after which the recorder waits for the next event
/// instead of polling (an idle session costs no wake-ups).
const IDLE_POLLS: u32 = 20;

/// Nice value of the recorder thread: when the engine and the recorder
/// compete for a core, the engine goes first; the recorder catches up when
/// the engine waits (on a provider, a gate) or ends.
const RECORDER_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`RECORDER_NICE`] (Linux:
/// the nice value is per thread). Best effort: failing leaves it as is.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on this thread's own id only changes its nice
    // value; no memory is passed.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, RECORDER_NICE);
    }
}

/// Events after which the file is synced: a result the session acknowledged
/// must survive a crash.
pub fn is_durable(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::TaskCompleted { .. }
            | EventKind::GateDecided { .. }
            | EventKind::BudgetExhausted { .. }
            | EventKind::RunPaused
            | EventKind::SessionEnded { .. }
    )
}

impl Recorder {
    /// Records the run `orch` is about to make into `DIR/<session>.jsonl`:
    /// the one call a program needs (the header comes from the
    /// orchestrator's workflow, input, seed and session id). Set the input
    /// before (`Orchestrator::input`, or the workflow's own), start the run,
    /// and call [`finish`](Self::finish) after it ended.
    ///
    /// The file replays, exports and lists like any session. `agentctl
    /// resume` needs the workflow's text, which only a workflow loaded from
    /// a file has ([`Orchestrator::from_file`]).
    ///
    /// ```
    /// use agentctl::engine::{Orchestrator, RunOptions};
    /// use agentctl::session::{Recorder, SessionReader};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let dir = std::env::temp_dir().join(format!("agentctl-doc-{}", std::process::id()));
    /// let mut orch = Orchestrator::from_file("builtin:pipeline", RunOptions::default()).unwrap();
    /// let recorder = Recorder::record(&mut orch, &dir).unwrap();
    /// orch.start().unwrap().wait().await;
    /// let path = recorder.path().to_path_buf();
    /// recorder.finish().unwrap();
    /// assert!(SessionReader::open(&path).unwrap().len() > 10);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # });
    /// ```
    pub fn record(orch: &mut Orchestrator, dir: &Path) -> Result<Recorder, SessionError> {
        let session = orch.session_id().to_string();
        let wf = orch.workflow().clone();
        let (text, origin) = orch.source().unwrap_or(("", "<library>"));
        let mut header = Header::new(
            &session,
            &wf,
            text,
            origin,
            orch.options().seed,
            crate::event::now_micros(),
        );
        // Unsigned only means `resume` asks before running it.
        let _ = super::trust::sign_as_user(&mut header);
        Self::create(dir, &header, orch.subscribe_bounded(RECORD_QUEUE))
    }

    /// Creates `DIR/<session>.jsonl` (0600, in a 0700 directory), writes the
    /// header, and records `events` on a thread of its own, which first
    /// syncs the header and the directory entry (so the run does not wait
    /// for the disk to start).
    pub fn create(
        dir: &Path,
        header: &Header,
        events: impl Into<EventFeed>,
    ) -> Result<Recorder, SessionError> {
        Self::create_with(dir, header, events, RecordOptions::default())
    }

    /// [`Recorder::create`] with options.
    pub fn create_with(
        dir: &Path,
        header: &Header,
        events: impl Into<EventFeed>,
        opts: RecordOptions,
    ) -> Result<Recorder, SessionError> {
        ensure_dir(dir)?;
        let path = session_path(dir, &header.session);
        let mut open = OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            open.mode(0o600);
        }
        let file = open.open(&path).map_err(|e| SessionError::io(&path, e))?;
        lock(&file, &path)?;
        let mut line = serde_json::to_vec(header).map_err(|e| SessionError::Invalid {
            path: path.display().to_string(),
            message: format!("cannot encode the header: {e}"),
        })?;
        line.push(b'\n');
        let mut w = BufWriter::with_capacity(64 * 1024, file);
        // Written through now (a process killed from here on leaves a
        // readable file); synced, with the directory entry, by the
        // recorder's thread before anything else: a sync blocks for
        // milliseconds, and the run need not wait for it.
        w.write_all(&line)
            .and_then(|_| w.flush())
            .map_err(|e| SessionError::io(&path, e))?;
        let snaps = Snapshots::new(opts, SessionState::new(header), 0, false);
        Self::spawn(path, w, events.into(), snaps, Some(dir.to_path_buf()))
    }

    /// Continues an existing session file (resume): a torn last line is cut
    /// off first so the next event starts on a line of its own.
    pub fn append(
        reader: &SessionReader,
        events: impl Into<EventFeed>,
    ) -> Result<Recorder, SessionError> {
        Self::append_with(reader, events, RecordOptions::default())
    }

    /// [`Recorder::append`] with options. The first line it writes is a
    /// full snapshot of the state so far, so snapshots written from here on
    /// do not depend on the part of the file before the crash.
    pub fn append_with(
        reader: &SessionReader,
        events: impl Into<EventFeed>,
        opts: RecordOptions,
    ) -> Result<Recorder, SessionError> {
        let path = reader.path().to_path_buf();
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| SessionError::io(&path, e))?;
        lock(&file, &path)?;
        file.set_len(reader.complete_len())
            .map_err(|e| SessionError::io(&path, e))?;
        let mut file = file;
        use std::io::Seek;
        file.seek(std::io::SeekFrom::End(0))
            .map_err(|e| SessionError::io(&path, e))?;
        let state = if opts.snapshot_every > 0 {
            reader.state_at(reader.len())
        } else {
            SessionState::new(reader.header())
        };
        let snaps = Snapshots::new(opts, state, reader.len(), true);
        Self::spawn(
            path,
            BufWriter::with_capacity(64 * 1024, file),
            events.into(),
            snaps,
            None,
        )
    }

    /// Starts the recorder's thread; `new_in` is the directory of a new
    /// file, whose header (already in `w`) and entry the thread syncs first.
    fn spawn(
        path: PathBuf,
        w: BufWriter<File>,
        events: EventFeed,
        snaps: Snapshots,
        new_in: Option<PathBuf>,
    ) -> Result<Recorder, SessionError> {
        // Usually the engine's thread: keep off its CPU from the start,
        // until the engine says where it runs (see `cpu_placement`).
        let caller_cpu = cpu_placement::current_cpu();
        let thread = std::thread::Builder::new()
            .name("agentctl-recorder".into())
            .spawn(move || {
                let mut placement = CpuAvoider::for_this_thread();
                placement.avoid(caller_cpu);
                let mut w = w;
                if let Some(dir) = new_in {
                    w.flush()?;
                    w.get_ref().sync_all()?;
                    // The directory entry must survive a crash too.
                    if let Ok(d) = File::open(dir) {
                        let _ = d.sync_all();
                    }
                }
                write_loop(w, events, snaps, placement)
            })
            .map_err(|e| SessionError::io(&path, e))?;
        Ok(Recorder { path, thread })
    }

    /// The session file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until the recorder wrote `session_ended` (or the stream closed)
    /// and synced the file.
    pub fn finish(self) -> Result<RecordStats, SessionError> {
        match self.thread.join() {
            Ok(r) => r.map_err(|e| SessionError::io(&self.path, e)),
            Err(_) => Err(SessionError::Invalid {
                path: self.path.display().to_string(),
                message: "the recorder thread stopped unexpectedly".into(),
            }),
        }
    }
}

/// Holds an exclusive lock on the session file while it is recorded, so a
/// `resume` of a session that another process is still writing is refused
/// instead of interleaving two writers. The OS drops the lock when the
/// process dies, even by `kill -9`.
fn lock(file: &File, path: &Path) -> Result<(), SessionError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(SessionError::Invalid {
            path: path.display().to_string(),
            message: "the session is being recorded by another agentctl process right now; wait for it to end (or stop it) before resuming".into(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(SessionError::io(path, e)),
    }
}

/// The recorder's own fold of the session, written out as a snapshot line
/// every `every` events (see [`snapshot`]).
struct Snapshots {
    every: usize,
    state: SessionState,
    /// Event lines in the file so far.
    at: usize,
    /// Position of the last snapshot line.
    base: usize,
    /// Write a full snapshot before the first event (a resumed session).
    full_first: bool,
    delta: Vec<u8>,
    line: Vec<u8>,
}

impl Snapshots {
    fn new(opts: RecordOptions, mut state: SessionState, at: usize, full_first: bool) -> Self {
        state.track_changes();
        Snapshots {
            every: opts.snapshot_every,
            state,
            at,
            base: 0,
            full_first: full_first && opts.snapshot_every > 0,
            delta: Vec::new(),
            line: Vec::new(),
        }
    }

    fn event(&mut self, ev: &Event, w: &mut BufWriter<File>) -> std::io::Result<()> {
        if self.every == 0 {
            return Ok(());
        }
        self.state.apply(ev);
        self.at += 1;
        if self.at.is_multiple_of(self.every) {
            self.write(w, false)?;
        }
        Ok(())
    }

    fn write(&mut self, w: &mut BufWriter<File>, full: bool) -> std::io::Result<()> {
        self.delta.clear();
        self.state
            .write_delta(full, &mut self.delta)
            .map_err(std::io::Error::other)?;
        self.line.clear();
        let base = if full { self.at } else { self.base };
        snapshot::encode(self.at, base, &self.delta, &mut self.line);
        self.base = self.at;
        w.write_all(&self.line)
    }
}

fn write_loop(
    mut w: BufWriter<File>,
    mut rx: EventFeed,
    mut snaps: Snapshots,
    mut placement: CpuAvoider,
) -> Result<RecordStats, std::io::Error> {
    let mut stats = RecordStats::default();
    let mut line = Vec::with_capacity(512);
    if snaps.full_first {
        snaps.write(&mut w, true)?;
    }
    let mut write =
        |w: &mut BufWriter<File>, ev: &Event, stats: &mut RecordStats| -> std::io::Result<()> {
            line.clear();
            serde_json::to_writer(&mut line, ev).map_err(std::io::Error::other)?;
            line.push(b'\n');
            stats.events += 1;
            w.write_all(&line)?;
            snaps.event(ev, w)
        };
    lower_priority();
    let poll = POLL;
    let mut idle = 0;
    let mut batch = EventBatch::new();
    let mut have = false;
    loop {
        // Group commit: everything already queued is written, then one
        // sync covers it.
        let (mut durable, mut ended, mut closed, mut wrote) = (false, false, false, false);
        placement.avoid(rx.sender_cpu());
        while !ended {
            if !have {
                match rx.take(&mut batch) {
                    Ok(()) => {}
                    Err(FeedEmpty::Empty) => break,
                    Err(FeedEmpty::Closed) => {
                        closed = true;
                        break;
                    }
                }
            }
            have = false;
            for ev in &batch {
                durable |= is_durable(&ev.kind);
                ended = matches!(ev.kind, EventKind::SessionEnded { .. });
                wrote = true;
                write(&mut w, ev, &mut stats)?;
                if ended {
                    break;
                }
            }
            // Freed by the engine's thread, which allocated them.
            rx.give_back(&mut batch);
        }
        if wrote {
            w.flush()?;
            if durable {
                w.get_ref().sync_data()?;
                stats.syncs += 1;
            }
        }
        if ended || closed {
            break;
        }
        idle = if wrote { 0 } else { idle + 1 };
        if idle < IDLE_POLLS && !poll.is_zero() {
            // While events flow, wake on a timer instead of on every send:
            // a sender then never has to wake this thread (a syscall on
            // the engine's thread), and each wake-up drains a batch.
            std::thread::sleep(poll);
            continue;
        }
        // Quiet for a while: sleep until the next event (its sender wakes us).
        idle = 0;
        if !rx.wait(&mut batch) {
            break;
        }
        have = true;
    }
    w.flush()?;
    w.get_ref().sync_data()?;
    Ok(stats)
}
