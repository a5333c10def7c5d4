//! Built-in example workflows, embedded in the binary (`builtin:NAME`).

/// A built-in workflow: name, one-line description, TOML text.
pub struct Builtin {
    /// Name used after `builtin:`.
    pub name: &'static str,
    /// One line for `run --list`.
    pub description: &'static str,
    /// The workflow file.
    pub text: &'static str,
}

/// Every built-in workflow.
pub const BUILTINS: &[Builtin] = &[];

/// Looks a built-in up by name.
pub fn get(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}
