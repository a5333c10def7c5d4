//! Parsing the arguments a model wrote for a tool call.
//!
//! Real models (llama.cpp's grammar-constrained tool calls among them)
//! sometimes put a raw newline or tab inside a JSON string, which strict
//! JSON forbids. The meaning is never in doubt, so rather than fail the
//! call we escape control characters that sit inside strings and parse
//! again; anything else malformed stays an error the model sees.

use serde_json::{Value, json};

/// The call's arguments as JSON: empty means `{}`; raw control
/// characters inside strings are accepted.
pub fn parse(raw: &str) -> Result<Value, String> {
    if raw.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str(raw) {
        Ok(v) => Ok(v),
        Err(strict) => {
            let escaped = escape_controls_in_strings(raw);
            if escaped == raw {
                return Err(format!("the arguments are not valid JSON: {strict}"));
            }
            serde_json::from_str(&escaped)
                .map_err(|_| format!("the arguments are not valid JSON: {strict}"))
        }
    }
}

/// `raw` with every control character inside a string literal written as
/// its JSON escape; characters outside strings are left alone.
fn escape_controls_in_strings(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    let mut in_string = false;
    let mut escaped = false;
    for c in raw.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if c.is_control() && (c as u32) < 0x20 {
                match c {
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    other => out.push_str(&format!("\\u{:04x}", other as u32)),
                }
                continue;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_json_parses_as_is() {
        assert_eq!(
            parse(r#"{"key": "color", "value": "blue"}"#).unwrap(),
            json!({"key": "color", "value": "blue"})
        );
        assert_eq!(parse("  ").unwrap(), json!({}));
    }

    #[test]
    fn a_raw_newline_or_tab_inside_a_string_is_accepted() {
        let raw = "{\"key\": \"color\", \"value\": \"blue\n\tsky\"}";
        assert_eq!(
            parse(raw).unwrap(),
            json!({"key": "color", "value": "blue\n\tsky"})
        );
    }

    #[test]
    fn newlines_between_tokens_and_escaped_quotes_are_kept() {
        let raw = "{\n  \"key\": \"a \\\"q\\\" \u{1}\"\n}";
        assert_eq!(parse(raw).unwrap(), json!({"key": "a \"q\" \u{1}"}));
    }

    #[test]
    fn broken_json_is_still_an_error_with_the_strict_reason() {
        let e = parse("{\"key\": \"color\n").unwrap_err();
        assert!(e.starts_with("the arguments are not valid JSON: "), "{e}");
        assert!(e.contains("control character"), "{e}");
        assert!(parse("{key: 1}").is_err());
    }
}
