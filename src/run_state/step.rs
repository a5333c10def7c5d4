//! Step mode, as the stream tells it: on or off, and what waits for `n`.

use serde::{Deserialize, Serialize};

/// Step mode and the node waiting for a step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    /// Step mode as last reported (`--step` sets it without an event; a
    /// node waiting for a step turns it on too).
    pub on: bool,
    /// A debate or vote node waiting for a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<StepWait>,
}

impl StepState {
    /// Off with nothing waiting (then snapshots leave it out).
    pub fn is_off(&self) -> bool {
        !self.on && self.waiting.is_none()
    }
}

/// What a node in step mode waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepWait {
    /// Node id.
    pub node: String,
    /// Round.
    pub round: u32,
    /// Agent about to act (absent when a moderator picks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// `turn` or `ballot`.
    pub what: String,
}
