//! What of a run's text may leave the process. Prompts, replies, task
//! inputs and outputs and tool arguments and results are *content*: they are
//! exported only with `include_content = true`. Everything that is exported
//! (content, error messages, reasons) first goes through the secret
//! scrubber, so a key a model or a server quoted never reaches a backend.

use serde_json::{Value, json};

use crate::secret::redact;
use crate::text::prefix_chars;

/// Characters of one attribute value at most (backends cap far lower than
/// the run's largest outputs; a trace is for finding, not for archiving).
pub(crate) const MAX_CHARS: usize = 8_000;

/// The content policy of one export.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Content {
    include: bool,
}

impl Content {
    pub(crate) fn new(include: bool) -> Self {
        Content { include }
    }

    /// Whether content is exported at all.
    pub(crate) fn included(&self) -> bool {
        self.include
    }

    /// A prompt, reply or other content as text, when content is exported.
    pub(crate) fn text(&self, text: &str) -> Option<String> {
        self.include.then(|| scrub(text))
    }

    /// A JSON value as content: strings as they are, others as JSON text.
    pub(crate) fn value(&self, v: &Value) -> Option<String> {
        self.include.then(|| scrub(&value_text(v)))
    }

    /// `gen_ai.input.messages`: one user message holding `text`.
    pub(crate) fn user_message(&self, text: &str) -> Option<String> {
        self.message("user", text, None)
    }

    /// `gen_ai.output.messages`: one assistant message and why it ended.
    pub(crate) fn assistant_message(&self, text: &str, finish: &str) -> Option<String> {
        self.message("assistant", text, Some(finish))
    }

    /// `gen_ai.system_instructions`: the system prompt as one text part.
    pub(crate) fn instructions(&self, text: &str) -> Option<String> {
        self.include
            .then(|| json!([{"type": "text", "content": scrub(text)}]).to_string())
    }

    fn message(&self, role: &str, text: &str, finish: Option<&str>) -> Option<String> {
        self.include.then(|| {
            let mut m = json!({"role": role, "parts": [{"type": "text", "content": scrub(text)}]});
            if let Some(f) = finish {
                m["finish_reason"] = json!(f);
            }
            json!([m]).to_string()
        })
    }
}

/// Text that is exported whatever the policy (errors, reasons): scrubbed
/// of anything that looks like a credential, and capped.
pub(crate) fn scrub(text: &str) -> String {
    redact(prefix_chars(text, MAX_CHARS))
}

/// A JSON value as text: strings as they are, others as JSON.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_off_unless_asked_for() {
        let off = Content::new(false);
        assert_eq!(off.text("a prompt"), None);
        assert_eq!(off.value(&json!({"q": 1})), None);
        assert_eq!(off.user_message("hi"), None);
        assert_eq!(off.instructions("be brief"), None);
        let on = Content::new(true);
        assert_eq!(on.value(&json!({"q": 1})).as_deref(), Some(r#"{"q":1}"#));
        assert_eq!(on.value(&json!("plain")).as_deref(), Some("plain"));
    }

    #[test]
    fn exported_text_is_scrubbed_and_capped() {
        let on = Content::new(true);
        let key = "sk-proj-abcdefghijklmnop1234";
        let m = on
            .assistant_message(&format!("use {key} now"), "stop")
            .unwrap();
        assert!(!m.contains(key), "{m}");
        let v: Value = serde_json::from_str(&m).unwrap();
        assert_eq!(v[0]["role"], "assistant");
        assert_eq!(v[0]["finish_reason"], "stop");
        assert_eq!(v[0]["parts"][0]["content"], "use [REDACTED] now");
        assert_eq!(scrub(&"x".repeat(MAX_CHARS + 10)).len(), MAX_CHARS);
        assert_eq!(
            scrub("Authorization: Bearer abc.def"),
            "Authorization: Bearer [REDACTED]"
        );
    }
}
