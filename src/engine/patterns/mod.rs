//! One file per node kind, named after it (the kind's compiled form is
//! `workflow/kinds/<kind>.rs`), plus what several kinds share.

pub(crate) mod agent;
pub(crate) mod batch;
pub(crate) mod debate;
pub(crate) mod failures;
pub(crate) mod gate;
pub(crate) mod judging;
pub(crate) mod loop_node;
pub(crate) mod map;
pub(crate) mod on;
pub(crate) mod parallel;
pub(crate) mod plan;
pub(crate) mod resolve;
pub(crate) mod router;
pub(crate) mod sequence;
pub(crate) mod tally;
pub(crate) mod vote;
