//! (filled in by the workflow work)
