//! What a kind's `compile` may use while it checks its spec: the narrow
//! context each `kinds/<kind>.rs` compiles against. It locates keys and
//! values in the file's span tree, reports errors at them, and resolves
//! references to agents and nodes, without knowing the whole workflow
//! spec (validation, above the kinds, builds it and owns the rest).

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

use super::NodeKindName;
use super::NodeKindName as K;
use crate::workflow::diagnostics::{
    Diagnostic, LineIndex, Severity, did_you_mean, floor_char_boundary,
};
use crate::workflow::expr::{Expr, ExprError};
use crate::workflow::index::NodeIdx;
use crate::workflow::source_tree::SourceValue;
use crate::workflow::span::Spanned;
use crate::workflow::template::Template;

/// Variables expressions and templates may read.
pub const VARIABLES: &[&str] = &[
    "input",
    "output",
    "outputs",
    "item",
    "index",
    "iteration",
    "feedback",
    "message",
    "label",
    "state",
];

/// Whose table a field belongs to, for locating it in the span tree.
#[derive(Clone, Copy)]
pub(crate) enum Owner {
    Meta,
    /// A top-level table such as `[defaults]` or `[budget]` (issue #3).
    Section(&'static str),
    Agent(usize),
    Node(usize),
}

/// The file, what is declared in it, and the diagnostics found so far.
pub(crate) struct CompileContext<'a> {
    pub(crate) text: &'a str,
    /// Line starts of `text`: thousands of errors must not each rescan it.
    pub(crate) lines: LineIndex<'a>,
    pub(crate) origin: &'a str,
    /// The parsed file, for locating keys and values.
    pub(crate) tree: &'a SourceValue,
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
    /// Agent id → first index.
    pub(crate) agent_ids: HashMap<&'a str, usize>,
    /// Node id → first index.
    pub(crate) node_ids: HashMap<&'a str, usize>,
    /// Agent ids and capabilities, in file order.
    pub(crate) agent_names: Vec<&'a str>,
    pub(crate) agent_capabilities: Vec<&'a [String]>,
    /// Node ids, and each node's kind with its span, in file order.
    pub(crate) node_names: Vec<&'a str>,
    pub(crate) node_kinds: Vec<(NodeKindName, Option<Range<usize>>)>,
    /// Containment edges: child and the location of the reference.
    pub(crate) edges: Vec<Vec<(NodeIdx, Range<usize>)>>,
    /// Agents some node names.
    pub(crate) used_agents: HashSet<usize>,
}

impl<'a> CompileContext<'a> {
    /// The owner's table in the tree.
    pub(crate) fn table(&self, o: Owner) -> Option<&'a SourceValue> {
        let tree = self.tree;
        let section = |name: &str| tree.get(name).map(|e| &e.value);
        match o {
            Owner::Meta => section("workflow"),
            Owner::Section(name) => section(name),
            Owner::Agent(i) => section("agents")?.at(i),
            Owner::Node(i) => section("nodes")?.at(i),
        }
    }

    /// Where the owner starts (its `[[table]]` header or `{`), else the file.
    pub(crate) fn owner_start(&self, o: Owner) -> Range<usize> {
        let at = self.table(o).map_or(0, |t| t.span.start);
        at..at
    }

    /// The key `key` of the owner's table (or of a table nested in it).
    pub(crate) fn key_span(&self, o: Owner, key: &str) -> Option<Range<usize>> {
        self.table(o)?.find_key(key).map(|e| e.key_span.clone())
    }

    /// The key `entry` of the table under `key` (e.g. an agent of
    /// `weights = { a = 2 }`), else `key` itself, else the owner.
    pub(crate) fn entry_key_span(&self, o: Owner, key: &str, entry: &str) -> Range<usize> {
        let Some(field) = self.table(o).and_then(|t| t.find_key(key)) else {
            return self.owner_start(o);
        };
        field
            .value
            .get(entry)
            .map_or_else(|| field.key_span.clone(), |e| e.key_span.clone())
    }

    /// A value: its span, else the scalar written `needle` under its key,
    /// else the key, else the start of the owner.
    pub(crate) fn value_span(
        &self,
        o: Owner,
        key: &str,
        span: &Option<Range<usize>>,
        needle: &str,
    ) -> Range<usize> {
        if let Some(s) = span {
            return s.clone();
        }
        let Some(table) = self.table(o) else {
            return self.owner_start(o);
        };
        match table.find_key(key) {
            Some(e) => e
                .value
                .find_scalar(needle)
                .map_or_else(|| e.key_span.clone(), |v| v.span.clone()),
            None => table
                .find_scalar(needle)
                .map_or_else(|| self.owner_start(o), |v| v.span.clone()),
        }
    }

    /// A string value's location.
    pub(crate) fn str_span(&self, o: Owner, key: &str, v: &Spanned<String>) -> Range<usize> {
        self.value_span(o, key, &v.span, &quote(&v.value))
    }

    /// A field as a whole: its key when found, else its value.
    pub(crate) fn field_span(
        &self,
        o: Owner,
        key: &str,
        span: Option<Range<usize>>,
    ) -> Range<usize> {
        if let Some(k) = self.key_span(o, key) {
            return k;
        }
        span.unwrap_or_else(|| self.owner_start(o))
    }

    pub(crate) fn kind_span(&self, i: usize) -> Range<usize> {
        let (kind, span) = &self.node_kinds[i];
        self.value_span(Owner::Node(i), "kind", span, &quote(kind.as_str()))
    }

    pub(crate) fn error(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = Diagnostic::at_span_in(Severity::Error, self.origin, &self.lines, span, message)
            .with_hint(hint);
        self.errors.push(d);
    }

    pub(crate) fn line_of(
        &self,
        span: &Option<Range<usize>>,
        o: Owner,
        key: &str,
        value: &str,
    ) -> usize {
        let s = self.value_span(o, key, span, &quote(value));
        self.lines.line_col(s.start).0
    }

    /// Resolves a node reference from node `from`, recording the edge when
    /// `contains` (for the cycle check).
    pub(crate) fn node_ref(
        &mut self,
        from: usize,
        key: &str,
        r: &Spanned<String>,
        contains: bool,
    ) -> Option<NodeIdx> {
        let at = self.str_span(Owner::Node(from), key, r);
        match self.node_ids.get(r.value.as_str()) {
            Some(&i) => {
                if contains {
                    self.edges[from].push((i, at));
                }
                Some(i)
            }
            None => {
                let hint = suggest_hint(&r.value, &self.node_names, "declared nodes");
                self.error(at, format!("unknown node `{}` in `{key}`", r.value), hint);
                None
            }
        }
    }

    pub(crate) fn agent_ref(
        &mut self,
        from: usize,
        key: &str,
        r: &Spanned<String>,
    ) -> Option<usize> {
        match self.agent_ids.get(r.value.as_str()) {
            Some(&i) => {
                self.used_agents.insert(i);
                Some(i)
            }
            None => {
                let at = self.str_span(Owner::Node(from), key, r);
                let hint = if self.agent_names.is_empty() {
                    "declare it in an `[[agents]]` table".to_string()
                } else {
                    suggest_hint(&r.value, &self.agent_names, "declared agents")
                };
                self.error(at, format!("unknown agent `{}` in `{key}`", r.value), hint);
                None
            }
        }
    }

    /// An integer limit: `default` when absent, an error below `min`.
    pub(crate) fn int(
        &mut self,
        i: usize,
        key: &str,
        v: &Option<Spanned<i64>>,
        min: i64,
        default: u32,
    ) -> u32 {
        let Some(v) = v else { return default };
        let at = self.value_span(Owner::Node(i), key, &v.span, &v.value.to_string());
        if v.value < min {
            let what = if min == 0 {
                "cannot be negative"
            } else {
                "must be at least 1"
            };
            self.error(
                at,
                format!("`{key}` {what}, got {}", v.value),
                format!("set `{key}` to {min} or more"),
            );
            default
        } else if let Ok(x) = u32::try_from(v.value) {
            x
        } else {
            self.error(
                at,
                format!("`{key}` is too large ({})", v.value),
                format!("use at most {}", u32::MAX),
            );
            default
        }
    }

    /// A positive duration in milliseconds.
    pub(crate) fn millis(
        &mut self,
        i: usize,
        key: &str,
        v: &Option<Spanned<u64>>,
    ) -> Option<Duration> {
        let v = v.as_ref()?;
        if v.value == 0 {
            let at = self.value_span(Owner::Node(i), key, &v.span, "0");
            self.error(
                at,
                format!("`{key}` must be at least 1"),
                format!("set `{key}` to a positive number of milliseconds"),
            );
        }
        Some(Duration::from_millis(v.value))
    }

    pub(crate) fn require(&mut self, i: usize, kind: NodeKindName, what: &str, hint: &str) {
        let at = self.kind_span(i);
        let article = if matches!(kind, K::Agent | K::On) {
            "an"
        } else {
            "a"
        };
        self.error(
            at,
            format!("{article} `{}` node needs {what}", kind.as_str()),
            hint,
        );
    }

    pub(crate) fn expr(&mut self, i: usize, key: &str, v: &Spanned<String>) -> Option<Expr> {
        match Expr::parse(&v.value) {
            Ok(e) => {
                let refs: Vec<(String, usize)> = e
                    .root_refs()
                    .iter()
                    .map(|(n, a)| (n.to_string(), *a))
                    .collect();
                self.check_vars(i, key, v, &refs);
                Some(e)
            }
            Err(err) => {
                self.expr_error(i, key, v, &err, "expression");
                None
            }
        }
    }

    pub(crate) fn template(
        &mut self,
        i: usize,
        key: &str,
        v: &Option<Spanned<String>>,
    ) -> Template {
        let Some(v) = v else {
            return Template::default();
        };
        match Template::parse(&v.value) {
            Ok(t) => {
                let refs: Vec<(String, usize)> = t
                    .root_refs()
                    .iter()
                    .map(|(n, a)| (n.to_string(), *a))
                    .collect();
                self.check_vars(i, key, v, &refs);
                t
            }
            Err(err) => {
                self.expr_error(i, key, v, &err, "template");
                Template::default()
            }
        }
    }

    pub(crate) fn expr_error(
        &mut self,
        i: usize,
        key: &str,
        v: &Spanned<String>,
        err: &ExprError,
        what: &str,
    ) {
        let at = self.inner_span(i, key, v, err.offset);
        let hint = if what == "template" {
            "placeholders are `{{ expression }}`; write `{{ \"{{\" }}` for a literal `{{`"
        } else {
            "expressions look like `input.severity == \"high\" and len(outputs.review.issues) > 0`"
        };
        self.error(
            at,
            format!("invalid {what} in `{key}`: {}", err.message),
            hint,
        );
    }

    pub(crate) fn check_vars(
        &mut self,
        i: usize,
        key: &str,
        v: &Spanned<String>,
        refs: &[(String, usize)],
    ) {
        for (name, offset) in refs {
            if VARIABLES.contains(&name.as_str()) {
                continue;
            }
            let start = self.inner_span(i, key, v, *offset).start;
            let hint = match did_you_mean(name, VARIABLES.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? available: {}", VARIABLES.join(", ")),
                None => format!("available: {}", VARIABLES.join(", ")),
            };
            self.error(
                start..start + name.len(),
                format!("unknown variable `{name}` in `{key}`"),
                hint,
            );
        }
    }

    /// Location of byte `offset` of a string value's content: the value's
    /// start plus its opening quote, when the raw text matches the value
    /// (no escapes before it); else the whole value.
    pub(crate) fn inner_span(
        &self,
        i: usize,
        key: &str,
        v: &Spanned<String>,
        offset: usize,
    ) -> Range<usize> {
        let whole = self.str_span(Owner::Node(i), key, v);
        let text = self.text;
        let start = floor_char_boundary(text, whole.start);
        let rest = &text[start..];
        let mut skip = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            3
        } else if rest.starts_with('"') || rest.starts_with('\'') {
            1
        } else {
            0
        };
        // TOML trims a newline right after the opening `"""`.
        if skip == 3 {
            if rest[3..].starts_with("\r\n") {
                skip += 2;
            } else if rest[3..].starts_with('\n') {
                skip += 1;
            }
        }
        let content = start + skip;
        let prefix = v.value.get(..offset).unwrap_or(&v.value);
        if text.get(content..).is_some_and(|t| t.starts_with(prefix)) {
            let at = content + prefix.len();
            at..at + 1
        } else {
            whole
        }
    }

    /// A required, non-empty list of node references (containment).
    pub(crate) fn node_list(
        &mut self,
        i: usize,
        key: &str,
        list: &Option<Vec<Spanned<String>>>,
        kind: NodeKindName,
        example: &str,
    ) -> Vec<NodeIdx> {
        match list {
            Some(l) if !l.is_empty() => l
                .iter()
                .filter_map(|r| self.node_ref(i, key, r, true))
                .collect(),
            Some(_) => {
                let at = self.field_span(Owner::Node(i), key, None);
                self.error(
                    at,
                    format!("`{key}` is empty"),
                    format!("list at least one node: {example}"),
                );
                vec![]
            }
            None => {
                self.require(i, kind, &format!("`{key}`"), &format!("add {example}"));
                vec![]
            }
        }
    }
}

/// "did you mean `x`?" when one name is close, else the list of names.
pub(crate) fn suggest_hint(word: &str, names: &[&str], what: &str) -> String {
    if let Some(s) = did_you_mean(word, names.iter().copied()) {
        return format!("did you mean `{s}`?");
    }
    if names.is_empty() {
        return format!("there are no {what}");
    }
    let shown: Vec<String> = names.iter().take(8).map(|n| format!("`{n}`")).collect();
    let more = if names.len() > 8 { ", ..." } else { "" };
    format!("{what}: {}{more}", shown.join(", "))
}

/// A string as the file writes it, for finding it in the span tree.
pub(crate) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Checks a NATS-style subject pattern.
pub(crate) fn check_topic(t: &str) -> Result<(), &'static str> {
    if t.is_empty() {
        return Err("it is empty");
    }
    let tokens: Vec<&str> = t.split('.').collect();
    for (i, tok) in tokens.iter().enumerate() {
        if tok.is_empty() {
            return Err("it has an empty token");
        }
        if tok.chars().any(char::is_whitespace) {
            return Err("it contains whitespace");
        }
        if *tok == ">" && i + 1 != tokens.len() {
            return Err("`>` must be the last token");
        }
        if tok.len() > 1 && (tok.contains('*') || tok.contains('>')) {
            return Err("`*` and `>` must be whole tokens");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics() {
        assert!(check_topic("a.b.c").is_ok());
        assert!(check_topic("a.*.c").is_ok());
        assert!(check_topic("a.>").is_ok());
        assert!(check_topic("").is_err());
        assert!(check_topic("a..b").is_err());
        assert!(check_topic("a.>.b").is_err());
        assert!(check_topic("a.b*").is_err());
    }
}
