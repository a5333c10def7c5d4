//! Workflow files: schema, loading, validation with source locations,
//! expressions and templates, graph export, and the built-in examples.

pub mod builder;
pub mod builtins;
pub mod diagnostics;
pub mod expr;
pub mod graph_export;
pub mod index;
pub mod kinds;
pub mod load;
pub mod model;
pub mod policy;
pub mod policy_spec;
pub mod provider_catalog;
pub mod reach;
pub mod reply_schema;
pub mod source_file;
pub mod source_tree;
pub mod span;
pub mod spec;
pub mod template;
pub mod tool_use;
pub mod validate;
