//! An agent node's reply schema (`schema` inline or `schema_file`): read,
//! checked against its meta-schema and compiled at load time, so a bad
//! schema is a located error before anything runs.

use std::path::Path;

use serde_json::Value;

use super::Ctx;
use crate::workflow::kinds::compile_context::Owner;
use crate::workflow::reply_schema::ReplySchema;

/// Largest schema file read (a schema is small; this bounds a mistake).
const MAX_SCHEMA_FILE_BYTES: u64 = 1 << 20;

impl Ctx<'_> {
    /// Node `i`'s reply schema, compiled; errors are reported and give none.
    pub(super) fn reply_schema(&mut self, i: usize) -> Option<ReplySchema> {
        let crate::workflow::kinds::KindSpec::Agent(n) = &self.spec.nodes[i].fields else {
            return None;
        };
        let o = Owner::Node(i);
        let (value, key, span) = match (&n.schema, &n.schema_file) {
            (None, None) => return None,
            (Some(_), Some(f)) => {
                let at = self.cx.str_span(o, "schema_file", f);
                self.cx.error(
                    at,
                    "both `schema` and `schema_file` are set",
                    "keep one: an inline `schema = { … }` or a `schema_file`",
                );
                return None;
            }
            (Some(s), None) => (
                s.value.clone(),
                "schema",
                self.cx.field_span(o, "schema", s.span.clone()),
            ),
            (None, Some(f)) => {
                let at = self.cx.str_span(o, "schema_file", f);
                match read_schema_file(self.cx.origin, &f.value) {
                    Ok(v) => (v, "schema_file", at),
                    Err((message, hint)) => {
                        self.cx.error(at, message, hint);
                        return None;
                    }
                }
            }
        };
        if let Some(e) = &n.expect
            && e.value == "text"
        {
            let at = self.cx.str_span(o, "expect", e);
            self.cx.error(
                at,
                format!(
                    "`expect = \"text\"` contradicts `{key}`: a schema means the reply is JSON"
                ),
                "remove `expect`, or the schema",
            );
        }
        match ReplySchema::compile(value) {
            Ok(s) => Some(s),
            Err(why) => {
                self.cx.error(
                    span,
                    format!("`{key}` of node `{}`: {why}", self.spec.nodes[i].id.value),
                    "write a JSON schema (https://json-schema.org), e.g. { type = \"object\", required = [\"answer\"], properties = { answer = { type = \"string\" } } }",
                );
                None
            }
        }
    }
}

/// Reads a schema file named relative to the workflow file (to the current
/// directory for built-ins and workflows built in code).
fn read_schema_file(origin: &str, name: &str) -> Result<Value, (String, String)> {
    let path = super::agent_kind::resolve_cwd(origin, Some(name));
    let shown = path.display();
    let meta = std::fs::metadata(&path).map_err(|e| {
        (
            format!("cannot read schema file `{shown}`: {e}"),
            "schema_file is relative to the workflow file's folder; check the path".to_string(),
        )
    })?;
    if !meta.is_file() || meta.len() > MAX_SCHEMA_FILE_BYTES {
        return Err((
            format!("schema file `{shown}` is not a file of at most {MAX_SCHEMA_FILE_BYTES} bytes"),
            "name a JSON file holding one schema".to_string(),
        ));
    }
    let text = std::fs::read_to_string(Path::new(&path)).map_err(|e| {
        (
            format!("cannot read schema file `{shown}`: {e}"),
            "schema files must be UTF-8 JSON".to_string(),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        (
            format!("schema file `{shown}` is not JSON: {e}"),
            "fix the JSON at that line and column of the schema file".to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use crate::workflow::load::{Format, load_str};

    fn load(node_extra: &str, origin: &str) -> Result<crate::workflow::model::Workflow, String> {
        let text = format!(
            "[workflow]\nname = \"t\"\n[[agents]]\nid = \"a\"\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n{node_extra}\n"
        );
        load_str(&text, origin, Format::Toml)
            .map(|l| l.workflow)
            .map_err(|d| d.to_string())
    }

    #[test]
    fn an_inline_schema_implies_json_and_is_compiled() {
        let w = load(
            r#"schema = { type = "object", required = ["a"] }"#,
            "t.toml",
        )
        .unwrap();
        let p = &w.nodes[0].policy;
        assert!(p.expect_json);
        assert_eq!(p.schema.as_ref().unwrap().value()["required"][0], "a");
    }

    #[test]
    fn a_bad_schema_is_a_located_error() {
        let e = load("schema = { type = \"objekt\" }", "t.toml").unwrap_err();
        assert!(e.contains("t.toml:9"), "{e}");
        assert!(e.contains("invalid JSON schema"), "{e}");
        let e = load(
            "schema = { type = \"object\" }\nexpect = \"text\"",
            "t.toml",
        )
        .unwrap_err();
        assert!(e.contains("contradicts"), "{e}");
    }

    #[test]
    fn schema_files_are_read_relative_to_the_workflow() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("s.json"),
            r#"{"type": "object", "required": ["x"]}"#,
        )
        .unwrap();
        let origin = dir.path().join("wf.toml").display().to_string();
        let w = load("schema_file = \"s.json\"", &origin).unwrap();
        assert_eq!(
            w.nodes[0].policy.schema.as_ref().unwrap().value()["required"][0],
            "x"
        );

        let e = load("schema_file = \"missing.json\"", &origin).unwrap_err();
        assert!(
            e.contains("cannot read schema file") && e.contains(":9:"),
            "{e}"
        );
        std::fs::write(dir.path().join("bad.json"), "{not json").unwrap();
        let e = load("schema_file = \"bad.json\"", &origin).unwrap_err();
        assert!(e.contains("is not JSON"), "{e}");
        let e = load(
            "schema_file = \"s.json\"\nschema = { type = \"object\" }",
            &origin,
        )
        .unwrap_err();
        assert!(e.contains("both `schema` and `schema_file`"), "{e}");
    }
}
