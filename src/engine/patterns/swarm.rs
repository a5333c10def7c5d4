//! `swarm`: peers work a shared pool with no coordinator task. The pool
//! holds items, claims and findings. Each round every agent applies its own
//! local rule to the pool as it stands (claims are atomic: an agent sees
//! the claims taken before its own), works its claimed item, posts
//! findings others read in their next prompts, and may add items. Leases
//! are counted in rounds, so a run is deterministic for a seed and resumes
//! to the same pool: a claim whose agent posts nothing within
//! `lease_rounds` expires, and the item goes back to the others.
//!
//! The round loop here only advances time and records the pool; who works
//! on what is each agent's rule ([`pick`]). Findings are also published
//! on the bus (`swarm.<node>`), so `on` nodes and the bus pane see them.

use std::sync::Arc;

use futures::future::join_all;
use serde_json::{Value, json};

use super::debate::window_start;
use super::judging::question_text;
use crate::engine::agent_task::{AgentJob, strip_fences, work};
use crate::engine::exec::NodeResult;
use crate::engine::run::{Run, Scope, TaskError, Vars};
use crate::event::{EventKind, Id};
use crate::llm::tokens::TokenCounter;
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::{
    agent::Target,
    swarm::{SwarmNode, SwarmSeeds},
};

/// One item of the pool.
#[derive(Debug, Clone)]
struct Item {
    id: Id,
    title: String,
    /// Agent slot that added it (`None`: a first item).
    by: Option<usize>,
    /// Indices into the findings.
    findings: Vec<usize>,
    done: bool,
    claim: Option<Claim>,
}

/// A claim on an item: held by an agent slot through round `until`.
#[derive(Debug, Clone, Copy)]
struct Claim {
    agent: usize,
    until: u32,
}

/// A posted finding.
#[derive(Debug, Clone)]
struct Finding {
    item: usize,
    agent: usize,
    round: u32,
    text: String,
    /// Tokens of its transcript line.
    tokens: u64,
}

/// What an agent's reply says: findings and new items.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub(crate) findings: Vec<String>,
    pub(crate) new_items: Vec<String>,
}

/// What a swarm agent is asked to reply (a system message after its own).
const REPLY_FORMAT: &str = "You are one of several peers working a shared pool of items. \
    Work on your item and reply in lines: `FINDING: <what you found>` (one or more) and, \
    for follow-up work others could take, `NEW: <a new item>`. \
    Or JSON: {\"findings\": [\"...\"], \"new_items\": [\"...\"]}.";

/// Reads a reply: JSON `{findings, new_items}`, or `FINDING:` / `NEW:`
/// lines. A reply with neither marker is one finding (a model that did not
/// follow the format still reports something). An empty reply is malformed.
pub(crate) fn parse_reply(text: &str) -> Result<Reply, String> {
    let body = strip_fences(text);
    if body.starts_with('{')
        && let Ok(v) = serde_json::from_str::<Value>(body)
    {
        let list = |k: &str| -> Vec<String> {
            match &v[k] {
                Value::Array(a) => a
                    .iter()
                    .map(|x| match x {
                        Value::String(s) => s.trim().to_string(),
                        other => other.to_string(),
                    })
                    .filter(|s| !s.is_empty())
                    .collect(),
                Value::String(s) if !s.trim().is_empty() => vec![s.trim().to_string()],
                _ => Vec::new(),
            }
        };
        let findings = list("findings");
        if findings.is_empty() {
            return Err("the JSON reply has no `findings` (a list of strings)".into());
        }
        return Ok(Reply {
            findings,
            new_items: list("new_items"),
        });
    }
    let mut findings = Vec::new();
    let mut new_items = Vec::new();
    let mut marked = false;
    for line in body.lines() {
        let l = line.trim().trim_start_matches(['-', '*']).trim();
        if let Some(rest) = strip_marker(l, "FINDING:") {
            marked = true;
            if !rest.is_empty() {
                findings.push(rest.to_string());
            }
        } else if let Some(rest) = strip_marker(l, "NEW:") {
            marked = true;
            if !rest.is_empty() {
                new_items.push(rest.to_string());
            }
        } else if marked && !l.is_empty() {
            // A continuation of the previous finding.
            if let Some(last) = findings.last_mut() {
                last.push(' ');
                last.push_str(l);
            }
        }
    }
    if !marked {
        let whole = body.split_whitespace().collect::<Vec<_>>().join(" ");
        if whole.is_empty() {
            return Err("the reply is empty; write at least one `FINDING: ...` line".into());
        }
        findings.push(whole);
    }
    if findings.is_empty() {
        return Err("no `FINDING:` line with text; write at least one finding".into());
    }
    Ok(Reply {
        findings,
        new_items,
    })
}

/// `line` after `marker` (ignoring case), trimmed.
fn strip_marker<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let head = line.get(..marker.len())?;
    head.eq_ignore_ascii_case(marker)
        .then(|| line[marker.len()..].trim())
}

/// FNV-1a of the agent and item ids: an agent's own preference among
/// equally covered items, so peers spread out without talking.
fn taste(agent: &str, item: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in agent.bytes().chain([0xff]).chain(item.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// An agent's local rule: among the items that are not done, not claimed
/// by a live lease and not dropped by this agent before, the one with the
/// fewest findings, preferring items it has not worked on yet, then its
/// own taste. `None`: nothing to take.
fn pick(
    items: &[Item],
    findings: &[Finding],
    agent: usize,
    agent_id: &str,
    dropped: &[usize],
) -> Option<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(i, it)| !it.done && it.claim.is_none() && !dropped.contains(i))
        .min_by_key(|(_, it)| {
            let mine = it.findings.iter().any(|f| findings[*f].agent == agent);
            (mine, it.findings.len(), taste(agent_id, &it.id))
        })
        .map(|(i, _)| i)
}

/// Lower-cased words, to tell a new item from one already in the pool.
fn normal(title: &str) -> String {
    title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    swarm: &SwarmNode,
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
    let goal = question_text(run, &swarm.goal, &vars, &input);
    let counter = TokenCounter::global();
    let k = swarm.agents.len();
    let ids: Vec<Id> = swarm
        .agents
        .iter()
        .map(|a| run.wf.agents[*a].id.clone())
        .collect();
    let topic = Id::from(format!("swarm.{}", n.id).as_str());

    let seeds: Vec<String> = match &swarm.seeds {
        SwarmSeeds::Items(list) => list.clone(),
        SwarmSeeds::Goal => vec![goal.clone()],
        SwarmSeeds::Over(expr) => {
            let v = run
                .with_vars(&vars, |vs| expr.eval(vs))
                .map_err(|e| {
                    TaskError::workflow(format!(
                        "{}: `over = {}` failed: {}",
                        n.id,
                        expr.source(),
                        e.message
                    ))
                })?;
            let list = match v {
                Value::Array(a) => a,
                Value::Null => Vec::new(),
                other => vec![other],
            };
            list.into_iter()
                .map(|x| match x {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .filter(|s| !s.trim().is_empty())
                .collect()
        }
    };
    if seeds.is_empty() {
        return Err(TaskError::workflow(format!(
            "{}: the swarm's first items are empty: nothing to work on",
            n.id
        )));
    }

    let mut items: Vec<Item> = Vec::new();
    let mut findings: Vec<Finding> = Vec::new();
    // Each agent's own memory: items whose lease it let expire.
    let mut dropped: Vec<Vec<usize>> = vec![Vec::new(); k];
    let add = |items: &mut Vec<Item>, title: String, by: Option<usize>, round: u32| {
        let id = Id::from(format!("i{}", items.len() + 1).as_str());
        run.emit(EventKind::SwarmItemAdded {
            node: n.id.clone(),
            item: id.clone(),
            title: title.clone(),
            by: by.map(|s| ids[s].clone()),
            round,
        });
        items.push(Item {
            id,
            title,
            by,
            findings: Vec::new(),
            done: false,
            claim: None,
        });
    };
    for s in seeds.into_iter().take(swarm.max_items as usize) {
        add(&mut items, s, None, 0);
    }

    let mut reason = "max_steps";
    let mut rounds = 0u32;
    let mut quiet = 0u32;
    let mut failures = super::failures::CallFailures::default();
    for round in 1..=swarm.max_steps {
        rounds = round;
        run.step.new_round(node);
        run.step
            .wait(node, swarm.step, || {
                run.emit(EventKind::AwaitingStep {
                    node: n.id.clone(),
                    round,
                    next: None,
                    what: "round".into(),
                })
            })
            .await;
        // Leases taken before and not renewed by a finding run out now.
        for (i, it) in items.iter_mut().enumerate() {
            if let Some(c) = it.claim
                && c.until < round
            {
                it.claim = None;
                dropped[c.agent].push(i);
                run.emit(EventKind::SwarmLeaseExpired {
                    node: n.id.clone(),
                    item: it.id.clone(),
                    agent: ids[c.agent].clone(),
                    round,
                });
            }
        }
        // Agents act in an order that rotates with the round, each on the
        // pool as the agents before it left it.
        let order: Vec<usize> = (0..k).map(|j| (j + round as usize - 1) % k).collect();
        let mut work_list: Vec<(usize, usize)> = Vec::new();
        for &slot in &order {
            let held = items
                .iter()
                .position(|it| it.claim.is_some_and(|c| c.agent == slot));
            let item = match held {
                Some(i) => i,
                None => match pick(&items, &findings, slot, &ids[slot], &dropped[slot]) {
                    Some(i) => {
                        let until = round + swarm.lease_rounds - 1;
                        items[i].claim = Some(Claim { agent: slot, until });
                        run.emit(EventKind::SwarmClaimed {
                            node: n.id.clone(),
                            item: items[i].id.clone(),
                            agent: ids[slot].clone(),
                            round,
                            until,
                        });
                        i
                    }
                    None => continue,
                },
            };
            work_list.push((slot, item));
        }

        // Every agent with an item works at once.
        let jobs = work_list.iter().map(|&(slot, i)| {
            let prompt = prompt_for(
                &goal,
                &items,
                &findings,
                i,
                &ids,
                slot,
                round,
                swarm,
            );
            let agent = swarm.agents[slot];
            let item = &items[i];
            let mut h = run.new_task(
                scope.task_id(&format!("{}/r{round}/{}/{}", n.id, ids[slot], item.id)),
                node,
                scope.parent.clone(),
                format!("r{round} {}: {}", ids[slot], crate::text::clip(&item.title, 60)),
                Some(&Target::Agent(agent)),
                n.priority,
                &json!({"round": round, "item": &*item.id, "title": item.title}),
                false,
            );
            let repairs = swarm.repair_attempts;
            async move {
                let parse = |_: &Run, text: &str| {
                    parse_reply(text).map(|r| json!({"findings": r.findings, "new_items": r.new_items}))
                };
                let job = AgentJob::new(
                    node,
                    Target::Agent(agent),
                    n.priority,
                    prompt,
                    &Value::Null,
                    round - 1,
                )
                .instructions(REPLY_FORMAT)
                .parse(&parse, repairs);
                let r = work(&mut h, job).await;
                if let Ok((v, _)) = &r {
                    h.complete(v.clone());
                }
                (h.id.clone(), r)
            }
        });
        let results = join_all(jobs).await;

        let mut added = 0u32;
        for ((slot, i), (task, r)) in work_list.iter().copied().zip(results) {
            match r {
                Ok((v, _)) => {
                    items[i].claim = None;
                    for text in v["findings"].as_array().into_iter().flatten() {
                        let text = text.as_str().unwrap_or("").to_string();
                        let line = format!("[{}] {}: {text}", items[i].id, ids[slot]);
                        let tokens = counter.count(&line) + 1;
                        findings.push(Finding {
                            item: i,
                            agent: slot,
                            round,
                            text: text.clone(),
                            tokens,
                        });
                        items[i].findings.push(findings.len() - 1);
                        run.emit(EventKind::SwarmFinding {
                            node: n.id.clone(),
                            task: task.clone(),
                            item: items[i].id.clone(),
                            agent: ids[slot].clone(),
                            round,
                            text: text.clone(),
                        });
                        run.publish(
                            topic.clone(),
                            ids[slot].clone(),
                            None,
                            "finding",
                            json!({"item": &*items[i].id, "round": round, "text": text}),
                            None,
                        )
                        .await;
                    }
                    if !items[i].done && items[i].findings.len() >= swarm.coverage as usize {
                        items[i].done = true;
                        run.emit(EventKind::SwarmItemDone {
                            node: n.id.clone(),
                            item: items[i].id.clone(),
                            round,
                        });
                    }
                    for t in v["new_items"].as_array().into_iter().flatten() {
                        let t = t.as_str().unwrap_or("").trim().to_string();
                        let key = normal(&t);
                        if key.is_empty()
                            || items.len() >= swarm.max_items as usize
                            || items.iter().any(|it| normal(&it.title) == key)
                        {
                            continue;
                        }
                        add(&mut items, t, Some(slot), round);
                        added += 1;
                    }
                }
                Err(e) => {
                    failures.record(&e);
                    run.emit(EventKind::SwarmWorkFailed {
                        node: n.id.clone(),
                        task,
                        item: items[i].id.clone(),
                        agent: ids[slot].clone(),
                        round,
                        error: e.message,
                    });
                }
            }
        }
        let done = items.iter().filter(|it| it.done).count();
        run.emit(EventKind::SwarmRoundEnded {
            node: n.id.clone(),
            round,
            open: (items.len() - done) as u32,
            done: done as u32,
            added,
        });
        run.progress(node, done, items.len());
        quiet = if added == 0 { quiet + 1 } else { 0 };
        if done == items.len() {
            reason = "covered";
            break;
        }
        if swarm.converge_at < 1.0 && done as f64 >= swarm.converge_at * items.len() as f64 {
            reason = "quality";
            break;
        }
        if swarm.quiet_rounds.is_some_and(|q| quiet >= q) {
            reason = "quiet";
            break;
        }
    }
    let done = items.iter().filter(|it| it.done).count();
    run.emit(EventKind::SwarmConverged {
        node: n.id.clone(),
        rounds,
        reason: reason.into(),
        items: items.len() as u32,
        done: done as u32,
        findings: findings.len() as u32,
    });
    if findings.is_empty() {
        return Err(failures.every(&n.id, "swarm agent").unwrap_or_else(|| {
            TaskError::workflow(format!(
                "{}: no agent posted a finding in {rounds} round(s)",
                n.id
            ))
        }));
    }

    let pool: Vec<Value> = items
        .iter()
        .map(|it| {
            let fs: Vec<Value> = it
                .findings
                .iter()
                .map(|f| {
                    let f = &findings[*f];
                    json!({"agent": &*ids[f.agent], "round": f.round, "text": f.text})
                })
                .collect();
            json!({
                "id": &*it.id,
                "title": it.title,
                "done": it.done,
                "added_by": it.by.map(|s| ids[s].to_string()),
                "findings": fs,
            })
        })
        .collect();
    let mut out = json!({
        "goal": goal,
        "stop_reason": reason,
        "rounds": rounds,
        "done": done,
        "items": pool,
    });
    if let Some(agg) = swarm.aggregate {
        out["aggregate"] = aggregate(run, node, scope, agg, &goal, &items, &findings, &ids).await?;
    }
    Ok(out)
}

/// The prompt for one agent on one item: the goal, the item and its
/// findings so far, the rest of the pool's newest findings windowed to
/// `context_tokens`, and the open items (so new ones are new).
#[allow(clippy::too_many_arguments)]
fn prompt_for(
    goal: &str,
    items: &[Item],
    findings: &[Finding],
    item: usize,
    ids: &[Id],
    slot: usize,
    round: u32,
    swarm: &SwarmNode,
) -> String {
    let it = &items[item];
    let mut p = format!(
        "Goal: {goal}\nYou are {}; round {round} of at most {}.\nYour item [{}]: {}",
        ids[slot], swarm.max_steps, it.id, it.title
    );
    let own: Vec<&Finding> = it.findings.iter().map(|f| &findings[*f]).collect();
    if !own.is_empty() {
        p.push_str("\nFindings on it so far:");
        for f in own {
            p.push_str(&format!("\n- {}: {}", ids[f.agent], f.text));
        }
    }
    let others: Vec<&Finding> = findings.iter().filter(|f| f.item != item).collect();
    let tokens: Vec<u64> = others.iter().map(|f| f.tokens).collect();
    let start = window_start(&tokens, u64::from(swarm.context_tokens));
    if start < others.len() {
        p.push_str("\n\nWhat others found (build on it):");
        if start > 0 {
            p.push_str(&format!("\n({start} earlier finding(s) left out)"));
        }
        for f in &others[start..] {
            p.push_str(&format!(
                "\n[{}] {}: {}",
                items[f.item].id, ids[f.agent], f.text
            ));
        }
    }
    let open: Vec<String> = items
        .iter()
        .filter(|x| !x.done)
        .map(|x| format!("[{}] {}", x.id, x.title))
        .collect();
    if !open.is_empty() {
        p.push_str("\n\nOpen items: ");
        p.push_str(&open.join("; "));
    }
    p
}

/// The aggregate: one agent turns the pool's findings into the answer.
#[allow(clippy::too_many_arguments)]
async fn aggregate(
    run: &Arc<Run>,
    node: NodeIdx,
    scope: &Scope,
    agent: crate::workflow::index::AgentIdx,
    goal: &str,
    items: &[Item],
    findings: &[Finding],
    ids: &[Id],
) -> Result<Value, TaskError> {
    let n = &run.wf.nodes[node];
    let mut prompt = format!("Goal: {goal}\n\nThe swarm's findings, by item:");
    for it in items {
        prompt.push_str(&format!("\n[{}] {}", it.id, it.title));
        for f in &it.findings {
            let f = &findings[*f];
            prompt.push_str(&format!("\n- {}: {}", ids[f.agent], f.text));
        }
    }
    prompt.push_str("\n\nWrite the combined answer.");
    let mut h = run.new_task(
        scope.task_id(&format!("{}/aggregate", n.id)),
        node,
        scope.parent.clone(),
        format!("aggregate {}", n.id),
        Some(&Target::Agent(agent)),
        n.priority,
        &json!({"items": items.len(), "findings": findings.len()}),
        false,
    );
    let job = AgentJob::new(
        node,
        Target::Agent(agent),
        n.priority,
        prompt,
        &Value::Null,
        0,
    );
    let (v, _) = work(&mut h, job).await?;
    h.complete(v.clone());
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, findings: Vec<usize>, claimed: bool) -> Item {
        Item {
            id: Id::from(id),
            title: id.into(),
            by: None,
            findings,
            done: false,
            claim: claimed.then_some(Claim {
                agent: 9,
                until: 1,
            }),
        }
    }

    #[test]
    fn replies_are_read_as_lines_json_or_plain_text() {
        let r = parse_reply("FINDING: the parser trusts sizes\n  and lengths\nNEW: fuzz the parser\nnew: Fuzz  the parser").unwrap();
        assert_eq!(r.findings, vec!["the parser trusts sizes and lengths"]);
        assert_eq!(r.new_items, vec!["fuzz the parser", "Fuzz  the parser"]);
        let j = parse_reply(r#"{"findings": ["a", ""], "new_items": "b"}"#).unwrap();
        assert_eq!(j.findings, vec!["a"]);
        assert_eq!(j.new_items, vec!["b"]);
        let plain = parse_reply("just   some text").unwrap();
        assert_eq!(plain.findings, vec!["just some text"]);
        assert!(parse_reply("  ").unwrap_err().contains("empty"));
        assert!(parse_reply("NEW: only new work").unwrap_err().contains("FINDING"));
        assert!(parse_reply(r#"{"new_items": ["x"]}"#).unwrap_err().contains("findings"));
    }

    #[test]
    fn the_local_rule_takes_the_least_covered_free_item() {
        let f = |agent| Finding {
            item: 0,
            agent,
            round: 1,
            text: String::new(),
            tokens: 1,
        };
        let findings = vec![f(0), f(1)];
        let items = vec![
            item("i1", vec![0, 1], false),
            item("i2", vec![], true),
            item("i3", vec![], false),
        ];
        // i2 is claimed; i3 has fewer findings than i1.
        assert_eq!(pick(&items, &findings, 0, "a", &[]), Some(2));
        // An item the agent dropped is left to others.
        assert_eq!(pick(&items, &findings, 0, "a", &[2]), Some(0));
        // Items it has not worked on come first, even when better covered.
        let items = vec![item("i1", vec![], false), item("i2", vec![0], false)];
        assert_eq!(pick(&items, &findings[..1], 1, "b", &[]), Some(0));
        let mut all_done = items.clone();
        for it in &mut all_done {
            it.done = true;
        }
        assert_eq!(pick(&all_done, &findings, 0, "a", &[]), None);
    }

    #[test]
    fn new_items_are_told_apart_by_their_words() {
        assert_eq!(normal("Fuzz  the Parser!"), normal("fuzz the parser"));
        assert_ne!(normal("fuzz the parser"), normal("fuzz the lexer"));
    }
}
