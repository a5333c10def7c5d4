//! Response cache: replies keyed by agent + model + normalised prompt, with
//! a time to live, a size bound (oldest entries go first) and optional
//! persistence to a JSON file in the user's cache directory.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::llm::Message;
use crate::workflow::policy::cache::CachePolicy;

/// The cache key: agent, model and the conversation with whitespace runs
/// collapsed (so re-indented prompts hit).
pub(crate) fn key(agent: &str, model: &str, messages: &[Message]) -> String {
    let mut k = String::with_capacity(64 + messages.iter().map(|m| m.content.len()).sum::<usize>());
    k.push_str(agent);
    k.push('\u{1f}');
    k.push_str(model);
    for m in messages {
        k.push('\u{1e}');
        k.push_str(match m.role {
            crate::llm::Role::System => "s",
            crate::llm::Role::User => "u",
            crate::llm::Role::Assistant => "a",
            crate::llm::Role::Tool => "t",
        });
        for (i, w) in m.content.split_whitespace().enumerate() {
            if i > 0 {
                k.push(' ');
            }
            k.push_str(w);
        }
    }
    k
}

#[derive(Debug, Clone)]
struct Entry {
    text: String,
    stored: Instant,
    expires: Instant,
    /// Wall-clock expiry, for the persisted file.
    expires_unix_ms: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, Entry>,
    /// Insertion order, for eviction.
    order: VecDeque<String>,
}

/// An in-memory cache (one per agent).
#[derive(Debug)]
pub(crate) struct ResponseCache {
    policy: CachePolicy,
    inner: Mutex<Inner>,
}

/// One entry of the persisted file.
#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    text: String,
    expires_unix_ms: u64,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl ResponseCache {
    /// An empty cache.
    pub fn new(policy: CachePolicy) -> Self {
        ResponseCache {
            policy,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Its policy.
    pub fn policy(&self) -> CachePolicy {
        self.policy
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A live reply for `key`, with its age.
    pub fn get(&self, key: &str) -> Option<(String, Duration)> {
        let now = Instant::now();
        let mut g = self.lock();
        let e = g.map.get(key)?;
        if now >= e.expires {
            g.map.remove(key);
            return None;
        }
        Some((e.text.clone(), now - e.stored))
    }

    /// Stores a reply.
    pub fn put(&self, key: String, text: String) {
        let now = Instant::now();
        let entry = Entry {
            text,
            stored: now,
            expires: now + self.policy.ttl,
            expires_unix_ms: unix_ms() + self.policy.ttl.as_millis() as u64,
        };
        let mut g = self.lock();
        if g.map.insert(key.clone(), entry).is_none() {
            g.order.push_back(key);
        }
        while g.map.len() > self.policy.max_entries.max(1) {
            match g.order.pop_front() {
                Some(old) => {
                    g.map.remove(&old);
                }
                None => break,
            }
        }
        // `order` may hold keys already expired and removed by `get`.
        if g.order.len() > 2 * g.map.len() + 16 {
            let Inner { map, order } = &mut *g;
            order.retain(|k| map.contains_key(k));
        }
    }

    /// Number of entries (expired ones included until touched).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True when empty.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The default file for persisted entries of one agent.
    pub fn default_path(agent: &str) -> Option<PathBuf> {
        let dirs = directories::ProjectDirs::from("", "", "agentctl")?;
        let safe: String = agent
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Some(
            dirs.cache_dir()
                .join("responses")
                .join(format!("{safe}.json")),
        )
    }

    /// Loads live entries from a file written by [`save`](Self::save). A
    /// missing or unreadable file is an empty cache, never an error: the
    /// cache is an optimisation.
    pub fn load(&self, path: &Path) -> usize {
        // Regular files only (never block on a FIFO), and a bounded read.
        let Ok(text) = crate::workflow::source_file::read_text(path, 256 << 20) else {
            return 0;
        };
        let Ok(entries) = serde_json::from_str::<Vec<Stored>>(&text) else {
            return 0;
        };
        let now_ms = unix_ms();
        let mut n = 0;
        let now = Instant::now();
        let mut g = self.lock();
        for s in entries {
            if s.expires_unix_ms <= now_ms {
                continue;
            }
            let left = Duration::from_millis(s.expires_unix_ms - now_ms);
            g.order.push_back(s.key.clone());
            g.map.insert(
                s.key,
                Entry {
                    text: s.text,
                    stored: now,
                    expires: now + left,
                    expires_unix_ms: s.expires_unix_ms,
                },
            );
            n += 1;
        }
        n
    }

    /// Writes live entries to `path` (mode 0600 on Unix: prompts may be
    /// private).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let now = Instant::now();
        let entries: Vec<Stored> = {
            let g = self.lock();
            g.order
                .iter()
                .filter_map(|k| g.map.get(k).map(|e| (k, e)))
                .filter(|(_, e)| e.expires > now)
                .map(|(k, e)| Stored {
                    key: k.clone(),
                    text: e.text.clone(),
                    expires_unix_ms: e.expires_unix_ms,
                })
                .collect()
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp)?;
            std::io::Write::write_all(&mut f, serde_json::to_string(&entries)?.as_bytes())?;
        }
        std::fs::rename(tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(ttl_ms: u64, max: usize) -> CachePolicy {
        CachePolicy {
            ttl: Duration::from_millis(ttl_ms),
            max_entries: max,
            persist: false,
        }
    }

    #[test]
    fn keys_ignore_whitespace_but_not_words_agents_or_models() {
        let m = |s: &str| vec![Message::system("be brief"), Message::user(s)];
        assert_eq!(
            key("a", "m", &m("hello   world\n")),
            key("a", "m", &m(" hello world"))
        );
        assert_ne!(
            key("a", "m", &m("hello world")),
            key("a", "m", &m("hello words"))
        );
        assert_ne!(key("a", "m", &m("x")), key("b", "m", &m("x")));
        assert_ne!(key("a", "m", &m("x")), key("a", "n", &m("x")));
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_exactly_at_the_ttl() {
        let c = ResponseCache::new(policy(1000, 10));
        c.put("k".into(), "v".into());
        tokio::time::sleep(Duration::from_millis(999)).await;
        assert_eq!(c.get("k"), Some(("v".into(), Duration::from_millis(999))));
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(c.get("k"), None);
        assert!(c.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_oldest_entries_are_evicted_at_the_bound() {
        let c = ResponseCache::new(policy(60_000, 3));
        for i in 0..5 {
            c.put(format!("k{i}"), format!("v{i}"));
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.get("k1"), None);
        assert_eq!(c.get("k2").map(|e| e.0), Some("v2".into()));
        assert_eq!(c.get("k4").map(|e| e.0), Some("v4".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn persisted_entries_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("a.json");
        let c = ResponseCache::new(policy(60_000, 10));
        c.put("k".into(), "v".into());
        c.save(&path).unwrap();
        let d = ResponseCache::new(policy(60_000, 10));
        assert_eq!(d.load(&path), 1);
        assert_eq!(d.get("k").map(|e| e.0), Some("v".into()));
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(ResponseCache::new(policy(1, 1)).load(&path), 0);
    }
}
