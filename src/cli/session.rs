//! Flags and helpers every session-aware subcommand shares.

use std::path::PathBuf;

use clap::Args;

use super::exit;
use agentctl::session::{self, SessionReader};

/// Where sessions live (every subcommand that reads or writes them).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct DirArgs {
    /// Session directory (default: $AGENTCTL_SESSION_DIR, else the user data
    /// dir's agentctl/sessions).
    #[arg(long, value_name = "DIR")]
    pub(crate) session_dir: Option<PathBuf>,
}

impl DirArgs {
    /// The directory, or an error message and exit code 2.
    pub(crate) fn dir(&self) -> Result<PathBuf, i32> {
        session::session_dir(self.session_dir.as_deref()).map_err(|e| {
            eprintln!("error: {e}");
            exit::BAD_INPUT
        })
    }

    /// Opens a session by id, id prefix or path, reporting a torn tail.
    pub(crate) fn open(&self, what: &str) -> Result<SessionReader, i32> {
        let dir = self.dir()?;
        let path = session::locate(&dir, what).map_err(|e| {
            eprintln!("error: {e}");
            exit::BAD_INPUT
        })?;
        let reader = SessionReader::open(&path).map_err(|e| {
            eprintln!("error: {e}");
            exit::BAD_INPUT
        })?;
        if let Some(t) = &reader.torn {
            eprintln!(
                "note: {}: line {} was cut off mid-write ({} bytes, a crash); it is ignored",
                path.display(),
                t.line,
                t.bytes
            );
        }
        for (line, why) in reader.skipped.iter().take(5) {
            eprintln!("warning: {}:{line}: {why}; skipped", path.display());
        }
        for (line, why) in reader.inconsistent.iter().take(5) {
            eprintln!("warning: {}:{line}: {why}", path.display());
        }
        if reader.inconsistent_total > 0 {
            let more = reader.inconsistent_total.saturating_sub(5);
            let more = if more > 0 {
                format!(" ({more} more not shown)")
            } else {
                String::new()
            };
            eprintln!(
                "warning: {}: the session is inconsistent{more}: it was damaged or edited, so its counts and outputs may be wrong",
                path.display()
            );
        }
        Ok(reader)
    }
}

/// Recording flags of `run` and `tui`.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct RecordArgs {
    #[command(flatten)]
    pub(crate) dir: DirArgs,
    /// Do not record this run as a session.
    #[arg(long)]
    pub(crate) no_record: bool,
}

impl RecordArgs {
    /// Where to record a new run (`None`: not recorded).
    pub(crate) fn for_new_run(&self) -> Result<Option<PathBuf>, i32> {
        if self.no_record {
            return Ok(None);
        }
        self.dir.dir().map(Some)
    }
}

/// The origin recorded in a header: an absolute path for files (so `resume`
/// works from another directory), `builtin:NAME` as is.
pub(crate) fn origin_of(origin: &str) -> String {
    if origin.starts_with("builtin:") {
        return origin.to_string();
    }
    std::fs::canonicalize(origin)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| origin.to_string())
}
