//! Secrets (API keys): a wrapper that never prints its value, a scrubber
//! for any text we show that might quote one (server error bodies, config
//! errors), and [`from_env`], which takes a key out of the environment.
//!
//! A key read from the environment is kept in this process's memory only:
//! [`from_env`] removes the variable and overwrites its value in the
//! environment block the process started with. `unsetenv` alone is not
//! enough, since `/proc/PID/environ` shows that original block, not the
//! current variables. Children never inherit a key taken so (see
//! [`inheritable`]); reading agentctl's memory needs CAP_SYS_PTRACE, which
//! children do not have (see `agent::confine`).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::sync::Mutex;

/// An API key or other credential. `Debug`/`Display` print `[REDACTED]`, it
/// has no `Serialize`, and the value is reachable only through
/// [`Secret::expose`], so it cannot slip into an event, a session file or a
/// log by accident.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(none)")
        } else {
            f.write_str("[REDACTED]")
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Keys taken out of the environment, by variable name.
static TAKEN: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

/// The value of the secret variable `name` (`None` if unset or blank). The
/// first read takes it out of the environment (see the module docs); later
/// reads return the kept value, or a newer one if the variable was set
/// again.
pub fn from_env(name: &str) -> Option<String> {
    let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    let map = taken.get_or_insert_with(HashMap::new);
    if let Ok(v) = std::env::var(name) {
        if !name.is_empty() && !name.contains(['=', '\0']) {
            // SAFETY: removing a variable races only with C code reading
            // the environment on another thread; agentctl reads its keys
            // while loading the configuration, before it starts a runtime
            // or any thread that reads the environment.
            unsafe { std::env::remove_var(name) };
            scrub_original_block(name);
        }
        map.insert(name.to_string(), v);
    }
    map.get(name).filter(|v| !v.trim().is_empty()).cloned()
}

/// The value of `name` for a child's environment: `None` for a variable
/// that [`from_env`] took (a key never reaches a child), else the current
/// value.
pub fn inheritable(name: &str) -> Option<OsString> {
    let taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    if taken.as_ref().is_some_and(|m| m.contains_key(name)) {
        return None;
    }
    std::env::var_os(name)
}

/// Overwrites with zero bytes the value of every `name=` entry in the
/// environment block the kernel gave this process (what
/// `/proc/self/environ` shows). Its bounds come from `/proc/self/stat`
/// (fields 50 and 51, `env_start`/`env_end`).
fn scrub_original_block(name: &str) {
    let Some((start, end)) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| env_bounds(&s))
    else {
        return;
    };
    if end <= start || end - start > 16 * 1024 * 1024 {
        return;
    }
    // SAFETY: [start, end) is this process's own environment block, mapped
    // writable on the initial stack for the process's whole life. After
    // remove_var above no `environ` entry points at the `name=` entry, so
    // nothing in this process reads the bytes overwritten here.
    let block = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) };
    let prefix = format!("{name}=");
    let mut at = 0;
    while at < block.len() {
        let len = block[at..]
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(block.len() - at);
        if block[at..at + len].starts_with(prefix.as_bytes()) {
            block[at + prefix.len()..at + len].fill(0);
        }
        at += len + 1;
    }
}

/// `env_start` and `env_end` from a `/proc/PID/stat` line: fields 50 and
/// 51, counted from the state (field 3) after the last `)`.
fn env_bounds(stat: &str) -> Option<(usize, usize)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_ascii_whitespace().skip(50 - 3);
    let start = f.next()?.parse().ok()?;
    let end = f.next()?.parse().ok()?;
    Some((start, end))
}

/// Replaces credential-looking parts of `text` with `[REDACTED]`:
/// `Authorization`/`api-key`/`x-api-key` header values, `Bearer` tokens,
/// and key-shaped words (`sk-…`, `sk_…`, `key-…` with 16+ characters).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut redact_next = false;
    for piece in split_keep(text) {
        if piece
            .chars()
            .all(|c| is_separator(c) || c == ':' || c == '=')
        {
            out.push_str(piece);
            continue;
        }
        let lower = piece.to_ascii_lowercase();
        let label = lower.trim_end_matches(':').trim_end_matches('=');
        if redact_next {
            redact_next = label == "bearer" || label == "basic";
            if redact_next {
                out.push_str(piece);
            } else {
                out.push_str("[REDACTED]");
            }
            continue;
        }
        if matches!(
            label.trim_matches('"'),
            "authorization" | "bearer" | "api-key" | "x-api-key" | "api_key" | "apikey"
        ) {
            redact_next = true;
            out.push_str(piece);
            continue;
        }
        if looks_like_key(piece) {
            out.push_str("[REDACTED]");
        } else {
            out.push_str(piece);
        }
    }
    out
}

/// `url` with any `user:password@` part of its authority replaced by
/// `[REDACTED]@`, for showing a configured base URL. Text that is not a URL
/// with an authority comes back unchanged.
pub fn redact_url(url: &str) -> String {
    match url_userinfo(url) {
        Some((start, end)) => format!("{}[REDACTED]{}", &url[..start], &url[end..]),
        None => url.to_string(),
    }
}

/// The `user:password` part of `url`, if it has one.
pub fn url_credentials(url: &str) -> Option<&str> {
    url_userinfo(url).map(|(start, end)| &url[start..end])
}

/// Byte range of the userinfo in `scheme://userinfo@host/...`.
fn url_userinfo(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    url[start..end].rfind('@').map(|at| (start, start + at))
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '{' | '}' | '(' | ')' | '[' | ']')
}

/// Splits into words and runs of separators, keeping both.
fn split_keep(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_sep: Option<bool> = None;
    for (i, c) in text.char_indices() {
        let sep = is_separator(c);
        if in_sep.is_some_and(|s| s != sep) {
            parts.push(&text[start..i]);
            start = i;
        }
        in_sep = Some(sep);
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

fn looks_like_key(word: &str) -> bool {
    let w = word.trim_end_matches(['.', ':', ';']);
    let body = ["sk-", "sk_", "key-", "gsk_", "pk-"]
        .iter()
        .find_map(|p| w.strip_prefix(p));
    body.is_some_and(|b| {
        b.len() >= 16
            && b.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("sk-test-MARKER");
        assert_eq!(format!("{s:?} {s}"), "[REDACTED] [REDACTED]");
        assert_eq!(s.expose(), "sk-test-MARKER");
    }

    #[test]
    fn a_taken_key_leaves_the_environment_and_is_not_inherited() {
        let name = "AGENTCTL_SECRET_TEST_TAKEN";
        // SAFETY: the name is unique to this test; no other thread reads it.
        unsafe { std::env::set_var(name, "sk-taken-value") };
        assert_eq!(from_env(name).as_deref(), Some("sk-taken-value"));
        assert!(std::env::var_os(name).is_none());
        assert_eq!(inheritable(name), None);
        // Still there for later reads.
        assert_eq!(from_env(name).as_deref(), Some("sk-taken-value"));
        assert!(inheritable("PATH").is_some());
        assert_eq!(from_env("AGENTCTL_SECRET_TEST_NEVER_SET"), None);
    }

    #[test]
    fn env_bounds_come_from_fields_50_and_51() {
        let fields: Vec<String> = (3..=52).map(|i| i.to_string()).collect();
        let stat = format!("42 (a (b) c) {}", fields.join(" "));
        assert_eq!(env_bounds(&stat), Some((50, 51)));
        let mine = std::fs::read_to_string("/proc/self/stat").unwrap();
        let (s, e) = env_bounds(&mine).unwrap();
        assert!(s > 0 && e > s, "{s} {e}");
    }

    #[test]
    fn url_credentials_are_redacted() {
        assert_eq!(
            redact_url("http://user:pa%40ss@host:8080/v1?q=a@b"),
            "http://[REDACTED]@host:8080/v1?q=a@b"
        );
        assert_eq!(redact_url("https://tok@h"), "https://[REDACTED]@h");
        assert_eq!(
            redact_url("http://127.0.0.1:11434/v1/x@y"),
            "http://127.0.0.1:11434/v1/x@y"
        );
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(url_credentials("http://u:p@h/x"), Some("u:p"));
        assert_eq!(url_credentials("http://h/u:p@x"), None);
    }

    #[test]
    fn redacts_headers_and_key_shaped_words() {
        let r = redact("Authorization: Bearer abc.def-123 rest");
        assert_eq!(r, "Authorization: Bearer [REDACTED] rest");
        let r = redact(r#"{"api-key": "hunter2"} ok"#);
        assert_eq!(r, r#"{"api-key": "[REDACTED]"} ok"#);
        let r = redact("Incorrect API key provided: sk-proj-abcdefghijklmnop1234.");
        assert_eq!(r, "Incorrect API key provided: [REDACTED]");
        assert_eq!(redact("skip this sk-short"), "skip this sk-short");
    }
}
