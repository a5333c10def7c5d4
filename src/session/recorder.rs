//! Writes a session file from the event stream.
//!
//! The engine's emitter must never block, so the recorder takes events from
//! an unbounded receiver on a dedicated thread: a slow disk only lets the
//! queue grow, it never stalls the engine nor drops an event. Appends are
//! buffered; the file is flushed whenever the queue runs dry and synced
//! (`fsync`) after every event that acknowledges a result (see
//! [`is_durable`]). Syncs are group commits: events already queued are
//! written first, so one sync covers a burst of completions.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use tokio::sync::mpsc::UnboundedReceiver;

use super::{Header, SessionError, SessionReader, ensure_dir, session_path};
use crate::event::{Event, EventKind};

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

/// Events after which the file is synced: a result the session acknowledged
/// must survive a crash.
pub fn is_durable(kind: &EventKind) -> bool {
    // Budget pauses (issue #3) belong here too once they exist.
    matches!(
        kind,
        EventKind::TaskCompleted { .. }
            | EventKind::GateDecided { .. }
            | EventKind::SessionEnded { .. }
    )
}

impl Recorder {
    /// Creates `DIR/<session>.jsonl` (0600, in a 0700 directory), writes and
    /// syncs the header, and records `events` on a thread of its own.
    pub fn create(
        dir: &Path,
        header: &Header,
        events: UnboundedReceiver<Event>,
    ) -> Result<Recorder, SessionError> {
        ensure_dir(dir)?;
        let path = session_path(dir, &header.session);
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path).map_err(|e| SessionError::io(&path, e))?;
        lock(&file, &path)?;
        let mut line = serde_json::to_vec(header).map_err(|e| SessionError::Invalid {
            path: path.display().to_string(),
            message: format!("cannot encode the header: {e}"),
        })?;
        line.push(b'\n');
        let mut w = BufWriter::with_capacity(64 * 1024, file);
        w.write_all(&line)
            .and_then(|_| w.flush())
            .and_then(|_| w.get_ref().sync_all())
            .map_err(|e| SessionError::io(&path, e))?;
        // The directory entry must survive a crash too.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Self::spawn(path, w, events)
    }

    /// Continues an existing session file (resume): a torn last line is cut
    /// off first so the next event starts on a line of its own.
    pub fn append(
        reader: &SessionReader,
        events: UnboundedReceiver<Event>,
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
        Self::spawn(path, BufWriter::with_capacity(64 * 1024, file), events)
    }

    fn spawn(
        path: PathBuf,
        w: BufWriter<File>,
        events: UnboundedReceiver<Event>,
    ) -> Result<Recorder, SessionError> {
        let thread = std::thread::Builder::new()
            .name("agentctl-recorder".into())
            .spawn(move || write_loop(w, events))
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

fn write_loop(
    mut w: BufWriter<File>,
    mut rx: UnboundedReceiver<Event>,
) -> Result<RecordStats, std::io::Error> {
    let mut stats = RecordStats::default();
    let mut line = Vec::with_capacity(512);
    let mut write = |w: &mut BufWriter<File>, ev: &Event, stats: &mut RecordStats| {
        line.clear();
        serde_json::to_writer(&mut line, ev).map_err(std::io::Error::other)?;
        line.push(b'\n');
        stats.events += 1;
        w.write_all(&line)
    };
    while let Some(first) = rx.blocking_recv() {
        let mut durable = is_durable(&first.kind);
        let mut ended = matches!(first.kind, EventKind::SessionEnded { .. });
        write(&mut w, &first, &mut stats)?;
        // Group commit: take what is already queued before syncing.
        while !ended && let Ok(ev) = rx.try_recv() {
            durable |= is_durable(&ev.kind);
            ended = matches!(ev.kind, EventKind::SessionEnded { .. });
            write(&mut w, &ev, &mut stats)?;
        }
        w.flush()?;
        if durable {
            w.get_ref().sync_data()?;
            stats.syncs += 1;
        }
        if ended {
            break;
        }
    }
    w.flush()?;
    w.get_ref().sync_data()?;
    Ok(stats)
}
