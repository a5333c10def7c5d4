//! One opening of a human gate and its decision.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One opening of a gate (a denied gate opens again at the next revision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateOpening {
    /// Gate task id.
    pub gate: String,
    /// Node.
    pub node: String,
    /// Revision (0 first).
    pub revision: u32,
    /// What was shown.
    pub artifact: Value,
    /// `Some((approved, comment))` once decided.
    pub decision: Option<(bool, Option<String>)>,
}
