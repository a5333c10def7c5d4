//! The detail pane's text for one task: header, input, output, errors,
//! history. Built once per task version (see `UiState::prepare`) and only
//! sliced per frame by the detail pane.

use serde_json::Value;

use crate::tui::format::{fmt_ms, fmt_tokens, task_glyph};
use crate::tui::view_model::{TaskView, ViewModel};

/// Most lines a JSON value may take in the detail view.
const MAX_VALUE_LINES: usize = 400;

/// What a cached line is; styles are applied at render time so switching
/// themes needs no rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Section heading.
    Heading,
    /// Body text.
    Text,
    /// Secondary text.
    Muted,
    /// Error text.
    Error,
}

/// Builds the detail text of a task.
pub fn build_lines(t: &TaskView, vm: &ViewModel) -> Vec<(Mark, String)> {
    let mut out = Vec::new();
    let mut push = |mark: &'static str, text: String| {
        let m = match mark {
            "h" => Mark::Heading,
            "e" => Mark::Error,
            "m" => Mark::Muted,
            _ => Mark::Text,
        };
        out.push((m, text));
    };
    push(
        "h",
        format!("{} {}  {}", task_glyph(t.state), t.id, t.state.as_str()),
    );
    push("t", t.title.clone());
    let agent = t.agent.as_deref().unwrap_or("-");
    let cap = t
        .capability
        .as_deref()
        .map(|c| format!(" (capability {c})"))
        .unwrap_or_default();
    push(
        "m",
        format!(
            "node {} · agent {agent}{cap} · priority {}",
            t.node_id, t.priority
        ),
    );
    // This text is cached per task version, so a live task shows when it
    // started rather than a duration that would freeze (the task list ticks).
    let start = vm.started_us.unwrap_or(0);
    let dur = match (t.finished_us, t.started_us) {
        (Some(_), _) => t.elapsed_ms(vm.last_us).map(fmt_ms).unwrap_or_default(),
        (None, Some(s)) => format!("started at {}", fmt_offset(s.saturating_sub(start))),
        (None, None) => format!(
            "waiting since {}",
            fmt_offset(t.created_us.saturating_sub(start))
        ),
    };
    push(
        "m",
        format!(
            "attempts {} · {dur} · {} tokens ({} in, {} out)",
            t.attempts,
            fmt_tokens(t.usage.total()),
            t.usage.prompt_tokens,
            t.usage.completion_tokens
        ),
    );
    if let Some(p) = &t.parent {
        push("m", format!("parent {p}"));
    }
    if let Some(w) = &t.worker {
        let host = vm
            .workers
            .get(w)
            .filter(|r| !r.host.is_empty())
            .map(|r| format!(" on {}", r.host))
            .unwrap_or_default();
        push("m", format!("ran on worker {w}{host}"));
    }
    // Only while the run can still act on it.
    if vm.is_held(t) {
        push(
            "e",
            "held after a failure: r retry · R reroute · c cancel".into(),
        );
    }
    push("t", String::new());
    push("h", "Input".into());
    value_lines(&t.input, &mut push);
    push("t", String::new());
    push("h", "Output".into());
    match &t.output {
        Some(v) => value_lines(v, &mut push),
        None => push("m", "(none yet)".into()),
    }
    if !t.errors.is_empty() {
        push("t", String::new());
        push("h", "Errors".into());
        for e in &t.errors {
            push(
                "e",
                format!("attempt {} · {:?}: {}", e.attempt, e.kind, e.message),
            );
        }
    }
    push("t", String::new());
    push("h", "History".into());
    for h in &t.history {
        let at = fmt_offset(h.ts.saturating_sub(start));
        push("m", format!("{at}  {}", h.text));
    }
    out
}

/// µs since the run started as `mm:ss.mmm`.
fn fmt_offset(us: u64) -> String {
    let ms = us / 1000;
    format!(
        "{:02}:{:02}.{:03}",
        ms / 60_000,
        (ms / 1000) % 60,
        ms % 1000
    )
}

fn value_lines(v: &Value, push: &mut impl FnMut(&'static str, String)) {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    for (n, line) in text.lines().enumerate() {
        if n == MAX_VALUE_LINES {
            push(
                "m",
                format!("… {} more lines", text.lines().count() - MAX_VALUE_LINES),
            );
            break;
        }
        push("t", format!("  {line}"));
    }
}
