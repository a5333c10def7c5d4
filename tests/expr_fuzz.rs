//! Fuzzing the expression and template language (docs/expressions.md).
//!
//! Random text and grammar-shaped expressions go through the parser and the
//! evaluator, which must never panic, never hang, and stay within the
//! nesting limit. Grammar-shaped ones are printed twice, once with every
//! operation in parentheses and once with only the parentheses precedence
//! needs (and random spacing): both must evaluate the same, which checks the
//! precedence and associativity the specification states.
//!
//! `EXPR_FUZZ_CASES` sets the cases per property (default 2000, about ten
//! seconds in a debug build).

use std::sync::mpsc;
use std::time::Duration;

use agentctl::workflow::expr::{Expr, MAX_DEPTH};
use agentctl::workflow::template::Template;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

fn cases() -> u32 {
    std::env::var("EXPR_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000)
}

fn config() -> Config {
    Config {
        cases: cases(),
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs `f` on another thread and fails if it takes longer than a bound no
/// expression of these sizes comes near (a hang is a failure, not a stuck
/// test run).
fn bounded<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    // A spawned thread's default stack (2 MiB), as tokio's workers have.
    std::thread::Builder::new()
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn");
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("did not finish in 10 s: {what:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("panicked on {what:?}"),
    }
}

/// The variables every case sees: most shapes of JSON, nested.
fn vars() -> Vec<(&'static str, Value)> {
    vec![
        (
            "input",
            json!({"n": 5, "f": 2.5, "s": "Ada", "e": "", "list": [1, 2, 3], "empty": [],
                   "obj": {"a": 1, "b": [true, null]}, "uni": "日本🦀é", "neg": -3,
                   "big": 9_007_199_254_740_993_i64, "zero": 0}),
        ),
        (
            "outputs",
            json!({"research": {"confidence": 0.8, "summary": "ok"}}),
        ),
        ("item", json!("x")),
        ("index", json!(2)),
        ("iteration", json!(1)),
        ("feedback", Value::Null),
        ("state", json!("draft")),
    ]
}

fn eval(src: &str) -> Result<Value, String> {
    let vars = vars();
    let refs: Vec<(&str, &Value)> = vars.iter().map(|(k, v)| (*k, v)).collect();
    match Expr::parse(src) {
        Ok(e) => e.eval(&refs).map_err(|e| format!("eval: {}", e.message)),
        Err(e) => {
            assert!(
                e.offset <= src.len(),
                "offset {} past the end of {src:?}",
                e.offset
            );
            Err(format!("parse: {}", e.message))
        }
    }
}

// ------------------------------------------------------------ random text

/// Characters the language uses, and some it does not, including non-ASCII.
fn soup() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "{{",
        "}}",
        ".",
        ",",
        "'",
        "\"",
        "\\",
        "\\u{",
        "\\u",
        "+",
        "-",
        "*",
        "/",
        "%",
        "<",
        ">",
        "<=",
        ">=",
        "==",
        "!=",
        "=",
        "!",
        "&&",
        "||",
        "&",
        "|",
        " ",
        "\t",
        "\n",
        "and",
        "or",
        "not",
        "in",
        "true",
        "false",
        "null",
        "input",
        "outputs",
        "item",
        "len",
        "lower",
        "contains",
        "number",
        "string",
        "0",
        "1",
        "9",
        "1.5",
        "1e3",
        "1e400",
        "99999999999999999999",
        "a",
        "_x",
        "é",
        "日",
        "🦀",
        "\u{301}",
        "x.0",
        "\0",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_text_never_panics_or_hangs(src in soup()) {
        let s = src.clone();
        bounded(&src, move || {
            let _ = eval(&s);
            if let Ok(t) = Template::parse(&s) {
                let vars = vars();
                let refs: Vec<(&str, &Value)> = vars.iter().map(|(k, v)| (*k, v)).collect();
                let _ = t.render(&refs);
                let _ = t.root_refs();
            }
        });
    }

    #[test]
    fn arbitrary_unicode_never_panics(src in "\\PC{0,80}") {
        let s = src.clone();
        bounded(&src, move || {
            let _ = eval(&s);
            let _ = Template::parse(&s).map(|t| t.render(&[]));
        });
    }
}

// ------------------------------------------------------- grammar-shaped

/// An expression tree, printed into source by the test.
#[derive(Debug, Clone)]
enum Ast {
    Int(u32),
    Float(u32),
    Str(String),
    Bool(bool),
    Null,
    Var(&'static str),
    List(Vec<Ast>),
    Key(Box<Ast>, &'static str),
    Index(Box<Ast>, Box<Ast>),
    Call(&'static str, Vec<Ast>),
    Neg(Box<Ast>),
    Bang(Box<Ast>),
    Not(Box<Ast>),
    Bin(&'static str, Box<Ast>, Box<Ast>),
}

/// Binding strength, weakest first, as in the grammar.
fn level(op: &str) -> u8 {
    match op {
        "or" | "||" => 1,
        "and" | "&&" => 2,
        // 3: `not`
        "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in" => 4,
        "+" | "-" => 5,
        "*" | "/" | "%" => 6,
        _ => unreachable!("{op}"),
    }
}

impl Ast {
    fn level(&self) -> u8 {
        match self {
            Ast::Bin(op, ..) => level(op),
            Ast::Not(_) => 3,
            Ast::Neg(_) | Ast::Bang(_) => 7,
            _ => 8,
        }
    }
}

/// Prints with parentheses only where precedence needs them, and random
/// spacing from `sp` between tokens.
fn print_min(a: &Ast, sp: &mut impl FnMut() -> &'static str) -> String {
    fn at_least(a: &Ast, min: u8, sp: &mut impl FnMut() -> &'static str) -> String {
        let s = print_min(a, sp);
        if a.level() < min {
            format!("({}{s}{})", sp(), sp())
        } else {
            s
        }
    }
    match a {
        Ast::Bin(op, l, r) => {
            let n = level(op);
            // Chains are left-associative; comparisons do not chain at all.
            let lmin = if n == 4 { n + 1 } else { n };
            let (l, r) = (at_least(l, lmin, sp), at_least(r, n + 1, sp));
            // Word operators need a space; symbols may touch.
            let word = op.chars().next().is_some_and(char::is_alphabetic);
            let (a, b) = if word { (" ", " ") } else { (sp(), sp()) };
            format!("{l}{a}{op}{b}{r}")
        }
        Ast::Not(x) => format!("not {}{}", sp(), at_least(x, 3, sp)),
        Ast::Neg(x) => format!("-{}{}", sp(), at_least(x, 7, sp)),
        Ast::Bang(x) => format!("!{}{}", sp(), at_least(x, 7, sp)),
        // `1.0` would be a number: an integer base needs parentheses.
        Ast::Key(b, k) if matches!(**b, Ast::Int(_)) => format!("({}).{k}", print_min(b, sp)),
        Ast::Key(b, k) => format!("{}.{k}", at_least(b, 8, sp)),
        Ast::Index(b, i) => format!("{}[{}{}]", at_least(b, 8, sp), sp(), print_min(i, sp)),
        other => print_leaf(other, &mut |x| print_min(x, sp)),
    }
}

/// Prints with every operation in parentheses.
fn print_full(a: &Ast) -> String {
    match a {
        Ast::Bin(op, l, r) => format!("({} {op} {})", print_full(l), print_full(r)),
        Ast::Not(x) => format!("(not {})", print_full(x)),
        Ast::Neg(x) => format!("(-{})", print_full(x)),
        Ast::Bang(x) => format!("(!{})", print_full(x)),
        Ast::Key(b, k) => format!("({}).{k}", print_full(b)),
        Ast::Index(b, i) => format!("({})[{}]", print_full(b), print_full(i)),
        other => print_leaf(other, &mut print_full),
    }
}

fn print_leaf(a: &Ast, sub: &mut dyn FnMut(&Ast) -> String) -> String {
    match a {
        Ast::Int(n) => n.to_string(),
        Ast::Float(n) => format!("{n}.5"),
        Ast::Str(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Ast::Bool(b) => b.to_string(),
        Ast::Null => "null".into(),
        Ast::Var(v) => (*v).into(),
        Ast::List(items) => {
            let inner: Vec<String> = items.iter().map(&mut *sub).collect();
            format!("[{}]", inner.join(", "))
        }
        Ast::Call(f, args) => {
            let inner: Vec<String> = args.iter().map(&mut *sub).collect();
            format!("{f}({})", inner.join(", "))
        }
        _ => unreachable!("not a leaf"),
    }
}

fn leaf() -> impl Strategy<Value = Ast> {
    prop_oneof![
        (0u32..20).prop_map(Ast::Int),
        (0u32..5).prop_map(Ast::Float),
        "[a-c\"\\\\\n é日🦀{}]{0,4}".prop_map(Ast::Str),
        any::<bool>().prop_map(Ast::Bool),
        Just(Ast::Null),
        prop::sample::select(vec![
            "input",
            "outputs",
            "item",
            "index",
            "iteration",
            "feedback",
            "state",
            "nobody"
        ])
        .prop_map(Ast::Var),
    ]
}

fn ast() -> impl Strategy<Value = Ast> {
    leaf().prop_recursive(6, 48, 4, |inner| {
        let key = prop::sample::select(vec![
            "n", "f", "s", "list", "obj", "a", "b", "0", "1", "uni", "research", "in", "missing",
        ]);
        let op = prop::sample::select(vec![
            "or", "||", "and", "&&", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "+", "-",
            "*", "/", "%",
        ]);
        let f1 = prop::sample::select(vec!["len", "lower", "upper", "number", "string"]);
        let f2 = prop::sample::select(vec!["contains", "starts_with", "ends_with"]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Ast::List),
            (inner.clone(), key).prop_map(|(b, k)| Ast::Key(Box::new(b), k)),
            (inner.clone(), inner.clone()).prop_map(|(b, i)| Ast::Index(Box::new(b), Box::new(i))),
            (f1, inner.clone()).prop_map(|(f, a)| Ast::Call(f, vec![a])),
            (f2, inner.clone(), inner.clone()).prop_map(|(f, a, b)| Ast::Call(f, vec![a, b])),
            inner.clone().prop_map(|x| Ast::Neg(Box::new(x))),
            inner.clone().prop_map(|x| Ast::Bang(Box::new(x))),
            inner.clone().prop_map(|x| Ast::Not(Box::new(x))),
            (op.clone(), inner.clone(), inner.clone()).prop_map(|(o, l, r)| Ast::Bin(
                o,
                Box::new(l),
                Box::new(r)
            )),
            (op, inner.clone(), inner).prop_map(|(o, l, r)| Ast::Bin(o, Box::new(l), Box::new(r))),
        ]
    })
}

fn spacer(seed: u64) -> impl FnMut() -> &'static str {
    let mut s = seed;
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ["", "", " ", "  ", "\t", "\n"][(s >> 60) as usize % 6]
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn precedence_printing_evaluates_like_full_parentheses(a in ast(), seed in any::<u64>()) {
        let full = print_full(&a);
        let min = print_min(&a, &mut spacer(seed));
        let (f, m) = (full.clone(), min.clone());
        let (ef, em) = bounded(&full, move || (eval(&f), eval(&m)));
        prop_assert!(!matches!(&ef, Err(e) if e.starts_with("parse")), "{full}: {ef:?}");
        prop_assert_eq!(ef, em, "\nfull: {}\nmin:  {}", full, min);
    }

    #[test]
    fn source_reparses_to_the_same_value(a in ast()) {
        let src = print_min(&a, &mut spacer(7));
        let s = src.clone();
        bounded(&src, move || {
            let e = Expr::parse(&s).expect("grammar-shaped input parses");
            assert_eq!(e.source(), s);
            let again = Expr::parse(&e.to_string()).expect("its source parses");
            let vars = vars();
            let refs: Vec<(&str, &Value)> = vars.iter().map(|(k, v)| (*k, v)).collect();
            let (x, y) = (e.eval(&refs), again.eval(&refs));
            assert_eq!(x, y, "{s}");
            // Truthiness is the spec's: false, null, 0, "", [] and {}.
            if let (Ok(v), Ok(b)) = (&x, e.eval_bool(&refs)) {
                let falsy = matches!(v, Value::Null | Value::Bool(false))
                    || v.as_f64() == Some(0.0)
                    || v.as_str() == Some("")
                    || v.as_array().is_some_and(Vec::is_empty)
                    || v.as_object().is_some_and(|o| o.is_empty());
                assert_eq!(b, !falsy, "{s} = {v}");
            }
            // Every root name read is a name in the text.
            for n in e.root_names() {
                assert!(s.contains(n), "{n} not in {s}");
            }
        });
    }

    #[test]
    fn templates_render_text_and_values(
        parts in prop::collection::vec(("[a-z {}:\n日]{0,6}", ast()), 0..4),
        tail in "[a-z }\n]{0,6}",
    ) {
        // Text pieces never hold `{{`, so each placeholder is where we put it.
        let mut src = String::new();
        let mut want = String::new();
        let vars = vars();
        let refs: Vec<(&str, &Value)> = vars.iter().map(|(k, v)| (*k, v)).collect();
        let clean = |t: &str| t.replace("{{", "{ {").replace("{", "{ ");
        for (text, a) in &parts {
            let text = clean(text);
            let e = print_min(a, &mut spacer(3));
            src.push_str(&text);
            src.push_str("{{ ");
            src.push_str(&e);
            src.push_str(" }}");
            want.push_str(&text);
            if let Ok(v) = Expr::parse(&e).expect("parses").eval(&refs) {
                match v {
                    Value::String(s) => want.push_str(&s),
                    Value::Null => {}
                    other => want.push_str(&other.to_string()),
                }
            }
        }
        let tail = clean(&tail);
        src.push_str(&tail);
        want.push_str(&tail);
        let t = Template::parse(&src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
        prop_assert_eq!(t.exprs().count(), parts.len());
        prop_assert_eq!(t.render(&refs), want, "{}", src);
    }
}

// ----------------------------------------------------------------- limits

#[test]
fn nesting_past_the_limit_is_an_error_not_a_stack_overflow() {
    for n in [MAX_DEPTH - 2, MAX_DEPTH + 1, 1_000, 50_000] {
        for (open, close) in [
            ("(", ")"),
            ("[", "]"),
            ("-", ""),
            ("!", ""),
            ("not ", ""),
            ("len(", ")"),
            ("input[", "]"),
        ] {
            let src = format!("{}1{}", open.repeat(n), close.repeat(n));
            let what = format!("{open}×{n}");
            let r = bounded(&what, move || eval(&src));
            if n > MAX_DEPTH {
                let e = r.expect_err(&what);
                assert!(e.contains("nested too deeply"), "{what}: {e}");
            }
        }
    }
}

#[test]
fn long_flat_chains_are_not_nesting() {
    // Chains and paths are stored flat, so their length is no depth.
    for src in [
        format!("1{}", " + 1".repeat(20_000)),
        format!("true{}", " and true".repeat(20_000)),
        format!("input{}", ".obj".repeat(20_000)),
        format!("input.list{}", "[0]".repeat(20_000)),
        format!("'a'{}", " + 'a'".repeat(20_000)),
    ] {
        let head: String = src.chars().take(20).collect();
        let s = src.clone();
        let r = bounded(&head, move || eval(&s));
        assert!(r.is_ok(), "{head}…: {r:?}");
    }
    let r = eval(&format!("1{}", " + 1".repeat(20_000)));
    assert_eq!(r, Ok(json!(20_001)));
}

// --------------------------------------------------- the spec's examples

/// Each claim of docs/expressions.md that one expression can show.
#[test]
fn the_specification_examples_hold() {
    let ok = |src: &str, want: Value| assert_eq!(eval(src), Ok(want), "{src}");
    let err = |src: &str, says: &str| {
        let e = eval(src).expect_err(src);
        assert!(e.contains(says), "{src}: {e}");
    };
    // Lexing.
    ok("input.list.0", json!(1));
    ok("input.obj.b.1", json!(null));
    ok("1e3", json!(1000.0));
    ok("'a\\u0041\\u{1F980}'", json!("aA🦀"));
    err("1e400", "number out of range");
    err("3x", "a name cannot start with a digit");
    err("'abc", "unterminated string");
    err("'\\q'", "unknown escape");
    err("'\\u{D800}'", "invalid `\\u` escape");
    err("input.n = 5", "did you mean `==`");
    err("a & b", "did you mean `&&`");
    err("#", "unexpected character");
    // Precedence.
    ok("not input.n == 5", json!(false));
    ok("!input.n == 5", json!(false));
    ok("!input.zero == true", json!(true));
    ok("1 + 2 * 3", json!(7));
    ok("10 - 4 - 3", json!(3));
    ok("\"x\" not in input.list", json!(true));
    err("1 < 2 < 3", "comparisons cannot be chained");
    err("(1", "expected `)`");
    err("1)", "unbalanced `)`");
    ok("[1, 2,]", json!([1, 2]));
    // Values.
    ok("input.name or \"anonymous\"", json!(true));
    ok("1 == 1.0", json!(true));
    ok("[1, 'a'] == [1, 'a']", json!(true));
    ok("'1' == 1", json!(false));
    err("'a' < 1", "cannot compare");
    ok("'b' > 'a'", json!(true));
    ok("input.big > 9007199254740992", json!(true));
    ok("input.list[-1]", json!(3));
    ok("input.list[1.5]", json!(null));
    ok("input.list['1']", json!(2));
    ok("input.missing.deeper[3]", json!(null));
    ok("'ad' in input.s", json!(false));
    ok("'Ad' in input.s", json!(true));
    ok("'a' in input.obj", json!(true));
    ok("1 in null", json!(false));
    err("1 in 'abc'", "cannot look for");
    ok("'a' + 'b'", json!("ab"));
    ok("[1] + [2]", json!([1, 2]));
    err("1 + 'a'", "cannot combine");
    ok("6 / 3", json!(2));
    ok("7 / 2", json!(3.5));
    ok("-7 % 3", json!(-1));
    err("1 / 0", "division by zero");
    err("1 % 0", "division by zero");
    ok("9223372036854775807 + 1", json!(9223372036854775808.0));
    err("-'x'", "unary `-` needs a number");
    // Functions.
    ok("len(input.uni)", json!(4));
    ok("len(null)", json!(0));
    err("len(3)", "`len` needs");
    ok("upper(input.uni)", json!("日本🦀É"));
    ok("lower(null)", json!(null));
    ok("contains(input.list, 2)", json!(true));
    ok("starts_with(null, 'a')", json!(false));
    ok("number(' 42 ')", json!(42));
    ok("number('2.5')", json!(2.5));
    ok("number(true)", json!(1));
    err("number(null)", "`number` needs");
    err("number('abc')", "cannot parse");
    ok("string([1, 'a'])", json!("[1,\"a\"]"));
    ok("string(null)", json!(""));
    err("nope(1)", "unknown function");
    err("len(1, 2)", "takes 1 argument");
    // Templates.
    let vars = vars();
    let refs: Vec<(&str, &Value)> = vars.iter().map(|(k, v)| (*k, v)).collect();
    let render = |src: &str| Template::parse(src).expect(src).render(&refs);
    assert_eq!(render("{{ \"}}\" }}"), "}}");
    assert_eq!(render("a {{ \"{{\" }} b }} { c"), "a {{ b }} { c");
    assert_eq!(
        render("[{{ input.list }}] [{{ feedback }}] {{ input.s }}"),
        "[[1,2,3]] [] Ada"
    );
    assert_eq!(render("x{{ 'a' < 1 }}y"), "xy");
    assert!(Template::parse("ab {{ input").is_err());
    assert!(Template::parse("{{ }}").is_err());
}
