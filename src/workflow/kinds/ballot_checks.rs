//! Checks that the kinds which cast ballots (`debate`, `vote`) share:
//! participant lists, options, protocols, judges, fallbacks and weights.

use std::collections::HashSet;

use super::NodeKindName;
use super::compile_context::{CompileContext, Owner, suggest_hint};
use super::vote::{Fallback, Protocol};
use crate::workflow::diagnostics::did_you_mean;
use crate::workflow::span::Spanned;

/// Accepted `turn_order` values.
pub const TURN_ORDERS: &[&str] = &["round_robin", "moderator", "random"];
/// Accepted `protocol` values.
pub const PROTOCOLS: &[&str] = &[
    "majority",
    "plurality",
    "unanimity",
    "quorum",
    "weighted",
    "ranked",
    "bft",
];
/// Protocols a debate may decide its final positions with.
pub(crate) const DEBATE_PROTOCOLS: &[&str] = &["majority", "plurality", "unanimity", "weighted"];
/// Accepted `on_tie` / `on_no_quorum` values.
pub const FALLBACKS: &[&str] = &["fail", "another_round", "gate", "judge"];
impl CompileContext<'_> {
    /// A required list of distinct, known agents, at least `min` long.
    pub(crate) fn agent_list(
        &mut self,
        i: usize,
        key: &str,
        list: &Option<Vec<Spanned<String>>>,
        kind: NodeKindName,
        min: usize,
    ) -> Vec<usize> {
        let o = Owner::Node(i);
        let Some(list) = list else {
            self.require(
                i,
                kind,
                &format!("`{key}`"),
                &format!("add {key} = [\"agent-a\", \"agent-b\"]"),
            );
            return vec![];
        };
        let mut out = Vec::with_capacity(list.len());
        let mut seen = HashSet::new();
        for a in list {
            if !seen.insert(a.value.as_str()) {
                let at = self.str_span(o, key, a);
                self.error(
                    at,
                    format!("`{}` is listed twice in `{key}`", a.value),
                    "list each agent once",
                );
                continue;
            }
            if let Some(x) = self.agent_ref(i, key, a) {
                out.push(x);
            }
        }
        if list.len() < min {
            let at = self.field_span(o, key, list.first().and_then(|a| a.span.clone()));
            self.error(
                at,
                format!(
                    "a `{}` needs at least {min} agent(s) in `{key}`, got {}",
                    kind.as_str(),
                    list.len()
                ),
                format!("add agents to `{key}`"),
            );
        }
        out
    }

    /// `options`: distinct, non-empty.
    pub(crate) fn options(
        &mut self,
        i: usize,
        options: &Option<Vec<Spanned<String>>>,
    ) -> Vec<String> {
        let o = Owner::Node(i);
        let mut out: Vec<String> = Vec::new();
        for v in options.iter().flatten() {
            let t = v.value.trim();
            if t.is_empty() {
                let at = self.str_span(o, "options", v);
                self.error(at, "empty option", "give every option a short name");
            } else if out.iter().any(|x| x.eq_ignore_ascii_case(t)) {
                let at = self.str_span(o, "options", v);
                self.error(
                    at,
                    format!("`{t}` is listed twice in `options`"),
                    "list each option once (options are matched ignoring case)",
                );
            } else {
                out.push(t.to_string());
            }
        }
        if options.as_ref().is_some_and(|l| l.len() == 1) {
            let at = self.field_span(o, "options", None);
            self.error(
                at,
                "`options` has a single entry: there is nothing to decide",
                "list at least two options, or remove `options` for free answers",
            );
        }
        out
    }

    /// One of `allowed`, or an error naming them.
    pub(crate) fn choice(
        &mut self,
        i: usize,
        key: &str,
        v: &Spanned<String>,
        allowed: &[&'static str],
    ) -> Option<&'static str> {
        if let Some(a) = allowed.iter().find(|a| **a == v.value) {
            return Some(a);
        }
        let at = self.str_span(Owner::Node(i), key, v);
        let hint = choice_hint(&v.value, allowed);
        self.error(at, format!("unknown {key} `{}`", v.value), hint);
        None
    }

    /// The judge: a known agent that does not also take part.
    pub(crate) fn judge(
        &mut self,
        i: usize,
        judge: &Option<Spanned<String>>,
        members: &[usize],
        key: &str,
    ) -> Option<usize> {
        let j = judge.as_ref()?;
        let idx = self.agent_ref(i, "judge", j)?;
        if members.contains(&idx) {
            let at = self.str_span(Owner::Node(i), "judge", j);
            self.error(
                at,
                format!("the judge `{}` is also one of the {key}", j.value),
                format!("a judge must be impartial: pick an agent that is not in `{key}`"),
            );
        }
        Some(idx)
    }

    pub(crate) fn fallback(
        &mut self,
        i: usize,
        key: &str,
        v: &Option<Spanned<String>>,
        default: Fallback,
        judge: &Option<Spanned<String>>,
        rounds_allowed: bool,
    ) -> Fallback {
        let Some(v) = v else { return default };
        let f = match self.choice(i, key, v, FALLBACKS) {
            Some("fail") => Fallback::Fail,
            Some("another_round") => Fallback::AnotherRound,
            Some("gate") => Fallback::Gate,
            Some("judge") => Fallback::Judge,
            _ => return default,
        };
        let at = self.str_span(Owner::Node(i), key, v);
        if f == Fallback::Judge && !rounds_allowed {
            self.error(
                at,
                format!("a debate cannot use {key} = \"judge\""),
                "give the debate a `judge` to decide it outright, or use fail or gate",
            );
        } else if f == Fallback::Judge && judge.is_none() {
            self.error(
                at,
                format!("{key} = \"judge\" needs a `judge`"),
                "add judge = \"<agent id>\", or choose fail, gate or another_round",
            );
        } else if f == Fallback::AnotherRound && !rounds_allowed {
            self.error(
                at,
                format!("a debate cannot use {key} = \"another_round\""),
                "a debate's final positions are fixed: use fail, gate or judge",
            );
        }
        f
    }

    /// Per-agent weights, aligned with the workflow's agents.
    pub(crate) fn weights(
        &mut self,
        i: usize,
        weights: &Option<std::collections::BTreeMap<String, f64>>,
        members: &[usize],
    ) -> Vec<f64> {
        let mut out = vec![1.0; self.agent_names.len()];
        let Some(w) = weights else { return out };
        let o = Owner::Node(i);
        for (agent, &x) in w {
            let at = self.entry_key_span(o, "weights", agent);
            match self.agent_ids.get(agent.as_str()).copied() {
                Some(a) if members.contains(&a) => {
                    if !(x.is_finite() && x >= 0.0) {
                        self.error(
                            at,
                            format!("weight of `{agent}` must be a number ≥ 0, got {x}"),
                            "weights multiply ballot confidence; 1 is neutral",
                        );
                    } else {
                        out[a] = x;
                    }
                }
                Some(_) => self.error(
                    at,
                    format!("`{agent}` has a weight but does not take part in this node"),
                    "weights only apply to the node's voters / participants",
                ),
                None => {
                    let hint = suggest_hint(agent, &self.agent_names, "declared agents");
                    self.error(at, format!("unknown agent `{agent}` in `weights`"), hint);
                }
            }
        }
        out
    }
}

pub(crate) fn simple_protocol(name: &str) -> Protocol {
    match name {
        "plurality" => Protocol::Plurality,
        "unanimity" => Protocol::Unanimity,
        "weighted" => Protocol::Weighted,
        "ranked" => Protocol::Ranked,
        _ => Protocol::Majority,
    }
}

/// "did you mean" among the allowed values, and the list of them.
pub(crate) fn choice_hint(word: &str, allowed: &[&str]) -> String {
    match did_you_mean(word, allowed.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? choose one of: {}", allowed.join(", ")),
        None => format!("choose one of: {}", allowed.join(", ")),
    }
}
