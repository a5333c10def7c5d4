//! Session exports: Markdown for people, JSON for programs. Each section is
//! one function over the folded [`SessionState`]; a new kind of record (the
//! debate transcripts and vote tallies of issue #4) is one more section.

use std::fmt::Write;

use serde_json::{Value, json};

use super::Header;
use super::fold::SessionState;
use crate::event::TaskState;

/// The JSON export.
pub fn to_json(h: &Header, s: &SessionState) -> Value {
    // The records as the summary serialises them (agents as a map by id).
    let v = serde_json::to_value(s).unwrap_or_default();
    let mut out = json!({
        "session": s.session,
        "format_version": h.version,
        "agentctl": h.agentctl,
        "workflow": {"name": h.workflow.name, "origin": h.workflow.origin, "hash": h.workflow.hash, "text": h.workflow.text},
        "seed": h.seed,
        "input": h.input,
        "providers": h.providers,
        "started_us": s.started_us,
        "duration_ms": s.duration_ms(),
        "status": s.status_name(),
        "runs": s.runs,
        "output": s.output,
        "error": s.end_error,
        "usage": s.total_usage,
        "tasks": v["tasks"],
        "agents": v["agents"],
        "gates": s.gate_openings,
        "commands": s.commands,
        "debates": s.debate_records,
        "votes": s.vote_records,
    });
    // Only a run on workers (`--nats`) has them.
    if !s.workers.is_empty() {
        out["workers"] = v["workers"].clone();
    }
    out
}

/// The Markdown export.
pub fn to_markdown(h: &Header, s: &SessionState) -> String {
    let mut out = String::new();
    summary(&mut out, h, s);
    agents(&mut out, s);
    tasks(&mut out, s);
    debates(&mut out, s);
    votes(&mut out, s);
    gates(&mut out, s);
    commands(&mut out, s);
    workflow(&mut out, h);
    out
}

fn summary(out: &mut String, h: &Header, s: &SessionState) {
    let _ = writeln!(out, "# Session {}\n", s.session);
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(
        out,
        "| workflow | `{}` ({}) |",
        h.workflow.name, h.workflow.origin
    );
    let _ = writeln!(out, "| status | {} |", s.status_name());
    let _ = writeln!(out, "| seed | {} |", h.seed);
    let _ = writeln!(out, "| runs | {} |", s.runs);
    let _ = writeln!(
        out,
        "| tasks | {} completed of {} |",
        s.completed(),
        s.tasks.len()
    );
    let _ = writeln!(
        out,
        "| tokens | {} ({} prompt, {} completion) |",
        s.total_usage.total(),
        s.total_usage.prompt_tokens,
        s.total_usage.completion_tokens
    );
    let _ = writeln!(out, "| agentctl | {} (format {}) |", h.agentctl, h.version);
    if let Some(e) = &s.end_error {
        let _ = writeln!(out, "| error | {} |", cell(e));
    }
    out.push('\n');
    if let Some(o) = &s.output {
        let _ = writeln!(out, "## Output\n\n{}", block(o));
    }
}

fn agents(out: &mut String, s: &SessionState) {
    if s.agents.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Agents\n\n| agent | calls | errors | tasks completed | prompt tokens | completion tokens |\n|---|---:|---:|---:|---:|---:|"
    );
    for a in s.agents_by_id() {
        let id = &a.id;
        let _ = writeln!(
            out,
            "| {id} | {} | {} | {} | {} | {} |",
            a.calls, a.errors, a.completed, a.usage.prompt_tokens, a.usage.completion_tokens
        );
    }
    out.push('\n');
}

fn tasks(out: &mut String, s: &SessionState) {
    let _ = writeln!(out, "## Tasks\n");
    for t in s.tasks.iter() {
        let _ = writeln!(out, "### {} — {}\n", t.id, cell(&t.title));
        let _ = writeln!(
            out,
            "- state: {} · attempts: {} · agent: {} · tokens: {}",
            t.state.as_str(),
            t.attempts,
            t.agent.as_deref().unwrap_or("—"),
            t.usage.total()
        );
        if let Some(e) = t.error.as_ref().filter(|_| t.state != TaskState::Completed) {
            let _ = writeln!(out, "- error: {}", cell(e));
        }
        let _ = writeln!(out, "\nInput:\n\n{}", block(&t.input));
        if let Some(o) = &t.output {
            let _ = writeln!(out, "Output:\n\n{}", block(o));
        }
    }
}

fn debates(out: &mut String, s: &SessionState) {
    for d in &s.debate_records {
        let _ = writeln!(out, "## Debate `{}`\n", d.node);
        let mut round = 0;
        for t in d.turns.iter() {
            if t.round != round {
                round = t.round;
                let _ = writeln!(out, "### Round {round}\n");
            }
            match &t.failed {
                Some(e) => {
                    let _ = writeln!(out, "{}. **{}** — turn failed: {}\n", t.turn, t.speaker, e);
                }
                None => {
                    let _ = writeln!(
                        out,
                        "{}. **{}** — *{}* (confidence {:.2}): {}",
                        t.turn, t.speaker, t.position, t.confidence, t.argument
                    );
                    for (turn, who, text) in &t.critiques {
                        let _ = writeln!(out, "   - critique of turn {turn} ({who}): {text}");
                    }
                    out.push('\n');
                }
            }
        }
        if let Some(o) = &d.outcome {
            let _ = writeln!(
                out,
                "**Decision: {}** (by {}, after {} round(s), {}). {}\n",
                o.decision, o.decided_by, o.rounds, o.reason, o.reasons
            );
        }
    }
}

fn votes(out: &mut String, s: &SessionState) {
    for v in &s.vote_records {
        let _ = writeln!(out, "## Vote `{}`\n", v.node);
        let _ = writeln!(
            out,
            "| round | voter | phase | choice | confidence | rationale |\n|---|---|---|---|---|---|"
        );
        for b in v.ballots.iter() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.2} | {} |",
                b.round,
                b.voter,
                b.phase,
                cell(&b.choice),
                b.confidence,
                cell(&b.rationale)
            );
        }
        out.push('\n');
        for (agent, round, reason, detail, excluded) in &v.flagged {
            let _ = writeln!(
                out,
                "- flagged `{agent}` in round {round}: {reason} — {detail}{}",
                if *excluded { " (excluded)" } else { "" }
            );
        }
        for r in v.results.iter() {
            let counts: Vec<String> = r
                .tally
                .counts
                .iter()
                .map(|c| format!("{} {} ({:.2})", c.choice, c.votes, c.score))
                .collect();
            let verdict = match &r.choice {
                Some(c) if r.reached => format!("**{c}** — {}", r.note),
                _ => format!("no consensus — {}", r.note),
            };
            let _ = writeln!(
                out,
                "- round {} by {}: {verdict}; tally: {} ({} of {} voted)",
                r.round,
                r.tally.protocol,
                counts.join(", "),
                r.tally.cast,
                r.tally.eligible
            );
        }
        out.push('\n');
    }
}

fn gates(out: &mut String, s: &SessionState) {
    if s.gate_openings.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Gate decisions\n");
    for g in s.gate_openings.iter() {
        let decision = match &g.decision {
            Some((true, c)) => format!("approved{}", comment(c)),
            Some((false, c)) => format!("denied{}", comment(c)),
            None => "waiting".into(),
        };
        let _ = writeln!(out, "- `{}` (revision {}): {decision}", g.gate, g.revision);
    }
    out.push('\n');
}

fn commands(out: &mut String, s: &SessionState) {
    if s.commands.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Commands\n");
    for c in &s.commands {
        let text = serde_json::to_string(&c.command).unwrap_or_default();
        match &c.rejected {
            Some(r) => {
                let _ = writeln!(out, "- `{text}` — rejected: {}", cell(r));
            }
            None => {
                let _ = writeln!(out, "- `{text}`");
            }
        }
    }
    out.push('\n');
}

fn workflow(out: &mut String, h: &Header) {
    let _ = writeln!(
        out,
        "## Workflow\n\n`{}` ({})\n\n```toml\n{}\n```",
        h.workflow.origin,
        h.workflow.hash,
        h.workflow.text.trim_end()
    );
}

fn comment(c: &Option<String>) -> String {
    c.as_ref()
        .map(|c| format!(" — “{}”", cell(c)))
        .unwrap_or_default()
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn block(v: &Value) -> String {
    match v {
        Value::String(s) => format!("```text\n{}\n```\n", s.trim_end()),
        other => format!(
            "```json\n{}\n```\n",
            serde_json::to_string_pretty(other).unwrap_or_default()
        ),
    }
}
