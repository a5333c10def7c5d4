//! Tool names as providers accept them. OpenAI's API takes function names
//! of `[A-Za-z0-9_-]{1,64}` only, so `mcp:fs/read_text_file` is sent as
//! `mcp__fs__read_text_file` and the model's calls are mapped back before
//! they run: events, sessions and the sim keep the `mcp:` names.

use std::collections::HashMap;

use crate::llm::ToolSpec;

/// Longest function name OpenAI accepts.
const MAX_LEN: usize = 64;

/// The names of one request's tools, both ways.
#[derive(Debug, Default)]
pub struct WireNames {
    to_wire: HashMap<String, String>,
    from_wire: HashMap<String, String>,
}

impl WireNames {
    /// Renames `specs` in place to wire-safe names (unchanged when already
    /// safe), unique within the request.
    pub fn assign(specs: &mut [ToolSpec]) -> WireNames {
        let mut w = WireNames::default();
        for s in specs.iter_mut() {
            if safe(&s.name) {
                continue;
            }
            let base = encode(&s.name);
            let mut wire = base.clone();
            let mut n = 2;
            // Encoded names hold `__`, which no built-in has: only other
            // encoded names can collide.
            while w.from_wire.contains_key(&wire) {
                let suffix = format!("_{n}");
                let keep = crate::text::floor_char_boundary(&base, MAX_LEN - suffix.len());
                wire = format!("{}{suffix}", &base[..keep]);
                n += 1;
            }
            w.to_wire.insert(s.name.clone(), wire.clone());
            w.from_wire.insert(wire.clone(), s.name.clone());
            s.name = wire;
        }
        w
    }

    /// The wire name of a tool (itself when it needed none).
    pub fn wire<'a>(&'a self, name: &'a str) -> &'a str {
        self.to_wire.get(name).map_or(name, String::as_str)
    }

    /// The tool a model's call names (itself when it is no wire name).
    pub fn original(&self, name: &str) -> String {
        self.from_wire
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }
}

fn safe(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `mcp:fs/read` → `mcp__fs__read`; other unsafe characters become `_`.
fn encode(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        match c {
            ':' | '/' => out.push_str("__"),
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => out.push(c),
            _ => out.push('_'),
        }
    }
    let keep = crate::text::floor_char_boundary(&out, MAX_LEN);
    out.truncate(keep);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(name: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: String::new(),
            parameters: json!({"type": "object"}),
        }
    }

    #[test]
    fn mcp_names_go_out_safe_and_come_back() {
        let long = format!("mcp:srv/{}", "x".repeat(80));
        let mut specs = vec![
            spec("context_get"),
            spec("mcp:fs/read_text_file"),
            spec("mcp:fs/read.text.file"),
            spec("mcp:fs/read_text.file"),
            spec(&long),
        ];
        let w = WireNames::assign(&mut specs);
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names[0], "context_get");
        assert_eq!(names[1], "mcp__fs__read_text_file");
        assert_eq!(names[2], "mcp__fs__read_text_file_2");
        assert_eq!(names[3], "mcp__fs__read_text_file_3");
        assert!(names.iter().all(|n| safe(n)), "{names:?}");
        assert_eq!(
            w.original("mcp__fs__read_text_file"),
            "mcp:fs/read_text_file"
        );
        assert_eq!(
            w.original("mcp__fs__read_text_file_3"),
            "mcp:fs/read_text.file"
        );
        assert_eq!(w.original(&specs[4].name), long);
        assert_eq!(w.original("context_get"), "context_get");
        // The sim scripts calls by their own names: those pass through.
        assert_eq!(w.original("mcp:fs/read_text_file"), "mcp:fs/read_text_file");
        assert_eq!(w.wire("mcp:fs/read_text_file"), "mcp__fs__read_text_file");
    }
}
