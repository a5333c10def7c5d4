//! The same broken workflows written in TOML and in JSON: each error has
//! the same message and points at the same key or value, at that format's
//! own line and column. Also: dotted keys, inline tables, and brackets in
//! multi-line strings, located exactly.

use agentctl::workflow::diagnostics::Diagnostic;
use agentctl::workflow::load::{Format, load_str};

const TOML_HEAD: &str =
    "[workflow]\nname = \"t\"\n\n[[agents]]\nid = \"writer\"\n\n[[agents]]\nid = \"critic\"\n\n";

fn toml(nodes: &str) -> String {
    format!("{TOML_HEAD}{nodes}")
}

fn json(nodes: &[&str]) -> String {
    format!(
        "{{\n  \"workflow\": {{\"name\": \"t\"}},\n  \"agents\": [\n    {{\"id\": \"writer\"}},\n    {{\"id\": \"critic\"}}\n  ],\n  \"nodes\": [\n    {}\n  ]\n}}\n",
        nodes.join(",\n    ")
    )
}

fn errors(text: &str, format: Format) -> Vec<Diagnostic> {
    match load_str(text, "t", format) {
        Ok(_) => panic!("expected an error in:\n{text}"),
        Err(d) => d.0,
    }
}

/// 1-based line and column (in characters) of byte `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// Byte offset of the `nth` (0-based) occurrence of `needle`.
fn nth(text: &str, needle: &str, nth: usize) -> usize {
    text.match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("no occurrence {nth} of {needle:?} in:\n{text}"))
        .0
}

/// The text a diagnostic underlines.
fn pointed(text: &str, d: &Diagnostic) -> String {
    let line = text.lines().nth(d.line - 1).unwrap_or("");
    line.chars().skip(d.column - 1).take(d.width).collect()
}

/// One broken workflow in both formats; `target` is what the error must
/// point at in each (text, which occurrence of it).
struct Case {
    name: &'static str,
    toml: String,
    json: String,
    message: &'static str,
    toml_at: (&'static str, usize),
    json_at: (&'static str, usize),
}

fn check(c: &Case) {
    let mut seen = Vec::new();
    for (text, format, (needle, n)) in [
        (&c.toml, Format::Toml, c.toml_at),
        (&c.json, Format::Json, c.json_at),
    ] {
        let e = errors(text, format);
        assert_eq!(e.len(), 1, "{}: {format:?}: {e:?}", c.name);
        let d = &e[0];
        assert!(
            d.message.contains(c.message),
            "{}: {format:?}: {:?} lacks {:?}",
            c.name,
            d.message,
            c.message
        );
        let want = line_col(text, nth(text, needle, n));
        assert_eq!(
            (d.line, d.column),
            want,
            "{}: {format:?} points at {:?}, not {needle:?}\n{d}",
            c.name,
            pointed(text, d)
        );
        assert!(
            pointed(text, d).starts_with(needle.chars().next().unwrap_or(' ')),
            "{}: {format:?} underlines {:?}",
            c.name,
            pointed(text, d)
        );
        seen.push((d.message.clone(), d.hint.clone(), (d.line, d.column)));
    }
    // Same message and hint (a hint naming a line names each file's own);
    // each format its own position.
    assert_eq!(seen[0].0, seen[1].0, "{}", c.name);
    if !seen[0].1.as_deref().unwrap_or("").contains("line ") {
        assert_eq!(seen[0].1, seen[1].1, "{}", c.name);
    }
    assert_ne!(seen[0].2, seen[1].2, "{}: the layouts differ", c.name);
}

fn cases() -> Vec<Case> {
    let agent_json = |extra: &str| format!("{{\"id\": \"a\", \"kind\": \"agent\"{extra}}}");
    vec![
        Case {
            name: "unknown field",
            toml: toml("[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagnet = \"writer\"\n"),
            json: json(&[&agent_json(", \"agnet\": \"writer\"")]),
            message: "unknown field `agnet`",
            toml_at: ("agnet", 0),
            json_at: ("\"agnet\"", 0),
        },
        Case {
            name: "wrong type",
            toml: toml(
                "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\npriority = \"high\"\n",
            ),
            json: json(&[&agent_json(
                ", \"agent\": \"writer\", \"priority\": \"high\"",
            )]),
            message: "wrong type: found string \"high\", expected an integer",
            toml_at: ("\"high\"", 0),
            json_at: ("\"high\"", 0),
        },
        Case {
            name: "bad reference",
            toml: toml("[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"wrtier\"\n"),
            json: json(&[&agent_json(", \"agent\": \"wrtier\"")]),
            message: "unknown agent `wrtier` in `agent`",
            toml_at: ("\"wrtier\"", 0),
            json_at: ("\"wrtier\"", 0),
        },
        Case {
            name: "missing required field",
            toml: toml("[[nodes]]\nid = \"a\"\nagent = \"writer\"\n"),
            json: json(&["{\"id\": \"a\", \"agent\": \"writer\"}"]),
            message: "missing field `kind`",
            toml_at: ("[[nodes]]", 0),
            json_at: ("{\"id\": \"a\"", 0),
        },
        Case {
            name: "duplicate id",
            toml: toml(
                "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\n\n[[nodes]]\nid = \"a\"\nkind = \"gate\"\n",
            ),
            json: json(&[
                &agent_json(", \"agent\": \"writer\""),
                "{\"id\": \"a\", \"kind\": \"gate\"}",
            ]),
            message: "duplicate node id `a`",
            toml_at: ("\"a\"", 1),
            json_at: ("\"a\"", 1),
        },
        Case {
            name: "unknown value",
            toml: toml("[[nodes]]\nid = \"a\"\nkind = \"agnet\"\n"),
            json: json(&["{\"id\": \"a\", \"kind\": \"agnet\"}"]),
            message: "unknown value `agnet`",
            toml_at: ("\"agnet\"", 0),
            json_at: ("\"agnet\"", 0),
        },
        Case {
            name: "duplicate key",
            toml: toml(
                "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\nagent = \"critic\"\n",
            ),
            json: json(&[&agent_json(
                ", \"agent\": \"writer\", \"agent\": \"critic\"",
            )]),
            message: "duplicate key `agent`",
            toml_at: ("agent =", 1),
            json_at: ("\"agent\":", 1),
        },
        Case {
            name: "wrong type in an inline table",
            toml: toml(
                "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\nretry = { max_attempts = \"x\" }\n",
            ),
            json: json(&[&agent_json(
                ", \"agent\": \"writer\", \"retry\": {\"max_attempts\": \"x\"}",
            )]),
            message: "wrong type: found string \"x\"",
            toml_at: ("\"x\"", 0),
            json_at: ("\"x\"", 0),
        },
        Case {
            name: "field of another kind",
            toml: toml(
                "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\nsteps = [\"a\"]\n",
            ),
            json: json(&[&agent_json(", \"agent\": \"writer\", \"steps\": [\"a\"]")]),
            message: "`steps` is not a field of a `agent` node",
            toml_at: ("steps", 0),
            json_at: ("\"steps\"", 0),
        },
        Case {
            name: "unknown node in a list",
            toml: toml(
                "[[nodes]]\nid = \"s\"\nkind = \"sequence\"\nsteps = [\"a\", \"ghost\"]\n\n[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\n",
            ),
            json: json(&[
                "{\"id\": \"s\", \"kind\": \"sequence\", \"steps\": [\"a\", \"ghost\"]}",
                &agent_json(", \"agent\": \"writer\""),
            ]),
            message: "unknown node `ghost` in `steps`",
            toml_at: ("\"ghost\"", 0),
            json_at: ("\"ghost\"", 0),
        },
        Case {
            name: "unknown variable inside a template",
            toml: toml(
                "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\nprompt = \"Hi {{ inptu }}\"\n",
            ),
            json: json(&[&agent_json(
                ", \"agent\": \"writer\", \"prompt\": \"Hi {{ inptu }}\"",
            )]),
            message: "unknown variable `inptu` in `prompt`",
            toml_at: ("inptu", 0),
            json_at: ("inptu", 0),
        },
        Case {
            name: "an entry of an inline map",
            toml: toml(
                "[[nodes]]\nid = \"v\"\nkind = \"vote\"\nvoters = [\"writer\", \"critic\"]\nweights = { zed = 2.0 }\n",
            ),
            json: json(&[
                "{\"id\": \"v\", \"kind\": \"vote\", \"voters\": [\"writer\", \"critic\"], \"weights\": {\"zed\": 2.0}}",
            ]),
            message: "unknown agent `zed` in `weights`",
            toml_at: ("zed", 0),
            json_at: ("\"zed\"", 0),
        },
    ]
}

#[test]
fn the_same_mistakes_are_located_alike_in_toml_and_json() {
    let cases = cases();
    assert!(cases.len() >= 8);
    for c in &cases {
        check(c);
    }
}

#[test]
fn json_positions_are_the_files_own() {
    // One literal position per format, so the helper above cannot agree
    // with itself by mistake.
    let c = &cases()[2];
    let t = &errors(&c.toml, Format::Toml)[0];
    let j = &errors(&c.json, Format::Json)[0];
    assert_eq!((t.line, t.column), (13, 9), "{t}");
    assert_eq!((j.line, j.column), (8, 43), "{j}");
}

fn only(text: &str) -> Diagnostic {
    let e = errors(text, Format::Toml);
    assert_eq!(e.len(), 1, "{e:?}");
    e.into_iter().next().unwrap_or_else(|| unreachable!())
}

const NODE: &str = "[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\n";

#[test]
fn dotted_keys_are_located_exactly() {
    let text = toml(&format!("{NODE}retry.max_attempts = \"x\"\n"));
    let d = only(&text);
    assert_eq!(pointed(&text, &d), "\"x\"", "{d}");
    assert_eq!((d.line, d.column), (14, 22));

    let text = toml(&format!("{NODE}retry.max_atempts = 2\n"));
    let d = only(&text);
    assert_eq!(d.message, "unknown field `max_atempts`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `max_attempts`?"));
    assert_eq!((d.line, d.column), (14, 7), "{d}");

    // A dotted key naming a field of another kind: the key itself.
    let text = toml(&format!("{NODE}\"weights\".writer = 2.0\n"));
    let d = only(&text);
    assert!(d.message.contains("`weights` is not a field"), "{d}");
    assert_eq!((d.line, d.column), (14, 1), "{d}");
}

#[test]
fn inline_tables_are_located_exactly() {
    let text = toml(&format!(
        "{NODE}retry = {{ max_attempts = 2, factor = \"fast\" }}\n"
    ));
    let d = only(&text);
    assert_eq!(pointed(&text, &d), "\"fast\"", "{d}");
    assert_eq!((d.line, d.column), (14, 38));

    let text = toml(&format!(
        "{NODE}retry = {{ max_attempts = 2, fator = 2.0 }}\n"
    ));
    let d = only(&text);
    assert_eq!(d.message, "unknown field `fator`");
    assert_eq!((d.line, d.column), (14, 29), "{d}");
}

#[test]
fn brackets_and_keys_inside_multi_line_strings_confuse_nothing() {
    // The string holds a fake table header and a fake `k = 1`; the error
    // about `k` is on the real key, after the string.
    let text = toml(
        "[[nodes]]\nid = \"p\"\nkind = \"parallel\"\ntitle = \"\"\"\n[[nodes]]\nk = 1\n{ \"agent\": [\n\"\"\"\nbranches = [\"a\"]\nk = 2\n\n\
         [[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\n",
    );
    let d = only(&text);
    assert_eq!(d.message, "`k` only applies to join = \"k_of_n\"");
    assert_eq!((d.line, d.column), (19, 1), "{d}");

    // The same in JSON, with brackets and a fake key in a string.
    let text = json(&[
        "{\"id\": \"p\", \"kind\": \"parallel\", \"title\": \"]} \\\"k\\\": 1, [[nodes]]\", \"branches\": [\"a\"], \"k\": 2}",
        "{\"id\": \"a\", \"kind\": \"agent\", \"agent\": \"writer\"}",
    ]);
    let e = errors(&text, Format::Json);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(pointed(&text, &e[0]), "\"k\"", "{}", e[0]);
    assert_eq!((e[0].line, e[0].column), (8, 91), "{}", e[0]);
}

#[test]
fn an_unknown_field_is_checked_against_its_kinds_own_list() {
    let vote = "[[nodes]]\nid = \"v\"\nkind = \"vote\"\nvoters = [\"writer\", \"critic\"]\n";
    // Close to a field of `vote`: suggested.
    let d = only(&toml(&format!("{vote}qourum = 3\n")));
    assert_eq!(d.message, "unknown field `qourum`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `quorum`?"));
    // Close to nothing: the fields of a `vote` node, from its struct.
    let d = only(&toml(&format!("{vote}zzzzzz = 3\n")));
    let hint = d.hint.unwrap_or_default();
    assert!(
        hint.starts_with("fields of a `vote` node: `id`, `kind`"),
        "{hint}"
    );
    assert!(
        hint.contains("`voters`") && hint.contains("`byzantine_policy`"),
        "{hint}"
    );
    assert!(!hint.contains("`participants`"), "{hint}");
    // A field of other kinds is not unknown: it is named as misplaced, and
    // checking goes on (the bad priority is reported too).
    let e = errors(
        &toml(&format!("{vote}priority = 9\nmoderator = \"writer\"\n")),
        Format::Toml,
    );
    let messages: Vec<&str> = e.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "priority must be between 1 and 5, got 9",
            "`moderator` is not a field of a `vote` node"
        ]
    );
    assert_eq!(
        e[1].hint.as_deref(),
        Some("did you mean kind = \"debate\"? otherwise remove `moderator`")
    );
    // A field two kinds share names both.
    let e = errors(
        &toml(&format!("{vote}participants = [\"writer\"]\n")),
        Format::Toml,
    );
    assert_eq!(
        e[0].message,
        "`participants` is not a field of a `vote` node"
    );
    assert_eq!(
        e[0].hint.as_deref(),
        Some("`participants` is used by `debate` and `chat` nodes; remove it or change `kind`")
    );
}
