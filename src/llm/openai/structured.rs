//! Structured output, negotiated per endpoint. Servers differ in what they
//! accept for `response_format`: OpenAI takes `json_schema`; llama.cpp and
//! llama-cpp-python refuse it but constrain decoding with a schema given to
//! `json_object`; others know only `json_object`, or nothing. A call starts
//! at the endpoint's current level and steps down one level per refusal;
//! the level is kept for the rest of the run. The engine validates and
//! repairs the reply at every level, so a lower level costs reliability,
//! never correctness.

use std::sync::atomic::{AtomicU8, Ordering};

use serde_json::{Value, json};

/// How much of the reply's shape the request asks the server to enforce.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, strum::IntoStaticStr, strum::EnumString,
)]
#[strum(serialize_all = "snake_case")]
pub(crate) enum Level {
    /// `{"type": "json_schema", "json_schema": {"name", "schema"}}`.
    JsonSchema = 0,
    /// `{"type": "json_object", "schema": …}` (llama.cpp's grammar).
    #[strum(serialize = "json_object+schema")]
    JsonObjectSchema = 1,
    /// `{"type": "json_object"}`.
    JsonObject = 2,
    /// No `response_format`: the prompt alone asks for JSON.
    PromptOnly = 3,
}

impl Level {
    const ALL: [Level; 4] = [
        Level::JsonSchema,
        Level::JsonObjectSchema,
        Level::JsonObject,
        Level::PromptOnly,
    ];

    /// Name, for events and messages.
    pub(crate) fn name(self) -> &'static str {
        self.into()
    }

    pub(crate) fn parse(name: &str) -> Option<Level> {
        name.parse().ok()
    }

    /// The next level down, if any.
    pub(crate) fn lower(self) -> Option<Level> {
        Level::ALL.get(self as usize + 1).copied()
    }

    /// The `response_format` value for a reply named `name` with `schema`.
    pub(crate) fn response_format(self, name: &str, schema: &Value) -> Option<Value> {
        match self {
            Level::JsonSchema => Some(json!({
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema}
            })),
            Level::JsonObjectSchema => Some(json!({"type": "json_object", "schema": schema})),
            Level::JsonObject => Some(json!({"type": "json_object"})),
            Level::PromptOnly => None,
        }
    }
}

/// An endpoint's current level, shared by its concurrent calls.
#[derive(Debug)]
pub(crate) struct Negotiated(AtomicU8);

impl Default for Negotiated {
    fn default() -> Self {
        Negotiated(AtomicU8::new(Level::JsonSchema as u8))
    }
}

impl Negotiated {
    pub(crate) fn get(&self) -> Level {
        Level::ALL[usize::from(self.0.load(Ordering::Relaxed)).min(3)]
    }

    /// Steps down from `seen` (the level the refused request used). Returns
    /// the new level when this call made the change; `None` when another
    /// call already moved further down, or nothing is below.
    pub(crate) fn step_down(&self, seen: Level) -> Option<Level> {
        let next = seen.lower()?;
        self.0
            .compare_exchange(seen as u8, next as u8, Ordering::Relaxed, Ordering::Relaxed)
            .ok()
            .map(|_| next)
    }

    /// Takes over a level recorded earlier (resume); never raises it.
    pub(crate) fn restore(&self, level: Level) {
        self.0.fetch_max(level as u8, Ordering::Relaxed);
    }
}

/// Whether a refused request was refused for its `response_format`. Servers
/// say so in different ways: OpenAI and vLLM answer 400, FastAPI-based ones
/// 422, llama-cpp-python answers 500 with a validation error naming the
/// field. A 400 for any other reason (a context-length error, a bad model
/// name) is not a refusal of structured output and stays fatal.
pub(crate) fn refuses_structure(status: u16, body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    let names_it = b.contains("response_format") || b.contains("json_schema");
    match status {
        400 | 422 => names_it || b.contains("json_object") || b.contains("response format"),
        500..=599 => names_it,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_step_down_in_order_and_stop_at_prompt_only() {
        let n = Negotiated::default();
        assert_eq!(n.get(), Level::JsonSchema);
        assert_eq!(
            n.step_down(Level::JsonSchema),
            Some(Level::JsonObjectSchema)
        );
        // A second call that saw the old level does not step twice.
        assert_eq!(n.step_down(Level::JsonSchema), None);
        assert_eq!(n.get(), Level::JsonObjectSchema);
        assert_eq!(
            n.step_down(Level::JsonObjectSchema),
            Some(Level::JsonObject)
        );
        assert_eq!(n.step_down(Level::JsonObject), Some(Level::PromptOnly));
        assert_eq!(n.step_down(Level::PromptOnly), None);
        assert_eq!(n.get(), Level::PromptOnly);
    }

    #[test]
    fn restore_only_lowers() {
        let n = Negotiated::default();
        n.restore(Level::JsonObject);
        assert_eq!(n.get(), Level::JsonObject);
        n.restore(Level::JsonObjectSchema);
        assert_eq!(n.get(), Level::JsonObject);
        for l in Level::ALL {
            assert_eq!(Level::parse(l.name()), Some(l));
        }
    }

    #[test]
    fn refusals_are_recognised_however_the_server_says_them() {
        assert!(refuses_structure(
            400,
            "response_format json_schema is not supported"
        ));
        assert!(refuses_structure(
            422,
            "Input should be 'text' or 'json_object' at body.response_format.type"
        ));
        // llama-cpp-python's answer, verbatim in shape.
        assert!(refuses_structure(
            500,
            "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}"
        ));
        // Not refusals: a 500 about something else, a context-length 400.
        assert!(!refuses_structure(500, "CUDA out of memory"));
        assert!(!refuses_structure(
            400,
            "This model's maximum context length is 4096 tokens"
        ));
        assert!(!refuses_structure(404, "response_format"));
    }

    #[test]
    fn each_level_has_its_request_shape() {
        let s = json!({"type": "object"});
        assert_eq!(
            Level::JsonSchema.response_format("plan", &s).unwrap()["json_schema"]["name"],
            "plan"
        );
        let o = Level::JsonObjectSchema.response_format("plan", &s).unwrap();
        assert_eq!(o["type"], "json_object");
        assert_eq!(o["schema"], s);
        assert_eq!(
            Level::JsonObject.response_format("plan", &s).unwrap(),
            json!({"type": "json_object"})
        );
        assert!(Level::PromptOnly.response_format("plan", &s).is_none());
    }
}
