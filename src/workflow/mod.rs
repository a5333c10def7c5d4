//! Workflow files: schema, loading, validation with source locations,
//! expressions and templates, graph export, and the built-in examples.

pub mod expr;
pub mod model;
pub mod span;
pub mod spec;
pub mod template;
