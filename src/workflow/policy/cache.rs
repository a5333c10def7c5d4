//! Response cache settings (`resilience::cache` keeps the replies).

use std::time::Duration;

/// How an agent's replies are cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// How long a reply stays valid.
    pub ttl: Duration,
    /// Most entries kept.
    pub max_entries: usize,
    /// Keep entries across runs in the user cache dir.
    pub persist: bool,
}
