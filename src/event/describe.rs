//! One line of text per event: what the headless progress output prints
//! and what the cockpit's task history shows, worded in one place. A line
//! starts with a short tag padded to 7 columns, then the subject (task,
//! node, gate) and what happened to it; a task's history leaves out the
//! task (its pane names it) and the padding.

use std::fmt::Write;

use super::{EventKind, Id};

impl EventKind {
    /// The one-line description of this event, as the headless progress
    /// prints it.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = write_line(&mut s, self, true);
        s
    }

    /// The same line without its [`EventKind::subject`], for a list that
    /// already names it (a task's history): `done by writer (42 tok)`.
    pub fn describe_short(&self) -> String {
        let mut s = String::new();
        let _ = write_line(&mut s, self, false);
        s
    }

    /// The task a line about this event belongs to (a gate's id is its
    /// task's), for per-task histories; `None` for run-wide events.
    pub fn subject(&self) -> Option<&Id> {
        use EventKind as K;
        match self {
            K::TaskCreated { task, .. }
            | K::TaskAssigned { task, .. }
            | K::TaskStateChanged { task, .. }
            | K::TaskCompleted { task, .. }
            | K::TaskFailed { task, .. }
            | K::TaskHandoff { task, .. }
            | K::WorkerResult { task, .. }
            | K::TaskRerouted { task, .. }
            | K::LlmRequest { task, .. }
            | K::LlmResponse { task, .. }
            | K::LlmError { task, .. }
            | K::ToolCall { task, .. }
            | K::ToolResult { task, .. }
            | K::RetryScheduled { task, .. }
            | K::FallbackUsed { task, .. }
            | K::CacheHit { task, .. }
            | K::DegradeSwitch { task, .. }
            | K::QuotaWait { task, .. }
            | K::BatchDispatched { task, .. }
            | K::PlanCreated { task, .. }
            | K::PlanBudgetChecked { task, .. }
            | K::PlanStepReady { task, .. }
            | K::OutputRepair { task, .. }
            | K::ReviewVerdict { task, .. } => Some(task),
            K::GateOpened { gate, .. } | K::GateDecided { gate, .. } => Some(gate),
            _ => None,
        }
    }
}

fn by(agent: &Option<Id>) -> String {
    agent
        .as_ref()
        .map(|a| format!(" by {a}"))
        .unwrap_or_default()
}

/// `text` on one line, cut to `max` characters.
fn clip(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > max {
        let cut: String = one_line.chars().take(max).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// Lower-case debug name of a small enum (`Succeeded` → `succeeded`).
fn lower(v: impl std::fmt::Debug) -> String {
    format!("{v:?}").to_lowercase()
}

/// Writes the tag and the subject (`full`), or the tag alone.
fn head(s: &mut String, full: bool, tag: &str, subject: &str) -> std::fmt::Result {
    if full {
        write!(s, "{tag:<7} {subject}")
    } else {
        s.push_str(tag);
        Ok(())
    }
}

/// Writes the tag and a subject that stays in the short form too (a node
/// named by a line about a task), padded only in the full form.
fn head_kept(s: &mut String, full: bool, tag: &str, subject: &str) -> std::fmt::Result {
    if full {
        write!(s, "{tag:<7} {subject}")
    } else {
        write!(s, "{tag} {subject}")
    }
}

fn write_line(s: &mut String, kind: &EventKind, full: bool) -> std::fmt::Result {
    use EventKind as K;
    match kind {
        K::SessionStarted {
            workflow,
            seed,
            entry,
            agents,
        } => write!(
            s,
            "start   {workflow} from {entry} (seed {seed}, {} agents)",
            agents.len()
        ),
        K::SessionEnded {
            status,
            error,
            usage,
            wall_ms,
            ..
        } => {
            write!(
                s,
                "end     {} in {wall_ms:.0} ms · {} tokens",
                lower(status),
                usage.total()
            )?;
            if let Some(e) = error {
                write!(s, ": {e}")?;
            }
            Ok(())
        }
        K::ErrorHandled {
            node,
            handler,
            error,
            partial,
        } => write!(
            s,
            "handler {handler} takes over {node} ({partial} partial outputs): {error}"
        ),
        K::TaskSubmitted {
            task,
            agent,
            prompt,
            priority,
        } => {
            head(s, full, "submit", task)?;
            write!(s, " to {agent} (p{priority}): {}", clip(prompt, 60))
        }
        K::ReplyRejected {
            task,
            agent,
            reason,
            attempt,
        } => {
            head(s, full, "rejected", task)?;
            write!(s, " reply {attempt} from {agent}: {reason}")
        }
        K::NodeStateChanged {
            node,
            state,
            progress,
        } => {
            write!(s, "node    {node}: {}", lower(state))?;
            if let Some([done, total]) = progress {
                write!(s, " ({done}/{total})")?;
            }
            Ok(())
        }
        K::TaskCreated { task, node, .. } => {
            head(s, full, "created", task)?;
            write!(s, " on {node}")
        }
        K::TaskAssigned {
            task,
            agent,
            attempt,
        } => {
            head(s, full, "assign", task)?;
            write!(s, " to {agent} (attempt {attempt})")
        }
        K::TaskStateChanged {
            task,
            from,
            to,
            reason,
        } => {
            head(s, full, "state", task)?;
            write!(s, ": {} → {}", from.as_str(), to.as_str())?;
            if let Some(r) = reason {
                write!(s, ": {r}")?;
            }
            Ok(())
        }
        K::TaskCompleted {
            task, agent, usage, ..
        } => {
            head(s, full, "done", task)?;
            write!(s, "{} ({} tok)", by(agent), usage.total())
        }
        K::TaskFailed {
            task, agent, error, ..
        } => {
            head(s, full, "FAILED", task)?;
            write!(s, "{}: {error}", by(agent))
        }
        K::TaskHandoff {
            task,
            from_agent,
            to_agent,
            capability,
            ..
        } => {
            head(s, full, "handoff", task)?;
            write!(s, ": {from_agent} → {to_agent} ({capability})")
        }
        K::WorkerResult {
            task,
            worker,
            deliveries,
            reused,
            ..
        } => {
            head(s, full, "worker", task)?;
            write!(s, ": ran on {worker}")?;
            if *deliveries > 1 {
                write!(s, " (redelivered, delivery {deliveries})")?;
            }
            if *reused {
                write!(s, " (stored result reused)")?;
            }
            Ok(())
        }
        K::WorkerSeen {
            worker,
            host,
            capabilities,
            agents,
            any,
            concurrency,
        } => {
            write!(s, "worker  {worker} on {host}: serves ")?;
            let mut serves: Vec<String> = agents.iter().map(|a| format!("agent {a}")).collect();
            serves.extend(capabilities.iter().map(|c| format!("capability {c}")));
            if *any {
                serves.push("any model agent".into());
            }
            write!(s, "{}, {concurrency} at once", serves.join(", "))
        }
        K::WorkerStatus {
            worker,
            state,
            in_flight,
            done,
            failures,
        } => write!(
            s,
            "worker  {worker}: {}, {in_flight} in flight, {done} done, {failures} failed",
            state.as_str()
        ),
        K::TaskRerouted {
            task,
            from_agent,
            to_agent,
        } => {
            head(s, full, "reroute", task)?;
            write!(s, ": {} → {to_agent}", from_agent.as_deref().unwrap_or("-"))
        }
        K::Bus { message } => write!(
            s,
            "bus     {}: {} → {} ({})",
            message.topic,
            message.from,
            message.to.as_deref().unwrap_or("*"),
            message.kind
        ),
        K::LlmRequest {
            task,
            agent,
            model,
            attempt,
            prompt_tokens,
            ..
        } => {
            head(s, full, "call", task)?;
            write!(
                s,
                ": {agent} calls {model} (attempt {attempt}, {prompt_tokens} prompt tokens)"
            )
        }
        K::LlmResponse {
            task,
            usage,
            latency_ms,
            ..
        } => {
            head(s, full, "reply", task)?;
            write!(s, ": {} tokens in {latency_ms:.0} ms", usage.total())
        }
        K::LlmDelta { task, agent, text } => {
            head(s, full, "typing", task)?;
            write!(s, ": {agent} +{} chars", text.chars().count())
        }
        K::ToolCall {
            task,
            agent,
            tool,
            arguments,
            ..
        } => {
            head(s, full, "tool", task)?;
            write!(s, ": {agent} calls {tool} {}", clip(arguments, 100))
        }
        K::ToolResult {
            task,
            tool,
            ok,
            output,
            ..
        } => {
            head(s, full, "tool", task)?;
            write!(
                s,
                ": {tool} {} {}",
                if *ok { "→" } else { "failed:" },
                clip(output, 100)
            )
        }
        K::LlmError {
            task,
            agent,
            kind,
            error,
        } => {
            head(s, full, "error", task)?;
            write!(s, ": {agent} call failed ({kind:?}): {error}")
        }
        K::RetryScheduled {
            task,
            agent,
            attempt,
            kind,
            delay_ms,
            ..
        } => {
            head(s, full, "retry", task)?;
            write!(
                s,
                ": {agent} attempt {attempt} failed ({kind:?}); retry in {delay_ms:.0} ms"
            )
        }
        K::BreakerStateChanged {
            scope,
            from,
            to,
            reason,
        } => write!(s, "breaker {scope}: {from:?} → {to:?} ({reason})"),
        K::FallbackUsed {
            task,
            from_agent,
            to_agent,
            reason,
            ..
        } => {
            head(s, full, "fallback", task)?;
            write!(s, ": {from_agent} → {to_agent}: {reason}")
        }
        K::CacheHit { task, agent, .. } => {
            head(s, full, "cache", task)?;
            write!(s, ": cached reply of {agent}")
        }
        K::DegradeSwitch {
            task,
            from_agent,
            to_agent,
            reason,
        } => {
            head(s, full, "degrade", task)?;
            write!(s, ": {from_agent} → {to_agent}: {reason}")
        }
        K::BudgetUpdated {
            scope,
            used_tokens,
            used_usd,
            ..
        } => write!(
            s,
            "budget  {scope}: {used_tokens} tokens, ${used_usd:.4} used"
        ),
        K::BudgetWarning {
            scope, fraction, ..
        } => write!(s, "budget  {scope}: {:.0}% used", fraction * 100.0),
        K::BudgetExhausted {
            scope,
            task,
            policy,
            ..
        } => write!(s, "budget  {scope} exhausted at task {task}: {policy}"),
        K::EndpointAdapted {
            endpoint,
            setting,
            from,
            to,
            reason,
        } => write!(s, "adapt   {endpoint}: {setting} {from} → {to} ({reason})"),
        K::QuotaWait {
            task,
            provider,
            limit,
            wait_ms,
        } => {
            if limit == "in_flight" {
                {
                    head(s, full, "quota", task)?;
                    write!(
                        s,
                        ": waits for a free slot: {provider}'s calls in flight are at their limit"
                    )
                }
            } else {
                {
                    head(s, full, "quota", task)?;
                    write!(s, ": waits {wait_ms:.0} ms for {provider} {limit} quota")
                }
            }
        }
        K::ConflictResolved {
            node,
            method,
            conflict,
            ..
        } => write!(
            s,
            "resolve {node}: {}resolved by {method}",
            if *conflict {
                "branches disagreed; "
            } else {
                ""
            }
        ),
        K::BatchDispatched { task, size, .. } => {
            head(s, full, "batch", task)?;
            write!(s, ": one call for a batch of {size} items")
        }
        K::DeadlockDetected { idle_ms, waiting } => write!(
            s,
            "deadlock {} node(s) waiting, nothing ran for {idle_ms:.0} ms",
            waiting.len()
        ),
        K::Metrics { snapshot } => write!(
            s,
            "metrics {} done · {} failed · {} calls",
            snapshot.tasks_completed, snapshot.tasks_failed, snapshot.run.calls
        ),
        K::PlanCreated { task, subtasks } => {
            head(s, full, "plan", task)?;
            write!(s, ": {} subtasks", subtasks.len())
        }
        K::PlanBudgetChecked {
            task,
            needed_tokens,
            scope,
            remaining_tokens,
            over,
            policy,
            dropped,
            ..
        } => {
            head(s, full, "plan", task)?;
            write!(s, ": needs ~{} tokens", approx(*needed_tokens))?;
            if let (Some(scope), Some(left)) = (scope, remaining_tokens) {
                write!(s, "; budget {scope} has {}", approx(*left))?;
            }
            if *over {
                write!(s, " — over budget")?;
                if let Some(p) = policy {
                    write!(s, " ({p})")?;
                }
            }
            if !dropped.is_empty() {
                write!(s, "; {} step(s) left out", dropped.len())?;
            }
            Ok(())
        }
        K::PlanStepReady { task, after, .. } => {
            head(s, full, "step", task)?;
            if after.is_empty() {
                write!(s, " ready")
            } else {
                let names: Vec<&str> = after.iter().map(|a| &**a).collect();
                write!(s, " ready after {}", names.join(", "))
            }
        }
        K::OutputRepair {
            task,
            attempt,
            error,
        } => {
            head(s, full, "repair", task)?;
            write!(s, " #{attempt}: {error}")
        }
        K::ReviewVerdict {
            node,
            approved,
            feedback,
            revision,
            ..
        } => {
            head_kept(s, full, "review", node)?;
            write!(
                s,
                " r{revision}: {}",
                if *approved { "approved" } else { "sent back" }
            )?;
            if !feedback.is_empty() {
                write!(s, " — {feedback}")?;
            }
            Ok(())
        }
        K::DebateRoundStarted { node, round, order } => {
            let order: Vec<&str> = order.iter().map(|a| &**a).collect();
            write!(s, "debate  {node} round {round}: {}", order.join(" → "))
        }
        K::SwarmItemAdded {
            node,
            item,
            title,
            by: who,
            round,
        } => write!(
            s,
            "swarm   {node} r{round} + {item}{}: {}",
            by(who),
            clip(title, 80)
        ),
        K::SwarmClaimed {
            node,
            item,
            agent,
            round,
            until,
        } => write!(
            s,
            "swarm   {node} r{round} {agent} claims {item} (lease to r{until})"
        ),
        K::SwarmLeaseExpired {
            node,
            item,
            agent,
            round,
        } => write!(
            s,
            "swarm   {node} r{round} lease of {item} by {agent} expired; {item} is open again"
        ),
        K::SwarmFinding {
            node,
            item,
            agent,
            round,
            text,
            ..
        } => write!(
            s,
            "swarm   {node} r{round} {agent} on {item}: {}",
            clip(text, 80)
        ),
        K::SwarmWorkFailed {
            node,
            item,
            agent,
            round,
            error,
            ..
        } => write!(
            s,
            "swarm   {node} r{round} {agent} failed on {item}: {}",
            clip(error, 80)
        ),
        K::SwarmItemDone { node, item, round } => {
            write!(s, "swarm   {node} r{round} {item} done")
        }
        K::SwarmRoundEnded {
            node,
            round,
            open,
            done,
            added,
        } => write!(
            s,
            "swarm   {node} r{round} ended: {open} open, {done} done, {added} new"
        ),
        K::SwarmConverged {
            node,
            rounds,
            reason,
            items,
            done,
            findings,
        } => write!(
            s,
            "swarm   {node} converged ({reason}) after {rounds} rounds: {done}/{items} items done, {findings} findings"
        ),
        K::ChatTurn {
            node,
            turn,
            speaker,
            via,
            text,
            ..
        } => {
            let via = if via == "addressed" {
                " (addressed)"
            } else {
                ""
            };
            write!(
                s,
                "chat    {node} #{turn} {speaker}{via}: {}",
                clip(text, 80)
            )
        }
        K::ChatTurnFailed {
            node,
            turn,
            speaker,
            error,
            ..
        } => write!(
            s,
            "chat    {node} #{turn} {speaker} failed: {}",
            clip(error, 80)
        ),
        K::ChatEnded {
            node,
            turns,
            reason,
            by: who,
        } => write!(
            s,
            "chat    {node} ended ({reason}{}) after {turns} turns",
            by(who)
        ),
        K::DebateTurn {
            node,
            round,
            turn,
            speaker,
            position,
            confidence,
            critiques,
            ..
        } => {
            write!(
                s,
                "debate  {node} r{round} #{turn} {speaker}: {position} ({confidence:.2})"
            )?;
            if !critiques.is_empty() {
                let on: Vec<String> = critiques.iter().map(|c| format!("#{}", c.turn)).collect();
                write!(s, ", critiques {}", on.join(" "))?;
            }
            Ok(())
        }
        K::DebateTurnFailed {
            node,
            turn,
            speaker,
            error,
            ..
        } => write!(s, "debate  {node} #{turn} {speaker} FAILED: {error}"),
        K::DebateRoundEnded {
            node,
            round,
            agreement,
            changed,
            ..
        } => write!(
            s,
            "debate  {node} round {round} ended · agreement {:.0}% · {changed} changed",
            agreement * 100.0
        ),
        K::DebateEnded {
            node,
            rounds,
            reason,
            decision,
            decided_by,
            ..
        } => write!(
            s,
            "debate  {node}: `{decision}` by {decided_by} after {rounds} round(s) ({reason})"
        ),
        K::VoteCast {
            node,
            round,
            voter,
            choice,
            confidence,
            phase,
            ..
        } => write!(
            s,
            "vote    {node} r{round} {voter}: {choice} ({confidence:.2}, {phase})"
        ),
        K::VoteFailed {
            node,
            round,
            voter,
            error,
        } => write!(s, "vote    {node} r{round} {voter} FAILED: {error}"),
        K::ConsensusReached {
            node,
            choice,
            decided_by,
            tally,
            ..
        } => write!(
            s,
            "consensus {node}: `{choice}` ({decided_by}) — {}",
            tally.summary
        ),
        K::ConsensusFailed {
            node,
            round,
            reason,
            next,
            ..
        } => write!(s, "no consensus {node} r{round}: {reason}; next: {next}"),
        K::AgentFlagged {
            node,
            agent,
            reason,
            detail,
            ..
        } => write!(s, "flagged {node}: {agent} ({reason}: {detail})"),
        K::AwaitingStep {
            node,
            round,
            next,
            what,
        } => {
            write!(s, "step    {node} r{round}: next {what}")?;
            if let Some(n) = next {
                write!(s, " by {n}")?;
            }
            write!(s, " waits for a step")
        }
        K::StepModeChanged { on } => {
            write!(s, "step    mode {}", if *on { "on" } else { "off" })
        }
        K::RouteChosen { node, to, reason } => write!(s, "route   {node} → {to} ({reason})"),
        K::LoopTransition {
            node,
            from,
            to,
            iteration,
        } => write!(s, "loop    {node}: {from} → {to} (#{iteration})"),
        K::TriggerFired {
            node, topic, count, ..
        } => write!(s, "trigger {node} on {topic} (#{count})"),
        K::GateOpened { gate, revision, .. } => {
            head(s, full, "gate", gate)?;
            write!(s, ": opened (revision {revision})")
        }
        K::GateDecided {
            gate,
            approved,
            comment,
        } => {
            head(s, full, "gate", gate)?;
            write!(s, ": {}", if *approved { "approved" } else { "denied" })?;
            if let Some(c) = comment {
                write!(s, " — {c}")?;
            }
            Ok(())
        }
        K::RunPaused => write!(s, "paused  the run"),
        K::RunResumed => write!(s, "resumed the run"),
        K::CommandReceived { command } => write!(s, "command {}", command.name()),
        K::CommandRejected { command, reason } => {
            write!(s, "command {} rejected: {reason}", command.name())
        }
        K::Notice { level, message } => write!(s, "{level:<7} {message}"),
    }
}

/// Tokens as people say them: `900`, `1.5k`, `40k`.
pub fn approx(tokens: u64) -> String {
    if tokens < 1000 {
        tokens.to_string()
    } else if tokens < 10_000 && !tokens.is_multiple_of(1000) {
        format!("{:.1}k", tokens as f64 / 1000.0)
    } else {
        format!("{}k", (tokens + 500) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Usage;

    #[test]
    fn a_line_starts_with_its_tag_and_names_the_subject() {
        let done = EventKind::TaskCompleted {
            task: "research".into(),
            agent: Some("researcher".into()),
            from: crate::event::TaskState::InProgress,
            output: serde_json::json!("x"),
            attempt: 1,
            usage: Usage {
                prompt_tokens: 30,
                completion_tokens: 12,
                estimated: false,
            },
            duration_ms: 5.0,
        };
        assert_eq!(done.describe(), "done    research by researcher (42 tok)");
        assert_eq!(done.subject().map(|t| &**t), Some("research"));
        assert_eq!(done.describe_short(), "done by researcher (42 tok)");
        let call = EventKind::ToolCall {
            task: "t".into(),
            agent: "ops".into(),
            call_id: "c1".into(),
            tool: "shell".into(),
            arguments: format!("{{\"command\":\n\"{}\"}}", "x".repeat(200)),
        };
        let line = call.describe();
        assert!(
            line.starts_with("tool    t: ops calls shell {\"command\": \"xx"),
            "{line}"
        );
        assert!(line.ends_with('…') && !line.contains('\n'), "{line}");
        assert_eq!(EventKind::RunPaused.subject(), None);
        let review = EventKind::ReviewVerdict {
            node: "plan".into(),
            task: "plan/review".into(),
            approved: false,
            feedback: "more".into(),
            revision: 1,
        };
        assert_eq!(review.describe(), "review  plan r1: sent back — more");
        assert_eq!(review.describe_short(), "review plan r1: sent back — more");
    }
}
