//! One file per node kind, named after it (the kind's compiled form is
//! `workflow/kinds/<kind>.rs`), plus what several kinds share.

/// One runner module per kind, from the table of kinds.
macro_rules! declare_runners {
    ($($(#[$doc:meta])* $variant:ident: $module:ident::{$node:ident, $spec:ident} $($boxed:ident)? = $name:literal,)+) => {
        $(pub(crate) mod $module;)+
    };
}
crate::workflow::kinds::with_node_kinds!(declare_runners);

pub(crate) mod batch;
pub(crate) mod failures;
pub(crate) mod judging;
pub(crate) mod resolve;
pub(crate) mod settled;
pub(crate) mod tally;
