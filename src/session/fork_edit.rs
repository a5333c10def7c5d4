//! `--set PATH=VALUE`: one change to a workflow's text for a fork. `PATH`
//! is a path into the workflow spec — `input`, `workflow.FIELD`,
//! `agents.ID.FIELD…`, `nodes.ID.FIELD…`, or a top-level table such as
//! `budget.tokens` — checked against the spec's own field lists, so an
//! unknown path names the valid keys. The edited document is written back
//! in the file's format (comments are not kept: the fork's session records
//! the text it ran).

use std::str::FromStr;

use serde_json::{Map, Value};

use crate::workflow::diagnostics::did_you_mean;
use crate::workflow::kinds::KindSpec;
use crate::workflow::load::Format;
use crate::workflow::source_tree::de::struct_fields;
use crate::workflow::spec::{AgentSpec, WorkflowMeta, WorkflowSpec, node_header_fields};

/// One `--set PATH=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct SetArg {
    /// The path, as written.
    pub path: String,
    /// The value, as written (read by the type of the field it sets).
    pub value: String,
}

impl FromStr for SetArg {
    type Err = String;

    fn from_str(s: &str) -> Result<SetArg, String> {
        match s.split_once('=') {
            Some((p, v)) if !p.trim().is_empty() => Ok(SetArg {
                path: p.trim().to_string(),
                value: v.to_string(),
            }),
            _ => Err(format!(
                "`{s}` is not PATH=VALUE; write e.g. --set agents.reviewer.system=\"Be strict.\" or --set input=\"a new goal\""
            )),
        }
    }
}

/// What part of a workflow a `--set` changes (for the fork's warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touches {
    /// The run's input.
    Input,
    /// One agent.
    Agent(String),
    /// One node.
    Node(String),
    /// Something every part may read (a run-wide policy, budget, price…).
    Run,
}

impl SetArg {
    /// The part of the workflow this change touches.
    pub fn touches(&self) -> Touches {
        let parts: Vec<&str> = self.path.split('.').collect();
        match parts.as_slice() {
            ["input"] | ["workflow", "input", ..] => Touches::Input,
            ["agents", id, ..] => Touches::Agent(id.to_string()),
            ["nodes", id, ..] => Touches::Node(id.to_string()),
            _ => Touches::Run,
        }
    }
}

/// A `--set` that cannot be made.
#[derive(Debug, Clone, PartialEq)]
pub struct EditError {
    /// The path, as written.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--set {}: {}\n  = hint: {}",
            self.path, self.message, self.hint
        )
    }
}

impl std::error::Error for EditError {}

/// A workflow text with every `--set` made.
#[derive(Debug, Clone)]
pub struct Edited {
    /// The new text, in the original format.
    pub text: String,
    /// The new input, when `input` was set (a run's input lives outside
    /// the text too: the session header records it).
    pub input: Option<Value>,
}

/// A workflow text as a document of tables, lists and values.
pub fn document(text: &str, format: Format) -> Result<Value, String> {
    match format {
        Format::Toml => {
            toml::from_str(text).map_err(|e| format!("the workflow text is not TOML: {e}"))
        }
        Format::Json => {
            serde_json::from_str(text).map_err(|e| format!("the workflow text is not JSON: {e}"))
        }
    }
}

/// Makes every change in `sets` to `text` (in `format`), in order.
pub fn apply(text: &str, format: Format, sets: &[SetArg]) -> Result<Edited, EditError> {
    let mut doc = document(text, format).map_err(|message| EditError {
        path: sets.first().map(|s| s.path.clone()).unwrap_or_default(),
        message,
        hint: "fork from a session whose workflow loads".into(),
    })?;
    let mut input = None;
    for s in sets {
        let v = set(&mut doc, s)?;
        if s.touches() == Touches::Input && s.path.split('.').count() <= 2 {
            input = Some(v);
        }
    }
    let text = match format {
        Format::Toml => toml::to_string(&doc).map_err(|e| EditError {
            path: sets.last().map(|s| s.path.clone()).unwrap_or_default(),
            message: format!("the changed workflow cannot be written as TOML: {e}"),
            hint: "TOML has no null: give a value, or leave the field out".into(),
        })?,
        Format::Json => serde_json::to_string_pretty(&doc).unwrap_or_default(),
    };
    Ok(Edited { text, input })
}

/// Makes one change; returns the value set.
fn set(doc: &mut Value, s: &SetArg) -> Result<Value, EditError> {
    let err = |message: String, hint: String| EditError {
        path: s.path.clone(),
        message,
        hint,
    };
    let mut parts: Vec<&str> = s.path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(err(
            "a path has no empty parts".into(),
            "write it like agents.reviewer.system".into(),
        ));
    }
    if parts == ["input"] {
        parts = vec!["workflow", "input"];
    }
    let top = struct_fields::<WorkflowSpec>();
    let Some(root) = doc.as_object_mut() else {
        return Err(err(
            "the workflow is not a table".into(),
            "fork from a session whose workflow loads".into(),
        ));
    };
    let head = parts[0];
    if !top.contains(&head) {
        return Err(err(
            format!("unknown path `{}`", s.path),
            format!(
                "a path starts with input, {}{}",
                top.join(", "),
                suggest(head, top.iter().copied().chain(["input"]))
            ),
        ));
    }
    // The table the rest of the path goes into, and the keys it may have.
    let (table, rest, valid): (&mut Map<String, Value>, &[&str], Vec<&str>) = match head {
        "agents" | "nodes" => {
            let what = if head == "agents" { "agent" } else { "node" };
            let Some(id) = parts.get(1) else {
                return Err(err(
                    format!("`{head}` needs an id and a field"),
                    format!("write {head}.ID.FIELD, e.g. {}", example(head)),
                ));
            };
            let list = root
                .get_mut(head)
                .and_then(Value::as_array_mut)
                .map(|v| v.as_mut_slice())
                .unwrap_or_default();
            let ids: Vec<String> = list
                .iter()
                .filter_map(|t| t.get("id").and_then(Value::as_str).map(str::to_string))
                .collect();
            let Some(entry) = list
                .iter_mut()
                .find(|t| t.get("id").and_then(Value::as_str) == Some(id))
                .and_then(Value::as_object_mut)
            else {
                return Err(err(
                    format!("the workflow has no {what} `{id}`"),
                    format!(
                        "{head}: {}{}",
                        ids.join(", "),
                        suggest(id, ids.iter().map(String::as_str))
                    ),
                ));
            };
            let valid: Vec<&str> = if head == "agents" {
                struct_fields::<AgentSpec>().to_vec()
            } else {
                let kind = entry
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                node_header_fields()
                    .iter()
                    .chain(KindSpec::fields_of(&kind))
                    .copied()
                    .collect()
            };
            if parts.len() < 3 {
                return Err(err(
                    format!("`{head}.{id}` needs a field"),
                    format!("{what} `{id}` has: {}", valid.join(", ")),
                ));
            }
            if parts[2] == "id" {
                return Err(err(
                    format!("a fork cannot rename {what} `{id}`"),
                    "the fork matches recorded work by id; change other fields".into(),
                ));
            }
            (entry, &parts[2..], valid)
        }
        "workflow" => {
            if parts.len() < 2 {
                return Err(err(
                    "`workflow` needs a field".into(),
                    format!(
                        "[workflow] has: {}",
                        struct_fields::<WorkflowMeta>().join(", ")
                    ),
                ));
            }
            let t = root
                .entry("workflow")
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(t) = t.as_object_mut() else {
                return Err(err(
                    "[workflow] is not a table".into(),
                    "fork from a session whose workflow loads".into(),
                ));
            };
            (t, &parts[1..], struct_fields::<WorkflowMeta>().to_vec())
        }
        // A top-level value (`budget`, `defaults`…): its own fields are
        // checked when the changed workflow loads.
        _ => (root, &parts[..], Vec::new()),
    };
    let field = rest[0];
    if !valid.is_empty() && !valid.contains(&field) {
        let owner = parts[..parts.len() - rest.len()].join(".");
        return Err(err(
            format!("`{owner}` has no field `{field}`"),
            format!(
                "valid keys: {}{}",
                valid.join(", "),
                suggest(field, valid.iter().copied())
            ),
        ));
    }
    // Walk down, making tables that are not there yet.
    let mut t = table;
    for (i, key) in rest[..rest.len() - 1].iter().enumerate() {
        let v = t
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        match v {
            Value::Object(m) => t = m,
            other => {
                return Err(err(
                    format!(
                        "`{}` is {}, not a table, so it has no `{}`",
                        parts[..parts.len() - rest.len() + i + 1].join("."),
                        type_name(other),
                        rest[i + 1]
                    ),
                    "set the field itself, or a field of a table".into(),
                ));
            }
        }
    }
    let last = rest[rest.len() - 1];
    let value = typed(&s.value, t.get(last), parts == ["workflow", "input"])
        .map_err(|(message, hint)| err(message, hint))?;
    t.insert(last.to_string(), value.clone());
    Ok(value)
}

/// Reads `raw` as the type of the value it replaces: text stays text as
/// written, numbers and booleans are parsed, lists and tables are JSON (or
/// a TOML inline value). A field not set yet (and the input) takes JSON if
/// `raw` is JSON, else the text.
fn typed(raw: &str, old: Option<&Value>, free: bool) -> Result<Value, (String, String)> {
    let json = || serde_json::from_str::<Value>(raw.trim()).ok();
    let inline = || {
        toml::from_str::<Map<String, Value>>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut m| m.remove("v"))
    };
    match old {
        _ if free => Ok(json().unwrap_or_else(|| Value::String(raw.to_string()))),
        None | Some(Value::Null) => Ok(json().unwrap_or_else(|| Value::String(raw.to_string()))),
        Some(Value::String(_)) => Ok(Value::String(raw.to_string())),
        Some(Value::Bool(_)) => match raw.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err((
                format!("this field is true or false, and `{raw}` is neither"),
                "write true or false".into(),
            )),
        },
        Some(Value::Number(_)) => match json() {
            Some(v @ Value::Number(_)) => Ok(v),
            _ => Err((
                format!("this field is a number, and `{raw}` is not one"),
                "write a number, e.g. 200 or 0.5".into(),
            )),
        },
        Some(Value::Array(_)) => match json().or_else(inline) {
            Some(v @ Value::Array(_)) => Ok(v),
            _ => Err((
                format!("this field is a list, and `{raw}` is not one"),
                "write a list, e.g. [\"a\", \"b\"]".into(),
            )),
        },
        Some(Value::Object(_)) => match json().or_else(inline) {
            Some(v @ Value::Object(_)) => Ok(v),
            _ => Err((
                format!("this field is a table, and `{raw}` is not one"),
                "write a table, e.g. {\"min\": 100, \"max\": 200}, or set one of its fields".into(),
            )),
        },
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

fn example(head: &str) -> &'static str {
    if head == "agents" {
        "agents.reviewer.system"
    } else {
        "nodes.draft.prompt"
    }
}

fn suggest<'a>(word: &str, among: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, among)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::load::load_str;

    const DEMO: &str = include_str!("../../assets/workflows/demo.toml");

    fn sets(list: &[&str]) -> Vec<SetArg> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn edit(list: &[&str]) -> Result<Edited, EditError> {
        apply(DEMO, Format::Toml, &sets(list))
    }

    #[test]
    fn prompts_models_inputs_and_policies_are_set_and_the_result_loads() {
        let e = edit(&[
            "agents.reviewer.system=Be strict: reject what lacks tests.",
            "agents.writer.model=sim-2",
            "agents.writer.max_tokens=200",
            "nodes.work.prompt=Ship it as {{input.choice}}, with docs",
            "input=Ship a JSON export",
            "agents.backend.retry.max_attempts=5",
        ])
        .unwrap();
        assert_eq!(e.input, Some(Value::String("Ship a JSON export".into())));
        let w = load_str(&e.text, "builtin:demo", Format::Toml)
            .unwrap_or_else(|d| panic!("{d}\n{}", e.text))
            .workflow;
        let agent = |id: &str| &w.agents[w.agent(id).unwrap()];
        assert_eq!(
            agent("reviewer").system.as_deref(),
            Some("Be strict: reject what lacks tests.")
        );
        assert_eq!(&*agent("writer").model, "sim-2");
        assert_eq!(agent("writer").max_tokens, Some(200));
        assert_eq!(agent("backend").policy.retry.max_attempts, 5);
        assert_eq!(w.input, Value::String("Ship a JSON export".into()));
        // Untouched parts are as they were.
        assert_eq!(w.nodes.len(), 7);
        assert_eq!(
            agent("architect").system.as_deref(),
            Some("You favour designs that scale.")
        );
        // A value for a text field is the text as written, even if it looks like JSON.
        let e = edit(&["agents.reviewer.system=42"]).unwrap();
        let w = load_str(&e.text, "x.toml", Format::Toml).unwrap().workflow;
        assert_eq!(
            w.agents[w.agent("reviewer").unwrap()].system.as_deref(),
            Some("42")
        );
    }

    #[test]
    fn json_workflows_stay_json() {
        let text = r#"{"workflow": {"name": "j", "input": "x"}, "agents": [{"id": "a"}], "nodes": [{"id": "n", "kind": "agent", "agent": "a", "prompt": "p"}]}"#;
        let e = apply(text, Format::Json, &sets(&["nodes.n.prompt=q {{input}}"])).unwrap();
        let v: Value = serde_json::from_str(&e.text).unwrap();
        assert_eq!(v["nodes"][0]["prompt"], "q {{input}}");
        assert!(load_str(&e.text, "j.json", Format::Json).is_ok());
    }

    #[test]
    fn unknown_paths_name_the_valid_keys() {
        let e = edit(&["agents.reviewer.sytem=x"]).unwrap_err();
        assert_eq!(e.path, "agents.reviewer.sytem");
        assert!(
            e.message.contains("`agents.reviewer` has no field `sytem`"),
            "{e}"
        );
        assert!(
            e.hint.contains("system") && e.hint.contains("max_tokens"),
            "{e}"
        );
        assert!(e.hint.contains("did you mean `system`"), "{e}");

        let e = edit(&["agents.reviewr.system=x"]).unwrap_err();
        assert!(e.message.contains("no agent `reviewr`"), "{e}");
        assert!(e.hint.contains("did you mean `reviewer`"), "{e}");

        let e = edit(&["nodes.ship.prompt=x"]).unwrap_err();
        assert!(
            e.message.contains("`nodes.ship` has no field `prompt`"),
            "{e}"
        );
        assert!(e.hint.contains("max_revisions"), "gate fields listed: {e}");

        let e = edit(&["agent.reviewer.system=x"]).unwrap_err();
        assert!(
            e.message.contains("unknown path `agent.reviewer.system`"),
            "{e}"
        );
        assert!(e.hint.contains("agents") && e.hint.contains("nodes"), "{e}");

        let e = edit(&["nodes.work=x"]).unwrap_err();
        assert!(e.message.contains("needs a field"), "{e}");
        let e = edit(&["agents.reviewer.id=boss"]).unwrap_err();
        assert!(e.message.contains("cannot rename"), "{e}");
        let e = edit(&["agents.reviewer.system.x=1"]).unwrap_err();
        assert!(e.message.contains("is text, not a table"), "{e}");
        assert!(
            "no-equals"
                .parse::<SetArg>()
                .unwrap_err()
                .contains("PATH=VALUE")
        );
    }

    #[test]
    fn values_of_the_wrong_type_are_refused_with_the_type_wanted() {
        let e = edit(&["agents.writer.max_tokens=lots"]).unwrap_err();
        assert!(e.message.contains("is a number"), "{e}");
        let e = edit(&["agents.qa.capabilities=test"]).unwrap_err();
        assert!(e.message.contains("is a list"), "{e}");
        let ok = edit(&["agents.qa.capabilities=[\"test\", \"docs\"]"]).unwrap();
        assert!(ok.text.contains("docs"));
        let e = edit(&["nodes.ship.max_revisions=two"]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--set nodes.ship.max_revisions: "),
            "{e}"
        );
    }

    #[test]
    fn what_a_change_touches() {
        let t = |s: &str| s.parse::<SetArg>().unwrap().touches();
        assert_eq!(t("input=x"), Touches::Input);
        assert_eq!(
            t("agents.reviewer.system=x"),
            Touches::Agent("reviewer".into())
        );
        assert_eq!(t("nodes.work.prompt=x"), Touches::Node("work".into()));
        assert_eq!(t("budget.tokens=5"), Touches::Run);
    }
}
