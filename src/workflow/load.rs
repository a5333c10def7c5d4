//! Loading a workflow file: read it (or a built-in), parse TOML or JSON,
//! then validate and compile it. Every failure is a located [`Diagnostic`].

use std::path::Path;

use super::builtins;
use super::diagnostics::{Diagnostic, Diagnostics, did_you_mean};
use super::model::Workflow;
use super::provider_catalog::ProviderCatalog;
use super::source_file;
use super::source_tree::{self, SourceValue};
use super::spec::WorkflowSpec;
use super::validate::{self, Source};

/// Syntax of a workflow file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML (the default).
    Toml,
    /// JSON with the same schema.
    Json,
}

impl Format {
    /// Format for a path: `.json` is JSON, anything else TOML.
    pub fn from_path(path: &str) -> Format {
        let json = Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if json { Format::Json } else { Format::Toml }
    }
}

/// A loaded, validated workflow with its source.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// What the engine runs.
    pub workflow: Workflow,
    /// The file as parsed.
    pub spec: WorkflowSpec,
    /// The file's text.
    pub text: String,
    /// Path, or `builtin:NAME`.
    pub origin: String,
    /// Warnings (unreachable nodes, unused agents).
    pub warnings: Diagnostics,
}

/// Loads `builtin:NAME` or a file path (format by extension), with only
/// the built-in providers known.
pub fn load_source(arg: &str) -> Result<Loaded, Diagnostics> {
    load_source_with(arg, &ProviderCatalog::builtin())
}

/// Loads `builtin:NAME` or a file path (format by extension); agents may
/// name the providers of `providers`.
pub fn load_source_with(arg: &str, providers: &ProviderCatalog) -> Result<Loaded, Diagnostics> {
    if let Some(name) = arg.strip_prefix("builtin:") {
        return match builtins::get(name) {
            Some(b) => load_str_with(b.text, arg, Format::Toml, providers),
            None => {
                let names: Vec<&str> = builtins::BUILTINS.iter().map(|b| b.name).collect();
                let hint = match did_you_mean(name, names.iter().copied()) {
                    Some(s) => format!("did you mean `builtin:{s}`?"),
                    None if names.is_empty() => {
                        "there are no built-in workflows in this build".to_string()
                    }
                    None => format!("available: {}", names.join(", ")),
                };
                Err(
                    Diagnostic::file_error(arg, format!("unknown built-in workflow `{name}`"))
                        .with_hint(hint)
                        .into(),
                )
            }
        };
    }
    let text =
        source_file::read_text(Path::new(arg), source_file::MAX_TEXT_BYTES).map_err(|e| {
            Diagnostics::from(
                Diagnostic::file_error(arg, format!("cannot read `{arg}`: {e}"))
                    .with_hint(e.hint()),
            )
        })?;
    load_str_with(&text, arg, Format::from_path(arg), providers)
}

/// Parses, validates and compiles a workflow text with only the built-in
/// providers known; `origin` names it in diagnostics.
pub fn load_str(text: &str, origin: &str, format: Format) -> Result<Loaded, Diagnostics> {
    load_str_with(text, origin, format, &ProviderCatalog::builtin())
}

/// Parses, validates and compiles a workflow text; agents may name the
/// providers of `providers`.
pub fn load_str_with(
    text: &str,
    origin: &str,
    format: Format,
    providers: &ProviderCatalog,
) -> Result<Loaded, Diagnostics> {
    let (tree, spec) = parse(text, origin, format)?;
    let source = Source {
        text,
        tree: &tree,
        origin,
    };
    let (workflow, warnings) = validate::compile(&spec, &source, providers)?;
    Ok(Loaded {
        workflow,
        spec,
        text: text.to_string(),
        origin: origin.to_string(),
        warnings,
    })
}

/// The file's span tree and the spec read from it; a syntax error or a
/// value of the wrong shape is one located diagnostic.
fn parse(
    text: &str,
    origin: &str,
    format: Format,
) -> Result<(SourceValue, WorkflowSpec), Diagnostics> {
    let (tree, syntax) = match format {
        Format::Toml => (source_tree::parse_toml(text), "TOML"),
        Format::Json => (source_tree::parse_json(text), "JSON"),
    };
    let tree = tree.map_err(|e| {
        Diagnostics::from(Diagnostic::error(origin, text, e.span, e.message).with_hint(e.hint))
    })?;
    let spec = source_tree::de::from_tree::<WorkflowSpec>(&tree).and_then(|mut spec| {
        spec.nodes = super::spec::nodes_from_tree(&tree)?;
        Ok(spec)
    });
    let spec = spec.map_err(|e| {
        let hint = e
            .hint
            .unwrap_or_else(|| format!("check the {syntax} syntax here"));
        Diagnostics::from(
            Diagnostic::error(origin, text, e.span.unwrap_or(0..0), e.message).with_hint(hint),
        )
    })?;
    Ok((tree, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(Format::from_path("a/b.json"), Format::Json);
        assert_eq!(Format::from_path("B.JSON"), Format::Json);
        assert_eq!(Format::from_path("a.toml"), Format::Toml);
        assert_eq!(Format::from_path("noext"), Format::Toml);
    }

    #[test]
    fn unreadable_and_unknown_sources() {
        let e = load_source("/nonexistent/dir/flow.toml").unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert!(
            e.0[0]
                .message
                .starts_with("cannot read `/nonexistent/dir/flow.toml`: "),
            "{e}"
        );
        assert_eq!(e.0[0].line, 0);
        let e = load_source("builtin:surely-not-a-builtin").unwrap_err();
        assert!(
            e.0[0]
                .message
                .contains("unknown built-in workflow `surely-not-a-builtin`"),
            "{e}"
        );
        let dir = std::env::temp_dir();
        let e = load_source(dir.to_str().unwrap_or("/")).unwrap_err();
        assert!(e.0[0].message.starts_with("cannot read"), "{e}");
    }

    #[test]
    fn every_builtin_loads() {
        for b in builtins::BUILTINS {
            let origin = format!("builtin:{}", b.name);
            if let Err(e) = load_source(&origin) {
                panic!("{origin} does not load:\n{e}");
            }
        }
    }
}
