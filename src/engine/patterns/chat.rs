//! `chat`: a group conversation. Participants speak in turn; a turn that
//! names another participant with `@id` gives that one the next turn, and
//! the round robin goes on after whoever spoke. Each speaker sees the topic
//! and the shared transcript, windowed to `context_tokens` by the real
//! tokenizer as in debates. The chat ends when a turn says the `until`
//! phrase, when the judge (asked every `judge_every` turns) says it is
//! done, or after `max_turns`. There are no positions and no votes: the
//! output is the transcript and its last word. In step mode each turn waits
//! for a `step`.

use std::sync::Arc;

use serde_json::{Value, json};

use super::debate::window_start;
use super::judging::question_text;
use super::plan::parse_review;
use crate::engine::agent_task::{AgentJob, hints, work};
use crate::engine::exec::NodeResult;
use crate::engine::run::{Run, Scope, TaskError, Vars};
use crate::event::{EventKind, Id};
use crate::llm::Expect;
use crate::llm::tokens::TokenCounter;
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::{agent::Target, chat::ChatNode};

/// One spoken turn.
struct Said {
    turn: u32,
    speaker: usize,
    text: String,
    addressed: Option<usize>,
    /// The turn as the transcript shows it, and its tokens.
    line: String,
    tokens: u64,
}

/// The participant a turn addresses: the first `@id` naming another
/// participant (an `@` inside a word, like an e-mail address, is not one).
pub(crate) fn addressed(text: &str, ids: &[Id], speaker: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices('@') {
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        let rest = &text[at + 1..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches(['.', '-']);
        if let Some(s) = ids.iter().position(|i| i.eq_ignore_ascii_case(name))
            && s != speaker
        {
            return Some(s);
        }
    }
    None
}

/// A reply as a turn: non-empty text.
fn parse_said(_: &Run, text: &str) -> Result<Value, String> {
    let t = text.trim();
    if t.is_empty() {
        Err("the reply is empty; say something to the others".into())
    } else {
        Ok(Value::String(t.to_string()))
    }
}

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    chat: &ChatNode,
    input: Value,
    scope: &Scope,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let vars = Vars {
        input: &input,
        output: None,
        scope,
        label: None,
        state: None,
    };
    let topic = question_text(run, &chat.topic, &vars, &input);
    let counter = TokenCounter::global();
    let k = chat.participants.len();
    let ids: Vec<Id> = chat
        .participants
        .iter()
        .map(|a| run.wf.agents[*a].id.clone())
        .collect();
    let mut said: Vec<Said> = Vec::new();
    let mut spoken = vec![0u32; k];
    let mut failures = super::failures::CallFailures::default();
    let mut next_in_order = 0usize;
    let mut called: Option<usize> = None;
    let mut reason = "max_turns";
    let mut ended_by: Option<Id> = None;
    let mut turns = 0u32;
    for turn in 1..=chat.max_turns {
        turns = turn;
        let (speaker, via) = match called.take() {
            Some(s) => (s, "addressed"),
            None => (next_in_order, "order"),
        };
        run.step
            .wait(node, chat.step, || {
                run.emit(EventKind::AwaitingStep {
                    node: n.id.clone(),
                    round: turn,
                    next: Some(ids[speaker].clone()),
                    what: "turn".into(),
                })
            })
            .await;
        next_in_order = (speaker + 1) % k;
        let tokens: Vec<u64> = said.iter().map(|s| s.tokens).collect();
        let start = window_start(&tokens, u64::from(chat.context_tokens));
        let others: Vec<String> = ids
            .iter()
            .enumerate()
            .filter(|(s, _)| *s != speaker)
            .map(|(_, i)| format!("@{i}"))
            .collect();
        let mut prompt = format!(
            "Topic: {topic}\nYou are {} in a group chat with {}. Turn {turn} of at most {}. \
             Reply with your next message only; name someone with @id to hand them the next turn.",
            ids[speaker],
            others.join(", "),
            chat.max_turns
        );
        if let Some(p) = &chat.until {
            prompt.push_str(&format!(
                " When the group has what it needs, write {p} to end the chat."
            ));
        }
        if said.is_empty() {
            prompt.push_str("\nYou speak first.");
        } else {
            prompt.push_str("\n\nTranscript so far:\n");
            if start > 0 {
                prompt.push_str(&format!("({start} earlier turn(s) left out)\n"));
            }
            for s in &said[start..] {
                prompt.push_str(&s.line);
                prompt.push('\n');
            }
        }
        let agent = chat.participants[speaker];
        let mut h = run.new_task(
            scope.task_id(&format!("{}/t{turn}/{}", n.id, ids[speaker])),
            node,
            scope.parent.clone(),
            format!("turn {turn}: {}", ids[speaker]),
            Some(&Target::Agent(agent)),
            n.priority,
            &json!({"turn": turn, "via": via}),
            false,
        );
        // The visit is the speaker's own turn count: a sim script gives
        // each participant its lines in order.
        let job = AgentJob::new(
            node,
            Target::Agent(agent),
            n.priority,
            prompt,
            &Value::Null,
            spoken[speaker],
        )
        .parse(&parse_said, 1);
        spoken[speaker] += 1;
        match work(&mut h, job).await {
            Ok((v, _)) => {
                h.complete(v.clone());
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let to = addressed(&text, &ids, speaker);
                let line = format!("[{turn}] {}: {text}", ids[speaker]);
                let tokens = counter.count(&line) + 1;
                run.emit(EventKind::ChatTurn {
                    node: n.id.clone(),
                    task: h.id.clone(),
                    turn,
                    speaker: ids[speaker].clone(),
                    via: via.into(),
                    addressed: to.map(|s| ids[s].clone()),
                    text: text.clone(),
                });
                called = to;
                let said_phrase = chat
                    .until
                    .as_ref()
                    .is_some_and(|p| text.to_lowercase().contains(&p.to_lowercase()));
                said.push(Said {
                    turn,
                    speaker,
                    text,
                    addressed: to,
                    line,
                    tokens,
                });
                if said_phrase {
                    reason = "phrase";
                    ended_by = Some(ids[speaker].clone());
                    break;
                }
            }
            Err(e) => {
                failures.record(&e);
                run.emit(EventKind::ChatTurnFailed {
                    node: n.id.clone(),
                    task: h.id.clone(),
                    turn,
                    speaker: ids[speaker].clone(),
                    error: e.message,
                });
            }
        }
        if let Some(j) = chat.judge
            && turn % chat.judge_every == 0
            && turn < chat.max_turns
            && !said.is_empty()
            && judge_says_done(run, node, scope, j, &topic, &said, turn, chat).await?
        {
            reason = "judge";
            ended_by = Some(run.wf.agents[j].id.clone());
            break;
        }
    }
    run.emit(EventKind::ChatEnded {
        node: n.id.clone(),
        turns,
        reason: reason.into(),
        by: ended_by.clone(),
    });
    let Some(last) = said.last() else {
        return Err(failures.every(&n.id, "chat turn").unwrap_or_else(|| {
            TaskError::workflow(format!("{}: nobody spoke in {turns} turn(s)", n.id))
        }));
    };
    let transcript: Vec<Value> = said
        .iter()
        .map(|s| {
            json!({
                "turn": s.turn,
                "speaker": &*ids[s.speaker],
                "text": s.text,
                "addressed": s.addressed.map(|a| ids[a].to_string()),
            })
        })
        .collect();
    Ok(json!({
        "topic": topic,
        "stop_reason": reason,
        "ended_by": ended_by.map(|b| b.to_string()),
        "turns": turns,
        "last": {"speaker": &*ids[last.speaker], "text": last.text},
        "transcript": transcript,
    }))
}

/// Asks the judge whether the chat has done its job.
#[allow(clippy::too_many_arguments)]
async fn judge_says_done(
    run: &Arc<Run>,
    node: NodeIdx,
    scope: &Scope,
    judge: crate::workflow::index::AgentIdx,
    topic: &str,
    said: &[Said],
    turn: u32,
    chat: &ChatNode,
) -> Result<bool, TaskError> {
    let n = &run.wf.nodes[node];
    let tokens: Vec<u64> = said.iter().map(|s| s.tokens).collect();
    let start = window_start(&tokens, u64::from(chat.context_tokens));
    let mut prompt = format!("Topic: {topic}\nIs this conversation done?\n\nTranscript:\n");
    for s in &said[start..] {
        prompt.push_str(&s.line);
        prompt.push('\n');
    }
    let mut h = run.new_task(
        scope.task_id(&format!("{}/t{turn}/judge", n.id)),
        node,
        scope.parent.clone(),
        format!("judge after turn {turn}"),
        Some(&Target::Agent(judge)),
        n.priority,
        &json!({"turn": turn}),
        false,
    );
    let job = AgentJob::new(
        node,
        Target::Agent(judge),
        n.priority,
        prompt,
        &Value::Null,
        turn / chat.judge_every - 1,
    )
    .instructions(
        "Reply with JSON only: {\"approved\": true if the conversation reached its goal and can end, \
         false to let it go on, \"feedback\": \"why, in one sentence\"}",
    )
    .hints(hints(Expect::Review))
    .parse(&parse_review, 1);
    let (v, _) = work(&mut h, job).await?;
    h.complete(v.clone());
    Ok(v.get("approved").and_then(Value::as_bool) == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_addresses_the_first_other_participant_it_names() {
        let ids: Vec<Id> = ["ana", "ben", "cleo"].into_iter().map(Id::from).collect();
        assert_eq!(addressed("over to you, @cleo.", &ids, 0), Some(2));
        assert_eq!(addressed("@ana and @ben", &ids, 0), Some(1), "not oneself");
        assert_eq!(addressed("mail ana@ben.org", &ids, 0), None, "inside a word");
        assert_eq!(addressed("@nobody here", &ids, 0), None);
        assert_eq!(addressed("@BEN?", &ids, 2), Some(1));
    }
}
