//! Agent nodes with a user's reply schema: the schema travels to the
//! provider in the request hints (servers that constrain output use it), is
//! restated as an output-format instruction (for servers that do not), and
//! every reply is validated against it; a reply that does not match is
//! malformed (repair prompts, then a retryable failure).

use serde_json::Value;

use super::agent_task::{AgentJob, parse_json};
use super::run::Run;
use crate::llm::RequestHints;
use crate::workflow::reply_schema::ReplySchema;

/// Largest schema restated in the instructions, in bytes (a huge schema
/// would crowd out the task in a small model's context).
const MAX_SCHEMA_IN_PROMPT: usize = 4000;

/// The reply as JSON, matching `schema`.
pub(crate) fn parse(schema: &ReplySchema, run: &Run, text: &str) -> Result<Value, String> {
    let v = parse_json(run, text)?;
    schema.check(&v)?;
    Ok(v)
}

/// `job` asking for a reply that matches `schema`.
pub(crate) fn ask<'a>(job: AgentJob<'a>, schema: &ReplySchema) -> AgentJob<'a> {
    let hints = RequestHints {
        schema: Some(schema.value().clone()),
        ..job.hints.clone()
    };
    job.hints(hints).instructions(instructions(schema))
}

fn instructions(schema: &ReplySchema) -> String {
    let text = schema.value().to_string();
    if text.len() <= MAX_SCHEMA_IN_PROMPT {
        format!(
            "Reply with only one JSON value matching this JSON schema, and no other text:\n{text}"
        )
    } else {
        "Reply with only one JSON value, and no other text.".to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::engine::{Orchestrator, RunOptions, RunOutcome};
    use crate::event::{Event, EventKind, RunStatus};
    use crate::workflow::load::{Format, load_str};

    const SCHEMA: &str = r#"schema = { type = "object", required = ["confidence", "finding"], properties = { confidence = { type = "number", minimum = 0, maximum = 1 }, finding = { type = "string" } } }"#;

    async fn run(agent_sim: &str, node_extra: &str) -> (RunOutcome, Vec<Event>) {
        let text = format!(
            "[workflow]\nname = \"t\"\ninput = \"x\"\n[[agents]]\nid = \"a\"\nsim = {agent_sim}\n\
             [[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n{node_extra}\n"
        );
        let w = Arc::new(
            load_str(&text, "t.toml", Format::Toml)
                .expect("valid")
                .workflow,
        );
        let mut o = Orchestrator::new(w, RunOptions::default());
        let mut rx = o.subscribe();
        let out = o.start().expect("start").wait().await;
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        (out, events)
    }

    fn repairs(events: &[Event]) -> usize {
        events
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::OutputRepair { .. }))
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn the_sim_invents_a_reply_that_matches_the_schema() {
        let (out, _) = run("{ latency_ms = 5 }", SCHEMA).await;
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
        let v = out.output.expect("output");
        assert!(
            v["confidence"]
                .as_f64()
                .is_some_and(|c| (0.0..=1.0).contains(&c)),
            "{v}"
        );
        assert!(v["finding"].is_string(), "{v}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_cut_reply_is_repaired() {
        let (out, events) = run("{ malformed_first = 1 }", SCHEMA).await;
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
        assert_eq!(repairs(&events), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reply_off_the_schema_is_repaired_then_fails_naming_where() {
        // JSON, but `confidence` is a word: valid for `expect = "json"`,
        // not for the schema.
        let sim = r#"{ replies = ['{"confidence": "high", "finding": "f"}'] }"#;
        let (out, events) = run(sim, &format!("{SCHEMA}\nrepair_attempts = 2")).await;
        assert_eq!(out.status, RunStatus::Failed);
        assert_eq!(repairs(&events), 2);
        let err = out.error.unwrap_or_default();
        assert!(
            err.contains("/confidence") && err.contains("repair prompt"),
            "{err}"
        );
        // Without the schema the same reply is fine.
        let (out, _) = run(sim, "expect = \"json\"").await;
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
        assert_eq!(
            out.output,
            Some(json!({"confidence": "high", "finding": "f"}))
        );
    }
}
