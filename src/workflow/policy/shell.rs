//! An agent's `shell` confinement settings (`tools::shell` runs commands
//! under them).

use std::path::PathBuf;
use std::time::Duration;

/// Default time limit of one shell call.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Default cap of stdout and of stderr, each.
pub const DEFAULT_MAX_OUTPUT: usize = 64 * 1024;
/// An agent's validated `shell` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellConfig {
    /// Working directory: the workflow file's folder.
    pub cwd: PathBuf,
    /// Variables set for the command.
    pub env: Vec<(String, String)>,
    /// Variables passed through from agentctl's own environment, by name.
    pub inherit_env: Vec<String>,
    /// Kill the process group after this long.
    pub timeout: Duration,
    /// Cap of stdout and of stderr, each, in bytes.
    pub max_output_bytes: usize,
}
