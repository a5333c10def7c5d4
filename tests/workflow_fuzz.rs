//! No input may make loading, validation, diagnostics rendering, graph
//! export or expression evaluation panic or hang: random text, and valid
//! fixtures mutated byte- and line-wise, in both formats.

use agentctl::workflow::expr::Expr;
use agentctl::workflow::graph_export::{to_dot, to_mermaid};
use agentctl::workflow::load::{Format, load_str};
use agentctl::workflow::template::Template;
use proptest::prelude::*;
use serde_json::json;

const FIXTURES: &[(&str, Format)] = &[
    (
        include_str!("fixtures/workflows/research_pipeline.toml"),
        Format::Toml,
    ),
    (
        include_str!("fixtures/workflows/research_pipeline.json"),
        Format::Json,
    ),
    (
        include_str!("fixtures/workflows/triage_fanout.toml"),
        Format::Toml,
    ),
    (
        include_str!("fixtures/workflows/triage_fanout.json"),
        Format::Json,
    ),
];

/// Loads `text` both ways and exercises whatever comes back.
fn exercise(text: &str) {
    for format in [Format::Toml, Format::Json] {
        match load_str(text, "fuzz", format) {
            Ok(l) => {
                assert!(!to_dot(&l.workflow).is_empty());
                assert!(!to_mermaid(&l.workflow).is_empty());
                let _ = l.warnings.to_string();
            }
            Err(d) => {
                assert!(d.has_errors(), "an Err must hold an error");
                for e in &d {
                    assert!(e.line >= 1 && e.column >= 1, "unlocated: {e}");
                }
                let _ = d.to_string();
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Truncate(usize),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::FlipBit(p, b)),
        (
            any::<usize>(),
            prop::sample::select(b"\"'[]{}=,.\n#$\\ 0-".to_vec())
        )
            .prop_map(|(p, c)| Mutation::SetByte(p, c)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(text: &str, muts: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for m in muts {
        let n = bytes.len().max(1);
        match *m {
            Mutation::FlipBit(p, b) => {
                if let Some(x) = bytes.get_mut(p % n) {
                    *x ^= 1 << b;
                }
            }
            Mutation::SetByte(p, c) => {
                if let Some(x) = bytes.get_mut(p % n) {
                    *x = c;
                }
            }
            Mutation::Truncate(p) => bytes.truncate(p % n),
            Mutation::DeleteLine(_) | Mutation::DuplicateLine(_) | Mutation::SwapLines(..) => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                let l = lines.len();
                match *m {
                    Mutation::DeleteLine(i) => {
                        lines.remove(i % l);
                    }
                    Mutation::DuplicateLine(i) => {
                        let line = lines[i % l].clone();
                        lines.insert(i % l, line);
                    }
                    Mutation::SwapLines(a, b) => lines.swap(a % l, b % l),
                    _ => {}
                }
                bytes = lines.join(&b'\n');
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,300}") {
        exercise(&s);
    }

    #[test]
    fn random_toml_like_text_never_panics(s in "[\\[\\]a-z_ =\"{}.,0-9\n'$>*#-]{0,300}") {
        exercise(&s);
        exercise(&format!("[workflow]\nname = \"f\"\n[[nodes]]\n{s}"));
    }

    #[test]
    fn mutated_fixtures_never_panic(which in 0..FIXTURES.len(), muts in prop::collection::vec(mutation(), 1..6)) {
        let (text, format) = FIXTURES[which];
        let mutated = apply(text, &muts);
        exercise(&mutated);
        // The original format as well, with the same origin extension.
        let _ = load_str(&mutated, "fuzz.json", format);
    }

    #[test]
    fn expressions_and_templates_never_panic(s in "[a-z_.\\[\\]()0-9 '\"+*/%<>=!&|,-]{0,80}") {
        let vars = json!({"a": [1, {"b": "c"}], "s": "text", "n": 0});
        if let Ok(e) = Expr::parse(&s) {
            let _ = e.eval(&[("input", &vars), ("a", &vars)]);
            let _ = e.root_names();
        }
        let t = format!("x {{{{ {s} }}}} y");
        if let Ok(t) = Template::parse(&t) {
            let _ = t.render(&[("input", &vars)]);
        }
    }
}

#[test]
fn fixtures_survive_every_single_line_deletion() {
    // Exhaustive where cheap: each line of each fixture removed in turn.
    for (text, _) in FIXTURES {
        let lines = text.lines().count();
        for i in 0..lines {
            exercise(&apply(text, &[Mutation::DeleteLine(i)]));
        }
    }
}

#[test]
fn pathological_inputs_terminate() {
    let deep = "[".repeat(5000);
    exercise(&format!("a = {deep}"));
    exercise(&deep);
    exercise(&"{\"a\":".repeat(5000));
    // A long chain of sequences: the cycle check must not recurse.
    let mut chain = String::from("[workflow]\nname = \"chain\"\n");
    for i in 0..3000 {
        chain.push_str(&format!(
            "[[nodes]]\nid = \"n{i}\"\nkind = \"sequence\"\nsteps = [\"n{}\"]\n",
            (i + 1) % 3000
        ));
    }
    let e = load_str(&chain, "chain.toml", Format::Toml).unwrap_err();
    assert_eq!(e.error_count(), 1, "one cycle through 3000 nodes");
    assert!(e.0[0].message.starts_with("cycle: n0 → n1 → n2"));
}
