//! Raising a budget while the run is paused for budget: which scope the
//! editor targets, what it starts with, and how its text is read.
//!
//! The editor takes one or two values: a token limit (`20000`, `20k`,
//! `1.5M`, `tokens=20000`) and/or a money limit (`$2.50`, `usd=2.5`).

use crate::event::Id;
use crate::tui::panes::fmt_tokens;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::{BudgetGauge, ViewModel};

/// What `set_budget` will change: the run's limit (`agent: None`) or an agent's.
#[derive(Debug, Clone, PartialEq)]
pub struct RaiseTarget {
    /// Agent whose limit changes (with `node`: the run's when both are `None`).
    pub agent: Option<Id>,
    /// Node whose limit changes.
    pub node: Option<Id>,
    /// One line saying what is being raised and how much is used.
    pub about: String,
    /// Suggested text: each limited dimension doubled.
    pub suggestion: String,
}

/// The scope to raise: the agent or node whose budget paused the run, else the
/// selected task's agent when its own limit is exhausted, else the run.
/// `Err` says why nothing can be raised.
pub fn target(vm: &ViewModel, ui: &UiState) -> Result<RaiseTarget, String> {
    if !vm.paused_for_budget() {
        return Err("the run is not paused for budget: nothing to raise".into());
    }
    let b = &vm.budget;
    let paused = b.paused_by.as_deref().unwrap_or("run");
    let selected = ui
        .selected_task(vm)
        .and_then(|t| t.agent.as_deref())
        .and_then(|a| b.agent(a))
        .filter(|g| g.exhausted);
    let gauge = if let Some(a) = paused.strip_prefix("agent:") {
        b.agent(a)
    } else if paused.starts_with("node:") {
        b.scope(paused)
    } else {
        selected.or_else(|| b.run())
    };
    let Some(g) = gauge else {
        return Err(format!(
            "budget {paused} has no gauge to raise: edit the workflow's limits"
        ));
    };
    let agent: Option<Id> = g.agent().map(Id::from);
    let node: Option<Id> = g.scope.strip_prefix("node:").map(Id::from);
    Ok(RaiseTarget {
        node,
        about: about(g),
        suggestion: suggestion(g),
        agent,
    })
}

fn about(g: &BudgetGauge) -> String {
    let mut parts = Vec::new();
    if let Some(l) = g.limit_tokens {
        parts.push(format!(
            "{} of {} tokens",
            fmt_tokens(g.used_tokens),
            fmt_tokens(l)
        ));
    }
    if let Some(l) = g.limit_usd {
        parts.push(format!("${:.2} of ${l:.2}", g.used_usd));
    }
    format!("budget {} · used {}", g.scope, parts.join(", "))
}

fn suggestion(g: &BudgetGauge) -> String {
    let mut parts = Vec::new();
    if let Some(l) = g.limit_tokens {
        parts.push(format!("tokens={}", l.max(1).saturating_mul(2)));
    }
    if let Some(l) = g.limit_usd {
        parts.push(format!("usd={:.2}", (l * 2.0).max(0.01)));
    }
    parts.join(" ")
}

/// New limits read from the editor text: `(tokens, usd)`, at least one.
pub fn parse(text: &str) -> Result<(Option<u64>, Option<f64>), String> {
    let mut tokens = None;
    let mut usd = None;
    // `tokens: 20k` and `usd = 2` are one word each.
    let mut text = text.to_owned();
    for (from, to) in [(" =", "="), ("= ", "="), (" :", ":"), (": ", ":")] {
        while text.contains(from) {
            text = text.replace(from, to);
        }
    }
    for word in text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
    {
        let lower = word.to_ascii_lowercase();
        let (key, value) = match lower.split_once(['=', ':']) {
            Some((k, v)) => (Some(k.trim()), v.trim()),
            None => (None, lower.as_str()),
        };
        let money = matches!(key, Some("usd" | "$" | "money")) || value.starts_with('$');
        match key {
            None | Some("tokens" | "usd" | "$" | "money") => {}
            Some(k) => {
                return Err(format!(
                    "unknown limit `{k}`: write tokens=N and/or usd=N (or $N)"
                ));
            }
        }
        if money {
            let v: f64 = value
                .trim_start_matches('$')
                .parse()
                .map_err(|_| format!("`{word}` is not an amount: write e.g. $2.50"))?;
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("`{word}`: a money limit must be above 0"));
            }
            usd = Some(v);
        } else {
            let v = parse_tokens(value)
                .ok_or_else(|| format!("`{word}` is not a token count: write e.g. 20000 or 20k"))?;
            if v == 0 {
                return Err("a token limit must be above 0".into());
            }
            tokens = Some(v);
        }
    }
    if tokens.is_none() && usd.is_none() {
        return Err("write a new limit: tokens=N and/or usd=N".into());
    }
    Ok((tokens, usd))
}

/// `20000`, `20k`, `1.5m` → tokens.
fn parse_tokens(v: &str) -> Option<u64> {
    let v = v.replace('_', "");
    let (num, mult) = match v.chars().last()? {
        'k' => (&v[..v.len() - 1], 1e3),
        'm' => (&v[..v.len() - 1], 1e6),
        _ => (v.as_str(), 1.0),
    };
    let n: f64 = num.parse().ok()?;
    let t = n * mult;
    (t.is_finite() && t >= 0.0 && t < u64::MAX as f64).then_some(t.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn limits_are_read_in_several_spellings() {
        assert_eq!(parse("20000"), Ok((Some(20_000), None)));
        assert_eq!(parse("tokens=20k"), Ok((Some(20_000), None)));
        assert_eq!(parse("1.5M $2.50"), Ok((Some(1_500_000), Some(2.5))));
        assert_eq!(
            parse("usd=3, tokens: 40_000"),
            Ok((Some(40_000), Some(3.0)))
        );
    }

    #[test]
    fn bad_limits_say_what_to_write() {
        assert!(parse("").unwrap_err().contains("tokens=N"));
        assert!(parse("lots").unwrap_err().contains("not a token count"));
        assert!(parse("$-1").unwrap_err().contains("above 0"));
        assert!(parse("0").unwrap_err().contains("above 0"));
        assert!(parse("speed=3").unwrap_err().contains("unknown limit"));
    }
}
