//! One agent's totals as the stream tells them.

use serde::{Deserialize, Serialize};

use crate::event::{Id, Usage};

/// One agent's counters. Serialised (session snapshots and exports) under
/// the names the session summary always used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentRun {
    /// Agent id.
    #[serde(skip)]
    pub id: Id,
    /// Provider calls started.
    pub calls: u64,
    /// Calls that failed.
    pub errors: u64,
    /// Tasks it completed.
    pub completed: u64,
    /// Tasks that failed on it.
    #[serde(default)]
    pub failed: u64,
    /// Tokens its replies spent.
    pub usage: Usage,
    /// Summed call latency, ms.
    pub latency_ms: f64,
    /// Tasks in progress on it now (derived from the tasks).
    #[serde(skip)]
    pub active: u32,
}
