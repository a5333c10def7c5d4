//! Time limits per call and per task, and the built-in ones
//! (`resilience::timeout` enforces them).

use std::time::Duration;

/// Built-in limit of one provider call when neither the node, the agent
/// nor `[defaults]` sets `timeout_ms`: 5 minutes (a long reply from a slow
/// model fits; a silent endpoint does not hold a task forever).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Built-in limit of one task (every attempt, backoff and fallback) when
/// nothing sets `task_timeout_ms`: 30 minutes.
pub const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(1800);

/// The time limits of an agent's work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// One provider call.
    pub call: Option<Duration>,
    /// A whole task: every attempt, retry delay and fallback together.
    pub task: Option<Duration>,
}

impl Timeouts {
    /// The built-in limits ([`DEFAULT_CALL_TIMEOUT`], [`DEFAULT_TASK_TIMEOUT`]).
    pub const BUILT_IN: Timeouts = Timeouts {
        call: Some(DEFAULT_CALL_TIMEOUT),
        task: Some(DEFAULT_TASK_TIMEOUT),
    };
}
