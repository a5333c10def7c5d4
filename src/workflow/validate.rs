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
use std::time::Duration;

use serde_json::Value;

use super::diagnostics::{
    Diagnostic, Diagnostics, LineIndex, Severity, did_you_mean, floor_char_boundary,
};
use super::expr::{Expr, ExprError};
use super::index::NodeIdx;
use super::kinds::{
    KindSpec, NodeKind,
    agent::{AgentNode, AgentNodeSpec, Target},
    gate::GateNode,
    kinds_with_field,
    loop_node::{LoopNode, LoopNodeSpec, Transition},
    map::{MapNode, MapNodeSpec, MapSource},
    on::{OnNode, OnNodeSpec},
    parallel::{Join, ParallelNode, ParallelNodeSpec},
    plan::{PlanNode, PlanNodeSpec},
    router::{Route, RouteCond, RouterNode, RouterNodeSpec},
    sequence::SequenceNode,
};
use super::model::{Agent, AgentKind, Node, Workflow};
use super::provider_catalog::ProviderCatalog;
use super::source_tree::SourceValue;
use super::span::Spanned;
use super::spec::{JoinName, NodeKindName, NodeSpec, WorkflowSpec};
use super::template::Template;

mod policy;

/// Variables expressions and templates may read.
pub const VARIABLES: &[&str] = &[
    "input",
    "output",
    "outputs",
    "item",
    "index",
    "iteration",
    "feedback",
    "message",
    "label",
    "state",
];

/// The pseudo-state a loop transition goes to in order to finish.
pub const END_STATE: &str = "$end";

/// Values accepted by a loop's `on_max_iterations`.
pub const ON_MAX_ITERATIONS: &[&str] = &["fail", "end"];

// Debate and vote nodes (issue #4) are checked in their own file.
mod debate;

const CYCLE_HINT: &str =
    "cycles are only allowed between the states of a `loop` node (use transitions)";

use NodeKindName as K;

mod agent_kind;
mod depth;
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
    let entry = cx.entry();
    let before_cycles = cx.errors.len();
    cx.cycles();
    if cx.errors.len() == before_cycles {
        cx.nesting_depth();
    }
    if !cx.errors.is_empty() {
        let mut errors = Diagnostics(cx.errors);
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
    };
    let mut warnings = Diagnostics(cx.warnings);
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

/// Whose table a field belongs to, for locating it in the span tree.
#[derive(Clone, Copy)]
enum Owner {
    Meta,
    /// A top-level table such as `[defaults]` or `[budget]` (issue #3).
    Section(&'static str),
    Agent(usize),
    Node(usize),
}

struct Ctx<'a> {
    spec: &'a WorkflowSpec,
    text: &'a str,
    /// Line starts of `text`: thousands of errors must not each rescan it.
    lines: LineIndex<'a>,
    origin: &'a str,
    /// The parsed file, for locating keys and values.
    tree: &'a SourceValue,
    /// Provider names agents may use.
    providers: &'a ProviderCatalog,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Agent id → first index.
    agent_ids: HashMap<&'a str, usize>,
    /// Node id → first index.
    node_ids: HashMap<&'a str, usize>,
    /// Containment edges: child and the location of the reference.
    edges: Vec<Vec<(NodeIdx, Range<usize>)>>,
    /// Agents some node names.
    used_agents: HashSet<usize>,
}

impl<'a> Ctx<'a> {
    fn new(spec: &'a WorkflowSpec, source: &Source<'a>, providers: &'a ProviderCatalog) -> Self {
        Ctx {
            spec,
            text: source.text,
            origin: source.origin,
            lines: LineIndex::new(source.text),
            tree: source.tree,
            providers,
            errors: vec![],
            warnings: vec![],
            agent_ids: HashMap::new(),
            node_ids: HashMap::new(),
            edges: vec![Vec::new(); spec.nodes.len()],
            used_agents: HashSet::new(),
        }
    }

    // ------------------------------------------------------------ locating

    /// The owner's table in the tree.
    fn table(&self, o: Owner) -> Option<&'a SourceValue> {
        let tree = self.tree;
        let section = |name: &str| tree.get(name).map(|e| &e.value);
        match o {
            Owner::Meta => section("workflow"),
            Owner::Section(name) => section(name),
            Owner::Agent(i) => section("agents")?.at(i),
            Owner::Node(i) => section("nodes")?.at(i),
        }
    }

    /// Where the owner starts (its `[[table]]` header or `{`), else the file.
    fn owner_start(&self, o: Owner) -> Range<usize> {
        let at = self.table(o).map_or(0, |t| t.span.start);
        at..at
    }

    /// The key `key` of the owner's table (or of a table nested in it).
    fn key_span(&self, o: Owner, key: &str) -> Option<Range<usize>> {
        self.table(o)?.find_key(key).map(|e| e.key_span.clone())
    }

    /// The key `entry` of the table under `key` (e.g. an agent of
    /// `weights = { a = 2 }`), else `key` itself, else the owner.
    fn entry_key_span(&self, o: Owner, key: &str, entry: &str) -> Range<usize> {
        let Some(field) = self.table(o).and_then(|t| t.find_key(key)) else {
            return self.owner_start(o);
        };
        field
            .value
            .get(entry)
            .map_or_else(|| field.key_span.clone(), |e| e.key_span.clone())
    }

    /// A value: its span, else the scalar written `needle` under its key,
    /// else the key, else the start of the owner.
    fn value_span(
        &self,
        o: Owner,
        key: &str,
        span: &Option<Range<usize>>,
        needle: &str,
    ) -> Range<usize> {
        if let Some(s) = span {
            return s.clone();
        }
        let Some(table) = self.table(o) else {
            return self.owner_start(o);
        };
        match table.find_key(key) {
            Some(e) => e
                .value
                .find_scalar(needle)
                .map_or_else(|| e.key_span.clone(), |v| v.span.clone()),
            None => table
                .find_scalar(needle)
                .map_or_else(|| self.owner_start(o), |v| v.span.clone()),
        }
    }

    /// A string value's location.
    fn str_span(&self, o: Owner, key: &str, v: &Spanned<String>) -> Range<usize> {
        self.value_span(o, key, &v.span, &quote(&v.value))
    }

    /// A field as a whole: its key when found, else its value.
    fn field_span(&self, o: Owner, key: &str, span: Option<Range<usize>>) -> Range<usize> {
        if let Some(k) = self.key_span(o, key) {
            return k;
        }
        span.unwrap_or_else(|| self.owner_start(o))
    }

    fn kind_span(&self, i: usize) -> Range<usize> {
        let n = &self.spec.nodes[i];
        self.value_span(
            Owner::Node(i),
            "kind",
            &n.kind.span,
            &quote(n.kind.value.as_str()),
        )
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: impl Into<String>) {
        let d = Diagnostic::at_span_in(Severity::Error, self.origin, &self.lines, span, message)
            .with_hint(hint);
        self.errors.push(d);
    }

    fn line_of(&self, span: &Option<Range<usize>>, o: Owner, key: &str, value: &str) -> usize {
        let s = self.value_span(o, key, span, &quote(value));
        self.lines.line_col(s.start).0
    }

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
                        .map(|p| self.str_span(o, "provider", p))
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
                    self.error(p, format!("unknown provider `{provider}`"), hint);
                    String::new()
                }
            };
            let shell = self.agent_shell(o, a);
            let tool_use = self.agent_tool_use(o, a);
            for t in &a.tools {
                if !super::tool_use::BUILTIN_TOOLS.contains(&t.value.as_str()) {
                    let names = super::tool_use::BUILTIN_TOOLS;
                    let hint = match did_you_mean(&t.value, names.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`? tools: {}", names.join(", ")),
                        None => format!("tools: {}", names.join(", ")),
                    };
                    self.error(
                        self.str_span(o, "tools", t),
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
            Owner::Agent(_) => (&self.agent_ids, "agent"),
            _ => (&self.node_ids, "node"),
        };
        let Some(&first) = ids.get(id.value.as_str()) else {
            match o {
                Owner::Agent(i) => self.agent_ids.insert(&id.value, i),
                Owner::Node(i) => self.node_ids.insert(&id.value, i),
                _ => None,
            };
            return;
        };
        let (first_owner, first_span) = match o {
            Owner::Agent(_) => (Owner::Agent(first), &self.spec.agents[first].id.span),
            _ => (Owner::Node(first), &self.spec.nodes[first].id.span),
        };
        let line = self.line_of(first_span, first_owner, "id", &id.value);
        self.error(
            self.str_span(o, "id", id),
            format!("duplicate {what} id `{}`", id.value),
            format!("first defined on line {line}; {what} ids must be unique"),
        );
    }

    fn check_id(&mut self, o: Owner, id: &Spanned<String>, what: &str) {
        if id.value.trim().is_empty() {
            self.error(
                self.str_span(o, "id", id),
                format!("empty {what} id"),
                "give it a short unique name",
            );
        } else if what == "node" && id.value == END_STATE {
            self.error(
                self.str_span(o, "id", id),
                format!("`{END_STATE}` is reserved"),
                "it names the end of a loop; choose another node id",
            );
        }
    }

    // ------------------------------------------------------------ nodes

    fn index_nodes(&mut self) {
        let spec = self.spec;
        if spec.nodes.is_empty() {
            let at = self.value_span(
                Owner::Meta,
                "name",
                &spec.workflow.name.span,
                &quote(&spec.workflow.name),
            );
            self.error(
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

    /// Resolves a node reference from node `from`, recording the edge when
    /// `contains` (for the cycle check).
    fn node_ref(
        &mut self,
        from: usize,
        key: &str,
        r: &Spanned<String>,
        contains: bool,
    ) -> Option<NodeIdx> {
        let at = self.str_span(Owner::Node(from), key, r);
        match self.node_ids.get(r.value.as_str()) {
            Some(&i) => {
                if contains {
                    self.edges[from].push((i, at));
                }
                Some(i)
            }
            None => {
                let names: Vec<&str> = self
                    .spec
                    .nodes
                    .iter()
                    .map(|n| n.id.value.as_str())
                    .collect();
                let hint = suggest_hint(&r.value, &names, "declared nodes");
                self.error(at, format!("unknown node `{}` in `{key}`", r.value), hint);
                None
            }
        }
    }

    fn agent_ref(&mut self, from: usize, key: &str, r: &Spanned<String>) -> Option<usize> {
        match self.agent_ids.get(r.value.as_str()) {
            Some(&i) => {
                self.used_agents.insert(i);
                Some(i)
            }
            None => {
                let at = self.str_span(Owner::Node(from), key, r);
                let names: Vec<&str> = self
                    .spec
                    .agents
                    .iter()
                    .map(|a| a.id.value.as_str())
                    .collect();
                let hint = if names.is_empty() {
                    "declare it in an `[[agents]]` table".to_string()
                } else {
                    suggest_hint(&r.value, &names, "declared agents")
                };
                self.error(at, format!("unknown agent `{}` in `{key}`", r.value), hint);
                None
            }
        }
    }

    /// An integer limit: `default` when absent, an error below `min`.
    fn int(
        &mut self,
        i: usize,
        key: &str,
        v: &Option<Spanned<i64>>,
        min: i64,
        default: u32,
    ) -> u32 {
        let Some(v) = v else { return default };
        let at = self.value_span(Owner::Node(i), key, &v.span, &v.value.to_string());
        if v.value < min {
            let what = if min == 0 {
                "cannot be negative"
            } else {
                "must be at least 1"
            };
            self.error(
                at,
                format!("`{key}` {what}, got {}", v.value),
                format!("set `{key}` to {min} or more"),
            );
            default
        } else if let Ok(x) = u32::try_from(v.value) {
            x
        } else {
            self.error(
                at,
                format!("`{key}` is too large ({})", v.value),
                format!("use at most {}", u32::MAX),
            );
            default
        }
    }

    /// A positive duration in milliseconds.
    fn millis(&mut self, i: usize, key: &str, v: &Option<Spanned<u64>>) -> Option<Duration> {
        let v = v.as_ref()?;
        if v.value == 0 {
            let at = self.value_span(Owner::Node(i), key, &v.span, "0");
            self.error(
                at,
                format!("`{key}` must be at least 1"),
                format!("set `{key}` to a positive number of milliseconds"),
            );
        }
        Some(Duration::from_millis(v.value))
    }

    fn require(&mut self, i: usize, kind: NodeKindName, what: &str, hint: &str) {
        let at = self.kind_span(i);
        let article = if matches!(kind, K::Agent | K::On) {
            "an"
        } else {
            "a"
        };
        self.error(
            at,
            format!("{article} `{}` node needs {what}", kind.as_str()),
            hint,
        );
    }

    fn expr(&mut self, i: usize, key: &str, v: &Spanned<String>) -> Option<Expr> {
        match Expr::parse(&v.value) {
            Ok(e) => {
                let refs: Vec<(String, usize)> = e
                    .root_refs()
                    .iter()
                    .map(|(n, a)| (n.to_string(), *a))
                    .collect();
                self.check_vars(i, key, v, &refs);
                Some(e)
            }
            Err(err) => {
                self.expr_error(i, key, v, &err, "expression");
                None
            }
        }
    }

    fn template(&mut self, i: usize, key: &str, v: &Option<Spanned<String>>) -> Template {
        let Some(v) = v else {
            return Template::default();
        };
        match Template::parse(&v.value) {
            Ok(t) => {
                let refs: Vec<(String, usize)> = t
                    .root_refs()
                    .iter()
                    .map(|(n, a)| (n.to_string(), *a))
                    .collect();
                self.check_vars(i, key, v, &refs);
                t
            }
            Err(err) => {
                self.expr_error(i, key, v, &err, "template");
                Template::default()
            }
        }
    }

    fn expr_error(
        &mut self,
        i: usize,
        key: &str,
        v: &Spanned<String>,
        err: &ExprError,
        what: &str,
    ) {
        let at = self.inner_span(i, key, v, err.offset);
        let hint = if what == "template" {
            "placeholders are `{{ expression }}`; write `{{ \"{{\" }}` for a literal `{{`"
        } else {
            "expressions look like `input.severity == \"high\" and len(outputs.review.issues) > 0`"
        };
        self.error(
            at,
            format!("invalid {what} in `{key}`: {}", err.message),
            hint,
        );
    }

    fn check_vars(&mut self, i: usize, key: &str, v: &Spanned<String>, refs: &[(String, usize)]) {
        for (name, offset) in refs {
            if VARIABLES.contains(&name.as_str()) {
                continue;
            }
            let start = self.inner_span(i, key, v, *offset).start;
            let hint = match did_you_mean(name, VARIABLES.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? available: {}", VARIABLES.join(", ")),
                None => format!("available: {}", VARIABLES.join(", ")),
            };
            self.error(
                start..start + name.len(),
                format!("unknown variable `{name}` in `{key}`"),
                hint,
            );
        }
    }

    /// Location of byte `offset` of a string value's content: the value's
    /// start plus its opening quote, when the raw text matches the value
    /// (no escapes before it); else the whole value.
    fn inner_span(&self, i: usize, key: &str, v: &Spanned<String>, offset: usize) -> Range<usize> {
        let whole = self.str_span(Owner::Node(i), key, v);
        let text = self.text;
        let start = floor_char_boundary(text, whole.start);
        let rest = &text[start..];
        let mut skip = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            3
        } else if rest.starts_with('"') || rest.starts_with('\'') {
            1
        } else {
            0
        };
        // TOML trims a newline right after the opening `"""`.
        if skip == 3 {
            if rest[3..].starts_with("\r\n") {
                skip += 2;
            } else if rest[3..].starts_with('\n') {
                skip += 1;
            }
        }
        let content = start + skip;
        let prefix = v.value.get(..offset).unwrap_or(&v.value);
        if text.get(content..).is_some_and(|t| t.starts_with(prefix)) {
            let at = content + prefix.len();
            at..at + 1
        } else {
            whole
        }
    }

    fn node(&mut self, i: usize) -> Node {
        let spec = self.spec;
        let n = &spec.nodes[i];
        let o = Owner::Node(i);
        let kind = n.kind.value;
        self.check_fields(i, n);
        let priority = match &n.priority {
            None => 3,
            Some(p) if (1..=5).contains(&p.value) => p.value as u8,
            Some(p) => {
                let at = self.value_span(o, "priority", &p.span, &p.value.to_string());
                self.error(
                    at,
                    format!("priority must be between 1 and 5, got {}", p.value),
                    "1 is the most urgent, 5 the least (default 3)",
                );
                3
            }
        };
        let kind = match &n.fields {
            KindSpec::Agent(f) => self.agent_node(i, f),
            KindSpec::Sequence(f) => {
                let steps = self.node_list(
                    i,
                    "steps",
                    &f.steps,
                    kind,
                    "steps = [\"first\", \"second\"]",
                );
                NodeKind::Sequence(SequenceNode { steps })
            }
            KindSpec::Parallel(f) => self.parallel_node(i, f),
            KindSpec::Map(f) => self.map_node(i, f),
            KindSpec::Plan(f) => self.plan_node(i, f),
            KindSpec::Router(f) => self.router_node(i, f),
            KindSpec::Loop(f) => self.loop_node(i, f),
            KindSpec::On(f) => self.on_node(i, f),
            KindSpec::Gate(f) => {
                let subject = f
                    .subject
                    .as_ref()
                    .and_then(|s| self.node_ref(i, "subject", s, true));
                let max_revisions = self.int(i, "max_revisions", &f.max_revisions, 0, 2);
                NodeKind::Gate(GateNode {
                    subject,
                    max_revisions,
                })
            }
            KindSpec::Debate(f) => self.debate_node(i, f),
            KindSpec::Vote(f) => self.vote_node(i, f),
        };
        Node {
            id: Arc::from(n.id.value.as_str()),
            title: n.title.clone().unwrap_or_else(|| n.id.value.clone()),
            priority,
            emit: n.emit.clone(),
            kind,
            policy: Default::default(),
        }
    }

    /// Reports fields of other kinds that the node's table has.
    fn check_fields(&mut self, i: usize, n: &NodeSpec) {
        for key in &n.misplaced {
            let key = key.value.as_str();
            let kinds = kinds_with_field(key);
            let at = self.field_span(Owner::Node(i), key, None);
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
            self.error(
                at,
                format!(
                    "`{key}` is not a field of a `{}` node",
                    n.kind.value.as_str()
                ),
                hint,
            );
        }
    }

    /// A required, non-empty list of node references (containment).
    fn node_list(
        &mut self,
        i: usize,
        key: &str,
        list: &Option<Vec<Spanned<String>>>,
        kind: NodeKindName,
        example: &str,
    ) -> Vec<NodeIdx> {
        match list {
            Some(l) if !l.is_empty() => l
                .iter()
                .filter_map(|r| self.node_ref(i, key, r, true))
                .collect(),
            Some(_) => {
                let at = self.field_span(Owner::Node(i), key, None);
                self.error(
                    at,
                    format!("`{key}` is empty"),
                    format!("list at least one node: {example}"),
                );
                vec![]
            }
            None => {
                self.require(i, kind, &format!("`{key}`"), &format!("add {example}"));
                vec![]
            }
        }
    }

    fn agent_node(&mut self, i: usize, n: &AgentNodeSpec) -> NodeKind {
        let target = match (&n.agent, &n.capability) {
            (Some(_), Some(c)) => {
                let at = self.field_span(Owner::Node(i), "capability", c.span.clone());
                self.error(
                    at,
                    "an `agent` node takes `agent` or `capability`, not both",
                    "remove one: `agent` names one agent, `capability` picks the least-loaded capable agent",
                );
                None
            }
            (Some(a), None) => self.agent_ref(i, "agent", a).map(Target::Agent),
            (None, Some(c)) => {
                let capable: Vec<usize> = (0..self.spec.agents.len())
                    .filter(|&a| self.spec.agents[a].capabilities.contains(&c.value))
                    .collect();
                if capable.is_empty() {
                    let at = self.str_span(Owner::Node(i), "capability", c);
                    let offered: Vec<&str> = self
                        .spec
                        .agents
                        .iter()
                        .flat_map(|a| a.capabilities.iter().map(String::as_str))
                        .collect();
                    let hint = match did_you_mean(&c.value, offered.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("add \"{}\" to some agent's `capabilities`", c.value),
                    };
                    self.error(
                        at,
                        format!("no agent offers capability `{}`", c.value),
                        hint,
                    );
                }
                self.used_agents.extend(capable);
                Some(Target::Capability(c.value.clone()))
            }
            (None, None) => {
                self.require(
                    i,
                    K::Agent,
                    "`agent` or `capability`",
                    "add agent = \"<agent id>\" or capability = \"<name>\"",
                );
                None
            }
        };
        let prompt = self.template(i, "prompt", &n.prompt);
        NodeKind::Agent(AgentNode {
            target: target.unwrap_or(Target::Agent(0)),
            prompt,
        })
    }

    fn parallel_node(&mut self, i: usize, n: &ParallelNodeSpec) -> NodeKind {
        let branches = self.node_list(
            i,
            "branches",
            &n.branches,
            K::Parallel,
            "branches = [\"a\", \"b\"]",
        );
        let count = n.branches.as_ref().map_or(0, Vec::len);
        let o = Owner::Node(i);
        let join = match (n.join.as_ref().map(|j| j.value), &n.k) {
            (Some(JoinName::KOfN), Some(k)) => {
                let at = self.value_span(o, "k", &k.span, &k.value.to_string());
                if k.value < 1 {
                    self.error(
                        at,
                        format!(
                            "impossible join: k = {} but at least 1 branch must succeed",
                            k.value
                        ),
                        "set k between 1 and the number of branches",
                    );
                } else if k.value as u64 > count as u64 && count > 0 {
                    let s = if count == 1 { "" } else { "es" };
                    self.error(
                        at,
                        format!(
                            "impossible join: k = {} but only {count} branch{s}",
                            k.value
                        ),
                        format!("set k to at most {count}, or add branches"),
                    );
                }
                Join::KOfN(u32::try_from(k.value).unwrap_or(1))
            }
            (Some(JoinName::KOfN), None) => {
                let j = n.join.as_ref().map(|j| j.span.clone()).unwrap_or_default();
                let at = self.value_span(o, "join", &j, "\"k_of_n\"");
                self.error(
                    at,
                    "join = \"k_of_n\" needs `k`",
                    "add k = <how many branches must succeed>",
                );
                Join::KOfN(1)
            }
            (other, Some(k)) => {
                let at = self.field_span(o, "k", k.span.clone());
                self.error(
                    at,
                    "`k` only applies to join = \"k_of_n\"",
                    "set join = \"k_of_n\", or remove `k`",
                );
                if other == Some(JoinName::Any) {
                    Join::Any
                } else {
                    Join::All
                }
            }
            (Some(JoinName::Any), None) => Join::Any,
            (Some(JoinName::All) | None, None) => Join::All,
        };
        let branch_timeout = self.millis(i, "branch_timeout_ms", &n.branch_timeout_ms);
        NodeKind::Parallel(ParallelNode {
            branches,
            join,
            branch_timeout,
        })
    }

    fn map_node(&mut self, i: usize, n: &MapNodeSpec) -> NodeKind {
        let o = Owner::Node(i);
        let present: Vec<&str> = [
            n.over.as_ref().map(|_| "over"),
            n.items.as_ref().map(|_| "items"),
            n.count.as_ref().map(|_| "count"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if present.is_empty() {
            self.require(
                i,
                K::Map,
                "`over`, `items` or `count`",
                "add over = \"input.items\" (an expression giving a list)",
            );
        } else if present.len() > 1 {
            // Point at the later of the conflicting fields in the file.
            let spans: Vec<Range<usize>> = present
                .iter()
                .map(|k| self.field_span(o, k, None))
                .collect();
            let at = spans
                .iter()
                .max_by_key(|s| s.start)
                .cloned()
                .unwrap_or_default();
            let list: Vec<String> = present.iter().map(|k| format!("`{k}`")).collect();
            self.error(
                at,
                format!(
                    "a `map` takes exactly one of `over`, `items` or `count`, got {}",
                    list.join(" and ")
                ),
                "keep one source of items",
            );
        }
        let source = if let Some(over) = &n.over {
            self.expr(i, "over", over).map(MapSource::Over)
        } else if let Some(items) = &n.items {
            Some(MapSource::Items(items.clone()))
        } else {
            n.count
                .as_ref()
                .map(|_| MapSource::Count(self.int(i, "count", &n.count, 0, 0)))
        };
        // `count` is checked even when it conflicts, so a bad value is reported too.
        if n.over.is_some() || n.items.is_some() {
            self.int(i, "count", &n.count, 0, 0);
        }
        let body = match &n.body {
            Some(b) => self.node_ref(i, "body", b, true),
            None => {
                self.require(
                    i,
                    K::Map,
                    "`body`",
                    "add body = \"<node run for each item>\"",
                );
                None
            }
        };
        let concurrency = self.int(i, "concurrency", &n.concurrency, 0, 0);
        let batch_size = self.int(i, "batch_size", &n.batch_size, 0, 0);
        let aggregate = n
            .aggregate
            .as_ref()
            .and_then(|a| self.node_ref(i, "aggregate", a, true));
        NodeKind::Map(MapNode {
            source: source.unwrap_or(MapSource::Count(0)),
            body: body.unwrap_or(0),
            concurrency,
            batch_size,
            aggregate,
        })
    }

    fn plan_node(&mut self, i: usize, n: &PlanNodeSpec) -> NodeKind {
        let planner = match &n.planner {
            Some(p) => self.agent_ref(i, "planner", p),
            None => {
                self.require(i, K::Plan, "`planner`", "add planner = \"<agent id>\"");
                None
            }
        };
        let reviewer = n
            .reviewer
            .as_ref()
            .and_then(|r| self.agent_ref(i, "reviewer", r));
        let max_revisions = self.int(i, "max_revisions", &n.max_revisions, 0, 2);
        let max_subtasks = self.int(i, "max_subtasks", &n.max_subtasks, 1, 16);
        let repair_attempts = self.int(i, "repair_attempts", &n.repair_attempts, 0, 2);
        let prompt = self.template(i, "prompt", &n.prompt);
        NodeKind::Plan(PlanNode {
            planner: planner.unwrap_or(0),
            reviewer,
            max_revisions,
            max_subtasks,
            repair_attempts,
            prompt,
        })
    }

    fn router_node(&mut self, i: usize, n: &RouterNodeSpec) -> NodeKind {
        let o = Owner::Node(i);
        let specs = n.routes.as_deref().unwrap_or(&[]);
        if specs.is_empty() && n.default.is_none() {
            self.require(
                i,
                K::Router,
                "`routes` or a `default`",
                "add routes = [{ when = \"...\", to = \"<node>\" }]",
            );
        }
        let classifier = n
            .classifier
            .as_ref()
            .and_then(|c| self.agent_ref(i, "classifier", c));
        let mut routes = Vec::new();
        let mut label_error = false;
        for r in specs {
            let cond = match (&r.when, &r.label) {
                (Some(_), Some(l)) => {
                    let at = self.field_span(o, "label", l.span.clone());
                    let at = l.span.clone().unwrap_or(at);
                    self.error(
                        at,
                        "a route takes `when` or `label`, not both",
                        "keep `when` for an expression, `label` for a classifier answer",
                    );
                    None
                }
                (Some(w), None) => self.expr(i, "when", w).map(RouteCond::Expr),
                (None, Some(l)) => {
                    if n.classifier.is_none() && !label_error {
                        label_error = true;
                        let at = self.str_span(o, "label", l);
                        self.error(
                            at,
                            "label routes need a `classifier`",
                            "add classifier = \"<agent id>\" to the router, or use `when`",
                        );
                    }
                    Some(RouteCond::Label(l.value.clone()))
                }
                (None, None) => {
                    let at = self.str_span(o, "to", &r.to);
                    self.error(
                        at,
                        "a route needs `when` or `label`",
                        "add when = \"<expression>\" (or label = \"...\" with a classifier)",
                    );
                    None
                }
            };
            let to = self.node_ref(i, "to", &r.to, true);
            if let (Some(cond), Some(to)) = (cond, to) {
                routes.push(Route { cond, to });
            }
        }
        let default = n
            .default
            .as_ref()
            .and_then(|d| self.node_ref(i, "default", d, true));
        let prompt = self.template(i, "prompt", &n.prompt);
        NodeKind::Router(RouterNode {
            routes,
            default,
            classifier,
            prompt,
        })
    }

    fn loop_node(&mut self, i: usize, n: &'a LoopNodeSpec) -> NodeKind {
        let o = Owner::Node(i);
        let states = self.node_list(
            i,
            "states",
            &n.states,
            K::Loop,
            "states = [\"draft\", \"review\"]",
        );
        let names: Vec<&'a str> = n
            .states
            .iter()
            .flatten()
            .map(|s| s.value.as_str())
            .collect();
        let mut seen = HashSet::new();
        for s in n.states.iter().flatten() {
            if !seen.insert(s.value.as_str()) {
                let at = self.str_span(o, "states", s);
                self.error(
                    at,
                    format!("`{}` is listed twice in `states`", s.value),
                    "list each state once",
                );
            }
        }
        // A state's position in `states`; ids that resolve nowhere were
        // reported by `node_list`.
        let state_of = |cx: &mut Self, key: &str, r: &Spanned<String>| -> Option<usize> {
            if let Some(p) = names.iter().position(|s| *s == r.value) {
                return Some(p);
            }
            let at = cx.str_span(o, key, r);
            let hint = suggest_hint(&r.value, &names, "states of this loop");
            if cx.node_ids.contains_key(r.value.as_str()) {
                let states: Vec<String> = names.iter().map(|s| format!("`{s}`")).collect();
                cx.error(
                    at,
                    format!(
                        "`{}` is not a state of loop `{}`",
                        r.value, cx.spec.nodes[i].id.value
                    ),
                    format!("add it to `states` (now: {})", states.join(", ")),
                );
            } else {
                cx.error(at, format!("unknown state `{}` in `{key}`", r.value), hint);
            }
            None
        };
        let start = match &n.start {
            Some(s) => state_of(self, "start", s).unwrap_or(0),
            None => 0,
        };
        let mut transitions = Vec::new();
        for t in n.transitions.iter().flatten() {
            let from = if t.from.value == END_STATE {
                let at = self.str_span(o, "from", &t.from);
                self.error(
                    at,
                    format!("`{END_STATE}` can only be a transition's `to`"),
                    "`from` names the state a transition leaves",
                );
                None
            } else {
                state_of(self, "from", &t.from)
            };
            let to = if t.to.value == END_STATE {
                Some(None)
            } else {
                state_of(self, "to", &t.to).map(Some)
            };
            let when = t.when.as_ref().and_then(|w| self.expr(i, "when", w));
            if let (Some(from), Some(to)) = (from, to) {
                transitions.push(Transition { from, to, when });
            }
        }
        let max_iterations = self.int(i, "max_iterations", &n.max_iterations, 1, 10);
        let end_at_max = match &n.on_max_iterations {
            None => false,
            Some(v) if ON_MAX_ITERATIONS.contains(&v.value.as_str()) => v.value == "end",
            Some(v) => {
                let at = self.str_span(o, "on_max_iterations", v);
                self.error(
                    at,
                    format!("unknown on_max_iterations `{}`", v.value),
                    "use \"fail\" (the default) or \"end\"",
                );
                false
            }
        };
        NodeKind::Loop(LoopNode {
            states,
            start,
            transitions,
            max_iterations,
            end_at_max,
        })
    }

    fn on_node(&mut self, i: usize, n: &OnNodeSpec) -> NodeKind {
        if n.topic.is_none() && n.every_ms.is_none() {
            self.require(
                i,
                K::On,
                "`topic` or `every_ms`",
                "add topic = \"reviews.>\" or every_ms = 1000",
            );
        }
        if let Some(t) = &n.topic
            && let Err(why) = check_topic(&t.value)
        {
            let at = self.str_span(Owner::Node(i), "topic", t);
            self.error(
                at,
                format!("invalid topic pattern `{}`: {why}", t.value),
                "topics are dot-separated tokens; `*` matches one token, a final `>` the rest",
            );
        }
        let body = match &n.body {
            Some(b) => self.node_ref(i, "body", b, true),
            None => {
                self.require(i, K::On, "`body`", "add body = \"<node run per event>\"");
                None
            }
        };
        let every = self.millis(i, "every_ms", &n.every_ms);
        let idle_timeout = self
            .millis(i, "idle_timeout_ms", &n.idle_timeout_ms)
            .unwrap_or(Duration::from_millis(30_000));
        let max_events = self.int(i, "max_events", &n.max_events, 1, 1);
        NodeKind::On(OnNode {
            topic: n.topic.as_ref().map(|t| t.value.clone()),
            every,
            body: body.unwrap_or(0),
            max_events,
            idle_timeout,
        })
    }

    // ------------------------------------------------------------ graph

    fn entry(&mut self) -> NodeIdx {
        let Some(e) = &self.spec.workflow.entry else {
            return 0;
        };
        match self.node_ids.get(e.value.as_str()) {
            Some(&i) => i,
            None => {
                let at = self.str_span(Owner::Meta, "entry", e);
                let names: Vec<&str> = self
                    .spec
                    .nodes
                    .iter()
                    .map(|n| n.id.value.as_str())
                    .collect();
                let hint = suggest_hint(&e.value, &names, "declared nodes");
                self.error(at, format!("unknown entry node `{}`", e.value), hint);
                0
            }
        }
    }

    /// Reports each cycle of the containment graph once, at the reference
    /// that closes it. Iterative DFS, so long chains cannot overflow.
    fn cycles(&mut self) {
        let n = self.edges.len();
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
                if let Some((v, at)) = self.edges[u].get(*next).cloned() {
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
            self.error(at, format!("cycle: {}", names.join(" → ")), CYCLE_HINT);
        }
    }

    fn warnings(&mut self, entry: NodeIdx, nodes: &[Node]) {
        let spec = self.spec;
        let mut reached = vec![false; nodes.len()];
        let mut todo = vec![entry];
        while let Some(u) = todo.pop() {
            if u < reached.len() && !reached[u] {
                reached[u] = true;
                todo.extend(self.edges[u].iter().map(|(v, _)| *v));
            }
        }
        let entry_id = spec.nodes.get(entry).map_or("", |n| n.id.value.as_str());
        for (i, r) in reached.iter().enumerate() {
            if !r {
                let n = &spec.nodes[i];
                let at = self.str_span(Owner::Node(i), "id", &n.id);
                self.warnings.push(
                    Diagnostic::at_span_in(Severity::Warning, self.origin, &self.lines, at, format!("node `{}` is never reached from the entry `{entry_id}`", n.id.value))
                        .with_hint("reference it from another node (steps, branches, body, routes...), or remove it"),
                );
            }
        }
        // Plan subtasks are dispatched by capability, so with a plan node any
        // agent offering capabilities may be used.
        let has_plan = nodes.iter().any(|n| matches!(n.kind, NodeKind::Plan(_)));
        for (i, a) in spec.agents.iter().enumerate() {
            let first = self.agent_ids.get(a.id.value.as_str()) == Some(&i);
            if !first || self.used_agents.contains(&i) || (has_plan && !a.capabilities.is_empty()) {
                continue;
            }
            let at = self.str_span(Owner::Agent(i), "id", &a.id);
            self.warnings.push(
                Diagnostic::at_span_in(Severity::Warning, self.origin, &self.lines, at, format!("agent `{}` is never used", a.id.value))
                    .with_hint("name it in a node (`agent`, `planner`, `reviewer`, `classifier`), or remove it"),
            );
        }
    }
}

/// Checks a NATS-style subject pattern.
fn check_topic(t: &str) -> Result<(), &'static str> {
    if t.is_empty() {
        return Err("it is empty");
    }
    let tokens: Vec<&str> = t.split('.').collect();
    for (i, tok) in tokens.iter().enumerate() {
        if tok.is_empty() {
            return Err("it has an empty token");
        }
        if tok.chars().any(char::is_whitespace) {
            return Err("it contains whitespace");
        }
        if *tok == ">" && i + 1 != tokens.len() {
            return Err("`>` must be the last token");
        }
        if tok.len() > 1 && (tok.contains('*') || tok.contains('>')) {
            return Err("`*` and `>` must be whole tokens");
        }
    }
    Ok(())
}

/// "did you mean `x`?" when one name is close, else the list of names.
fn suggest_hint(word: &str, names: &[&str], what: &str) -> String {
    if let Some(s) = did_you_mean(word, names.iter().copied()) {
        return format!("did you mean `{s}`?");
    }
    if names.is_empty() {
        return format!("there are no {what}");
    }
    let shown: Vec<String> = names.iter().take(8).map(|n| format!("`{n}`")).collect();
    let more = if names.len() > 8 { ", ..." } else { "" };
    format!("{what}: {}{more}", shown.join(", "))
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics() {
        assert!(check_topic("a.b.c").is_ok());
        assert!(check_topic("a.*.c").is_ok());
        assert!(check_topic("a.>").is_ok());
        assert!(check_topic("").is_err());
        assert!(check_topic("a..b").is_err());
        assert!(check_topic("a.>.b").is_err());
        assert!(check_topic("a.b*").is_err());
    }
}
