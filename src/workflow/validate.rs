//! Validation: turns a parsed [`WorkflowSpec`] into the engine's
//! [`Workflow`], reporting every problem it finds (not just the first), each
//! located at the offending value with a one-line fix hint.
//!
//! Locations come from the file's span tree (`source_tree`), the same for
//! TOML and JSON: a `Spanned` value's own span, else the key or value found
//! in the owner's table (nested tables included), else the owner itself.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use serde_json::Value;

use super::diagnostics::{Diagnostic, Diagnostics, LineIndex, Severity, did_you_mean};
use super::index::NodeIdx;
use super::kinds::compile_context::{CompileContext, Owner, quote, suggest_hint};
use super::kinds::{NodeKind, kinds_with_field};
use super::model::{Agent, AgentKind, Node, Workflow};
use super::provider_catalog::ProviderCatalog;
use super::source_tree::SourceValue;
use super::span::Spanned;
use super::spec::{NodeSpec, WorkflowSpec};

mod policy;

pub use super::kinds::compile_context::VARIABLES;

pub use super::kinds::loop_node::{END_STATE, ON_MAX_ITERATIONS};

// Debate and vote nodes (issue #4) are checked in their own file.
mod debate;

const CYCLE_HINT: &str =
    "cycles are only allowed between the states of a `loop` node (use transitions)";

mod agent_kind;
mod depth;
mod mcp;
mod schema;
mod shell;
mod sim_ranges;
mod tool_choice;

/// Checks a workflow and compiles it, with the provider names `providers`
/// knows. On success returns the workflow and its warnings; on failure
/// every error found.
pub fn compile(
    spec: &WorkflowSpec,
    source: &Source<'_>,
    providers: &ProviderCatalog,
) -> Result<(Workflow, Diagnostics), Diagnostics> {
    let mut cx = Ctx::new(spec, source, providers);
    let base = cx.policy_base();
    let mut agents = cx.agents();
    for (i, a) in agents.iter_mut().enumerate() {
        a.policy = cx.agent_policy(i, &base);
    }
    cx.debate_sim_scripts();
    cx.sim_ranges();
    cx.index_nodes();
    let mut nodes: Vec<Node> = (0..spec.nodes.len()).map(|i| cx.node(i)).collect();
    for (i, n) in nodes.iter_mut().enumerate() {
        n.policy = cx.node_policy(i, &base);
    }
    let run_policy = cx.run_policy();
    let mcp = cx.mcp_servers();
    let entry = cx.entry();
    cx.handlers_only_handle(entry);
    let before_cycles = cx.cx.errors.len();
    cx.cycles();
    if cx.cx.errors.len() == before_cycles {
        cx.nesting_depth();
    }
    if !cx.cx.errors.is_empty() {
        let mut errors = Diagnostics(cx.cx.errors);
        errors.sort();
        return Err(errors);
    }
    cx.warnings(entry, &nodes);
    let meta = &spec.workflow;
    let workflow = Workflow {
        name: meta.name.value.clone(),
        description: meta.description.clone().unwrap_or_default(),
        entry,
        input: meta.input.clone().unwrap_or(Value::Null),
        max_handoffs: meta.max_handoffs.unwrap_or(3),
        aging_step: meta.aging_step.unwrap_or(32),
        agent_index: agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.to_string(), i))
            .collect(),
        node_index: nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.to_string(), i))
            .collect(),
        agents,
        nodes,
        policy: run_policy,
        mcp,
    };
    let mut warnings = Diagnostics(cx.cx.warnings);
    warnings.sort();
    Ok((workflow, warnings))
}

/// Where a spec came from, for locating its diagnostics.
pub struct Source<'a> {
    /// The file's text.
    pub text: &'a str,
    /// Its span tree.
    pub tree: &'a SourceValue,
    /// Path, or `builtin:NAME`.
    pub origin: &'a str,
}

struct Ctx<'a> {
    spec: &'a WorkflowSpec,
    /// Provider names agents may use.
    providers: &'a ProviderCatalog,
    /// What each kind's `compile` checks against.
    cx: CompileContext<'a>,
    /// `on_error` handlers: node, handler, where the reference is.
    handlers: Vec<(NodeIdx, NodeIdx, Range<usize>)>,
}

impl<'a> Ctx<'a> {
    fn new(spec: &'a WorkflowSpec, source: &Source<'a>, providers: &'a ProviderCatalog) -> Self {
        Ctx {
            spec,
            providers,
            cx: CompileContext {
                text: source.text,
                origin: source.origin,
                lines: LineIndex::new(source.text),
                tree: source.tree,
                errors: vec![],
                warnings: vec![],
                agent_ids: HashMap::new(),
                node_ids: HashMap::new(),
                agent_names: spec.agents.iter().map(|a| a.id.value.as_str()).collect(),
                agent_capabilities: spec
                    .agents
                    .iter()
                    .map(|a| a.capabilities.as_slice())
                    .collect(),
                node_names: spec.nodes.iter().map(|n| n.id.value.as_str()).collect(),
                node_kinds: spec
                    .nodes
                    .iter()
                    .map(|n| (n.kind.value, n.kind.span.clone()))
                    .collect(),
                edges: vec![Vec::new(); spec.nodes.len()],
                used_agents: HashSet::new(),
            },
            handlers: Vec::new(),
        }
    }

    // ------------------------------------------------------------ locating

    // ------------------------------------------------------------ agents

    fn agents(&mut self) -> Vec<Agent> {
        let spec = self.spec;
        let mut out = Vec::with_capacity(spec.agents.len());
        for (i, a) in spec.agents.iter().enumerate() {
            let o = Owner::Agent(i);
            self.check_id(o, &a.id, "agent");
            self.register_id(o, &a.id);
            let kind = self.agent_kind(o, a);
            let provider = match &kind {
                AgentKind::Llm => a
                    .provider
                    .as_ref()
                    .map_or_else(|| self.providers.default_provider(), |p| &p.value)
                    .to_string(),
                AgentKind::Command(_) => "command".to_string(),
                AgentKind::Custom => "custom".to_string(),
            };
            let default_model = match self.providers.default_model(&provider) {
                // Code agents have no provider or model of their own.
                _ if kind != AgentKind::Llm => String::new(),
                Some(m) => m.to_string(),
                None => {
                    let p = a
                        .provider
                        .as_ref()
                        .map(|p| self.cx.str_span(o, "provider", p))
                        .unwrap_or_default();
                    let names = self.providers.names();
                    let hint = match did_you_mean(&provider, names.iter().copied()) {
                        Some(s) => {
                            format!("did you mean `{s}`? known providers: {}", names.join(", "))
                        }
                        None => format!(
                            "known providers: {} (others can be configured in config.toml)",
                            names.join(", ")
                        ),
                    };
                    self.cx
                        .error(p, format!("unknown provider `{provider}`"), hint);
                    String::new()
                }
            };
            let shell = self.agent_shell(o, a);
            let tool_use = self.agent_tool_use(o, a);
            for t in &a.tools {
                if t.value.starts_with(crate::mcp::server_spec::TOOL_PREFIX) {
                    self.mcp_tool(o, &a.id.value, t);
                    continue;
                }
                if !super::tool_use::BUILTIN_TOOLS.contains(&t.value.as_str()) {
                    let names = super::tool_use::BUILTIN_TOOLS;
                    let hint = match did_you_mean(&t.value, names.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`? tools: {}", names.join(", ")),
                        None => format!("tools: {}", names.join(", ")),
                    };
                    self.cx.error(
                        self.cx.str_span(o, "tools", t),
                        format!("unknown tool `{}`", t.value),
                        hint,
                    );
                }
            }
            out.push(Agent {
                id: Arc::from(a.id.value.as_str()),
                role: a.role.as_deref().unwrap_or("executor").into(),
                model: a.model.as_deref().unwrap_or(&default_model).into(),
                provider,
                system: a.system.clone(),
                capabilities: a.capabilities.clone(),
                max_tokens: a.max_tokens,
                temperature: a.temperature,
                concurrency: a.concurrency.as_ref().map_or(4, |c| c.value),
                sim: a.sim.clone().unwrap_or_default(),
                kind,
                policy: Default::default(),
                tools: a
                    .tools
                    .iter()
                    .map(|t| Arc::from(t.value.as_str()))
                    .collect(),
                shell,
                tool_use,
            });
        }
        out
    }

    /// Records an agent or node id, or reports it as a duplicate of the
    /// first one with the same id.
    fn register_id(&mut self, o: Owner, id: &'a Spanned<String>) {
        let (ids, what) = match o {
            Owner::Agent(_) => (&self.cx.agent_ids, "agent"),
            _ => (&self.cx.node_ids, "node"),
        };
        let Some(&first) = ids.get(id.value.as_str()) else {
            match o {
                Owner::Agent(i) => self.cx.agent_ids.insert(&id.value, i),
                Owner::Node(i) => self.cx.node_ids.insert(&id.value, i),
                _ => None,
            };
            return;
        };
        let (first_owner, first_span) = match o {
            Owner::Agent(_) => (Owner::Agent(first), &self.spec.agents[first].id.span),
            _ => (Owner::Node(first), &self.spec.nodes[first].id.span),
        };
        let line = self.cx.line_of(first_span, first_owner, "id", &id.value);
        self.cx.error(
            self.cx.str_span(o, "id", id),
            format!("duplicate {what} id `{}`", id.value),
            format!("first defined on line {line}; {what} ids must be unique"),
        );
    }

    fn check_id(&mut self, o: Owner, id: &Spanned<String>, what: &str) {
        if id.value.trim().is_empty() {
            self.cx.error(
                self.cx.str_span(o, "id", id),
                format!("empty {what} id"),
                "give it a short unique name",
            );
        } else if what == "node" && id.value == END_STATE {
            self.cx.error(
                self.cx.str_span(o, "id", id),
                format!("`{END_STATE}` is reserved"),
                "it names the end of a loop; choose another node id",
            );
        }
    }

    // ------------------------------------------------------------ nodes

    fn index_nodes(&mut self) {
        let spec = self.spec;
        if spec.nodes.is_empty() {
            let at = self.cx.value_span(
                Owner::Meta,
                "name",
                &spec.workflow.name.span,
                &quote(&spec.workflow.name),
            );
            self.cx.error(
                at,
                "the workflow has no nodes",
                "add at least one `[[nodes]]` table",
            );
        }
        for (i, n) in spec.nodes.iter().enumerate() {
            let o = Owner::Node(i);
            self.check_id(o, &n.id, "node");
            self.register_id(o, &n.id);
        }
    }

    fn node(&mut self, i: usize) -> Node {
        let spec = self.spec;
        let n = &spec.nodes[i];
        let o = Owner::Node(i);
        let _kind = n.kind.value;
        self.check_fields(i, n);
        let priority = match &n.priority {
            None => 3,
            Some(p) if (1..=5).contains(&p.value) => p.value as u8,
            Some(p) => {
                let at = self
                    .cx
                    .value_span(o, "priority", &p.span, &p.value.to_string());
                self.cx.error(
                    at,
                    format!("priority must be between 1 and 5, got {}", p.value),
                    "1 is the most urgent, 5 the least (default 3)",
                );
                3
            }
        };
        // Each kind checks and compiles its own fields, in its file.
        let kind = n.fields.compile(&mut self.cx, i);
        let on_error = n.on_error.as_ref().and_then(|h| self.handler(i, h));
        Node {
            id: Arc::from(n.id.value.as_str()),
            title: n.title.clone().unwrap_or_else(|| n.id.value.clone()),
            priority,
            emit: n.emit.clone(),
            on_error,
            kind,
            policy: Default::default(),
        }
    }

    /// Resolves node `i`'s `on_error` handler (a containment edge, so it is
    /// reached and cannot contain `i`), remembering it for
    /// [`Ctx::handlers_only_handle`].
    fn handler(&mut self, i: usize, h: &'a Spanned<String>) -> Option<NodeIdx> {
        let at = self.cx.str_span(Owner::Node(i), "on_error", h);
        if h.value == self.spec.nodes[i].id.value {
            self.cx.error(
                at,
                format!("node `{}` cannot handle its own errors", h.value),
                "name another node in `on_error`: it runs when this one fails",
            );
            return None;
        }
        let to = self.cx.node_ref(i, "on_error", h, true)?;
        self.handlers.push((i, to, at));
        Some(to)
    }

    /// A handler runs only as a handler: no step, branch, body or entry
    /// may be the same node.
    fn handlers_only_handle(&mut self, entry: NodeIdx) {
        let handlers = std::mem::take(&mut self.handlers);
        for (from, h, at) in &handlers {
            // Another use: more edges into the handler than handler references.
            let other = (0..self.cx.edges.len()).find(|&u| {
                let edges = self.cx.edges[u].iter().filter(|(v, _)| v == h).count();
                let as_handler = handlers
                    .iter()
                    .filter(|(f, hh, _)| *f == u && hh == h)
                    .count();
                edges > as_handler
            });
            let name = self.spec.nodes[*h].id.value.as_str();
            let problem = match other {
                Some(u) => format!("it also runs inside `{}`", self.spec.nodes[u].id.value),
                None if *h == entry => "it is also the workflow's entry".to_string(),
                None => continue,
            };
            self.cx.error(
                at.clone(),
                format!(
                    "`{name}` handles the errors of `{}`, but {problem}",
                    self.spec.nodes[*from].id.value
                ),
                "a handler runs only when its node fails: give the other use a node of its own",
            );
        }
    }

    /// Reports fields of other kinds that the node's table has.
    fn check_fields(&mut self, i: usize, n: &NodeSpec) {
        for key in &n.misplaced {
            let key = key.value.as_str();
            let kinds = kinds_with_field(key);
            let at = self.cx.field_span(Owner::Node(i), key, None);
            let hint = match kinds.as_slice() {
                [only] => format!("did you mean kind = \"{only}\"? otherwise remove `{key}`"),
                _ => {
                    let names: Vec<String> = kinds.iter().map(|k| format!("`{k}`")).collect();
                    format!(
                        "`{key}` is used by {} nodes; remove it or change `kind`",
                        names.join(" and ")
                    )
                }
            };
            self.cx.error(
                at,
                format!(
                    "`{key}` is not a field of a `{}` node",
                    n.kind.value.as_str()
                ),
                hint,
            );
        }
    }

    // ------------------------------------------------------------ graph

    fn entry(&mut self) -> NodeIdx {
        let Some(e) = &self.spec.workflow.entry else {
            return 0;
        };
        match self.cx.node_ids.get(e.value.as_str()) {
            Some(&i) => i,
            None => {
                let at = self.cx.str_span(Owner::Meta, "entry", e);
                let names: Vec<&str> = self
                    .spec
                    .nodes
                    .iter()
                    .map(|n| n.id.value.as_str())
                    .collect();
                let hint = suggest_hint(&e.value, &names, "declared nodes");
                self.cx
                    .error(at, format!("unknown entry node `{}`", e.value), hint);
                0
            }
        }
    }

    /// Reports each cycle of the containment graph once, at the reference
    /// that closes it. Iterative DFS, so long chains cannot overflow.
    fn cycles(&mut self) {
        let n = self.cx.edges.len();
        let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
        let mut reported: HashSet<Vec<usize>> = HashSet::new();
        let mut found: Vec<(Vec<usize>, Range<usize>)> = Vec::new();
        for root in 0..n {
            if state[root] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            state[root] = 1;
            while let Some(&mut (u, ref mut next)) = stack.last_mut() {
                if let Some((v, at)) = self.cx.edges[u].get(*next).cloned() {
                    *next += 1;
                    match state[v] {
                        0 => {
                            state[v] = 1;
                            stack.push((v, 0));
                        }
                        1 => {
                            let from = stack.iter().position(|(x, _)| *x == v).unwrap_or(0);
                            let mut path: Vec<usize> =
                                stack[from..].iter().map(|(x, _)| *x).collect();
                            let mut key = path.clone();
                            key.sort_unstable();
                            key.dedup();
                            if reported.insert(key) {
                                path.push(v);
                                found.push((path, at));
                            }
                        }
                        _ => {}
                    }
                } else {
                    state[u] = 2;
                    stack.pop();
                }
            }
        }
        for (path, at) in found {
            let names: Vec<&str> = path
                .iter()
                .map(|&p| self.spec.nodes[p].id.value.as_str())
                .collect();
            self.cx
                .error(at, format!("cycle: {}", names.join(" → ")), CYCLE_HINT);
        }
    }

    fn warnings(&mut self, entry: NodeIdx, nodes: &[Node]) {
        let spec = self.spec;
        let mut reached = vec![false; nodes.len()];
        let mut todo = vec![entry];
        while let Some(u) = todo.pop() {
            if u < reached.len() && !reached[u] {
                reached[u] = true;
                todo.extend(self.cx.edges[u].iter().map(|(v, _)| *v));
            }
        }
        let entry_id = spec.nodes.get(entry).map_or("", |n| n.id.value.as_str());
        for (i, r) in reached.iter().enumerate() {
            if !r {
                let n = &spec.nodes[i];
                let at = self.cx.str_span(Owner::Node(i), "id", &n.id);
                self.cx.warnings.push(
                    Diagnostic::at_span_in(Severity::Warning, self.cx.origin, &self.cx.lines, at, format!("node `{}` is never reached from the entry `{entry_id}`", n.id.value))
                        .with_hint("reference it from another node (steps, branches, body, routes...), or remove it"),
                );
            }
        }
        // Plan subtasks are dispatched by capability, so with a plan node any
        // agent offering capabilities may be used.
        let has_plan = nodes.iter().any(|n| matches!(n.kind, NodeKind::Plan(_)));
        for (i, a) in spec.agents.iter().enumerate() {
            let first = self.cx.agent_ids.get(a.id.value.as_str()) == Some(&i);
            if !first
                || self.cx.used_agents.contains(&i)
                || (has_plan && !a.capabilities.is_empty())
            {
                continue;
            }
            let at = self.cx.str_span(Owner::Agent(i), "id", &a.id);
            self.cx.warnings.push(
                Diagnostic::at_span_in(Severity::Warning, self.cx.origin, &self.cx.lines, at, format!("agent `{}` is never used", a.id.value))
                    .with_hint("name it in a node (`agent`, `planner`, `reviewer`, `classifier`), or remove it"),
            );
        }
    }
}
