//! Sessions: every run is recorded as one append-only JSONL file — a
//! [`Header`] line, then every event in `seq` order. The [`recorder`] writes
//! it from the event stream (never a second source of truth), the
//! [`reader`] reads it back tolerating a torn last line, [`fold`] turns the
//! events into a summary (for `sessions list/show`, exports and resume) and
//! [`export`] renders Markdown or JSON.

mod consistency;
pub mod export;
pub mod fold;
pub mod fork;
pub mod fork_edit;
pub mod fork_effect;
pub mod fork_point;
pub mod reader;
pub mod recorder;
mod restore;
pub mod snapshot;
pub mod time_offset;
pub mod trust;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::workflow::model::Workflow;

pub use fold::SessionState;
pub use reader::SessionReader;
pub use recorder::{RECORD_QUEUE, Recorder};

/// Format version of session files this build writes (and the newest it
/// reads). Version 2 added snapshot lines (see [`snapshot`]); version 1
/// files have none and are read the same way otherwise.
pub const FORMAT_VERSION: u32 = 2;

/// Marker in every header (`"format": "agentctl-session"`).
pub const FORMAT_NAME: &str = "agentctl-session";

/// Environment variable that overrides the default session directory.
pub const DIR_ENV: &str = "AGENTCTL_SESSION_DIR";

/// The first line of a session file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Format version ([`FORMAT_VERSION`] when written by this build).
    pub version: u32,
    /// agentctl version that started the session.
    pub agentctl: String,
    /// Session id (also the file's name).
    pub session: String,
    /// Microseconds since the Unix epoch.
    pub started_at: u64,
    /// The workflow as it was run.
    pub workflow: WorkflowRecord,
    /// Seed of every random choice.
    pub seed: u64,
    /// The input the run started with (`--input` included).
    pub input: Value,
    /// Which provider and model each agent used. Only these names are
    /// recorded: keys and other settings never reach a session file.
    pub providers: Vec<AgentProvider>,
    /// The session this one was forked from, and where (see [`fork`]).
    /// Absent in sessions that are not forks, so their headers (and MACs)
    /// read and verify as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork: Option<fork::ForkOrigin>,
    /// This user's MAC of the header (see [`trust`]): present when the
    /// user's own agentctl recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// The workflow of a session: enough to run it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRecord {
    /// Workflow name.
    pub name: String,
    /// File path or `builtin:NAME`.
    pub origin: String,
    /// [`content_hash`] of `text`.
    pub hash: String,
    /// The file's text.
    pub text: String,
}

/// One agent's provider settings, secrets removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentProvider {
    /// Agent id.
    pub agent: String,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
}

impl Header {
    /// The header of a new session.
    pub fn new(
        session: &str,
        wf: &Workflow,
        text: &str,
        origin: &str,
        seed: u64,
        started_at: u64,
    ) -> Header {
        Header {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            agentctl: env!("CARGO_PKG_VERSION").into(),
            session: session.into(),
            started_at,
            workflow: WorkflowRecord {
                name: wf.name.clone(),
                origin: origin.into(),
                hash: content_hash(text),
                text: text.into(),
            },
            seed,
            input: wf.input.clone(),
            providers: wf
                .agents
                .iter()
                .map(|a| AgentProvider {
                    agent: a.id.to_string(),
                    provider: a.provider.clone(),
                    model: a.model.to_string(),
                })
                .collect(),
            fork: None,
            mac: None,
        }
    }
}

/// A stable content hash (FNV-1a, 64 bit, hex), to notice that a workflow
/// file changed since it was recorded. Not a security measure.
pub fn content_hash(text: &str) -> String {
    format!("fnv1a64:{:016x}", fnv1a64(text.as_bytes()))
}

/// FNV-1a, 64 bit.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Errors of the session store.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a session, or its header is damaged.
    #[error("{path}: {message}")]
    Invalid {
        /// The path.
        path: String,
        /// What is wrong, and how to fix it.
        message: String,
    },
    /// No session matches.
    #[error("{0}")]
    NotFound(String),
}

impl SessionError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        SessionError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The session directory: `explicit` (`--session-dir`), else
/// `$AGENTCTL_SESSION_DIR`, else the user data dir's `agentctl/sessions`.
pub fn session_dir(explicit: Option<&Path>) -> Result<PathBuf, SessionError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(DIR_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    directories::ProjectDirs::from("", "", "agentctl")
        .map(|d| d.data_dir().join("sessions"))
        .ok_or_else(|| {
            SessionError::NotFound(
                "cannot find a home directory for sessions; pass --session-dir DIR".into(),
            )
        })
}

/// Creates the directory (and parents) owner-only (0700). An existing
/// directory is left as it is (it may be one the user shares on purpose);
/// session files are owner-only in any case.
pub fn ensure_dir(dir: &Path) -> Result<(), SessionError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| SessionError::io(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The umask may have loosened the mode asked for: set it exactly.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| SessionError::io(dir, e))?;
    }
    Ok(())
}

/// The path of a session id in `dir`.
pub fn session_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.jsonl"))
}

/// Every session file in `dir`, newest first (ids sort by start time).
pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>, SessionError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SessionError::io(dir, e)),
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files.reverse();
    Ok(files)
}

/// Finds a session by path, id or unique id prefix.
pub fn locate(dir: &Path, what: &str) -> Result<PathBuf, SessionError> {
    let as_path = Path::new(what);
    if what.ends_with(".jsonl") || what.contains(std::path::MAIN_SEPARATOR) {
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        return Err(SessionError::NotFound(format!("no session file at {what}")));
    }
    let files = list_files(dir)?;
    let id_of = |p: &PathBuf| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if let Some(p) = files.iter().find(|p| id_of(p) == what) {
        return Ok(p.clone());
    }
    let hits: Vec<&PathBuf> = files
        .iter()
        .filter(|p| id_of(p).starts_with(what))
        .collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(SessionError::NotFound(format!(
            "no session `{what}` in {}\n  = hint: agentctl sessions list{}",
            dir.display(),
            if files.is_empty() {
                " (the directory has none; pass --session-dir DIR if they are elsewhere)"
            } else {
                ""
            }
        ))),
        many => Err(SessionError::NotFound(format!(
            "`{what}` matches {} sessions ({}…); give more of the id",
            many.len(),
            many.iter()
                .take(3)
                .map(|p| id_of(p))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_found_by_id_prefix_or_path_and_ambiguity_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["1700000000-aaaaa", "1700000001-bbbbb", "1800000000-ccccc"] {
            std::fs::write(session_path(dir.path(), id), "x").unwrap();
        }
        let d = dir.path();
        assert!(
            locate(d, "1700000001-bbbbb")
                .unwrap()
                .ends_with("1700000001-bbbbb.jsonl")
        );
        assert!(locate(d, "18").unwrap().ends_with("1800000000-ccccc.jsonl"));
        let e = locate(d, "17").unwrap_err().to_string();
        assert!(e.contains("matches 2 sessions"), "{e}");
        let e = locate(d, "19").unwrap_err().to_string();
        assert!(e.contains("no session `19`"), "{e}");
        let p = session_path(d, "1800000000-ccccc");
        assert_eq!(locate(d, p.to_str().unwrap()).unwrap(), p);
        let listed = list_files(d).unwrap();
        assert!(
            listed[0].ends_with("1800000000-ccccc.jsonl"),
            "newest first"
        );
    }

    #[test]
    fn the_content_hash_is_stable_and_sensitive() {
        assert_eq!(content_hash(""), "fnv1a64:cbf29ce484222325");
        assert_ne!(content_hash("count = 600"), content_hash("count = 601"));
    }
}
