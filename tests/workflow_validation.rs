//! One test per validation rule: each asserts the message and the exact
//! line and column the diagnostic points at.

use agentctl::workflow::diagnostics::{Diagnostic, Severity};
use agentctl::workflow::kinds::{
    NodeKind,
    agent::{AgentNode, Target},
    loop_node::LoopNode,
    map::{MapNode, MapSource},
    on::OnNode,
    parallel::{Join, ParallelNode},
};
use agentctl::workflow::load::{Format, Loaded, load_source, load_str};

/// Header shared by most cases: lines 1–7, nodes start on line 8.
const HEAD: &str =
    "[workflow]\nname = \"t\"\n\n[[agents]]\nid = \"writer\"\ncapabilities = [\"write\"]\n\n";

fn errors(body: &str) -> Vec<Diagnostic> {
    errors_of(&format!("{HEAD}{body}"))
}

fn errors_of(text: &str) -> Vec<Diagnostic> {
    match load_str(text, "t.toml", Format::Toml) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => {
            assert!(d.0.iter().all(|d| d.severity == Severity::Error), "{d}");
            d.0
        }
    }
}

/// The only error, checked for position and message fragment.
fn one(body: &str, line: usize, column: usize, message: &str) -> Diagnostic {
    let e = errors(body);
    assert_eq!(e.len(), 1, "expected one error, got:\n{}", render(&e));
    check(&e[0], line, column, message);
    e.into_iter().next().unwrap_or_else(|| unreachable!())
}

fn check(d: &Diagnostic, line: usize, column: usize, message: &str) {
    assert!(
        d.message.contains(message),
        "message {:?} lacks {message:?}\n{d}",
        d.message
    );
    assert_eq!(
        (d.line, d.column),
        (line, column),
        "wrong position for:\n{d}"
    );
    assert_eq!(d.file, "t.toml");
    assert!(d.hint.is_some(), "no hint:\n{d}");
}

fn render(e: &[Diagnostic]) -> String {
    e.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn ok(text: &str, format: Format) -> Loaded {
    load_str(text, "t", format).unwrap_or_else(|e| panic!("{e}"))
}

const AGENT_NODE: &str = "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\n\n";

#[test]
fn duplicate_agent_id() {
    let text = "[workflow]\nname = \"t\"\n[[agents]]\nid = \"x\"\n[[agents]]\nid = \"x\"\n[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"x\"\n";
    let e = errors_of(text);
    assert_eq!(e.len(), 1, "{}", render(&e));
    check(&e[0], 6, 6, "duplicate agent id `x`");
    assert_eq!(
        e[0].hint.as_deref(),
        Some("first defined on line 4; agent ids must be unique")
    );
}

#[test]
fn duplicate_node_id() {
    let d = one(
        &format!("{AGENT_NODE}[[nodes]]\nid = \"a\"\nkind = \"gate\"\n"),
        14,
        6,
        "duplicate node id `a`",
    );
    assert!(d.hint.unwrap_or_default().contains("line 9"));
}

#[test]
fn unknown_agent_with_suggestion() {
    let d = one(
        "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"wirter\"\n",
        11,
        9,
        "unknown agent `wirter` in `agent`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `writer`?"));
    assert_eq!(d.width, 8);
}

#[test]
fn unknown_planner_reviewer_classifier() {
    let e = errors(
        "[[nodes]]\nid = \"p\"\nkind = \"plan\"\nplanner = \"boss\"\nreviewer = \"writer\"\n\n\
         [[nodes]]\nid = \"r\"\nkind = \"router\"\nclassifier = \"sortr\"\ndefault = \"p\"\n\
         routes = [{ label = \"x\", to = \"p\" }]\n",
    );
    assert_eq!(e.len(), 2, "{}", render(&e));
    check(&e[0], 11, 11, "unknown agent `boss` in `planner`");
    assert_eq!(e[0].hint.as_deref(), Some("declared agents: `writer`"));
    check(&e[1], 17, 14, "unknown agent `sortr` in `classifier`");
}

#[test]
fn unknown_node_in_steps() {
    let d = one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"s\"\nkind = \"sequence\"\nsteps = [\"a\", \"b\"]\n"
        ),
        16,
        15,
        "unknown node `b` in `steps`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `a`?"));
}

#[test]
fn unknown_route_target_and_default() {
    let e = errors(&format!(
        "{AGENT_NODE}[[nodes]]\nid = \"r\"\nkind = \"router\"\nroutes = [{{ when = \"input.x\", to = \"nowhere\" }}]\ndefault = \"aa\"\n"
    ));
    assert_eq!(e.len(), 2, "{}", render(&e));
    check(&e[0], 16, 36, "unknown node `nowhere` in `to`");
    check(&e[1], 17, 11, "unknown node `aa` in `default`");
    assert_eq!(e[1].hint.as_deref(), Some("did you mean `a`?"));
}

#[test]
fn unknown_entry() {
    let text = "[workflow]\nname = \"t\"\nentry = \"mian\"\n[[agents]]\nid = \"w\"\n[[nodes]]\nid = \"main\"\nkind = \"agent\"\nagent = \"w\"\n".to_string();
    let e = errors_of(&text);
    assert_eq!(e.len(), 1, "{}", render(&e));
    check(&e[0], 3, 9, "unknown entry node `mian`");
    assert_eq!(e[0].hint.as_deref(), Some("did you mean `main`?"));
}

#[test]
fn field_of_another_kind() {
    let d = one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"s\"\nkind = \"sequence\"\nsteps = [\"a\"]\nbranches = [\"a\"]\n"
        ),
        17,
        1,
        "`branches` is not a field of a `sequence` node",
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean kind = \"parallel\"? otherwise remove `branches`")
    );
}

#[test]
fn sequence_needs_steps() {
    one(
        "[[nodes]]\nid = \"s\"\nkind = \"sequence\"\n",
        10,
        8,
        "a `sequence` node needs `steps`",
    );
    one(
        "[[nodes]]\nid = \"s\"\nkind = \"sequence\"\nsteps = []\n",
        11,
        1,
        "`steps` is empty",
    );
}

#[test]
fn parallel_needs_branches() {
    one(
        "[[nodes]]\nid = \"p\"\nkind = \"parallel\"\n",
        10,
        8,
        "a `parallel` node needs `branches`",
    );
}

#[test]
fn impossible_join() {
    let d = one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"p\"\nkind = \"parallel\"\nbranches = [\"a\", \"a\", \"a\"]\njoin = \"k_of_n\"\nk = 5\n"
        ),
        18,
        5,
        "impossible join: k = 5 but only 3 branches",
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("set k to at most 3, or add branches")
    );
    one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"p\"\nkind = \"parallel\"\nbranches = [\"a\"]\njoin = \"k_of_n\"\nk = 0\n"
        ),
        18,
        5,
        "impossible join: k = 0",
    );
}

#[test]
fn k_without_k_of_n_and_k_of_n_without_k() {
    one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"p\"\nkind = \"parallel\"\nbranches = [\"a\"]\nk = 1\n"
        ),
        17,
        1,
        "`k` only applies to join = \"k_of_n\"",
    );
    one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"p\"\nkind = \"parallel\"\nbranches = [\"a\"]\njoin = \"k_of_n\"\n"
        ),
        17,
        8,
        "join = \"k_of_n\" needs `k`",
    );
}

#[test]
fn map_sources_and_body() {
    one(
        &format!("{AGENT_NODE}[[nodes]]\nid = \"m\"\nkind = \"map\"\nbody = \"a\"\n"),
        15,
        8,
        "a `map` node needs `over`, `items` or `count`",
    );
    one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"m\"\nkind = \"map\"\nover = \"input.xs\"\ncount = 3\nbody = \"a\"\n"
        ),
        17,
        1,
        "a `map` takes exactly one of `over`, `items` or `count`, got `over` and `count`",
    );
    one(
        &format!("{AGENT_NODE}[[nodes]]\nid = \"m\"\nkind = \"map\"\ncount = 3\n"),
        15,
        8,
        "a `map` node needs `body`",
    );
}

#[test]
fn plan_needs_planner() {
    one(
        "[[nodes]]\nid = \"p\"\nkind = \"plan\"\n",
        10,
        8,
        "a `plan` node needs `planner`",
    );
}

#[test]
fn router_rules() {
    one(
        "[[nodes]]\nid = \"r\"\nkind = \"router\"\n",
        10,
        8,
        "a `router` node needs `routes` or a `default`",
    );
    let d = one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"r\"\nkind = \"router\"\nroutes = [{{ label = \"x\", to = \"a\" }}]\n"
        ),
        16,
        21,
        "label routes need a `classifier`",
    );
    assert_eq!(d.width, 3);
    one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"r\"\nkind = \"router\"\nclassifier = \"writer\"\nroutes = [{{ when = \"true\", label = \"x\", to = \"a\" }}]\n"
        ),
        17,
        36,
        "a route takes `when` or `label`, not both",
    );
    one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"r\"\nkind = \"router\"\nroutes = [{{ to = \"a\" }}]\n"
        ),
        16,
        18,
        "a route needs `when` or `label`",
    );
}

#[test]
fn loop_rules() {
    let loop_head = format!(
        "{AGENT_NODE}[[nodes]]\nid = \"b\"\nkind = \"gate\"\n\n[[nodes]]\nid = \"l\"\nkind = \"loop\"\nstates = [\"a\"]\n"
    );
    // The loop node is on lines 17-20; each case adds line 21.
    let d = one(
        &format!("{loop_head}transitions = [{{ from = \"a\", to = \"b\" }}]\n"),
        21,
        35,
        "`b` is not a state of loop `l`",
    );
    assert_eq!(d.hint.as_deref(), Some("add it to `states` (now: `a`)"));
    one(
        &format!("{loop_head}transitions = [{{ from = \"$end\", to = \"a\" }}]\n"),
        21,
        25,
        "`$end` can only be a transition's `to`",
    );
    one(
        &format!("{loop_head}transitions = [{{ from = \"a\", to = \"zz\" }}]\n"),
        21,
        35,
        "unknown state `zz` in `to`",
    );
    one(
        &format!("{loop_head}start = \"b\"\n"),
        21,
        9,
        "`b` is not a state of loop `l`",
    );
    one(
        &format!("{loop_head}on_max_iterations = \"stop\"\n"),
        21,
        21,
        "unknown on_max_iterations `stop`",
    );
    one(
        &format!("{loop_head}max_iterations = 0\n"),
        21,
        18,
        "`max_iterations` must be at least 1, got 0",
    );
    one(
        "[[nodes]]\nid = \"l\"\nkind = \"loop\"\nstates = []\n",
        11,
        1,
        "`states` is empty",
    );
    // `$end` as a target is fine.
    ok(
        &format!("{HEAD}{loop_head}transitions = [{{ from = \"a\", to = \"$end\" }}]\n"),
        Format::Toml,
    );
}

#[test]
fn on_rules() {
    one(
        &format!("{AGENT_NODE}[[nodes]]\nid = \"o\"\nkind = \"on\"\nbody = \"a\"\n"),
        15,
        8,
        "an `on` node needs `topic` or `every_ms`",
    );
    one(
        &format!("{AGENT_NODE}[[nodes]]\nid = \"o\"\nkind = \"on\"\ntopic = \"x.>\"\n"),
        15,
        8,
        "an `on` node needs `body`",
    );
    one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"o\"\nkind = \"on\"\nevery_ms = 100\nbody = \"a\"\nmax_events = 0\n"
        ),
        18,
        14,
        "`max_events` must be at least 1",
    );
    one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"o\"\nkind = \"on\"\ntopic = \"a.>.b\"\nbody = \"a\"\n"
        ),
        16,
        9,
        "invalid topic pattern `a.>.b`",
    );
}

#[test]
fn agent_node_target_rules() {
    one(
        "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\ncapability = \"write\"\n",
        12,
        1,
        "takes `agent` or `capability`, not both",
    );
    one(
        "[[nodes]]\nid = \"a\"\nkind = \"agent\"\n",
        10,
        8,
        "an `agent` node needs `agent` or `capability`",
    );
    let d = one(
        "[[nodes]]\nid = \"a\"\nkind = \"agent\"\ncapability = \"wrte\"\n",
        11,
        14,
        "no agent offers capability `wrte`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `write`?"));
}

#[test]
fn priority_range() {
    let d = one(
        "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\npriority = 9\n",
        12,
        12,
        "priority must be between 1 and 5, got 9",
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("1 is the most urgent, 5 the least (default 3)")
    );
}

#[test]
fn negative_limits() {
    let e = errors(&format!(
        "{AGENT_NODE}[[nodes]]\nid = \"m\"\nkind = \"map\"\ncount = -1\nbody = \"a\"\nconcurrency = -2\nbatch_size = -3\n\n\
         [[nodes]]\nid = \"p\"\nkind = \"plan\"\nplanner = \"writer\"\nmax_subtasks = 0\n"
    ));
    assert_eq!(e.len(), 4, "{}", render(&e));
    check(&e[0], 16, 9, "`count` cannot be negative, got -1");
    check(&e[1], 18, 15, "`concurrency` cannot be negative, got -2");
    check(&e[2], 19, 14, "`batch_size` cannot be negative, got -3");
    check(&e[3], 25, 16, "`max_subtasks` must be at least 1, got 0");
}

#[test]
fn unknown_provider() {
    let text = "[workflow]\nname = \"t\"\n[[agents]]\nid = \"w\"\nprovider = \"smi\"\n[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"w\"\n";
    let e = errors_of(text);
    assert_eq!(e.len(), 1, "{}", render(&e));
    check(&e[0], 5, 12, "unknown provider `smi`");
    assert_eq!(
        e[0].hint.as_deref(),
        Some("did you mean `sim`? known providers: sim, openai")
    );
}

#[test]
fn expression_errors_point_inside_the_string() {
    one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"r\"\nkind = \"router\"\nroutes = [{{ when = \"input.x = 1\", to = \"a\" }}]\n"
        ),
        16,
        29,
        "invalid expression in `when`: `=` is not an operator",
    );
    one(
        &format!(
            "{AGENT_NODE}[[nodes]]\nid = \"m\"\nkind = \"map\"\nover = \"(input.xs\"\nbody = \"a\"\n"
        ),
        16,
        18,
        "invalid expression in `over`: expected `)`",
    );
}

#[test]
fn template_errors_point_inside_the_string() {
    one(
        "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\nprompt = \"Hi {{ input. }}\"\n",
        12,
        24,
        "invalid template in `prompt`: expected a field name",
    );
    one(
        "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\nprompt = \"\"\"\nHi {{ input\"\"\"\n",
        13,
        4,
        "invalid template in `prompt`: unclosed `{{`",
    );
}

#[test]
fn unknown_variable() {
    let d = one(
        "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\nprompt = \"Hi {{ inptu.name }}\"\n",
        12,
        17,
        "unknown variable `inptu` in `prompt`",
    );
    assert!(
        d.hint
            .unwrap_or_default()
            .starts_with("did you mean `input`? available: input, output, outputs")
    );
}

#[test]
fn cycles_are_reported_once_with_their_path() {
    let e = errors(
        "[[nodes]]\nid = \"a\"\nkind = \"sequence\"\nsteps = [\"b\"]\n\n\
         [[nodes]]\nid = \"b\"\nkind = \"parallel\"\nbranches = [\"c\"]\n\n\
         [[nodes]]\nid = \"c\"\nkind = \"gate\"\nsubject = \"a\"\n",
    );
    assert_eq!(e.len(), 1, "{}", render(&e));
    check(&e[0], 21, 11, "cycle: a → b → c → a");
    assert_eq!(
        e[0].hint.as_deref(),
        Some("cycles are only allowed between the states of a `loop` node (use transitions)")
    );
    one(
        "[[nodes]]\nid = \"l\"\nkind = \"loop\"\nstates = [\"l\"]\n",
        11,
        11,
        "cycle: l → l",
    );
}

#[test]
fn empty_nodes() {
    let e = errors_of("[workflow]\nname = \"t\"\n");
    assert_eq!(e.len(), 1, "{}", render(&e));
    check(&e[0], 2, 8, "the workflow has no nodes");
}

#[test]
fn unknown_field_with_suggestion() {
    let d = one(
        "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagnet = \"writer\"\n",
        11,
        1,
        "unknown field `agnet`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `agent`?"));
}

#[test]
fn wrong_type_and_missing_field() {
    one(
        "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\npriority = \"high\"\n",
        12,
        12,
        "wrong type: found string \"high\", expected an integer",
    );
    one(
        "[[nodes]]\nid = \"a\"\nagent = \"writer\"\n",
        8,
        1,
        "missing field `kind`",
    );
    let d = one(
        "[[nodes]]\nid = \"a\"\nkind = \"agnet\"\n",
        10,
        8,
        "unknown value `agnet`",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `agent`?"));
}

#[test]
fn toml_syntax_error() {
    let e = errors_of("[workflow\nname = \"x\"\n");
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].line, e[0].column), (1, 10));
    assert_eq!(e[0].hint.as_deref(), Some("check the TOML syntax here"));
}

#[test]
fn five_mistakes_are_all_reported() {
    let text = "[workflow]\nname = \"t\"\nentry = \"main\"\n\n\
        [[agents]]\nid = \"w\"\n\n\
        [[nodes]]\nid = \"main\"\nkind = \"sequence\"\nsteps = [\"a\", \"ghost\"]\n\n\
        [[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"nobody\"\npriority = 7\n\n\
        [[nodes]]\nid = \"p\"\nkind = \"parallel\"\nbranches = [\"a\"]\njoin = \"k_of_n\"\nk = 2\n\n\
        [[nodes]]\nid = \"a\"\nkind = \"gate\"\n";
    let e = errors_of(text);
    assert_eq!(e.len(), 5, "{}", render(&e));
    check(&e[0], 11, 15, "unknown node `ghost` in `steps`");
    check(&e[1], 16, 9, "unknown agent `nobody` in `agent`");
    check(&e[2], 17, 12, "priority must be between 1 and 5, got 7");
    check(&e[3], 24, 5, "impossible join: k = 2 but only 1 branch");
    check(&e[4], 27, 6, "duplicate node id `a`");
}

#[test]
fn warnings_for_unreachable_nodes_and_unused_agents() {
    let text = format!(
        "{HEAD}[[agents]]\nid = \"idle\"\n\n{AGENT_NODE}[[nodes]]\nid = \"orphan\"\nkind = \"gate\"\n"
    );
    let l = ok(&text, Format::Toml);
    let w = &l.warnings.0;
    assert_eq!(w.len(), 2, "{}", l.warnings);
    assert!(w.iter().all(|d| d.severity == Severity::Warning));
    assert_eq!((w[0].line, w[0].column), (9, 6));
    assert_eq!(w[0].message, "agent `idle` is never used");
    assert_eq!((w[1].line, w[1].column), (17, 6));
    assert_eq!(
        w[1].message,
        "node `orphan` is never reached from the entry `a`"
    );
}

#[test]
fn json_errors_are_located_by_search() {
    let text = r#"{
  "workflow": {"name": "t"},
  "agents": [{"id": "writer"}],
  "nodes": [
    {"id": "a", "kind": "agent", "agent": "writer"},
    {"id": "b", "kind": "agent", "agent": "wrtier"}
  ]
}"#;
    let e = load_str(text, "t.json", Format::Json).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!((e.0[0].line, e.0[0].column), (6, 43), "{e}");
    assert_eq!(e.0[0].message, "unknown agent `wrtier` in `agent`");

    let bad_field =
        r#"{"workflow": {"name": "t"}, "nodes": [{"id": "a", "kind": "agent", "agnet": "x"}]}"#;
    let e = load_str(bad_field, "t.json", Format::Json).unwrap_err();
    assert_eq!(e.0[0].message, "unknown field `agnet`");
    assert_eq!((e.0[0].line, e.0[0].column), (1, 68), "{e}");
    assert_eq!(e.0[0].hint.as_deref(), Some("did you mean `agent`?"));

    let e = load_str("{\"workflow\": ", "t.json", Format::Json).unwrap_err();
    assert_eq!(e.0[0].line, 1);
    assert_eq!(e.0[0].hint.as_deref(), Some("check the JSON syntax here"));
}

#[test]
fn fixtures_load_in_both_formats_alike() {
    for name in ["research_pipeline", "triage_fanout"] {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/workflows/");
        let t = load_source(&format!("{dir}{name}.toml")).unwrap_or_else(|e| panic!("{e}"));
        let j = load_source(&format!("{dir}{name}.json")).unwrap_or_else(|e| panic!("{e}"));
        assert!(t.warnings.is_empty(), "{}", t.warnings);
        assert!(j.warnings.is_empty(), "{}", j.warnings);
        assert_eq!(t.workflow.nodes.len(), j.workflow.nodes.len());
        assert_eq!(t.workflow.entry, j.workflow.entry);
        for (a, b) in t.workflow.nodes.iter().zip(&j.workflow.nodes) {
            assert_eq!(
                (&a.id, a.priority, a.kind.name()),
                (&b.id, b.priority, b.kind.name())
            );
            assert_eq!(a.kind.children(), b.kind.children());
        }
    }
}

#[test]
fn compiled_model_has_defaults_and_resolved_indices() {
    let text = include_str!("fixtures/workflows/research_pipeline.toml");
    let w = ok(text, Format::Toml).workflow;
    assert_eq!(w.entry, w.node("main").unwrap_or(usize::MAX));
    assert_eq!((w.max_handoffs, w.aging_step), (4, 16));
    let writer = &w.agents[w.agent("writer").unwrap_or(0)];
    assert_eq!(
        (
            &*writer.role,
            writer.provider.as_str(),
            &*writer.model,
            writer.concurrency
        ),
        ("executor", "sim", "sim-1", 4)
    );
    let node = |id: &str| &w.nodes[w.node(id).unwrap_or(0)];
    match &node("sources").kind {
        NodeKind::Parallel(ParallelNode {
            branches,
            join,
            branch_timeout,
        }) => {
            assert_eq!(branches.len(), 3);
            assert_eq!(*join, Join::KOfN(2));
            assert_eq!(branch_timeout.map(|d| d.as_millis()), Some(60_000));
        }
        other => panic!("{other:?}"),
    }
    match &node("gather").kind {
        NodeKind::Map(MapNode {
            source: MapSource::Over(e),
            concurrency,
            batch_size,
            aggregate,
            ..
        }) => {
            assert_eq!(e.source(), "input.topics");
            assert_eq!((*concurrency, *batch_size), (2, 2));
            assert_eq!(*aggregate, w.node("combine"));
        }
        other => panic!("{other:?}"),
    }
    match &node("web").kind {
        NodeKind::Agent(AgentNode { target, .. }) => {
            assert_eq!(target, &Target::Capability("research".into()))
        }
        other => panic!("{other:?}"),
    }
    match &node("refine").kind {
        NodeKind::Loop(LoopNode {
            states,
            transitions,
            max_iterations,
            end_at_max,
            ..
        }) => {
            assert_eq!(states.len(), 2);
            assert_eq!(transitions.len(), 3);
            assert_eq!(transitions[1].to, None);
            assert_eq!((*max_iterations, *end_at_max), (6, true));
        }
        other => panic!("{other:?}"),
    }
    match &node("watch").kind {
        NodeKind::On(OnNode {
            max_events,
            idle_timeout,
            topic,
            ..
        }) => {
            assert_eq!(
                (*max_events, idle_timeout.as_millis(), topic.as_deref()),
                (3, 5000, Some("reviews.>"))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(node("experts").priority, 4);
    assert_eq!(node("web").priority, 3);
    assert_eq!(node("main").title, "Research pipeline");
    assert_eq!(node("web").title, "web");
}

#[test]
fn files_on_disk_and_unreadable_files() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("flow.toml");
    std::fs::write(&path, format!("{HEAD}{AGENT_NODE}")).unwrap_or_else(|e| panic!("{e}"));
    let p = path.to_string_lossy().to_string();
    let l = load_source(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.origin, p);
    let missing = dir.path().join("nope.toml").to_string_lossy().to_string();
    let e = load_source(&missing).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("error: cannot read `{missing}`: ")),
        "{e}"
    );
    std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap_or_else(|e| panic!("{e}"));
    let e = load_source(&p).unwrap_err();
    assert_eq!(
        e.0[0].hint.as_deref(),
        Some("workflow files must be UTF-8 text")
    );
}

#[test]
fn rendered_diagnostic_is_rustc_style() {
    let e = errors("[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"wirter\"\n");
    assert_eq!(
        e[0].to_string(),
        "error: unknown agent `wirter` in `agent`\n  --> t.toml:11:9\n   |\n11 | agent = \"wirter\"\n   |         ^^^^^^^^\n   = hint: did you mean `writer`?"
    );
}

#[test]
fn all_settled_options_are_checked_where_they_are_written() {
    let branches = "[[nodes]]\nid = \"p\"\nkind = \"parallel\"\nbranches = [\"w\"]\n";
    let w = "\n[[nodes]]\nid = \"w\"\nkind = \"agent\"\nagent = \"writer\"\n";
    // min_success without all_settled (line 12: the key).
    one(
        &format!("{branches}min_success = 1\n{w}"),
        12,
        1,
        "`min_success` only applies to join = \"all_settled\"",
    );
    // A floor above the number of branches.
    one(
        &format!("{branches}join = \"all_settled\"\nmin_success = 2\n{w}"),
        13,
        15,
        "impossible floor: min_success = 2 but only 1 can succeed",
    );
    // resolve picks one answer; a settled join keeps them all.
    one(
        &format!("{branches}join = \"all_settled\"\nresolve = \"confidence\"\n{w}"),
        13,
        1,
        "`resolve` picks one answer",
    );
    // A map joins all or all_settled only.
    one(
        "[[nodes]]\nid = \"m\"\nkind = \"map\"\nitems = [1]\nbody = \"w\"\njoin = \"any\"\n\n[[nodes]]\nid = \"w\"\nkind = \"agent\"\nagent = \"writer\"\n",
        13,
        8,
        "a `map` cannot join `any`",
    );
}

#[test]
fn an_error_handler_runs_only_as_a_handler() {
    let w = "[[nodes]]\nid = \"w\"\nkind = \"agent\"\nagent = \"writer\"\n";
    // A handler that is also a step of the node it handles.
    one(
        &format!(
            "[[nodes]]\nid = \"s\"\nkind = \"sequence\"\nsteps = [\"w\"]\non_error = \"w\"\n\n{w}"
        ),
        12,
        12,
        "`w` handles the errors of `s`, but it also runs inside `s`",
    );
    // A node handling its own errors.
    one(
        &format!("{w}on_error = \"w\"\n"),
        12,
        12,
        "node `w` cannot handle its own errors",
    );
    // The entry cannot be a handler.
    one(
        &format!(
            "{w}\n[[nodes]]\nid = \"h\"\nkind = \"agent\"\nagent = \"writer\"\non_error = \"w\"\n"
        ),
        17,
        12,
        "`w` handles the errors of `h`, but it is also the workflow's entry",
    );
}
