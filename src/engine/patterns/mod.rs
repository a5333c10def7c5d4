//! One file per pattern (node kind).

pub(crate) mod agent;
pub(crate) mod batch;
pub(crate) mod consensus;
pub(crate) mod debate;
pub(crate) mod failures;
pub(crate) mod gate;
pub(crate) mod map;
pub(crate) mod parallel;
pub(crate) mod plan;
pub(crate) mod resolve;
pub(crate) mod router;
pub(crate) mod sequence;
pub(crate) mod state_machine;
pub(crate) mod trigger;
