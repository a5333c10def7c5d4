//! Circuit breaker settings (`resilience::circuit_breaker` runs them).

use std::time::Duration;

/// When a breaker opens and how it recovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Failures within `window` that open the breaker.
    pub failures: u32,
    /// Window failures are counted in.
    pub window: Duration,
    /// How long it stays open.
    pub open_for: Duration,
    /// Probe calls let through while half-open.
    pub half_open_probes: u32,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failures: 5,
            window: Duration::from_secs(30),
            open_for: Duration::from_secs(10),
            half_open_probes: 1,
        }
    }
}
