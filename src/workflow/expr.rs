//! The small expression language of workflow files (router `when`, loop
//! guards, map `over`, template placeholders).
//!
//! Grammar, lowest precedence first:
//!
//! ```text
//! or      := and (("||" | "or") and)*
//! and     := not (("&&" | "and") not)*
//! not     := "not" not | cmp                  (Python-style: `not a == b` is `not (a == b)`)
//! cmp     := add (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") add)?
//! add     := mul (("+" | "-") mul)*
//! mul     := unary (("*" | "/" | "%") unary)*
//! unary   := ("-" | "!") unary | postfix
//! postfix := primary ("." name | "[" or "]")*
//! primary := number | string | true | false | null | "[" list "]" | "(" or ")"
//!          | name "(" args ")" | name
//! ```
//!
//! Expressions are parsed once and evaluated by walking the tree. Operator
//! chains and paths are stored flat (not as left-deep trees) so that the tree
//! depth is bounded by the parser's nesting cap, which keeps evaluation and
//! drop free of stack overflows whatever the input.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::{Number, Value};

/// Deepest nesting (parentheses, lists, indexes, calls, prefix operators)
/// the parser accepts; deeper input is an error, never a stack overflow.
pub const MAX_DEPTH: usize = 64;

/// A parsed expression, cheap to clone.
#[derive(Debug, Clone)]
pub struct Expr {
    source: Arc<str>,
    root: Arc<Node>,
}

/// A parse or evaluation error, at a byte offset in the expression source.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// Byte offset in the expression source.
    pub offset: usize,
    /// What went wrong.
    pub message: String,
}

impl ExprError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        ExprError {
            offset,
            message: message.into(),
        }
    }
}

impl Expr {
    /// Parses an expression.
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        let toks = lex(src)?;
        let mut p = Parser {
            toks,
            pos: 0,
            depth: 0,
        };
        let root = p.parse_expr()?;
        let t = p.peek();
        if t.kind != Tok::Eof {
            let hint = match t.kind {
                Tok::RParen => "unbalanced `)`".to_string(),
                Tok::RBracket => "unbalanced `]`".to_string(),
                _ => format!(
                    "unexpected {} after the end of the expression",
                    t.kind.describe()
                ),
            };
            return Err(ExprError::new(t.start, hint));
        }
        Ok(Expr {
            source: Arc::from(src),
            root: Arc::new(root),
        })
    }

    /// A bare variable reference (used for the default `{{input}}` template).
    pub(crate) fn var(name: &str) -> Expr {
        Expr {
            source: Arc::from(name),
            root: Arc::new(Node::Var {
                name: name.to_string(),
                at: 0,
            }),
        }
    }

    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates it. Unknown variables and missing keys are `null`.
    pub fn eval(&self, vars: &[(&str, &Value)]) -> Result<Value, ExprError> {
        self.eval_cow(vars).map(Cow::into_owned)
    }

    /// Evaluates it without cloning when the result is a path into `vars`.
    pub(crate) fn eval_cow<'a>(
        &'a self,
        vars: &[(&str, &'a Value)],
    ) -> Result<Cow<'a, Value>, ExprError> {
        eval(&self.root, vars)
    }

    /// Evaluates it and takes its truthiness: `null`, `false`, `0`, `""`,
    /// `[]` and `{}` are false, everything else true.
    pub fn eval_bool(&self, vars: &[(&str, &Value)]) -> Result<bool, ExprError> {
        Ok(truthy(self.eval_cow(vars)?.as_ref()))
    }

    /// Top-level variable names it reads, each once, in order of appearance.
    pub fn root_names(&self) -> Vec<&str> {
        self.root_refs().into_iter().map(|(n, _)| n).collect()
    }

    /// Like [`Expr::root_names`], with the byte offset of each name's first
    /// use (so validation can point at an unknown variable).
    pub fn root_refs(&self) -> Vec<(&str, usize)> {
        let mut out = Vec::new();
        collect_roots(&self.root, &mut out);
        out
    }
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Number),
    Str(String),
    Ident(String),
    True,
    False,
    Null,
    And,
    Or,
    Not,
    In,
    Dot,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(n) => format!("number `{n}`"),
            Tok::Str(_) => "string".to_string(),
            Tok::Ident(s) => format!("name `{s}`"),
            Tok::Eof => "end of expression".to_string(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::True => "true",
            Tok::False => "false",
            Tok::Null => "null",
            Tok::And => "and",
            Tok::Or => "or",
            Tok::Not => "not",
            Tok::In => "in",
            Tok::Dot => ".",
            Tok::Comma => ",",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
            Tok::Num(_) | Tok::Str(_) | Tok::Ident(_) | Tok::Eof => "",
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    start: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let bytes = src.as_bytes();
    let mut toks: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let after_dot = matches!(toks.last(), Some(Token { kind: Tok::Dot, .. }));
        // A path segment after `.` may be any run of name characters, digits
        // included (`outputs.list.0`) and keywords too (`input.in`).
        if after_dot && is_ident_char(c as char) {
            while i < bytes.len() && is_ident_char(bytes[i] as char) {
                i += 1;
            }
            toks.push(Token {
                kind: Tok::Ident(src[start..i].to_string()),
                start,
            });
            continue;
        }
        let two = if i + 1 < bytes.len() {
            &bytes[i..i + 2]
        } else {
            &bytes[i..i + 1]
        };
        let kind = match two {
            b"==" => Some(Tok::EqEq),
            b"!=" => Some(Tok::NotEq),
            b"<=" => Some(Tok::Le),
            b">=" => Some(Tok::Ge),
            b"&&" => Some(Tok::AndAnd),
            b"||" => Some(Tok::OrOr),
            _ => None,
        };
        if let Some(kind) = kind {
            toks.push(Token { kind, start });
            i += 2;
            continue;
        }
        let single = match c {
            b'.' => Some(Tok::Dot),
            b',' => Some(Tok::Comma),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b'+' => Some(Tok::Plus),
            b'-' => Some(Tok::Minus),
            b'*' => Some(Tok::Star),
            b'/' => Some(Tok::Slash),
            b'%' => Some(Tok::Percent),
            b'<' => Some(Tok::Lt),
            b'>' => Some(Tok::Gt),
            b'!' => Some(Tok::Bang),
            _ => None,
        };
        if let Some(kind) = single {
            toks.push(Token { kind, start });
            i += 1;
            continue;
        }
        match c {
            b'=' => {
                return Err(ExprError::new(
                    start,
                    "`=` is not an operator; did you mean `==`?",
                ));
            }
            b'&' => {
                return Err(ExprError::new(
                    start,
                    "`&` is not an operator; did you mean `&&`?",
                ));
            }
            b'|' => {
                return Err(ExprError::new(
                    start,
                    "`|` is not an operator; did you mean `||`?",
                ));
            }
            b'"' | b'\'' => {
                let (s, end) = lex_string(src, start)?;
                toks.push(Token {
                    kind: Tok::Str(s),
                    start,
                });
                i = end;
            }
            b'0'..=b'9' => {
                let (n, end) = lex_number(src, start)?;
                toks.push(Token {
                    kind: Tok::Num(n),
                    start,
                });
                i = end;
            }
            _ if is_ident_start(c as char) => {
                while i < bytes.len() && is_ident_char(bytes[i] as char) {
                    i += 1;
                }
                let word = &src[start..i];
                let kind = match word {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "null" => Tok::Null,
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "in" => Tok::In,
                    _ => Tok::Ident(word.to_string()),
                };
                toks.push(Token { kind, start });
            }
            _ => {
                let ch = src[start..].chars().next().unwrap_or('?');
                return Err(ExprError::new(
                    start,
                    format!("unexpected character `{ch}`"),
                ));
            }
        }
    }
    toks.push(Token {
        kind: Tok::Eof,
        start: src.len(),
    });
    Ok(toks)
}

/// Lexes a quoted string starting at `start` (the quote); returns the value
/// and the offset just past the closing quote.
fn lex_string(src: &str, start: usize) -> Result<(String, usize), ExprError> {
    let quote = src.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = src[start + 1..]
        .char_indices()
        .map(|(o, c)| (o + start + 1, c));
    while let Some((at, c)) = chars.next() {
        if c == quote {
            return Ok((out, at + 1));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((esc_at, e)) = chars.next() else {
            break;
        };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'u' => {
                // \uXXXX or \u{X..}
                let rest = &src[esc_at + 1..];
                let (hex, used) = if let Some(body) = rest.strip_prefix('{') {
                    match body.find('}') {
                        Some(close) => (&body[..close], close + 2),
                        None => return Err(ExprError::new(at, "unterminated `\\u{...}` escape")),
                    }
                } else {
                    let n = rest
                        .char_indices()
                        .take(4)
                        .take_while(|(_, c)| c.is_ascii_hexdigit())
                        .count();
                    (&rest[..n], n)
                };
                let ch = u32::from_str_radix(hex, 16)
                    .ok()
                    .filter(|_| !hex.is_empty() && hex.len() <= 6)
                    .and_then(char::from_u32);
                let Some(ch) = ch else {
                    return Err(ExprError::new(
                        at,
                        "invalid `\\u` escape: expected `\\uXXXX` or `\\u{X...}` naming a Unicode scalar",
                    ));
                };
                out.push(ch);
                for _ in 0..used {
                    chars.next();
                }
            }
            other => {
                return Err(ExprError::new(
                    at,
                    format!(
                        "unknown escape `\\{other}` (known: \\n \\t \\r \\0 \\\\ \\' \\\" \\u{{...}})"
                    ),
                ));
            }
        }
    }
    Err(ExprError::new(
        start,
        format!("unterminated string: missing closing {quote}"),
    ))
}

/// Lexes a number literal; integers that fit stay integers.
fn lex_number(src: &str, start: usize) -> Result<(Number, usize), ExprError> {
    let b = src.as_bytes();
    let mut i = start;
    let digits = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    let mut float = false;
    if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        float = true;
        i += 1;
        digits(&mut i);
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            float = true;
            i = j;
            digits(&mut i);
        }
    }
    if i < b.len() && is_ident_start(b[i] as char) {
        return Err(ExprError::new(
            start,
            "invalid number: a name cannot start with a digit",
        ));
    }
    let text = &src[start..i];
    if !float && let Ok(n) = text.parse::<i64>() {
        return Ok((Number::from(n), i));
    }
    let f: f64 = text
        .parse()
        .map_err(|_| ExprError::new(start, "invalid number"))?;
    match Number::from_f64(f) {
        Some(n) if f.is_finite() => Ok((n, i)),
        _ => Err(ExprError::new(start, "number out of range")),
    }
}

// ---------------------------------------------------------------- AST

#[derive(Debug)]
enum Node {
    Lit(Value),
    Var {
        name: String,
        at: usize,
    },
    Path {
        base: Box<Node>,
        segs: Vec<Seg>,
    },
    List(Vec<Node>),
    Neg {
        expr: Box<Node>,
        at: usize,
    },
    Not(Box<Node>),
    Arith {
        first: Box<Node>,
        rest: Vec<(ArithOp, usize, Node)>,
    },
    Cmp {
        op: CmpOp,
        at: usize,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Call {
        func: Func,
        at: usize,
        args: Vec<Node>,
    },
}

#[derive(Debug)]
enum Seg {
    Key(String),
    Index(Node),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::In => "in",
            CmpOp::NotIn => "not in",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Len,
    Lower,
    Upper,
    Contains,
    StartsWith,
    EndsWith,
    Number,
    String,
}

/// Functions: name, variant, arity.
const FUNCS: &[(&str, Func, usize)] = &[
    ("len", Func::Len, 1),
    ("lower", Func::Lower, 1),
    ("upper", Func::Upper, 1),
    ("contains", Func::Contains, 2),
    ("starts_with", Func::StartsWith, 2),
    ("ends_with", Func::EndsWith, 2),
    ("number", Func::Number, 1),
    ("string", Func::String, 1),
];

fn func_name(f: Func) -> &'static str {
    FUNCS
        .iter()
        .find(|(_, g, _)| *g == f)
        .map(|(n, _, _)| *n)
        .unwrap_or("?")
}

fn collect_roots<'a>(n: &'a Node, out: &mut Vec<(&'a str, usize)>) {
    match n {
        Node::Lit(_) => {}
        Node::Var { name, at } => {
            if !out.iter().any(|(n, _)| n == name) {
                out.push((name, *at));
            }
        }
        Node::Path { base, segs } => {
            collect_roots(base, out);
            for s in segs {
                if let Seg::Index(i) = s {
                    collect_roots(i, out);
                }
            }
        }
        Node::List(items) | Node::And(items) | Node::Or(items) | Node::Call { args: items, .. } => {
            items.iter().for_each(|i| collect_roots(i, out))
        }
        Node::Neg { expr, .. } | Node::Not(expr) => collect_roots(expr, out),
        Node::Arith { first, rest } => {
            collect_roots(first, out);
            rest.iter().for_each(|(_, _, n)| collect_roots(n, out));
        }
        Node::Cmp { lhs, rhs, .. } => {
            collect_roots(lhs, out);
            collect_roots(rhs, out);
        }
    }
}

// ---------------------------------------------------------------- parser

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `pos` never passes it.
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, kind: &Tok) -> bool {
        if &self.peek().kind == kind {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, kind: Tok, what: &str) -> Result<Token, ExprError> {
        let t = self.peek();
        if t.kind == kind {
            Ok(self.bump())
        } else {
            Err(ExprError::new(
                t.start,
                format!("expected {what}, found {}", t.kind.describe()),
            ))
        }
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::new(
                self.peek().start,
                format!("expression nested too deeply (limit {MAX_DEPTH})"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn parse_expr(&mut self) -> Result<Node, ExprError> {
        self.enter()?;
        let r = self.parse_or();
        self.leave();
        r
    }

    fn parse_or(&mut self) -> Result<Node, ExprError> {
        let first = self.parse_and()?;
        let mut items = vec![];
        while matches!(self.peek().kind, Tok::Or | Tok::OrOr) {
            self.bump();
            items.push(self.parse_and()?);
        }
        if items.is_empty() {
            return Ok(first);
        }
        items.insert(0, first);
        Ok(Node::Or(items))
    }

    fn parse_and(&mut self) -> Result<Node, ExprError> {
        let first = self.parse_not()?;
        let mut items = vec![];
        while matches!(self.peek().kind, Tok::And | Tok::AndAnd) {
            self.bump();
            items.push(self.parse_not()?);
        }
        if items.is_empty() {
            return Ok(first);
        }
        items.insert(0, first);
        Ok(Node::And(items))
    }

    fn parse_not(&mut self) -> Result<Node, ExprError> {
        if self.peek().kind == Tok::Not {
            self.bump();
            self.enter()?;
            let inner = self.parse_not();
            self.leave();
            return Ok(Node::Not(Box::new(inner?)));
        }
        self.parse_cmp()
    }

    fn cmp_op(&self) -> Option<(CmpOp, usize)> {
        let t = self.peek();
        let op = match t.kind {
            Tok::EqEq => CmpOp::Eq,
            Tok::NotEq => CmpOp::Ne,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::In => CmpOp::In,
            Tok::Not
                if self
                    .toks
                    .get(self.pos + 1)
                    .is_some_and(|n| n.kind == Tok::In) =>
            {
                CmpOp::NotIn
            }
            _ => return None,
        };
        Some((op, t.start))
    }

    fn parse_cmp(&mut self) -> Result<Node, ExprError> {
        let lhs = self.parse_add()?;
        let Some((op, at)) = self.cmp_op() else {
            return Ok(lhs);
        };
        self.bump();
        if op == CmpOp::NotIn {
            self.bump();
        }
        let rhs = self.parse_add()?;
        if let Some((op2, at2)) = self.cmp_op() {
            return Err(ExprError::new(
                at2,
                format!(
                    "comparisons cannot be chained (`{}` after `{}`); combine them with `and`",
                    op2.symbol(),
                    op.symbol()
                ),
            ));
        }
        Ok(Node::Cmp {
            op,
            at,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        })
    }

    fn parse_add(&mut self) -> Result<Node, ExprError> {
        let first = self.parse_mul()?;
        let mut rest = vec![];
        loop {
            let op = match self.peek().kind {
                Tok::Plus => ArithOp::Add,
                Tok::Minus => ArithOp::Sub,
                _ => break,
            };
            let at = self.bump().start;
            rest.push((op, at, self.parse_mul()?));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        Ok(Node::Arith {
            first: Box::new(first),
            rest,
        })
    }

    fn parse_mul(&mut self) -> Result<Node, ExprError> {
        let first = self.parse_unary()?;
        let mut rest = vec![];
        loop {
            let op = match self.peek().kind {
                Tok::Star => ArithOp::Mul,
                Tok::Slash => ArithOp::Div,
                Tok::Percent => ArithOp::Rem,
                _ => break,
            };
            let at = self.bump().start;
            rest.push((op, at, self.parse_unary()?));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        Ok(Node::Arith {
            first: Box::new(first),
            rest,
        })
    }

    fn parse_unary(&mut self) -> Result<Node, ExprError> {
        let t = self.peek().clone();
        match t.kind {
            Tok::Minus | Tok::Bang => {
                self.bump();
                self.enter()?;
                let inner = self.parse_unary();
                self.leave();
                let inner = Box::new(inner?);
                Ok(if t.kind == Tok::Minus {
                    Node::Neg {
                        expr: inner,
                        at: t.start,
                    }
                } else {
                    Node::Not(inner)
                })
            }
            _ => self.parse_postfix(),
        }
    }

    fn parse_postfix(&mut self) -> Result<Node, ExprError> {
        let base = self.parse_primary()?;
        let mut segs = vec![];
        loop {
            match self.peek().kind {
                Tok::Dot => {
                    self.bump();
                    let t = self.bump();
                    match t.kind {
                        Tok::Ident(name) => segs.push(Seg::Key(name)),
                        other => {
                            return Err(ExprError::new(
                                t.start,
                                format!(
                                    "expected a field name after `.`, found {}",
                                    other.describe()
                                ),
                            ));
                        }
                    }
                }
                Tok::LBracket => {
                    self.bump();
                    let idx = self.parse_expr()?;
                    self.expect(Tok::RBracket, "`]`")?;
                    segs.push(Seg::Index(idx));
                }
                _ => break,
            }
        }
        if segs.is_empty() {
            return Ok(base);
        }
        Ok(Node::Path {
            base: Box::new(base),
            segs,
        })
    }

    fn parse_primary(&mut self) -> Result<Node, ExprError> {
        let t = self.bump();
        match t.kind {
            Tok::Num(n) => Ok(Node::Lit(Value::Number(n))),
            Tok::Str(s) => Ok(Node::Lit(Value::String(s))),
            Tok::True => Ok(Node::Lit(Value::Bool(true))),
            Tok::False => Ok(Node::Lit(Value::Bool(false))),
            Tok::Null => Ok(Node::Lit(Value::Null)),
            Tok::LParen => {
                let inner = self.parse_expr()?;
                self.expect(Tok::RParen, "`)`")?;
                Ok(inner)
            }
            Tok::LBracket => {
                let mut items = vec![];
                if !self.eat(&Tok::RBracket) {
                    loop {
                        items.push(self.parse_expr()?);
                        if self.eat(&Tok::Comma) {
                            if self.eat(&Tok::RBracket) {
                                break; // trailing comma
                            }
                            continue;
                        }
                        self.expect(Tok::RBracket, "`,` or `]`")?;
                        break;
                    }
                }
                // Constant lists are folded once so evaluation can borrow them.
                if items.iter().all(|i| matches!(i, Node::Lit(_))) {
                    let vals = items
                        .into_iter()
                        .map(|i| if let Node::Lit(v) = i { v } else { Value::Null })
                        .collect();
                    return Ok(Node::Lit(Value::Array(vals)));
                }
                Ok(Node::List(items))
            }
            Tok::Ident(name) => {
                if self.peek().kind != Tok::LParen {
                    return Ok(Node::Var { name, at: t.start });
                }
                let Some(&(_, func, arity)) = FUNCS.iter().find(|(n, _, _)| *n == name) else {
                    let known: Vec<&str> = FUNCS.iter().map(|(n, _, _)| *n).collect();
                    return Err(ExprError::new(
                        t.start,
                        format!("unknown function `{name}` (known: {})", known.join(", ")),
                    ));
                };
                self.bump();
                let mut args = vec![];
                if !self.eat(&Tok::RParen) {
                    loop {
                        args.push(self.parse_expr()?);
                        if self.eat(&Tok::Comma) {
                            if self.eat(&Tok::RParen) {
                                break;
                            }
                            continue;
                        }
                        self.expect(Tok::RParen, "`,` or `)`")?;
                        break;
                    }
                }
                if args.len() != arity {
                    let plural = if arity == 1 { "" } else { "s" };
                    return Err(ExprError::new(
                        t.start,
                        format!(
                            "`{name}` takes {arity} argument{plural}, got {}",
                            args.len()
                        ),
                    ));
                }
                Ok(Node::Call {
                    func,
                    at: t.start,
                    args,
                })
            }
            Tok::Eof => Err(ExprError::new(
                t.start,
                "expected a value, found the end of the expression",
            )),
            other => Err(ExprError::new(
                t.start,
                format!("expected a value, found {}", other.describe()),
            )),
        }
    }
}

// ---------------------------------------------------------------- evaluation

static NULL: Value = Value::Null;

/// Truthiness: `null`, `false`, `0`, `""`, `[]` and `{}` are false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Equality on JSON values where numbers compare by value (`1 == 1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn num_cmp(x: &Number, y: &Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return Some(a.cmp(&b));
    }
    x.as_f64()?.partial_cmp(&y.as_f64()?)
}

fn float(f: f64, at: usize) -> Result<Value, ExprError> {
    Number::from_f64(f)
        .filter(|_| f.is_finite())
        .map(Value::Number)
        .ok_or_else(|| ExprError::new(at, "arithmetic result is not a finite number"))
}

/// Looks `key` up in an object, or as a decimal index in a list.
fn get_key<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    match v {
        Value::Object(m) => m.get(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    }
}

/// `v[idx]`: a number indexes a list (negative counts from the end), a string
/// names an object key. Anything else is missing.
fn get_index<'v>(v: &'v Value, idx: &Value) -> Option<&'v Value> {
    match (v, idx) {
        (Value::Array(a), Value::Number(n)) => {
            let i = n.as_i64()?;
            let i = if i < 0 {
                i.checked_add(a.len() as i64)?
            } else {
                i
            };
            a.get(usize::try_from(i).ok()?)
        }
        (Value::Object(m), Value::String(k)) => m.get(k),
        (_, Value::String(k)) => get_key(v, k),
        _ => None,
    }
}

/// Moves one step down a path, staying borrowed when the parent is.
fn step<'a>(cur: Cow<'a, Value>, f: impl Fn(&Value) -> Option<&Value>) -> Cow<'a, Value> {
    match cur {
        Cow::Borrowed(v) => Cow::Borrowed(f(v).unwrap_or(&NULL)),
        Cow::Owned(v) => Cow::Owned(f(&v).cloned().unwrap_or(Value::Null)),
    }
}

fn eval<'a>(n: &'a Node, vars: &[(&str, &'a Value)]) -> Result<Cow<'a, Value>, ExprError> {
    Ok(match n {
        Node::Lit(v) => Cow::Borrowed(v),
        Node::Var { name, .. } => Cow::Borrowed(
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| *v)
                .unwrap_or(&NULL),
        ),
        Node::Path { base, segs } => {
            let mut cur = eval(base, vars)?;
            for s in segs {
                cur = match s {
                    Seg::Key(k) => step(cur, |v| get_key(v, k)),
                    Seg::Index(i) => {
                        let idx = eval(i, vars)?;
                        step(cur, |v| get_index(v, &idx))
                    }
                };
            }
            cur
        }
        Node::List(items) => {
            let vals = items
                .iter()
                .map(|i| eval(i, vars).map(Cow::into_owned))
                .collect::<Result<Vec<_>, _>>()?;
            Cow::Owned(Value::Array(vals))
        }
        Node::Neg { expr, at } => {
            let v = eval(expr, vars)?;
            let Value::Number(n) = v.as_ref() else {
                return Err(ExprError::new(
                    *at,
                    format!("unary `-` needs a number, got {}", type_name(&v)),
                ));
            };
            Cow::Owned(match n.as_i64().and_then(i64::checked_neg) {
                Some(i) => Value::from(i),
                None => float(-n.as_f64().unwrap_or(0.0), *at)?,
            })
        }
        Node::Not(e) => Cow::Owned(Value::Bool(!truthy(eval(e, vars)?.as_ref()))),
        Node::And(items) => {
            for i in items {
                if !truthy(eval(i, vars)?.as_ref()) {
                    return Ok(Cow::Owned(Value::Bool(false)));
                }
            }
            Cow::Owned(Value::Bool(true))
        }
        Node::Or(items) => {
            for i in items {
                if truthy(eval(i, vars)?.as_ref()) {
                    return Ok(Cow::Owned(Value::Bool(true)));
                }
            }
            Cow::Owned(Value::Bool(false))
        }
        Node::Arith { first, rest } => {
            let mut acc = eval(first, vars)?;
            for (op, at, rhs) in rest {
                let r = eval(rhs, vars)?;
                acc = Cow::Owned(arith(*op, *at, acc, &r)?);
            }
            acc
        }
        Node::Cmp { op, at, lhs, rhs } => {
            let l = eval(lhs, vars)?;
            let r = eval(rhs, vars)?;
            Cow::Owned(Value::Bool(compare(*op, *at, &l, &r)?))
        }
        Node::Call { func, at, args } => {
            let vals = args
                .iter()
                .map(|a| eval(a, vars))
                .collect::<Result<Vec<_>, _>>()?;
            Cow::Owned(call(*func, *at, &vals)?)
        }
    })
}

fn arith(op: ArithOp, at: usize, l: Cow<'_, Value>, r: &Value) -> Result<Value, ExprError> {
    let sym = match op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
        ArithOp::Div => "/",
        ArithOp::Rem => "%",
    };
    match (l.as_ref(), r, op) {
        (Value::Number(a), Value::Number(b), _) => {
            if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
                let exact = match op {
                    ArithOp::Add => x.checked_add(y),
                    ArithOp::Sub => x.checked_sub(y),
                    ArithOp::Mul => x.checked_mul(y),
                    ArithOp::Div if y != 0 && x.checked_rem(y) == Some(0) => x.checked_div(y),
                    ArithOp::Rem if y != 0 => x.checked_rem(y),
                    _ => None,
                };
                if let Some(v) = exact {
                    return Ok(Value::from(v));
                }
            }
            let (x, y) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            if matches!(op, ArithOp::Div | ArithOp::Rem) && y == 0.0 {
                return Err(ExprError::new(at, format!("division by zero in `{sym}`")));
            }
            let f = match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div => x / y,
                ArithOp::Rem => x % y,
            };
            float(f, at)
        }
        // Appending reuses the left operand's buffer when it is already owned
        // (`a + b + c` builds one string).
        (Value::String(_), Value::String(b), ArithOp::Add) => {
            let Value::String(mut s) = l.into_owned() else {
                unreachable!("matched a string")
            };
            s.push_str(b);
            Ok(Value::String(s))
        }
        (Value::Array(_), Value::Array(b), ArithOp::Add) => {
            let Value::Array(mut v) = l.into_owned() else {
                unreachable!("matched a list")
            };
            v.extend(b.iter().cloned());
            Ok(Value::Array(v))
        }
        (a, b, _) => Err(ExprError::new(
            at,
            format!(
                "`{sym}` cannot combine {} and {}",
                type_name(a),
                type_name(b)
            ),
        )),
    }
}

fn compare(op: CmpOp, at: usize, l: &Value, r: &Value) -> Result<bool, ExprError> {
    let ord = match op {
        CmpOp::Eq => return Ok(json_eq(l, r)),
        CmpOp::Ne => return Ok(!json_eq(l, r)),
        CmpOp::In => return contains(at, "in", r, l),
        CmpOp::NotIn => return contains(at, "not in", r, l).map(|b| !b),
        _ => match (l, r) {
            (Value::Number(a), Value::Number(b)) => num_cmp(a, b),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            _ => {
                return Err(ExprError::new(
                    at,
                    format!(
                        "`{}` cannot compare {} with {}",
                        op.symbol(),
                        type_name(l),
                        type_name(r)
                    ),
                ));
            }
        },
    };
    let Some(ord) = ord else { return Ok(false) };
    Ok(match op {
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    })
}

/// `needle in hay`: element of a list, substring of a string, key of an
/// object; anything is absent from `null`.
fn contains(at: usize, what: &str, hay: &Value, needle: &Value) -> Result<bool, ExprError> {
    match (hay, needle) {
        (Value::Array(a), n) => Ok(a.iter().any(|x| json_eq(x, n))),
        (Value::String(s), Value::String(n)) => Ok(s.contains(n.as_str())),
        (Value::Object(m), Value::String(k)) => Ok(m.contains_key(k)),
        (Value::Null, _) => Ok(false),
        (h, n) => Err(ExprError::new(
            at,
            format!(
                "`{what}` cannot look for {} in {}",
                type_name(n),
                type_name(h)
            ),
        )),
    }
}

fn call(func: Func, at: usize, args: &[Cow<'_, Value>]) -> Result<Value, ExprError> {
    let name = func_name(func);
    let arg = |i: usize| args.get(i).map(|c| c.as_ref()).unwrap_or(&NULL);
    let bad = |v: &Value, want: &str| {
        ExprError::new(at, format!("`{name}` needs {want}, got {}", type_name(v)))
    };
    let a = arg(0);
    Ok(match func {
        // len(null) is 0 so a missing list reads as empty.
        Func::Len => Value::from(match a {
            Value::Null => 0,
            Value::String(s) => s.chars().count(),
            Value::Array(v) => v.len(),
            Value::Object(m) => m.len(),
            other => return Err(bad(other, "a string, list or object")),
        }),
        Func::Lower | Func::Upper => match a {
            Value::Null => Value::Null,
            Value::String(s) => Value::String(if func == Func::Lower {
                s.to_lowercase()
            } else {
                s.to_uppercase()
            }),
            other => return Err(bad(other, "a string")),
        },
        Func::Contains => Value::Bool(contains(at, name, a, arg(1))?),
        Func::StartsWith | Func::EndsWith => match (a, arg(1)) {
            (Value::Null, _) => Value::Bool(false),
            (Value::String(s), Value::String(p)) => Value::Bool(if func == Func::StartsWith {
                s.starts_with(p.as_str())
            } else {
                s.ends_with(p.as_str())
            }),
            (Value::String(_), other) | (other, _) => return Err(bad(other, "two strings")),
        },
        Func::Number => match a {
            Value::Number(_) => a.clone(),
            Value::Bool(b) => Value::from(u8::from(*b)),
            Value::String(s) => {
                let t = s.trim();
                if let Ok(i) = t.parse::<i64>() {
                    Value::from(i)
                } else {
                    match t.parse::<f64>() {
                        Ok(f) if f.is_finite() => float(f, at)?,
                        _ => {
                            return Err(ExprError::new(
                                at,
                                format!("`number` cannot parse {s:?} as a number"),
                            ));
                        }
                    }
                }
            }
            other => return Err(bad(other, "a number, a boolean or a numeric string")),
        },
        Func::String => Value::String(to_text(a)),
    })
}

/// Text form of a value: strings raw, `null` empty, anything else compact JSON.
pub(crate) fn to_text(v: &Value) -> String {
    let mut s = String::new();
    write_text(&mut s, v);
    s
}

/// Appends the text form of a value (see [`to_text`]).
pub(crate) fn write_text(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(src: &str, vars: &[(&str, &Value)]) -> Result<Value, ExprError> {
        Expr::parse(src)?.eval(vars)
    }

    fn ok(src: &str) -> Value {
        let input = json!({"severity": "high", "items": [1, 2, 3], "n": 5, "name": "Ada", "tags": {"a": 1},
                           "nested": {"list": [{"k": "v"}]}, "fact-check": 0.5});
        let outputs = json!({"research": {"confidence": 0.8, "summary": "ok"}});
        ev(
            src,
            &[
                ("input", &input),
                ("outputs", &outputs),
                ("iteration", &json!(2)),
            ],
        )
        .unwrap_or_else(|e| panic!("{src}: {e} at {}", e.offset))
    }

    fn err(src: &str) -> ExprError {
        let input = json!({"s": "a", "n": 5});
        match Expr::parse(src) {
            Err(e) => e,
            Ok(x) => x.eval(&[("input", &input)]).expect_err(src),
        }
    }

    #[test]
    fn literals() {
        assert_eq!(ok("1"), json!(1));
        assert_eq!(ok("-2.5"), json!(-2.5));
        assert_eq!(ok("1e3"), json!(1000.0));
        assert_eq!(ok("'a\\'b'"), json!("a'b"));
        assert_eq!(ok(r#""x\n\"y\u0041\u{1F600}""#), json!("x\n\"yA😀"));
        assert_eq!(ok("true"), json!(true));
        assert_eq!(ok("null"), json!(null));
        assert_eq!(ok("[1, 'a', [true], ]"), json!([1, "a", [true]]));
        assert_eq!(ok("[input.n, 1]"), json!([5, 1]));
        assert_eq!(ok("[]"), json!([]));
    }

    #[test]
    fn paths() {
        assert_eq!(ok("input.severity"), json!("high"));
        assert_eq!(ok("input.items[0]"), json!(1));
        assert_eq!(ok("input.items[-1]"), json!(3));
        assert_eq!(ok("input.items.1"), json!(2));
        assert_eq!(ok("input[\"severity\"]"), json!("high"));
        assert_eq!(ok("input['fact-check']"), json!(0.5));
        assert_eq!(ok("outputs.research.confidence"), json!(0.8));
        assert_eq!(ok("input.nested.list[0].k"), json!("v"));
        assert_eq!(ok("input.missing.deeper[3]"), json!(null));
        assert_eq!(ok("nobody"), json!(null));
        assert_eq!(ok("input.items[9]"), json!(null));
        assert_eq!(ok("input.items[input.n - 4]"), json!(2));
        assert_eq!(ok("[10, 20][1]"), json!(20));
    }

    #[test]
    fn missing_key_comparison_is_false_not_an_error() {
        let e = Expr::parse("input.severity == \"high\"").unwrap();
        assert!(!e.eval_bool(&[("input", &json!({}))]).unwrap());
        assert!(
            e.eval_bool(&[("input", &json!({"severity": "high"}))])
                .unwrap()
        );
        assert!(!e.eval_bool(&[]).unwrap());
    }

    #[test]
    fn comparisons() {
        assert_eq!(ok("1 == 1.0"), json!(true));
        assert_eq!(ok("[1, [2]] == [1.0]"), json!(false));
        assert_eq!(ok("input.tags == input.tags"), json!(true));
        assert_eq!(ok("[1, [2.0]] == [1.0, [2]]"), json!(true));
        assert_eq!(ok("2 < 10"), json!(true));
        assert_eq!(ok("'2' < '10'"), json!(false));
        assert_eq!(ok("outputs.research.confidence >= 0.8"), json!(true));
        assert_eq!(ok("input.n != 5"), json!(false));
        assert_eq!(ok("3 <= 3 and 3 > 2 && !(1 >= 2)"), json!(true));
    }

    #[test]
    fn logic_and_truthiness() {
        assert_eq!(ok("0 or '' or [] or null"), json!(false));
        assert_eq!(ok("1 and 'x' and [0]"), json!(true));
        assert_eq!(ok("not input.missing"), json!(true));
        assert_eq!(ok("not input.n == 4"), json!(true));
        assert_eq!(ok("!!input.name"), json!(true));
        assert_eq!(ok("true || false && false"), json!(true));
        // Short-circuit: the type error on the right is never evaluated.
        assert_eq!(ok("false and 'a' < 1"), json!(false));
        assert_eq!(ok("true or 'a' < 1"), json!(true));
        let e = Expr::parse("x").unwrap();
        for (v, b) in [
            (json!({}), false),
            (json!({"a": 1}), true),
            (json!(0.0), false),
            (json!(-1), true),
        ] {
            assert_eq!(e.eval_bool(&[("x", &v)]).unwrap(), b, "{v}");
        }
    }

    #[test]
    fn membership() {
        assert_eq!(ok("2 in input.items"), json!(true));
        assert_eq!(ok("2.0 in input.items"), json!(true));
        assert_eq!(ok("'ig' in input.severity"), json!(true));
        assert_eq!(ok("'a' in input.tags"), json!(true));
        assert_eq!(ok("'b' not in input.tags"), json!(true));
        assert_eq!(ok("1 in input.missing"), json!(false));
        assert_eq!(ok("contains(input.items, 3)"), json!(true));
        assert_eq!(ok("contains('haystack', 'st')"), json!(true));
    }

    #[test]
    fn arithmetic() {
        assert_eq!(ok("1 + 2 * 3"), json!(7));
        assert_eq!(ok("(1 + 2) * 3"), json!(9));
        assert_eq!(ok("10 - 2 - 3"), json!(5));
        assert_eq!(ok("7 / 2"), json!(3.5));
        assert_eq!(ok("8 / 2"), json!(4));
        assert_eq!(ok("7 % 3"), json!(1));
        assert_eq!(ok("-input.n + 1"), json!(-4));
        assert_eq!(ok("2 * -3"), json!(-6));
        assert_eq!(ok("'a' + 'b' + input.name"), json!("abAda"));
        assert_eq!(ok("[1] + [2]"), json!([1, 2]));
        assert_eq!(ok("9223372036854775807 + 1"), json!(9223372036854775808.0));
        assert_eq!(ok("iteration * 2 + 1 > 4"), json!(true));
    }

    #[test]
    fn functions() {
        assert_eq!(ok("len(input.items)"), json!(3));
        assert_eq!(ok("len('héllo')"), json!(5));
        assert_eq!(ok("len(input.tags)"), json!(1));
        assert_eq!(ok("len(input.missing)"), json!(0));
        assert_eq!(ok("lower('AbC') + upper('x')"), json!("abcX"));
        assert_eq!(ok("lower(input.missing) == 'x'"), json!(false));
        assert_eq!(
            ok("starts_with(input.name, 'A') and ends_with(input.name, 'da')"),
            json!(true)
        );
        assert_eq!(ok("number(' 42 ') + number('1.5')"), json!(43.5));
        assert_eq!(ok("number(true)"), json!(1));
        assert_eq!(
            ok("string(12) + string(null) + string([1, 'a'])"),
            json!("12[1,\"a\"]")
        );
        assert_eq!(ok("string('s')"), json!("s"));
    }

    #[test]
    fn type_errors_carry_offsets() {
        let e = err("'a' < 3");
        assert_eq!(e.offset, 4);
        assert!(
            e.message.contains("cannot compare a string with a number"),
            "{e}"
        );
        let e = err("1 + len(5)");
        assert_eq!(e.offset, 4);
        assert!(e.message.contains("`len` needs"), "{e}");
        assert_eq!(err("input.s - 1").offset, 8);
        assert_eq!(err("-input.s").offset, 0);
        assert_eq!(err("1 / 0").offset, 2);
        assert_eq!(err("1 % 0").offset, 2);
        assert_eq!(err("number('x1')").offset, 0);
        assert_eq!(err("1 in 5").offset, 2);
        assert_eq!(err("upper(1)").offset, 0);
        assert_eq!(err("starts_with('a', 1)").offset, 0);
    }

    #[test]
    fn parse_errors_carry_offsets() {
        let cases: &[(&str, usize, &str)] = &[
            ("a = 1", 2, "did you mean `==`"),
            ("a & b", 2, "`&&`"),
            ("a | b", 2, "`||`"),
            ("(1 + 2", 6, "expected `)`"),
            ("1 + ", 4, "expected a value"),
            ("1 2", 2, "unexpected number"),
            ("a)", 1, "unbalanced `)`"),
            ("'abc", 0, "unterminated string"),
            ("'\\q'", 1, "unknown escape"),
            ("'\\u{110000}'", 1, "invalid `\\u` escape"),
            ("foo(1)", 0, "unknown function `foo`"),
            ("len(1, 2)", 0, "takes 1 argument, got 2"),
            ("contains(1)", 0, "takes 2 arguments"),
            ("a.", 2, "expected a field name"),
            ("a.(b)", 2, "expected a field name"),
            ("1 < 2 < 3", 6, "cannot be chained"),
            ("1e999", 0, "out of range"),
            ("12abc", 0, "invalid number"),
            ("a # b", 2, "unexpected character `#`"),
            ("", 0, "end of the expression"),
            ("[1, 2", 5, "expected `,` or `]`"),
        ];
        for (src, off, msg) in cases {
            let e = Expr::parse(src).expect_err(src);
            assert_eq!(e.offset, *off, "{src}: {e}");
            assert!(e.message.contains(msg), "{src}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        for src in [
            "(".repeat(10_000) + "1" + &")".repeat(10_000),
            "[".repeat(10_000),
            "-".repeat(10_000) + "1",
            "!".repeat(10_000) + "1",
            "not ".repeat(10_000) + "1",
            "a".to_string() + &"[0".repeat(10_000),
            "len(".repeat(10_000),
        ] {
            let e = Expr::parse(&src).expect_err("too deep");
            assert!(
                e.message.contains("nested too deeply") || e.message.contains("expected"),
                "{e}"
            );
        }
        // Long flat chains are fine and evaluate iteratively.
        let long = vec!["1"; 20_000].join(" + ");
        assert_eq!(
            Expr::parse(&long).unwrap().eval(&[]).unwrap(),
            json!(20_000)
        );
        let path = "a".to_string() + &".b".repeat(20_000);
        assert_eq!(Expr::parse(&path).unwrap().eval(&[]).unwrap(), json!(null));
        let nested = "(".repeat(MAX_DEPTH - 1) + "1" + &")".repeat(MAX_DEPTH - 1);
        assert_eq!(Expr::parse(&nested).unwrap().eval(&[]).unwrap(), json!(1));
    }

    #[test]
    fn root_names_and_source() {
        let e =
            Expr::parse("outputs.a.b > 1 and input[item.key] in [index, outputs.c] or not item")
                .unwrap();
        assert_eq!(e.root_names(), vec!["outputs", "input", "item", "index"]);
        assert_eq!(
            e.source(),
            "outputs.a.b > 1 and input[item.key] in [index, outputs.c] or not item"
        );
        assert!(Expr::parse("len('x') + 1").unwrap().root_names().is_empty());
        assert_eq!(
            Expr::parse("input.in.not").unwrap().root_names(),
            vec!["input"]
        );
    }

    #[test]
    fn path_reads_borrow() {
        let big = json!({"a": {"b": [1, 2, 3]}});
        let e = Expr::parse("x.a.b").unwrap();
        let v = e.eval_cow(&[("x", &big)]).unwrap();
        assert!(matches!(v, Cow::Borrowed(_)));
        assert_eq!(v.as_ref(), &json!([1, 2, 3]));
    }

    #[test]
    fn unicode_is_handled_at_char_boundaries() {
        assert_eq!(Expr::parse("é").unwrap_err().offset, 0);
        assert_eq!(ok("'é' + \"ü\""), json!("éü"));
        assert_eq!(Expr::parse("'\\é'").unwrap_err().offset, 1);
        assert!(Expr::parse("'\\u").is_err());
        assert!(Expr::parse("'\\u{").is_err());
        assert!(Expr::parse("'\\uZZ'").is_err());
    }
}
