//! Validation of `debate` and `vote` nodes (a child module of `validate`, so
//! it shares its locating helpers). Every rule that can be checked before a
//! run is checked here: unknown or repeated agents, impossible quorums, BFT
//! with too few voters, fallbacks that need a judge, bad rounds.

use std::collections::HashSet;

use super::super::diagnostics::did_you_mean;
use super::super::kinds::{
    NodeKind,
    debate::{DebateNode, TurnOrder},
    vote::{Candidates, Fallback, Protocol, QuorumMode, VoteNode, VoteRules},
};
use super::super::kinds::{debate::DebateNodeSpec, vote::VoteNodeSpec};
use super::super::spec::NodeKindName as K;
use super::{Ctx, Owner, Spanned};

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
const DEBATE_PROTOCOLS: &[&str] = &["majority", "plurality", "unanimity", "weighted"];
/// Accepted `on_tie` / `on_no_quorum` values.
pub const FALLBACKS: &[&str] = &["fail", "another_round", "gate", "judge"];
/// Accepted sim `byzantine` behaviours.
pub const BYZANTINE: &[&str] = &["random", "equivocate"];

impl<'a> Ctx<'a> {
    /// Checks `[agents.sim]` fields used by debaters and voters.
    pub(super) fn debate_sim_scripts(&mut self) {
        let spec = self.spec;
        for (i, a) in spec.agents.iter().enumerate() {
            let Some(sim) = &a.sim else { continue };
            let o = Owner::Agent(i);
            if let Some(b) = &sim.byzantine
                && !BYZANTINE.contains(&b.as_str())
            {
                let at = self.value_span(o, "byzantine", &None, &super::quote(b));
                let hint = choice_hint(b, BYZANTINE);
                self.error(at, format!("unknown sim behaviour byzantine = `{b}`"), hint);
            }
            for (key, v) in [
                ("confidence", sim.confidence),
                ("stubbornness", sim.stubbornness),
            ] {
                if let Some(x) = v
                    && !(0.0..=1.0).contains(&x)
                {
                    let at = self.field_span(o, key, None);
                    self.error(
                        at,
                        format!("sim `{key}` must be between 0 and 1, got {x}"),
                        format!("set `{key}` to a number in [0, 1]"),
                    );
                }
            }
        }
    }

    pub(super) fn debate_node(&mut self, i: usize, n: &DebateNodeSpec) -> NodeKind {
        let o = Owner::Node(i);
        let participants = self.agent_list(i, "participants", &n.participants, K::Debate, 2);
        let question = self.template(i, "question", &n.question);
        let options = self.options(i, &n.options);
        let rounds = self.int(i, "rounds", &n.rounds, 1, 3);
        let moderator = n
            .moderator
            .as_ref()
            .and_then(|m| self.agent_ref(i, "moderator", m));
        let order = match n.turn_order.as_ref() {
            None => {
                if let Some(m) = &n.moderator {
                    let at = self.field_span(o, "moderator", m.span.clone());
                    self.error(
                        at,
                        "`moderator` only applies to turn_order = \"moderator\"",
                        "add turn_order = \"moderator\", or remove `moderator`",
                    );
                }
                TurnOrder::RoundRobin
            }
            Some(t) => match self.choice(i, "turn_order", t, TURN_ORDERS) {
                Some("moderator") => match (&n.moderator, moderator) {
                    (_, Some(m)) => TurnOrder::Moderator(m),
                    (None, _) => {
                        self.require(
                            i,
                            K::Debate,
                            "a `moderator` with turn_order = \"moderator\"",
                            "add moderator = \"<agent id>\"",
                        );
                        TurnOrder::RoundRobin
                    }
                    (Some(_), None) => TurnOrder::RoundRobin,
                },
                Some("random") => TurnOrder::Random,
                _ => TurnOrder::RoundRobin,
            },
        };
        if n.moderator.is_some()
            && !matches!(order, TurnOrder::Moderator(_))
            && n.turn_order.is_some()
        {
            let at = self.field_span(o, "moderator", None);
            self.error(
                at,
                "`moderator` only applies to turn_order = \"moderator\"",
                "set turn_order = \"moderator\", or remove `moderator`",
            );
        }
        let judge = self.judge(i, &n.judge, &participants, "participants");
        let converge_at = match &n.converge_at {
            None => 0.8,
            Some(c) if c.value > 0.0 && c.value <= 1.0 => c.value,
            Some(c) => {
                let at = self.value_span(o, "converge_at", &c.span, &c.value.to_string());
                self.error(
                    at,
                    format!("`converge_at` must be in (0, 1], got {}", c.value),
                    "it is the confidence-weighted share of one position that stops the debate (e.g. 0.8)",
                );
                0.8
            }
        };
        let context_tokens = self.int(i, "context_tokens", &n.context_tokens, 64, 3000);
        if let (Some(_), Some(p)) = (&n.judge, &n.protocol) {
            let at = self.field_span(o, "protocol", p.span.clone());
            self.error(
                at,
                "a debate with a `judge` is decided by the judge, so `protocol` is unused",
                "remove `protocol`, or remove `judge` to decide by a vote over the final positions",
            );
        }
        let protocol = match &n.protocol {
            None => Protocol::Weighted,
            Some(p) => match self.choice(i, "protocol", p, PROTOCOLS) {
                Some(name) if !DEBATE_PROTOCOLS.contains(&name) => {
                    let at = self.str_span(o, "protocol", p);
                    self.error(
                        at,
                        format!("a debate cannot be decided by protocol `{name}`"),
                        format!(
                            "use one of {} (or a `vote` node after the debate)",
                            DEBATE_PROTOCOLS.join(", ")
                        ),
                    );
                    Protocol::Weighted
                }
                Some(name) => simple_protocol(name),
                None => Protocol::Weighted,
            },
        };
        let on_tie = self.fallback(i, "on_tie", &n.on_tie, Fallback::Fail, &n.judge, false);
        let rules = VoteRules {
            protocol,
            weights: self.weights(i, &n.weights, &participants),
            on_tie,
            // A debate's vote has one fallback: on_tie also covers "no majority".
            on_no_quorum: on_tie,
            exclude_flagged: true,
        };
        let repair_attempts = self.int(i, "repair_attempts", &n.repair_attempts, 0, 2);
        NodeKind::Debate(Box::new(DebateNode {
            participants,
            question,
            options,
            rounds,
            order,
            judge,
            converge_at,
            context_tokens,
            rules,
            repair_attempts,
            step: n.step.unwrap_or(false),
        }))
    }

    pub(super) fn vote_node(&mut self, i: usize, n: &VoteNodeSpec) -> NodeKind {
        let o = Owner::Node(i);
        let voters = self.agent_list(i, "voters", &n.voters, K::Vote, 1);
        let count = n.voters.as_ref().map_or(0, Vec::len) as i64;
        let question = self.template(i, "question", &n.question);
        let options = self.options(i, &n.options);
        let candidates = match (&n.candidates, options.is_empty()) {
            (Some(c), true) => self
                .expr(i, "candidates", c)
                .map_or(Candidates::Free, Candidates::Expr),
            (Some(c), false) => {
                let at = self.field_span(o, "candidates", c.span.clone());
                self.error(
                    at,
                    "a `vote` takes `options` or `candidates`, not both",
                    "`options` is a fixed list; `candidates` an expression giving the list",
                );
                Candidates::Options(options)
            }
            (None, false) => Candidates::Options(options),
            (None, true) => Candidates::Free,
        };
        let name = match &n.protocol {
            None => Some("majority"),
            Some(p) => self.choice(i, "protocol", p, PROTOCOLS),
        };
        let protocol = match name {
            Some("quorum") => {
                let mode = match &n.quorum_mode {
                    None => QuorumMode::Participation,
                    Some(m) => {
                        match self.choice(i, "quorum_mode", m, &["participation", "agreement"]) {
                            Some("agreement") => QuorumMode::Agreement,
                            _ => QuorumMode::Participation,
                        }
                    }
                };
                let k = match &n.quorum {
                    None => {
                        self.require(
                            i,
                            K::Vote,
                            "`quorum` with protocol = \"quorum\"",
                            "add quorum = <how many of the voters> (k of n)",
                        );
                        1
                    }
                    Some(q) => {
                        let at = self.value_span(o, "quorum", &q.span, &q.value.to_string());
                        if q.value < 1 {
                            self.error(
                                at,
                                format!(
                                    "bad quorum: k = {} but at least 1 ballot is needed",
                                    q.value
                                ),
                                "set quorum between 1 and the number of voters",
                            );
                        } else if q.value > count && count > 0 {
                            self.error(
                                at,
                                format!("bad quorum: k = {} but only {count} voter(s)", q.value),
                                format!("set quorum to at most {count}, or add voters"),
                            );
                        }
                        u32::try_from(q.value).unwrap_or(1).max(1)
                    }
                };
                Protocol::Quorum { k, mode }
            }
            Some("bft") => {
                let f = match &n.faults {
                    None => {
                        self.require(
                            i,
                            K::Vote,
                            "`faults` with protocol = \"bft\"",
                            "add faults = <faulty voters to tolerate> (needs voters ≥ 3·faults + 1)",
                        );
                        0
                    }
                    Some(fv) => {
                        let at = self.value_span(o, "faults", &fv.span, &fv.value.to_string());
                        if fv.value < 0 {
                            self.error(
                                at,
                                format!("`faults` cannot be negative, got {}", fv.value),
                                "set faults to 0 or more",
                            );
                            0
                        } else {
                            let need = 3 * fv.value + 1;
                            if count > 0 && count < need {
                                self.error(
                                    at,
                                    format!(
                                        "BFT with {count} voter(s) cannot tolerate faults = {}: it needs n ≥ 3f+1 = {need}",
                                        fv.value
                                    ),
                                    format!(
                                        "add {} voter(s), or lower faults to at most {}",
                                        need - count,
                                        (count - 1) / 3
                                    ),
                                );
                            }
                            u32::try_from(fv.value).unwrap_or(0)
                        }
                    }
                };
                Protocol::Bft { f }
            }
            Some(other) => simple_protocol(other),
            None => Protocol::Majority,
        };
        let is = |p: &str| name == Some(p);
        for (key, set, applies, needs) in [
            (
                "quorum",
                n.quorum.is_some(),
                is("quorum"),
                "protocol = \"quorum\"",
            ),
            (
                "quorum_mode",
                n.quorum_mode.is_some(),
                is("quorum"),
                "protocol = \"quorum\"",
            ),
            (
                "faults",
                n.faults.is_some(),
                is("bft"),
                "protocol = \"bft\"",
            ),
            (
                "byzantine_policy",
                n.byzantine_policy.is_some(),
                is("bft"),
                "protocol = \"bft\"",
            ),
        ] {
            if set && !applies && name.is_some() {
                let at = self.field_span(o, key, None);
                self.error(
                    at,
                    format!("`{key}` only applies to {needs}"),
                    format!("set {needs}, or remove `{key}`"),
                );
            }
        }
        let exclude_flagged = match &n.byzantine_policy {
            None => true,
            Some(p) => self.choice(i, "byzantine_policy", p, &["exclude", "flag"]) != Some("flag"),
        };
        let judge = self.judge(i, &n.judge, &voters, "voters");
        let on_tie = self.fallback(i, "on_tie", &n.on_tie, Fallback::Fail, &n.judge, true);
        let on_no_quorum = self.fallback(
            i,
            "on_no_quorum",
            &n.on_no_quorum,
            Fallback::AnotherRound,
            &n.judge,
            true,
        );
        let default_rounds = if is("bft")
            || on_tie == Fallback::AnotherRound
            || (n.on_no_quorum.is_some() && on_no_quorum == Fallback::AnotherRound)
        {
            3
        } else {
            1
        };
        let rounds = self.int(i, "rounds", &n.rounds, 1, default_rounds);
        let weights = self.weights(i, &n.weights, &voters);
        let repair_attempts = self.int(i, "repair_attempts", &n.repair_attempts, 0, 2);
        NodeKind::Vote(Box::new(VoteNode {
            voters,
            question,
            candidates,
            rules: VoteRules {
                protocol,
                weights,
                on_tie,
                on_no_quorum,
                exclude_flagged,
            },
            rounds,
            judge,
            repair_attempts,
            step: n.step.unwrap_or(false),
        }))
    }

    /// A required list of distinct, known agents, at least `min` long.
    fn agent_list(
        &mut self,
        i: usize,
        key: &str,
        list: &Option<Vec<Spanned<String>>>,
        kind: K,
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
    fn options(&mut self, i: usize, options: &Option<Vec<Spanned<String>>>) -> Vec<String> {
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
    fn choice(
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
    fn judge(
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

    fn fallback(
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
    fn weights(
        &mut self,
        i: usize,
        weights: &Option<std::collections::BTreeMap<String, f64>>,
        members: &[usize],
    ) -> Vec<f64> {
        let mut out = vec![1.0; self.spec.agents.len()];
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
                    let names: Vec<&str> = self
                        .spec
                        .agents
                        .iter()
                        .map(|a| a.id.value.as_str())
                        .collect();
                    let hint = super::suggest_hint(agent, &names, "declared agents");
                    self.error(at, format!("unknown agent `{agent}` in `weights`"), hint);
                }
            }
        }
        out
    }
}

fn simple_protocol(name: &str) -> Protocol {
    match name {
        "plurality" => Protocol::Plurality,
        "unanimity" => Protocol::Unanimity,
        "weighted" => Protocol::Weighted,
        "ranked" => Protocol::Ranked,
        _ => Protocol::Majority,
    }
}

fn choice_hint(word: &str, allowed: &[&str]) -> String {
    match did_you_mean(word, allowed.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? choose one of: {}", allowed.join(", ")),
        None => format!("choose one of: {}", allowed.join(", ")),
    }
}
