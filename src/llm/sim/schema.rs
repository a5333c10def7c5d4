//! The sim's answer to a call with a user's reply schema: a JSON value
//! invented to match it, deterministic for the call's RNG. It covers what
//! workflow schemas use (types, `properties`/`required`, `enum`/`const`,
//! `items` with `minItems`/`maxItems`, number ranges, string lengths,
//! `anyOf`/`oneOf`/`allOf`); anything it does not know becomes `null`, and
//! the engine's validation then calls the reply malformed, as it would a
//! real model's.

use rand::{Rng, RngCore};
use serde_json::{Map, Number, Value};

/// Nesting depth past which the sim stops inventing (a recursive schema
/// would otherwise never end).
const MAX_DEPTH: u32 = 8;
/// Most items it puts in an array that allows more.
const MAX_ITEMS: u64 = 3;

/// A value for `schema`; strings are drawn from `words`.
pub(super) fn instance(schema: &Value, words: &[&str], rng: &mut dyn RngCore) -> Value {
    value(schema, words, rng, 0)
}

fn value(schema: &Value, words: &[&str], rng: &mut dyn RngCore, depth: u32) -> Value {
    let Some(s) = schema.as_object() else {
        return Value::Null;
    };
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(c) = s.get("const") {
        return c.clone();
    }
    if let Some(Value::Array(options)) = s.get("enum")
        && !options.is_empty()
    {
        return options[rng.random_range(0..options.len())].clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(alts)) = s.get(key)
            && let Some(first) = alts.first()
        {
            return value(first, words, rng, depth + 1);
        }
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if s.contains_key("properties") => "object",
        _ if s.contains_key("items") => "array",
        _ => "string",
    };
    match ty {
        "object" => {
            let mut out = Map::new();
            if let Some(Value::Object(props)) = s.get("properties") {
                for (k, p) in props {
                    out.insert(k.clone(), value(p, words, rng, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(1);
            let max = s
                .get("maxItems")
                .and_then(Value::as_u64)
                .unwrap_or(MAX_ITEMS)
                .max(min);
            let n = rng.random_range(min..=max.min(min.max(MAX_ITEMS)));
            let item = s.get("items").unwrap_or(&Value::Null);
            Value::Array((0..n).map(|_| value(item, words, rng, depth + 1)).collect())
        }
        "number" => {
            let lo = s.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
            let hi = s
                .get("maximum")
                .and_then(Value::as_f64)
                .unwrap_or(lo + 1.0)
                .max(lo);
            // Two decimals, so replies read like a model's.
            let x = ((lo + rng.random::<f64>() * (hi - lo)) * 100.0).round() / 100.0;
            Number::from_f64(x.clamp(lo, hi)).map_or(Value::Null, Value::Number)
        }
        "integer" => {
            let lo = s.get("minimum").and_then(Value::as_i64).unwrap_or(0);
            let hi = s
                .get("maximum")
                .and_then(Value::as_i64)
                .unwrap_or(lo + 9)
                .max(lo);
            Value::from(rng.random_range(lo..=hi))
        }
        "boolean" => Value::Bool(rng.random()),
        "string" => {
            let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
            let max = s
                .get("maxLength")
                .and_then(Value::as_u64)
                .map_or(usize::MAX, |m| m as usize);
            let mut text = String::new();
            for _ in 0..4 {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(words[rng.random_range(0..words.len())]);
            }
            while text.len() < min {
                text.push_str(" more");
            }
            text.truncate(max.max(min));
            Value::String(text.trim_end().to_string())
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    #[test]
    fn invented_values_match_their_schema() {
        let schema = json!({
            "type": "object",
            "required": ["confidence", "finding", "tags", "kind", "n"],
            "properties": {
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "finding": {"type": "string", "minLength": 3, "maxLength": 40},
                "tags": {"type": "array", "minItems": 2, "items": {"type": "string"}},
                "kind": {"enum": ["a", "b"]},
                "n": {"type": "integer", "minimum": 5, "maximum": 7},
                "ok": {"type": "boolean"}
            }
        });
        let v = jsonschema::validator_for(&schema).unwrap();
        for seed in 0..50 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let x = instance(&schema, &["alpha", "beta"], &mut rng);
            assert!(v.is_valid(&x), "seed {seed}: {x}");
        }
        let mut a = ChaCha8Rng::seed_from_u64(1);
        let mut b = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            instance(&schema, &["w"], &mut a),
            instance(&schema, &["w"], &mut b)
        );
    }
}
