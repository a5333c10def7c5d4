//! A user's JSON schema for an agent node's reply (`schema` or
//! `schema_file`): checked to be a valid schema when the workflow loads,
//! sent to providers that constrain output, and used to validate replies.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// Most validation errors named in one complaint (a repair prompt stays short).
const MAX_ERRORS_NAMED: usize = 3;

/// A compiled reply schema. Cheap to clone.
#[derive(Clone)]
pub struct ReplySchema {
    schema: Arc<Value>,
    validator: Arc<jsonschema::Validator>,
}

impl ReplySchema {
    /// Checks `schema` against its draft's meta-schema and compiles it; the
    /// error says what is wrong, for a load-time diagnostic.
    pub fn compile(schema: Value) -> Result<Self, String> {
        if !schema.is_object() && !schema.is_boolean() {
            return Err("a JSON schema must be an object (or true/false)".into());
        }
        if let Err(e) = jsonschema::meta::validate(&schema) {
            return Err(format!(
                "invalid JSON schema at `{}`: {e}",
                pointer(&e.instance_path().to_string())
            ));
        }
        let validator =
            jsonschema::validator_for(&schema).map_err(|e| format!("invalid JSON schema: {e}"))?;
        Ok(ReplySchema {
            schema: Arc::new(schema),
            validator: Arc::new(validator),
        })
    }

    /// The schema as written (what providers are sent).
    pub fn value(&self) -> &Arc<Value> {
        &self.schema
    }

    /// Whether `reply` matches; else the first few violations, each with
    /// where in the reply it is, for a repair prompt.
    pub fn check(&self, reply: &Value) -> Result<(), String> {
        let errors: Vec<String> = self
            .validator
            .iter_errors(reply)
            .take(MAX_ERRORS_NAMED + 1)
            .map(|e| format!("at `{}`: {e}", pointer(&e.instance_path().to_string())))
            .collect();
        if errors.is_empty() {
            return Ok(());
        }
        let more = if errors.len() > MAX_ERRORS_NAMED {
            "; …"
        } else {
            ""
        };
        let named = &errors[..errors.len().min(MAX_ERRORS_NAMED)];
        Err(format!(
            "the reply does not match the schema: {}{more}",
            named.join("; ")
        ))
    }
}

/// A JSON pointer as shown to people: the root is `/`.
fn pointer(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

impl PartialEq for ReplySchema {
    fn eq(&self, other: &Self) -> bool {
        self.schema == other.schema
    }
}

impl fmt::Debug for ReplySchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReplySchema").field(&self.schema).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bad_schema_is_refused_with_where() {
        let e = ReplySchema::compile(json!({"type": "objekt"})).unwrap_err();
        assert!(e.contains("invalid JSON schema"), "{e}");
        assert!(e.contains("/type"), "{e}");
        let e = ReplySchema::compile(json!("object")).unwrap_err();
        assert!(e.contains("must be an object"), "{e}");
    }

    #[test]
    fn replies_are_checked_with_where_they_fail() {
        let s = ReplySchema::compile(json!({
            "type": "object",
            "required": ["confidence"],
            "properties": {"confidence": {"type": "number", "minimum": 0, "maximum": 1}}
        }))
        .unwrap();
        assert!(s.check(&json!({"confidence": 0.5})).is_ok());
        let e = s.check(&json!({"confidence": 7})).unwrap_err();
        assert!(e.contains("/confidence"), "{e}");
        let e = s.check(&json!({"finding": "x"})).unwrap_err();
        assert!(e.contains("confidence"), "{e}");
    }
}
