//! Validation of `debate` and `vote` nodes: every rule rejects before
//! anything runs, at the exact line and column, with a hint.

use agentctl::workflow::diagnostics::{Diagnostic, Severity};
use agentctl::workflow::kinds::{NodeKind, debate::TurnOrder, vote::Protocol};
use agentctl::workflow::load::{Format, load_str};

/// Seven agents a..g on lines 1–17; nodes start on line 18.
fn head() -> String {
    let mut s = String::from("[workflow]\nname = \"t\"\n");
    for a in ["a", "b", "c", "d", "e", "f", "g"] {
        s.push_str(&format!("[[agents]]\nid = \"{a}\"\n"));
    }
    s.push('\n');
    s
}

fn errors(body: &str) -> Vec<Diagnostic> {
    let text = format!("{}{body}", head());
    match load_str(&text, "t.toml", Format::Toml) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => {
            assert!(d.0.iter().all(|d| d.severity == Severity::Error), "{d}");
            d.0
        }
    }
}

fn one(body: &str, line: usize, column: usize, message: &str) -> Diagnostic {
    let e = errors(body);
    let all: Vec<String> = e.iter().map(|d| d.to_string()).collect();
    assert_eq!(e.len(), 1, "expected one error, got:\n{}", all.join("\n\n"));
    let d = e.into_iter().next().unwrap_or_else(|| unreachable!());
    assert!(
        d.message.contains(message),
        "{:?} lacks {message:?}",
        d.message
    );
    assert_eq!(
        (d.line, d.column),
        (line, column),
        "wrong position for:\n{d}"
    );
    assert_eq!(d.file, "t.toml");
    assert!(d.hint.is_some(), "no hint:\n{d}");
    d
}

const VOTE: &str = "[[nodes]]\nid = \"v\"\nkind = \"vote\"\n";
const DEBATE: &str = "[[nodes]]\nid = \"d\"\nkind = \"debate\"\n";

#[test]
fn bft_with_too_few_voters_is_rejected() {
    let d = one(
        &format!(
            "{VOTE}voters = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]\nprotocol = \"bft\"\nfaults = 2\n"
        ),
        23,
        10,
        "BFT with 6 voter(s) cannot tolerate faults = 2: it needs n ≥ 3f+1 = 7",
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("add 1 voter(s), or lower faults to at most 1")
    );
}

#[test]
fn bft_needs_faults_and_faults_need_bft() {
    one(
        &format!("{VOTE}voters = [\"a\", \"b\"]\nprotocol = \"bft\"\n"),
        20,
        8,
        "needs `faults`",
    );
    one(
        &format!("{VOTE}voters = [\"a\", \"b\"]\nfaults = 0\n"),
        22,
        1,
        "`faults` only applies to protocol = \"bft\"",
    );
}

#[test]
fn quorum_larger_than_the_voters_is_rejected() {
    let d = one(
        &format!("{VOTE}voters = [\"a\", \"b\", \"c\"]\nprotocol = \"quorum\"\nquorum = 4\n"),
        23,
        10,
        "bad quorum: k = 4 but only 3 voter(s)",
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("set quorum to at most 3, or add voters")
    );
    one(
        &format!("{VOTE}voters = [\"a\", \"b\"]\nprotocol = \"quorum\"\nquorum = 0\n"),
        23,
        10,
        "bad quorum: k = 0",
    );
}

#[test]
fn unknown_and_repeated_agents_are_rejected() {
    let d = one(
        &format!("{VOTE}voters = [\"a\", \"bb\"]\n"),
        21,
        16,
        "unknown agent `bb` in `voters`",
    );
    assert!(
        d.hint.as_deref().unwrap_or("").contains("did you mean `b`"),
        "{d}"
    );
    one(
        &format!("{DEBATE}participants = [\"a\", \"b\", \"a\"]\n"),
        21,
        27,
        "`a` is listed twice",
    );
    one(
        &format!("{DEBATE}participants = [\"a\"]\n"),
        21,
        1,
        "at least 2 agent(s)",
    );
    one(&format!("{DEBATE}\n"), 20, 8, "needs `participants`");
}

#[test]
fn a_judge_cannot_take_part() {
    let d = one(
        &format!("{DEBATE}participants = [\"a\", \"b\"]\njudge = \"b\"\n"),
        22,
        9,
        "the judge `b` is also one of the participants",
    );
    assert!(d.hint.as_deref().unwrap_or("").contains("impartial"));
}

#[test]
fn rounds_turn_orders_and_fallbacks_are_checked() {
    one(
        &format!("{DEBATE}participants = [\"a\", \"b\"]\nrounds = 0\n"),
        22,
        10,
        "`rounds` must be at least 1",
    );
    let d = one(
        &format!("{DEBATE}participants = [\"a\", \"b\"]\nturn_order = \"randm\"\n"),
        22,
        14,
        "unknown turn_order `randm`",
    );
    assert!(
        d.hint
            .as_deref()
            .unwrap_or("")
            .contains("did you mean `random`")
    );
    one(
        &format!("{DEBATE}participants = [\"a\", \"b\"]\nturn_order = \"moderator\"\n"),
        20,
        8,
        "needs a `moderator`",
    );
    one(
        &format!("{DEBATE}participants = [\"a\", \"b\"]\nmoderator = \"c\"\n"),
        22,
        1,
        "`moderator` only applies",
    );
    one(
        &format!("{VOTE}voters = [\"a\", \"b\"]\non_tie = \"judge\"\n"),
        22,
        10,
        "needs a `judge`",
    );
    one(
        &format!("{DEBATE}participants = [\"a\", \"b\"]\non_tie = \"another_round\"\n"),
        22,
        10,
        "cannot use on_tie = \"another_round\"",
    );
    one(
        &format!("{DEBATE}participants = [\"a\", \"b\"]\nprotocol = \"bft\"\n"),
        22,
        12,
        "cannot be decided by protocol `bft`",
    );
    one(
        &format!("{DEBATE}participants = [\"a\", \"b\"]\nconverge_at = 1.5\n"),
        22,
        15,
        "`converge_at` must be in (0, 1]",
    );
    one(
        &format!("{VOTE}voters = [\"a\", \"b\"]\noptions = [\"x\", \"X\"]\n"),
        22,
        17,
        "`X` is listed twice",
    );
    one(
        &format!("{VOTE}voters = [\"a\", \"b\"]\nweights = {{ zed = 2.0 }}\n"),
        22,
        13,
        "unknown agent `zed` in `weights`",
    );
    one(
        &format!("{VOTE}voters = [\"a\", \"b\"]\nsteps = [\"x\"]\n"),
        22,
        1,
        "`steps` is not a field of a `vote` node",
    );
    one(
        &format!("{VOTE}voters = [\"a\", \"b\"]\nparticipants = [\"a\", \"b\"]\n"),
        22,
        1,
        "`participants` is not a field of a `vote` node",
    );
}

#[test]
fn sim_behaviours_are_checked() {
    let text = "[workflow]\nname = \"t\"\n[[agents]]\nid = \"a\"\nsim = { byzantine = \"evil\" }\n[[agents]]\nid = \"b\"\n[[nodes]]\nid = \"v\"\nkind = \"vote\"\nvoters = [\"a\", \"b\"]\n";
    let e = load_str(text, "t.toml", Format::Toml)
        .err()
        .map(|d| d.0)
        .unwrap_or_default();
    assert_eq!(e.len(), 1);
    assert!(e[0].message.contains("byzantine = `evil`"), "{}", e[0]);
    assert_eq!(e[0].line, 5);
}

#[test]
fn valid_nodes_compile_to_the_model() {
    let text = format!(
        "{}{DEBATE}participants = [\"a\", \"b\", \"c\"]\nturn_order = \"moderator\"\nmoderator = \"d\"\njudge = \"e\"\nstep = true\n\n{VOTE}voters = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\"]\nprotocol = \"bft\"\nfaults = 2\n",
        head()
    );
    let w = load_str(&text, "t.toml", Format::Toml)
        .unwrap_or_else(|e| panic!("{e}"))
        .workflow;
    let NodeKind::Debate(d) = &w.nodes[0].kind else {
        panic!("not a debate")
    };
    assert_eq!(d.participants, [0, 1, 2]);
    assert_eq!(d.order, TurnOrder::Moderator(3));
    assert_eq!((d.judge, d.rounds, d.step), (Some(4), 3, true));
    let NodeKind::Vote(v) = &w.nodes[1].kind else {
        panic!("not a vote")
    };
    assert_eq!(v.rules.protocol, Protocol::Bft { f: 2 });
    assert_eq!(v.rounds, 3, "bft defaults to 3 rounds");
}
